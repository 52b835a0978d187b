// libwebrtc to libwebrtc in one process: the reference figure.
//
//   node loop.js [MiB]     (default 256)
//
// One ordered, reliable data channel; the sender writes 16 KiB messages the
// usual browser way: it fills up to HIGH bytes buffered and refills once
// `bufferedAmount` is down to LOW. node-wrtc has no `bufferedamountlow` event
// (nor `bufferedAmountLowThreshold`), so `bufferedAmount` is polled every
// millisecond instead. It counts only what libwebrtc's SCTP (dcSCTP) has not
// yet taken: dcSCTP keeps its own send queue of about 2 MB in front of it.
// Prints one JSON line:
//   {"bytes": N, "secs": t, "mibps": x, "high": HIGH, "low": LOW}
// with t from the first write to the last byte received.

'use strict';

const { RTCPeerConnection } = require('@roamhq/wrtc');

const MSG = 16 * 1024;
const HIGH = 1024 * 1024;
const LOW = 256 * 1024;
const total = Number(process.argv[2] || 256) * 1024 * 1024;

async function main() {
  const a = new RTCPeerConnection({ iceServers: [] });
  const b = new RTCPeerConnection({ iceServers: [] });
  // Candidates go straight across; both sides gather loopback here too.
  a.onicecandidate = ({ candidate }) => candidate && b.addIceCandidate(candidate);
  b.onicecandidate = ({ candidate }) => candidate && a.addIceCandidate(candidate);

  const channel = a.createDataChannel('bench', { ordered: true });
  channel.binaryType = 'arraybuffer';

  let received = 0;
  let start = null;
  const finished = new Promise((resolve) => {
    b.ondatachannel = ({ channel: rx }) => {
      rx.binaryType = 'arraybuffer';
      rx.onmessage = ({ data }) => {
        received += data.byteLength;
        if (received >= total) resolve();
      };
    };
  });

  const msg = new Uint8Array(MSG);
  let sent = 0;
  const fill = () => {
    if (channel.bufferedAmount <= LOW) {
      while (sent < total && channel.bufferedAmount + MSG <= HIGH) {
        channel.send(msg);
        sent += MSG;
      }
    }
    if (sent < total) setTimeout(fill, 1);
  };
  channel.onopen = () => {
    start = process.hrtime.bigint();
    fill();
  };

  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);

  await finished;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const mibps = total / (1024 * 1024) / secs;
  process.stdout.write(JSON.stringify({ bytes: total, secs, mibps, high: HIGH, low: LOW }) + '\n');
  a.close();
  b.close();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`loop: ${e.stack || e}\n`);
  process.exit(1);
});
