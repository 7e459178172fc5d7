//! The Redis backplane of a topic hub: publishes leave through Redis, and what other processes
//! publish arrives here and reaches local subscribers on the runtime thread, with no JavaScript
//! call per message.
//!
//! One task per hub on the runtime thread owns two Redis connections: a PubSub connection that
//! SUBSCRIBEs to the channel of every topic with local subscribers (and UNSUBSCRIBEs when the
//! last one leaves), and a multiplexed one for PUBLISH, pipelined in batches. Each message is
//! wrapped in a small envelope that names the node (process) it came from, so a process drops
//! its own messages (it delivered them locally already).
//!
//! Delivery across processes is at most once. Redis being slow or absent never blocks anyone:
//! publishes wait in a bounded queue and are dropped (and counted) when it is full or Redis is
//! down; the task reconnects with backoff and subscribes again; local delivery goes on.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::{mpsc, Notify};

use super::conn::ConnShared;
use super::topics::{fan_out, Hub};
use crate::protocol::entropy::Entropy;
use crate::protocol::frame::OpCode;

/// Envelope: magic byte and version, then the sender's node id (8 bytes, little-endian), the
/// opcode (1 text, 2 binary), then the payload.
const ENVELOPE_MAGIC: u8 = 0xB7;
const ENVELOPE_HEAD: usize = 1 + 8 + 1;

/// Publishes waiting for Redis, at most; more are dropped and counted.
const PUBLISH_QUEUE: usize = 8192;
/// Publishes sent in one pipeline.
const PUBLISH_BATCH: usize = 512;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the backplane tells JavaScript (through the binding).
pub(crate) trait Notices: Send + Sync {
    /// Connected to Redis (again), with every local topic subscribed.
    fn ready(&self);
    /// Something failed; local delivery goes on and the backplane retries.
    fn error(&self, text: String);
}

/// Counters for `server.pubsubStats()`.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) published: AtomicU64,
    pub(crate) publish_dropped: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) received_own: AtomicU64,
    pub(crate) received_invalid: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

/// A hub's link to Redis.
pub(crate) struct Backplane {
    node: u64,
    prefix: Box<str>,
    publishes: mpsc::Sender<(Bytes, Bytes)>,
    /// The set of topics changed (or stop): the task compares it with what it has subscribed.
    topics_changed: Arc<Notify>,
    connected: AtomicBool,
    stopped: AtomicBool,
    pub(crate) stats: Stats,
}

impl Backplane {
    /// Starts the backplane of `hub` on the runtime thread. `url` is a `redis://` or
    /// `redis+unix://` URL (checked by the caller).
    pub(crate) fn start(
        hub: &Arc<Hub>,
        client: redis::Client,
        prefix: &str,
        notices: Arc<dyn Notices>,
        handle: &tokio::runtime::Handle,
    ) -> Arc<Backplane> {
        let mut id = [0u8; 8];
        Entropy::new().fill(&mut id);
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let bp = Arc::new(Backplane {
            node: u64::from_le_bytes(id),
            prefix: prefix.into(),
            publishes: tx,
            topics_changed: Arc::new(Notify::new()),
            connected: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            stats: Stats::default(),
        });
        let task = Task {
            changed: bp.topics_changed.clone(),
            bp: Arc::downgrade(&bp),
            hub: Arc::downgrade(hub),
            client,
            notices,
            rx,
            subscribed: HashSet::new(),
        };
        handle.spawn(task.run());
        bp
    }

    /// True while connected to Redis.
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The set of topics with local subscribers changed.
    pub(crate) fn topics_changed(&self) {
        self.topics_changed.notify_one();
    }

    /// Stops the task (the server is going away); queued publishes are dropped.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.topics_changed.notify_one();
    }

    /// Queues a message for the other processes. Never waits: when Redis is down or the queue
    /// is full the message is dropped and counted.
    pub(crate) fn publish(&self, topic: &str, opcode: OpCode, payload: &[u8]) {
        if !self.is_connected() {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let channel = Bytes::from(format!("{}{}", self.prefix, topic));
        let mut env = BytesMut::with_capacity(ENVELOPE_HEAD + payload.len());
        env.put_u8(ENVELOPE_MAGIC);
        env.put_u64_le(self.node);
        env.put_u8(opcode as u8);
        env.put_slice(payload);
        if self.publishes.try_send((channel, env.freeze())).is_err() {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the task needs; it ends when the hub or the backplane is gone or stopped.
struct Task {
    changed: Arc<Notify>,
    bp: Weak<Backplane>,
    hub: Weak<Hub>,
    client: redis::Client,
    notices: Arc<dyn Notices>,
    rx: mpsc::Receiver<(Bytes, Bytes)>,
    subscribed: HashSet<Box<str>>,
}

/// Why a connected session ended.
enum End {
    Stopped,
    Failed(String),
}

impl Task {
    async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        let mut reported = false;
        loop {
            match self.session().await {
                End::Stopped => return,
                End::Failed(e) => {
                    let Some(bp) = self.bp.upgrade() else { return };
                    let was = bp.connected.swap(false, Ordering::Relaxed);
                    if was {
                        backoff = BACKOFF_MIN;
                        bp.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    // one notice per outage, not one per retry
                    if was || !reported {
                        self.notices.error(e);
                        reported = true;
                    }
                }
            }
            // What was queued meanwhile is lost (at most once): drop and count it.
            self.drain_dropped();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            if self.stopped() {
                return;
            }
            if self.bp.upgrade().is_some_and(|bp| bp.is_connected()) {
                reported = false;
            }
        }
    }

    fn stopped(&self) -> bool {
        match self.bp.upgrade() {
            Some(bp) => bp.stopped.load(Ordering::Relaxed) || self.hub.strong_count() == 0,
            None => true,
        }
    }

    fn drain_dropped(&mut self) {
        let mut n = 0;
        while self.rx.try_recv().is_ok() {
            n += 1;
        }
        if n > 0 {
            if let Some(bp) = self.bp.upgrade() {
                bp.stats.publish_dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// One connected session: subscribe to every local topic, then serve publishes, topic
    /// changes and incoming messages until something fails.
    async fn session(&mut self) -> End {
        if self.stopped() {
            return End::Stopped;
        }
        let connect = async {
            let pubsub = self.client.get_async_pubsub().await?;
            let publisher = self.client.get_multiplexed_async_connection().await?;
            Ok::<_, redis::RedisError>((pubsub, publisher))
        };
        let (pubsub, mut publisher) = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return End::Failed(format!("Redis: cannot connect: {e}")),
            Err(_) => return End::Failed("Redis: cannot connect: timed out".into()),
        };
        let (mut sink, mut stream) = pubsub.split();
        self.subscribed.clear();
        if let Err(e) = self.reconcile(&mut sink).await {
            return End::Failed(e);
        }
        match self.bp.upgrade() {
            Some(bp) => bp.connected.store(true, Ordering::Relaxed),
            None => return End::Stopped,
        }
        self.notices.ready();
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        let mut keys = Entropy::new();
        let notify = self.changed.clone();
        loop {
            let changed = notify.notified();
            tokio::select! {
                n = self.rx.recv_many(&mut batch, PUBLISH_BATCH) => {
                    if n == 0 {
                        return End::Stopped;
                    }
                    let mut pipe = redis::pipe();
                    for (channel, payload) in batch.drain(..) {
                        pipe.cmd("PUBLISH").arg(&channel[..]).arg(&payload[..]).ignore();
                    }
                    if let Err(e) = pipe.query_async::<()>(&mut publisher).await {
                        return End::Failed(format!("Redis: PUBLISH failed: {e}"));
                    }
                    if let Some(bp) = self.bp.upgrade() {
                        bp.stats.published.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                _ = changed => {
                    if self.stopped() {
                        return End::Stopped;
                    }
                    if let Err(e) = self.reconcile(&mut sink).await {
                        return End::Failed(e);
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else {
                        return End::Failed("Redis: the subscription connection closed".into());
                    };
                    self.deliver(msg.get_channel_name(), msg.get_payload_bytes(), &mut keys);
                }
            }
        }
    }

    /// Subscribes to the channels of topics that gained local subscribers and unsubscribes
    /// from those that lost them all.
    async fn reconcile(&mut self, sink: &mut redis::aio::PubSubSink) -> Result<(), String> {
        let (Some(hub), Some(bp)) = (self.hub.upgrade(), self.bp.upgrade()) else {
            return Ok(());
        };
        let wanted: HashSet<Box<str>> = hub.topic_names().into_iter().collect();
        let prefix = bp.prefix.clone();
        drop(bp);
        let add: Vec<String> = wanted
            .difference(&self.subscribed)
            .map(|t| format!("{prefix}{t}"))
            .collect();
        let remove: Vec<String> = self
            .subscribed
            .difference(&wanted)
            .map(|t| format!("{prefix}{t}"))
            .collect();
        if !add.is_empty() {
            sink.subscribe(&add)
                .await
                .map_err(|e| format!("Redis: SUBSCRIBE failed: {e}"))?;
        }
        if !remove.is_empty() {
            sink.unsubscribe(&remove)
                .await
                .map_err(|e| format!("Redis: UNSUBSCRIBE failed: {e}"))?;
        }
        self.subscribed = wanted;
        Ok(())
    }

    /// A message from Redis: to the local subscribers of its topic, unless this process sent it.
    fn deliver(&self, channel: &str, envelope: &[u8], keys: &mut Entropy) {
        let (Some(hub), Some(bp)) = (self.hub.upgrade(), self.bp.upgrade()) else {
            return;
        };
        bp.stats.received.fetch_add(1, Ordering::Relaxed);
        let Some(topic) = channel.strip_prefix(&*bp.prefix) else {
            bp.stats.received_invalid.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some((node, opcode, payload)) = open_envelope(envelope) else {
            bp.stats.received_invalid.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if node == bp.node {
            bp.stats.received_own.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Anything may write to a Redis channel: text must be UTF-8 before it is a text frame.
        if opcode == OpCode::Text && std::str::from_utf8(payload).is_err() {
            bp.stats.received_invalid.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let n = hub.with_subscribers(topic, |subs| {
            fan_out(subs, 0, opcode, payload, keys, |c, _| write_soon(c))
        });
        bp.stats
            .delivered
            .fetch_add(u64::from(n), Ordering::Relaxed);
    }
}

/// Has a connection written from the runtime thread: an adopted one in its next driver turn
/// (once however many messages were queued before it), a bridged one through JS.
fn write_soon(c: &Arc<ConnShared>) {
    if c.is_bridged() {
        c.request_service();
    } else {
        c.schedule();
    }
}

/// The sender's node, the opcode and the payload of an envelope; None if it is not one.
fn open_envelope(b: &[u8]) -> Option<(u64, OpCode, &[u8])> {
    if b.len() < ENVELOPE_HEAD || b[0] != ENVELOPE_MAGIC {
        return None;
    }
    let node = u64::from_le_bytes(b[1..9].try_into().ok()?);
    let opcode = match b[9] {
        1 => OpCode::Text,
        2 => OpCode::Binary,
        _ => return None,
    };
    Some((node, opcode, &b[ENVELOPE_HEAD..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_refuse_what_is_not_one() {
        let mut b = vec![ENVELOPE_MAGIC];
        b.extend_from_slice(&42u64.to_le_bytes());
        b.push(2);
        b.extend_from_slice(b"data");
        let (node, op, payload) = open_envelope(&b).unwrap();
        assert_eq!((node, op, payload), (42, OpCode::Binary, &b"data"[..]));
        assert!(open_envelope(&b[..5]).is_none());
        let mut bad = b.clone();
        bad[0] = 0;
        assert!(open_envelope(&bad).is_none());
        bad = b.clone();
        bad[9] = 9;
        assert!(open_envelope(&bad).is_none());
    }
}
