/**
 * A StatsSource (the KVM stats format reader's pread-like input) over a live stats fd, read with
 * pread(2) through koffi. Same contract as the format's fdSource, with one FFI hop per read
 * instead of fs.readSync's; the size is unknown, as for any anon-inode stats fd.
 */
import type { StatsSource } from '../formats/kvm-stats/index.ts';
import { pread } from '../os/libc.ts';

export function statsFdSource(fd: number): StatsSource {
  return {
    read(buf, position) {
      return buf.length === 0 ? 0 : pread(fd, buf, position);
    },
  };
}
