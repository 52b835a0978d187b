// A Node client in its own process, for tests that stop it (SIGSTOP):
// connects to `argv[3]` as the user of config `argv[2]`, then sends each
// line of its stdin as a chat message. Prints `connected`, and `answered
// restart` when it answers an ICE restart through the hub.
import { createInterface } from 'node:readline';
import { Brume } from '../brume.mjs';
import { nodeClient, tappedWebSocket } from './helpers.mjs';

const [conf, to] = process.argv.slice(2);
const tap = tappedWebSocket();
const brume = await nodeClient(conf, {}, { WebSocket: tap.WebSocket });
const peer = await brume.connect(to);
const restarts = new Set();
setInterval(() => {
  for (const m of tap.got) {
    if (m.type === 'offer' && m.restart && !restarts.has(m.attempt)) {
      const answered = tap.sent.some((s) => s.type === 'answer' && s.attempt === m.attempt);
      if (answered) {
        restarts.add(m.attempt);
        console.log('answered restart');
      }
    }
  }
}, 20);
peer.on('reconnected', () => console.log('reconnected'));
console.log('connected');
for await (const line of createInterface({ input: process.stdin })) {
  await peer.send(Brume.encodeMsg({ type: 'chat', data: line }));
  console.log(`sent ${line}`);
}
brume.stop();
process.exit(0);
