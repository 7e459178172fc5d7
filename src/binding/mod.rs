//! napi-rs bindings: the adapter between JavaScript and the Rust core.

mod connection;
mod events;
mod frame;
mod handshake;
