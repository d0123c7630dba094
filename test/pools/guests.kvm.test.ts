/**
 * The `pools` guest tests of guests.test.ts on real KVM; the report sequences of the first test's
 * guests must equal those of the same guests on the simulated backend, run in this file.
 */
import { registerPoolsTests } from './guests.cases.ts';

registerPoolsTests('kvm');
