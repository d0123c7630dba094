/** The simulated CPU backend of src/vmm, chosen the way the host chooses (HVKIT_BACKEND=sim). */
import type { Backend } from '../../src/vmm/backend.ts';
import { openBackend, selectBackend } from '../../src/vmm/select.ts';

export function simBackend(): Backend {
  const choice = selectBackend({ HVKIT_BACKEND: 'sim' });
  if (choice.kind !== 'sim') throw new Error(`HVKIT_BACKEND=sim chose ${choice.kind}`);
  return openBackend(choice);
}
