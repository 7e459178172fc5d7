//! The incremental UTF-8 validator against `std::str::from_utf8`.
//!
//! Input layout: byte 0 = k, the number of split points (k % 16); the next k bytes are the
//! gaps between split points (a gap may be 0: empty pieces are fed too); the rest is the text.
//!
//! Checked, for the pieces, for the whole at once and byte by byte:
//! - `feed` fails at exactly the first piece whose end makes the text so far impossible
//!   (std reports an invalid sequence, not just an unfinished one): it never rejects a valid
//!   prefix, and it never lets a definite error pass;
//! - once failed, it stays failed until `finish`/`reset`;
//! - `is_boundary` after each piece says whether the text so far is complete UTF-8;
//! - `finish` succeeds iff the whole text is valid; `is_valid` agrees;
//! - the validator is reusable after `finish` and after `reset`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websocket_rs::protocol::utf8::{is_valid, Utf8Validator};

/// What std says about a prefix: `Ok(true)` complete, `Ok(false)` valid but ends inside a
/// character, `Err(())` contains an invalid sequence.
fn std_prefix(bytes: &[u8]) -> Result<bool, ()> {
    match std::str::from_utf8(bytes) {
        Ok(_) => Ok(true),
        Err(e) if e.error_len().is_none() => Ok(false),
        Err(_) => Err(()),
    }
}

fn check_pieces(v: &mut Utf8Validator, text: &[u8], ends: &[usize]) {
    let mut start = 0;
    let mut failed = false;
    for &end in ends {
        let piece = &text[start..end];
        let got = v.feed(piece);
        let expected = std_prefix(&text[..end]);
        if failed {
            assert!(got.is_err(), "validator recovered after a failure");
        } else {
            match expected {
                Err(()) => {
                    assert!(got.is_err(), "missed an error in {:02x?}", &text[..end]);
                    failed = true;
                }
                Ok(complete) => {
                    assert!(got.is_ok(), "rejected a valid prefix {:02x?}", &text[..end]);
                    assert_eq!(v.is_boundary(), complete, "is_boundary at {end}");
                }
            }
        }
        if failed {
            assert!(!v.is_boundary());
        }
        start = end;
    }
    assert_eq!(start, text.len());
    let valid = std::str::from_utf8(text).is_ok();
    assert_eq!(v.finish().is_ok(), valid, "finish on {text:02x?}");
    // `finish` leaves a fresh validator.
    assert!(v.is_boundary());
}

fuzz_target!(|raw: &[u8]| {
    let Some((&k, rest)) = raw.split_first() else {
        return;
    };
    let k = (usize::from(k) % 16).min(rest.len());
    let (gaps, text) = rest.split_at(k);

    let mut ends = Vec::with_capacity(gaps.len() + 1);
    let mut at = 0usize;
    for &g in gaps {
        at = (at + usize::from(g)).min(text.len());
        ends.push(at);
    }
    ends.push(text.len());

    let valid = std::str::from_utf8(text).is_ok();
    assert_eq!(is_valid(text), valid, "is_valid on {text:02x?}");

    let mut v = Utf8Validator::new();
    check_pieces(&mut v, text, &ends);
    // Again with the same (finished, hence reset) validator, in one piece.
    check_pieces(&mut v, text, &[text.len()]);
    // Byte by byte.
    let bytewise: Vec<usize> = (1..=text.len()).collect();
    check_pieces(&mut v, text, &bytewise);

    // `reset` in the middle of a message forgets it: afterwards the text is judged alone.
    let mut v = Utf8Validator::new();
    let _ = v.feed(gaps);
    v.reset();
    assert!(v.is_boundary());
    check_pieces(&mut v, text, &ends);
});
