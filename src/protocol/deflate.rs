//! permessage-deflate (RFC 7692): negotiation of the extension's parameters.
//!
//! The server takes the first acceptable offer of a `Sec-WebSocket-Extensions` request header
//! and declines (answers without the extension) when none is; the client checks the server's
//! answer against what it offered and fails the connection on anything else (§7.1).
//!
//! [`Compressor`] and [`Inflater`] do the per-message work (§7.2): raw DEFLATE, each message
//! ended by a sync flush whose trailing `00 00 FF FF` is not sent, and put back before
//! inflating. Inflating stops at a byte limit, so a decompression bomb is refused while its
//! output is produced, not after it is buffered.

use std::fmt::Write as _;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Method, Status, Strategy};

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
    /// parameter at its default is left out, and a window limit is only sent when the client
    /// offered that parameter (§7.1.2.1, §7.1.2.2).
    fn response(&self, server_bits_offered: bool, client_bits_offered: bool) -> String {
        let server_bits = if server_bits_offered {
            self.server_max_window_bits
        } else {
            MAX_WINDOW_BITS
        };
        let mut out = common_params(
            self.server_no_context_takeover,
            self.client_no_context_takeover,
            server_bits,
        );
        if client_bits_offered && self.client_max_window_bits < MAX_WINDOW_BITS {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        out
    }
}

/// The extension name and the parameters an offer and an answer write alike: each takeover
/// flag when set, `server_max_window_bits` when below 15.
fn common_params(server_no_ctx: bool, client_no_ctx: bool, server_bits: u8) -> String {
    let mut out = String::from(NAME);
    if server_no_ctx {
        out.push_str("; server_no_context_takeover");
    }
    if client_no_ctx {
        out.push_str("; client_no_context_takeover");
    }
    if server_bits < MAX_WINDOW_BITS {
        let _ = write!(out, "; server_max_window_bits={server_bits}");
    }
    out
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

/// What the server agreed to: the parameters both sides use and the response header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub params: DeflateParams,
    /// The `Sec-WebSocket-Extensions` value of the 101.
    pub response: String,
}

/// The server's choice among a request's offers. `None`: decline (answer without the
/// extension), because no offer of permessage-deflate is acceptable.
///
/// A window limit goes into the response only when the offer carried the parameter
/// (§7.1.2.1, §7.1.2.2); without it, the server still compresses with its configured window,
/// which any inflater reads.
pub fn negotiate_server(offers: &[Extension], config: &DeflateConfig) -> Option<Accepted> {
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(NAME))
        .find_map(|offer| {
            let r = requested(offer)?;
            let server_bits = match r.server_max_window_bits {
                Some(n) => n.min(config.server_max_window_bits),
                None => config.server_max_window_bits,
            };
            let client_bits = match (r.client_max_window_bits, config.client_max_window_bits) {
                // the client did not offer the parameter: it may use any window, and a limit
                // the server wants cannot be sent (§7.1.2.2), so this offer does not do
                (None, Some(_)) => return None,
                (None, None) => MAX_WINDOW_BITS,
                (Some(offered), wanted) => {
                    let offered = offered.unwrap_or(MAX_WINDOW_BITS);
                    wanted.map_or(offered, |w| w.min(offered))
                }
            };
            let params = DeflateParams {
                server_no_context_takeover: r.server_no_context_takeover
                    || config.server_no_context_takeover,
                client_no_context_takeover: r.client_no_context_takeover
                    || config.client_no_context_takeover,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits,
            };
            let response = params.response(
                r.server_max_window_bits.is_some(),
                r.client_max_window_bits.is_some(),
            );
            Some(Accepted { params, response })
        })
}

/// The client's offer: `permessage-deflate; client_max_window_bits` and what `config` asks for.
pub fn client_offer(config: &DeflateConfig) -> String {
    let mut out = common_params(
        config.server_no_context_takeover,
        config.client_no_context_takeover,
        config.server_max_window_bits,
    );
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

/// The four bytes a sync flush ends with, left off every compressed message (§7.2.1).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// zlib (and zlib-rs) refuse raw deflate with an 8-bit window: 9 is used instead. A 9-bit
/// inflater reads what an 8-bit compressor wrote; a 9-bit compressor is what every major
/// implementation uses when 8 is negotiated.
fn zlib_bits(bits: u8) -> u8 {
    bits.clamp(9, MAX_WINDOW_BITS)
}

/// Bytes of history a direction negotiated with `bits` may refer back into.
pub fn window_size(bits: u8) -> usize {
    1 << zlib_bits(bits)
}

/// zlib's `memLevel` for compressors. It sets the symbols a block may hold (2^(6 + level)) and
/// with it two buffers: at 6 they take 28 KB instead of 112 KB at zlib's default of 8.
///
/// Measured choice: zlib-rs clears its 3-byte-per-symbol buffer at every block, and a message
/// is at least one block; at 6, a 1 KiB JSON message compresses about 5% faster than at 8, to
/// the same size, and a 256 KiB one within 0.1% of the size (see the commit that set it).
const MEM_LEVEL: i32 = 6;

/// Compresses messages for one direction of one connection (or, without context takeover, for
/// any connection: it is reset after each message).
pub struct Compressor {
    z: Deflate,
    no_context_takeover: bool,
}

impl Compressor {
    /// `level` 0..=9 (zlib's).
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Compressor {
            z: Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: level.min(9) as i32,
                method: Method::Deflated,
                // negative: raw DEFLATE, no zlib header or checksum
                window_bits: -i32::from(zlib_bits(window_bits)),
                mem_level: MEM_LEVEL,
                strategy: Strategy::Default,
            }),
            no_context_takeover,
        }
    }

    /// Loads the window a fresh compressor may refer back into (the end of the messages it
    /// sent before it was released; see `takeover`).
    pub fn prime(&mut self, window: &[u8]) {
        // Allowed right after creation; on failure the compressor simply refers to nothing.
        let _ = self.z.set_dictionary(window);
    }

    /// Appends the compressed form of `payload` (one whole message) to `out`.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if payload.is_empty() {
            // An empty stored block (§7.2.3.6); a sync flush with no new input would produce
            // nothing at all after an earlier one.
            out.push(0x00);
            return;
        }
        let start = out.len();
        let mut input = payload;
        loop {
            let room = (input.len() / 2 + 256).max(out.capacity() - out.len());
            let at = out.len();
            out.resize(at + room, 0);
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            // Sync flush: the message ends on a byte boundary, the state goes on (§7.2.1).
            let result = self
                .z
                .compress(input, &mut out[at..], DeflateFlush::SyncFlush);
            let written = (self.z.total_out() - out_before) as usize;
            out.truncate(at + written.min(room));
            if result.is_err() {
                // Memory into memory cannot fail but for a bug: send the message stored.
                self.z.reset();
                out.truncate(start);
                return self.stored(payload, out);
            }
            input = &input[(self.z.total_in() - in_before) as usize..];
            // done when all input is in and the flush did not run out of room
            if input.is_empty() && written < room {
                break;
            }
        }
        if out.len() - start >= 4 && out[out.len() - 4..] == SYNC_TAIL {
            out.truncate(out.len() - 4);
        }
        if out.len() == start {
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.z.reset();
        }
    }

    /// `payload` as stored (uncompressed) DEFLATE blocks, for the compressor's error path.
    fn stored(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if payload.is_empty() {
            out.push(0x00);
            return;
        }
        for c in payload.chunks(65535) {
            out.push(0x00); // BFINAL 0, BTYPE 00
            let len = c.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(c);
        }
    }
}

/// Output produced per inflate call at most: bounds the zeroed room added to the output.
const INFLATE_STEP: usize = 64 * 1024;

/// Why inflating a message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The inflated message would exceed the limit (close 1009).
    TooBig,
    /// Not valid DEFLATE data (close 1007, as other implementations do).
    Corrupt,
}

/// Inflates the messages of one direction of one connection.
pub struct Inflater {
    z: Inflate,
    no_context_takeover: bool,
    /// The message so far ended with a final block (BFINAL, §7.2.3.4): nothing may follow in
    /// it, and the stream starts anew for the next message.
    ended: bool,
    /// The last message ended with a final block and the stream was started anew: a
    /// connection with context takeover must load its window again.
    restarted: bool,
}

impl Inflater {
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Inflater {
            z: Inflate::new(false, zlib_bits(window_bits)),
            no_context_takeover,
            ended: false,
            restarted: false,
        }
    }

    /// True once after a message that ended with a final block restarted the stream.
    pub fn restarted(&mut self) -> bool {
        std::mem::take(&mut self.restarted)
    }

    /// Loads the window a fresh inflater starts from (the end of earlier messages, when an
    /// inflater is rebuilt for a connection with context takeover).
    pub fn prime(&mut self, window: &[u8]) {
        // A raw inflater takes a dictionary at any time; failure would only mean an empty one.
        let _ = self.z.set_dictionary(window);
    }

    /// Inflates `input` (the payload of one frame of a compressed message) onto `out`; `last`
    /// for the message's final frame. `out` never grows past `limit` bytes: the message is
    /// refused as soon as its output would.
    pub fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            return if input.is_empty() {
                Ok(())
            } else {
                Err(InflateError::Corrupt)
            };
        }
        self.run(input, out, limit)?;
        if last {
            if !self.ended {
                self.run(&SYNC_TAIL, out, limit)?;
            }
            if self.no_context_takeover || self.ended {
                self.z.reset(false);
                self.restarted = self.ended;
                self.ended = false;
            }
        }
        Ok(())
    }

    fn run(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        loop {
            if out.len() >= limit {
                // output is full: one more byte would be over; see if any is still coming
                let mut probe = [0u8; 1];
                let before_in = self.z.total_in();
                let before_out = self.z.total_out();
                self.z
                    .decompress(input, &mut probe, InflateFlush::SyncFlush)
                    .map_err(|_| InflateError::Corrupt)?;
                if self.z.total_out() > before_out {
                    return Err(InflateError::TooBig);
                }
                let used = (self.z.total_in() - before_in) as usize;
                input = &input[used..];
                if input.is_empty() {
                    return Ok(());
                }
                if used == 0 {
                    // no progress with room for a byte: the data cannot go on
                    return Err(InflateError::Corrupt);
                }
                continue;
            }
            // Inflate into zeroed room at the end of `out`, at most up to `limit`: the output
            // never grows past the limit. The room doubles with the output (from four times the
            // input), so a small message zeroes little and a large one takes few steps.
            let room = (limit - out.len()).min(
                out.len()
                    .max(input.len().saturating_mul(4))
                    .clamp(1024, INFLATE_STEP),
            );
            let before_out = out.len();
            if out.capacity() - before_out < room {
                // grow by doubling, but never past the limit (an attacker's message
                // reserves no more than it is allowed)
                let target = (before_out * 2).max(before_out + room).min(limit);
                out.reserve_exact(target - before_out);
            }
            out.resize(before_out + room, 0);
            let before_in = self.z.total_in();
            let before_total = self.z.total_out();
            let status = self
                .z
                .decompress(input, &mut out[before_out..], InflateFlush::SyncFlush);
            let produced = (self.z.total_out() - before_total) as usize;
            out.truncate(before_out + produced);
            let status = status.map_err(|_| InflateError::Corrupt)?;
            let used = (self.z.total_in() - before_in) as usize;
            input = &input[used..];
            if matches!(status, Status::StreamEnd) {
                // a final block ends the stream: nothing more may follow in this message
                self.ended = true;
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(InflateError::Corrupt)
                };
            }
            if input.is_empty() && produced < room {
                return Ok(());
            }
            if used == 0 && produced == 0 {
                return Err(InflateError::Corrupt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(h: &str) -> Vec<Extension> {
        parse_extensions(h).expect("parses")
    }

    fn server(h: &str, config: &DeflateConfig) -> Option<String> {
        negotiate_server(&offers(h), config).map(|a| a.response)
    }

    fn round_trip(c: &mut Compressor, i: &mut Inflater, msg: &[u8]) -> usize {
        let mut z = Vec::new();
        c.compress(msg, &mut z);
        let mut back = Vec::new();
        i.inflate(&z, true, &mut back, usize::MAX).unwrap();
        assert_eq!(back, msg);
        z.len()
    }

    #[test]
    fn compresses_and_inflates_with_every_window_and_both_takeover_modes() {
        let text = b"{\"type\":\"chat\",\"text\":\"hello hello hello hello\"}".repeat(40);
        for bits in 8..=15u8 {
            for no_takeover in [false, true] {
                let mut c = Compressor::new(6, bits, no_takeover);
                let mut i = Inflater::new(bits, no_takeover);
                let first = round_trip(&mut c, &mut i, &text);
                let second = round_trip(&mut c, &mut i, &text);
                assert!(
                    first < text.len() / 4,
                    "compresses ({first} of {})",
                    text.len()
                );
                if no_takeover {
                    assert_eq!(first, second, "no context: every message the same");
                } else {
                    assert!(second < first, "context takeover: the second is smaller");
                }
                round_trip(&mut c, &mut i, b"");
            }
        }
    }

    #[test]
    fn hello_example_of_the_rfc() {
        // RFC 7692 7.2.3.1: "Hello" compressed, no context takeover
        let mut c = Compressor::new(6, 15, true);
        let mut z = Vec::new();
        c.compress(b"Hello", &mut z);
        let mut i = Inflater::new(15, true);
        let mut out = Vec::new();
        i.inflate(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
        out.clear();
        i.inflate(&z, true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // 7.2.3.2: split over two frames
        let mut i = Inflater::new(15, true);
        out.clear();
        i.inflate(&[0xf2, 0x48, 0xcd], false, &mut out, 100)
            .unwrap();
        i.inflate(&[0xc9, 0xc9, 0x07, 0x00], true, &mut out, 100)
            .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit_while_inflating() {
        let zeros = vec![0u8; 16 * 1024 * 1024];
        let mut c = Compressor::new(9, 15, true);
        let mut z = Vec::new();
        c.compress(&zeros, &mut z);
        assert!(z.len() < 64 * 1024, "16 MiB of zeros is small: {}", z.len());
        let mut i = Inflater::new(15, true);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&z, true, &mut out, 1024 * 1024),
            Err(InflateError::TooBig)
        );
        assert!(out.len() <= 1024 * 1024 && out.capacity() <= 1024 * 1024);
        // exactly at the limit is fine
        let mut i = Inflater::new(15, true);
        let mut c = Compressor::new(6, 15, true);
        let msg = vec![7u8; 1000];
        let mut z = Vec::new();
        c.compress(&msg, &mut z);
        let mut out = Vec::new();
        i.inflate(&z, true, &mut out, 1000).unwrap();
        assert_eq!(out.len(), 1000);
        let mut out = Vec::new();
        let mut i = Inflater::new(15, true);
        assert_eq!(
            i.inflate(&z, true, &mut out, 999),
            Err(InflateError::TooBig)
        );
    }

    #[test]
    fn arbitrary_input_ends_in_a_result_never_a_hang_or_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..3000 {
            let len = (next() % 64) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let limit = (next() % 200) as usize;
            let mut i = Inflater::new(9 + (round % 7) as u8, round % 2 == 0);
            let mut out = Vec::new();
            let _ = i.inflate(&data, round % 3 != 0, &mut out, limit);
            assert!(out.len() <= limit);
        }
    }

    #[test]
    fn the_stored_fallback_is_valid_deflate() {
        let mut c = Compressor::new(6, 15, true);
        let msg: Vec<u8> = (0..70_000u32).map(|n| (n % 251) as u8).collect();
        for m in [&msg[..], b"x", b""] {
            let mut z = Vec::new();
            c.stored(m, &mut z);
            let mut back = Vec::new();
            Inflater::new(15, true)
                .inflate(&z, true, &mut back, usize::MAX)
                .unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn corrupt_data_is_refused() {
        let mut i = Inflater::new(15, false);
        let mut out = Vec::new();
        assert_eq!(
            i.inflate(&[0xff, 0xff, 0xff, 0xff, 0xff], true, &mut out, 1 << 20),
            Err(InflateError::Corrupt)
        );
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
        let a = negotiate_server(
            &offers("permessage-deflate; server_max_window_bits=8; client_max_window_bits=14"),
            &c,
        )
        .unwrap();
        assert_eq!(
            a.params,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 8,
                client_max_window_bits: 12,
            }
        );
        assert_eq!(
            a.response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=12"
        );
        // a window the client did not ask to limit is used, not announced
        let unlimited_client = DeflateConfig {
            client_max_window_bits: None,
            ..c
        };
        let a = negotiate_server(&offers("permessage-deflate"), &unlimited_client).unwrap();
        assert_eq!(a.params.server_max_window_bits, 9);
        assert_eq!(
            a.response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn every_window_size_from_8_to_15_negotiates_both_ways() {
        for s in 8..=15u8 {
            for cb in 8..=15u8 {
                let h = format!(
                    "permessage-deflate; server_max_window_bits={s}; client_max_window_bits={cb}"
                );
                let p = negotiate_server(&offers(&h), &DeflateConfig::default())
                    .unwrap()
                    .params;
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
