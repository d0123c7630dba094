/**
 * The vCPU mailbox answers every request, even when the handler throws (the vCPU waits for an
 * answer), and reports the handler's failure instead of hiding it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMailboxBuffer, MAILBOX_STRIDE, MailboxServer } from '../../src/vmm/call-mailbox.ts';

test('a handler that throws: the vCPU gets the failure status and the error is reported', async () => {
  const buffer = createMailboxBuffer(2);
  const failures: unknown[] = [];
  const server = new MailboxServer(
    buffer,
    2,
    async () => {
      throw new Error('handler broke');
    },
    -11,
    (e) => failures.push(e),
  );
  try {
    // Play vCPU 1's side of the protocol: word, request sequence, notify; then wait for the answer.
    const words = new Int32Array(buffer);
    const base = MAILBOX_STRIDE / 4;
    words[base + 2] = 0x0102;
    Atomics.store(words, base, 1);
    Atomics.notify(words, base);
    for (let i = 0; i < 1000 && Atomics.load(words, base + 1) !== 1; i++) await sleep(5);
    assert.equal(Atomics.load(words, base + 1), 1, 'answered');
    assert.equal(words[base + 3], -11);
    assert.equal(failures.length, 1);
    assert.match((failures[0] as Error).message, /handler broke/);
  } finally {
    await server.close();
  }
});
