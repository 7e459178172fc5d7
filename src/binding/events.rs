//! Rust → JS event delivery: one queue and one threadsafe function per JS environment.
//!
//! Performance choice (docs/ARCHITECTURE.md, "Events: Rust to JS"): connections append to a
//! shared queue and only the empty → non-empty transition wakes the JS thread; one wake-up
//! hands every queued event of every connection to JavaScript as one flat array, then flushes
//! the sends those events caused, once per connection. One threadsafe-function call per message
//! measured ~1.5× slower.

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::sys;

use crate::protocol::connection::Event;
use crate::runtime::conn::{delivered_bytes, ConnShared, EventSink};

/// Event kinds as JavaScript sees them. A batch is `dispatch(count, meta?, ...values)`: for
/// event `i`, `meta[3i]` is the connection id, `meta[3i + 1]` the kind (with [`kind::HAS_VALUE`]
/// when the next of the `values` belongs to it) and `meta[3i + 2]` a number (a send token, a
/// close code, a frame's first header byte). `meta` is an ArrayBuffer over memory this module
/// writes directly; it is passed again only when it had to grow (`undefined` otherwise).
///
/// Performance choice: the values (strings, Buffers) travel as call arguments, which V8 copies
/// as a block, rather than as elements of an array filled with `napi_set_element` (a generic
/// property store per value, 14% of the server's CPU in the 64-byte echo).
pub(crate) mod kind {
    pub const TEXT: u32 = 1;
    pub const BINARY: u32 = 2;
    pub const PING: u32 = 3;
    pub const PONG: u32 = 4;
    pub const DRAIN: u32 = 5;
    pub const SENT: u32 = 6;
    pub const SEND_FAILED: u32 = 7;
    pub const ERROR: u32 = 8;
    /// The socket is closed and the connection is over; always the last event.
    pub const GONE: u32 = 9;
    /// A frame (`assembleFragments: false`); the number is its first header byte.
    pub const FRAME: u32 = 10;
    /// The connection closed; the number is the code, the value (if any) the description.
    pub const CLOSED: u32 = 11;
    /// A bridged connection needs its socket served; the number is its status word
    /// (`runtime::conn::status`), the value (if any) output to write.
    pub const SERVICE: u32 = 12;
    /// Not a connection's (its id is 0): the topic backplane of hub `number` failed; the value
    /// describes the problem.
    pub const PUBSUB_ERROR: u32 = 13;
    /// Id 0: the topic backplane of hub `number` is connected (again).
    pub const PUBSUB_READY: u32 = 14;
    /// Flag: this event takes the next entry of `values`.
    pub const HAS_VALUE: u32 = 0x100;
}

/// An event waiting for the JS thread, or the end of a connection.
enum Queued {
    Event(Event),
    Gone,
    Service,
}

/// Output handed to JS with one `SERVICE` event, at most; more is taken with `bridgeTake`.
pub(crate) const SERVICE_CHUNK: usize = 256 * 1024;

/// Puts `DELIVERS_NOW` back to its value on drop.
struct RestoreDelivering(bool);

impl Drop for RestoreDelivering {
    fn drop(&mut self) {
        DELIVERS_NOW.with(|d| d.set(self.0));
    }
}

thread_local! {
    /// Set while a bridged call on the JS thread runs: it delivers what it queued before it
    /// returns, so pushing needs no wake-up of the threadsafe function.
    static DELIVERS_NOW: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: a threadsafe function handle is meant to be used from any thread; every use is
// serialised by the mutex it lives in and stops once it is cleared at environment teardown.
unsafe impl Send for Tsfn {}

/// The state of one JS environment (the main thread, or a worker) shared with the runtime.
pub(crate) struct EnvShared {
    queue: Mutex<Vec<(Arc<ConnShared>, Queued)>>,
    tsfn: Mutex<Tsfn>,
    /// Connections whose sends wait for the end of the batch (or a microtask) to be flushed.
    dirty: Mutex<Vec<Arc<ConnShared>>>,
    /// True while JavaScript runs a batch: sends made then are flushed after it.
    in_batch: AtomicBool,
    /// Adopted connections not yet gone: the process stays alive while any is.
    live: AtomicUsize,
    /// A reference to `dispatch`, for batches delivered synchronously (bridged connections).
    dispatch: Mutex<usize>,
    /// References to JS Buffers that sends no longer need, to be deleted on the JS thread.
    releases: Mutex<Vec<usize>>,
    has_releases: AtomicBool,
    /// Notices that belong to no connection: (hub, kind, text), delivered with id 0.
    notices: Mutex<Vec<(u32, u32, String)>>,
    /// Set while `notices` may hold something: a batch checks it instead of taking the lock.
    has_notices: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl EventSink for EnvShared {
    fn push(&self, conn: &Arc<ConnShared>, events: &mut Vec<Event>) {
        let mut queue = lock(&self.queue);
        let was_empty = queue.is_empty();
        queue.extend(events.drain(..).map(|e| (conn.clone(), Queued::Event(e))));
        if was_empty {
            self.wake_js_unless_delivering();
        }
    }

    fn finished(&self, conn: &Arc<ConnShared>) {
        self.enqueue(conn, Queued::Gone);
    }

    fn service(&self, conn: &Arc<ConnShared>) {
        self.enqueue(conn, Queued::Service);
    }
}

impl EnvShared {
    /// Queues a notice of topic hub `hub` (`kind::PUBSUB_*`) for the JS thread, from any thread.
    pub(crate) fn notice(&self, hub: u32, kind: u32, text: String) {
        let was_empty = {
            let mut notices = lock(&self.notices);
            notices.push((hub, kind, text));
            self.has_notices.store(true, Ordering::Release);
            notices.len() == 1
        };
        if was_empty {
            self.wake_js_unless_delivering();
        }
    }
}

impl EnvShared {
    fn enqueue(&self, conn: &Arc<ConnShared>, item: Queued) {
        let mut queue = lock(&self.queue);
        let was_empty = queue.is_empty();
        queue.push((conn.clone(), item));
        if was_empty {
            self.wake_js_unless_delivering();
        }
    }

    /// Wakes the JS thread, unless this is the JS thread inside a call that delivers the
    /// queue itself before returning (`run_batches` goes on while the queue has items).
    fn wake_js_unless_delivering(&self) {
        if DELIVERS_NOW.with(|d| d.get()) {
            return;
        }
        self.wake_js();
    }

    /// Runs `f` (a bridged call on the JS thread), then delivers what it queued, unless the
    /// caller is itself inside a delivery (whose next round takes it).
    pub(crate) fn delivering_now<R>(&self, env: sys::napi_env, f: impl FnOnce() -> R) -> R {
        let outer = DELIVERS_NOW.with(|d| d.replace(true));
        // Restores the flag even if `f` or the delivery panics (the binding catches panics):
        // left set, it would keep every later push on this thread from waking JS.
        let _restore = RestoreDelivering(outer);
        let r = f();
        if !outer {
            let reference = *lock(&self.dispatch) as sys::napi_ref;
            let mut dispatch = ptr::null_mut();
            if !reference.is_null() {
                // SAFETY: JS thread of `env`; the reference was made in `create` and lives as
                // long as the environment.
                unsafe { sys::napi_get_reference_value(env, reference, &mut dispatch) };
            }
            if dispatch.is_null() {
                DELIVERS_NOW.with(|d| d.set(false));
                if !lock(&self.queue).is_empty() {
                    self.wake_js();
                }
            } else {
                // SAFETY: as above.
                unsafe { run_batches(env, dispatch, self) };
            }
        }
        r
    }

    fn wake_js(&self) {
        let tsfn = lock(&self.tsfn);
        if !tsfn.0.is_null() {
            // SAFETY: the handle is live until cleared under this same lock at teardown.
            unsafe {
                sys::napi_call_threadsafe_function(
                    tsfn.0,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                );
            }
        }
    }

    /// Registers a connection for the end-of-batch flush. Returns true when the caller (a send
    /// outside any batch) must schedule a flush itself.
    pub(crate) fn mark_dirty(&self, conn: &Arc<ConnShared>) -> bool {
        // a plain load first: a broadcast marks every connection, most of them already marked
        if conn.dirty.load(Ordering::Relaxed) || conn.dirty.swap(true, Ordering::Relaxed) {
            return false;
        }
        let mut dirty = lock(&self.dirty);
        let first = dirty.is_empty();
        dirty.push(conn.clone());
        first && !self.in_batch.load(Ordering::Relaxed)
    }

    /// Writes the sends of every connection marked dirty.
    pub(crate) fn flush_dirty(&self) {
        let dirty = std::mem::take(&mut *lock(&self.dirty));
        for conn in dirty {
            conn.flush();
        }
    }

    /// Hands over a reference to delete on the JS thread (from any thread).
    pub(crate) fn release_later(&self, reference: sys::napi_ref) {
        let was_empty = {
            let mut releases = lock(&self.releases);
            releases.push(reference as usize);
            releases.len() == 1
        };
        self.has_releases.store(true, Ordering::Release);
        if was_empty {
            // the runtime thread finished writing a large send: let the JS thread free the
            // Buffer now rather than at its next event, which may never come
            self.wake_js_unless_delivering();
        }
    }

    /// Deletes the references handed over so far; on the JS thread of `env`.
    pub(crate) fn release_refs(&self, env: sys::napi_env) {
        if !self.has_releases.swap(false, Ordering::Acquire) {
            return;
        }
        let refs = std::mem::take(&mut *lock(&self.releases));
        for r in refs {
            // SAFETY: each entry is a live reference created in this environment by
            // `JsBytes::new` and deleted exactly once, here.
            unsafe { sys::napi_delete_reference(env, r as sys::napi_ref) };
        }
    }

    /// Counts a new connection; the first one makes the environment stay alive.
    pub(crate) fn add_conn(&self, env: sys::napi_env) {
        if self.live.fetch_add(1, Ordering::Relaxed) == 0 {
            let tsfn = lock(&self.tsfn);
            if !tsfn.0.is_null() {
                // SAFETY: called on the JS thread that owns `env`, with a live handle.
                unsafe { sys::napi_ref_threadsafe_function(env, tsfn.0) };
            }
        }
    }

    fn conn_gone(&self, env: sys::napi_env) {
        if self.live.fetch_sub(1, Ordering::Relaxed) == 1 {
            let tsfn = lock(&self.tsfn);
            if !tsfn.0.is_null() {
                // SAFETY: called on the JS thread that owns `env`, with a live handle.
                unsafe { sys::napi_unref_threadsafe_function(env, tsfn.0) };
            }
        }
    }
}

/// Creates the environment's queue and threadsafe function around `dispatch`, the JS function
/// that receives batches. The function starts unreferenced: an environment with no open
/// connection does not stay alive because of it.
pub(crate) fn create(
    env: sys::napi_env,
    dispatch: sys::napi_value,
) -> napi::Result<Arc<EnvShared>> {
    let shared = Arc::new(EnvShared {
        queue: Mutex::new(Vec::new()),
        tsfn: Mutex::new(Tsfn(ptr::null_mut())),
        dirty: Mutex::new(Vec::new()),
        in_batch: AtomicBool::new(false),
        live: AtomicUsize::new(0),
        dispatch: Mutex::new(0),
        releases: Mutex::new(Vec::new()),
        has_releases: AtomicBool::new(false),
        notices: Mutex::new(Vec::new()),
        has_notices: AtomicBool::new(false),
    });
    let context = Arc::into_raw(shared.clone()) as *mut c_void;
    let mut name = ptr::null_mut();
    let mut tsfn = ptr::null_mut();
    // SAFETY: plain N-API calls on the JS thread with valid arguments; `context` is an owned
    // Arc reference released by `finalize` (or below, if creation fails).
    unsafe {
        let label = "websocket-rs events";
        check(sys::napi_create_string_utf8(
            env,
            label.as_ptr().cast(),
            label.len() as isize,
            &mut name,
        ))?;
        let status = sys::napi_create_threadsafe_function(
            env,
            dispatch,
            ptr::null_mut(),
            name,
            0,
            1,
            context,
            Some(finalize),
            context,
            Some(call_js),
            &mut tsfn,
        );
        if status != sys::Status::napi_ok {
            drop(Arc::from_raw(context as *const EnvShared));
            return Err(napi::Error::from_reason(
                "could not create the event channel",
            ));
        }
        check(sys::napi_unref_threadsafe_function(env, tsfn))?;
        lock(&shared.tsfn).0 = tsfn;
        let mut reference = ptr::null_mut();
        check(sys::napi_create_reference(env, dispatch, 1, &mut reference))?;
        *lock(&shared.dispatch) = reference as usize;
        let hook_data = Arc::into_raw(shared.clone()) as *mut c_void;
        check(sys::napi_add_env_cleanup_hook(
            env,
            Some(cleanup),
            hook_data,
        ))?;
    }
    Ok(shared)
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "N-API call failed with status {status}"
        )))
    }
}

/// The environment is being torn down (process exit, worker termination): stop delivering,
/// close every connection's socket.
unsafe extern "C" fn cleanup(data: *mut c_void) {
    // SAFETY: `data` is the Arc reference leaked for this hook in `create`.
    let shared = unsafe { Arc::from_raw(data as *const EnvShared) };
    {
        let mut tsfn = lock(&shared.tsfn);
        if !tsfn.0.is_null() {
            // SAFETY: the handle is live; it is cleared so no thread uses it afterwards.
            unsafe {
                sys::napi_release_threadsafe_function(
                    tsfn.0,
                    sys::ThreadsafeFunctionReleaseMode::abort,
                )
            };
            tsfn.0 = ptr::null_mut();
        }
    }
    lock(&shared.queue).clear();
    lock(&shared.dirty).clear();
    lock(&shared.releases).clear();
    // Cleanup hooks run on the environment's own thread, whose registry lists its connections.
    super::connection::kill_all();
}

unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Arc reference leaked as the function's context in `create`.
    drop(unsafe { Arc::from_raw(data as *const EnvShared) });
}

/// Runs on the JS thread when the queue became non-empty: delivers everything queued as one
/// batch, then flushes the sends the batch caused.
unsafe extern "C" fn call_js(
    env: sys::napi_env,
    dispatch: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    if env.is_null() || context.is_null() {
        return;
    }
    // SAFETY: `context` is the EnvShared kept alive by the function until `finalize`.
    let shared = unsafe { &*(context as *const EnvShared) };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: on the JS thread, inside the function's callback, with valid handles.
        unsafe { run_batches(env, dispatch, shared) };
    }));
}

/// Delivers everything queued as one batch, then flushes the sends the batch caused. Bridged
/// connections' output, queued by that flush, goes out in a following batch right away
/// (a few rounds at most; what is left waits for the next wake-up).
unsafe fn run_batches(env: sys::napi_env, dispatch: sys::napi_value, shared: &EnvShared) {
    const ROUNDS: usize = 4;
    let outer = DELIVERS_NOW.with(|d| d.replace(true));
    let restore = RestoreDelivering(outer);
    shared.release_refs(env);
    let mut failing = Vec::new();
    for _ in 0..ROUNDS {
        let mut items = std::mem::take(&mut *lock(&shared.queue));
        // A service call queued for a connection that ended since must not reach JS: the id
        // may already name a new connection. A protocol violation is acted on after the
        // batch, not shown to JS.
        items.retain_mut(|(conn, item)| match item {
            Queued::Service => !conn.is_over(),
            Queued::Event(Event::FailAfterDelivery { code, reason }) => {
                failing.push((conn.clone(), *code, std::mem::take(reason)));
                false
            }
            _ => true,
        });
        let notices = if shared.has_notices.swap(false, Ordering::Acquire) {
            std::mem::take(&mut *lock(&shared.notices))
        } else {
            Vec::new()
        };
        if items.is_empty() && failing.is_empty() && notices.is_empty() {
            if lock(&shared.queue).is_empty() {
                break;
            }
            continue;
        }
        if !items.is_empty() || !notices.is_empty() {
            // A batch goes to JS in calls of at most MAX_CALL events, each value one argument.
            let mut chunks = items.chunks(MAX_CALL);
            let first = chunks.next().unwrap_or(&[]);
            // SAFETY: on the JS thread with valid handles (the caller's contract).
            unsafe { deliver(env, dispatch, shared, first, &notices) };
            for chunk in chunks {
                // SAFETY: as above.
                unsafe { deliver(env, dispatch, shared, chunk, &[]) };
            }
        }
        // The batch that carried the events before a violation is over, with the replies its
        // handlers queued: the close frame goes after them (its Closed comes next round).
        for (conn, code, reason) in failing.drain(..) {
            conn.fail_after_delivery(code, &reason);
        }
        for (conn, item) in &items {
            match item {
                Queued::Event(e) => conn.delivered(delivered_bytes(e)),
                Queued::Gone => {
                    if !conn.is_bridged() {
                        shared.conn_gone(env);
                    }
                    super::connection::release(conn.id);
                }
                Queued::Service => {}
            }
        }
        drop(items);
        shared.flush_dirty();
    }
    shared.release_refs(env);
    drop(restore);
    // More than a few rounds' worth (a send callback that sends again, and so on): the rest
    // goes in the next wake-up. Pushes made meanwhile did not wake anyone, so this must,
    // whoever called: run_batches never runs inside another run_batches.
    if !lock(&shared.queue).is_empty() || shared.has_notices.load(Ordering::Acquire) {
        shared.wake_js();
    }
}

/// Events per `dispatch` call at most: each carries at most one value, passed as an argument
/// on V8's stack, so this bounds the call's size whatever the batch (notices ride in the first
/// call besides).
const MAX_CALL: usize = 1024;

thread_local! {
    /// The argument list of a `dispatch` call, kept between calls.
    static ARGS: std::cell::RefCell<Vec<sys::napi_value>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The JS-owned memory that carries the batch's numbers, kept between batches.
struct Meta {
    reference: sys::napi_ref,
    data: *mut u32,
    words: usize,
}

thread_local! {
    static META: std::cell::RefCell<Option<Meta>> = const { std::cell::RefCell::new(None) };
}

/// Returns a pointer to at least `words` u32s of the shared metadata buffer, and the new
/// ArrayBuffer when it had to be (re)allocated (JS must then switch to it).
unsafe fn meta_buffer(
    env: sys::napi_env,
    words: usize,
) -> Option<(*mut u32, Option<sys::napi_value>)> {
    META.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some(m) = slot.as_ref() {
            if m.words >= words {
                return Some((m.data, None));
            }
        }
        let capacity = words.next_power_of_two().max(1024);
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        let mut reference = ptr::null_mut();
        // SAFETY: JS thread; the ArrayBuffer's memory stays valid while the reference holds it.
        unsafe {
            if sys::napi_create_arraybuffer(env, capacity * 4, &mut data, &mut buffer)
                != sys::Status::napi_ok
                || sys::napi_create_reference(env, buffer, 1, &mut reference)
                    != sys::Status::napi_ok
            {
                return None;
            }
            if let Some(old) = slot.take() {
                sys::napi_delete_reference(env, old.reference);
            }
        }
        *slot = Some(Meta {
            reference,
            data: data.cast(),
            words: capacity,
        });
        Some((data.cast(), Some(buffer)))
    })
}

unsafe fn deliver(
    env: sys::napi_env,
    dispatch: sys::napi_value,
    shared: &EnvShared,
    items: &[(Arc<ConnShared>, Queued)],
    notices: &[(u32, u32, String)],
) {
    // SAFETY (whole function): N-API calls on the JS thread with handles created here; `meta`
    // points to at least 3 * (items.len() + notices.len()) u32s of a live ArrayBuffer.
    unsafe {
        let count = items.len() + notices.len();
        let Some((meta, new_meta)) = meta_buffer(env, count * 3) else {
            return;
        };
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(env, &mut undefined);
        let mut args = ARGS.with(|a| std::mem::take(&mut *a.borrow_mut()));
        args.clear();
        let mut count_value = ptr::null_mut();
        sys::napi_create_uint32(env, count as u32, &mut count_value);
        args.push(count_value);
        args.push(new_meta.unwrap_or(undefined));
        for (i, (conn, item)) in items.iter().enumerate() {
            let (mut k, aux, value) = match item {
                Queued::Gone => (kind::GONE, 0, None),
                Queued::Event(e) => encode(env, e),
                Queued::Service => {
                    conn.service_taken();
                    let mut out = None;
                    let st = conn.take_output(SERVICE_CHUNK, |len| {
                        let (value, bytes) = new_buffer(env, len)?;
                        out = Some(value);
                        Some(bytes)
                    });
                    (kind::SERVICE, st, out)
                }
            };
            if let Some(v) = value {
                k |= kind::HAS_VALUE;
                args.push(v);
            }
            *meta.add(i * 3) = conn.id;
            *meta.add(i * 3 + 1) = k;
            *meta.add(i * 3 + 2) = aux;
        }
        for (j, (hub, k, text)) in notices.iter().enumerate() {
            let i = items.len() + j;
            args.push(string(env, text.as_bytes()));
            *meta.add(i * 3) = 0;
            *meta.add(i * 3 + 1) = k | kind::HAS_VALUE;
            *meta.add(i * 3 + 2) = *hub;
        }
        shared.in_batch.store(true, Ordering::Relaxed);
        let mut result = ptr::null_mut();
        sys::napi_call_function(
            env,
            undefined,
            dispatch,
            args.len(),
            args.as_ptr(),
            &mut result,
        );
        shared.in_batch.store(false, Ordering::Relaxed);
        ARGS.with(|a| *a.borrow_mut() = args);
    }
}

unsafe fn string(env: sys::napi_env, s: &[u8]) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; `s` is valid UTF-8 (checked by the protocol core) of `s.len()` bytes.
    // ASCII, the common case, takes V8's one-byte copy instead of its UTF-8 decoder.
    unsafe {
        if s.is_ascii() {
            sys::napi_create_string_latin1(env, s.as_ptr().cast(), s.len() as isize, &mut out);
        } else {
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out);
        }
    }
    out
}

/// A Buffer with a copy of `b`. Measured choice: handing large payloads over without a copy (an
/// external Buffer) was slower for 1 MiB echoes: every message then needed a fresh allocation,
/// whose page faults cost more than the copy into memory Node's allocator reuses.
unsafe fn buffer(env: sys::napi_env, b: &[u8]) -> sys::napi_value {
    let mut out = ptr::null_mut();
    let mut data = ptr::null_mut();
    // SAFETY: JS thread; copies `b` into a new Buffer.
    unsafe { sys::napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), &mut data, &mut out) };
    out
}

/// A new Buffer of `len` bytes and its memory (valid while the Buffer is reachable from JS).
pub(crate) unsafe fn new_buffer<'a>(
    env: sys::napi_env,
    len: usize,
) -> Option<(sys::napi_value, &'a mut [u8])> {
    let mut out = ptr::null_mut();
    let mut data = ptr::null_mut();
    // SAFETY: JS thread; N-API returns `len` writable bytes at `data` for the new Buffer.
    unsafe {
        if sys::napi_create_buffer(env, len, &mut data, &mut out) != sys::Status::napi_ok
            || (data.is_null() && len > 0)
        {
            return None;
        }
        if len == 0 {
            return Some((out, &mut []));
        }
        Some((out, std::slice::from_raw_parts_mut(data.cast(), len)))
    }
}

/// An event's kind, number and value for a batch.
unsafe fn encode(env: sys::napi_env, e: &Event) -> (u32, u32, Option<sys::napi_value>) {
    // SAFETY (whole function): JS thread, valid env.
    unsafe {
        match e {
            Event::Text(b) => (kind::TEXT, 0, Some(string(env, b))),
            Event::Binary(b) => (kind::BINARY, 0, Some(buffer(env, b))),
            Event::Ping(b) => (kind::PING, 0, Some(buffer(env, b))),
            Event::Pong(b) => (kind::PONG, 0, Some(buffer(env, b))),
            Event::Drain => (kind::DRAIN, 0, None),
            Event::Sent(t) => (kind::SENT, *t, None),
            Event::SendFailed(t) => (kind::SEND_FAILED, *t, None),
            Event::Error(msg) => (kind::ERROR, 0, Some(string(env, msg.as_bytes()))),
            Event::Frame {
                fin,
                rsv,
                opcode,
                payload,
            } => {
                let head =
                    (u32::from(*fin) << 7) | (u32::from(*rsv & 7) << 4) | u32::from(*opcode & 0xF);
                (kind::FRAME, head, Some(buffer(env, payload)))
            }
            Event::Closed { code, description } => (
                kind::CLOSED,
                u32::from(*code),
                description.as_ref().map(|d| string(env, d.as_bytes())),
            ),
            // Taken out of every batch by `run_batches`; a kind JS ignores if one got here.
            Event::FailAfterDelivery { .. } => (0, 0, None),
        }
    }
}
