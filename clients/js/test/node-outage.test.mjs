// The hub goes away and comes back: open peers carry on meanwhile, and the
// client reconnects on its own with backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Brume } from '../brume.mjs';
import { Hub, Proc, nextEvent, nodeClient, tmpDir } from './helpers.mjs';

test('a peer carries on while the hub is down, and the client is back once it returns', async () => {
  const hub = await Hub.start('node-outage');
  const aliceConf = hub.addUser('alice');
  const bobConf = hub.addUser('bob');
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('recv')], { env: { BRUME_CONF: bobConf } });
  let second;
  try {
    await recv.waitLine('ready as');
    const alice = await nodeClient(aliceConf);
    try {
      const peer = await alice.connect('bob');
      const closed = nextEvent(alice, 'serverclose');
      hub.proc.kill();
      await closed;
      await peer.send(Brume.encodeMsg({ type: 'chat', data: 'while the hub is down' }));
      await recv.waitLine('alice: while the hub is down');
      assert.ok(peer.connected);

      const back = nextEvent(alice, 'serveropen', () => true, 60000);
      const port = new URL(hub.url).port;
      second = new Proc(['serve', '--listen', `127.0.0.1:${port}`, '--data', hub.data]);
      await second.waitLine('listening on');
      await back;
      assert.equal(alice.thisUser(), 'alice');
      // The session works again: bob's recv is back too, and a new
      // connect by name to it reuses the open peer.
      assert.equal(await alice.connect('bob'), peer);
    } finally {
      alice.stop();
    }
  } finally {
    recv.kill();
    second?.kill();
    hub.stop();
  }
});
