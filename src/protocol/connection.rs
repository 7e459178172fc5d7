//! One WebSocket connection as a sans-IO state machine: received bytes in, events and bytes to
//! write out, timers as deadlines the transport waits for.
//!
//! Every transport (the adopted Tokio socket, the bridged Node stream) drives this same type,
//! so the close handshake, keepalive, pong replies and limits exist once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::close::code;
use super::deflate::DeflateParams;
use super::entropy::Entropy;
use super::frame::{OpCode, Role, MAX_CONTROL_PAYLOAD, RSV1};
use super::message::{
    encode_close, Incoming, MaskKeySource, Receiver, ReceiverConfig, SenderConfig,
};
use super::outbox::Outbox;
use super::state::{CloseStep, ConnectionState};
use super::takeover::{self, RELEASE_AFTER};

/// permessage-deflate as negotiated for one connection, with the sender's own choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateSetup {
    pub params: DeflateParams,
    /// Messages shorter than this go uncompressed when this side keeps no context
    /// (`threshold`, with ws's meaning).
    pub threshold: usize,
    /// zlib level, 0..=9.
    pub level: u32,
}

/// Messages at least this long are compressed by the thread that frames them for the socket
/// (the runtime thread, for an adopted connection) instead of the thread that sends them (the
/// JS thread): a 16 KiB JSON message takes about 100 µs to compress at level 6, the longest
/// this project lets a send hold the event loop. Smaller ones are compressed at once, cheaper
/// than the thread hop.
pub const DEFER_MIN: usize = 16 * 1024;

/// How a message goes out when permessage-deflate is on.
enum Plan {
    Now,
    Defer,
    Plain,
}

/// The sending half of permessage-deflate and the release timer of both halves.
struct Deflate {
    codec: takeover::Outgoing,
    threshold: usize,
    /// When the zlib state of both directions is released unless used again (see `takeover`).
    release_at: Option<Instant>,
    /// Used since `release_at` was set: the deadline moves on instead of releasing.
    used: bool,
    /// zlib state was freed by the last timeout (see [`Connection::take_released`]).
    released: bool,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("threshold", &self.threshold)
            .field("release_at", &self.release_at)
            .finish_non_exhaustive()
    }
}

/// Everything a connection is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    pub receiver: ReceiverConfig,
    pub sender: SenderConfig,
    /// Send a ping after this long without receiving anything (`keepaliveInterval`), or never.
    pub keepalive_interval: Option<Duration>,
    /// Drop the connection when nothing arrives this long after a keepalive ping
    /// (`keepaliveGracePeriod` with `dropConnectionOnKeepaliveTimeout`), or never.
    pub keepalive_grace: Option<Duration>,
    /// How long to wait for the peer's close frame, or for the peer to close the TCP
    /// connection after the close handshake (`closeTimeout`).
    pub close_timeout: Duration,
    /// Buffered bytes above which `outputBufferFull` turns true and `drain` is owed.
    pub high_water_mark: usize,
}

/// What the application is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Text(Bytes),
    Binary(Bytes),
    /// A frame as received, when fragments are not assembled (data and control frames alike).
    Frame {
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: Bytes,
    },
    /// A ping the application answers itself (it has `ping` listeners).
    Ping(Bytes),
    Pong(Bytes),
    /// The send buffer emptied after `outputBufferFull` had turned true.
    Drain,
    /// The send with this token has been written to the transport.
    Sent(u32),
    /// The send with this token will never be written: the connection closed first.
    SendFailed(u32),
    /// A transport error while open (the `error` event); `Closed` follows.
    Error(String),
    /// A protocol violation ended reading. Never shown to the application: the transport
    /// delivers the events before this one, then calls [`Connection::fail_after_delivery`]
    /// with `code` and `reason`, so that the replies the application made while handling them
    /// go out before the close frame (as with the original, which delivers synchronously).
    FailAfterDelivery {
        code: u16,
        reason: Box<str>,
    },
    /// The connection is over. `description` is `None` when the code's standard text applies.
    Closed {
        code: u16,
        description: Option<String>,
    },
}

/// What the transport should do with the underlying socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportGoal {
    /// Keep reading and writing.
    Open,
    /// Write what is queued, then shut down the sending side (TCP FIN) and keep reading.
    HalfClose,
    /// Write everything queued (waiting for the socket if needed), then close the socket.
    CloseWhenFlushed,
    /// Write what can be written without waiting, then close the socket.
    Close,
    /// The connection failed (a protocol violation): write everything queued (the close
    /// frame), shut down the sending side, then read and discard until the peer ends or the
    /// close timer turns this into `Close`. Closing with unread input would make the kernel
    /// reset the connection, and a reset can destroy the close frame before the peer reads it.
    Linger,
}

/// How the transport ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEnd {
    /// The peer closed the connection (end of stream).
    Eof,
    /// An I/O error, described as the original does (`read ECONNRESET`).
    Error(String),
    /// We closed it, as [`TransportGoal::Close`] asked.
    Local,
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closing or closed: no data frames may follow a close frame.
    NotOpen,
}

/// A WebSocket connection, without I/O.
#[derive(Debug)]
pub struct Connection {
    /// Shared by the connections of one server or client: an idle connection should not carry
    /// its own copy.
    config: Arc<ConnectionConfig>,
    receiver: Receiver,
    outbox: Outbox,
    /// Masking keys, for a client only (a server sends unmasked frames): created on first use
    /// so that a server's idle connection does not carry a 256-byte pool.
    keys: LazyKeys,
    state: ConnectionState,
    events: Vec<Event>,
    close_code: Option<u16>,
    close_description: Option<Box<str>>,
    closed_emitted: bool,
    app_handles_pings: bool,
    goal: TransportGoal,
    output_full: bool,
    /// The one timer a connection can have at a time: keepalive and its grace period follow
    /// each other, and closing ends both before the close timer starts.
    timer: Option<(Instant, TimerKind)>,
    /// permessage-deflate, when negotiated (boxed: most connections have none).
    deflate: Option<Box<Deflate>>,
}

impl Connection {
    /// A connection that has just completed its opening handshake.
    pub fn new(config: impl Into<Arc<ConnectionConfig>>, now: Instant) -> Self {
        let config = config.into();
        Connection {
            receiver: Receiver::new(config.receiver),
            outbox: Outbox::new(),
            keys: LazyKeys(None),
            state: ConnectionState::Open,
            events: Vec::new(),
            close_code: None,
            close_description: None,
            closed_emitted: false,
            app_handles_pings: false,
            goal: TransportGoal::Open,
            output_full: false,
            timer: config
                .keepalive_interval
                .map(|d| (now + d, TimerKind::Keepalive)),
            config,
            deflate: None,
        }
    }

    /// Turns on permessage-deflate (RFC 7692) as negotiated in the handshake: this side
    /// compresses messages of `threshold` bytes or more, and inflates the peer's compressed
    /// messages.
    pub fn enable_deflate(&mut self, setup: DeflateSetup) {
        let p = setup.params;
        let (own, peer) = match self.config.sender.role {
            Role::Server => (
                (p.server_max_window_bits, p.server_no_context_takeover),
                (p.client_max_window_bits, p.client_no_context_takeover),
            ),
            Role::Client => (
                (p.client_max_window_bits, p.client_no_context_takeover),
                (p.server_max_window_bits, p.server_no_context_takeover),
            ),
        };
        self.receiver.enable_inflate(peer.0, peer.1);
        self.deflate = Some(Box::new(Deflate {
            codec: takeover::Outgoing::new(setup.level, own.0, !own.1),
            threshold: setup.threshold,
            release_at: None,
            used: false,
            released: false,
        }));
    }

    /// True once after a timeout freed zlib state: the transport may give memory back to the
    /// OS (`runtime::memory`).
    pub fn take_released(&mut self) -> bool {
        self.deflate
            .as_mut()
            .is_some_and(|d| std::mem::take(&mut d.released))
    }

    /// True when permessage-deflate is in force.
    pub fn has_deflate(&self) -> bool {
        self.deflate.is_some()
    }

    /// For a message of `len` bytes that many connections get (a broadcast): the (level,
    /// window bits) to compress it with once for all, when this connection would compress it
    /// and keeps no context (`server_no_context_takeover` for a server). Messages of
    /// [`DEFER_MIN`] bytes or more are not compressed this way: it would happen on the
    /// sending thread.
    pub fn shared_compression(&self, len: usize) -> Option<(u32, u8)> {
        let d = self.deflate.as_ref()?;
        if len < d.threshold || len >= DEFER_MIN {
            return None;
        }
        d.codec.shared_key()
    }

    /// Notes that a direction used its zlib state, so that it is released only after
    /// [`RELEASE_AFTER`] without use. `now` is read only when no release is scheduled.
    fn deflate_used(&mut self, now: Option<Instant>) {
        let Some(d) = self.deflate.as_mut() else {
            return;
        };
        if d.release_at.is_none() {
            d.release_at = Some(now.unwrap_or_else(Instant::now) + RELEASE_AFTER);
        } else {
            d.used = true;
        }
    }

    /// The release deadline passed: frees the zlib state unused since, or moves the deadline.
    fn deflate_timeout(&mut self, now: Instant) {
        let Some(d) = self.deflate.as_mut() else {
            return;
        };
        if d.release_at.is_none_or(|at| at > now) {
            return;
        }
        if std::mem::take(&mut d.used) {
            d.release_at = Some(now + RELEASE_AFTER);
            return;
        }
        d.released = d.codec.is_live() || self.receiver.inflate_is_live();
        d.codec.release();
        self.receiver.release_inflate();
        d.release_at =
            (d.codec.is_live() || self.receiver.inflate_is_live()).then(|| now + RELEASE_AFTER);
    }

    /// What to do with a message when permessage-deflate is on: compress it now, leave it to
    /// the framing thread, or send it as it is (`compress` false, or under the threshold).
    ///
    /// The threshold has ws's meaning: it applies only when this side keeps no context; with
    /// context every message is compressed, since even a short one can refer back to earlier
    /// ones.
    fn plan(&self, len: usize, compress: bool) -> Plan {
        match self.deflate.as_ref() {
            Some(d) if compress && (len >= d.threshold || d.codec.shared_key().is_none()) => {
                if len >= DEFER_MIN || self.outbox.has_deferred() {
                    Plan::Defer
                } else {
                    Plan::Now
                }
            }
            _ => Plan::Plain,
        }
    }

    fn compress_now(&mut self, payload: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        if let Some(d) = self.deflate.as_mut() {
            d.codec.compress(payload, &mut out);
        }
        self.deflate_used(None);
        Bytes::from(out)
    }

    /// The configuration in force.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// The close handshake's state (`connection.state`).
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The close code recorded so far, if any (`closeReasonCode`).
    pub fn close_code(&self) -> Option<u16> {
        self.close_code
    }

    /// True once the `Closed` event has been produced.
    pub fn is_finished(&self) -> bool {
        self.closed_emitted
    }

    /// What the transport should do with the socket now.
    pub fn transport_goal(&self) -> TransportGoal {
        self.goal
    }

    /// Bytes queued and not yet written (`bufferedAmount`).
    pub fn buffered(&self) -> usize {
        self.outbox.buffered()
    }

    /// `outputBufferFull`: buffered bytes went over the high-water mark and have not drained.
    pub fn output_full(&self) -> bool {
        self.output_full
    }

    /// Whether pings are answered by the application (it listens for `ping`) instead of here.
    pub fn set_app_handles_pings(&mut self, yes: bool) {
        self.app_handles_pings = yes;
    }

    /// Moves the events produced so far into `out`; the connection keeps no list (and no
    /// memory) of its own afterwards.
    pub fn take_events(&mut self, out: &mut Vec<Event>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.events);
        } else {
            out.append(&mut self.events);
        }
    }

    /// True when events wait to be taken.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Consumes received bytes from the front of `buf`, producing events and replies. Input
    /// that arrives after a close frame or an error is discarded.
    pub fn receive(&mut self, buf: &mut BytesMut, now: Instant) {
        if self.closed_emitted || self.receiver.is_finished() {
            buf.clear();
            return;
        }
        if self.state == ConnectionState::Open {
            self.timer = self
                .config
                .keepalive_interval
                .map(|d| (now + d, TimerKind::Keepalive));
        }
        loop {
            match self.receiver.read(buf) {
                Ok(Some(incoming)) => self.handle(incoming, now),
                Ok(None) => break,
                Err(e) => {
                    // Nothing after the violation is read. The code is kept in case the
                    // transport ends before the events are delivered.
                    self.close_code = Some(e.code);
                    self.stop_keepalive();
                    self.events.push(Event::FailAfterDelivery {
                        code: e.code,
                        reason: e.reason.into(),
                    });
                    buf.clear();
                    break;
                }
            }
            if self.closed_emitted {
                buf.clear();
                break;
            }
        }
        if self.receiver.inflate_is_live() {
            self.deflate_used(Some(now));
        }
    }

    /// Payload bytes of the frame being received still to arrive beyond `buffered`: a transport
    /// may reserve that much read buffer.
    pub fn payload_needed(&self, buffered: usize) -> usize {
        self.receiver.payload_needed(buffered)
    }

    fn handle(&mut self, incoming: Incoming, now: Instant) {
        // As in the original, once the application has called close() it is told of no more
        // messages; the peer's close frame is still processed, to finish the handshake.
        let open = self.state == ConnectionState::Open;
        if !self.config.receiver.assemble_fragments && open {
            if let Some(frame) = frame_event(&incoming) {
                self.events.push(frame);
            }
        }
        match incoming {
            Incoming::Text(data) if open => self.events.push(Event::Text(data)),
            Incoming::Binary(data) if open => self.events.push(Event::Binary(data)),
            Incoming::Text(_) | Incoming::Binary(_) => {}
            Incoming::Frame(_) => {}
            Incoming::Ping(data) => {
                if self.state == ConnectionState::Open {
                    if self.app_handles_pings {
                        self.events.push(Event::Ping(data));
                    } else {
                        self.send_control(OpCode::Pong, &data);
                    }
                }
            }
            Incoming::Pong(data) => self.events.push(Event::Pong(data)),
            Incoming::Close { status, reason } => match self.state.peer_close() {
                CloseStep::ReplyAndClose => {
                    self.close_code = Some(status.unwrap_or(code::NOT_PROVIDED));
                    self.close_description = (!reason.is_empty()).then(|| reason.into());
                    // Echo the peer's status (RFC 6455 §5.5.1); an empty close gets an empty one.
                    self.queue_close_frame(status, "");
                    self.state.reply_sent();
                    // RFC 6455 §7.1.1: the server closes the TCP connection first, right after
                    // its reply; a client waits for the server to do so.
                    self.goal = match self.config.sender.role {
                        Role::Server => TransportGoal::CloseWhenFlushed,
                        Role::Client => TransportGoal::HalfClose,
                    };
                    self.stop_keepalive();
                    self.timer = Some((now + self.config.close_timeout, TimerKind::Close));
                }
                CloseStep::CloseTransport => {
                    self.goal = TransportGoal::Close;
                    self.timer = None;
                }
                CloseStep::SendCloseAndWait | CloseStep::Ignore => {}
            },
        }
    }

    fn queue_close_frame(&mut self, status: Option<u16>, reason: &str) {
        let mut frame = BytesMut::new();
        encode_close(
            &mut frame,
            status,
            reason,
            &self.config.sender,
            &mut self.keys,
        );
        self.outbox.push_encoded(&frame, None);
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        self.outbox
            .push_control(opcode, payload, &self.config.sender, &mut self.keys);
    }

    fn check_full(&mut self) -> bool {
        if self.outbox.buffered() > self.config.high_water_mark {
            self.output_full = true;
        }
        self.output_full
    }

    /// Queues a text or binary message, compressed when permessage-deflate is on and
    /// `compress` (the default) allows it. Returns `outputBufferFull` afterwards.
    pub fn send_message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        token: Option<u32>,
        compress: bool,
    ) -> Result<bool, SendError> {
        if !self.state.can_send_data() {
            return Err(SendError::NotOpen);
        }
        match self.plan(payload.len(), compress) {
            Plan::Now => {
                let z = self.compress_now(payload);
                self.outbox.push_message_bytes(
                    opcode,
                    RSV1,
                    z,
                    token,
                    &self.config.sender,
                    &mut self.keys,
                );
            }
            Plan::Defer => self
                .outbox
                .push_deferred(opcode, super::pool::copy(payload), token),
            Plan::Plain => self.outbox.push_message(
                opcode,
                payload,
                token,
                &self.config.sender,
                &mut self.keys,
            ),
        }
        Ok(self.check_full())
    }

    /// [`Connection::send_message`] for a payload already owned as `Bytes`: a large message is
    /// not copied (performance choice: a megabyte copy was about 7% of a 1 MiB echo).
    pub fn send_message_bytes(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
        token: Option<u32>,
        compress: bool,
    ) -> Result<bool, SendError> {
        if !self.state.can_send_data() {
            return Err(SendError::NotOpen);
        }
        let (rsv, payload) = match self.plan(payload.len(), compress) {
            Plan::Now => (RSV1, self.compress_now(&payload)),
            Plan::Defer => {
                self.outbox.push_deferred(opcode, payload, token);
                return Ok(self.check_full());
            }
            Plan::Plain => (0, payload),
        };
        self.outbox.push_message_bytes(
            opcode,
            rsv,
            payload,
            token,
            &self.config.sender,
            &mut self.keys,
        );
        Ok(self.check_full())
    }

    /// Queues frames the application encoded itself (`sendFrame`). Returns `outputBufferFull`.
    pub fn send_encoded(&mut self, bytes: &[u8], token: Option<u32>) -> Result<bool, SendError> {
        if !self.state.can_send_data() {
            return Err(SendError::NotOpen);
        }
        self.outbox.push_encoded(bytes, token);
        Ok(self.check_full())
    }

    /// Queues frames encoded once for many connections (`server.broadcast*`). Returns
    /// `outputBufferFull`.
    pub fn send_encoded_shared(&mut self, frames: &Bytes) -> Result<bool, SendError> {
        if !self.state.can_send_data() {
            return Err(SendError::NotOpen);
        }
        self.outbox.push_encoded_shared(frames);
        Ok(self.check_full())
    }

    /// The shared configuration (connections of one server hold the same one).
    pub fn shared_config(&self) -> &Arc<ConnectionConfig> {
        &self.config
    }

    /// Queues a ping (payload cut to 125 bytes). Ignored unless open.
    pub fn ping(&mut self, payload: &[u8]) {
        if self.state == ConnectionState::Open {
            self.send_control(OpCode::Ping, payload);
        }
    }

    /// Queues a pong (payload cut to 125 bytes). Ignored unless open.
    pub fn pong(&mut self, payload: &[u8]) {
        if self.state == ConnectionState::Open {
            self.send_control(OpCode::Pong, payload);
        }
    }

    /// Starts the close handshake (`close()`): sends a close frame and waits `closeTimeout`
    /// for the peer's. Does nothing unless open. The caller has checked the code.
    pub fn close(&mut self, status: u16, description: &str, now: Instant) {
        if self.state.local_close() != CloseStep::SendCloseAndWait {
            return;
        }
        self.close_code = Some(status);
        self.close_description = Some(description.into());
        self.queue_close_frame(Some(status), description);
        self.goal = TransportGoal::HalfClose;
        self.stop_keepalive();
        self.timer = Some((now + self.config.close_timeout, TimerKind::Close));
    }

    /// Ends the connection at once (`drop()`), with a close frame unless `skip_close_frame`.
    /// `emit` says whether to produce the `Closed` event (the JS `drop()` emits its own,
    /// synchronously, as the original does).
    pub fn drop_connection(
        &mut self,
        status: u16,
        description: Option<String>,
        skip_close_frame: bool,
        emit: bool,
    ) {
        if self.closed_emitted {
            return;
        }
        let may_send = matches!(
            self.state,
            ConnectionState::Open | ConnectionState::PeerRequestedClose
        );
        if !skip_close_frame && may_send {
            self.queue_close_frame(Some(status), description.as_deref().unwrap_or(""));
        }
        self.close_code = Some(status);
        self.close_description = description.map(String::into_boxed_str);
        self.state.transport_closed();
        self.goal = TransportGoal::Close;
        self.stop_keepalive();
        self.timer = None;
        self.closed_emitted = true;
        if emit {
            self.events.push(Event::Closed {
                code: status,
                description: self.close_description.as_deref().map(str::to_owned),
            });
        }
    }

    /// Fails the connection for the violation a [`Event::FailAfterDelivery`] reported, once the
    /// events before it reached the application: the close frame goes after the sends queued
    /// meanwhile. Does nothing if the connection has ended since.
    pub fn fail_after_delivery(&mut self, status: u16, reason: &str, now: Instant) {
        if !self.closed_emitted {
            self.fail(status, reason.to_owned(), now);
        }
    }

    /// Fails the connection for a protocol violation (RFC 6455 §7.1.7): a close frame with
    /// `status`, `Closed` at once, and the socket left to linger (see [`TransportGoal::Linger`])
    /// for at most the close timeout.
    fn fail(&mut self, status: u16, reason: String, now: Instant) {
        self.drop_connection(status, Some(reason), false, true);
        self.goal = TransportGoal::Linger;
        self.timer = Some((now + self.config.close_timeout, TimerKind::Close));
    }

    /// The transport is gone. Produces `Closed` (once), preceded by `Error` for an I/O error
    /// while the connection was still live, and fails the sends that were never written.
    pub fn transport_closed(&mut self, end: TransportEnd) {
        let was_live = self.state != ConnectionState::Closed;
        self.state.transport_closed();
        self.stop_keepalive();
        self.timer = None;
        self.goal = TransportGoal::Close;
        let mut failed = Vec::new();
        self.outbox.discard(&mut failed);
        self.events
            .extend(failed.into_iter().map(Event::SendFailed));
        if self.closed_emitted {
            return;
        }
        self.closed_emitted = true;
        let (status, description) = match end {
            TransportEnd::Error(e) if was_live => {
                self.events.push(Event::Error(e.clone()));
                (code::ABNORMAL, Some(format!("Socket Error: {e}")))
            }
            _ => match self.close_code {
                Some(status) => (status, self.close_description.take().map(String::from)),
                None => (
                    code::ABNORMAL,
                    Some("Connection dropped by remote peer.".to_owned()),
                ),
            },
        };
        self.close_code = Some(status);
        self.events.push(Event::Closed {
            code: status,
            description,
        });
    }

    /// Queues the server's HTTP 101 response (or any bytes that precede the first frame).
    pub fn queue_handshake(&mut self, response: &[u8]) {
        self.outbox.push_encoded(response, None);
    }

    /// The bytes to write next, as one contiguous piece (empty when nothing is queued).
    pub fn wire(&mut self) -> &[u8] {
        self.frame_pending(true);
        self.outbox.wire(&self.config.sender, &mut self.keys, None)
    }

    /// Puts every piece ready for the wire, in order, into `out` (as many as fit) and returns
    /// how many, for a vectored write. `compress`: this thread may compress the messages
    /// waiting for it (see [`DEFER_MIN`]); without it they wait, and so does what follows them.
    pub fn wire_slices<'a>(&'a mut self, out: &mut [&'a [u8]], compress: bool) -> usize {
        self.frame_pending(compress);
        self.outbox.slices(out)
    }

    /// True while messages wait for a thread that may compress them.
    pub fn has_deferred(&self) -> bool {
        self.outbox.has_deferred()
    }

    fn frame_pending(&mut self, compress: bool) {
        let Connection {
            outbox,
            config,
            keys,
            deflate,
            ..
        } = self;
        let mut compressed = false;
        match deflate.as_mut() {
            Some(d) if compress && outbox.has_deferred() => {
                let mut run = |payload: &[u8]| {
                    compressed = true;
                    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
                    d.codec.compress(payload, &mut out);
                    out
                };
                outbox.fill(&config.sender, keys, Some(&mut run));
            }
            _ => outbox.fill(&config.sender, keys, None),
        }
        if compressed {
            self.deflate_used(None);
        }
    }

    /// Records that `n` bytes of [`Connection::wire`] were written: completes send callbacks
    /// and owes `drain` once the buffer is empty after `outputBufferFull`.
    pub fn written(&mut self, n: usize) {
        let mut done = Vec::new();
        self.outbox.advance(n, &mut done);
        self.events.extend(done.into_iter().map(Event::Sent));
        if self.outbox.is_empty() && self.output_full {
            self.output_full = false;
            self.events.push(Event::Drain);
        }
    }

    /// True when bytes wait to be written.
    pub fn wants_write(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The next instant [`Connection::handle_timeout`] must be called at, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let release = self.deflate.as_ref().and_then(|d| d.release_at);
        match (self.timer.map(|(at, _)| at), release) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.deflate_timeout(now);
        let Some((at, kind)) = self.timer else { return };
        if at > now {
            return;
        }
        self.timer = None;
        match kind {
            TimerKind::Close => {
                self.state.close_timeout();
                self.goal = TransportGoal::Close;
            }
            TimerKind::Grace => self.drop_connection(
                code::ABNORMAL,
                Some("Peer not responding.".to_owned()),
                true,
                true,
            ),
            TimerKind::Keepalive if self.state == ConnectionState::Open => {
                self.send_control(OpCode::Ping, &[]);
                self.timer = match (self.config.keepalive_grace, self.config.keepalive_interval) {
                    (Some(grace), _) => Some((now + grace, TimerKind::Grace)),
                    (None, Some(interval)) => Some((now + interval, TimerKind::Keepalive)),
                    (None, None) => None,
                };
            }
            TimerKind::Keepalive => {}
        }
    }

    fn stop_keepalive(&mut self) {
        if matches!(
            self.timer,
            Some((_, TimerKind::Keepalive | TimerKind::Grace))
        ) {
            self.timer = None;
        }
    }
}

/// What a connection's timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    /// Send a ping: nothing was received for `keepaliveInterval`.
    Keepalive,
    /// Drop the connection: nothing was received for the grace period after a ping.
    Grace,
    /// Stop waiting for the close handshake to finish.
    Close,
}

/// An entropy pool allocated when the first key is asked for.
#[derive(Debug, Default)]
struct LazyKeys(Option<Box<Entropy>>);

impl MaskKeySource for LazyKeys {
    fn next_key(&mut self) -> [u8; 4] {
        self.0.get_or_insert_with(Box::default).next_key()
    }
}

/// The `frame` event for a received frame, when fragments are not assembled.
fn frame_event(incoming: &Incoming) -> Option<Event> {
    let (opcode, payload) = match incoming {
        Incoming::Frame(f) => {
            return Some(Event::Frame {
                fin: f.fin,
                rsv: f.rsv,
                opcode: f.opcode as u8,
                payload: f.payload.clone(),
            })
        }
        Incoming::Ping(p) => (OpCode::Ping, p.clone()),
        Incoming::Pong(p) => (OpCode::Pong, p.clone()),
        Incoming::Close { status, reason } => {
            let mut raw = Vec::new();
            super::close::encode_payload(&mut raw, *status, reason);
            (OpCode::Close, Bytes::from(raw))
        }
        Incoming::Text(_) | Incoming::Binary(_) => return None,
    };
    Some(Event::Frame {
        fin: true,
        rsv: 0,
        opcode: opcode as u8,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::Role;
    use crate::protocol::message::encode_frame;

    fn config() -> ConnectionConfig {
        ConnectionConfig {
            receiver: ReceiverConfig {
                role: Role::Server,
                max_frame_size: 1 << 16,
                max_message_size: 1 << 20,
                assemble_fragments: true,
                allowed_rsv: 0,
            },
            sender: SenderConfig {
                role: Role::Server,
                fragment_outgoing: true,
                fragmentation_threshold: 1 << 14,
            },
            keepalive_interval: Some(Duration::from_secs(20)),
            keepalive_grace: Some(Duration::from_secs(10)),
            close_timeout: Duration::from_secs(5),
            high_water_mark: 16 * 1024,
        }
    }

    fn masked(fin: bool, opcode: OpCode, payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_frame(&mut out, fin, 0, opcode, payload, Some([9, 8, 7, 6]));
        out
    }

    /// The events as a transport delivers them: a violation's close follows the delivery.
    fn events(c: &mut Connection) -> Vec<Event> {
        let mut v = Vec::new();
        c.take_events(&mut v);
        if let Some(i) = v
            .iter()
            .position(|e| matches!(e, Event::FailAfterDelivery { .. }))
        {
            let Event::FailAfterDelivery { code, reason } = v.remove(i) else {
                unreachable!()
            };
            c.fail_after_delivery(code, &reason, Instant::now());
            c.take_events(&mut v);
        }
        v
    }

    fn written(c: &mut Connection) -> Vec<u8> {
        let w = c.wire().to_vec();
        c.written(w.len());
        w
    }

    #[test]
    fn delivers_messages_and_answers_pings() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let mut buf = masked(true, OpCode::Text, b"hi");
        buf.extend(masked(true, OpCode::Ping, b"p1"));
        c.receive(&mut buf, now);
        assert_eq!(events(&mut c), vec![Event::Text(Bytes::from_static(b"hi"))]);
        assert_eq!(written(&mut c), [0x8A, 2, b'p', b'1']);
    }

    #[test]
    fn leaves_pings_to_the_application_when_it_listens() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.set_app_handles_pings(true);
        c.receive(&mut masked(true, OpCode::Ping, b"x"), now);
        assert_eq!(events(&mut c), vec![Event::Ping(Bytes::from_static(b"x"))]);
        assert!(!c.wants_write());
    }

    #[test]
    fn peer_close_is_echoed_then_closed_with_the_peers_code() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let mut payload = 4001u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"later");
        c.receive(&mut masked(true, OpCode::Close, &payload), now);
        assert_eq!(c.state(), ConnectionState::Closed);
        assert_eq!(
            c.transport_goal(),
            TransportGoal::CloseWhenFlushed,
            "a server closes first"
        );
        assert_eq!(written(&mut c), [0x88, 2, 0x0F, 0xA1]);
        assert!(events(&mut c).is_empty());
        c.transport_closed(TransportEnd::Eof);
        assert_eq!(
            events(&mut c),
            vec![Event::Closed {
                code: 4001,
                description: Some("later".into())
            }]
        );
    }

    #[test]
    fn a_client_waits_for_the_server_to_close_the_tcp_connection() {
        let now = Instant::now();
        let mut cfg = config();
        cfg.receiver.role = Role::Client;
        cfg.sender.role = Role::Client;
        let mut c = Connection::new(cfg, now);
        let mut unmasked = BytesMut::new();
        encode_frame(&mut unmasked, true, 0, OpCode::Close, &[0x03, 0xE8], None);
        c.receive(&mut unmasked, now);
        assert_eq!(c.transport_goal(), TransportGoal::HalfClose);
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn empty_peer_close_reports_1005() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.receive(&mut masked(true, OpCode::Close, b""), now);
        assert_eq!(written(&mut c), [0x88, 0]);
        c.transport_closed(TransportEnd::Eof);
        assert_eq!(
            events(&mut c),
            vec![Event::Closed {
                code: 1005,
                description: None
            }]
        );
    }

    #[test]
    fn local_close_waits_for_the_reply_then_closes() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.close(1000, "bye", now);
        assert_eq!(c.state(), ConnectionState::Ending);
        assert_eq!(c.transport_goal(), TransportGoal::HalfClose);
        assert_eq!(written(&mut c), [0x88, 5, 0x03, 0xE8, b'b', b'y', b'e']);
        assert_eq!(
            c.send_message(OpCode::Text, b"no", None, true),
            Err(SendError::NotOpen)
        );
        c.receive(&mut masked(true, OpCode::Close, &[0x03, 0xE8]), now);
        assert_eq!(c.transport_goal(), TransportGoal::Close);
        c.transport_closed(TransportEnd::Local);
        assert_eq!(
            events(&mut c),
            vec![Event::Closed {
                code: 1000,
                description: Some("bye".into())
            }]
        );
    }

    #[test]
    fn no_messages_after_the_application_closes() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.close(1000, "", now);
        c.receive(&mut masked(true, OpCode::Text, b"late"), now);
        assert!(events(&mut c).is_empty());
        c.receive(&mut masked(true, OpCode::Close, &[0x03, 0xE8]), now);
        assert_eq!(c.transport_goal(), TransportGoal::Close);
    }

    #[test]
    fn close_timeout_gives_up_on_a_silent_peer() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.close(1001, "", now);
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
        c.handle_timeout(now + Duration::from_secs(5));
        assert_eq!(c.transport_goal(), TransportGoal::Close);
    }

    #[test]
    fn protocol_error_drops_with_its_code() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let mut unmasked = BytesMut::new();
        encode_frame(&mut unmasked, true, 0, OpCode::Text, b"x", None);
        c.receive(&mut unmasked, now);
        let ev = events(&mut c);
        assert!(
            matches!(&ev[..], [Event::Closed { code: 1002, .. }]),
            "{ev:?}"
        );
        // the socket lingers: half-closed, input discarded, until the peer ends or the timer
        assert_eq!(c.transport_goal(), TransportGoal::Linger);
        let close = written(&mut c);
        assert_eq!((close[0], &close[2..4]), (0x88, &[0x03, 0xEA][..]));
        assert_eq!(&close[4..], b"Received an unmasked frame from the client.");
        let mut more = BytesMut::from(&b"trailing bytes from the peer"[..]);
        c.receive(&mut more, now);
        assert!(more.is_empty() && events(&mut c).is_empty() && written(&mut c).is_empty());
        let deadline = c.poll_timeout().expect("the close timer runs");
        c.handle_timeout(deadline);
        assert_eq!(c.transport_goal(), TransportGoal::Close);
        c.transport_closed(TransportEnd::Local);
        assert!(events(&mut c).is_empty(), "Closed only once");
    }

    #[test]
    fn replies_to_messages_before_a_violation_go_out_before_the_close() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let mut buf = masked(true, OpCode::Text, b"hello");
        let mut bad = masked(true, OpCode::Text, b"x");
        bad[0] |= 0x40; // RSV1 with no extension
        buf.extend(bad);
        buf.extend(masked(true, OpCode::Ping, b"after"));
        c.receive(&mut buf, now);
        assert!(buf.is_empty());
        let mut got = Vec::new();
        c.take_events(&mut got);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0], Event::Text(Bytes::from_static(b"hello")));
        let Event::FailAfterDelivery { code, reason } = &got[1] else {
            panic!("{got:?}")
        };
        assert_eq!(*code, 1002);
        // Still open while the events are delivered: the application's reply is accepted.
        assert_eq!(c.state(), ConnectionState::Open);
        assert!(
            !c.wants_write(),
            "no pong for the ping after the violation, no close yet"
        );
        c.send_message(OpCode::Text, b"hello", None, true).unwrap();
        c.fail_after_delivery(*code, reason, now);
        let mut closed = Vec::new();
        c.take_events(&mut closed);
        assert!(
            matches!(&closed[..], [Event::Closed { code: 1002, .. }]),
            "{closed:?}"
        );
        let wire = written(&mut c);
        assert_eq!(&wire[..7], &[0x81, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!((wire[7], &wire[9..11]), (0x88, &[0x03, 0xEA][..]));
        assert_eq!(c.transport_goal(), TransportGoal::Linger);
        assert!(c.send_message(OpCode::Text, b"late", None, true).is_err());
    }

    #[test]
    fn a_transport_that_ends_before_delivery_still_reports_the_violation() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let mut bad = masked(true, OpCode::Text, b"x");
        bad[0] |= 0x20; // RSV2
        c.receive(&mut bad, now);
        c.transport_closed(TransportEnd::Eof);
        let mut got = Vec::new();
        c.take_events(&mut got);
        assert!(
            matches!(
                &got[..],
                [
                    Event::FailAfterDelivery { code: 1002, .. },
                    Event::Closed { code: 1002, .. }
                ]
            ),
            "{got:?}"
        );
        c.fail_after_delivery(1002, "late", now);
        assert!(events(&mut c).is_empty(), "Closed only once");
    }

    #[test]
    fn keepalive_pings_after_silence_and_drops_after_grace() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        let t1 = now + Duration::from_secs(20);
        assert_eq!(c.poll_timeout(), Some(t1));
        c.handle_timeout(t1);
        assert_eq!(written(&mut c), [0x89, 0]);
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!(c.poll_timeout(), Some(t2));
        c.handle_timeout(t2);
        assert_eq!(
            events(&mut c),
            vec![Event::Closed {
                code: 1006,
                description: Some("Peer not responding.".into())
            }]
        );
        assert!(!c.wants_write(), "no close frame after a keepalive timeout");
    }

    #[test]
    fn received_data_resets_keepalive() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.handle_timeout(now + Duration::from_secs(20));
        written(&mut c);
        let later = now + Duration::from_secs(25);
        c.receive(&mut masked(true, OpCode::Pong, b""), later);
        assert_eq!(c.poll_timeout(), Some(later + Duration::from_secs(20)));
    }

    #[test]
    fn keepalive_without_drop_keeps_pinging() {
        let now = Instant::now();
        let mut c = Connection::new(
            ConnectionConfig {
                keepalive_grace: None,
                ..config()
            },
            now,
        );
        c.handle_timeout(now + Duration::from_secs(20));
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(40)));
    }

    #[test]
    fn output_full_and_drain_follow_buffered_bytes() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        assert_eq!(
            c.send_message(OpCode::Binary, &[0; 1000], Some(1), true),
            Ok(false)
        );
        assert_eq!(
            c.send_message(OpCode::Binary, &[0; 20_000], Some(2), true),
            Ok(true)
        );
        assert!(c.output_full());
        let n = c.wire().len();
        c.written(n - 1);
        assert_eq!(events(&mut c), vec![Event::Sent(1)]);
        c.written(1);
        assert_eq!(events(&mut c), vec![Event::Sent(2), Event::Drain]);
        assert!(!c.output_full());
    }

    #[test]
    fn socket_error_while_open_reports_error_then_1006() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.send_message(OpCode::Text, b"lost", Some(5), true)
            .unwrap();
        c.transport_closed(TransportEnd::Error("read ECONNRESET".into()));
        assert_eq!(
            events(&mut c),
            vec![
                Event::SendFailed(5),
                Event::Error("read ECONNRESET".into()),
                Event::Closed {
                    code: 1006,
                    description: Some("Socket Error: read ECONNRESET".into())
                },
            ]
        );
    }

    #[test]
    fn eof_without_close_frame_is_1006() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.transport_closed(TransportEnd::Eof);
        assert_eq!(
            events(&mut c),
            vec![Event::Closed {
                code: 1006,
                description: Some("Connection dropped by remote peer.".into())
            }]
        );
    }

    #[test]
    fn frame_mode_reports_every_frame() {
        let now = Instant::now();
        let mut cfg = config();
        cfg.receiver.assemble_fragments = false;
        let mut c = Connection::new(cfg, now);
        let mut buf = masked(false, OpCode::Binary, b"a");
        buf.extend(masked(true, OpCode::Ping, b""));
        buf.extend(masked(true, OpCode::Continuation, b"b"));
        c.receive(&mut buf, now);
        assert_eq!(
            events(&mut c),
            vec![
                Event::Frame {
                    fin: false,
                    rsv: 0,
                    opcode: 2,
                    payload: Bytes::from_static(b"a")
                },
                Event::Frame {
                    fin: true,
                    rsv: 0,
                    opcode: 9,
                    payload: Bytes::new()
                },
                Event::Frame {
                    fin: true,
                    rsv: 0,
                    opcode: 0,
                    payload: Bytes::from_static(b"b")
                },
            ]
        );
        assert_eq!(written(&mut c), [0x8A, 0], "the ping is still answered");
    }

    #[test]
    fn drop_by_the_application_sends_close_without_an_event() {
        let now = Instant::now();
        let mut c = Connection::new(config(), now);
        c.drop_connection(1008, Some("policy".into()), false, false);
        assert!(events(&mut c).is_empty());
        assert_eq!(&written(&mut c)[..4], &[0x88, 8, 0x03, 0xF0]);
        c.transport_closed(TransportEnd::Local);
        assert!(events(&mut c).is_empty());
    }

    fn deflating(now: Instant) -> Connection {
        let mut c = Connection::new(config(), now);
        c.enable_deflate(DeflateSetup {
            params: DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            },
            threshold: 100,
            level: 6,
        });
        c
    }

    /// What a client reading `wire` receives: the messages, inflated.
    fn client_reads(wire: &[u8]) -> Vec<Bytes> {
        let mut rx = Receiver::new(ReceiverConfig {
            role: Role::Client,
            max_frame_size: 1 << 24,
            max_message_size: 1 << 24,
            assemble_fragments: true,
            allowed_rsv: 0,
        });
        rx.enable_inflate(15, false);
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        while let Some(m) = rx.read(&mut buf).expect("valid frames") {
            if let Incoming::Text(b) | Incoming::Binary(b) = m {
                out.push(b);
            }
        }
        out
    }

    #[test]
    fn large_compressed_sends_wait_for_a_thread_that_may_compress_and_keep_their_order() {
        let now = Instant::now();
        let mut c = deflating(now);
        let big = "{\"k\":\"v\"},".repeat(DEFER_MIN / 8);
        c.send_message(
            OpCode::Text,
            b"first, compressed at once, first of all",
            None,
            true,
        )
        .unwrap();
        c.send_message(OpCode::Text, big.as_bytes(), Some(1), true)
            .unwrap();
        c.send_message(OpCode::Text, &[b'a'; 200], Some(2), true)
            .unwrap();
        c.send_message(OpCode::Binary, b"short", None, true)
            .unwrap();
        assert!(c.has_deferred());
        let mut pieces: [&[u8]; 16] = [&[]; 16];
        let n = c.wire_slices(&mut pieces, false);
        let early: Vec<u8> = pieces[..n].concat();
        let got = client_reads(&early);
        assert_eq!(got.len(), 1, "only what came before the large message");
        c.written(early.len());
        assert!(c.has_deferred(), "the JS thread leaves the compression");
        let mut all = Vec::new();
        loop {
            let mut pieces: [&[u8]; 16] = [&[]; 16];
            let n = c.wire_slices(&mut pieces, true);
            if n == 0 {
                break;
            }
            let chunk: Vec<u8> = pieces[..n].concat();
            c.written(chunk.len());
            all.extend_from_slice(&chunk);
        }
        assert!(!c.has_deferred());
        assert!(
            all.len() < big.len() / 10,
            "compressed: {} bytes",
            all.len()
        );
        let got = client_reads(&[early, all].concat());
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], big.as_bytes());
        assert_eq!(got[2], &[b'a'; 200][..]);
        assert_eq!(got[3], &b"short"[..]);
        assert!(events(&mut c).contains(&Event::Sent(2)));
    }

    #[test]
    fn zlib_state_is_released_after_a_quiet_second_and_rebuilt_from_the_window() {
        let now = Instant::now();
        let mut c = deflating(now);
        let msg = "{\"user\":\"alice\",\"text\":\"hello there\"},".repeat(20);
        c.send_message(OpCode::Text, msg.as_bytes(), None, true)
            .unwrap();
        let first = written(&mut c);
        let deadline = c.poll_timeout().expect("a release is scheduled");
        assert!(deadline <= Instant::now() + RELEASE_AFTER);
        c.handle_timeout(deadline);
        assert!(!c.deflate.as_ref().unwrap().codec.is_live(), "released");
        assert!(c.take_released(), "the transport hears of it once");
        assert!(!c.take_released());
        assert_eq!(
            c.poll_timeout(),
            Some(now + Duration::from_secs(20)),
            "keepalive only"
        );
        c.send_message(OpCode::Text, msg.as_bytes(), None, true)
            .unwrap();
        let second = written(&mut c);
        assert!(
            second.len() < first.len() / 3,
            "the rebuilt compressor refers back: {} vs {} bytes",
            second.len(),
            first.len()
        );
        let got = client_reads(&[first, second].concat());
        assert_eq!(got, vec![Bytes::from(msg.clone()), Bytes::from(msg)]);
    }
}
