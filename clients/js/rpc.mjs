// Brume's RPC on one connection (PROTOCOL.md, "RPC modules"): `rpc` and
// `rpc_result` control messages, matched by id, any number in flight.

/** Why a request got no answer from its handler. `kind` is one of
 * 'no_module', 'failed', 'timeout', 'peer_gone'. */
export class RpcError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'RpcError';
    this.kind = kind;
  }
}

export const DEFAULT_RPC_TIMEOUT = 10000;

export class Rpc {
  #pending = new Map();
  #next = 0;
  #send;
  #modules;
  #peer;

  /** `send(type, text)` writes a control message; `modules` maps names to
   * handlers, shared by every peer of a Brume. */
  constructor({ send, modules, peer }) {
    this.#send = send;
    this.#modules = modules;
    this.#peer = peer;
  }

  request(module, payload, timeout = DEFAULT_RPC_TIMEOUT) {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RpcError('timeout', `no answer from ${this.#peer.id} within ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer, module });
      this.#send('rpc', JSON.stringify({ id, module, payload: payload ?? null }));
    });
  }

  async onRequest(text) {
    let req;
    try {
      req = JSON.parse(text);
    } catch {
      return; // not a request: dropped, as the Rust endpoint does
    }
    if (typeof req?.id !== 'number' || typeof req.module !== 'string') return;
    const handler = this.#modules.get(req.module);
    if (!handler) {
      this.#send('rpc_result', JSON.stringify({ id: req.id, error: 'no_module' }));
      return;
    }
    try {
      const ok = await handler({ request: req.payload ?? null, peer: this.#peer });
      this.#send('rpc_result', JSON.stringify({ id: req.id, ok: ok ?? null }));
    } catch (e) {
      const message = String(e?.message ?? e);
      this.#send('rpc_result', JSON.stringify({ id: req.id, error: 'failed', message }));
    }
  }

  onResult(text) {
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      return;
    }
    const entry = this.#pending.get(answer?.id);
    if (!entry) return; // not ours, or given up on
    this.#pending.delete(answer.id);
    clearTimeout(entry.timer);
    if (answer.error === 'no_module') {
      entry.reject(new RpcError('no_module', `${this.#peer.id} has no module ${JSON.stringify(entry.module)}`));
    } else if (answer.error === 'failed') {
      entry.reject(new RpcError('failed', `the handler failed: ${answer.message ?? ''}`));
    } else {
      entry.resolve(answer.ok ?? null);
    }
  }

  /** The connection ended: every request still waiting fails. */
  close() {
    for (const [id, entry] of this.#pending) {
      clearTimeout(entry.timer);
      entry.reject(new RpcError('peer_gone', 'the connection ended before an answer came'));
      this.#pending.delete(id);
    }
  }
}
