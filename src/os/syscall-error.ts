/** A failed system call names the call and the errno by name (for every koffi binding: os/libc.ts, attach/sys.ts). */
import { constants } from 'node:os';
import { EnvironmentError } from '../errors.ts';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  // Aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK) keep the first, conventional name.
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A libc call or ioctl that returned -1. */
export class SyscallError extends EnvironmentError {
  override readonly name = 'SyscallError';
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly detail?: string,
  ) {
    const code = errnoName(errno);
    super(`${call}${detail ? ` (${detail})` : ''} failed: ${code}`);
    this.code = code;
  }
}
