//! `msrp_server_t`: listening sockets shared by many sessions (python-msrplib's
//! MSRPServer), routing incoming connections by session id.

use std::ffi::{c_char, c_void};
use std::sync::{mpsc, Arc, Mutex};

use super::config::{config_or_default, msrp_endpoint_config_t};
use super::connector::{msrp_complete_cb, spawn_completion};
use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, str_arg, string_into_ptr, try_ref, Castable,
    OwnershipBox,
};
use super::result::{fail, msrp_result_t, MSRP_RESULT_CANCELLED, MSRP_RESULT_NULL_POINTER};
use super::runtime::{block_on, check_may_block, duration_from_ms, lock, CallbackGate};
use super::tls::fingerprint_arg;
use super::transport::{msrp_transport_t, TransportHandle};
use super::uri::{parse_path, parse_uri};
use crate::connect::Server;
use crate::protocol::Uri;

/// Listening sockets shared by many sessions: `prepare` registers a local
/// URI (opening a listener for its address and port if needed), `complete`
/// waits for the peer that binds to it, `cleanup` forgets it. Connections for
/// unknown session ids are answered 481, for sessions already bound 506.
///
/// Made by `msrp_server_new`, freed by `msrp_server_free`.
///
/// Thread-safety: any function may be called from several threads at once
/// (one complete per local URI at a time).
pub struct msrp_server_t {
    _private: [u8; 0],
}

pub(crate) struct ServerHandle {
    server: Server,
    gate: Arc<CallbackGate>,
    /// One receiver per complete_async whose callback may not have run yet.
    pending: Mutex<Vec<mpsc::Receiver<()>>>,
    /// Set by free: cancels every complete_async, even one not yet waiting.
    cancel: tokio::sync::watch::Sender<bool>,
}

impl Castable for msrp_server_t {
    type Ownership = OwnershipBox;
    type RustType = ServerHandle;
}

/// Makes a server with no listener yet. `cfg` NULL uses the defaults; it is
/// copied (accepting `msrps` needs its certificate). Writes the server to
/// `*out` (free with `msrp_server_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_new(
    cfg: *const msrp_endpoint_config_t,
    out_server: *mut *mut msrp_server_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_server = out(out_server, "out")?;
        let server = Server::new(config_or_default(cfg)?);
        out_server.write(box_into_ptr(ServerHandle {
            server,
            gate: CallbackGate::new(),
            pending: Mutex::new(Vec::new()),
            cancel: tokio::sync::watch::channel(false).0,
        }));
        Ok(())
    }
}

/// Registers a session: listens where `local_uri` says unless this server
/// already does (port 0 picks a free port, or reuses the server's listener on
/// that address) and writes the full local path (SDP `a=path`) to
/// `*full_local_path` (free with `msrp_string_free`). `local_uri` NULL: a
/// random session id on the first listener (or 127.0.0.1). Pass the local URI
/// (the path's last URI) to `msrp_server_complete` and `msrp_server_cleanup`.
/// Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_prepare(
    server: *const msrp_server_t,
    local_uri: *const c_char,
    full_local_path: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let full_local_path = out(full_local_path, "full_local_path")?;
        let s = try_ref(server)?.server.clone();
        let local = opt_str_arg(local_uri, "local_uri")?.map(parse_uri).transpose()?;
        let path = block_on(async move { s.prepare(local).await })??;
        full_local_path.write(string_into_ptr(Uri::format_path(&path))?);
        Ok(())
    }
}

/// Waits until the peer at `full_remote_path` binds to the session prepared
/// for `local_uri`, answers the binding and writes the transport to `*out`
/// (free with `msrp_transport_free`, or give it to `msrp_session_new`).
/// `fingerprint` (NULL: none) requires a client certificate with that
/// SHA-256 fingerprint. `timeout_ms` 0 uses the config's bind timeout.
/// Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_complete(
    server: *const msrp_server_t,
    local_uri: *const c_char,
    full_remote_path: *const c_char,
    fingerprint: *const c_char,
    timeout_ms: u32,
    out_transport: *mut *mut msrp_transport_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_transport = out(out_transport, "out")?;
        let s = try_ref(server)?.server.clone();
        let local = parse_uri(str_arg(local_uri, "local_uri")?)?;
        let path = parse_path(str_arg(full_remote_path, "full_remote_path")?)?;
        let fp = fingerprint_arg(fingerprint)?;
        check_may_block()?;
        let timeout = duration_from_ms(timeout_ms);
        let t = block_on(async move { s.complete(&local, &path, fp, timeout).await })??;
        out_transport.write(TransportHandle::into_ptr(t));
        Ok(())
    }
}

/// Like `msrp_server_complete`, without blocking: calls `cb(user_data,
/// result, transport)` once, on a dispatcher thread, when the binding is made
/// or fails (`MSRP_RESULT_CANCELLED` after `msrp_server_cleanup` of that URI
/// or `msrp_server_free`). Callbacks of one server never run concurrently.
/// When this function itself fails, `cb` is not called. Callable inside
/// callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_complete_async(
    server: *const msrp_server_t,
    local_uri: *const c_char,
    full_remote_path: *const c_char,
    fingerprint: *const c_char,
    timeout_ms: u32,
    cb: msrp_complete_cb,
    user_data: *mut c_void,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = try_ref(server)?;
        let Some(cb) = cb else { return fail(MSRP_RESULT_NULL_POINTER, "cb is NULL") };
        let local = parse_uri(str_arg(local_uri, "local_uri")?)?;
        let path = parse_path(str_arg(full_remote_path, "full_remote_path")?)?;
        let fp = fingerprint_arg(fingerprint)?;
        let timeout = duration_from_ms(timeout_ms);
        let s = h.server.clone();
        let mut cancelled = h.cancel.subscribe();
        let work = async move {
            tokio::select! {
                biased; // a free wins over what closing the server does to the complete
                _ = cancelled.wait_for(|c| *c) => fail(MSRP_RESULT_CANCELLED, "msrp_server_free cancelled the complete"),
                r = s.complete(&local, &path, fp, timeout) => r.map_err(Into::into),
            }
        };
        let ran = spawn_completion(work, h.gate.clone(), cb, user_data)?;
        let mut pending = lock(&h.pending);
        pending.retain(|r| matches!(r.try_recv(), Err(mpsc::TryRecvError::Empty)));
        pending.push(ran);
        Ok(())
    }
}

/// Forgets the session prepared for `local_uri`; a complete waiting for it
/// fails with `MSRP_RESULT_CANCELLED`. Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_cleanup(
    server: *const msrp_server_t,
    local_uri: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = try_ref(server)?;
        h.server.cleanup(&parse_uri(str_arg(local_uri, "local_uri")?)?);
        Ok(())
    }
}

/// Stops listening and frees the server. Transports already made are not
/// affected. Pending completes are cancelled; their callbacks run (with
/// `MSRP_RESULT_CANCELLED`) before this returns, and none runs after. Called
/// from inside one of the server's callbacks, it returns at once and the
/// release happens when that callback returns. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_server_free(server: *mut msrp_server_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a server it owns, once.
        let Some(h) = (unsafe { box_from_ptr(server) }) else { return };
        h.cancel.send_replace(true);
        h.server.close();
        let pending = std::mem::take(&mut *lock(&h.pending));
        if !h.gate.is_current() {
            for ran in pending {
                let _ = ran.recv();
            }
        }
        let gate = h.gate.clone();
        gate.close(move || drop(h));
    }
}
