/**
 * The host's stream socket cannot be hoarded either: connections past its limit are answered
 * "host busy" (which `hvkit ctl` and a migration source both show), not reset or cut off.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { streamRequest } from '../../src/cli/commands/ctl-stream.ts';
import { migrate } from '../../src/host/migration/migrate.ts';
import { listenForStreams } from '../../src/host/migration/receiver.ts';
import { TestHost, tempDir } from './helpers.ts';

function rawConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('a stream connection over the limit is answered "host busy"', async () => {
  const h = new TestHost('sim');
  const tmp = tempDir();
  const listener = await listenForStreams(h.host, join(tmp.dir, 'in.sock'), { maxConnections: 2, timeoutMs: 60_000 });
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) held.push(await rawConnect(listener.address));
    const answer = await streamRequest(listener.address, 'SAVE 1 0 /tmp/x');
    assert.equal(answer.ok, false);
    assert.match(answer.error ?? '', /host busy: 2 stream connections/);
    const dom = await h.host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute' });
    await assert.rejects(
      migrate(h.host, dom.domid, listener.address, { timeoutMs: 5000 }),
      /refused the migration: host busy/,
    );
    assert.equal(h.host.domain(dom.domid)?.state, 'running');
  } finally {
    for (const s of held) s.destroy();
    await listener.close();
    await h.stop();
    tmp.remove();
  }
});
