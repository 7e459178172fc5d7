//! Payload masking (RFC 6455 §5.3).
//!
//! Masking XORs every payload byte with one byte of a 4-byte key, cycling through the key. Both
//! functions work on whole blocks of [`BLOCK`] bytes with the key repeated across a `u64`, a loop the
//! compiler turns into SIMD XORs; only the last `len % BLOCK` bytes are handled one by one.

/// Bytes processed per iteration of the main loop.
///
/// Four `u64` words per block gives the optimiser a loop body it unrolls into full-width vector
/// XORs with no loop-carried dependency; a multiple of 4 keeps the key phase at 0 for the tail.
const BLOCK: usize = 32;

/// The key rotated so that its first byte is the one that masks payload byte `offset`.
fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let phase = offset & 3;
    [
        key[phase],
        key[(phase + 1) & 3],
        key[(phase + 2) & 3],
        key[(phase + 3) & 3],
    ]
}

/// The 4-byte key repeated twice, in memory order, so one XOR masks 8 bytes.
fn widen(key: [u8; 4]) -> u64 {
    u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ])
}

/// XORs one 8-byte word in place with `word`.
#[inline(always)]
fn xor_word(dst: &mut [u8], word: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(dst);
    dst.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
}

/// Writes `src ^ word` into `dst`, both 8 bytes long.
#[inline(always)]
fn xor_word_into(dst: &mut [u8], src: &[u8], word: u64) {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(src);
    dst.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
}

/// XORs `buf` with the masking key, as if `buf[0]` were byte `offset` of the payload.
///
/// Masking and unmasking are the same operation. Passing the running payload offset lets a payload
/// that arrives in several chunks be unmasked chunk by chunk with the right key phase.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    let word = widen(key);
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for w in block.chunks_exact_mut(8) {
            xor_word(w, word);
        }
    }
    let tail = blocks.into_remainder();
    let mut words = tail.chunks_exact_mut(8);
    for w in &mut words {
        xor_word(w, word);
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// Writes `src[i] ^ key[i % 4]` into `dst[i]`: copies and masks a payload in one pass.
///
/// Only the first `min(dst.len(), src.len())` bytes are written; the rest of `dst` is left as is.
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let len = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..len], &src[..len]);
    let word = widen(key);
    let mut dst_blocks = dst.chunks_exact_mut(BLOCK);
    let mut src_blocks = src.chunks_exact(BLOCK);
    for (d, s) in (&mut dst_blocks).zip(&mut src_blocks) {
        for (dw, sw) in d.chunks_exact_mut(8).zip(s.chunks_exact(8)) {
            xor_word_into(dw, sw, word);
        }
    }
    let (dst_tail, src_tail) = (dst_blocks.into_remainder(), src_blocks.remainder());
    let mut dst_words = dst_tail.chunks_exact_mut(8);
    let mut src_words = src_tail.chunks_exact(8);
    for (dw, sw) in (&mut dst_words).zip(&mut src_words) {
        xor_word_into(dw, sw, word);
    }
    let bytes = dst_words.into_remainder().iter_mut();
    for (i, (d, s)) in bytes.zip(src_words.remainder()).enumerate() {
        *d = s ^ key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn matches_reference_for_all_lengths_starts_and_phases() {
        for len in 0..=64 {
            for start in 0..8 {
                for offset in 0..4 {
                    let mut fast = pattern(start + len + 8);
                    let mut slow = fast.clone();
                    apply_mask(&mut fast[start..start + len], KEY, offset);
                    reference(&mut slow[start..start + len], KEY, offset);
                    assert_eq!(fast, slow, "len {len} start {start} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn large_offsets_use_only_the_phase() {
        let mut a = pattern(100);
        let mut b = a.clone();
        apply_mask(&mut a, KEY, 1_000_003);
        apply_mask(&mut b, KEY, 3);
        assert_eq!(a, b);
    }

    #[test]
    fn applying_twice_restores_the_input() {
        for len in [0, 1, 7, 8, 31, 32, 33, 100, 4096 + 5] {
            for offset in 0..4 {
                let original = pattern(len);
                let mut buf = original.clone();
                apply_mask(&mut buf, KEY, offset);
                if len >= 4 {
                    assert_ne!(buf, original);
                }
                apply_mask(&mut buf, KEY, offset);
                assert_eq!(buf, original);
            }
        }
    }

    #[test]
    fn chunked_application_equals_one_shot() {
        let original = pattern(150);
        let mut whole = original.clone();
        apply_mask(&mut whole, KEY, 0);
        for split in 0..=original.len() {
            let mut parts = original.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, KEY, 0);
            apply_mask(b, KEY, split);
            assert_eq!(parts, whole, "split at {split}");
        }
    }

    #[test]
    fn three_way_chunking_equals_one_shot() {
        let original = pattern(70);
        let mut whole = original.clone();
        apply_mask(&mut whole, KEY, 2);
        for first in 0..=original.len() {
            for second in first..=original.len() {
                let mut parts = original.clone();
                apply_mask(&mut parts[..first], KEY, 2);
                apply_mask(&mut parts[first..second], KEY, 2 + first);
                apply_mask(&mut parts[second..], KEY, 2 + second);
                assert_eq!(parts, whole, "splits {first}, {second}");
            }
        }
    }

    #[test]
    fn mask_into_equals_copy_then_apply() {
        for len in 0..=64 {
            for start in 0..8 {
                let src = pattern(start + len);
                let mut expected = src[start..].to_vec();
                apply_mask(&mut expected, KEY, 0);
                let mut dst = vec![0u8; len + 3];
                mask_into(&mut dst[3..], &src[start..], KEY);
                assert_eq!(&dst[3..], &expected[..], "len {len} start {start}");
                assert_eq!(&dst[..3], &[0, 0, 0]);
            }
        }
    }

    #[test]
    fn mask_into_with_unequal_lengths_writes_the_common_prefix() {
        let src = pattern(40);
        let mut expected = src.clone();
        apply_mask(&mut expected, KEY, 0);

        let mut short_dst = vec![0u8; 21];
        mask_into(&mut short_dst, &src, KEY);
        assert_eq!(short_dst, &expected[..21]);

        let mut long_dst = vec![0xAAu8; 50];
        mask_into(&mut long_dst, &src, KEY);
        assert_eq!(&long_dst[..40], &expected[..]);
        assert!(long_dst[40..].iter().all(|&b| b == 0xAA));
    }

    #[test]
    fn zero_key_is_identity() {
        let original = pattern(77);
        let mut buf = original.clone();
        apply_mask(&mut buf, [0; 4], 1);
        assert_eq!(buf, original);
    }

    #[test]
    fn rfc_6455_example_masked_hello() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
