// The manifest vector of PROTOCOL.md: content hashes of `abc` and of an
// empty file, the block hash, and the block size rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSize, contentHash, hashBlock, toHex } from '../blocks.mjs';
import { conflictName, unsafePath } from '../names.mjs';

test('content hashes match the documented manifest', async () => {
  const abc = await hashBlock(new TextEncoder().encode('abc'));
  assert.equal(toHex(abc), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  assert.equal(await contentHash(3, [abc]), 'fe670ddc2bd4aa8770c6a6ca35a3fd1ba3987608cc9cf8322ba115f16d535d15');
  assert.equal(await contentHash(0, []), 'e81f1835ee0fca331dc9bf0d0e67b91421efab072938d41cf235bf2d395c1a95');
});

test('block sizes are powers of two from 1 MiB giving at most 65,536 blocks', () => {
  const MIB = 1024 * 1024;
  assert.equal(blockSize(0), MIB);
  assert.equal(blockSize(64 * 1024 * MIB), MIB);
  assert.equal(blockSize(64 * 1024 * MIB + 1), 2 * MIB);
});

test('unsafe names are refused and conflicts get numbered names', () => {
  for (const bad of ['', '/etc', 'a/../b', 'a/./b', 'a\u0000b', 'x\u202eexe.txt', 'a\u0007', 'a//b']) {
    assert.ok(unsafePath(bad), JSON.stringify(bad));
  }
  for (const good of ['album/run.sh', 'meeting 12:30.txt', 'what?', 'a\\b', 'नमस्ते', '👨\u200d👩\u200d👧']) {
    assert.equal(unsafePath(good), null, good);
  }
  assert.equal(conflictName('a.txt', 1), 'a (1).txt');
  assert.equal(conflictName('album', 2), 'album (2)');
});
