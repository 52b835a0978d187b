// Real `brume` processes for the tests: a hub on a free loopback port,
// users made with `brume user add`, commands whose output lines we wait
// for with deadlines (nothing sleeps in place of synchronisation).

import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { Brume } from '../brume.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../../..');

/** The `brume` binary: $BRUME_BIN, $CARGO_TARGET_DIR/debug, or target/debug. */
export function brumeBin() {
  const candidates = [
    process.env.BRUME_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug', 'brume'),
    join(repo, 'target', 'debug', 'brume'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`no brume binary (build it: cargo build -p brume-mio); tried ${candidates}`);
  return found;
}

export function tmpDir(name) {
  return mkdtempSync(join(tmpdir(), `brume-js-${name}-`));
}

/** A child process whose output lines (stdout and stderr) can be awaited. */
export class Proc {
  constructor(args, { env = {}, stdin = 'ignore', cwd } = {}) {
    this.args = args;
    this.lines = [];
    this.waiters = [];
    this.child = spawn(brumeBin(), args, {
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
      stdio: [stdin, 'pipe', 'pipe'],
      cwd,
    });
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          this.#line(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
  }

  #line(line) {
    if (process.env.BRUME_TEST_VERBOSE) console.error(`[${this.args[0]}] ${line}`);
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => !w.check(line));
  }

  /** Resolves with the first line (seen or to come) containing `needle`. */
  waitLine(needle, ms = 30000) {
    const seen = this.lines.find((l) => l.includes(needle));
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`no line with ${JSON.stringify(needle)} from brume ${this.args.join(' ')}; saw ${JSON.stringify(this.lines)}`)),
        ms,
      );
      this.waiters.push({
        check: (line) => {
          if (!line.includes(needle)) return false;
          clearTimeout(timer);
          res(line);
          return true;
        },
      });
    });
  }

  write(text) {
    this.child.stdin.write(text);
  }

  async exit(ms = 30000) {
    let timer;
    const limit = new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`brume ${this.args.join(' ')} did not exit; saw ${JSON.stringify(this.lines)}`)), ms);
    });
    try {
      return await Promise.race([this.exited, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill() {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** A `brume serve` on a free port, with its own data folder. */
export class Hub {
  static async start(name, extraArgs = []) {
    const hub = new Hub();
    hub.dir = tmpDir(name);
    hub.data = join(hub.dir, 'hub');
    hub.proc = new Proc(['serve', '--listen', '127.0.0.1:0', '--data', hub.data, ...extraArgs]);
    const line = await hub.proc.waitLine('listening on');
    hub.url = line.split(/\s+/).find((w) => w.startsWith('ws://'));
    return hub;
  }

  /** `brume user add NAME --out DIR/NAME.conf`; the config's path. */
  addUser(name, password = `pw-${name}-secret`) {
    const out = join(this.dir, `${name}.conf`);
    const r = spawnSync(
      brumeBin(),
      ['user', 'add', name, '--password-stdin', '--url', this.url, '--data', this.data, '--out', out],
      { input: `${password}\n`, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
    return out;
  }

  /** A config file's contents, for Brume.start. */
  static config(path) {
    return JSON.parse(readFileSync(path, 'utf8'));
  }

  stop() {
    this.proc.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A started Node client for the user of config file `conf`. */
export async function nodeClient(conf, opts = {}, brumeOpts = {}) {
  const brume = new Brume({ wrtc, WebSocket, ...brumeOpts });
  const cfg = Hub.config(conf);
  await brume.start({ url: cfg.url, token: cfg.access_token, refreshToken: cfg.refresh_token, ...opts });
  return brume;
}

/** Resolves with the first event `name` of `emitter` whose args pass `pred`. */
export function nextEvent(emitter, name, pred = () => true, ms = 30000) {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no ${name} event within ${ms} ms`)), ms);
    const fn = (...args) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      emitter.off(name, fn);
      res(args.length > 1 ? args : args[0]);
    };
    emitter.on(name, fn);
  });
}

/**
 * A `ws` WebSocket class whose sockets record every hub frame both ways
 * (`sent`, `got`, parsed), and can hold back incoming frames from the
 * first offer on (`holding`), replayed in order by `release()`: two
 * offers then cross at the hub, as in a real glare.
 */
export function tappedWebSocket() {
  const waiters = [];
  const tap = { sent: [], got: [], holding: false, held: [] };
  const changed = () => {
    for (const w of [...waiters]) if (w.pred()) w.done();
  };
  tap.until = (pred, ms = 30000) =>
    new Promise((res, rej) => {
      if (pred()) return res();
      const w = {
        pred,
        done: () => {
          clearTimeout(w.timer);
          waiters.splice(waiters.indexOf(w), 1);
          res();
        },
        timer: setTimeout(() => rej(new Error(`tap: condition not met in ${ms} ms; got ${JSON.stringify(tap.got.map((m) => m.type))}`)), ms),
      };
      waiters.push(w);
    });
  tap.release = () => {
    tap.holding = false;
    for (const replay of tap.held.splice(0)) replay();
  };
  class Tapped extends WebSocket {
    send(text, ...rest) {
      try {
        tap.sent.push(JSON.parse(text));
      } catch {
        // Not JSON: not ours to record.
      }
      super.send(text, ...rest);
      changed();
    }
    set onmessage(fn) {
      super.onmessage = (ev) => {
        let msg = null;
        try {
          msg = JSON.parse(typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString('utf8'));
        } catch {
          // Not JSON.
        }
        if (msg) tap.got.push(msg);
        if (tap.holding && (tap.held.length > 0 || msg?.type === 'offer')) tap.held.push(() => fn(ev));
        else fn(ev);
        changed();
      };
    }
    get onmessage() {
      return super.onmessage;
    }
  }
  tap.WebSocket = Tapped;
  return tap;
}

/** An HS256 access token for `user` that expires `seconds` from now,
 * signed with the hub's own key (`hub.key` in its data folder). */
export function shortToken(hub, user, seconds, gen = 0) {
  const key = readFileSync(join(hub.data, 'hub.key'));
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64({ sub: user, exp: now + seconds, iat: now, kind: 'access', gen })}`;
  const sig = createHmac('sha256', key).update(head).digest('base64url');
  return { token: `${head}.${sig}`, exp: now + seconds };
}
