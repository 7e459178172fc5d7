//! What `WebSocketFrame` (lib/WebSocketFrame.js) needs from the core: encoding for
//! `toBuffer()`, header decoding and unmasking for the `addData()` parser.

use bytes::BytesMut;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::with_entropy;
use crate::protocol::frame::{
    HeaderDecoder, HeaderRules, OpCode, MAX_HEADER_LEN, RSV1, RSV2, RSV3,
};
use crate::protocol::mask::apply_mask;
use crate::protocol::message::{encode_frame as encode_frame_bytes, MaskKeySource};

/// Encodes one frame. `head` is the first header byte as the frame's fields give it (FIN, RSV,
/// opcode), written as given: a hand-built frame may carry a reserved opcode, for instance to
/// test how a peer rejects it. `masked` asks for a masking key, all zeros when `null_mask` is
/// set, otherwise fresh from the OS generator; the key sits in the 4 bytes before the payload.
#[napi(catch_unwind)]
pub fn encode_frame(head: u32, masked: bool, null_mask: bool, payload: &[u8]) -> Buffer {
    let mask = masked.then(|| {
        if null_mask {
            [0; 4]
        } else {
            with_entropy(|e| e.next_key())
        }
    });
    let mut out = BytesMut::with_capacity(payload.len() + MAX_HEADER_LEN);
    // The opcode only matters to the first byte, which is overwritten below.
    encode_frame_bytes(&mut out, false, 0, OpCode::Continuation, payload, mask);
    out[0] = head as u8;
    Buffer::from(Vec::from(out))
}

/// A frame header as decoded for `WebSocketFrame.addData()`.
#[napi(object)]
pub struct DecodedHeader {
    /// Bytes the header took; 0 while incomplete.
    pub header_length: u32,
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub mask: bool,
    pub opcode: u32,
    /// Payload length (exact up to 2^53).
    pub length: f64,
    /// The masking key, when masked.
    pub mask_key: Option<Buffer>,
    /// Why the header is invalid, when it is.
    pub error: Option<String>,
}

/// Decodes the frame header at the start of `bytes` with the standalone parser's rules: either
/// masking direction and any RSV bits are accepted (a connection checks those itself); the
/// RFC's fixed rules (reserved opcodes, control frame length and fragmentation, the 64-bit
/// length's top bit) are enforced. Returns `null` when more bytes are needed.
#[napi(catch_unwind)]
pub fn decode_frame_header(bytes: &[u8]) -> Option<DecodedHeader> {
    let fields = |b0: u8, b1: u8| DecodedHeader {
        header_length: 0,
        fin: b0 & 0x80 != 0,
        rsv1: b0 & (RSV1 << 4) != 0,
        rsv2: b0 & (RSV2 << 4) != 0,
        rsv3: b0 & (RSV3 << 4) != 0,
        mask: b1 & 0x80 != 0,
        opcode: u32::from(b0 & 0x0F),
        length: f64::from(b1 & 0x7F),
        mask_key: None,
        error: None,
    };
    if bytes.len() < 2 {
        return None;
    }
    let rules = HeaderRules {
        expect_mask: None,
        allowed_rsv: RSV1 | RSV2 | RSV3,
    };
    match HeaderDecoder::new().decode(bytes, rules) {
        Ok((_, None)) => None,
        Ok((used, Some(h))) => Some(DecodedHeader {
            header_length: used as u32,
            length: h.payload_len as f64,
            mask_key: h.mask.map(|k| Buffer::from(k.to_vec())),
            ..fields(bytes[0], bytes[1])
        }),
        Err(e) => Some(DecodedHeader {
            error: Some(e.reason.into_owned()),
            ..fields(bytes[0], bytes[1])
        }),
    }
}

/// XORs `data` in place with the 4-byte masking `key` (unmasking and masking are the same).
#[napi(catch_unwind)]
pub fn unmask(mut data: Buffer, key: &[u8]) -> Result<()> {
    let key: [u8; 4] = key
        .get(..4)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| Error::new(Status::InvalidArg, "a masking key has 4 bytes"))?;
    apply_mask(data.as_mut(), key, 0);
    Ok(())
}
