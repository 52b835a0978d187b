// One client session with the signaling hub (docs/PROTOCOL.md, "The
// session", "Reconnecting"): hello or refresh, pings, and reconnecting
// with backoff. It knows nothing of peers: it emits the hub's messages.

import { Emitter } from './emitter.mjs';
import { BrumeError, FINAL_CLOSE_REASONS } from './errors.mjs';

export const PROTOCOL_VERSION = 2;
const MAX_FRAME = 65536;
const QUIET_BEFORE_PING = 15000;
const PING_ANSWER_WITHIN = 10000;

/** The wait before reconnect attempt `n` (0-based): 1 s doubling to 30 s, ±20 %. */
export function backoffDelay(n, random = Math.random) {
  const base = Math.min(30000, 1000 * 2 ** n);
  return base * (0.8 + 0.4 * random());
}

/**
 * Events: 'welcome' (msg), 'message' (every other hub message), 'down'
 * ({reason}) when a session ends, 'token' ({access_token, expires_at}),
 * 'final' (BrumeError) when it gives up.
 */
export class HubSession extends Emitter {
  #WebSocket;
  #url;
  #token;
  #refreshToken;
  #device;
  #calls;
  #ws = null;
  #ready = false;
  #stopped = false;
  #failures = 0;
  #retry = null;
  #quiet = null;
  #nonce = 0;
  #triedRefresh = false;
  #closeReason = null;

  constructor({ WebSocket, url, token, refreshToken, device, calls }) {
    super();
    this.#WebSocket = WebSocket;
    this.#url = url;
    this.#token = token;
    this.#refreshToken = refreshToken;
    this.#device = device;
    this.#calls = calls;
  }

  get ready() {
    return this.#ready;
  }

  get token() {
    return this.#token;
  }

  open() {
    this.#stopped = false;
    this.#connect();
  }

  /** Sends a message; false when no session is ready. */
  send(msg) {
    if (!this.#ready) return false;
    return this.#write(msg);
  }

  stop(reason = 'stopped') {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#quiet);
    const ws = this.#ws;
    if (ws) {
      this.#write({ type: 'close', reason });
      try {
        ws.close();
      } catch {
        // Already closing.
      }
    }
    this.#down('client');
  }

  #write(msg) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    const text = JSON.stringify(msg);
    if (new TextEncoder().encode(text).length > MAX_FRAME) {
      throw new BrumeError('ETOOBIG', `a ${msg.type} of more than 64 KiB`);
    }
    ws.send(text);
    return true;
  }

  #connect() {
    let ws;
    try {
      ws = new this.#WebSocket(this.#url);
    } catch (e) {
      this.#lost(new BrumeError('ECONNREFUSED', `cannot reach the hub: ${e.message}`));
      return;
    }
    this.#ws = ws;
    this.#closeReason = null;
    this.#triedRefresh = false;
    ws.onopen = () => {
      this.#heard();
      if (this.#token) {
        this.#write(this.#hello('hello', 'token', this.#token));
      } else {
        this.#triedRefresh = true;
        this.#write(this.#hello('refresh', 'refresh_token', this.#refreshToken));
      }
    };
    ws.onmessage = (ev) => {
      if (ws !== this.#ws) return;
      this.#heard();
      let msg;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : new TextDecoder().decode(ev.data));
      } catch {
        return;
      }
      if (msg && typeof msg.type === 'string') this.#onMessage(msg);
    };
    ws.onclose = () => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      const reason = this.#closeReason;
      this.#down(reason ?? 'connection lost');
      if (this.#stopped) return;
      if (reason && FINAL_CLOSE_REASONS.has(reason)) {
        this.#final(new BrumeError(finalCode(reason), `the hub closed the session: ${reason}`));
        return;
      }
      this.#lost(new BrumeError('ECONNREFUSED', 'the hub could not be reached'));
    };
    ws.onerror = () => {
      // onclose follows and decides.
    };
  }

  #hello(type, field, token) {
    const msg = { type, version: PROTOCOL_VERSION, [field]: token };
    if (this.#device) msg.device = this.#device;
    if (!this.#calls) msg.calls = false;
    return msg;
  }

  #onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        this.#ready = true;
        this.#failures = 0;
        this.emit('welcome', msg);
        return;
      case 'token':
        this.#token = msg.access_token;
        this.emit('token', msg);
        return;
      case 'ping':
        this.#write({ type: 'pong', nonce: msg.nonce });
        return;
      case 'pong':
        return;
      case 'close':
        this.#closeReason = typeof msg.reason === 'string' ? msg.reason : 'unknown';
        return;
      case 'error':
        if (!this.#ready && this.#onAuthError(msg)) return;
        this.emit('message', msg);
        return;
      default:
        this.emit('message', msg);
    }
  }

  /** A token refused while pending: try the refresh token once, else give up. */
  #onAuthError(msg) {
    if (!['ETOKENEXPIRED', 'ETOKENINVALID', 'ETOKENMISSING'].includes(msg.code)) {
      if (msg.code === 'EVERSION' || msg.code === 'ELIMIT' || msg.code === 'EFULL') {
        this.emit('autherror', new BrumeError(msg.code, msg.message));
      }
      return false;
    }
    if (this.#refreshToken && !this.#triedRefresh) {
      this.#triedRefresh = true;
      this.#write(this.#hello('refresh', 'refresh_token', this.#refreshToken));
      return true;
    }
    this.#stopped = true;
    this.#final(new BrumeError(msg.code, msg.message));
    this.#write({ type: 'close', reason: 'no valid token' });
    this.#ws?.close();
    return true;
  }

  #down(reason) {
    clearTimeout(this.#quiet);
    const was = this.#ready;
    this.#ready = false;
    if (was || reason !== 'connection lost') this.emit('down', { reason, wasReady: was });
  }

  #lost(err) {
    if (this.#stopped) return;
    this.emit('retrying', err);
    const wait = backoffDelay(this.#failures++);
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#connect(), wait);
  }

  #final(err) {
    this.#stopped = true;
    this.emit('final', err);
  }

  /** Any frame from the hub: restart the quiet timer (ping after 15 s, drop 10 s later). */
  #heard() {
    clearTimeout(this.#quiet);
    this.#quiet = setTimeout(() => {
      this.#write({ type: 'ping', nonce: ++this.#nonce });
      this.#quiet = setTimeout(() => {
        try {
          this.#ws?.close();
        } catch {
          // Closing a dead socket.
        }
      }, PING_ANSWER_WITHIN);
    }, QUIET_BEFORE_PING);
  }
}

function finalCode(reason) {
  return reason === 'auth_failed' ? 'ETOKENINVALID' : reason === 'version' ? 'EVERSION' : 'ESERVER';
}
