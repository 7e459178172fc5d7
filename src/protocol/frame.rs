//! Frame headers (RFC 6455 §5.2): incremental decoding with the RFC's rejections, and encoding.

use std::borrow::Cow;

use super::close::code;

/// Longest possible header: 2 fixed bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// Largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// RSV1 as it sits in [`FrameHeader::rsv`] (bit 2 of the 3-bit field).
pub const RSV1: u8 = 0b100;
/// RSV2 as it sits in [`FrameHeader::rsv`].
pub const RSV2: u8 = 0b010;
/// RSV3 as it sits in [`FrameHeader::rsv`].
pub const RSV3: u8 = 0b001;

/// The frame kinds RFC 6455 defines; every other opcode value is reserved and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit wire value, or `None` for the reserved values 0x3-0x7 and 0xB-0xF.
    pub fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// Control frames (close, ping, pong) have the high bit of the opcode set.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// Which end of the connection we are: it decides which way masking must go (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We accepted the connection: frames from the peer must be masked, ours are not.
    Server,
    /// We opened the connection: frames from the peer must not be masked, ours are.
    Client,
}

/// A violation of RFC 6455 found in the peer's bytes, with the close code to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// Close status to send (1002, 1007, 1009 ...).
    pub code: u16,
    /// Human-readable reason, used as the close frame's reason and the `close` event description.
    pub reason: Cow<'static, str>,
}

impl ProtocolError {
    /// A protocol error with a fixed reason.
    pub fn new(code: u16, reason: &'static str) -> Self {
        ProtocolError {
            code,
            reason: Cow::Borrowed(reason),
        }
    }

    /// A protocol error whose reason is built at run time.
    pub fn owned(code: u16, reason: String) -> Self {
        ProtocolError {
            code,
            reason: Cow::Owned(reason),
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolError {}

/// One decoded (or to-be-encoded) frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    /// The three RSV bits, RSV1 as the most significant ([`RSV1`], [`RSV2`], [`RSV3`]).
    pub rsv: u8,
    pub opcode: OpCode,
    /// The masking key when the frame is masked.
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}

impl FrameHeader {
    /// How many bytes [`FrameHeader::encode`] writes for this header.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` and returns the number of bytes written. The length always
    /// uses the shortest form (RFC 6455 §5.2: "the minimal number of bytes MUST be used").
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        match self.payload_len {
            len @ 0..=125 => out[1] = mask_bit | len as u8,
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                n = 4;
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                n = 10;
            }
        }
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

/// What the decoder accepts beyond the RFC's fixed rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRules {
    /// Whether the peer's frames must be masked (`Some(true)` at a server), must not be
    /// (`Some(false)` at a client), or either (`None`, for a standalone frame parser).
    pub expect_mask: Option<bool>,
    /// RSV bits a negotiated extension gave a meaning to; any other set bit is a 1002.
    pub allowed_rsv: u8,
}

impl HeaderRules {
    /// The rules for frames arriving at `role`'s end of a connection.
    pub fn for_role(role: Role, allowed_rsv: u8) -> Self {
        HeaderRules {
            expect_mask: Some(role == Role::Server),
            allowed_rsv,
        }
    }
}

/// Decodes frame headers incrementally: bytes may arrive in any split, one at a time included.
///
/// Each rule is checked as soon as the byte that carries it has arrived, so a bad frame is
/// refused without waiting for the rest of its header, let alone its payload.
#[derive(Debug, Clone, Default)]
pub struct HeaderDecoder {
    buf: [u8; MAX_HEADER_LEN],
    /// Bytes of `buf` filled (at most 14: one byte is enough, and keeps the decoder small).
    have: u8,
}

impl HeaderDecoder {
    /// A decoder waiting for the first byte of a header.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when part of a header has been taken in and the rest is awaited.
    pub fn is_partial(&self) -> bool {
        self.have > 0
    }

    /// Takes bytes from `input` until a header is complete. Returns how many bytes were used
    /// and the header once complete; bytes after the header are left for the caller.
    pub fn decode(
        &mut self,
        input: &[u8],
        rules: HeaderRules,
    ) -> Result<(usize, Option<FrameHeader>), ProtocolError> {
        // Fast path: a whole header at the start of `input`, nothing buffered.
        if self.have == 0 && input.len() >= 2 {
            let need = check_first_two(input[0], input[1], rules)?;
            if input.len() >= need {
                let header = finish_header(&input[..need])?;
                return Ok((need, Some(header)));
            }
        }
        let mut used = 0;
        for &byte in input {
            self.buf[self.have as usize] = byte;
            self.have += 1;
            used += 1;
            if self.have < 2 {
                continue;
            }
            let need = check_first_two(self.buf[0], self.buf[1], rules)?;
            if self.have as usize == need {
                let header = finish_header(&self.buf[..need]);
                self.have = 0;
                return header.map(|h| (used, Some(h)));
            }
        }
        Ok((used, None))
    }
}

/// Checks everything the first two header bytes decide and returns the full header length.
fn check_first_two(b0: u8, b1: u8, rules: HeaderRules) -> Result<usize, ProtocolError> {
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0b111;
    let Some(opcode) = OpCode::from_u8(b0 & 0x0F) else {
        return Err(ProtocolError::owned(
            code::PROTOCOL_ERROR,
            format!("Unrecognized Opcode: 0x{:x}", b0 & 0x0F),
        ));
    };
    if rsv & !rules.allowed_rsv != 0 {
        return Err(ProtocolError::new(
            code::PROTOCOL_ERROR,
            "Unsupported usage of rsv bits without negotiated extension.",
        ));
    }
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if len7 as usize > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::new(
                code::PROTOCOL_ERROR,
                "Illegal control frame longer than 125 bytes.",
            ));
        }
        if !fin {
            return Err(ProtocolError::new(
                code::PROTOCOL_ERROR,
                "Control frames must not be fragmented.",
            ));
        }
    }
    match (rules.expect_mask, masked) {
        (Some(true), false) => {
            return Err(ProtocolError::new(
                code::PROTOCOL_ERROR,
                "Received an unmasked frame from the client.",
            ))
        }
        (Some(false), true) => {
            return Err(ProtocolError::new(
                code::PROTOCOL_ERROR,
                "Received a masked frame from the server.",
            ))
        }
        _ => {}
    }
    let len_bytes = match len7 {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    Ok(2 + len_bytes + if masked { 4 } else { 0 })
}

/// Builds the header from its complete bytes (already checked by [`check_first_two`]).
fn finish_header(bytes: &[u8]) -> Result<FrameHeader, ProtocolError> {
    let (b0, b1) = (bytes[0], bytes[1]);
    let (payload_len, mut at) = match b1 & 0x7F {
        126 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
        127 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&bytes[2..10]);
            let len = u64::from_be_bytes(raw);
            if len >> 63 != 0 {
                return Err(ProtocolError::new(
                    code::PROTOCOL_ERROR,
                    "Invalid 64-bit frame length: the most significant bit is set.",
                ));
            }
            (len, 10)
        }
        len => (u64::from(len), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        at += 4;
        Some(key)
    } else {
        None
    };
    debug_assert_eq!(at, bytes.len());
    Ok(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        // check_first_two already refused reserved opcodes; Continuation is never reached.
        opcode: OpCode::from_u8(b0 & 0x0F).unwrap_or(OpCode::Continuation),
        mask,
        payload_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: HeaderRules = HeaderRules {
        expect_mask: Some(true),
        allowed_rsv: 0,
    };
    const CLIENT: HeaderRules = HeaderRules {
        expect_mask: Some(false),
        allowed_rsv: 0,
    };

    fn encode(h: FrameHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(n, h.encoded_len());
        out[..n].to_vec()
    }

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    fn decode_all(bytes: &[u8], rules: HeaderRules) -> Result<FrameHeader, ProtocolError> {
        let mut d = HeaderDecoder::new();
        let (used, h) = d.decode(bytes, rules)?;
        assert_eq!(used, bytes.len());
        Ok(h.expect("complete header"))
    }

    fn decode_bytewise(bytes: &[u8], rules: HeaderRules) -> Result<FrameHeader, ProtocolError> {
        let mut d = HeaderDecoder::new();
        for (i, b) in bytes.iter().enumerate() {
            let (used, h) = d.decode(std::slice::from_ref(b), rules)?;
            assert_eq!(used, 1);
            if i + 1 < bytes.len() {
                assert!(h.is_none(), "header finished early at byte {i}");
                assert!(d.is_partial());
            } else {
                assert!(!d.is_partial());
                return Ok(h.expect("header complete on its last byte"));
            }
        }
        unreachable!("empty input")
    }

    #[test]
    fn encodes_7_bit_length() {
        assert_eq!(encode(header(OpCode::Text, 5, None)), [0x81, 0x05]);
        assert_eq!(encode(header(OpCode::Binary, 125, None)), [0x82, 125]);
        assert_eq!(encode(header(OpCode::Binary, 0, None)), [0x82, 0]);
    }

    #[test]
    fn encodes_16_bit_length() {
        assert_eq!(
            encode(header(OpCode::Binary, 126, None)),
            [0x82, 126, 0, 126]
        );
        assert_eq!(
            encode(header(OpCode::Binary, 65535, None)),
            [0x82, 126, 0xFF, 0xFF]
        );
    }

    #[test]
    fn encodes_64_bit_length() {
        assert_eq!(
            encode(header(OpCode::Binary, 65536, None)),
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(
            encode(header(OpCode::Binary, 0x0123_4567_89AB_CDEF, None)),
            [0x82, 127, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
        );
    }

    #[test]
    fn encodes_mask_key_and_bits() {
        let h = FrameHeader {
            fin: false,
            rsv: RSV1 | RSV3,
            opcode: OpCode::Continuation,
            mask: Some([1, 2, 3, 4]),
            payload_len: 300,
        };
        assert_eq!(encode(h), [0x50, 0x80 | 126, 0x01, 0x2C, 1, 2, 3, 4]);
    }

    #[test]
    fn round_trips_every_opcode_length_form_and_mask() {
        let ops = [
            OpCode::Continuation,
            OpCode::Text,
            OpCode::Binary,
            OpCode::Close,
            OpCode::Ping,
            OpCode::Pong,
        ];
        for op in ops {
            let lens: &[u64] = if op.is_control() {
                &[0, 1, 125]
            } else {
                &[0, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1]
            };
            for &len in lens {
                for (mask, rules) in [(Some([9, 8, 7, 6]), SERVER), (None, CLIENT)] {
                    let h = header(op, len, mask);
                    let bytes = encode(h);
                    assert_eq!(decode_all(&bytes, rules), Ok(h));
                    assert_eq!(decode_bytewise(&bytes, rules), Ok(h));
                }
            }
        }
    }

    #[test]
    fn decodes_when_bytes_arrive_one_at_a_time_with_payload_after() {
        let mut bytes = encode(header(OpCode::Binary, 70000, Some([0xA, 0xB, 0xC, 0xD])));
        let header_len = bytes.len();
        bytes.extend_from_slice(b"payload");
        let mut d = HeaderDecoder::new();
        let (used, h) = d.decode(&bytes[..3], SERVER).unwrap();
        assert_eq!((used, h), (3, None));
        let (used, h) = d.decode(&bytes[3..], SERVER).unwrap();
        assert_eq!(used, header_len - 3, "must not consume the payload");
        assert_eq!(h.unwrap().payload_len, 70000);
    }

    #[test]
    fn decodes_rsv_bits_when_allowed() {
        let rules = HeaderRules::for_role(Role::Client, RSV1 | RSV2 | RSV3);
        let h = decode_all(&[0xF1, 0x00], rules).unwrap();
        assert_eq!(h.rsv, 0b111);
        assert!(h.fin);
    }

    fn expect_err(bytes: &[u8], rules: HeaderRules, code: u16, needle: &str) {
        let err = decode_all(bytes, rules).expect_err("must be rejected");
        assert_eq!(err.code, code, "{err}");
        assert!(err.reason.contains(needle), "{err}");
        // The same error, found byte by byte, no later than the byte that carries it.
        let mut d = HeaderDecoder::new();
        let mut seen = None;
        for b in bytes {
            if let Err(e) = d.decode(std::slice::from_ref(b), rules) {
                seen = Some(e);
                break;
            }
        }
        assert_eq!(seen.map(|e| e.code), Some(code));
    }

    #[test]
    fn rejects_reserved_opcodes() {
        for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            expect_err(&[0x80 | op, 0x00], CLIENT, 1002, "Unrecognized Opcode");
        }
    }

    #[test]
    fn rejects_control_frame_over_125_bytes() {
        expect_err(&[0x89, 126, 0, 126], CLIENT, 1002, "longer than 125");
        expect_err(
            &[0x88, 127, 0, 0, 0, 0, 0, 0, 0, 200],
            CLIENT,
            1002,
            "longer than 125",
        );
    }

    #[test]
    fn rejects_fragmented_control_frame() {
        for op in [0x8, 0x9, 0xA] {
            expect_err(&[op, 0x00], CLIENT, 1002, "must not be fragmented");
        }
    }

    #[test]
    fn rejects_64_bit_length_with_top_bit_set() {
        expect_err(
            &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1],
            CLIENT,
            1002,
            "most significant bit",
        );
    }

    #[test]
    fn rejects_rsv_bits_no_extension_claimed() {
        for b0 in [0xC1, 0xA1, 0x91] {
            expect_err(&[b0, 0x00], CLIENT, 1002, "rsv bits");
        }
        // RSV1 allowed, RSV2 still refused.
        let rules = HeaderRules::for_role(Role::Client, RSV1);
        assert!(decode_all(&[0xC1, 0x00], rules).is_ok());
        expect_err(&[0xE1, 0x00], rules, 1002, "rsv bits");
    }

    #[test]
    fn rejects_unmasked_client_frame() {
        expect_err(&[0x81, 0x05], SERVER, 1002, "unmasked");
    }

    #[test]
    fn rejects_masked_server_frame() {
        expect_err(
            &[0x81, 0x85, 1, 2, 3, 4],
            CLIENT,
            1002,
            "masked frame from the server",
        );
    }

    #[test]
    fn accepts_either_mask_when_told_to() {
        let any = HeaderRules {
            expect_mask: None,
            allowed_rsv: 0,
        };
        assert!(decode_all(&[0x81, 0x00], any).is_ok());
        assert!(decode_all(&[0x81, 0x80, 1, 2, 3, 4], any).is_ok());
        assert_eq!(HeaderRules::for_role(Role::Server, 0), SERVER);
    }

    #[test]
    fn stops_at_a_reserved_opcode_after_two_bytes() {
        let mut d = HeaderDecoder::new();
        assert_eq!(d.decode(&[0x83], CLIENT), Ok((1, None)));
        assert!(d.decode(&[0x7F], CLIENT).is_err());
    }

    #[test]
    fn opcode_classification() {
        assert!(
            OpCode::Close.is_control() && OpCode::Ping.is_control() && OpCode::Pong.is_control()
        );
        assert!(!OpCode::Text.is_control() && !OpCode::Binary.is_control());
        assert!(!OpCode::Continuation.is_control());
        assert_eq!(OpCode::from_u8(0xA), Some(OpCode::Pong));
        assert_eq!(OpCode::from_u8(0x3), None);
    }
}
