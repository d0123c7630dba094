/**
 * The core family: what a caller asks before anything else — the ABI version, and which
 * families, calls and annotations this host serves (answerable per call, so a caller can fall
 * back when one is absent).
 */

import { bitset256 } from '../formats/callword/bitset.ts';
import { CORE_CALL, FAMILY, QUERY_FLAG, STATUS } from '../formats/callword/constants.ts';
import { CallError, type Dispatcher, ok } from './dispatcher.ts';

export interface CoreCallsOptions {
  /** Major and revision of the call-word ABI the host serves. */
  abi: { major: number; revision: number };
}

export function registerCoreCalls(d: Dispatcher, options: CoreCallsOptions): () => void {
  const features = d.features();
  const offs = [
    d.register(FAMILY.core, CORE_CALL.abiVersion, {
      name: 'core.abi_version',
      nargs: 0,
      handler: () => ok(BigInt(options.abi.major), BigInt(options.abi.revision)),
    }),
    d.register(FAMILY.core, CORE_CALL.queryCall, {
      name: 'core.query_call',
      nargs: 1,
      handler: ([word]) => {
        if (word! > 0xffff_ffffn) throw new CallError(STATUS.badArgument, 'a call word is a u32');
        // The annotation bits of the asked word are ignored: the answer lists those honoured.
        const f = features.query(Number(word! & ~0xffn));
        if (!f) return ok(0n, 0n);
        let flags = QUERY_FLAG.supported;
        if (f.callers.includes('tool')) flags |= QUERY_FLAG.tool;
        if (f.callers.includes('guest')) flags |= QUERY_FLAG.guest;
        return ok(flags, BigInt(f.annotations));
      },
    }),
    d.register(FAMILY.core, CORE_CALL.families, {
      name: 'core.families',
      nargs: 0,
      handler: () => ok(...bitset256(features.families())),
    }),
    d.register(FAMILY.core, CORE_CALL.calls, {
      name: 'core.calls',
      nargs: 1,
      handler: ([family]) => {
        if (family! > 0xffn) throw new CallError(STATUS.badArgument, 'a family is 0..255');
        return ok(...bitset256(features.calls(Number(family))));
      },
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
