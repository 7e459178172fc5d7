//! The functions lib/WebSocketConnection.js calls: adopting a socket, sending, closing, and the
//! socket's details, each on a connection id.

use std::cell::RefCell;
use std::ptr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use napi::bindgen_prelude::*;
use napi::{sys, JsValue};
use napi_derive::napi;

use super::events::{self, EnvShared};
use super::raw::Thrown;
use crate::protocol::connection::TransportEnd;
use crate::protocol::connection::{Connection, ConnectionConfig, TransportGoal};
use crate::protocol::frame::{OpCode, Role};
use crate::protocol::message::{ReceiverConfig, SenderConfig};
use crate::runtime::conn::{self as rt_conn, ConnShared, Transport};
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

/// This JS thread's connections and event channel. Performance choice: hot calls are plain
/// functions taking a connection id, not methods on a napi class: napi-rs registers every
/// class-method receiver in a process-wide borrow table behind a mutex, which cost more than
/// the send itself.
#[derive(Default)]
struct Registry {
    env: Option<Arc<EnvShared>>,
    /// `slots[id - 1]` is the connection with that id, until its `GONE` event is delivered.
    slots: Vec<Option<Arc<ConnShared>>>,
    free: Vec<u32>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
    /// Scratch space for a string's UTF-8 bytes, reused by every send on this thread.
    pub(super) static TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Connection options as `adopt` and `bridge` use them, made once per options object
/// (`prepareOptions`) rather than converted from JS on every handshake. Performance choice: the
/// conversion of the 14 named properties was 2.5% of a handshake's CPU.
pub struct Prepared {
    config: Arc<ConnectionConfig>,
    nodelay: bool,
    /// `useNativeKeepalive`: TCP keepalive after this idle time.
    native_keepalive: Option<Duration>,
}

impl ConnectionOptions {
    fn prepare(&self) -> Prepared {
        Prepared {
            config: shared_config(self.to_config()),
            nodelay: self.disable_nagle_algorithm.unwrap_or(true),
            native_keepalive: (self.keepalive.unwrap_or(true)
                && self.use_native_keepalive.unwrap_or(false))
            .then(|| millis(self.keepalive_interval, 20000.0).max(Duration::from_secs(1))),
        }
    }
}

/// Prepares connection options for `adopt` and `bridge`: JS keeps the handle per config object
/// (an External, so it lives as long as JS holds it).
#[napi(catch_unwind)]
pub fn prepare_options(options: ConnectionOptions) -> External<Prepared> {
    External::new(options.prepare())
}

/// A new connection with `prepared` options (permessage-deflate on when agreed).
fn new_connection(
    prepared: &Prepared,
    deflate: Option<&super::deflate::DeflateOptions>,
) -> Connection {
    let mut conn = Connection::new(prepared.config.clone(), Instant::now());
    if let Some(d) = deflate {
        conn.enable_deflate(d.setup());
    }
    conn
}

/// The one shared copy of `config` on this thread: connections of the same server (or client)
/// all point to it.
fn shared_config(config: ConnectionConfig) -> Arc<ConnectionConfig> {
    thread_local! {
        static CONFIGS: RefCell<Vec<Arc<ConnectionConfig>>> = const { RefCell::new(Vec::new()) };
    }
    CONFIGS.with(|c| {
        let mut configs = c.borrow_mut();
        if let Some(found) = configs.iter().find(|c| ***c == config) {
            return found.clone();
        }
        // A bounded cache: a program that makes configs without end still shares the recent ones.
        if configs.len() >= 64 {
            configs.remove(0);
        }
        let shared = Arc::new(config);
        configs.push(shared.clone());
        shared
    })
}

pub(super) fn conn(id: u32) -> Option<Arc<ConnShared>> {
    with_conns(|slots| slot(slots, id).cloned())
}

/// Connection `id` in the registry's slots (see [`with_conns`]).
pub(super) fn slot(slots: &[Option<Arc<ConnShared>>], id: u32) -> Option<&Arc<ConnShared>> {
    slots
        .get((id as usize).wrapping_sub(1))
        .and_then(|s| s.as_ref())
}

/// Runs `f` with the registry's connections, indexed by id - 1, borrowed (no reference count
/// traffic: a broadcast looks up every connection of a server).
pub(super) fn with_conns<R>(f: impl FnOnce(&[Option<Arc<ConnShared>>]) -> R) -> R {
    REGISTRY.with(|r| f(&r.borrow().slots))
}

pub(super) fn env_shared() -> Option<Arc<EnvShared>> {
    REGISTRY.with(|r| r.borrow().env.clone())
}

/// Closes every connection of this thread's environment without events (it is going away).
pub(crate) fn kill_all() {
    let conns: Vec<Arc<ConnShared>> =
        REGISTRY.with(|r| r.borrow().slots.iter().flatten().cloned().collect());
    for conn in conns {
        conn.kill();
    }
}

/// Frees a connection's id once its last event (`GONE`) has been delivered.
pub(crate) fn release(id: u32) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(slot) = r.slots.get_mut((id as usize).wrapping_sub(1)) {
            if slot.take().is_some() {
                r.free.push(id);
            }
        }
    });
}

/// Creates this environment's event channel; `dispatch(count, meta, ...values)` receives every
/// event batch. Calling it again does nothing.
#[napi(catch_unwind)]
pub fn init(env: Env, dispatch: Unknown) -> Result<()> {
    if env_shared().is_some() {
        return Ok(());
    }
    let shared = events::create(env.raw(), dispatch.raw())?;
    REGISTRY.with(|r| r.borrow_mut().env = Some(shared));
    Ok(())
}

/// Takes over the TCP socket with descriptor `fd` (Node keeps its own copy, to be destroyed by
/// the caller right after): writes `response` (the HTTP 101), then processes `head` (bytes that
/// arrived after the request) and everything after as WebSocket frames. `options` comes from
/// `prepareOptions`; `deflate` is the permessage-deflate agreement, if any. Returns the id.
#[napi(catch_unwind)]
pub fn adopt(
    env: Env,
    fd: i32,
    head: &[u8],
    response: &[u8],
    options: &External<Prepared>,
    deflate: Option<super::deflate::DeflateOptions>,
) -> Result<u32> {
    let shared_env =
        env_shared().ok_or_else(|| Error::from_reason("websocket-rs: init() was not called"))?;
    let handle = runtime::handle()
        .map_err(|e| Error::from_reason(format!("cannot start the websocket-rs runtime: {e}")))?;
    let (std_stream, info) = tcp::adopt(fd, options.nodelay)
        .map_err(|e| Error::from_reason(format!("cannot adopt the socket: {e}")))?;
    if let Some(idle) = options.native_keepalive {
        let ka = socket2::TcpKeepalive::new().with_time(idle);
        let _ = socket2::SockRef::from(&std_stream).set_tcp_keepalive(&ka);
    }
    // The 101 goes out right away with a plain write: a fresh registration has no readiness
    // yet, so writing through it would cost a wake-up of the runtime thread per handshake.
    let sent = write_now(&std_stream, response);
    let stream = {
        let _guard = handle.enter();
        tokio::net::TcpStream::from_std(std_stream)
            .map_err(|e| Error::from_reason(format!("cannot register the socket: {e}")))?
    };
    let mut conn = new_connection(options, deflate.as_ref());
    conn.queue_handshake(&response[sent..]);
    let id = new_id();
    let sink: Arc<dyn rt_conn::EventSink> = shared_env.clone();
    let shared = Arc::new(ConnShared::new(
        id,
        conn,
        Transport::Tcp(stream),
        info,
        sink,
    ));
    shared.lock().bytes_written = sent as u64;
    REGISTRY.with(|r| r.borrow_mut().slots[id as usize - 1] = Some(shared.clone()));
    shared_env.add_conn(env.raw());
    shared.start(BytesMut::from(head));
    Ok(id)
}

/// Starts a bridged connection: JS keeps the socket (TLS, a proxy tunnel, any duplex stream),
/// feeds what it reads with `bridgeFeed` and writes what `SERVICE` events and `bridgeTake`
/// hand it. The same protocol core, timers and limits as an adopted socket. `options` and
/// `deflate` as for `adopt`. Returns the id.
#[napi(catch_unwind)]
pub fn bridge(
    options: &External<Prepared>,
    deflate: Option<super::deflate::DeflateOptions>,
) -> Result<u32> {
    let shared_env =
        env_shared().ok_or_else(|| Error::from_reason("websocket-rs: init() was not called"))?;
    runtime::handle()
        .map_err(|e| Error::from_reason(format!("cannot start the websocket-rs runtime: {e}")))?;
    let conn = new_connection(options, deflate.as_ref());
    let id = new_id();
    let sink: Arc<dyn rt_conn::EventSink> = shared_env;
    let info = tcp::SocketInfo {
        peer: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    let shared = Arc::new(ConnShared::new(id, conn, Transport::Bridge, info, sink));
    REGISTRY.with(|r| r.borrow_mut().slots[id as usize - 1] = Some(shared.clone()));
    shared.feed(&[]);
    Ok(id)
}

/// A chunk JS read from a bridged socket. Events it causes are delivered before this returns
/// (unless a batch is running). Returns the status word (`runtime::conn::status`).
#[napi(catch_unwind)]
pub fn bridge_feed(env: Env, id: u32, chunk: &[u8]) -> u32 {
    let (Some(conn), Some(shared)) = (conn(id), env_shared()) else {
        return TransportGoal::Close as u32;
    };
    shared.delivering_now(env.raw(), || conn.feed(chunk));
    // The status after the delivery: what it consumed may already have cleared READ_BLOCKED
    // (and its SERVICE, which says so, may have come and gone during the delivery).
    conn.bridge_status(false)
}

/// The next piece of a bridged connection's output as a Buffer (at most 256 KiB), or, when
/// nothing is queued, the status word. JS writes the Buffer at once: output is taken in order.
#[napi(catch_unwind)]
pub fn bridge_take(env: &Env, id: u32) -> Result<Unknown<'_>> {
    let Some(conn) = conn(id) else {
        return (TransportGoal::Close as u32).into_unknown(env);
    };
    let mut out = None;
    let status = conn.take_output(events::SERVICE_CHUNK, |len| {
        // SAFETY: JS thread of `env`.
        let (value, bytes) = unsafe { events::new_buffer(env.raw(), len) }?;
        out = Some(value);
        Some(bytes)
    });
    match out {
        // SAFETY: a live Buffer handle made in this call's scope.
        Some(value) => Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }),
        None => status.into_unknown(env),
    }
}

/// A bridged socket ended: `how` 0 the peer closed it, 1 an error (`message`), 2 JS closed it
/// because the status asked to. The connection's last events follow.
#[napi(catch_unwind)]
pub fn bridge_end(env: Env, id: u32, how: u32, message: Option<String>) {
    let (Some(conn), Some(shared)) = (conn(id), env_shared()) else {
        return;
    };
    let end = match how {
        0 => TransportEnd::Eof,
        1 => TransportEnd::Error(message.unwrap_or_default()),
        _ => TransportEnd::Local,
    };
    shared.delivering_now(env.raw(), || conn.bridge_ended(end));
}

/// A fresh connection id (ids are reused after `GONE`).
fn new_id() -> u32 {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        match r.free.pop() {
            Some(id) => id,
            None => {
                r.slots.push(None);
                r.slots.len() as u32
            }
        }
    })
}

/// Writes what the non-blocking socket takes at once; errors are left for the connection's
/// driver to find on its next write.
fn write_now(stream: &std::net::TcpStream, bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut sent = 0;
    while sent < bytes.len() {
        match (&*stream).write(&bytes[sent..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => sent += n,
        }
    }
    sent
}

/// Writes the sends made outside a batch (called from a microtask).
#[napi(catch_unwind)]
pub fn flush(env: Env) {
    if let Some(shared) = env_shared() {
        // bridged connections' output is delivered as SERVICE events before this returns
        shared.delivering_now(env.raw(), || shared.flush_dirty());
        shared.release_refs(env.raw());
    }
}

/// Result of a send, as a number: bit 0 `outputBufferFull`, bit 1 "schedule a flush", or -1
/// when the connection no longer accepts data.
const FULL: i32 = 1;
pub(super) const SCHEDULE_FLUSH: i32 = 2;
const NOT_OPEN: i32 = -1;

fn after_send<E>(conn: &Arc<ConnShared>, r: std::result::Result<bool, E>) -> i32 {
    match r {
        Err(_) => NOT_OPEN,
        Ok(full) => {
            let mut out = if full { FULL } else { 0 };
            if env_shared().is_some_and(|env| env.mark_dirty(conn)) {
                out |= SCHEDULE_FLUSH;
            }
            out
        }
    }
}

fn send(id: u32, opcode: OpCode, payload: &[u8], token: Option<u32>, compress: bool) -> i32 {
    let Some(conn) = conn(id) else {
        return NOT_OPEN;
    };
    let r = conn.with(|core| core.conn.send_message(opcode, payload, token, compress));
    after_send(&conn, r)
}

/// `flags` of a send: bit 0 sends the message uncompressed even when permessage-deflate is on
/// (RFC 7692 §8: a secret next to data an attacker chooses).
const NO_COMPRESS: u32 = 1;

/// Queues a text message; `token` identifies its callback in a later `SENT` event. Called
/// from the raw `sendText` callback (`raw.rs`).
pub(super) fn send_text(
    env: sys::napi_env,
    id: u32,
    text: sys::napi_value,
    token: Option<u32>,
    flags: Option<u32>,
) -> std::result::Result<i32, Thrown> {
    let compress = flags.unwrap_or(0) & NO_COMPRESS == 0;
    TEXT.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        utf8_into(env, text, &mut buf).map_err(|_| Thrown::Type("expected a string"))?;
        Ok(send(id, OpCode::Text, &buf, token, compress))
    })
}

/// Payloads at least this large are sent from the caller's Buffer without a copy.
const BORROW_MIN: usize = crate::protocol::pool::POOL_MIN;

/// The memory of a JS Buffer, kept alive by a reference while frames are written from it.
/// The reference is deleted on the JS thread (`EnvShared::release_refs`), whichever thread
/// drops the last `Bytes` over it.
struct JsBytes {
    ptr: *const u8,
    len: usize,
    reference: sys::napi_ref,
    env: Arc<EnvShared>,
}

// SAFETY: the memory is a Buffer's backing store, which does not move and lives as long as the
// reference; it is only read. The reference itself is only touched on the JS thread.
unsafe impl Send for JsBytes {}

impl AsRef<[u8]> for JsBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the `Send` impl: `len` bytes at `ptr`, alive while `reference` is held.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for JsBytes {
    fn drop(&mut self) {
        self.env.release_later(self.reference);
    }
}

/// The Buffer `value` as `Bytes` over its own memory, or `None` when it is not a Buffer.
fn borrow_buffer(
    env: sys::napi_env,
    value: sys::napi_value,
    shared: &Arc<EnvShared>,
) -> Option<Bytes> {
    let mut data = ptr::null_mut();
    let mut len = 0usize;
    let mut reference = ptr::null_mut();
    // SAFETY: N-API calls on the JS thread with handles valid for this call.
    unsafe {
        if sys::napi_get_buffer_info(env, value, &mut data, &mut len) != sys::Status::napi_ok
            || sys::napi_create_reference(env, value, 1, &mut reference) != sys::Status::napi_ok
        {
            return None;
        }
    }
    Some(Bytes::from_owner(JsBytes {
        ptr: data.cast_const().cast(),
        len,
        reference,
        env: shared.clone(),
    }))
}

/// Queues a binary message. A large Buffer is framed from its own memory, as `socket.write`
/// does: changing it before its `sent` callback changes what goes out (the original copies).
/// Called from the raw `sendBinary` callback (`raw.rs`).
pub(super) fn send_binary(
    env: sys::napi_env,
    id: u32,
    data: sys::napi_value,
    token: Option<u32>,
    flags: Option<u32>,
) -> std::result::Result<i32, Thrown> {
    let compress = flags.unwrap_or(0) & NO_COMPRESS == 0;
    let mut ptr_out = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: N-API call on the JS thread with a handle valid for this call.
    let status = unsafe { sys::napi_get_buffer_info(env, data, &mut ptr_out, &mut len) };
    if status != sys::Status::napi_ok {
        return Err(Thrown::Type("expected a Buffer"));
    }
    if len >= BORROW_MIN {
        if let (Some(conn), Some(shared)) = (conn(id), env_shared()) {
            if let Some(bytes) = borrow_buffer(env, data, &shared) {
                let r = conn.with(|core| {
                    core.conn
                        .send_message_bytes(OpCode::Binary, bytes, token, compress)
                });
                return Ok(after_send(&conn, r));
            }
        }
    }
    let slice: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: N-API reported `len` readable bytes at `ptr_out`, valid during this call.
        unsafe { std::slice::from_raw_parts(ptr_out.cast_const().cast(), len) }
    };
    Ok(send(id, OpCode::Binary, slice, token, compress))
}

/// Queues frames encoded by the application (`sendFrame`).
#[napi(catch_unwind)]
pub fn send_encoded(id: u32, data: &[u8], token: Option<u32>) -> i32 {
    let Some(conn) = conn(id) else {
        return NOT_OPEN;
    };
    let r = conn.with(|core| core.conn.send_encoded(data, token));
    after_send(&conn, r)
}

fn control(id: u32, f: impl FnOnce(&mut Connection)) -> i32 {
    let Some(conn) = conn(id) else {
        return NOT_OPEN;
    };
    conn.with(|core| f(&mut core.conn));
    after_send::<()>(&conn, Ok(false))
}

/// Queues a ping (at most 125 bytes are sent).
#[napi(catch_unwind)]
pub fn ping(id: u32, data: &[u8]) -> i32 {
    control(id, |c| c.ping(data))
}

/// Queues a pong (at most 125 bytes are sent).
#[napi(catch_unwind)]
pub fn pong(id: u32, data: &[u8]) -> i32 {
    control(id, |c| c.pong(data))
}

/// Starts the close handshake with a code the caller has validated.
#[napi(catch_unwind)]
pub fn close(env: Env, id: u32, code: u32, description: String) {
    if let Some(conn) = conn(id) {
        let now = Instant::now();
        conn.with(|core| core.conn.close(code as u16, &description, now));
        flush_one(&env, &conn);
    }
}

/// Ends the connection now; the caller emits its own `close` event.
#[napi(catch_unwind, js_name = "drop")]
pub fn drop_now(env: Env, id: u32, code: u32, description: Option<String>, skip_close_frame: bool) {
    if let Some(conn) = conn(id) {
        conn.with(|core| {
            core.conn
                .drop_connection(code as u16, description, skip_close_frame, false)
        });
        flush_one(&env, &conn);
    }
}

/// Writes a connection's queue now (adopted), or serves its socket before returning
/// (bridged, unless a batch is running: then right after it).
fn flush_one(env: &Env, conn: &Arc<ConnShared>) {
    match env_shared() {
        Some(shared) if conn.is_bridged() => shared.delivering_now(env.raw(), || conn.flush()),
        _ => conn.flush(),
    }
}

/// Stops (`true`) or resumes reading the socket.
#[napi(catch_unwind)]
pub fn set_paused(id: u32, paused: bool) {
    if let Some(conn) = conn(id) {
        conn.set_paused(paused);
    }
}

/// Whether the application answers pings itself (it has `ping` listeners).
#[napi(catch_unwind)]
pub fn set_app_handles_pings(id: u32, yes: bool) {
    if let Some(conn) = conn(id) {
        conn.with(|core| core.conn.set_app_handles_pings(yes));
    }
}

/// Bytes queued and not yet written.
#[napi(catch_unwind)]
pub fn buffered_amount(id: u32) -> f64 {
    conn(id)
        .map(|c| c.lock().conn.buffered() as f64)
        .unwrap_or(0.0)
}

/// Bytes received and written on the socket so far, as `[read, written]`.
#[napi(catch_unwind)]
pub fn byte_counts(id: u32) -> Vec<f64> {
    conn(id)
        .map(|c| {
            let core = c.lock();
            vec![core.bytes_read as f64, core.bytes_written as f64]
        })
        .unwrap_or_else(|| vec![0.0, 0.0])
}

/// The socket's addresses (fixed at adoption).
#[napi(catch_unwind)]
pub fn addresses(id: u32) -> Option<SocketAddresses> {
    conn(id).map(|c| {
        let local = c.stream().and_then(|s| s.local_addr().ok());
        SocketAddresses {
            remote_address: tcp::SocketInfo::ip_string(&c.info.peer),
            remote_port: u32::from(c.info.peer.port()),
            remote_family: c.info.remote_family().to_owned(),
            local_address: local
                .map(|a| tcp::SocketInfo::ip_string(&a))
                .unwrap_or_default(),
            local_port: local.map(|a| u32::from(a.port())).unwrap_or(0),
        }
    })
}

/// `socket.setNoDelay()`.
#[napi(catch_unwind)]
pub fn set_no_delay(id: u32, enable: bool) {
    if let Some(stream) = conn(id).as_ref().and_then(|c| c.stream()) {
        let _ = stream.set_nodelay(enable);
    }
}

/// `socket.setKeepAlive()`: TCP keepalive probes after `delay_ms` of idleness.
#[napi(catch_unwind)]
pub fn set_keep_alive(id: u32, enable: bool, delay_ms: f64) {
    if let Some(stream) = conn(id).as_ref().and_then(|c| c.stream()) {
        let sock = socket2::SockRef::from(stream);
        let _ = if enable {
            let idle = millis(Some(delay_ms), 0.0).max(Duration::from_secs(1));
            sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle))
        } else {
            sock.set_keepalive(false)
        };
    }
}

/// Copies a JS string's UTF-8 encoding into `out` (reusing its allocation). Performance
/// choice: one N-API call when the string fits the scratch space (the common case), instead
/// of asking for the length first.
pub(super) fn utf8_into(
    env: sys::napi_env,
    value: sys::napi_value,
    out: &mut Vec<u8>,
) -> Result<()> {
    const MIN_SCRATCH: usize = 64 * 1024;
    out.clear();
    if out.capacity() < MIN_SCRATCH {
        out.reserve(MIN_SCRATCH);
    }
    let mut written = 0usize;
    let cap = out.capacity();
    // SAFETY: `value` is a JS string handle valid for this call, `env` its environment; N-API
    // writes at most `cap - 1` bytes plus a NUL into `out`'s spare capacity.
    let status = unsafe {
        sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), cap, &mut written)
    };
    if status != sys::Status::napi_ok {
        return Err(Error::new(Status::StringExpected, "expected a string"));
    }
    // A result that fills the space may have been cut: measure and copy again.
    if written + 4 >= cap {
        let mut len = 0usize;
        // SAFETY: as above; a null buffer asks for the length only.
        let status =
            unsafe { sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::StringExpected, "expected a string"));
        }
        out.reserve(len + 1);
        let cap = out.capacity();
        // SAFETY: as above, with room for `len` bytes and the NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf8(env, value, out.as_mut_ptr().cast(), cap, &mut written)
        };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::StringExpected, "expected a string"));
        }
    }
    // SAFETY: N-API wrote `written` initialised bytes into the reserved space.
    unsafe { out.set_len(written.min(out.capacity())) };
    Ok(())
}
