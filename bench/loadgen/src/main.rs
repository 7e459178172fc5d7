//! loadgen: the WebSocket load generator of the websocket-rs benchmark.
//!
//!   loadgen echo       --url ws://127.0.0.1:PORT/ --conns 50 --inflight 32 --size 64
//!                      --kind text|binary --messages N [--sync]
//!   loadgen handshakes --url ... --count N --concurrency C
//!   loadgen idle       --url ... --conns N --hold-secs S [--batch B]
//!   loadgen serve      --port P [--host 127.0.0.1] [--exit-on-stdin-eof]
//!
//! The client modes also take `wss://` URLs, with `--ca FILE` (PEM) the only trusted CA.
//!
//! The client modes print JSON lines on stdout (the last one is the result). `serve` is the
//! other way round: an echo server (for the client benchmark) that prints `READY <port>`; see
//! serve.rs. Everything runs on one current_thread Tokio runtime (one core), one task per
//! connection.

mod proto;
mod serve;

use std::cell::Cell;
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
            } else if name == "sync" || name == "exit-on-stdin-eof" {
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
     loadgen handshakes --url ws://HOST:PORT/ --count N --concurrency C\n  \
     loadgen idle --url ws://HOST:PORT/ --conns N --hold-secs S [--batch 100]\n  \
     loadgen serve --port P [--host 127.0.0.1] [--exit-on-stdin-eof]\n\
     the client modes take wss://HOST:PORT/ URLs too, with --ca FILE (PEM, the only trusted CA)"
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
            "handshakes" => handshakes(&args).await,
            "idle" => idle(&args).await,
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

// ---------------------------------------------------------------------------------------------
// echo

struct EchoShared {
    budget: Cell<u64>, // messages not yet handed to a connection
    received: Cell<u64>,
    inflight: u64,
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
    let mut stdin = stdin_lines();

    let payload: Rc<Vec<u8>> = Rc::new(make_payload(kind, size));
    let errors = Errors::new();

    // connect everything first (concurrently), then start the clock
    let mut handles = Vec::with_capacity(conns);
    for _ in 0..conns {
        let url = url.clone();
        handles.push(tokio::task::spawn_local(async move {
            proto::connect(&url, HANDSHAKE_TIMEOUT).await
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
    });
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for (stream, leftover) in streams {
        let mut frame = Vec::with_capacity(size + 14);
        proto::encode_frame(&mut frame, kind, &payload, proto::random_bytes::<4>());
        // enough copies to write a whole window of small messages in one syscall (≤ 64 KiB)
        let copies = ((64 * 1024) / frame.len()).clamp(1, inflight as usize);
        let tx = Tx::new(&frame, copies);
        let rx = Rx::new(64 * 1024, &leftover);
        let (shared, payload) = (shared.clone(), payload.clone());
        tasks.push(tokio::task::spawn_local(async move {
            // one branch per connection, none per message: the plain loop works on the
            // TcpStream itself, exactly as without TLS support
            match stream {
                Stream::Plain(s) => {
                    let r = echo_conn(&s, rx, tx, &shared, kind, &payload).await;
                    (Stream::Plain(s), r)
                }
                Stream::Tls(mut s) => {
                    let r = echo_conn_tls(&mut s, rx, tx, &shared, kind, &payload).await;
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
    println!(
        "{{\"messages\":{},\"seconds\":{:.6},\"cpu_ticks\":{},\"errors\":{}{}}}",
        received,
        secs,
        cpu_ticks(),
        errors.count.get(),
        errors.json_suffix()
    );

    // close politely, all at once
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
    Ok(())
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
) -> Result<(), String> {
    ev.clear();
    rx.process(expect, ev)?;
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

async fn echo_conn(
    stream: &TcpStream,
    mut rx: Rx,
    mut tx: Tx,
    shared: &EchoShared,
    kind: u8,
    payload: &[u8],
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
            on_data(&mut rx, &mut tx, &mut ev, &expect, &mut outstanding, shared)?;
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
        on_data(&mut rx, &mut tx, &mut ev, &expect, &mut outstanding, shared)?;
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
// handshakes

async fn handshakes(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    let count = args.num("count", None)?;
    let concurrency = args.num("concurrency", Some(50))?.max(1);
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
                    let (stream, leftover) = proto::connect(&url, HANDSHAKE_TIMEOUT).await?;
                    proto::close(stream, Rx::new(1024, &leftover), CLOSE_TIMEOUT).await
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
        for _ in 0..n {
            let url = url.clone();
            hs.push(tokio::task::spawn_local(async move {
                proto::connect(&url, HANDSHAKE_TIMEOUT).await
            }));
        }
        for h in hs {
            match h.await.map_err(|e| e.to_string())? {
                Ok((stream, leftover)) => {
                    opened += 1;
                    let (shutdown, errors) = (shutdown.clone(), errors.clone());
                    holders.push(tokio::task::spawn_local(async move {
                        if let Err(e) = idle_conn(stream, leftover, &shutdown).await {
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
    }
    println!(
        "{{\"open\":{},\"seconds\":{:.6},\"errors\":{}{}}}",
        opened,
        start.elapsed().as_secs_f64(),
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

async fn idle_conn(stream: Stream, leftover: Vec<u8>, shutdown: &Shutdown) -> Result<(), String> {
    let mut stream = stream;
    let mut rx = Rx::new(512, &leftover);
    let mut ev = Events::new();
    let mut pong = Vec::with_capacity(140);
    loop {
        ev.clear();
        rx.process(&Expect::Any, &mut ev)?;
        if let Some(code) = ev.close {
            return Err(format!("server closed an idle connection ({code})"));
        }
        if let Some(n) = ev.ping {
            pong.clear();
            proto::encode_frame(
                &mut pong,
                proto::OP_PONG,
                &ev.ping_buf[..n],
                proto::random_bytes::<4>(),
            );
            stream
                .write_all(&pong)
                .await
                .map_err(|e| format!("write pong: {e}"))?;
            stream
                .flush()
                .await
                .map_err(|e| format!("write pong: {e}"))?;
        }
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
