/**
 * The main job as a user meets it: `hvkit demo` runs four micro-VMs on the simulated backend
 * (on real KVM: demo.kvm.test.ts), another process attaches to the running host with `hvkit top`,
 * and nothing is left behind — neither after a normal stop nor, thanks to the next host's
 * cleanup, after kill -9.
 */
import { registerDemoTests } from './demo.cases.ts';

registerDemoTests('sim');
