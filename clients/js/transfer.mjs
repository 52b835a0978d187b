// File transfer (docs/PROTOCOL.md, "File transfer"): one data channel per
// transfer, `brume-ft/<16 hex>`, carrying JSON control messages (framing
// type `c`, control namespace) and binary `h` (block hashes) and `d`
// (data). Verified block by block with BLAKE3; resumable from verified
// blocks kept in partial files; cancellable from either side.
//
// Brume#transfers.send(peer, source) offers; Brume emits 'offer' with an
// IncomingTransfer to accept into a sink or reject. A source is a path in
// Node, or {name, entries} with an `open()` per file; a sink is a folder
// path in Node, or an object with the methods of storage-node.mjs's.

import { Emitter } from './emitter.mjs';
import { PacedChannel, whenOpen } from './channel.mjs';
import { decode, encode, toBytes } from './framing.mjs';
import { blockCount, blockSize, contentHash, hashBlock, toHex } from './blocks.mjs';
import { conflictName, unsafePath } from './names.mjs';

const PIECE_BYTES = 48 * 1024;
const HASHES_PER_MESSAGE = 1024;
/** `d` messages: as large as the peer takes (its SDP's max-message-size), at most 256 KiB. */
const MAX_DATA_MESSAGE = 256 * 1024;
const DEFAULT_DATA_MESSAGE = 64 * 1024;
const D_HEADER = 3 + 12;
const FILES_IN_FLIGHT = 64;
const MAX_ENTRIES = 1000000;
const HASH_RE = /^[0-9a-f]{64}$/;

function randomTransferId() {
  return toHex(crypto.getRandomValues(new Uint8Array(8)));
}

function control(obj) {
  return encode({ type: 'c', data: JSON.stringify(obj), control: true });
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

async function resolveSource(source) {
  if (typeof source === 'string' && isNode) return (await import('./storage-node.mjs')).sourceFromPath(source);
  const isFiles = (x) => typeof File !== 'undefined' && (x instanceof File || (x?.length && x[0] instanceof File));
  if (isFiles(source)) return (await import('./storage-web.mjs')).sourceFromFiles(source instanceof File ? [source] : source);
  return source;
}

async function resolveSink(sink) {
  if (typeof sink === 'string' && isNode) return (await import('./storage-node.mjs')).sinkFromDir(sink);
  if (sink && sink.picked) return (await import('./storage-web.mjs')).sinkFromPicked(sink.picked);
  if (sink && sink.kind === 'directory' && sink.getDirectoryHandle) {
    return (await import('./storage-web.mjs')).sinkFromHandle(sink);
  }
  return sink;
}

/** The transfers of one Brume instance. */
export class Transfers {
  #brume;

  constructor(brume) {
    this.#brume = brume;
  }

  /** Offers `source` to `peer`; the transfer's `finished` settles when it ends. */
  send(peer, source) {
    const t = new OutgoingTransfer(peer, source);
    t.start();
    return t;
  }

  /** A channel the peer opened: a transfer, if its label says so. */
  incoming(peer, dc) {
    const m = /^brume-ft\/([0-9a-f]{16})$/.exec(dc.label);
    if (!m) return;
    const t = new IncomingTransfer(peer, dc, m[1], (ready) => this.#brume.emit('offer', ready));
    t.listen();
  }
}

class Transfer extends Emitter {
  id;
  peer;
  name = '';
  total = 0;
  entries = [];
  state = 'inviting';
  finished;
  #settle;

  constructor(peer, id) {
    super();
    this.peer = peer;
    this.id = id;
    this.finished = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // An unobserved failure is not an unhandled rejection: it is an event.
    this.finished.catch(() => {});
  }

  succeed(value) {
    if (this.state === 'done' || this.state === 'cancelled') return;
    this.state = 'done';
    this.emit('done', value);
    this.#settle.resolve(value);
  }

  /** Ends the transfer as cancelled; `finished` rejects once `cleanup`
   * (the removal of partial files, say) is through. */
  fail(reason, cleanup) {
    if (this.state === 'done' || this.state === 'cancelled') return false;
    this.state = 'cancelled';
    this.emit('cancelled', reason);
    const err = new Error(reason);
    err.code = 'ECANCELLED';
    Promise.resolve(cleanup).finally(() => this.#settle.reject(err));
    return true;
  }
}

export class OutgoingTransfer extends Transfer {
  #source;
  #paced = null;
  #dc = null;
  #files = [];
  #gets = [];
  #serving = false;
  #sent = 0;

  constructor(peer, source) {
    super(peer, randomTransferId());
    this.#source = source;
  }

  async start() {
    try {
      const src = await resolveSource(this.#source);
      this.name = src.name;
      this.entries = src.entries.map(({ open, ...e }) => e);
      this.#files = src.entries;
      if (this.entries.length < 1 || this.entries.length > MAX_ENTRIES) {
        throw new Error(`a transfer holds 1 to ${MAX_ENTRIES} entries, not ${this.entries.length}`);
      }
      for (const e of this.entries) {
        const why = unsafePath(e.path);
        if (why) throw new Error(why);
      }
      // Hash every file once, block by block.
      this.hashes = [];
      for (let i = 0; i < this.#files.length; i++) {
        const f = this.#files[i];
        if (f.kind !== 'file') continue;
        const reader = await f.open();
        const bs = blockSize(f.size);
        const list = [];
        for (let off = 0; off < f.size; off += bs) {
          list.push(await hashBlock(await reader.read(off, Math.min(bs, f.size - off))));
          if (this.state === 'cancelled') return;
        }
        await reader.close?.();
        this.hashes[i] = list;
        this.entries[i].hash = await contentHash(f.size, list);
        this.emit('hashing', { done: i + 1, total: this.#files.length });
      }
      this.total = this.entries.reduce((n, e) => n + (e.kind === 'file' ? e.size : 0), 0);
      if (this.state === 'cancelled') return;
      this.#open();
    } catch (e) {
      this.fail(`the sender could not read ${this.name || 'its files'}: ${e.message}`);
    }
  }

  #open() {
    const dc = this.peer.pc.createDataChannel(`brume-ft/${this.id}`, { ordered: true });
    this.#dc = dc;
    this.#paced = new PacedChannel(dc);
    whenOpen(dc, () => {
      this.#paced.kick();
      this.#sendOffer();
    });
    dc.onmessage = (ev) => this.#onMessage(ev.data);
    dc.onclose = () => {
      this.#paced.close();
      this.fail('the connection was lost');
    };
  }

  #sendOffer() {
    const pieces = [];
    let piece = [];
    let bytes = 0;
    for (const e of this.entries) {
      const len = JSON.stringify(e).length;
      if (piece.length > 0 && bytes + len > PIECE_BYTES) {
        pieces.push(piece);
        piece = [];
        bytes = 0;
      }
      piece.push(e);
      bytes += len;
    }
    pieces.push(piece);
    const offer = { type: 'offer', name: this.name, total: this.total, entries: pieces[0] };
    if (pieces.length > 1) offer.count = this.entries.length;
    this.#send(control(offer));
    let start = pieces[0].length;
    for (const p of pieces.slice(1)) {
      this.#send(control({ type: 'entries', start, entries: p }));
      start += p.length;
    }
    for (let i = 0; i < this.entries.length; i++) {
      const list = this.hashes[i];
      if (!list) continue;
      for (let first = 0; first < list.length; first += HASHES_PER_MESSAGE) {
        const part = list.slice(first, first + HASHES_PER_MESSAGE);
        const data = new Uint8Array(8 + 32 * part.length);
        const view = new DataView(data.buffer);
        view.setUint32(0, i);
        view.setUint32(4, first);
        part.forEach((h, k) => data.set(h, 8 + 32 * k));
        this.#send(encode({ type: 'h', data }));
      }
    }
  }

  #send(bytes) {
    return this.#paced.send(bytes).catch(() => {});
  }

  #onMessage(raw) {
    let msg;
    try {
      msg = decode(toBytes(raw));
    } catch {
      return;
    }
    if (!msg.control || msg.type !== 'c') return;
    let obj;
    try {
      obj = JSON.parse(msg.data);
    } catch {
      return;
    }
    switch (obj.type) {
      case 'accept':
        this.state = 'connected';
        this.emit('accepted');
        return;
      case 'reject':
        this.#end(`declined: ${obj.reason ?? ''}`.trim());
        return;
      case 'cancel':
        this.#end(String(obj.reason ?? 'cancelled'));
        return;
      case 'get':
        this.#gets.push(obj);
        this.#serve();
        return;
      case 'done':
        this.succeed();
        this.#close();
        return;
      default:
    }
  }

  async #serve() {
    if (this.#serving) return;
    this.#serving = true;
    try {
      while (this.#gets.length > 0 && this.state !== 'cancelled') {
        const { file, offset } = this.#gets.shift();
        const f = this.#files[file];
        if (!f || f.kind !== 'file' || !(offset >= 0) || offset > f.size) {
          this.cancel(`no file ${file} from ${offset}`);
          return;
        }
        const reader = await f.open();
        const peerMax = this.peer.pc.sctp?.maxMessageSize;
        const chunk = Math.min(MAX_DATA_MESSAGE, peerMax > 0 ? peerMax : DEFAULT_DATA_MESSAGE) - D_HEADER;
        try {
          for (let off = offset; off < f.size && this.state !== 'cancelled'; off += chunk) {
            const bytes = await reader.read(off, Math.min(chunk, f.size - off));
            const data = new Uint8Array(12 + bytes.length);
            const view = new DataView(data.buffer);
            view.setUint32(0, file);
            view.setBigUint64(4, BigInt(off));
            data.set(bytes, 12);
            await this.#paced.send(encode({ type: 'd', data }));
            this.#sent += bytes.length;
            this.emit('progress', { done: this.#sent, total: this.total });
          }
        } finally {
          await reader.close?.();
        }
      }
    } catch (e) {
      if (this.state !== 'cancelled') this.cancel(`the sender could not read ${this.name}`);
    } finally {
      this.#serving = false;
    }
  }

  /** Stops the transfer; the receiver is told `reason`. */
  cancel(reason = 'cancelled by the sender') {
    if (this.#paced && this.#dc?.readyState === 'open') {
      try {
        this.#dc.send(control({ type: 'cancel', reason }));
      } catch {
        // The channel is going anyway.
      }
    }
    this.#end(reason);
  }

  #end(reason) {
    this.fail(reason);
    this.#close();
  }

  #close() {
    this.#paced?.close();
    // Let queued messages (the cancel) leave before the channel closes.
    setTimeout(() => {
      try {
        this.#dc?.close();
      } catch {
        // Already closed.
      }
    }, 50);
  }
}

export class IncomingTransfer extends Transfer {
  #dc;
  #paced;
  #announce;
  #count = null;
  #hashes = [];
  #hashesNeeded = 0;
  #offered = false;
  #chain = Promise.resolve();
  #sink = null;
  #files = new Map();
  #queue = [];
  #inFlight = 0;
  #received = 0;
  #saved = [];
  #left = 0;
  #root = null;
  #whole = [];

  constructor(peer, dc, id, announce) {
    super(peer, id);
    this.#dc = dc;
    this.#paced = new PacedChannel(dc);
    this.#announce = announce;
  }

  listen() {
    this.#dc.onmessage = (ev) => {
      const bytes = toBytes(ev.data);
      this.#chain = this.#chain.then(() => this.#onMessage(bytes)).catch((e) => this.#refuse(e.message));
    };
    this.#dc.onclose = () => {
      this.#paced.close();
      this.#closeParts(false);
      this.fail('the connection was lost');
    };
  }

  /** Accepts into `sink` (a folder path in Node); resolves with the saved paths. */
  async accept(sink) {
    if (this.state !== 'inviting') throw new Error(`the transfer is ${this.state}`);
    this.state = 'connecting';
    try {
      this.#sink = await resolveSink(sink);
      if (this.#sink.single && (this.entries.length !== 1 || this.entries[0].kind !== 'file')) {
        throw new Error('a file was picked for a folder');
      }
      await this.#prepare();
    } catch (e) {
      this.#refuse(`the receiver could not store ${this.name}`, e.message);
      return this.finished;
    }
    this.#send({ type: 'accept' });
    this.state = 'connected';
    this.#pump();
    // Files already whole (empty, or fully kept from before) are placed now.
    const whole = this.#whole;
    this.#whole = [];
    for (const i of whole) this.#chain = this.#chain.then(() => this.#fileDone(i));
    this.#chain = this.#chain.catch((e) => this.#refuse(`the receiver could not store ${this.name}`, e.message));
    return this.finished;
  }

  reject(reason = 'declined') {
    if (this.state !== 'inviting') return;
    this.#send({ type: 'reject', reason });
    this.fail(`declined: ${reason}`);
    this.#closeSoon();
  }

  cancel(reason = 'cancelled by the receiver') {
    if (this.state === 'done' || this.state === 'cancelled') return;
    this.#send({ type: 'cancel', reason });
    this.fail(reason, this.#closeParts(true));
    this.#closeSoon();
  }

  #send(obj) {
    this.#paced.send(control(obj)).catch(() => {});
  }

  #closeSoon() {
    setTimeout(() => {
      try {
        this.#dc.close();
      } catch {
        // Already closed.
      }
    }, 50);
  }

  /** Refuses with a reason for the sender; `local` adds detail for our application. */
  #refuse(reason, local) {
    if (this.state === 'done' || this.state === 'cancelled') return;
    this.#send({ type: 'cancel', reason });
    this.fail(local ? `${reason}: ${local}` : reason, this.#closeParts(true));
    this.#closeSoon();
  }

  async #onMessage(bytes) {
    if (this.state === 'done' || this.state === 'cancelled') return;
    const msg = decode(bytes);
    if (msg.control) {
      if (msg.type !== 'c') return;
      const obj = JSON.parse(msg.data);
      return this.#onControl(obj);
    }
    if (msg.type === 'h') return this.#onHashes(toBytes(msg.data));
    if (msg.type === 'd') return this.#onData(toBytes(msg.data));
  }

  #onControl(obj) {
    switch (obj.type) {
      case 'offer':
        if (this.#count !== null) throw new Error('a second offer');
        this.name = String(obj.name);
        this.total = obj.total;
        this.#count = obj.count ?? obj.entries.length;
        if (!(this.#count >= 1 && this.#count <= MAX_ENTRIES)) throw new Error(`an offer has 1 to ${MAX_ENTRIES} entries`);
        this.#addEntries(obj.entries ?? []);
        return;
      case 'entries':
        if (obj.start !== this.entries.length) throw new Error(`entries from ${obj.start} where ${this.entries.length} was expected`);
        this.#addEntries(obj.entries ?? []);
        return;
      case 'cancel':
        this.fail(String(obj.reason ?? 'cancelled by the sender'), this.#closeParts(true));
        this.#closeSoon();
        return;
      default:
    }
  }

  #addEntries(list) {
    if (this.entries.length + list.length > this.#count) throw new Error(`more entries than the ${this.#count} announced`);
    for (const e of list) {
      const why = unsafePath(e.path);
      if (why) throw new Error(why);
      if (e.path.split('/')[0] !== this.name) throw new Error(`${e.path} is not under ${this.name}`);
      if (this.entries.some((x) => x.path === e.path)) throw new Error(`${e.path} is listed twice`);
      if (e.kind === 'dir' && e.size !== 0) throw new Error(`${e.path} is a folder with a size`);
      if (e.kind === 'file' && !HASH_RE.test(e.hash ?? '')) throw new Error(`${e.path} has no valid content hash`);
      if (e.kind !== 'file' && e.kind !== 'dir') throw new Error(`${e.path} is neither a file nor a folder`);
      if (!Number.isSafeInteger(e.size) || e.size < 0) throw new Error(`${e.path} has a bad size`);
      const i = this.entries.length;
      this.entries.push(e);
      if (e.kind === 'file') {
        this.#hashes[i] = [];
        this.#hashesNeeded += blockCount(e.size);
      }
    }
    if (this.entries.length === this.#count) {
      const sum = this.entries.reduce((n, e) => n + (e.kind === 'file' ? e.size : 0), 0);
      if (sum !== this.total) throw new Error(`the sizes add up to ${sum}, not ${this.total}`);
      if (this.#hashesNeeded === 0) return this.#offerComplete();
    }
  }

  async #onHashes(data) {
    if (this.#count === null || this.entries.length !== this.#count) throw new Error('block hashes before every entry was offered');
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const file = view.getUint32(0);
    const first = view.getUint32(4);
    const list = this.#hashes[file];
    const e = this.entries[file];
    if (!list || first !== list.length || (data.length - 8) % 32 !== 0) throw new Error(`hash list of ${e?.path ?? file} out of order`);
    for (let off = 8; off < data.length; off += 32) list.push(data.slice(off, off + 32));
    if (list.length > blockCount(e.size)) throw new Error(`hash list of ${e.path} out of order`);
    this.#hashesNeeded -= (data.length - 8) / 32;
    if (list.length === blockCount(e.size) && (await contentHash(e.size, list)) !== e.hash) {
      throw new Error(`the block hashes of ${e.path} do not match its content hash`);
    }
    if (this.#hashesNeeded === 0) await this.#offerComplete();
  }

  async #offerComplete() {
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e.kind === 'file' && this.#hashes[i].length === 0 && (await contentHash(e.size, [])) !== e.hash) {
        throw new Error(`the block hashes of ${e.path} do not match its content hash`);
      }
    }
    this.#offered = true;
    this.#announce(this);
  }

  /** Folders, the top name free of conflicts, and partial files to resume. */
  async #prepare() {
    const sink = this.#sink;
    const top = this.entries[0].path.split('/')[0];
    const topKind = this.entries.find((e) => e.path === top)?.kind ?? 'dir';
    let root = top;
    for (let n = 1; ; n++) {
      const existing = await sink.kind(root);
      if (existing === null || (existing === 'dir' && topKind === 'dir')) break;
      root = conflictName(top, n);
    }
    this.#root = root;
    const mapped = (p) => root + p.slice(top.length);
    for (const e of this.entries) if (e.kind === 'dir') await sink.mkdir(mapped(e.path));
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e.kind !== 'file') continue;
      const finalRel = mapped(e.path);
      const dir = sink.dirname(finalRel);
      const base = finalRel.slice(dir ? dir.length + 1 : 0);
      if (dir) await sink.mkdir(dir);
      const partRel = `${dir ? `${dir}/` : ''}.${base}.${e.hash.slice(0, 16)}.brume-part`;
      const part = await sink.openPart(partRel);
      // Keep the leading run of blocks that match their hashes.
      const bs = blockSize(e.size);
      const have = await sink.size(partRel);
      let offset = 0;
      for (let b = 0; b < this.#hashes[i].length && offset + bs <= have; b++) {
        const block = await part.read(offset, Math.min(bs, e.size - offset));
        if (toHex(await hashBlock(block)) !== toHex(this.#hashes[i][b])) break;
        offset += block.length;
      }
      if (offset === 0 && have > 0 && e.size <= have && e.size < bs) {
        // A one-block file whose only block is there.
        const block = await part.read(0, e.size);
        if (e.size > 0 && toHex(await hashBlock(block)) === toHex(this.#hashes[i][0])) offset = e.size;
      }
      await part.truncate(offset);
      this.#files.set(i, { e, part, partRel, finalRel, offset, pending: [], pendingLen: 0, block: Math.floor(offset / bs) });
      this.#received += offset;
      this.#left++;
      if (offset < e.size) this.#queue.push(i);
      else this.#whole.push(i);
    }
    if (this.#received > 0) this.emit('resumed', { done: this.#received, total: this.total });
  }

  #pump() {
    while (this.#inFlight < FILES_IN_FLIGHT && this.#queue.length > 0) {
      const i = this.#queue.shift();
      const f = this.#files.get(i);
      f.asked = true;
      this.#inFlight++;
      this.#send({ type: 'get', file: i, offset: f.offset });
    }
  }

  async #onData(data) {
    if (this.state !== 'connected') throw new Error('data before accept');
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const file = view.getUint32(0);
    const offset = Number(view.getBigUint64(4));
    const f = this.#files.get(file);
    if (!f || !f.asked) throw new Error(`data for entry ${file}, not asked for`);
    const bytes = data.subarray(12);
    const expected = f.offset + f.pendingLen;
    if (offset !== expected) throw new Error(`data at ${offset} of ${f.e.path} where ${expected} was expected`);
    if (expected + bytes.length > f.e.size) throw new Error(`more data than announced for ${f.e.path}`);
    f.pending.push(bytes);
    f.pendingLen += bytes.length;
    const bs = blockSize(f.e.size);
    while (f.pendingLen > 0 && (f.pendingLen >= bs || f.offset + f.pendingLen === f.e.size)) {
      const len = Math.min(bs, f.pendingLen);
      const block = takeBytes(f, len);
      if (toHex(await hashBlock(block)) !== toHex(this.#hashes[file][f.block])) {
        throw new Error(`block ${f.block} of ${f.e.path} does not match its hash`);
      }
      await f.part.write(f.offset, block);
      f.offset += len;
      f.block++;
      this.#received += len;
      this.emit('progress', { done: this.#received, total: this.total });
    }
    if (f.offset === f.e.size) await this.#fileDone(file);
  }

  async #fileDone(i) {
    const f = this.#files.get(i);
    if (f.placed) return;
    f.placed = true;
    await f.part.sync();
    await f.part.close();
    await this.#sink.finish(f.partRel, { mtime: f.e.mtime, executable: f.e.executable });
    const dir = this.#sink.dirname(f.finalRel);
    const base = f.finalRel.slice(dir ? dir.length + 1 : 0);
    for (let n = 0; ; n++) {
      const name = n === 0 ? base : conflictName(base, n);
      const rel = `${dir ? `${dir}/` : ''}${name}`;
      if (await this.#sink.place(f.partRel, rel)) {
        this.#saved.push(this.#sink.describe(rel));
        break;
      }
    }
    if (f.asked) this.#inFlight--;
    this.#left--;
    this.#pump();
    if (this.#left === 0) this.#finishAll();
  }

  #finishAll() {
    if (this.state !== 'connected') return;
    this.#send({ type: 'done' });
    this.succeed(this.#saved.slice().sort());
  }

  /** Closes the partial files; deletes them after a cancel, keeps them
   * after a lost connection. Resolves once that is done. */
  #closeParts(remove) {
    const closing = [];
    for (const f of this.#files.values()) {
      if (f.placed) continue;
      f.placed = true;
      closing.push(
        f.part
          .close()
          .catch(() => {})
          .then(() => (remove ? this.#sink.remove(f.partRel) : undefined))
          .catch(() => {}),
      );
    }
    return Promise.all(closing);
  }
}

function takeBytes(f, len) {
  const out = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const head = f.pending[0];
    const n = Math.min(head.length, len - got);
    out.set(head.subarray(0, n), got);
    got += n;
    if (n === head.length) f.pending.shift();
    else f.pending[0] = head.subarray(n);
  }
  f.pendingLen -= len;
  return out;
}
