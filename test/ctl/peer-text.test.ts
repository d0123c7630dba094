/**
 * peerText: whatever a peer sends, what hvkit prints of it is one line without control
 * characters (C0, DEL, C1, bidi controls), bounded in length, with nothing silently dropped
 * short of the bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Caller, domainOp } from '../../src/ctl/api.ts';
import { STATUS } from '../../src/formats/callword/constants.ts';
import { encodeDomainInfo } from '../../src/formats/callword/values.ts';
import { PEER_TEXT_MAX, peerText } from '../../src/peer-text.ts';

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 2000 }),
  fc.string({ unit: 'binary-ascii', maxLength: 600 }),
  fc
    .array(
      fc.constantFrom('\x1b[2J', '\x1b]0;pwned\x07', '\x9b31m', '\u202e', '\r', '\n', '\x7f', 'a', 'é', '😀', '\\'),
      {
        maxLength: 400,
      },
    )
    .map((parts) => parts.join('')),
);

test('property: no control character, no lone surrogate, bounded length', () => {
  fc.assert(
    fc.property(hostile, fc.integer({ min: 1, max: 500 }), (text, max) => {
      for (const out of [peerText(text), peerText(text, max)]) {
        assert.doesNotMatch(out, CONTROL);
        assert.doesNotMatch(out, LONE_SURROGATE);
      }
      assert.ok(peerText(text).length <= PEER_TEXT_MAX + 1);
      assert.ok(peerText(text, max).length <= max + 1);
    }),
    { numRuns: 500 },
  );
});

test('property: printable text shorter than the bound is kept as it is', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: 200 }), (text) => {
      fc.pre(!CONTROL.test(text));
      assert.equal(peerText(text), text);
    }),
  );
});

test('escapes are shown, not interpreted', () => {
  assert.equal(peerText('a\x1b[2Jb\u202ec\r\nd'), 'a\\x1b[2Jb\\u202ec\\x0d\\x0ad');
});

test('a domain name with control characters from a host is printable once ctl decodes it', async () => {
  const values = encodeDomainInfo({
    domid: 1,
    uniqueId: 1n,
    generation: 1,
    state: 'running',
    vcpus: 1,
    memoryMiB: 1,
    workload: 'compute',
    name: '\x1b[2Jevil\u202e',
  });
  const host: Caller = { call: async () => ({ status: STATUS.ok, values }) };
  const d = await domainOp(host, 'pause', 1);
  assert.equal(d.name, '\\x1b[2Jevil\\u202e');
});
