// Type definitions for websocket-rs: the module surface of `websocket` (WebSocket-Node 1.0.35).
/// <reference types="node" />

import { EventEmitter } from 'events';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as url from 'url';

export interface IConfig {
  maxReceivedFrameSize?: number;
  maxReceivedMessageSize?: number;
  fragmentOutgoingMessages?: boolean;
  fragmentationThreshold?: number;
  assembleFragments?: boolean;
  closeTimeout?: number;
  disableNagleAlgorithm?: boolean;
}

export interface IServerConfig extends IConfig {
  httpServer: http.Server | https.Server | Array<http.Server | https.Server>;
  keepalive?: boolean;
  keepaliveInterval?: number;
  dropConnectionOnKeepaliveTimeout?: boolean;
  keepaliveGracePeriod?: number;
  useNativeKeepalive?: boolean;
  autoAcceptConnections?: boolean;
  ignoreXForwardedFor?: boolean;
  parseCookies?: boolean;
  parseExtensions?: boolean;
}

export interface IClientConfig extends IConfig {
  webSocketVersion?: number;
  tlsOptions?: https.RequestOptions;
}

export interface IUtf8Message {
  type: 'utf8';
  utf8Data: string;
}

export interface IBinaryMessage {
  type: 'binary';
  binaryData: Buffer;
}

export type Message = IUtf8Message | IBinaryMessage;

export interface ICookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  expires?: Date;
  maxage?: number;
  secure?: boolean;
  httponly?: boolean;
}

export interface IExtension {
  name: string;
  params: Array<{ name: string; value: string }>;
}

/** `connection.socket` once Rust owns the socket (see the README). */
export interface IAdoptedSocket extends EventEmitter {
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
  localAddress?: string;
  localPort?: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  encrypted: boolean;
  setNoDelay(noDelay?: boolean): this;
  setKeepAlive(enable?: boolean, initialDelay?: number): this;
  setTimeout(timeout: number, callback?: () => void): this;
  address(): { address?: string; family?: string; port?: number };
  end(): this;
  destroy(): this;
  pause(): this;
  resume(): this;
}

export declare class frame {
  constructor(maskBytes?: Buffer, frameHeader?: Buffer, config?: IConfig);
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  mask: boolean | number;
  opcode: number;
  length: number;
  binaryPayload: Buffer;
  closeStatus: number;
  maskBytes: Buffer;
  frameHeader: Buffer;
  config: IConfig;
  maxReceivedFrameSize: number;
  protocolError: boolean;
  frameTooLarge: boolean;
  invalidCloseFrameLength: boolean;
  dropReason?: string;
  parseState: number;
  /** Parses as much of one frame as `bufferList` holds; true when complete or invalid. */
  addData(bufferList: { length: number; take(n: number): Buffer; advance(n: number): void }): boolean;
  throwAwayPayload(bufferList: { length: number; advance(n: number): void }): boolean;
  /** The frame's exact wire bytes; with `nullMask` a masked frame uses the key 0. */
  toBuffer(nullMask?: boolean): Buffer;
  toString(): string;
}

export declare class connection extends EventEmitter {
  static CLOSE_REASON_NORMAL: number;
  static CLOSE_REASON_GOING_AWAY: number;
  static CLOSE_REASON_PROTOCOL_ERROR: number;
  static CLOSE_REASON_UNPROCESSABLE_INPUT: number;
  static CLOSE_REASON_RESERVED: number;
  static CLOSE_REASON_NOT_PROVIDED: number;
  static CLOSE_REASON_ABNORMAL: number;
  static CLOSE_REASON_INVALID_DATA: number;
  static CLOSE_REASON_POLICY_VIOLATION: number;
  static CLOSE_REASON_MESSAGE_TOO_BIG: number;
  static CLOSE_REASON_EXTENSION_REQUIRED: number;
  static CLOSE_REASON_INTERNAL_SERVER_ERROR: number;
  static CLOSE_REASON_TLS_HANDSHAKE_FAILED: number;
  static CLOSE_DESCRIPTIONS: { [code: number]: string };

  constructor(socket: net.Socket, extensions: IExtension[], protocol: string | undefined,
    maskOutgoingPackets: boolean, config: IConfig);
  closeReasonCode: number;
  closeDescription: string | null;
  socket: IAdoptedSocket | net.Socket;
  protocol: string | undefined;
  extensions: IExtension[];
  remoteAddress: string;
  remoteAddresses?: string[];
  webSocketVersion: number;
  connected: boolean;
  state: 'open' | 'ending' | 'peer_requested_close' | 'closed';
  outputBufferFull: boolean;
  /** Bytes queued and not yet written to the socket. */
  readonly bufferedAmount: number;
  config: IConfig;

  close(reasonCode?: number, description?: string): void;
  drop(reasonCode?: number, description?: string, skipCloseFrame?: boolean): void;
  sendUTF(data: string | { toString(): string }, cb?: (err?: Error) => void): boolean;
  sendBytes(buffer: Buffer, cb?: (err?: Error) => void): boolean;
  send(data: Buffer | string | { toString(): string }, cb?: (err?: Error) => void): void;
  ping(data?: Buffer | string | number): void;
  pong(binaryPayload?: Buffer): void;
  sendFrame(frame: frame, cb?: (err?: Error) => void): boolean;
  pause(): void;
  resume(): void;

  on(event: 'message', cb: (message: Message) => void): this;
  on(event: 'frame', cb: (frame: frame) => void): this;
  on(event: 'close', cb: (code: number, desc: string) => void): this;
  on(event: 'error', cb: (err: Error) => void): this;
  on(event: 'ping', cb: (cancel: () => void, binaryPayload: Buffer) => void): this;
  on(event: 'pong', cb: (binaryPayload: Buffer) => void): this;
  on(event: 'drain' | 'pause' | 'resume', cb: () => void): this;
  on(event: string | symbol, cb: (...args: any[]) => void): this;
}

export declare class request extends EventEmitter {
  constructor(socket: net.Socket, httpRequest: http.IncomingMessage, serverConfig: IServerConfig);
  httpRequest: http.IncomingMessage;
  socket: net.Socket;
  host: string;
  resource: string;
  resourceURL: url.UrlWithParsedQuery;
  key: string;
  remoteAddress: string;
  remoteAddresses: string[];
  webSocketVersion: number;
  origin: string | undefined;
  requestedProtocols: string[];
  requestedExtensions: IExtension[];
  cookies: Array<{ name: string; value: string | null }>;
  readHandshake(): void;
  accept(acceptedProtocol?: string | null, allowedOrigin?: string, cookies?: ICookie[]): connection;
  reject(httpStatus?: number, reason?: string, extraHeaders?: { [name: string]: string }): void;
  on(event: 'requestAccepted', cb: (connection: connection) => void): this;
  on(event: 'requestRejected' | 'requestResolved', cb: (request: this) => void): this;
  on(event: string | symbol, cb: (...args: any[]) => void): this;
}

export declare class server extends EventEmitter {
  constructor(serverConfig?: IServerConfig);
  config: IServerConfig;
  connections: connection[];
  pendingRequests: request[];
  mount(serverConfig: IServerConfig): void;
  unmount(): void;
  closeAllConnections(): void;
  shutDown(): void;
  broadcast(data: Buffer | string | { toString(): string }): void;
  broadcastUTF(utfData: string | { toString(): string }): void;
  broadcastBytes(binaryData: Buffer): void;
  on(event: 'request', cb: (request: request) => void): this;
  on(event: 'connect', cb: (connection: connection) => void): this;
  on(event: 'close', cb: (connection: connection, reason: number, desc: string) => void): this;
  on(event: 'upgradeError', cb: (err: Error) => void): this;
  on(event: string | symbol, cb: (...args: any[]) => void): this;
}

export declare class client extends EventEmitter {
  constructor(clientConfig?: IClientConfig);
  config: IClientConfig;
  connect(requestUrl: string | url.Url, requestedProtocols?: string | string[] | null,
    origin?: string | null, headers?: http.OutgoingHttpHeaders | null,
    extraRequestOptions?: http.RequestOptions): void;
  abort(): void;
  on(event: 'connect', cb: (connection: connection) => void): this;
  on(event: 'connectFailed', cb: (err: Error) => void): this;
  on(event: 'httpResponse', cb: (response: http.IncomingMessage, client: client) => void): this;
  on(event: string | symbol, cb: (...args: any[]) => void): this;
}

export declare class router extends EventEmitter {
  constructor(config?: { server?: server });
  attachServer(server: server): void;
  detachServer(): void;
  mount(path: string | RegExp, protocol: string | null | undefined,
    callback: (request: routerRequest) => void): void;
  unmount(path: string | RegExp, protocol?: string | null): void;
}

export interface routerRequest extends EventEmitter {
  webSocketRequest: request;
  protocol: string | null;
  origin: string | undefined;
  resource: string;
  resourceURL: url.UrlWithParsedQuery;
  httpRequest: http.IncomingMessage;
  remoteAddress: string;
  webSocketVersion: number;
  requestedExtensions: IExtension[];
  cookies: Array<{ name: string; value: string | null }>;
  accept(origin?: string, cookies?: ICookie[]): connection;
  reject(status?: number, reason?: string, extraHeaders?: { [name: string]: string }): void;
}

export interface IW3CEvent {
  type: string;
  target: w3cwebsocket | null;
  [field: string]: any;
}

export declare class w3cwebsocket {
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  constructor(url: string, protocols?: string | string[], origin?: string,
    headers?: http.OutgoingHttpHeaders, requestOptions?: object, clientConfig?: IClientConfig);
  readonly url: string;
  readonly protocol: string | undefined;
  readonly extensions: string | IExtension[];
  readonly readyState: number;
  /** The bytes queued by send() and not yet written (the original always said 0). */
  readonly bufferedAmount: number;
  binaryType: 'arraybuffer';
  onopen: ((event: IW3CEvent) => void) | null;
  onmessage: ((event: IW3CEvent & { data: string | ArrayBuffer }) => void) | null;
  onerror: ((event: IW3CEvent) => void) | null;
  onclose: ((event: IW3CEvent & { code: number; reason: string; wasClean: boolean }) => void) | null;
  addEventListener(type: string, listener: (event: any) => void): void;
  removeEventListener(type: string, listener: (event: any) => void): void;
  dispatchEvent(event: IW3CEvent): boolean;
  send(data: string | ArrayBuffer | ArrayBufferView | Buffer): void;
  close(code?: number, reason?: string): void;
}

export declare const deprecation: {
  disableWarnings: boolean;
  deprecationWarningMap: { [name: string]: string | false };
  warn(deprecationName: string): void;
};

export declare const version: string;
