/**
 * Live migration between two host processes on real KVM over a unix socket and loopback TCP: the
 * guest continues on the destination where it stopped (the tests of migration.test.ts that run
 * on either backend).
 */
import { registerMigrationTests } from './migration.cases.ts';

registerMigrationTests('kvm');
