/**
 * Which format a file or region holds, from its first 32-bit word: hvkit's regions start with
 * their magic; the KVM binary stats format has none, so anything else is tried as KVM stats.
 */
import { InternalError } from '../errors.ts';
import { shippedDomainDirectoryAbi } from './domstate/index.ts';
import { shippedStatsTableAbi } from './stats-table/index.ts';

export type StatsFormat = 'kvm-stats' | 'stats-table' | 'domain-directory';

function magicOf(abi: { abi: string; constants: { name: string; value: string }[] }, name: string): number {
  const magic = abi.constants.find((c) => c.name === name);
  if (!magic) throw new InternalError(`${abi.abi} schema lost its ${name} constant`);
  return Number(magic.value);
}

export const STATS_TABLE_MAGIC = magicOf(shippedStatsTableAbi(), 'DOM_MAGIC');
export const DOMAIN_DIRECTORY_MAGIC = magicOf(shippedDomainDirectoryAbi(), 'MAGIC');

export function detectFormat(firstWord: number): StatsFormat {
  if (firstWord === STATS_TABLE_MAGIC) return 'stats-table';
  if (firstWord === DOMAIN_DIRECTORY_MAGIC) return 'domain-directory';
  return 'kvm-stats';
}

/** The format of bytes that start a file: fewer than 4 bytes cannot hold a magic (KVM stats). */
export function detectFormatOf(head: Uint8Array): StatsFormat {
  if (head.length < 4) return 'kvm-stats';
  return detectFormat(new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true));
}
