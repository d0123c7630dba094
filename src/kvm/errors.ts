/** Typed errors of the KVM layer (a failed system call is src/os/syscall-error.ts's SyscallError). */
import { EnvironmentError } from '../errors.ts';

/** KVM is present but does not offer what hvkit needs, or a guest did something unexpected. */
export class KvmError extends EnvironmentError {
  override readonly name = 'KvmError';
}
