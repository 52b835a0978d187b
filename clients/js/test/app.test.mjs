// The web app, clicked through in headless Chromium: two people log in
// with their passwords, see each other online, chat, send a file (accepted
// with its progress), start and stop a camera, and download the config
// file. Screenshots are saved in test-results/ (app.png, the sender's;
// app-receiver.png, the receiver's).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hub } from './helpers.mjs';
import { browser, haveChromium, httpRoot } from './web.mjs';

const results = fileURLToPath(new URL('../test-results/', import.meta.url));

describe('the web app', { skip: !haveChromium && 'no /usr/bin/chromium' }, () => {
  let hub;
  let b1;
  let b2;

  before(async () => {
    hub = await Hub.start('app');
    hub.addUser('alice', 'alice-password');
    hub.addUser('carol', 'carol-password');
    b1 = await browser();
    b2 = await browser();
  });
  after(async () => {
    await b1?.close();
    await b2?.close();
    hub?.stop();
  });

  async function logIn(b, user, password) {
    const page = await b.page(httpRoot(hub.url));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.fill('#login-user', user);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector('#talk:not([hidden])');
    return page;
  }

  test('a wrong password is refused with the hub’s message', async () => {
    const page = await b1.page(httpRoot(hub.url));
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', 'nope');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0);
    assert.match(await page.textContent('#login-error'), /wrong user name or password/);
    await page.close();
  });

  test('log in, presence, chat, a file with accept and progress, a camera, the config file', async () => {
    const alice = await logIn(b1, 'alice', 'alice-password');
    const carol = await logIn(b2, 'carol', 'carol-password');
    assert.match(await alice.textContent('#whoami'), /^alice · web-/);

    // Each watches the other, and sees them online.
    for (const [page, other] of [[alice, 'carol'], [carol, 'alice']]) {
      await page.fill('#contact-name', other);
      await page.click('#contact-add');
      await page.waitForSelector(`#contacts li.online[data-user="${other}"]`);
    }

    // Chat.
    await alice.click('#contacts li[data-user="carol"]');
    await alice.fill('#chat-input', 'hello carol');
    await alice.click('#chat-send');
    await carol.waitForSelector('#chat-log .them:has-text("alice: hello carol")');
    await carol.click('#contacts li[data-user="alice"]');
    await carol.fill('#chat-input', 'hello alice');
    await carol.click('#chat-send');
    await alice.waitForSelector('#chat-log .them:has-text("carol: hello alice")');

    // A file: offered, accepted, done, with a link to save it.
    await alice.setInputFiles('#file-input', {
      name: 'report.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('quarterly numbers\n'.repeat(200000)),
    });
    await carol.waitForSelector('#transfers li button.accept');
    await carol.click('#transfers li button.accept');
    await carol.waitForSelector('#transfers li .meta:has-text("done")');
    await alice.waitForSelector('#transfers li .meta:has-text("done")');
    assert.equal(await carol.evaluate(() => document.querySelector('#transfers progress').value), 1);
    assert.match(await carol.textContent('#transfers li .actions'), /Save report\.txt/);

    // Another, saved into a folder carol picks (an OPFS folder stands in
    // for the native picker, which headless Chromium cannot show).
    await carol.evaluate(() => {
      window.showDirectoryPicker = async () =>
        (await navigator.storage.getDirectory()).getDirectoryHandle('picked-in-app', { create: true });
    });
    await alice.setInputFiles('#file-input', {
      name: 'minutes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('we met\n'.repeat(100000)),
    });
    await carol.waitForSelector('#transfers li:has-text("minutes.txt") button.accept-folder');
    await carol.click('#transfers li:has-text("minutes.txt") button.accept-folder');
    await carol.waitForSelector('#transfers li:has-text("minutes.txt") .meta:has-text("done")');
    const inFolder = await carol.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('picked-in-app');
      return (await (await dir.getFileHandle('minutes.txt')).getFile()).size;
    });
    assert.equal(inFolder, 'we met\n'.length * 100000);

    // A camera: carol sees alice's video.
    await alice.click('#call-start');
    await carol.waitForFunction(() => {
      const v = document.getElementById('remote-video');
      return v.srcObject && v.videoWidth > 0;
    });
    await alice.screenshot({ path: `${results}app.png` });
    await carol.screenshot({ path: `${results}app-receiver.png` });
    await alice.click('#call-stop');
    await carol.waitForFunction(() => document.getElementById('remote-video').srcObject === null);

    // The account page downloads a config file the `brume` command reads.
    await alice.click('#tab-account');
    const shown = await alice.textContent('#account-identity');
    assert.match(shown, /^([0-9A-F]{4} ){7}[0-9A-F]{4}$/, 'the identity key’s short form');
    const [download] = await Promise.all([alice.waitForEvent('download'), alice.click('#account-download')]);
    const path = await download.path();
    const conf = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(conf.user, 'alice');
    assert.equal(conf.url, hub.url);
    assert.match(conf.access_token, /^eyJ/);
    assert.match(conf.refresh_token, /^eyJ/);
  });
});

mkdirSync(results, { recursive: true });
