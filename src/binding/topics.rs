//! Topics for JavaScript: `connection.subscribe()` / `unsubscribe()`, `server.publish()`,
//! `connection.publish()` and `server.subscriberCount()` (websocket-rs extensions), on the
//! hubs of `runtime::topics`, one per server, known to JS by number.
//!
//! Performance choice: a publish is one native call whatever the number of subscribers; the
//! message is encoded once and queued on each (as `server.broadcast*`), and written at the end
//! of the batch, once per connection.

use std::cell::RefCell;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::JsString;
use napi_derive::napi;

use super::broadcast::fan_out;
use super::connection::{conn, utf8_into, TEXT};
use crate::protocol::frame::OpCode;
use crate::runtime::topics::Hub;

thread_local! {
    /// This JS thread's hubs: `HUBS[n - 1]` is hub `n`.
    static HUBS: RefCell<Vec<Arc<Hub>>> = const { RefCell::new(Vec::new()) };
}

fn hub(n: u32) -> Result<Arc<Hub>> {
    HUBS.with(|h| h.borrow().get((n as usize).wrapping_sub(1)).cloned())
        .ok_or_else(|| Error::new(Status::InvalidArg, format!("no topic hub {n}")))
}

/// A new hub (one per server, made on first use). Returns its number.
#[napi]
pub fn topic_hub() -> u32 {
    HUBS.with(|h| {
        let mut hubs = h.borrow_mut();
        hubs.push(Arc::new(Hub::default()));
        hubs.len() as u32
    })
}

/// Subscribes connection `id` to `topic`. False when already subscribed or the connection is
/// gone.
#[napi(catch_unwind)]
pub fn topic_subscribe(hub_n: u32, id: u32, topic: String) -> Result<bool> {
    let hub = hub(hub_n)?;
    Ok(match conn(id) {
        Some(c) if !c.is_over() => hub.subscribe(&c, &topic),
        _ => false,
    })
}

/// Unsubscribes connection `id` from each of `topics`. Returns how many it was subscribed to.
#[napi(catch_unwind)]
pub fn topic_unsubscribe(hub_n: u32, id: u32, topics: Vec<String>) -> Result<u32> {
    let hub = hub(hub_n)?;
    Ok(topics.iter().filter(|t| hub.unsubscribe(id, t)).count() as u32)
}

/// The number of subscribers of `topic`.
#[napi(catch_unwind)]
pub fn topic_count(hub_n: u32, topic: String) -> Result<u32> {
    Ok(hub(hub_n)?.count(&topic) as u32)
}

fn publish(
    hub_n: u32,
    topic: &str,
    except: u32,
    opcode: OpCode,
    payload: &[u8],
) -> Result<Vec<u32>> {
    let hub = hub(hub_n)?;
    let mut out = vec![0u32, 0];
    let queued = hub.with_subscribers(topic, |subs| {
        fan_out(subs, except, opcode, payload, &mut out)
    });
    out[1] = queued;
    Ok(out)
}

/// Publishes a text message to the subscribers of `topic` but connection `except` (0: none).
/// Returns `[flags, delivered, ...ids]`: `flags` as for broadcast, `delivered` the number of
/// connections it was queued on, then the ids whose `outputBufferFull` is now set.
#[napi(catch_unwind)]
pub fn publish_text(hub_n: u32, topic: String, text: JsString, except: u32) -> Result<Vec<u32>> {
    let value = text.value();
    TEXT.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        utf8_into(value.env, value.value, &mut buf)?;
        publish(hub_n, &topic, except, OpCode::Text, &buf)
    })
}

/// [`publish_text`] for a binary message.
#[napi(catch_unwind)]
pub fn publish_binary(hub_n: u32, topic: String, data: &[u8], except: u32) -> Result<Vec<u32>> {
    publish(hub_n, &topic, except, OpCode::Binary, data)
}
