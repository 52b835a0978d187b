// Blocks and the content hash (docs/PROTOCOL.md, "Blocks and the content
// hash"): BLAKE3 per block, and BLAKE3 over "brume-file-v1", the size and
// block size (u64 LE) and the block hashes. hash-wasm's BLAKE3 is loaded
// lazily, so that a page can map the bare name with an import map.

const MIB = 1024 * 1024;
const MAX_BLOCKS = 65536;
const DOMAIN = new TextEncoder().encode('brume-file-v1');

let hasherPromise = null;

/** A reusable BLAKE3 hasher (hash-wasm). */
export function blake3Hasher() {
  // In a page, the hub serves hash-wasm's BLAKE3 as a script (globalThis.hashwasm).
  hasherPromise ??= globalThis.hashwasm?.createBLAKE3
    ? globalThis.hashwasm.createBLAKE3()
    : import('hash-wasm').then((m) => m.createBLAKE3());
  return hasherPromise;
}

/** The block size for a file of `size` bytes: a power of two ≥ 1 MiB, ≤ 65,536 blocks. */
export function blockSize(size) {
  let bs = MIB;
  while (Math.ceil(size / bs) > MAX_BLOCKS) bs *= 2;
  return bs;
}

export function blockCount(size) {
  return Math.ceil(size / blockSize(size));
}

/** BLAKE3 of one block. */
export async function hashBlock(bytes) {
  const h = await blake3Hasher();
  h.init();
  h.update(bytes);
  return h.digest('binary');
}

/** The content hash (hex) of a file of `size` bytes whose block hashes are `hashes`. */
export async function contentHash(size, hashes) {
  const h = await blake3Hasher();
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(size), true);
  view.setBigUint64(8, BigInt(blockSize(size)), true);
  h.init();
  h.update(DOMAIN);
  h.update(header);
  for (const b of hashes) h.update(b);
  return h.digest('hex');
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
