// The hub's TURN credentials reach the JavaScript client (PROTOCOL.md,
// `turn`): coturn's use-auth-secret scheme, checked against the secret the
// hub was given; new connections list the server among their ICE servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hub, nextEvent, nodeClient } from './helpers.mjs';

test('the hub hands the client TURN credentials made from its shared secret', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'brume-js-turn-'));
  const secretFile = join(dir, 'turn.secret');
  writeFileSync(secretFile, 'north-wind-secret\n');
  const hub = await Hub.start('node-turn', ['--turn-server', '127.0.0.1:3478', '--turn-secret-file', secretFile]);
  try {
    const conf = hub.addUser('alice');
    const alice = await nodeClient(conf);
    try {
      // The `turn` frame follows `welcome`: it may have come already.
      if (alice.iceServers.length === 0) await nextEvent(alice, 'turn', () => true, 10000);
      const [server] = alice.iceServers;
      assert.ok(server, 'no TURN server from the hub');
      assert.equal(server.urls, 'turn:127.0.0.1:3478?transport=udp');
      const [expiry, user] = server.username.split(':');
      assert.equal(user, 'alice');
      assert.ok(Number(expiry) > Date.now() / 1000, server.username);
      const secret = 'north-wind-secret';
      const expected = createHmac('sha1', secret).update(server.username).digest('base64');
      assert.equal(server.credential, expected);
    } finally {
      alice.stop();
    }
  } finally {
    hub.stop();
  }
});
