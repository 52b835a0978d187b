// A Node device signs its identity like a Rust one (PROTOCOL.md, "Who a
// peer is"): `brume recv` pins its key on first meeting, `brume verify`
// shows it, and the same device with a new key is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Brume } from '../brume.mjs';
import { Hub, Proc, brumeBin, nodeClient, tmpDir } from './helpers.mjs';

let hub;
let aliceConf;
let bobConf;

before(async () => {
  hub = await Hub.start('node-identity');
  aliceConf = hub.addUser('alice');
  bobConf = hub.addUser('bob');
});
after(() => hub.stop());

test('brume recv pins a node device’s identity key, and refuses the same device with a new key', async () => {
  const keys = tmpDir('keys');
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('recv')], { env: { BRUME_CONF: bobConf } });
  try {
    await recv.waitLine('ready as');
    const as = (keyFile) => nodeClient(aliceConf, { device: 'laptop' }, { identity: join(keys, keyFile) });

    const first = await as('first.key');
    let key;
    try {
      key = first.identity;
      assert.match(key, /^[0-9a-f]{64}$/);
      const peer = await first.connect('bob');
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'signed, alice' }));
      await recv.waitLine('alice: signed, alice');
    } finally {
      first.stop();
    }
    const verify = spawnSync(brumeBin(), ['verify', 'alice'], { env: { ...process.env, BRUME_CONF: bobConf }, encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, new RegExp(`^alice/laptop\\t${Brume.shortForm(key)}$`, 'm'), 'bob pinned this key');

    const other = await as('second.key');
    try {
      assert.notEqual(other.identity, key);
      await assert.rejects(other.connect('bob'), (e) => e.code === 'EREJECTED' && /identity check failed/.test(e.message));
      await recv.waitLine('alice/laptop is not the device met before');
    } finally {
      other.stop();
    }

    // The pinned key still gets through: the refusal was the key's.
    const again = await as('first.key');
    try {
      const peer = await again.connect('bob');
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'me again' }));
      await recv.waitLine('alice: me again');
      await peer.restartIce();
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'signed restart' }));
      await recv.waitLine('alice: signed restart');
    } finally {
      again.stop();
    }
  } finally {
    recv.kill();
  }
});
