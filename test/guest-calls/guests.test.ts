/**
 * The `calls` guest on the simulated backend (on real KVM: guests.kvm.test.ts): hypercalls through
 * simulated VM exits to the dispatcher, batches of 1, 8 and 64, defined errors for reserved bits
 * and unknown calls, hostile batch headers refused, a host processing part of a batch per flush
 * resumed by the guest, and the fallback to direct calls when the host lists no batch calls.
 */
import { registerCallsTests } from './guests.cases.ts';

registerCallsTests('sim');
