/**
 * The `calls` guest on real KVM (the tests of guests.test.ts, through real VM exits); each batch
 * size's report sequences must equal the simulated guest's, run in this file as the reference.
 */
import { registerCallsTests } from './guests.cases.ts';

registerCallsTests('kvm');
