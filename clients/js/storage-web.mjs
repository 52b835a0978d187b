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

/** A sink over a directory handle. */
export function sinkFromHandle(dir) {
  const split = (rel) => rel.split('/').filter(Boolean);
  const parent = async (rel, create) => {
    let d = dir;
    const parts = split(rel);
    for (const p of parts.slice(0, -1)) d = await d.getDirectoryHandle(p, { create });
    return [d, parts[parts.length - 1]];
  };
  const fileHandle = async (rel, create = false) => {
    const [d, name] = await parent(rel, create);
    return d.getFileHandle(name, { create });
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
    async size(rel) {
      try {
        return (await (await fileHandle(rel)).getFile()).size;
      } catch {
        return 0;
      }
    },
    async openPart(rel) {
      const fh = await fileHandle(rel, true);
      let writable = null;
      const open = async () => (writable ??= await fh.createWritable({ keepExistingData: true }));
      return {
        read: async (offset, length) => new Uint8Array(await (await fh.getFile()).slice(offset, offset + length).arrayBuffer()),
        truncate: async (n) => (await open()).truncate(n),
        write: async (offset, bytes) => (await open()).write({ type: 'write', position: offset, data: bytes }),
        // Closing a writable commits what it holds to the file.
        sync: async () => {
          if (writable) await writable.close();
          writable = null;
        },
        close: async () => {
          if (writable) await writable.close();
          writable = null;
        },
      };
    },
    async remove(rel) {
      try {
        const [d, name] = await parent(rel, false);
        await d.removeEntry(name);
      } catch {
        // Already gone.
      }
    },
    async finish() {
      // A page cannot set modification times or execute bits.
    },
    async place(partRel, finalRel) {
      const [d, name] = await parent(finalRel, true);
      try {
        await d.getFileHandle(name);
        return false;
      } catch {
        // The name is free.
      }
      const part = await fileHandle(partRel);
      if (part.move) {
        await part.move(d, name);
        return true;
      }
      const out = await (await d.getFileHandle(name, { create: true })).createWritable();
      await (await part.getFile()).stream().pipeTo(out);
      await this.remove(partRel);
      return true;
    },
    dirname: (rel) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : ''),
  };
}
