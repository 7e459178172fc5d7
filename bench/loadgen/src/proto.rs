//! The client side of RFC 6455, as much as the load generator needs: the opening handshake,
//! masked client frames, and a streaming parser for the server's (unmasked) frames.
//!
//! The parser never buffers a data payload: it checks each chunk against the expected echo as it
//! arrives, so a 1 MiB message costs no more memory than a 64-byte one.
//!
//! `wss://` goes through rustls (ring provider, TLS 1.3), trusting only the CA given with `--ca`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// `ws://host[:port][/path]` or `wss://host[:port][/path]`
#[derive(Clone, Debug)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
    pub host_header: String,
    pub tls: bool,
}

pub fn parse_url(s: &str) -> Result<Url, String> {
    let (tls, rest) = if let Some(r) = s.strip_prefix("ws://") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("wss://") {
        (true, r)
    } else {
        return Err(format!("only ws:// and wss:// URLs are supported: {s}"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rfind(':') {
        Some(i) => (
            &authority[..i],
            authority[i + 1..]
                .parse::<u16>()
                .map_err(|_| format!("bad port in {s}"))?,
        ),
        None => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("no host in {s}"));
    }
    Ok(Url {
        host: host.to_string(),
        port,
        path: path.to_string(),
        host_header: authority.to_string(),
        tls,
    })
}

/// Where to connect: the URL and, for `wss://`, the TLS client (shared by every connection).
#[derive(Clone)]
pub struct Target {
    pub url: Url,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Target {
    /// `ca`: a PEM file with the certificate(s) to trust (required for `wss://`, the only trust
    /// anchors; ignored for `ws://`). The server name checked against the certificate is the
    /// URL's host: an IP address (`127.0.0.1`, an IP SAN) or a DNS name.
    pub fn new(url: Url, ca: Option<&str>) -> Result<Target, String> {
        if !url.tls {
            return Ok(Target { url, tls: None });
        }
        let ca = ca.ok_or("a wss:// URL needs --ca FILE (the PEM certificate to trust)")?;
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("--ca {ca}: {e}"))? {
            let cert = cert.map_err(|e| format!("--ca {ca}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("--ca {ca}: bad certificate: {e}"))?;
        }
        if roots.is_empty() {
            return Err(format!("--ca {ca}: no certificate in the file"));
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(url.host.clone())
            .map_err(|e| format!("TLS server name {}: {e}", url.host))?;
        Ok(Target {
            url,
            tls: Some((TlsConnector::from(Arc::new(config)), name)),
        })
    }
}

/// A client connection: plain TCP, or TLS over TCP. The echo mode's hot loop takes the two
/// apart (the plain one works on the `TcpStream` directly); the rest goes through the
/// AsyncRead/AsyncWrite impls below.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("OS random source");
    b
}

pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    B64.encode(h.finalize())
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// TCP connect (+ TLS handshake for wss://) + HTTP upgrade. Returns the stream and whatever
/// bytes followed the 101 response (frames the server sent right away), which go into the frame
/// parser's buffer.
pub async fn connect(target: &Target, timeout: Duration) -> Result<(Stream, Vec<u8>), String> {
    let (stream, leftover, _) = connect_with(target, timeout, None).await?;
    Ok((stream, leftover))
}

/// `connect`, offering `extensions` (the value of a `Sec-WebSocket-Extensions` request header)
/// when given; also returns the response's `Sec-WebSocket-Extensions` value, if any. A response
/// naming an extension that was not offered is refused.
pub async fn connect_with(
    target: &Target,
    timeout: Duration,
    extensions: Option<&str>,
) -> Result<(Stream, Vec<u8>, Option<String>), String> {
    match tokio::time::timeout(timeout, connect_inner(target, extensions)).await {
        Ok(r) => r,
        Err(_) => Err("handshake timed out".to_string()),
    }
}

async fn connect_inner(
    target: &Target,
    extensions: Option<&str>,
) -> Result<(Stream, Vec<u8>, Option<String>), String> {
    let url = &target.url;
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let mut stream = match &target.tls {
        None => Stream::Plain(tcp),
        Some((connector, name)) => Stream::Tls(Box::new(
            connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?,
        )),
    };
    let key = B64.encode(random_bytes::<16>());
    let offer = match extensions {
        Some(e) => format!("Sec-WebSocket-Extensions: {e}\r\n"),
        None => String::new(),
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n{}\r\n",
        url.path, url.host_header, key, offer
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write upgrade request: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("write upgrade request: {e}"))?;

    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read upgrade response: {e}"))?;
        if n == 0 {
            return Err("connection closed during the handshake".to_string());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find_subslice(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err("upgrade response headers too long".to_string());
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "non-UTF-8 response head")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.split(' ');
    let (ver, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !ver.starts_with("HTTP/1.") || code != "101" {
        return Err(format!("expected 101, got: {status}"));
    }
    let want = accept_key(&key);
    let mut accept_ok = false;
    let mut answer: Option<String> = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("sec-websocket-accept") {
                if value.trim() != want {
                    return Err(format!("bad Sec-WebSocket-Accept: {}", value.trim()));
                }
                accept_ok = true;
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                // several header lines make one comma-separated list
                let v = value.trim();
                answer = Some(match answer {
                    Some(a) => format!("{a}, {v}"),
                    None => v.to_string(),
                });
            }
        }
    }
    if !accept_ok {
        return Err("no Sec-WebSocket-Accept in the 101 response".to_string());
    }
    if extensions.is_none() {
        if let Some(a) = &answer {
            return Err(format!(
                "the server answered an extension that was not offered: {a}"
            ));
        }
    }
    Ok((stream, buf[head_end..].to_vec(), answer))
}

/// Appends one masked client frame (FIN set) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    encode_frame_b0(out, 0x80 | opcode, payload, mask);
}

/// `encode_frame` with the whole first byte given: FIN, RSV bits and opcode (permessage-deflate
/// sets RSV1, 0x40, on a compressed message's first frame).
pub fn encode_frame_b0(out: &mut Vec<u8>, b0: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(b0);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

pub fn close_frame(code: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(8);
    encode_frame(&mut v, OP_CLOSE, &code.to_be_bytes(), random_bytes::<4>());
    v
}

/// Decimal digits of the sequence number that starts every fanout message (zero-padded).
pub const SEQ_DIGITS: usize = 16;

/// What a data message must look like; `Any` accepts (and ignores) every data message.
/// `Seq` (fanout): `template.len()` bytes with this opcode, the first `SEQ_DIGITS` a decimal
/// sequence number that must be `Rx::seq_next` (then incremented: every message once, in
/// order), the rest equal to `template`'s bytes. `Seq` refuses a compressed message (RSV1);
/// `Exact` keeps a compressed one whole for the caller to inflate and check (`Rx::collected`),
/// counted in `Events::messages` like the others. `Collect` (permessage-deflate): every data
/// message is kept whole, as it came (compressed or not), for the caller to check.
pub enum Expect<'a> {
    Any,
    Exact { opcode: u8, payload: &'a [u8] },
    Seq { opcode: u8, template: &'a [u8] },
    Collect,
}

/// A whole data message kept by `Expect::Collect`: its bytes are `data[start..end]` of
/// `Rx::collected`, as received (still compressed when `compressed`, the RSV1 bit).
#[derive(Clone, Copy, Debug)]
pub struct Collected {
    pub opcode: u8,
    pub compressed: bool,
    pub start: usize,
    pub end: usize,
}

/// The largest message `Expect::Collect` keeps.
const COLLECT_MAX: usize = 16 * 1024 * 1024;

/// What one `Rx::process` call saw.
pub struct Events {
    pub messages: u64,
    /// Payload length of the latest ping (its bytes in `ping_buf`); a pong answers the latest only.
    pub ping: Option<usize>,
    pub ping_buf: [u8; 125],
    /// Close code of a close frame from the server (1005 when it carried none).
    pub close: Option<u16>,
}

impl Events {
    pub fn new() -> Self {
        Events {
            messages: 0,
            ping: None,
            ping_buf: [0; 125],
            close: None,
        }
    }
    pub fn clear(&mut self) {
        self.messages = 0;
        self.ping = None;
        self.close = None;
    }
}

/// Streaming parser for server frames, with its own fixed read buffer.
pub struct Rx {
    buf: Vec<u8>,
    end: usize,
    in_frame: bool,
    f_opcode: u8,
    f_fin: bool,
    remaining: u64,
    msg_opcode: u8, // 0: no data message in progress
    msg_len: u64,
    ctrl: [u8; 125],
    ctrl_len: usize,
    seq_acc: u64,
    /// `Expect::Seq`: the sequence number the next message must carry (= messages seen).
    pub seq_next: u64,
    /// permessage-deflate was agreed: RSV1 may be set on a data message's first frame.
    rsv1_ok: bool,
    msg_rsv1: bool,
    msg_collect: bool, // the message in progress goes to `coll`
    // Expect::Collect: the payloads of complete messages, then of the one in progress (from
    // coll_start on); coll_msgs indexes the complete ones
    coll: Vec<u8>,
    coll_start: usize,
    coll_msgs: Vec<Collected>,
}

impl Rx {
    pub fn new(cap: usize, initial: &[u8]) -> Self {
        let mut buf = vec![0u8; cap.max(initial.len()).max(256)];
        buf[..initial.len()].copy_from_slice(initial);
        Rx {
            buf,
            end: initial.len(),
            in_frame: false,
            f_opcode: 0,
            f_fin: false,
            remaining: 0,
            msg_opcode: 0,
            msg_len: 0,
            ctrl: [0; 125],
            ctrl_len: 0,
            seq_acc: 0,
            seq_next: 0,
            rsv1_ok: false,
            msg_rsv1: false,
            msg_collect: false,
            coll: Vec::new(),
            coll_start: 0,
            coll_msgs: Vec::new(),
        }
    }

    /// permessage-deflate was agreed: accept RSV1 (compressed) on a data message's first frame.
    pub fn allow_rsv1(mut self) -> Self {
        self.rsv1_ok = true;
        self
    }

    /// `Expect::Collect`: the messages completed so far (oldest first) and the bytes their
    /// ranges point into. `clear_collected` forgets them.
    pub fn collected(&self) -> (&[Collected], &[u8]) {
        (&self.coll_msgs, &self.coll)
    }

    pub fn clear_collected(&mut self) {
        self.coll_msgs.clear();
        if self.coll_start > 0 {
            self.coll.copy_within(self.coll_start.., 0);
            self.coll.truncate(self.coll.len() - self.coll_start);
            self.coll_start = 0;
        }
    }

    /// Free space to read into.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Consumes every complete header and every payload byte in the buffer; leaves at most a
    /// partial header (< 14 bytes), moved to the front.
    pub fn process(&mut self, expect: &Expect, ev: &mut Events) -> Result<(), String> {
        let mut pos = 0usize;
        loop {
            if !self.in_frame {
                let avail = &self.buf[pos..self.end];
                if avail.len() < 2 {
                    break;
                }
                let b0 = avail[0];
                let rsv_ok = if self.rsv1_ok { 0x40 } else { 0 };
                let Some((hlen, len)) = parse_header_rsv(avail, false, rsv_ok)? else {
                    break;
                };
                let opcode = b0 & 0x0F;
                let fin = b0 & 0x80 != 0;
                let rsv1 = b0 & 0x40 != 0;
                if rsv1 && !matches!(opcode, OP_TEXT | OP_BINARY) {
                    return Err(format!(
                        "RSV1 on a frame of opcode {opcode} (only a message's first frame may have it)"
                    ));
                }
                match opcode {
                    OP_CONT => {
                        if self.msg_opcode == 0 {
                            return Err("continuation frame without a message".into());
                        }
                    }
                    OP_TEXT | OP_BINARY => {
                        if self.msg_opcode != 0 {
                            return Err("new data frame inside a fragmented message".into());
                        }
                        if let Expect::Exact { opcode: want, .. }
                        | Expect::Seq { opcode: want, .. } = expect
                        {
                            if opcode != *want {
                                return Err(format!("echo has opcode {opcode}, sent {want}"));
                            }
                        }
                        if rsv1 && matches!(expect, Expect::Seq { .. }) {
                            return Err("compressed message (RSV1) where an uncompressed one \
                                        was due"
                                .into());
                        }
                        self.msg_opcode = opcode;
                        self.msg_rsv1 = rsv1;
                        // a compressed echo cannot be compared as it streams in: it is kept
                        // whole for the caller, as with Collect
                        self.msg_collect = match expect {
                            Expect::Collect => true,
                            Expect::Exact { .. } => rsv1,
                            _ => false,
                        };
                        self.msg_len = 0;
                        self.seq_acc = 0;
                    }
                    OP_CLOSE | OP_PING | OP_PONG => {
                        if !fin || len > 125 {
                            return Err("fragmented or oversized control frame".into());
                        }
                        self.ctrl_len = 0;
                    }
                    _ => return Err(format!("unknown opcode {opcode}")),
                }
                pos += hlen;
                self.in_frame = true;
                self.f_opcode = opcode;
                self.f_fin = fin;
                self.remaining = len;
            }

            let take = (self.end - pos).min(self.remaining.min(usize::MAX as u64) as usize);
            if take > 0 {
                let chunk = &self.buf[pos..pos + take];
                if self.f_opcode >= OP_CLOSE {
                    self.ctrl[self.ctrl_len..self.ctrl_len + take].copy_from_slice(chunk);
                    self.ctrl_len += take;
                } else if self.msg_collect {
                    if self.coll.len() - self.coll_start + take > COLLECT_MAX {
                        return Err(format!(
                            "message of more than {COLLECT_MAX} bytes on the wire"
                        ));
                    }
                    self.coll.extend_from_slice(chunk);
                    self.msg_len += take as u64;
                } else {
                    match expect {
                        Expect::Exact { payload, .. } => {
                            let off = self.msg_len as usize;
                            if off + take > payload.len() {
                                return Err(format!(
                                    "echo longer than the message sent ({} bytes)",
                                    payload.len()
                                ));
                            }
                            if chunk != &payload[off..off + take] {
                                return Err("echo content differs from the message sent".into());
                            }
                        }
                        Expect::Seq { template, .. } => {
                            let off = self.msg_len as usize;
                            if off + take > template.len() {
                                return Err(format!(
                                    "message longer than the {} bytes sent",
                                    template.len()
                                ));
                            }
                            // the sequence number's digits, then the fixed rest
                            let digits = SEQ_DIGITS.saturating_sub(off).min(take);
                            for &b in &chunk[..digits] {
                                if !b.is_ascii_digit() {
                                    return Err("message without a decimal sequence number".into());
                                }
                                self.seq_acc = self.seq_acc * 10 + (b - b'0') as u64;
                            }
                            if chunk[digits..] != template[off + digits..off + take] {
                                return Err("message content differs from the message sent".into());
                            }
                        }
                        Expect::Collect | Expect::Any => {} // (Collect: msg_collect above)
                    }
                    self.msg_len += take as u64;
                }
                pos += take;
                self.remaining -= take as u64;
            }
            if self.remaining > 0 {
                break;
            }

            self.in_frame = false;
            match self.f_opcode {
                OP_CLOSE => {
                    ev.close = Some(if self.ctrl_len >= 2 {
                        u16::from_be_bytes([self.ctrl[0], self.ctrl[1]])
                    } else {
                        1005
                    });
                }
                OP_PING => {
                    ev.ping_buf[..self.ctrl_len].copy_from_slice(&self.ctrl[..self.ctrl_len]);
                    ev.ping = Some(self.ctrl_len);
                }
                OP_PONG => {}
                _ => {
                    if self.f_fin && self.msg_collect {
                        self.coll_msgs.push(Collected {
                            opcode: self.msg_opcode,
                            compressed: self.msg_rsv1,
                            start: self.coll_start,
                            end: self.coll.len(),
                        });
                        self.coll_start = self.coll.len();
                        self.msg_opcode = 0;
                        ev.messages += 1;
                    } else if self.f_fin {
                        match expect {
                            Expect::Exact { payload, .. } => {
                                if self.msg_len != payload.len() as u64 {
                                    return Err(format!(
                                        "echo of {} bytes, sent {}",
                                        self.msg_len,
                                        payload.len()
                                    ));
                                }
                            }
                            Expect::Seq { template, .. } => {
                                if self.msg_len != template.len() as u64 {
                                    return Err(format!(
                                        "message of {} bytes, sent {}",
                                        self.msg_len,
                                        template.len()
                                    ));
                                }
                                if self.seq_acc != self.seq_next {
                                    return Err(format!(
                                        "message {} arrived where {} was due (lost, duplicated \
                                         or out of order)",
                                        self.seq_acc, self.seq_next
                                    ));
                                }
                                self.seq_next += 1;
                            }
                            Expect::Collect | Expect::Any => {}
                        }
                        self.msg_opcode = 0;
                        ev.messages += 1;
                    }
                }
            }
        }
        if pos > 0 {
            self.buf.copy_within(pos..self.end, 0);
            self.end -= pos;
        }
        Ok(())
    }
}

/// Outgoing side of an echo connection. All data frames of a connection are the same bytes, so
/// `frames` holds K copies of the pre-masked frame and "send n more messages" is only arithmetic:
/// no copy and no allocation per message. A control frame (pong) waits for a frame boundary.
pub struct Tx {
    frames: Vec<u8>,
    frame_len: usize,
    pending: u64, // data bytes still to write
    off: usize,   // position inside the current frame, in [0, frame_len)
    ctrl: Vec<u8>,
    ctrl_pos: usize,
}

impl Tx {
    pub fn new(frame: &[u8], copies: usize) -> Self {
        let mut frames = Vec::with_capacity(frame.len() * copies);
        for _ in 0..copies.max(1) {
            frames.extend_from_slice(frame);
        }
        Tx {
            frames,
            frame_len: frame.len(),
            pending: 0,
            off: 0,
            ctrl: Vec::with_capacity(140),
            ctrl_pos: 0,
        }
    }

    pub fn queue_messages(&mut self, n: u64) {
        self.pending += n * self.frame_len as u64;
    }

    pub fn queue_pong(&mut self, payload: &[u8]) {
        if self.ctrl_pos == 0 {
            // replace an unsent pong: only the latest ping needs an answer
            self.ctrl.clear();
            encode_frame(&mut self.ctrl, OP_PONG, payload, random_bytes::<4>());
        }
    }

    /// Writes without waiting; Ok(true) when everything queued went out.
    #[inline]
    pub fn flush(&mut self, s: &TcpStream) -> io::Result<bool> {
        self.flush_with(|b| s.try_write(b))
    }

    /// `flush` through any non-blocking write (`WouldBlock` when it cannot take more); never
    /// called with an empty slice.
    #[inline(always)]
    pub fn flush_with<W: FnMut(&[u8]) -> io::Result<usize>>(
        &mut self,
        mut write: W,
    ) -> io::Result<bool> {
        loop {
            if !self.ctrl.is_empty() && self.off == 0 {
                match write(&self.ctrl[self.ctrl_pos..]) {
                    Ok(n) => {
                        self.ctrl_pos += n;
                        if self.ctrl_pos == self.ctrl.len() {
                            self.ctrl.clear();
                            self.ctrl_pos = 0;
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
            if self.pending == 0 {
                return Ok(self.ctrl.is_empty());
            }
            let n = ((self.frames.len() - self.off) as u64).min(self.pending) as usize;
            match write(&self.frames[self.off..self.off + n]) {
                Ok(w) => {
                    self.pending -= w as u64;
                    self.off = (self.off + w) % self.frame_len;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Closing handshake from the client side: send a close frame (code 1000), then read until the
/// server's close frame and the end of the TCP stream (or `timeout`). Data frames still arriving
/// are ignored.
pub async fn close(mut stream: Stream, mut rx: Rx, timeout: Duration) -> Result<(), String> {
    let fut = async move {
        stream
            .write_all(&close_frame(1000))
            .await
            .map_err(|e| format!("write close: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("write close: {e}"))?;
        let mut ev = Events::new();
        let mut got_close = false;
        loop {
            ev.clear();
            rx.process(&Expect::Any, &mut ev)?;
            if ev.close.is_some() {
                got_close = true;
            }
            let n = match stream.read(rx.space()).await {
                Ok(n) => n,
                // a reset after the server's close frame is still a completed close
                Err(_) if got_close => return Ok(()),
                Err(e) => return Err(format!("read while closing: {e}")),
            };
            if n == 0 {
                return if got_close {
                    Ok(())
                } else {
                    Err("server closed TCP without a close frame".to_string())
                };
            }
            rx.filled(n);
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err("closing handshake timed out".to_string()),
    }
}

/// The header at the start of `avail`: its length (masking key included) and the payload
/// length, or `None` while incomplete. `masked` is what the sender's role requires (clients
/// mask, servers do not); RSV bits and a 64-bit length with the top bit set are refused.
pub fn parse_header(avail: &[u8], masked: bool) -> Result<Option<(usize, u64)>, String> {
    parse_header_rsv(avail, masked, 0)
}

/// `parse_header` accepting the RSV bits in `rsv_ok` (0x40: RSV1, permessage-deflate).
pub fn parse_header_rsv(
    avail: &[u8],
    masked: bool,
    rsv_ok: u8,
) -> Result<Option<(usize, u64)>, String> {
    if avail.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (avail[0], avail[1]);
    if (b1 & 0x80 != 0) != masked {
        return Err(if masked {
            "unmasked frame from a client"
        } else {
            "masked frame from the server"
        }
        .into());
    }
    if b0 & 0x70 & !rsv_ok != 0 {
        return Err(if b0 & 0x40 != 0 && rsv_ok == 0 {
            "RSV1 set in a frame (no extension was agreed)"
        } else {
            "RSV bits set in a frame"
        }
        .into());
    }
    let key = if masked { 4 } else { 0 };
    let (len_bytes, len) = match b1 & 0x7F {
        126 => {
            if avail.len() < 4 {
                return Ok(None);
            }
            (2, u16::from_be_bytes([avail[2], avail[3]]) as u64)
        }
        127 => {
            if avail.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&avail[2..10]);
            let l = u64::from_be_bytes(b);
            if l >> 63 != 0 {
                return Err("64-bit frame length with the top bit set".into());
            }
            (8, l)
        }
        n => (0, n as u64),
    };
    let hlen = 2 + len_bytes + key;
    if avail.len() < hlen {
        return Ok(None);
    }
    Ok(Some((hlen, len)))
}
