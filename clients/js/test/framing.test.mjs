// The framing vectors of tests/vectors/framing.json, and the chat vector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Brume } from '../brume.mjs';
import { decode, encode } from '../framing.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../../tests/vectors/framing.json', import.meta.url), 'utf8'));
const hex = (b) => Buffer.from(b).toString('hex');

test('every framing vector encodes and decodes', () => {
  let checked = 0;
  for (const v of vectors) {
    if (!v.hex || !v.type || v.namespace === undefined) continue;
    const data = v.text !== undefined ? v.text : Buffer.from(v.bytes ?? '', 'hex');
    const control = v.namespace === 'control';
    assert.equal(hex(encode({ type: v.type, data: v.text !== undefined ? v.text : new Uint8Array(data), control })), v.hex, v.name);
    const back = decode(Buffer.from(v.hex, 'hex'));
    assert.equal(back.type, v.type, v.name);
    assert.equal(back.control, control, v.name);
    if (v.text !== undefined) assert.equal(back.data, v.text, v.name);
    else assert.equal(hex(back.data), v.bytes, v.name);
    checked++;
  }
  assert.ok(checked >= 7, `only ${checked} vectors checked`);
});

test('encodeMsg and decodeMsg round-trip the chat vector of PROTOCOL.md', () => {
  const bytes = Brume.encodeMsg({ type: 'chat', data: 'hé ✓' });
  assert.equal(hex(bytes), '11046368617468c3a920e29c93');
  assert.deepEqual(Brume.decodeMsg(bytes), { type: 'chat', data: 'hé ✓' });
});

test('malformed messages are refused by name', () => {
  const cases = [
    ['', 'TooShort'],
    ['20016100', 'Version'],
    ['14016100', 'ReservedBits'],
    ['1000', 'TypeLength'],
    ['100561', 'Truncated'],
    ['1001ff', 'TypeNotUtf8'],
    ['110161ff', 'DataNotUtf8'],
  ];
  for (const [h, code] of cases) {
    assert.throws(() => decode(Buffer.from(h, 'hex')), (e) => e.code === code, h);
  }
  assert.throws(() => decode(new Uint8Array(262145)), (e) => e.code === 'TooLarge');
});
