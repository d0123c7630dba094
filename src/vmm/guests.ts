/**
 * The guest programs the VMM runs: the three workloads of the host (compute, io, mixed) and three
 * test guests (spin: never exits; fault: triple fault; mmio: an access no device serves), built
 * from guest/ with the system toolchain and the guest ABI's definitions.
 */
import type { Workload } from '../host/backend.ts';
import { buildGuestProgram, type GuestImage } from '../kvm/build-guest.ts';
import { KvmError } from '../kvm/errors.ts';
import { GUEST_IMAGE_LIMIT, GUEST_LOAD_ADDRESS, guestDefines } from './guest-abi.ts';

/** Guests only tests run: they exercise kicking, crashes and unhandled exits. */
export type TestGuest = 'spin' | 'fault' | 'mmio';
export type GuestProgram = Workload | TestGuest;
export const GUEST_PROGRAMS: readonly GuestProgram[] = ['compute', 'io', 'mixed', 'spin', 'fault', 'mmio'];

const COMMON = ['common/entry.S', 'common/runtime.c'];

const SOURCES: Record<GuestProgram, string[]> = {
  compute: [...COMMON, 'compute/compute.c'],
  io: [...COMMON, 'io/io.c'],
  mixed: [...COMMON, 'mixed/mixed.c'],
  spin: ['spin/spin.S'],
  fault: ['fault/fault.S'],
  mmio: ['mmio/mmio.S'],
};

export function isGuestProgram(name: string): name is GuestProgram {
  return (GUEST_PROGRAMS as readonly string[]).includes(name);
}

/** Builds (or takes from build/guest/) the flat image of `program`, linked at GUEST_LOAD_ADDRESS. */
export function buildWorkloadGuest(program: GuestProgram, options: { cacheDir?: string } = {}): GuestImage {
  if (!isGuestProgram(program)) throw new RangeError(`unknown guest program: ${program}`);
  const image = buildGuestProgram({
    name: program,
    loadAddress: GUEST_LOAD_ADDRESS,
    sources: SOURCES[program],
    defines: guestDefines(),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  });
  if (GUEST_LOAD_ADDRESS + image.bytes.length > GUEST_IMAGE_LIMIT) {
    throw new KvmError(`guest ${program} (${image.bytes.length} bytes) overlaps the vCPU stacks`);
  }
  return image;
}
