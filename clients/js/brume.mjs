// Brume's JavaScript client: reach Brume users by name, from browsers and
// Node. The API follows seed 000's Brume client; the wire is
// docs/PROTOCOL.md's. One instance holds one hub session (a device) and
// the peers it made or accepted.

import { Emitter } from './emitter.mjs';
import { BrumeError } from './errors.mjs';
import { decode, encode } from './framing.mjs';
import { HubSession } from './hub.mjs';
import { loadIdentity, shortForm } from './identity.mjs';
import { Peer, sortsFirst } from './peer.mjs';
import { Transfers } from './transfer.mjs';

export { BrumeError } from './errors.mjs';
export { Peer } from './peer.mjs';
export { RpcError } from './rpc.mjs';

/** How long a caller waits for the channel to open after its offer. */
const CONNECT_LIMIT = 40000;
/** Refresh the access token this long before it expires. */
const REFRESH_AHEAD = 60000;

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomId(n = 16, alphabet = ALNUM) {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** A device name for a session that gave none: one per tab or process. */
function defaultDevice() {
  const kind = typeof window === 'undefined' ? 'node' : 'web';
  return `${kind}-${randomId(8, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;
}

/** A JWT's `exp`, read without verifying (PROTOCOL.md, "Tokens"). */
function tokenExpiry(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).exp;
  } catch {
    return undefined;
  }
}

export class Brume extends Emitter {
  #wrtc;
  #WebSocket;
  #iceServers;
  /** The TURN server the hub's last `turn` message named, as an ICE server. */
  #hubTurn = null;
  #hub = null;
  #user = null;
  #device = null;
  #config = null;
  #attempts = new Map();
  #peers = new Map();
  #handler = null;
  #modules = new Map();
  #refreshTimer = null;
  /** A refresh of ours waits for its `token` (or its error). */
  #refreshing = false;
  #transfers;

  #restartAfter;
  #identitySpec;
  /** This device's identity key (identity.mjs), or null: it signs our SDPs. */
  #identity = null;
  /** Each peer's current signaling attempt, for its ICE candidates. */
  #signals = new WeakMap();

  /** `{ wrtc, WebSocket }` are needed in Node only (`@roamhq/wrtc`, `ws`).
   * `iceRestartAfter`: ms of ICE `disconnected` before a restart (2000).
   * `identity`: this device's long-term ed25519 key, which signs every
   * offer and answer (PROTOCOL.md, "Who a peer is"): a key file's path
   * (Node; made if missing), a 32-byte seed, a CryptoKeyPair, or `false`
   * for none; by default a browser keeps one in IndexedDB, Node has none. */
  constructor({ wrtc, WebSocket, iceServers = [], iceRestartAfter, identity } = {}) {
    super();
    this.#restartAfter = iceRestartAfter;
    this.#identitySpec = identity;
    this.#wrtc = wrtc ?? globalThis;
    this.#WebSocket = WebSocket ?? globalThis.WebSocket;
    this.#iceServers = iceServers;
    if (!this.#wrtc.RTCPeerConnection) throw new TypeError('no RTCPeerConnection: pass { wrtc }');
    if (!this.#WebSocket) throw new TypeError('no WebSocket: pass { WebSocket }');
    this.#transfers = new Transfers(this);
  }

  /** Frames `{type, data}` (data a string or bytes) as Brume peers expect. */
  static encodeMsg({ type, data }) {
    return encode({ type, data });
  }

  /** `{type, data}` from a framed message; throws on a malformed one. */
  static decodeMsg(msg) {
    const { type, data } = decode(msg);
    return { type, data };
  }

  /**
   * Connects to the hub; resolves once the session is authenticated. Takes
   * `{ token, url }`, or a config file's fields (`access_token`,
   * `refresh_token`), and optionally `device` and `calls`.
   */
  async start(config) {
    if (this.#hub) this.stop();
    if (!config?.url) throw new BrumeError('ENOSRV', 'no hub url');
    this.#identity = await loadIdentity(this.#identitySpec);
    return this.#open(config);
  }

  /** This device's identity key (hex), which Rust peers pin; null without one. */
  get identity() {
    return this.#identity?.key ?? null;
  }

  /** A key's short form, to read out (as `brume whoami`/`verify` print it). */
  static shortForm(keyHex) {
    return shortForm(keyHex);
  }

  #open(config) {
    const token = config.token ?? config.access_token;
    const refreshToken = config.refreshToken ?? config.refresh_token;
    const url = config.url;
    if (!url) return Promise.reject(new BrumeError('ENOSRV', 'no hub url'));
    if (!token && !refreshToken) return Promise.reject(new BrumeError('ETOKENMISSING', 'no token'));
    this.#config = { ...config, token, refreshToken, url };
    const hub = new HubSession({
      WebSocket: this.#WebSocket,
      url,
      token,
      refreshToken,
      device: config.device ?? defaultDevice(),
      calls: config.calls ?? true,
    });
    this.#hub = hub;
    return new Promise((resolve, reject) => {
      let first = true;
      hub.on('welcome', (msg) => {
        this.#user = msg.user;
        this.#device = msg.device;
        this.#scheduleRefresh();
        if (first) {
          first = false;
          resolve();
        } else {
          this.emit('serveropen');
        }
      });
      hub.on('token', (msg) => {
        this.#config = { ...this.#config, token: msg.access_token, access_token: msg.access_token };
        this.#scheduleRefresh();
        this.emit('reauth', this.#config);
      });
      hub.on('message', (msg) => this.#onHub(msg));
      hub.on('down', ({ reason }) => {
        clearTimeout(this.#refreshTimer);
        this.#failPending(new BrumeError('ESERVER', 'the hub session ended'));
        this.emit('serverclose', { reason });
      });
      hub.on('autherror', (err) => {
        if (first) {
          first = false;
          reject(err);
        }
      });
      hub.on('final', (err) => {
        if (first) {
          first = false;
          reject(err);
        }
        // Tokens refused on reconnecting (the refresh token too), or
        // revoked: nothing but a new login helps.
        if (String(err.code).startsWith('ETOKEN')) this.#refreshRefused(err);
        this.emit('error', err);
      });
      hub.on('retrying', (err) => {
        if (first) {
          first = false;
          hub.stop();
          this.#hub = null;
          reject(err);
        }
      });
      hub.open();
    });
  }

  /** This session's user name. */
  thisUser() {
    return this.#user;
  }

  /** This session's device, as the hub named it. */
  thisDevice() {
    return this.#device;
  }

  /** This session's peer id, `user/device`. */
  thisId() {
    return `${this.#user}/${this.#device}`;
  }

  /** The ICE servers new connections use: those given to the constructor,
   * and the hub's TURN server with the credentials it handed this session. */
  get iceServers() {
    return this.#hubTurn ? [...this.#iceServers, this.#hubTurn] : [...this.#iceServers];
  }

  /** The open peers, by peer id. */
  get peers() {
    return new Map(this.#peers);
  }

  /** The file transfers of every peer (see transfer.mjs). */
  get transfers() {
    return this.#transfers;
  }

  /** Serves an RPC module (BoneValue's `module`): `handler({ request, peer })`
   * returns the answer (or a promise of it); a throw answers 'failed'. */
  module(name, handler) {
    this.#modules.set(name, handler);
  }

  /** Stops serving a module; its requests are answered 'no_module'. */
  unmodule(name) {
    this.#modules.delete(name);
  }

  /** The open peers a query names (BoneValue's `get`): '*' for all, a user
   * name for every device of theirs, or 'user/device' for one. Its
   * `request(module, payload)` asks each, resolving to one
   * `{ peer, ok }` or `{ peer, error }` per recipient, sorted by peer id;
   * its `send(bytes)` sends to each, resolving the same way. */
  get(query) {
    const peers = [...this.#peers.entries()]
      .filter(([id]) => query === '*' || id === query || id.split('/')[0] === query)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, peer]) => peer);
    const each = (f) =>
      Promise.all(
        peers.map((peer) =>
          f(peer).then(
            (ok) => ({ peer: peer.id, ok }),
            (error) => ({ peer: peer.id, error }),
          ),
        ),
      );
    return {
      peers: peers.map((p) => p.id),
      request: (module, payload, opts) => each((peer) => peer.request(module, payload, opts)),
      send: (bytes) => each((peer) => peer.send(bytes).then(() => null)),
    };
  }

  /** `handler({ peer, accept, reject })`, called for every incoming connection. */
  onconnection(handler) {
    this.#handler = handler;
  }

  /** Watches users' presence: 'presence' events ({user, online, devices}). */
  subscribe(users) {
    if (!this.#hub?.send({ type: 'subscribe', users })) {
      throw new BrumeError('ENOSRV', 'no signaling session');
    }
  }

  /**
   * A peer connected to `name` (a user, or `user/device`): the existing one
   * if there is one, else a new connection. Rejects with a BrumeError:
   * ENODEST, EBADDEST, EOFFERTIMEOUT, ENOSRV, EREJECTED, ESERVER...
   */
  /** Sends to a name, connecting on demand (linkup's `send`): sends made
   * meanwhile share one connection attempt and go out in order. Resolves
   * with the peer once the bytes are handed to its channel. */
  async send(name, data) {
    const peer = await this.connect(name);
    await peer.send(data);
    return peer;
  }

  connect(name) {
    const existing = this.#findPeer(name);
    if (existing) return Promise.resolve(existing);
    for (const a of this.#attempts.values()) {
      if (a.role === 'caller' && a.to === name && a.promise) return a.promise;
    }
    if (!this.#hub?.ready) return Promise.reject(new BrumeError('ENOSRV', 'no signaling session'));
    const attempt = randomId();
    const pc = this.#newPc();
    const entry = { role: 'caller', to: name, sent: false, candidates: [] };
    const signal = { attempt, to: name, sent: false, candidates: [] };
    const peer = this.#newPeer(pc, name, signal);
    entry.signal = signal;
    entry.peer = peer;
    this.#attempts.set(attempt, entry);
    peer.setMain(pc.createDataChannel('brume', { ordered: true }));
    entry.promise = new Promise((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = (err) => {
        this.#endAttempt(attempt);
        peer.destroy();
        reject(err);
      };
      entry.timer = setTimeout(
        () => entry.reject(new BrumeError('EOFFERTIMEOUT', `${name} did not connect in time`)),
        CONNECT_LIMIT,
      );
      peer.once('connect', () => {
        clearTimeout(entry.timer);
        entry.resolve = null;
        this.#adopt(peer);
        resolve(peer);
      });
      (async () => {
        await pc.setLocalDescription(await pc.createOffer());
        const sdp = await this.#signed(pc);
        if (!this.#hub?.send({ type: 'offer', attempt, to: name, sdp })) {
          throw new BrumeError('ENOSRV', 'no signaling session');
        }
        this.#flushCandidates(signal);
      })().catch((e) => entry.reject(e instanceof BrumeError ? e : new BrumeError('ENEGOTIATION', e.message)));
    });
    return entry.promise;
  }

  /** Leaves the hub and closes every peer. */
  stop() {
    clearTimeout(this.#refreshTimer);
    this.#failPending(new BrumeError('ENOSRV', 'stopped'));
    this.#hub?.stop('client stopped');
    this.#hub = null;
    for (const peer of this.#peers.values()) peer.destroy();
    this.#peers.clear();
  }

  // ---- internals ----

  /** Our local description for the hub, signed when this device has a key. */
  async #signed(pc) {
    const sdp = pc.localDescription.sdp;
    return this.#identity ? this.#identity.sign(sdp) : sdp;
  }

  #newPc() {
    return new this.#wrtc.RTCPeerConnection({ iceServers: this.iceServers });
  }

  /**
   * A peer whose ICE candidates go to the hub under `signal`'s attempt:
   * the one that made the connection, then each ICE restart's. Candidates
   * found before that attempt's offer is sent wait for it.
   */
  #newPeer(pc, remoteId, signal) {
    const peer = new Peer({
      pc,
      localId: this.thisId(),
      remoteId,
      modules: this.#modules,
      restartAfter: this.#restartAfter,
      restarter: (p) => this.#restartIce(p, signal),
      onCandidate: (candidate) => {
        if (!signal.sent) signal.candidates.push(candidate);
        else this.#hub?.send({ type: 'candidate', attempt: signal.attempt, to: signal.to, candidate });
      },
    });
    this.#signals.set(peer, signal);
    return peer;
  }

  #signalOf(peer) {
    return this.#signals.get(peer);
  }

  #flushCandidates(signal) {
    signal.sent = true;
    for (const candidate of signal.candidates) {
      this.#hub?.send({ type: 'candidate', attempt: signal.attempt, to: signal.to, candidate });
    }
    signal.candidates = [];
  }

  /**
   * Our ICE restart (PROTOCOL.md, "ICE restarts"): a new attempt through
   * the hub with `restart: true`, addressed to the peer id the connection
   * is with. Resolves once its answer is applied.
   */
  async #restartIce(peer, signal) {
    if (!this.#hub?.ready) throw new BrumeError('ENOSRV', 'no signaling session');
    const pc = peer.pc;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
    const sdp = await this.#signed(pc);
    const attempt = randomId();
    const to = peer.id;
    return new Promise((resolve, reject) => {
      const entry = { role: 'restart', to, peer, signal };
      entry.resolve = resolve;
      entry.reject = (err) => {
        this.#endAttempt(attempt);
        // Back to stable, so a later restart or renegotiation may offer.
        if (pc.signalingState === 'have-local-offer') pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        reject(err);
      };
      entry.timer = setTimeout(
        () => entry.reject(new BrumeError('EOFFERTIMEOUT', `${to} did not answer the ICE restart`)),
        CONNECT_LIMIT,
      );
      this.#attempts.set(attempt, entry);
      Object.assign(signal, { attempt, to, sent: false, candidates: signal.candidates });
      if (!this.#hub?.send({ type: 'offer', attempt, to, sdp, restart: true })) {
        entry.reject(new BrumeError('ENOSRV', 'no signaling session'));
        return;
      }
      this.#flushCandidates(signal);
    });
  }

  /** The answer to our ICE restart. */
  #onRestartAnswer(attempt, entry, sdp) {
    entry.answered = true;
    entry.peer
      .setRemote({ type: 'answer', sdp })
      .then(() => {
        clearTimeout(entry.timer);
        // Candidates may still come during the hub's linger.
        entry.timer = setTimeout(() => this.#endAttempt(attempt), 60000);
        entry.timer.unref?.();
        const resolve = entry.resolve;
        entry.resolve = null;
        resolve();
      })
      .catch((e) => entry.reject(new BrumeError('ENEGOTIATION', e.message)));
  }

  /** Our ICE restart refused: glare (theirs stands) or no connection there. */
  #onRestartRefused(entry, reason) {
    entry.reject(new BrumeError('EREJECTED', reason));
    if (reason !== 'glare') entry.peer.destroy(new Error(`the peer refused to restart the connection: ${reason}`));
  }

  #findPeer(name) {
    if (this.#peers.has(name)) return this.#peers.get(name);
    if (!name.includes('/')) {
      for (const [id, peer] of this.#peers) if (id.split('/')[0] === name) return peer;
    }
    return null;
  }

  #adopt(peer) {
    const old = this.#peers.get(peer.id);
    if (old && old !== peer) old.destroy();
    this.#peers.set(peer.id, peer);
    peer.on('channel', (dc) => this.#transfers.incoming(peer, dc));
    peer.once('close', () => {
      if (this.#peers.get(peer.id) === peer) this.#peers.delete(peer.id);
    });
  }

  #endAttempt(attempt) {
    const entry = this.#attempts.get(attempt);
    if (entry) clearTimeout(entry.timer);
    this.#attempts.delete(attempt);
  }

  /** Caller attempts still waiting for an answer fail when the hub goes. */
  #failPending(err) {
    for (const entry of [...this.#attempts.values()]) {
      if (entry.role === 'caller' && !entry.answered && entry.resolve) entry.reject(err);
    }
  }

  /**
   * Refreshes the access token ahead of its `exp`: a minute before, or
   * halfway through a token that lives less than two minutes, so the
   * session's next `hello` (after an outage) never meets ETOKENEXPIRED.
   */
  #scheduleRefresh() {
    clearTimeout(this.#refreshTimer);
    this.#refreshing = false;
    const exp = tokenExpiry(this.#hub?.token ?? '');
    if (!exp || !this.#config?.refreshToken) return;
    const left = exp * 1000 - Date.now();
    const wait = Math.max(0, left < 2 * REFRESH_AHEAD ? left / 2 : left - REFRESH_AHEAD);
    this.#refreshTimer = setTimeout(() => {
      this.#refreshing = !!this.#hub?.send({ type: 'refresh', version: 2, refresh_token: this.#config.refreshToken });
    }, Math.min(wait, 2 ** 31 - 1));
    this.#refreshTimer.unref?.();
  }

  /** The hub refused our refresh token: the application must log in again. */
  #refreshRefused(err) {
    this.#refreshing = false;
    clearTimeout(this.#refreshTimer);
    this.emit('reauth', null, err);
  }

  #onHub(msg) {
    const entry = msg.attempt !== undefined ? this.#attempts.get(msg.attempt) : undefined;
    switch (msg.type) {
      case 'presence':
        this.emit('presence', { user: msg.user, online: msg.online, devices: msg.devices ?? [] });
        return;
      case 'turn':
        // The hub's short-lived credentials (PROTOCOL.md, `turn`): every
        // later connection may relay through its TURN server.
        if (typeof msg.server === 'string' && typeof msg.username === 'string') {
          this.#hubTurn = {
            urls: `turn:${msg.server}?transport=udp`,
            username: msg.username,
            credential: msg.password,
          };
          this.emit('turn', this.#hubTurn);
        }
        return;
      case 'offer':
        this.#onOffer(msg).catch((e) => this.emit('error', e));
        return;
      case 'answer':
        if (entry?.role === 'restart' && !entry.answered) {
          this.#onRestartAnswer(msg.attempt, entry, msg.sdp);
        } else if (entry?.role === 'caller' && !entry.answered) {
          entry.answered = true;
          entry.to = msg.from;
          // Later candidates name the device that answered.
          if (entry.signal?.attempt === msg.attempt) entry.signal.to = msg.from;
          entry.peer.setRemoteId(msg.from);
          entry.peer
            .setRemote({ type: 'answer', sdp: msg.sdp })
            .catch((e) => entry.reject(new BrumeError('ENEGOTIATION', e.message)));
        }
        return;
      case 'candidate':
        entry?.peer.addRemoteCandidate(msg.candidate);
        return;
      case 'reject':
        if (entry?.role === 'restart' && entry.resolve) this.#onRestartRefused(entry, msg.reason ?? 'rejected');
        else if (entry?.resolve) entry.reject(new BrumeError('EREJECTED', msg.reason ?? 'rejected'));
        return;
      case 'cancel':
        if (entry?.role === 'restart') {
          if (entry.resolve) entry.reject(new BrumeError('ECANCELLED', msg.reason ?? 'cancelled'));
          else this.#endAttempt(msg.attempt);
        } else if (entry && !entry.peer.connected) {
          if (entry.resolve) entry.reject(new BrumeError('ECANCELLED', msg.reason ?? 'cancelled'));
          else {
            this.#endAttempt(msg.attempt);
            entry.peer.destroy();
          }
        } else if (entry) {
          this.#endAttempt(msg.attempt);
        }
        return;
      case 'error':
        if (!msg.attempt && this.#refreshing && String(msg.code).startsWith('ETOKEN')) {
          this.#refreshRefused(new BrumeError(msg.code, msg.message));
        } else if (entry?.resolve) entry.reject(new BrumeError(msg.code, msg.message));
        else if (!msg.attempt) this.emit('hub-error', new BrumeError(msg.code, msg.message));
        return;
      default:
      // Other hub messages (members, unknown types) are not ours.
    }
  }

  async #onOffer(msg) {
    const from = msg.from;
    if (msg.restart) {
      await this.#onRestartOffer(msg);
      return;
    }
    // Glare: our own offer to this session (or its user) still waits.
    let ours = null;
    for (const [id, a] of this.#attempts) {
      const device = from.split('/')[1];
      const sameTarget = a.to === from || (a.to === from.split('/')[0] && !device.includes('~'));
      if (a.role === 'caller' && !a.answered && sameTarget) ours = [id, a];
    }
    if (ours && sortsFirst(this.thisId(), from)) {
      this.#hub?.send({ type: 'reject', attempt: msg.attempt, to: from, reason: 'glare' });
      return;
    }
    const attempt = msg.attempt;
    const pc = this.#newPc();
    const peer = this.#newPeer(pc, from, { attempt, to: from, sent: true, candidates: [] });
    const entry = { role: 'callee', to: from, peer, answered: true };
    this.#attempts.set(attempt, entry);
    peer.once('close', () => this.#endAttempt(attempt));
    if (ours) {
      // We lose the glare: cancel ours and take theirs, for our caller too.
      const [id, a] = ours;
      this.#hub?.send({ type: 'cancel', attempt: id, to: a.to, reason: 'glare' });
      this.#endAttempt(id);
      clearTimeout(a.timer);
      a.peer.destroy();
      const resolve = a.resolve;
      await this.#accept(attempt, peer, msg.sdp);
      resolve?.(peer);
      return;
    }
    let decided = false;
    const accept = async () => {
      if (decided) throw new Error('already decided');
      decided = true;
      await this.#accept(attempt, peer, msg.sdp);
      return peer;
    };
    const reject = (reason = 'declined') => {
      if (decided) return;
      decided = true;
      this.#hub?.send({ type: 'reject', attempt, to: from, reason });
      this.#endAttempt(attempt);
      peer.destroy();
    };
    if (!this.#handler) {
      reject('not taking connections');
      return;
    }
    this.#handler({ peer, accept, reject });
  }

  /**
   * The other side restarts ICE on the connection we have with it: answer
   * on that connection, through the hub; our candidates go under the new
   * attempt. If we restart too (both noticed the loss), the session that
   * sorts first keeps its own restart and refuses the other's as glare.
   */
  async #onRestartOffer(msg) {
    const from = msg.from;
    const peer = this.#peers.get(from);
    if (!peer || peer.destroyed) {
      this.#hub?.send({ type: 'reject', attempt: msg.attempt, to: from, reason: 'no connection to restart' });
      return;
    }
    const ours = [...this.#attempts].find(([, a]) => a.role === 'restart' && a.peer === peer && !a.answered);
    if (ours) {
      if (sortsFirst(this.thisId(), from)) {
        this.#hub?.send({ type: 'reject', attempt: msg.attempt, to: from, reason: 'glare' });
        return;
      }
      const [id, a] = ours;
      this.#hub?.send({ type: 'cancel', attempt: id, to: a.to, reason: 'glare' });
      clearTimeout(a.timer);
      this.#attempts.delete(id);
      a.resolve?.();
    }
    const pc = peer.pc;
    if (pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
    const signal = this.#signalOf(peer);
    Object.assign(signal, { attempt: msg.attempt, to: from, sent: true });
    this.#attempts.set(msg.attempt, { role: 'restarted', to: from, peer, answered: true });
    await peer.setRemote({ type: 'offer', sdp: msg.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.#hub?.send({ type: 'answer', attempt: msg.attempt, to: from, sdp: await this.#signed(pc) });
    const linger = setTimeout(() => this.#endAttempt(msg.attempt), 60000);
    linger.unref?.();
    peer.once('close', () => clearTimeout(linger));
  }

  /** Answers an offer and waits for the main channel to open. */
  async #accept(attempt, peer, sdp) {
    const pc = peer.pc;
    await peer.setRemote({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    if (!this.#hub?.send({ type: 'answer', attempt, to: peer.id, sdp: await this.#signed(pc) })) {
      peer.destroy();
      throw new BrumeError('ENOSRV', 'no signaling session');
    }
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        peer.destroy();
        reject(new BrumeError('EOFFERTIMEOUT', 'the channel did not open in time'));
      }, CONNECT_LIMIT);
      peer.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      peer.once('close', () => {
        clearTimeout(timer);
        reject(new BrumeError('ECANCELLED', 'the connection closed before it opened'));
      });
    });
    this.#adopt(peer);
  }
}
