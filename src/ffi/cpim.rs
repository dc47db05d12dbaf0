//! `msrp_cpim_t` and `msrp_cpim_builder_t`: `message/cpim` (RFC 3862)
//! parsed into a handle with accessors, and built into bytes. The parsing
//! is liberal (see the `content::cpim` module): case-insensitive names,
//! bare-LF line ends, extra blank lines, no From/To.

use std::ffi::c_char;

use super::handle::{
    box_from_ptr, box_into_ptr, found, opt_str_arg, out, out_opt, slice_arg, str_arg, try_mut,
    try_ref, Castable, OwnershipBox,
};
use super::result::{
    fail, msrp_result_t, Error, Result, MSRP_RESULT_BUFFER_TOO_SMALL, MSRP_RESULT_INVALID_ARGUMENT,
    MSRP_RESULT_NOT_FOUND, MSRP_RESULT_NULL_POINTER, MSRP_RESULT_PARSE,
};
use crate::content::{Cpim, CpimBuilder, CpimError, DateTime};

/// A parsed `message/cpim` payload: its message headers (From, To,
/// DateTime, NS, `imdn.Message-ID`, ...), its inner MIME headers and body.
///
/// Made by `msrp_cpim_parse` (which copies the payload), freed by
/// `msrp_cpim_free`. Strings it gives out are copies (free each with
/// `msrp_string_free`); the body pointer of `msrp_cpim_body` is borrowed
/// from the handle.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_cpim_t {
    _private: [u8; 0],
}

/// The payload; parsed again by each accessor (cheap: nothing is copied).
pub(crate) struct CpimHandle {
    data: Vec<u8>,
}

impl CpimHandle {
    pub(crate) fn parsed(&self) -> Cpim<'_> {
        Cpim::parse(&self.data).expect("checked by msrp_cpim_parse")
    }
}

impl Castable for msrp_cpim_t {
    type Ownership = OwnershipBox;
    type RustType = CpimHandle;
}

/// Builds a `message/cpim` payload: message headers in the order added, then
/// the inner Content-Type, other inner headers, Content-Length and the body.
///
/// Made by `msrp_cpim_builder_new` (or `msrp_imdn_notification_new`),
/// freed by `msrp_cpim_builder_free`.
///
/// Thread-safety: not while being changed (use it from one thread at a time).
pub struct msrp_cpim_builder_t {
    _private: [u8; 0],
}

impl Castable for msrp_cpim_builder_t {
    type Ownership = OwnershipBox;
    type RustType = CpimBuilder;
}

pub(crate) fn cpim_error(e: CpimError) -> Error {
    match e {
        CpimError::InvalidArgument(t) => Error::new(MSRP_RESULT_INVALID_ARGUMENT, t),
        other => Error::new(MSRP_RESULT_PARSE, other.to_string()),
    }
}

/// Copies `wire` into `buf` (`len` bytes) as `msrp_chunk_encode` does:
/// `*needed` (when not NULL) always gets the size; too small a buffer gives
/// `MSRP_RESULT_BUFFER_TOO_SMALL` and nothing written.
pub(crate) fn write_bytes(wire: &[u8], buf: *mut u8, len: usize, needed: *mut usize) -> Result<()> {
    if let Some(n) = out_opt(needed) {
        n.write(wire.len());
    }
    if wire.len() > len {
        return fail(
            MSRP_RESULT_BUFFER_TOO_SMALL,
            format!("{} bytes needed, the buffer has {len}", wire.len()),
        );
    }
    if buf.is_null() {
        return fail(MSRP_RESULT_NULL_POINTER, "buf is NULL");
    }
    // SAFETY: the caller promises `len` writable bytes at `buf`.
    unsafe { std::ptr::copy_nonoverlapping(wire.as_ptr(), buf, wire.len()) };
    Ok(())
}

/// Parses `len` bytes at `data` as a whole `message/cpim` payload and
/// writes a new handle to `*out` (free with `msrp_cpim_free`). The payload is
/// copied. `MSRP_RESULT_PARSE` when it is not CPIM (a header line without a
/// colon, not UTF-8, or no blank line after the headers).
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_parse(
    data: *const u8,
    len: usize,
    out_cpim: *mut *mut msrp_cpim_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_cpim = out(out_cpim, "out")?;
        let data = slice_arg(data, len, "data")?;
        Cpim::parse(data).map_err(cpim_error)?;
        out_cpim.write(box_into_ptr(CpimHandle { data: data.to_vec() }));
        Ok(())
    }
}

/// Parses the start of a `message/cpim` payload, e.g. the first piece of a
/// large message given to `on_message_data`: `MSRP_RESULT_OK` and a new
/// handle in `*out` (free with `msrp_cpim_free`) once the message headers
/// and the inner MIME headers are complete — the body is then what is
/// there, and `msrp_cpim_body`'s offset says where in `data` it starts, so
/// later pieces go straight to the application's store; `MSRP_RESULT_PARSE`
/// with the last error "CPIM headers not terminated by a blank line" before
/// (gather more and call again). The bytes are copied.
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_parse_head(
    data: *const u8,
    len: usize,
    out_cpim: *mut *mut msrp_cpim_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_cpim = out(out_cpim, "out")?;
        let data = slice_arg(data, len, "data")?;
        Cpim::parse_head(data).map_err(cpim_error)?;
        out_cpim.write(box_into_ptr(CpimHandle { data: data.to_vec() }));
        Ok(())
    }
}

/// Frees a parsed CPIM message. NULL is a no-op.
///
/// Threads: not while another thread still uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_free(cpim: *mut msrp_cpim_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a handle from msrp_cpim_parse, once.
        drop(unsafe { box_from_ptr(cpim) });
    }
}

/// Writes the value of the first message header called `name` (any case,
/// with its prefix as written: "From", "DateTime", "imdn.Message-ID") to
/// `*out` (free with `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when there
/// is none. The value is as received (RFC 3862 §2.3 escapes not decoded).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_header(
    cpim: *const msrp_cpim_t,
    name: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let name = str_arg(name, "name")?;
        let m = try_ref(cpim)?.parsed();
        found(m.header(name).map(|h| h.value), name, out_text)
    }
}

/// Writes the value of the first message header `name` in the namespace
/// `ns_uri` (e.g. "urn:ietf:params:imdn" and "Message-ID"), whatever
/// prefix the message declared for it with NS, to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when there is none. For the
/// IMDN namespace an undeclared `imdn.` prefix counts too.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_header_ns(
    cpim: *const msrp_cpim_t,
    ns_uri: *const c_char,
    name: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let ns = str_arg(ns_uri, "ns_uri")?;
        let name = str_arg(name, "name")?;
        let m = try_ref(cpim)?.parsed();
        found(m.header_ns(ns, name).map(|h| h.value), name, out_text)
    }
}

/// The number of message headers (0 for NULL).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_header_count(cpim: *const msrp_cpim_t) -> usize {
    ffi_boundary! { try_ref(cpim).map_or(0, |c| c.parsed().headers().len()) }
}

/// Writes the name (as written, with its prefix) and value of message header
/// number `index` (0-based, in order) to `*name` and `*value` (each to free
/// with `msrp_string_free`; either may be NULL when not wanted).
/// `MSRP_RESULT_NOT_FOUND` when `index` is out of range.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_header_at(
    cpim: *const msrp_cpim_t,
    index: usize,
    name: *mut *mut c_char,
    value: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(cpim)?.parsed();
        let Some(h) = m.headers().get(index) else {
            return fail(MSRP_RESULT_NOT_FOUND, format!("header index {index} is out of range"));
        };
        super::handle::name_value_out(name, value, h.full_name, h.value)
    }
}

/// Writes the address of the From header (inside `<>`, e.g.
/// "sip:alice@example.org") to `*out` (free with `msrp_string_free`);
/// `MSRP_RESULT_NOT_FOUND` without From (Doubango sends none).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_from_uri(
    cpim: *const msrp_cpim_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(cpim)?.parsed();
        found(m.from_uri(), "From", out_text)
    }
}

/// Writes the address of the first To header to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` without To.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_to_uri(
    cpim: *const msrp_cpim_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(cpim)?.parsed();
        found(m.to_uri(), "To", out_text)
    }
}

/// Writes the `imdn.Message-ID` (RFC 5438 §6.3) to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` without one.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_imdn_message_id(
    cpim: *const msrp_cpim_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(cpim)?.parsed();
        found(m.imdn_message_id(), "imdn.Message-ID", out_text)
    }
}

/// Writes the inner Content-Type as written (with parameters, e.g.
/// `text/plain; charset="utf8"`) to `*out` (free with `msrp_string_free`);
/// `MSRP_RESULT_NOT_FOUND` when the inner part has none.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_content_type(
    cpim: *const msrp_cpim_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(cpim)?.parsed();
        found(m.content_type(), "inner Content-Type", out_text)
    }
}

/// Writes the value of the first inner MIME header `name` (any case, e.g.
/// "Content-Disposition") to `*out` (free with `msrp_string_free`);
/// `MSRP_RESULT_NOT_FOUND` when there is none.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_content_header(
    cpim: *const msrp_cpim_t,
    name: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let name = str_arg(name, "name")?;
        let m = try_ref(cpim)?.parsed();
        found(m.content_header(name), name, out_text)
    }
}

/// Writes the inner body to `*data` and `*len`: borrowed from the handle
/// (valid until `msrp_cpim_free`), not NUL-terminated, `*data` NULL when
/// `*len` is 0. An inner Content-Length shorter than what follows the
/// headers limits it. `*offset` (may be NULL) gets where the body starts in
/// the payload given to `msrp_cpim_parse`, for callers that keep their own
/// buffer.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_body(
    cpim: *const msrp_cpim_t,
    data: *mut *const u8,
    len: *mut usize,
    offset: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let data = out(data, "data")?;
        let len = out(len, "len")?;
        let m = try_ref(cpim)?.parsed();
        let body = m.body();
        data.write(if body.is_empty() { std::ptr::null() } else { body.as_ptr() });
        len.write(body.len());
        if let Some(o) = out_opt(offset) {
            o.write(m.body_offset());
        }
        Ok(())
    }
}

/// Makes an empty builder and writes it to `*out` (free with
/// `msrp_cpim_builder_free`).
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_new(
    out_builder: *mut *mut msrp_cpim_builder_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_builder = out(out_builder, "out")?;
        out_builder.write(box_into_ptr(CpimBuilder::new()));
        Ok(())
    }
}

/// Frees a builder. NULL is a no-op.
///
/// Threads: not while another thread still uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_free(builder: *mut msrp_cpim_builder_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a builder from this library, once.
        drop(unsafe { box_from_ptr(builder) });
    }
}

/// Applies `f` to the builder; on error the builder is unchanged.
fn change(
    builder: *mut msrp_cpim_builder_t,
    f: impl FnOnce(CpimBuilder) -> std::result::Result<CpimBuilder, CpimError>,
) -> Result<()> {
    let b = try_mut(builder)?;
    *b = f(b.clone()).map_err(cpim_error)?;
    Ok(())
}

/// Adds the message header `name: value` (`name` checked against RFC 3862
/// §3.1, optionally with a prefix: "imdn.Message-ID"; control characters in
/// `value` are escaped as §2.3 says). `MSRP_RESULT_INVALID_ARGUMENT` for a
/// bad name.
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_add_header(
    builder: *mut msrp_cpim_builder_t,
    name: *const c_char,
    value: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let name = str_arg(name, "name")?;
        let value = str_arg(value, "value")?;
        change(builder, |b| b.header(name, value))
    }
}

/// Adds an address header `header` ("From", "To" or "cc") written as
/// `display_name <uri>` (`display_name` may be NULL; it is quoted when not
/// plain words). `MSRP_RESULT_INVALID_ARGUMENT` for a URI with spaces or
/// angle brackets.
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_add_address(
    builder: *mut msrp_cpim_builder_t,
    header: *const c_char,
    display_name: *const c_char,
    uri: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let header = str_arg(header, "header")?;
        let name = opt_str_arg(display_name, "display_name")?;
        let uri = str_arg(uri, "uri")?;
        change(builder, |b| {
            if header.eq_ignore_ascii_case("from") {
                b.from(name, uri)
            } else if header.eq_ignore_ascii_case("to") {
                b.to(name, uri)
            } else {
                let v = CpimBuilder::new().from(name, uri)?.build();
                let m = Cpim::parse(&v).expect("built");
                let value = m.header("From").expect("built").value.to_string();
                b.header(header, &value)
            }
        })
    }
}

/// Adds `NS: prefix <uri>` (`prefix` "" or NULL: the default namespace),
/// e.g. "imdn" and "urn:ietf:params:imdn".
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_add_namespace(
    builder: *mut msrp_cpim_builder_t,
    prefix: *const c_char,
    uri: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let prefix = opt_str_arg(prefix, "prefix")?.unwrap_or("");
        let uri = str_arg(uri, "uri")?;
        change(builder, |b| b.namespace(prefix, uri))
    }
}

/// Adds `DateTime:` with the current time in UTC (RFC 3339).
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_add_datetime_now(
    builder: *mut msrp_cpim_builder_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        change(builder, |b| b.datetime(DateTime::now()))
    }
}

/// Sets the inner Content-Type (e.g. `text/plain;charset=UTF-8`).
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_set_content_type(
    builder: *mut msrp_cpim_builder_t,
    content_type: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let ct = str_arg(content_type, "content_type")?;
        change(builder, |b| b.content_type(ct))
    }
}

/// Adds an inner MIME header (e.g. "Content-Disposition: notification");
/// Content-Type and Content-Length are set by the builder and refused here.
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_add_content_header(
    builder: *mut msrp_cpim_builder_t,
    name: *const c_char,
    value: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let name = str_arg(name, "name")?;
        let value = str_arg(value, "value")?;
        change(builder, |b| b.content_header(name, value))
    }
}

/// Sets the inner body (`len` bytes at `data`, copied; NULL with 0: empty).
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_set_body(
    builder: *mut msrp_cpim_builder_t,
    data: *const u8,
    len: usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let data = slice_arg(data, len, "data")?;
        change(builder, |b| Ok(b.body(data.to_vec())))
    }
}

/// Encodes the payload into `buf` (`len` bytes), as `msrp_chunk_encode`
/// does: `*needed` (may be NULL) always gets the size;
/// `MSRP_RESULT_BUFFER_TOO_SMALL` when `len` is smaller (`buf` may be NULL
/// with `len` 0 to ask). The same builder encodes to the same bytes every
/// time. Not NUL-terminated.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_cpim_builder_encode(
    builder: *const msrp_cpim_builder_t,
    buf: *mut u8,
    len: usize,
    needed: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let wire = try_ref(builder)?.build();
        write_bytes(&wire, buf, len, needed)
    }
}
