// RPC modules and broadcast between the JavaScript client and Rust peers
// (PROTOCOL.md, "RPC modules"): Node asks the modules `brume recv` serves,
// `brume rpc` asks a module Node serves, and a broadcast reports each
// recipient.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Brume, RpcError } from '../brume.mjs';
import { Hub, Proc, nodeClient, tmpDir } from './helpers.mjs';

let hub;
let aliceConf;
let bobConf;

before(async () => {
  hub = await Hub.start('node-rpc');
  aliceConf = hub.addUser('alice');
  bobConf = hub.addUser('bob');
});
after(() => hub.stop());

test('node asks the modules brume recv serves, and hears typed failures', async () => {
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('rpc')], { env: { BRUME_CONF: bobConf } });
  try {
    await recv.waitLine('ready as');
    const alice = await nodeClient(aliceConf);
    try {
      const peer = await alice.connect('bob');
      assert.deepEqual(await peer.request('echo', { text: 'Friday' }), { text: 'Friday' });
      const info = await peer.request('brume.info');
      assert.equal(info.user, 'bob');
      assert.equal(info.program, 'brume recv');
      // Many in flight at once, each matched to its own answer.
      const many = await Promise.all([...Array(20).keys()].map((k) => peer.request('echo', k)));
      assert.deepEqual(many, [...Array(20).keys()]);
      await assert.rejects(peer.request('Nope.Module', null), (e) => e instanceof RpcError && e.kind === 'no_module');
      // A broadcast to bob's devices reports each recipient.
      const results = await alice.get('bob').request('echo', 'all');
      assert.deepEqual(results, [{ peer: peer.id, ok: 'all' }]);
      assert.deepEqual(alice.get('carol').peers, []);
    } finally {
      alice.stop();
    }
  } finally {
    recv.kill();
  }
});

test('brume rpc asks a module the node client serves', async () => {
  const alice = await nodeClient(aliceConf);
  try {
    alice.module('My.Echo.Module', ({ request, peer }) => ({ echoed: request, from: peer.user }));
    alice.module('Broken', () => {
      throw new Error('disk full');
    });
    alice.onconnection(({ accept }) => accept());
    const ok = new Proc(['rpc', 'alice', 'My.Echo.Module', '{"text":"Friday"}'], { env: { BRUME_CONF: bobConf } });
    assert.equal(await ok.exited, 0, ok.lines.join('\n'));
    assert.deepEqual(JSON.parse(ok.lines.find((l) => l.startsWith('{'))), { echoed: { text: 'Friday' }, from: 'bob' });
    const broken = new Proc(['rpc', 'alice', 'Broken'], { env: { BRUME_CONF: bobConf } });
    assert.equal(await broken.exited, 1);
    assert.ok(broken.lines.some((l) => l.includes('failed: disk full')), broken.lines.join('\n'));
  } finally {
    alice.stop();
  }
});

test('send to a name connects on demand, and sends made meanwhile share one attempt in order', async () => {
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('send-to')], { env: { BRUME_CONF: bobConf } });
  try {
    await recv.waitLine('ready as');
    const alice = await nodeClient(aliceConf);
    try {
      const sends = [...Array(5).keys()].map((k) => alice.send('bob', Brume.encodeMsg({ type: 'chat', data: `line ${k}` })));
      const peers = await Promise.all(sends);
      assert.ok(peers.every((p) => p === peers[0]), 'one connection for all five');
      for (let k = 0; k < 5; k++) await recv.waitLine(`alice: line ${k}`);
      const order = recv.lines.filter((l) => l.includes('alice: line '));
      assert.deepEqual(order, [...Array(5).keys()].map((k) => `alice: line ${k}`));
      assert.equal(recv.lines.filter((l) => l.startsWith('connected: alice/')).length, 1);
    } finally {
      alice.stop();
    }
  } finally {
    recv.kill();
  }
});
