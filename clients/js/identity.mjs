// Who this device is (PROTOCOL.md, "Who a peer is"): a long-term ed25519
// key, WebCrypto's, that signs the DTLS fingerprint of every offer and
// answer sent through the hub, in one SDP line `a=brume-identity:KEY SIG`.
// A Rust peer pins the key on first meeting and refuses a changed one.
// Browsers keep the key in IndexedDB (not extractable); Node takes a key
// file (made if missing) or a given seed.

export const ATTRIBUTE = 'a=brume-identity:';
const CONTEXT = 'brume-identity-v1 ';
/** PKCS #8 wrapping of a 32-byte ed25519 seed (RFC 8410). */
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const ED25519 = { name: 'Ed25519' };
const DB = { name: 'brume', store: 'identity', key: 'ed25519' };

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (s) => (/^([0-9a-f]{2})*$/i.test(s) ? Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16)) : null);

/** An SDP's first `a=fingerprint:`, normalised as signed: `sha-256 AB:CD:…`. */
export function sdpFingerprint(sdp) {
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^a=fingerprint:(\S+) (.+)$/.exec(line.trim());
    if (m) return `${m[1].toLowerCase()} ${m[2].trim().toUpperCase()}`;
  }
  return null;
}

/** `sdp` without its identity line. */
export function stripIdentity(sdp) {
  return sdp
    .split(/(?<=\n)/)
    .filter((line) => !line.trimStart().startsWith(ATTRIBUTE))
    .join('');
}

/** The first 16 bytes of a key in groups of four hex digits, as `brume verify` prints. */
export function shortForm(keyHex) {
  return (keyHex.toUpperCase().slice(0, 32).match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * What an SDP says of its device: `{ key }` for a line whose signature of
 * the SDP's fingerprint verifies, `null` with no line, `{ forged: true }`
 * otherwise.
 */
export async function presented(sdp) {
  const line = sdp.split(/\r?\n/).find((l) => l.trim().startsWith(ATTRIBUTE));
  if (!line) return null;
  const [key, sig] = line.trim().slice(ATTRIBUTE.length).split(' ');
  const fingerprint = sdpFingerprint(sdp);
  const keyBytes = fromHex(key ?? '');
  const sigBytes = fromHex(sig ?? '');
  if (!fingerprint || keyBytes?.length !== 32 || sigBytes?.length !== 64) return { forged: true };
  try {
    const pub = await crypto.subtle.importKey('raw', keyBytes, ED25519, false, ['verify']);
    const ok = await crypto.subtle.verify(ED25519, pub, sigBytes, new TextEncoder().encode(CONTEXT + fingerprint));
    return ok ? { key: key.toLowerCase() } : { forged: true };
  } catch {
    return { forged: true };
  }
}

export class Identity {
  #privateKey;
  /** The public key, 32 bytes in lower-case hex. */
  key;

  constructor(privateKey, key) {
    this.#privateKey = privateKey;
    this.key = key;
  }

  /** From a CryptoKeyPair (Ed25519). */
  static async fromKeyPair({ privateKey, publicKey }) {
    return new Identity(privateKey, hex(new Uint8Array(await crypto.subtle.exportKey('raw', publicKey))));
  }

  /** From a 32-byte seed, as the Rust command keeps its own. */
  static async fromSeed(seed) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new TypeError('an ed25519 seed is 32 bytes');
    const pkcs8 = new Uint8Array([...PKCS8_PREFIX, ...seed]);
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign']);
    // WebCrypto derives no public key from a private one: JWK's `x` is it.
    const jwk = await crypto.subtle.exportKey('jwk', privateKey);
    const pub = Uint8Array.from(atob(jwk.x.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    return new Identity(privateKey, hex(pub));
  }

  /** A new random seed (for a key file). */
  static newSeed() {
    return crypto.getRandomValues(new Uint8Array(32));
  }

  /** The browser's key, kept in IndexedDB, made on first use; never extractable. */
  static async fromIndexedDb() {
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open(DB.name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(DB.store);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const tx = (mode, f) =>
      new Promise((resolve, reject) => {
        const t = db.transaction(DB.store, mode);
        const req = f(t.objectStore(DB.store));
        t.oncomplete = () => resolve(req.result);
        t.onerror = () => reject(t.error);
      });
    try {
      let pair = await tx('readonly', (s) => s.get(DB.key));
      if (!pair) {
        pair = await crypto.subtle.generateKey(ED25519, false, ['sign', 'verify']);
        // Two tabs at once: the first key stored stands.
        await tx('readwrite', (s) => s.add(pair, DB.key)).catch(() => {});
        pair = await tx('readonly', (s) => s.get(DB.key));
      }
      return Identity.fromKeyPair(pair);
    } finally {
      db.close();
    }
  }

  /** `sdp` with this device's identity line: the key and its signature of the fingerprint. */
  async sign(sdp) {
    const fingerprint = sdpFingerprint(sdp);
    if (!fingerprint) return sdp;
    const sig = new Uint8Array(await crypto.subtle.sign(ED25519, this.#privateKey, new TextEncoder().encode(CONTEXT + fingerprint)));
    const base = stripIdentity(sdp);
    return `${base}${base.endsWith('\r\n') ? '' : '\r\n'}${ATTRIBUTE}${this.key} ${hex(sig)}\r\n`;
  }

  /** What this device signs for `fingerprint` (for the protocol's vector). */
  async line(fingerprint) {
    const sig = new Uint8Array(await crypto.subtle.sign(ED25519, this.#privateKey, new TextEncoder().encode(CONTEXT + fingerprint)));
    return `${ATTRIBUTE}${this.key} ${hex(sig)}`;
  }
}

/**
 * The identity `spec` names: a CryptoKeyPair, a 32-byte seed, an Identity,
 * a key file's path (Node: hex seed, made if missing), `undefined` (a
 * browser's IndexedDB key; none in Node), or `false`/`null` (none).
 */
export async function loadIdentity(spec) {
  if (spec === false || spec === null) return null;
  if (spec instanceof Identity) return spec;
  if (spec instanceof Uint8Array) return Identity.fromSeed(spec);
  if (spec && spec.privateKey && spec.publicKey) return Identity.fromKeyPair(spec);
  if (typeof spec === 'string') {
    const { readOrMakeSeed } = await import('./identity-node.mjs');
    return Identity.fromSeed(await readOrMakeSeed(spec, Identity.newSeed));
  }
  if (spec === undefined && typeof indexedDB !== 'undefined') return Identity.fromIndexedDb();
  return null;
}
