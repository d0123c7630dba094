/**
 * How much slower than a real machine this one runs: HVKIT_TEST_SLOWDOWN, a factor from 1 (the
 * default) to 100. The KVM lane sets it when it emulates the CPU (about 20). Only deadlines whose
 * sole job is to stop a hung test scale with it; what the tests assert never does.
 */
export function slowdown(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.HVKIT_TEST_SLOWDOWN;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 100) throw new RangeError(`HVKIT_TEST_SLOWDOWN must be 1..100, got ${raw}`);
  return n;
}

/** A hang deadline of `ms` on a real machine, stretched by the slowdown. */
export function hangDeadline(ms: number): number {
  return Math.round(ms * slowdown());
}
