/**
 * Undoing after a failure, without hiding that the undo failed. A restore or an incoming
 * migration that fails after creating its domain destroys it; a save that fails after pausing
 * the domain unpauses it. When that step fails too, the caller must not be told a plain "failed":
 * the domain still exists (or is still paused), and the answer says so.
 */
import { describeError, EnvironmentError } from '../../errors.ts';
import type { Host } from '../host.ts';

/** An operation failed, and the domain it left behind could not be put back. */
export class LeftoverDomainError extends EnvironmentError {
  override readonly name = 'LeftoverDomainError';
  constructor(
    readonly domid: number,
    readonly failure: unknown,
    readonly undoFailure: unknown,
    message: string,
  ) {
    super(message, { cause: failure });
  }
}

/**
 * After `failure` of `what` (e.g. "restore"): destroys the domain it created, then throws
 * `failure` — or, if the domain cannot be destroyed and still exists, a LeftoverDomainError
 * naming it.
 */
export async function destroyAfterFailure(host: Host, domid: number, what: string, failure: unknown): Promise<never> {
  try {
    await host.destroy(domid);
  } catch (undo) {
    // Gone anyway (destroyed by someone else meanwhile): nothing is left behind.
    if (host.domain(domid) === undefined) throw failure;
    throw new LeftoverDomainError(
      domid,
      failure,
      undo,
      `${what} failed (${describeError(failure)}) and the partly created domain ${domid} could not be destroyed: ${describeError(undo)}`,
    );
  }
  throw failure;
}

/**
 * After `failure` of `what` on a domain it paused: runs `release` (unpause), then throws
 * `failure` — or, if unpausing fails, a LeftoverDomainError saying the domain stays paused.
 */
export async function releaseAfterFailure(
  domid: number,
  release: () => Promise<void>,
  what: string,
  failure: unknown,
): Promise<never> {
  try {
    await release();
  } catch (undo) {
    throw new LeftoverDomainError(
      domid,
      failure,
      undo,
      `${what} of domain ${domid} failed (${describeError(failure)}) and the domain could not be unpaused (it stays paused): ${describeError(undo)}`,
    );
  }
  throw failure;
}
