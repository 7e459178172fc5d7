// Deliberate type errors, each marked `// @ts-expect-error`: tsc fails on a marked line that
// compiles ("Unused '@ts-expect-error' directive"), so __test__/types.test.js passing means
// every one of these is rejected by index.d.ts, i.e. the types are strict rather than `any`.
// Never run, only type-checked.
import * as http from 'http';
import * as net from 'net';
import * as WebSocket from 'websocket';
import {
    client as WebSocketClient,
    connection as WebSocketConnection,
    deprecation,
    frame as WebSocketFrame,
    router as WebSocketRouter,
    server as WebSocketServer,
    version,
    w3cwebsocket as W3CWebSocket,
} from 'websocket';
import type { IRouterRequest, Message } from 'websocket';

declare const httpServer: http.Server;
declare const connection: WebSocketConnection;
declare const message: Message;
declare const routerRequest: IRouterRequest;

// ---- config options ----------------------------------------------------------------------------

// @ts-expect-error unknown server option
new WebSocketServer({ httpServer, keepAliveInterval: 1000 });
// @ts-expect-error an option of the wrong type
new WebSocketServer({ httpServer, keepalive: 'yes' });
// @ts-expect-error httpServer is required
new WebSocketServer({ keepalive: false });
// @ts-expect-error unknown client option
new WebSocketClient({ webSocketVersions: 13 });
// @ts-expect-error a server-only option on a client
new WebSocketClient({ autoAcceptConnections: true });
// @ts-expect-error tlsOptions are https.request options
new WebSocketClient({ tlsOptions: { rejectUnauthorized: 'no' } });

// ---- event listeners ---------------------------------------------------------------------------

// @ts-expect-error a message is an object, not a string
connection.on('message', (data: string) => console.log(data));
// @ts-expect-error close gives (code: number, desc: string)
connection.on('close', (code: string) => console.log(code));
// @ts-expect-error ping gives (cancel, data), not (data, cancel)
connection.on('ping', (data: Buffer, cancel: () => void) => console.log(data, cancel));
// @ts-expect-error pong gives a Buffer
connection.once('pong', (data: string) => console.log(data));
// @ts-expect-error drain gives nothing
connection.addListener('drain', (n: number) => console.log(n));
// @ts-expect-error the listener removed must have the event's signature
connection.removeListener('error', (err: string) => console.log(err));
// @ts-expect-error emit needs the event's arguments
connection.emit('close', 'normal');
// @ts-expect-error a server's request event gives a request, not a connection
new WebSocketServer({ httpServer }).on('request', (req: WebSocketConnection) => console.log(req));
// @ts-expect-error a server's close event gives the connection first
new WebSocketServer({ httpServer }).on('close', (code: number) => console.log(code));
// @ts-expect-error connectFailed gives an Error
new WebSocketClient().on('connectFailed', (err: string) => console.log(err));
// @ts-expect-error connect gives a connection
new WebSocketClient().on('connect', (response: http.IncomingMessage) => console.log(response));
// @ts-expect-error requestAccepted gives a connection
routerRequest.on('requestAccepted', (req: IRouterRequest) => console.log(req));

// ---- connection ----------------------------------------------------------------------------------

// @ts-expect-error sendBytes takes a Buffer
connection.sendBytes('not a buffer');
// @ts-expect-error close codes are numbers
connection.close('1000');
// @ts-expect-error read-only
connection.bufferedAmount = 0;
// @ts-expect-error the constants are read-only
WebSocketConnection.CLOSE_REASON_NORMAL = 1001;
// @ts-expect-error no such method
connection.sendText('hello');
// @ts-expect-error utf8Data exists only once the message is narrowed to 'utf8'
console.log(message.utf8Data);
if (message.type === 'binary') {
    // @ts-expect-error a binary message has no utf8Data
    console.log(message.utf8Data);
}
if (!(connection.socket instanceof net.Socket)) {
    // @ts-expect-error an adopted socket is not a stream
    connection.socket.write('bytes');
}

// ---- request, server, router -----------------------------------------------------------------------

declare const request: WebSocket.request;
// @ts-expect-error the protocol is a string (or null)
request.accept(13);
// @ts-expect-error cookies need a name and a value
request.accept(null, null, [{ name: 'session' }]);
// @ts-expect-error the status is a number
request.reject('404');
// @ts-expect-error broadcastBytes takes a Buffer
new WebSocketServer({ httpServer }).broadcastBytes('text');
// @ts-expect-error a route's path is a string or a RegExp
new WebSocketRouter().mount(42, null, () => undefined);
// @ts-expect-error a router request's accept() takes (origin, cookies): the protocol is the route's
routerRequest.accept('chat', 'http://example.com');

// ---- w3cwebsocket --------------------------------------------------------------------------------

// @ts-expect-error the URL is required
new W3CWebSocket();
const ws = new W3CWebSocket('ws://localhost:8080/');
// @ts-expect-error numbers cannot be sent
ws.send(42);
// @ts-expect-error plain objects cannot be sent
ws.send({ toString: () => 'x' });
// @ts-expect-error only 'arraybuffer' is supported
ws.binaryType = 'blob';
// @ts-expect-error read-only
ws.readyState = W3CWebSocket.OPEN;
// @ts-expect-error the message's data is a string or an ArrayBuffer
ws.onmessage = (event: { data: number }) => console.log(event.data);
// @ts-expect-error onerror gets an event, not an Error
ws.onerror = (error: Error) => console.log(error.message);
// @ts-expect-error a close event's code is a number
ws.addEventListener('close', (event: { code: string }) => console.log(event.code));

// ---- frame, deprecation, version, exports --------------------------------------------------------

// @ts-expect-error nullMask is a boolean
new WebSocketFrame().toBuffer('yes');
// @ts-expect-error warn() needs a name
deprecation.warn();
// @ts-expect-error version is a string
const versionNumber: number = version;
// @ts-expect-error the module exports lower-case names only (server, client, ...)
console.log(WebSocket.WebSocketServer, versionNumber);

export {};

// @ts-expect-error publish() takes a string or a Buffer, not a number
new WebSocketServer({ httpServer: http.createServer() }).publish('topic', 42);
