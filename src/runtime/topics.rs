//! Topics (publish/subscribe): which connections of one server subscribe to what.
//!
//! A [`Hub`] belongs to one server. It is shared state: the JS thread subscribes and publishes
//! through it, and a backplane on the runtime thread can publish into it too, so it sits behind
//! a mutex. Publishing hands the subscribers to a fan-out function that encodes the message once
//! and queues the same bytes on each (see `binding::broadcast`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::conn::ConnShared;

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
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Topic>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `conn` to `topic`. Returns false when it was subscribed already.
    pub(crate) fn subscribe(&self, conn: &Arc<ConnShared>, topic: &str) -> bool {
        let mut topics = self.lock();
        let t = match topics.get_mut(topic) {
            Some(t) => t,
            None => topics.entry(topic.into()).or_default(),
        };
        if t.index.contains_key(&conn.id) {
            return false;
        }
        t.index.insert(conn.id, t.subs.len());
        t.subs.push(conn.clone());
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
