//! napi-rs bindings: the adapter between JavaScript and the Rust core.

use std::cell::RefCell;

use crate::protocol::entropy::Entropy;

mod broadcast;
mod connection;
mod deflate;
mod events;
mod frame;
mod handshake;
mod raw;
mod topics;

thread_local! {
    /// Unpredictable bytes for frames and keys made on this JS thread (one pool per thread, so
    /// workers never share state).
    static ENTROPY: RefCell<Entropy> = RefCell::new(Entropy::new());
}

/// Runs `f` with this thread's entropy pool.
fn with_entropy<R>(f: impl FnOnce(&mut Entropy) -> R) -> R {
    ENTROPY.with(|e| f(&mut e.borrow_mut()))
}
