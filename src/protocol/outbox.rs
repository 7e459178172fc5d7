//! The send queue of one connection: encoded frames ready for the wire, large messages still
//! to be framed, and the bookkeeping behind `bufferedAmount`, `drain` and send callbacks.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use super::message::{encode_frame, MaskKeySource, SenderConfig};

/// Bytes of encoded frames kept ready ahead of the socket. A large message is framed lazily,
/// one fragment at a time, only while fewer bytes than this wait: a control frame queued
/// meanwhile (a keepalive ping, a pong) goes out after at most this much of it, instead of after
/// the whole message.
pub const WIRE_CHUNK: usize = 128 * 1024;

/// Bytes of framed output kept ready ahead of the socket when most of them are payload chunks
/// queued by reference (a server's large messages): framing them costs a header each, and one
/// vectored write of a whole 1 MiB message is one syscall and one wake-up of the peer instead
/// of eight. Control frames wait behind at most this much, as they would in a socket buffer.
pub const WIRE_AHEAD: usize = 1024 * 1024;

/// The first allocation of an empty wire buffer (see [`Outbox::wire_for`]).
const WIRE_MIN: usize = 4096;

/// Emptied wire buffers kept per thread for the next connection that needs one, at most.
/// Performance choice: a broadcast to 101 connections otherwise allocates and frees 101 buffers
/// per batch (about 3% of its CPU in malloc and free); 256 of them are 1 MiB.
const MAX_SPARE_WIRES: usize = 256;

thread_local! {
    static SPARE_WIRES: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A spare wire buffer with room for `n` bytes, if this thread has one.
fn spare_wire(n: usize) -> Option<BytesMut> {
    if n > WIRE_MIN {
        return None;
    }
    SPARE_WIRES.with(|s| s.borrow_mut().pop())
}

/// Keeps an emptied wire buffer for reuse when it is one of [`WIRE_MIN`] bytes that nothing
/// else shares (a buffer split for zero-copy frames may still back a queued segment).
fn keep_wire(mut wire: BytesMut) {
    wire.clear();
    if !wire.try_reclaim(WIRE_MIN) || wire.capacity() != WIRE_MIN {
        return;
    }
    SPARE_WIRES.with(|s| {
        let mut spares = s.borrow_mut();
        if spares.len() < MAX_SPARE_WIRES {
            spares.push(wire);
        }
    });
}

/// A message, or pre-encoded frames, waiting behind others to be framed.
#[derive(Debug)]
enum Pending {
    Message {
        opcode: OpCode,
        /// RSV bits of the first frame (RSV1: the payload is compressed).
        rsv: u8,
        payload: Bytes,
        offset: usize,
        token: Option<u32>,
    },
    Encoded {
        bytes: Bytes,
        token: Option<u32>,
    },
    /// A message to compress when it reaches the front (permessage-deflate), on the thread
    /// that frames with a compressor: see [`Outbox::fill`].
    Deflate {
        opcode: OpCode,
        payload: Bytes,
        token: Option<u32>,
    },
}

/// Compresses one whole message for [`Outbox::fill`].
pub type CompressFn<'a> = &'a mut dyn FnMut(&[u8]) -> Vec<u8>;

/// The outgoing side of a connection.
///
/// Memory choice: an idle connection's outbox is 48 bytes with no allocation: the wire buffer
/// is released whenever it empties, and the queues that only large messages and send callbacks
/// need live in a box made on first use.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Complete frames, in wire order, not yet written.
    wire: BytesMut,
    /// Bytes ever appended to `wire` / ever written from it.
    framed_total: u64,
    written_total: u64,
    queues: Option<Box<Queues>>,
}

#[derive(Debug, Default)]
struct Queues {
    /// Messages queued behind `wire`, framed as it drains.
    pending: VecDeque<Pending>,
    /// Payload bytes in `pending`.
    pending_bytes: usize,
    /// Send callbacks: a token completes once `written_total` reaches its offset.
    callbacks: VecDeque<(u64, u32)>,
    /// Framed bytes ahead of `wire`: frame headers and zero-copy payload chunks.
    segments: VecDeque<Bytes>,
    /// Bytes in `segments`.
    segment_bytes: usize,
    /// `Pending::Deflate` entries in `pending`.
    deferred: usize,
}

/// Payload chunks at least this long are queued by reference instead of copied.
const ZERO_COPY_MIN: usize = 4096;

impl Outbox {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes queued and not yet written (what `bufferedAmount` reports).
    pub fn buffered(&self) -> usize {
        self.ready_bytes() + self.queues.as_ref().map_or(0, |q| q.pending_bytes)
    }

    /// True when nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
            && self
                .queues
                .as_ref()
                .is_none_or(|q| q.pending.is_empty() && q.segments.is_empty())
    }

    /// True when frames wait behind the inline buffer or messages wait to be framed: new
    /// frames must then queue behind them.
    fn has_pending(&self) -> bool {
        self.queues.as_ref().is_some_and(|q| !q.pending.is_empty())
    }

    fn queues(&mut self) -> &mut Queues {
        self.queues.get_or_insert_with(Box::default)
    }

    /// Queues a text or binary message. Small messages are framed at once (no allocation
    /// beyond the wire buffer); large ones, or any message behind a large one, wait in order
    /// and are framed as the wire drains.
    pub fn push_message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        token: Option<u32>,
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
    ) {
        self.push_message_with(
            opcode,
            0,
            payload,
            || super::pool::copy(payload),
            token,
            config,
            keys,
        );
    }

    /// [`Outbox::push_message`] for a payload the caller already owns as `Bytes`: a large one is
    /// queued as it is, with no copy (its frames are written straight from it). `rsv` marks the
    /// first frame (RSV1 for a compressed payload).
    pub fn push_message_bytes(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: Bytes,
        token: Option<u32>,
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
    ) {
        self.push_message_with(
            opcode,
            rsv,
            &payload,
            || payload.clone(),
            token,
            config,
            keys,
        );
    }

    /// A message is framed into the wire buffer at once when nothing waits and it fits;
    /// otherwise it waits in order, as what `owned` gives (called only then).
    #[allow(clippy::too_many_arguments)]
    fn push_message_with(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        owned: impl FnOnce() -> Bytes,
        token: Option<u32>,
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
    ) {
        if !self.has_pending() && payload.len() <= WIRE_CHUNK {
            let before = self.wire.len();
            super::message::encode_message(
                self.wire_for(payload.len() + MAX_HEADER_LEN),
                opcode,
                rsv,
                payload,
                config,
                keys,
            );
            self.framed(self.wire.len() - before, token);
        } else {
            self.push_pending(opcode, rsv, owned(), token);
        }
    }

    fn push_pending(&mut self, opcode: OpCode, rsv: u8, payload: Bytes, token: Option<u32>) {
        let q = self.queues();
        q.pending_bytes += payload.len();
        q.pending.push_back(Pending::Message {
            opcode,
            rsv,
            payload,
            offset: 0,
            token,
        });
    }

    /// Queues a message to be compressed when it reaches the front of the queue, by a
    /// [`Outbox::fill`] given a compressor. Messages compressed with context must be compressed
    /// in the order they are sent: while one waits, later ones must wait too
    /// ([`Outbox::has_deferred`]).
    pub fn push_deferred(&mut self, opcode: OpCode, payload: Bytes, token: Option<u32>) {
        let q = self.queues();
        q.pending_bytes += payload.len();
        q.deferred += 1;
        q.pending.push_back(Pending::Deflate {
            opcode,
            payload,
            token,
        });
    }

    /// True while a message waits to be compressed.
    pub fn has_deferred(&self) -> bool {
        self.queues.as_ref().is_some_and(|q| q.deferred > 0)
    }

    /// Queues a control frame (ping, pong) ahead of any message still waiting to be framed:
    /// control frames may go between the fragments of a message (RFC 6455 §5.4).
    pub fn push_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
    ) {
        let before = self.wire.len();
        super::message::encode_control(
            self.wire_for(payload.len() + MAX_HEADER_LEN),
            opcode,
            payload,
            config,
            keys,
        );
        self.framed(self.wire.len() - before, None);
    }

    /// Queues already encoded frames (a close frame, a user-built frame) behind everything
    /// queued so far.
    pub fn push_encoded(&mut self, bytes: &[u8], token: Option<u32>) {
        self.push_encoded_with(bytes, token, || Bytes::copy_from_slice(bytes));
    }

    /// [`Outbox::push_encoded`] for frames shared with other connections (a broadcast): behind
    /// a large message they wait as another reference to the same bytes, not a copy.
    pub fn push_encoded_shared(&mut self, bytes: &Bytes) {
        self.push_encoded_with(bytes, None, || bytes.clone());
    }

    /// Encoded bytes go straight into the wire buffer unless something waits to be framed;
    /// then they wait in order, as what `owned` gives.
    fn push_encoded_with(
        &mut self,
        bytes: &[u8],
        token: Option<u32>,
        owned: impl FnOnce() -> Bytes,
    ) {
        if !self.has_pending() {
            self.wire_for(bytes.len()).extend_from_slice(bytes);
            self.framed(bytes.len(), token);
        } else {
            let q = self.queues();
            q.pending_bytes += bytes.len();
            q.pending.push_back(Pending::Encoded {
                bytes: owned(),
                token,
            });
        }
    }

    /// The wire buffer, with room for `n` more bytes. Performance choice: an empty buffer (an
    /// idle connection keeps none) starts at [`WIRE_MIN`], so that the frames a batch of
    /// small messages adds cost one allocation instead of a chain of doublings from the first
    /// frame's size.
    fn wire_for(&mut self, n: usize) -> &mut BytesMut {
        // nothing to add (an empty handshake remainder) must not give an idle connection a buffer
        if self.wire.capacity() == 0 && n > 0 {
            match spare_wire(n) {
                Some(spare) => self.wire = spare,
                None => self.wire.reserve(n.max(WIRE_MIN)),
            }
        }
        &mut self.wire
    }

    /// Records that `added` bytes were just queued for the wire, and registers the callback
    /// token that completes when they are written.
    fn framed(&mut self, added: usize, token: Option<u32>) {
        self.framed_total += added as u64;
        if let Some(token) = token {
            let end = self.framed_total;
            self.queues().callbacks.push_back((end, token));
        }
    }

    /// Bytes ready for the wire: frozen segments plus the inline buffer.
    fn ready_bytes(&self) -> usize {
        self.wire.len() + self.queues.as_ref().map_or(0, |q| q.segment_bytes)
    }

    /// Frames pending messages while fewer than [`WIRE_CHUNK`] bytes are copied into the wire
    /// buffer and fewer than [`WIRE_AHEAD`] are ready in all.
    ///
    /// Performance choice: a server's large payload chunks are not copied into the wire buffer;
    /// the frame header goes there and the chunk itself is queued as a slice of the message
    /// (written with a vectored write). A client must copy anyway, to mask.
    ///
    /// A message waiting to be compressed is compressed when it reaches the front, if
    /// `compress` is given; without it, framing stops there (the JS thread leaves large
    /// compressions to the runtime thread).
    pub fn fill(
        &mut self,
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
        mut compress: Option<CompressFn<'_>>,
    ) {
        while self.wire.len() < WIRE_CHUNK && self.ready_bytes() < WIRE_AHEAD {
            let Some(q) = self.queues.as_mut() else { break };
            let Some(front) = q.pending.front_mut() else {
                break;
            };
            if let Pending::Deflate {
                opcode,
                payload,
                token,
            } = front
            {
                let Some(compress) = compress.as_mut() else {
                    break;
                };
                let z = Bytes::from(compress(payload));
                q.pending_bytes = q.pending_bytes - payload.len() + z.len();
                q.deferred -= 1;
                *front = Pending::Message {
                    opcode: *opcode,
                    rsv: super::frame::RSV1,
                    payload: z,
                    offset: 0,
                    token: *token,
                };
                continue;
            }
            let (added, done, token) = match front {
                Pending::Message {
                    opcode,
                    rsv,
                    payload,
                    offset,
                    token,
                } => {
                    let rest = payload.len() - *offset;
                    let step = if config.fragment_outgoing && config.fragmentation_threshold > 0 {
                        rest.min(config.fragmentation_threshold)
                    } else {
                        rest
                    };
                    let first = *offset == 0;
                    let fin = step == rest;
                    let (op, bits) = if first {
                        (*opcode, *rsv)
                    } else {
                        (OpCode::Continuation, 0)
                    };
                    let before = self.wire.len();
                    let added = match config.role {
                        super::frame::Role::Server if step >= ZERO_COPY_MIN => {
                            let header = FrameHeader {
                                fin,
                                rsv: bits,
                                opcode: op,
                                mask: None,
                                payload_len: step as u64,
                            };
                            let mut head = [0u8; MAX_HEADER_LEN];
                            let n = header.encode(&mut head);
                            self.wire.extend_from_slice(&head[..n]);
                            // Everything inline so far (this header included) moves ahead of the
                            // payload chunk, keeping the wire order.
                            let inline = self.wire.split().freeze();
                            q.segment_bytes += inline.len() + step;
                            q.segments.push_back(inline);
                            q.segments.push_back(payload.slice(*offset..*offset + step));
                            n + step
                        }
                        role => {
                            let mask =
                                (role == super::frame::Role::Client).then(|| keys.next_key());
                            let chunk = &payload[*offset..*offset + step];
                            encode_frame(&mut self.wire, fin, bits, op, chunk, mask);
                            self.wire.len() - before
                        }
                    };
                    *offset += step;
                    q.pending_bytes -= step;
                    (added, fin, *token)
                }
                Pending::Encoded { bytes, token } => {
                    self.wire.extend_from_slice(bytes);
                    q.pending_bytes -= bytes.len();
                    (bytes.len(), true, *token)
                }
                Pending::Deflate { .. } => break,
            };
            if done {
                q.pending.pop_front();
                self.framed(added, token);
            } else {
                self.framed(added, None);
            }
        }
    }

    /// The bytes to write next, as one contiguous piece (see [`Outbox::slices`] for all of
    /// them). Frames pending messages first.
    pub fn wire(
        &mut self,
        config: &SenderConfig,
        keys: &mut dyn MaskKeySource,
        compress: Option<CompressFn<'_>>,
    ) -> &[u8] {
        self.fill(config, keys, compress);
        match self.queues.as_ref().and_then(|q| q.segments.front()) {
            Some(segment) => segment,
            None => &self.wire,
        }
    }

    /// Puts the pieces ready for the wire, in order, into `out` (as many as fit) and returns
    /// how many. Call [`Outbox::fill`] first.
    pub fn slices<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let mut n = 0;
        if let Some(q) = self.queues.as_ref() {
            for segment in &q.segments {
                if n == out.len() {
                    return n;
                }
                out[n] = segment;
                n += 1;
            }
        }
        if n < out.len() && !self.wire.is_empty() {
            out[n] = &self.wire;
            n += 1;
        }
        n
    }

    /// Records that the first `n` bytes of the ready pieces were written, and returns the
    /// tokens of the sends that are now complete (in order) through `done`.
    pub fn advance(&mut self, mut n: usize, done: &mut Vec<u32>) {
        let mut written = 0;
        if let Some(q) = self.queues.as_mut() {
            while n > 0 {
                let Some(front) = q.segments.front_mut() else {
                    break;
                };
                let take = n.min(front.len());
                front.advance(take);
                n -= take;
                written += take;
                q.segment_bytes -= take;
                if front.is_empty() {
                    q.segments.pop_front();
                }
            }
        }
        let take = n.min(self.wire.len());
        self.wire.advance(take);
        written += take;
        self.written_total += written as u64;
        if self.wire.is_empty() {
            // An idle connection keeps no send buffer: it goes to this thread's spares.
            keep_wire(std::mem::take(&mut self.wire));
        }
        let Some(q) = self.queues.as_mut() else {
            return;
        };
        while let Some(&(end, token)) = q.callbacks.front() {
            if end > self.written_total {
                break;
            }
            q.callbacks.pop_front();
            done.push(token);
        }
        if q.pending.is_empty() && q.callbacks.is_empty() && q.segments.is_empty() {
            self.queues = None;
        }
    }

    /// Drops everything queued (the connection is gone) and returns the tokens of the sends
    /// that will never complete.
    pub fn discard(&mut self, failed: &mut Vec<u32>) {
        self.wire = BytesMut::new();
        if let Some(mut q) = self.queues.take() {
            for p in q.pending.drain(..) {
                if let Pending::Message { token: Some(t), .. }
                | Pending::Encoded { token: Some(t), .. }
                | Pending::Deflate { token: Some(t), .. } = p
                {
                    failed.push(t);
                }
            }
            failed.extend(q.callbacks.drain(..).map(|(_, t)| t));
        }
        failed.sort_unstable();
        failed.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::Role;
    use crate::protocol::message::{Incoming, Receiver, ReceiverConfig};

    struct ZeroKeys;
    impl MaskKeySource for ZeroKeys {
        fn next_key(&mut self) -> [u8; 4] {
            [1, 2, 3, 4]
        }
    }

    const SERVER: SenderConfig = SenderConfig {
        role: Role::Server,
        fragment_outgoing: true,
        fragmentation_threshold: 16 * 1024,
    };

    fn drain(outbox: &mut Outbox, config: &SenderConfig, step: usize) -> (Vec<u8>, Vec<u32>) {
        let mut all = Vec::new();
        let mut done = Vec::new();
        loop {
            let w = outbox.wire(config, &mut ZeroKeys, None);
            if w.is_empty() {
                break;
            }
            let n = w.len().min(step);
            all.extend_from_slice(&w[..n]);
            outbox.advance(n, &mut done);
        }
        (all, done)
    }

    /// Every piece ready for the wire, concatenated.
    fn ready(outbox: &mut Outbox, config: &SenderConfig) -> Vec<u8> {
        outbox.fill(config, &mut ZeroKeys, None);
        let mut pieces: [&[u8]; 256] = [&[]; 256];
        let n = outbox.slices(&mut pieces);
        pieces[..n].concat()
    }

    #[test]
    fn large_server_payloads_are_queued_without_copying() {
        let mut o = Outbox::new();
        let big = vec![7u8; WIRE_AHEAD + ZERO_COPY_MIN];
        o.push_message(OpCode::Binary, &big, None, &SERVER, &mut ZeroKeys);
        o.push_message(OpCode::Text, b"after", None, &SERVER, &mut ZeroKeys);
        o.fill(&SERVER, &mut ZeroKeys, None);
        let mut pieces: [&[u8]; 8] = [&[]; 8];
        let n = o.slices(&mut pieces);
        // a header, then the payload chunk by reference (not copied into the inline buffer)
        assert!(n >= 2);
        assert_eq!(pieces[1].len(), SERVER.fragmentation_threshold);
        assert_eq!(pieces[1].as_ptr(), {
            let Some(Pending::Message { payload, .. }) =
                o.queues.as_ref().and_then(|q| q.pending.front())
            else {
                panic!("message still pending")
            };
            payload.as_ptr()
        });
        let (bytes, _) = drain(&mut o, &SERVER, 1000);
        let events = read_all(&bytes);
        assert_eq!(events[0], Incoming::Binary(Bytes::from(big)));
        assert_eq!(events[1], Incoming::Text(Bytes::from_static(b"after")));
    }

    #[test]
    fn owned_payloads_are_framed_from_the_callers_memory() {
        let mut o = Outbox::new();
        let big = Bytes::from(vec![9u8; WIRE_AHEAD + ZERO_COPY_MIN]);
        let small = Bytes::from_static(b"small");
        o.push_message_bytes(
            OpCode::Binary,
            0,
            big.clone(),
            Some(1),
            &SERVER,
            &mut ZeroKeys,
        );
        o.push_message_bytes(OpCode::Text, 0, small, Some(2), &SERVER, &mut ZeroKeys);
        o.fill(&SERVER, &mut ZeroKeys, None);
        let mut pieces: [&[u8]; 8] = [&[]; 8];
        let n = o.slices(&mut pieces);
        assert!(n >= 2);
        assert_eq!(pieces[1].as_ptr(), big.as_ptr());
        let (bytes, done) = drain(&mut o, &SERVER, 1000);
        assert_eq!(done, vec![1, 2]);
        let events = read_all(&bytes);
        assert_eq!(events[0], Incoming::Binary(big));
        assert_eq!(events[1], Incoming::Text(Bytes::from_static(b"small")));
    }

    fn read_all(bytes: &[u8]) -> Vec<Incoming> {
        let mut rx = Receiver::new(ReceiverConfig {
            role: Role::Client,
            max_frame_size: u64::MAX >> 1,
            max_message_size: u64::MAX >> 1,
            assemble_fragments: true,
            allowed_rsv: 0,
        });
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(e) = rx.read(&mut buf).expect("valid frames") {
            out.push(e);
        }
        out
    }

    #[test]
    fn small_messages_are_framed_at_once_and_keep_order() {
        let mut o = Outbox::new();
        o.push_message(OpCode::Text, b"one", Some(1), &SERVER, &mut ZeroKeys);
        o.push_message(OpCode::Binary, b"two", Some(2), &SERVER, &mut ZeroKeys);
        assert_eq!(o.buffered(), 10);
        let (bytes, done) = drain(&mut o, &SERVER, 3);
        assert_eq!(
            bytes,
            [0x81, 3, b'o', b'n', b'e', 0x82, 3, b't', b'w', b'o']
        );
        assert_eq!(done, vec![1, 2]);
        assert!(o.is_empty());
    }

    #[test]
    fn an_idle_outbox_holds_no_buffer() {
        // an adopted socket's handshake remainder is usually empty: no buffer for it
        let mut o = Outbox::new();
        o.push_encoded(&[], None);
        assert_eq!(o.wire.capacity(), 0);
        // a frame gets one buffer of WIRE_MIN, given back once written
        o.push_message(OpCode::Text, b"hi", None, &SERVER, &mut ZeroKeys);
        assert!(o.wire.capacity() >= WIRE_MIN);
        let (bytes, _) = drain(&mut o, &SERVER, 1000);
        assert_eq!(bytes, [0x81, 2, b'h', b'i']);
        assert_eq!(o.wire.capacity(), 0);
    }

    #[test]
    fn an_emptied_wire_buffer_serves_the_next_connection() {
        let mut first = Outbox::new();
        first.push_message(OpCode::Text, b"one", None, &SERVER, &mut ZeroKeys);
        let memory = first.wire.as_ptr();
        drain(&mut first, &SERVER, 1000);
        assert_eq!(first.wire.capacity(), 0);
        let mut second = Outbox::new();
        second.push_message(OpCode::Text, b"two", None, &SERVER, &mut ZeroKeys);
        assert_eq!(
            second.wire.as_ptr(),
            memory,
            "the same allocation, not a new one"
        );
        let (bytes, _) = drain(&mut second, &SERVER, 1000);
        assert_eq!(bytes, [0x81, 3, b't', b'w', b'o']);
    }

    #[test]
    fn callbacks_fire_only_when_their_last_byte_is_written() {
        let mut o = Outbox::new();
        o.push_message(OpCode::Text, b"abc", Some(7), &SERVER, &mut ZeroKeys);
        let mut done = Vec::new();
        o.wire(&SERVER, &mut ZeroKeys, None);
        o.advance(4, &mut done);
        assert!(done.is_empty());
        o.advance(1, &mut done);
        assert_eq!(done, vec![7]);
    }

    #[test]
    fn control_frames_go_between_fragments_of_a_large_message() {
        // A server frames up to WIRE_AHEAD ahead (payload by reference); a client, which copies
        // to mask, up to WIRE_CHUNK. Either way a ping queued next goes out one fragment later.
        let client = SenderConfig {
            role: Role::Client,
            ..SERVER
        };
        for (config, ahead) in [(SERVER, WIRE_AHEAD), (client, WIRE_CHUNK)] {
            let mut o = Outbox::new();
            let big = vec![0x55u8; 4 * ahead];
            o.push_message(OpCode::Binary, &big, Some(1), &config, &mut ZeroKeys);
            // Write what is ready, then queue a ping: it must go out long before the message ends.
            let ready = ready(&mut o, &config);
            let first = ready.len();
            assert!((ahead..ahead + 17 * 1024).contains(&first), "{first} ready");
            let mut done = Vec::new();
            o.advance(first, &mut done);
            o.push_control(OpCode::Ping, b"ka", &config, &mut ZeroKeys);
            let (bytes, done) = drain(&mut o, &config, 1 << 20);
            assert_eq!(done, vec![1]);
            let ping = if config.role == Role::Client {
                &[0x89, 0x82, 1, 2, 3, 4][..]
            } else {
                &[0x89, 2, b'k', b'a'][..]
            };
            let ping_at = bytes
                .windows(ping.len())
                .position(|w| w == ping)
                .expect("ping sent");
            assert!(ping_at < 20 * 1024, "ping after {ping_at} bytes");
            if config.role == Role::Server {
                // And the whole stream still decodes: the ping, then the message intact.
                let mut stream = vec![];
                stream.extend_from_slice(&ready);
                stream.extend_from_slice(&bytes);
                let events = read_all(&stream);
                assert_eq!(events.len(), 2);
                assert_eq!(events[0], Incoming::Ping(Bytes::from_static(b"ka")));
                assert_eq!(events[1], Incoming::Binary(Bytes::from(big)));
            }
        }
    }

    #[test]
    fn encoded_frames_wait_behind_pending_messages() {
        let mut o = Outbox::new();
        let big = vec![1u8; 2 * WIRE_CHUNK];
        o.push_message(OpCode::Binary, &big, None, &SERVER, &mut ZeroKeys);
        o.push_encoded(&[0x88, 0x02, 0x03, 0xE8], Some(9));
        o.push_message(OpCode::Text, b"after", None, &SERVER, &mut ZeroKeys);
        let (bytes, done) = drain(&mut o, &SERVER, 1000);
        assert_eq!(done, vec![9]);
        let close_at = bytes
            .windows(4)
            .position(|w| w == [0x88, 0x02, 0x03, 0xE8])
            .unwrap();
        assert!(
            close_at > 2 * WIRE_CHUNK,
            "close frame stays behind the message"
        );
        assert!(bytes.ends_with(b"after"));
    }

    #[test]
    fn unfragmented_large_message_is_one_frame() {
        let config = SenderConfig {
            fragment_outgoing: false,
            ..SERVER
        };
        let mut o = Outbox::new();
        let big = vec![2u8; WIRE_CHUNK + 5];
        o.push_message(OpCode::Binary, &big, None, &config, &mut ZeroKeys);
        let (bytes, _) = drain(&mut o, &config, 4096);
        assert_eq!(bytes.len(), 10 + big.len());
        assert_eq!(bytes[0], 0x82);
    }

    #[test]
    fn client_fragments_are_masked() {
        let config = SenderConfig {
            role: Role::Client,
            ..SERVER
        };
        let mut o = Outbox::new();
        let big = vec![3u8; WIRE_CHUNK + 1];
        o.push_message(OpCode::Binary, &big, None, &config, &mut ZeroKeys);
        let (bytes, _) = drain(&mut o, &config, 1 << 20);
        assert_eq!(bytes[1] & 0x80, 0x80);
        let mut rx = Receiver::new(ReceiverConfig {
            role: Role::Server,
            max_frame_size: 1 << 30,
            max_message_size: 1 << 30,
            assemble_fragments: true,
            allowed_rsv: 0,
        });
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(
            rx.read(&mut buf).unwrap(),
            Some(Incoming::Binary(Bytes::from(big)))
        );
    }

    #[test]
    fn discard_fails_every_outstanding_callback() {
        let mut o = Outbox::new();
        o.push_message(OpCode::Text, b"x", Some(1), &SERVER, &mut ZeroKeys);
        o.push_message(
            OpCode::Binary,
            &vec![0; 2 * WIRE_CHUNK],
            Some(2),
            &SERVER,
            &mut ZeroKeys,
        );
        let mut failed = Vec::new();
        o.discard(&mut failed);
        assert_eq!(failed, vec![1, 2]);
        assert_eq!(o.buffered(), 0);
    }
}
