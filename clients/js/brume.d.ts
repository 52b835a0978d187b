// Types for brume.mjs, Brume's JavaScript client.

export type ErrorCode =
  | 'ENODEST' | 'EBADDEST' | 'EOFFERTIMEOUT' | 'ENOSRV' | 'ESERVER'
  | 'EREJECTED' | 'ECANCELLED' | 'ENEGOTIATION' | 'ECONNREFUSED'
  | 'ETOKENMISSING' | 'ETOKENEXPIRED' | 'ETOKENINVALID' | 'EVERSION'
  | 'ELIMIT' | 'EFULL' | 'ENOTMEMBER' | 'EATTEMPTLIMIT' | 'ETOOBIG'
  | 'EBADMSG' | 'ENOATTEMPT' | 'ERATELIMIT' | 'ENOAUTH' | string;

export class BrumeError extends Error {
  readonly code: ErrorCode;
}

export interface BrumeOptions {
  /** `@roamhq/wrtc` in Node; the browser's globals otherwise. */
  wrtc?: { RTCPeerConnection: typeof RTCPeerConnection };
  /** `ws` in Node; the browser's WebSocket otherwise. */
  WebSocket?: unknown;
  iceServers?: RTCIceServer[];
  /** How long ICE may stay `disconnected` before this side (if it sorts
   * first) restarts it through the hub, in ms (default 2000). */
  iceRestartAfter?: number;
  /** This device's long-term ed25519 identity key, which signs every offer
   * and answer (`a=brume-identity`), so Rust peers pin it: a key file's
   * path (Node; 64 hex digits, made if missing), a 32-byte seed, a
   * CryptoKeyPair, or `false` for none. By default a browser keeps a
   * non-extractable key in IndexedDB, and Node has none. */
  identity?: string | Uint8Array | CryptoKeyPair | false;
}

export interface StartOptions {
  /** The hub's URL, `ws://host:port` or `wss://…`. */
  url: string;
  /** The access token (or `access_token`, as in a config file). */
  token?: string;
  access_token?: string;
  /** The refresh token (or `refresh_token`). */
  refreshToken?: string;
  refresh_token?: string;
  /** This session's device; a fresh `node-…`/`web-…` name by default. */
  device?: string;
  /** Whether this session takes calls (default true). */
  calls?: boolean;
}

export interface Msg {
  type: string;
  data: string | Uint8Array;
}

export interface Presence {
  user: string;
  online: boolean;
  devices: string[];
}

export interface Connection {
  peer: Peer;
  /** Answers the offer; resolves once the data channel is open. */
  accept(): Promise<Peer>;
  /** Declines the offer; the caller hears EREJECTED with `reason`. */
  reject(reason?: string): void;
}

export class Brume {
  constructor(options?: BrumeOptions);
  static encodeMsg(msg: Msg): Uint8Array;
  static decodeMsg(msg: Uint8Array | ArrayBuffer): Msg;
  /** A key's short form (its first 16 bytes in groups of four hex digits), as `brume verify` prints. */
  static shortForm(keyHex: string): string;
  start(config: StartOptions): Promise<void>;
  /** This device's identity key (32 bytes, hex) once started; null without one. */
  readonly identity: string | null;
  connect(name: string): Promise<Peer>;
  /** Sends to a name, connecting on demand; concurrent sends share one attempt. */
  send(name: string, data: Uint8Array | ArrayBuffer | string): Promise<Peer>;
  onconnection(handler: (conn: Connection) => void): void;
  thisUser(): string | null;
  thisDevice(): string | null;
  thisId(): string;
  subscribe(users: string[]): void;
  /** Serves an RPC module; a throw answers 'failed'. */
  module(name: string, handler: (call: { request: any; peer: Peer }) => any | Promise<any>): void;
  unmodule(name: string): void;
  /** The open peers '*', a user, or 'user/device' names (BoneValue's get). */
  get(query: string): Recipients;
  stop(): void;
  readonly peers: Map<string, Peer>;
  /** The ICE servers new connections use (with the hub's TURN server, once it sent one). */
  readonly iceServers: RTCIceServer[];
  readonly transfers: Transfers;
  on(event: 'serverclose', fn: (info: { reason: string }) => void): this;
  on(event: 'serveropen', fn: () => void): this;
  /** A refresh went through: `config` holds the new access token (the
   * client refreshes a minute ahead of `exp`, or halfway through a token
   * of under two minutes). A refresh the hub refused, or tokens refused on
   * reconnecting: `config` is null and `error` says why; log in again. */
  on(event: 'reauth', fn: (config: (StartOptions & { token: string }) | null, error?: BrumeError) => void): this;
  on(event: 'presence', fn: (p: Presence) => void): this;
  /** The hub's TURN server and credentials for this session. */
  on(event: 'turn', fn: (server: RTCIceServer) => void): this;
  on(event: 'error' | 'hub-error', fn: (e: BrumeError) => void): this;
  on(event: 'offer', fn: (t: IncomingTransfer) => void): this;
  on(event: string, fn: (...args: any[]) => void): this;
  once(event: string, fn: (...args: any[]) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;
}

export class RpcError extends Error {
  readonly kind: 'no_module' | 'failed' | 'timeout' | 'peer_gone';
}

/** One recipient's outcome in a broadcast. */
export interface RecipientResult {
  peer: string;
  ok?: any;
  error?: Error;
}

export interface Recipients {
  readonly peers: string[];
  request(module: string, payload?: any, options?: { timeout?: number }): Promise<RecipientResult[]>;
  send(data: Uint8Array | ArrayBuffer | string): Promise<RecipientResult[]>;
}

export class Peer {
  /** The far session, `user/device`. */
  readonly id: string;
  readonly user: string;
  readonly connected: boolean;
  readonly destroyed: boolean;
  readonly pc: RTCPeerConnection;
  /** Bytes waiting to go out on the main channel (ours and the channel's). */
  readonly bufferedAmount: number;
  /** Sends raw bytes; resolves once they are handed to the channel. */
  send(data: Uint8Array | ArrayBuffer | string): Promise<void>;
  /** Asks the far side's RPC module; rejects with an RpcError. */
  request(module: string, payload?: any, options?: { timeout?: number }): Promise<any>;
  drained(): Promise<void>;
  /** Restarts ICE through the hub on this same connection (new ICE
   * credentials and candidates; channels, transfers and tracks carry on).
   * Resolves once ICE is connected again; a restart under way is shared. */
  restartIce(): Promise<void>;
  /** Whether a restart of ours waits for its answer or its path. */
  readonly restarting: boolean;
  /** Whether this side restarts ICE by itself when the path is lost (it
   * sorts first, by user then device). */
  readonly restartInitiator: boolean;
  addStream(stream: MediaStream): void;
  removeStream(stream: MediaStream): void;
  addTrack(track: MediaStreamTrack, stream: MediaStream): void;
  removeTrack(track: MediaStreamTrack): void;
  close(): void;
  destroy(err?: Error): void;
  on(event: 'connect' | 'close', fn: () => void): this;
  on(event: 'data', fn: (data: Uint8Array) => void): this;
  on(event: 'stream', fn: (stream: MediaStream) => void): this;
  on(event: 'track' | 'removetrack', fn: (track: MediaStreamTrack, stream: MediaStream) => void): this;
  on(event: 'error', fn: (e: Error) => void): this;
  /** The path went quiet (ICE disconnected or failed); 'reconnected' when
   * it is back, 'close' 30 s after the loss. 'restarting' when an ICE
   * restart of ours begins (on its own after `iceRestartAfter`, at once on
   * `failed`, or `restartIce()`), 'restarted' once it is through. */
  on(event: 'reconnecting' | 'reconnected' | 'restarting' | 'restarted', fn: () => void): this;
  on(event: string, fn: (...args: any[]) => void): this;
  once(event: string, fn: (...args: any[]) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;
}

/** One entry of a transfer's offer. */
export interface Entry {
  path: string;
  kind: 'file' | 'dir';
  size: number;
  mtime: number;
  hash?: string;
  executable?: boolean;
}

export interface Progress {
  done: number;
  total: number;
}

export class Transfer {
  readonly id: string;
  readonly peer: Peer;
  readonly name: string;
  readonly total: number;
  readonly entries: Entry[];
  /** Resolves with the saved paths (receiver) or nothing (sender) when done. */
  readonly finished: Promise<unknown>;
  cancel(reason?: string): void;
  /** 'inviting' → 'connecting' → 'connected' → 'done', or 'cancelled'. */
  readonly state: string;
  on(event: 'progress', fn: (p: Progress) => void): this;
  /** Receiver: the verified bytes kept from an earlier transfer of the same content. */
  on(event: 'resumed', fn: (p: Progress) => void): this;
  on(event: 'done', fn: (result?: unknown) => void): this;
  on(event: 'cancelled', fn: (reason: string) => void): this;
  on(event: string, fn: (...args: any[]) => void): this;
}

export class IncomingTransfer extends Transfer {
  /** Accepts into a sink: a folder path in Node; in browsers a directory
   * handle (partial files beside the final ones, as in OPFS), or what
   * pickFolder()/pickFile() return (partial files in OPFS until verified).
   * Resolves with the saved paths. */
  accept(sink: unknown): Promise<string[]>;
  reject(reason?: string): void;
}

export class Transfers {
  /** Offers files or folders to `peer` (paths in Node; File/handles in browsers). */
  send(peer: Peer, source: unknown): Transfer;
}

/** storage-web.mjs: browser sources and sinks. */
export declare function sourceFromFiles(files: File[] | FileList, name?: string): unknown;
export declare function opfsDir(sub?: string): Promise<FileSystemDirectoryHandle>;
export declare function sinkFromHandle(dir: FileSystemDirectoryHandle): unknown;
/** Where partial files for picked folders and files wait, under OPFS's root. */
export declare const PARTS_DIR: 'brume-parts';
/** A handle the user picked (a folder, or a file for a single-file transfer). */
export interface Picked {
  picked: FileSystemDirectoryHandle | FileSystemFileHandle;
}
/** showDirectoryPicker (read-write), for IncomingTransfer.accept. */
export declare function pickFolder(options?: object): Promise<Picked>;
/** showSaveFilePicker, for a transfer of one file. */
export declare function pickFile(suggestedName?: string, options?: object): Promise<Picked>;
export declare function picked(handle: FileSystemDirectoryHandle | FileSystemFileHandle): Picked;
