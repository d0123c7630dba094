/**
 * Runs every release step even when an earlier one throws, then rethrows the first failure, so one
 * bad close never leaks the fds and mappings behind it.
 */
export function releaseAll(steps: Array<() => void>): void {
  let first: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      step();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first) throw first.error;
}
