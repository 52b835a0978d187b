// Glare: both sides connect() to each other at the same moment. Each side's
// incoming frames are held from the other's offer on until its own offer
// has gone out, so the two offers truly cross at the hub. The offer of the
// session that sorts first stands (PROTOCOL.md, "Whom a connection is
// with"): one connection each, and messages flow both ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Brume } from '../brume.mjs';
import { Hub, Proc, nextEvent, nodeClient, tappedWebSocket } from './helpers.mjs';

let hub;
const confs = {};

before(async () => {
  hub = await Hub.start('node-glare');
  for (const user of ['alice', 'bob', 'zoe']) confs[user] = hub.addUser(user);
});
after(() => hub.stop());

const chatOf = (bytes) => {
  const { type, data } = Brume.decodeMsg(bytes);
  return type === 'chat' ? data : null;
};
const heard = (peer, text) => nextEvent(peer, 'data', (d) => chatOf(d) === text);
const offersSent = (tap) => tap.sent.filter((m) => m.type === 'offer').length;

test('glare between two node clients: alice’s offer stands, one connection each, chat both ways', async () => {
  const ta = tappedWebSocket();
  const tb = tappedWebSocket();
  const alice = await nodeClient(confs.alice, {}, { WebSocket: ta.WebSocket });
  const bob = await nodeClient(confs.bob, {}, { WebSocket: tb.WebSocket });
  try {
    for (const b of [alice, bob]) b.onconnection(({ accept }) => accept());
    ta.holding = true;
    tb.holding = true;
    const toBob = alice.connect('bob');
    const toAlice = bob.connect('alice');
    await ta.until(() => ta.held.length > 0 && offersSent(ta) === 1);
    await tb.until(() => tb.held.length > 0 && offersSent(tb) === 1);
    // bob meets the glare first (his cancel reaches the hub before alice's
    // reject, which the hub then drops), so each step is known.
    tb.release();
    await tb.until(() => tb.sent.some((m) => m.type === 'cancel'));
    ta.release();
    const [a, b] = await Promise.all([toBob, toAlice]);
    assert.equal(a.id, `bob/${bob.thisDevice()}`);
    assert.equal(b.id, `alice/${alice.thisDevice()}`);
    assert.deepEqual([...alice.peers.keys()], [a.id], 'one connection on alice’s side');
    assert.deepEqual([...bob.peers.keys()], [b.id], 'one connection on bob’s side');
    assert.ok(ta.sent.some((m) => m.type === 'reject' && m.reason === 'glare'), 'alice refused bob’s offer as glare');
    assert.ok(tb.sent.some((m) => m.type === 'cancel' && m.reason === 'glare'), 'bob cancelled his own offer');
    await ta.until(() => ta.got.some((m) => m.type === 'cancel'));
    assert.equal(ta.got.find((m) => m.type === 'cancel').reason, 'glare', 'alice heard bob’s cancel');
    const atBob = heard(b, 'hi bob');
    await a.send(Brume.encodeMsg({ type: 'chat', data: 'hi bob' }));
    await atBob;
    const atAlice = heard(a, 'hi alice');
    await b.send(Brume.encodeMsg({ type: 'chat', data: 'hi alice' }));
    await atAlice;
  } finally {
    alice.stop();
    bob.stop();
  }
});

for (const user of ['alice', 'zoe']) {
  const winner = user < 'bob' ? user : 'bob';
  test(`glare between node ${user} and brume chat (bob): ${winner}’s offer stands, one connection, chat both ways`, async () => {
    const tap = tappedWebSocket();
    const node = await nodeClient(confs[user], {}, { WebSocket: tap.WebSocket });
    node.onconnection(({ accept }) => accept());
    tap.holding = true;
    const chat = new Proc(['chat', user], { env: { BRUME_CONF: confs.bob }, stdin: 'pipe' });
    try {
      // bob's offer has reached us, unseen: now ours goes out too.
      await tap.until(() => tap.held.length > 0);
      const connected = node.connect('bob');
      await tap.until(() => offersSent(tap) === 1);
      // brume chat answers (or refuses) ours first: it met the glare.
      await tap.until(() => tap.got.some((m) => m.type === (winner === user ? 'answer' : 'reject')));
      tap.release();
      const peer = await connected;
      assert.equal(peer.user, 'bob');
      assert.deepEqual([...node.peers.keys()], [peer.id], 'one connection');
      const glare = winner === user ? tap.sent.find((m) => m.type === 'reject') : tap.sent.find((m) => m.type === 'cancel');
      assert.equal(glare?.reason, 'glare', `the losing offer ends as glare; sent ${JSON.stringify(tap.sent.map((m) => m.type))}`);
      // brume chat met the glare too: it cancelled its offer, or refused ours.
      const theirs = tap.got.find((m) => m.type === (winner === user ? 'cancel' : 'reject'));
      assert.equal(theirs?.reason, 'glare', `brume chat ends the losing offer as glare; got ${JSON.stringify(tap.got.map((m) => m.type))}`);
      await chat.waitLine(`connected to ${user}/`);
      const line = heard(peer, 'hi from rust');
      chat.write('hi from rust\n');
      await line;
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'hi from node' }));
      await chat.waitLine(`${user}: hi from node`);
      assert.equal(node.peers.size, 1);
    } finally {
      chat.kill();
      node.stop();
    }
  });
}
