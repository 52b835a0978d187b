// A libwebrtc answerer that counts the bytes it receives on its data
// channels. Driven over stdin/stdout, one JSON object per line:
//
//   in:  {"offer": "<sdp>", "expect": N}   (expect is optional)
//   out: {"answer": "<sdp>"}               once ICE gathering is complete
//        {"received": N}                   every second while bytes arrive
//        {"done": N, "secs": t, "pauses": n, "longest_pause_ms": m}
//                                          once N >= expect; t from the first
//                                          byte; n pauses of >= 200 ms between
//                                          two messages, the longest m ms
//        {"received": N, "closed": true}   when a channel closes
//
// The answer carries only the UDP candidates on the offer's own addresses,
// so the path between the two is the one the offerer bound to.
// Exits on stdin EOF.

'use strict';

const readline = require('readline');
const { RTCPeerConnection } = require('@roamhq/wrtc');

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const PAUSE = 200_000_000n; // ns
let pc = null;

async function answer(offer, expect) {
  pc = new RTCPeerConnection({ iceServers: [] });
  let received = 0;
  let first = null;
  let last = null;
  let pauses = 0;
  let longest = 0n;
  let done = false;
  let reported = 0;

  const timer = setInterval(() => {
    if (received !== reported) {
      reported = received;
      out({ received });
    }
  }, 1000);

  pc.ondatachannel = ({ channel }) => {
    channel.binaryType = 'arraybuffer';
    channel.onmessage = ({ data }) => {
      const now = process.hrtime.bigint();
      if (first === null) first = now;
      // Ordered delivery pauses while a hole waits for its retransmission.
      if (last !== null) {
        const gap = now - last;
        if (gap >= PAUSE) pauses += 1;
        if (gap > longest) longest = gap;
      }
      last = now;
      received += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (!done && expect !== undefined && received >= expect) {
        done = true;
        const secs = Number(now - first) / 1e9;
        out({ done: received, secs, pauses, longest_pause_ms: Number(longest / 1000000n) });
      }
    };
    channel.onclose = () => {
      clearInterval(timer);
      out({ received, closed: true });
    };
  };

  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  // No trickling: the offerer reads one answer with every candidate in it.
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete') resolve();
      };
    });
  }
  out({ answer: onlyAddresses(pc.localDescription.sdp, offerAddresses(offer)) });
}

// The connection addresses of the offer's candidates.
function offerAddresses(sdp) {
  const addrs = new Set();
  for (const line of sdp.split(/\r?\n/)) {
    const m = line.match(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /);
    if (m) addrs.add(m[1]);
  }
  return addrs;
}

// Drops candidate lines that are not UDP on one of `addrs` (none given: keeps all).
function onlyAddresses(sdp, addrs) {
  if (addrs.size === 0) return sdp;
  return sdp
    .split('\r\n')
    .filter((line) => {
      const m = line.match(/^a=candidate:\S+ \d+ (\S+) \d+ (\S+) \d+ typ /);
      return !m || (m[1].toLowerCase() === 'udp' && addrs.has(m[2]));
    })
    .join('\r\n');
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (msg.offer !== undefined) {
    answer(msg.offer, msg.expect).catch((e) => {
      process.stderr.write(`sink: ${e.stack || e}\n`);
      process.exit(1);
    });
  }
});
rl.on('close', () => {
  if (pc) pc.close();
  // The native module keeps threads alive; leave explicitly.
  process.exit(0);
});
