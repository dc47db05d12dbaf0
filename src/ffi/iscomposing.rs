//! `msrp_iscomposing_t`: isComposing (RFC 3994,
//! `application/im-iscomposing+xml`) parsed and built.

use std::ffi::c_char;

use super::cpim::write_bytes;
use super::handle::{
    box_from_ptr, box_into_ptr, found, opt_str_arg, out, slice_arg, try_ref, Castable, OwnershipBox,
};
use super::result::{msrp_result_t, Error, MSRP_RESULT_PARSE};
use crate::content::{ComposingState, IsComposing};

/// A parsed isComposing document.
///
/// Made by `msrp_iscomposing_parse`, freed by `msrp_iscomposing_free`.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_iscomposing_t {
    _private: [u8; 0],
}

impl Castable for msrp_iscomposing_t {
    type Ownership = OwnershipBox;
    type RustType = IsComposing;
}

/// Parses `len` bytes at `data` as an isComposing document and writes a new
/// handle to `*out` (free with `msrp_iscomposing_free`).
/// `MSRP_RESULT_PARSE` when it is not well-formed XML or not
/// `<isComposing>` with a `<state>` in the RFC 3994 namespace.
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_parse(
    data: *const u8,
    len: usize,
    out_doc: *mut *mut msrp_iscomposing_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_doc = out(out_doc, "out")?;
        let data = slice_arg(data, len, "data")?;
        let d = IsComposing::parse(data).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))?;
        out_doc.write(box_into_ptr(d));
        Ok(())
    }
}

/// Frees a parsed isComposing document. NULL is a no-op.
///
/// Threads: not while another thread still uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_free(doc: *mut msrp_iscomposing_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a handle from msrp_iscomposing_parse, once.
        drop(unsafe { box_from_ptr(doc) });
    }
}

/// Whether the state is `active` (any other state counts as idle, RFC
/// 3994 §3.5). False for NULL.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_is_active(doc: *const msrp_iscomposing_t) -> bool {
    ffi_boundary! { try_ref(doc).is_ok_and(|d| d.state == ComposingState::Active) }
}

/// Writes `<contenttype>` (e.g. "text/plain" or "audio") to `*out` (free
/// with `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when absent.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_contenttype(
    doc: *const msrp_iscomposing_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(try_ref(doc)?.contenttype.as_deref(), "contenttype", out_text)
    }
}

/// Writes `<lastactive>` (RFC 3339, as written) to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when absent.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_lastactive(
    doc: *const msrp_iscomposing_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(try_ref(doc)?.lastactive.as_deref(), "lastactive", out_text)
    }
}

/// `<refresh>` in seconds; 0 when absent (the receiver then assumes idle
/// after 120 s, RFC 3994 §3.3) and for NULL.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_refresh(doc: *const msrp_iscomposing_t) -> u32 {
    ffi_boundary! { try_ref(doc).map_or(0, |d| d.refresh.unwrap_or(0)) }
}

/// Encodes an isComposing document into `buf` (`len` bytes; `*needed` as in
/// `msrp_chunk_encode`): `active` or idle, and optionally `contenttype`
/// (NULL: none), `refresh` seconds (0: none) and `lastactive` (RFC 3339;
/// NULL: none). Send it as `application/im-iscomposing+xml`, with
/// Success-Report no (RFC 3994 has no delivery confirmation).
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_iscomposing_encode(
    active: bool,
    contenttype: *const c_char,
    refresh: u32,
    lastactive: *const c_char,
    buf: *mut u8,
    len: usize,
    needed: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let d = IsComposing {
            state: if active { ComposingState::Active } else { ComposingState::Idle },
            lastactive: opt_str_arg(lastactive, "lastactive")?.map(str::to_string),
            contenttype: opt_str_arg(contenttype, "contenttype")?.map(str::to_string),
            refresh: (refresh > 0).then_some(refresh),
        };
        write_bytes(&d.to_xml(), buf, len, needed)
    }
}
