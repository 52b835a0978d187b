// Headless Chromium with the library the hub serves: browser ↔ Rust chat
// and 32 MiB files each way, hash-checked; browser ↔ browser chat, a file
// and a video call whose frames are decoded and whose tracks come and go.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Hub, Proc, brumeBin, tmpDir } from './helpers.mjs';
import { browser, haveChromium, httpRoot, startInPage, until } from './web.mjs';

const MIB = 1024 * 1024;

describe('in headless Chromium', { skip: !haveChromium && 'no /usr/bin/chromium' }, () => {
  let hub;
  let confs;
  let b1;
  let b2;

  before(async () => {
    hub = await Hub.start('web');
    confs = { alice: hub.addUser('alice'), bob: hub.addUser('bob'), carol: hub.addUser('carol') };
    b1 = await browser();
    b2 = await browser();
  });
  after(async () => {
    await b1?.close();
    await b2?.close();
    hub?.stop();
  });

  const cfg = (user) => Hub.config(confs[user]);

  test('browser ↔ brume recv and brume chat: connect by name, chat both ways', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const recv = new Proc(['recv', '--yes', '--dir', tmpDir('recv')], { env: { BRUME_CONF: confs.bob } });
    try {
      await recv.waitLine('ready as');
      const id = await page.evaluate(async () => {
        const peer = await window.brume.connect('bob');
        await peer.send(window.Brume.encodeMsg({ type: 'chat', data: 'hello from the browser ✓' }));
        return peer.id;
      });
      assert.match(id, /^bob\//);
      await recv.waitLine('alice: hello from the browser ✓');
      // The tab signed with its IndexedDB key, which brume recv pinned.
      const { key, device, short } = await page.evaluate(() => ({
        key: window.brume.identity,
        device: window.brume.thisDevice(),
        short: window.Brume.shortForm(window.brume.identity),
      }));
      assert.match(key, /^[0-9a-f]{64}$/);
      const verify = spawnSync(brumeBin(), ['verify', 'alice'], { env: { ...process.env, BRUME_CONF: confs.bob }, encoding: 'utf8' });
      assert.match(verify.stdout, new RegExp(`^alice/${device}\t${short}$`, 'm'), verify.stdout + verify.stderr);
    } finally {
      recv.kill();
    }
    const chat = new Proc(['chat', 'alice'], { env: { BRUME_CONF: confs.bob }, stdin: 'pipe' });
    try {
      await until(page, () => [...window.brume.peers.values()].some((p) => p.connected && p.id !== undefined && !p.destroyed && p.wired));
      chat.write('hi browser\n');
      await until(page, () => window.seen.lines.some((l) => l.from === 'bob' && l.text === 'hi browser'));
      await page.evaluate(async () => {
        const peer = [...window.brume.peers.values()].find((p) => p.wired && p.connected);
        await peer.send(window.Brume.encodeMsg({ type: 'chat', data: 'hi rust' }));
      });
      await chat.waitLine('alice: hi rust');
    } finally {
      chat.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('browser → brume recv: 32 MiB, hash-checked', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const dir = tmpDir('recv');
    const recv = new Proc(['recv', '--yes', '--dir', dir], { env: { BRUME_CONF: confs.bob } });
    try {
      await recv.waitLine('ready as');
      const sha = await page.evaluate(async (size) => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        const peer = await window.brume.connect('bob');
        const t = window.brume.transfers.send(peer, new File([bytes], 'from-browser.bin'));
        await t.finished;
        return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      }, 32 * MIB);
      await recv.waitLine('from-browser.bin');
      assert.equal(createHash('sha256').update(readFileSync(join(dir, 'from-browser.bin'))).digest('hex'), sha);
    } finally {
      recv.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('brume send → browser: 32 MiB into the origin private file system, hash-checked', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const src = join(tmpDir('src'), 'to-browser.bin');
    writeFileSync(src, randomBytes(32 * MIB));
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      const got = await page.evaluate(async () => {
        const t = window.seen.offers[0];
        const root = await navigator.storage.getDirectory();
        const dir = await root.getDirectoryHandle('in', { create: true });
        const saved = await t.accept(dir);
        const file = await (await dir.getFileHandle('to-browser.bin')).getFile();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
        return { saved, from: t.peer.user, sha: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
      });
      assert.deepEqual(got.saved, ['to-browser.bin']);
      assert.equal(got.from, 'bob');
      assert.equal(got.sha, createHash('sha256').update(readFileSync(src)).digest('hex'));
      assert.equal(await send.exit(), 0);
    } finally {
      send.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('brume send → a folder and a file the user picked: partial files wait in OPFS, then move there verified', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    // Headless Chromium shows no native picker: stand in for it with
    // handles from OPFS, which the library takes as picked.
    await page.evaluate(() => {
      const root = () => navigator.storage.getDirectory();
      window.showDirectoryPicker = async () => (await root()).getDirectoryHandle('picked', { create: true });
      window.showSaveFilePicker = async ({ suggestedName }) =>
        (await (await root()).getDirectoryHandle('saved', { create: true })).getFileHandle(`chosen-${suggestedName}`, { create: true });
    });
    const src = join(tmpDir('src'), 'picked.bin');
    writeFileSync(src, randomBytes(16 * MIB));
    const want = createHash('sha256').update(readFileSync(src)).digest('hex');
    for (const [how, saved] of [
      ['folder', 'picked.bin'],
      ['file', 'chosen-picked.bin'],
    ]) {
      const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
      try {
        await until(page, () => window.seen.offers.length > 0);
        const got = await page.evaluate(
          async (how) => {
            const { pickFolder, pickFile, PARTS_DIR } = await import('/storage-web.mjs');
            const hash = async (file) => {
              const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
              return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
            };
            const root = await navigator.storage.getDirectory();
            const names = async (dir) => {
              const out = [];
              for await (const [name] of dir.entries()) out.push(name);
              return out.sort();
            };
            const t = window.seen.offers.shift();
            const target = how === 'folder' ? await pickFolder() : await pickFile(t.name);
            const midway = new Promise((resolve) =>
              t.once('progress', async () => {
                resolve({
                  picked: how === 'folder' ? await names(target.picked) : (await target.picked.getFile()).size,
                  parts: await names(await root.getDirectoryHandle(PARTS_DIR)),
                });
              }),
            );
            const savedAs = await t.accept(target);
            const file = how === 'folder' ? await (await target.picked.getFileHandle('picked.bin')).getFile() : await target.picked.getFile();
            return {
              savedAs,
              midway: await midway,
              after: { picked: how === 'folder' ? await names(target.picked) : [file.name], parts: await names(await root.getDirectoryHandle(PARTS_DIR)) },
              sha: await hash(file),
            };
          },
          how,
        );
        assert.deepEqual(got.savedAs, [saved], how);
        assert.deepEqual(got.midway.picked, how === 'folder' ? [] : 0, `${how}: nothing in the picked place while partial`);
        assert.equal(got.midway.parts.length, 1, `${how}: the partial file waits in OPFS`);
        assert.match(got.midway.parts[0], /^\.picked\.bin\.[0-9a-f]{16}\.brume-part$/);
        assert.deepEqual(got.after, { picked: [saved], parts: [] }, `${how}: moved, and the part is gone`);
        assert.equal(got.sha, want, `${how}: hash-checked`);
        assert.equal(await send.exit(), 0);
      } finally {
        send.kill();
      }
    }
    await page.evaluate(() => window.brume.stop());
    await page.close();
  });

  test('folders both ways: brume send → browser, browser (a folder input) → brume recv', async () => {
    const root = join(tmpDir('src'), 'album');
    mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'hello');
    writeFileSync(join(root, 'sub', 'b.bin'), randomBytes(1536 * 1024));
    writeFileSync(join(root, 'sub', 'deeper', 'c.txt'), 'deep');
    const files = ['album/a.txt 5', 'album/sub/b.bin 1572864', 'album/sub/deeper/c.txt 4'];
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const send = new Proc(['send', 'alice', root], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      const tree = await page.evaluate(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('folders', { create: true });
        await window.seen.offers[0].accept(dir);
        const out = [];
        const walk = async (d, prefix) => {
          for await (const [name, h] of d.entries()) {
            if (h.kind === 'directory') await walk(h, `${prefix}${name}/`);
            else out.push(`${prefix}${name} ${(await h.getFile()).size}`);
          }
        };
        await walk(dir, '');
        return out.sort();
      });
      assert.deepEqual(tree, files);
      assert.equal(await send.exit(), 0);
    } finally {
      send.kill();
    }
    const dir = tmpDir('recv');
    const recv = new Proc(['recv', '--yes', '--dir', dir], { env: { BRUME_CONF: confs.bob } });
    try {
      await recv.waitLine('ready as');
      await page.evaluate(() => {
        const input = document.createElement('input');
        input.type = 'file';
        input.webkitdirectory = true;
        input.id = 'folder';
        document.body.append(input);
      });
      await page.setInputFiles('#folder', root);
      await page.evaluate(async () => {
        const { sourceFromFiles } = await import('/storage-web.mjs');
        const peer = await window.brume.connect('bob');
        await window.brume.transfers.send(peer, sourceFromFiles(document.getElementById('folder').files)).finished;
      });
      await recv.waitLine('c.txt');
      const got = [];
      const walk = (abs, rel) => {
        for (const n of readdirSync(abs)) {
          const st = statSync(join(abs, n));
          if (st.isDirectory()) walk(join(abs, n), `${rel}${n}/`);
          else got.push(`${rel}${n} ${st.size}`);
        }
      };
      walk(dir, '');
      assert.deepEqual(got.sort(), files);
      assert.ok(readFileSync(join(dir, 'album', 'sub', 'b.bin')).equals(readFileSync(join(root, 'sub', 'b.bin'))));
    } finally {
      recv.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('cancels from the browser, receiving and sending, reach brume send and brume recv', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const src = join(tmpDir('src'), 'big.bin');
    writeFileSync(src, randomBytes(32 * MIB));
    const send = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      const outcome = await page.evaluate(async () => {
        const t = window.seen.offers[0];
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('cancelled', { create: true });
        const done = t.accept(dir).then(() => 'saved', (e) => e.message);
        await new Promise((r) => t.once('progress', r));
        t.cancel('not now, thanks');
        const names = [];
        const result = await done;
        await new Promise((r) => setTimeout(r, 200));
        for await (const [name] of dir.entries()) names.push(name);
        return { result, names };
      });
      assert.equal(outcome.result, 'not now, thanks');
      await send.waitLine('not now, thanks');
      assert.equal(await send.exit(), 1);
      assert.deepEqual(outcome.names, [], 'the partial file is removed');
    } finally {
      send.kill();
    }
    const dir = tmpDir('recv');
    const recv = new Proc(['recv', '--yes', '--dir', dir], { env: { BRUME_CONF: confs.bob } });
    try {
      await recv.waitLine('ready as');
      const result = await page.evaluate(async () => {
        const bytes = new Uint8Array(32 * 1024 * 1024);
        const peer = await window.brume.connect('bob');
        const t = window.brume.transfers.send(peer, new File([bytes], 'never.bin'));
        await new Promise((r) => t.once('progress', r));
        t.cancel('the sender changed its mind');
        return t.finished.then(() => 'sent', (e) => e.message);
      });
      assert.equal(result, 'the sender changed its mind');
      await recv.waitLine('the sender changed its mind');
    } finally {
      recv.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('a receiving tab reloads mid-transfer; sending again resumes from the blocks kept in OPFS', async () => {
    let page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const src = join(tmpDir('src'), 'resume.bin');
    writeFileSync(src, randomBytes(32 * MIB));
    const accept = () =>
      page.evaluate(() => {
        const t = window.seen.offers[0];
        window.progress = 0;
        window.resumedFrom = null;
        t.on('progress', (p) => (window.progress = p.done));
        t.on('resumed', (p) => (window.resumedFrom = p.done));
        window.outcome = null;
        return navigator.storage
          .getDirectory()
          .then((root) => root.getDirectoryHandle('resume', { create: true }))
          .then((dir) => {
            t.accept(dir).then(
              (saved) => (window.outcome = { saved }),
              (e) => (window.outcome = { error: e.message }),
            );
          });
      });
    const first = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      await accept();
      await until(page, () => window.progress >= 8 * 1024 * 1024);
      await page.reload();
      assert.equal(await first.exit(40000), 1, 'the first send fails once the tab is gone');
    } finally {
      first.kill();
    }
    await startInPage(page, cfg('alice'));
    const second = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      await accept();
      const outcome = await until(page, () => window.outcome);
      assert.deepEqual(outcome, { saved: ['resume.bin'] });
      const from = await page.evaluate(() => window.resumedFrom);
      assert.ok(from >= 8 * 1024 * 1024, `resumed from ${from}`);
      const sha = await page.evaluate(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('resume');
        const file = await (await dir.getFileHandle('resume.bin')).getFile();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
        return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      });
      assert.equal(sha, createHash('sha256').update(readFileSync(src)).digest('hex'));
      assert.equal(await second.exit(), 0);
    } finally {
      second.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('a tab receiving into a picked folder reloads mid-transfer; sending again resumes from the blocks kept in OPFS', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await startInPage(page, cfg('alice'));
    const src = join(tmpDir('src'), 'picked-resume.bin');
    writeFileSync(src, randomBytes(32 * MIB));
    const accept = () =>
      page.evaluate(async () => {
        const { pickFolder } = await import('/storage-web.mjs');
        window.showDirectoryPicker = async () =>
          (await navigator.storage.getDirectory()).getDirectoryHandle('picked-resume', { create: true });
        const t = window.seen.offers[0];
        window.progress = 0;
        window.resumedFrom = null;
        window.outcome = null;
        t.on('progress', (p) => (window.progress = p.done));
        t.on('resumed', (p) => (window.resumedFrom = p.done));
        t.accept(await pickFolder()).then(
          (saved) => (window.outcome = { saved }),
          (e) => (window.outcome = { error: e.message }),
        );
      });
    const first = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      await accept();
      await until(page, () => window.progress >= 8 * 1024 * 1024);
      const picked = await page.evaluate(async () => {
        const out = [];
        for await (const [name] of (await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-resume')).entries()) out.push(name);
        return out;
      });
      assert.deepEqual(picked, [], 'nothing in the picked folder while partial');
      await page.reload();
      assert.equal(await first.exit(40000), 1, 'the first send fails once the tab is gone');
    } finally {
      first.kill();
    }
    await startInPage(page, cfg('alice'));
    const second = new Proc(['send', 'alice', src], { env: { BRUME_CONF: confs.bob } });
    try {
      await until(page, () => window.seen.offers.length > 0);
      await accept();
      const outcome = await until(page, () => window.outcome);
      assert.deepEqual(outcome, { saved: ['picked-resume.bin'] });
      const from = await page.evaluate(() => window.resumedFrom);
      assert.ok(from >= 8 * 1024 * 1024, `resumed from ${from}`);
      const sha = await page.evaluate(async () => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-resume');
        const file = await (await dir.getFileHandle('picked-resume.bin')).getFile();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
        return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      });
      assert.equal(sha, createHash('sha256').update(readFileSync(src)).digest('hex'));
      assert.equal(await second.exit(), 0);
    } finally {
      second.kill();
      await page.evaluate(() => window.brume.stop());
      await page.close();
    }
  });

  test('browser ↔ browser: chat, a file, and a video call with tracks added and removed', async () => {
    const alice = await b1.page(httpRoot(hub.url));
    const carol = await b2.page(httpRoot(hub.url));
    await startInPage(alice, cfg('alice'));
    await startInPage(carol, cfg('carol'));
    try {
      await alice.evaluate(async () => {
        const peer = await window.brume.connect('carol');
        window.wire(peer);
        window.peer = peer;
        await peer.send(window.Brume.encodeMsg({ type: 'chat', data: 'hi carol' }));
      });
      await until(carol, () => window.seen.lines.some((l) => l.from === 'alice' && l.text === 'hi carol'));
      await carol.evaluate(async () => {
        window.peer = [...window.brume.peers.values()][0];
        await window.peer.send(window.Brume.encodeMsg({ type: 'chat', data: 'hi alice' }));
      });
      await until(alice, () => window.seen.lines.some((l) => l.from === 'carol' && l.text === 'hi alice'));

      // A file, verified on arrival.
      await alice.evaluate(() => {
        const bytes = new TextEncoder().encode('a small file\n'.repeat(100000));
        window.sent = window.brume.transfers.send(window.peer, new File([bytes], 'note.txt'));
      });
      await until(carol, () => window.seen.offers.length > 0);
      const size = await carol.evaluate(async () => {
        const root = await navigator.storage.getDirectory();
        await window.seen.offers[0].accept(root);
        return (await (await root.getFileHandle('note.txt')).getFile()).size;
      });
      assert.equal(size, 1300000);

      // The call: alice's camera and microphone reach carol, whose decoder counts frames.
      await alice.evaluate(async () => {
        window.cam = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        window.peer.addStream(window.cam);
      });
      await until(carol, () => window.seen.streams.length > 0 && window.seen.streams[0].getTracks().length === 2);
      const frames = async () =>
        carol.evaluate(async () => {
          let n = 0;
          (await window.peer.pc.getStats()).forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') n = s.framesDecoded ?? 0;
          });
          return n;
        });
      const deadline = Date.now() + 20000;
      let first = 0;
      while ((first = await frames()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(first > 0, 'frames are decoded');
      let later = first;
      while ((later = await frames()) <= first + 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(later > first + 5, `framesDecoded grows: ${first} → ${later}`);

      // Carol adds her own camera too; then alice removes hers.
      await carol.evaluate(async () => {
        window.cam = await navigator.mediaDevices.getUserMedia({ video: true });
        window.peer.addStream(window.cam);
      });
      await until(alice, () => window.seen.streams.length > 0);
      await alice.evaluate(() => window.peer.removeStream(window.cam));
      await until(carol, () => window.seen.removed >= 2);
      const left = await carol.evaluate(() => window.seen.streams[0].getTracks().length);
      assert.equal(left, 0);
      // Chat still flows after the renegotiations.
      await alice.evaluate(() => window.peer.send(window.Brume.encodeMsg({ type: 'chat', data: 'still here' })));
      await until(carol, () => window.seen.lines.some((l) => l.text === 'still here'));
    } finally {
      await alice.evaluate(() => window.brume.stop());
      await carol.evaluate(() => window.brume.stop());
      await alice.close();
      await carol.close();
    }
  });

  test('browser ↔ browser: ICE restarts from either tab, through the hub; the same peers carry chat and a file', async () => {
    const alice = await b1.page(httpRoot(hub.url));
    const carol = await b2.page(httpRoot(hub.url));
    await startInPage(alice, cfg('alice'));
    await startInPage(carol, cfg('carol'));
    const ufrags = (page) =>
      page.evaluate(() => {
        const u = (sdp) => /a=ice-ufrag:(\S+)/.exec(sdp)[1];
        return { local: u(window.peer.pc.localDescription.sdp), remote: u(window.peer.pc.remoteDescription.sdp) };
      });
    try {
      await alice.evaluate(async () => {
        window.peer = await window.brume.connect('carol');
        window.wire(window.peer);
      });
      await until(carol, () => window.brume.peers.size > 0);
      await carol.evaluate(() => {
        window.peer = [...window.brume.peers.values()][0];
      });
      let last = { alice: await ufrags(alice), carol: await ufrags(carol) };
      // alice sorts first and restarts on a lost path; carol may ask too.
      for (const [who, page, other] of [
        ['alice', alice, carol],
        ['carol', carol, alice],
      ]) {
        await page.evaluate(() => window.peer.restartIce());
        const now = { alice: await ufrags(alice), carol: await ufrags(carol) };
        assert.notEqual(now.alice.local, last.alice.local, `${who}'s restart: alice's ICE credentials changed`);
        assert.notEqual(now.carol.local, last.carol.local, `${who}'s restart: carol's ICE credentials changed`);
        assert.equal(now.alice.remote, now.carol.local);
        last = now;
        const text = `after ${who}'s restart`;
        await page.evaluate((t) => window.peer.send(window.Brume.encodeMsg({ type: 'chat', data: t })), text);
        await until(other, (t) => window.seen.lines.some((l) => l.text === t), text);
        // A file on the same peer objects, from the other tab.
        const name = `${who}.txt`;
        await other.evaluate((n) => {
          window.sent = window.brume.transfers.send(window.peer, new File([new TextEncoder().encode(n.repeat(50000))], n));
        }, name);
        await until(page, () => window.seen.offers.length > 0);
        const size = await page.evaluate(async (n) => {
          const root = await navigator.storage.getDirectory();
          const dir = await root.getDirectoryHandle(`restart-${n}`, { create: true });
          await window.seen.offers.shift().accept(dir);
          return (await (await dir.getFileHandle(n)).getFile()).size;
        }, name);
        assert.equal(size, name.length * 50000);
        assert.equal(await alice.evaluate(() => window.brume.peers.size), 1, 'one connection each');
        assert.equal(await carol.evaluate(() => window.brume.peers.size), 1, 'one connection each');
      }
    } finally {
      await alice.evaluate(() => window.brume.stop());
      await carol.evaluate(() => window.brume.stop());
      await alice.close();
      await carol.close();
    }
  });
});
