// Type definitions for websocket-rs: the module surface of `websocket` (WebSocket-Node 1.0.35).
//
// Exports: server, client, router, frame, request, connection, w3cwebsocket, deprecation,
// version (index.js), and the interfaces code written against `@types/websocket` uses
// (IConfig, IServerConfig, IClientConfig, Message, IUtf8Message, IBinaryMessage, ICookie,
// IExtension, IStringified, IRouterRequest, IRouterConfig, IRouterHandler, IBufferList,
// ICloseEvent, IMessageEvent). Where `@types/websocket` describes a value more narrowly than
// it can be only by `null`/`undefined` (request.origin, connection.closeDescription, ...) its
// type is kept so that such code still compiles, and the doc comment says when the value is
// absent. Where it describes something that does not exist or behaves otherwise at run time
// (IExtension's fields, router requests' accept(), w3cwebsocket's onerror argument), these
// types follow the run-time behaviour.
/// <reference types="node" />

import { EventEmitter } from 'events';
import * as http from 'http';
import * as https from 'https';
import * as http2 from 'http2';
import * as net from 'net';
import * as url from 'url';

// ---------------------------------------------------------------------------------------------
// Helpers (not exported)

/**
 * An event name that is not one of `Events`' keys: the catch-all overload of `on`/`emit`/...
 * accepts it (any listener, as EventEmitter does), while a known name must come with its own
 * listener signature.
 */
type OtherEvent<E, Events> = E & (E extends keyof Events ? never : unknown);

type Listener = (...args: any[]) => void;

// ---------------------------------------------------------------------------------------------
// Shared types

/** Anything with a `toString()`: what `sendUTF()`, `send()` and `ping()` accept as text. */
export interface IStringified {
    toString: (...args: any[]) => string;
}

/**
 * Options of every connection, server or client side. The defaults differ between the two:
 * see IServerConfig and IClientConfig.
 */
export interface IConfig {
    /**
     * The maximum allowed received frame size in bytes. Single frame messages will also be
     * limited to this maximum; a larger frame closes the connection with 1009.
     * Default: 64 KiB (65536) for a server, 1 MiB (1048576) for a client.
     */
    maxReceivedFrameSize?: number | undefined;

    /**
     * The maximum allowed aggregate message size (for fragmented messages) in bytes; a larger
     * message closes the connection with 1009.
     * Default: 1 MiB (1048576) for a server, 8 MiB (8388608) for a client.
     */
    maxReceivedMessageSize?: number | undefined;

    /**
     * Whether or not to fragment outgoing messages. If true, messages will be automatically
     * fragmented into chunks of up to `fragmentationThreshold` bytes.
     * Default: true.
     */
    fragmentOutgoingMessages?: boolean | undefined;

    /**
     * The maximum size of a frame in bytes before it is automatically fragmented.
     * Default: 16 KiB (16384).
     */
    fragmentationThreshold?: number | undefined;

    /**
     * If true, fragmented messages will be automatically assembled and the full message will
     * be emitted via a `message` event. If false, each frame will be emitted on the connection
     * via a `frame` event and the application is responsible for aggregating fragments (and
     * no `message` event is emitted).
     * Default: true.
     */
    assembleFragments?: boolean | undefined;

    /**
     * The number of milliseconds to wait after sending a close frame for an acknowledgement
     * to come back before giving up and just closing the socket.
     * Default: 5000 (five seconds).
     */
    closeTimeout?: number | undefined;

    /**
     * Disables the Nagle algorithm (TCP_NODELAY) on the socket, so that small frames go out at
     * once instead of being batched, at some cost in bandwidth.
     * Default: true (Nagle disabled).
     */
    disableNagleAlgorithm?: boolean | undefined;
}

/** Options of `new server(config)` and `server.mount(config)`. */
/** What a WebSocket server mounts on: Node's http, https or http2 servers. */
export type HttpServer = http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer;

export interface IServerConfig extends IConfig {
    /**
     * The http or https server (or several) whose `upgrade` events the WebSocket server
     * handles. Required. websocket-rs extension: an `http2` server (`createSecureServer`,
     * usually with `allowHTTP1`, or `createServer` for h2c) also takes WebSockets as HTTP/2
     * extended CONNECT streams (RFC 8441); mounting turns `enableConnectProtocol` on.
     */
    httpServer: HttpServer | HttpServer[];
    /**
     * websocket-rs extension: topics of this server span processes and machines through Redis
     * (delivery across processes at most once). Off unless given.
     */
    pubsub?: IPubsubConfig;

    /**
     * The maximum allowed received frame size in bytes. Single frame messages will also be
     * limited to this maximum.
     * Default: 64 KiB (65536).
     */
    maxReceivedFrameSize?: number | undefined;

    /**
     * The maximum allowed aggregate message size (for fragmented messages) in bytes.
     * Default: 1 MiB (1048576).
     */
    maxReceivedMessageSize?: number | undefined;

    /**
     * If true, the server sends a ping to each client every `keepaliveInterval` milliseconds.
     * Each client has an independent keepalive timer, which is reset when any data is received
     * from that client.
     * Default: true.
     */
    keepalive?: boolean | undefined;

    /**
     * The interval in milliseconds to send keepalive pings to connected clients.
     * Default: 20000 (twenty seconds).
     */
    keepaliveInterval?: number | undefined;

    /**
     * If true, a connection that has received no data within `keepaliveGracePeriod`
     * milliseconds after a keepalive ping is dropped. Ignored if `keepalive` is false.
     * Default: true.
     */
    dropConnectionOnKeepaliveTimeout?: boolean | undefined;

    /**
     * The time in milliseconds to wait after sending a keepalive ping before dropping a
     * connection whose peer does not respond. Ignored if `keepalive` or
     * `dropConnectionOnKeepaliveTimeout` is false. The timer is reset when any data is
     * received from the client.
     * Default: 10000 (ten seconds).
     */
    keepaliveGracePeriod?: number | undefined;

    /**
     * Use TCP keep-alive on the socket (first probe after `keepaliveInterval`) instead of
     * WebSocket pings; `keepaliveGracePeriod` and `dropConnectionOnKeepaliveTimeout` are then
     * ignored.
     * Default: false.
     */
    useNativeKeepalive?: boolean | undefined;

    /**
     * If true, every WebSocket request is accepted, whatever its path, protocol and origin,
     * with the first protocol the client asked for, and only `connect` events are emitted.
     * Leave it false and inspect each `request` in real servers.
     * Default: false.
     */
    autoAcceptConnections?: boolean | undefined;

    /**
     * If true, the `X-Forwarded-For` header is ignored: `remoteAddress` is the peer's address.
     * Set it when clients are not behind a trusted proxy, since a client can forge the header.
     * Default: false (the header is used for `remoteAddress`/`remoteAddresses`).
     */
    ignoreXForwardedFor?: boolean | undefined;

    /**
     * Whether `request.cookies` is parsed from the `Cookie` header (else it is empty).
     * Default: true.
     */
    parseCookies?: boolean | undefined;

    /**
     * Whether `request.requestedExtensions` is parsed from `Sec-WebSocket-Extensions` (else it
     * is empty).
     * Default: true.
     */
    parseExtensions?: boolean | undefined;
}

/** Options of `new client(config)` (and the last argument of `new w3cwebsocket(...)`). */
export interface IClientConfig extends IConfig {
    /**
     * The WebSocket protocol version to request: 8 or 13 (anything else throws). It only
     * changes the name of the origin header (`Sec-WebSocket-Origin` for 8, `Origin` for 13).
     * Default: 13.
     */
    webSocketVersion?: number | undefined;

    /**
     * The maximum allowed received frame size in bytes. Single frame messages will also be
     * limited to this maximum.
     * Default: 1 MiB (1048576).
     */
    maxReceivedFrameSize?: number | undefined;

    /**
     * The maximum allowed aggregate message size (for fragmented messages) in bytes.
     * Default: 8 MiB (8388608).
     */
    maxReceivedMessageSize?: number | undefined;

    /**
     * Options passed to `https.request` for `wss://` URLs: `ca`, `cert`, `key`,
     * `rejectUnauthorized`, `servername`, `agent` ... (`hostname`, `port`, `method` and
     * `path` are ignored; `headers` are sent, under the headers given to `connect()`).
     * Default: none ({}).
     */
    tlsOptions?: https.RequestOptions | undefined;
}

/** A text message (`connection`'s `message` event). */
export interface IUtf8Message {
    type: 'utf8';
    utf8Data: string;
}

/** A binary message (`connection`'s `message` event). */
export interface IBinaryMessage {
    type: 'binary';
    binaryData: Buffer;
}

/** What `connection`'s `message` event carries: narrow it on `type`. */
export type Message = IUtf8Message | IBinaryMessage;

/** @deprecated The name older `@types/websocket` releases gave `Message`. */
export type IMessage = Message;

/**
 * A cookie: one to set with `request.accept(protocol, origin, cookies)`, or one parsed from
 * the client's `Cookie` header (`request.cookies`: only `name` and `value`; `value` is null
 * for a pair without `=`).
 */
export interface ICookie {
    name: string;
    value: string;
    path?: string | undefined;
    domain?: string | undefined;
    expires?: Date | undefined;
    /** Seconds; a positive number (or numeric string). */
    maxage?: number | undefined;
    secure?: boolean | undefined;
    httponly?: boolean | undefined;
}

/** One parameter of an extension offer: `x=1` gives `{ name: 'x', value: '1' }`. */
export interface IExtensionParameter {
    name: string;
    /** Undefined for a parameter without `=`. */
    value: string;
}

/**
 * An extension the client offered (`Sec-WebSocket-Extensions`, lower-cased):
 * `"a; x=1, b"` gives `[{ name: 'a', params: [{ name: 'x', value: '1' }] }, { name: 'b', params: [] }]`.
 */
export interface IExtension {
    name: string;
    params: IExtensionParameter[];
}

/** What `frame.addData()` and `frame.throwAwayPayload()` read from. */
export interface IBufferList {
    /** Bytes available. */
    readonly length: number;
    /** The first `n` bytes (not consumed). */
    take(n: number): Buffer;
    /** Consumes `n` bytes. */
    advance(n: number): unknown;
}

/** The EventEmitter methods of IAdoptedSocket: net.Socket's, so that they can be called on `connection.socket`. */
type SocketEmitterMethods = 'addListener' | 'on' | 'once' | 'prependListener' | 'prependOnceListener' |
    'removeListener' | 'off' | 'removeAllListeners' | 'emit' | 'listeners' | 'rawListeners' |
    'listenerCount' | 'eventNames' | 'setMaxListeners' | 'getMaxListeners';

/**
 * `connection.socket` once Rust owns the socket of a plain TCP connection: there is no Node
 * `net.Socket` any more, and this object offers the members code commonly uses on one (see the
 * README, "connection.socket"). It is not a stream: no `write()` or `pipe()`, and it is an
 * EventEmitter whose socket events (`data`, `close`, `error` ...) are never emitted: listen to
 * the connection's.
 */
export interface IAdoptedSocket extends Pick<net.Socket, SocketEmitterMethods> {
    /** Fixed when the socket was handed over, as the members below. */
    readonly remoteAddress: string | undefined;
    readonly remotePort: number | undefined;
    readonly remoteFamily: string | undefined;
    readonly localAddress: string | undefined;
    readonly localPort: number | undefined;
    /** Live count of the bytes read (the last value after the close). */
    readonly bytesRead: number;
    /** Live count of the bytes written (the last value after the close). */
    readonly bytesWritten: number;
    /** True once the connection is closed. */
    readonly destroyed: boolean;
    /** Always false: TLS connections keep their Node socket. */
    readonly encrypted: false;
    /** The value last given to setTimeout() (kept for reading only). */
    timeout: number;
    /** Applied to the real socket. Default: true. */
    setNoDelay(noDelay?: boolean): this;
    /** Applied to the real socket. */
    setKeepAlive(enable?: boolean, initialDelay?: number): this;
    /** Kept for reading only: idle detection is the connection's keepalive, in Rust. */
    setTimeout(timeout: number, callback?: () => void): this;
    address(): { address: string | undefined; family: string | undefined; port: number | undefined };
    /** Closes the TCP connection without a close frame: the connection closes with 1006. */
    end(): this;
    /** Closes the TCP connection without a close frame: the connection closes with 1006. */
    destroy(): this;
    /** Same as `connection.pause()`. */
    pause(): this;
    /** Same as `connection.resume()`. */
    resume(): this;
}

// ---------------------------------------------------------------------------------------------
// frame

/** One RFC 6455 frame: `require('websocket').frame`. */
export declare class frame {
    /** All three are optional for a frame built to be sent. */
    constructor(maskBytes?: Buffer, frameHeader?: Buffer, config?: IConfig);

    /** The last (or only) frame of a message. */
    fin: boolean;
    /** RSV1; setting it makes the receiving peer fail the connection. */
    rsv1: boolean;
    /** RSV2; setting it makes the receiving peer fail the connection. */
    rsv2: boolean;
    /** RSV3; setting it makes the receiving peer fail the connection. */
    rsv3: boolean;
    /**
     * Whether the frame is (or should be) masked. `connection.sendFrame()` sets it: true on a
     * client, false on a server.
     */
    mask: boolean | number;
    /**
     * 0x0 continuation, 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong.
     */
    opcode: number;
    /** Payload length of a received frame; computed by toBuffer() for a frame to send. */
    length: number;
    /**
     * The payload (of a close frame: after the status code). Text frames carry UTF-8 bytes too.
     */
    binaryPayload: Buffer;
    /** The status code of a close frame (-1 when none). Must be 0-65535 to send a close frame. */
    closeStatus: number;
    /** The masking key (the one toBuffer() used, for a masked frame). */
    maskBytes: Buffer;
    frameHeader: Buffer;
    config: IConfig;
    maxReceivedFrameSize: number;
    protocolError: boolean;
    frameTooLarge: boolean;
    invalidCloseFrameLength: boolean;
    /** Why a parsed frame is invalid (undefined while it is not). */
    dropReason: string;
    /** 1 while decoding the header, 5 while waiting for the payload, 6 when complete. */
    parseState: number;

    /** Parses as much of one frame as `bufferList` holds; true when complete or invalid. */
    addData(bufferList: IBufferList): boolean;
    /** Skips the payload; true once it is consumed. */
    throwAwayPayload(bufferList: IBufferList): boolean;
    /**
     * The frame's wire bytes. A masked frame gets a key from the OS's cryptographic generator,
     * or 0 with `nullMask`.
     */
    toBuffer(nullMask?: boolean): Buffer;
    toString(): string;
}

// ---------------------------------------------------------------------------------------------
// connection

/** The events of a `connection` and their listeners. */
export interface IConnectionEvents {
    /**
     * A whole message (only when `assembleFragments` is true, the default).
     */
    message: (data: Message) => void;
    /** A frame (only when `assembleFragments` is false). */
    frame: (frame: frame) => void;
    /** The connection is closed: the close code and its description. */
    close: (code: number, desc: string) => void;
    /** A socket error (a `close` follows). Emitted only when someone listens. */
    error: (err: Error) => void;
    /**
     * A ping from the peer. It is answered with a pong unless the listener calls `cancel()`.
     */
    ping: (cancel: () => void, binaryPayload: Buffer) => void;
    /** A pong from the peer. */
    pong: (binaryPayload: Buffer) => void;
    /** The output buffer emptied after a send returned false (`outputBufferFull`). */
    drain: () => void;
    /** pause() was called. */
    pause: () => void;
    /** resume() was called. */
    resume: () => void;
}

/**
 * One WebSocket connection, server or client side: `require('websocket').connection`.
 * Made by `request.accept()` and by `client`'s `connect` event.
 */
export declare class connection extends EventEmitter {
    static readonly CLOSE_REASON_NORMAL: 1000;
    static readonly CLOSE_REASON_GOING_AWAY: 1001;
    static readonly CLOSE_REASON_PROTOCOL_ERROR: 1002;
    static readonly CLOSE_REASON_UNPROCESSABLE_INPUT: 1003;
    /** Reserved; not to be sent. */
    static readonly CLOSE_REASON_RESERVED: 1004;
    /** Not to be sent: no status code was given. */
    static readonly CLOSE_REASON_NOT_PROVIDED: 1005;
    /** Not to be sent: the connection ended without a close frame. */
    static readonly CLOSE_REASON_ABNORMAL: 1006;
    static readonly CLOSE_REASON_INVALID_DATA: 1007;
    static readonly CLOSE_REASON_POLICY_VIOLATION: 1008;
    static readonly CLOSE_REASON_MESSAGE_TOO_BIG: 1009;
    static readonly CLOSE_REASON_EXTENSION_REQUIRED: 1010;
    static readonly CLOSE_REASON_INTERNAL_SERVER_ERROR: 1011;
    /** Not to be sent. */
    static readonly CLOSE_REASON_TLS_HANDSHAKE_FAILED: 1015;
    /** Text for each close code above, e.g. `1000: 'Normal connection closure'`. */
    static CLOSE_DESCRIPTIONS: { [code: number]: string };
    /** Whether `code` may be sent in a close frame (RFC 6455 §7.4). */
    static isValidCloseCode(code: number): boolean;

    constructor(
        socket: net.Socket,
        extensions: IExtension[],
        protocol: string | null | undefined,
        maskOutgoingPackets: boolean,
        config: IConfig | Omit<IServerConfig, 'httpServer'> | IClientConfig,
    );

    /** The close code once closed, -1 while open. */
    closeReasonCode: number;
    /** The close description once closed; null while open. */
    closeDescription: string;
    /** Whether the `close` event was emitted. */
    closeEventEmitted: boolean;
    /**
     * The transport: Node's socket while Node keeps it (TLS, Unix sockets, tunnels, any
     * stream), else an IAdoptedSocket once Rust owns a plain TCP socket.
     */
    socket: net.Socket | IAdoptedSocket;
    /** The subprotocol chosen for this connection (lower-cased); undefined when none. */
    protocol: string;
    /** Extensions negotiated: always empty. */
    extensions: IExtension[];
    /**
     * The peer's address; on a server the first `X-Forwarded-For` address when the header is
     * present (unless `ignoreXForwardedFor`).
     */
    remoteAddress: string;
    /**
     * On a server: the `X-Forwarded-For` addresses then the peer's (or just the peer's).
     * Undefined on a client connection.
     */
    remoteAddresses: string[] | undefined;
    /** The WebSocket version spoken: 8 or 13. */
    webSocketVersion: number;
    /** False once close() or drop() was called or the connection closed. Read-only. */
    connected: boolean;
    /**
     * 'open', 'ending' after close(), 'closed' at the end. (websocket-rs never sets
     * 'peer_requested_close': the close handshake runs in Rust.)
     */
    state: 'open' | 'ending' | 'peer_requested_close' | 'closed';
    /** True on a client: outgoing frames are masked. */
    maskOutgoingPackets: boolean;
    /** True after close(), until the peer's close frame or the close timeout. */
    waitingForCloseResponse: boolean;
    /** True when the last send found the output buffer full (then wait for `drain`). */
    outputBufferFull: boolean;
    /** True between pause() and resume(). */
    inputPaused: boolean;
    /** The config's value unless set on the connection. */
    closeTimeout: number;
    /** The config's value unless set on the connection. */
    assembleFragments: boolean;
    /** The config's value unless set on the connection. */
    maxReceivedMessageSize: number;
    /** The server's or the client's config. */
    config: IConfig;
    /** Bytes queued by sends and not yet written to the socket. */
    readonly bufferedAmount: number;

    /**
     * Starts the close handshake: sends a close frame (`reasonCode` default 1000; throws for a
     * code that may not be sent) and waits up to `closeTimeout` ms for the peer's.
     */
    close(reasonCode?: number, description?: string): void;
    /**
     * Closes at once: sends a close frame (unless `skipCloseFrame`, or the code may not be
     * sent) and ends the socket. `reasonCode` default 1002.
     */
    drop(reasonCode?: number, description?: string, skipCloseFrame?: boolean): void;
    /**
     * Sends a text message (anything with `toString()`). `cb` is called once it is written (or
     * with an error). Returns false when the output buffer is full (wait for `drain`).
     */
    sendUTF(data: IStringified, cb?: (err?: Error) => void): boolean;
    /**
     * Sends a binary message (a Buffer; anything else throws). Returns false when the output
     * buffer is full (wait for `drain`).
     */
    sendBytes(buffer: Buffer, cb?: (err?: Error) => void): boolean;
    /** sendBytes() for a Buffer, else sendUTF(). */
    send(data: Buffer | IStringified, cb?: (err?: Error) => void): void;
    /** Sends a ping (payload at most 125 bytes). */
    ping(data?: Buffer | IStringified): void;
    /** Sends a pong (payload at most 125 bytes); pings are answered without this. */
    pong(binaryPayload?: Buffer | IStringified): void;
    /** Sends a frame composed by hand (its `mask` is set for this side). */
    sendFrame(frame: frame, cb?: (err?: Error) => void): boolean;
    /** Stops reading from the peer; emits `pause`. */
    pause(): void;
    /** Reads from the peer again; emits `resume`. */
    resume(): void;

    // Topics (websocket-rs extension; connections accepted by a `server` only, a client's throw).
    /**
     * Subscribes to `topic` (a non-empty string of at most 1 KiB of UTF-8; else a TypeError).
     * Returns false when already subscribed, or when the connection is closed.
     */
    subscribe(topic: string): boolean;
    /** Unsubscribes from `topic`; returns false when it was not subscribed. */
    unsubscribe(topic: string): boolean;
    isSubscribed(topic: string): boolean;
    /** The topics this connection subscribes to (a copy); empty once closed. */
    readonly topics: string[];
    /**
     * Sends `data` to every other subscriber of `topic` on this connection's server: a string as
     * text, a Buffer (or Uint8Array) as binary. Returns the number of connections it was queued on.
     */
    publish(topic: string, data: string | Uint8Array): number;

    addListener<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    on<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    on<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    once<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    once<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    prependListener<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    prependOnceListener<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    removeListener<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    removeListener<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    off<K extends keyof IConnectionEvents>(event: K, listener: IConnectionEvents[K]): this;
    off<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, listener: Listener): this;
    emit<K extends keyof IConnectionEvents>(event: K, ...args: Parameters<IConnectionEvents[K]>): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, IConnectionEvents>, ...args: any[]): boolean;
}

// ---------------------------------------------------------------------------------------------
// request

/** The events of a `request` and their listeners. */
export interface IRequestEvents {
    /** accept() made this connection. */
    requestAccepted: (connection: connection) => void;
    /** reject() was called. */
    requestRejected: (request: request) => void;
    /** accept() or reject() was called. */
    requestResolved: (request: request) => void;
}

/** Options of `new request(socket, httpRequest, config)`: a server config, `httpServer` optional. */
export type IRequestConfig = Omit<IServerConfig, 'httpServer'> & {
    httpServer?: IServerConfig['httpServer'] | null | undefined;
};

/**
 * A client's upgrade request, to accept or reject: the `server`'s `request` event,
 * `require('websocket').request`.
 */
export declare class request extends EventEmitter {
    /**
     * For an `upgrade` event handled without `server`: pass a complete server config (see
     * IServerConfig; `httpServer` not needed), then call readHandshake() in a try/catch.
     */
    constructor(socket: net.Socket, httpRequest: http.IncomingMessage, serverConfig: IRequestConfig);

    /** Node's HTTP request. */
    httpRequest: http.IncomingMessage;
    /** Node's socket (until accept() hands it over). */
    socket: net.Socket;
    serverConfig: IServerConfig;
    /** The `Host` header (with the port when not the default). */
    host: string;
    /** The path requested, with its query string. */
    resource: string;
    /** `resource` parsed, query included (parsed on first read). */
    resourceURL: url.UrlWithParsedQuery;
    /** `Sec-WebSocket-Key`. */
    key: string;
    /**
     * The client's address; the first `X-Forwarded-For` address when the header is present
     * (unless `ignoreXForwardedFor`).
     */
    remoteAddress: string;
    /** The `X-Forwarded-For` addresses then the peer's, or just the peer's. */
    remoteAddresses: string[];
    /** The WebSocket version requested: 8 or 13. */
    webSocketVersion: number;
    /**
     * `Origin` (version 13) or `Sec-WebSocket-Origin` (version 8): the page's origin for a
     * browser client; undefined when the client sent none.
     */
    origin: string;
    /**
     * The subprotocols the client asked for, lower-cased, in its order of preference (null
     * after accept()).
     */
    requestedProtocols: string[];
    /** Lower-cased protocol to the client's spelling (null after accept()). */
    protocolFullCaseMap: { [lowerCase: string]: string };
    /** The extensions the client offered (parsed on first read; empty if `parseExtensions` is false). */
    requestedExtensions: IExtension[];
    /**
     * The cookies of the `Cookie` header: `name` and `value` only (parsed on first read; empty
     * if `parseCookies` is false).
     */
    cookies: ICookie[];

    /** Parses and checks the handshake; throws when it is invalid. */
    readHandshake(): void;
    /**
     * Accepts the connection. `acceptedProtocol` must be one the client asked for (any case)
     * or null; pass `allowedOrigin` (normally `request.origin`) to confirm the origin; `cookies`
     * become `Set-Cookie` headers. Throws (after rejecting with 500) on invalid arguments, and
     * when the request was already accepted or rejected.
     */
    accept(acceptedProtocol?: string | null, allowedOrigin?: string | null, cookies?: ICookie[] | null): connection;
    /**
     * Rejects the connection: HTTP `httpStatus` (default 403), `reason` in an
     * `X-WebSocket-Reject-Reason` header, and any `extraHeaders`.
     */
    reject(httpStatus?: number, reason?: string | null, extraHeaders?: { [name: string]: string | number } | null): void;
    parseExtensions(extensionsString?: string | null): IExtension[];
    parseCookies(str?: string | null): ICookie[];

    addListener<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    on<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    on<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    once<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    once<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    prependListener<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    prependOnceListener<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    removeListener<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    removeListener<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    off<K extends keyof IRequestEvents>(event: K, listener: IRequestEvents[K]): this;
    off<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, listener: Listener): this;
    emit<K extends keyof IRequestEvents>(event: K, ...args: Parameters<IRequestEvents[K]>): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, IRequestEvents>, ...args: any[]): boolean;
}

// ---------------------------------------------------------------------------------------------
// server

/** The events of a `server` and their listeners. */
/** The Redis backplane of a server's topics (websocket-rs extension). */
export interface IPubsubConfig {
    /** `redis://host:port`, `rediss://host:port` (TLS) or `redis+unix:///path`. */
    redis: string;
    /** Prefix of the Redis channel names (channel = prefix + topic); default `websocket-rs:`. */
    prefix?: string;
    /** PEM material for `rediss://`: a CA to trust instead of the system's, a client certificate. */
    tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

/** `server.pubsubStats()`: counters of the Redis backplane. */
export interface IPubsubStats {
    connected: boolean;
    published: number;
    publishDropped: number;
    received: number;
    receivedOwn: number;
    receivedInvalid: number;
    delivered: number;
    reconnects: number;
}

export interface IServerEvents {
    /**
     * A WebSocket request to accept or reject (unless `autoAcceptConnections`). Without a
     * listener requests are rejected with 404.
     */
    request: (request: request) => void;
    /** A connection was accepted. */
    connect: (connection: connection) => void;
    /** A connection closed: its close code and description. */
    close: (connection: connection, reason: number, desc: string) => void;
    /** An upgrade request with an invalid handshake (it was rejected). */
    upgradeError: (error: Error) => void;
    /** websocket-rs: the Redis backplane failed (once per outage); local delivery goes on. */
    pubsubError: (error: Error) => void;
    /** websocket-rs: the Redis backplane is connected and subscribed (again). */
    pubsubReady: () => void;
}

/** A WebSocket server on one or several http servers: `require('websocket').server`. */
export declare class server extends EventEmitter {
    /** With a config, mount()s at once. */
    constructor(serverConfig?: IServerConfig);

    /** The config with its defaults (undefined until mounted); `httpServer` is an array. */
    config?: IServerConfig | undefined;
    /** Open connections. */
    connections: connection[];
    /** Requests neither accepted nor rejected yet. */
    pendingRequests: request[];

    /** Listens to the http server(s)' `upgrade` events. Throws without `httpServer`. */
    mount(serverConfig: IServerConfig): void;
    /** Stops listening for upgrades; open connections are left alone. */
    unmount(): void;
    /** Closes every connection (and rejects pending requests with 503). */
    closeAllConnections(): void;
    /** unmount() then closeAllConnections(). */
    shutDown(): void;
    /** broadcastBytes() for a Buffer, else broadcastUTF(). */
    broadcast(data: Buffer | IStringified): void;
    /** Sends a text message to every connection (encoded once). */
    broadcastUTF(utfData: IStringified): void;
    /** Sends a binary message to every connection (encoded once). */
    broadcastBytes(binaryData: Buffer): void;
    /**
     * Topics (websocket-rs extension): sends `data` to every connection of this server subscribed
     * to `topic`, a string as text and a Buffer (or Uint8Array) as binary, encoded once. Returns
     * the number of connections it was queued on.
     */
    publish(topic: string, data: string | Uint8Array): number;
    /** The number of this server's connections subscribed to `topic`. */
    subscriberCount(topic: string): number;
    /** Counters of the Redis backplane, or null without `pubsub`. */
    pubsubStats(): IPubsubStats | null;

    /** The http server's `upgrade` listener. */
    handleUpgrade(request: http.IncomingMessage, socket: net.Socket, head?: Buffer): void;
    handleRequestAccepted(connection: connection): void;
    handleConnectionClose(connection: connection, closeReason: number, description: string): void;
    handleRequestResolved(request: request): void;

    addListener<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    on<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    on<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    once<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    once<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    prependListener<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    prependOnceListener<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    removeListener<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    removeListener<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    off<K extends keyof IServerEvents>(event: K, listener: IServerEvents[K]): this;
    off<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, listener: Listener): this;
    emit<K extends keyof IServerEvents>(event: K, ...args: Parameters<IServerEvents[K]>): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, IServerEvents>, ...args: any[]): boolean;
}

// ---------------------------------------------------------------------------------------------
// client

/** The events of a `client` and their listeners. */
export interface IClientEvents {
    /** The handshake succeeded. */
    connect: (connection: connection) => void;
    /** The connection or the handshake failed. */
    connectFailed: (err: Error) => void;
    /**
     * The server answered with a status other than 101. With a listener, this replaces
     * `connectFailed` (the response's socket is then ended).
     */
    httpResponse: (response: http.IncomingMessage, client: client) => void;
}

/** Opens connections to WebSocket servers: `require('websocket').client`. */
export declare class client extends EventEmitter {
    /** Throws if `webSocketVersion` is not 8 or 13. */
    constructor(clientConfig?: IClientConfig);

    /** The config with its defaults. */
    config: IClientConfig;
    /** Set by connect(): the parsed URL. */
    url?: url.Url | undefined;
    /** Set by connect(): the subprotocols requested. */
    protocols?: string[] | undefined;
    /** Set by connect(): the origin sent. */
    origin?: string | null | undefined;
    /** Set by connect(): whether the URL is `wss:`. */
    secure?: boolean | undefined;
    /** The subprotocol the server chose (after a successful handshake). */
    protocol?: string | undefined;
    /** The handshake's `Sec-WebSocket-Key`. */
    base64nonce?: string | undefined;
    /** The upgraded socket (handed to the connection after the handshake). */
    socket?: net.Socket | undefined;
    /** The server's 101 response. */
    response?: http.IncomingMessage | undefined;

    /**
     * Connects to `requestUrl` (`ws://` or `wss://`; anything else throws), asking for
     * `requestedProtocols`; `origin` is sent as `Origin`, `headers` with the request, and
     * `extraRequestOptions` go to `http.request`/`https.request` (e.g. an `agent` for a proxy
     * tunnel). Emits `connect` or `connectFailed` (or `httpResponse`).
     *
     * websocket-rs extension: `{ http2: true }` opens the WebSocket as a stream of an HTTP/2
     * session (RFC 8441), shared by the WebSockets to the same origin with the same TLS options;
     * `connectFailed` when the server does not advertise extended CONNECT.
     */
    connect(
        requestUrl: string | url.Url,
        requestedProtocols?: string | string[] | null,
        origin?: string | null,
        headers?: http.OutgoingHttpHeaders | null,
        extraRequestOptions?: ((http.RequestOptions | https.RequestOptions) & { http2?: boolean }) |
            http2.SecureClientSessionOptions & { http2: true } | null,
    ): void;
    /** Cancels a connect() in progress; nothing is emitted for it afterwards. */
    abort(): void;
    validateHandshake(): void;
    failHandshake(errorDescription: string): void;
    succeedHandshake(): void;

    addListener<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    on<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    on<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    once<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    once<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    prependListener<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    prependOnceListener<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    removeListener<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    removeListener<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    off<K extends keyof IClientEvents>(event: K, listener: IClientEvents[K]): this;
    off<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, listener: Listener): this;
    emit<K extends keyof IClientEvents>(event: K, ...args: Parameters<IClientEvents[K]>): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, IClientEvents>, ...args: any[]): boolean;
}

// ---------------------------------------------------------------------------------------------
// router

/** The events of a router request and their listeners. */
export interface IRouterRequestEvents {
    requestAccepted: (connection: connection) => void;
    requestRejected: (request: IRouterRequest) => void;
}

/** What a route's callback receives: the request's details, with the route's protocol. */
export interface IRouterRequest extends EventEmitter {
    /** The underlying request. */
    webSocketRequest: request;
    /** The protocol the route matched (lower-cased), or null when none was requested. */
    protocol: string | null;
    /** As request.origin: undefined when the client sent none. */
    origin: string;
    resource: string;
    resourceURL: url.UrlWithParsedQuery;
    httpRequest: http.IncomingMessage;
    remoteAddress: string;
    webSocketVersion: number;
    requestedExtensions: IExtension[];
    cookies: ICookie[];
    /** Accepts with the route's protocol: `request.accept(this.protocol, origin, cookies)`. */
    accept(origin?: string | null, cookies?: ICookie[] | null): connection;
    reject(httpStatus?: number, reason?: string | null, extraHeaders?: { [name: string]: string | number } | null): void;

    addListener<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    addListener<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    on<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    on<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    once<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    once<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    prependListener<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    prependListener<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    prependOnceListener<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    prependOnceListener<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    removeListener<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    removeListener<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    off<K extends keyof IRouterRequestEvents>(event: K, listener: IRouterRequestEvents[K]): this;
    off<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, listener: Listener): this;
    emit<K extends keyof IRouterRequestEvents>(event: K, ...args: Parameters<IRouterRequestEvents[K]>): boolean;
    emit<E extends string | symbol>(event: OtherEvent<E, IRouterRequestEvents>, ...args: any[]): boolean;
}

/** @deprecated Earlier name of IRouterRequest in these types. */
export type routerRequest = IRouterRequest;

/** Options of `new router(config)`. */
export interface IRouterConfig {
    /** The server to attach to (else call attachServer()). */
    server?: server | null | undefined;
}

/** A mounted route. */
export interface IRouterHandler {
    path: RegExp;
    pathString: string;
    /** Lower-cased; '*' for any, '____no_protocol____' for none. */
    protocol: string;
    callback: (request: IRouterRequest) => void;
}

/**
 * Dispatches a server's requests to callbacks by path and subprotocol:
 * `require('websocket').router`. Requests no route takes are rejected with 404.
 */
export declare class router extends EventEmitter {
    /** Stands for "no subprotocol requested" in `handlers`. */
    static readonly NO_PROTOCOL: '____no_protocol____';

    constructor(config?: IRouterConfig);

    config: IRouterConfig;
    /** The attached server, or null. */
    server: server | null;
    handlers: IRouterHandler[];

    /** Handles `server`'s `request` events. */
    attachServer(server: server): void;
    /** Stops handling the server's requests (throws when not attached). */
    detachServer(): void;
    /**
     * Routes requests for `path` ('*' for any; a string matches exactly, a RegExp the path
     * name) and `protocol` ('*' for any; null for requests without one) to `callback`.
     * Throws for a second route with the same path and protocol.
     */
    mount(path: string | RegExp, protocol: string | null | undefined, callback: (request: IRouterRequest) => void): void;
    /** Removes a route (throws when there is none). */
    unmount(path: string | RegExp, protocol?: string | null): void;
    findHandlerIndex(pathString: string, protocol: string): number;
    pathToRegExp(path: string | RegExp): RegExp;
    /** The server's `request` listener. */
    handleRequest(request: request): void;
}

// ---------------------------------------------------------------------------------------------
// w3cwebsocket

/** A close event's details (`onclose`). */
export interface ICloseEvent {
    code: number;
    reason: string;
    wasClean: boolean;
}

/** A message event's data (`onmessage`): a string, or an ArrayBuffer for a binary message. */
export interface IMessageEvent {
    data: string | ArrayBuffer;
}

/** The DOM-style event w3cwebsocket dispatches. */
export interface IW3CEvent {
    type: string;
    isTrusted: boolean;
    /** The w3cwebsocket dispatching it. */
    target: w3cwebsocket;
    currentTarget: w3cwebsocket;
    defaultPrevented: boolean;
    cancelable: boolean;
    timeStamp: number;
    preventDefault(): void;
    stopImmediatePropagation(): void;
    stopPropagation(): void;
}

export interface IW3CMessageEvent extends IW3CEvent, IMessageEvent {}

export interface IW3CCloseEvent extends IW3CEvent, ICloseEvent {}

/** The events of a w3cwebsocket by type. */
export interface IW3CEventMap {
    open: IW3CEvent;
    message: IW3CMessageEvent;
    /** The connection failed (a `close` with code 1006 follows). */
    error: IW3CEvent;
    close: IW3CCloseEvent;
}

/** The browser's WebSocket API: `require('websocket').w3cwebsocket`. */
export declare class w3cwebsocket {
    static readonly CONNECTING: 0;
    static readonly OPEN: 1;
    static readonly CLOSING: 2;
    static readonly CLOSED: 3;
    readonly CONNECTING: 0;
    readonly OPEN: 1;
    readonly CLOSING: 2;
    readonly CLOSED: 3;

    /**
     * Connects at once. `protocols`, `origin`, `headers`, `requestOptions` and `clientConfig`
     * are those of `client` and `client.connect()`.
     */
    constructor(
        url: string,
        protocols?: string | string[] | null,
        origin?: string | null,
        headers?: http.OutgoingHttpHeaders | null,
        requestOptions?: http.RequestOptions | https.RequestOptions | null,
        clientConfig?: IClientConfig | null,
    );

    readonly url: string;
    /** CONNECTING, OPEN, CLOSING or CLOSED. */
    readonly readyState: number;
    /** The subprotocol the server chose; undefined when none (or not yet connected). */
    readonly protocol: string | undefined;
    /** '' until connected, then the (always empty) list of negotiated extensions. */
    readonly extensions: string | IExtension[];
    /** The bytes queued by send() and not yet written (the original always said 0). */
    readonly bufferedAmount: number;
    /** Only 'arraybuffer' is supported (anything else throws). */
    binaryType: 'arraybuffer';

    onopen: ((this: w3cwebsocket, event: IW3CEvent) => void) | null;
    onmessage: ((this: w3cwebsocket, event: IW3CMessageEvent) => void) | null;
    /** The argument is an event (no `message`): the failure's details are not given. */
    onerror: ((this: w3cwebsocket, event: IW3CEvent) => void) | null;
    onclose: ((this: w3cwebsocket, event: IW3CCloseEvent) => void) | null;

    addEventListener<K extends keyof IW3CEventMap>(type: K, listener: (this: w3cwebsocket, event: IW3CEventMap[K]) => void): void;
    addEventListener<T extends string>(type: OtherEvent<T, IW3CEventMap>, listener: (this: w3cwebsocket, event: any) => void): void;
    removeEventListener<K extends keyof IW3CEventMap>(type: K, listener: (this: w3cwebsocket, event: IW3CEventMap[K]) => void): void;
    removeEventListener<T extends string>(type: OtherEvent<T, IW3CEventMap>, listener: (this: w3cwebsocket, event: any) => void): void;
    /**
     * Calls `on<type>` then the listeners (sets `target`); false if a listener called
     * preventDefault().
     */
    dispatchEvent(event: { type: string; [field: string]: any }): boolean;

    /** Sends a text message. Throws unless OPEN. */
    send(data: string | String): void;
    /** Sends a binary message with the buffer's bytes. Throws unless OPEN. */
    send(data: ArrayBufferLike): void;
    /** Sends a binary message with the view's bytes (a Buffer, a typed array, a DataView). */
    send(data: ArrayBufferView): void;
    send(data: string | String | ArrayBufferLike | ArrayBufferView): void;
    /**
     * Closes: `code` must be 1000 or 3000-4999 and `reason` at most 123 bytes of UTF-8 (else
     * it throws).
     */
    close(code?: number, reason?: string): void;
}

// ---------------------------------------------------------------------------------------------
// deprecation, version

/** Deprecation warnings, printed once per name: `require('websocket').deprecation`. */
export declare const deprecation: {
    disableWarnings: boolean;
    /** Warning text by name; false once printed. */
    deprecationWarningMap: { [name: string]: string | false };
    warn(deprecationName: string): void;
};

/** This package's version. */
export declare const version: string;

export {};
