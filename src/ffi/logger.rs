//! `msrp_logger_t`: python-msrplib's logger object for C — hooks for chunk start,
//! data and end, sent and received, and one `log` hook for the text levels
//! (python-msrplib's debug/info/warn/error/fatal).

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::chunk::{chunk_into_ptr, msrp_chunk_t};
use super::handle::c_string;
use super::runtime::CallbackScope;
use crate::log::{ConnectionInfo, Level, Logger, SharedLogger};
use crate::protocol::Chunk;

/// Log levels, most severe first; a logger receives the levels up to its
/// `max_level`.
pub type msrp_log_level_t = u32;
pub const MSRP_LOG_LEVEL_FATAL: msrp_log_level_t = 0;
pub const MSRP_LOG_LEVEL_ERROR: msrp_log_level_t = 1;
pub const MSRP_LOG_LEVEL_WARN: msrp_log_level_t = 2;
pub const MSRP_LOG_LEVEL_INFO: msrp_log_level_t = 3;
pub const MSRP_LOG_LEVEL_DEBUG: msrp_log_level_t = 4;
pub const MSRP_LOG_LEVEL_TRACE: msrp_log_level_t = 5;

/// The connection a wire event happened on, borrowed for the call.
#[repr(C)]
pub struct msrp_connection_info_t {
    /// A process-unique number for the connection.
    pub id: u64,
    /// The local URI of the session on it.
    pub local_uri: *const c_char,
    /// The peer's socket address, `host:port`.
    pub peer_address: *const c_char,
}

/// A text log line: `message` is borrowed for the call.
pub type msrp_log_cb =
    Option<extern "C" fn(user_data: *mut c_void, level: msrp_log_level_t, message: *const c_char)>;

/// The start of a chunk was sent or received: `data`/`len` is the start line
/// and headers as on the wire; `chunk` is the whole chunk (a reference the
/// callee may keep with `msrp_chunk_clone`). All borrowed for the call.
pub type msrp_log_chunk_start_cb = Option<
    extern "C" fn(
        user_data: *mut c_void,
        data: *const u8,
        len: usize,
        conn: *const msrp_connection_info_t,
        chunk: *const msrp_chunk_t,
    ),
>;

/// Payload or the end-line of a chunk was sent or received (`data`/`len`),
/// for the chunk with `transaction_id`. All borrowed for the call.
pub type msrp_log_chunk_piece_cb = Option<
    extern "C" fn(
        user_data: *mut c_void,
        data: *const u8,
        len: usize,
        conn: *const msrp_connection_info_t,
        transaction_id: *const c_char,
    ),
>;

/// Releases a `user_data` pointer.
pub type msrp_user_data_free_cb = Option<extern "C" fn(user_data: *mut c_void)>;

/// A logger: python-msrplib's logger methods as function pointers. Any pointer may
/// be NULL (that event is not wanted). The chunk hooks are called only when
/// at least one of them is set.
///
/// The struct is copied by the function that takes it; `user_data` then
/// belongs to the library, which calls `user_data_free(user_data)` (when not
/// NULL) once no handle uses the logger any more.
///
/// Thread-safety: the hooks are called on library threads, possibly on
/// several at once, in the middle of network work: they must be quick, must
/// not block, and any blocking libmsrp function called from them returns
/// `MSRP_RESULT_WOULD_DEADLOCK`.
#[repr(C)]
pub struct msrp_logger_t {
    pub user_data: *mut c_void,
    pub user_data_free: msrp_user_data_free_cb,
    /// The most verbose level wanted (`MSRP_LOG_LEVEL_*`).
    pub max_level: msrp_log_level_t,
    /// Text messages: python-msrplib's debug, info, warn, error and fatal.
    pub log: msrp_log_cb,
    pub received_new_chunk: msrp_log_chunk_start_cb,
    pub received_chunk_data: msrp_log_chunk_piece_cb,
    pub received_chunk_end: msrp_log_chunk_piece_cb,
    pub sent_new_chunk: msrp_log_chunk_start_cb,
    pub sent_chunk_data: msrp_log_chunk_piece_cb,
    pub sent_chunk_end: msrp_log_chunk_piece_cb,
}

/// A `user_data` pointer with its release function, released exactly once
/// (on drop). Shared by every callback owner in this module tree.
pub(crate) struct UserData {
    ptr: *mut c_void,
    free: msrp_user_data_free_cb,
}

// SAFETY: the C API documents that user_data is used from library threads
// (one at a time for session callbacks, concurrently for logger hooks).
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    pub fn new(ptr: *mut c_void, free: msrp_user_data_free_cb) -> UserData {
        UserData { ptr, free }
    }

    pub fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            f(self.ptr);
        }
    }
}

/// A C logger behind the core's `Logger` trait.
pub(crate) struct CLogger {
    hooks: msrp_logger_t,
    user_data: UserData,
    max_level: Level,
}

// SAFETY: the hooks are plain function pointers and user_data is documented
// as used from several library threads at once.
unsafe impl Send for CLogger {}
// SAFETY: as above.
unsafe impl Sync for CLogger {}

fn level_from_c(level: msrp_log_level_t) -> Level {
    match level {
        MSRP_LOG_LEVEL_FATAL => Level::Fatal,
        MSRP_LOG_LEVEL_ERROR => Level::Error,
        MSRP_LOG_LEVEL_WARN => Level::Warn,
        MSRP_LOG_LEVEL_INFO => Level::Info,
        MSRP_LOG_LEVEL_DEBUG => Level::Debug,
        _ => Level::Trace,
    }
}

impl CLogger {
    /// Takes over a C logger (and its user_data).
    pub fn shared(hooks: &msrp_logger_t) -> SharedLogger {
        let copy = msrp_logger_t {
            user_data: std::ptr::null_mut(),
            user_data_free: None,
            ..*hooks
        };
        Arc::new(CLogger {
            hooks: copy,
            user_data: UserData::new(hooks.user_data, hooks.user_data_free),
            max_level: level_from_c(hooks.max_level),
        })
    }

    fn start(
        &self,
        hook: msrp_log_chunk_start_cb,
        data: &[u8],
        conn: ConnectionInfo<'_>,
        chunk: &Chunk,
    ) {
        if let Some(f) = hook {
            let _scope = CallbackScope::enter(0);
            let (local, peer) = (c_string(conn.local), c_string(conn.peer));
            let info = msrp_connection_info_t {
                id: conn.id,
                local_uri: local.as_ptr(),
                peer_address: peer.as_ptr(),
            };
            let c = chunk_into_ptr(chunk.clone());
            f(self.user_data.ptr(), data.as_ptr(), data.len(), &info, c);
            super::chunk::msrp_chunk_free(c);
        }
    }

    fn piece(
        &self,
        hook: msrp_log_chunk_piece_cb,
        data: &[u8],
        conn: ConnectionInfo<'_>,
        tid: &str,
    ) {
        if let Some(f) = hook {
            let _scope = CallbackScope::enter(0);
            let (local, peer, tid) = (c_string(conn.local), c_string(conn.peer), c_string(tid));
            let info = msrp_connection_info_t {
                id: conn.id,
                local_uri: local.as_ptr(),
                peer_address: peer.as_ptr(),
            };
            f(
                self.user_data.ptr(),
                data.as_ptr(),
                data.len(),
                &info,
                tid.as_ptr(),
            );
        }
    }
}

impl Logger for CLogger {
    fn max_level(&self) -> Level {
        self.max_level
    }
    fn wants_wire(&self) -> bool {
        let h = &self.hooks;
        h.received_new_chunk.is_some()
            || h.received_chunk_data.is_some()
            || h.received_chunk_end.is_some()
            || h.sent_new_chunk.is_some()
            || h.sent_chunk_data.is_some()
            || h.sent_chunk_end.is_some()
    }
    fn received_new_chunk(&self, data: &[u8], conn: ConnectionInfo<'_>, chunk: &Chunk) {
        self.start(self.hooks.received_new_chunk, data, conn, chunk);
    }
    fn received_chunk_data(&self, data: &[u8], conn: ConnectionInfo<'_>, tid: &str) {
        self.piece(self.hooks.received_chunk_data, data, conn, tid);
    }
    fn received_chunk_end(&self, data: &[u8], conn: ConnectionInfo<'_>, tid: &str) {
        self.piece(self.hooks.received_chunk_end, data, conn, tid);
    }
    fn sent_new_chunk(&self, data: &[u8], conn: ConnectionInfo<'_>, chunk: &Chunk) {
        self.start(self.hooks.sent_new_chunk, data, conn, chunk);
    }
    fn sent_chunk_data(&self, data: &[u8], conn: ConnectionInfo<'_>, tid: &str) {
        self.piece(self.hooks.sent_chunk_data, data, conn, tid);
    }
    fn sent_chunk_end(&self, data: &[u8], conn: ConnectionInfo<'_>, tid: &str) {
        self.piece(self.hooks.sent_chunk_end, data, conn, tid);
    }
    fn log(&self, level: Level, message: &str) {
        if let (Some(f), true) = (self.hooks.log, level <= self.max_level) {
            let _scope = CallbackScope::enter(0);
            let text = c_string(message);
            f(
                self.user_data.ptr(),
                level as msrp_log_level_t,
                text.as_ptr(),
            );
        }
    }
}
