// ICE restarts started by the Node client against `brume recv`, through
// the hub: asked for (peer.restartIce()), and on its own once the path is
// lost (the Rust process stopped with SIGSTOP). After each, the same peer
// object carries messages and a file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brume } from '../brume.mjs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Hub, Proc, nextEvent, nodeClient, tmpDir } from './helpers.mjs';

let hub;
let aliceConf;
let bobConf;

let zoeConf;

before(async () => {
  hub = await Hub.start('node-restart');
  aliceConf = hub.addUser('alice');
  bobConf = hub.addUser('bob');
  zoeConf = hub.addUser('zoe');
});
after(() => hub.stop());

const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const ufrag = (sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];

async function recvProc() {
  const dir = tmpDir('recv');
  const recv = new Proc(['recv', '--yes', '--dir', dir], { env: { BRUME_CONF: bobConf } });
  await recv.waitLine('ready as');
  return { recv, dir };
}

/** A chat line and a 2 MiB file reach `brume recv` over `peer`. */
async function stillCarries(alice, peer, recv, dir, tag) {
  await peer.send(Brume.encodeMsg({ type: 'chat', data: `after the ${tag}` }));
  await recv.waitLine(`alice: after the ${tag}`);
  const src = join(tmpDir('src'), `${tag}.bin`);
  writeFileSync(src, randomBytes(2 * 1024 * 1024));
  await alice.transfers.send(peer, src).finished;
  await recv.waitLine(`${tag}.bin`);
  assert.equal(sha(join(dir, `${tag}.bin`)), sha(src));
}

test('peer.restartIce() restarts ICE with brume recv through the hub; the same peer carries chat and a file', async () => {
  const { recv, dir } = await recvProc();
  const alice = await nodeClient(aliceConf);
  try {
    const peer = await alice.connect('bob');
    const before = { local: ufrag(peer.pc.localDescription.sdp), remote: ufrag(peer.pc.remoteDescription.sdp) };
    await peer.restartIce();
    const now = { local: ufrag(peer.pc.localDescription.sdp), remote: ufrag(peer.pc.remoteDescription.sdp) };
    assert.notEqual(now.local, before.local, 'our ICE credentials changed');
    assert.notEqual(now.remote, before.remote, 'brume recv restarted its side too');
    assert.equal(alice.peers.get(peer.id), peer, 'still the same peer');
    await stillCarries(alice, peer, recv, dir, 'asked restart');
  } finally {
    alice.stop();
    recv.kill();
  }
});

test('a lost path (brume recv stopped) is restarted by the node client on its own; the same peer carries on', async () => {
  const { recv, dir } = await recvProc();
  const alice = await nodeClient(aliceConf, {}, { iceRestartAfter: 500 });
  try {
    const peer = await alice.connect('bob');
    assert.ok(peer.restartInitiator, 'alice sorts before bob, so she restarts');
    const remoteBefore = ufrag(peer.pc.remoteDescription.sdp);
    const lost = nextEvent(peer, 'reconnecting');
    const restarting = nextEvent(peer, 'restarting');
    const restarted = nextEvent(peer, 'restarted');
    recv.child.kill('SIGSTOP');
    try {
      await lost;
      await restarting;
    } finally {
      recv.child.kill('SIGCONT');
    }
    await restarted;
    assert.notEqual(ufrag(peer.pc.remoteDescription.sdp), remoteBefore, 'brume recv answered the restart');
    assert.equal(alice.peers.get(peer.id), peer);
    await stillCarries(alice, peer, recv, dir, 'lost path');
  } finally {
    alice.stop();
    recv.kill();
  }
});

/** Resolves with the first line of `child`'s stdout containing `needle`. */
function childLine(child, needle, ms = 30000) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(needle)} from the child; saw ${JSON.stringify(buf)}`)), ms);
    const on = (chunk) => {
      buf += chunk;
      if (buf.includes(needle)) {
        clearTimeout(timer);
        child.stdout.off('data', on);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', on);
  });
}

test('brume recv (bob sorts first) restarts ICE to a node client whose process was stopped; the node side answers through the hub', async () => {
  const { recv } = await recvProc();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./restart-child.mjs', import.meta.url)), zoeConf, 'bob'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await childLine(child, 'connected');
    const answered = childLine(child, 'answered restart', 40000);
    // The outage lasts past bob's recovery start (3 s of silence) and its
    // ice_restart_after (2 s more), so bob's endpoint restarts ICE.
    child.kill('SIGSTOP');
    await recv.waitLine('zoe is unreachable');
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGCONT');
    await answered;
    const sent = childLine(child, 'sent after the restart');
    child.stdin.write('after the restart\n');
    await sent;
    await recv.waitLine('zoe: after the restart');
  } finally {
    child.kill('SIGKILL');
    recv.kill();
  }
});
