//! `msrp_connector_t`: establishing one session's connection — python-msrplib's
//! ConnectorDirect (active side) and AcceptorDirect (passive side):
//! prepare → (SDP exchange) → complete → transport, or cleanup.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::config::{config_or_default, msrp_endpoint_config_t};
use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, str_arg, string_into_ptr, try_ref, Castable,
    OwnershipBox,
};
use super::relay::msrp_relay_settings_t;
use super::result::{
    fail, msrp_result_t, set_last_error, Result, MSRP_RESULT_CANCELLED, MSRP_RESULT_INVALID_STATE,
    MSRP_RESULT_NULL_POINTER, MSRP_RESULT_OK,
};
use super::runtime::{
    block_on, check_may_block, dispatch, duration_from_ms, lock, spawn, CallbackGate,
};
use super::tls::fingerprint_arg;
use super::transport::{msrp_transport_t, TransportHandle};
use super::uri::{parse_path, parse_uri};
use crate::connect::{
    AcceptorDirect, AcceptorRelay, ConnectError, ConnectorDirect, ConnectorRelay,
};
use crate::protocol::Uri;
use crate::transport::tls::Fingerprint;
use crate::transport::Transport;

/// Makes and binds the connection of one session.
///
/// Made by `msrp_connector_direct_new` (active side: connects to the peer),
/// `msrp_acceptor_direct_new` (passive side: listens for the peer), or their
/// relay variants `msrp_connector_relay_new` and `msrp_acceptor_relay_new`
/// (both sides connect to an MSRP relay, RFC 4976); used
/// as prepare → complete (or complete_async) → a transport, or cleanup;
/// freed by `msrp_connector_free`.
///
/// Thread-safety: the functions may be called from any thread, but one
/// prepare or complete at a time (another fails with
/// `MSRP_RESULT_INVALID_STATE`); `msrp_connector_cleanup` and
/// `msrp_connector_free` may be called while a complete runs, to cancel it.
pub struct msrp_connector_t {
    _private: [u8; 0],
}

/// The kinds of connector.
enum Kind {
    Connector(ConnectorDirect),
    Acceptor(AcceptorDirect),
    ConnectorRelay(ConnectorRelay),
    AcceptorRelay(AcceptorRelay),
}

impl Kind {
    async fn prepare(&mut self, local: Option<Uri>) -> std::result::Result<Vec<Uri>, ConnectError> {
        match self {
            Kind::Connector(c) => c.prepare(local),
            Kind::Acceptor(a) => a.prepare(local).await,
            Kind::ConnectorRelay(c) => c.prepare(local).await,
            Kind::AcceptorRelay(a) => a.prepare(local).await,
        }
    }

    async fn complete(
        &mut self,
        path: &[Uri],
        fingerprint: Option<Fingerprint>,
        timeout: Option<Duration>,
    ) -> std::result::Result<Transport, ConnectError> {
        match self {
            Kind::Connector(c) => c.complete(path, fingerprint, timeout).await,
            Kind::Acceptor(a) => a.complete(path, fingerprint, timeout).await,
            // Through a relay the peer's certificate is never seen: only the
            // relay's (checked in prepare, by the relay settings).
            Kind::ConnectorRelay(c) => c.complete(path, timeout).await,
            Kind::AcceptorRelay(a) => a.complete(path, timeout).await,
        }
    }

    fn cleanup(&mut self) {
        match self {
            Kind::Connector(c) => c.cleanup(),
            Kind::Acceptor(a) => a.cleanup(),
            Kind::ConnectorRelay(c) => c.cleanup(),
            Kind::AcceptorRelay(a) => a.cleanup(),
        }
    }
}

/// The complete that is running, if any.
#[derive(Default)]
struct Op {
    /// Cancels the running complete (which then cleans up).
    cancel: Option<oneshot::Sender<()>>,
    /// Disconnects once the callback of a complete_async has run.
    callback_ran: Option<mpsc::Receiver<()>>,
}

/// Clears `Op::cancel` when a complete ends or is dropped.
struct OpGuard(Arc<Mutex<Op>>);

impl Drop for OpGuard {
    fn drop(&mut self) {
        lock(&self.0).cancel = None;
    }
}

pub(crate) struct ConnectorHandle {
    kind: Arc<tokio::sync::Mutex<Kind>>,
    op: Arc<Mutex<Op>>,
    gate: Arc<CallbackGate>,
}

impl Castable for msrp_connector_t {
    type Ownership = OwnershipBox;
    type RustType = ConnectorHandle;
}

impl ConnectorHandle {
    fn new(kind: Kind) -> ConnectorHandle {
        ConnectorHandle {
            kind: Arc::new(tokio::sync::Mutex::new(kind)),
            op: Arc::default(),
            gate: CallbackGate::new(),
        }
    }

    /// Makes the connector take the role an SDP offer/answer decided
    /// (`msrp_sdp_connector_complete`): a prepared direct acceptor that must
    /// connect becomes a direct connector with the same local URI (it stops
    /// listening); a relay connector or acceptor takes either role on the
    /// registration it has; a direct connector that must wait cannot listen
    /// and is an error.
    /// Returns whether the connection is direct (the peer's certificate is
    /// seen, so its SDP fingerprint applies).
    pub(crate) async fn take_role(&self, active: bool) -> Result<bool> {
        let Ok(mut kind) = self.kind.try_lock() else {
            return fail(
                MSRP_RESULT_INVALID_STATE,
                "a prepare or complete is running on this connector",
            );
        };
        match (&mut *kind, active) {
            (Kind::Acceptor(a), true) => {
                let Some(local) = a.local_uri().cloned() else {
                    return fail(MSRP_RESULT_INVALID_STATE, "the acceptor is not prepared");
                };
                let mut c = ConnectorDirect::new(a.config().clone());
                // The listener closes first: with a bound source port the
                // connector reserves the port it listened on, once the
                // listening task has let go of it (it is aborted, and drops
                // the socket on the runtime).
                a.cleanup();
                let mut attempts = 0;
                loop {
                    match c.prepare(Some(local.clone())) {
                        Err(ConnectError::AddressInUse(_)) if attempts < 100 => {
                            attempts += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => {
                            other?;
                            break;
                        }
                    }
                }
                *kind = Kind::Connector(c);
                Ok(true)
            }
            (Kind::Connector(_), false) => fail(
                MSRP_RESULT_INVALID_STATE,
                "the SDP makes this end passive, but a direct connector does not listen (prepare an acceptor for a=setup actpass or passive)",
            ),
            (Kind::Connector(_) | Kind::Acceptor(_), _) => Ok(true),
            // Through a relay both ends connect to it; only the active one
            // sends the first SEND (RFC 6135 §4.5).
            (Kind::ConnectorRelay(_), false) | (Kind::AcceptorRelay(_), true) => {
                let placeholder = Kind::Connector(ConnectorDirect::new(Default::default()));
                *kind = match std::mem::replace(&mut *kind, placeholder) {
                    Kind::ConnectorRelay(c) => Kind::AcceptorRelay(c.into_acceptor()),
                    Kind::AcceptorRelay(a) => Kind::ConnectorRelay(a.into_connector()),
                    other => other,
                };
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Registers a complete and returns the future that runs it.
    pub(crate) fn start_complete(
        &self,
        path: Vec<Uri>,
        fingerprint: Option<Fingerprint>,
        timeout: Option<Duration>,
    ) -> Result<impl Future<Output = Result<Transport>> + Send + 'static> {
        let (tx, rx) = oneshot::channel();
        {
            let mut op = lock(&self.op);
            if op.cancel.is_some() {
                return fail(
                    MSRP_RESULT_INVALID_STATE,
                    "a complete is already running on this connector",
                );
            }
            op.cancel = Some(tx);
        }
        let guard = OpGuard(self.op.clone());
        let kind = self.kind.clone();
        Ok(async move {
            let _guard = guard;
            let mut k = kind.lock().await;
            let outcome = tokio::select! {
                r = k.complete(&path, fingerprint, timeout) => Some(r),
                Ok(()) = rx => None,
            };
            match outcome {
                Some(r) => r.map_err(Into::into),
                None => {
                    k.cleanup();
                    fail(MSRP_RESULT_CANCELLED, "the complete was cancelled by msrp_connector_cleanup or msrp_connector_free")
                }
            }
        })
    }

    /// A relay connector's grant: (warn at, expires at). `None` for a direct
    /// one or before prepare; an error while a prepare or complete runs.
    pub(crate) fn relay_grant(&self) -> Result<Option<(std::time::Instant, std::time::Instant)>> {
        let Ok(kind) = self.kind.try_lock() else {
            return fail(
                MSRP_RESULT_INVALID_STATE,
                "a prepare or complete is running on this connector",
            );
        };
        Ok(match &*kind {
            Kind::ConnectorRelay(c) => c.expiry_warning_at().zip(c.expires_at()),
            Kind::AcceptorRelay(a) => a.expiry_warning_at().zip(a.expires_at()),
            _ => None,
        })
    }

    /// Cancels the running complete; true if there was one.
    fn cancel(&self) -> bool {
        match lock(&self.op).cancel.take() {
            Some(c) => {
                let _ = c.send(());
                true
            }
            None => false,
        }
    }
}

/// Called once with the outcome of `msrp_connector_complete_async` or
/// `msrp_server_complete_async`, on a dispatcher thread.
///
/// On `MSRP_RESULT_OK`, `transport` is a new transport that the callee owns
/// (give it to `msrp_session_new` or free it with `msrp_transport_free`).
/// Otherwise `transport` is NULL and `msrp_last_error()` on this thread gives
/// the detail; `MSRP_RESULT_CANCELLED` when cleanup, free or shutdown
/// cancelled it.
pub type msrp_complete_cb = Option<
    extern "C" fn(user_data: *mut c_void, result: msrp_result_t, transport: *mut msrp_transport_t),
>;

/// A C `user_data` pointer carried to, and shared with, dispatcher threads.
pub(crate) struct SendPtr(pub *mut c_void);
// SAFETY: the C API documents that user_data is used on library threads;
// the library itself never dereferences it.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Runs `work` on the runtime and then `cb` through `gate` on a dispatcher
/// thread, exactly once unless the library shuts down first. The returned
/// receiver disconnects when the callback has run (or never will).
pub(crate) fn spawn_completion(
    work: impl Future<Output = Result<Transport>> + Send + 'static,
    gate: Arc<CallbackGate>,
    cb: extern "C" fn(*mut c_void, msrp_result_t, *mut msrp_transport_t),
    user_data: *mut c_void,
) -> Result<mpsc::Receiver<()>> {
    let (ran_tx, ran_rx) = mpsc::channel::<()>();
    let user_data = SendPtr(user_data);
    spawn(async move {
        let result = work.await;
        dispatch(move || {
            let user_data = user_data;
            gate.run(|| match result {
                Ok(t) => cb(user_data.0, MSRP_RESULT_OK, TransportHandle::into_ptr(t)),
                Err(e) => {
                    set_last_error(&e.text);
                    cb(user_data.0, e.code, std::ptr::null_mut());
                }
            });
            drop(ran_tx);
        })
        .await;
    })?;
    Ok(ran_rx)
}

/// Makes an active-side connector (python-msrplib's ConnectorDirect): `complete`
/// connects to the first hop of the peer's path (TLS for `msrps`) and binds
/// the session. `cfg` NULL uses the defaults; it is copied. Writes the
/// connector to `*out` (free with `msrp_connector_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_direct_new(
    cfg: *const msrp_endpoint_config_t,
    out_connector: *mut *mut msrp_connector_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_connector = out(out_connector, "out")?;
        let kind = Kind::Connector(ConnectorDirect::new(config_or_default(cfg)?));
        out_connector.write(box_into_ptr(ConnectorHandle::new(kind)));
        Ok(())
    }
}

/// Makes a passive-side connector (python-msrplib's AcceptorDirect): `prepare`
/// listens, `complete` waits for the peer's connection and binding chunk.
/// Accepting `msrps` needs a certificate in `cfg`. `cfg` NULL uses the
/// defaults; it is copied. Writes the acceptor to `*out` (free with
/// `msrp_connector_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_acceptor_direct_new(
    cfg: *const msrp_endpoint_config_t,
    out_connector: *mut *mut msrp_connector_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_connector = out(out_connector, "out")?;
        let kind = Kind::Acceptor(AcceptorDirect::new(config_or_default(cfg)?));
        out_connector.write(box_into_ptr(ConnectorHandle::new(kind)));
        Ok(())
    }
}

/// Makes an active-side connector through an MSRP relay (python-msrplib's
/// ConnectorRelay): `prepare` connects to the relay (TLS for msrps, verified
/// with `cfg`'s trust anchors or the settings' fingerprint), authenticates
/// (AUTH with digest) and returns the path for SDP — the relay's Use-Path
/// then the local URI; `complete` binds to the peer's path through the
/// relay (the relay's 200 answers the binding). `cfg` NULL uses the
/// defaults; `cfg` and `relay` are copied. Writes the connector to `*out`
/// (free with `msrp_connector_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_relay_new(
    cfg: *const msrp_endpoint_config_t,
    relay: *const msrp_relay_settings_t,
    out_connector: *mut *mut msrp_connector_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_connector = out(out_connector, "out")?;
        let relay = try_ref(relay)?.clone();
        let kind = Kind::ConnectorRelay(ConnectorRelay::new(config_or_default(cfg)?, relay));
        out_connector.write(box_into_ptr(ConnectorHandle::new(kind)));
        Ok(())
    }
}

/// Makes a passive-side connector through an MSRP relay (python-msrplib's
/// AcceptorRelay): `prepare` authenticates to the relay as for
/// `msrp_connector_relay_new`; `complete` waits for the peer's first chunk
/// arriving through the relay on that connection. No local socket listens.
/// `cfg` NULL uses the defaults; `cfg` and `relay` are copied. Writes the
/// acceptor to `*out` (free with `msrp_connector_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_acceptor_relay_new(
    cfg: *const msrp_endpoint_config_t,
    relay: *const msrp_relay_settings_t,
    out_connector: *mut *mut msrp_connector_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_connector = out(out_connector, "out")?;
        let relay = try_ref(relay)?.clone();
        let kind = Kind::AcceptorRelay(AcceptorRelay::new(config_or_default(cfg)?, relay));
        out_connector.write(box_into_ptr(ConnectorHandle::new(kind)));
        Ok(())
    }
}

/// Prepares the local end and writes the full local path — space-separated
/// URIs, the SDP `a=path` value — to `*full_local_path` (free with
/// `msrp_string_free`).
///
/// `local_uri` NULL generates `msrp://127.0.0.1/<random>;tcp` (`msrps`
/// with a certificate) with the port said below; a URI without session id
/// gets a random one. An acceptor listens where the URI says (port 0 picks
/// a free port, which the path then carries). A direct connector by
/// default only advertises the URI's port, never its socket's source port,
/// and advertises 9 when the URI has none or 0 (RFC 4145's port for an
/// active endpoint; the path never carries port 0); with
/// `msrp_endpoint_config_set_bind_source_port` it binds the port here
/// (`MSRP_RESULT_ADDRESS_IN_USE` when it is in use) and advertises it.
/// Relay connectors and acceptors only advertise the URI's port (2855 for
/// a generated one, 9 for 0).
///
/// Relay connectors and acceptors connect and authenticate to the relay
/// here (`MSRP_RESULT_AUTHENTICATION` on refused credentials,
/// `MSRP_RESULT_IO`, `MSRP_RESULT_TLS`, `MSRP_RESULT_TIMEOUT`), and the path
/// starts with the relay's URIs.
///
/// Blocking (an acceptor opens its socket, a relay connector its relay
/// connection): `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_prepare(
    connector: *mut msrp_connector_t,
    local_uri: *const c_char,
    full_local_path: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let full_local_path = out(full_local_path, "full_local_path")?;
        let h = try_ref(connector.cast_const())?;
        let local = opt_str_arg(local_uri, "local_uri")?.map(parse_uri).transpose()?;
        check_may_block()?;
        let Ok(mut kind) = h.kind.clone().try_lock_owned() else {
            return fail(MSRP_RESULT_INVALID_STATE, "the connector is busy with a complete");
        };
        let path = block_on(async move { kind.prepare(local).await })??;
        full_local_path.write(string_into_ptr(Uri::format_path(&path))?);
        Ok(())
    }
}

/// Arguments shared by complete and complete_async.
fn complete_args(
    full_remote_path: *const c_char,
    fingerprint: *const c_char,
    timeout: u32,
) -> Result<(Vec<Uri>, Option<Fingerprint>, Option<Duration>)> {
    Ok((
        parse_path(str_arg(full_remote_path, "full_remote_path")?)?,
        fingerprint_arg(fingerprint)?,
        duration_from_ms(timeout),
    ))
}

/// Establishes and binds the connection and writes the transport to `*out`
/// (free with `msrp_transport_free`, or give it to `msrp_session_new`).
///
/// `full_remote_path` is the peer's SDP `a=path` value. `fingerprint` (NULL:
/// none) is the peer's SDP `a=fingerprint` (`sha-256 AB:CD:...` or just the
/// hex pairs): with `msrps` the peer's certificate must match it — checked in
/// the handshake, before any chunk — or chain to the config's trust anchors;
/// a TLS client given neither fails. An acceptor given a fingerprint requires
/// the client to present a certificate with it. Relay connectors and
/// acceptors ignore `fingerprint` (the peer's certificate is not seen
/// through a relay; the relay's is checked in prepare). `timeout_ms` 0 uses the
/// config's bind timeout (default 30 s).
///
/// Errors: `MSRP_RESULT_TIMEOUT`, `MSRP_RESULT_IO`, `MSRP_RESULT_TLS`,
/// `MSRP_RESULT_FINGERPRINT_MISMATCH`, `MSRP_RESULT_REJECTED` (e.g. 481),
/// `MSRP_RESULT_CANCELLED` (cleanup or free from another thread),
/// `MSRP_RESULT_INVALID_STATE` (not prepared, or a complete is running),
/// `MSRP_RESULT_ADDRESS_IN_USE` (a bound source port: the connection from
/// it to that peer exists already, or, when a failed complete is tried
/// again, the port was taken meanwhile).
/// Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_complete(
    connector: *mut msrp_connector_t,
    full_remote_path: *const c_char,
    fingerprint: *const c_char,
    timeout_ms: u32,
    out_transport: *mut *mut msrp_transport_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_transport = out(out_transport, "out")?;
        let h = try_ref(connector.cast_const())?;
        let (path, fp, timeout) = complete_args(full_remote_path, fingerprint, timeout_ms)?;
        check_may_block()?;
        let transport = block_on(h.start_complete(path, fp, timeout)?)??;
        out_transport.write(TransportHandle::into_ptr(transport));
        Ok(())
    }
}

/// Like `msrp_connector_complete`, without blocking: returns at once and
/// calls `cb(user_data, result, transport)` once, on a dispatcher thread,
/// when the complete ends. Freeing or cleaning up the connector before then
/// calls it with `MSRP_RESULT_CANCELLED`. When this function itself fails,
/// `cb` is not called. Callable inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_complete_async(
    connector: *mut msrp_connector_t,
    full_remote_path: *const c_char,
    fingerprint: *const c_char,
    timeout_ms: u32,
    cb: msrp_complete_cb,
    user_data: *mut c_void,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = try_ref(connector.cast_const())?;
        let Some(cb) = cb else { return fail(MSRP_RESULT_NULL_POINTER, "cb is NULL") };
        let (path, fp, timeout) = complete_args(full_remote_path, fingerprint, timeout_ms)?;
        let work = h.start_complete(path, fp, timeout)?;
        let ran = spawn_completion(work, h.gate.clone(), cb, user_data)?;
        lock(&h.op).callback_ran = Some(ran);
        Ok(())
    }
}

/// Undoes prepare (an acceptor stops listening, a direct connector frees
/// its bound source port) when complete will not be called; cancels a running complete (its callback, for complete_async,
/// gets `MSRP_RESULT_CANCELLED`). Non-blocking; callable inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_cleanup(connector: *mut msrp_connector_t) -> msrp_result_t {
    ffi_boundary! { result:
        let h = try_ref(connector.cast_const())?;
        if h.cancel() {
            return Ok(()); // the complete cleans up as it ends
        }
        match h.kind.try_lock() {
            Ok(mut k) => {
                k.cleanup();
                Ok(())
            }
            Err(_) => fail(MSRP_RESULT_INVALID_STATE, "the connector is busy with a prepare"),
        }
    }
}

/// Frees the connector, cleaning up. A pending complete_async is cancelled
/// and its callback runs (with `MSRP_RESULT_CANCELLED`, unless it had already
/// finished) before this returns; no callback runs after. Called from inside
/// the connector's own callback, it returns at once and the connector is
/// released when the callback returns. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_free(connector: *mut msrp_connector_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a connector it owns, once.
        let Some(h) = (unsafe { box_from_ptr(connector) }) else { return };
        h.cancel();
        let ran = lock(&h.op).callback_ran.take();
        if let (Some(ran), false) = (ran, h.gate.is_current()) {
            let _ = ran.recv();
        }
        let gate = h.gate.clone();
        gate.close(move || drop(h));
    }
}
