/**
 * A host reading a large stream file for a restore goes on answering its other callers: the
 * file is read in slices with the event loop running between them. Asserted as an order of
 * events (a control-socket call answered before the restore ends), never as a duration.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CtlClient } from '../../src/ctl/client.ts';
import { FAMILY } from '../../src/formats/callword/constants.ts';
import { callWord } from '../../src/formats/callword/word.ts';
import { encodeStream, MemoryImage } from '../../src/formats/stream/index.ts';
import { restoreDomain } from '../../src/host/migration/save-restore.ts';
import { startHostServer } from '../../src/host/server.ts';
import { tempDir } from './helpers.ts';
import { sampleImage } from './image-fixtures.ts';

/** A 128 MiB guest with every page in use: about 128 MiB of stream, without its END record. */
function bigTruncatedStream(): Uint8Array {
  const image = sampleImage({ memoryMiB: 128, vcpus: 1 });
  const memory = new MemoryImage(128 << 20);
  const page = new Uint8Array(4096).fill(7);
  for (let p = 0; p < memory.size / 4096; p++) memory.setPage(p, page);
  image.memory = memory;
  const stream = encodeStream(image);
  return stream.subarray(0, stream.length - 24);
}

test('a control-socket call is answered while a large stream file is being read for a restore', async () => {
  process.env.HVKIT_BACKEND = 'sim';
  const tmp = tempDir();
  const server = await startHostServer();
  try {
    const file = join(tmp.dir, 'big.hvst');
    writeFileSync(file, bigTruncatedStream());
    const client = await CtlClient.connect(server.socket.path);
    const events: string[] = [];
    // Truncated on purpose: the restore ends as soon as the whole file is read (no domain is
    // created afterwards), so "ended" is "the read is over".
    const restoring = restoreDomain(server.host, file).then(
      () => events.push('restore done'),
      (e: Error) => events.push(`restore refused: ${e.message.includes('truncated') ? 'truncated' : e.message}`),
    );
    const answer = await client.call(callWord(FAMILY.core, 0));
    events.push(`call answered (status ${answer.status})`);
    await restoring;
    client.close();
    assert.deepEqual(events, ['call answered (status 0)', 'restore refused: truncated']);
    assert.equal(server.host.list().length, 0, 'nothing was created');
  } finally {
    await server.stop();
    tmp.remove();
    delete process.env.HVKIT_BACKEND;
  }
});
