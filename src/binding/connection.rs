//! `Context` (one per JS environment) adopts sockets; `NativeConnection` is the JS handle of one
//! adopted connection, used by lib/WebSocketConnection.js.

use std::cell::RefCell;
use std::ptr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use napi::bindgen_prelude::*;
use napi::{sys, JsString, JsValue};
use napi_derive::napi;

use super::events::{self, EnvShared};
use crate::protocol::connection::{Connection, ConnectionConfig};
use crate::protocol::frame::{OpCode, Role};
use crate::protocol::message::{ReceiverConfig, SenderConfig};
use crate::runtime::conn::{self as rt_conn, ConnShared};
use crate::runtime::{self, tcp};

/// Node's default `writableHighWaterMark`, which decides the original's `outputBufferFull`.
const HIGH_WATER_MARK: usize = 16 * 1024;

/// Connection options, with the names of the original's config (`maxReceivedFrameSize` ...).
#[napi(object)]
pub struct ConnectionOptions {
    /// True for a client connection (frames masked outgoing, unmasked incoming).
    pub client: Option<bool>,
    pub max_received_frame_size: Option<f64>,
    pub max_received_message_size: Option<f64>,
    pub assemble_fragments: Option<bool>,
    pub fragment_outgoing_messages: Option<bool>,
    pub fragmentation_threshold: Option<f64>,
    pub keepalive: Option<bool>,
    pub keepalive_interval: Option<f64>,
    pub drop_connection_on_keepalive_timeout: Option<bool>,
    pub keepalive_grace_period: Option<f64>,
    pub use_native_keepalive: Option<bool>,
    pub close_timeout: Option<f64>,
    pub disable_nagle_algorithm: Option<bool>,
}

/// A JS number as a byte count or millisecond count: negative and NaN give 0, huge values
/// and Infinity saturate.
fn count(v: Option<f64>, default: f64) -> u64 {
    let v = v.unwrap_or(default);
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= 9.0e15 {
        9_000_000_000_000_000
    } else {
        v as u64
    }
}

fn millis(v: Option<f64>, default: f64) -> Duration {
    Duration::from_millis(count(v, default))
}

impl ConnectionOptions {
    fn to_config(&self) -> ConnectionConfig {
        let client = self.client.unwrap_or(false);
        let role = if client { Role::Client } else { Role::Server };
        let (frame, message) = if client {
            (1048576.0, 8388608.0)
        } else {
            (65536.0, 1048576.0)
        };
        let keepalive = !client
            && self.keepalive.unwrap_or(true)
            && !self.use_native_keepalive.unwrap_or(false);
        ConnectionConfig {
            receiver: ReceiverConfig {
                role,
                max_frame_size: count(self.max_received_frame_size, frame),
                max_message_size: count(self.max_received_message_size, message),
                assemble_fragments: self.assemble_fragments.unwrap_or(true),
                allowed_rsv: 0,
            },
            sender: SenderConfig {
                role,
                fragment_outgoing: self.fragment_outgoing_messages.unwrap_or(true),
                fragmentation_threshold: count(self.fragmentation_threshold, 16384.0) as usize,
            },
            keepalive_interval: keepalive.then(|| millis(self.keepalive_interval, 20000.0)),
            keepalive_grace: (keepalive
                && self.drop_connection_on_keepalive_timeout.unwrap_or(true))
            .then(|| millis(self.keepalive_grace_period, 10000.0)),
            close_timeout: millis(self.close_timeout, 5000.0),
            high_water_mark: HIGH_WATER_MARK,
        }
    }
}

/// The addresses of an adopted socket, for `connection.socket`.
#[napi(object)]
pub struct SocketAddresses {
    pub remote_address: String,
    pub remote_port: u32,
    pub remote_family: String,
    pub local_address: String,
    pub local_port: u32,
}

/// The per-environment entry point: owns the event channel and adopts sockets.
#[napi]
pub struct Context {
    env: Arc<EnvShared>,
    next_id: u32,
}

#[napi]
impl Context {
    /// Creates the environment's event channel; `dispatch(batch)` receives every event batch.
    #[napi(constructor)]
    pub fn new(env: Env, dispatch: Unknown) -> Result<Self> {
        let shared = events::create(env.raw(), dispatch.raw())?;
        Ok(Context {
            env: shared,
            next_id: 1,
        })
    }

    /// Takes over the TCP socket with descriptor `fd` (Node keeps its own copy, to be destroyed
    /// by the caller right after): writes `response` (the HTTP 101), then processes `head`
    /// (bytes that arrived after the request) and everything after as WebSocket frames.
    #[napi(catch_unwind)]
    pub fn adopt(
        &mut self,
        env: Env,
        fd: i32,
        head: &[u8],
        response: &[u8],
        options: ConnectionOptions,
    ) -> Result<NativeConnection> {
        let handle = runtime::handle().map_err(|e| {
            Error::from_reason(format!("cannot start the websocket-rs runtime: {e}"))
        })?;
        let nodelay = options.disable_nagle_algorithm.unwrap_or(true);
        let (std_stream, info) = tcp::adopt(fd, nodelay)
            .map_err(|e| Error::from_reason(format!("cannot adopt the socket: {e}")))?;
        if options.keepalive.unwrap_or(true) && options.use_native_keepalive.unwrap_or(false) {
            let idle = millis(options.keepalive_interval, 20000.0);
            let ka = socket2::TcpKeepalive::new().with_time(idle.max(Duration::from_secs(1)));
            let _ = socket2::SockRef::from(&std_stream).set_tcp_keepalive(&ka);
        }
        let stream = {
            let _guard = handle.enter();
            tokio::net::TcpStream::from_std(std_stream)
                .map_err(|e| Error::from_reason(format!("cannot register the socket: {e}")))?
        };
        let mut conn = Connection::new(options.to_config(), Instant::now());
        conn.queue_handshake(response);
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let sink: Arc<dyn rt_conn::EventSink> = self.env.clone();
        let shared = Arc::new(ConnShared::new(id, conn, stream, info, sink));
        self.env.add_conn(env.raw(), &shared);
        shared.flush();
        handle.spawn(rt_conn::run(shared.clone(), BytesMut::from(head)));
        Ok(NativeConnection {
            conn: Arc::downgrade(&shared),
            env: self.env.clone(),
            id,
        })
    }

    /// Writes the sends made outside a batch (called from a microtask).
    #[napi]
    pub fn flush(&self) {
        self.env.flush_dirty();
    }
}

thread_local! {
    /// Scratch space for a string's UTF-8 bytes, reused by every send on this thread.
    static TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Result of a send, as a number: bit 0 `outputBufferFull`, bit 1 "schedule a flush", or -1
/// when the connection no longer accepts data.
const FULL: i32 = 1;
const SCHEDULE_FLUSH: i32 = 2;
const NOT_OPEN: i32 = -1;

/// The JS handle of an adopted connection.
#[napi]
pub struct NativeConnection {
    conn: Weak<ConnShared>,
    env: Arc<EnvShared>,
    id: u32,
}

#[napi]
impl NativeConnection {
    /// The connection's id in event batches.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    fn send(&self, opcode: OpCode, payload: &[u8], token: Option<u32>) -> i32 {
        let Some(conn) = self.conn.upgrade() else {
            return NOT_OPEN;
        };
        let r = conn.with(|core| core.conn.send_message(opcode, payload, token));
        self.after_send(&conn, r)
    }

    fn after_send<E>(&self, conn: &Arc<ConnShared>, r: std::result::Result<bool, E>) -> i32 {
        match r {
            Err(_) => NOT_OPEN,
            Ok(full) => {
                let mut out = if full { FULL } else { 0 };
                if self.env.mark_dirty(conn) {
                    out |= SCHEDULE_FLUSH;
                }
                out
            }
        }
    }

    /// Queues a text message; `token` identifies its callback in a later `Sent` event.
    #[napi]
    pub fn send_text(&self, text: JsString, token: Option<u32>) -> Result<i32> {
        let value = text.value();
        TEXT.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            utf8_into(value.env, value.value, &mut buf)?;
            Ok(self.send(OpCode::Text, &buf, token))
        })
    }

    /// Queues a binary message.
    #[napi]
    pub fn send_binary(&self, data: &[u8], token: Option<u32>) -> i32 {
        self.send(OpCode::Binary, data, token)
    }

    /// Queues frames encoded by the application (`sendFrame`).
    #[napi]
    pub fn send_encoded(&self, data: &[u8], token: Option<u32>) -> i32 {
        let Some(conn) = self.conn.upgrade() else {
            return NOT_OPEN;
        };
        let r = conn.with(|core| core.conn.send_encoded(data, token));
        self.after_send(&conn, r)
    }

    /// Queues a ping (at most 125 bytes are sent).
    #[napi]
    pub fn ping(&self, data: &[u8]) -> i32 {
        self.control(|c| c.ping(data))
    }

    /// Queues a pong (at most 125 bytes are sent).
    #[napi]
    pub fn pong(&self, data: &[u8]) -> i32 {
        self.control(|c| c.pong(data))
    }

    fn control(&self, f: impl FnOnce(&mut Connection)) -> i32 {
        let Some(conn) = self.conn.upgrade() else {
            return NOT_OPEN;
        };
        conn.with(|core| f(&mut core.conn));
        self.after_send::<()>(&conn, Ok(false))
    }

    /// Starts the close handshake with a code the caller has validated.
    #[napi]
    pub fn close(&self, code: u32, description: String) {
        if let Some(conn) = self.conn.upgrade() {
            let now = Instant::now();
            conn.with(|core| core.conn.close(code as u16, &description, now));
            conn.flush();
        }
    }

    /// Ends the connection now; the caller emits its own `close` event.
    #[napi(js_name = "drop")]
    pub fn drop_now(&self, code: u32, description: Option<String>, skip_close_frame: bool) {
        if let Some(conn) = self.conn.upgrade() {
            conn.with(|core| {
                core.conn
                    .drop_connection(code as u16, description, skip_close_frame, false)
            });
            conn.flush();
        }
    }

    /// Stops reading the socket.
    #[napi]
    pub fn pause(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.set_paused(true);
        }
    }

    /// Resumes reading the socket.
    #[napi]
    pub fn resume(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.set_paused(false);
        }
    }

    /// Whether the application answers pings itself (it has `ping` listeners).
    #[napi]
    pub fn set_app_handles_pings(&self, yes: bool) {
        if let Some(conn) = self.conn.upgrade() {
            conn.with(|core| core.conn.set_app_handles_pings(yes));
        }
    }

    /// Bytes queued and not yet written.
    #[napi(getter)]
    pub fn buffered_amount(&self) -> f64 {
        self.conn
            .upgrade()
            .map(|c| c.lock().conn.buffered() as f64)
            .unwrap_or(0.0)
    }

    /// Bytes received on the socket so far.
    #[napi(getter)]
    pub fn bytes_read(&self) -> f64 {
        self.conn
            .upgrade()
            .map(|c| c.lock().bytes_read as f64)
            .unwrap_or(0.0)
    }

    /// Bytes written to the socket so far.
    #[napi(getter)]
    pub fn bytes_written(&self) -> f64 {
        self.conn
            .upgrade()
            .map(|c| c.lock().bytes_written as f64)
            .unwrap_or(0.0)
    }

    /// The socket's addresses (fixed at adoption).
    #[napi]
    pub fn addresses(&self) -> Option<SocketAddresses> {
        self.conn.upgrade().map(|c| SocketAddresses {
            remote_address: c.info.remote_address.clone(),
            remote_port: u32::from(c.info.remote_port),
            remote_family: c.info.remote_family.to_owned(),
            local_address: c.info.local_address.clone(),
            local_port: u32::from(c.info.local_port),
        })
    }

    /// `socket.setNoDelay()`.
    #[napi]
    pub fn set_no_delay(&self, enable: bool) {
        if let Some(conn) = self.conn.upgrade() {
            let _ = conn.stream().set_nodelay(enable);
        }
    }

    /// `socket.setKeepAlive()`: TCP keepalive probes after `delay_ms` of idleness.
    #[napi]
    pub fn set_keep_alive(&self, enable: bool, delay_ms: f64) {
        if let Some(conn) = self.conn.upgrade() {
            let sock = socket2::SockRef::from(conn.stream());
            let _ = if enable {
                let idle = millis(Some(delay_ms), 0.0).max(Duration::from_secs(1));
                sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle))
            } else {
                sock.set_keepalive(false)
            };
        }
    }
}

/// Copies a JS string's UTF-8 encoding into `out` (reusing its allocation).
fn utf8_into(env: sys::napi_env, value: sys::napi_value, out: &mut Vec<u8>) -> Result<()> {
    let mut len = 0usize;
    // SAFETY: `value` is a JS string handle valid for this call, `env` its environment.
    let status =
        unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::StringExpected, "expected a string"));
    }
    out.clear();
    out.reserve(len + 1);
    let mut written = 0usize;
    // SAFETY: `out` has room for `len` bytes plus the terminating NUL N-API writes.
    let status = unsafe {
        sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), len + 1, &mut written)
    };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::StringExpected, "expected a string"));
    }
    // SAFETY: N-API wrote `written` initialised bytes (≤ len) into the reserved space.
    unsafe { out.set_len(written.min(len)) };
    Ok(())
}
