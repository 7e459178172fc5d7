//! An adopted TCP connection: the socket, the sans-IO connection it drives, and the turn the
//! runtime's driver gives it to read, wait for writability and run timers (see `driver`).
//!
//! Writes happen on whichever thread has bytes to send: the JS thread writes its corked sends
//! at the end of a batch without a thread hop (`flush`), and hands over to the driver only when
//! the socket would block. The `core` mutex orders the two writers.

use std::io::{self, IoSlice};
use std::mem::ManuallyDrop;
use std::mem::MaybeUninit;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Instant;

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::protocol::connection::{Connection, Event, TransportEnd, TransportGoal};

use super::driver;
use super::tcp::{describe_error, SocketInfo};

/// Received message bytes waiting for the JS thread above which a connection stops reading:
/// a slow JS handler slows its peer down instead of growing a queue without bound.
pub(crate) const UNDELIVERED_LIMIT: usize = 1024 * 1024;

/// Read from the socket in steps of at least this many bytes.
const READ_CHUNK: usize = 16 * 1024;

/// Bytes read in one turn before the driver moves on to other connections.
const READ_BUDGET: usize = 256 * 1024;

/// Where a connection's events go: the JS thread's batch queue.
pub(crate) trait EventSink: Send + Sync {
    /// Queues `events` of `conn` for delivery on the JS thread (and wakes it if needed).
    fn push(&self, conn: &Arc<ConnShared>, events: &mut Vec<Event>);
    /// The connection is over and its socket closed; nothing follows.
    fn finished(&self, conn: &Arc<ConnShared>);
    /// A bridged connection needs the JS thread: output to write, a transport goal to act on,
    /// or reading to resume.
    fn service(&self, conn: &Arc<ConnShared>);
}

/// What carries a connection's bytes.
pub(crate) enum Transport {
    /// An adopted socket, read and written here.
    Tcp(TcpStream),
    /// A socket Node keeps (TLS, a proxy tunnel, any duplex stream): JS feeds what it reads
    /// (`feed`) and writes what [`ConnShared::take_output`] hands it.
    Bridge,
}

/// Bits of the status a bridged connection reports to JS (see [`ConnShared::bridge_status`]).
pub(crate) mod status {
    /// The transport goal, in the low three bits: 0 open, 1 half-close, 2 close when flushed,
    /// 3 close now, 4 linger (half-close, read and discard until the peer ends).
    pub const GOAL_MASK: u32 = 7;
    /// Stop reading: JS has not consumed enough of what was delivered.
    pub const READ_BLOCKED: u32 = 8;
    /// More output waits after what was handed over.
    pub const MORE_OUTPUT: u32 = 16;
}

/// The part of a connection both threads touch, behind one lock.
pub(crate) struct ConnCore {
    pub(crate) conn: Connection,
    /// The driver owns writing until the socket drains (the JS thread must only queue).
    driver_writing: bool,
    paused: bool,
    shut_down: bool,
    /// The environment is going away: close without producing events.
    killed: bool,
    /// An error the JS thread hit while writing, for the driver to act on.
    write_error: Option<Box<str>>,
    pub(crate) bytes_read: u64,
    pub(crate) bytes_written: u64,
}

/// State only the driver touches (its lock is never contended).
struct IoState {
    /// Received bytes not yet consumed; empty and unallocated while idle.
    rbuf: BytesMut,
    /// The deadline the driver's timer holds for this connection.
    armed: Option<Instant>,
    eof: bool,
    finished: bool,
}

/// One adopted connection.
///
/// Memory choice: a connection is not a task. Its waker is a weak reference to itself, so
/// while idle it costs this struct and the socket's registration, and no task state
/// (docs/ARCHITECTURE.md, "Memory and lifetime": 10,000 idle connections).
pub(crate) struct ConnShared {
    pub(crate) id: u32,
    core: Mutex<ConnCore>,
    io: Mutex<IoState>,
    /// In the driver's run queue.
    pub(crate) queued: AtomicBool,
    /// A bridged connection's `service` call waits in the sink's queue (one at a time, so
    /// that output is taken in the order JS writes it).
    service_queued: AtomicBool,
    /// Set when the connection ends (with `IoState::finished`), readable without the lock.
    over: AtomicBool,
    transport: Transport,
    sink: Arc<dyn EventSink>,
    /// Bytes of received messages queued for JS and not yet delivered.
    undelivered: AtomicUsize,
    /// Registered for the JS thread's next flush.
    pub(crate) dirty: AtomicBool,
    pub(crate) info: SocketInfo,
}

impl ConnShared {
    /// Wraps an adopted socket; [`ConnShared::start`] then hands it to the driver.
    pub(crate) fn new(
        id: u32,
        conn: Connection,
        transport: Transport,
        info: SocketInfo,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        ConnShared {
            id,
            core: Mutex::new(ConnCore {
                conn,
                driver_writing: false,
                paused: false,
                shut_down: false,
                killed: false,
                write_error: None,
                bytes_read: 0,
                bytes_written: 0,
            }),
            io: Mutex::new(IoState {
                rbuf: BytesMut::new(),
                armed: None,
                eof: false,
                finished: false,
            }),
            queued: AtomicBool::new(false),
            service_queued: AtomicBool::new(false),
            over: AtomicBool::new(false),
            transport,
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
        // The connection's event list leaves with the events: an idle connection keeps none.
        let mut events = Vec::new();
        core.conn.take_events(&mut events);
        let bytes: usize = events.iter().map(event_bytes).sum();
        if bytes > 0 {
            self.undelivered.fetch_add(bytes, Ordering::Relaxed);
        }
        self.sink.push(self, &mut events);
    }

    /// The JS thread delivered events carrying `bytes` message bytes: reading may resume.
    pub(crate) fn delivered(self: &Arc<Self>, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let before = self.undelivered.fetch_sub(bytes, Ordering::Relaxed);
        if before >= UNDELIVERED_LIMIT && before - bytes < UNDELIVERED_LIMIT {
            self.schedule();
        }
    }

    /// Writes queued bytes now, from the JS thread (end of a batch, or a microtask after sends
    /// made outside one). What would block is left to the driver.
    pub(crate) fn flush(self: &Arc<Self>) {
        self.dirty.store(false, Ordering::Relaxed);
        if self.is_bridged() {
            // a close() or drop() may have set a timer
            self.arm_timer();
            self.request_service();
            return;
        }
        let mut core = self.lock();
        if core.driver_writing || core.killed {
            return;
        }
        if let Err(e) = self.write_now(&mut core, false) {
            core.write_error = Some(e.into_boxed_str());
        }
        // messages left to compress go to the runtime thread (see `DEFER_MIN`)
        let hand_over = core.driver_writing
            || core.write_error.is_some()
            || core.conn.has_deferred()
            || core.conn.transport_goal() != TransportGoal::Open;
        self.emit(&mut core);
        drop(core);
        if hand_over {
            self.schedule();
        }
    }

    /// The events before a protocol violation have been delivered (see
    /// `Event::FailAfterDelivery`): fails the connection, its close frame queued after the
    /// replies those events caused, and writes.
    pub(crate) fn fail_after_delivery(self: &Arc<Self>, code: u16, reason: &str) {
        let now = Instant::now();
        self.with(|core| core.conn.fail_after_delivery(code, reason, now));
        self.flush();
    }

    /// Stops or resumes reading the socket (`pause()` / `resume()`).
    pub(crate) fn set_paused(self: &Arc<Self>, paused: bool) {
        self.lock().paused = paused;
        self.schedule();
    }

    /// Closes the socket without producing events: the JS environment is going away.
    pub(crate) fn kill(self: &Arc<Self>) {
        self.lock().killed = true;
        self.schedule();
    }

    /// Starts the connection (`head` holds bytes received before adoption) with a first turn
    /// right here on the adopting thread: it registers for readiness without waking the
    /// runtime thread, a context switch per handshake saved.
    pub(crate) fn start(self: &Arc<Self>, head: BytesMut) {
        self.io_state().rbuf = head;
        let waker = self.waker();
        let mut cx = Context::from_waker(&waker);
        match self.turn(&mut cx, Instant::now()) {
            Turn::Wait(Some(at)) => driver::add_timer(at, self),
            Turn::Again => self.schedule(),
            Turn::Wait(None) | Turn::Finished => {}
        }
    }

    /// Puts the connection in the driver's run queue (once, however often it is woken).
    pub(crate) fn schedule(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            driver::enqueue(self.clone());
        }
    }

    fn io_state(&self) -> MutexGuard<'_, IoState> {
        self.io.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The adopted socket, for options such as `setNoDelay` (none when bridged).
    pub(crate) fn stream(&self) -> Option<&TcpStream> {
        match &self.transport {
            Transport::Tcp(s) => Some(s),
            Transport::Bridge => None,
        }
    }

    /// Asks the JS thread to serve a bridged connection's socket, unless already asked or the
    /// connection is over.
    pub(crate) fn request_service(self: &Arc<Self>) {
        if self.is_over() {
            return;
        }
        if !self.service_queued.swap(true, Ordering::AcqRel) {
            self.sink.service(self);
        }
    }

    /// True once the connection has ended (its `GONE` is queued or delivered): its id may then
    /// belong to a new connection, so nothing more may be delivered under it.
    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// The JS thread takes up a service request (before taking the output).
    pub(crate) fn service_taken(&self) {
        self.service_queued.store(false, Ordering::Release);
    }

    /// True when JS owns the socket and this connection only runs the protocol.
    pub(crate) fn is_bridged(&self) -> bool {
        matches!(self.transport, Transport::Bridge)
    }

    /// Writes as much of the queue as the socket takes without blocking, with one vectored
    /// write per round (frame headers and zero-copy payload chunks together). `compress`: this
    /// thread may compress messages waiting for it (the runtime thread).
    fn write_now(&self, core: &mut ConnCore, compress: bool) -> Result<(), String> {
        let Transport::Tcp(stream) = &self.transport else {
            return Ok(());
        };
        loop {
            let result = {
                let mut pieces: [&[u8]; MAX_IOV] = [&[]; MAX_IOV];
                let n = core.conn.wire_slices(&mut pieces, compress);
                if n == 0 {
                    core.driver_writing = false;
                    return Ok(());
                }
                if n == 1 {
                    stream.try_write(pieces[0])
                } else {
                    let mut iov = [MaybeUninit::<IoSlice<'_>>::uninit(); MAX_IOV];
                    for (slot, piece) in iov.iter_mut().zip(&pieces[..n]) {
                        slot.write(IoSlice::new(piece));
                    }
                    // SAFETY: the first `n` entries were written just above.
                    let iov = unsafe { std::slice::from_raw_parts(iov.as_ptr().cast(), n) };
                    stream.try_write_vectored(iov)
                }
            };
            match result {
                Ok(n) => {
                    core.bytes_written += n as u64;
                    core.conn.written(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    core.driver_writing = true;
                    return Ok(());
                }
                Err(e) => return Err(describe_error("write", &e)),
            }
        }
    }
}

/// Pieces (frame headers, payload chunks) per vectored write: a 1 MiB message sent in the
/// original's default 16 KiB fragments is 128 of them, so it goes out in one syscall.
const MAX_IOV: usize = 128;

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

/// A connection's waker: a weak reference to the connection, made into a `Waker` with no
/// allocation of its own. Weak, because the socket's registration keeps the last waker, and a
/// strong reference there would keep the connection (and the socket) alive forever.
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` came from `Weak::into_raw` of a `Weak<ConnShared>` this waker owns; it is
    // borrowed here (not dropped) and a new reference is made for the clone.
    let weak = ManuallyDrop::new(unsafe { Weak::from_raw(data.cast::<ConnShared>()) });
    RawWaker::new(Weak::into_raw((*weak).clone()).cast(), &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: as in `waker_clone`; waking by value consumes the waker's reference.
    let weak = unsafe { Weak::from_raw(data.cast::<ConnShared>()) };
    if let Some(conn) = weak.upgrade() {
        conn.schedule();
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: as in `waker_clone`; the reference is only borrowed.
    let weak = ManuallyDrop::new(unsafe { Weak::from_raw(data.cast::<ConnShared>()) });
    if let Some(conn) = weak.upgrade() {
        conn.schedule();
    }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: as in `waker_clone`; dropping the waker releases its reference.
    drop(unsafe { Weak::from_raw(data.cast::<ConnShared>()) });
}

/// What a turn of the driver did with a connection.
pub(crate) enum Turn {
    /// Waiting for the socket, a wake-up, or the returned deadline.
    Wait(Option<Instant>),
    /// More work is ready now (a read budget ran out): run it again soon.
    Again,
    /// The connection is over and its socket closed.
    Finished,
}

impl ConnShared {
    /// One turn: writes what is queued, reads what arrived, runs due timers, registers for
    /// readiness (with this connection as the waker) and reports the next deadline.
    pub(crate) fn turn(self: &Arc<Self>, cx: &mut Context<'_>, now: Instant) -> Turn {
        let mut io = self.io_state();
        if io.finished {
            return Turn::Finished;
        }
        let stream = match &self.transport {
            Transport::Tcp(stream) => stream,
            Transport::Bridge => return self.turn_bridged(&mut io, now),
        };
        if io.armed.is_some_and(|t| t <= now) {
            io.armed = None;
            if self.with(|core| {
                core.conn.handle_timeout(now);
                core.conn.take_released()
            }) {
                super::memory::zlib_state_released();
            }
        }
        if !io.rbuf.is_empty() {
            // Bytes that came with the handshake.
            let rbuf = &mut io.rbuf;
            self.with(|core| core.conn.receive(rbuf, now));
            if rbuf.is_empty() {
                *rbuf = BytesMut::new();
            }
        }
        loop {
            let (read, write) = {
                let mut core = self.lock();
                let end = if core.killed {
                    Some(None)
                } else if let Some(e) = core.write_error.take() {
                    Some(Some(TransportEnd::Error(e.into_string())))
                } else if let Err(e) = self.write_now(&mut core, true) {
                    Some(Some(TransportEnd::Error(e)))
                } else {
                    match core.conn.transport_goal() {
                        TransportGoal::Close => Some(Some(TransportEnd::Local)),
                        TransportGoal::CloseWhenFlushed if !core.driver_writing => {
                            Some(Some(TransportEnd::Local))
                        }
                        TransportGoal::HalfClose | TransportGoal::Linger
                            if !core.driver_writing && !core.shut_down =>
                        {
                            core.shut_down = true;
                            let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Write);
                            None
                        }
                        _ => None,
                    }
                };
                let end = end.or(if io.eof {
                    Some(Some(TransportEnd::Eof))
                } else {
                    None
                });
                if let Some(end) = end {
                    drop(core);
                    self.finish(&mut io, end);
                    return Turn::Finished;
                }
                self.emit(&mut core);
                (
                    !core.paused && self.undelivered.load(Ordering::Relaxed) < UNDELIVERED_LIMIT,
                    core.driver_writing,
                )
            };
            if write {
                match stream.poll_write_ready(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => {
                        self.finish(
                            &mut io,
                            Some(TransportEnd::Error(describe_error("write", &e))),
                        );
                        return Turn::Finished;
                    }
                    Poll::Pending => {}
                }
            }
            if read {
                match stream.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => match read_some(self, stream, &mut io.rbuf) {
                        Ok(ReadOutcome::Eof) => {
                            io.eof = true;
                            continue;
                        }
                        Ok(ReadOutcome::Drained) => continue,
                        Ok(ReadOutcome::Budget) => return Turn::Again,
                        Err(e) => {
                            self.finish(&mut io, Some(TransportEnd::Error(e)));
                            return Turn::Finished;
                        }
                    },
                    Poll::Ready(Err(e)) => {
                        self.finish(
                            &mut io,
                            Some(TransportEnd::Error(describe_error("read", &e))),
                        );
                        return Turn::Finished;
                    }
                    Poll::Pending => {}
                }
            }
            break;
        }
        self.next_deadline(&mut io)
    }

    /// Hands the driver a new deadline only when it is earlier than the one it holds: the
    /// keepalive deadline moves with every message, and a late turn just re-checks.
    fn next_deadline(&self, io: &mut IoState) -> Turn {
        let deadline = self.lock().conn.poll_timeout();
        match deadline {
            Some(d) if io.armed.is_none_or(|a| d < a) => {
                io.armed = Some(d);
                Turn::Wait(Some(d))
            }
            _ => Turn::Wait(None),
        }
    }

    /// A bridged connection's turn: its timers, then a call for the JS thread, which owns the
    /// socket, to write what is queued and act on the transport goal.
    fn turn_bridged(self: &Arc<Self>, io: &mut IoState, now: Instant) -> Turn {
        if self.lock().killed {
            io.finished = true;
            self.over.store(true, Ordering::Release);
            io.rbuf = BytesMut::new();
            return Turn::Finished;
        }
        if io.armed.is_some_and(|t| t <= now) {
            io.armed = None;
            if self.with(|core| {
                core.conn.handle_timeout(now);
                core.conn.take_released()
            }) {
                super::memory::zlib_state_released();
            }
        }
        self.request_service();
        self.next_deadline(io)
    }

    /// Bytes JS read from a bridged socket: runs them through the connection (events go to the
    /// sink) and arms the driver's timer when the deadline moved earlier. Returns 0, or the
    /// close goal when the connection is already over (the caller reads the status after
    /// delivering the events).
    pub(crate) fn feed(self: &Arc<Self>, chunk: &[u8]) -> u32 {
        let mut io = self.io_state();
        if io.finished {
            return TransportGoal::Close as u32;
        }
        let now = Instant::now();
        io.rbuf.extend_from_slice(chunk);
        let rbuf = &mut io.rbuf;
        let serve = self.with(|core| {
            core.bytes_read += chunk.len() as u64;
            core.conn.receive(rbuf, now);
            core.conn.wants_write() || core.conn.transport_goal() != TransportGoal::Open
        });
        if serve {
            // pongs, close replies, or a close for a protocol error
            self.request_service();
        }
        // Keep a small buffer between chunks; an idle connection holds no large one.
        if io.rbuf.is_empty() && io.rbuf.capacity() > READ_CHUNK {
            io.rbuf = BytesMut::new();
        }
        drop(io);
        self.arm_timer();
        0
    }

    /// Gives the driver a bridged connection's deadline when it moved earlier.
    fn arm_timer(self: &Arc<Self>) {
        let mut io = self.io_state();
        if io.finished {
            return;
        }
        if let Turn::Wait(Some(at)) = self.next_deadline(&mut io) {
            drop(io);
            driver::add_timer(at, self);
        }
    }

    /// Copies up to `max` queued output bytes into memory from `alloc` (a JS Buffer of the
    /// given size) and records them as written. Returns the status; nothing is allocated when
    /// nothing is queued.
    pub(crate) fn take_output<'a>(
        self: &Arc<Self>,
        max: usize,
        alloc: impl FnOnce(usize) -> Option<&'a mut [u8]>,
    ) -> u32 {
        let more = self.with(|core| {
            let mut pieces: [&[u8]; 16] = [&[]; 16];
            // a bridged connection runs on the JS thread, which owns its socket
            let n = core.conn.wire_slices(&mut pieces, true);
            let total: usize = pieces[..n].iter().map(|p| p.len()).sum::<usize>().min(max);
            if total == 0 {
                return false;
            }
            let Some(out) = alloc(total) else {
                return false;
            };
            let mut at = 0;
            for p in &pieces[..n] {
                let k = p.len().min(total - at);
                out[at..at + k].copy_from_slice(&p[..k]);
                at += k;
                if at == total {
                    break;
                }
            }
            core.bytes_written += total as u64;
            core.conn.written(total);
            core.conn.wants_write()
        });
        self.bridge_status(more)
    }

    /// The status word for JS: the transport goal and the [`status`] flags.
    pub(crate) fn bridge_status(&self, more_output: bool) -> u32 {
        let goal = self.lock().conn.transport_goal() as u32;
        let mut st = goal & status::GOAL_MASK;
        if self.undelivered.load(Ordering::Relaxed) >= UNDELIVERED_LIMIT {
            st |= status::READ_BLOCKED;
        }
        if more_output {
            st |= status::MORE_OUTPUT;
        }
        st
    }

    /// JS's socket ended (`end`, `error`, `close`) or JS closed it as the goal asked: the
    /// connection is over; its last events and the end follow through the sink.
    pub(crate) fn bridge_ended(self: &Arc<Self>, end: TransportEnd) {
        let mut io = self.io_state();
        if io.finished {
            return;
        }
        io.finished = true;
        self.over.store(true, Ordering::Release);
        io.rbuf = BytesMut::new();
        let mut core = self.lock();
        core.conn.transport_closed(end);
        let killed = core.killed;
        self.emit(&mut core);
        drop(core);
        if !killed {
            self.sink.finished(self);
        }
    }

    /// Closes the socket and reports the end (unless the environment is gone).
    fn finish(self: &Arc<Self>, io: &mut IoState, end: Option<TransportEnd>) {
        io.finished = true;
        self.over.store(true, Ordering::Release);
        io.rbuf = BytesMut::new();
        let mut core = self.lock();
        if let Some(end) = end {
            // A last write without waiting: a close frame or close reply queued at the end.
            let _ = self.write_now(&mut core, true);
            core.conn.transport_closed(end);
            self.emit(&mut core);
        }
        let killed = core.killed;
        drop(core);
        if let Some(stream) = self.stream() {
            let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
        }
        if !killed {
            self.sink.finished(self);
        }
    }

    /// The waker to register with the socket's readiness (see `WAKER_VTABLE`).
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        let raw = RawWaker::new(Weak::into_raw(Arc::downgrade(self)).cast(), &WAKER_VTABLE);
        // SAFETY: the vtable's functions treat the data pointer as the `Weak<ConnShared>` made
        // here, and each waker owns exactly one such reference.
        unsafe { Waker::from_raw(raw) }
    }

    /// The deadline the driver holds for this connection, if it is still `at`.
    pub(crate) fn is_armed_at(&self, at: Instant) -> bool {
        self.io_state().armed == Some(at)
    }
}

/// Read buffers at least this large are kept for reuse when a connection empties one.
const SPARE_MIN: usize = 256 * 1024;
/// How many are kept (on the runtime thread), at most.
const MAX_SPARES: usize = 4;

thread_local! {
    /// Large read buffers emptied by connections. Performance choice: a large frame needs a
    /// large buffer, and a fresh one (mmap'd, then trimmed away when freed) costs a page fault
    /// per 4 KiB; reusing one does not. A spare may still be shared with a payload the JS
    /// thread has not consumed yet: `reserve` then allocates anew, as it would have anyway.
    static SPARES: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_spare(want: usize) -> Option<BytesMut> {
    SPARES.with(|s| {
        let mut spares = s.borrow_mut();
        let i = spares.iter().position(|b| b.capacity() >= want)?;
        Some(spares.swap_remove(i))
    })
}

fn put_spare(buf: BytesMut) {
    SPARES.with(|s| {
        let mut spares = s.borrow_mut();
        if spares.len() < MAX_SPARES {
            spares.push(buf);
        }
    });
}

/// How a read round ended.
enum ReadOutcome {
    /// The socket has nothing more for now.
    Drained,
    /// The peer closed its side.
    Eof,
    /// The read budget ran out with data possibly left: yield to other connections.
    Budget,
}

/// Reads what the socket has (up to a budget) and feeds it to the connection.
fn read_some(
    shared: &Arc<ConnShared>,
    stream: &TcpStream,
    rbuf: &mut BytesMut,
) -> Result<ReadOutcome, String> {
    let mut total = 0;
    let outcome;
    loop {
        let want = {
            let core = shared.lock();
            core.conn.payload_needed(rbuf.len())
        };
        let want = want.clamp(READ_CHUNK, 4 * 1024 * 1024);
        if rbuf.is_empty() && rbuf.capacity() < want && want >= SPARE_MIN {
            if let Some(spare) = take_spare(want) {
                *rbuf = spare;
            }
        }
        rbuf.reserve(want);
        match stream.try_read_buf(rbuf) {
            Ok(0) => {
                outcome = ReadOutcome::Eof;
                break;
            }
            Ok(n) => {
                total += n;
                let now = Instant::now();
                shared.with(|core| {
                    core.bytes_read += n as u64;
                    core.conn.receive(rbuf, now);
                });
                if total >= READ_BUDGET {
                    outcome = ReadOutcome::Budget;
                    break;
                }
                if shared.lock().paused {
                    outcome = ReadOutcome::Drained;
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                outcome = ReadOutcome::Drained;
                break;
            }
            Err(e) => return Err(describe_error("read", &e)),
        }
    }
    // An idle connection keeps no read buffer (docs/ARCHITECTURE.md, "Memory and lifetime"); a
    // large one goes to the runtime's spares for the next large frame.
    if rbuf.is_empty() {
        let buf = std::mem::take(rbuf);
        if buf.capacity() >= SPARE_MIN {
            put_spare(buf);
        }
    }
    Ok(outcome)
}
