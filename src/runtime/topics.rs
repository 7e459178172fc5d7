//! Topics (publish/subscribe): which connections of one server subscribe to what.
//!
//! A [`Hub`] belongs to one server. It is shared state: the JS thread subscribes and publishes
//! through it, and a backplane on the runtime thread can publish into it too, so it sits behind
//! a mutex. Publishing hands the subscribers to a fan-out function that encodes the message once
//! and queues the same bytes on each (see `binding::broadcast`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use super::backplane::Backplane;
use super::conn::ConnShared;
use crate::protocol::connection::ConnectionConfig;
use crate::protocol::frame::{OpCode, RSV1};
use crate::protocol::message::{encode_message, MaskKeySource};
use crate::protocol::takeover::compress_shared;

/// Frames made for a configuration and a shared compression (none: uncompressed).
type Encoding = (Arc<ConnectionConfig>, Option<(u32, u8)>, Bytes);

/// Queues `payload` as one message on each of `conns` but connection `except` (0: none), the
/// frames encoded once per configuration (connections of one server share one) and the same
/// bytes queued on each. Calls `queued(conn, output_full)` for every connection it was queued on
/// (closed ones are skipped) and returns how many there were.
///
/// With permessage-deflate, connections that keep no compression context get the message
/// compressed once for all of them (per level and window size); the others get it
/// uncompressed, which RFC 7692 allows for any message, rather than a compression each.
///
/// Performance choice: one encoding for any number of receivers; the caller decides when the
/// connections write (end of the JS batch, or a driver turn).
pub(crate) fn fan_out<'a>(
    conns: impl IntoIterator<Item = &'a Arc<ConnShared>>,
    except: u32,
    opcode: OpCode,
    payload: &[u8],
    keys: &mut dyn MaskKeySource,
    mut queued: impl FnMut(&Arc<ConnShared>, bool),
) -> u32 {
    let mut count = 0;
    // encodings made so far, by configuration and shared compression (a handful at most)
    let mut encoded: Vec<Encoding> = Vec::new();
    let mut compressed: Vec<((u32, u8), Bytes)> = Vec::new();
    for c in conns {
        if c.id == except {
            continue;
        }
        let result = c.with(|core| {
            let config = core.conn.shared_config();
            let deflate = core.conn.shared_compression(payload.len());
            let found = encoded
                .iter()
                .position(|(cfg, d, _)| Arc::ptr_eq(cfg, config) && *d == deflate);
            let at = match found {
                Some(at) => at,
                None => {
                    let mut buf = BytesMut::new();
                    match deflate {
                        Some(key) => {
                            let z = match compressed.iter().find(|(k, _)| *k == key) {
                                Some((_, z)) => z.clone(),
                                None => {
                                    let mut z = Vec::with_capacity(payload.len() / 2 + 64);
                                    compress_shared(key, payload, &mut z);
                                    let z = Bytes::from(z);
                                    compressed.push((key, z.clone()));
                                    z
                                }
                            };
                            encode_message(&mut buf, opcode, RSV1, &z, &config.sender, keys);
                        }
                        None => encode_message(&mut buf, opcode, 0, payload, &config.sender, keys),
                    }
                    encoded.push((config.clone(), deflate, buf.freeze()));
                    encoded.len() - 1
                }
            };
            let frames = &encoded[at].2;
            core.conn.send_encoded_shared(frames)
        });
        if let Ok(full) = result {
            count += 1;
            queued(c, full);
        }
    }
    count
}

/// The subscribers of one topic, in subscription order, with an index for O(1) removal.
///
/// Performance choice: publishing walks a plain vector (the hot path); unsubscribing swaps the
/// last subscriber into the hole, so a topic of 10,000 subscribers is left in linear time.
#[derive(Default)]
struct Topic {
    subs: Vec<Arc<ConnShared>>,
    index: HashMap<u32, usize>,
}

/// One server's topics.
#[derive(Default)]
pub(crate) struct Hub {
    topics: Mutex<HashMap<Box<str>, Topic>>,
    /// The link to other processes, when the server has one (`pubsub` config).
    backplane: Mutex<Option<Arc<Backplane>>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Topic>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The backplane, if any.
    pub(crate) fn backplane(&self) -> Option<Arc<Backplane>> {
        self.backplane
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Links the hub to other processes (replacing and stopping an earlier link).
    pub(crate) fn set_backplane(&self, bp: Option<Arc<Backplane>>) {
        let old = std::mem::replace(
            &mut *self.backplane.lock().unwrap_or_else(|e| e.into_inner()),
            bp,
        );
        if let Some(old) = old {
            old.stop();
        }
    }

    /// The topics with at least one subscriber.
    pub(crate) fn topic_names(&self) -> Vec<Box<str>> {
        self.lock().keys().cloned().collect()
    }

    /// Tells the backplane that the set of topics changed.
    fn topics_changed(&self) {
        if let Some(bp) = self.backplane() {
            bp.topics_changed();
        }
    }

    /// Adds `conn` to `topic`. Returns false when it was subscribed already.
    pub(crate) fn subscribe(&self, conn: &Arc<ConnShared>, topic: &str) -> bool {
        let mut topics = self.lock();
        let (t, new) = match topics.get_mut(topic) {
            Some(t) => (t, false),
            None => (topics.entry(topic.into()).or_default(), true),
        };
        if t.index.contains_key(&conn.id) {
            return false;
        }
        t.index.insert(conn.id, t.subs.len());
        t.subs.push(conn.clone());
        drop(topics);
        if new {
            self.topics_changed();
        }
        true
    }

    /// Removes connection `id` from `topic`. Returns false when it was not subscribed. A topic
    /// left with no subscribers is forgotten.
    pub(crate) fn unsubscribe(&self, id: u32, topic: &str) -> bool {
        let mut topics = self.lock();
        let Some(t) = topics.get_mut(topic) else {
            return false;
        };
        let Some(at) = t.index.remove(&id) else {
            return false;
        };
        t.subs.swap_remove(at);
        if let Some(moved) = t.subs.get(at) {
            t.index.insert(moved.id, at);
        }
        if t.subs.is_empty() {
            topics.remove(topic);
            drop(topics);
            self.topics_changed();
        }
        true
    }

    /// How many connections subscribe to `topic`.
    pub(crate) fn count(&self, topic: &str) -> usize {
        self.lock().get(topic).map_or(0, |t| t.subs.len())
    }

    /// Runs `f` on the subscribers of `topic` (with the hub locked, so that a publisher's
    /// messages reach each subscriber in the order they were published).
    pub(crate) fn with_subscribers<R>(
        &self,
        topic: &str,
        f: impl FnOnce(&[Arc<ConnShared>]) -> R,
    ) -> R {
        let topics = self.lock();
        f(topics.get(topic).map_or(&[][..], |t| &t.subs[..]))
    }
}
