/** The writer refuses bad updates before touching the entry: a refused publish never leaves it odd. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainDirectoryReader } from '../../src/formats/domstate/reader.ts';
import type { EntryUpdate } from '../../src/formats/domstate/writer.ts';
import { sharedRegionFrom } from '../../src/shm/region.ts';
import { ABI, freshDirectory } from './helpers.ts';

const good: EntryUpdate = { state: 'running', uniqueId: 0x42n, generation: 2, stats: true, nrVcpus: 3 };

test('a refused publish leaves the entry as it was, even and readable', () => {
  const { region, writer } = freshDirectory();
  const reader = DomainDirectoryReader.open(sharedRegionFrom(region.buffer), ABI);
  writer.publish(5, good);
  const before = reader.entry(5);
  const changes = reader.changes();
  const bad: [string, EntryUpdate][] = [
    ['unknown state', { ...good, state: 'no-such-state' as EntryUpdate['state'] }],
    ['nrVcpus above u32', { ...good, nrVcpus: 2 ** 32 }],
    ['negative nrVcpus', { ...good, nrVcpus: -1 }],
    ['fractional nrVcpus', { ...good, nrVcpus: 1.5 }],
  ];
  for (const [what, update] of bad) {
    assert.throws(() => writer.publish(5, update), /state|nr_vcpus/, what);
    const after = reader.entry(5);
    assert.equal(after.torn, false, what);
    assert.equal(after.seq % 2, 0, what);
    assert.deepEqual(after, before, what);
  }
  assert.equal(reader.changes(), changes);
  // The entry still takes updates afterwards.
  writer.publish(5, { ...good, state: 'paused', nrVcpus: 0xffff_ffff });
  const e = reader.entry(5);
  assert.equal(e.state, 'paused');
  assert.equal(e.nrVcpus, 0xffff_ffff);
  assert.equal(e.torn, false);
});
