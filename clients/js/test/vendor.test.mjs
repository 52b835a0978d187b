import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

test('the vendored BLAKE3 for browsers is the installed hash-wasm file, unchanged', () => {
  const vendored = readFileSync(new URL('../vendor/hash-wasm-blake3.umd.min.js', import.meta.url));
  const installed = readFileSync(new URL('../node_modules/hash-wasm/dist/blake3.umd.min.js', import.meta.url));
  assert.ok(vendored.equals(installed));
});
