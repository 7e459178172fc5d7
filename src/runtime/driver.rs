//! The runtime's driver: one task that gives connections their turns, from a run queue filled
//! by socket readiness, the JS thread and timers, and that keeps every connection's deadline.
//!
//! Memory choice: a task per connection cost ~0.5 KB of task state per idle connection; with
//! one driver, an idle connection is its `ConnShared` and its socket registration only.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Context;
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::conn::{ConnShared, Turn};

struct Driver {
    queue: Mutex<Vec<Arc<ConnShared>>>,
    /// Deadlines set from other threads, taken into the heap by the driver.
    new_timers: Mutex<NewTimers>,
    notify: Notify,
}

/// Deadlines handed over by other threads, and when the driver will next wake by itself.
#[derive(Default)]
struct NewTimers {
    timers: Vec<Timer>,
    driver_wakes_at: Option<Instant>,
}

static DRIVER: OnceLock<Driver> = OnceLock::new();

fn driver() -> &'static Driver {
    DRIVER.get_or_init(|| Driver {
        queue: Mutex::new(Vec::new()),
        new_timers: Mutex::new(NewTimers::default()),
        notify: Notify::new(),
    })
}

/// Starts the driver task on the runtime (once per process).
pub(crate) fn start(handle: &Handle) {
    handle.spawn(run());
}

/// Queues a connection for a turn and wakes the driver if it was idle.
pub(crate) fn enqueue(conn: Arc<ConnShared>) {
    let d = driver();
    let was_empty = {
        let mut q = d.queue.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = q.is_empty();
        q.push(conn);
        was_empty
    };
    if was_empty {
        d.notify.notify_one();
    }
}

/// Gives the driver a deadline for `conn` from another thread; wakes it only when it would
/// otherwise sleep past `at`.
pub(crate) fn add_timer(at: Instant, conn: &Arc<ConnShared>) {
    let d = driver();
    let wake = {
        let mut n = d.new_timers.lock().unwrap_or_else(|e| e.into_inner());
        n.timers.push(Timer {
            at,
            conn: Arc::downgrade(conn),
        });
        n.driver_wakes_at.is_none_or(|w| at < w)
    };
    if wake {
        d.notify.notify_one();
    }
}

/// A connection's deadline in the timer heap (earliest first).
struct Timer {
    at: Instant,
    conn: Weak<ConnShared>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.at.cmp(&self.at)
    }
}

async fn run() {
    let d = driver();
    let mut timers: BinaryHeap<Timer> = BinaryHeap::new();
    let mut batch: Vec<Arc<ConnShared>> = Vec::new();
    loop {
        std::mem::swap(
            &mut batch,
            &mut *d.queue.lock().unwrap_or_else(|e| e.into_inner()),
        );
        let now = Instant::now();
        for conn in batch.drain(..) {
            conn.queued.store(false, Ordering::Release);
            let waker = conn.waker();
            let mut cx = Context::from_waker(&waker);
            // A panic in one connection's turn must not take the others (or Node) down: that
            // connection is dropped from the queue and the rest go on.
            let turn =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.turn(&mut cx, now)));
            match turn {
                Ok(Turn::Wait(Some(at))) => timers.push(Timer {
                    at,
                    conn: Arc::downgrade(&conn),
                }),
                Ok(Turn::Again) => conn.schedule(),
                Ok(Turn::Wait(None)) | Ok(Turn::Finished) | Err(_) => {}
            }
        }
        {
            let mut n = d.new_timers.lock().unwrap_or_else(|e| e.into_inner());
            timers.extend(n.timers.drain(..));
            // Until told otherwise below, other threads must wake the driver for any deadline.
            n.driver_wakes_at = None;
        }
        let now = Instant::now();
        while timers.peek().is_some_and(|t| t.at <= now) {
            if let Some(t) = timers.pop() {
                if let Some(conn) = t.conn.upgrade() {
                    if conn.is_armed_at(t.at) {
                        conn.schedule();
                    }
                }
            }
        }
        let pending = !d.queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        if pending {
            // Let the I/O driver run between rounds.
            tokio::task::yield_now().await;
            continue;
        }
        let next = timers.peek().map(|t| t.at);
        {
            let mut n = d.new_timers.lock().unwrap_or_else(|e| e.into_inner());
            if !n.timers.is_empty() {
                // A deadline arrived meanwhile: take it in before sleeping.
                continue;
            }
            n.driver_wakes_at = next;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    _ = d.notify.notified() => {}
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                }
            }
            None => d.notify.notified().await,
        }
    }
}
