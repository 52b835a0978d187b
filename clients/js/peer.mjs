// A connection to one Brume session (user/device), as a simple-peer-like
// event emitter: send, 'data', media streams, close. Brume creates peers;
// applications never construct one.
//
// Events: 'connect', 'data' (Uint8Array), 'stream' (MediaStream), 'track'
// (track, stream), 'removetrack' (track, stream), 'channel' (RTCDataChannel
// opened by the other side, not the main one), 'close', 'error'.

import { Emitter } from './emitter.mjs';
import { PacedChannel, whenOpen } from './channel.mjs';
import { decode, encode, toBytes } from './framing.mjs';
import { Rpc } from './rpc.mjs';

const utf8 = new TextEncoder();
const RECOVERY_LIMIT = 30000;

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

  /** Internal: made by Brume. */
  constructor({ pc, localId, remoteId, onCandidate, modules = new Map() }) {
    super();
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
    // Unreachable for 30 s, or failed: the connection is given up
    // (PROTOCOL.md, "Liveness and recovery").
    let lost = null;
    const watch = () => {
      const state = pc.iceConnectionState;
      if (state === 'failed') this.destroy(new Error('connection lost'));
      else if (state === 'disconnected') {
        if (!lost) {
          this.emit('reconnecting');
          lost = setTimeout(() => this.destroy(new Error('connection lost')), RECOVERY_LIMIT);
        }
      } else if (lost && (state === 'connected' || state === 'completed')) {
        clearTimeout(lost);
        lost = null;
        this.emit('reconnected');
      }
    };
    pc.oniceconnectionstatechange = watch;
    this.once('close', () => clearTimeout(lost));
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

  // ---- used by Brume ----

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

  async setRemote(desc) {
    await this.#pc.setRemoteDescription(desc);
    const queued = this.#remoteCandidates;
    this.#remoteCandidates = [];
    for (const c of queued) await this.addRemoteCandidate(c);
  }

  // ---- internals ----

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
