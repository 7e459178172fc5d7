//! websocket-rs: an RFC 6455 WebSocket implementation for Node.js.
//!
//! Layers, with dependencies pointing down only:
//! - [`protocol`]: the sans-IO core (frames, masking, UTF-8, close codes, message assembly,
//!   handshake keys, connection state). No sockets, no Tokio, no N-API.
//! - `binding`: the napi-rs adapter that exposes the core to JavaScript.

pub mod protocol;

mod runtime;

// napi-rs registers exports only outside `cfg(test)`, so unit test builds see them as unused.
#[cfg_attr(test, allow(dead_code))]
mod binding;
