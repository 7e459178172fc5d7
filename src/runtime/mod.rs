//! The Tokio side: one runtime thread per process, and the adopted-TCP transport that drives
//! the sans-IO [`crate::protocol::connection::Connection`] over a socket it owns.

pub(crate) mod backplane;
pub(crate) mod conn;
pub(crate) mod driver;
pub(crate) mod memory;
pub(crate) mod tcp;
pub(crate) mod topics;

use std::sync::Mutex;

use tokio::runtime::Handle;

/// The process's runtime: a current-thread Tokio runtime on a dedicated thread.
///
/// Performance choice: with sends corked and flushed from the JS thread, the JS thread is the
/// bottleneck and this thread stays lightly loaded, so one thread serves every connection of
/// every worker; more worker threads measured no gain (docs/ARCHITECTURE.md, "Measured
/// choices").
pub(crate) fn handle() -> std::io::Result<Handle> {
    static HANDLE: Mutex<Option<Handle>> = Mutex::new(None);
    let mut slot = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("websocket-rs".into())
        .spawn(move || {
            batch_scheduling();
            rt.block_on(std::future::pending::<()>())
        })?;
    driver::start(&handle);
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Asks Linux to treat the runtime thread as a batch thread (`SCHED_BATCH`): when it wakes on
/// a busy core it does not preempt the JS thread at once, but runs when that thread waits or
/// its time slice ends, and then handles everything that arrived meanwhile in one go.
///
/// Measured choice: with the server on one core, a handshake cost about 3.5 context switches
/// between the two threads; the JS thread cannot act on Rust's events before it is free anyway.
#[cfg(target_os = "linux")]
fn batch_scheduling() {
    #[repr(C)]
    struct SchedParam {
        priority: i32,
    }
    extern "C" {
        fn sched_setscheduler(pid: i32, policy: i32, param: *const SchedParam) -> i32;
    }
    const SCHED_BATCH: i32 = 3;
    let param = SchedParam { priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for SCHED_BATCH
    // (priority 0). Failure only leaves the default policy in place.
    unsafe {
        sched_setscheduler(0, SCHED_BATCH, &param);
    }
}

#[cfg(not(target_os = "linux"))]
fn batch_scheduling() {}
