//! loadgen: the WebSocket load generator of the websocket-rs benchmark.
//!
//!   loadgen echo       --url ws://127.0.0.1:PORT/ --conns 50 --inflight 32 --size 64
//!                      --kind text|binary --messages N [--sync]
//!   loadgen fanout     --url ... --receivers 100 --inflight 16 --size 64 [--warmup W]
//!                      --messages N [--sync]
//!   loadgen handshakes --url ... --count N --concurrency C
//!   loadgen idle       --url ... --conns N --hold-secs S [--batch B]
//!                      [--deflate [--level L] [--pause-at K]]
//!   loadgen deflate-json --url ... --conns 50 --inflight 8 --messages N [--size 1024]
//!                      [--docs 64] [--level 1] [--sync]
//!   loadgen serve      --port P [--host 127.0.0.1] [--exit-on-stdin-eof]
//!
//! The client modes also take `wss://` URLs, with `--ca FILE` (PEM) the only trusted CA.
//! `--deflate` (echo, handshakes, idle) offers permessage-deflate in the handshake and fails a
//! connection whose 101 does not accept it; `deflate-json` always does (see deflate.rs).
//!
//! The client modes print JSON lines on stdout (the last one is the result). `serve` is the
//! other way round: an echo server (for the client benchmark) that prints `READY <port>`; see
//! serve.rs. Everything runs on one current_thread Tokio runtime (one core), one task per
//! connection.

mod deflate;
mod deflate_json;
mod proto;
mod serve;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io::BufRead;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::task::LocalSet;
use tokio_rustls::client::TlsStream;

use deflate::{Agreed, Deflater, Inflater};
use proto::{Events, Expect, Rx, Stream, Target, Tx};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

struct Args {
    mode: String,
    opts: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let mode = it.next().ok_or_else(usage)?;
        let mut opts = HashMap::new();
        let mut flags = Vec::new();
        let rest: Vec<String> = it.collect();
        let mut i = 0;
        while i < rest.len() {
            let a = &rest[i];
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a}\n{}", usage()))?;
            if let Some((k, v)) = name.split_once('=') {
                opts.insert(k.to_string(), v.to_string());
            } else if name == "sync" || name == "exit-on-stdin-eof" || name == "deflate" {
                flags.push(name.to_string());
            } else {
                let v = rest
                    .get(i + 1)
                    .ok_or_else(|| format!("--{name} needs a value"))?;
                opts.insert(name.to_string(), v.clone());
                i += 1;
            }
            i += 1;
        }
        Ok(Args { mode, opts, flags })
    }
    fn str(&self, k: &str, default: Option<&str>) -> Result<String, String> {
        match (self.opts.get(k), default) {
            (Some(v), _) => Ok(v.clone()),
            (None, Some(d)) => Ok(d.to_string()),
            (None, None) => Err(format!("--{k} is required\n{}", usage())),
        }
    }
    fn num(&self, k: &str, default: Option<u64>) -> Result<u64, String> {
        match (self.opts.get(k), default) {
            (Some(v), _) => v.parse().map_err(|_| format!("--{k}: not a number: {v}")),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{k} is required\n{}", usage())),
        }
    }
    /// --url, and --ca for wss://
    fn target(&self) -> Result<Target, String> {
        let url = proto::parse_url(&self.str("url", None)?)?;
        Target::new(url, self.opts.get("ca").map(|s| s.as_str()))
    }
    fn flag(&self, k: &str) -> bool {
        self.flags.iter().any(|f| f == k)
    }
}

fn usage() -> String {
    "usage:\n  loadgen echo --url ws://HOST:PORT/ --conns 50 --inflight 32 --size 64 --kind text|binary --messages N [--sync]\n  \
     loadgen fanout --url ws://HOST:PORT/ --receivers 100 [--url2 ws://HOST:PORT2/ --receivers2 100] --inflight 16 --size 64 [--warmup W] --messages N [--sync]\n  \
     loadgen handshakes --url ws://HOST:PORT/ --count N --concurrency C\n  \
     loadgen idle --url ws://HOST:PORT/ --conns N --hold-secs S [--batch 100] [--deflate [--level 1] [--pause-at K]]\n  \
     loadgen deflate-json --url ws://HOST:PORT/ --conns 50 --inflight 8 --messages N [--size 1024] [--docs 64] [--level 1] [--sync]\n  \
     loadgen serve --port P [--host 127.0.0.1] [--exit-on-stdin-eof]\n\
     the client modes take wss://HOST:PORT/ URLs too, with --ca FILE (PEM, the only trusted CA);\n\
     --deflate (echo, handshakes, idle) offers permessage-deflate and requires the server to accept it"
        .to_string()
}

fn main() {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = LocalSet::new();
    let res = local.block_on(&rt, async move {
        match args.mode.as_str() {
            "echo" => echo(&args).await,
            "fanout" => fanout(&args).await,
            "handshakes" => handshakes(&args).await,
            "idle" => idle(&args).await,
            "deflate-json" => deflate_json::run(&args).await,
            "serve" => {
                let host = args.str("host", Some("127.0.0.1"))?;
                let port = args.num("port", Some(0))?;
                let port =
                    u16::try_from(port).map_err(|_| format!("--port: {port} is not a port"))?;
                serve::serve(&host, port, args.flag("exit-on-stdin-eof"), stdin_lines()).await
            }
            m => Err(format!("unknown mode {m}\n{}", usage())),
        }
    });
    if let Err(e) = res {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Lines from stdin, read on a plain thread (stdin cannot be made non-blocking portably);
/// the channel closes at EOF.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// This process's CPU time so far (utime + stime from /proc/self/stat, in clock ticks), so that
/// the runner knows how busy the loadgen was even when it has exited by the time it looks.
fn cpu_ticks() -> u64 {
    let s = match std::fs::read_to_string("/proc/self/stat") {
        Ok(s) => s,
        Err(_) => return 0,
    };
    let rest = match s.rfind(')') {
        Some(i) => &s[i + 2..],
        None => return 0,
    };
    let f: Vec<&str> = rest.split(' ').collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Error bookkeeping shared by the tasks of one run.
struct Errors {
    count: Cell<u64>,
    first: std::cell::RefCell<Option<String>>,
}

impl Errors {
    fn new() -> Rc<Errors> {
        Rc::new(Errors {
            count: Cell::new(0),
            first: std::cell::RefCell::new(None),
        })
    }
    fn add(&self, e: String) {
        self.count.set(self.count.get() + 1);
        let mut f = self.first.borrow_mut();
        if f.is_none() {
            *f = Some(e);
        }
    }
    fn json_suffix(&self) -> String {
        match &*self.first.borrow() {
            Some(e) => format!(",\"first_error\":{}", json_str(e)),
            None => String::new(),
        }
    }
}

/// Connects; with `deflate`, offers permessage-deflate and requires the 101 to accept it
/// (returns what was agreed).
/// Opens `conns` connections at once (offering permessage-deflate when `deflate`) and waits for
/// them all; failures are counted in `errors`, and none opening at all is an error.
pub(crate) async fn connect_all(
    url: &Target,
    conns: usize,
    deflate: bool,
    errors: &Errors,
) -> Result<Vec<(Stream, Vec<u8>, Option<Agreed>)>, String> {
    let mut handles = Vec::with_capacity(conns);
    for _ in 0..conns {
        let url = url.clone();
        handles.push(tokio::task::spawn_local(async move {
            connect_opt_deflate(&url, deflate).await
        }));
    }
    let mut streams = Vec::with_capacity(conns);
    for h in handles {
        match h.await.map_err(|e| e.to_string())? {
            Ok(s) => streams.push(s),
            Err(e) => errors.add(e),
        }
    }
    if streams.is_empty() {
        return Err(format!(
            "no connection could be opened: {}",
            errors.first.borrow().clone().unwrap_or_default()
        ));
    }
    Ok(streams)
}

async fn connect_opt_deflate(
    url: &Target,
    deflate: bool,
) -> Result<(Stream, Vec<u8>, Option<Agreed>), String> {
    if !deflate {
        let (s, leftover) = proto::connect(url, HANDSHAKE_TIMEOUT).await?;
        return Ok((s, leftover, None));
    }
    let (s, leftover, answer) =
        proto::connect_with(url, HANDSHAKE_TIMEOUT, Some(deflate::OFFER)).await?;
    let agreed = deflate::parse_answer(answer.as_deref())?;
    Ok((s, leftover, Some(agreed)))
}

/// A frame parser for a connection, accepting compressed messages if deflate was agreed.
fn new_rx(cap: usize, leftover: &[u8], deflate: bool) -> Rx {
    let rx = Rx::new(cap, leftover);
    if deflate {
        rx.allow_rsv1()
    } else {
        rx
    }
}

// ---------------------------------------------------------------------------------------------
// echo

struct EchoShared {
    budget: Cell<u64>, // messages not yet handed to a connection
    received: Cell<u64>,
    inflight: u64,
    // --deflate: echoes that came back compressed, and their payload bytes on the wire
    compressed: Cell<u64>,
    compressed_bytes: Cell<u64>,
}

/// `echo --deflate`: a connection's inflater, for echoes the server chose to compress (ws does
/// for any size with context takeover; its threshold applies only without it).
struct EchoInflate {
    inflater: Inflater,
    plain: Vec<u8>,
}

impl EchoShared {
    fn take(&self, want: u64) -> u64 {
        let b = self.budget.get();
        let t = b.min(want);
        self.budget.set(b - t);
        t
    }
}

fn make_payload(kind: u8, size: usize) -> Vec<u8> {
    if kind == proto::OP_TEXT {
        const ALPHA: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-";
        (0..size)
            .map(|i| ALPHA[(i * 7 + i / ALPHA.len()) % ALPHA.len()])
            .collect()
    } else {
        // xorshift bytes: every byte value, invalid UTF-8 included
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }
}

async fn echo(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    let conns = args.num("conns", Some(50))?.max(1) as usize;
    let inflight = args.num("inflight", Some(32))?.max(1);
    let size = args.num("size", Some(64))? as usize;
    let kind = match args.str("kind", Some("text"))?.as_str() {
        "text" => proto::OP_TEXT,
        "binary" => proto::OP_BINARY,
        k => return Err(format!("--kind must be text or binary, not {k}")),
    };
    let messages = args.num("messages", None)?;
    let sync = args.flag("sync");
    // --deflate: permessage-deflate negotiated. The messages go uncompressed; an echo may come
    // back compressed (ws compresses every message when context takeover is on, whatever its
    // size): it is inflated, checked and counted
    let deflate = args.flag("deflate");
    let mut stdin = stdin_lines();

    let payload: Rc<Vec<u8>> = Rc::new(make_payload(kind, size));
    let errors = Errors::new();

    // connect everything first (concurrently), then start the clock
    let streams = connect_all(&url, conns, deflate, &errors).await?;
    println!(
        "{{\"connected\":{},\"errors\":{}}}",
        streams.len(),
        errors.count.get()
    );
    if sync {
        // the runner reads the server's CPU counters, then says go
        if stdin.recv().await.is_none() {
            return Err("stdin closed before go".to_string());
        }
    }

    let shared = Rc::new(EchoShared {
        budget: Cell::new(messages),
        received: Cell::new(0),
        inflight,
        compressed: Cell::new(0),
        compressed_bytes: Cell::new(0),
    });
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for (stream, leftover, agreed) in streams {
        let inflate = agreed.map(|a| EchoInflate {
            inflater: Inflater::new(&a),
            plain: Vec::with_capacity(size + 1024),
        });
        let mut frame = Vec::with_capacity(size + 14);
        proto::encode_frame(&mut frame, kind, &payload, proto::random_bytes::<4>());
        // enough copies to write a whole window of small messages in one syscall (≤ 64 KiB)
        let copies = ((64 * 1024) / frame.len()).clamp(1, inflight as usize);
        let tx = Tx::new(&frame, copies);
        let rx = new_rx(64 * 1024, &leftover, deflate);
        let (shared, payload) = (shared.clone(), payload.clone());
        tasks.push(tokio::task::spawn_local(async move {
            // one branch per connection, none per message: the plain loop works on the
            // TcpStream itself, exactly as without TLS support
            match stream {
                Stream::Plain(s) => {
                    let r = echo_conn(&s, rx, tx, &shared, kind, &payload, inflate).await;
                    (Stream::Plain(s), r)
                }
                Stream::Tls(mut s) => {
                    let r = echo_conn_tls(&mut s, rx, tx, &shared, kind, &payload, inflate).await;
                    (Stream::Tls(s), r)
                }
            }
        }));
    }
    let mut done = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (stream, r) = t.await.map_err(|e| e.to_string())?;
        match r {
            Ok(rx) => done.push((stream, rx)),
            Err(e) => errors.add(e),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let received = shared.received.get();
    if received < messages && errors.count.get() == 0 {
        errors.add(format!("only {received} of {messages} echoes"));
    }
    let compressed = if deflate {
        format!(
            ",\"compressed_echoes\":{},\"compressed_bytes\":{}",
            shared.compressed.get(),
            shared.compressed_bytes.get()
        )
    } else {
        String::new()
    };
    println!(
        "{{\"messages\":{},\"seconds\":{:.6},\"cpu_ticks\":{}{},\"errors\":{}{}}}",
        received,
        secs,
        cpu_ticks(),
        compressed,
        errors.count.get(),
        errors.json_suffix()
    );

    // close politely, all at once
    close_all(done).await;
    Ok(())
}

/// Closes every connection politely, all at once, and waits for them.
pub(crate) async fn close_all(done: Vec<(Stream, Rx)>) {
    let mut closers = Vec::with_capacity(done.len());
    for (stream, rx) in done {
        closers.push(tokio::task::spawn_local(proto::close(
            stream,
            rx,
            CLOSE_TIMEOUT,
        )));
    }
    for c in closers {
        let _ = c.await;
    }
}

/// Parses what was read: checks the echoes, answers a ping, and queues one new message per echo
/// (while the budget lasts).
#[inline(always)]
fn on_data(
    rx: &mut Rx,
    tx: &mut Tx,
    ev: &mut Events,
    expect: &Expect,
    outstanding: &mut u64,
    shared: &EchoShared,
    inflate: &mut Option<EchoInflate>,
) -> Result<(), String> {
    ev.clear();
    rx.process(expect, ev)?;
    if let (Some(inf), Expect::Exact { payload, .. }) = (inflate.as_mut(), expect) {
        check_compressed_echoes(rx, inf, payload, shared)?;
    }
    if let Some(code) = ev.close {
        return Err(format!("server sent close {code} during echo"));
    }
    if let Some(n) = ev.ping {
        tx.queue_pong(&ev.ping_buf[..n]);
    }
    if ev.messages > *outstanding {
        return Err("more echoes than messages sent".to_string());
    }
    *outstanding -= ev.messages;
    shared.received.set(shared.received.get() + ev.messages);
    let more = shared.take(ev.messages);
    *outstanding += more;
    tx.queue_messages(more);
    Ok(())
}

/// The echoes the parser kept whole because they came compressed: inflated and compared.
#[cold]
#[inline(never)]
fn check_compressed_echoes(
    rx: &mut Rx,
    inf: &mut EchoInflate,
    payload: &[u8],
    shared: &EchoShared,
) -> Result<(), String> {
    let (msgs, data) = rx.collected();
    if msgs.is_empty() {
        return Ok(());
    }
    for m in msgs {
        let z = &data[m.start..m.end];
        inf.inflater
            .inflate(z, &mut inf.plain, payload.len() + 1024)?;
        if inf.plain != payload {
            return Err("compressed echo differs from the message sent".to_string());
        }
        shared
            .compressed_bytes
            .set(shared.compressed_bytes.get() + z.len() as u64);
    }
    shared
        .compressed
        .set(shared.compressed.get() + msgs.len() as u64);
    rx.clear_collected();
    Ok(())
}

async fn echo_conn(
    stream: &TcpStream,
    mut rx: Rx,
    mut tx: Tx,
    shared: &EchoShared,
    kind: u8,
    payload: &[u8],
    mut inflate: Option<EchoInflate>,
) -> Result<Rx, String> {
    let expect = Expect::Exact {
        opcode: kind,
        payload,
    };
    let mut ev = Events::new();
    let mut outstanding = shared.take(shared.inflight);
    tx.queue_messages(outstanding);
    // frames that arrived together with the 101 (none expected, but do not lose them)
    let mut have_data = true;
    loop {
        if have_data {
            on_data(
                &mut rx,
                &mut tx,
                &mut ev,
                &expect,
                &mut outstanding,
                shared,
                &mut inflate,
            )?;
            have_data = false;
        }
        let all_out = tx.flush(stream).map_err(|e| format!("write: {e}"))?;
        if outstanding == 0 && all_out {
            return Ok(rx);
        }
        let interest = if all_out {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let ready = stream
            .ready(interest)
            .await
            .map_err(|e| format!("poll: {e}"))?;
        if ready.is_readable() || ready.is_read_closed() {
            match stream.try_read(rx.space()) {
                Ok(0) => return Err("server closed the connection during echo".to_string()),
                Ok(n) => {
                    rx.filled(n);
                    have_data = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }
}

/// `echo_conn` over TLS: the same loop, through tokio-rustls's poll functions. Each turn writes
/// what it can (rustls encrypts it into records), pushes the records out (flush), then reads; it
/// waits only when the read would block and the writes are done or blocked too.
async fn echo_conn_tls(
    stream: &mut TlsStream<TcpStream>,
    mut rx: Rx,
    mut tx: Tx,
    shared: &EchoShared,
    kind: u8,
    payload: &[u8],
    mut inflate: Option<EchoInflate>,
) -> Result<Rx, String> {
    let expect = Expect::Exact {
        opcode: kind,
        payload,
    };
    let mut ev = Events::new();
    let mut outstanding = shared.take(shared.inflight);
    tx.queue_messages(outstanding);
    loop {
        // first turn: frames that arrived together with the 101; then what was just read
        on_data(
            &mut rx,
            &mut tx,
            &mut ev,
            &expect,
            &mut outstanding,
            shared,
            &mut inflate,
        )?;
        let done = outstanding == 0;
        // Some(n): n bytes read (0: end of stream); None: everything echoed and written
        let read = poll_fn(|cx| {
            let mut s = Pin::new(&mut *stream);
            let all_out = match tx.flush_with(|b| match s.as_mut().poll_write(cx, b) {
                Poll::Ready(Ok(0)) => Err(std::io::ErrorKind::WriteZero.into()),
                Poll::Ready(r) => r,
                Poll::Pending => Err(std::io::ErrorKind::WouldBlock.into()),
            }) {
                Ok(a) => a,
                Err(e) => return Poll::Ready(Err(format!("write: {e}"))),
            };
            // records rustls holds but could not write yet
            let flushed = match s.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(format!("write: {e}"))),
                Poll::Pending => false,
            };
            if done && all_out && flushed {
                return Poll::Ready(Ok(None));
            }
            let mut buf = ReadBuf::new(rx.space());
            match s.as_mut().poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(Some(buf.filled().len()))),
                Poll::Ready(Err(e)) => Poll::Ready(Err(format!("read: {e}"))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        match read {
            None => return Ok(rx),
            Some(0) => return Err("server closed the connection during echo".to_string()),
            Some(n) => rx.filled(n),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// fanout
//
// One sender and R receivers on the same server, which broadcasts every message it receives to
// all its connections, the sender's included: every message must reach all R + 1 connections.
// Messages are `--size` bytes of text: a 16-digit decimal sequence number (0, 1, 2, ... over the
// whole run), then fixed filler. Every connection checks each message it gets (text, length,
// filler) and that its sequence number is the next one due on that connection, so a message lost,
// duplicated or reordered on any connection is an error. A message is delivered when all R + 1
// connections have it; the sender keeps at most --inflight messages sent but not delivered.
//
// stdout: after connecting and the warm-up (W messages, same checks):
//   {"connected": R+1, "receivers": R, "warmup": W, "errors": e}
// then (with --sync, after a line on stdin) N more messages and
//   {"messages": N, "deliveries": N*(R+1), "connections": R+1, "seconds": s, "cpu_ticks": t,
//    "sender_writes": w, "reads": r, "errors": e[, "first_error": "..."]}
// (sender_writes: write calls of the sender, reads: reads of all connections, in the measured
// phase) and then every connection is closed with a closing handshake.

const FAN_STALL: Duration = Duration::from_secs(10);

/// Delivery bookkeeping shared by the connections of a fanout run (one thread).
struct Fan {
    conns: u64,  // connections every message must reach (receivers + sender)
    window: u64, // --inflight
    // counts[s % window]: connections that have message s, for s in [completed, sent)
    counts: RefCell<Vec<u64>>,
    sent: Cell<u64>,
    completed: Cell<u64>,
    reads: Cell<u64>,
    failed: Cell<bool>,
    progress: Notify, // completed advanced, or a connection failed
}

impl Fan {
    /// One connection got messages [from, to), in order (its parser checked that).
    fn received(&self, from: u64, to: u64) -> Result<(), String> {
        let sent = self.sent.get();
        if to > sent {
            return Err(format!("message {} arrived before it was sent", to - 1));
        }
        let w = self.window;
        let mut counts = self.counts.borrow_mut();
        for s in from..to {
            counts[(s % w) as usize] += 1;
        }
        let mut c = self.completed.get();
        while c < sent && counts[(c % w) as usize] == self.conns {
            counts[(c % w) as usize] = 0;
            c += 1;
        }
        if c != self.completed.get() {
            self.completed.set(c);
            self.progress.notify_one();
        }
        Ok(())
    }

    fn fail(&self) {
        self.failed.set(true);
        self.progress.notify_one();
    }
}

/// Parses what a connection read and books the messages it completed; answers a ping.
async fn fan_on_data(
    stream: &mut Stream,
    rx: &mut Rx,
    ev: &mut Events,
    expect: &Expect<'_>,
    fan: &Fan,
) -> Result<(), String> {
    ev.clear();
    let before = rx.seq_next;
    rx.process(expect, ev)?;
    if rx.seq_next > before {
        fan.received(before, rx.seq_next)?;
    }
    if let Some(code) = ev.close {
        return Err(format!("server sent close {code} during fanout"));
    }
    if ev.ping.is_some() {
        answer_ping(stream, ev, &mut Vec::with_capacity(140)).await?;
    }
    Ok(())
}

/// A receiving connection: reads until it has all `total` messages.
async fn fan_receiver(
    mut stream: Stream,
    mut rx: Rx,
    fan: &Fan,
    template: &[u8],
    total: u64,
) -> Result<(Stream, Rx), String> {
    let expect = Expect::Seq {
        opcode: proto::OP_TEXT,
        template,
    };
    let mut ev = Events::new();
    loop {
        // first turn: frames that arrived together with the 101
        fan_on_data(&mut stream, &mut rx, &mut ev, &expect, fan).await?;
        if rx.seq_next == total {
            return Ok((stream, rx));
        }
        let n = stream
            .read(rx.space())
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed a connection during fanout".to_string());
        }
        fan.reads.set(fan.reads.get() + 1);
        rx.filled(n);
    }
}

/// The sending connection (which receives every message too): sends messages until `target`
/// have been sent, keeping at most `fan.window` undelivered, and returns once all are delivered
/// (or a connection failed, or nothing moved for FAN_STALL). Returns the number of writes.
#[allow(clippy::too_many_arguments)]
async fn fan_send(
    stream: &mut Stream,
    rx: &mut Rx,
    fan: &Fan,
    template: &[u8],
    scratch: &mut [u8],
    out: &mut Vec<u8>,
    rng: &mut u64,
    target: u64,
    errors: &Errors,
) -> Result<u64, String> {
    let expect = Expect::Seq {
        opcode: proto::OP_TEXT,
        template,
    };
    let mut ev = Events::new();
    let mut writes = 0u64;
    let mut last_progress = (fan.completed.get(), Instant::now());
    loop {
        if fan.failed.get() {
            return Err(errors
                .first
                .borrow()
                .clone()
                .unwrap_or_else(|| "a connection failed".to_string()));
        }
        let completed = fan.completed.get();
        if completed >= target {
            return Ok(writes);
        }
        if completed != last_progress.0 {
            last_progress = (completed, Instant::now());
        }
        // top the window up: all the messages it has room for, in one write
        let sent = fan.sent.get();
        let upto = target.min(completed + fan.window);
        if upto > sent {
            out.clear();
            for seq in sent..upto {
                let mut v = seq;
                for d in scratch[..proto::SEQ_DIGITS].iter_mut().rev() {
                    *d = b'0' + (v % 10) as u8;
                    v /= 10;
                }
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                let mask = ((*rng >> 16) as u32).to_ne_bytes();
                proto::encode_frame(out, proto::OP_TEXT, scratch, mask);
            }
            // booked before the write: the echoes of the first frames can come back before
            // write_all returns
            fan.sent.set(upto);
            stream
                .write_all(out)
                .await
                .map_err(|e| format!("write: {e}"))?;
            stream.flush().await.map_err(|e| format!("write: {e}"))?;
            writes += 1;
            continue; // the write may have let other connections run
        }
        let stall = tokio::time::sleep_until((last_progress.1 + FAN_STALL).into());
        tokio::select! {
            r = stream.read(rx.space()) => {
                let n = r.map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("server closed the sender's connection during fanout".to_string());
                }
                fan.reads.set(fan.reads.get() + 1);
                rx.filled(n);
                fan_on_data(stream, rx, &mut ev, &expect, fan).await?;
            }
            _ = fan.progress.notified() => {}
            _ = stall => {
                let c = fan.completed.get();
                let have = fan.counts.borrow()[(c % fan.window) as usize];
                return Err(format!(
                    "stalled for {} s: message {c} reached {have} of {} connections",
                    FAN_STALL.as_secs(),
                    fan.conns
                ));
            }
        }
    }
}

async fn fanout(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    // --url2 U --receivers2 N: N more receivers on a second server (topics across processes);
    // the sender stays on --url
    let url2 = match args.opts.get("url2") {
        Some(u) => Some(Target::new(
            proto::parse_url(u)?,
            args.opts.get("ca").map(|s| s.as_str()),
        )?),
        None => None,
    };
    let receivers2 = if url2.is_some() {
        args.num("receivers2", Some(100))?
    } else {
        0
    };
    let receivers = args.num("receivers", Some(100))? + receivers2;
    let inflight = args.num("inflight", Some(16))?.max(1);
    let size = args.num("size", Some(64))? as usize;
    if !(proto::SEQ_DIGITS..=65536).contains(&size) {
        return Err(format!(
            "--size must be {}..65536 (the message starts with a {}-digit sequence number)",
            proto::SEQ_DIGITS,
            proto::SEQ_DIGITS
        ));
    }
    let warmup = args.num("warmup", Some(0))?;
    let messages = args.num("messages", None)?;
    let sync = args.flag("sync");
    let mut stdin = stdin_lines();
    let conns = receivers + 1;
    let total = warmup + messages;

    // the fixed part of every message; bytes [0, SEQ_DIGITS) are the sequence number
    let mut template = make_payload(proto::OP_TEXT, size);
    template[..proto::SEQ_DIGITS].fill(b'0');
    let template: Rc<Vec<u8>> = Rc::new(template);
    let errors = Errors::new();
    let fan = Rc::new(Fan {
        conns,
        window: inflight,
        counts: RefCell::new(vec![0; inflight as usize]),
        sent: Cell::new(0),
        completed: Cell::new(0),
        reads: Cell::new(0),
        failed: Cell::new(false),
        progress: Notify::new(),
    });

    // every connection (the last one is the sender) is upgraded before anything is sent
    let mut handles = Vec::with_capacity(conns as usize);
    for i in 0..conns {
        let url = match &url2 {
            Some(u2) if i < receivers2 => u2.clone(),
            _ => url.clone(),
        };
        handles.push(tokio::task::spawn_local(async move {
            proto::connect(&url, HANDSHAKE_TIMEOUT).await
        }));
    }
    let mut streams = Vec::with_capacity(conns as usize);
    for h in handles {
        match h.await.map_err(|e| e.to_string())? {
            Ok(s) => streams.push(s),
            Err(e) => errors.add(e),
        }
    }
    let fail_line = |key: &str, n: u64| {
        println!(
            "{{\"{key}\":{n},\"errors\":{}{}}}",
            errors.count.get().max(1),
            errors.json_suffix()
        );
        std::process::exit(1);
    };
    if errors.count.get() > 0 {
        fail_line("connected", streams.len() as u64);
    }
    let (mut sender, leftover) = streams.pop().expect("at least one connection");
    let mut sender_rx = Rx::new(64 * 1024, &leftover);
    let mut tasks = Vec::with_capacity(receivers as usize);
    for (stream, leftover) in streams {
        let (fan, template, errors) = (fan.clone(), template.clone(), errors.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let rx = Rx::new(64 * 1024, &leftover);
            let r = fan_receiver(stream, rx, &fan, &template, total).await;
            if let Err(e) = &r {
                errors.add(e.clone());
                fan.fail();
            }
            r
        }));
    }

    let mut scratch = template.to_vec();
    let mut out = Vec::with_capacity((size + 14) * inflight as usize);
    let mut rng = u64::from_ne_bytes(proto::random_bytes::<8>()) | 1;
    macro_rules! send {
        ($target:expr) => {
            fan_send(
                &mut sender,
                &mut sender_rx,
                &fan,
                &template,
                &mut scratch,
                &mut out,
                &mut rng,
                $target,
                &errors,
            )
            .await
        };
    }

    // warm-up: the same job on the same connections, not measured
    if let Err(e) = send!(warmup) {
        if errors.count.get() == 0 {
            errors.add(e);
        }
        fail_line("connected", conns);
    }
    println!(
        "{{\"connected\":{conns},\"receivers\":{receivers},\"warmup\":{warmup},\"errors\":0}}"
    );
    if sync {
        // the runner reads the server's CPU counters, then says go
        if stdin.recv().await.is_none() {
            return Err("stdin closed before go".to_string());
        }
    }

    let reads0 = fan.reads.get();
    let start = Instant::now();
    let writes = match send!(total) {
        Ok(w) => w,
        Err(e) => {
            if errors.count.get() == 0 {
                errors.add(e);
            }
            fail_line("messages", fan.completed.get().saturating_sub(warmup));
            unreachable!()
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let reads = fan.reads.get() - reads0;
    let ticks = cpu_ticks();

    // every receiver has every message by now (delivered = all connections have it)
    let mut done = vec![(sender, sender_rx)];
    for t in tasks {
        match t.await.map_err(|e| e.to_string())? {
            Ok(d) => done.push(d),
            Err(e) => errors.add(e),
        }
    }
    if errors.count.get() > 0 {
        fail_line("messages", messages);
    }
    println!(
        "{{\"messages\":{messages},\"deliveries\":{},\"connections\":{conns},\"seconds\":{secs:.6},\
         \"cpu_ticks\":{ticks},\"sender_writes\":{writes},\"reads\":{reads},\"errors\":0}}",
        messages * conns
    );

    // close politely, all at once
    close_all(done).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// handshakes

async fn handshakes(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    let count = args.num("count", None)?;
    let concurrency = args.num("concurrency", Some(50))?.max(1);
    let deflate = args.flag("deflate");
    let next = Rc::new(Cell::new(0u64));
    let ok = Rc::new(Cell::new(0u64));
    let errors = Errors::new();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(count.max(1)) {
        let (url, next, ok, errors) = (url.clone(), next.clone(), ok.clone(), errors.clone());
        workers.push(tokio::task::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= count {
                    break;
                }
                next.set(i + 1);
                let r = async {
                    let (stream, leftover, _) = connect_opt_deflate(&url, deflate).await?;
                    proto::close(stream, new_rx(1024, &leftover, deflate), CLOSE_TIMEOUT).await
                }
                .await;
                match r {
                    Ok(()) => ok.set(ok.get() + 1),
                    Err(e) => errors.add(e),
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())?;
    }
    println!(
        "{{\"handshakes\":{},\"seconds\":{:.6},\"cpu_ticks\":{},\"errors\":{}{}}}",
        ok.get(),
        start.elapsed().as_secs_f64(),
        cpu_ticks(),
        errors.count.get(),
        errors.json_suffix()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// idle

struct Shutdown {
    flag: Cell<bool>,
    notify: Notify,
}

async fn idle(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    let conns = args.num("conns", None)?;
    let hold = Duration::from_secs(args.num("hold-secs", Some(60))?);
    let batch = args.num("batch", Some(100))?.max(1);
    // --deflate: permessage-deflate negotiated, and each connection sends one compressed
    // --size-byte JSON document (of --docs, in turn) and checks its echo before it goes idle
    let deflate = args.flag("deflate");
    let level = args.num("level", Some(1))?.min(9) as u32;
    let docs: Rc<Vec<Vec<u8>>> = Rc::new(if deflate {
        deflate::json_docs(
            args.num("docs", Some(64))?.max(1) as usize,
            args.num("size", Some(1024))? as usize,
        )
    } else {
        Vec::new()
    });
    // --pause-at K: once K connections are open, print {"paused":K,...} and wait for a line on
    // stdin before opening the rest (the runner measures the server's memory at K too)
    let pause_at = args.num("pause-at", Some(0))?;
    let mut paused = false;
    let mut paused_for = Duration::ZERO; // not counted in "seconds"
    let mut stdin = stdin_lines();
    let errors = Errors::new();
    let shutdown = Rc::new(Shutdown {
        flag: Cell::new(false),
        notify: Notify::new(),
    });
    let start = Instant::now();

    // ramp up in batches: each batch is fully upgraded before the next starts, so the server's
    // accept backlog never sees more than `batch` connections at once
    let mut holders = Vec::with_capacity(conns as usize);
    let mut opened = 0u64;
    while opened + errors.count.get() < conns {
        let n = batch.min(conns - opened - errors.count.get());
        let mut hs = Vec::with_capacity(n as usize);
        for k in 0..n {
            let (url, docs) = (url.clone(), docs.clone());
            let doc = (opened + k) as usize;
            hs.push(tokio::task::spawn_local(async move {
                let (mut stream, leftover, agreed) = connect_opt_deflate(&url, deflate).await?;
                let mut rx = new_rx(512, &leftover, deflate);
                if let Some(agreed) = agreed {
                    let doc = &docs[doc % docs.len()];
                    exchange_one(&mut stream, &mut rx, &agreed, doc, level).await?;
                }
                Ok::<_, String>((stream, rx))
            }));
        }
        for h in hs {
            match h.await.map_err(|e| e.to_string())? {
                Ok((stream, rx)) => {
                    opened += 1;
                    let (shutdown, errors) = (shutdown.clone(), errors.clone());
                    holders.push(tokio::task::spawn_local(async move {
                        if let Err(e) = idle_conn(stream, rx, &shutdown).await {
                            errors.add(e);
                        }
                    }));
                }
                Err(e) => errors.add(e),
            }
        }
        if errors.count.get() > conns / 10 + 10 {
            break; // the server is refusing; report what we have
        }
        if pause_at > 0 && !paused && opened >= pause_at && opened < conns {
            paused = true;
            println!(
                "{{\"paused\":{},\"seconds\":{:.6},\"errors\":{}{}}}",
                opened,
                start.elapsed().as_secs_f64(),
                errors.count.get(),
                errors.json_suffix()
            );
            let t = Instant::now();
            let _ = stdin.recv().await;
            paused_for = t.elapsed();
        }
    }
    println!(
        "{{\"open\":{},\"seconds\":{:.6},\"errors\":{}{}}}",
        opened,
        (start.elapsed() - paused_for).as_secs_f64(),
        errors.count.get(),
        errors.json_suffix()
    );

    // hold until stdin closes (or says anything) or the time is up
    let _ = tokio::time::timeout(hold, stdin.recv()).await;
    shutdown.flag.set(true);
    shutdown.notify.notify_waiters();
    let before = errors.count.get();
    for h in holders {
        let _ = h.await;
    }
    println!(
        "{{\"closed\":{},\"errors\":{}{}}}",
        opened - (errors.count.get() - before).min(opened),
        errors.count.get(),
        errors.json_suffix()
    );
    Ok(())
}

/// Answers the latest ping `ev` saw with a pong carrying its payload (reusing `pong`).
async fn answer_ping(stream: &mut Stream, ev: &Events, pong: &mut Vec<u8>) -> Result<(), String> {
    if let Some(n) = ev.ping {
        pong.clear();
        proto::encode_frame(
            pong,
            proto::OP_PONG,
            &ev.ping_buf[..n],
            proto::random_bytes::<4>(),
        );
        stream
            .write_all(pong)
            .await
            .map_err(|e| format!("write pong: {e}"))?;
        stream
            .flush()
            .await
            .map_err(|e| format!("write pong: {e}"))?;
    }
    Ok(())
}

async fn idle_conn(stream: Stream, rx: Rx, shutdown: &Shutdown) -> Result<(), String> {
    let mut stream = stream;
    let mut rx = rx;
    let mut ev = Events::new();
    let mut pong = Vec::with_capacity(140);
    loop {
        ev.clear();
        rx.process(&Expect::Any, &mut ev)?;
        if let Some(code) = ev.close {
            return Err(format!("server closed an idle connection ({code})"));
        }
        answer_ping(&mut stream, &ev, &mut pong).await?;
        if shutdown.flag.get() {
            break;
        }
        // (read is cancel-safe, plain and TLS: bytes already taken in stay in the stream)
        tokio::select! {
            r = stream.read(rx.space()) => {
                match r {
                    Ok(0) => return Err("server closed an idle connection".to_string()),
                    Ok(n) => rx.filled(n),
                    Err(e) => return Err(format!("read: {e}")),
                }
            }
            _ = shutdown.notify.notified() => {}
        }
    }
    proto::close(stream, rx, CLOSE_TIMEOUT).await
}

/// `idle --deflate`: one compressed message and its echo on a new connection (the codecs are
/// dropped afterwards: the loadgen keeps no zlib state for an idle connection).
async fn exchange_one(
    stream: &mut Stream,
    rx: &mut Rx,
    agreed: &Agreed,
    doc: &[u8],
    level: u32,
) -> Result<(), String> {
    let mut z = Vec::with_capacity(doc.len() + 64);
    Deflater::new(level, agreed).compress(doc, &mut z)?;
    let mut frame = Vec::with_capacity(z.len() + 14);
    proto::encode_frame_b0(
        &mut frame,
        0x80 | 0x40 | proto::OP_TEXT,
        &z,
        proto::random_bytes::<4>(),
    );
    stream
        .write_all(&frame)
        .await
        .map_err(|e| format!("write: {e}"))?;
    stream.flush().await.map_err(|e| format!("write: {e}"))?;
    let mut ev = Events::new();
    let mut plain = Vec::with_capacity(doc.len() + 1024);
    let mut inflater = Inflater::new(agreed);
    let mut pong = Vec::new();
    loop {
        ev.clear();
        rx.process(&Expect::Collect, &mut ev)?;
        if let Some(code) = ev.close {
            return Err(format!("server sent close {code} before the echo"));
        }
        answer_ping(stream, &ev, &mut pong).await?;
        let (msgs, data) = rx.collected();
        if let Some(m) = msgs.first() {
            if msgs.len() > 1 {
                return Err("more echoes than messages sent".to_string());
            }
            if m.opcode != proto::OP_TEXT {
                return Err(format!("echo has opcode {}, sent text", m.opcode));
            }
            if !m.compressed {
                return Err("the echo of a 1 KiB message came back uncompressed".to_string());
            }
            inflater.inflate(&data[m.start..m.end], &mut plain, doc.len() * 2)?;
            if plain != doc {
                return Err("echo content differs from the message sent".to_string());
            }
            rx.clear_collected();
            return Ok(());
        }
        let n = stream
            .read(rx.space())
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("server closed the connection before the echo".to_string());
        }
        rx.filled(n);
    }
}
