// A 4 GiB file into a tab, by hand (never in CI): `brume send` → headless
// Chromium, received straight into the origin private file system; or,
// with `send`, from the tab (a file input) to `brume recv`. Every
// 2 s it samples the tab's JavaScript heap (CDP Performance.getMetrics)
// and the resident memory of the browser's processes (/proc), to show
// memory stays flat while the file streams to disk; then the throughput.
//   cargo build --release -p brume-mio
//   BRUME_BIN=$CARGO_TARGET_DIR/release/brume node clients/js/bench/big-file.mjs [GiB] [receive|send]
// Needs about 2 × the size free on disk (the verified blocks, then the
// joined file) besides the sender's file, which is sparse.
import { closeSync, ftruncateSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Hub, Proc, tmpDir } from '../test/helpers.mjs';
import { browser, httpRoot, startInPage, until } from '../test/web.mjs';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const size = Number(process.argv[2] ?? 4) * GIB;
/** `receive` (brume send → the tab) or `send` (the tab → brume recv). */
const direction = process.argv[3] ?? 'receive';

const hub = await Hub.start('big-file');
const conf = { alice: hub.addUser('alice'), bob: hub.addUser('bob') };
const src = join(tmpDir('big'), 'big.bin');
const fd = openSync(src, 'w');
ftruncateSync(fd, size); // sparse: zeros, read and hashed like any bytes
closeSync(fd);

const b = await browser();
const page = await b.page(httpRoot(hub.url));
await startInPage(page, Hub.config(conf.alice));
const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');

/** RSS of every process under the browser whose profile is ours, by type. */
function browserRss(profile = b.profile) {
  const procs = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      // Chromium rewrites its children's command lines into one string.
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      procs.set(Number(pid), { ppid, cmd, rss });
    } catch {
      // Gone meanwhile.
    }
  }
  const root = [...procs].find(([, p]) => p.cmd.includes(`--user-data-dir=${profile}`) && !p.cmd.some((a) => a.startsWith('--type=')));
  const mine = new Set(root ? [root[0]] : []);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of procs) if (!mine.has(pid) && mine.has(p.ppid)) mine.add(pid) && (grew = true);
  }
  let total = 0;
  let renderer = 0;
  for (const pid of mine) {
    const p = procs.get(pid);
    total += p.rss;
    if (p.cmd.some((a) => a === '--type=renderer') && !p.cmd.some((a) => a.startsWith('--extension-process'))) renderer = Math.max(renderer, p.rss);
  }
  return { total, renderer };
}

const samples = [];
const sample = async (label) => {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const heap = metrics.find((m) => m.name === 'JSHeapUsedSize').value;
  const done = await page.evaluate(() => window.bigDone ?? 0);
  samples.push({ label, t: performance.now(), heap, done, ...browserRss() });
};

await sample('before');
const started = performance.now();
let result;
let secs;
let got;
let timer;
if (direction === 'receive') {
  const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: conf.bob } });
  await until(page, () => window.seen.offers.length > 0, undefined, 600000);
  await page.evaluate(() => {
    const t = window.seen.offers[0];
    window.bigDone = 0;
    t.on('progress', (p) => {
      window.bigStart ??= performance.now();
      window.bigDone = p.done;
    });
    window.bigResult = navigator.storage
      .getDirectory()
      .then((root) => root.getDirectoryHandle('big', { create: true }))
      .then((dir) => t.accept(dir))
      .then(
        (saved) => {
          window.bigEnd = performance.now();
          return { saved };
        },
        (e) => ({ error: e.message }),
      );
  });
  timer = setInterval(() => sample('during').catch(() => {}), 2000);
  result = await page.evaluate(() => window.bigResult);
  clearInterval(timer);
  await sample('after');
  ({ secs, size: got } = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('big');
    const file = await (await dir.getFileHandle('big.bin')).getFile();
    return { secs: (window.bigEnd - window.bigStart) / 1000, size: file.size };
  }));
  await send.exit(600000);
} else {
  // The tab sends a file the user picked (an <input type=file>), read
  // slice by slice from disk.
  const into = tmpDir('big-recv');
  const recv = new Proc(['recv', '--yes', '--dir', into], { env: { BRUME_CONF: conf.bob } });
  await recv.waitLine('ready as');
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'big';
    document.body.append(input);
  });
  await page.setInputFiles('#big', src);
  await page.evaluate(() => {
    window.bigDone = 0;
    window.bigResult = window.brume.connect('bob').then((peer) => {
      const t = window.brume.transfers.send(peer, document.getElementById('big').files[0]);
      t.on('progress', (p) => {
        window.bigStart ??= performance.now();
        window.bigDone = p.done;
      });
      return t.finished.then(
        () => {
          window.bigEnd = performance.now();
          return { sent: true };
        },
        (e) => ({ error: e.message }),
      );
    });
  });
  timer = setInterval(() => sample('during').catch(() => {}), 2000);
  result = await page.evaluate(() => window.bigResult);
  clearInterval(timer);
  await sample('after');
  await recv.waitLine('big.bin', 120000);
  secs = await page.evaluate(() => (window.bigEnd - window.bigStart) / 1000);
  got = statSync(join(into, 'big.bin')).size;
  recv.kill();
  rmSync(into, { recursive: true, force: true });
}
const wall = (performance.now() - started) / 1000;

const mib = (n) => (n / MIB).toFixed(0);
console.log(JSON.stringify(result));
console.log(`${direction === 'receive' ? 'received' : 'sent'} ${got} bytes (${(got / GIB).toFixed(2)} GiB) in ${secs.toFixed(1)} s of transfer, ${wall.toFixed(1)} s in all (the sender hashes first): ${(got / MIB / secs).toFixed(1)} MiB/s`);
console.log('label   done(GiB)  JS heap(MiB)  renderer RSS(MiB)  browser RSS(MiB)');
for (const s of samples.filter((_, i) => i % 5 === 0 || i === samples.length - 1)) {
  console.log(`${s.label.padEnd(7)} ${(s.done / GIB).toFixed(2).padStart(9)} ${mib(s.heap).padStart(13)} ${mib(s.renderer).padStart(18)} ${mib(s.total).padStart(17)}`);
}
const during = samples.filter((s) => s.label === 'during');
const max = (k) => Math.max(...during.map((s) => s[k]));
const min = (k) => Math.min(...during.map((s) => s[k]));
console.log(`during: JS heap ${mib(min('heap'))}–${mib(max('heap'))} MiB, renderer RSS ${mib(min('renderer'))}–${mib(max('renderer'))} MiB, browser RSS ${mib(min('total'))}–${mib(max('total'))} MiB (${during.length} samples)`);
if (direction === 'receive') await page.evaluate(async () => (await navigator.storage.getDirectory()).removeEntry('big', { recursive: true }));
await b.close();
hub.stop();
process.exit(0);
