//! Payload masking (RFC 6455 §5.3).

/// XORs `buf` with the masking key, as if `buf[0]` were byte `offset` of the payload.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}
