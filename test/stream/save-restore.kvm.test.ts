/**
 * save → restore of a guest on real KVM continues its counters exactly (the tests of
 * save-restore.test.ts that run on either backend).
 */
import { registerSaveRestoreTests } from './save-restore.cases.ts';

registerSaveRestoreTests('kvm');
