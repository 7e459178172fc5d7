//! napi-rs bindings: the adapter between JavaScript and the Rust core.

mod frame;
