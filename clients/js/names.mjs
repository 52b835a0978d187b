// The file-name policy of docs/PROTOCOL.md ("File names") for a Unix-like
// receiver: names refused everywhere, and conflict names `a (1).txt`.

const MAX_DEPTH = 32;
const MAX_NAME_BYTES = 255;
const utf8 = new TextEncoder();

/** Why one path component is unsafe, or null. */
export function unsafeComponent(name) {
  if (name === '' || name === '.' || name === '..') return `unsafe name ${JSON.stringify(name)}`;
  if (utf8.encode(name).length > MAX_NAME_BYTES) return `unsafe name ${JSON.stringify(name)}: over 255 bytes`;
  const chars = Array.from(name);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const cp = c.codePointAt(0);
    if (c === '/' || cp === 0) return `unsafe name ${JSON.stringify(name)}: ${JSON.stringify(c)}`;
    if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return `unsafe name ${JSON.stringify(name)}: control character U+${hex(cp)}`;
    if (/\p{Cf}/u.test(c)) {
      const visible = (x) => x !== undefined && !/[\p{Cf}\p{Cc}\s]/u.test(x);
      const joiner = (cp === 0x200c || cp === 0x200d) && visible(chars[i - 1]) && visible(chars[i + 1]);
      const tag = cp >= 0xe0020 && cp <= 0xe007f && precededByBlackFlag(chars, i);
      if (!joiner && !tag) return `unsafe name ${JSON.stringify(name)}: format character U+${hex(cp)}`;
    }
  }
  return null;
}

function precededByBlackFlag(chars, i) {
  let j = i - 1;
  while (j >= 0 && chars[j].codePointAt(0) >= 0xe0020 && chars[j].codePointAt(0) <= 0xe007f) j--;
  return j >= 0 && chars[j].codePointAt(0) === 0x1f3f4;
}

function hex(cp) {
  return cp.toString(16).toUpperCase().padStart(4, '0');
}

/** Why a `/`-separated path is unsafe, or null. */
export function unsafePath(path) {
  if (typeof path !== 'string' || path.startsWith('/')) return `unsafe name ${JSON.stringify(path)}`;
  const parts = path.split('/');
  if (parts.length > MAX_DEPTH) return `unsafe name ${JSON.stringify(path)}: deeper than 32`;
  for (const p of parts) {
    const why = unsafeComponent(p);
    if (why) return why;
  }
  return null;
}

/** The n-th conflict name of `name`: `a.txt` → `a (1).txt`; `.bashrc` → `.bashrc (1)`. */
export function conflictName(name, n) {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return `${name} (${n})`;
  return `${name.slice(0, dot)} (${n})${name.slice(dot)}`;
}
