// The web app the hub serves: log in with a password, watch people's
// presence, chat, send and receive files and folders, a video call, and
// an account page that downloads the config file for the `brume` command.
// Plain DOM, no framework; everything Brume does is the library's.

import { Brume } from '/brume.mjs';
import { opfsDir, pickFolder, sourceFromFiles } from '/storage-web.mjs';

const $ = (id) => document.getElementById(id);
const hubUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const CONFIG_KEY = 'brume.config';
const CONTACTS_KEY = 'brume.contacts';

let brume = null;
let config = null;
let selected = null;
let localStream = null;
const people = new Map();
const logs = new Map();

// ---- log in ----

function login(user, password) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${hubUrl}/login`);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'login', user, password }));
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      ws.close();
      if (msg.type === 'tokens') resolve(msg);
      else reject(new Error(msg.message || msg.code));
    };
    ws.onerror = () => reject(new Error('the hub could not be reached'));
  });
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('login-error').textContent = '';
  try {
    const tokens = await login($('login-user').value.trim(), $('login-password').value);
    config = { url: hubUrl, user: tokens.user, access_token: tokens.access_token, refresh_token: tokens.refresh_token };
    sessionStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    await begin();
  } catch (e) {
    $('login-error').textContent = e.message;
  }
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(CONFIG_KEY);
  brume?.stop();
  location.reload();
});

async function begin() {
  brume = new Brume();
  // One device per tab, kept across reloads of the tab.
  let device = sessionStorage.getItem('brume.device');
  if (!device) {
    device = `web-${Math.random().toString(36).slice(2, 10)}`;
    sessionStorage.setItem('brume.device', device);
  }
  brume.on('reauth', (c) => {
    if (!c) {
      // The hub refused our tokens (revoked, or a new password): log in again.
      $('hub-state').textContent = 'hub: log in again';
      sessionStorage.removeItem(CONFIG_KEY);
      return;
    }
    config = { ...config, access_token: c.token };
    sessionStorage.setItem(CONFIG_KEY, JSON.stringify(config));
  });
  brume.on('serverclose', () => ($('hub-state').textContent = 'hub: reconnecting…'));
  brume.on('serveropen', () => {
    $('hub-state').textContent = 'hub: online';
    watch([...people.keys()]);
  });
  brume.on('presence', (p) => {
    people.set(p.user, p);
    renderPeople();
  });
  brume.on('offer', (t) => showIncoming(t));
  brume.onconnection(async ({ peer, accept }) => {
    wirePeer(peer);
    await accept();
    note(peer.user, 'connected');
    refreshControls();
  });
  await brume.start({ ...config, device });
  $('login').hidden = true;
  $('nav').hidden = false;
  $('talk').hidden = false;
  $('whoami').textContent = `${brume.thisUser()} · ${brume.thisDevice()}`;
  $('hub-state').textContent = 'hub: online';
  $('account-user').textContent = brume.thisUser();
  $('account-hub').textContent = hubUrl;
  $('account-device').textContent = brume.thisDevice();
  $('account-identity').textContent = brume.identity ? Brume.shortForm(brume.identity) : 'none';
  watch(JSON.parse(localStorage.getItem(CONTACTS_KEY) || '[]'));
}

// ---- people and presence ----

function watch(users) {
  users = users.filter((u) => u && u !== brume.thisUser());
  for (const u of users) if (!people.has(u)) people.set(u, { user: u, online: false, devices: [] });
  localStorage.setItem(CONTACTS_KEY, JSON.stringify([...people.keys()]));
  renderPeople();
  if (users.length) brume.subscribe(users);
}

$('contact-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('contact-name').value.trim().toLowerCase();
  if (name) watch([name]);
  $('contact-name').value = '';
});

function renderPeople() {
  const ul = $('contacts');
  ul.replaceChildren();
  for (const p of [...people.values()].sort((a, b) => (a.user < b.user ? -1 : 1))) {
    const li = document.createElement('li');
    li.dataset.user = p.user;
    li.className = `${p.online ? 'online' : ''} ${selected === p.user ? 'selected' : ''}`;
    const dot = document.createElement('span');
    dot.className = 'dot';
    const name = document.createElement('span');
    name.textContent = p.user;
    const devices = document.createElement('span');
    devices.className = 'devices';
    devices.textContent = p.online ? `${p.devices.length} online` : 'offline';
    li.append(dot, name, devices);
    li.addEventListener('click', () => select(p.user));
    ul.append(li);
  }
}

function select(user) {
  selected = user;
  $('peer-title').textContent = user;
  renderPeople();
  renderLog();
  refreshControls();
}

// ---- peers, chat ----

function peerOf(user) {
  return [...brume.peers.values()].find((p) => p.user === user && p.connected) ?? null;
}

async function ensurePeer(user) {
  const peer = peerOf(user);
  if (peer) return peer;
  const fresh = await brume.connect(user);
  wirePeer(fresh);
  note(user, 'connected');
  return fresh;
}

function wirePeer(peer) {
  if (peer.wired) return;
  peer.wired = true;
  peer.on('data', (bytes) => {
    try {
      const { type, data } = Brume.decodeMsg(bytes);
      if (type === 'chat' && typeof data === 'string') line(peer.user, peer.user, data, 'them');
    } catch {
      // Not a Brume message: nothing to show.
    }
  });
  peer.on('stream', (stream) => {
    $('remote-video').srcObject = stream;
  });
  peer.on('removetrack', (_track, stream) => {
    if (stream.getTracks().length === 0) $('remote-video').srcObject = null;
  });
  peer.on('close', () => {
    note(peer.user, 'disconnected');
    refreshControls();
  });
}

function line(user, who, text, cls) {
  if (!logs.has(user)) logs.set(user, []);
  logs.get(user).push({ who, text, cls });
  if (user === selected) renderLog();
  else if (!selected) select(user);
}

function note(user, text) {
  line(user, '', text, 'note');
}

function renderLog() {
  const log = $('chat-log');
  log.replaceChildren();
  for (const { who, text, cls } of logs.get(selected) ?? []) {
    const div = document.createElement('div');
    div.className = `line ${cls}`;
    div.textContent = who ? `${who}: ${text}` : text;
    log.append(div);
  }
  log.scrollTop = log.scrollHeight;
}

function refreshControls() {
  const on = !!selected;
  for (const id of ['chat-input', 'chat-send', 'file-input', 'folder-input', 'call-start']) $(id).disabled = !on;
  $('call-stop').disabled = !localStream;
}

$('chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('chat-input').value;
  if (!text || !selected) return;
  $('chat-input').value = '';
  const user = selected;
  try {
    const peer = await ensurePeer(user);
    await peer.send(Brume.encodeMsg({ type: 'chat', data: text }));
    line(user, brume.thisUser(), text, 'me');
  } catch (e) {
    note(user, `not sent (${e.code ?? e.message})`);
  }
});

// ---- files ----

async function sendFiles(files) {
  if (!files.length || !selected) return;
  const user = selected;
  try {
    const peer = await ensurePeer(user);
    const t = brume.transfers.send(peer, sourceFromFiles(files));
    showTransfer(t, `to ${user}`, false);
  } catch (e) {
    note(user, `files not sent (${e.code ?? e.message})`);
  }
}

$('file-input').addEventListener('change', (ev) => {
  sendFiles([...ev.target.files]);
  ev.target.value = '';
});
$('folder-input').addEventListener('change', (ev) => {
  sendFiles([...ev.target.files]);
  ev.target.value = '';
});

function human(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function showTransfer(t, who, incoming) {
  const li = document.createElement('li');
  li.className = 'transfer';
  li.dataset.id = t.id;
  const name = document.createElement('div');
  name.className = 'name';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  const actions = document.createElement('div');
  actions.className = 'actions';
  li.append(name, meta, bar, actions);
  $('transfers').prepend(li);
  const render = () => {
    name.textContent = t.name || '…';
    meta.textContent = `${who} · ${human(t.total)} · ${t.state}`;
  };
  const button = (label, cls, fn) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.className = cls;
    b.addEventListener('click', fn);
    actions.append(b);
    return b;
  };
  const cancel = button('Cancel', 'cancel secondary', () => t.cancel());
  if (incoming) {
    cancel.hidden = true;
    button('Accept', 'accept', async () => {
      actions.replaceChildren(cancel);
      cancel.hidden = false;
      t.accept(await opfsDir('downloads')).catch(() => {});
      render();
    });
    // Where the browser lets the user pick a folder (File System Access
    // API), files may go straight there; partial files wait in OPFS.
    if (typeof window.showDirectoryPicker === 'function') {
      button('Save to folder…', 'accept-folder secondary', async () => {
        let target;
        try {
          target = await pickFolder();
        } catch {
          return; // The user closed the picker: still undecided.
        }
        actions.replaceChildren(cancel);
        cancel.hidden = false;
        pickedFor.add(t);
        t.accept(target).catch(() => {});
        render();
      });
    }
    button('Reject', 'reject secondary', () => t.reject('declined'));
  }
  t.on('progress', ({ done, total }) => {
    bar.value = total ? done / total : 1;
    render();
  });
  t.on('done', async (saved) => {
    bar.value = 1;
    render();
    actions.replaceChildren();
    if (incoming && !pickedFor.has(t)) {
      for (const path of saved ?? []) actions.append(await downloadLink(path));
    }
  });
  t.on('cancelled', (reason) => {
    render();
    meta.textContent += ` — ${reason}`;
    actions.replaceChildren();
  });
  render();
}

/** Incoming transfers saved into a folder the user picked (no link needed). */
const pickedFor = new WeakSet();

function showIncoming(t) {
  showTransfer(t, `from ${t.peer.user}`, true);
}

/** A link that saves a received file (it stays on disk, in the origin's storage). */
async function downloadLink(path) {
  let dir = await opfsDir('downloads');
  const parts = path.split('/');
  for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p);
  const file = await (await dir.getFileHandle(parts[parts.length - 1])).getFile();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(file);
  a.download = parts[parts.length - 1];
  a.textContent = `Save ${path}`;
  a.className = 'button secondary';
  return a;
}

// ---- video ----

$('call-start').addEventListener('click', async () => {
  const user = selected;
  try {
    const peer = await ensurePeer(user);
    localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    $('local-video').srcObject = localStream;
    peer.addStream(localStream);
    refreshControls();
  } catch (e) {
    note(user, `no call (${e.code ?? e.message})`);
  }
});

$('call-stop').addEventListener('click', () => {
  const peer = selected && peerOf(selected);
  if (localStream) {
    peer?.removeStream(localStream);
    for (const t of localStream.getTracks()) t.stop();
  }
  localStream = null;
  $('local-video').srcObject = null;
  refreshControls();
});

// ---- account ----

for (const [tab, section] of [['tab-talk', 'talk'], ['tab-account', 'account']]) {
  $(tab).addEventListener('click', () => {
    for (const s of ['talk', 'account']) $(s).hidden = s !== section;
    for (const t of ['tab-talk', 'tab-account']) $(t).classList.toggle('active', t === tab);
  });
}

$('account-download').addEventListener('click', () => {
  const file = { url: config.url, user: config.user, access_token: config.access_token, refresh_token: config.refresh_token };
  const blob = new Blob([`${JSON.stringify(file, null, 2)}\n`], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'brume.conf';
  a.click();
  URL.revokeObjectURL(a.href);
});

// A reloaded tab logs in again with the tokens it had.
const saved = sessionStorage.getItem(CONFIG_KEY);
if (saved) {
  config = JSON.parse(saved);
  begin().catch(() => sessionStorage.removeItem(CONFIG_KEY));
}
