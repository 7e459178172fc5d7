//! The Tokio side: one runtime thread per process, and the adopted-TCP transport that drives
//! the sans-IO [`crate::protocol::connection::Connection`] over a socket it owns.

pub(crate) mod conn;
pub(crate) mod driver;
pub(crate) mod tcp;

use std::sync::Mutex;

use tokio::runtime::Handle;

/// The process's runtime: a current-thread Tokio runtime on a dedicated thread.
///
/// Performance choice: with sends corked and flushed from the JS thread, the JS thread is the
/// bottleneck and this thread stays lightly loaded, so one thread serves every connection of
/// every worker; more worker threads measured no gain (DESIGN.md §2).
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
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    driver::start(&handle);
    *slot = Some(handle.clone());
    Ok(handle)
}
