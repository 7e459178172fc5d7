//! Micro-benchmarks of the protocol hot paths: masking and UTF-8 validation.
//!
//! Run with `cargo bench --bench core` (add `-- --quick` for shorter runs). Each case is repeated
//! for a fixed time budget split into several runs; the best run is reported in GB/s (1e9 bytes/s).

use std::hint::black_box;
use std::time::{Duration, Instant};

use websocket_rs::protocol::mask::{apply_mask, mask_into};
use websocket_rs::protocol::utf8::{is_valid, Utf8Validator};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const SIZES: [usize; 3] = [16, 1024, 1 << 20];
const RUNS: u32 = 5;
/// Chunk size for the incremental validator case, chosen so chunks split multi-byte characters.
const FEED_CHUNK: usize = 1000;

/// Time budget for one case: the whole budget is split into `RUNS` runs.
struct Budget {
    per_case: Duration,
}

/// Best throughput of `RUNS` runs of `f`, each processing `bytes` bytes per call, in GB/s.
fn measure(budget: &Budget, bytes: usize, mut f: impl FnMut()) -> f64 {
    let per_run = budget.per_case / RUNS;
    let mut iters: u64 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let elapsed = start.elapsed();
        if elapsed >= per_run / 10 {
            let scale = per_run.as_secs_f64() / elapsed.as_secs_f64();
            iters = ((iters as f64 * scale) as u64).max(1);
            break;
        }
        iters *= 2;
    }
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    (bytes as f64 * iters as f64) / best / 1e9
}

/// Builds a valid UTF-8 text of about the given length.
type TextMaker = fn(usize) -> Vec<u8>;

/// Printable ASCII of length `len`.
fn ascii_text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b' ' + (i % 95) as u8).collect()
}

/// Mixed Cyrillic, CJK, emoji and some ASCII, cut at a character boundary at or below `len`.
fn multibyte_text(len: usize) -> Vec<u8> {
    const SAMPLE: &str = "Привет, мир! 你好世界，欢迎光临。🎉🚀😀 Ünïcödé τέλος ";
    let mut s = String::with_capacity(len + SAMPLE.len());
    while s.len() < len {
        s.push_str(SAMPLE);
    }
    let mut cut = len.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.into_bytes()
}

fn label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn report(case: &str, size: usize, gbps: f64) {
    println!("{case:<36} {:>8} {gbps:>9.2}", label(size));
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Budget {
        per_case: Duration::from_millis(if quick { 25 } else { 200 }),
    };
    println!("{:<36} {:>8} {:>9}", "case", "size", "GB/s");

    for &size in &SIZES {
        let mut buf = vec![0x5au8; size];
        let gbps = measure(&budget, size, || {
            apply_mask(black_box(&mut buf), black_box(KEY), 0);
        });
        report("apply_mask (offset 0)", size, gbps);
    }

    for &size in &SIZES {
        let mut buf = vec![0x5au8; size + 3];
        let gbps = measure(&budget, size, || {
            apply_mask(black_box(&mut buf[3..]), black_box(KEY), 1);
        });
        report("apply_mask (unaligned +3, phase 1)", size, gbps);
    }

    for &size in &SIZES {
        let src = vec![0x5au8; size];
        let mut dst = vec![0u8; size];
        let gbps = measure(&budget, size, || {
            mask_into(black_box(&mut dst), black_box(&src), black_box(KEY));
        });
        report("mask_into", size, gbps);
    }

    let texts: [(&str, TextMaker); 2] = [("ASCII", ascii_text), ("multi-byte", multibyte_text)];
    for (kind, make) in texts {
        for &size in &SIZES {
            let text = make(size);
            assert!(std::str::from_utf8(&text).is_ok());
            let mut v = Utf8Validator::new();
            let gbps = measure(&budget, text.len(), || {
                for chunk in black_box(&text).chunks(FEED_CHUNK) {
                    assert!(v.feed(chunk).is_ok());
                }
                assert!(v.finish().is_ok());
            });
            report(
                &format!("Utf8Validator {kind} ({FEED_CHUNK} B feeds)"),
                size,
                gbps,
            );
        }
        for &size in &SIZES {
            let text = make(size);
            let gbps = measure(&budget, text.len(), || {
                assert!(is_valid(black_box(&text)));
            });
            report(&format!("is_valid {kind}"), size, gbps);
        }
        let text = make(1 << 20);
        let gbps = measure(&budget, text.len(), || {
            assert!(std::str::from_utf8(black_box(&text)).is_ok());
        });
        report(&format!("(reference) std from_utf8 {kind}"), 1 << 20, gbps);
    }
}
