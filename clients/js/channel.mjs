// Sending on a data channel without overflowing it: messages wait in our
// own queue while the channel's bufferedAmount is above a high mark, and
// go out as it drains. libwebrtc fails a send ("send queue is full") or
// closes the channel once too much is buffered; this never lets it.
// node-wrtc fires no 'bufferedamountlow', so a timer polls as well.

const HIGH = 1024 * 1024;
const LOW = 256 * 1024;
const POLL_MS = 5;

/**
 * Calls `fn` once `dc` is open. node-wrtc does not always fire 'open' on
 * channels opened after the connection, so its readyState is polled too.
 */
export function whenOpen(dc, fn) {
  let done = false;
  const fire = () => {
    if (done) return;
    done = true;
    clearInterval(timer);
    fn();
  };
  dc.onopen = fire;
  const timer = setInterval(() => {
    if (dc.readyState === 'open') fire();
    else if (dc.readyState === 'closed') clearInterval(timer);
  }, 10);
  if (dc.readyState === 'open') queueMicrotask(fire);
}

export class PacedChannel {
  #dc;
  #queue = [];
  #queued = 0;
  #poll = null;
  #closed = false;

  constructor(dc) {
    this.#dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW;
    dc.addEventListener?.('bufferedamountlow', () => this.#drain());
    if (!dc.addEventListener) dc.onbufferedamountlow = () => this.#drain();
  }

  get channel() {
    return this.#dc;
  }

  /** Bytes waiting here and in the channel. */
  get bufferedAmount() {
    return this.#queued + (this.#dc.bufferedAmount || 0);
  }

  /** Queues `bytes`; resolves once they are handed to the channel. */
  send(bytes) {
    if (this.#closed || this.#dc.readyState === 'closed' || this.#dc.readyState === 'closing') {
      return Promise.reject(new Error('the channel is closed'));
    }
    if (this.#queue.length === 0 && this.#dc.readyState === 'open' && this.#dc.bufferedAmount < HIGH) {
      this.#dc.send(bytes);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject });
      this.#queued += bytes.byteLength;
      this.#schedule();
    });
  }

  /** Resolves once our queue is empty and the channel holds at most `below` bytes. */
  async drained(below = LOW) {
    while (!this.#closed && (this.#queue.length > 0 || this.#dc.bufferedAmount > below)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Called once the channel opens, and whenever room may have come. */
  kick() {
    this.#drain();
  }

  close(err = new Error('the channel is closed')) {
    this.#closed = true;
    clearTimeout(this.#poll);
    for (const m of this.#queue) m.reject(err);
    this.#queue = [];
    this.#queued = 0;
  }

  #schedule() {
    if (this.#poll === null) this.#poll = setTimeout(() => {
      this.#poll = null;
      this.#drain();
    }, POLL_MS);
  }

  #drain() {
    if (this.#closed || this.#dc.readyState !== 'open') {
      if (this.#queue.length) this.#schedule();
      return;
    }
    while (this.#queue.length > 0 && this.#dc.bufferedAmount < HIGH) {
      const m = this.#queue.shift();
      this.#queued -= m.bytes.byteLength;
      try {
        this.#dc.send(m.bytes);
        m.resolve();
      } catch (e) {
        m.reject(e);
      }
    }
    if (this.#queue.length > 0) this.#schedule();
  }
}
