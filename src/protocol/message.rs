//! Messages (RFC 6455 §5.4, §5.6): assembling received frames into messages under the size
//! limits, and encoding outgoing messages into frames.

use bytes::{Buf, Bytes, BytesMut};

use super::close::{self, code};
use super::deflate::InflateError;
use super::frame::{FrameHeader, HeaderDecoder, HeaderRules, OpCode, ProtocolError, Role, RSV1};
use super::mask::apply_mask;
use super::takeover;
use super::utf8::Utf8Validator;

/// Limits and modes for the receiving side of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    pub role: Role,
    /// Largest frame payload accepted (`maxReceivedFrameSize`); larger is a 1009.
    pub max_frame_size: u64,
    /// Largest message accepted (`maxReceivedMessageSize`), a single frame or all fragments
    /// together; larger is a 1009. Not applied when fragments are not assembled.
    pub max_message_size: u64,
    /// `assembleFragments`: when false, data frames are passed up one by one.
    pub assemble_fragments: bool,
    /// RSV bits an extension gave a meaning to.
    pub allowed_rsv: u8,
}

/// A data frame passed up as it is (when `assemble_fragments` is false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub payload: Bytes,
}

/// What the receiver found in the peer's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message; its bytes are valid UTF-8.
    Text(Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// One data frame, when fragments are not assembled. Text frames have been checked as
    /// UTF-8 across the whole message, as far as they go.
    Frame(DataFrame),
    Ping(Bytes),
    Pong(Bytes),
    /// The peer's close frame, checked; nothing after it is read.
    Close {
        status: Option<u16>,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy)]
enum ReadState {
    /// Waiting for (the rest of) a frame header.
    Header,
    /// Waiting for the payload of `header`, `len` bytes; the first `done` bytes of the input
    /// buffer are already unmasked and checked.
    Payload {
        header: FrameHeader,
        len: usize,
        done: usize,
    },
    /// After a close frame or a protocol error: input is discarded.
    Finished,
}

/// Turns the peer's bytes into [`Incoming`] events (sans-IO: the caller owns the socket).
///
/// Performance choices: limits are checked on the frame header, before a payload byte is
/// kept; payloads are unmasked and UTF-8-checked in place as they arrive (so invalid text fails
/// at the first impossible byte, not at the end of the message); a message that is one frame is
/// handed up as a slice of the input buffer with no copy.
#[derive(Debug)]
pub struct Receiver {
    config: ReceiverConfig,
    header: HeaderDecoder,
    state: ReadState,
    /// Opcode of the message in progress (Text or Binary) while its fragments arrive.
    open: Option<OpCode>,
    /// Fragments of the message in progress, when assembling.
    /// Boxed: only a connection in the middle of a fragmented message needs one.
    parts: Option<Box<BytesMut>>,
    /// Bytes of the message in progress so far.
    message_len: u64,
    utf8: Utf8Validator,
    /// permessage-deflate, when negotiated (boxed: most connections have none).
    inflate: Option<Box<Inflate>>,
}

/// The receiving half of permessage-deflate (RFC 7692 §6.2).
#[derive(Debug)]
struct Inflate {
    codec: takeover::Incoming,
    /// The message in progress is compressed (its first frame had RSV1).
    active: bool,
    /// Whether the next data frame is the first of the compressed message.
    first: bool,
    /// Inflated bytes of the message in progress, when assembling.
    out: Vec<u8>,
}

impl Receiver {
    /// A receiver for a freshly opened connection.
    pub fn new(config: ReceiverConfig) -> Self {
        Receiver {
            config,
            header: HeaderDecoder::new(),
            state: ReadState::Header,
            open: None,
            parts: None,
            message_len: 0,
            utf8: Utf8Validator::new(),
            inflate: None,
        }
    }

    /// Turns on permessage-deflate for the peer's messages: RSV1 marks a compressed message,
    /// inflated with the peer's window `bits`, keeping context between messages unless
    /// `no_context_takeover`.
    pub fn enable_inflate(&mut self, bits: u8, no_context_takeover: bool) {
        self.config.allowed_rsv |= RSV1;
        self.inflate = Some(Box::new(Inflate {
            codec: takeover::Incoming::new(bits, !no_context_takeover),
            active: false,
            first: false,
            out: Vec::new(),
        }));
    }

    /// True while the inflater holds zlib state of its own.
    pub fn inflate_is_live(&self) -> bool {
        self.inflate.as_ref().is_some_and(|i| i.codec.is_live())
    }

    /// Frees the inflater's zlib state (kept: its window), unless a message is in progress.
    pub fn release_inflate(&mut self) {
        let mid = self.open.is_some();
        if let Some(i) = self.inflate.as_mut() {
            i.codec.release(mid);
        }
    }

    /// The configuration this receiver enforces.
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// True once a close frame or an error ended reading.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, ReadState::Finished)
    }

    /// Payload bytes of the current frame still to arrive beyond what `buffered` holds: a
    /// transport may reserve that much so the frame lands in one allocation.
    pub fn payload_needed(&self, buffered: usize) -> usize {
        match self.state {
            ReadState::Payload { len, .. } => len.saturating_sub(buffered),
            _ => 0,
        }
    }

    /// Consumes bytes from the front of `buf` and returns the next event, or `None` when more
    /// bytes are needed. Call again after an event: `buf` may hold more. After an error or a
    /// close frame, all further input is discarded.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        let result = self.read_inner(buf);
        if result.is_err() {
            self.state = ReadState::Finished;
            self.parts = None;
            if let Some(i) = self.inflate.as_mut() {
                i.out = Vec::new();
            }
        }
        result
    }

    fn read_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            match self.state {
                ReadState::Finished => {
                    buf.clear();
                    return Ok(None);
                }
                ReadState::Header => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let rules = HeaderRules::for_role(self.config.role, self.config.allowed_rsv);
                    let (used, header) = self.header.decode(buf, rules)?;
                    buf.advance(used);
                    let Some(header) = header else {
                        return Ok(None);
                    };
                    let len = self.begin_frame(&header)?;
                    self.state = ReadState::Payload {
                        header,
                        len,
                        done: 0,
                    };
                }
                ReadState::Payload { header, len, done } => {
                    let avail = buf.len().min(len);
                    if avail > done {
                        let fresh = &mut buf[done..avail];
                        if let Some(key) = header.mask {
                            apply_mask(fresh, key, done);
                        }
                        if self.is_text_frame(&header) && !self.compressed() {
                            self.utf8.feed(fresh).map_err(|_| invalid_utf8())?;
                        }
                        self.state = ReadState::Payload {
                            header,
                            len,
                            done: avail,
                        };
                    }
                    if avail < len {
                        return Ok(None);
                    }
                    let payload = buf.split_to(len);
                    self.state = ReadState::Header;
                    if let Some(event) = self.finish_frame(&header, payload)? {
                        return Ok(Some(event));
                    }
                }
            }
        }
    }

    /// True when the message in progress is compressed: its payload is checked as UTF-8 once
    /// inflated, not as it arrives.
    fn compressed(&self) -> bool {
        self.inflate.as_ref().is_some_and(|i| i.active)
    }

    fn is_text_frame(&self, header: &FrameHeader) -> bool {
        match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => self.open == Some(OpCode::Text),
            _ => false,
        }
    }

    /// Applies the sequencing rules and the size limits to a new header; returns the payload
    /// length as a buffer size.
    fn begin_frame(&mut self, header: &FrameHeader) -> Result<usize, ProtocolError> {
        let too_big = || {
            ProtocolError::owned(
                code::MESSAGE_TOO_BIG,
                format!(
                    "Frame size of {} bytes exceeds maximum accepted frame size",
                    header.payload_len
                ),
            )
        };
        if header.rsv & RSV1 != 0 && header.opcode.is_control() {
            // RFC 7692 §6.1: only data messages are compressed
            return Err(ProtocolError::new(
                code::PROTOCOL_ERROR,
                "RSV1 set on a control frame",
            ));
        }
        if header.opcode.is_control() {
            // At most 125 bytes (the header decoder has checked it), and, as in the original,
            // within maxReceivedFrameSize like any frame (which matters only below 125).
            if header.payload_len > self.config.max_frame_size {
                return Err(too_big());
            }
            return usize::try_from(header.payload_len).map_err(|_| too_big());
        }
        match (header.opcode, self.open) {
            (OpCode::Continuation, None) => {
                return Err(ProtocolError::new(
                    code::PROTOCOL_ERROR,
                    "Unexpected Continuation Frame",
                ))
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::owned(
                    code::PROTOCOL_ERROR,
                    format!(
                        "Illegal frame opcode 0x{:x} received in middle of fragmented message.",
                        header.opcode as u8
                    ),
                ))
            }
            _ => {}
        }
        if header.payload_len > self.config.max_frame_size {
            return Err(too_big());
        }
        let len = usize::try_from(header.payload_len).map_err(|_| too_big())?;
        let rsv1 = header.rsv & RSV1 != 0;
        if let Some(inflate) = self.inflate.as_mut() {
            if header.opcode == OpCode::Continuation {
                if rsv1 {
                    // §6.1: RSV1 only on the first frame of a message
                    return Err(ProtocolError::new(
                        code::PROTOCOL_ERROR,
                        "RSV1 set on a continuation frame",
                    ));
                }
                inflate.first = false;
            } else {
                inflate.active = rsv1;
                inflate.first = true;
            }
        }
        if header.opcode != OpCode::Continuation {
            self.message_len = 0;
            self.utf8.reset();
        }
        self.message_len = self.message_len.saturating_add(header.payload_len);
        // A compressed message's limit applies to its inflated size, checked while inflating.
        if self.config.assemble_fragments
            && !self.compressed()
            && self.message_len > self.config.max_message_size
        {
            return Err(ProtocolError::new(
                code::MESSAGE_TOO_BIG,
                "Maximum message size exceeded.",
            ));
        }
        if self.open.is_none() {
            // Remember the message kind from its first frame, final or not.
            self.open = Some(header.opcode);
        }
        Ok(len)
    }

    /// Handles a frame whose payload is complete (unmasked, and UTF-8-checked if text).
    fn finish_frame(
        &mut self,
        header: &FrameHeader,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => return Ok(Some(Incoming::Ping(payload.freeze()))),
            OpCode::Pong => return Ok(Some(Incoming::Pong(payload.freeze()))),
            OpCode::Close => {
                let frame = close::parse_payload(&payload)?;
                let event = Incoming::Close {
                    status: frame.status,
                    reason: frame.reason.to_owned(),
                };
                self.state = ReadState::Finished;
                self.parts = None;
                return Ok(Some(event));
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {}
        }
        let kind = self.open.unwrap_or(header.opcode);
        if self.compressed() {
            return self.finish_compressed(header, kind, &payload);
        }
        if header.fin {
            if kind == OpCode::Text {
                self.utf8.finish().map_err(|_| invalid_utf8())?;
            }
            self.open = None;
        }
        if !self.config.assemble_fragments {
            return Ok(Some(Incoming::Frame(DataFrame {
                fin: header.fin,
                rsv: header.rsv,
                opcode: header.opcode,
                payload: payload.freeze(),
            })));
        }
        match self.parts.as_mut() {
            Some(parts) if !parts.is_empty() => parts.extend_from_slice(&payload),
            _ => self.parts = Some(Box::new(payload)),
        }
        if !header.fin {
            return Ok(None);
        }
        let data = self.parts.take().map(|p| p.freeze()).unwrap_or_default();
        Ok(Some(if kind == OpCode::Text {
            Incoming::Text(data)
        } else {
            Incoming::Binary(data)
        }))
    }
}

impl Receiver {
    /// Inflates a complete frame of a compressed message: onto the message so far when
    /// assembling, else into a frame of its own (passed up with RSV1 cleared). The limit is
    /// `maxReceivedMessageSize` on the inflated bytes, enforced while inflating.
    fn finish_compressed(
        &mut self,
        header: &FrameHeader,
        kind: OpCode,
        payload: &[u8],
    ) -> Result<Option<Incoming>, ProtocolError> {
        let limit = usize::try_from(self.config.max_message_size).unwrap_or(usize::MAX);
        let assemble = self.config.assemble_fragments;
        let Some(inflate) = self.inflate.as_mut() else {
            return Ok(None);
        };
        let mut frame_out = Vec::new();
        let out = if assemble {
            &mut inflate.out
        } else {
            &mut frame_out
        };
        let start = out.len();
        inflate
            .codec
            .inflate(payload, inflate.first, header.fin, out, limit)
            .map_err(|e| match e {
                InflateError::TooBig => {
                    ProtocolError::new(code::MESSAGE_TOO_BIG, "Maximum message size exceeded.")
                }
                InflateError::Corrupt => ProtocolError::new(
                    code::INVALID_DATA,
                    "Invalid compressed data (permessage-deflate)",
                ),
            })?;
        if kind == OpCode::Text {
            self.utf8.feed(&out[start..]).map_err(|_| invalid_utf8())?;
            if header.fin {
                self.utf8.finish().map_err(|_| invalid_utf8())?;
            }
        }
        if header.fin {
            self.open = None;
            inflate.active = false;
        }
        if !assemble {
            return Ok(Some(Incoming::Frame(DataFrame {
                fin: header.fin,
                rsv: header.rsv & !RSV1,
                opcode: header.opcode,
                payload: Bytes::from(frame_out),
            })));
        }
        if !header.fin {
            return Ok(None);
        }
        let data = Bytes::from(std::mem::take(&mut inflate.out));
        Ok(Some(if kind == OpCode::Text {
            Incoming::Text(data)
        } else {
            Incoming::Binary(data)
        }))
    }
}

fn invalid_utf8() -> ProtocolError {
    ProtocolError::new(code::INVALID_DATA, "Invalid UTF-8 Data Received")
}

/// Where masking keys come from. Connections use [`super::entropy::Entropy`]; tests use fixed
/// keys.
pub trait MaskKeySource {
    /// A fresh, unpredictable key for the next frame (RFC 6455 §5.3).
    fn next_key(&mut self) -> [u8; 4];
}

/// Appends one complete frame to `out`: header, then the payload, masked when `mask` is given.
pub fn encode_frame(
    out: &mut BytesMut,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; super::frame::MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    out.reserve(n + payload.len());
    out.extend_from_slice(&head[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// How outgoing messages are framed (`fragmentOutgoingMessages`, `fragmentationThreshold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderConfig {
    pub role: Role,
    pub fragment_outgoing: bool,
    /// Largest frame payload when fragmenting; 0 means no fragmentation.
    pub fragmentation_threshold: usize,
}

impl SenderConfig {
    fn mask(&self, keys: &mut dyn MaskKeySource) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(keys.next_key()),
            Role::Server => None,
        }
    }
}

/// Appends a text or binary message to `out`, split into frames of at most
/// `fragmentation_threshold` payload bytes when fragmentation is on (like the original: a
/// message of exactly the threshold is one frame), each masked with its own key as a client.
/// `rsv` goes on the first frame only (RSV1 for a compressed message, RFC 7692 §6).
pub fn encode_message(
    out: &mut BytesMut,
    opcode: OpCode,
    rsv: u8,
    payload: &[u8],
    config: &SenderConfig,
    keys: &mut dyn MaskKeySource,
) {
    let threshold = config.fragmentation_threshold;
    if !config.fragment_outgoing || threshold == 0 || payload.len() <= threshold {
        encode_frame(out, true, rsv, opcode, payload, config.mask(keys));
        return;
    }
    let count = payload.len().div_ceil(threshold);
    for (i, chunk) in payload.chunks(threshold).enumerate() {
        let (op, bits) = if i == 0 {
            (opcode, rsv)
        } else {
            (OpCode::Continuation, 0)
        };
        encode_frame(out, i + 1 == count, bits, op, chunk, config.mask(keys));
    }
}

/// Appends a control frame (ping or pong) to `out`. The caller keeps `payload` within 125 bytes.
pub fn encode_control(
    out: &mut BytesMut,
    opcode: OpCode,
    payload: &[u8],
    config: &SenderConfig,
    keys: &mut dyn MaskKeySource,
) {
    debug_assert!(opcode.is_control() && payload.len() <= super::frame::MAX_CONTROL_PAYLOAD);
    encode_frame(out, true, 0, opcode, payload, config.mask(keys));
}

/// Appends a close frame to `out`: no payload for `None`, else the status and the reason cut to
/// fit the 125-byte control frame limit.
pub fn encode_close(
    out: &mut BytesMut,
    status: Option<u16>,
    reason: &str,
    config: &SenderConfig,
    keys: &mut dyn MaskKeySource,
) {
    let mut payload = Vec::with_capacity(2 + reason.len().min(close::MAX_REASON_LEN));
    close::encode_payload(&mut payload, status, reason);
    encode_frame(out, true, 0, OpCode::Close, &payload, config.mask(keys));
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FixedKeys(u8);
    impl MaskKeySource for FixedKeys {
        fn next_key(&mut self) -> [u8; 4] {
            self.0 = self.0.wrapping_add(1);
            [self.0, 0x5A, 0xC3, 0x11]
        }
    }

    fn server_config() -> ReceiverConfig {
        ReceiverConfig {
            role: Role::Server,
            max_frame_size: 64 * 1024,
            max_message_size: 1024 * 1024,
            assemble_fragments: true,
            allowed_rsv: 0,
        }
    }

    const CLIENT_SEND: SenderConfig = SenderConfig {
        role: Role::Client,
        fragment_outgoing: true,
        fragmentation_threshold: 16,
    };

    /// Bytes a client would send: masked frames.
    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_frame(
            &mut out,
            fin,
            0,
            opcode,
            payload,
            Some([0x37, 0xFA, 0x21, 0x3D]),
        );
        out.to_vec()
    }

    /// Feeds `bytes` in chunks of `step` and collects events until the first error.
    fn run(
        config: ReceiverConfig,
        bytes: &[u8],
        step: usize,
    ) -> (Vec<Incoming>, Option<ProtocolError>) {
        let mut rx = Receiver::new(config);
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        for chunk in bytes.chunks(step.max(1)) {
            buf.extend_from_slice(chunk);
            loop {
                match rx.read(&mut buf) {
                    Ok(Some(e)) => events.push(e),
                    Ok(None) => break,
                    Err(e) => return (events, Some(e)),
                }
            }
        }
        (events, None)
    }

    fn every_split(config: ReceiverConfig, bytes: &[u8]) -> (Vec<Incoming>, Option<ProtocolError>) {
        let whole = run(config, bytes, bytes.len());
        for step in [1, 2, 3, 7, 64] {
            assert_eq!(run(config, bytes, step), whole, "chunks of {step}");
        }
        whole
    }

    #[test]
    fn control_frames_obey_a_frame_limit_below_125() {
        let mut rx = Receiver::new(ReceiverConfig {
            role: Role::Client,
            max_frame_size: 4,
            max_message_size: 1024,
            assemble_fragments: true,
            allowed_rsv: 0,
        });
        let mut ok = BytesMut::from(&[0x89, 0x04, b'a', b'b', b'c', b'd'][..]);
        assert_eq!(
            rx.read(&mut ok),
            Ok(Some(Incoming::Ping(Bytes::from_static(b"abcd"))))
        );
        let mut big = BytesMut::from(&[0x89, 0x05, b'a', b'b', b'c', b'd', b'e'][..]);
        assert_eq!(rx.read(&mut big).map_err(|e| e.code), Err(1009));
    }

    #[test]
    fn assembles_single_frame_text_and_binary() {
        let mut wire = client_frame(true, OpCode::Text, "héllo".as_bytes());
        wire.extend(client_frame(true, OpCode::Binary, &[0, 1, 2, 255]));
        wire.extend(client_frame(true, OpCode::Text, b""));
        let (events, err) = every_split(server_config(), &wire);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                Incoming::Text(Bytes::from("héllo")),
                Incoming::Binary(Bytes::from_static(&[0, 1, 2, 255])),
                Incoming::Text(Bytes::new()),
            ]
        );
    }

    #[test]
    fn assembles_fragments_with_interleaved_control_frames() {
        let text = "κόσμε and more";
        let bytes = text.as_bytes();
        // Split inside the two-byte 'ό' so UTF-8 state must cross frames.
        let mut wire = client_frame(false, OpCode::Text, &bytes[..3]);
        wire.extend(client_frame(true, OpCode::Ping, b"p"));
        wire.extend(client_frame(false, OpCode::Continuation, &bytes[3..8]));
        wire.extend(client_frame(true, OpCode::Pong, b""));
        wire.extend(client_frame(true, OpCode::Continuation, &bytes[8..]));
        let (events, err) = every_split(server_config(), &wire);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                Incoming::Ping(Bytes::from_static(b"p")),
                Incoming::Pong(Bytes::new()),
                Incoming::Text(Bytes::from(text)),
            ]
        );
    }

    #[test]
    fn passes_frames_up_when_not_assembling() {
        let config = ReceiverConfig {
            assemble_fragments: false,
            ..server_config()
        };
        let mut wire = client_frame(false, OpCode::Binary, b"ab");
        wire.extend(client_frame(true, OpCode::Continuation, b"cd"));
        let (events, err) = every_split(config, &wire);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                Incoming::Frame(DataFrame {
                    fin: false,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    payload: Bytes::from_static(b"ab")
                }),
                Incoming::Frame(DataFrame {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Continuation,
                    payload: Bytes::from_static(b"cd")
                }),
            ]
        );
    }

    #[test]
    fn rejects_unexpected_continuation() {
        let wire = client_frame(true, OpCode::Continuation, b"x");
        assert_eq!(
            every_split(server_config(), &wire).1.map(|e| e.code),
            Some(1002)
        );
    }

    #[test]
    fn rejects_new_message_inside_fragmented_one() {
        let mut wire = client_frame(false, OpCode::Text, b"a");
        wire.extend(client_frame(true, OpCode::Binary, b"b"));
        let err = every_split(server_config(), &wire).1.unwrap();
        assert_eq!(err.code, 1002);
        assert!(err.reason.contains("middle of fragmented message"));
    }

    #[test]
    fn closes_1009_on_oversized_frame_before_buffering_payload() {
        let config = ReceiverConfig {
            max_frame_size: 10,
            ..server_config()
        };
        let wire = client_frame(true, OpCode::Binary, &[7u8; 11]);
        // Only the header is given: the error must come without any payload.
        let header_len = 2 + 4;
        let (events, err) = run(config, &wire[..header_len], 1);
        assert!(events.is_empty());
        assert_eq!(err.map(|e| e.code), Some(1009));
    }

    #[test]
    fn closes_1009_on_a_header_claiming_huge_lengths() {
        for len in [10u64 << 30, (1 << 63) - 1] {
            let mut wire = vec![0x82, 0x80 | 127];
            wire.extend_from_slice(&len.to_be_bytes());
            wire.extend_from_slice(&[1, 2, 3, 4]);
            let (_, err) = run(server_config(), &wire, wire.len());
            assert_eq!(err.map(|e| e.code), Some(1009), "{len}");
        }
    }

    #[test]
    fn closes_1009_when_fragments_exceed_message_size() {
        let config = ReceiverConfig {
            max_frame_size: 10,
            max_message_size: 25,
            ..server_config()
        };
        let mut wire = Vec::new();
        wire.extend(client_frame(false, OpCode::Binary, &[1; 10]));
        wire.extend(client_frame(false, OpCode::Continuation, &[2; 10]));
        let ok_len = wire.len();
        wire.extend(client_frame(true, OpCode::Continuation, &[3; 10]));
        let (events, err) = run(config, &wire[..ok_len + 6], 1);
        assert!(events.is_empty());
        assert_eq!(err.map(|e| e.code), Some(1009));
    }

    #[test]
    fn message_size_applies_to_single_frames_too() {
        let config = ReceiverConfig {
            max_frame_size: 100,
            max_message_size: 50,
            ..server_config()
        };
        let wire = client_frame(true, OpCode::Text, &[b'a'; 51]);
        assert_eq!(run(config, &wire[..6], 6).1.map(|e| e.code), Some(1009));
    }

    #[test]
    fn fails_fast_on_invalid_utf8_before_the_frame_ends() {
        // "κόσμε" then ED A0 80 (a surrogate): fails at A0, with the frame not yet complete.
        let mut payload = "κόσμε".as_bytes().to_vec();
        payload.extend_from_slice(&[0xED, 0xA0, 0x80]);
        payload.extend_from_slice(b"edited");
        let wire = client_frame(true, OpCode::Text, &payload);
        let upto = 6 + "κόσμε".len() + 2;
        let (events, err) = run(server_config(), &wire[..upto], 1);
        assert!(events.is_empty());
        assert_eq!(err.map(|e| e.code), Some(1007));
    }

    #[test]
    fn fails_fast_on_invalid_utf8_in_a_later_fragment() {
        let mut wire = client_frame(false, OpCode::Text, b"ok ");
        wire.extend(client_frame(false, OpCode::Continuation, &[0xF4]));
        wire.extend(client_frame(false, OpCode::Continuation, &[0x90, 0x80]));
        let (_, err) = run(server_config(), &wire, 1);
        assert_eq!(err.map(|e| e.code), Some(1007));
    }

    #[test]
    fn rejects_text_ending_inside_a_sequence() {
        let mut wire = client_frame(false, OpCode::Text, b"a");
        wire.extend(client_frame(true, OpCode::Continuation, &[0xE2, 0x82]));
        assert_eq!(
            every_split(server_config(), &wire).1.map(|e| e.code),
            Some(1007)
        );
    }

    #[test]
    fn checks_utf8_when_passing_frames_up() {
        let config = ReceiverConfig {
            assemble_fragments: false,
            ..server_config()
        };
        let wire = client_frame(true, OpCode::Text, &[0xC0, 0x80]);
        assert_eq!(every_split(config, &wire).1.map(|e| e.code), Some(1007));
    }

    #[test]
    fn close_frame_rules() {
        let cases: &[(&[u8], Option<u16>)] = &[
            (&[], None),
            (&[0x03], Some(1002)),
            (&[0x03, 0xE7], Some(1002)),
            (&[0x03, 0xEE], Some(1002)),
            (&[0x03, 0xE8, 0xFF], Some(1007)),
        ];
        for (payload, err) in cases {
            let wire = client_frame(true, OpCode::Close, payload);
            let (events, got) = every_split(server_config(), &wire);
            assert_eq!(got.map(|e| e.code), *err, "{payload:?}");
            if err.is_none() {
                assert_eq!(
                    events,
                    vec![Incoming::Close {
                        status: None,
                        reason: String::new()
                    }]
                );
            }
        }
        let mut p = 4000u16.to_be_bytes().to_vec();
        p.extend_from_slice("done".as_bytes());
        let (events, err) = every_split(server_config(), &client_frame(true, OpCode::Close, &p));
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![Incoming::Close {
                status: Some(4000),
                reason: "done".into()
            }]
        );
    }

    #[test]
    fn ignores_data_after_close() {
        let mut wire = client_frame(true, OpCode::Close, &[0x03, 0xE8]);
        wire.extend(client_frame(true, OpCode::Text, b"late"));
        wire.extend_from_slice(&[0xFF, 0xFF]); // garbage too
        let (events, err) = every_split(server_config(), &wire);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![Incoming::Close {
                status: Some(1000),
                reason: String::new()
            }]
        );
    }

    #[test]
    fn single_frame_message_is_not_copied() {
        let wire = client_frame(true, OpCode::Binary, &[9u8; 1000]);
        let mut buf = BytesMut::from(&wire[..]);
        let base = buf.as_ptr() as usize;
        let mut rx = Receiver::new(server_config());
        let Some(Incoming::Binary(data)) = rx.read(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(
            data.as_ptr() as usize,
            base + 8,
            "payload should be a view of the input"
        );
        assert!(data.iter().all(|&b| b == 9));
    }

    #[test]
    fn fragments_outgoing_messages_at_threshold() {
        let mut keys = FixedKeys(0);
        let payload: Vec<u8> = (0..40u8).collect();
        let mut out = BytesMut::new();
        encode_message(
            &mut out,
            OpCode::Binary,
            0,
            &payload,
            &CLIENT_SEND,
            &mut keys,
        );
        // A server receiving these sees 3 frames: 16 + 16 + 8, assembled to the original.
        let config = ReceiverConfig {
            assemble_fragments: false,
            ..server_config()
        };
        let (events, err) = run(config, &out, out.len());
        assert_eq!(err, None);
        let frames: Vec<_> = events
            .iter()
            .map(|e| match e {
                Incoming::Frame(f) => (f.fin, f.opcode, f.payload.len()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            frames,
            vec![
                (false, OpCode::Binary, 16),
                (false, OpCode::Continuation, 16),
                (true, OpCode::Continuation, 8)
            ]
        );
        let (events, _) = run(server_config(), &out, 5);
        assert_eq!(events, vec![Incoming::Binary(Bytes::from(payload))]);
    }

    #[test]
    fn does_not_fragment_at_or_below_threshold_or_when_disabled() {
        let mut keys = FixedKeys(0);
        for (config, len) in [
            (CLIENT_SEND, 16),
            (
                SenderConfig {
                    fragment_outgoing: false,
                    ..CLIENT_SEND
                },
                100,
            ),
            (
                SenderConfig {
                    fragmentation_threshold: 0,
                    ..CLIENT_SEND
                },
                100,
            ),
        ] {
            let mut out = BytesMut::new();
            encode_message(
                &mut out,
                OpCode::Text,
                0,
                &vec![b'a'; len],
                &config,
                &mut keys,
            );
            assert_eq!(out[0], 0x81, "one final text frame");
            assert_eq!(out.len(), 2 + 4 + len);
        }
    }

    #[test]
    fn server_frames_are_unmasked_and_client_frames_use_fresh_keys() {
        let server = SenderConfig {
            role: Role::Server,
            ..CLIENT_SEND
        };
        let mut keys = FixedKeys(0);
        let mut out = BytesMut::new();
        encode_message(&mut out, OpCode::Text, 0, b"hi", &server, &mut keys);
        assert_eq!(&out[..], &[0x81, 0x02, b'h', b'i']);
        let mut out = BytesMut::new();
        encode_message(&mut out, OpCode::Text, 0, b"hi", &CLIENT_SEND, &mut keys);
        encode_message(&mut out, OpCode::Text, 0, b"hi", &CLIENT_SEND, &mut keys);
        assert_eq!(&out[2..6], &[1, 0x5A, 0xC3, 0x11]);
        assert_eq!(&out[10..14], &[2, 0x5A, 0xC3, 0x11]);
        assert_eq!(&out[6..8], &[b'h' ^ 1, b'i' ^ 0x5A]);
    }

    #[test]
    fn encodes_close_frames() {
        let server = SenderConfig {
            role: Role::Server,
            ..CLIENT_SEND
        };
        let mut keys = FixedKeys(0);
        let mut out = BytesMut::new();
        encode_close(&mut out, Some(1001), "bye", &server, &mut keys);
        assert_eq!(&out[..], &[0x88, 5, 0x03, 0xE9, b'b', b'y', b'e']);
        let mut out = BytesMut::new();
        encode_close(&mut out, None, "", &server, &mut keys);
        assert_eq!(&out[..], &[0x88, 0]);
        let mut out = BytesMut::new();
        encode_close(&mut out, Some(1000), &"x".repeat(300), &server, &mut keys);
        assert_eq!(out[1], 125);
    }

    #[test]
    fn a_client_reads_what_a_server_encodes() {
        let server = SenderConfig {
            role: Role::Server,
            fragment_outgoing: true,
            fragmentation_threshold: 4,
        };
        let mut keys = FixedKeys(0);
        let mut out = BytesMut::new();
        encode_message(
            &mut out,
            OpCode::Text,
            0,
            "ünïcødé".as_bytes(),
            &server,
            &mut keys,
        );
        encode_control(&mut out, OpCode::Ping, b"", &server, &mut keys);
        let config = ReceiverConfig {
            role: Role::Client,
            ..server_config()
        };
        let (events, err) = every_split(config, &out);
        assert_eq!(err, None);
        assert_eq!(
            events,
            vec![
                Incoming::Text(Bytes::from("ünïcødé")),
                Incoming::Ping(Bytes::new())
            ]
        );
    }
}
