// Throughput and connect-to-open time, side by side in one run, each a
// median of several: Rust → browser, browser → Rust, browser ↔ browser,
// and the same with Node on libwebrtc. Run by hand:
//   cargo build --release -p brume-mio
//   BRUME_BIN=target/release/brume node clients/js/bench/bench.mjs [MiB] [runs]
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hub, Proc, nextEvent, nodeClient, tmpDir } from '../test/helpers.mjs';
import { browser, httpRoot, startInPage, until } from '../test/web.mjs';

const MIB = 1024 * 1024;
const size = Number(process.argv[2] ?? 64) * MIB;
const runs = Number(process.argv[3] ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const hub = await Hub.start('bench');
const conf = { alice: hub.addUser('alice'), bob: hub.addUser('bob'), carol: hub.addUser('carol') };
const cfg = (u) => Hub.config(conf[u]);
const src = join(tmpDir('bench'), 'bench.bin');
writeFileSync(src, randomBytes(size));
const b1 = await browser();
const b2 = await browser();
const rows = [];
const record = (name, open, secs, figures) => rows.push({ name, open, mibps: size / MIB / secs, figures });

/** In a page: a sink that verifies blocks but keeps nothing (the path and
 * the hashing alone), and the receiving side's channel figures. */
async function benchHelpers(page) {
  await page.evaluate(() => {
    window.discardSink = () => ({
      describe: (rel) => rel,
      kind: async () => null,
      mkdir: async () => {},
      size: async () => 0,
      openPart: async () => ({
        read: async () => new Uint8Array(0),
        truncate: async () => {},
        write: async () => {},
        sync: async () => {},
        close: async () => {},
      }),
      remove: async () => {},
      finish: async () => {},
      place: async () => true,
      dirname: (rel) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : ''),
    });
    window.channelFigures = async (pc) => {
      const out = { rttMs: null, messages: 0, bytes: 0 };
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) out.rttMs = s.currentRoundTripTime * 1000;
        if (s.type === 'data-channel' && s.label !== 'brume') {
          out.messages += s.messagesReceived ?? 0;
          out.bytes += s.bytesReceived ?? 0;
        }
      });
      return out;
    };
  });
}

async function pingOpen(user) {
  const p = new Proc(['ping', user, '-c', '1'], { env: { BRUME_CONF: conf.bob } });
  const line = await p.waitLine('channel open in');
  await p.exit();
  return Number(/open in ([\d.]+) ms/.exec(line)[1]);
}

// Rust → browser (into OPFS, and verified but discarded) and browser → Rust.
for (let i = 0; i < runs; i++) {
  const page = await b1.page(httpRoot(hub.url));
  await startInPage(page, cfg('alice'));
  await benchHelpers(page);
  const open = await pingOpen('alice');
  for (const sink of ['opfs', 'discard']) {
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: conf.bob } });
    await until(page, () => window.seen.offers.length > 0);
    const r = await page.evaluate(async (sink) => {
      const t = window.seen.offers.shift();
      const into =
        sink === 'opfs'
          ? await (await navigator.storage.getDirectory()).getDirectoryHandle(`b${Date.now()}`, { create: true })
          : window.discardSink();
      let start = 0;
      t.on('progress', () => (start ||= performance.now()));
      await t.accept(into);
      const secs = (performance.now() - start) / 1000;
      return { secs, figures: await window.channelFigures(t.peer.pc) };
    }, sink);
    await send.exit();
    record(`Rust → browser${sink === 'discard' ? ' (discard)' : ''}`, open, r.secs, r.figures);
  }
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('r')], { env: { BRUME_CONF: conf.bob } });
  await recv.waitLine('ready as');
  const r = await page.evaluate(async (n) => {
    const t0 = performance.now();
    const peer = await window.brume.connect('bob');
    const open = performance.now() - t0;
    const t = window.brume.transfers.send(peer, new File([new Uint8Array(n)], 'b.bin'));
    let start = 0;
    t.on('progress', () => (start ||= performance.now()));
    await t.finished;
    return { open, secs: (performance.now() - start) / 1000 };
  }, size);
  record('browser → Rust', r.open, r.secs);
  recv.kill();
  await page.evaluate(() => window.brume.stop());
  await page.close();
}

// Browser ↔ browser, two tabs in two browsers (into OPFS, and discarded).
for (let i = 0; i < runs; i++) {
  const a = await b1.page(httpRoot(hub.url));
  const c = await b2.page(httpRoot(hub.url));
  await startInPage(a, cfg('alice'));
  await startInPage(c, cfg('carol'));
  await benchHelpers(c);
  const open = await a.evaluate(async () => {
    const t0 = performance.now();
    window.peer = await window.brume.connect('carol');
    return performance.now() - t0;
  });
  for (const sink of ['opfs', 'discard']) {
    await a.evaluate((n) => {
      window.brume.transfers.send(window.peer, new File([new Uint8Array(n)], 'b.bin'));
    }, size);
    await until(c, () => window.seen.offers.length > 0);
    const r = await c.evaluate(async (sink) => {
      const t = window.seen.offers.shift();
      const into =
        sink === 'opfs'
          ? await (await navigator.storage.getDirectory()).getDirectoryHandle(`b${Date.now()}`, { create: true })
          : window.discardSink();
      let start = 0;
      t.on('progress', () => (start ||= performance.now()));
      await t.accept(into);
      return { secs: (performance.now() - start) / 1000, figures: await window.channelFigures(t.peer.pc) };
    }, sink);
    record(`browser ↔ browser${sink === 'discard' ? ' (discard)' : ''}`, open, r.secs, r.figures);
  }
  for (const p of [a, c]) {
    await p.evaluate(() => window.brume.stop());
    await p.close();
  }
}

// Node on libwebrtc.
for (let i = 0; i < runs; i++) {
  const alice = await nodeClient(conf.alice);
  alice.onconnection(({ accept }) => accept());
  const open = await pingOpen('alice');
  const offered = nextEvent(alice, 'offer');
  const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: conf.bob } });
  const t = await offered;
  let start = 0;
  t.on('progress', () => (start ||= performance.now()));
  await t.accept(tmpDir('n'));
  record('Rust → Node', open, (performance.now() - start) / 1000);
  await send.exit();
  const recv = new Proc(['recv', '--yes', '--dir', tmpDir('r')], { env: { BRUME_CONF: conf.bob } });
  await recv.waitLine('ready as');
  const t0 = performance.now();
  const peer = await alice.connect('bob');
  const nodeOpen = performance.now() - t0;
  const out = alice.transfers.send(peer, src);
  let s2 = 0;
  out.on('progress', () => (s2 ||= performance.now()));
  await out.finished;
  record('Node → Rust', nodeOpen, (performance.now() - s2) / 1000);
  recv.kill();
  alice.stop();
}

await b1.close();
await b2.close();
hub.stop();
console.log(`${size / MIB} MiB, median of ${runs}`);
for (const name of [...new Set(rows.map((r) => r.name))]) {
  const mine = rows.filter((r) => r.name === name);
  const f = mine.map((r) => r.figures).filter(Boolean);
  const extra = f.length
    ? `   rtt ${median(f.map((x) => x.rttMs ?? 0)).toFixed(2)} ms, ${(median(f.map((x) => x.bytes / Math.max(1, x.messages))) / 1024).toFixed(1)} KiB per message`
    : '';
  console.log(
    `${name.padEnd(28)} open ${median(mine.map((r) => r.open)).toFixed(1).padStart(7)} ms   ${median(mine.map((r) => r.mibps)).toFixed(1).padStart(7)} MiB/s${extra}`,
  );
}
process.exit(0);
