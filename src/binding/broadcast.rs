//! `server.broadcast*` in one call: the frames are encoded once and queued on every connection.
//!
//! Performance choice (issue: native fan-out): the original loops over connections in JS, each
//! `sendUTF` encoding and writing its own frame. Here JS passes the ids; each connection gets
//! the same encoded bytes (a copy into its wire buffer, or a shared reference behind a large
//! message), and the writes happen at the end of the batch, once per connection however many
//! broadcasts the batch made.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::JsString;
use napi_derive::napi;

use super::connection::{env_shared, slot, utf8_into, with_conns, SCHEDULE_FLUSH, TEXT};
use crate::protocol::frame::OpCode;
use crate::runtime::conn::ConnShared;
use crate::runtime::topics;

/// Queues `payload` as one message on each connection in `ids`. Returns `[flags, ...ids]`:
/// `flags` has [`SCHEDULE_FLUSH`] when the caller must schedule the flush, and the ids listed
/// are those whose `outputBufferFull` is now set. Closed or unknown ids are skipped.
fn broadcast(ids: &[u32], opcode: OpCode, payload: &[u8]) -> Vec<u32> {
    let mut out = vec![0u32];
    with_conns(|slots| {
        fan_out(
            ids.iter().filter_map(|&id| slot(slots, id)),
            0,
            opcode,
            payload,
            &mut out,
        )
    });
    out
}

/// [`topics::fan_out`] from the JS thread: the connections are written at the end of the batch
/// (or from the flush the caller schedules when `out[0]` gets [`SCHEDULE_FLUSH`]); the ids whose
/// `outputBufferFull` is now set are appended to `out`. Returns how many it was queued on.
pub(super) fn fan_out<'a>(
    conns: impl IntoIterator<Item = &'a Arc<ConnShared>>,
    except: u32,
    opcode: OpCode,
    payload: &[u8],
    out: &mut Vec<u32>,
) -> u32 {
    let env = env_shared();
    super::with_entropy(|keys| {
        topics::fan_out(conns, except, opcode, payload, keys, |c, full| {
            if full {
                out.push(c.id);
            }
            if env.as_ref().is_some_and(|e| e.mark_dirty(c)) {
                out[0] |= SCHEDULE_FLUSH as u32;
            }
        })
    })
}

/// `broadcastUTF`: one text message to every connection in `ids`.
#[napi(catch_unwind)]
pub fn broadcast_text(ids: Uint32Array, text: JsString) -> Result<Vec<u32>> {
    let value = text.value();
    TEXT.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        utf8_into(value.env, value.value, &mut buf)?;
        Ok(broadcast(&ids, OpCode::Text, &buf))
    })
}

/// `broadcastBytes`: one binary message to every connection in `ids`.
#[napi(catch_unwind)]
pub fn broadcast_binary(ids: Uint32Array, data: &[u8]) -> Vec<u32> {
    broadcast(&ids, OpCode::Binary, data)
}
