//! Peer bytes in arbitrary chunks through the receiving path: `Receiver::read` and the sans-IO
//! `Connection::receive` (which adds the close handshake, pong replies and error closes).
//!
//! Input layout (see `fuzz/gen_seeds.py`):
//!
//! ```text
//! byte 0      flags   bit0 client role (else server)
//!                     bit1 assemble_fragments = false
//!                     bit2 the application handles pings (no automatic pong)
//!                     bit3-4 allowed RSV bits: 0 none, 1 RSV1, 2 all three, 3 none
//!                     bit5 local close() after the first chunk
//!                     bit6 tiny limits, from the two bytes that follow (else 64 KiB frames,
//!                     256 KiB messages)
//! [2 bytes]   only with bit6: max frame = first byte (0..=255), max message = 2 * second
//! byte 1      n       number of chunk-size bytes (n % 17)
//! n bytes     chunk sizes, cycled: 0 = all the rest, 1..=127 = that many bytes,
//!             128..=255 = (b - 127) * 256 bytes
//! rest        the bytes the peer sends
//! ```
//!
//! Checked: no panic; chunking never changes what the receiver reports; passing frames up
//! and assembling them agree; events respect the limits; text is valid UTF-8 (also across unassembled fragments, as far as they go); nothing
//! follows a close frame or an error; the connection's own output (pongs, close replies) is
//! well-formed for the peer and says what it should.
#![no_main]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use websocket_rs::protocol::close::code;
use websocket_rs::protocol::connection::{Connection, ConnectionConfig, Event, TransportEnd};
use websocket_rs::protocol::frame::{
    OpCode, ProtocolError, Role, MAX_CONTROL_PAYLOAD, RSV1, RSV2, RSV3,
};
use websocket_rs::protocol::message::{Incoming, Receiver, ReceiverConfig, SenderConfig};
use websocket_rs::protocol::state::ConnectionState;

struct Input<'a> {
    flags: u8,
    /// (max frame, max message)
    limits: (u64, u64),
    chunks: &'a [u8],
    data: &'a [u8],
}

fn parse(raw: &[u8]) -> Option<Input<'_>> {
    let (&flags, rest) = raw.split_first()?;
    let (limits, rest) = if flags & 0x40 != 0 {
        match rest {
            [f, m, rest @ ..] => ((u64::from(*f), 2 * u64::from(*m)), rest),
            _ => return None,
        }
    } else {
        ((64 * 1024, 256 * 1024), rest)
    };
    let (n, rest) = match rest.split_first() {
        Some((&n, rest)) => (usize::from(n) % 17, rest),
        None => (0, rest),
    };
    let (chunks, data) = rest.split_at(n.min(rest.len()));
    Some(Input {
        flags,
        limits,
        chunks,
        data,
    })
}

/// The pieces `data` is delivered in.
fn pieces<'a>(data: &'a [u8], chunks: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let size = match chunks.get(i % chunks.len().max(1)).copied().unwrap_or(0) {
            0 => rest.len(),
            b @ 1..=127 => usize::from(b),
            b => usize::from(b - 127) * 256,
        };
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// Reads everything `rx` can get from `pieces`; stops at the first error. Also checks that a
/// finished receiver stays finished and silent.
fn read_all(config: ReceiverConfig, pieces: &[&[u8]]) -> (Vec<Incoming>, Option<ProtocolError>) {
    let mut rx = Receiver::new(config);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut error = None;
    'outer: for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match rx.read(&mut buf) {
                Ok(Some(e)) => {
                    let is_close = matches!(e, Incoming::Close { .. });
                    events.push(e);
                    if is_close {
                        assert!(rx.is_finished(), "close frame must finish the receiver");
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'outer;
                }
            }
        }
    }
    if error.is_some() || matches!(events.last(), Some(Incoming::Close { .. })) {
        assert!(rx.is_finished());
        let mut more = BytesMut::from(&b"\x81\x80\x00\x00\x00\x00\x82\x00"[..]);
        assert_eq!(rx.read(&mut more), Ok(None), "read after the end");
        assert!(more.is_empty(), "input after the end is discarded");
    }
    (events, error)
}

/// Checks the receiver's event list on its own.
fn check_incoming(config: &ReceiverConfig, events: &[Incoming], error: &Option<ProtocolError>) {
    // Message in progress when fragments are passed up: (is text, bytes so far).
    let mut open: Option<(bool, Vec<u8>)> = None;
    for (i, e) in events.iter().enumerate() {
        match e {
            Incoming::Text(data) => {
                assert!(config.assemble_fragments);
                assert!(
                    data.len() as u64 <= config.max_message_size,
                    "text over limit"
                );
                assert!(std::str::from_utf8(data).is_ok(), "text event is not UTF-8");
            }
            Incoming::Binary(data) => {
                assert!(config.assemble_fragments);
                assert!(
                    data.len() as u64 <= config.max_message_size,
                    "binary over limit"
                );
            }
            Incoming::Frame(f) => {
                assert!(!config.assemble_fragments);
                assert!(
                    f.payload.len() as u64 <= config.max_frame_size,
                    "frame over limit"
                );
                assert_eq!(f.rsv & !config.allowed_rsv, 0, "rsv bit not allowed");
                match (f.opcode, &mut open) {
                    (OpCode::Text | OpCode::Binary, None) => {
                        open = Some((f.opcode == OpCode::Text, f.payload.to_vec()))
                    }
                    (OpCode::Continuation, Some((_, bytes))) => bytes.extend_from_slice(&f.payload),
                    (op, o) => panic!("bad data frame sequence: {op:?} with open {o:?}"),
                }
                let (text, bytes) = open.as_ref().unwrap();
                if *text {
                    match std::str::from_utf8(bytes) {
                        Ok(_) => {}
                        // An incomplete character is allowed until the final frame.
                        Err(err) => assert!(
                            !f.fin && err.error_len().is_none(),
                            "text frames passed up are not UTF-8 so far: {err}"
                        ),
                    }
                }
                if f.fin {
                    open = None;
                }
            }
            Incoming::Ping(p) | Incoming::Pong(p) => {
                assert!(p.len() <= MAX_CONTROL_PAYLOAD, "control payload over 125");
            }
            Incoming::Close { status, reason } => {
                assert_eq!(i, events.len() - 1, "event after a close frame");
                assert!(error.is_none(), "error after a close frame");
                assert!(reason.len() + 2 <= MAX_CONTROL_PAYLOAD);
                assert!(status.is_some() || reason.is_empty());
            }
        }
    }
    if let Some(e) = error {
        assert!(
            matches!(
                e.code,
                code::PROTOCOL_ERROR | code::INVALID_DATA | code::MESSAGE_TOO_BIG
            ),
            "unexpected error code {}",
            e.code
        );
    }
}

/// `assembled` (messages) against `frames` (frames passed up, regrouped into messages): the
/// same messages, control frames and error, except that only assembling enforces the message
/// size limit, so there the assembled run may stop early.
fn compare_modes(
    assembled: (&[Incoming], &Option<ProtocolError>),
    frames: (&[Incoming], &Option<ProtocolError>),
) {
    let mut regrouped = Vec::new();
    let mut open: Option<(OpCode, Vec<u8>)> = None;
    for e in frames.0 {
        match e {
            Incoming::Frame(f) => {
                let (_, bytes) = open.get_or_insert_with(|| (f.opcode, Vec::new()));
                bytes.extend_from_slice(&f.payload);
                if f.fin {
                    let (op, bytes) = open.take().unwrap();
                    regrouped.push(match op {
                        OpCode::Text => Incoming::Text(Bytes::from(bytes)),
                        _ => Incoming::Binary(Bytes::from(bytes)),
                    });
                }
            }
            other => regrouped.push(other.clone()),
        }
    }
    // A 1009 that the frames run did not report the same way: the message limit.
    let too_big = matches!(assembled.1, Some(e) if e.code == code::MESSAGE_TOO_BIG)
        && assembled.1 != frames.1;
    if too_big {
        assert!(
            regrouped.starts_with(assembled.0),
            "assembled {:?} vs frames {:?}",
            assembled.0,
            frames.0
        );
    } else {
        assert_eq!(assembled.0, &regrouped[..], "assembled vs frames passed up");
        assert_eq!(
            assembled.1, frames.1,
            "assembled vs frames passed up: error"
        );
    }
}

/// Events a peer with `role` reads from `wire`.
fn peer_reads(role: Role, wire: &[u8]) -> Vec<Incoming> {
    let config = ReceiverConfig {
        role,
        max_frame_size: u64::MAX,
        max_message_size: u64::MAX,
        assemble_fragments: true,
        allowed_rsv: 0,
    };
    let (events, error) = read_all(config, &[wire]);
    assert_eq!(error, None, "our own output is malformed: {wire:02x?}");
    events
}

/// Moves everything the connection wants to write into `out`, as a transport would.
fn drain(conn: &mut Connection, out: &mut Vec<u8>) {
    loop {
        let wire = conn.wire();
        if wire.is_empty() {
            break;
        }
        let n = wire.len();
        out.extend_from_slice(wire);
        conn.written(n);
    }
}

fn message_events(events: &[Incoming]) -> Vec<Event> {
    events
        .iter()
        .filter_map(|e| match e {
            Incoming::Text(d) => Some(Event::Text(d.clone())),
            Incoming::Binary(d) => Some(Event::Binary(d.clone())),
            _ => None,
        })
        .collect()
}

fuzz_target!(|raw: &[u8]| {
    let Some(input) = parse(raw) else { return };
    let flags = input.flags;
    let role = if flags & 1 != 0 {
        Role::Client
    } else {
        Role::Server
    };
    let assemble = flags & 2 == 0;
    let app_pings = flags & 4 != 0;
    let allowed_rsv = match (flags >> 3) & 3 {
        1 => RSV1,
        2 => RSV1 | RSV2 | RSV3,
        _ => 0,
    };
    let local_close = flags & 0x20 != 0;
    let (max_frame_size, max_message_size) = input.limits;
    let receiver = ReceiverConfig {
        role,
        max_frame_size,
        max_message_size,
        assemble_fragments: assemble,
        allowed_rsv,
    };
    let pieces = pieces(input.data, input.chunks);

    // 1. The receiver alone: the same result for any chunking, and sane events.
    let (events, error) = read_all(receiver, &pieces);
    let (whole_events, whole_error) = read_all(receiver, &[input.data]);
    assert_eq!(events, whole_events, "chunking changed the events");
    assert_eq!(error, whole_error, "chunking changed the error");
    check_incoming(&receiver, &events, &error);
    // The other assembling mode reads the same messages.
    let other = ReceiverConfig {
        assemble_fragments: !assemble,
        ..receiver
    };
    let (other_events, other_error) = read_all(other, &pieces);
    check_incoming(&other, &other_events, &other_error);
    if assemble {
        compare_modes((&events, &error), (&other_events, &other_error));
    } else {
        compare_modes((&other_events, &other_error), (&events, &error));
    }

    // 2. The connection, fed like the Tokio transport feeds it.
    let config = ConnectionConfig {
        receiver,
        sender: SenderConfig {
            role,
            fragment_outgoing: true,
            fragmentation_threshold: 16 * 1024,
        },
        keepalive_interval: None,
        keepalive_grace: None,
        close_timeout: Duration::from_secs(5),
        high_water_mark: 16 * 1024,
    };
    let now = Instant::now();
    let mut conn = Connection::new(config, now);
    conn.set_app_handles_pings(app_pings);
    let mut rbuf = BytesMut::new();
    let mut got = Vec::new();
    let mut wire = Vec::new();
    let mut closed_locally = false;
    for (i, piece) in pieces.iter().enumerate() {
        let want = conn.payload_needed(rbuf.len());
        rbuf.reserve(want.clamp(64, 1 << 20));
        rbuf.extend_from_slice(piece);
        conn.receive(&mut rbuf, now);
        conn.take_events(&mut got);
        // As a transport does once the events before a violation are delivered.
        if let Some(i) = got
            .iter()
            .position(|e| matches!(e, Event::FailAfterDelivery { .. }))
        {
            let Event::FailAfterDelivery { code, reason } = got.remove(i) else {
                unreachable!()
            };
            conn.fail_after_delivery(code, &reason, now);
            conn.take_events(&mut got);
        }
        drain(&mut conn, &mut wire);
        if i == 0 && local_close && conn.state() == ConnectionState::Open {
            conn.close(code::NORMAL, "bye", now);
            closed_locally = true;
            drain(&mut conn, &mut wire);
        }
    }
    let finished_by_receive = conn.is_finished();
    conn.transport_closed(TransportEnd::Eof);
    conn.take_events(&mut got);
    assert!(conn.is_finished());

    // Exactly one Closed, last, with the code the input calls for.
    let closed: Vec<_> = got
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Closed { .. }))
        .collect();
    assert_eq!(closed.len(), 1, "Closed events: {got:?}");
    let (closed_at, Event::Closed { code: status, .. }) = closed[0] else {
        unreachable!()
    };
    assert!(got[closed_at + 1..]
        .iter()
        .all(|e| matches!(e, Event::SendFailed(_))));
    let peer_close = match events.last() {
        Some(Incoming::Close { status, .. }) => Some(*status),
        _ => None,
    };
    let expected = match (&error, closed_locally, peer_close) {
        (Some(e), _, _) => e.code,
        (None, true, _) => code::NORMAL,
        (None, false, Some(s)) => s.unwrap_or(code::NOT_PROVIDED),
        (None, false, None) => code::ABNORMAL,
    };
    assert_eq!(*status, expected, "close code; events {got:?}");
    assert_eq!(finished_by_receive, error.is_some());

    for e in &got {
        match e {
            Event::Text(d) => {
                assert!(std::str::from_utf8(d).is_ok(), "Text event is not UTF-8");
                assert!(d.len() as u64 <= max_message_size);
            }
            Event::Binary(d) => assert!(d.len() as u64 <= max_message_size),
            // maxReceivedFrameSize is for data frames; control frames have their own 125.
            Event::Frame {
                opcode, payload, ..
            } if *opcode < 8 => assert!(payload.len() as u64 <= max_frame_size),
            Event::Frame { payload, .. } => assert!(payload.len() <= MAX_CONTROL_PAYLOAD),
            _ => {}
        }
    }

    // The application sees the receiver's messages (all, or a prefix if it closed first).
    let app_messages: Vec<Event> = got
        .iter()
        .filter(|e| matches!(e, Event::Text(_) | Event::Binary(_)))
        .cloned()
        .collect();
    let rx_messages = message_events(&events);
    if closed_locally {
        assert!(
            rx_messages.starts_with(&app_messages),
            "messages after close()"
        );
    } else {
        assert_eq!(
            app_messages, rx_messages,
            "connection lost or invented messages"
        );
    }
    if !assemble && !closed_locally {
        let frames = got
            .iter()
            .filter(|e| matches!(e, Event::Frame { .. }))
            .count();
        assert_eq!(frames, events.len(), "one frame event per frame");
    }

    // 3. What we sent back, read by the peer.
    let pings: Vec<Bytes> = events
        .iter()
        .filter_map(|e| match e {
            Incoming::Ping(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let back = peer_reads(peer_role, &wire);
    let pongs: Vec<Bytes> = back
        .iter()
        .filter_map(|e| match e {
            Incoming::Pong(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert!(back
        .iter()
        .all(|e| matches!(e, Incoming::Pong(_) | Incoming::Close { .. })));
    let app_ping_events: Vec<Bytes> = got
        .iter()
        .filter_map(|e| match e {
            Event::Ping(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    if app_pings {
        assert!(
            pongs.is_empty(),
            "automatic pong although the app handles pings"
        );
        assert!(pings.starts_with(&app_ping_events));
        if !closed_locally {
            assert_eq!(app_ping_events, pings);
        }
    } else {
        assert!(app_ping_events.is_empty());
        assert!(pings.starts_with(&pongs), "pongs do not echo the pings");
        if !closed_locally {
            assert_eq!(pongs, pings, "a ping went unanswered");
        }
    }
    let our_close = back.iter().find_map(|e| match e {
        Incoming::Close { status, .. } => Some(*status),
        _ => None,
    });
    let expected_close = match (&error, closed_locally, peer_close) {
        (_, true, _) => Some(Some(code::NORMAL)),
        (Some(e), false, _) => Some(Some(e.code)),
        // Echo the peer's status (none for an empty close).
        (None, false, Some(s)) => Some(s),
        (None, false, None) => None,
    };
    assert_eq!(
        our_close, expected_close,
        "our close frame; wire {wire:02x?}"
    );
});
