//! Close frames (RFC 6455 §5.5.1, §7.4): status codes, payload parsing and encoding.

use super::frame::{ProtocolError, MAX_CONTROL_PAYLOAD};

/// Close status codes (RFC 6455 §7.4.1 and the IANA registry).
pub mod code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNPROCESSABLE_INPUT: u16 = 1003;
    /// Reserved; never sent.
    pub const RESERVED: u16 = 1004;
    /// Reported when a close frame carried no status; never sent.
    pub const NOT_PROVIDED: u16 = 1005;
    /// Reported when the connection ended without a close frame; never sent.
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_DATA: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const EXTENSION_REQUIRED: u16 = 1010;
    pub const INTERNAL_SERVER_ERROR: u16 = 1011;
    /// TLS handshake failure; never sent.
    pub const TLS_HANDSHAKE_FAILED: u16 = 1015;
}

/// Longest reason that fits a close frame beside its 2-byte status.
pub const MAX_REASON_LEN: usize = MAX_CONTROL_PAYLOAD - 2;

/// Whether `status` may appear in a close frame on the wire (RFC 6455 §7.4).
///
/// Allowed: the defined codes 1000-1003 and 1007-1011, the registered 1012-1014, and the
/// application ranges 3000-4999. Refused: below 1000, the reserved 1004, the never-on-the-wire
/// 1005, 1006 and 1015, the unassigned rest of 1016-2999, and 5000 and up.
pub fn is_valid_on_wire(status: u16) -> bool {
    matches!(status, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A close frame's payload, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// `None` when the frame had an empty payload (reported as 1005).
    pub status: Option<u16>,
    /// The UTF-8 reason, possibly empty.
    pub reason: &'a str,
}

/// Parses and checks a received close payload (already unmasked).
///
/// A 1-byte payload or a status that may not be on the wire is a 1002; a reason that is not
/// UTF-8 is a 1007.
pub fn parse_payload(payload: &[u8]) -> Result<CloseFrame<'_>, ProtocolError> {
    match payload.len() {
        0 => Ok(CloseFrame {
            status: None,
            reason: "",
        }),
        1 => Err(ProtocolError::new(
            code::PROTOCOL_ERROR,
            "Invalid close frame: a 1-byte payload cannot hold a status code.",
        )),
        _ => {
            let status = u16::from_be_bytes([payload[0], payload[1]]);
            if !is_valid_on_wire(status) {
                return Err(ProtocolError::owned(
                    code::PROTOCOL_ERROR,
                    format!("Invalid close status code {status} received."),
                ));
            }
            let reason = std::str::from_utf8(&payload[2..]).map_err(|_| {
                ProtocolError::new(code::INVALID_DATA, "Invalid UTF-8 Data Received")
            })?;
            Ok(CloseFrame {
                status: Some(status),
                reason,
            })
        }
    }
}

/// Cuts `reason` to at most [`MAX_REASON_LEN`] bytes, on a character boundary, so that a close
/// frame never exceeds the 125-byte control frame limit.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Appends a close payload to `out`: nothing for `None`, else the status and the reason
/// (truncated by [`truncate_reason`]).
pub fn encode_payload(out: &mut Vec<u8>, status: Option<u16>, reason: &str) {
    if let Some(status) = status {
        out.extend_from_slice(&status.to_be_bytes());
        out.extend_from_slice(truncate_reason(reason).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_follow_rfc_7_4() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(is_valid_on_wire(ok), "{ok} should be allowed");
        }
        for bad in [
            0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_on_wire(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn parses_empty_payload_as_no_status() {
        assert_eq!(
            parse_payload(&[]),
            Ok(CloseFrame {
                status: None,
                reason: ""
            })
        );
    }

    #[test]
    fn rejects_one_byte_close_payload() {
        assert_eq!(parse_payload(&[0x03]).unwrap_err().code, 1002);
    }

    #[test]
    fn parses_status_and_reason() {
        let mut p = 1001u16.to_be_bytes().to_vec();
        p.extend_from_slice("bye ✓".as_bytes());
        assert_eq!(
            parse_payload(&p),
            Ok(CloseFrame {
                status: Some(1001),
                reason: "bye ✓"
            })
        );
    }

    #[test]
    fn rejects_codes_forbidden_on_the_wire() {
        for bad in [999u16, 1004, 1005, 1006, 1015, 2000, 5000] {
            let err = parse_payload(&bad.to_be_bytes()).unwrap_err();
            assert_eq!(err.code, 1002, "{bad}");
        }
    }

    #[test]
    fn rejects_invalid_utf8_reason_with_1007() {
        let mut p = 1000u16.to_be_bytes().to_vec();
        p.extend_from_slice(&[0xCE, 0xBA, 0xED, 0xA0, 0x80]);
        assert_eq!(parse_payload(&p).unwrap_err().code, 1007);
    }

    #[test]
    fn truncates_long_reason_on_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&long);
        assert!(cut.len() <= MAX_REASON_LEN && cut.len() >= MAX_REASON_LEN - 1);
        assert!(long.starts_with(cut));
        let mut out = Vec::new();
        encode_payload(&mut out, Some(1000), &long);
        assert!(out.len() <= MAX_CONTROL_PAYLOAD);
        assert_eq!(&out[..2], &[0x03, 0xE8]);
    }

    #[test]
    fn encodes_no_status_as_empty() {
        let mut out = Vec::new();
        encode_payload(&mut out, None, "ignored");
        assert!(out.is_empty());
    }
}
