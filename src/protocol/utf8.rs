//! Incremental UTF-8 validation (RFC 3629) for text messages.
//!
//! A text message may arrive split over fragments and network reads at any byte, so the validator
//! keeps the open multi-byte sequence between calls. It rejects as soon as a byte cannot continue a
//! well-formed sequence (RFC 6455 §8.1 lets an endpoint fail the connection early), rather than
//! waiting for the end of the message.
//!
//! Well-formed sequences (RFC 3629 §4):
//!
//! | lead     | 2nd      | 3rd      | 4th      |
//! |----------|----------|----------|----------|
//! | 00..7F   |          |          |          |
//! | C2..DF   | 80..BF   |          |          |
//! | E0       | A0..BF   | 80..BF   |          |
//! | E1..EC   | 80..BF   | 80..BF   |          |
//! | ED       | 80..9F   | 80..BF   |          |
//! | EE..EF   | 80..BF   | 80..BF   |          |
//! | F0       | 90..BF   | 80..BF   | 80..BF   |
//! | F1..F3   | 80..BF   | 80..BF   | 80..BF   |
//! | F4       | 80..8F   | 80..BF   | 80..BF   |

use std::fmt;

/// Error: the bytes can never become valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Bytes tested per step of the ASCII fast path.
///
/// Four `u64` words OR-ed together cost one test per 32 bytes; the loop compiles to vector loads.
const ASCII_BLOCK: usize = 32;

/// The high bit of every byte of a `u64`: a word is all ASCII when this AND the word is zero.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Lowest continuation byte.
const CONT_LO: u8 = 0x80;
/// Highest continuation byte.
const CONT_HI: u8 = 0xBF;

/// What a lead byte demands: total sequence length and the allowed range of its second byte.
#[derive(Clone, Copy)]
struct Lead {
    len: u8,
    lo: u8,
    hi: u8,
}

/// Classifies a non-ASCII lead byte, or `None` when it cannot start a sequence
/// (a continuation byte, the overlong leads C0/C1, or F5..FF).
#[inline(always)]
fn lead(b: u8) -> Option<Lead> {
    let (len, lo, hi) = match b {
        0xC2..=0xDF => (2, CONT_LO, CONT_HI),
        0xE0 => (3, 0xA0, CONT_HI),
        0xE1..=0xEC | 0xEE..=0xEF => (3, CONT_LO, CONT_HI),
        0xED => (3, CONT_LO, 0x9F),
        0xF0 => (4, 0x90, CONT_HI),
        0xF1..=0xF3 => (4, CONT_LO, CONT_HI),
        0xF4 => (4, CONT_LO, 0x8F),
        _ => return None,
    };
    Some(Lead { len, lo, hi })
}

/// True for 80..BF.
#[inline(always)]
fn is_cont(b: u8) -> bool {
    (b as i8) < -0x40
}

/// True when `b` lies in `lo..=hi`, with one comparison.
#[inline(always)]
fn in_range(b: u8, lo: u8, hi: u8) -> bool {
    b.wrapping_sub(lo) <= hi - lo
}

/// Reads 8 bytes as a word.
#[inline(always)]
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(bytes);
    u64::from_ne_bytes(w)
}

/// The index of the first non-ASCII byte at or after `i`, or `bytes.len()`.
///
/// Checks one byte first so that multi-byte text, where the next byte is usually not ASCII,
/// pays almost nothing for the detour; then skips whole blocks, then words, then single bytes.
#[inline(always)]
fn skip_ascii(bytes: &[u8], mut i: usize) -> usize {
    match bytes.get(i) {
        Some(&b) if b < 0x80 => {}
        _ => return i,
    }
    while let Some(block) = bytes.get(i..i + ASCII_BLOCK) {
        let any = (word(&block[0..8]) | word(&block[8..16]))
            | (word(&block[16..24]) | word(&block[24..32]));
        if any & HIGH_BITS != 0 {
            break;
        }
        i += ASCII_BLOCK;
    }
    while let Some(w) = bytes.get(i..i + 8) {
        if word(w) & HIGH_BITS != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b >= 0x80 {
            break;
        }
        i += 1;
    }
    i
}

/// Incremental UTF-8 validator; its state carries an open multi-byte sequence across calls.
///
/// Three bytes of state plus a failure flag, so it can live inside every connection at no cost.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Continuation bytes still expected for the open sequence (0 at a character boundary).
    need: u8,
    /// Allowed range for the next continuation byte (meaningful only while `need > 0`).
    lo: u8,
    hi: u8,
    /// Set by the first invalid byte; sticky until `finish` or `reset`.
    failed: bool,
}

impl Utf8Validator {
    /// A validator at the start of a text, with nothing open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the text; Err as soon as a byte cannot continue a valid sequence.
    /// After an Err the validator stays failed (later feed/finish return Err) until reset().
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.failed {
            return Err(InvalidUtf8);
        }
        let result = self.run(bytes);
        self.failed = result.is_err();
        result
    }

    /// End of the text: Err if a multi-byte sequence is still incomplete. Resets the validator for the next message either way.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.is_boundary();
        self.reset();
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Forgets all state.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// True when no multi-byte sequence is open (everything fed so far is complete, valid UTF-8).
    pub fn is_boundary(&self) -> bool {
        self.need == 0 && !self.failed
    }

    /// Checks one byte against the open sequence; the slow path used only at chunk edges.
    #[inline]
    fn step_cont(&mut self, b: u8) -> Result<(), InvalidUtf8> {
        if !in_range(b, self.lo, self.hi) {
            return Err(InvalidUtf8);
        }
        self.need -= 1;
        self.lo = CONT_LO;
        self.hi = CONT_HI;
        Ok(())
    }

    /// Checks whole characters from `i` while at least four bytes remain, returning where it stopped.
    ///
    /// One branch per character on the lead byte, then all its continuation bytes at once: text
    /// rarely changes script from one character to the next, so the branch predicts well and the
    /// sequence length never waits for a table load.
    #[inline(always)]
    fn run_complete(bytes: &[u8], mut i: usize) -> Result<usize, InvalidUtf8> {
        while let Some(&[b, c1, c2, c3]) = bytes.get(i..i + 4) {
            let (ok, len) = match b {
                // A lone space between words is not worth starting the block path for.
                0x00..=0x7F if c1 >= 0x80 => (true, 1),
                0x00..=0x7F => {
                    i = skip_ascii(bytes, i);
                    continue;
                }
                0xC2..=0xDF => (is_cont(c1), 2),
                0xE0 => (in_range(c1, 0xA0, CONT_HI) & is_cont(c2), 3),
                0xE1..=0xEC | 0xEE..=0xEF => (is_cont(c1) & is_cont(c2), 3),
                0xED => (in_range(c1, CONT_LO, 0x9F) & is_cont(c2), 3),
                0xF0 => (in_range(c1, 0x90, CONT_HI) & is_cont(c2) & is_cont(c3), 4),
                0xF1..=0xF3 => (is_cont(c1) & is_cont(c2) & is_cont(c3), 4),
                0xF4 => (in_range(c1, CONT_LO, 0x8F) & is_cont(c2) & is_cont(c3), 4),
                _ => (false, 0),
            };
            if !ok {
                return Err(InvalidUtf8);
            }
            i += len;
        }
        Ok(i)
    }

    /// Completes the open sequence, then checks the rest; an incomplete sequence at the end of
    /// `bytes` stays open in `self` with its bytes so far already checked.
    fn run(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let mut i = 0;
        while self.need > 0 {
            let Some(&b) = bytes.get(i) else {
                return Ok(());
            };
            self.step_cont(b)?;
            i += 1;
        }
        loop {
            i = Self::run_complete(bytes, i)?;
            i = skip_ascii(bytes, i);
            let Some(&b) = bytes.get(i) else {
                return Ok(());
            };
            let l = lead(b).ok_or(InvalidUtf8)?;
            let len = usize::from(l.len);
            match bytes.get(i + 1..i + len) {
                Some(rest) => {
                    let ok = match *rest {
                        [c1] => in_range(c1, l.lo, l.hi),
                        [c1, c2] => in_range(c1, l.lo, l.hi) && is_cont(c2),
                        [c1, c2, c3] => in_range(c1, l.lo, l.hi) && is_cont(c2) && is_cont(c3),
                        _ => false,
                    };
                    if !ok {
                        return Err(InvalidUtf8);
                    }
                    i += len;
                }
                None => {
                    self.need = l.len - 1;
                    self.lo = l.lo;
                    self.hi = l.hi;
                    for &c in &bytes[i + 1..] {
                        self.step_cont(c)?;
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Validates a complete text in one call (same code path).
pub fn is_valid(bytes: &[u8]) -> bool {
    let mut v = Utf8Validator::new();
    v.feed(bytes).is_ok() && v.finish().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[&[u8]] = &[
        b"",
        b"hello, world",
        "κόσμε".as_bytes(),
        b"\x00",
        b"\x7f",
        b"\xc2\x80",
        b"\xdf\xbf",
        b"\xe0\xa0\x80",
        b"\xef\xbf\xbf",
        b"\xed\x9f\xbf",
        b"\xee\x80\x80",
        b"\xf0\x90\x80\x80",
        b"\xf4\x8f\xbf\xbf",
        b"\xf3\xbf\xbf\xbf",
        "Привет, мир! 你好，世界 🎉🚀 done".as_bytes(),
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ é".as_bytes(),
        "ascii run long enough to take the block path once or twice… then ü".as_bytes(),
    ];

    const INVALID: &[&[u8]] = &[
        b"\xc0\x80",
        b"\xc1\xbf",
        b"\xe0\x80\x80",
        b"\xe0\x9f\xbf",
        b"\xf0\x80\x80\x80",
        b"\xf0\x8f\xbf\xbf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xfe",
        b"\xff",
        b"\x80",
        b"\xbf",
        b"a\x80b",
        b"\xc2",
        b"\xe1\x80",
        b"\xf1\x80\x80",
        b"\xc2\x41",
        b"\xe1\x80\xc0",
        b"\xf0\x90\x80\x7f",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789\xff",
    ];

    fn std_ok(bytes: &[u8]) -> bool {
        std::str::from_utf8(bytes).is_ok()
    }

    fn feed_all<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let mut v = Utf8Validator::new();
        for p in parts {
            if v.feed(p).is_err() {
                return false;
            }
        }
        v.finish().is_ok()
    }

    /// Small xorshift generator so the random test needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn table_agrees_with_std() {
        for v in VALID {
            assert!(std_ok(v), "{v:x?} should be valid per std");
            assert!(is_valid(v), "{v:x?}");
        }
        for v in INVALID {
            assert!(!std_ok(v), "{v:x?} should be invalid per std");
            assert!(!is_valid(v), "{v:x?}");
        }
    }

    #[test]
    fn boundary_code_points() {
        for c in [
            '\u{0}',
            '\u{7f}',
            '\u{80}',
            '\u{7ff}',
            '\u{800}',
            '\u{d7ff}',
            '\u{e000}',
            '\u{fffd}',
            '\u{ffff}',
            '\u{10000}',
            '\u{10ffff}',
        ] {
            let mut buf = [0u8; 4];
            assert!(is_valid(c.encode_utf8(&mut buf).as_bytes()), "{c:?}");
        }
    }

    #[test]
    fn every_code_point_round_trips() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert!(is_valid(c.encode_utf8(&mut buf).as_bytes()), "{c:?}");
        }
    }

    #[test]
    fn all_two_and_three_byte_strings_agree_with_std() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(is_valid(&[a, b]), std_ok(&[a, b]), "{a:02x} {b:02x}");
                for c in [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff] {
                    let s = [a, b, c];
                    assert_eq!(is_valid(&s), std_ok(&s), "{s:02x?}");
                }
            }
        }
    }

    #[test]
    fn valid_vectors_split_at_every_position() {
        for v in VALID {
            for split in 0..=v.len() {
                let (a, b) = v.split_at(split);
                assert!(feed_all([a, b]), "{v:x?} split at {split}");
            }
        }
    }

    #[test]
    fn valid_vectors_fed_one_byte_at_a_time() {
        for v in VALID {
            assert!(feed_all(v.chunks(1)), "{v:x?}");
        }
    }

    #[test]
    fn invalid_vectors_rejected_whatever_the_split() {
        for v in INVALID {
            for split in 0..=v.len() {
                let (a, b) = v.split_at(split);
                assert!(!feed_all([a, b]), "{v:x?} split at {split}");
            }
            assert!(!feed_all(v.chunks(1)), "{v:x?} byte by byte");
        }
    }

    #[test]
    fn fails_on_the_feed_with_the_surrogate_byte() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(&[0xED]), Ok(()));
        assert!(!v.is_boundary());
        assert_eq!(v.feed(&[0xA0]), Err(InvalidUtf8));
        assert_eq!(v.feed(&[0x80]), Err(InvalidUtf8));
    }

    #[test]
    fn fails_on_the_feed_with_the_out_of_range_byte() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));

        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xE0]), Ok(()));
        assert_eq!(v.feed(&[0x9F]), Err(InvalidUtf8));

        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xF0, 0x90]), Ok(()));
        assert_eq!(v.feed(&[0x80, 0x41]), Err(InvalidUtf8));
    }

    #[test]
    fn impossible_lead_bytes_fail_immediately() {
        for b in [0xC0, 0xC1, 0xF5, 0xF8, 0xFF, 0x80, 0xBF] {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(&[b]), Err(InvalidUtf8), "{b:02x}");
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(b"abc"), Ok(()));
            assert_eq!(v.feed(&[b]), Err(InvalidUtf8), "{b:02x} after ASCII");
        }
    }

    #[test]
    fn truncated_tail_in_the_same_feed_is_checked_now() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ok \xF4\x90"), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ok \xF4\x8F\xBF"), Ok(()));
        assert_eq!(v.feed(b"\xBF done"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn incomplete_sequence_at_finish_is_an_error() {
        for tail in [&b"\xc3"[..], b"\xe2\x82", b"\xf0\x9f\x98"] {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(b"text "), Ok(()));
            assert_eq!(v.feed(tail), Ok(()));
            assert!(!v.is_boundary());
            assert_eq!(v.finish(), Err(InvalidUtf8));
        }
    }

    #[test]
    fn reusable_after_finish_and_reset() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xe2\x82"), Ok(()));
        assert_eq!(v.finish(), Err(InvalidUtf8));
        assert!(v.is_boundary());
        assert_eq!(v.feed("€".as_bytes()), Ok(()));
        assert_eq!(v.finish(), Ok(()));

        assert_eq!(v.feed(b"\xff"), Err(InvalidUtf8));
        assert_eq!(v.finish(), Err(InvalidUtf8));
        assert_eq!(v.feed(b"fine"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn failure_is_sticky_until_reset() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xc0"), Err(InvalidUtf8));
        assert!(!v.is_boundary());
        assert_eq!(v.feed(b"plain ascii"), Err(InvalidUtf8));
        v.reset();
        assert!(v.is_boundary());
        assert_eq!(v.feed(b"plain ascii"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn is_boundary_tracks_open_sequences() {
        let mut v = Utf8Validator::new();
        assert!(v.is_boundary());
        for (i, &b) in "a€𝄞".as_bytes().iter().enumerate() {
            assert_eq!(v.feed(&[b]), Ok(()));
            assert_eq!(v.is_boundary(), matches!(i, 0 | 3 | 7), "after byte {i}");
        }
    }

    #[test]
    fn long_ascii_with_an_error_at_every_position() {
        let base: Vec<u8> = (0..200).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(is_valid(&base));
        for pos in 0..base.len() {
            let mut bad = base.clone();
            bad[pos] = 0x80;
            assert!(!is_valid(&bad), "error at {pos}");
            let mut multi = base.clone();
            multi[pos] = 0xC3;
            if pos + 1 < multi.len() {
                multi[pos + 1] = 0xA9;
            }
            assert_eq!(is_valid(&multi), std_ok(&multi), "multi-byte at {pos}");
        }
    }

    #[test]
    fn mixed_text_with_each_byte_replaced_agrees_with_std() {
        let text = "Привет, мир! 你好世界 🎉🚀 Ünïcödé τέλος ascii tail".repeat(3);
        let text = text.as_bytes();
        for pos in 0..text.len() {
            for bad in [0x20, 0x80, 0xA0, 0xBF, 0xC0, 0xE0, 0xED, 0xF0, 0xF4, 0xFF] {
                let mut s = text.to_vec();
                s[pos] = bad;
                let expected = std_ok(&s);
                assert_eq!(is_valid(&s), expected, "{bad:02x} at {pos}");
                let (a, b) = s.split_at(pos);
                assert_eq!(
                    feed_all([a, b]),
                    expected,
                    "{bad:02x} at {pos}, split there"
                );
            }
        }
    }

    #[test]
    fn display_and_error_trait() {
        assert_eq!(InvalidUtf8.to_string(), "invalid UTF-8");
        let e: Box<dyn std::error::Error> = Box::new(InvalidUtf8);
        assert_eq!(e.to_string(), "invalid UTF-8");
    }

    #[test]
    fn random_strings_agree_with_std_whatever_the_split() {
        const BYTES: &[u8] = &[
            0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
            0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut valid_seen = 0;
        for _ in 0..5000 {
            let len = rng.below(48);
            let mut s = Vec::with_capacity(len + 4);
            while s.len() < len {
                match rng.below(10) {
                    0 => s.push(BYTES[rng.below(BYTES.len())]),
                    1 => s.push(b'a' + rng.below(26) as u8),
                    _ => {
                        let c = char::from_u32(rng.below(0x110000) as u32).unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            let expected = std_ok(&s);
            valid_seen += usize::from(expected);
            assert_eq!(is_valid(&s), expected, "{s:x?}");
            let split = rng.below(s.len() + 1);
            let (a, b) = s.split_at(split);
            assert_eq!(feed_all([a, b]), expected, "{s:x?} split at {split}");
        }
        assert!(valid_seen > 500, "only {valid_seen} valid samples");
    }
}
