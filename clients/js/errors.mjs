// Seed 000's error codes and the protocol's (docs/PROTOCOL.md, "Error
// codes"): a BrumeError carries the wire string in `code`.

export class BrumeError extends Error {
  constructor(code, message = code) {
    super(message);
    this.name = 'BrumeError';
    this.code = code;
  }
}

/** Close reasons after which the client must not reconnect on its own. */
export const FINAL_CLOSE_REASONS = new Set([
  'replaced',
  'user_removed',
  'auth_failed',
  'version',
  'client',
]);
