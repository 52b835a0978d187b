// A connection to one Brume session (user/device), as a simple-peer-like
// event emitter: send, 'data', media streams, close. Brume creates peers;
// applications never construct one.
//
// Events: 'connect', 'data' (Uint8Array), 'stream' (MediaStream), 'track'
// (track, stream), 'removetrack' (track, stream), 'channel' (RTCDataChannel
// opened by the other side, not the main one), 'reconnecting' (the path
// is lost), 'restarting' (an ICE restart of ours begins), 'restarted' (it
// is answered and ICE connected), 'reconnected', 'close', 'error'.

import { Emitter } from './emitter.mjs';
import { PacedChannel, whenOpen } from './channel.mjs';
import { decode, encode, toBytes } from './framing.mjs';
import { Rpc } from './rpc.mjs';
import { stripIdentity } from './identity.mjs';

const utf8 = new TextEncoder();
const RECOVERY_LIMIT = 30000;
/** How long ICE may stay `disconnected` before the initiator restarts it
 * (PROTOCOL.md's `ice_restart_after`). */
export const ICE_RESTART_AFTER = 2000;

/** PROTOCOL.md's order of sessions: by user name, then device, in byte order. */
export function sortsFirst(a, b) {
  const [ua, da = ''] = a.split('/');
  const [ub, db = ''] = b.split('/');
  if (ua !== ub) return ua < ub;
  return da < db;
}

export class Peer extends Emitter {
  #pc;
  #main = null;
  #paced = null;
  #localId;
  #remoteId;
  #connected = false;
  #destroyed = false;
  #makingOffer = false;
  #ignoreOffer = false;
  #remoteCandidates = [];
  #streams = new Map();
  #onCandidate;
  #rpc;
  #restarter;
  #restartAfter;
  /** Our ICE restart under way: its promise, until answered and connected. */
  #restart = null;
  #renegotiateAfterRestart = false;
  /** Since when the path is lost, with its timers; null while connected. */
  #recovery = null;

  /** Internal: made by Brume. `restarter(peer)` sends an ICE restart offer
   * through the hub and resolves once its answer is applied. */
  constructor({ pc, localId, remoteId, onCandidate, modules = new Map(), restarter, restartAfter = ICE_RESTART_AFTER }) {
    super();
    this.#restarter = restarter;
    this.#restartAfter = restartAfter;
    this.#rpc = new Rpc({
      send: (type, text) => this.#sendControl(type, text),
      modules,
      peer: this,
    });
    this.#pc = pc;
    this.#localId = localId;
    this.#remoteId = remoteId;
    this.#onCandidate = onCandidate;
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) this.#onCandidate(ev.candidate.candidate);
    };
    pc.ondatachannel = (ev) => {
      if (ev.channel.label === 'brume' && !this.#main) this.setMain(ev.channel);
      else this.emit('channel', ev.channel);
    };
    pc.ontrack = (ev) => this.#onTrack(ev);
    pc.onnegotiationneeded = () => {
      if (this.#connected) this.#negotiate();
    };
    // Lost: recovering; the session that sorts first restarts ICE through
    // the hub at once if ICE failed, or after `restartAfter` of
    // `disconnected`; given up 30 s after the loss (PROTOCOL.md,
    // "Liveness and recovery").
    pc.oniceconnectionstatechange = () => this.#watch();
    this.once('close', () => this.#endRecovery());
  }

  /** The far session's peer id, `user/device` (the user alone until it answers). */
  get id() {
    return this.#remoteId;
  }

  /** The far user's name. */
  get user() {
    return this.#remoteId.split('/')[0];
  }

  get connected() {
    return this.#connected;
  }

  get destroyed() {
    return this.#destroyed;
  }

  /** The RTCPeerConnection, for getStats and the like. */
  get pc() {
    return this.#pc;
  }

  /** Bytes waiting to go out on the main channel. */
  get bufferedAmount() {
    return this.#paced ? this.#paced.bufferedAmount : 0;
  }

  /**
   * Sends bytes (or a string, as UTF-8) on the main channel, raw. Use
   * Brume.encodeMsg to frame them as Brume peers expect. Never overflows
   * the channel: the returned promise resolves once the message is handed
   * to it, and messages wait their turn meanwhile.
   */
  send(data) {
    if (!this.#paced) return Promise.reject(new Error('the peer is not connected'));
    const bytes = typeof data === 'string' ? utf8.encode(data) : toBytes(data);
    return this.#paced.send(bytes);
  }

  /** Resolves once what was sent has left our queue and mostly the channel's. */
  drained() {
    return this.#paced ? this.#paced.drained() : Promise.resolve();
  }

  /** Adds every track of `stream`; the renegotiation runs over the data channel. */
  addStream(stream) {
    for (const track of stream.getTracks()) this.#pc.addTrack(track, stream);
  }

  removeStream(stream) {
    for (const track of stream.getTracks()) this.removeTrack(track, stream);
  }

  addTrack(track, stream) {
    this.#pc.addTrack(track, stream);
  }

  removeTrack(track) {
    const sender = this.#pc.getSenders().find((s) => s.track === track);
    if (sender) this.#pc.removeTrack(sender);
  }

  close() {
    this.destroy();
  }

  destroy(err) {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#connected = false;
    this.#paced?.close();
    try {
      this.#main?.close();
    } catch {
      // Already closed.
    }
    try {
      this.#pc.close();
    } catch {
      // Already closed.
    }
    this.#rpc.close();
    if (err) this.emit('error', err);
    this.emit('close');
  }

  /** Asks the far side's `module` with `payload` (any JSON); resolves with
   * its answer, or rejects with an RpcError ('no_module', 'failed',
   * 'timeout', 'peer_gone'). */
  request(module, payload, { timeout } = {}) {
    return this.#rpc.request(module, payload, timeout);
  }

  /**
   * Restarts ICE through the hub (new ICE credentials and candidates on the
   * same connection, so channels, transfers and tracks carry on). Resolves
   * once the new path is connected; rejects if the other side refuses or the
   * hub cannot carry the offer. A restart already under way is shared.
   */
  restartIce() {
    if (this.#destroyed || !this.#connected) return Promise.reject(new Error('the peer is not connected'));
    if (this.#restart) return this.#restart;
    const p = (async () => {
      if (this.#pc.signalingState !== 'stable') {
        // A renegotiation over the channel waits for an answer that may
        // never come on a lost path: the restart replaces it.
        await this.#pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      this.emit('restarting');
      await this.#restarter(this);
      await this.#iceConnected();
      this.emit('restarted');
    })();
    this.#restart = p;
    p.then(
      () => this.#restartDone(),
      () => this.#restartDone(),
    );
    return p;
  }

  /** Whether an ICE restart of ours waits for its answer or path. */
  get restarting() {
    return this.#restart !== null;
  }

  // ---- used by Brume ----

  /** Whether our side restarts ICE when the path is lost (PROTOCOL.md:
   * only the session that sorts first, so both never restart at once). */
  get restartInitiator() {
    return sortsFirst(this.#localId, this.#remoteId);
  }

  /** The far side's peer id, once its answer names it. */
  setRemoteId(id) {
    this.#remoteId = id;
  }

  /** The main channel: ours as caller, the far side's as callee. */
  setMain(dc) {
    this.#main = dc;
    this.#paced = new PacedChannel(dc);
    const opened = () => {
      if (this.#connected || this.#destroyed) return;
      this.#connected = true;
      this.#paced.kick();
      this.emit('connect');
    };
    whenOpen(dc, opened);
    dc.onclose = () => this.destroy();
    dc.onmessage = (ev) => this.#onMessage(ev.data);
  }

  async addRemoteCandidate(candidate) {
    if (!this.#pc.remoteDescription) {
      this.#remoteCandidates.push(candidate);
      return;
    }
    await this.#pc.addIceCandidate({ candidate, sdpMLineIndex: 0 }).catch(() => {});
  }

  /** A description from the hub, without its identity line (PROTOCOL.md:
   * receivers remove it before their WebRTC stack sees it). */
  async setRemote(desc) {
    await this.#pc.setRemoteDescription({ type: desc.type, sdp: stripIdentity(desc.sdp) });
    const queued = this.#remoteCandidates;
    this.#remoteCandidates = [];
    for (const c of queued) await this.addRemoteCandidate(c);
  }

  // ---- internals ----

  #watch() {
    const state = this.#pc.iceConnectionState;
    if (this.#destroyed) return;
    if (state === 'failed' || state === 'disconnected') {
      if (!this.#recovery) {
        this.#recovery = {
          lost: setTimeout(() => this.destroy(new Error('connection lost')), RECOVERY_LIMIT),
          retry: null,
        };
        this.emit('reconnecting');
      }
      if (this.restartInitiator && !this.#restart && this.#connected) {
        clearTimeout(this.#recovery.retry);
        const wait = state === 'failed' ? 0 : this.#restartAfter;
        this.#recovery.retry = setTimeout(() => this.#autoRestart(), wait);
      }
    } else if (state === 'connected' || state === 'completed') {
      if (this.#recovery) {
        this.#endRecovery();
        this.emit('reconnected');
      }
    }
  }

  /** Restarts while the path stays lost; a failed restart is tried again. */
  #autoRestart() {
    if (!this.#recovery || this.#destroyed || this.#restart) return;
    this.restartIce().catch(() => {
      if (this.#recovery && !this.#destroyed) {
        clearTimeout(this.#recovery.retry);
        this.#recovery.retry = setTimeout(() => this.#autoRestart(), this.#restartAfter);
      }
    });
  }

  #endRecovery() {
    if (!this.#recovery) return;
    clearTimeout(this.#recovery.lost);
    clearTimeout(this.#recovery.retry);
    this.#recovery = null;
  }

  #restartDone() {
    this.#restart = null;
    if (this.#renegotiateAfterRestart) {
      this.#renegotiateAfterRestart = false;
      this.#negotiate();
    }
    // Still lost (the restart failed, or the new path too): carry on.
    if (this.#recovery) this.#watch();
  }

  /** Resolves once ICE is connected (again), rejects if the peer closes. */
  #iceConnected() {
    return new Promise((resolve, reject) => {
      const check = () => {
        const state = this.#pc.iceConnectionState;
        if (state === 'connected' || state === 'completed') {
          done();
          resolve();
        } else if (this.#destroyed) {
          done();
          reject(new Error('the peer closed'));
        }
      };
      const timer = setInterval(check, 50);
      const done = () => clearInterval(timer);
      // After the answer ICE checks anew; 'checking' precedes 'connected'.
      check();
    });
  }

  #sendControl(type, data) {
    return this.#paced?.send(encode({ type, data, control: true })).catch(() => {});
  }

  #onMessage(raw) {
    const bytes = toBytes(raw instanceof ArrayBuffer || ArrayBuffer.isView(raw) ? raw : utf8.encode(raw));
    let msg = null;
    try {
      msg = decode(bytes);
    } catch {
      // Not Brume-framed: the application's own bytes.
    }
    if (msg && msg.control) {
      this.#onControl(msg).catch((e) => this.emit('error', e));
      return;
    }
    this.emit('data', bytes);
  }

  async #onControl({ type, data }) {
    switch (type) {
      case 'ping':
        if (typeof data === 'string' && utf8.encode(data).length <= 64) this.#sendControl('pong', data);
        return;
      case 'rpc':
        if (typeof data === 'string') await this.#rpc.onRequest(data);
        return;
      case 'rpc_result':
        if (typeof data === 'string') this.#rpc.onResult(data);
        return;
      case 'sdp-offer': {
        // Perfect negotiation: the session that sorts first is impolite and
        // ignores a colliding offer; the other rolls back and answers.
        const polite = !sortsFirst(this.#localId, this.#remoteId);
        const collision = this.#makingOffer || this.#pc.signalingState !== 'stable';
        this.#ignoreOffer = !polite && collision;
        if (this.#ignoreOffer) return;
        if (collision) await this.#pc.setLocalDescription({ type: 'rollback' });
        await this.#pc.setRemoteDescription({ type: 'offer', sdp: data });
        await this.#pc.setLocalDescription(await this.#pc.createAnswer());
        this.#sendControl('sdp-answer', this.#pc.localDescription.sdp);
        return;
      }
      case 'sdp-answer':
        if (this.#pc.signalingState === 'have-local-offer') {
          await this.#pc.setRemoteDescription({ type: 'answer', sdp: data });
        }
        return;
      default:
      // Unknown control types are ignored (PROTOCOL.md).
    }
  }

  async #negotiate() {
    if (this.#destroyed) return;
    if (this.#restart) {
      // A restart is under way: offer this change once it is through, so
      // that two offers of ours never cross.
      this.#renegotiateAfterRestart = true;
      return;
    }
    try {
      this.#makingOffer = true;
      await this.#pc.setLocalDescription(await this.#pc.createOffer());
      this.#sendControl('sdp-offer', this.#pc.localDescription.sdp);
    } catch (e) {
      this.emit('error', e);
    } finally {
      this.#makingOffer = false;
    }
  }

  #onTrack(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    if (!this.#streams.has(stream.id)) {
      this.#streams.set(stream.id, stream);
      stream.onremovetrack = (e) => this.emit('removetrack', e.track, stream);
      this.emit('stream', stream);
    }
    this.emit('track', ev.track, stream);
  }
}
