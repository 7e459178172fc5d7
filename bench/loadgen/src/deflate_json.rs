//! `loadgen deflate-json`: echo of compressed JSON messages over permessage-deflate.
//!
//!   loadgen deflate-json --url ws://127.0.0.1:PORT/ --conns 50 --inflight 8 --messages N
//!                        [--size 1024] [--docs 64] [--level 1] [--sync]
//!
//! Every connection offers permessage-deflate (deflate::OFFER) and fails unless the 101 accepts
//! it. It then sends text messages, each one of `--docs` different `--size`-byte JSON documents
//! (the connection's own turn through them, starting at its index), compressed by its own raw
//! deflate at `--level` with context takeover (unless the answer said
//! client_no_context_takeover), RSV1 set, keeping `--inflight` unanswered; it inflates every
//! echo with its own inflater (context kept unless server_no_context_takeover) and checks it
//! against the document sent, first in first out. An echo may come back uncompressed (counted
//! apart); compressed echoes count their payload bytes as received on the wire.
//!
//! stdout: `{"connected":C,"errors":e,"agreed":"<the parameters agreed>"}` once every
//! connection is upgraded; with `--sync` it then waits for a line on stdin; after N echoes:
//! `{"messages":N,"seconds":s,"cpu_ticks":t,"server_compressed_msgs":m,
//!   "server_compressed_bytes":b,"server_uncompressed_msgs":u,"client_compressed_bytes":c,
//!   "errors":e[,"first_error":"..."]}`, then every connection is closed with a closing handshake.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::deflate::{self, Agreed, Deflater, Inflater};
use crate::proto::{self, Events, Expect, Rx, Stream};
use crate::{close_all, connect_all};
use crate::{cpu_ticks, json_str, new_rx, stdin_lines, Args, Errors};

struct Shared {
    budget: Cell<u64>, // messages not yet handed to a connection
    received: Cell<u64>,
    inflight: u64,
    srv_z_msgs: Cell<u64>,
    srv_z_bytes: Cell<u64>,
    srv_plain_msgs: Cell<u64>,
    cli_z_bytes: Cell<u64>,
}

impl Shared {
    fn take(&self, want: u64) -> u64 {
        let b = self.budget.get();
        let t = b.min(want);
        self.budget.set(b - t);
        t
    }
    fn add(c: &Cell<u64>, n: u64) {
        c.set(c.get() + n);
    }
}

pub async fn run(args: &Args) -> Result<(), String> {
    let url = args.target()?;
    let conns = args.num("conns", Some(50))?.max(1) as usize;
    let inflight = args.num("inflight", Some(8))?.max(1);
    let size = args.num("size", Some(1024))? as usize;
    let ndocs = args.num("docs", Some(64))?.max(1) as usize;
    let level = args.num("level", Some(1))?.min(9) as u32;
    let messages = args.num("messages", None)?;
    let sync = args.flag("sync");
    let mut stdin = stdin_lines();
    let docs: Rc<Vec<Vec<u8>>> = Rc::new(deflate::json_docs(ndocs, size));
    let errors = Errors::new();

    let mut streams = Vec::with_capacity(conns);
    for (stream, leftover, agreed) in connect_all(&url, conns, true, &errors).await? {
        // connect_opt_deflate fails a connection whose server declined; this cannot be None
        let agreed = agreed.ok_or("the server declined permessage-deflate")?;
        streams.push((stream, leftover, agreed));
    }
    let a = streams[0].2;
    let answer = format!(
        "permessage-deflate{}{}; server_max_window_bits={}; client_max_window_bits={}",
        if a.server_no_context_takeover {
            "; server_no_context_takeover"
        } else {
            ""
        },
        if a.client_no_context_takeover {
            "; client_no_context_takeover"
        } else {
            ""
        },
        a.server_max_window_bits,
        a.client_max_window_bits
    );
    println!(
        "{{\"connected\":{},\"errors\":{},\"agreed\":{}}}",
        streams.len(),
        errors.count.get(),
        json_str(&answer)
    );
    if sync && stdin.recv().await.is_none() {
        return Err("stdin closed before go".to_string());
    }

    let shared = Rc::new(Shared {
        budget: Cell::new(messages),
        received: Cell::new(0),
        inflight,
        srv_z_msgs: Cell::new(0),
        srv_z_bytes: Cell::new(0),
        srv_plain_msgs: Cell::new(0),
        cli_z_bytes: Cell::new(0),
    });
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(streams.len());
    for (i, (mut stream, leftover, agreed)) in streams.into_iter().enumerate() {
        let (shared, docs) = (shared.clone(), docs.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let mut rx = new_rx(64 * 1024, &leftover, true);
            let mut conn = Conn::new(&agreed, level, &docs, i);
            let r = conn.run(&mut stream, &mut rx, &shared).await;
            (stream, rx, r)
        }));
    }
    let mut done = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (stream, rx, r) = t.await.map_err(|e| e.to_string())?;
        match r {
            Ok(()) => done.push((stream, rx)),
            Err(e) => errors.add(e),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let received = shared.received.get();
    if received < messages && errors.count.get() == 0 {
        errors.add(format!("only {received} of {messages} echoes"));
    }
    println!(
        "{{\"messages\":{},\"seconds\":{:.6},\"cpu_ticks\":{},\"server_compressed_msgs\":{},\
         \"server_compressed_bytes\":{},\"server_uncompressed_msgs\":{},\
         \"client_compressed_bytes\":{},\"errors\":{}{}}}",
        received,
        secs,
        cpu_ticks(),
        shared.srv_z_msgs.get(),
        shared.srv_z_bytes.get(),
        shared.srv_plain_msgs.get(),
        shared.cli_z_bytes.get(),
        errors.count.get(),
        errors.json_suffix()
    );

    close_all(done).await;
    Ok(())
}

/// One connection's state: its two codecs, the documents sent and not yet echoed (FIFO), and
/// the buffers reused for every message.
struct Conn<'a> {
    deflater: Deflater,
    inflater: Inflater,
    docs: &'a [Vec<u8>],
    next_doc: usize,
    unanswered: VecDeque<usize>,
    out: Vec<u8>,
    z: Vec<u8>,
    plain: Vec<u8>,
    rng: u64,
}

impl<'a> Conn<'a> {
    fn new(agreed: &Agreed, level: u32, docs: &'a [Vec<u8>], index: usize) -> Conn<'a> {
        let size = docs[0].len();
        Conn {
            deflater: Deflater::new(level, agreed),
            inflater: Inflater::new(agreed),
            docs,
            next_doc: index % docs.len(),
            unanswered: VecDeque::new(),
            out: Vec::with_capacity(16 * 1024),
            z: Vec::with_capacity(size + 64),
            plain: Vec::with_capacity(size + 1024),
            rng: u64::from_ne_bytes(proto::random_bytes::<8>()) | 1,
        }
    }

    /// Compresses and frames `n` more messages into `out`.
    fn queue(&mut self, n: u64, shared: &Shared) -> Result<(), String> {
        for _ in 0..n {
            let d = self.next_doc;
            self.next_doc = (d + 1) % self.docs.len();
            self.z.clear();
            self.deflater.compress(&self.docs[d], &mut self.z)?;
            Shared::add(&shared.cli_z_bytes, self.z.len() as u64);
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let mask = ((self.rng >> 16) as u32).to_ne_bytes();
            proto::encode_frame_b0(&mut self.out, 0x80 | 0x40 | proto::OP_TEXT, &self.z, mask);
            self.unanswered.push_back(d);
        }
        Ok(())
    }

    /// Checks the echoes the parser completed; returns how many.
    fn check_echoes(&mut self, rx: &mut Rx, shared: &Shared) -> Result<u64, String> {
        let (msgs, data) = rx.collected();
        let limit = self.docs[0].len() * 2;
        for m in msgs {
            if m.opcode != proto::OP_TEXT {
                return Err(format!("echo has opcode {}, sent text", m.opcode));
            }
            let want = self
                .unanswered
                .pop_front()
                .ok_or("more echoes than messages sent")?;
            let payload = &data[m.start..m.end];
            let body: &[u8] = if m.compressed {
                Shared::add(&shared.srv_z_msgs, 1);
                Shared::add(&shared.srv_z_bytes, payload.len() as u64);
                self.inflater.inflate(payload, &mut self.plain, limit)?;
                &self.plain
            } else {
                Shared::add(&shared.srv_plain_msgs, 1);
                payload
            };
            if body != &self.docs[want][..] {
                return Err("echo content differs from the message sent".to_string());
            }
        }
        let n = msgs.len() as u64;
        rx.clear_collected();
        Ok(n)
    }

    async fn run(
        &mut self,
        stream: &mut Stream,
        rx: &mut Rx,
        shared: &Shared,
    ) -> Result<(), String> {
        let mut ev = Events::new();
        let first = shared.take(shared.inflight);
        self.queue(first, shared)?;
        loop {
            // what was read (first turn: whatever came with the 101)
            ev.clear();
            rx.process(&Expect::Collect, &mut ev)?;
            if let Some(code) = ev.close {
                return Err(format!("server sent close {code} during echo"));
            }
            if let Some(n) = ev.ping {
                proto::encode_frame(
                    &mut self.out,
                    proto::OP_PONG,
                    &ev.ping_buf[..n],
                    proto::random_bytes::<4>(),
                );
            }
            let got = self.check_echoes(rx, shared)?;
            if got > 0 {
                Shared::add(&shared.received, got);
                let more = shared.take(got);
                self.queue(more, shared)?;
            }
            if !self.out.is_empty() {
                stream
                    .write_all(&self.out)
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                stream.flush().await.map_err(|e| format!("write: {e}"))?;
                self.out.clear();
            }
            if self.unanswered.is_empty() {
                return Ok(()); // the budget is spent and every message was echoed
            }
            let n = stream
                .read(rx.space())
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("server closed the connection during echo".to_string());
            }
            rx.filled(n);
        }
    }
}
