// Data-channel framing (docs/PROTOCOL.md, "Data-channel framing"): every
// main-channel message is {type, data}, a two-byte header, the type, then
// the data. Control messages (the endpoint's own) have the namespace bit.

export const MAX_MESSAGE_LEN = 262144;

const VERSION = 0x10;
const CONTROL = 0x02;
const TEXT = 0x01;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A message's bytes; `data` is a string (sent as text) or bytes. */
export function encode({ type, data = new Uint8Array(0), control = false }) {
  if (typeof type !== 'string') throw new TypeError('type must be a string');
  const typeBytes = utf8.encode(type);
  if (typeBytes.length < 1 || typeBytes.length > 255) {
    throw new RangeError('type must be 1 to 255 bytes of UTF-8');
  }
  const text = typeof data === 'string';
  const body = text ? utf8.encode(data) : toBytes(data);
  const out = new Uint8Array(2 + typeBytes.length + body.length);
  out[0] = VERSION | (control ? CONTROL : 0) | (text ? TEXT : 0);
  out[1] = typeBytes.length;
  out.set(typeBytes, 2);
  out.set(body, 2 + typeBytes.length);
  return out;
}

/**
 * Decodes a message: {type, data, control}. Throws a FramingError whose
 * `code` is one of PROTOCOL.md's framing errors.
 */
export function decode(msg, limit = MAX_MESSAGE_LEN) {
  const bytes = toBytes(msg);
  if (bytes.length > limit) throw new FramingError('TooLarge');
  if (bytes.length < 2) throw new FramingError('TooShort');
  const flags = bytes[0];
  if (flags >> 4 !== 1) throw new FramingError('Version');
  if (flags & 0x0c) throw new FramingError('ReservedBits');
  const len = bytes[1];
  if (len === 0) throw new FramingError('TypeLength');
  if (bytes.length < 2 + len) throw new FramingError('Truncated');
  let type;
  try {
    type = fromUtf8.decode(bytes.subarray(2, 2 + len));
  } catch {
    throw new FramingError('TypeNotUtf8');
  }
  let data = bytes.subarray(2 + len);
  if (flags & TEXT) {
    try {
      data = fromUtf8.decode(data);
    } catch {
      throw new FramingError('DataNotUtf8');
    }
  }
  return { type, data, control: (flags & CONTROL) !== 0 };
}

export class FramingError extends Error {
  constructor(code) {
    super(`undecodable message: ${code}`);
    this.code = code;
  }
}

/** Bytes from a Uint8Array, any other view, or an ArrayBuffer. */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('data must be a string, a Uint8Array or an ArrayBuffer');
}
