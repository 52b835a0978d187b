// A libwebrtc answerer that opens and closes data channels in a tight loop,
// the way a browser reuses SCTP stream ids: each channel is opened as soon
// as the one before it has closed, so libwebrtc hands out the id it just
// freed. Driven over stdin/stdout, one JSON object per line:
//
//   in:  {"offer": "<sdp>", "rounds": N, "closer": "local"|"remote"|"both",
//         "tail": T}
//   out: {"answer": "<sdp>"}              once ICE gathering is complete
//        {"open": k, "id": stream id}      channel k is open here
//        {"echo": k}                       the offerer echoed channel k's message
//        {"closed": k, "id": stream id}    channel k closed here
//        {"done": N}                       every round went through
//        {"stuck": k, "state": s, "id": i} round k made no progress for 5 s
//
// Each round: open channel `c<k>`, send "ping <k>" and T more messages on
// it, wait for the offerer to echo the first, then close it ("local": this
// side closes on the echo; "remote": the offerer is expected to close after
// echoing; "both": both do). The next round starts once the channel is
// closed here. Exits on stdin EOF.

'use strict';

const readline = require('readline');
const { RTCPeerConnection } = require('@roamhq/wrtc');

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let pc = null;

async function answer(offer, rounds, closer, tail) {
  pc = new RTCPeerConnection({ iceServers: [] });
  let started = false;
  pc.ondatachannel = ({ channel }) => {
    // The offerer's own channel opening means SCTP is up: start the rounds.
    if (!started) {
      started = true;
      round(0, rounds, closer, channel, tail);
    }
  };
  await pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((resolve) => {
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete') resolve();
      };
    });
  }
  out({ answer: onlyAddresses(pc.localDescription.sdp, offerAddresses(offer)) });
}

// node-wrtc does not always fire `open` and `close` on channels this side
// creates (readyState changes, the event never comes), so a 1 ms poll of
// readyState drives each round.
function round(k, rounds, closer, main, tail) {
  if (k === rounds) {
    out({ done: rounds });
    return;
  }
  const ch = pc.createDataChannel(`c${k}`);
  let state = 'opening';
  const started = Date.now();
  ch.onmessage = () => {
    state = 'echoed';
    out({ echo: k });
    if (closer === 'local' || closer === 'both') ch.close();
  };
  const poll = setInterval(() => {
    if (state === 'opening' && ch.readyState === 'open') {
      state = 'open';
      out({ open: k, id: ch.id });
      ch.send(`ping ${k}`);
      // More behind it: still arriving when a side that closes on the first reads them.
      try {
        for (let n = 0; n < tail; n++) ch.send(`tail ${k} ${n}`);
      } catch (e) {
        // The offerer may have closed it already.
      }
    } else if (ch.readyState === 'closed') {
      clearInterval(poll);
      out({ closed: k, id: ch.id });
      round(k + 1, rounds, closer, main, tail);
    } else if (Date.now() - started > 5000) {
      clearInterval(poll);
      out({ stuck: k, state, id: ch.id });
    }
  }, 1);
}

function offerAddresses(sdp) {
  const addrs = new Set();
  for (const line of sdp.split(/\r?\n/)) {
    const m = line.match(/^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /);
    if (m) addrs.add(m[1]);
  }
  return addrs;
}

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
    answer(msg.offer, msg.rounds || 20, msg.closer || "local", msg.tail || 0).catch((e) => {
      process.stderr.write(`churn: ${e.stack || e}\n`);
      process.exit(1);
    });
  }
});
rl.on('close', () => {
  if (pc) pc.close();
  process.exit(0);
});
