//! Opening handshake helpers (RFC 6455 §4): keys, the accept value and subprotocol tokens.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::entropy::Entropy;

/// The GUID a server appends to the client's key (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// A new `Sec-WebSocket-Key`: 16 random bytes from a cryptographic source, base64-encoded.
pub fn generate_key(entropy: &mut Entropy) -> String {
    let mut nonce = [0u8; 16];
    entropy.fill(&mut nonce);
    BASE64.encode(nonce)
}

/// Whether a `Sec-WebSocket-Key` is well formed: base64 of exactly 16 bytes (RFC 6455 §4.1).
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && BASE64
            .decode(key)
            .map(|raw| raw.len() == 16)
            .unwrap_or(false)
}

/// Whether `s` is an HTTP token (RFC 2616 §2.2), the form a subprotocol name must have
/// (RFC 6455 §4.1): one or more visible ASCII characters, none of them a separator.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

fn is_token_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7E)
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
                | b'{'
                | b'}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let mut e = Entropy::new();
        let a = generate_key(&mut e);
        let b = generate_key(&mut e);
        assert!(is_valid_key(&a) && is_valid_key(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key("not base64 at all!!!!!!!"));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZXg="));
    }

    #[test]
    fn subprotocol_tokens() {
        for ok in ["chat", "v2.json", "x-my_proto", "a!#$%&'*+-.^_`|~"] {
            assert!(is_token(ok), "{ok}");
        }
        for bad in [
            "",
            "two words",
            "a,b",
            "semi;colon",
            "q\"uote",
            "tab\t",
            "ünicode",
            "a/b",
            "{x}",
        ] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }
}
