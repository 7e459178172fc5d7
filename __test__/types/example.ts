// A typed example of websocket-rs: an echo server with a router, a client over TLS, the W3C API
// and hand-made frames. __test__/types.test.js type-checks it (tsc --noEmit, strict) against
// index.d.ts; it is never run. Listener parameters are left to inference on purpose: their
// types come from index.d.ts's event maps, and the assertions below fail if they were `any`.
import * as fs from 'fs';
import * as https from 'https';
import * as http2 from 'http2';
import * as net from 'net';
import {
    client as WebSocketClient,
    connection as WebSocketConnection,
    deprecation,
    frame as WebSocketFrame,
    request as WebSocketRequest,
    router as WebSocketRouter,
    server as WebSocketServer,
    version,
    w3cwebsocket as W3CWebSocket,
} from 'websocket';
import type {
    IAdoptedSocket,
    IClientConfig,
    ICookie,
    IExtension,
    IMessage,
    IRouterRequest,
    IServerConfig,
    IW3CCloseEvent,
    IW3CMessageEvent,
    Message,
} from 'websocket';

// Compile-time assertions: `expectType<T>()(value)` accepts exactly T, so an `any` (or a wider
// or narrower type) in index.d.ts fails the build.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function expectType<T>() {
    return <V>(value: V & (Equal<V, T> extends true ? unknown : never)): V => value;
}

// ---- server ------------------------------------------------------------------------------------

const tlsServer = https.createServer({
    key: fs.readFileSync('server.key'),
    cert: fs.readFileSync('server.crt'),
});
tlsServer.listen(8443);

const serverConfig: IServerConfig = {
    httpServer: [tlsServer],
    maxReceivedFrameSize: 64 * 1024,
    maxReceivedMessageSize: 1024 * 1024,
    keepalive: true,
    keepaliveInterval: 20_000,
    keepaliveGracePeriod: 10_000,
    parseCookies: true,
    parseExtensions: false,
    ignoreXForwardedFor: true,
};
const wsServer = new WebSocketServer(serverConfig);

function handleConnection(connection: WebSocketConnection): void {
    connection.on('message', (message) => {
        expectType<Message>()(message);
        if (message.type === 'utf8') {
            expectType<string>()(message.utf8Data);
            const ok: boolean = connection.sendUTF(message.utf8Data.toUpperCase(), (err) => {
                expectType<Error | undefined>()(err);
            });
            if (!ok) {
                connection.once('drain', () => console.log('buffer drained'));
            }
        } else {
            expectType<Buffer>()(message.binaryData);
            connection.sendBytes(message.binaryData);
        }
    });
    connection.on('frame', (frame) => {
        expectType<WebSocketFrame>()(frame);
        console.log(frame.opcode, frame.fin, frame.binaryPayload.length);
    });
    connection.on('close', (code, desc) => {
        expectType<number>()(code);
        expectType<string>()(desc);
        console.log(connection.closeReasonCode === code, connection.closeDescription);
    });
    connection.on('error', (err) => expectType<Error>()(err));
    connection.on('ping', (cancel, data) => {
        expectType<() => void>()(cancel);
        expectType<Buffer>()(data);
        if (data.length > 100) {
            cancel();
        }
    });
    connection.on('pong', (data) => expectType<Buffer>()(data));
    connection.on('pause', () => console.log('paused'));
    connection.on('resume', () => console.log('resumed'));
    const onDrain = (): void => console.log('drain');
    connection.addListener('drain', onDrain);
    connection.removeListener('drain', onDrain);
    connection.prependListener('message', (m) => expectType<Message>()(m));
    connection.prependOnceListener('close', (code) => expectType<number>()(code));
    connection.off('drain', onDrain);
    // Any other event name keeps EventEmitter's untyped signature.
    connection.on('my-app-event', (...args) => console.log(args.length));
    connection.emit('my-app-event', 1, 2, 3);
    connection.emit('close', 1000, 'normal');

    expectType<number>()(connection.bufferedAmount);
    expectType<number>()(connection.closeReasonCode);
    expectType<string[] | undefined>()(connection.remoteAddresses);
    expectType<'open' | 'ending' | 'peer_requested_close' | 'closed'>()(connection.state);
    expectType<net.Socket | IAdoptedSocket>()(connection.socket);
    const socket = connection.socket;
    console.log(socket.remoteAddress, socket.remotePort, socket.localAddress, socket.localPort,
        socket.bytesRead, socket.bytesWritten, socket.address());
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    if (!(socket instanceof net.Socket)) {
        expectType<false>()(socket.encrypted);
    }

    connection.send('text');
    connection.send(Buffer.from('bytes'));
    connection.send({ toString: () => 'stringified' });
    connection.ping('ping payload');
    connection.pong(Buffer.from('unsolicited'));
    connection.pause();
    connection.resume();
    const custom = new WebSocketFrame();
    custom.fin = true;
    custom.opcode = 0x02;
    custom.binaryPayload = Buffer.from([1, 2, 3]);
    connection.sendFrame(custom, (err) => console.log(err));
    if (connection.connected) {
        connection.close(WebSocketConnection.CLOSE_REASON_NORMAL, 'bye');
    } else {
        connection.drop(WebSocketConnection.CLOSE_REASON_POLICY_VIOLATION, 'policy', true);
    }
}

wsServer.on('request', (request) => {
    expectType<WebSocketRequest>()(request);
    expectType<string>()(request.resource);
    expectType<string[]>()(request.requestedProtocols);
    expectType<IExtension[]>()(request.requestedExtensions);
    const token = request.resourceURL.query['token'];
    if (request.resourceURL.pathname !== '/echo' || typeof token !== 'string') {
        request.reject(404, 'Unknown resource', { 'X-Hint': 'try /echo?token=...' });
        return;
    }
    request.on('requestAccepted', (connection) => expectType<WebSocketConnection>()(connection));
    request.on('requestRejected', (rejected) => expectType<WebSocketRequest>()(rejected));
    request.once('requestResolved', (resolved) => expectType<WebSocketRequest>()(resolved));
    const session = request.cookies.find((c) => c.name === 'session');
    const cookies: ICookie[] = [{ name: 'session', value: session ? session.value : 'new', httponly: true, maxage: 3600 }];
    const protocol = request.requestedProtocols.includes('echo') ? 'echo' : null;
    handleConnection(request.accept(protocol, request.origin, cookies));
});
wsServer.on('connect', (connection) => expectType<WebSocketConnection>()(connection));
wsServer.on('close', (connection, reason, desc) => {
    expectType<WebSocketConnection>()(connection);
    expectType<number>()(reason);
    expectType<string>()(desc);
});
wsServer.on('upgradeError', (err) => expectType<Error>()(err));
expectType<WebSocketConnection[]>()(wsServer.connections);
wsServer.broadcastUTF('to everyone');
wsServer.broadcastBytes(Buffer.alloc(8));
// topics (websocket-rs extension)
expectType<number>()(wsServer.publish('news', 'text'));
expectType<number>()(wsServer.publish('news', Buffer.alloc(2)));
expectType<number>()(wsServer.subscriberCount('news'));
const scaled = new WebSocketServer({ httpServer: https.createServer(), pubsub: { redis: 'redis://127.0.0.1:6379', prefix: 'app:' } });
scaled.on('pubsubError', (err) => expectType<Error>()(err));
const stats = scaled.pubsubStats();
if (stats !== null) expectType<number>()(stats.publishDropped);
wsServer.on('connect', (connection) => {
    expectType<boolean>()(connection.subscribe('news'));
    expectType<boolean>()(connection.isSubscribed('news'));
    expectType<string[]>()(connection.topics);
    expectType<number>()(connection.publish('news', 'from a peer'));
    expectType<boolean>()(connection.unsubscribe('news'));
});

// ---- router ------------------------------------------------------------------------------------

const wsRouter = new WebSocketRouter({ server: wsServer });
wsRouter.mount('/chat', 'chat', (request) => {
    expectType<IRouterRequest>()(request);
    expectType<string | null>()(request.protocol);
    request.on('requestAccepted', (connection) => expectType<WebSocketConnection>()(connection));
    request.on('requestRejected', (rejected) => expectType<IRouterRequest>()(rejected));
    handleConnection(request.accept(request.origin));
});
wsRouter.mount(/^\/rooms\/\w+$/, '*', (request) => request.reject(403, 'closed for now'));
wsRouter.mount('*', null, (request) => request.reject());
wsRouter.unmount('/chat', 'chat');
expectType<'____no_protocol____'>()(WebSocketRouter.NO_PROTOCOL);

// ---- client over TLS -----------------------------------------------------------------------------

const clientConfig: IClientConfig = {
    webSocketVersion: 13,
    maxReceivedMessageSize: 8 * 1024 * 1024,
    assembleFragments: true,
    tlsOptions: {
        ca: fs.readFileSync('ca.crt'),
        cert: fs.readFileSync('client.crt'),
        key: fs.readFileSync('client.key'),
        rejectUnauthorized: true,
        servername: 'localhost',
    },
};
const wsClient = new WebSocketClient(clientConfig);
wsClient.on('connect', (connection) => {
    expectType<WebSocketConnection>()(connection);
    handleConnection(connection);
    connection.sendUTF('hello from the client');
});
wsClient.on('connectFailed', (err) => expectType<Error>()(err));
wsClient.on('httpResponse', (response, client) => {
    expectType<number | undefined>()(response.statusCode);
    expectType<WebSocketClient>()(client);
});
wsClient.connect('wss://localhost:8443/echo?token=abc', ['echo', 'chat'], 'https://example.com',
    { Authorization: 'Bearer abc' }, { agent: new https.Agent({ keepAlive: false }) });
wsClient.abort();
// websocket-rs extension: WebSockets over HTTP/2 (RFC 8441), both ends
const h2server = http2.createSecureServer({ allowHTTP1: true, settings: { enableConnectProtocol: true } });
const h2ws = new WebSocketServer({ httpServer: h2server });
h2ws.on('request', (request) => {
    request.accept('chat', request.origin);
});
wsClient.connect('wss://localhost:8443/echo', 'chat', null, null, { http2: true, ca: 'PEM' });

// ---- W3C API -----------------------------------------------------------------------------------

const browserLike = new W3CWebSocket('wss://localhost:8443/echo?token=abc', 'echo', null, null, null,
    { tlsOptions: { rejectUnauthorized: false } });
browserLike.binaryType = 'arraybuffer';
browserLike.onopen = function (event) {
    expectType<W3CWebSocket>()(this);
    expectType<W3CWebSocket>()(event.target);
    browserLike.send('text');
    browserLike.send(new ArrayBuffer(4));
    browserLike.send(new Uint16Array([1, 2]));
    browserLike.send(new DataView(new ArrayBuffer(2)));
    browserLike.send(Buffer.from('buffer'));
    const either: string | Buffer = Math.random() > 0.5 ? 'a' : Buffer.from('b');
    browserLike.send(either);
};
browserLike.onmessage = (event) => {
    expectType<IW3CMessageEvent>()(event);
    if (typeof event.data === 'string') {
        console.log(event.data.length);
    } else {
        expectType<ArrayBuffer>()(event.data);
    }
};
browserLike.onerror = (event) => console.log('failed', event.type);
browserLike.onclose = (event) => {
    expectType<IW3CCloseEvent>()(event);
    console.log(event.code, event.reason, event.wasClean);
};
browserLike.addEventListener('message', (event) => expectType<string | ArrayBuffer>()(event.data));
browserLike.addEventListener('close', (event) => expectType<number>()(event.code));
browserLike.addEventListener('my-event', (event) => console.log(event));
browserLike.dispatchEvent({ type: 'my-event', detail: 1 });
if (browserLike.readyState === W3CWebSocket.OPEN) {
    console.log(browserLike.bufferedAmount, browserLike.protocol, browserLike.url, browserLike.extensions);
    browserLike.close(4000, 'done');
}
browserLike.onmessage = null;

// ---- frames --------------------------------------------------------------------------------------

const closeFrame = new WebSocketFrame(Buffer.alloc(4), Buffer.alloc(10), { maxReceivedFrameSize: 1024 });
closeFrame.fin = true;
closeFrame.opcode = 0x08;
closeFrame.closeStatus = WebSocketConnection.CLOSE_REASON_GOING_AWAY;
closeFrame.binaryPayload = Buffer.from('going away');
closeFrame.mask = true;
const bytes: Buffer = closeFrame.toBuffer(true);
const parsed = new WebSocketFrame(Buffer.alloc(4), Buffer.alloc(10), { maxReceivedFrameSize: 1024 });
let offset = 0;
const done: boolean = parsed.addData({
    get length() { return bytes.length - offset; },
    take: (n) => bytes.subarray(offset, offset + n),
    advance: (n) => { offset += n; },
});
console.log(done, parsed.closeStatus, parsed.protocolError, parsed.frameTooLarge, parsed.dropReason, parsed.toString());

// ---- constants, deprecation, version, older names ----------------------------------------------

expectType<1000>()(WebSocketConnection.CLOSE_REASON_NORMAL);
expectType<1015>()(WebSocketConnection.CLOSE_REASON_TLS_HANDSHAKE_FAILED);
expectType<string>()(WebSocketConnection.CLOSE_DESCRIPTIONS[1011]!);
expectType<boolean>()(WebSocketConnection.isValidCloseCode(4000));
expectType<string>()(version);
deprecation.disableWarnings = true;
expectType<string | false>()(deprecation.deprecationWarningMap['x']);
const older: IMessage = { type: 'utf8', utf8Data: 'IMessage is the older name of Message' };
console.log(older.type);

export {};
