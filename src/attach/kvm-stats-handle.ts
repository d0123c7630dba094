/**
 * A KVM stats fd of another process, duplicated into this one and read lock-free: the metadata
 * (header, id, descriptors) once at attach, then one pread of the data block per sample.
 */
import { FormatError, InternalError } from '../errors.ts';
import { KvmStatsReader } from '../formats/kvm-stats/reader.ts';
import { statsFdSource } from '../kvm/stats-source.ts';
import { close } from '../os/libc.ts';
import { dupFailureText, type ProcessHandle } from './pidfd.ts';

export type AttachResult = { ok: true; handle: KvmStatsHandle } | { ok: false; code: string; text: string };

export class KvmStatsHandle {
  #fd: number | undefined;

  private constructor(
    /** The fd number in the owner process. */
    readonly ownerFd: number,
    fd: number,
    readonly reader: KvmStatsReader,
  ) {
    this.#fd = fd;
  }

  /** Duplicates `ownerFd` of the process behind `process` and reads its metadata. */
  static attach(process: ProcessHandle, ownerFd: number): AttachResult {
    const dup = process.dup(ownerFd);
    if (!dup.ok) return { ok: false, code: dup.code, text: dupFailureText(dup.code) };
    return KvmStatsHandle.adopt(ownerFd, dup.fd);
  }

  /** Wraps an fd already in this process (it is closed on failure). */
  static adopt(ownerFd: number, fd: number): AttachResult {
    try {
      return { ok: true, handle: new KvmStatsHandle(ownerFd, fd, KvmStatsReader.open(statsFdSource(fd))) };
    } catch (err) {
      close(fd);
      if (err instanceof FormatError) return { ok: false, code: 'EINVAL', text: `unreadable stats: ${err.message}` };
      const text = err instanceof Error ? err.message : String(err);
      return { ok: false, code: 'EIO', text };
    }
  }

  /** Our duplicate (undefined after close). */
  get fd(): number | undefined {
    return this.#fd;
  }

  /** The stats id string: "kvm-PID" for a VM, "kvm-PID/vcpu-N" for a vCPU. */
  get id(): string {
    return this.reader.layout.id;
  }

  /** The vCPU index from a vCPU stats id, undefined for a VM's. */
  get vcpuIndex(): number | undefined {
    const m = /\/vcpu-(\d+)$/.exec(this.id);
    return m ? Number(m[1]) : undefined;
  }

  /** Preads the data block into the reader's own buffer (overwritten by the next read). */
  read(): BigUint64Array {
    if (this.#fd === undefined) throw new InternalError(`stats fd ${this.ownerFd} was detached`);
    return this.reader.readData();
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) close(fd);
  }
}
