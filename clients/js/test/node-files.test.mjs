// File transfer between the Node client and `brume recv` / `brume send`:
// 32 MiB each way, hash-checked; folders; cancel from either side.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Hub, Proc, nextEvent, nodeClient, tmpDir } from './helpers.mjs';

let hub;
let aliceConf;
let bobConf;

before(async () => {
  hub = await Hub.start('node-files');
  aliceConf = hub.addUser('alice');
  bobConf = hub.addUser('bob');
});
after(() => hub.stop());

const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function bigFile(dir, name, mib) {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(mib * 1024 * 1024));
  return path;
}

async function recvProc() {
  const dir = tmpDir('recv');
  const recv = new Proc(['recv', '--yes', '--dir', dir], { env: { BRUME_CONF: bobConf } });
  await recv.waitLine('ready as');
  return { recv, dir };
}

test('node sends 32 MiB to brume recv, which saves it hash-checked', async () => {
  const { recv, dir } = await recvProc();
  const src = bigFile(tmpDir('src'), 'big.bin', 32);
  const alice = await nodeClient(aliceConf);
  try {
    const peer = await alice.connect('bob');
    const t = alice.transfers.send(peer, src);
    let progress = 0;
    t.on('progress', (p) => (progress = p.done));
    await t.finished;
    assert.equal(progress, 32 * 1024 * 1024);
    await recv.waitLine('big.bin');
    assert.equal(sha(join(dir, 'big.bin')), sha(src));
  } finally {
    alice.stop();
    recv.kill();
  }
});

test('brume send sends 32 MiB to node, which saves it hash-checked', async () => {
  const alice = await nodeClient(aliceConf);
  const dir = tmpDir('into');
  const src = bigFile(tmpDir('src'), 'big.bin', 32);
  try {
    alice.onconnection(({ accept }) => accept());
    const offered = nextEvent(alice, 'offer');
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: bobConf } });
    try {
      const t = await offered;
      assert.equal(t.name, 'big.bin');
      assert.equal(t.total, 32 * 1024 * 1024);
      assert.equal(t.peer.user, 'bob');
      const saved = await t.accept(dir);
      assert.deepEqual(saved, [join(dir, 'big.bin')]);
      assert.equal(sha(join(dir, 'big.bin')), sha(src));
      assert.equal(await send.exit(), 0);
    } finally {
      send.kill();
    }
  } finally {
    alice.stop();
  }
});

function folder() {
  const root = join(tmpDir('src'), 'album');
  mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(root, 'run.sh'), 'abc');
  chmodSync(join(root, 'run.sh'), 0o755);
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'sub', 'a.txt'), 'hello');
  writeFileSync(join(root, 'sub', 'deeper', 'b.bin'), randomBytes(3 * 1024 * 1024 + 17));
  mkdirSync(join(root, 'void'));
  return root;
}

function listTree(root) {
  const out = [];
  const walk = (abs, rel) => {
    for (const n of readdirSync(abs).sort()) {
      const st = statSync(join(abs, n));
      out.push(`${rel}${n}${st.isDirectory() ? '/' : ` ${st.size} ${sha(join(abs, n)).slice(0, 8)} ${st.mode & 0o111 ? 'x' : '-'}`}`);
      if (st.isDirectory()) walk(join(abs, n), `${rel}${n}/`);
    }
  };
  walk(root, '');
  return out;
}

test('folders go both ways, with their empty files, empty folders and executable bits', async () => {
  const src = folder();
  // node → recv
  const { recv, dir } = await recvProc();
  const alice = await nodeClient(aliceConf);
  try {
    const peer = await alice.connect('bob');
    await alice.transfers.send(peer, src).finished;
    await recv.waitLine('b.bin');
    assert.deepEqual(listTree(join(dir, 'album')), listTree(src));
  } finally {
    alice.stop();
    recv.kill();
  }
  // send → node
  const node = await nodeClient(aliceConf);
  const into = tmpDir('into');
  try {
    node.onconnection(({ accept }) => accept());
    const offered = nextEvent(node, 'offer');
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: bobConf } });
    try {
      const t = await offered;
      assert.equal(t.entries.length, 8);
      await t.accept(into);
      assert.deepEqual(listTree(join(into, 'album')), listTree(src));
      assert.equal(await send.exit(), 0);
    } finally {
      send.kill();
    }
  } finally {
    node.stop();
  }
});

test('the node receiver cancels; brume send hears why and the partial file is gone', async () => {
  const alice = await nodeClient(aliceConf);
  const into = tmpDir('into');
  const src = bigFile(tmpDir('src'), 'big.bin', 32);
  try {
    alice.onconnection(({ accept }) => accept());
    const offered = nextEvent(alice, 'offer');
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: bobConf } });
    try {
      const t = await offered;
      const done = t.accept(into);
      await nextEvent(t, 'progress');
      t.cancel('changed my mind');
      await assert.rejects(done, /changed my mind/);
      await send.waitLine('changed my mind');
      assert.equal(await send.exit(), 1);
      assert.deepEqual(readdirSync(into), []);
    } finally {
      send.kill();
    }
  } finally {
    alice.stop();
  }
});

test('the node sender cancels; brume recv hears why and places nothing', async () => {
  const { recv, dir } = await recvProc();
  const src = bigFile(tmpDir('src'), 'big.bin', 32);
  const alice = await nodeClient(aliceConf);
  try {
    const peer = await alice.connect('bob');
    const t = alice.transfers.send(peer, src);
    await nextEvent(t, 'progress');
    t.cancel('sender gave up');
    await assert.rejects(t.finished, /sender gave up/);
    await recv.waitLine('sender gave up');
    assert.equal(existsSync(join(dir, 'big.bin')), false);
  } finally {
    alice.stop();
    recv.kill();
  }
});

test('brume send cancels mid-way (killed): node keeps the verified blocks and the next send resumes', async () => {
  const alice = await nodeClient(aliceConf);
  const into = tmpDir('into');
  const src = bigFile(tmpDir('src'), 'big.bin', 32);
  try {
    alice.onconnection(({ accept }) => accept());
    let offered = nextEvent(alice, 'offer');
    const first = new Proc(['send', 'alice', src], { env: { BRUME_CONF: bobConf } });
    const t = await offered;
    const done = t.accept(into).then(() => 'saved', (e) => e.message);
    await nextEvent(t, 'progress', (p) => p.done >= 4 * 1024 * 1024);
    first.kill();
    // The next send comes from the same device (the hub frees the killed
    // one's instance name at once), so it replaces the dead peer.
    offered = nextEvent(alice, 'offer');
    const second = new Proc(['send', 'alice', src], { env: { BRUME_CONF: bobConf } });
    try {
      const again = await offered;
      const resumed = nextEvent(again, 'resumed');
      const saved = again.accept(into);
      const from = await resumed;
      assert.equal(await done, 'the connection was lost');
      assert.ok(from.done >= 4 * 1024 * 1024, `resumed from ${from.done}`);
      await saved;
      assert.equal(sha(join(into, 'big.bin')), sha(src));
      assert.equal(await second.exit(), 0);
    } finally {
      second.kill();
    }
  } finally {
    alice.stop();
  }
});
