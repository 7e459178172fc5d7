//! The sans-IO RFC 6455 core: every byte-level rule of the protocol, with no I/O.
//!
//! Transports feed received bytes in and take encoded bytes out; nothing here knows about
//! sockets, runtimes or JavaScript, so all of it is unit-tested with plain `cargo test`.

pub mod close;
pub mod connection;
pub mod deflate;
pub mod entropy;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod message;
pub mod outbox;
pub mod pool;
pub mod state;
pub mod takeover;
pub mod utf8;
