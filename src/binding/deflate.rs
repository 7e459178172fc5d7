//! permessage-deflate negotiation for the JS handshake code, and the negotiated parameters a
//! connection is started with.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::protocol::connection::DeflateSetup;
use crate::protocol::deflate::{self, DeflateConfig, DeflateParams};

/// What an endpoint asks for (`perMessageDeflate: { ... }`, checked by the JS layer), or, on a
/// connection, what was agreed (every field set). `ws`'s names.
#[napi(object)]
#[derive(Clone)]
pub struct DeflateOptions {
    pub server_no_context_takeover: Option<bool>,
    pub client_no_context_takeover: Option<bool>,
    pub server_max_window_bits: Option<u32>,
    /// A number, or absent: any (server), none asked (client, which still offers the
    /// parameter without a value).
    pub client_max_window_bits: Option<u32>,
    pub threshold: Option<f64>,
    pub level: Option<u32>,
}

fn bits(v: Option<u32>) -> Option<u8> {
    v.map(|b| b.clamp(8, 15) as u8)
}

impl DeflateOptions {
    fn config(&self) -> DeflateConfig {
        DeflateConfig {
            server_no_context_takeover: self.server_no_context_takeover.unwrap_or(false),
            client_no_context_takeover: self.client_no_context_takeover.unwrap_or(false),
            server_max_window_bits: bits(self.server_max_window_bits).unwrap_or(15),
            client_max_window_bits: bits(self.client_max_window_bits),
        }
    }

    fn agreed(params: DeflateParams, asked: &DeflateOptions) -> DeflateOptions {
        DeflateOptions {
            server_no_context_takeover: Some(params.server_no_context_takeover),
            client_no_context_takeover: Some(params.client_no_context_takeover),
            server_max_window_bits: Some(params.server_max_window_bits.into()),
            client_max_window_bits: Some(params.client_max_window_bits.into()),
            threshold: asked.threshold,
            level: asked.level,
        }
    }

    /// The setup of a connection started with these (agreed) parameters.
    pub(super) fn setup(&self) -> DeflateSetup {
        let threshold = self.threshold.unwrap_or(1024.0);
        DeflateSetup {
            params: DeflateParams {
                server_no_context_takeover: self.server_no_context_takeover.unwrap_or(false),
                client_no_context_takeover: self.client_no_context_takeover.unwrap_or(false),
                server_max_window_bits: bits(self.server_max_window_bits).unwrap_or(15),
                client_max_window_bits: bits(self.client_max_window_bits).unwrap_or(15),
            },
            threshold: if threshold.is_nan() || threshold <= 0.0 {
                0
            } else {
                threshold.min(usize::MAX as f64) as usize
            },
            level: self.level.unwrap_or(4).min(9),
        }
    }
}

/// The server's answer to a request's `Sec-WebSocket-Extensions` value: `[response, agreed]`,
/// or `null` to decline (no acceptable offer, or a malformed header).
#[napi(catch_unwind)]
pub fn deflate_accept(header: String, options: DeflateOptions) -> Option<(String, DeflateOptions)> {
    let offers = deflate::parse_extensions(&header)?;
    let accepted = deflate::negotiate_server(&offers, &options.config())?;
    Some((
        accepted.response,
        DeflateOptions::agreed(accepted.params, &options),
    ))
}

/// The client's `Sec-WebSocket-Extensions` offer.
#[napi(catch_unwind)]
pub fn deflate_offer(options: DeflateOptions) -> String {
    deflate::client_offer(&options.config())
}

/// Checks the server's answer (`undefined` when it sent none): the agreed parameters, `null`
/// when it declined, or an error saying why the connection must fail.
#[napi(catch_unwind)]
pub fn deflate_check_answer(
    header: Option<String>,
    options: DeflateOptions,
) -> Result<Option<DeflateOptions>> {
    let Some(header) = header else {
        return Ok(None);
    };
    let answer = deflate::parse_extensions(&header).ok_or_else(|| {
        Error::from_reason(format!("Invalid Sec-WebSocket-Extensions header: {header}"))
    })?;
    match deflate::negotiate_client(&answer, &options.config()) {
        Ok(found) => Ok(found.map(|p| DeflateOptions::agreed(p, &options))),
        Err(deflate::BadAnswer(why)) => Err(Error::from_reason(format!(
            "Invalid Sec-WebSocket-Extensions header: {why}"
        ))),
    }
}
