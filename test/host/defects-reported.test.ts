/**
 * Defects are reported, never swallowed: a host event listener that throws, a dispatcher cleanup
 * that fails. The host goes on in each case.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dispatcher, LocalSession } from '../../src/calls/dispatcher.ts';
import { InternalError } from '../../src/errors.ts';
import { Host } from '../../src/host/host.ts';
import { simBackend } from './sim-backend.ts';

test('a host event listener that throws is reported and the others still hear the event', async () => {
  const failures: unknown[] = [];
  const host = Host.start({
    backend: simBackend(),
    ownsBackend: true,
    onListenerError: (e) => failures.push(e),
  });
  try {
    const heard: string[] = [];
    host.on(() => {
      throw new Error('listener broke');
    });
    host.on((event) => heard.push(event.kind));
    await host.createDomain({ vcpus: 1, memoryMiB: 1, workload: 'compute', paused: true });
    assert.ok(heard.includes('created'));
    assert.ok(failures.length >= 1);
    assert.match((failures[0] as Error).message, /listener broke/);
  } finally {
    await host.stop();
  }
});

test('a session cleanup that fails: the others run, and close() throws the failure', () => {
  const d = new LocalSession();
  const ran: string[] = [];
  d.onClose(() => ran.push('a'));
  d.onClose(() => {
    throw new Error('cleanup broke');
  });
  d.onClose(() => ran.push('c'));
  assert.throws(() => d.close(), InternalError);
  assert.deepEqual(ran.sort(), ['a', 'c']);
  assert.equal(d.closed, true);
});

test('a dispatcher reports defects by default (stderr) instead of ignoring them', async () => {
  const d = new Dispatcher();
  const writes: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    d.reportInternalError('pools: stats table of domain 1', new Error('bad magic'));
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(writes, ['hvkit: internal error in pools: stats table of domain 1: bad magic\n']);
});
