//! `msrp_session_t`: an MSRP session over a bound transport (python-msrplib's
//! `MSRPSession`): messages and files out, reassembled messages in, reports,
//! progress, shutdown — with events delivered to C callbacks.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::chunk::{
    chunk_into_ptr, chunk_ref, chunk_take, failure_report_arg, msrp_byte_range_t, msrp_chunk_t,
    msrp_failure_report_t, msrp_header_t, parse_headers, MSRP_SIZE_UNKNOWN,
};
use super::connector::SendPtr;
use super::handle::{
    array_arg, box_from_ptr, box_into_ptr, c_string, opt_str_arg, out, out_opt, slice_arg,
    string_into_ptr, try_ref, Castable, OwnershipBox,
};
use super::logger::{msrp_user_data_free_cb, UserData};
use super::result::{fail, msrp_result_t, set_last_error, Error, Result};
use super::result::{
    MSRP_RESULT_CANCELLED, MSRP_RESULT_CLOSED, MSRP_RESULT_INVALID_ARGUMENT,
    MSRP_RESULT_NULL_POINTER, MSRP_RESULT_OK, MSRP_RESULT_TIMEOUT, MSRP_RESULT_TRANSACTION_FAILED,
};
use super::runtime::{
    block_on, check_may_block, dispatch, duration_from_ms, handle, lock, spawn, spawn_if_running,
    CallbackGate, CallbackScope,
};
use super::transport::{msrp_transport_t, transport_take};
use crate::protocol::Header;
use crate::session::{
    CloseReason, FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionError,
    SessionEvent,
};

impl From<SessionError> for Error {
    fn from(e: SessionError) -> Error {
        let code = match &e {
            SessionError::Closed => MSRP_RESULT_CLOSED,
            SessionError::InvalidArgument(_) => MSRP_RESULT_INVALID_ARGUMENT,
            SessionError::LimitExceeded(_) => super::result::MSRP_RESULT_LIMIT,
            SessionError::Transaction { .. } => MSRP_RESULT_TRANSACTION_FAILED,
            SessionError::Io(_) => super::result::MSRP_RESULT_IO,
        };
        Error::new(code, e.to_string())
    }
}

/// A running MSRP session.
///
/// Made by `msrp_session_new` from a transport; events arrive through the
/// callbacks of its `msrp_session_config_t`; ended by `msrp_session_shutdown`
/// (or by the peer), freed by `msrp_session_free`.
///
/// Thread-safety: every function may be called from any thread, several at
/// once, and the non-blocking ones from inside callbacks.
pub struct msrp_session_t {
    _private: [u8; 0],
}

/// A whole incoming message, borrowed for the callback.
#[repr(C)]
pub struct msrp_message_t {
    pub message_id: *const c_char,
    /// As received (may contain parameters, e.g. `text/plain; charset=utf-8`).
    pub content_type: *const c_char,
    /// The body, `body_len` bytes; may contain NUL; not NUL-terminated.
    pub body: *const u8,
    pub body_len: usize,
    /// The headers of the message's first chunk, as name/value text.
    pub headers: *const msrp_header_t,
    pub n_headers: usize,
}

/// A piece of a large incoming message (larger than the config's
/// `max_message_size`), borrowed for the callback. Pieces of one message
/// arrive in order of arrival; `offset` says where each belongs. A piece is
/// the payload of a received chunk as it lies in the library's read buffer
/// (not copied), so pieces are often a chunk's size (8 KiB from this
/// library): a callback that writes them to a file does best with a
/// buffered stream (e.g. `setvbuf` with a large buffer). The last call for
/// a message has `complete` true, no data, and `offset` equal to the number
/// of bytes received.
#[repr(C)]
pub struct msrp_message_data_t {
    pub message_id: *const c_char,
    pub content_type: *const c_char,
    /// 0-based position of `data` in the message.
    pub offset: u64,
    pub data: *const u8,
    pub len: usize,
    /// The message's total size, or `MSRP_SIZE_UNKNOWN`.
    pub total: u64,
    /// True for the final call: the message is complete.
    pub complete: bool,
}

/// A REPORT for an outgoing message, borrowed for the callback.
#[repr(C)]
pub struct msrp_report_t {
    pub message_id: *const c_char,
    /// The Status code: 200 for success, an error code otherwise.
    pub code: u16,
    /// The Status comment, or NULL.
    pub comment: *const c_char,
    /// The octets the report covers.
    pub byte_range: msrp_byte_range_t,
}

/// A message that did not complete before the session ended.
#[repr(C)]
pub struct msrp_unfinished_t {
    pub message_id: *const c_char,
    /// True for an outgoing message.
    pub outgoing: bool,
    /// Outgoing: bytes the peer acknowledged contiguously from the start of
    /// what was sent (resume with `position` + this). Incoming: bytes received.
    pub bytes_acknowledged: u64,
}

/// Why a session ended (`on_closed`).
pub type msrp_close_reason_t = u32;
/// This side shut it down (`msrp_session_shutdown`).
pub const MSRP_CLOSE_LOCAL: msrp_close_reason_t = 0;
/// The peer closed the connection.
pub const MSRP_CLOSE_PEER: msrp_close_reason_t = 1;
/// An error ended it (connection reset, malformed input, ...).
pub const MSRP_CLOSE_ERROR: msrp_close_reason_t = 2;

/// Every incoming request chunk (python-msrplib's `on_incoming_cb`), a reference
/// the callee may keep with `msrp_chunk_clone`.
pub type msrp_on_chunk_cb =
    Option<extern "C" fn(user_data: *mut c_void, chunk: *const msrp_chunk_t)>;
/// A whole incoming message.
pub type msrp_on_message_cb =
    Option<extern "C" fn(user_data: *mut c_void, message: *const msrp_message_t)>;
/// A piece of a large incoming message, or its end.
pub type msrp_on_message_data_cb =
    Option<extern "C" fn(user_data: *mut c_void, data: *const msrp_message_data_t)>;
/// An outgoing message is done: `code` is the first non-2xx response code,
/// else 200 (0 when the connection ended first).
pub type msrp_on_message_sent_cb = Option<
    extern "C" fn(
        user_data: *mut c_void,
        message_id: *const c_char,
        code: u16,
        bytes_acknowledged: u64,
    ),
>;
/// A REPORT arrived for an outgoing message.
pub type msrp_on_report_cb =
    Option<extern "C" fn(user_data: *mut c_void, report: *const msrp_report_t)>;
/// Progress of a message: outgoing, bytes acknowledged; incoming, bytes
/// received. `total` is `MSRP_SIZE_UNKNOWN` when not known.
pub type msrp_on_progress_cb = Option<
    extern "C" fn(
        user_data: *mut c_void,
        message_id: *const c_char,
        outgoing: bool,
        bytes: u64,
        total: u64,
    ),
>;
/// An incoming message was aborted by the sender (`#`) after `bytes` bytes.
pub type msrp_on_aborted_cb =
    Option<extern "C" fn(user_data: *mut c_void, message_id: *const c_char, bytes: u64)>;
/// The relay registration the session goes through ends in
/// `expires_in_ms` milliseconds (armed by
/// `msrp_session_watch_relay_expiry`): prepare a new relay connector and
/// renegotiate with a new SDP offer/answer before then (RFC 4976 §9.4: a
/// new AUTH gives a new URI).
pub type msrp_on_relay_expiring_cb =
    Option<extern "C" fn(user_data: *mut c_void, expires_in_ms: u64)>;
/// The session ended; no callback of the session follows. `text` describes
/// the reason; `unfinished` lists `n_unfinished` messages that did not
/// complete (NULL when 0).
pub type msrp_on_closed_cb = Option<
    extern "C" fn(
        user_data: *mut c_void,
        reason: msrp_close_reason_t,
        text: *const c_char,
        unfinished: *const msrp_unfinished_t,
        n_unfinished: usize,
    ),
>;
/// The outcome of `msrp_session_send_chunk`: `MSRP_RESULT_OK` with a 2xx
/// `response`, `MSRP_RESULT_TRANSACTION_FAILED` with a non-2xx one (408
/// generated locally after the response timeout), or `MSRP_RESULT_CLOSED` /
/// `MSRP_RESULT_CANCELLED` with NULL when the session ended or was freed
/// first. `response` is borrowed (keep it with `msrp_chunk_clone`).
pub type msrp_response_cb = Option<
    extern "C" fn(user_data: *mut c_void, result: msrp_result_t, response: *const msrp_chunk_t),
>;

/// How a session is set up and where its events go.
///
/// Zero-initialise it, set `size = sizeof(msrp_session_config_t)`, then set
/// what you need: every field's zero value means "the default" (a NULL
/// callback: that event is not wanted). The `size` field lets the struct grow
/// in later versions: a program built against an older header passes its
/// smaller size and gets the defaults for the fields it does not know.
///
/// All callbacks get `user_data` and run on dispatcher threads, one at a
/// time per session, in event order. `user_data_free(user_data)` runs exactly
/// once, after the last callback (during or after `msrp_session_free`) —
/// also when `msrp_session_new` fails.
#[repr(C)]
pub struct msrp_session_config_t {
    /// `sizeof(msrp_session_config_t)` as the caller knows it.
    pub size: usize,
    /// Accepted MIME types, space-separated (`*` matches all, `text/` followed by `*` a whole type);
    /// others are answered 415. NULL: `"*"`.
    pub accept_types: *const c_char,
    /// Largest outgoing chunk payload in bytes (0: 8192, safe through relays).
    pub chunk_size: usize,
    /// Time to wait for a response to each chunk (0: 30 seconds).
    pub response_timeout_ms: u32,
    /// Incoming messages up to this size come whole to `on_message`; larger
    /// ones in pieces to `on_message_data` (0: 16 MiB).
    pub max_message_size: u64,
    /// Incoming messages larger than this are refused with 413 (0: no limit).
    pub max_incoming_size: u64,
    /// The peer's SDP `a=max-size`: larger outgoing messages are refused
    /// locally (0: no limit).
    pub max_outgoing_size: u64,
    /// `on_progress` at least every this many bytes, and at the end (0: 1 MiB).
    pub progress_step: u64,
    pub user_data: *mut c_void,
    pub user_data_free: msrp_user_data_free_cb,
    pub on_chunk: msrp_on_chunk_cb,
    pub on_message: msrp_on_message_cb,
    pub on_message_data: msrp_on_message_data_cb,
    pub on_message_sent: msrp_on_message_sent_cb,
    pub on_report: msrp_on_report_cb,
    pub on_progress: msrp_on_progress_cb,
    pub on_aborted: msrp_on_aborted_cb,
    pub on_closed: msrp_on_closed_cb,
    /// See `msrp_session_watch_relay_expiry`.
    pub on_relay_expiring: msrp_on_relay_expiring_cb,
    /// Most bytes of incoming messages held in memory for reassembly at once
    /// (0: 32 MiB). The chunk that takes the session over it, and every
    /// later chunk of its message, is answered 413 (RFC 4975 §7.2); the
    /// message's earlier chunks were answered 200, so the sender learns
    /// exactly which bytes were taken. The library-wide
    /// `msrp_buffer_limit_set` budget applies too.
    pub max_buffered_incoming: u64,
    /// Most bytes of `msrp_session_send_message` bodies queued and not yet
    /// written (0: 32 MiB); beyond it, or beyond the library-wide budget,
    /// `msrp_session_send_message` fails with `MSRP_RESULT_LIMIT`. Files
    /// are read as the socket drains and are not counted.
    pub max_queued_outgoing: u64,
    /// Liveness: when nothing arrived from the peer for this long while a
    /// chunk sent with Failure-Report yes awaits its response or an
    /// incoming message is partly received, the connection is declared dead:
    /// `on_closed` with `MSRP_CLOSE_ERROR` and the unfinished messages
    /// (0: 60 seconds; `UINT32_MAX`: never). Finds a peer that vanished
    /// without closing, or a middlebox that stopped forwarding; TCP
    /// keepalive (on every connection: 30 s idle, 3 probes 10 s apart) finds
    /// one that vanished from an idle session.
    pub liveness_timeout_ms: u32,
    /// IMDN (RFC 5438): answer every incoming `message/cpim` message that
    /// asks for `positive-delivery` with a `delivered` notification as soon
    /// as it has arrived whole (`on_message` still gets the message; the
    /// notification's own outcome arrives at `on_message_sent` under a
    /// Message-ID the application never saw).
    pub imdn_auto_delivery: bool,
    /// IMDN: incoming notifications (`message/cpim` wrapping
    /// `message/imdn+xml`) come here instead of `on_message`, matched to the
    /// sent message (the session remembers the `imdn.Message-ID`s of the
    /// last 4096 CPIM messages given to `msrp_session_send_message`). NULL:
    /// they arrive at `on_message` like any message.
    pub on_imdn: super::imdn::msrp_on_imdn_cb,
}

/// The callbacks, copied out of the config.
#[derive(Clone, Copy)]
struct Callbacks {
    on_chunk: msrp_on_chunk_cb,
    on_message: msrp_on_message_cb,
    on_message_data: msrp_on_message_data_cb,
    on_message_sent: msrp_on_message_sent_cb,
    on_report: msrp_on_report_cb,
    on_progress: msrp_on_progress_cb,
    on_aborted: msrp_on_aborted_cb,
    on_closed: msrp_on_closed_cb,
    on_relay_expiring: msrp_on_relay_expiring_cb,
    on_imdn: super::imdn::msrp_on_imdn_cb,
}

/// A `send_chunk` response callback waiting for its response.
struct ResponseWaiter {
    cb: extern "C" fn(*mut c_void, msrp_result_t, *const msrp_chunk_t),
    user_data: SendPtr,
}

impl ResponseWaiter {
    /// Calls it without a response (closed, cancelled).
    fn abandon(self, code: msrp_result_t, text: &str) {
        set_last_error(text);
        (self.cb)(self.user_data.0, code, std::ptr::null());
    }
}

/// What the session's callbacks share with the handle.
struct Shared {
    gate: Arc<CallbackGate>,
    callbacks: Callbacks,
    user_data: Mutex<Option<UserData>>,
    user_data_ptr: SendPtr,
    responses: Mutex<HashMap<String, ResponseWaiter>>,
}

pub(crate) struct SessionHandle {
    pub(crate) session: Session,
    shared: Arc<Shared>,
}

impl Castable for msrp_session_t {
    type Ownership = OwnershipBox;
    type RustType = SessionHandle;
}

/// Reads a caller's config of `size` bytes into a full, zero-defaulted one.
fn read_config(cfg: *const msrp_session_config_t) -> Result<msrp_session_config_t> {
    if cfg.is_null() {
        return fail(MSRP_RESULT_NULL_POINTER, "cfg is NULL");
    }
    // SAFETY: `size` is the first field; the caller promises at least that
    // much is readable.
    let size = unsafe { cfg.cast::<usize>().read_unaligned() };
    let ours = std::mem::size_of::<msrp_session_config_t>();
    if size < std::mem::size_of::<usize>() {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            "cfg->size must be sizeof(msrp_session_config_t)",
        );
    }
    if size > ours {
        // A newer caller: fields we do not know must be zero (unused).
        // SAFETY: the caller promises `size` readable bytes.
        let extra = unsafe { std::slice::from_raw_parts(cfg.cast::<u8>().add(ours), size - ours) };
        if extra.iter().any(|&b| b != 0) {
            return fail(
                MSRP_RESULT_INVALID_ARGUMENT,
                "cfg sets fields this version of libmsrp does not know",
            );
        }
    }
    let mut full = std::mem::MaybeUninit::<msrp_session_config_t>::zeroed();
    // SAFETY: copies min(size, ours) readable bytes into a zeroed struct; an
    // all-zero msrp_session_config_t is valid (NULL pointers, None callbacks,
    // zeros, false), and so is any prefix of a caller's valid one.
    unsafe {
        std::ptr::copy_nonoverlapping(
            cfg.cast::<u8>(),
            full.as_mut_ptr().cast::<u8>(),
            size.min(ours),
        );
        Ok(full.assume_init())
    }
}

fn session_config(c: &msrp_session_config_t) -> Result<SessionConfig> {
    let mut s = SessionConfig::default();
    if let Some(types) = opt_str_arg(c.accept_types, "accept_types")? {
        s.accept_types = types.split_ascii_whitespace().map(str::to_string).collect();
        if s.accept_types.is_empty() {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, "accept_types is empty");
        }
    }
    if c.chunk_size > 0 {
        s.chunk_size = c.chunk_size;
    }
    if let Some(d) = duration_from_ms(c.response_timeout_ms) {
        s.response_timeout = d;
    }
    if c.max_message_size > 0 {
        s.max_message_size = c.max_message_size;
    }
    s.max_incoming_size = (c.max_incoming_size > 0).then_some(c.max_incoming_size);
    s.max_outgoing_size = (c.max_outgoing_size > 0).then_some(c.max_outgoing_size);
    if c.progress_step > 0 {
        s.progress_step = c.progress_step;
    }
    if c.max_buffered_incoming > 0 {
        s.max_buffered_incoming = c.max_buffered_incoming;
    }
    if c.max_queued_outgoing > 0 {
        s.max_queued_outgoing = c.max_queued_outgoing;
    }
    s.liveness_timeout = match c.liveness_timeout_ms {
        0 => Some(crate::session::DEFAULT_LIVENESS_TIMEOUT),
        u32::MAX => None,
        ms => Some(std::time::Duration::from_millis(u64::from(ms))),
    };
    s.chunk_events = c.on_chunk.is_some();
    s.imdn = crate::session::ImdnConfig {
        auto_delivery: c.imdn_auto_delivery,
        notification_events: c.on_imdn.is_some(),
    };
    Ok(s)
}

/// Starts a session over `transport` and writes it to `*out` (free with
/// `msrp_session_free`).
///
/// `transport` is consumed, even when the call fails. `cfg` is read during
/// the call (see `msrp_session_config_t`); its `user_data` is consumed too.
/// Non-blocking; callable inside callbacks (e.g. a complete_async callback).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_new(
    transport: *mut msrp_transport_t,
    cfg: *const msrp_session_config_t,
    out_session: *mut *mut msrp_session_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let transport = transport_take(transport);
        let c = read_config(cfg)?;
        let user_data = UserData::new(c.user_data, c.user_data_free);
        let out_session = out(out_session, "out")?;
        let transport = transport?;
        let config = session_config(&c)?;
        let callbacks = Callbacks {
            on_chunk: c.on_chunk,
            on_message: c.on_message,
            on_message_data: c.on_message_data,
            on_message_sent: c.on_message_sent,
            on_report: c.on_report,
            on_progress: c.on_progress,
            on_aborted: c.on_aborted,
            on_closed: c.on_closed,
            on_relay_expiring: c.on_relay_expiring,
            on_imdn: c.on_imdn,
        };
        let rt = handle()?;
        let (session, events) = {
            let _enter = rt.enter();
            Session::new(transport, config)
        };
        let shared = Arc::new(Shared {
            gate: CallbackGate::new(),
            callbacks,
            user_data_ptr: SendPtr(user_data.ptr()),
            user_data: Mutex::new(Some(user_data)),
            responses: Mutex::new(HashMap::new()),
        });
        spawn(forward_events(events, shared.clone()))?;
        out_session.write(box_into_ptr(SessionHandle { session, shared }));
        Ok(())
    }
}

/// Most events handed to a dispatcher thread in one job.
const EVENT_BATCH: usize = 64;

/// One task per session: hands the events waiting (up to [`EVENT_BATCH`]) to
/// a dispatcher thread as one job and waits for their callbacks to return
/// before the next (per-session order, no thread per session, and
/// backpressure on the session when C is slow). A job per batch rather than
/// per event saves a thread wake-up per 8 KiB of a file.
async fn forward_events(mut events: mpsc::Receiver<SessionEvent>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(EVENT_BATCH);
    while events.recv_many(&mut batch, EVENT_BATCH).await > 0 {
        let s = shared.clone();
        let ready = std::mem::replace(&mut batch, Vec::with_capacity(EVENT_BATCH));
        dispatch(move || {
            for event in ready {
                deliver(&s, event);
            }
        })
        .await;
    }
}

/// Borrowed C strings for one callback.
fn cs(text: &str) -> CString {
    c_string(text)
}

/// Header name/value strings and the array pointing into them.
fn c_headers(headers: &[Header]) -> (Vec<(CString, CString)>, Vec<msrp_header_t>) {
    let texts: Vec<(CString, CString)> = headers
        .iter()
        .map(|h| (cs(h.name()), cs(&h.encode_value())))
        .collect();
    let array = texts
        .iter()
        .map(|(n, v)| msrp_header_t {
            name: n.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    (texts, array)
}

fn data_ptr(b: &Bytes) -> *const u8 {
    if b.is_empty() {
        std::ptr::null()
    } else {
        b.as_ptr()
    }
}

/// Runs on a dispatcher thread: converts one event and calls its callback.
fn deliver(s: &Shared, event: SessionEvent) {
    let cb = s.callbacks;
    let ud = s.user_data_ptr.0;
    s.gate.run(|| match event {
        SessionEvent::Chunk(chunk) => {
            if let Some(f) = cb.on_chunk {
                let c = chunk_into_ptr(chunk);
                f(ud, c);
                super::chunk::msrp_chunk_free(c);
            }
        }
        SessionEvent::Message(m) => {
            if let Some(f) = cb.on_message {
                let (id, ct) = (cs(&m.message_id), cs(&m.content_type));
                let (_texts, headers) = c_headers(&m.headers);
                let msg = msrp_message_t {
                    message_id: id.as_ptr(),
                    content_type: ct.as_ptr(),
                    body: data_ptr(&m.body),
                    body_len: m.body.len(),
                    headers: headers.as_ptr(),
                    n_headers: headers.len(),
                };
                f(ud, &msg);
            }
        }
        SessionEvent::MessageData {
            message_id,
            content_type,
            offset,
            data,
            total,
        } => {
            if let Some(f) = cb.on_message_data {
                // One call per slice as received (not copied into one
                // buffer), each at its own offset.
                let (id, ct) = (cs(&message_id), cs(&content_type));
                let mut offset = offset;
                for slice in data.slices() {
                    let d = msrp_message_data_t {
                        message_id: id.as_ptr(),
                        content_type: ct.as_ptr(),
                        offset,
                        data: data_ptr(slice),
                        len: slice.len(),
                        total: total.unwrap_or(MSRP_SIZE_UNKNOWN),
                        complete: false,
                    };
                    f(ud, &d);
                    offset += slice.len() as u64;
                }
            }
        }
        SessionEvent::MessageComplete {
            message_id,
            content_type,
            bytes,
        } => {
            if let Some(f) = cb.on_message_data {
                let (id, ct) = (cs(&message_id), cs(&content_type));
                let d = msrp_message_data_t {
                    message_id: id.as_ptr(),
                    content_type: ct.as_ptr(),
                    offset: bytes,
                    data: std::ptr::null(),
                    len: 0,
                    total: bytes,
                    complete: true,
                };
                f(ud, &d);
            }
        }
        SessionEvent::Aborted { message_id, bytes } => {
            if let Some(f) = cb.on_aborted {
                f(ud, cs(&message_id).as_ptr(), bytes);
            }
        }
        SessionEvent::ChunkResponse {
            transaction_id,
            response,
        } => {
            if let Some(w) = lock(&s.responses).remove(&transaction_id) {
                let code = response.code().unwrap_or(0);
                let result = if (200..300).contains(&code) {
                    MSRP_RESULT_OK
                } else {
                    MSRP_RESULT_TRANSACTION_FAILED
                };
                if result != MSRP_RESULT_OK {
                    set_last_error(&format!(
                        "transaction {transaction_id} failed: {code} {}",
                        response.comment().unwrap_or("")
                    ));
                }
                let c = chunk_into_ptr(response);
                (w.cb)(w.user_data.0, result, c);
                super::chunk::msrp_chunk_free(c);
            }
        }
        SessionEvent::Sent {
            message_id,
            code,
            bytes_acknowledged,
        } => {
            if let Some(f) = cb.on_message_sent {
                f(ud, cs(&message_id).as_ptr(), code, bytes_acknowledged);
            }
        }
        SessionEvent::Report {
            message_id,
            code,
            comment,
            byte_range,
        } => {
            if let Some(f) = cb.on_report {
                let id = cs(&message_id);
                let comment = comment.as_deref().map(cs);
                let r = msrp_report_t {
                    message_id: id.as_ptr(),
                    code,
                    comment: comment.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                    byte_range: byte_range.into(),
                };
                f(ud, &r);
            }
        }
        SessionEvent::Progress {
            message_id,
            outgoing,
            bytes,
            total,
        } => {
            if let Some(f) = cb.on_progress {
                f(
                    ud,
                    cs(&message_id).as_ptr(),
                    outgoing,
                    bytes,
                    total.unwrap_or(MSRP_SIZE_UNKNOWN),
                );
            }
        }
        SessionEvent::Notification {
            message_id,
            notification_message_id,
            from,
            notification,
        } => {
            if let Some(f) = cb.on_imdn {
                super::imdn::deliver_notification(
                    f,
                    ud,
                    message_id.as_deref(),
                    &notification_message_id,
                    from.as_deref(),
                    &notification,
                );
            }
        }
        SessionEvent::RelayExpiring { expires_at } => {
            if let Some(f) = cb.on_relay_expiring {
                let left = expires_at.saturating_duration_since(std::time::Instant::now());
                f(ud, left.as_millis().min(u64::MAX as u128) as u64);
            }
        }
        SessionEvent::Closed { reason, unfinished } => {
            let waiting: Vec<ResponseWaiter> = lock(&s.responses).drain().map(|(_, w)| w).collect();
            for w in waiting {
                w.abandon(
                    MSRP_RESULT_CLOSED,
                    "the session ended before the response arrived",
                );
            }
            if let Some(f) = cb.on_closed {
                let (code, text) = match &reason {
                    CloseReason::Local => (MSRP_CLOSE_LOCAL, "closed locally".to_string()),
                    CloseReason::Peer => (MSRP_CLOSE_PEER, "closed by peer".to_string()),
                    CloseReason::Error(e) => (MSRP_CLOSE_ERROR, e.clone()),
                };
                let text = cs(&text);
                let ids: Vec<CString> = unfinished.iter().map(|u| cs(&u.message_id)).collect();
                let list: Vec<msrp_unfinished_t> = unfinished
                    .iter()
                    .zip(&ids)
                    .map(|(u, id)| msrp_unfinished_t {
                        message_id: id.as_ptr(),
                        outgoing: u.outgoing,
                        bytes_acknowledged: u.bytes_acknowledged,
                    })
                    .collect();
                let ptr = if list.is_empty() {
                    std::ptr::null()
                } else {
                    list.as_ptr()
                };
                f(ud, code, text.as_ptr(), ptr, list.len());
            }
        }
    });
}

fn session_ref<'a>(s: *const msrp_session_t) -> Result<&'a SessionHandle> {
    try_ref(s)
}

/// Sends a request chunk as it is (python-msrplib's `send_chunk`; build it with
/// `msrp_transport_make_chunk` before `msrp_session_new`, or with
/// `msrp_chunk_new_request` and headers). `chunk` is consumed, even when the
/// call fails.
///
/// With `cb` (may be NULL), `cb(user_data, result, response)` runs once on a
/// dispatcher thread (serialized with the session's callbacks) when the
/// response arrives or the response timeout generates one (408 for
/// Failure-Report yes, 200 for partial/no), or with `MSRP_RESULT_CLOSED`
/// when the session ends first, or `MSRP_RESULT_CANCELLED` during
/// `msrp_session_free`. When this function fails, `cb` is not called.
/// Non-blocking; callable inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_send_chunk(
    session: *const msrp_session_t,
    chunk: *mut msrp_chunk_t,
    cb: msrp_response_cb,
    user_data: *mut c_void,
) -> msrp_result_t {
    ffi_boundary! { result:
        let chunk = chunk_take(chunk);
        let h = session_ref(session)?;
        let chunk = chunk?;
        match cb {
            None => Ok(h.session.send_chunk(chunk, false)?),
            Some(cb) => {
                let tid = chunk.transaction_id.clone();
                lock(&h.shared.responses).insert(tid.clone(), ResponseWaiter { cb, user_data: SendPtr(user_data) });
                h.session.send_chunk(chunk, true).inspect_err(|_| {
                    lock(&h.shared.responses).remove(&tid);
                })?;
                Ok(())
            }
        }
    }
}

/// Sends a request chunk and waits for its transaction's outcome (python-msrplib's
/// `deliver_chunk`). `chunk` is borrowed.
///
/// On a 2xx response: `MSRP_RESULT_OK` and the response in `*response` (free
/// with `msrp_chunk_free`). For `Failure-Report: no`: `MSRP_RESULT_OK` at
/// once with `*response` NULL. On a non-2xx response (also 408 generated
/// after the response timeout): `MSRP_RESULT_TRANSACTION_FAILED` and the
/// response in `*response` too. `timeout_ms` 0 relies on the session's
/// response timeout; a shorter one gives `MSRP_RESULT_TIMEOUT`.
/// Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_deliver_chunk(
    session: *const msrp_session_t,
    chunk: *const msrp_chunk_t,
    timeout_ms: u32,
    response: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let response = out(response, "response")?;
        let s = session_ref(session)?.session.clone();
        let chunk = chunk_ref(chunk)?.clone();
        check_may_block()?;
        let timeout = duration_from_ms(timeout_ms);
        let outcome = block_on(async move {
            match timeout {
                Some(d) => tokio::time::timeout(d, s.deliver_chunk(chunk)).await.ok(),
                None => Some(s.deliver_chunk(chunk).await),
            }
        })?;
        match outcome {
            None => fail(MSRP_RESULT_TIMEOUT, "no response within the timeout"),
            Some(Ok(r)) => {
                response.write(r.map_or(std::ptr::null_mut(), chunk_into_ptr));
                Ok(())
            }
            Some(Err(SessionError::Transaction { code, response: r })) => {
                let comment = r.comment().unwrap_or("").to_string();
                response.write(chunk_into_ptr(*r));
                fail(MSRP_RESULT_TRANSACTION_FAILED, format!("the peer answered {code} {comment}"))
            }
            Some(Err(e)) => Err(e.into()),
        }
    }
}

/// Options for `msrp_session_send_message` (zero-initialise; zero values
/// are the defaults).
#[repr(C)]
pub struct msrp_message_options_t {
    /// Extra headers for every chunk (e.g. Content-Disposition), may be NULL.
    pub headers: *const msrp_header_t,
    pub n_headers: usize,
    /// The Message-ID to use (NULL: a random one).
    pub message_id: *const c_char,
    /// Ask for a success REPORT (`Success-Report: yes`).
    pub success_report: bool,
    /// `MSRP_FAILURE_REPORT_YES` (the default), `_NO` or `_PARTIAL`.
    pub failure_report: msrp_failure_report_t,
}

/// Queues a whole message, `len` bytes at `body` (may contain NUL; NULL
/// with 0), of type `content_type`; the library splits it into chunks.
/// `options` may be NULL. When `message_id` is not NULL, the message's
/// Message-ID is written to it (free with `msrp_string_free`). The outcome
/// arrives in `on_message_sent`. Non-blocking; callable inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_send_message(
    session: *const msrp_session_t,
    content_type: *const c_char,
    body: *const u8,
    len: usize,
    options: *const msrp_message_options_t,
    message_id: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = session_ref(session)?;
        let content_type = super::handle::str_arg(content_type, "content_type")?;
        let mut msg = OutgoingMessage::new(content_type, Bytes::copy_from_slice(slice_arg(body, len, "body")?));
        // SAFETY: NULL or an options struct readable for the call.
        if let Some(o) = unsafe { options.as_ref() } {
            msg.headers = parse_headers(array_arg(o.headers, o.n_headers, "headers")?)?;
            msg.message_id = opt_str_arg(o.message_id, "message_id")?.map(str::to_string);
            msg.success_report = o.success_report;
            msg.failure_report = failure_report_arg(o.failure_report)?;
        }
        let id = h.session.send_message(msg)?;
        if let Some(o) = out_opt(message_id) {
            o.write(string_into_ptr(id)?);
        }
        Ok(())
    }
}

/// A file for `msrp_session_send_file` (zero-initialise; zero values are the
/// defaults, except where said).
#[repr(C)]
pub struct msrp_outgoing_file_t {
    /// The file to send; when NULL, `fd` is used instead.
    pub path: *const c_char,
    /// An open, readable file descriptor, used only when `path` is NULL. The
    /// library duplicates it: the caller keeps (and closes) its own.
    pub fd: c_int,
    /// The whole file's size (0: read from the file).
    pub size: u64,
    /// NULL: `application/octet-stream`.
    pub content_type: *const c_char,
    /// python-msrplib's resume: continue the message `message_id` at this 0-based
    /// byte offset (its Byte-Range starts at position + 1).
    pub position: u64,
    /// RFC 5547 §8: when `range_end` > 0, send only bytes
    /// [`range_start`, `range_end`) as a new message numbered from 1.
    pub range_start: u64,
    pub range_end: u64,
    /// The Message-ID to use (NULL: a random one; required with `position`).
    pub message_id: *const c_char,
    /// Extra headers (e.g. Content-Disposition), may be NULL.
    pub headers: *const msrp_header_t,
    pub n_headers: usize,
    /// Ask for a success REPORT.
    pub success_report: bool,
}

fn file_source(f: &msrp_outgoing_file_t) -> Result<FileSource> {
    if let Some(path) = opt_str_arg(f.path, "path")? {
        return Ok(FileSource::Path(path.into()));
    }
    if f.fd < 0 {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            "neither a path nor a file descriptor was given",
        );
    }
    #[cfg(unix)]
    {
        use std::os::fd::BorrowedFd;
        // SAFETY: the caller promises `fd` is open for the call; we only
        // duplicate it.
        let owned = unsafe { BorrowedFd::borrow_raw(f.fd) }.try_clone_to_owned()?;
        Ok(FileSource::File(std::fs::File::from(owned)))
    }
    #[cfg(not(unix))]
    fail(
        MSRP_RESULT_INVALID_ARGUMENT,
        "file descriptors are supported on Unix only",
    )
}

/// Queues a file; its chunks are read as the connection drains, and
/// `on_progress` reports the bytes acknowledged. When `message_id` is not
/// NULL, the message's Message-ID is written to it (free with
/// `msrp_string_free`). The outcome arrives in `on_message_sent`.
/// Non-blocking (the file is opened during the call); callable inside
/// callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_send_file(
    session: *const msrp_session_t,
    file: *const msrp_outgoing_file_t,
    message_id: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = session_ref(session)?;
        // SAFETY: NULL or a file struct readable for the call.
        let Some(f) = (unsafe { file.as_ref() }) else { return fail(MSRP_RESULT_NULL_POINTER, "file is NULL") };
        let content_type = opt_str_arg(f.content_type, "content_type")?.unwrap_or("application/octet-stream");
        let mut of = OutgoingFile::new(file_source(f)?, content_type);
        of.size = (f.size > 0).then_some(f.size);
        of.position = f.position;
        if f.range_end > 0 {
            of.range = Some((f.range_start, f.range_end));
        }
        of.message_id = opt_str_arg(f.message_id, "message_id")?.map(str::to_string);
        of.headers = parse_headers(array_arg(f.headers, f.n_headers, "headers")?)?;
        of.success_report = f.success_report;
        let id = h.session.send_file(of)?;
        if let Some(o) = out_opt(message_id) {
            o.write(string_into_ptr(id)?);
        }
        Ok(())
    }
}

/// Cancels an outgoing message: one not started is dropped, one under way is
/// ended with `#`; its `on_message_sent` follows. Non-blocking.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_cancel(
    session: *const msrp_session_t,
    message_id: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = session_ref(session)?;
        Ok(h.session.cancel(super::handle::str_arg(message_id, "message_id")?)?)
    }
}

/// Refuses the rest of the incoming message `message_id`, e.g. when the
/// application cannot store it (a full disk): its next chunks, and those
/// already on the way, are answered `code` (RFC 4975 §7.2; 413 tells the
/// sender to stop sending the message), so the sender's `on_message_sent`
/// gets `code` with the bytes answered 200 before. No further
/// `on_message_data` follows for it, and it is not listed as unfinished in
/// `on_closed`. `code` must be 400-599 (`MSRP_RESULT_INVALID_ARGUMENT`
/// otherwise); `message_id` is borrowed for the call. Non-blocking;
/// callable inside callbacks (typically `on_message_data`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_refuse_incoming(
    session: *const msrp_session_t,
    message_id: *const c_char,
    code: u16,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = session_ref(session)?;
        Ok(h.session.refuse_incoming(super::handle::str_arg(message_id, "message_id")?, code)?)
    }
}

/// Declares that the peer will resume the incoming message `message_id`
/// (same Message-ID, continuing at octet `already + 1`) and that the
/// application already holds its first `already` octets. The rest then
/// arrives through `on_message_data` at its offsets, and the message ends
/// with a completion once the total is reached. Call it before the resumed
/// chunks arrive (e.g. right after `msrp_session_new`). `message_id` is
/// borrowed for the call. Non-blocking; callable inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_expect_resume(
    session: *const msrp_session_t,
    message_id: *const c_char,
    already: u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let h = session_ref(session)?;
        Ok(h.session.expect_resume(super::handle::str_arg(message_id, "message_id")?, already)?)
    }
}

/// Starts ending the session and returns at once. With `sync`, what is
/// queued is sent and the last responses are awaited before the connection
/// closes; without, it closes now and what was pending is listed as
/// unfinished (the responses and REPORTs already queued for the peer still
/// go out with the close, within a second). Either way `on_closed` reports
/// the end. Non-blocking;
/// callable inside callbacks; a no-op once the session has ended.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_shutdown(
    session: *const msrp_session_t,
    sync: bool,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = session_ref(session)?.session.clone();
        spawn(async move { s.shutdown(sync).await })?;
        Ok(())
    }
}

/// Frees the session; if it is still running, closes it at once (use
/// `msrp_session_shutdown(s, true)` and wait for `on_closed` to send what is
/// queued first). Waits for a callback of the session in flight; none runs
/// after this returns, then `send_chunk` callbacks still waiting get
/// `MSRP_RESULT_CANCELLED` and `user_data_free` runs. Called from inside the
/// session's own callback, it returns at once and all that happens when the
/// callback returns. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_free(session: *mut msrp_session_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a session it owns, once.
        let Some(h) = (unsafe { box_from_ptr(session) }) else { return };
        let s = h.session.clone();
        spawn_if_running(async move { s.shutdown(false).await });
        let shared = h.shared.clone();
        shared.gate.clone().close(move || {
            let _scope = CallbackScope::enter(0);
            let waiting: Vec<ResponseWaiter> = lock(&shared.responses).drain().map(|(_, w)| w).collect();
            for w in waiting {
                w.abandon(MSRP_RESULT_CANCELLED, "msrp_session_free was called before the response arrived");
            }
            drop(lock(&shared.user_data).take());
            drop(h);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> msrp_session_config_t {
        // SAFETY: an all-zero config is valid (NULL pointers, None callbacks).
        let mut c: msrp_session_config_t = unsafe { std::mem::zeroed() };
        c.size = std::mem::size_of::<msrp_session_config_t>();
        c
    }

    #[test]
    fn limits_and_liveness_from_the_c_config() {
        let mut c = config();
        let s = session_config(&c).unwrap();
        assert_eq!(
            s.liveness_timeout,
            Some(crate::session::DEFAULT_LIVENESS_TIMEOUT)
        );
        assert_eq!(
            s.max_buffered_incoming,
            crate::session::DEFAULT_MAX_BUFFERED_INCOMING
        );
        assert_eq!(
            s.max_queued_outgoing,
            crate::session::DEFAULT_MAX_QUEUED_OUTGOING
        );
        c.liveness_timeout_ms = u32::MAX;
        c.max_buffered_incoming = 1000;
        c.max_queued_outgoing = 2000;
        let s = session_config(&c).unwrap();
        assert_eq!(s.liveness_timeout, None);
        assert_eq!(
            (s.max_buffered_incoming, s.max_queued_outgoing),
            (1000, 2000)
        );
        c.liveness_timeout_ms = 1500;
        let s = session_config(&c).unwrap();
        assert_eq!(
            s.liveness_timeout,
            Some(std::time::Duration::from_millis(1500))
        );
    }
}
