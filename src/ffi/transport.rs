//! `msrp_transport_t`: one bound MSRP connection, used directly (python-msrplib's
//! `MSRPTransport`) or handed to `msrp_session_new`.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::chunk::{chunk_into_ptr, chunk_ref, msrp_chunk_t};
use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, out_opt, slice_arg, string_into_ptr, try_ref,
    Castable, OwnershipBox,
};
use super::result::{
    fail, msrp_result_t, Error, Result, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_INVALID_STATE,
    MSRP_RESULT_NOT_FOUND, MSRP_RESULT_REJECTED, MSRP_RESULT_TIMEOUT,
};
use super::runtime::{block_on, duration_from_ms, lock, spawn_if_running};
use crate::protocol::{Continuation, Method, Uri};
use crate::transport::{ChunkParams, Transport, TransportInfo};

/// A bound MSRP connection (TCP or TLS), made by `msrp_connector_complete`,
/// `msrp_server_complete` or their async forms.
///
/// Either use it directly — make, write and read chunks (blocking calls) —
/// or give it to `msrp_session_new`, which consumes it. Freed by
/// `msrp_transport_free`, which closes the connection.
///
/// Thread-safety: one blocking call at a time (a second concurrent one fails
/// with `MSRP_RESULT_INVALID_STATE`); the non-blocking functions may be used
/// from any thread meanwhile.
pub struct msrp_transport_t {
    _private: [u8; 0],
}

/// What a transport handle holds: the connection (absent while a blocking
/// call uses it) and what it knows about its session.
pub(crate) struct TransportHandle {
    slot: Mutex<Option<Transport>>,
    info: Arc<TransportInfo>,
}

impl Castable for msrp_transport_t {
    type Ownership = OwnershipBox;
    type RustType = TransportHandle;
}

impl TransportHandle {
    /// Hands a transport to C.
    pub fn into_ptr(transport: Transport) -> *mut msrp_transport_t {
        let info = transport.info().clone();
        box_into_ptr(TransportHandle {
            slot: Mutex::new(Some(transport)),
            info,
        })
    }

    /// Takes the connection out for a call; give it back with `put`.
    fn take(&self) -> Result<Transport> {
        match lock(&self.slot).take() {
            Some(t) => Ok(t),
            None => fail(
                MSRP_RESULT_INVALID_STATE,
                "the transport is in use by another call (or was handed to a session)",
            ),
        }
    }

    fn put(&self, transport: Transport) {
        *lock(&self.slot) = Some(transport);
    }

    /// Runs `op` on the connection on the runtime and waits for it.
    fn blocking<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(Transport) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = (Transport, Result<T>)> + Send + 'static,
        T: Send + 'static,
    {
        super::runtime::check_may_block()?;
        let t = self.take()?;
        let (t, result) = block_on(op(t))?;
        self.put(t);
        result
    }
}

/// Takes the connection out of a transport handle, consuming the handle (for
/// `msrp_session_new`).
pub(crate) fn transport_take(transport: *mut msrp_transport_t) -> Result<Transport> {
    // SAFETY: the caller's handle is consumed, as documented.
    match unsafe { box_from_ptr(transport) } {
        Some(h) => h.take(),
        None => super::handle::null_pointer(),
    }
}

/// What `msrp_transport_make_chunk` builds. Zero-initialise it and set what
/// you need: every field's zero value means "the default".
#[repr(C)]
pub struct msrp_chunk_params_t {
    /// The request method (NULL: `SEND`). Ignored for responses.
    pub method: *const c_char,
    /// Non-zero: build a response with this status code instead of a request.
    pub code: u16,
    /// The response's comment (NULL: none).
    pub comment: *const c_char,
    /// NULL: a random transaction id.
    pub transaction_id: *const c_char,
    /// NULL: a random Message-ID (requests only).
    pub message_id: *const c_char,
    /// The payload, `data_len` bytes (may contain NUL; NULL with 0).
    pub data: *const u8,
    pub data_len: usize,
    /// Content-Type for a chunk with a payload (NULL: `text/plain` when there
    /// is a payload, none otherwise).
    pub content_type: *const c_char,
    /// `'$'`, `'+'` or `'#'`; 0: `'$'` when the chunk ends the message, else `'+'`.
    pub continuation: c_char,
    /// 1-based position of the payload's first byte in the message (0: 1).
    pub start: u64,
    /// Inclusive position of its last byte (0: computed from start and length).
    pub end: u64,
    /// The message's total length (0: as if this chunk ended the message).
    pub length: u64,
}

/// Builds a chunk for this connection (python-msrplib's `make_chunk`): a request
/// (SEND unless told) or a response, with To-Path and From-Path from the
/// connection's state, Byte-Range from start/end/length and a Message-ID.
/// `params` NULL gives a bodiless SEND. On success writes a new chunk to
/// `*out` (free with `msrp_chunk_free`). Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_make_chunk(
    transport: *const msrp_transport_t,
    params: *const msrp_chunk_params_t,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        let t = try_ref(transport)?;
        // SAFETY: NULL or a params struct readable for the call.
        let p = match unsafe { params.as_ref() } {
            Some(p) => chunk_params(p)?,
            None => ChunkParams::default(),
        };
        out_chunk.write(chunk_into_ptr(t.info.make_chunk(p)));
        Ok(())
    }
}

fn chunk_params(p: &msrp_chunk_params_t) -> Result<ChunkParams> {
    let text = |ptr, name| opt_str_arg(ptr, name).map(|o| o.map(str::to_string));
    let method = match opt_str_arg(p.method, "method")? {
        None => None,
        Some(m) => Some(
            Method::parse(m)
                .filter(Method::is_grammatical)
                .ok_or_else(|| {
                    Error::new(
                        MSRP_RESULT_INVALID_ARGUMENT,
                        format!("invalid method {m:?}"),
                    )
                })?,
        ),
    };
    let continuation = match p.continuation {
        0 => None,
        c => Some(Continuation::from_byte(c as u8).ok_or_else(|| {
            Error::new(
                MSRP_RESULT_INVALID_ARGUMENT,
                "continuation must be '$', '+', '#' or 0",
            )
        })?),
    };
    if p.code != 0 && !(100..=999).contains(&p.code) {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("status code {} is not three digits", p.code),
        );
    }
    Ok(ChunkParams {
        transaction_id: text(p.transaction_id, "transaction_id")?,
        method,
        code: (p.code != 0).then_some(p.code),
        comment: text(p.comment, "comment")?,
        data: Bytes::copy_from_slice(slice_arg(p.data, p.data_len, "data")?),
        content_type: text(p.content_type, "content_type")?,
        continuation,
        start: (p.start != 0).then_some(p.start),
        end: (p.end != 0).then_some(p.end),
        length: (p.length != 0).then_some(p.length),
        message_id: text(p.message_id, "message_id")?,
    })
}

/// Writes a chunk and waits until the connection has taken it. The chunk is
/// borrowed. Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_write_chunk(
    transport: *mut msrp_transport_t,
    chunk: *const msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let chunk = chunk_ref(chunk)?.clone();
        try_ref(transport)?.blocking(move |mut t| async move {
            let r = t.write_chunk(&chunk).await.map_err(Error::from);
            (t, r)
        })
    }
}

/// Writes the response to `request` when one is due (RFC 4975 §7.2: none for
/// REPORTs, `Failure-Report: no`, or a 200 to `Failure-Report: partial`):
/// status `code`, `comment` (NULL: the standard reason phrase). Blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_write_response(
    transport: *mut msrp_transport_t,
    request: *const msrp_chunk_t,
    code: u16,
    comment: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let request = chunk_ref(request)?.clone();
        let comment = opt_str_arg(comment, "comment")?.map(str::to_string);
        if !(100..=999).contains(&code) {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("status code {code} is not three digits"));
        }
        try_ref(transport)?.blocking(move |mut t| async move {
            let r = t.write_response(&request, code, comment.as_deref()).await.map_err(Error::from);
            (t, r)
        })
    }
}

/// `size_hint` value for `msrp_transport_read_chunk`: whole chunks only.
pub const MSRP_READ_WHOLE_CHUNK: i64 = -1;

/// Reads the next chunk (python-msrplib's `read_chunk(size)`) and writes it to
/// `*out` (free with `msrp_chunk_free`).
///
/// `size_hint` `MSRP_READ_WHOLE_CHUNK` (any negative value) returns whole
/// chunks. A value >= 0
/// returns a "virtual" chunk as soon as at least that many payload bytes of
/// the current chunk have arrived (0: whatever has arrived): its Byte-Range
/// covers the bytes it carries, its flag is `'+'` except for the last, and
/// `msrp_chunk_segment` numbers it from 1.
///
/// `timeout_ms` 0 waits until a chunk arrives or the connection ends.
/// `MSRP_RESULT_CLOSED` when the peer closed the connection,
/// `MSRP_RESULT_TIMEOUT` on timeout (the connection stays usable). Blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_read_chunk(
    transport: *mut msrp_transport_t,
    size_hint: i64,
    timeout_ms: u32,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        let size = usize::try_from(size_hint).ok();
        let timeout = duration_from_ms(timeout_ms);
        let chunk = try_ref(transport)?.blocking(move |mut t| async move {
            let read = t.read_chunk(size);
            let r = match timeout {
                Some(d) => match tokio::time::timeout(d, read).await {
                    Ok(r) => r.map_err(Error::from),
                    Err(_) => fail(MSRP_RESULT_TIMEOUT, "no chunk arrived within the timeout"),
                },
                None => read.await.map_err(Error::from),
            };
            (t, r)
        })?;
        out_chunk.write(chunk_into_ptr(chunk));
        Ok(())
    }
}

/// Checks an incoming request's To-Path and From-Path against this session
/// (python-msrplib's `check_incoming_SEND_chunk`). `MSRP_RESULT_OK` when they match;
/// otherwise `MSRP_RESULT_REJECTED` with the status to answer written to
/// `*code` and, when `comment` is not NULL, its comment to `*comment` (free
/// with `msrp_string_free`). Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_check_incoming_send_chunk(
    transport: *const msrp_transport_t,
    chunk: *const msrp_chunk_t,
    code: *mut u16,
    comment: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let code = out(code, "code")?;
        let t = try_ref(transport)?;
        match t.info.check_incoming_send_chunk(chunk_ref(chunk)?) {
            Ok(()) => Ok(()),
            Err(e) => {
                let text = string_into_ptr(e.comment.as_str())?;
                code.write(e.code);
                match out_opt(comment) {
                    Some(o) => o.write(text),
                    None => super::handle::msrp_string_free(text),
                }
                fail(MSRP_RESULT_REJECTED, e.to_string())
            }
        }
    }
}

/// Which path `msrp_transport_path` reads.
pub type msrp_path_kind_t = u32;
/// The full local path, as in this side's SDP `a=path`.
pub const MSRP_PATH_LOCAL: msrp_path_kind_t = 0;
/// The full remote path, as in the peer's SDP `a=path`.
pub const MSRP_PATH_REMOTE: msrp_path_kind_t = 1;

/// Writes one of the connection's paths, space-separated URIs, to `*out`
/// (free with `msrp_string_free`). Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_path(
    transport: *const msrp_transport_t,
    which: msrp_path_kind_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let info = &try_ref(transport)?.info;
        let path = match which {
            MSRP_PATH_LOCAL => &info.local_path,
            MSRP_PATH_REMOTE => &info.remote_path,
            other => return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("unknown path kind {other}")),
        };
        out_text.write(string_into_ptr(Uri::format_path(path))?);
        Ok(())
    }
}

/// Writes the SHA-256 fingerprint (`AB:CD:...`) of the certificate the peer
/// presented to `*out` (free with `msrp_string_free`); `MSRP_RESULT_NOT_FOUND`
/// over TCP or when it presented none. Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_peer_fingerprint(
    transport: *const msrp_transport_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        match try_ref(transport)?.info.peer_fingerprint {
            Some(fp) => {
                out_text.write(string_into_ptr(fp.to_string())?);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, "the peer presented no certificate"),
        }
    }
}

/// Closes the connection (in the background; TLS close_notify, then FIN) and
/// frees the handle. NULL is a no-op. Do not call it during a blocking call
/// on the same transport.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_transport_free(transport: *mut msrp_transport_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a transport handle it owns, once.
        if let Some(h) = unsafe { box_from_ptr(transport) } {
            if let Some(t) = h.slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
                // Without a runtime (after msrp_library_shutdown) the
                // connection is simply dropped.
                spawn_if_running(t.close());
            }
        }
    }
}
