/**
 * A real saved stream of a KVM guest truncated at every length and with a byte flipped at every
 * offset is refused, nothing applied (the test of corruption.test.ts that runs on either backend).
 */
import { registerCorruptionTests } from './corruption.cases.ts';

registerCorruptionTests('kvm');
