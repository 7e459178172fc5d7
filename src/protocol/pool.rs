//! Reusable buffers for large outgoing messages.
//!
//! Performance choice: a large message is copied once out of the caller's memory. A fresh
//! allocation of a megabyte comes from `mmap` and costs a page fault per 4 KiB on first touch,
//! more than the copy itself; buffers returned here after the message is written are warm.

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers kept for reuse, and their total size, at most.
const MAX_BUFFERS: usize = 8;
const MAX_POOLED_BYTES: usize = 32 * 1024 * 1024;

/// Copies smaller than this are plain allocations (the allocator already serves them well).
pub const POOL_MIN: usize = 128 * 1024;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Vec<u8>>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer that goes back to the pool when the last `Bytes` over it is dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let mut pool = pool();
        let total: usize = pool.iter().map(Vec::capacity).sum();
        if pool.len() < MAX_BUFFERS && total + buf.capacity() <= MAX_POOLED_BYTES {
            pool.push(buf);
        }
    }
}

/// `data` copied into an owned `Bytes`, reusing a pooled buffer for large sizes.
pub fn copy(data: &[u8]) -> Bytes {
    if data.len() < POOL_MIN {
        return Bytes::copy_from_slice(data);
    }
    let reused = {
        let mut pool = pool();
        pool.iter()
            .position(|b| b.capacity() >= data.len())
            .map(|i| pool.swap_remove(i))
    };
    let mut buf = reused.unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(data);
    Bytes::from_owner(Pooled(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact_and_buffers_come_back() {
        let data: Vec<u8> = (0..POOL_MIN + 10).map(|i| i as u8).collect();
        let a = copy(&data);
        assert_eq!(&a[..], &data[..]);
        let ptr = a.as_ptr();
        drop(a);
        // The next large copy may reuse the returned buffer (other tests share the pool, so
        // only equality of contents is certain).
        let b = copy(&data[..POOL_MIN]);
        assert_eq!(&b[..], &data[..POOL_MIN]);
        let _ = ptr;
        let small = copy(b"tiny");
        assert_eq!(&small[..], b"tiny");
    }
}
