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
use super::connection::{conn, env_shared, utf8_into, TEXT};
use super::events::{kind, EnvShared};
use crate::protocol::frame::OpCode;
use crate::runtime;
use crate::runtime::backplane::{Backplane, Notices};
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
    // Other processes get it through Redis (never waiting: see Backplane::publish).
    if let Some(bp) = hub.backplane() {
        bp.publish(topic, opcode, payload);
    }
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

/// A hub's backplane notices, delivered to JS through the environment's event channel.
struct HubNotices {
    hub: u32,
    env: Arc<EnvShared>,
}

impl Notices for HubNotices {
    fn ready(&self) {
        self.env.notice(self.hub, kind::PUBSUB_READY, String::new());
    }

    fn error(&self, text: String) {
        self.env.notice(self.hub, kind::PUBSUB_ERROR, text);
    }
}

/// TLS material for `rediss://` (PEM): the CA to trust instead of the system's, and a client
/// certificate and key for servers that ask for one.
#[napi(object)]
pub struct RedisTls {
    pub ca: Option<Buffer>,
    pub cert: Option<Buffer>,
    pub key: Option<Buffer>,
}

/// Links hub `hub_n` to other processes through the Redis server at `url` (`redis://host:port`,
/// `rediss://host:port` with TLS, `redis+unix:///path`), with channel names `prefix` + topic.
/// Connecting happens on the runtime thread; problems arrive as notices, never as exceptions
/// here, except for a configuration that cannot work.
#[napi(catch_unwind)]
pub fn topic_backplane(
    hub_n: u32,
    url: String,
    prefix: String,
    tls: Option<RedisTls>,
) -> Result<()> {
    let hub = hub(hub_n)?;
    let secure = url.starts_with("rediss://");
    if !(secure
        || url.starts_with("redis://")
        || url.starts_with("redis+unix://")
        || url.starts_with("unix://"))
    {
        return Err(Error::new(
            Status::InvalidArg,
            format!("pubsub.redis must be a redis://, rediss:// or redis+unix:// URL, not {url:?}"),
        ));
    }
    let bad = |e: redis::RedisError| Error::new(Status::InvalidArg, format!("pubsub.redis: {e}"));
    let client = match tls {
        Some(tls) if tls.ca.is_some() || tls.cert.is_some() => {
            if !secure {
                return Err(Error::new(
                    Status::InvalidArg,
                    "pubsub.tls needs a rediss:// URL".to_owned(),
                ));
            }
            let client_tls = match (tls.cert, tls.key) {
                (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                    client_cert: cert.to_vec(),
                    client_key: key.to_vec(),
                }),
                (None, None) => None,
                _ => {
                    return Err(Error::new(
                        Status::InvalidArg,
                        "pubsub.tls: cert and key go together".to_owned(),
                    ))
                }
            };
            let certs = redis::TlsCertificates {
                client_tls,
                root_cert: tls.ca.map(|b| b.to_vec()),
            };
            redis::Client::build_with_tls(url.as_str(), certs).map_err(bad)?
        }
        _ => redis::Client::open(url.as_str()).map_err(bad)?,
    };
    let env =
        env_shared().ok_or_else(|| Error::from_reason("websocket-rs: init() was not called"))?;
    let handle = runtime::handle()
        .map_err(|e| Error::from_reason(format!("cannot start the websocket-rs runtime: {e}")))?;
    let notices = Arc::new(HubNotices { hub: hub_n, env });
    let bp = Backplane::start(&hub, client, &prefix, notices, &handle);
    hub.set_backplane(Some(bp));
    Ok(())
}

/// Stops hub `hub_n`'s backplane (the server shuts down).
#[napi(catch_unwind)]
pub fn topic_backplane_stop(hub_n: u32) -> Result<()> {
    hub(hub_n)?.set_backplane(None);
    Ok(())
}

/// `server.pubsubStats()`.
#[napi(object)]
pub struct PubsubStats {
    /// Connected to Redis now.
    pub connected: bool,
    /// Messages handed to Redis.
    pub published: f64,
    /// Messages not handed to Redis: it was down, or the queue was full.
    pub publish_dropped: f64,
    /// Messages received from Redis (this process's own included).
    pub received: f64,
    /// Of those, this process's own (dropped: delivered locally already).
    pub received_own: f64,
    /// Of those, not a websocket-rs envelope or not valid (dropped).
    pub received_invalid: f64,
    /// Deliveries to local subscribers of messages from other processes.
    pub delivered: f64,
    /// Times the connection to Redis was lost and made again.
    pub reconnects: f64,
}

#[napi(catch_unwind)]
pub fn topic_backplane_stats(hub_n: u32) -> Result<Option<PubsubStats>> {
    let Some(bp) = hub(hub_n)?.backplane() else {
        return Ok(None);
    };
    let s = &bp.stats;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed) as f64;
    Ok(Some(PubsubStats {
        connected: bp.is_connected(),
        published: n(&s.published),
        publish_dropped: n(&s.publish_dropped),
        received: n(&s.received),
        received_own: n(&s.received_own),
        received_invalid: n(&s.received_invalid),
        delivered: n(&s.delivered),
        reconnects: n(&s.reconnects),
    }))
}
