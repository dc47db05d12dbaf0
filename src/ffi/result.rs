//! Result codes, the per-thread last error, and the panic boundary.
//!
//! Every exported function runs its body inside [`ffi_boundary!`]: a panic
//! never crosses into C; it becomes `MSRP_RESULT_PANIC` (or NULL, false, 0 for
//! functions that return those) and its message becomes the thread's last
//! error text.

use std::cell::RefCell;
use std::ffi::c_char;
use std::fmt;
use std::panic::UnwindSafe;

/// The one panic boundary of the C API: every exported function's body goes
/// inside it. `ffi_boundary!(result: ...)` is for bodies that return
/// `Result<()>` (they become `msrp_result_t`, with the error text recorded as
/// the thread's last error); `ffi_boundary!(...)` for bodies that return a
/// plain value (`()`, `bool`, integers).
macro_rules! ffi_boundary {
    (result: $($body:tt)*) => {
        $crate::ffi::result::run_boundary(std::panic::AssertUnwindSafe(
            || -> $crate::ffi::result::Result<()> { $($body)* },
        ))
    };
    ($($body:tt)*) => {
        $crate::ffi::result::run_boundary(std::panic::AssertUnwindSafe(|| { $($body)* }))
    };
}

/// The result of a libmsrp function: `MSRP_RESULT_OK` (0) or an error code.
///
/// A fixed-width 32-bit unsigned integer so that every language binding sees
/// the same width. Values are stable: a code is never renumbered, and a
/// retired code is never reused. `msrp_result_str()` names any code and
/// `msrp_last_error()` gives the detail of the most recent failure on the
/// calling thread.
pub type msrp_result_t = u32;

/// Success.
pub const MSRP_RESULT_OK: msrp_result_t = 0;
/// An argument has a value the function cannot use (the last error says which).
pub const MSRP_RESULT_INVALID_ARGUMENT: msrp_result_t = 1;
/// A required pointer argument is NULL.
pub const MSRP_RESULT_NULL_POINTER: msrp_result_t = 2;
/// A string argument is not valid UTF-8.
pub const MSRP_RESULT_INVALID_UTF8: msrp_result_t = 3;
/// The handle is not in a state that allows the call (e.g. complete before
/// prepare, a second concurrent call on a single-owner handle).
pub const MSRP_RESULT_INVALID_STATE: msrp_result_t = 4;
/// The operation did not finish within its timeout.
pub const MSRP_RESULT_TIMEOUT: msrp_result_t = 5;
/// The operation was cancelled (by cleanup, free, or library shutdown).
pub const MSRP_RESULT_CANCELLED: msrp_result_t = 6;
/// A network or file error.
pub const MSRP_RESULT_IO: msrp_result_t = 7;
/// A TLS error: handshake failure, untrusted certificate, unusable key or
/// certificate file.
pub const MSRP_RESULT_TLS: msrp_result_t = 8;
/// The peer's certificate does not have the expected SHA-256 fingerprint.
pub const MSRP_RESULT_FINGERPRINT_MISMATCH: msrp_result_t = 9;
/// The peer answered with an error (e.g. a binding answered 481), or an
/// incoming chunk does not belong to this session.
pub const MSRP_RESULT_REJECTED: msrp_result_t = 10;
/// A relay refused authentication.
pub const MSRP_RESULT_AUTHENTICATION: msrp_result_t = 11;
/// The connection or session is closed.
pub const MSRP_RESULT_CLOSED: msrp_result_t = 12;
/// A blocking function was called from inside a library callback or from a
/// library runtime thread, where waiting could deadlock; nothing was done.
pub const MSRP_RESULT_WOULD_DEADLOCK: msrp_result_t = 13;
/// The library caught an internal panic; the last error has its message.
pub const MSRP_RESULT_PANIC: msrp_result_t = 14;
/// A transaction got a non-2xx response (the response is available where the
/// function documents it).
pub const MSRP_RESULT_TRANSACTION_FAILED: msrp_result_t = 15;
/// The requested item (header, port, session id, ...) is not present.
pub const MSRP_RESULT_NOT_FOUND: msrp_result_t = 16;
/// The caller's buffer is too small; the needed size was written.
pub const MSRP_RESULT_BUFFER_TOO_SMALL: msrp_result_t = 17;
/// Text that should be an MSRP URI, path, header or fingerprint is malformed.
pub const MSRP_RESULT_PARSE: msrp_result_t = 18;
/// The peer violated the protocol.
pub const MSRP_RESULT_PROTOCOL: msrp_result_t = 19;
/// The library's runtime could not be started, or is shut down.
pub const MSRP_RESULT_RUNTIME: msrp_result_t = 20;
/// A resource limit would be exceeded (sessions of a server, queued or
/// buffered octets); the last error says which limit and its value.
pub const MSRP_RESULT_LIMIT: msrp_result_t = 21;
/// The local port to bind is in use (see
/// `msrp_endpoint_config_set_bind_source_port`), or no port of the range
/// is free; the last error names the port or range.
pub const MSRP_RESULT_ADDRESS_IN_USE: msrp_result_t = 22;

/// Names of the codes, indexed by code.
const NAMES: [&str; 23] = [
    "MSRP_RESULT_OK\0",
    "MSRP_RESULT_INVALID_ARGUMENT\0",
    "MSRP_RESULT_NULL_POINTER\0",
    "MSRP_RESULT_INVALID_UTF8\0",
    "MSRP_RESULT_INVALID_STATE\0",
    "MSRP_RESULT_TIMEOUT\0",
    "MSRP_RESULT_CANCELLED\0",
    "MSRP_RESULT_IO\0",
    "MSRP_RESULT_TLS\0",
    "MSRP_RESULT_FINGERPRINT_MISMATCH\0",
    "MSRP_RESULT_REJECTED\0",
    "MSRP_RESULT_AUTHENTICATION\0",
    "MSRP_RESULT_CLOSED\0",
    "MSRP_RESULT_WOULD_DEADLOCK\0",
    "MSRP_RESULT_PANIC\0",
    "MSRP_RESULT_TRANSACTION_FAILED\0",
    "MSRP_RESULT_NOT_FOUND\0",
    "MSRP_RESULT_BUFFER_TOO_SMALL\0",
    "MSRP_RESULT_PARSE\0",
    "MSRP_RESULT_PROTOCOL\0",
    "MSRP_RESULT_RUNTIME\0",
    "MSRP_RESULT_LIMIT\0",
    "MSRP_RESULT_ADDRESS_IN_USE\0",
];

/// Returns the name of a result code, e.g. `"MSRP_RESULT_TIMEOUT"`, or
/// `"MSRP_RESULT_UNKNOWN"` for a value that is not a code.
///
/// The string is static: never free it. Thread-safe; callable anywhere,
/// including inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_result_str(code: msrp_result_t) -> *const c_char {
    let name = NAMES
        .get(code as usize)
        .copied()
        .unwrap_or("MSRP_RESULT_UNKNOWN\0");
    name.as_ptr().cast()
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces the calling thread's last error text.
pub(crate) fn set_last_error(text: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        e.push_str(text);
    });
}

/// Copies the detail text of the most recent failure on the calling thread
/// into `buf`, with snprintf rules: at most `len - 1` bytes and a NUL are
/// written (nothing when `buf` is NULL or `len` is 0), and the return value is
/// the full length of the text, without the NUL. So a return value `>= len`
/// means the text was truncated; 0 means no failure was recorded.
///
/// The text is set by every function that returns an error code (and by
/// callbacks that receive one) and is kept until the next failure on the same
/// thread; successful calls do not clear it. Inside a callback that is given
/// an error code, the text describes that error. Callable anywhere.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_last_error(buf: *mut c_char, len: usize) -> usize {
    ffi_boundary! {
        LAST_ERROR.with(|e| {
            let e = e.borrow();
            if !buf.is_null() && len > 0 {
                let n = e.len().min(len - 1);
                // SAFETY: the caller promises `buf` has room for `len` bytes;
                // n + 1 <= len.
                unsafe {
                    std::ptr::copy_nonoverlapping(e.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            e.len()
        })
    }
}

/// An error on its way to C: a code and the detail text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    pub code: msrp_result_t,
    pub text: String,
}

impl Error {
    pub fn new(code: msrp_result_t, text: impl Into<String>) -> Error {
        Error {
            code,
            text: text.into(),
        }
    }

    /// Records the text as the thread's last error and returns the code.
    pub fn record(self) -> msrp_result_t {
        set_last_error(&self.text);
        self.code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an `Err` with a code and text.
pub(crate) fn fail<T>(code: msrp_result_t, text: impl Into<String>) -> Result<T> {
    Err(Error::new(code, text))
}

/// What an entry point's body returns, and how it becomes a C value.
pub(crate) trait FfiOutput {
    type C;
    fn into_c(self) -> Self::C;
    /// The value returned when the body panicked.
    fn panicked() -> Self::C;
}

impl FfiOutput for Result<()> {
    type C = msrp_result_t;
    fn into_c(self) -> msrp_result_t {
        match self {
            Ok(()) => MSRP_RESULT_OK,
            Err(e) => e.record(),
        }
    }
    fn panicked() -> msrp_result_t {
        MSRP_RESULT_PANIC
    }
}

macro_rules! plain_output {
    ($($t:ty => $v:expr),* $(,)?) => {$(
        impl FfiOutput for $t {
            type C = $t;
            fn into_c(self) -> $t {
                self
            }
            fn panicked() -> $t {
                $v
            }
        }
    )*};
}

plain_output! {
    () => (),
    bool => false,
    usize => 0,
    u16 => 0,
    u32 => 0,
    u64 => 0,
    c_char => 0,
}

impl<T> FfiOutput for *mut T {
    type C = *mut T;
    fn into_c(self) -> *mut T {
        self
    }
    fn panicked() -> *mut T {
        std::ptr::null_mut()
    }
}

impl<T> FfiOutput for *const T {
    type C = *const T;
    fn into_c(self) -> *const T {
        self
    }
    fn panicked() -> *const T {
        std::ptr::null()
    }
}

/// Runs an entry point's body, turning a panic into the type's panic value
/// and the last error text "panic: ...". Used only by `ffi_boundary!`.
pub(crate) fn run_boundary<T: FfiOutput>(body: impl FnOnce() -> T + UnwindSafe) -> T::C {
    match std::panic::catch_unwind(body) {
        Ok(v) => v.into_c(),
        Err(payload) => {
            set_last_error(&format!(
                "panic inside libmsrp: {}",
                panic_message(&*payload)
            ));
            T::panicked()
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

// ---------------------------------------------------------------------------
// Core errors to codes
// ---------------------------------------------------------------------------

use crate::connect::ConnectError;
use crate::transport::{TlsError, TransportError};

fn tls_code(e: &TlsError) -> msrp_result_t {
    match e {
        TlsError::InvalidFingerprint(_) => MSRP_RESULT_PARSE,
        TlsError::FingerprintMismatch { .. } => MSRP_RESULT_FINGERPRINT_MISMATCH,
        TlsError::File { .. } | TlsError::Io(_) => MSRP_RESULT_IO,
        TlsError::InvalidServerName(_) => MSRP_RESULT_INVALID_ARGUMENT,
        _ => MSRP_RESULT_TLS,
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Error {
        Error::new(tls_code(&e), e.to_string())
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Error {
        let code = match &e {
            ConnectError::InvalidPath(_) => MSRP_RESULT_INVALID_ARGUMENT,
            ConnectError::Io(_) => MSRP_RESULT_IO,
            ConnectError::Tls(t) => tls_code(t),
            ConnectError::Timeout => MSRP_RESULT_TIMEOUT,
            ConnectError::Rejected(_) => MSRP_RESULT_REJECTED,
            ConnectError::Protocol(_) => MSRP_RESULT_PROTOCOL,
            ConnectError::NotPrepared => MSRP_RESULT_INVALID_STATE,
            ConnectError::Cancelled => MSRP_RESULT_CANCELLED,
            ConnectError::Authentication(_) => MSRP_RESULT_AUTHENTICATION,
            ConnectError::LimitExceeded(_) => MSRP_RESULT_LIMIT,
            ConnectError::AddressInUse(_) => MSRP_RESULT_ADDRESS_IN_USE,
        };
        Error::new(code, e.to_string())
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        let code = match &e {
            TransportError::Closed | TransportError::ClosedMidChunk => MSRP_RESULT_CLOSED,
            TransportError::Parse(_) => MSRP_RESULT_PROTOCOL,
            TransportError::Io(_) => MSRP_RESULT_IO,
        };
        Error::new(code, e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(MSRP_RESULT_IO, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_code_has_its_name() {
        for (code, name) in NAMES.iter().enumerate() {
            // SAFETY: static NUL-terminated strings.
            let got = unsafe { CStr::from_ptr(msrp_result_str(code as u32)) };
            assert_eq!(got.to_bytes_with_nul(), name.as_bytes());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(msrp_result_str(999)) };
        assert_eq!(unknown.to_str().unwrap(), "MSRP_RESULT_UNKNOWN");
        assert_eq!(NAMES[MSRP_RESULT_RUNTIME as usize], "MSRP_RESULT_RUNTIME\0");
    }

    #[test]
    fn last_error_follows_snprintf() {
        set_last_error("hello world");
        let mut buf = [0x7f as c_char; 6];
        assert_eq!(msrp_last_error(buf.as_mut_ptr(), buf.len()), 11);
        // SAFETY: NUL-terminated by msrp_last_error.
        assert_eq!(
            unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
            "hello"
        );
        assert_eq!(msrp_last_error(std::ptr::null_mut(), 0), 11);
    }

    #[test]
    fn panics_become_codes() {
        let code = run_boundary(|| -> Result<()> { panic!("boom") });
        assert_eq!(code, MSRP_RESULT_PANIC);
        LAST_ERROR.with(|e| assert!(e.borrow().contains("boom")));
    }
}
