// File access for transfers in Node: what to send, from paths, and where
// to receive, a folder. The browser has its own (storage-web.mjs).

import { constants } from 'node:fs';
import { link, lstat, mkdir, open, readdir, stat, unlink, utimes, chmod } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The entries of a file or folder at `path`, with a reader per file. */
export async function sourceFromPath(path) {
  const root = basename(path);
  const entries = [];
  const walk = async (abs, rel) => {
    const st = await lstat(abs);
    if (st.isDirectory()) {
      entries.push({ path: rel, kind: 'dir', size: 0, mtime: Math.floor(st.mtimeMs / 1000) });
      const names = (await readdir(abs)).sort();
      for (const n of names) await walk(join(abs, n), `${rel}/${n}`);
    } else if (st.isFile()) {
      entries.push({
        path: rel,
        kind: 'file',
        size: st.size,
        mtime: Math.floor(st.mtimeMs / 1000),
        executable: (st.mode & 0o111) !== 0 || undefined,
        open: () => fileReader(abs),
      });
    }
    // Links and other kinds are skipped, as `brume send` does.
  };
  await walk(path, root);
  return { name: root, entries };
}

async function fileReader(abs) {
  const fh = await open(abs, 'r');
  return {
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

/** A receiving folder: partial files beside their final places, renamed without overwriting. */
export function sinkFromDir(dir) {
  const abs = (rel) => join(dir, ...rel.split('/'));
  return {
    describe: (rel) => abs(rel),
    async kind(rel) {
      try {
        const st = await lstat(abs(rel));
        return st.isDirectory() ? 'dir' : 'other';
      } catch {
        return null;
      }
    },
    mkdir: (rel) => mkdir(abs(rel), { recursive: true }),
    async size(rel) {
      try {
        return (await stat(abs(rel))).size;
      } catch {
        return 0;
      }
    },
    async openPart(rel) {
      const fh = await open(abs(rel), constants.O_RDWR | constants.O_CREAT, 0o600);
      return {
        async read(offset, length) {
          const buf = new Uint8Array(length);
          const { bytesRead } = await fh.read(buf, 0, length, offset);
          return buf.subarray(0, bytesRead);
        },
        truncate: (n) => fh.truncate(n),
        async write(offset, bytes) {
          let done = 0;
          while (done < bytes.length) {
            const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, offset + done);
            done += bytesWritten;
          }
        },
        sync: () => fh.sync(),
        close: () => fh.close(),
      };
    },
    remove: (rel) => unlink(abs(rel)).catch(() => {}),
    async finish(rel, { mtime, executable }) {
      if (executable) await chmod(abs(rel), 0o755);
      else await chmod(abs(rel), 0o644);
      await utimes(abs(rel), mtime, mtime);
    },
    /** Moves the part file to `final`, never overwriting: link then unlink. */
    async place(partRel, finalRel) {
      try {
        await link(abs(partRel), abs(finalRel));
      } catch (e) {
        if (e.code === 'EEXIST') return false;
        throw e;
      }
      await unlink(abs(partRel));
      return true;
    },
    dirname: (rel) => (rel.includes('/') ? dirname(rel) : ''),
  };
}
