//! The per-message calls (`sendText`, `sendBinary`) as plain N-API callbacks instead of
//! `#[napi]` functions.
//!
//! Performance choice: napi-rs 3 wraps every `#[napi]` call that takes arguments in a
//! native-borrow scope (a thread-local scope opened, a barrier, a release), which profiled at
//! about 7% of the server's CPU in the 64-byte echo benchmark, more than the send itself.
//! These callbacks read their arguments straight from `napi_get_cb_info`. Everything else
//! stays `#[napi]`.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// Adds the raw callbacks to the module's exports.
#[napi(module_exports)]
pub fn raw_exports(exports: Object, env: Env) -> Result<()> {
    let entries: [(&str, Callback); 2] = [("sendText", send_text), ("sendBinary", send_binary)];
    for (name, cb) in entries {
        let mut f = ptr::null_mut();
        // SAFETY: module initialisation on the JS thread; `name` is valid for `name.len()` bytes.
        let status = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr().cast::<c_char>(),
                name.len() as isize,
                Some(cb),
                ptr::null_mut(),
                &mut f,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(Error::from_reason(format!("cannot create {name}")));
        }
        // SAFETY: as above; `exports` and `f` are live handles of this call.
        let status = unsafe {
            let mut key = ptr::null_mut();
            sys::napi_create_string_utf8(
                env.raw(),
                name.as_ptr().cast::<c_char>(),
                name.len() as isize,
                &mut key,
            );
            sys::napi_set_property(env.raw(), exports.raw(), key, f)
        };
        if status != sys::Status::napi_ok {
            return Err(Error::from_reason(format!("cannot export {name}")));
        }
    }
    Ok(())
}

/// What a raw callback throws.
pub(super) enum Thrown {
    Type(&'static str),
    Plain(String),
}

/// The arguments of a raw call, as handles (missing ones are `undefined`).
pub(super) struct Args<const N: usize> {
    pub(super) env: sys::napi_env,
    pub(super) argv: [sys::napi_value; N],
}

impl<const N: usize> Args<N> {
    /// Argument `i` as a u32, or `None` when it is not a number (`undefined` for no callback).
    pub(super) fn opt_u32(&self, i: usize) -> Option<u32> {
        let mut out = 0u32;
        // SAFETY: JS thread, a handle valid for this call.
        let status = unsafe { sys::napi_get_value_uint32(self.env, self.argv[i], &mut out) };
        (status == sys::Status::napi_ok).then_some(out)
    }

    /// Argument `i` as a u32; anything else is a `TypeError`.
    pub(super) fn u32(&self, i: usize) -> std::result::Result<u32, Thrown> {
        self.opt_u32(i).ok_or(Thrown::Type("expected a number"))
    }
}

/// Runs `body` with the call's first `N` arguments and returns its int32 result. A `Thrown`
/// becomes a pending JS exception; a panic is caught (it must not cross the C boundary, which
/// would abort Node) and thrown as an `Error`.
unsafe fn call_i32<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Args<N>) -> std::result::Result<i32, Thrown>,
) -> sys::napi_value {
    let mut args = Args {
        env,
        argv: [ptr::null_mut(); N],
    };
    let mut argc = N;
    // SAFETY: JS thread inside a callback; N-API fills at most `argc` handles (and pads with
    // `undefined` when fewer were passed).
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            args.argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    let outcome = if status != sys::Status::napi_ok {
        Err(Thrown::Plain(
            "websocket-rs: cannot read the arguments".into(),
        ))
    } else {
        catch_unwind(AssertUnwindSafe(|| body(&args))).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(Thrown::Plain(format!(
                "websocket-rs: internal error: {what}"
            )))
        })
    };
    let mut out = ptr::null_mut();
    // SAFETY: JS thread; the message strings are NUL-terminated copies.
    unsafe {
        match outcome {
            Ok(v) => {
                sys::napi_create_int32(env, v, &mut out);
            }
            Err(Thrown::Type(msg)) => {
                let msg = std::ffi::CString::new(msg).unwrap_or_default();
                sys::napi_throw_type_error(env, ptr::null(), msg.as_ptr());
            }
            Err(Thrown::Plain(msg)) => {
                let msg = std::ffi::CString::new(msg).unwrap_or_default();
                sys::napi_throw_error(env, ptr::null(), msg.as_ptr());
            }
        }
    }
    out
}

/// What `sendText` and `sendBinary` call: (env, id, data, token, flags).
type Send = fn(
    sys::napi_env,
    u32,
    sys::napi_value,
    Option<u32>,
    Option<u32>,
) -> std::result::Result<i32, Thrown>;

/// A send's arguments, `(id, data, token?, flags?)`, given to `send`.
unsafe fn send_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    send: Send,
) -> sys::napi_value {
    // SAFETY: the caller is an N-API callback on the JS thread.
    unsafe {
        call_i32::<4>(env, info, |a| {
            let id = a.u32(0)?;
            send(a.env, id, a.argv[1], a.opt_u32(2), a.opt_u32(3))
        })
    }
}

/// `sendText(id, text, token?, flags?)`: see `connection::send_text`.
unsafe extern "C" fn send_text(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by N-API on the JS thread.
    unsafe { send_call(env, info, super::connection::send_text) }
}

/// `sendBinary(id, buffer, token?, flags?)`: see `connection::send_binary`.
unsafe extern "C" fn send_binary(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by N-API on the JS thread.
    unsafe { send_call(env, info, super::connection::send_binary) }
}
