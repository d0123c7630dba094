/**
 * The guest programs the VMM runs: the three workloads of the host (compute, io, mixed) and three
 * test guests (spin: never exits; fault: triple fault; mmio: an access no device serves), built
 * from guest/ with the system toolchain and the guest ABI's definitions.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGuestProgram, type GuestImage } from '../kvm/build-guest.ts';
import { KvmError } from '../kvm/errors.ts';
import type { Workload } from './backend.ts';
import { GUEST_IMAGE_LIMIT, GUEST_LOAD_ADDRESS, guestDefines } from './guest-abi.ts';

/** Guests only tests run: they exercise kicking, crashes and unhandled exits. */
export type TestGuest = 'spin' | 'fault' | 'mmio';
/** Guests that make hypercalls (guest/calls; guest/pools: a page-pool client, version in EDX). */
export type CallGuest = 'calls' | 'pools';
export type GuestProgram = Workload | TestGuest | CallGuest;
export const GUEST_PROGRAMS: readonly GuestProgram[] = [
  'compute',
  'io',
  'mixed',
  'spin',
  'fault',
  'mmio',
  'calls',
  'pools',
];

const COMMON = ['common/entry.S', 'common/runtime.c'];
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Headers outside guest/common that guests include: their digest joins the build's cache key. */
const ABI_HEADERS = ['include/hvkit/call-batch.h', 'include/hvkit/call-word.h'];

const SOURCES: Record<GuestProgram, string[]> = {
  compute: [...COMMON, 'compute/compute.c'],
  io: [...COMMON, 'io/io.c'],
  mixed: [...COMMON, 'mixed/mixed.c'],
  spin: ['spin/spin.S'],
  fault: ['fault/fault.S'],
  mmio: ['mmio/mmio.S'],
  calls: [...COMMON, 'common/calls.c', 'calls/calls.c'],
  pools: [...COMMON, 'pools/pools.c'],
};

let abiDigest: string | undefined;
function abiHeadersDigest(): string {
  if (abiDigest === undefined) {
    const hash = createHash('sha256');
    for (const h of ABI_HEADERS) hash.update(h).update(readFileSync(join(REPO_ROOT, h)));
    abiDigest = `0x${hash.digest('hex').slice(0, 8)}`;
  }
  return abiDigest;
}

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
    defines: { ...guestDefines(), HVKIT_CALL_BATCH_DIGEST: abiHeadersDigest() },
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  });
  if (GUEST_LOAD_ADDRESS + image.bytes.length > GUEST_IMAGE_LIMIT) {
    throw new KvmError(`guest ${program} (${image.bytes.length} bytes) overlaps the vCPU stacks`);
  }
  return image;
}
