// The library in Node (@roamhq/wrtc) against real `brume` processes:
// connect by name, chat both ways, large sends, errors, hub outages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Brume } from '../brume.mjs';
import { Hub, Proc, nextEvent, nodeClient, tmpDir } from './helpers.mjs';

let hub;
let aliceConf;
let bobConf;

before(async () => {
  hub = await Hub.start('node-chat');
  aliceConf = hub.addUser('alice');
  bobConf = hub.addUser('bob');
});
after(() => hub.stop());

const chatOf = (bytes) => {
  const { type, data } = Brume.decodeMsg(bytes);
  return type === 'chat' ? data : null;
};

test('node connects by name to brume recv and its chat lines are printed', async () => {
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('recv')], { env: { BRUME_CONF: bobConf } });
  try {
    await recv.waitLine('ready as');
    const alice = await nodeClient(aliceConf);
    try {
      assert.equal(alice.thisUser(), 'alice');
      const peer = await alice.connect('bob');
      assert.equal(peer.user, 'bob');
      assert.match(peer.id, /^bob\/[a-z0-9._-]+$/);
      assert.equal(await alice.connect('bob'), peer, 'a second connect returns the open peer');
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'hello from node ✓' }));
      await recv.waitLine('alice: hello from node ✓');
    } finally {
      alice.stop();
    }
  } finally {
    recv.kill();
  }
});

test('brume chat reaches a node client that takes calls, and lines go both ways', async () => {
  const alice = await nodeClient(aliceConf);
  try {
    const incoming = new Promise((resolve) => {
      alice.onconnection(async ({ peer, accept }) => {
        const lines = [];
        peer.on('data', (d) => {
          const text = chatOf(d);
          if (text !== null) lines.push(text);
          peer.emit('chatline', text);
        });
        await accept();
        resolve({ peer, lines });
      });
    });
    const chat = new Proc(['chat', 'alice'], { env: { BRUME_CONF: bobConf }, stdin: 'pipe' });
    try {
      const { peer } = await incoming;
      assert.equal(peer.user, 'bob');
      const heard = nextEvent(peer, 'chatline', (t) => t === 'hi node');
      chat.write('hi node\n');
      await heard;
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'hi rust' }));
      await chat.waitLine('alice: hi rust');
      const closed = nextEvent(peer, 'close');
      chat.child.stdin.end();
      await closed;
      assert.equal(await chat.exit(), 0);
    } finally {
      chat.kill();
    }
  } finally {
    alice.stop();
  }
});

test('64 MiB sent at once never overflows the channel', async () => {
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('recv')], { env: { BRUME_CONF: bobConf } });
  try {
    await recv.waitLine('ready as');
    const alice = await nodeClient(aliceConf);
    try {
      const peer = await alice.connect('bob');
      const errors = [];
      peer.on('error', (e) => errors.push(e));
      const chunk = Brume.encodeMsg({ type: 'blob', data: new Uint8Array(64 * 1024 - 8) });
      const sends = [];
      for (let i = 0; i < 1024; i++) sends.push(peer.send(chunk));
      assert.ok(peer.bufferedAmount > 32 * 1024 * 1024, 'the sends were queued, not refused');
      sends.push(peer.send(Brume.encodeMsg({ type: 'chat', data: 'all sent' })));
      await Promise.all(sends);
      // The channel is ordered: the last line arrives after every blob.
      await recv.waitLine('alice: all sent', 60000);
      assert.deepEqual(errors, []);
      assert.ok(peer.connected);
    } finally {
      alice.stop();
    }
  } finally {
    recv.kill();
  }
});

test('connect fails with ENODEST, EBADDEST and ENOSRV as seed 000 says', async () => {
  const alice = await nodeClient(aliceConf);
  try {
    await assert.rejects(alice.connect('bob'), (e) => e.code === 'ENODEST');
    await assert.rejects(alice.connect('zed'), (e) => e.code === 'EBADDEST');
  } finally {
    alice.stop();
  }
  await assert.rejects(alice.connect('bob'), (e) => e.code === 'ENOSRV');
});

test('a bad token fails start with the hub code, and a refresh token rescues an expired one', async () => {
  const cfg = Hub.config(aliceConf);
  const bad = new Brume({ wrtc: (await import('@roamhq/wrtc')).default, WebSocket: (await import('ws')).default });
  await assert.rejects(bad.start({ url: cfg.url, token: 'not-a-token' }), (e) => e.code === 'ETOKENINVALID');
  bad.stop();
  // An invalid access token with a good refresh token: refresh, welcome, reauth.
  const good = new Brume({ wrtc: (await import('@roamhq/wrtc')).default, WebSocket: (await import('ws')).default });
  const reauth = nextEvent(good, 'reauth');
  await good.start({ url: cfg.url, token: 'not-a-token', refreshToken: cfg.refresh_token });
  const config = await reauth;
  assert.equal(good.thisUser(), 'alice');
  assert.notEqual(config.token, 'not-a-token');
  assert.match(config.token, /^eyJ/);
  good.stop();
});
