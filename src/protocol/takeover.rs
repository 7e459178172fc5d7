//! Context takeover (RFC 7692 §7.1.1): what one direction of a compressed connection keeps
//! between messages, and how little of it an idle connection holds.
//!
//! With context takeover, a message may refer back into the previous ones (up to the window).
//! A zlib stream that keeps this context costs about 380 KB to compress and 40 KB to inflate at
//! 15 window bits (zlib-rs). Memory choice: a connection keeps that state only while it is in
//! use; once released (after [`RELEASE_AFTER`] without a compressed message) it keeps just the
//! last window's worth of its messages, no more than it has sent or received, and rebuilds the
//! state from it (a zlib dictionary) on its next message. Without context takeover nothing is
//! kept: every connection on a thread shares one compressor or inflater, reset per message.

use std::cell::RefCell;
use std::time::Duration;

use super::deflate::{window_size, Compressor, InflateError, Inflater};

/// How long a connection keeps its zlib state after its last compressed message.
pub const RELEASE_AFTER: Duration = Duration::from_secs(1);

/// The last `cap` bytes of a direction's messages. Appends are amortised: the buffer grows to
/// twice the window before the oldest bytes are dropped.
#[derive(Debug, Default)]
struct Window {
    buf: Vec<u8>,
    cap: usize,
}

impl Window {
    fn new(cap: usize) -> Self {
        Window {
            buf: Vec::new(),
            cap,
        }
    }

    fn push(&mut self, data: &[u8]) {
        if data.len() >= self.cap {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - self.cap..]);
            return;
        }
        if self.buf.len() + data.len() > 2 * self.cap {
            let keep = self.cap - data.len();
            self.buf.drain(..self.buf.len() - keep);
        }
        self.buf.extend_from_slice(data);
    }

    fn recent(&self) -> &[u8] {
        &self.buf[self.buf.len().saturating_sub(self.cap)..]
    }

    /// Drops all but the window, and the spare capacity.
    fn compact(&mut self) {
        let extra = self.buf.len().saturating_sub(self.cap);
        self.buf.drain(..extra);
        self.buf.shrink_to_fit();
    }
}

thread_local! {
    /// Compressors shared by connections without context takeover, by (level, window bits).
    static SHARED_COMPRESSORS: RefCell<Vec<((u32, u8), Compressor)>> =
        const { RefCell::new(Vec::new()) };
    /// Inflaters shared the same way, by window bits; used for single-frame messages only (a
    /// fragmented message is inflated across calls, so it gets its own).
    static SHARED_INFLATERS: RefCell<Vec<(u8, Inflater)>> = const { RefCell::new(Vec::new()) };
}

/// Compresses `payload` as every direction without context takeover with `key` (level,
/// window bits) would: on this thread's shared compressor.
pub fn compress_shared(key: (u32, u8), payload: &[u8], out: &mut Vec<u8>) {
    SHARED_COMPRESSORS.with(|shared| {
        let mut shared = shared.borrow_mut();
        let at = match shared.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                shared.push((key, Compressor::new(key.0, key.1, true)));
                shared.len() - 1
            }
        };
        shared[at].1.compress(payload, out);
    });
}

/// The sending direction of a connection: compresses whole messages.
pub struct Outgoing {
    level: u32,
    bits: u8,
    kept: Option<Kept<Compressor>>,
}

/// A direction with context takeover: its zlib state while in use, and its window.
struct Kept<C> {
    live: Option<Box<C>>,
    window: Window,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("bits", &self.bits)
            .field("takeover", &self.kept.is_some())
            .field("live", &self.is_live())
            .finish()
    }
}

impl<C> Kept<C> {
    fn new(bits: u8) -> Self {
        Kept {
            live: None,
            window: Window::new(window_size(bits)),
        }
    }

    fn release(&mut self) {
        self.live = None;
        self.window.compact();
    }
}

impl Outgoing {
    /// `takeover`: context is kept between messages (the peer agreed to keep its window).
    pub fn new(level: u32, bits: u8, takeover: bool) -> Self {
        Outgoing {
            level,
            bits,
            kept: takeover.then(|| Kept::new(bits)),
        }
    }

    /// Appends the compressed form of `payload` to `out`.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let (level, bits) = (self.level, self.bits);
        match &mut self.kept {
            Some(kept) => {
                let window = &kept.window;
                let live = kept.live.get_or_insert_with(|| {
                    let mut c = Compressor::new(level, bits, false);
                    if !window.buf.is_empty() {
                        c.prime(window.recent());
                    }
                    Box::new(c)
                });
                live.compress(payload, out);
                kept.window.push(payload);
            }
            None => compress_shared((level, bits), payload, out),
        }
    }

    /// True while this direction holds zlib state of its own.
    pub fn is_live(&self) -> bool {
        self.kept.as_ref().is_some_and(|k| k.live.is_some())
    }

    /// `(level, window bits)` when this direction keeps no context: then any connection with
    /// the same pair compresses a message to the same bytes, so a broadcast can compress once.
    pub fn shared_key(&self) -> Option<(u32, u8)> {
        self.kept.is_none().then_some((self.level, self.bits))
    }

    /// Frees the zlib state, keeping the window to rebuild it from.
    pub fn release(&mut self) {
        if let Some(kept) = &mut self.kept {
            kept.release();
        }
    }
}

/// The receiving direction of a connection: inflates messages frame by frame.
pub struct Incoming {
    bits: u8,
    kept: Option<Kept<Inflater>>,
    /// Without context takeover: the inflater of a fragmented message in progress.
    own: Option<Box<Inflater>>,
}

impl Incoming {
    /// `takeover`: the peer keeps its context between messages, so this side must too.
    pub fn new(bits: u8, takeover: bool) -> Self {
        Incoming {
            bits,
            kept: takeover.then(|| Kept::new(bits)),
            own: None,
        }
    }

    /// Inflates one frame's payload of a compressed message onto `out` (`first` and `last`
    /// frame of the message), never past `limit` bytes of `out`.
    pub fn inflate(
        &mut self,
        input: &[u8],
        first: bool,
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let bits = self.bits;
        let start = out.len();
        match &mut self.kept {
            Some(kept) => {
                let window = &kept.window;
                let live = kept.live.get_or_insert_with(|| {
                    let mut i = Inflater::new(bits, false);
                    if !window.buf.is_empty() {
                        i.prime(window.recent());
                    }
                    Box::new(i)
                });
                let result = live.inflate(input, last, out, limit);
                kept.window.push(&out[start..]);
                if live.restarted() {
                    // a final block ended the stream: the window survives only in `kept`
                    live.prime(kept.window.recent());
                }
                result
            }
            None if first && last => SHARED_INFLATERS.with(|shared| {
                let mut shared = shared.borrow_mut();
                let at = match shared.iter().position(|(k, _)| *k == bits) {
                    Some(at) => at,
                    None => {
                        shared.push((bits, Inflater::new(bits, true)));
                        shared.len() - 1
                    }
                };
                let result = shared[at].1.inflate(input, true, out, limit);
                if result.is_err() {
                    // a failed message leaves the stream mid-way: start the next one clean
                    shared[at].1 = Inflater::new(bits, true);
                }
                result
            }),
            None => {
                let own = self
                    .own
                    .get_or_insert_with(|| Box::new(Inflater::new(bits, true)));
                let result = own.inflate(input, last, out, limit);
                if last || result.is_err() {
                    self.own = None;
                }
                result
            }
        }
    }

    /// True while this direction holds zlib state of its own.
    pub fn is_live(&self) -> bool {
        self.own.is_some() || self.kept.as_ref().is_some_and(|k| k.live.is_some())
    }

    /// Frees the zlib state between messages, keeping the window to rebuild it from. Does
    /// nothing in the middle of a fragmented message.
    pub fn release(&mut self, mid_message: bool) {
        if mid_message {
            return;
        }
        if let Some(kept) = &mut self.kept {
            kept.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seed: usize, len: usize) -> Vec<u8> {
        let words = [
            "alpha",
            "beta",
            "gamma",
            "delta",
            "{\"id\":",
            "\"name\":",
            ", ",
        ];
        let mut out = Vec::new();
        let mut x = seed.wrapping_mul(2654435761) | 1;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(words[x % words.len()].as_bytes());
            out.extend_from_slice((x % 1000).to_string().as_bytes());
        }
        out.truncate(len);
        out
    }

    /// Sends `messages` through a compressor and an inflater, releasing both after the
    /// messages at the given indexes; returns the compressed sizes.
    fn run(takeover: bool, bits: u8, messages: &[Vec<u8>], release_after: &[usize]) -> usize {
        let mut tx = Outgoing::new(6, bits, takeover);
        let mut rx = Incoming::new(bits, takeover);
        let mut total = 0;
        for (i, m) in messages.iter().enumerate() {
            let mut z = Vec::new();
            tx.compress(m, &mut z);
            total += z.len();
            let mut back = Vec::new();
            rx.inflate(&z, true, true, &mut back, usize::MAX).unwrap();
            assert_eq!(&back, m, "message {i}");
            if release_after.contains(&i) {
                tx.release();
                rx.release(false);
                assert!(!tx.is_live() && !rx.is_live());
            }
        }
        total
    }

    #[test]
    fn a_released_context_is_rebuilt_from_its_window_for_every_size() {
        let messages: Vec<Vec<u8>> = (0..12).map(|i| text(i % 3, 300 + i * 700)).collect();
        for bits in 8..=15 {
            let kept = run(true, bits, &messages, &[]);
            let released = run(true, bits, &messages, &[0, 2, 3, 7, 10]);
            let none = run(false, bits, &messages, &[]);
            assert!(
                released <= kept + kept / 50,
                "bits {bits}: {released} vs {kept}"
            );
            if bits >= 12 {
                assert!(
                    kept < none,
                    "bits {bits}: takeover helps ({kept} vs {none})"
                );
            }
        }
    }

    #[test]
    fn window_keeps_the_last_bytes_through_any_sequence_of_pushes() {
        let mut w = Window::new(16);
        let mut all = Vec::new();
        for (i, n) in [3usize, 10, 1, 20, 5, 15, 16, 2, 31].iter().enumerate() {
            let data: Vec<u8> = (0..*n).map(|k| (i * 37 + k) as u8).collect();
            w.push(&data);
            all.extend_from_slice(&data);
            assert_eq!(w.recent(), &all[all.len().saturating_sub(16)..]);
            assert!(w.buf.len() <= 32);
        }
        w.compact();
        assert_eq!(w.buf, &all[all.len() - 16..]);
    }

    #[test]
    fn fragmented_messages_without_takeover_do_not_share_state() {
        let m = text(1, 5000);
        let mut tx = Outgoing::new(6, 15, false);
        let mut z = Vec::new();
        tx.compress(&m, &mut z);
        let (a, b) = z.split_at(z.len() / 2);
        let mut rx1 = Incoming::new(15, false);
        let mut rx2 = Incoming::new(15, false);
        let mut out1 = Vec::new();
        rx1.inflate(a, true, false, &mut out1, usize::MAX).unwrap();
        // another connection inflates a whole message in between
        let mut out2 = Vec::new();
        rx2.inflate(&z, true, true, &mut out2, usize::MAX).unwrap();
        rx1.inflate(b, false, true, &mut out1, usize::MAX).unwrap();
        assert_eq!(out1, m);
        assert_eq!(out2, m);
        assert!(!rx1.is_live());
    }
}
