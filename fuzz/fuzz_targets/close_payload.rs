//! `close::parse_payload` against an oracle written from RFC 6455 §5.5.1 and §7.4, and the
//! encode/parse round trip (`encode_payload`, `truncate_reason`).
//!
//! Input: the close payload itself (already unmasked).
#![no_main]

use libfuzzer_sys::fuzz_target;
use websocket_rs::protocol::close::{
    encode_payload, is_valid_on_wire, parse_payload, truncate_reason, MAX_REASON_LEN,
};

/// Status codes a peer may put in a close frame (RFC 6455 §7.4.1, §7.4.2, IANA registry).
fn oracle_status_ok(s: u16) -> bool {
    match s {
        0..=999 => false,
        // Defined by the RFC.
        1000 | 1001 | 1002 | 1003 | 1007 | 1008 | 1009 | 1010 | 1011 => true,
        // Registered with IANA since (service restart, try again later, bad gateway).
        1012..=1014 => true,
        // 1004 reserved; 1005, 1006, 1015 must never be sent; the rest is unassigned.
        1004..=2999 => false,
        // Libraries, frameworks and applications.
        3000..=4999 => true,
        _ => false,
    }
}

/// `Ok((status, reason))` or `Err(close code)`.
fn oracle(p: &[u8]) -> Result<(Option<u16>, &str), u16> {
    if p.is_empty() {
        return Ok((None, ""));
    }
    if p.len() == 1 {
        return Err(1002);
    }
    let status = u16::from(p[0]) << 8 | u16::from(p[1]);
    if !oracle_status_ok(status) {
        return Err(1002);
    }
    match std::str::from_utf8(&p[2..]) {
        Ok(r) => Ok((Some(status), r)),
        Err(_) => Err(1007),
    }
}

fuzz_target!(|p: &[u8]| {
    let got = parse_payload(p)
        .map(|f| (f.status, f.reason))
        .map_err(|e| e.code);
    assert_eq!(got, oracle(p), "payload {p:02x?}");
    if p.len() >= 2 {
        let s = u16::from_be_bytes([p[0], p[1]]);
        assert_eq!(is_valid_on_wire(s), oracle_status_ok(s), "status {s}");
    }

    // Round trip: any status the wire allows, any reason (cut to fit), parses back.
    let reason = String::from_utf8_lossy(p.get(2..).unwrap_or(&[]));
    let cut = truncate_reason(&reason);
    assert!(cut.len() <= MAX_REASON_LEN);
    assert!(reason.starts_with(cut));
    assert!(cut.len() == reason.len() || cut.len() + 4 > MAX_REASON_LEN);
    let status = match p {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 1000,
    };
    let status = if is_valid_on_wire(status) {
        status
    } else {
        1000
    };
    let mut out = Vec::new();
    encode_payload(&mut out, Some(status), &reason);
    assert!(out.len() <= 125);
    let back = parse_payload(&out).expect("our own close payload");
    assert_eq!(back.status, Some(status));
    assert_eq!(back.reason, cut);
    let mut empty = Vec::new();
    encode_payload(&mut empty, None, &reason);
    assert!(empty.is_empty());
});
