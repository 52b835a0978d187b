import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../hub.mjs';

test('the reconnect wait is 1 s doubling to 30 s, each within ±20 %', () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, mid)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(backoffDelay(0, () => 0), 800);
  assert.equal(backoffDelay(10, () => 0.999999) < 36000, true);
  assert.equal(backoffDelay(10, () => 0.999999) > 35999, true);
});
