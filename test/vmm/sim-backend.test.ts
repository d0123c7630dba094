/** The simulated backend passes the same behavioural tests as the KVM backend (always runs). */
import { after } from 'node:test';
import { SimBackend } from '../../src/vmm/sim-backend.ts';
import { behaviourSuite } from './behaviour.ts';

const backend = new SimBackend();
after(() => backend.close());

behaviourSuite({ backend: () => backend, skipReason: () => '' });
