/**
 * `hvkit demo` on real KVM (the same tests as demo.test.ts on the simulated backend): four
 * micro-VMs, seen from another process by `hvkit top` with their KVM stats fds, nothing left behind.
 */
import { registerDemoTests } from './demo.cases.ts';

registerDemoTests('kvm');
