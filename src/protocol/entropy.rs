//! Unpredictable bytes for masking keys (RFC 6455 §5.3) and handshake nonces (§4.1).

use super::message::MaskKeySource;

const POOL: usize = 256;

/// A pool of bytes from the operating system's cryptographic generator.
///
/// Performance choice: one `getrandom` call fills 256 bytes, i.e. 64 masking keys, instead of
/// a system call per frame.
#[derive(Debug, Clone)]
pub struct Entropy {
    pool: [u8; POOL],
    used: usize,
}

impl Default for Entropy {
    fn default() -> Self {
        Entropy {
            pool: [0; POOL],
            used: POOL,
        }
    }
}

impl Entropy {
    /// An empty pool; it is filled on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills `out` with unpredictable bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(POOL) {
            if self.used + chunk.len() > POOL {
                refill(&mut self.pool);
                self.used = 0;
            }
            chunk.copy_from_slice(&self.pool[self.used..self.used + chunk.len()]);
            // Never hand out the same bytes twice.
            self.pool[self.used..self.used + chunk.len()].fill(0);
            self.used += chunk.len();
        }
    }
}

impl MaskKeySource for Entropy {
    fn next_key(&mut self) -> [u8; 4] {
        let mut key = [0u8; 4];
        self.fill(&mut key);
        key
    }
}

/// Refills from the OS generator. Should the OS refuse (no entropy device in a broken
/// container), the bytes are derived by SHA-1 from the clock, a counter and the pool's address,
/// which keeps keys unguessable in practice instead of failing every send.
fn refill(pool: &mut [u8; POOL]) {
    if getrandom::fill(pool).is_ok() {
        return;
    }
    use sha1::{Digest, Sha1};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    for (i, chunk) in pool.chunks_mut(20).enumerate() {
        let mut h = Sha1::new();
        h.update(nanos.to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.update((chunk.as_ptr() as usize + i).to_le_bytes());
        let digest = h.finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_are_not_all_zero() {
        let mut e = Entropy::new();
        let keys: Vec<[u8; 4]> = (0..200).map(|_| e.next_key()).collect();
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert!(distinct.len() > 190, "{} distinct of 200", distinct.len());
    }

    #[test]
    fn fills_more_than_a_pool() {
        let mut e = Entropy::new();
        let mut big = vec![0u8; 1000];
        e.fill(&mut big);
        assert!(big.iter().filter(|&&b| b == 0).count() < 30);
    }
}
