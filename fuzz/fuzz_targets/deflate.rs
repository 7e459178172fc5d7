//! permessage-deflate, two ways:
//!
//! 1. Round trip: the input, cut into messages at each 0xFF byte, is compressed by the sending
//!    side and inflated by the receiving side with the parameters the flags give (window bits,
//!    context takeover, release of the zlib state between messages); every message must come
//!    back exactly.
//! 2. Peer bytes: the input (after the flags) is fed to a server `Receiver` with inflation on,
//!    whole and in 7-byte pieces: no panic, the same result either way, inflated messages within
//!    the limit, text valid UTF-8.
//!
//! Input layout: byte 0 flags (bits 0-2: window bits - 8; bit 3: context takeover; bit 4:
//! release after each message; bits 5-7: zlib level), byte 1 message limit in 64-byte units
//! (0: 64 KiB), then the data.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use websocket_rs::protocol::frame::{ProtocolError, Role};
use websocket_rs::protocol::message::{Incoming, Receiver, ReceiverConfig};
use websocket_rs::protocol::takeover;

fn round_trip(bits: u8, takeover_on: bool, release: bool, level: u32, data: &[u8]) {
    let mut tx = takeover::Outgoing::new(level, bits, takeover_on);
    let mut rx = takeover::Incoming::new(bits, takeover_on);
    for message in data.split(|b| *b == 0xFF).take(16) {
        let mut z = Vec::new();
        tx.compress(message, &mut z);
        let mut back = Vec::new();
        // the compressed bytes in up to three frames
        let cuts = [z.len() / 3, 2 * z.len() / 3];
        let parts = [&z[..cuts[0]], &z[cuts[0]..cuts[1]], &z[cuts[1]..]];
        for (i, part) in parts.iter().enumerate() {
            rx.inflate(part, i == 0, i == 2, &mut back, usize::MAX)
                .expect("our own compressed message inflates");
        }
        assert_eq!(back, message, "round trip");
        if release {
            tx.release();
            rx.release(false);
        }
    }
}

fn read_all(
    config: ReceiverConfig,
    bits: u8,
    takeover_on: bool,
    pieces: &[&[u8]],
) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut rx = Receiver::new(config);
    rx.enable_inflate(bits, !takeover_on);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match rx.read(&mut buf) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

fuzz_target!(|raw: &[u8]| {
    let [flags, limit, data @ ..] = raw else {
        return;
    };
    let bits = 8 + (flags & 7);
    let takeover_on = flags & 8 != 0;
    let release = flags & 16 != 0;
    let level = u32::from(flags >> 5) + 1;
    round_trip(bits, takeover_on, release, level, data);

    let max_message = if *limit == 0 {
        64 * 1024
    } else {
        u64::from(*limit) * 64
    };
    let config = ReceiverConfig {
        role: Role::Server,
        max_frame_size: 64 * 1024,
        max_message_size: max_message,
        assemble_fragments: true,
        allowed_rsv: 0,
    };
    let whole = read_all(config, bits, takeover_on, &[data]);
    let pieces: Vec<&[u8]> = data.chunks(7).collect();
    let chunked = read_all(config, bits, takeover_on, &pieces);
    assert_eq!(whole, chunked, "chunking changed the result");
    for e in &whole.0 {
        match e {
            Incoming::Text(t) => {
                assert!(t.len() as u64 <= max_message, "text over the limit");
                assert!(std::str::from_utf8(t).is_ok(), "text is not UTF-8");
            }
            Incoming::Binary(b) => assert!(b.len() as u64 <= max_message, "binary over the limit"),
            _ => {}
        }
    }
});
