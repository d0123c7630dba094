/**
 * The `pools` guest on the simulated backend (on real KVM: guests.kvm.test.ts): v0, v1 and an
 * unknown-version guest sharing one pool service, a host keeping too few id bits, a host without
 * the pool family. The tests are in guests.cases.ts.
 */
import { registerPoolsTests } from './guests.cases.ts';

registerPoolsTests('sim');
