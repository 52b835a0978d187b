// Tokens: a short-lived access token (signed with the hub's own key) is
// refreshed ahead of its expiry, so the session's next hello, after the
// token expired and the hub restarted, goes through at once; a refresh the
// hub refuses fires `reauth` with the error (the user must log in again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Hub, Proc, nextEvent, nodeClient, shortToken, tappedWebSocket } from './helpers.mjs';

const expiry = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp;

/** What the hub answers a bare `hello` with `token` (the first frame). */
function helloAnswer(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', version: 2, token })));
    ws.on('message', (data) => {
      resolve(JSON.parse(data.toString()));
      ws.close();
    });
    ws.on('error', reject);
  });
}

test('a short-lived access token is refreshed ahead of its expiry; after it, a restarted hub takes the new one at once', async () => {
  const hub = await Hub.start('node-tokens');
  let second;
  try {
    const conf = hub.addUser('alice');
    const short = shortToken(hub, 'alice', 4);
    assert.equal((await helloAnswer(hub.url, short.token)).type, 'welcome', 'the short token is good at first');
    const tap = tappedWebSocket();
    const reauths = [];
    const alice = await nodeClient(conf, { token: short.token }, { WebSocket: tap.WebSocket });
    alice.on('reauth', (config, err) => reauths.push({ config, err }));
    try {
      const config = await nextEvent(alice, 'reauth', () => true, 10000);
      assert.ok(config, 'reauth with the new config');
      assert.ok(Date.now() < short.exp * 1000, 'refreshed before the token expired');
      assert.notEqual(config.token, short.token);
      assert.ok(expiry(config.token) > short.exp + 60, 'the new token lives longer');

      // Past the short token's expiry: the hub would refuse it now.
      await new Promise((r) => setTimeout(r, short.exp * 1000 - Date.now() + 1100));
      assert.equal((await helloAnswer(hub.url, short.token)).code, 'ETOKENEXPIRED');

      const down = nextEvent(alice, 'serverclose');
      hub.proc.kill();
      await down;
      const back = nextEvent(alice, 'serveropen', () => true, 60000);
      const sentBefore = tap.sent.length;
      second = new Proc(['serve', '--listen', `127.0.0.1:${new URL(hub.url).port}`, '--data', hub.data]);
      await second.waitLine('listening on');
      await back;
      const again = tap.sent.slice(sentBefore);
      assert.equal(again[0].type, 'hello');
      assert.equal(again[0].token, config.token, 'the session came back with the refreshed token');
      assert.ok(!tap.got.some((m) => m.type === 'error' && m.code === 'ETOKENEXPIRED'), 'no token was ever refused');
      assert.ok(reauths.every((r) => r.config && !r.err), 'no reauth failure');
    } finally {
      alice.stop();
    }
  } finally {
    second?.kill();
    hub.stop();
  }
});

test('a refresh the hub refuses fires reauth with the error; the session itself carries on', async () => {
  const hub = await Hub.start('node-tokens-refused');
  try {
    const conf = hub.addUser('alice');
    const bobConf = hub.addUser('bob');
    const short = shortToken(hub, 'alice', 4);
    // bob's refresh token is not alice's: the hub refuses it (ETOKENINVALID).
    const wrong = Hub.config(bobConf).refresh_token;
    const alice = await nodeClient(conf, { token: short.token, refreshToken: wrong });
    try {
      const [config, err] = await nextEvent(alice, 'reauth', () => true, 10000);
      assert.equal(config, null);
      assert.equal(err.code, 'ETOKENINVALID');
      // Still authenticated: the hub answers a subscribe with presence.
      const presence = nextEvent(alice, 'presence', (p) => p.user === 'bob');
      alice.subscribe(['bob']);
      assert.equal((await presence).online, false);
    } finally {
      alice.stop();
    }
  } finally {
    hub.stop();
  }
});
