// Why one sender is faster than another into a tab, by hand: a file from
// `brume send` (Rust), or from another tab, into a tab that verifies and
// discards it, recording in the receiving tab when each message of the
// transfer channel arrives, and the CPU time of the tabs' and the
// sender's processes. Prints the throughput, the CPU each used per
// second, and how the messages came: their size, and the bursts between
// gaps of more than 1 ms (a sender that waits on acknowledgements shows
// bursts of about its window, one per round trip).
//   BRUME_BIN=$CARGO_TARGET_DIR/release/brume node clients/js/bench/pacing.mjs [MiB]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Hub, Proc, tmpDir } from '../test/helpers.mjs';
import { browser, httpRoot, startInPage, until } from '../test/web.mjs';

const MIB = 1024 * 1024;
const size = Number(process.argv[2] ?? 128) * MIB;
const hub = await Hub.start('pacing');
const conf = { alice: hub.addUser('alice'), bob: hub.addUser('bob'), carol: hub.addUser('carol') };
const src = join(tmpDir('pacing'), 'p.bin');
writeFileSync(src, randomBytes(size));
const b1 = await browser();
const b2 = await browser();

const ticks = (pid) => {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
  } catch {
    return 0;
  }
};
/** Every process of the browser whose profile is `profile`. */
function tree(profile) {
  const procs = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      procs.set(Number(pid), { ppid: Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]), cmd });
    } catch {
      // Gone.
    }
  }
  const mine = new Set([...procs].filter(([, p]) => p.cmd.includes(`--user-data-dir=${profile}`) && !p.cmd.includes('--type=')).map(([pid]) => pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) grew = mine.add(pid) !== null;
  }
  return [...mine].map((pid) => ({ pid, type: /--type=(\S+)/.exec(procs.get(pid).cmd)?.[1] ?? 'browser' }));
}
const cpu = (procs) => procs.reduce((n, p) => n + ticks(p.pid), 0);

async function receiver(page) {
  await page.evaluate(() => {
    window.arrivals = [];
    window.brume.transfers; // the instance's transfers hear new channels
    for (const peer of window.brume.peers.values()) window.tapPeer(peer);
  });
}

async function setup(page) {
  await page.evaluate(() => {
    window.tapPeer = (peer) => {
      if (peer.tapped) return;
      peer.tapped = true;
      peer.on('channel', (dc) =>
        dc.addEventListener('message', (ev) => window.arrivals.push([performance.now(), ev.data.byteLength ?? ev.data.length])),
      );
    };
    window.arrivals = [];
    window.brume.onconnection(async ({ peer, accept }) => {
      window.wire(peer);
      window.tapPeer(peer);
      await accept();
    });
    window.discard = () => ({
      describe: (r) => r,
      kind: async () => null,
      mkdir: async () => {},
      size: async () => 0,
      openPart: async () => ({ read: async () => new Uint8Array(0), truncate: async () => {}, write: async () => {}, sync: async () => {}, close: async () => {} }),
      remove: async () => {},
      finish: async () => {},
      place: async () => true,
      dirname: (r) => (r.includes('/') ? r.slice(0, r.lastIndexOf('/')) : ''),
    });
  });
}

function shape(arrivals) {
  const sizes = arrivals.map((a) => a[1]).sort((x, y) => x - y);
  const bursts = [];
  let cur = 0;
  const gaps = [];
  for (let i = 1; i < arrivals.length; i++) {
    const gap = arrivals[i][0] - arrivals[i - 1][0];
    cur += arrivals[i - 1][1];
    if (gap > 1) {
      bursts.push(cur);
      gaps.push(gap);
      cur = 0;
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
  const span = arrivals.length ? arrivals[arrivals.length - 1][0] - arrivals[0][0] : 0;
  return {
    messages: arrivals.length,
    medianMessageKiB: (med(sizes) / 1024).toFixed(1),
    gapsOver1ms: gaps.length,
    medianGapMs: med(gaps).toFixed(2),
    timeInGapsPct: ((gaps.reduce((a, b) => a + b, 0) / span) * 100).toFixed(0),
    medianBurstKiB: (med(bursts) / 1024).toFixed(0),
  };
}

async function run(label, start) {
  const rx = await b1.page(httpRoot(hub.url));
  await startInPage(rx, Hub.config(conf.alice));
  await setup(rx);
  const procs = { receiverTab: tree(b1.profile), senderTab: tree(b2.profile) };
  const { wait, sender } = await start(rx);
  await until(rx, () => window.seen.offers.length > 0);
  const before = { rx: cpu(procs.receiverTab), tx: cpu(procs.senderTab), rust: sender ? ticks(sender.child.pid) : 0, t: performance.now() };
  // brume send exits once done: keep its last count.
  let rustTicks = before.rust;
  const poll = setInterval(() => sender && (rustTicks = Math.max(rustTicks, ticks(sender.child.pid))), 100);
  const secs = await rx.evaluate(async () => {
    const t = window.seen.offers.shift();
    window.arrivals = [];
    let t0 = 0;
    t.on('progress', () => (t0 ||= performance.now()));
    await t.accept(window.discard());
    return (performance.now() - t0) / 1000;
  });
  const wall = (performance.now() - before.t) / 1000;
  clearInterval(poll);
  const hz = 100;
  const used = {
    receiverBrowser: (cpu(procs.receiverTab) - before.rx) / hz / wall,
    senderBrowser: (cpu(procs.senderTab) - before.tx) / hz / wall,
    rustSender: sender ? (rustTicks - before.rust) / hz / wall : 0,
  };
  const arrivals = await rx.evaluate(() => window.arrivals);
  await wait();
  await rx.evaluate(() => window.brume.stop());
  await rx.close();
  console.log(
    `${label}: ${(size / MIB / secs).toFixed(1)} MiB/s; CPU (cores): receiving browser ${used.receiverBrowser.toFixed(2)}, sending browser ${used.senderBrowser.toFixed(2)}, brume send ${used.rustSender.toFixed(2)};`,
    JSON.stringify(shape(arrivals)),
  );
}

for (let i = 0; i < 3; i++) {
  await run('Rust → browser', async () => {
    const sender = new Proc(['send', 'alice', src], { env: { BRUME_CONF: conf.bob } });
    return { sender, wait: () => sender.exit() };
  });
  await run('browser → browser', async (rx) => {
    const tx = await b2.page(httpRoot(hub.url));
    await startInPage(tx, Hub.config(conf.carol));
    await tx.evaluate(async (n) => {
      const peer = await window.brume.connect('alice');
      window.t = window.brume.transfers.send(peer, new File([new Uint8Array(n)], 'p.bin'));
    }, size);
    await until(rx, () => window.brume.peers.size > 0);
    await rx.evaluate(() => window.brume.peers.forEach((p) => window.tapPeer(p)));
    return {
      sender: null,
      wait: async () => {
        await tx.evaluate(() => window.t.finished);
        await tx.evaluate(() => window.brume.stop());
        await tx.close();
      },
    };
  });
}
await b1.close();
await b2.close();
hub.stop();
process.exit(0);
