// A Node device's identity key file: the 32-byte ed25519 seed in hex, one
// line, readable by its owner only; made on first use.
import { open, readFile } from 'node:fs/promises';

export async function readOrMakeSeed(path, newSeed) {
  try {
    return parse(await readFile(path, 'utf8'), path);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  const seed = newSeed();
  try {
    const f = await open(path, 'wx', 0o600);
    try {
      await f.writeFile(`${Buffer.from(seed).toString('hex')}\n`);
      await f.sync();
    } finally {
      await f.close();
    }
    return seed;
  } catch (e) {
    // Another process made it first: use theirs.
    if (e.code === 'EEXIST') return parse(await readFile(path, 'utf8'), path);
    throw e;
  }
}

function parse(text, path) {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${path} is not an identity key file (64 hex digits)`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
