//! `msrp_sdp_*`: the MSRP media description of SDP for C callers — parse
//! and read one (`msrp_sdp_media_t`), build the local offer or answer text
//! from a prepared path and `msrp_sdp_options_t`, decide from the final
//! pair what to do (`msrp_sdp_negotiation_t`), and complete the connector
//! in the role the pair decided (`msrp_sdp_connector_complete`).

use std::ffi::c_char;
use std::io::Read;

use super::connector::{msrp_connector_t, ConnectorHandle};
use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, str_arg, string_into_ptr, try_mut, try_ref,
    Castable, OwnershipBox,
};
use super::result::{
    fail, msrp_result_t, Error, Result, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_IO,
    MSRP_RESULT_NOT_FOUND, MSRP_RESULT_PARSE, MSRP_RESULT_PROTOCOL, MSRP_RESULT_REJECTED,
    MSRP_RESULT_TLS,
};
use super::runtime::{block_on, check_may_block, duration_from_ms};
use super::transport::{msrp_transport_t, TransportHandle};
use super::uri::parse_path;
use crate::protocol::{ids, Uri};
use crate::sdp::file::Sha1;
use crate::sdp::{
    build_answer, build_offer, negotiate, refuse, Direction, FileAttributes, FileSelector,
    LocalSettings, MediaDescription, Negotiated, Role, SdpError, SdpFingerprint, Setup,
};
use crate::transport::tls::Fingerprint;

fn parse_error(e: SdpError) -> Error {
    Error::new(MSRP_RESULT_PARSE, e.to_string())
}

fn argument_error(e: SdpError) -> Error {
    Error::new(MSRP_RESULT_INVALID_ARGUMENT, e.to_string())
}

/// One MSRP media description (`m=message` and its `c=`/`a=` lines), read
/// from a peer's SDP by `msrp_sdp_media_parse`; freed by
/// `msrp_sdp_media_free`.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_sdp_media_t {
    _private: [u8; 0],
}

impl Castable for msrp_sdp_media_t {
    type Ownership = OwnershipBox;
    type RustType = MediaDescription;
}

/// What this endpoint writes in its offer or answer besides the path: made
/// by `msrp_sdp_options_new`, changed by the `msrp_sdp_options_set_*`
/// functions, freed by `msrp_sdp_options_free`. Builders copy what they use.
///
/// Thread-safety: not while being changed (set it up from one thread);
/// reading it from several builders at once is safe.
pub struct msrp_sdp_options_t {
    _private: [u8; 0],
}

impl Castable for msrp_sdp_options_t {
    type Ownership = OwnershipBox;
    type RustType = LocalSettings;
}

/// What a final offer/answer pair decided, seen from this endpoint: made by
/// `msrp_sdp_negotiate`, freed by `msrp_sdp_negotiation_free`.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_sdp_negotiation_t {
    _private: [u8; 0],
}

impl Castable for msrp_sdp_negotiation_t {
    type Ownership = OwnershipBox;
    type RustType = Negotiated;
}

/// The value of `a=setup` (RFC 4145, RFC 6135 §4.2).
pub type msrp_sdp_setup_t = u32;
/// No `a=setup` (an RFC 4975 peer: the offerer connects). As an option:
/// the default (`actpass` in an offer; in an answer `active` to `actpass`,
/// else what the offer leaves).
pub const MSRP_SDP_SETUP_NONE: msrp_sdp_setup_t = 0;
/// `active`: this end connects.
pub const MSRP_SDP_SETUP_ACTIVE: msrp_sdp_setup_t = 1;
/// `passive`: this end listens.
pub const MSRP_SDP_SETUP_PASSIVE: msrp_sdp_setup_t = 2;
/// `actpass`: either (offers only).
pub const MSRP_SDP_SETUP_ACTPASS: msrp_sdp_setup_t = 3;
/// `holdconn`: read as absent (RFC 6135 §4.2.1); never written.
pub const MSRP_SDP_SETUP_HOLDCONN: msrp_sdp_setup_t = 4;

fn setup_to_c(s: Option<Setup>) -> msrp_sdp_setup_t {
    match s {
        None => MSRP_SDP_SETUP_NONE,
        Some(Setup::Active) => MSRP_SDP_SETUP_ACTIVE,
        Some(Setup::Passive) => MSRP_SDP_SETUP_PASSIVE,
        Some(Setup::Actpass) => MSRP_SDP_SETUP_ACTPASS,
        Some(Setup::Holdconn) => MSRP_SDP_SETUP_HOLDCONN,
    }
}

fn setup_from_c(s: msrp_sdp_setup_t) -> Result<Option<Setup>> {
    Ok(match s {
        MSRP_SDP_SETUP_NONE => None,
        MSRP_SDP_SETUP_ACTIVE => Some(Setup::Active),
        MSRP_SDP_SETUP_PASSIVE => Some(Setup::Passive),
        MSRP_SDP_SETUP_ACTPASS => Some(Setup::Actpass),
        MSRP_SDP_SETUP_HOLDCONN => Some(Setup::Holdconn),
        other => {
            return fail(
                MSRP_RESULT_INVALID_ARGUMENT,
                format!("unknown msrp_sdp_setup_t {other}"),
            )
        }
    })
}

/// The media direction (RFC 3264 §5.1).
pub type msrp_sdp_direction_t = u32;
/// `sendrecv` (also: no direction attribute).
pub const MSRP_SDP_DIRECTION_SENDRECV: msrp_sdp_direction_t = 0;
/// `sendonly`.
pub const MSRP_SDP_DIRECTION_SENDONLY: msrp_sdp_direction_t = 1;
/// `recvonly`.
pub const MSRP_SDP_DIRECTION_RECVONLY: msrp_sdp_direction_t = 2;
/// `inactive`.
pub const MSRP_SDP_DIRECTION_INACTIVE: msrp_sdp_direction_t = 3;

fn direction_to_c(d: Direction) -> msrp_sdp_direction_t {
    match d {
        Direction::SendRecv => MSRP_SDP_DIRECTION_SENDRECV,
        Direction::SendOnly => MSRP_SDP_DIRECTION_SENDONLY,
        Direction::RecvOnly => MSRP_SDP_DIRECTION_RECVONLY,
        Direction::Inactive => MSRP_SDP_DIRECTION_INACTIVE,
    }
}

/// A text field of a media description or a negotiation.
pub type msrp_sdp_field_t = u32;
/// `a=path` (space-separated URIs). Of a negotiation: the peer's path.
pub const MSRP_SDP_FIELD_PATH: msrp_sdp_field_t = 0;
/// `a=accept-types` (space-separated). Of a negotiation: the peer's.
pub const MSRP_SDP_FIELD_ACCEPT_TYPES: msrp_sdp_field_t = 1;
/// `a=accept-wrapped-types`. Of a negotiation: the peer's.
pub const MSRP_SDP_FIELD_ACCEPT_WRAPPED_TYPES: msrp_sdp_field_t = 2;
/// The first `a=fingerprint`, `<hash> XX:XX:…` (hash name lower case).
/// Of a negotiation: the one the peer's certificate must have (TLS only).
pub const MSRP_SDP_FIELD_FINGERPRINT: msrp_sdp_field_t = 3;
/// The `m=` protocol (`TCP/MSRP`, `TCP/TLS/MSRP`, `TCP/WS/MSRP`, `TCP/WSS/MSRP`).
pub const MSRP_SDP_FIELD_PROTO: msrp_sdp_field_t = 4;
/// The `c=` address.
pub const MSRP_SDP_FIELD_CONNECTION_ADDRESS: msrp_sdp_field_t = 5;
/// `file-selector` `name:` (decoded UTF-8; sanitize before using it as a
/// local file name, RFC 5547 §5). Of a negotiation: the file transferred.
pub const MSRP_SDP_FIELD_FILE_NAME: msrp_sdp_field_t = 6;
/// `file-selector` `type:`.
pub const MSRP_SDP_FIELD_FILE_TYPE: msrp_sdp_field_t = 7;
/// `file-selector` `size:` as decimal text.
pub const MSRP_SDP_FIELD_FILE_SIZE: msrp_sdp_field_t = 8;
/// `file-selector` `hash:`, `<algorithm>:XX:XX:…` (`sha-1:…`; a peer's
/// `sha1:` is read as `sha-1`).
pub const MSRP_SDP_FIELD_FILE_HASH: msrp_sdp_field_t = 9;
/// `a=file-transfer-id`.
pub const MSRP_SDP_FIELD_FILE_TRANSFER_ID: msrp_sdp_field_t = 10;
/// `a=file-disposition`.
pub const MSRP_SDP_FIELD_FILE_DISPOSITION: msrp_sdp_field_t = 11;
/// `a=file-date`, as written in SDP.
pub const MSRP_SDP_FIELD_FILE_DATE: msrp_sdp_field_t = 12;
/// `a=file-icon`.
pub const MSRP_SDP_FIELD_FILE_ICON: msrp_sdp_field_t = 13;
/// `a=file-range`, `<start>-<stop>` or `<start>-*`.
pub const MSRP_SDP_FIELD_FILE_RANGE: msrp_sdp_field_t = 14;

fn file_field(file: Option<&FileAttributes>, field: msrp_sdp_field_t) -> Option<String> {
    let file = file?;
    let sel = file.selector.as_ref();
    match field {
        MSRP_SDP_FIELD_FILE_NAME => sel?.name.clone(),
        MSRP_SDP_FIELD_FILE_TYPE => sel?.media_type.clone(),
        MSRP_SDP_FIELD_FILE_SIZE => sel?.size.map(|s| s.to_string()),
        MSRP_SDP_FIELD_FILE_HASH => sel?.hash.as_ref().map(|h| {
            let s = FileSelector {
                hash: Some(h.clone()),
                ..FileSelector::default()
            }
            .to_string();
            s.trim_start_matches("hash:").to_string()
        }),
        MSRP_SDP_FIELD_FILE_TRANSFER_ID => file.transfer_id.clone(),
        MSRP_SDP_FIELD_FILE_DISPOSITION => file.disposition.clone(),
        MSRP_SDP_FIELD_FILE_DATE => {
            (!file.dates.is_empty()).then(|| crate::sdp::file::format_dates(&file.dates))
        }
        MSRP_SDP_FIELD_FILE_ICON => file.icon.clone(),
        MSRP_SDP_FIELD_FILE_RANGE => file.range.map(|r| r.to_string()),
        _ => None,
    }
}

fn write_field(
    value: Option<String>,
    known: bool,
    field: msrp_sdp_field_t,
    out_text: *mut *mut c_char,
) -> Result<()> {
    let out_text = out(out_text, "out")?;
    if !known {
        return fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("unknown msrp_sdp_field_t {field}"),
        );
    }
    match value {
        Some(v) => {
            out_text.write(string_into_ptr(v)?);
            Ok(())
        }
        None => fail(
            MSRP_RESULT_NOT_FOUND,
            format!("the SDP has no field {field}"),
        ),
    }
}

// ---------------------------------------------------------------------------
// msrp_sdp_media_t
// ---------------------------------------------------------------------------

/// Reads the `index`-th (from 0) `m=message` section of an SDP body (other
/// media are skipped and not counted), or a section alone (text starting
/// with `m=`); LF or CRLF line ends. Session-level `c=`, `a=setup` and
/// `a=fingerprint` apply to the section. Unknown attributes are kept.
///
/// On success writes a new description to `*out` (free with
/// `msrp_sdp_media_free`). `MSRP_RESULT_PARSE` when there is no such
/// section or a line is malformed; the last error names the attribute
/// (`SDP a=path: ...`). A section without `a=path` is an error unless its
/// port is 0 (refused). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_parse(
    text: *const c_char,
    index: usize,
    out_media: *mut *mut msrp_sdp_media_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_media = out(out_media, "out")?;
        let md = MediaDescription::parse_nth(str_arg(text, "text")?, index).map_err(parse_error)?;
        out_media.write(box_into_ptr(md));
        Ok(())
    }
}

/// Frees a media description. NULL is a no-op. Thread-safe (for distinct
/// descriptions).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_free(media: *mut msrp_sdp_media_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a description from this API, once.
        drop(unsafe { box_from_ptr(media) });
    }
}

/// Writes the description as SDP lines (`m=`, `c=`, `a=`), each ended by
/// CRLF, to `*out` (free with `msrp_string_free`). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_format(
    media: *const msrp_sdp_media_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        out_text.write(string_into_ptr(try_ref(media)?.to_string())?);
        Ok(())
    }
}

/// Writes one text field of the description to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when the SDP has none,
/// `MSRP_RESULT_INVALID_ARGUMENT` for an unknown field. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_field(
    media: *const msrp_sdp_media_t,
    field: msrp_sdp_field_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let m = try_ref(media)?;
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
        let value = match field {
            MSRP_SDP_FIELD_PATH => (!m.path.is_empty()).then(|| Uri::format_path(&m.path)),
            MSRP_SDP_FIELD_ACCEPT_TYPES => join(&m.accept_types),
            MSRP_SDP_FIELD_ACCEPT_WRAPPED_TYPES => join(&m.accept_wrapped_types),
            MSRP_SDP_FIELD_FINGERPRINT => m.fingerprints.first().map(|f| f.to_string()),
            MSRP_SDP_FIELD_PROTO => Some(m.proto.to_string()),
            MSRP_SDP_FIELD_CONNECTION_ADDRESS => m.connection.as_ref().map(|c| c.address.clone()),
            f => file_field(Some(&m.file), f),
        };
        write_field(value, field <= MSRP_SDP_FIELD_FILE_RANGE, field, out_text)
    }
}

/// Writes the value of the first attribute named `name` (any case) that this
/// library does not interpret itself (`x-file-offset`, ...) to `*out` (free
/// with `msrp_string_free`; an attribute without a value gives ""), or
/// `MSRP_RESULT_NOT_FOUND`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_attribute(
    media: *const msrp_sdp_media_t,
    name: *const c_char,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let m = try_ref(media)?;
        let name = str_arg(name, "name")?;
        match m.other.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, v)) => {
                out_text.write(string_into_ptr(v.clone().unwrap_or_default())?);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, format!("the SDP has no a={name}")),
        }
    }
}

/// The `m=` port (0: the stream is refused). 0 for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_port(media: *const msrp_sdp_media_t) -> u16 {
    ffi_boundary! { try_ref(media).map_or(0, |m| m.port) }
}

/// The `a=setup` value as written (`MSRP_SDP_SETUP_NONE` when absent or
/// for NULL). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_setup(media: *const msrp_sdp_media_t) -> msrp_sdp_setup_t {
    ffi_boundary! { try_ref(media).map_or(MSRP_SDP_SETUP_NONE, |m| setup_to_c(m.setup)) }
}

/// The direction (`MSRP_SDP_DIRECTION_SENDRECV` when absent or for NULL).
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_direction(media: *const msrp_sdp_media_t) -> msrp_sdp_direction_t {
    ffi_boundary! { try_ref(media).map_or(MSRP_SDP_DIRECTION_SENDRECV, |m| direction_to_c(m.direction())) }
}

/// Whether the `m=` protocol is TLS (`TCP/TLS/MSRP` or `TCP/WSS/MSRP`).
/// False for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_is_secure(media: *const msrp_sdp_media_t) -> bool {
    ffi_boundary! { try_ref(media).is_ok_and(|m| m.proto.is_secure()) }
}

/// Whether the description has `a=msrp-cema` (RFC 6714). False for NULL.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_has_cema(media: *const msrp_sdp_media_t) -> bool {
    ffi_boundary! { try_ref(media).is_ok_and(|m| m.cema) }
}

/// Writes `a=max-size` to `*out`; `MSRP_RESULT_NOT_FOUND` when absent.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_max_size(
    media: *const msrp_sdp_media_t,
    out_size: *mut u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_size = out(out_size, "out")?;
        match try_ref(media)?.max_size {
            Some(s) => {
                out_size.write(s);
                Ok(())
            }
            None => fail(MSRP_RESULT_NOT_FOUND, "the SDP has no a=max-size"),
        }
    }
}

/// Whether two descriptions of the same session describe the same file
/// transfer (RFC 5547 §8.1): both carry the same `a=file-transfer-id`. A
/// re-offer sent to refresh a session timer repeats it; a new id is a new
/// transfer. False when either has no id or is NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_media_same_transfer(
    previous: *const msrp_sdp_media_t,
    reoffer: *const msrp_sdp_media_t,
) -> bool {
    ffi_boundary! {
        match (try_ref(previous), try_ref(reoffer)) {
            (Ok(a), Ok(b)) => crate::sdp::reoffer_is_same_transfer(a, b),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------
// msrp_sdp_options_t
// ---------------------------------------------------------------------------

/// Makes options with the defaults: default `a=setup`, no fingerprint,
/// `a=accept-types:*`, sendrecv (sendonly with a file), no file, no
/// `a=msrp-cema`. Writes them to `*out` (free with `msrp_sdp_options_free`).
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_new(out_options: *mut *mut msrp_sdp_options_t) -> msrp_result_t {
    ffi_boundary! { result:
        let out_options = out(out_options, "out")?;
        out_options.write(box_into_ptr(LocalSettings::default()));
        Ok(())
    }
}

/// Frees options (what builders copied from them is not affected). NULL is
/// a no-op. Not while another thread uses them.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_free(options: *mut msrp_sdp_options_t) {
    ffi_boundary! {
        // SAFETY: the caller passes options from msrp_sdp_options_new, once.
        drop(unsafe { box_from_ptr(options) });
    }
}

/// Sets this end's `a=setup` (`MSRP_SDP_SETUP_NONE`: the default). An offer
/// refuses `passive` (RFC 6135 §4.2.2), an answer `actpass`; an answer that
/// contradicts the offer fails when built. Not thread-safe for the same
/// options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_setup(
    options: *mut msrp_sdp_options_t,
    setup: msrp_sdp_setup_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        o.setup = setup_from_c(setup)?;
        Ok(())
    }
}

/// Sets this end's certificate fingerprint, written as `a=fingerprint` when
/// the path is `msrps` (e.g. the text `msrp_tls_self_signed` gives, with or
/// without a leading `sha-256 `). NULL removes it. `MSRP_RESULT_PARSE` for
/// malformed text. Not thread-safe for the same options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_fingerprint(
    options: *mut msrp_sdp_options_t,
    fingerprint: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        o.fingerprint = match opt_str_arg(fingerprint, "fingerprint")? {
            None => None,
            Some(t) if t.trim().contains(char::is_whitespace) => Some(SdpFingerprint::parse(t).map_err(parse_error)?),
            Some(t) => Some(SdpFingerprint::parse(&format!("sha-256 {t}")).map_err(parse_error)?),
        };
        Ok(())
    }
}

/// Sets `a=accept-types` (space-separated media types; NULL or "" writes
/// `*`). Not thread-safe for the same options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_accept_types(
    options: *mut msrp_sdp_options_t,
    types: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        o.accept_types = opt_str_arg(types, "types")?.unwrap_or("").split_ascii_whitespace().map(str::to_string).collect();
        Ok(())
    }
}

/// Sets `a=accept-wrapped-types` (space-separated; NULL or "" writes none).
/// Not thread-safe for the same options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_accept_wrapped_types(
    options: *mut msrp_sdp_options_t,
    types: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        o.accept_wrapped_types = opt_str_arg(types, "types")?.unwrap_or("").split_ascii_whitespace().map(str::to_string).collect();
        Ok(())
    }
}

/// Sets `a=max-size` (0: none). Not thread-safe for the same options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_max_size(
    options: *mut msrp_sdp_options_t,
    max_size: u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        try_mut(options)?.max_size = (max_size != 0).then_some(max_size);
        Ok(())
    }
}

/// Whether to write `a=msrp-cema` (RFC 6714; in an answer only when the
/// offer has it). The library matches sessions by session id by default,
/// which is what CEMA asks of an endpoint. Not thread-safe for the same
/// options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_cema(
    options: *mut msrp_sdp_options_t,
    cema: bool,
) -> msrp_result_t {
    ffi_boundary! { result:
        try_mut(options)?.cema = cema;
        Ok(())
    }
}

/// Sets the direction this end wants (an answer limits it by the offer's).
/// Not thread-safe for the same options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_direction(
    options: *mut msrp_sdp_options_t,
    direction: msrp_sdp_direction_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        o.direction = Some(match direction {
            MSRP_SDP_DIRECTION_SENDRECV => Direction::SendRecv,
            MSRP_SDP_DIRECTION_SENDONLY => Direction::SendOnly,
            MSRP_SDP_DIRECTION_RECVONLY => Direction::RecvOnly,
            MSRP_SDP_DIRECTION_INACTIVE => Direction::Inactive,
            other => return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("unknown msrp_sdp_direction_t {other}")),
        });
        Ok(())
    }
}

/// Describes a file to send (RFC 5547 §8.2.1): reads the file at `path` for
/// its size and SHA-1, and writes `a=file-selector` with its base name,
/// `content_type` (NULL: `application/octet-stream`), size and hash,
/// `a=file-transfer-id` (`transfer_id`, NULL: a new random one) and
/// `a=file-disposition:attachment`; the offer becomes `a=sendonly`. NULL
/// `path` removes the file. Blocking (reads the whole file);
/// `MSRP_RESULT_IO` when it cannot be read. Not thread-safe for the same
/// options.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_options_set_file(
    options: *mut msrp_sdp_options_t,
    path: *const c_char,
    content_type: *const c_char,
    transfer_id: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let o = try_mut(options)?;
        let Some(path) = opt_str_arg(path, "path")? else {
            o.file = None;
            return Ok(());
        };
        let content_type = opt_str_arg(content_type, "content_type")?.unwrap_or("application/octet-stream");
        let transfer_id = opt_str_arg(transfer_id, "transfer_id")?.map_or_else(|| ids::random_alphanumeric(32), str::to_string);
        let io = |e: std::io::Error| Error::new(MSRP_RESULT_IO, format!("cannot read {path}: {e}"));
        let mut f = std::fs::File::open(path).map_err(io)?;
        let mut hash = Sha1::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            size += n as u64;
        }
        let name = std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned());
        o.file = Some(FileAttributes {
            selector: Some(FileSelector {
                name,
                media_type: Some(content_type.to_string()),
                size: Some(size),
                hash: Some(hash.finish()),
                other: Vec::new(),
            }),
            transfer_id: Some(transfer_id),
            disposition: Some("attachment".into()),
            ..FileAttributes::default()
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Offer and answer
// ---------------------------------------------------------------------------

fn settings_for(
    local_path: *const c_char,
    options: *const msrp_sdp_options_t,
) -> Result<LocalSettings> {
    let mut s = if options.is_null() {
        LocalSettings::default()
    } else {
        try_ref(options)?.clone()
    };
    s.path = parse_path(str_arg(local_path, "local_path")?)?;
    Ok(s)
}

/// Builds the offer's media description (RFC 4975 §8, RFC 6135 §4.2.2) and
/// writes its lines, each ended by CRLF, to `*out` (free with
/// `msrp_string_free`), for the SIP stack to put in its SDP body.
///
/// `local_path` is what `msrp_connector_prepare` gave. `options` NULL uses
/// the defaults: `a=setup:actpass` (prepare an acceptor, which listens, so
/// that either role works), `a=accept-types:*`. The `m=` port is the local
/// URI's; an active end without one writes 9 (RFC 4145). With an `msrps`
/// path the options' fingerprint is written. `MSRP_RESULT_INVALID_ARGUMENT`
/// (the last error names the attribute) for `passive`, an empty path, or a
/// passive or actpass end without a port. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_offer_build(
    local_path: *const c_char,
    options: *const msrp_sdp_options_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let md = build_offer(&settings_for(local_path, options)?).map_err(argument_error)?;
        out_text.write(string_into_ptr(md.to_string())?);
        Ok(())
    }
}

/// Which `a=setup` the answer to `offer` will carry with `options` (NULL:
/// defaults): `MSRP_SDP_SETUP_ACTIVE` (prepare a direct connector) or
/// `MSRP_SDP_SETUP_PASSIVE` (prepare an acceptor). Writes it to `*out`.
/// `MSRP_RESULT_PROTOCOL` when the options contradict the offer (both
/// ends would connect, or both wait). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_answer_setup(
    offer: *const msrp_sdp_media_t,
    options: *const msrp_sdp_options_t,
    out_setup: *mut msrp_sdp_setup_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_setup = out(out_setup, "out")?;
        let offer = try_ref(offer)?;
        let mut s = if options.is_null() { LocalSettings::default() } else { try_ref(options)?.clone() };
        // A stand-in path of the offer's kind: only a=setup is wanted here.
        let scheme = if offer.proto.is_secure() { "msrps" } else { "msrp" };
        s.path = vec![Uri::parse(&format!("{scheme}://127.0.0.1:9/x;tcp")).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))?];
        let md = build_answer(offer, &s).map_err(|e| Error::new(MSRP_RESULT_PROTOCOL, e.to_string()))?;
        out_setup.write(setup_to_c(md.setup));
        Ok(())
    }
}

/// Builds the answer to `offer` (RFC 3264 §6, RFC 6135 §4.2, RFC 5547
/// §8.3) and writes its lines, each ended by CRLF, to `*out` (free with
/// `msrp_string_free`).
///
/// `local_path` is what `msrp_connector_prepare` gave (see
/// `msrp_sdp_answer_setup` for which connector to prepare). `a=setup`:
/// `active` to `actpass` (unless the options say `passive`), `passive` to
/// `active` or to an offer without `a=setup`, `active` to `passive`. The
/// direction answers the offer's; a file offer is answered `recvonly` with
/// the same `file-selector` and `file-transfer-id`. The `m=` protocol is
/// the local path's first hop's. `MSRP_RESULT_PROTOCOL` when the options
/// contradict the offer's `a=setup`, or when the offer refused the stream.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_answer_build(
    offer: *const msrp_sdp_media_t,
    local_path: *const c_char,
    options: *const msrp_sdp_options_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let offer = try_ref(offer)?;
        let md = build_answer(offer, &settings_for(local_path, options)?).map_err(|e| Error::new(MSRP_RESULT_PROTOCOL, e.to_string()))?;
        out_text.write(string_into_ptr(md.to_string())?);
        Ok(())
    }
}

/// Writes the answer that refuses `offer`'s MSRP stream — its `m=` line
/// with port 0 (RFC 3264 §6) — to `*out` (free with `msrp_string_free`).
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_answer_refuse(
    offer: *const msrp_sdp_media_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        out_text.write(string_into_ptr(refuse(try_ref(offer)?).to_string())?);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// msrp_sdp_negotiation_t
// ---------------------------------------------------------------------------

/// Decides what the final pair means for this endpoint: `local` is the
/// description this end sent (parse the text the builder gave), `remote`
/// the peer's, `local_is_offer` which of the two was the offer. Writes the
/// result to `*out` (free with `msrp_sdp_negotiation_free`).
///
/// `MSRP_RESULT_REJECTED` when either refused the stream (port 0);
/// `MSRP_RESULT_PROTOCOL` when the `a=setup` pair is contradictory.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_negotiate(
    local: *const msrp_sdp_media_t,
    remote: *const msrp_sdp_media_t,
    local_is_offer: bool,
    out_negotiation: *mut *mut msrp_sdp_negotiation_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_negotiation = out(out_negotiation, "out")?;
        let (local, remote) = (try_ref(local)?, try_ref(remote)?);
        if local.is_refused() || remote.is_refused() {
            return fail(MSRP_RESULT_REJECTED, "SDP m=: the MSRP stream was refused (port 0)");
        }
        let n = negotiate(local, remote, local_is_offer).map_err(|e| Error::new(MSRP_RESULT_PROTOCOL, e.to_string()))?;
        out_negotiation.write(box_into_ptr(n));
        Ok(())
    }
}

/// Frees a negotiation. NULL is a no-op. Not while another thread reads it.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_negotiation_free(negotiation: *mut msrp_sdp_negotiation_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a negotiation from msrp_sdp_negotiate, once.
        drop(unsafe { box_from_ptr(negotiation) });
    }
}

/// Whether this endpoint connects (and sends the first SEND). False for
/// NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_negotiation_is_active(
    negotiation: *const msrp_sdp_negotiation_t,
) -> bool {
    ffi_boundary! { try_ref(negotiation).is_ok_and(|n| n.role == Role::Active) }
}

/// What this endpoint may do (its direction limited by the peer's).
/// `MSRP_SDP_DIRECTION_INACTIVE` for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_negotiation_direction(
    negotiation: *const msrp_sdp_negotiation_t,
) -> msrp_sdp_direction_t {
    ffi_boundary! { try_ref(negotiation).map_or(MSRP_SDP_DIRECTION_INACTIVE, |n| direction_to_c(n.direction)) }
}

/// Writes one text field of the negotiation to `*out` (free with
/// `msrp_string_free`): `MSRP_SDP_FIELD_PATH`, `_ACCEPT_TYPES`,
/// `_ACCEPT_WRAPPED_TYPES` and `_FINGERPRINT` are the peer's; the
/// `MSRP_SDP_FIELD_FILE_*` fields describe the file transferred (from the
/// description that has one). `MSRP_RESULT_NOT_FOUND` when absent.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_negotiation_field(
    negotiation: *const msrp_sdp_negotiation_t,
    field: msrp_sdp_field_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let n = try_ref(negotiation)?;
        let join = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
        let value = match field {
            MSRP_SDP_FIELD_PATH => Some(Uri::format_path(&n.remote_path)),
            MSRP_SDP_FIELD_ACCEPT_TYPES => join(&n.remote_accept_types),
            MSRP_SDP_FIELD_ACCEPT_WRAPPED_TYPES => join(&n.remote_accept_wrapped_types),
            MSRP_SDP_FIELD_FINGERPRINT => n.remote_fingerprint.as_ref().map(|f| f.to_string()),
            MSRP_SDP_FIELD_PROTO | MSRP_SDP_FIELD_CONNECTION_ADDRESS => None,
            f => file_field(n.file.as_ref(), f),
        };
        write_field(value, field <= MSRP_SDP_FIELD_FILE_RANGE, field, out_text)
    }
}

/// The fingerprint the TLS handshake checks: SHA-256 only.
fn tls_fingerprint(n: &Negotiated) -> Result<Option<Fingerprint>> {
    let Some(f) = &n.remote_fingerprint else {
        return Ok(None);
    };
    if f.hash != "sha-256" {
        return fail(
            MSRP_RESULT_TLS,
            format!("SDP a=fingerprint: the peer's certificate fingerprint uses {}; the TLS handshake checks sha-256 only (give trust anchors in the config instead)", f.hash),
        );
    }
    match <[u8; 32]>::try_from(f.value.as_slice()) {
        Ok(b) => Ok(Some(Fingerprint(b))),
        Err(_) => fail(
            MSRP_RESULT_PARSE,
            "SDP a=fingerprint: a sha-256 digest has 32 bytes",
        ),
    }
}

/// Completes `connector` in the role the negotiation decided, with the
/// peer's path and, over TLS, the fingerprint from its SDP, and writes the
/// bound transport to `*out` (free with `msrp_transport_free`, or give it to
/// `msrp_session_new`). The integrator never decides the direction by hand.
///
/// The connector must be prepared, and its local path be the one in the
/// local description. A direct acceptor (what an actpass offer needs) that
/// the answer makes active stops listening and connects from the same local
/// URI; a direct connector made passive is `MSRP_RESULT_INVALID_STATE`
/// (it does not listen). A relay connector or acceptor takes either role
/// on its registration: both ends connect to their relays and only the
/// active one sends the first SEND (RFC 6135 §4.5); through a relay the
/// peer's fingerprint is not used (the relay's certificate is checked in
/// prepare). A direct peer
/// whose fingerprint uses a hash other than SHA-256 is `MSRP_RESULT_TLS`
/// (the handshake checks SHA-256; trust anchors in the config are the
/// alternative). Otherwise the errors of
/// `msrp_connector_complete`. `timeout_ms` 0 uses the config's bind
/// timeout. The connector stays the caller's (free it after the session
/// ends, as with `msrp_connector_complete`); the negotiation is only read.
/// Thread-safety as for `msrp_connector_complete`: one prepare or complete
/// at a time per connector (`MSRP_RESULT_INVALID_STATE` otherwise), and
/// `msrp_connector_cleanup`/`_free` from another thread cancel it.
/// Blocking: `MSRP_RESULT_WOULD_DEADLOCK` inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_sdp_connector_complete(
    connector: *mut msrp_connector_t,
    negotiation: *const msrp_sdp_negotiation_t,
    timeout_ms: u32,
    out_transport: *mut *mut msrp_transport_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_transport = out(out_transport, "out")?;
        let h: &ConnectorHandle = try_ref(connector.cast_const())?;
        let n = try_ref(negotiation)?;
        check_may_block()?;
        let direct = block_on(h.take_role(n.role == Role::Active))??;
        let fp = if n.secure && direct { tls_fingerprint(n)? } else { None };
        let transport = block_on(h.start_complete(n.remote_path.clone(), fp, duration_from_ms(timeout_ms))?)??;
        out_transport.write(TransportHandle::into_ptr(transport));
        Ok(())
    }
}
