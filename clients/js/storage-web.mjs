// File access for transfers in browsers: sources from File objects (an
// <input type=file>, webkitdirectory for folders, or files made in the
// page) and sinks into a FileSystemDirectoryHandle: one the user picked
// (showDirectoryPicker) or the origin private file system (OPFS), so
// data goes to disk, never into memory. Partial files stay there, so a
// reloaded tab resumes from the verified blocks.

/** A source from Files; folders come from their webkitRelativePath. */
export function sourceFromFiles(files, name) {
  const list = Array.from(files);
  const now = Math.floor(Date.now() / 1000);
  const pathOf = (f) => f.webkitRelativePath || f.name;
  const root = name ?? pathOf(list[0]).split('/')[0];
  const entries = [];
  const dirs = new Set();
  const single = list.length === 1 && !list[0].webkitRelativePath;
  if (!single) {
    dirs.add(root);
    entries.push({ path: root, kind: 'dir', size: 0, mtime: now });
  }
  for (const f of list.sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : 1))) {
    const path = single ? root : pathOf(f).startsWith(`${root}/`) ? pathOf(f) : `${root}/${pathOf(f)}`;
    const parts = path.split('/');
    for (let i = 1; i < parts.length - 1; i++) {
      const d = parts.slice(0, i + 1).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, kind: 'dir', size: 0, mtime: now });
      }
    }
    entries.push({
      path,
      kind: 'file',
      size: f.size,
      mtime: Math.floor((f.lastModified || Date.now()) / 1000),
      open: async () => ({
        read: async (offset, length) => new Uint8Array(await f.slice(offset, offset + length).arrayBuffer()),
      }),
    });
  }
  return { name: root, entries };
}

/** The origin private file system's folder `sub` (made if missing). */
export async function opfsDir(sub = 'brume') {
  const root = await navigator.storage.getDirectory();
  return sub ? root.getDirectoryHandle(sub, { create: true }) : root;
}

/** The folder of OPFS where partial files for picked folders and files wait. */
export const PARTS_DIR = 'brume-parts';

/**
 * Asks the user for a folder to receive into (File System Access API's
 * showDirectoryPicker, read-write); `transfer.accept(await pickFolder())`.
 * Partial files stay in OPFS until verified, then move into the folder.
 */
export async function pickFolder(options = {}) {
  const handle = await globalThis.showDirectoryPicker({ mode: 'readwrite', ...options });
  return picked(handle);
}

/**
 * Asks the user where to save one file (showSaveFilePicker, suggesting
 * `suggestedName`); for a transfer of a single file. Its partial file
 * stays in OPFS until verified, then is written into the picked file.
 */
export async function pickFile(suggestedName, options = {}) {
  const handle = await globalThis.showSaveFilePicker({ suggestedName, ...options });
  return picked(handle);
}

/** A handle the user picked, marked so that partial files go to OPFS. */
export function picked(handle) {
  return { picked: handle };
}

/**
 * A sink for a handle the user picked: a folder (final files there) or a
 * file (a single-file transfer's), its partial files in OPFS's
 * `brume-parts/` (made if missing) until verified.
 */
export async function sinkFromPicked(handle, parts) {
  const partsDir = parts ?? (await opfsDir(PARTS_DIR));
  const inParts = sinkFromHandle(partsDir);
  if (handle.kind === 'directory') return sinkFromHandle(handle, { parts: inParts });
  return sinkIntoFile(handle, inParts);
}

/** A single file's sink: whatever its name, it lands in `file`. */
function sinkIntoFile(file, parts) {
  return {
    root: file,
    single: true,
    describe: () => file.name,
    kind: async () => null,
    mkdir: async () => {},
    size: (rel) => parts.size(rel),
    openPart: (rel) => parts.openPart(rel),
    remove: (rel) => parts.remove(rel),
    finish: async () => {},
    async place(partRel) {
      await parts.joinInto(partRel, file);
      return true;
    },
    dirname: () => '',
  };
}

/** A sink over a directory handle; with `parts` (a sink), partial files
 * live there and only whole, verified files are written into `dir`. */
export function sinkFromHandle(dir, { parts } = {}) {
  const split = (rel) => rel.split('/').filter(Boolean);
  const parent = async (rel, create) => {
    let d = dir;
    const parts = split(rel);
    for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create });
    return [d, parts[parts.length - 1]];
  };
  const partDir = async (rel, create) => {
    const [d, name] = await parent(rel, create);
    return d.getDirectoryHandle(name, { create });
  };
  return {
    root: dir,
    describe: (rel) => rel,
    async kind(rel) {
      try {
        const [d, name] = await parent(rel, false);
        try {
          await d.getDirectoryHandle(name);
          return 'dir';
        } catch {
          await d.getFileHandle(name);
          return 'other';
        }
      } catch {
        return null;
      }
    },
    async mkdir(rel) {
      let d = dir;
      for (const p of split(rel)) d = await d.getDirectoryHandle(p, { create: true });
    },
    // A partial file is a folder of its verified blocks, one file each,
    // named by offset: each is committed when written, so what a tab had
    // verified survives a reload, and resuming costs no copy.
    async size(rel) {
      if (parts) return parts.size(rel);
      try {
        return (await blockFiles(await partDir(rel, false))).reduce((n, b) => n + b.size, 0);
      } catch {
        return 0;
      }
    },
    async openPart(rel) {
      if (parts) return parts.openPart(rel);
      const d = await partDir(rel, true);
      return {
        async read(offset, length) {
          try {
            const f = await (await d.getFileHandle(blockName(offset))).getFile();
            return new Uint8Array(await f.slice(0, length).arrayBuffer());
          } catch {
            return new Uint8Array(0);
          }
        },
        async truncate(n) {
          for await (const [name] of d.entries()) {
            if (parseInt(name, 16) >= n) await d.removeEntry(name);
          }
        },
        async write(offset, bytes) {
          const out = await (await d.getFileHandle(blockName(offset), { create: true })).createWritable();
          await out.write(bytes);
          await out.close();
        },
        sync: async () => {},
        close: async () => {},
      };
    },
    async remove(rel) {
      if (parts && rel.endsWith('.brume-part')) return parts.remove(rel);
      try {
        const [d, name] = await parent(rel, false);
        await d.removeEntry(name, { recursive: true });
      } catch {
        // Already gone.
      }
    },
    async finish() {
      // A page cannot set modification times or execute bits.
    },
    /** Joins the blocks into the final file, unless its name is taken. */
    async place(partRel, finalRel) {
      const [d, name] = await parent(finalRel, true);
      try {
        await d.getFileHandle(name);
        return false;
      } catch {
        // The name is free.
      }
      const target = await d.getFileHandle(name, { create: true });
      await (parts ?? this).joinInto(partRel, target);
      return true;
    },
    /** Writes the part's blocks into `file`, block by block (each a File
     * read from disk, never the whole in memory); then drops the part. */
    async joinInto(partRel, file) {
      const blocks = await blockFiles(await partDir(partRel, false));
      const out = await file.createWritable();
      for (const b of blocks) await out.write(b.file);
      await out.close();
      await this.remove(partRel);
    },
    dirname: (rel) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : ''),
  };
}

function blockName(offset) {
  return offset.toString(16).padStart(16, '0');
}

/** The leading run of a part folder's blocks, in order, with their sizes. */
async function blockFiles(d) {
  const all = new Map();
  for await (const [name, handle] of d.entries()) all.set(name, handle);
  const out = [];
  let offset = 0;
  for (;;) {
    const h = all.get(blockName(offset));
    if (!h) return out;
    const file = await h.getFile();
    if (file.size === 0) return out;
    out.push({ file, size: file.size });
    offset += file.size;
  }
}
