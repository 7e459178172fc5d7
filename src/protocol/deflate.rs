//! permessage-deflate (RFC 7692): negotiation of the extension's parameters.
//!
//! The server takes the first acceptable offer of a `Sec-WebSocket-Extensions` request header
//! and declines (answers without the extension) when none is; the client checks the server's
//! answer against what it offered and fails the connection on anything else (§7.1). Compressing
//! and inflating messages will sit beside this, between frames and message assembly.

use std::fmt::Write as _;

/// The extension's name on the wire.
pub const NAME: &str = "permessage-deflate";

/// LZ77 window sizes a peer may ask for (§7.1.2.1).
const MIN_WINDOW_BITS: u8 = 8;
const MAX_WINDOW_BITS: u8 = 15;

/// What an endpoint is configured to ask for (`perMessageDeflate: { ... }`, with `ws`'s names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The server resets its compressor after each message (no state kept between messages).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with (8..=15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with (8..=15); `None`: whatever the client
    /// offers (a server), or no limit asked for (a client, which still offers the parameter
    /// without a value, so the server may set one).
    pub client_max_window_bits: Option<u8>,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: None,
        }
    }
}

/// The parameters both sides use once negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl DeflateParams {
    /// The extension as it appears in the server's `Sec-WebSocket-Extensions` response. A
    /// parameter at its default is left out; `client_max_window_bits` is only sent when the
    /// client offered it (`client_offered_bits`), as §7.1.2.2 requires.
    pub fn response(&self, client_offered_bits: bool) -> String {
        let mut out = String::from(NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < MAX_WINDOW_BITS {
            let _ = write!(
                out,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if client_offered_bits && self.client_max_window_bits < MAX_WINDOW_BITS {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        out
    }
}

/// One extension of a header: its name and parameters, values unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

/// Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1: `name *( ";" param )` separated
/// by commas; a value is a token or a quoted string). Returns `None` if it is malformed.
pub fn parse_extensions(header: &str) -> Option<Vec<Extension>> {
    let mut out = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip_ws();
        if p.at_end() {
            return Some(out);
        }
        if p.eat(b',') {
            continue; // empty list elements are allowed (RFC 7230 §7)
        }
        let name = p.token()?;
        let mut params = Vec::new();
        loop {
            p.skip_ws();
            if p.at_end() || p.eat(b',') {
                break;
            }
            if !p.eat(b';') {
                return None;
            }
            p.skip_ws();
            let key = p.token()?;
            p.skip_ws();
            let value = if p.eat(b'=') {
                p.skip_ws();
                Some(if p.peek() == Some(b'"') {
                    p.quoted()?
                } else {
                    p.token()?
                })
            } else {
                None
            };
            params.push((key, value));
        }
        out.push(Extension { name, params });
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut v = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    // RFC 6455 §9.1: a quoted value must still be a token once unquoted
                    return (!v.is_empty() && v.iter().copied().all(is_tchar))
                        .then(|| String::from_utf8_lossy(&v).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    v.push(self.peek()?);
                    self.i += 1;
                }
                c => {
                    v.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// The parameters of one permessage-deflate offer or answer, checked for duplicates, unknown
/// names and bad values (§7.1: any of them makes the offer unacceptable).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Requested {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (a client may offer it that way).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(v: &str) -> Option<u8> {
    // 1*DIGIT without leading zeros (§7.1.2.1), 8..=15
    if v.starts_with('0') || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u8 = v.parse().ok()?;
    (MIN_WINDOW_BITS..=MAX_WINDOW_BITS)
        .contains(&n)
        .then_some(n)
}

fn requested(ext: &Extension) -> Option<Requested> {
    let mut r = Requested::default();
    let mut seen = [false; 4];
    for (key, value) in &ext.params {
        let slot = match key.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        match slot {
            0 | 1 if value.is_some() => return None,
            0 => r.server_no_context_takeover = true,
            1 => r.client_no_context_takeover = true,
            2 => r.server_max_window_bits = Some(window_bits(value.as_deref()?)?),
            _ => {
                r.client_max_window_bits = Some(match value {
                    Some(v) => Some(window_bits(v)?),
                    None => None,
                })
            }
        }
    }
    Some(r)
}

/// The server's choice among a request's offers: the parameters, and whether the chosen offer
/// had `client_max_window_bits` (so the response may carry it). `None`: decline (answer without
/// the extension), because no offer of permessage-deflate is acceptable.
pub fn negotiate_server(
    offers: &[Extension],
    config: &DeflateConfig,
) -> Option<(DeflateParams, bool)> {
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(NAME))
        .find_map(|offer| {
            let r = requested(offer)?;
            let server_bits = match r.server_max_window_bits {
                Some(n) => n.min(config.server_max_window_bits),
                None => config.server_max_window_bits,
            };
            let (client_bits, offered_bits) =
                match (r.client_max_window_bits, config.client_max_window_bits) {
                    // the client did not offer the parameter: it may use any window, and a limit
                    // the server wants cannot be sent (§7.1.2.2), so this offer does not do
                    (None, Some(_)) => return None,
                    (None, None) => (MAX_WINDOW_BITS, false),
                    (Some(offered), wanted) => {
                        let offered = offered.unwrap_or(MAX_WINDOW_BITS);
                        (wanted.map_or(offered, |w| w.min(offered)), true)
                    }
                };
            Some((
                DeflateParams {
                    server_no_context_takeover: r.server_no_context_takeover
                        || config.server_no_context_takeover,
                    client_no_context_takeover: r.client_no_context_takeover
                        || config.client_no_context_takeover,
                    server_max_window_bits: server_bits,
                    client_max_window_bits: client_bits,
                },
                offered_bits,
            ))
        })
}

/// The client's offer: `permessage-deflate; client_max_window_bits` and what `config` asks for.
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut out = String::from(NAME);
    if config.server_no_context_takeover {
        out.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        out.push_str("; client_no_context_takeover");
    }
    if config.server_max_window_bits < MAX_WINDOW_BITS {
        let _ = write!(
            out,
            "; server_max_window_bits={}",
            config.server_max_window_bits
        );
    }
    match config.client_max_window_bits {
        Some(n) => {
            let _ = write!(out, "; client_max_window_bits={n}");
        }
        None => out.push_str("; client_max_window_bits"),
    }
    out
}

/// Why the client fails the connection on a server's answer (§7.1: "the client MUST _Fail the
/// WebSocket Connection_").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnswer(pub String);

/// Checks the server's `Sec-WebSocket-Extensions` answer against the client's offer made from
/// `config`. `Ok(None)`: the server declined. `Ok(Some(params))`: in force.
pub fn negotiate_client(
    answer: &[Extension],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, BadAnswer> {
    let mut found = None;
    for ext in answer {
        if !ext.name.eq_ignore_ascii_case(NAME) {
            return Err(BadAnswer(format!(
                "the server accepted an extension that was not offered: {}",
                ext.name
            )));
        }
        if found.is_some() {
            return Err(BadAnswer(format!("the server accepted {NAME} twice")));
        }
        let r = requested(ext).ok_or_else(|| {
            BadAnswer(format!("invalid {NAME} parameters in the server's answer"))
        })?;
        let server_bits = r.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
        if server_bits > config.server_max_window_bits {
            return Err(BadAnswer(format!(
                "server_max_window_bits={server_bits} is more than the {} offered",
                config.server_max_window_bits
            )));
        }
        if config.server_no_context_takeover && !r.server_no_context_takeover {
            return Err(BadAnswer(
                "the server did not agree to server_no_context_takeover".into(),
            ));
        }
        let client_bits = match r.client_max_window_bits {
            Some(Some(n)) => {
                if config.client_max_window_bits.is_some_and(|m| n > m) {
                    return Err(BadAnswer(format!(
                        "client_max_window_bits={n} is more than offered"
                    )));
                }
                n
            }
            Some(None) => {
                return Err(BadAnswer(
                    "client_max_window_bits without a value in the server's answer".into(),
                ))
            }
            None => config.client_max_window_bits.unwrap_or(MAX_WINDOW_BITS),
        };
        found = Some(DeflateParams {
            server_no_context_takeover: r.server_no_context_takeover,
            client_no_context_takeover: r.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(h: &str) -> Vec<Extension> {
        parse_extensions(h).expect("parses")
    }

    fn server(h: &str, config: &DeflateConfig) -> Option<String> {
        negotiate_server(&offers(h), config).map(|(p, bits)| p.response(bits))
    }

    #[test]
    fn parses_lists_params_and_quoted_values() {
        let e = offers(r#"permessage-deflate; client_max_window_bits, foo; a="10"; b , x-webkit"#);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].params, vec![("client_max_window_bits".into(), None)]);
        assert_eq!(
            e[1].params,
            vec![("a".into(), Some("10".into())), ("b".into(), None)]
        );
        assert_eq!(e[2].name, "x-webkit");
        assert!(parse_extensions("").unwrap().is_empty());
        for bad in [
            "permessage-deflate;",
            "a b",
            "a; =1",
            "a; b=",
            "a; b=\"\"",
            "a; b=\"x y\"",
            "a; b=\"open",
        ] {
            assert!(parse_extensions(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn server_accepts_a_bare_offer_and_never_sends_client_bits_unasked() {
        // Firefox offers the bare extension
        let c = DeflateConfig::default();
        assert_eq!(
            server("permessage-deflate", &c).unwrap(),
            "permessage-deflate"
        );
        // Chromium offers client_max_window_bits without a value
        let small = DeflateConfig {
            client_max_window_bits: Some(10),
            ..c
        };
        assert_eq!(
            server("permessage-deflate; client_max_window_bits", &small).unwrap(),
            "permessage-deflate; client_max_window_bits=10"
        );
        // a client limit the server wants cannot go to a client that did not offer it
        assert_eq!(server("permessage-deflate", &small), None);
    }

    #[test]
    fn server_takes_the_first_acceptable_offer_and_declines_bad_ones() {
        let c = DeflateConfig::default();
        let h = "permessage-deflate; server_max_window_bits=7, permessage-deflate; foo, \
                 permessage-deflate; server_max_window_bits=10; client_no_context_takeover";
        assert_eq!(
            server(h, &c).unwrap(),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
        );
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown_param",
            "x-other-extension",
        ] {
            assert_eq!(server(bad, &c), None, "{bad}");
        }
    }

    #[test]
    fn server_applies_its_own_limits_and_takeover_choices() {
        let c = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: Some(12),
        };
        let (p, bits) = negotiate_server(
            &offers("permessage-deflate; server_max_window_bits=8; client_max_window_bits=14"),
            &c,
        )
        .unwrap();
        assert!(bits);
        assert_eq!(
            p,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 8,
                client_max_window_bits: 12,
            }
        );
        assert_eq!(
            p.response(bits),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=12"
        );
    }

    #[test]
    fn every_window_size_from_8_to_15_negotiates_both_ways() {
        for s in 8..=15u8 {
            for cb in 8..=15u8 {
                let h = format!(
                    "permessage-deflate; server_max_window_bits={s}; client_max_window_bits={cb}"
                );
                let (p, _) = negotiate_server(&offers(&h), &DeflateConfig::default()).unwrap();
                assert_eq!(
                    (p.server_max_window_bits, p.client_max_window_bits),
                    (s, cb)
                );
            }
        }
    }

    #[test]
    fn client_offer_and_answers() {
        let c = DeflateConfig::default();
        assert_eq!(
            client_offer(&c),
            "permessage-deflate; client_max_window_bits"
        );
        let ok = |h: &str| negotiate_client(&offers(h), &c);
        assert_eq!(ok("").unwrap(), None, "declined");
        let p = ok("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (10, 9)
        );
        for bad in [
            "x-unknown",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; nope",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
        let limited = DeflateConfig {
            server_max_window_bits: 10,
            client_max_window_bits: Some(10),
            server_no_context_takeover: true,
            ..c
        };
        assert_eq!(
            client_offer(&limited),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits=10"
        );
        let check = |h: &str| negotiate_client(&offers(h), &limited);
        assert!(
            check("permessage-deflate; server_no_context_takeover; server_max_window_bits=11")
                .is_err()
        );
        assert!(
            check("permessage-deflate; server_no_context_takeover; client_max_window_bits=12")
                .is_err()
        );
        assert!(
            check("permessage-deflate; server_max_window_bits=10").is_err(),
            "takeover not agreed"
        );
        assert!(
            check("permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
                .is_ok()
        );
    }
}
