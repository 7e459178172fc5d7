//! Opening handshake helpers for the JS layer, which does the HTTP part of the handshake.

use napi_derive::napi;

use super::with_entropy;
use crate::protocol::handshake;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
#[napi(catch_unwind)]
pub fn accept_key(key: String) -> String {
    handshake::accept_key(key.as_bytes())
}

/// Whether a `Sec-WebSocket-Key` is base64 of 16 bytes.
#[napi(catch_unwind)]
pub fn is_valid_key(key: String) -> bool {
    handshake::is_valid_key(&key)
}

/// A fresh `Sec-WebSocket-Key` from the OS's cryptographic generator.
#[napi(catch_unwind)]
pub fn generate_key() -> String {
    with_entropy(handshake::generate_key)
}

/// Whether a subprotocol name is an HTTP token.
#[napi(catch_unwind)]
pub fn is_token(value: String) -> bool {
    handshake::is_token(&value)
}

/// Whether a close code may be sent in a close frame (RFC 6455 §7.4), the rule the core applies
/// to received close frames too.
#[napi(catch_unwind)]
pub fn is_valid_close_code(code: f64) -> bool {
    code.fract() == 0.0
        && (0.0..=65535.0).contains(&code)
        && crate::protocol::close::is_valid_on_wire(code as u16)
}
