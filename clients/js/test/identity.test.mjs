// The identity line against PROTOCOL.md's vector, and what a receiver
// reads of a signed SDP: the key, or a forgery once the fingerprint changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity, loadIdentity, presented, sdpFingerprint, shortForm, stripIdentity } from '../identity.mjs';

const VECTOR =
  'a=brume-identity:ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c f7c2f344301f9f95f3137fceccd7c040ec1f2d338fba3129c40e92e6cd431ca132f9523c1d086004406327f8cc655c2d27ad8dd85a41b8729e415192f8f1dc08';

test('seed 07 × 32 signs sha-256 AB:CD:01:23 as PROTOCOL.md’s vector', async () => {
  const id = await Identity.fromSeed(new Uint8Array(32).fill(7));
  assert.equal(id.key, 'ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c');
  assert.equal(await id.line('sha-256 AB:CD:01:23'), VECTOR);
  assert.equal(shortForm(id.key), 'EA4A 6C63 E29C 520A BEF5 507B 132E C5F9');
});

test('a signed SDP verifies to its key; a changed fingerprint is a forgery; stripping removes the line', async () => {
  const sdp = 'v=0\r\na=fingerprint:SHA-256 ab:cd:01:23\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';
  assert.equal(sdpFingerprint(sdp), 'sha-256 AB:CD:01:23');
  const id = await Identity.fromSeed(new Uint8Array(32).fill(7));
  const signed = await id.sign(sdp);
  assert.ok(signed.endsWith(`${VECTOR}\r\n`));
  assert.deepEqual(await presented(signed), { key: id.key });
  assert.deepEqual(await presented(signed.replace('ab:cd:01:23', 'ab:cd:01:24')), { forged: true });
  assert.equal(await presented(sdp), null);
  assert.equal(stripIdentity(signed), sdp);
  assert.equal(await id.sign(signed), signed, 'signing twice keeps one line');
});

test('a Node key file is made once (owner-only) and read back to the same key', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'brume-js-id-')), 'identity.key');
  const a = await loadIdentity(path);
  const b = await loadIdentity(path);
  assert.equal(a.key, b.key);
  assert.match(readFileSync(path, 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(await loadIdentity(undefined), null, 'no key in Node unless given');
});
