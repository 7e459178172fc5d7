//! Giving released compression state back to the OS.
//!
//! A connection with permessage-deflate and context takeover holds about 420 KB of zlib state
//! while messages flow and frees it after a quiet second (`protocol::takeover`). glibc's malloc
//! keeps what it frees: after 10,000 connections each exchanged a message, the heap stays at the
//! size their states grew it to, holes and all (measured: 167 KB of RSS per idle connection, most
//! of it free heap). `malloc_trim(0)` hands the free pages back. It is run on the runtime thread
//! after states were released, at most once per [`TRIM_INTERVAL`]; releases within the interval
//! get one trim at its end. Other C libraries (musl, macOS) return large blocks by themselves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two trims: a trim walks the whole heap (a few milliseconds for
/// gigabytes), so it must stay rare.
const TRIM_INTERVAL: Duration = Duration::from_secs(1);

static LAST_TRIM: Mutex<Option<Instant>> = Mutex::new(None);
static TRIM_SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Connections freed zlib state: trim now, or once the interval since the last trim is over.
/// Call on the runtime thread.
pub(crate) fn zlib_state_released() {
    if !CAN_TRIM {
        return;
    }
    let now = Instant::now();
    let next = {
        let mut last = LAST_TRIM.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(t) if now < t + TRIM_INTERVAL => t + TRIM_INTERVAL,
            _ => {
                *last = Some(now);
                drop(last);
                trim();
                return;
            }
        }
    };
    if TRIM_SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(async move {
                tokio::time::sleep_until(next.into()).await;
                TRIM_SCHEDULED.store(false, Ordering::Release);
                *LAST_TRIM.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                trim();
            });
        }
        Err(_) => TRIM_SCHEDULED.store(false, Ordering::Release),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
const CAN_TRIM: bool = true;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const CAN_TRIM: bool = false;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim only returns free memory to the OS; it takes the arenas'
    // own locks and touches no memory in use.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
