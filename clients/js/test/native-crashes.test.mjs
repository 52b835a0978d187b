// test/native-crashes.awk decides which test files run.sh runs a second
// time: only files whose process died of a native crash, and only when
// nothing else failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./native-crashes.awk', import.meta.url));
const judge = (tap) => {
  const r = spawnSync('awk', ['-f', script], { input: tap, encoding: 'utf8' });
  return { status: r.status, files: r.stdout.split('\n').filter(Boolean) };
};
const crashed = (n, file, signal) =>
  `not ok ${n} - ${file}\n  ---\n  duration_ms: 532.6\n  failureType: 'testCodeFailure'\n  exitCode: ~\n  signal: '${signal}'\n  error: 'test failed'\n  ...\n`;
const failed = (n, name) => `not ok ${n} - ${name}\n  ---\n  duration_ms: 1.2\n  failureType: 'testCodeFailure'\n  error: 'boom'\n  ...\n`;
const passed = (n, name) => `ok ${n} - ${name}\n  ---\n  duration_ms: 3.4\n  ...\n`;

test('a file killed by SIGSEGV or SIGBUS, with every test passed, is named for a second run', () => {
  const tap = passed(1, 'chat both ways') + crashed(2, '/x/test/node-glare.test.mjs', 'SIGSEGV') + crashed(3, '/x/test/b.test.mjs', 'SIGBUS');
  assert.deepEqual(judge(tap), { status: 0, files: ['/x/test/node-glare.test.mjs', '/x/test/b.test.mjs'] });
});

test('a failed test anywhere means no second run', () => {
  const tap = crashed(1, '/x/test/node-glare.test.mjs', 'SIGSEGV') + failed(2, 'glare');
  assert.equal(judge(tap).status, 1);
});

test('a file killed by another signal (a timeout’s SIGTERM) is a failure, not a crash', () => {
  assert.equal(judge(crashed(1, '/x/test/a.test.mjs', 'SIGTERM')).status, 1);
});

test('a passing report names nothing', () => {
  assert.deepEqual(judge(passed(1, 'a') + passed(2, 'b')), { status: 0, files: [] });
});
