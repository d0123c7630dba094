/** Large but valid inputs for the dump tests: a KVM stats file of big histograms, a wide stats table. */
import { writeFileSync } from 'node:fs';
import { packFlags } from '../../src/formats/kvm-stats/constants.ts';
import { StatBase, StatType, StatUnit } from '../../src/formats/kvm-stats/index.ts';
import { frozenStatsTableRevisions } from '../../src/formats/stats-table/abi.ts';
import { craft as craftKvm } from '../kvm-stats/fixtures.ts';
import { craft as craftTable } from '../stats-table/helpers.ts';

/** The largest bucket count a histogram descriptor can hold (size is a u16). */
export const MAX_BUCKETS = 65535;

/**
 * A KVM stats file of `histograms` linear histograms of MAX_BUCKETS buckets each (unit seconds,
 * exponent -3), every bucket holding one sample: each bucket is a row of the dump.
 */
export function writeBigKvmFile(path: string, histograms: number): void {
  const descs = Array.from({ length: histograms }, (_, i) => ({
    name: `latency_${i}`,
    flags: packFlags(StatType.LinearHist, StatUnit.Seconds, StatBase.Pow10),
    exponent: -3,
    size: MAX_BUCKETS,
    bucketSize: 1,
  }));
  const data = new Array<bigint>(histograms * MAX_BUCKETS).fill(1n);
  writeFileSync(path, craftKvm({ id: 'kvm-big', descs, data }));
}

/** A filled stats table of `nrVcpus` vCPUs from the newest frozen revision. */
export function writeBigTableFile(path: string, nrVcpus: number): void {
  const rev = frozenStatsTableRevisions().at(-1)!;
  writeFileSync(path, craftTable(rev, { nrVcpus, arch: 'x86_64' }).bytes);
}
