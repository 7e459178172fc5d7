//! `loadgen serve`: the fixed WebSocket echo server of the client benchmark (bench/run.js,
//! scenario `client64`). The client under test is measured, so this side must stay cheap and
//! never be the bottleneck:
//!
//! - one current_thread Tokio runtime, one task per connection, readiness-driven I/O;
//! - every read (up to 64 KiB) is parsed in place and all the echoes it contains are appended
//!   to one output buffer, written with one syscall: a batch of 32 client messages costs one
//!   read and one write;
//! - payloads are streamed: each chunk is unmasked straight into the output buffer as it
//!   arrives, so a 1 MiB frame costs no more memory than a 64-byte one.
//!
//! Protocol: the opening handshake (GET, `Upgrade: websocket`, `Sec-WebSocket-Version: 13`,
//! `Sec-WebSocket-Key`; no subprotocol, no extension is ever accepted), client frames must be
//! masked (else close 1002), RSV bits must be clear, text and binary frames are echoed unmasked
//! with the same opcode and FIN bit (so fragmentation is preserved), pings are answered with
//! pongs, a close frame is answered with a close frame carrying the same code, then the server
//! half-closes and waits for the client's FIN. Text is not checked for valid UTF-8: the server
//! echoes bytes, the client verifies them.
//!
//! stdin: a `stats` line prints one JSON line with counters; with `--exit-on-stdin-eof` the
//! server exits when stdin closes (so it never outlives the runner).

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::proto::{self, parse_header, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const READ_BUF: usize = 64 * 1024;
/// Stop reading while this much output is waiting for the client to read it.
const OUT_HIGH_WATER: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Stats {
    accepted: Cell<u64>,
    open: Cell<u64>,
    messages: Cell<u64>,
    bytes: Cell<u64>,
    closed_clean: Cell<u64>,
    dropped: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
}

impl Stats {
    fn error(&self, e: String) {
        self.errors.set(self.errors.get() + 1);
        let mut f = self.first_error.borrow_mut();
        if f.is_none() {
            *f = Some(e);
        }
    }
    fn json(&self) -> String {
        let first = match &*self.first_error.borrow() {
            Some(e) => format!(",\"first_error\":{}", crate::json_str(e)),
            None => String::new(),
        };
        format!(
            "{{\"echo_stats\":true,\"accepted\":{},\"open\":{},\"messages\":{},\"bytes\":{},\
             \"closed_clean\":{},\"dropped\":{},\"errors\":{}{}}}",
            self.accepted.get(),
            self.open.get(),
            self.messages.get(),
            self.bytes.get(),
            self.closed_clean.get(),
            self.dropped.get(),
            self.errors.get(),
            first
        )
    }
}

enum ConnError {
    /// The peer broke the protocol (counted as an error).
    Proto(String),
    /// The connection went away without a closing handshake (reset, EOF): counted as dropped.
    Gone,
}

pub async fn serve(
    host: &str,
    port: u16,
    exit_on_eof: bool,
    mut stdin: mpsc::UnboundedReceiver<String>,
) -> Result<(), String> {
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("bind {host}:{port}: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    println!("READY {port}");
    let stats = Rc::new(Stats::default());
    let mut stdin_open = true;
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    stats.accepted.set(stats.accepted.get() + 1);
                    stats.open.set(stats.open.get() + 1);
                    let stats = stats.clone();
                    tokio::task::spawn_local(async move {
                        match connection(stream, &stats).await {
                            Ok(()) => stats.closed_clean.set(stats.closed_clean.get() + 1),
                            Err(ConnError::Gone) => stats.dropped.set(stats.dropped.get() + 1),
                            Err(ConnError::Proto(e)) => stats.error(e),
                        }
                        stats.open.set(stats.open.get() - 1);
                    });
                }
                Err(e) => {
                    // EMFILE and the like: do not spin
                    eprintln!("loadgen serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            line = stdin.recv(), if stdin_open => match line {
                Some(l) => {
                    if l.trim() == "stats" {
                        println!("{}", stats.json());
                    }
                }
                None => {
                    if exit_on_eof {
                        return Ok(());
                    }
                    stdin_open = false;
                }
            },
        }
    }
}

async fn connection(mut stream: TcpStream, stats: &Stats) -> Result<(), ConnError> {
    let leftover = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream)).await {
        Ok(r) => r?,
        Err(_) => return Err(ConnError::Proto("handshake timed out".to_string())),
    };
    let mut e = Echo::new(&leftover);
    let r = echo_loop(&stream, &mut e, stats).await;
    if let Err(ConnError::Proto(_)) = &r {
        // tell the client why (best effort) before dropping the connection
        let mut out = Vec::with_capacity(4);
        push_header(&mut out, 0x80 | OP_CLOSE, 2);
        out.extend_from_slice(&1002u16.to_be_bytes());
        let _ = stream.try_write(&out);
        return r;
    }
    r?;
    // the close was answered and flushed: half-close, then wait for the client's FIN
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
    Ok(())
}

/// Reads the HTTP upgrade request and answers 101 (or 400). Returns the bytes that followed the
/// request head (frames the client sent right away).
async fn handshake(stream: &mut TcpStream) -> Result<Vec<u8>, ConnError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.map_err(|_| ConnError::Gone)?;
        if n == 0 {
            return Err(ConnError::Gone);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Err(reject(stream, "request head too long").await);
        }
    };
    let head = match std::str::from_utf8(&buf[..head_end]) {
        Ok(h) => h,
        Err(_) => return Err(reject(stream, "non-UTF-8 request head").await),
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    if !request_line.starts_with("GET ") || !request_line.ends_with(" HTTP/1.1") {
        let msg = format!("not a GET HTTP/1.1 request: {request_line}");
        return Err(reject(stream, &msg).await);
    }
    let (mut key, mut upgrade, mut version) = (None, false, false);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("sec-websocket-key") {
                key = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("upgrade") {
                upgrade = value.eq_ignore_ascii_case("websocket");
            } else if name.eq_ignore_ascii_case("sec-websocket-version") {
                version = value == "13";
            }
        }
    }
    let key = match key {
        Some(k) if upgrade && version => k,
        _ => {
            let msg =
                "not a WebSocket upgrade (Upgrade, Sec-WebSocket-Version 13, Sec-WebSocket-Key)";
            return Err(reject(stream, msg).await);
        }
    };
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        proto::accept_key(&key)
    );
    stream
        .write_all(resp.as_bytes())
        .await
        .map_err(|_| ConnError::Gone)?;
    Ok(buf[head_end..].to_vec())
}

async fn reject(stream: &mut TcpStream, why: &str) -> ConnError {
    let _ = stream
        .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .await;
    ConnError::Proto(why.to_string())
}

/// Per-connection frame state: a read buffer parsed in place and the output buffer the echoes
/// are appended to.
struct Echo {
    inb: Vec<u8>,
    end: usize,
    out: Vec<u8>,
    out_pos: usize,
    // the frame being received
    in_frame: bool,
    opcode: u8,
    fin: bool,
    remaining: u64,
    mask: [u8; 4],
    mask_off: usize,
    // a fragmented data message is in progress
    in_message: bool,
    ctrl: [u8; 125],
    ctrl_len: usize,
    // a close frame was received and its answer queued
    closing: bool,
}

impl Echo {
    fn new(initial: &[u8]) -> Echo {
        let mut inb = vec![0u8; READ_BUF.max(initial.len())];
        inb[..initial.len()].copy_from_slice(initial);
        Echo {
            inb,
            end: initial.len(),
            out: Vec::with_capacity(READ_BUF + 1024),
            out_pos: 0,
            in_frame: false,
            opcode: 0,
            fin: false,
            remaining: 0,
            mask: [0; 4],
            mask_off: 0,
            in_message: false,
            ctrl: [0; 125],
            ctrl_len: 0,
            closing: false,
        }
    }

    /// Consumes every complete header and every payload byte in the read buffer, appending the
    /// echoes to `out`; a partial header (< 14 bytes) is moved to the front. Returns the number
    /// of complete data messages seen.
    fn process(&mut self) -> Result<u64, String> {
        let mut pos = 0usize;
        let mut messages = 0u64;
        while !self.closing {
            if !self.in_frame {
                let avail = &self.inb[pos..self.end];
                if avail.len() < 2 {
                    break;
                }
                let b0 = avail[0];
                let Some((full, len)) = parse_header(avail, true)? else {
                    break;
                };
                let hlen = full - 4;
                let opcode = b0 & 0x0F;
                let fin = b0 & 0x80 != 0;
                match opcode {
                    OP_CONT => {
                        if !self.in_message {
                            return Err("continuation frame without a message".into());
                        }
                    }
                    OP_TEXT | OP_BINARY => {
                        if self.in_message {
                            return Err("new data frame inside a fragmented message".into());
                        }
                    }
                    OP_CLOSE | OP_PING | OP_PONG => {
                        if !fin || len > 125 {
                            return Err("fragmented or oversized control frame".into());
                        }
                        self.ctrl_len = 0;
                    }
                    _ => return Err(format!("unknown opcode {opcode}")),
                }
                self.mask.copy_from_slice(&avail[hlen..hlen + 4]);
                pos += hlen + 4;
                if opcode < OP_CLOSE {
                    // data: the echo's header goes out now, its payload as it arrives
                    push_header(&mut self.out, b0 & 0x8F, len);
                    self.in_message = !fin;
                }
                self.in_frame = true;
                self.opcode = opcode;
                self.fin = fin;
                self.remaining = len;
                self.mask_off = 0;
            }

            let take = (self.end - pos).min(self.remaining.min(usize::MAX as u64) as usize);
            if take > 0 {
                let chunk = &self.inb[pos..pos + take];
                if self.opcode >= OP_CLOSE {
                    let dst = &mut self.ctrl[self.ctrl_len..self.ctrl_len + take];
                    for (i, (d, s)) in dst.iter_mut().zip(chunk).enumerate() {
                        *d = s ^ self.mask[(self.mask_off + i) & 3];
                    }
                    self.ctrl_len += take;
                } else {
                    unmask_into(&mut self.out, chunk, self.mask, self.mask_off);
                }
                self.mask_off = (self.mask_off + take) & 3;
                pos += take;
                self.remaining -= take as u64;
            }
            if self.remaining > 0 {
                break;
            }

            self.in_frame = false;
            match self.opcode {
                OP_PING => {
                    push_header(&mut self.out, 0x80 | OP_PONG, self.ctrl_len as u64);
                    self.out.extend_from_slice(&self.ctrl[..self.ctrl_len]);
                }
                OP_PONG => {}
                OP_CLOSE => {
                    if self.ctrl_len == 1 {
                        return Err("close frame with a 1-byte payload".into());
                    }
                    // answer with the same code (no reason), or an empty close
                    let n = self.ctrl_len.min(2);
                    push_header(&mut self.out, 0x80 | OP_CLOSE, n as u64);
                    self.out.extend_from_slice(&self.ctrl[..n]);
                    self.closing = true;
                }
                _ => {
                    if self.fin {
                        messages += 1;
                    }
                }
            }
        }
        if pos > 0 {
            self.inb.copy_within(pos..self.end, 0);
            self.end -= pos;
        }
        Ok(messages)
    }

    fn pending_out(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes what it can without waiting.
    fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match stream.try_write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        } else if self.out_pos > READ_BUF {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        Ok(())
    }
}

/// Returns Ok(()) once a close frame was received and the answer fully written.
async fn echo_loop(stream: &TcpStream, e: &mut Echo, stats: &Stats) -> Result<(), ConnError> {
    // frames that came with the request head
    let mut have_data = e.end > 0;
    loop {
        if have_data {
            let n = e.process().map_err(ConnError::Proto)?;
            if n > 0 {
                stats.messages.set(stats.messages.get() + n);
            }
            have_data = false;
        }
        let before = e.pending_out();
        e.flush(stream).map_err(|_| ConnError::Gone)?;
        stats
            .bytes
            .set(stats.bytes.get() + (before - e.pending_out()) as u64);
        let pending = e.pending_out() > 0;
        if e.closing && !pending {
            return Ok(());
        }
        let want_read = !e.closing && e.pending_out() < OUT_HIGH_WATER;
        let interest = match (want_read, pending) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (true, false) => Interest::READABLE,
            (false, _) => Interest::WRITABLE,
        };
        let ready = stream.ready(interest).await.map_err(|_| ConnError::Gone)?;
        if want_read && (ready.is_readable() || ready.is_read_closed()) {
            let end = e.end;
            match stream.try_read(&mut e.inb[end..]) {
                Ok(0) => return Err(ConnError::Gone),
                Ok(n) => {
                    e.end += n;
                    have_data = true;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(ConnError::Gone),
            }
        }
    }
}

/// Appends an unmasked server frame header.
fn push_header(out: &mut Vec<u8>, b0: u8, len: u64) {
    out.push(b0);
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends `src` XORed with the mask, starting at byte `off` of the mask; 8 bytes at a time.
fn unmask_into(out: &mut Vec<u8>, src: &[u8], mask: [u8; 4], off: usize) {
    let m = [
        mask[off & 3],
        mask[(off + 1) & 3],
        mask[(off + 2) & 3],
        mask[(off + 3) & 3],
    ];
    let k = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let start = out.len();
    out.resize(start + src.len(), 0);
    let dst = &mut out[start..];
    let mut dc = dst.chunks_exact_mut(8);
    let mut sc = src.chunks_exact(8);
    for (d, s) in (&mut dc).zip(&mut sc) {
        let v = u64::from_ne_bytes(s.try_into().unwrap()) ^ k;
        d.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, (d, s)) in dc
        .into_remainder()
        .iter_mut()
        .zip(sc.remainder())
        .enumerate()
    {
        *d = s ^ m[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut v = Vec::new();
        push_header(&mut v, b0, payload.len() as u64);
        v[1] |= 0x80;
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        v
    }

    fn feed(e: &mut Echo, bytes: &[u8]) -> u64 {
        let mut total = 0;
        // in awkward pieces, to exercise partial headers and split payloads
        for piece in bytes.chunks(7) {
            e.inb[e.end..e.end + piece.len()].copy_from_slice(piece);
            e.end += piece.len();
            total += e.process().unwrap();
        }
        total
    }

    #[test]
    fn echoes_unmasked_with_fragments_ping_and_close() {
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 31) as u8).collect();
        let mut input = client_frame(0x80 | OP_BINARY, &payload, [1, 2, 3, 4]);
        input.extend(client_frame(OP_TEXT, b"hel", [9, 8, 7, 6]));
        input.extend(client_frame(0x80 | OP_PING, b"p", [5, 5, 5, 5]));
        input.extend(client_frame(0x80 | OP_CONT, b"lo", [0xff, 0, 0xff, 0]));
        input.extend(client_frame(
            0x80 | OP_CLOSE,
            &1000u16.to_be_bytes(),
            [7, 7, 7, 7],
        ));
        let mut e = Echo::new(&[]);
        assert_eq!(feed(&mut e, &input), 2);
        assert!(e.closing);
        let mut want = Vec::new();
        push_header(&mut want, 0x80 | OP_BINARY, 300);
        want.extend_from_slice(&payload);
        push_header(&mut want, OP_TEXT, 3);
        want.extend_from_slice(b"hel");
        push_header(&mut want, 0x80 | OP_PONG, 1);
        want.extend_from_slice(b"p");
        push_header(&mut want, 0x80 | OP_CONT, 2);
        want.extend_from_slice(b"lo");
        push_header(&mut want, 0x80 | OP_CLOSE, 2);
        want.extend_from_slice(&1000u16.to_be_bytes());
        assert_eq!(e.out, want);
    }

    #[test]
    fn rejects_unmasked_frames() {
        let mut e = Echo::new(&[0x81, 0x01, b'x']);
        assert!(e.process().is_err());
    }
}
