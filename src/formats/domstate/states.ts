/** Domain states as the directory encodes them (the `domain_state` enum of the ABI). */
import { UsageError } from '../../errors.ts';
import type { DirectoryModel } from './model.ts';

/** 'unknown': a value this revision does not know (a newer producer's state). */
export type DirectoryState = 'none' | 'running' | 'paused' | 'shutdown' | 'dying' | 'destroyed' | 'unknown';

const NAMES: ReadonlySet<string> = new Set(['none', 'running', 'paused', 'shutdown', 'dying', 'destroyed']);

export function stateName(model: DirectoryModel, value: number): DirectoryState {
  const name = model.states.get(value);
  return name !== undefined && NAMES.has(name) ? (name as DirectoryState) : 'unknown';
}

export function stateValue(model: DirectoryModel, state: DirectoryState): number {
  for (const [value, name] of model.states) if (name === state) return value;
  throw new UsageError(`revision ${model.abi.revision} has no domain state ${state}`);
}
