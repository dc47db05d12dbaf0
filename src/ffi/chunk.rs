//! `msrp_chunk_t`: MSRP chunks (requests and responses) and their headers.

use std::ffi::c_char;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::handle::{
    arc_clone_from_ptr, arc_from_ptr, arc_into_ptr, out, out_opt, slice_arg, str_arg,
    string_into_ptr, try_ref, Castable, OwnershipArc,
};
use super::result::{
    fail, msrp_result_t, Error, Result, MSRP_RESULT_BUFFER_TOO_SMALL, MSRP_RESULT_INVALID_ARGUMENT,
    MSRP_RESULT_INVALID_STATE, MSRP_RESULT_NOT_FOUND, MSRP_RESULT_NULL_POINTER, MSRP_RESULT_PARSE,
};
use crate::protocol::{
    ids, Chunk, ChunkReader, Continuation, FailureReport, Header, Limits, Method, SuccessReport,
};

/// One MSRP chunk: a request (possibly one piece of a larger message) or a
/// response, with its headers, payload and continuation flag.
///
/// Reference-counted: `msrp_chunk_clone` adds a reference, `msrp_chunk_free`
/// drops one. A chunk is immutable once shared: the `msrp_chunk_set_*`,
/// `msrp_chunk_add_header` and `msrp_chunk_remove_header` functions work only
/// while the caller holds the only reference (after `msrp_chunk_new_*`,
/// `msrp_chunk_parse` or `msrp_chunk_copy`, before cloning it or passing it
/// on) and fail with `MSRP_RESULT_INVALID_STATE` otherwise.
///
/// Thread-safety: reading a chunk, cloning and freeing references are safe
/// from several threads at once; changing it is for its single holder.
pub struct msrp_chunk_t {
    _private: [u8; 0],
}

impl Castable for msrp_chunk_t {
    type Ownership = OwnershipArc;
    type RustType = Chunk;
}

/// A size or Byte-Range value that is not known (`*` on the wire).
pub const MSRP_SIZE_UNKNOWN: u64 = u64::MAX;

/// A Byte-Range (RFC 4975 §7.1.1): 1-based inclusive `start`-`end` of the
/// message's `total` octets. `end` and `total` are `MSRP_SIZE_UNKNOWN` for `*`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct msrp_byte_range_t {
    pub start: u64,
    pub end: u64,
    pub total: u64,
}

impl From<crate::protocol::ByteRange> for msrp_byte_range_t {
    fn from(r: crate::protocol::ByteRange) -> Self {
        msrp_byte_range_t {
            start: r.start,
            end: r.end.unwrap_or(MSRP_SIZE_UNKNOWN),
            total: r.total.unwrap_or(MSRP_SIZE_UNKNOWN),
        }
    }
}

/// A header given by name and value, both NUL-terminated text, borrowed for
/// the call that receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct msrp_header_t {
    pub name: *const c_char,
    pub value: *const c_char,
}

/// Parses C header pairs (`Header::parse` rules: known names are typed and
/// checked, others kept verbatim).
pub(crate) fn parse_headers(headers: &[msrp_header_t]) -> Result<Vec<Header>> {
    headers
        .iter()
        .map(|h| {
            parse_header(
                str_arg(h.name, "header name")?,
                str_arg(h.value, "header value")?,
            )
        })
        .collect()
}

fn parse_header(name: &str, value: &str) -> Result<Header> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("invalid header name {name:?}"),
        );
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("the value of header {name} contains a line break"),
        );
    }
    Header::parse(name, value).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))
}

/// Hands a chunk to C as a new reference.
pub(crate) fn chunk_into_ptr(chunk: Chunk) -> *mut msrp_chunk_t {
    arc_into_ptr(Arc::new(chunk))
}

/// Borrows a chunk for the call.
pub(crate) fn chunk_ref<'a>(chunk: *const msrp_chunk_t) -> Result<&'a Chunk> {
    try_ref(chunk)
}

/// Takes a chunk out of a reference C gave away ("consumed"): the value
/// itself when that was the only reference, else a copy.
pub(crate) fn chunk_take(chunk: *mut msrp_chunk_t) -> Result<Chunk> {
    // SAFETY: the caller's reference is consumed, as documented by every
    // function that calls this.
    match unsafe { arc_from_ptr(chunk) } {
        Some(arc) => Ok(Arc::try_unwrap(arc).unwrap_or_else(|shared| (*shared).clone())),
        None => fail(MSRP_RESULT_NULL_POINTER, "chunk is NULL"),
    }
}

/// The chunk for mutation, if the caller holds the only reference.
fn chunk_mut<'a>(chunk: *mut msrp_chunk_t) -> Result<&'a mut Chunk> {
    if chunk.is_null() {
        return fail(MSRP_RESULT_NULL_POINTER, "chunk is NULL");
    }
    // SAFETY: non-NULL chunk pointers come from arc_into_ptr; we rebuild the
    // Arc without taking the caller's reference (ManuallyDrop), and hand out
    // a mutable borrow only when that reference is the only one.
    let mut arc =
        std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(chunk.cast_const().cast::<Chunk>()) });
    match Arc::get_mut(&mut arc) {
        // SAFETY: unique; the pointer stays valid as long as the caller's reference.
        Some(c) => Ok(unsafe { &mut *(c as *mut Chunk) }),
        None => fail(MSRP_RESULT_INVALID_STATE, "the chunk is shared (cloned or handed to the library) and can no longer be changed; copy it with msrp_chunk_copy"),
    }
}

/// Makes a new request chunk with no headers and no payload.
///
/// `method` is the method name (`"SEND"`, `"REPORT"`, ...; NULL means SEND);
/// `transaction_id` NULL picks a random one. Usually
/// `msrp_transport_make_chunk` is handier: it fills in the paths. On success
/// writes a new chunk to `*out` (free with `msrp_chunk_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_new_request(
    method: *const c_char,
    transaction_id: *const c_char,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        let method = match super::handle::opt_str_arg(method, "method")? {
            None => Method::Send,
            Some(m) => Method::parse(m).filter(Method::is_grammatical).ok_or_else(|| Error::new(MSRP_RESULT_INVALID_ARGUMENT, format!("invalid method {m:?}")))?,
        };
        let tid = transaction_id_arg(transaction_id)?;
        out_chunk.write(chunk_into_ptr(Chunk::request(tid, method)));
        Ok(())
    }
}

/// Makes a new response chunk (`code` 100-999, `comment` may be NULL) with no
/// headers; `transaction_id` NULL picks a random one. Writes it to `*out`
/// (free with `msrp_chunk_free`). `msrp_transport_write_response` builds and
/// sends a proper response to a request in one call.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_new_response(
    code: u16,
    comment: *const c_char,
    transaction_id: *const c_char,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        if !(100..=999).contains(&code) {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("status code {code} is not three digits"));
        }
        let comment = super::handle::opt_str_arg(comment, "comment")?.map(str::to_string);
        let tid = transaction_id_arg(transaction_id)?;
        out_chunk.write(chunk_into_ptr(Chunk::response(tid, code, comment)));
        Ok(())
    }
}

fn transaction_id_arg(tid: *const c_char) -> Result<String> {
    match super::handle::opt_str_arg(tid, "transaction_id")? {
        None => Ok(ids::transaction_id()),
        Some(t) if crate::protocol::headers::is_ident(t) => Ok(t.to_string()),
        Some(t) => fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("transaction id {t:?} is not an RFC 4975 ident (4-32 characters)"),
        ),
    }
}

/// Parses one whole chunk from `len` bytes at `data` (its wire form, as
/// `msrp_chunk_encode` writes it). Bytes after the chunk are ignored.
/// `MSRP_RESULT_PARSE` when it is malformed or incomplete. On success writes a
/// new chunk to `*out` (free with `msrp_chunk_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_parse(
    data: *const u8,
    len: usize,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        let mut buf = BytesMut::from(slice_arg(data, len, "data")?);
        let mut reader = ChunkReader::new(Limits::default());
        match reader.read_chunk(&mut buf, None) {
            Ok(Some(chunk)) => {
                out_chunk.write(chunk_into_ptr(chunk));
                Ok(())
            }
            Ok(None) => fail(MSRP_RESULT_PARSE, "incomplete chunk: no end-line"),
            Err(e) => fail(MSRP_RESULT_PARSE, e.to_string()),
        }
    }
}

/// Encodes the chunk's wire form into `buf` (`len` bytes). Always writes the
/// size needed to `*needed` when it is not NULL; fails with
/// `MSRP_RESULT_BUFFER_TOO_SMALL` (writing nothing to `buf`) when `len` is
/// smaller. `buf` may be NULL with `len` 0 to ask for the size. The output is
/// not NUL-terminated (payloads may contain NUL).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_encode(
    chunk: *const msrp_chunk_t,
    buf: *mut u8,
    len: usize,
    needed: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let wire = chunk_ref(chunk)?.encode();
        if let Some(n) = out_opt(needed) {
            n.write(wire.len());
        }
        if wire.len() > len {
            return fail(MSRP_RESULT_BUFFER_TOO_SMALL, format!("the chunk needs {} bytes, the buffer has {len}", wire.len()));
        }
        if buf.is_null() {
            return fail(MSRP_RESULT_NULL_POINTER, "buf is NULL");
        }
        // SAFETY: the caller promises `len` writable bytes at `buf`.
        unsafe { std::ptr::copy_nonoverlapping(wire.as_ptr(), buf, wire.len()) };
        Ok(())
    }
}

/// Adds a reference to the chunk and returns it (the same pointer); NULL for
/// NULL. Each reference is freed with `msrp_chunk_free`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_clone(chunk: *const msrp_chunk_t) -> *mut msrp_chunk_t {
    ffi_boundary! { arc_clone_from_ptr(chunk).map_or(std::ptr::null_mut(), arc_into_ptr) }
}

/// Makes a deep copy of the chunk that the caller alone holds (so it can be
/// changed) and writes it to `*out` (free with `msrp_chunk_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_copy(
    chunk: *const msrp_chunk_t,
    out_chunk: *mut *mut msrp_chunk_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_chunk = out(out_chunk, "out")?;
        let copy = chunk_ref(chunk)?.clone();
        out_chunk.write(chunk_into_ptr(copy));
        Ok(())
    }
}

/// Drops one reference to the chunk. NULL is a no-op. Thread-safe; callable
/// inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_free(chunk: *mut msrp_chunk_t) {
    ffi_boundary! {
        // SAFETY: the caller gives back one reference it holds.
        drop(unsafe { arc_from_ptr(chunk) });
    }
}

/// Whether the chunk is a request (false for a response or NULL).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_is_request(chunk: *const msrp_chunk_t) -> bool {
    ffi_boundary! { chunk_ref(chunk).is_ok_and(Chunk::is_request) }
}

/// Writes the transaction id to `*out` (free with `msrp_string_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_transaction_id(
    chunk: *const msrp_chunk_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        out_text.write(string_into_ptr(chunk_ref(chunk)?.transaction_id.as_str())?);
        Ok(())
    }
}

/// Writes a request's method (`"SEND"`, ...) to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` for a response.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_method(
    chunk: *const msrp_chunk_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        match chunk_ref(chunk)?.method() {
            Some(m) => {
                out_text.write(string_into_ptr(m.as_str())?);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, "a response has no method"),
        }
    }
}

/// Writes a response's status code to `*code` and its comment to `*comment`
/// (when `comment` is not NULL: a string to free with `msrp_string_free`, or
/// NULL when the response has none). `MSRP_RESULT_NOT_FOUND` for a request.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_response_code(
    chunk: *const msrp_chunk_t,
    code: *mut u16,
    comment: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let code = out(code, "code")?;
        let c = chunk_ref(chunk)?;
        let Some(value) = c.code() else { return fail(MSRP_RESULT_NOT_FOUND, "a request has no status code") };
        let text = c.comment().map(string_into_ptr).transpose()?;
        code.write(value);
        match out_opt(comment) {
            Some(o) => o.write(text.unwrap_or(std::ptr::null_mut())),
            None => super::handle::msrp_string_free(text.unwrap_or(std::ptr::null_mut())),
        }
        Ok(())
    }
}

/// Writes the encoded value of the first header called `name` (any case) to
/// `*out` (free with `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when the
/// chunk has none. Works for every header, e.g. "Message-ID",
/// "Content-Type", "To-Path", "Byte-Range", "Status", extension headers.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_header(
    chunk: *const msrp_chunk_t,
    name: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let name = str_arg(name, "name")?;
        match chunk_ref(chunk)?.header(name) {
            Some(h) => {
                out_text.write(string_into_ptr(h.encode_value())?);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, format!("no {name} header")),
        }
    }
}

/// The number of headers of the chunk (0 for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_header_count(chunk: *const msrp_chunk_t) -> usize {
    ffi_boundary! { chunk_ref(chunk).map_or(0, |c| c.headers.len()) }
}

/// Writes the name and encoded value of header number `index` (0-based, in
/// the order received or added) to `*name` and `*value` (each to free with
/// `msrp_string_free`; either pointer may be NULL when not wanted).
/// `MSRP_RESULT_NOT_FOUND` when `index` is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_header_at(
    chunk: *const msrp_chunk_t,
    index: usize,
    name: *mut *mut c_char,
    value: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let c = chunk_ref(chunk)?;
        let Some(h) = c.headers.get(index) else {
            return fail(MSRP_RESULT_NOT_FOUND, format!("header index {index} is out of range ({} headers)", c.headers.len()));
        };
        super::handle::name_value_out(name, value, h.name(), h.encode_value())
    }
}

/// Writes the chunk's Byte-Range to `*out`: the header's value, or the one
/// implied when it is absent (from 1, end and total unknown).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_byte_range(
    chunk: *const msrp_chunk_t,
    out_range: *mut msrp_byte_range_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_range = out(out_range, "out")?;
        out_range.write(chunk_ref(chunk)?.byte_range().into());
        Ok(())
    }
}

/// The continuation flag of the chunk's end-line: `'$'` (last chunk of the
/// message), `'+'` (more follow) or `'#'` (aborted); 0 for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_continuation(chunk: *const msrp_chunk_t) -> c_char {
    ffi_boundary! { chunk_ref(chunk).map_or(0, |c| c.continuation.as_byte() as c_char) }
}

/// For a "virtual" chunk from `msrp_transport_read_chunk` with a size hint,
/// its 1-based segment number; 0 for a whole chunk (and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_segment(chunk: *const msrp_chunk_t) -> u32 {
    ffi_boundary! { chunk_ref(chunk).map_or(0, |c| c.segment) }
}

/// Points `*data` at the chunk's payload and writes its length to `*len`.
/// The bytes are borrowed from the chunk: valid while the caller holds a
/// reference to it. The payload may contain NUL bytes and is not
/// NUL-terminated; `*data` may be NULL when `*len` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_data(
    chunk: *const msrp_chunk_t,
    data: *mut *const u8,
    len: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let data = out(data, "data")?;
        let len = out(len, "len")?;
        let c = chunk_ref(chunk)?;
        data.write(if c.data.is_empty() { std::ptr::null() } else { c.data.as_ptr() });
        len.write(c.data.len());
        Ok(())
    }
}

/// `Failure-Report` values (RFC 4975 §7.1.4).
pub type msrp_failure_report_t = u32;
/// `Failure-Report: yes` (also what an absent header means).
pub const MSRP_FAILURE_REPORT_YES: msrp_failure_report_t = 0;
/// `Failure-Report: no`.
pub const MSRP_FAILURE_REPORT_NO: msrp_failure_report_t = 1;
/// `Failure-Report: partial`.
pub const MSRP_FAILURE_REPORT_PARTIAL: msrp_failure_report_t = 2;

pub(crate) fn failure_report_arg(value: msrp_failure_report_t) -> Result<FailureReport> {
    match value {
        MSRP_FAILURE_REPORT_YES => Ok(FailureReport::Yes),
        MSRP_FAILURE_REPORT_NO => Ok(FailureReport::No),
        MSRP_FAILURE_REPORT_PARTIAL => Ok(FailureReport::Partial),
        other => fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("unknown Failure-Report value {other}"),
        ),
    }
}

/// The chunk's Failure-Report, explicit or implied (`MSRP_FAILURE_REPORT_YES`
/// when absent, and for NULL).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_failure_report(chunk: *const msrp_chunk_t) -> msrp_failure_report_t {
    ffi_boundary! {
        match chunk_ref(chunk).map(Chunk::failure_report) {
            Ok(FailureReport::No) => MSRP_FAILURE_REPORT_NO,
            Ok(FailureReport::Partial) => MSRP_FAILURE_REPORT_PARTIAL,
            _ => MSRP_FAILURE_REPORT_YES,
        }
    }
}

/// Whether the chunk asks for a success REPORT (`Success-Report: yes`);
/// false when absent and for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_success_report(chunk: *const msrp_chunk_t) -> bool {
    ffi_boundary! { chunk_ref(chunk).is_ok_and(|c| c.success_report() == SuccessReport::Yes) }
}

/// Checks what RFC 4975 §7.1 requires of every chunk (To-Path and From-Path
/// once, single headers not repeated, Content-Type with a body, Byte-Range
/// matching the payload); `MSRP_RESULT_PARSE` with the reason otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_verify_headers(chunk: *const msrp_chunk_t) -> msrp_result_t {
    ffi_boundary! { result:
        chunk_ref(chunk)?.verify_headers().map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))
    }
}

/// Adds a header, parsed from its name and value text (known headers are
/// checked: `MSRP_RESULT_PARSE` for a malformed value). A header of the same
/// name is replaced, except extension headers, which are appended.
/// Only on a chunk the caller alone holds (`MSRP_RESULT_INVALID_STATE`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_add_header(
    chunk: *mut msrp_chunk_t,
    name: *const c_char,
    value: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let header = parse_header(str_arg(name, "name")?, str_arg(value, "value")?)?;
        chunk_mut(chunk)?.add_header(header);
        Ok(())
    }
}

/// Removes every header called `name` (any case). Only on a chunk the caller
/// alone holds.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_remove_header(
    chunk: *mut msrp_chunk_t,
    name: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let name = str_arg(name, "name")?;
        chunk_mut(chunk)?.remove_header(name);
        Ok(())
    }
}

/// Replaces the payload with a copy of `len` bytes at `data` (NULL allowed
/// with 0). Byte-Range and Content-Type are not changed. Only on a chunk the
/// caller alone holds; invalidates pointers from `msrp_chunk_data`.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_set_data(
    chunk: *mut msrp_chunk_t,
    data: *const u8,
    len: usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let bytes = Bytes::copy_from_slice(slice_arg(data, len, "data")?);
        let c = chunk_mut(chunk)?;
        c.data = bytes;
        c.ensure_safe_transaction_id();
        Ok(())
    }
}

/// Sets the continuation flag: `'$'`, `'+'` or `'#'`. Only on a chunk the
/// caller alone holds.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_chunk_set_continuation(
    chunk: *mut msrp_chunk_t,
    flag: c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let Some(flag) = Continuation::from_byte(flag as u8) else {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, "the continuation flag must be '$', '+' or '#'");
        };
        chunk_mut(chunk)?.continuation = flag;
        Ok(())
    }
}
