//! `msrp_uri_t`: MSRP URIs (RFC 4975 §6): parse, format, fields, compare.

use std::ffi::c_char;

use super::handle::{
    box_from_ptr, box_into_ptr, out, str_arg, string_into_ptr, try_ref, Castable, OwnershipBox,
};
use super::result::{fail, msrp_result_t, Error, Result, MSRP_RESULT_NOT_FOUND, MSRP_RESULT_PARSE};
use crate::protocol::Uri;

/// An MSRP or MSRPS URI, e.g. `msrp://127.0.0.1:2855/jshA7weztas;tcp`.
///
/// Made by `msrp_uri_parse`, freed by `msrp_uri_free`.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_uri_t {
    _private: [u8; 0],
}

impl Castable for msrp_uri_t {
    type Ownership = OwnershipBox;
    type RustType = Uri;
}

/// Parses text as a URI (a path, several URIs, is passed to the functions
/// that take one as a space-separated string).
pub(crate) fn parse_uri(text: &str) -> Result<Uri> {
    Uri::parse(text).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))
}

/// Parses a space-separated path (SDP `a=path` value).
pub(crate) fn parse_path(text: &str) -> Result<Vec<Uri>> {
    Uri::parse_path(text).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))
}

/// Parses one MSRP URI.
///
/// On success writes a new URI to `*out` (free it with `msrp_uri_free`).
/// Fails with `MSRP_RESULT_PARSE` (the last error says which rule of RFC 4975
/// §9 is broken). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_parse(
    text: *const c_char,
    out_uri: *mut *mut msrp_uri_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_uri = out(out_uri, "out")?;
        let uri = parse_uri(str_arg(text, "text")?)?;
        out_uri.write(box_into_ptr(uri));
        Ok(())
    }
}

/// Frees a URI. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_free(uri: *mut msrp_uri_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a URI from msrp_uri_parse, once.
        drop(unsafe { box_from_ptr(uri) });
    }
}

/// Writes the URI's text form to `*out` (free with `msrp_string_free`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_format(
    uri: *const msrp_uri_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        out_text.write(string_into_ptr(try_ref(uri)?.to_string())?);
        Ok(())
    }
}

/// Whether the URI is `msrps` (the hop is reached over TLS). False for NULL.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_is_secure(uri: *const msrp_uri_t) -> bool {
    ffi_boundary! { try_ref(uri).is_ok_and(|u| u.secure) }
}

/// Which part of a URI `msrp_uri_field` reads.
pub type msrp_uri_field_t = u32;
/// The host, as written (IPv6 in brackets).
pub const MSRP_URI_FIELD_HOST: msrp_uri_field_t = 0;
/// The userinfo before `@`.
pub const MSRP_URI_FIELD_USER: msrp_uri_field_t = 1;
/// The session id after the `/`.
pub const MSRP_URI_FIELD_SESSION_ID: msrp_uri_field_t = 2;
/// The transport parameter, lower case (`tcp`).
pub const MSRP_URI_FIELD_TRANSPORT: msrp_uri_field_t = 3;
/// The scheme, `msrp` or `msrps`.
pub const MSRP_URI_FIELD_SCHEME: msrp_uri_field_t = 4;

/// Writes one text field of the URI to `*out` (free with `msrp_string_free`).
///
/// `MSRP_RESULT_NOT_FOUND` when the URI has no such part (no user, no session
/// id); `MSRP_RESULT_INVALID_ARGUMENT` for an unknown field.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_field(
    uri: *const msrp_uri_t,
    field: msrp_uri_field_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let u = try_ref(uri)?;
        let value = match field {
            MSRP_URI_FIELD_HOST => Some(u.host.to_string()),
            MSRP_URI_FIELD_USER => u.user.clone(),
            MSRP_URI_FIELD_SESSION_ID => u.session_id.clone(),
            MSRP_URI_FIELD_TRANSPORT => Some(u.transport.clone()),
            MSRP_URI_FIELD_SCHEME => Some(u.scheme().to_string()),
            other => return fail(super::result::MSRP_RESULT_INVALID_ARGUMENT, format!("unknown URI field {other}")),
        };
        match value {
            Some(v) => {
                out_text.write(string_into_ptr(v)?);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, format!("the URI {u} has no such part")),
        }
    }
}

/// Writes the URI's port to `*out`; `MSRP_RESULT_NOT_FOUND` when it has none
/// (MSRP has no default port).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_port(uri: *const msrp_uri_t, out_port: *mut u16) -> msrp_result_t {
    ffi_boundary! { result:
        let out_port = out(out_port, "out")?;
        let u = try_ref(uri)?;
        match u.port {
            Some(p) => {
                out_port.write(p);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, format!("the URI {u} has no port")),
        }
    }
}

/// Compares two URIs by the rules of RFC 4975 §6.1: scheme, host (case-
/// insensitive; IP addresses by value), port, session id (case-sensitive)
/// and transport must match; userinfo and other parameters are ignored.
/// False when either is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_uri_equal(a: *const msrp_uri_t, b: *const msrp_uri_t) -> bool {
    ffi_boundary! {
        match (try_ref(a), try_ref(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}
