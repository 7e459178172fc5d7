//! An adopted TCP connection: the socket, the sans-IO connection it drives, and the task on the
//! runtime thread that reads, waits for writability and runs the timers.
//!
//! Writes happen on whichever thread has bytes to send: the JS thread writes its corked sends
//! at the end of a batch without a thread hop (`flush`), and hands over to the task only when
//! the socket would block. The `core` mutex orders the two writers.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::protocol::connection::{Connection, Event, TransportEnd, TransportGoal};

use super::tcp::{describe_error, SocketInfo};

/// Received message bytes waiting for the JS thread above which a connection stops reading:
/// a slow JS handler slows its peer down instead of growing a queue without bound.
pub(crate) const UNDELIVERED_LIMIT: usize = 1024 * 1024;

/// Read from the socket in steps of at least this many bytes.
const READ_CHUNK: usize = 16 * 1024;

/// Bytes read in one go before the task lets other connections run.
const READ_BUDGET: usize = 256 * 1024;

/// Where a connection's events go: the JS thread's batch queue.
pub(crate) trait EventSink: Send + Sync {
    /// Queues `events` of `conn` for delivery on the JS thread (and wakes it if needed).
    fn push(&self, conn: &Arc<ConnShared>, events: &mut Vec<Event>);
    /// The connection's task is over and its socket closed; nothing follows.
    fn finished(&self, conn: &Arc<ConnShared>);
}

/// The part of a connection both threads touch, behind one lock.
pub(crate) struct ConnCore {
    pub(crate) conn: Connection,
    /// The task owns writing until the socket drains (the JS thread must only queue).
    task_writing: bool,
    paused: bool,
    shut_down: bool,
    /// The environment is going away: close without producing events.
    killed: bool,
    /// An error the JS thread hit while writing, for the task to act on.
    write_error: Option<String>,
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
    events: Vec<Event>,
}

/// One adopted connection.
pub(crate) struct ConnShared {
    pub(crate) id: u32,
    core: Mutex<ConnCore>,
    wake: Notify,
    stream: TcpStream,
    sink: Arc<dyn EventSink>,
    /// Bytes of received messages queued for JS and not yet delivered.
    undelivered: AtomicUsize,
    /// Registered for the JS thread's next flush.
    pub(crate) dirty: AtomicBool,
    pub(crate) info: SocketInfo,
}

impl ConnShared {
    /// Wraps an adopted socket; [`run`] must then be spawned on the runtime.
    pub(crate) fn new(
        id: u32,
        conn: Connection,
        stream: TcpStream,
        info: SocketInfo,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        ConnShared {
            id,
            core: Mutex::new(ConnCore {
                conn,
                task_writing: false,
                paused: false,
                shut_down: false,
                killed: false,
                write_error: None,
                bytes_read: 0,
                bytes_written: 0,
                events: Vec::new(),
            }),
            wake: Notify::new(),
            stream,
            sink,
            undelivered: AtomicUsize::new(0),
            dirty: AtomicBool::new(false),
            info,
        }
    }

    /// Locks the connection. A panic elsewhere must not make every later call fail, so a
    /// poisoned lock is taken over as it is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ConnCore> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the connection, then hands any events it produced to the sink.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut ConnCore) -> R) -> R {
        let mut core = self.lock();
        let r = f(&mut core);
        self.emit(&mut core);
        r
    }

    fn emit(self: &Arc<Self>, core: &mut ConnCore) {
        if !core.conn.has_events() || core.killed {
            return;
        }
        let mut events = std::mem::take(&mut core.events);
        core.conn.take_events(&mut events);
        let bytes: usize = events.iter().map(event_bytes).sum();
        if bytes > 0 {
            self.undelivered.fetch_add(bytes, Ordering::Relaxed);
        }
        self.sink.push(self, &mut events);
        events.clear();
        core.events = events;
    }

    /// The JS thread delivered events carrying `bytes` message bytes: reading may resume.
    pub(crate) fn delivered(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.undelivered.fetch_sub(bytes, Ordering::Relaxed);
        if before >= UNDELIVERED_LIMIT && before - bytes < UNDELIVERED_LIMIT {
            self.wake.notify_one();
        }
    }

    /// Writes queued bytes now, from the JS thread (end of a batch, or a microtask after sends
    /// made outside one). What would block is left to the task.
    pub(crate) fn flush(self: &Arc<Self>) {
        self.dirty.store(false, Ordering::Relaxed);
        let mut core = self.lock();
        if core.task_writing || core.killed {
            return;
        }
        if let Err(e) = self.write_now(&mut core) {
            core.write_error = Some(e);
        }
        let hand_over = core.task_writing
            || core.write_error.is_some()
            || core.conn.transport_goal() != TransportGoal::Open;
        self.emit(&mut core);
        drop(core);
        if hand_over {
            self.wake.notify_one();
        }
    }

    /// Stops or resumes reading the socket (`pause()` / `resume()`).
    pub(crate) fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
        self.wake.notify_one();
    }

    /// Closes the socket without producing events: the JS environment is going away.
    pub(crate) fn kill(&self) {
        self.lock().killed = true;
        self.wake.notify_one();
    }

    /// The socket, for options such as `setNoDelay`.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes as much of the queue as the socket takes without blocking, with one vectored
    /// write per round (frame headers and zero-copy payload chunks together).
    fn write_now(&self, core: &mut ConnCore) -> Result<(), String> {
        loop {
            let result = {
                let mut pieces: [&[u8]; 16] = [&[]; 16];
                let n = core.conn.wire_slices(&mut pieces);
                if n == 0 {
                    core.task_writing = false;
                    return Ok(());
                }
                let iov: [IoSlice<'_>; 16] = std::array::from_fn(|i| IoSlice::new(pieces[i]));
                if n == 1 {
                    self.stream.try_write(pieces[0])
                } else {
                    self.stream.try_write_vectored(&iov[..n])
                }
            };
            match result {
                Ok(n) => {
                    core.bytes_written += n as u64;
                    core.conn.written(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    core.task_writing = true;
                    return Ok(());
                }
                Err(e) => return Err(describe_error("write", &e)),
            }
        }
    }
}

/// Message bytes an event carries, for the undelivered-bytes limit.
fn event_bytes(e: &Event) -> usize {
    match e {
        Event::Text(b) | Event::Binary(b) | Event::Frame { payload: b, .. } => b.len(),
        _ => 0,
    }
}

/// Bytes an event accounts for in [`ConnShared::delivered`].
pub(crate) fn delivered_bytes(e: &Event) -> usize {
    event_bytes(e)
}

/// What ended the task's wait.
enum Woke {
    Notified,
    Io(io::Result<tokio::io::Ready>),
    Timer,
}

fn core_deadline(shared: &ConnShared) -> Option<Instant> {
    shared.lock().conn.poll_timeout()
}

/// What the task waits for in one turn of its loop.
struct Wants {
    read: bool,
    write: bool,
    deadline: Option<Instant>,
}

/// The connection's task: reads, writes what the JS thread could not, runs timers, and closes
/// the socket when the connection is over. `head` holds bytes received before adoption.
pub(crate) async fn run(shared: Arc<ConnShared>, head: BytesMut) {
    let mut rbuf = head;
    if !rbuf.is_empty() {
        shared.with(|core| core.conn.receive(&mut rbuf, Instant::now()));
    }
    // The timer is boxed and made only when the connection has a deadline: a connection
    // without keepalive or close timer carries none in its task.
    let mut sleep: Option<Pin<Box<Sleep>>> = None;
    let mut armed: Option<Instant> = None;
    let mut eof = false;

    let end = loop {
        let wants = {
            let mut core = shared.lock();
            if core.killed {
                break None;
            }
            if let Some(e) = core.write_error.take() {
                break Some(TransportEnd::Error(e));
            }
            if let Err(e) = shared.write_now(&mut core) {
                break Some(TransportEnd::Error(e));
            }
            match core.conn.transport_goal() {
                TransportGoal::Close => break Some(TransportEnd::Local),
                TransportGoal::HalfClose if !core.task_writing && !core.shut_down => {
                    core.shut_down = true;
                    let _ = socket2::SockRef::from(&shared.stream).shutdown(Shutdown::Write);
                }
                _ => {}
            }
            if eof {
                break Some(TransportEnd::Eof);
            }
            shared.emit(&mut core);
            Wants {
                read: !core.paused
                    && shared.undelivered.load(Ordering::Relaxed) < UNDELIVERED_LIMIT,
                write: core.task_writing,
                deadline: core.conn.poll_timeout(),
            }
        };
        // Re-arm the timer only when the connection needs it earlier than it is set for: the
        // keepalive deadline moves with every message, and a late wake-up just re-checks.
        if let Some(d) = wants.deadline {
            if armed.is_none_or(|a| d < a) {
                armed = Some(d);
                let at = tokio::time::Instant::from_std(d);
                match sleep.as_mut() {
                    Some(s) => s.as_mut().reset(at),
                    None => sleep = Some(Box::pin(tokio::time::sleep_until(at))),
                }
            }
        }
        // One readiness wait for both directions keeps the task's state small (it is memory
        // every idle connection holds).
        let interest = match (wants.read, wants.write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        };
        let woke = tokio::select! {
            biased;
            _ = shared.wake.notified() => Woke::Notified,
            r = shared.stream.ready(interest.unwrap_or(Interest::READABLE)), if interest.is_some() => {
                Woke::Io(r)
            }
            _ = async {
                if let Some(s) = sleep.as_mut() {
                    s.as_mut().await;
                }
            }, if armed.is_some() => Woke::Timer,
        };
        match woke {
            Woke::Notified => {}
            Woke::Io(Ok(ready)) if ready.is_readable() || ready.is_read_closed() => {
                match read_some(&shared, &mut rbuf) {
                    Ok(got_eof) => eof = got_eof,
                    Err(e) => break Some(TransportEnd::Error(e)),
                }
            }
            // Writable: the top of the loop writes.
            Woke::Io(Ok(_)) => {}
            Woke::Io(Err(e)) => break Some(TransportEnd::Error(describe_error("read", &e))),
            Woke::Timer => {
                armed = None;
                let now = Instant::now();
                shared.with(|core| core.conn.handle_timeout(now));
                if core_deadline(&shared).is_none() {
                    sleep = None;
                }
            }
        }
    };

    let mut core = shared.lock();
    if let Some(end) = end {
        // A last write without waiting: a close frame or close reply queued at the end.
        let _ = shared.write_now(&mut core);
        core.conn.transport_closed(end);
        shared.emit(&mut core);
    }
    let killed = core.killed;
    drop(core);
    let _ = socket2::SockRef::from(&shared.stream).shutdown(Shutdown::Both);
    if !killed {
        shared.sink.finished(&shared);
    }
}

/// Reads what the socket has (up to a budget) and feeds it to the connection. Returns whether
/// the peer closed its side.
fn read_some(shared: &Arc<ConnShared>, rbuf: &mut BytesMut) -> Result<bool, String> {
    let mut total = 0;
    let mut eof = false;
    loop {
        let want = {
            let core = shared.lock();
            core.conn.payload_needed(rbuf.len())
        };
        rbuf.reserve(want.clamp(READ_CHUNK, 4 * 1024 * 1024));
        match shared.stream.try_read_buf(rbuf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => {
                total += n;
                let now = Instant::now();
                shared.with(|core| {
                    core.bytes_read += n as u64;
                    core.conn.receive(rbuf, now);
                });
                if total >= READ_BUDGET || shared.lock().paused {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(describe_error("read", &e)),
        }
    }
    // An idle connection keeps no read buffer (DESIGN.md §2, memory).
    if rbuf.is_empty() {
        *rbuf = BytesMut::new();
    }
    Ok(eof)
}
