// Code written the way users of @types/websocket write it (names and signatures from
// @types/websocket 1.0.10). __test__/types.test.js type-checks it twice with the same options:
// against this repository's index.d.ts (tsconfig.json) and against @types/websocket
// (tsconfig.types-websocket.json), so it is genuine @types/websocket code that keeps compiling
// after switching to websocket-rs. Never run, only type-checked.
import * as WebSocket from 'websocket';
import websocket = require('websocket');
import {
    client as WebSocketClient,
    connection as WebSocketConnection,
    frame as WebSocketFrame,
    request as WebSocketRequest,
    router as WebSocketRouter,
    server as WebSocketServer,
    w3cwebsocket as W3CWebSocket,
} from 'websocket';
import type {
    IBinaryMessage,
    ICloseEvent,
    IClientConfig,
    IConfig,
    ICookie,
    IMessageEvent,
    IRouterConfig,
    IRouterRequest,
    IServerConfig,
    IStringified,
    IUtf8Message,
    Message,
} from 'websocket';
import * as http from 'http';
import * as net from 'net';

function originIsAllowed(origin: string): boolean {
    return origin !== 'http://evil.example';
}

// ---- server, request, connection -------------------------------------------------------------

const httpServer = http.createServer((req, res) => {
    console.log(new Date() + ' Received request for ' + req.url);
    res.writeHead(404);
    res.end();
});
httpServer.listen(8080);

const serverConfig: IServerConfig = {
    httpServer,
    autoAcceptConnections: false,
    maxReceivedFrameSize: 64 * 1024,
    maxReceivedMessageSize: 1024 * 1024,
    fragmentOutgoingMessages: true,
    fragmentationThreshold: 16 * 1024,
    assembleFragments: true,
    keepalive: true,
    keepaliveInterval: 20000,
    dropConnectionOnKeepaliveTimeout: true,
    keepaliveGracePeriod: 10000,
    useNativeKeepalive: false,
    ignoreXForwardedFor: false,
    closeTimeout: 5000,
    disableNagleAlgorithm: true,
};
const wsServer = new WebSocket.server(serverConfig);

wsServer.on('request', (request: WebSocket.request) => {
    if (!originIsAllowed(request.origin)) {
        request.reject();
        console.log(new Date() + ' Connection from origin ' + request.origin + ' rejected.');
        return;
    }
    const protocol = request.requestedProtocols.indexOf('echo-protocol') !== -1 ? 'echo-protocol' : null;
    const cookies: ICookie[] = [
        { name: 'session', value: 'abc', path: '/', httponly: true, secure: false, maxage: 3600 },
        { name: 'theme', value: 'dark', expires: new Date(Date.now() + 86400000), domain: 'example.com' },
    ];
    const connection: WebSocket.connection = request.accept(protocol, request.origin, cookies);
    console.log(
        request.host,
        request.resource,
        request.resourceURL.pathname,
        request.resourceURL.query['token'],
        request.key,
        request.remoteAddress,
        request.remoteAddresses.join(', '),
        request.webSocketVersion,
        request.httpRequest.headers['user-agent'],
        request.socket.remotePort,
        request.requestedExtensions.length,
        request.serverConfig.keepaliveInterval,
    );
    for (const cookie of request.cookies) {
        console.log(cookie.name + '=' + cookie.value);
    }

    connection.on('message', (message: Message) => {
        if (message.type === 'utf8') {
            console.log('Received Message: ' + message.utf8Data);
            connection.sendUTF(message.utf8Data);
        } else if (message.type === 'binary') {
            console.log('Received Binary Message of ' + message.binaryData.length + ' bytes');
            connection.sendBytes(message.binaryData);
        }
    });
    connection.on('close', (reasonCode: number, description: string) => {
        console.log(new Date() + ' Peer ' + connection.remoteAddress + ' disconnected: ' + reasonCode + ' ' + description);
    });
    connection.on('error', (error: Error) => console.log('Connection Error: ' + error.toString()));
    connection.on('frame', (frame: WebSocket.frame) => console.log(frame.opcode, frame.binaryPayload.toString()));
    connection.on('ping', (cancel: () => void, binaryPayload: Buffer) => {
        cancel();
        connection.pong(binaryPayload);
    });
    connection.on('pong', (binaryPayload: Buffer) => console.log('pong', binaryPayload.length));
    connection.on('drain', () => console.log('drained'));
    connection.on('pause', () => console.log('paused'));
    connection.on('resume', () => console.log('resumed'));
    connection.addListener('message', (message) => {
        if (message.type === 'utf8') {
            handleUtf8(message);
        } else {
            handleBinary(message);
        }
    });
    connection.addListener('close', (code) => console.log(code));

    request.on('requestAccepted', (accepted: WebSocket.connection) => accepted.sendUTF('welcome'));
    request.on('requestRejected', (rejected) => console.log(rejected.resource));
    request.on('requestResolved', (resolved) => console.log(resolved.resource));
});

wsServer.on('connect', (conn) => {
    conn.sendUTF(`Your IP Address is - ${conn.remoteAddress}`);
});
wsServer.on('close', (conn: WebSocket.connection, reason: number, desc: string) => {
    console.log(conn.remoteAddress, reason, desc);
});
wsServer.addListener('connect', (conn) => conn.send('hi'));

function handleUtf8(message: IUtf8Message): string {
    return message.utf8Data;
}

function handleBinary(message: IBinaryMessage): number {
    return message.binaryData.byteLength;
}

const greeting: IStringified = { toString: () => 'hello everyone' };
wsServer.broadcast(greeting);
wsServer.broadcast(Buffer.from([1, 2, 3]));
wsServer.broadcastUTF('text for all');
wsServer.broadcastBytes(Buffer.alloc(4));
console.log(wsServer.connections.length, wsServer.pendingRequests.length, wsServer.config?.keepalive);
wsServer.connections.forEach((c) => c.close(WebSocketConnection.CLOSE_REASON_GOING_AWAY, 'shutting down'));

function inspect(conn: WebSocketConnection): void {
    const code: number = conn.closeReasonCode;
    const description: string = conn.closeDescription;
    const protocol: string = conn.protocol;
    const remote: string | undefined = conn.socket.remoteAddress;
    const state: string = conn.state;
    const config: IConfig = conn.config;
    console.log(code, description, protocol, remote, state, config.closeTimeout);
    console.log(conn.connected, conn.webSocketVersion, conn.outputBufferFull, conn.inputPaused,
        conn.maskOutgoingPackets, conn.waitingForCloseResponse, conn.closeTimeout,
        conn.maxReceivedMessageSize, conn.extensions.length);
    console.log(WebSocketConnection.CLOSE_DESCRIPTIONS[WebSocketConnection.CLOSE_REASON_NORMAL]);
    conn.ping(Buffer.from('are you there?'));
    conn.ping('keepalive');
    conn.sendUTF(12345);
    conn.send('text', (err?: Error) => {
        if (err) {
            console.log(err.message);
        }
    });
    conn.sendBytes(Buffer.from('bytes'), (err) => console.log(err));
    conn.pause();
    conn.resume();
    if (code === WebSocketConnection.CLOSE_REASON_MESSAGE_TOO_BIG) {
        conn.drop(WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, 'bad peer', true);
    }
    conn.close();
}

wsServer.unmount();
wsServer.mount(serverConfig);
wsServer.closeAllConnections();
wsServer.shutDown();

// A request handled without a server (an `upgrade` listener of one's own).
httpServer.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    const wsRequest = new WebSocketRequest(socket, req, serverConfig);
    try {
        wsRequest.readHandshake();
    } catch (e) {
        wsRequest.reject(400, 'bad handshake', { 'X-Reason': 'handshake' });
        return;
    }
    inspect(wsRequest.accept(null, wsRequest.origin));
});

// A connection made by hand (advanced).
function manualConnection(socket: net.Socket): WebSocketConnection {
    return new websocket.connection(socket, [], 'chat', false, { closeTimeout: 1000 });
}
console.log(manualConnection);

// ---- client ------------------------------------------------------------------------------------

const clientConfig: IClientConfig = {
    webSocketVersion: 13,
    maxReceivedFrameSize: 0x100000,
    maxReceivedMessageSize: 0x800000,
    assembleFragments: true,
    closeTimeout: 5000,
    tlsOptions: { rejectUnauthorized: false, ca: ['-----BEGIN CERTIFICATE-----'], servername: 'localhost' },
};
const client = new WebSocketClient(clientConfig);

client.on('connectFailed', (error: Error) => {
    console.log('Connect Error: ' + error.toString());
});
client.on('httpResponse', (response: http.IncomingMessage, c: WebSocket.client) => {
    console.log(response.statusCode, c === client);
});
client.on('connect', (connection: WebSocket.connection) => {
    console.log('WebSocket client connected');
    connection.on('error', (error: Error) => console.log('Connection Error: ' + error.toString()));
    connection.on('close', () => console.log('echo-protocol Connection Closed'));
    connection.on('message', (message: Message) => {
        if (message.type === 'utf8') {
            console.log("Received: '" + message.utf8Data + "'");
        }
    });
    function sendNumber(): void {
        if (connection.connected) {
            const number = Math.round(Math.random() * 0xffffff);
            connection.sendUTF(number.toString());
            setTimeout(sendNumber, 1000);
        }
    }
    sendNumber();
});
client.connect('ws://localhost:8080/', 'echo-protocol');
client.connect('wss://localhost:8443/chat', ['chat', 'superchat'], 'http://example.com',
    { Authorization: 'Bearer token' }, { localAddress: '127.0.0.1' });
client.connect('ws://127.0.0.1:8888', undefined, undefined, undefined, { localAddress: '127.0.0.1' });
client.abort();

// ---- frame ---------------------------------------------------------------------------------------

const outgoing = new WebSocketFrame();
outgoing.fin = true;
outgoing.opcode = 0x01;
outgoing.binaryPayload = Buffer.from('hand-made frame', 'utf8');
const wire: Buffer = outgoing.toBuffer(true);
console.log(wire.length, outgoing.toString(), outgoing.length, outgoing.rsv1, outgoing.closeStatus);

// ---- router --------------------------------------------------------------------------------------

const routerConfig: IRouterConfig = { server: wsServer };
const wsRouter = new WebSocketRouter(routerConfig);
wsRouter.mount('*', 'echo-protocol', (request: IRouterRequest) => {
    if (!originIsAllowed(request.origin)) {
        request.reject();
        return;
    }
    const connection = request.accept(request.origin);
    console.log(request.protocol, request.resource, request.resourceURL.pathname, request.remoteAddress,
        request.webSocketVersion, request.webSocketRequest.key, request.httpRequest.url, request.cookies.length);
    connection.on('message', (message) => {
        if (message.type === 'utf8') {
            connection.sendUTF(message.utf8Data);
        }
    });
    request.on('requestAccepted', (conn: WebSocket.connection) => console.log(conn.protocol));
    request.on('requestRejected', (rejected) => console.log(rejected.resource));
});
wsRouter.mount(/^\/route\/[a-zA-Z]+$/, null, (request) => request.reject(404, 'not here'));
wsRouter.unmount('*', 'echo-protocol');
wsRouter.unmount(/^\/route\/[a-zA-Z]+$/);
console.log(wsRouter.handlers.length);
wsRouter.detachServer();
wsRouter.attachServer(wsServer);

// ---- w3cwebsocket --------------------------------------------------------------------------------

const w3c = new W3CWebSocket('ws://localhost:8080/', 'echo-protocol');
w3c.onopen = () => {
    console.log('WebSocket Client Connected');
    if (w3c.readyState === w3c.OPEN) {
        w3c.send('hello');
        w3c.send(Buffer.from('buffer'));
        w3c.send(new Uint8Array([1, 2, 3]));
        w3c.send(new ArrayBuffer(8));
    }
};
w3c.onerror = () => {
    console.log('Connection Error');
};
w3c.onclose = (event: ICloseEvent) => {
    console.log('echo-protocol Client Closed', event.code, event.reason, event.wasClean);
};
w3c.onmessage = (e: IMessageEvent) => {
    if (typeof e.data === 'string') {
        console.log("Received: '" + e.data + "'");
    }
};
w3c.binaryType = 'arraybuffer';
console.log(w3c.url, w3c.protocol, w3c.bufferedAmount, W3CWebSocket.CLOSED, w3c.readyState === W3CWebSocket.CONNECTING);
w3c.close(1000, 'done');

const withHeaders = new WebSocket.w3cwebsocket('ws://localhost:8080/', undefined, undefined,
    { 'X-Token': 'abc', 'set-cookie': ['a=1', 'b=2'] }, undefined, { maxReceivedMessageSize: 1 << 20 });
withHeaders.onmessage = (event) => console.log(event.data);

// ---- deprecation, version ------------------------------------------------------------------------

WebSocket.deprecation.disableWarnings = true;
WebSocket.deprecation.warn('something');
const version: string = websocket.version;
console.log(version);

export {};
