//! `msrp_imdn_t`: IMDN (RFC 5438) documents (`message/imdn+xml`) parsed
//! and built, the `imdn.Disposition-Notification` request, the CPIM message
//! that carries a notification back, and `msrp_session_send_imdn`.

use std::ffi::c_char;

use super::cpim::{cpim_error, msrp_cpim_builder_t, msrp_cpim_t, write_bytes};
use super::handle::{
    box_from_ptr, box_into_ptr, found, opt_str_arg, out, slice_arg, str_arg, string_into_ptr,
    try_ref, Castable, OwnershipBox,
};
use super::result::{
    fail, msrp_result_t, Error, Result, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_PARSE,
};
use super::session::msrp_session_t;
use crate::content::cpim::{CpimBuilder, IMDN_NAMESPACE};
use crate::content::imdn::IMDN_CONTENT_TYPE;
use crate::content::{Cpim, DateTime, DispositionRequest, Imdn, ImdnStatus, NotificationKind};

/// A parsed `message/imdn+xml` document.
///
/// Made by `msrp_imdn_parse`, freed by `msrp_imdn_free`.
///
/// Thread-safety: immutable; it can be read from several threads at once.
pub struct msrp_imdn_t {
    _private: [u8; 0],
}

impl Castable for msrp_imdn_t {
    type Ownership = OwnershipBox;
    type RustType = Imdn;
}

/// The kind of a notification.
pub type msrp_imdn_kind_t = u32;
/// `<delivery-notification>`.
pub const MSRP_IMDN_KIND_DELIVERY: msrp_imdn_kind_t = 1;
/// `<display-notification>`.
pub const MSRP_IMDN_KIND_DISPLAY: msrp_imdn_kind_t = 2;
/// `<processing-notification>`.
pub const MSRP_IMDN_KIND_PROCESSING: msrp_imdn_kind_t = 3;

/// A notification's status (RFC 5438 §7.1).
pub type msrp_imdn_status_t = u32;
/// A value this library does not know (see `msrp_imdn_status_name`).
pub const MSRP_IMDN_STATUS_OTHER: msrp_imdn_status_t = 0;
pub const MSRP_IMDN_STATUS_DELIVERED: msrp_imdn_status_t = 1;
pub const MSRP_IMDN_STATUS_FAILED: msrp_imdn_status_t = 2;
pub const MSRP_IMDN_STATUS_DISPLAYED: msrp_imdn_status_t = 3;
pub const MSRP_IMDN_STATUS_PROCESSED: msrp_imdn_status_t = 4;
pub const MSRP_IMDN_STATUS_STORED: msrp_imdn_status_t = 5;
pub const MSRP_IMDN_STATUS_FORBIDDEN: msrp_imdn_status_t = 6;
pub const MSRP_IMDN_STATUS_ERROR: msrp_imdn_status_t = 7;

/// Flags of `imdn.Disposition-Notification` (RFC 5438 §6.3), or-ed.
pub type msrp_imdn_request_t = u32;
pub const MSRP_IMDN_REQUEST_POSITIVE_DELIVERY: msrp_imdn_request_t = 1;
pub const MSRP_IMDN_REQUEST_NEGATIVE_DELIVERY: msrp_imdn_request_t = 2;
pub const MSRP_IMDN_REQUEST_DISPLAY: msrp_imdn_request_t = 4;
pub const MSRP_IMDN_REQUEST_PROCESSING: msrp_imdn_request_t = 8;

pub(crate) fn kind_code(k: NotificationKind) -> msrp_imdn_kind_t {
    match k {
        NotificationKind::Delivery => MSRP_IMDN_KIND_DELIVERY,
        NotificationKind::Display => MSRP_IMDN_KIND_DISPLAY,
        NotificationKind::Processing => MSRP_IMDN_KIND_PROCESSING,
    }
}

fn kind_arg(k: msrp_imdn_kind_t) -> Result<NotificationKind> {
    match k {
        MSRP_IMDN_KIND_DELIVERY => Ok(NotificationKind::Delivery),
        MSRP_IMDN_KIND_DISPLAY => Ok(NotificationKind::Display),
        MSRP_IMDN_KIND_PROCESSING => Ok(NotificationKind::Processing),
        other => fail(
            MSRP_RESULT_INVALID_ARGUMENT,
            format!("unknown IMDN kind {other}"),
        ),
    }
}

pub(crate) fn status_code(s: &ImdnStatus) -> msrp_imdn_status_t {
    match s {
        ImdnStatus::Delivered => MSRP_IMDN_STATUS_DELIVERED,
        ImdnStatus::Failed => MSRP_IMDN_STATUS_FAILED,
        ImdnStatus::Displayed => MSRP_IMDN_STATUS_DISPLAYED,
        ImdnStatus::Processed => MSRP_IMDN_STATUS_PROCESSED,
        ImdnStatus::Stored => MSRP_IMDN_STATUS_STORED,
        ImdnStatus::Forbidden => MSRP_IMDN_STATUS_FORBIDDEN,
        ImdnStatus::Error => MSRP_IMDN_STATUS_ERROR,
        ImdnStatus::Other(_) => MSRP_IMDN_STATUS_OTHER,
    }
}

fn status_arg(s: msrp_imdn_status_t) -> Result<ImdnStatus> {
    Ok(match s {
        MSRP_IMDN_STATUS_DELIVERED => ImdnStatus::Delivered,
        MSRP_IMDN_STATUS_FAILED => ImdnStatus::Failed,
        MSRP_IMDN_STATUS_DISPLAYED => ImdnStatus::Displayed,
        MSRP_IMDN_STATUS_PROCESSED => ImdnStatus::Processed,
        MSRP_IMDN_STATUS_STORED => ImdnStatus::Stored,
        MSRP_IMDN_STATUS_FORBIDDEN => ImdnStatus::Forbidden,
        MSRP_IMDN_STATUS_ERROR => ImdnStatus::Error,
        other => {
            return fail(
                MSRP_RESULT_INVALID_ARGUMENT,
                format!("unknown IMDN status {other}"),
            )
        }
    })
}

/// Parses `len` bytes at `data` as a `message/imdn+xml` document (the body
/// of a CPIM notification, e.g. from `msrp_cpim_body`) and writes a new
/// handle to `*out` (free with `msrp_imdn_free`). `MSRP_RESULT_PARSE` when
/// it is not well-formed XML, not `<imdn>` in the IMDN namespace, or lacks
/// `<message-id>` or a notification with a status.
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_parse(
    data: *const u8,
    len: usize,
    out_imdn: *mut *mut msrp_imdn_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_imdn = out(out_imdn, "out")?;
        let data = slice_arg(data, len, "data")?;
        let n = Imdn::parse(data).map_err(|e| Error::new(MSRP_RESULT_PARSE, e.to_string()))?;
        out_imdn.write(box_into_ptr(n));
        Ok(())
    }
}

/// Frees a parsed IMDN. NULL is a no-op.
///
/// Threads: not while another thread still uses the handle.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_free(imdn: *mut msrp_imdn_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a handle from msrp_imdn_parse, once.
        drop(unsafe { box_from_ptr(imdn) });
    }
}

/// Writes the `<message-id>` (the `imdn.Message-ID` of the message the
/// notification is about) to `*out` (free with `msrp_string_free`).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_message_id(
    imdn: *const msrp_imdn_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(Some(&try_ref(imdn)?.message_id), "message-id", out_text)
    }
}

/// Writes the `<datetime>` (the original message's DateTime, as written) to
/// `*out` (free with `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when the
/// document had none.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_datetime(
    imdn: *const msrp_imdn_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let n = try_ref(imdn)?;
        found(Some(n.datetime.as_str()).filter(|d| !d.is_empty()), "datetime", out_text)
    }
}

/// Writes the `<recipient-uri>` to `*out` (free with `msrp_string_free`);
/// `MSRP_RESULT_NOT_FOUND` when absent.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_recipient_uri(
    imdn: *const msrp_imdn_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(try_ref(imdn)?.recipient_uri.as_deref(), "recipient-uri", out_text)
    }
}

/// Writes the `<original-recipient-uri>` to `*out` (free with
/// `msrp_string_free`); `MSRP_RESULT_NOT_FOUND` when absent.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_original_recipient_uri(
    imdn: *const msrp_imdn_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(try_ref(imdn)?.original_recipient_uri.as_deref(), "original-recipient-uri", out_text)
    }
}

/// The notification's kind (`MSRP_IMDN_KIND_*`); 0 for NULL.
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_kind(imdn: *const msrp_imdn_t) -> msrp_imdn_kind_t {
    ffi_boundary! { try_ref(imdn).map_or(0, |n| kind_code(n.kind)) }
}

/// The notification's status (`MSRP_IMDN_STATUS_*`;
/// `MSRP_IMDN_STATUS_OTHER` for one this library does not know, and for
/// NULL).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_status(imdn: *const msrp_imdn_t) -> msrp_imdn_status_t {
    ffi_boundary! { try_ref(imdn).map_or(MSRP_IMDN_STATUS_OTHER, |n| status_code(&n.status)) }
}

/// Writes the status element's name ("delivered", "displayed", or an
/// unknown one as received) to `*out` (free with `msrp_string_free`).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_status_name(
    imdn: *const msrp_imdn_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        found(Some(try_ref(imdn)?.status.as_str()), "status", out_text)
    }
}

/// Encodes a `message/imdn+xml` document into `buf` (`len` bytes; `*needed`
/// as in `msrp_chunk_encode`): `message_id` and `datetime` of the original
/// message (`datetime` NULL: now), `recipient_uri` (may be NULL; used for
/// both recipient elements), `kind` and `status`, which must belong
/// together (delivered/failed for delivery, displayed for display,
/// processed/stored for processing; forbidden and error for all).
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_encode(
    message_id: *const c_char,
    datetime: *const c_char,
    recipient_uri: *const c_char,
    kind: msrp_imdn_kind_t,
    status: msrp_imdn_status_t,
    buf: *mut u8,
    len: usize,
    needed: *mut usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let message_id = str_arg(message_id, "message_id")?;
        let datetime = opt_str_arg(datetime, "datetime")?;
        let recipient = opt_str_arg(recipient_uri, "recipient_uri")?.map(str::to_string);
        let kind = kind_arg(kind)?;
        let status = status_arg(status)?;
        if !status.allowed_in(kind) {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("status {status} does not belong to that kind"));
        }
        let n = Imdn {
            message_id: message_id.to_string(),
            datetime: datetime.map_or_else(|| DateTime::now().to_string(), str::to_string),
            recipient_uri: recipient.clone(),
            original_recipient_uri: recipient,
            subject: None,
            kind,
            status,
        };
        write_bytes(&n.to_xml(), buf, len, needed)
    }
}

/// Writes to `*flags` which notifications the CPIM message asks for in
/// `imdn.Disposition-Notification` (`MSRP_IMDN_REQUEST_*` or-ed; 0 for none).
///
/// Threads: any thread, several at once (the handle is immutable).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_requested(
    cpim: *const msrp_cpim_t,
    flags: *mut msrp_imdn_request_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let flags = out(flags, "flags")?;
        let r = DispositionRequest::of(&try_ref(cpim)?.parsed());
        flags.write(request_flags(r));
        Ok(())
    }
}

fn request_flags(r: DispositionRequest) -> msrp_imdn_request_t {
    let mut f = 0;
    if r.positive_delivery {
        f |= MSRP_IMDN_REQUEST_POSITIVE_DELIVERY;
    }
    if r.negative_delivery {
        f |= MSRP_IMDN_REQUEST_NEGATIVE_DELIVERY;
    }
    if r.display {
        f |= MSRP_IMDN_REQUEST_DISPLAY;
    }
    if r.processing {
        f |= MSRP_IMDN_REQUEST_PROCESSING;
    }
    f
}

/// Adds the headers that ask for notifications to a CPIM builder: `NS: imdn
/// <urn:ietf:params:imdn>`, `imdn.Message-ID: message_id` (NULL: a new random
/// one) and `imdn.Disposition-Notification` with the `flags`
/// (`MSRP_IMDN_REQUEST_*`; 0: no Disposition-Notification, only the
/// namespace and the id, which lets the peer match its notifications). The sender must also add DateTime
/// (RFC 5438 §6.3; `msrp_cpim_builder_add_datetime_now`). When `out_id` is
/// not NULL the `imdn.Message-ID` is written to it (free with
/// `msrp_string_free`).
///
/// Threads: one call at a time on the same builder; different builders on any threads.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_request_add(
    builder: *mut msrp_cpim_builder_t,
    message_id: *const c_char,
    flags: msrp_imdn_request_t,
    out_id: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let id = match opt_str_arg(message_id, "message_id")? {
            Some(id) => id.to_string(),
            None => crate::protocol::ids::message_id(),
        };
        if flags & !15 != 0 {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, format!("bad request flags {flags:#x}"));
        }
        let r = DispositionRequest {
            positive_delivery: flags & MSRP_IMDN_REQUEST_POSITIVE_DELIVERY != 0,
            negative_delivery: flags & MSRP_IMDN_REQUEST_NEGATIVE_DELIVERY != 0,
            display: flags & MSRP_IMDN_REQUEST_DISPLAY != 0,
            processing: flags & MSRP_IMDN_REQUEST_PROCESSING != 0,
        };
        let b = super::handle::try_mut(builder)?;
        let text = string_into_ptr(id.as_str())?;
        let built = b
            .clone()
            .namespace("imdn", IMDN_NAMESPACE)
            .and_then(|b| b.header("imdn.Message-ID", &id))
            .and_then(|b| {
                if r.any() {
                    b.header("imdn.Disposition-Notification", &r.to_string())
                } else {
                    Ok(b)
                }
            });
        match built {
            Ok(nb) => *b = nb,
            Err(e) => {
                super::handle::msrp_string_free(text);
                return Err(cpim_error(e));
            }
        }
        match super::handle::out_opt(out_id) {
            Some(o) => o.write(text),
            None => super::handle::msrp_string_free(text),
        }
        Ok(())
    }
}

/// Makes a CPIM builder holding the notification of `kind` with `status`
/// about a received CPIM message (`len` bytes at `original`, its whole
/// body), as RFC 5438 §7.2.1 says: From its To (`local_uri` when it has
/// none), To its From (`remote_uri` when none), a new `imdn.Message-ID`,
/// DateTime now, inner `message/imdn+xml` with `Content-Disposition:
/// notification`. Writes it to `*out` (encode with
/// `msrp_cpim_builder_encode`, send as `message/cpim`, free with
/// `msrp_cpim_builder_free`). `MSRP_RESULT_INVALID_ARGUMENT` when the
/// message has no `imdn.Message-ID`, is a notification itself, or `status`
/// does not belong to `kind`; `MSRP_RESULT_PARSE` when it is not CPIM.
///
/// Threads: any thread, several at once (no shared state).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_imdn_notification_new(
    original: *const u8,
    len: usize,
    kind: msrp_imdn_kind_t,
    status: msrp_imdn_status_t,
    local_uri: *const c_char,
    remote_uri: *const c_char,
    out_builder: *mut *mut msrp_cpim_builder_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_builder = out(out_builder, "out")?;
        let original = slice_arg(original, len, "original")?;
        let local = str_arg(local_uri, "local_uri")?;
        let remote = str_arg(remote_uri, "remote_uri")?;
        let kind = kind_arg(kind)?;
        let status = status_arg(status)?;
        let m = Cpim::parse(original).map_err(cpim_error)?;
        if crate::content::imdn::is_notification(&m) {
            return fail(MSRP_RESULT_INVALID_ARGUMENT, "the message is a notification");
        }
        let n = Imdn::about(&m, kind, status).map_err(cpim_error)?;
        let b = CpimBuilder::new()
            .from(None, m.to_uri().unwrap_or(local))
            .and_then(|b| b.to(None, m.from_uri().unwrap_or(remote)))
            .and_then(|b| b.namespace("imdn", IMDN_NAMESPACE))
            .and_then(|b| b.header("imdn.Message-ID", &crate::protocol::ids::message_id()))
            .and_then(|b| b.datetime(DateTime::now()))
            .and_then(|b| b.content_type(IMDN_CONTENT_TYPE))
            .and_then(|b| b.content_header("Content-Disposition", "notification"))
            .map_err(cpim_error)?
            .body(n.to_xml());
        out_builder.write(box_into_ptr(b));
        Ok(())
    }
}

/// Sends the notification of `kind` with `status` about a received CPIM
/// message (`len` bytes at `original`: the body given to `on_message`) over
/// the session, built as `msrp_imdn_notification_new` does with the
/// session's own and the peer's MSRP URIs as fallback addresses: e.g.
/// `MSRP_IMDN_KIND_DISPLAY` with `MSRP_IMDN_STATUS_DISPLAYED` once the user
/// saw the message. When `out_message_id` is not NULL the notification's
/// MSRP Message-ID is written to it (free with `msrp_string_free`); its
/// outcome arrives at `on_message_sent`. `MSRP_RESULT_INVALID_ARGUMENT`
/// when `original` is not CPIM, has no `imdn.Message-ID`, is a
/// notification itself, or `status` does not belong to `kind`;
/// `MSRP_RESULT_CLOSED` when the session ended. Non-blocking;
/// callable from any thread and inside callbacks.
///
/// Threads: any thread, several at once, also inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_send_imdn(
    session: *const msrp_session_t,
    original: *const u8,
    len: usize,
    kind: msrp_imdn_kind_t,
    status: msrp_imdn_status_t,
    out_message_id: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_ref(session)?;
        let original = slice_arg(original, len, "original")?;
        let kind = kind_arg(kind)?;
        let status = status_arg(status)?;
        let id = s.session.send_imdn(original, kind, status)?;
        if let Some(o) = super::handle::out_opt(out_message_id) {
            o.write(string_into_ptr(id)?);
        }
        Ok(())
    }
}

/// A notification received by a session (`on_imdn`), borrowed for the
/// callback.
#[repr(C)]
pub struct msrp_imdn_event_t {
    /// The MSRP Message-ID of the CPIM message this session sent with the
    /// `imdn.Message-ID` named (as `msrp_session_send_message` returned
    /// it), or NULL when no such message is known to the session.
    pub message_id: *const c_char,
    /// The `imdn.Message-ID` the notification is about.
    pub imdn_message_id: *const c_char,
    /// The MSRP Message-ID of the notification message itself.
    pub notification_message_id: *const c_char,
    /// The address of the notification's CPIM From, or NULL.
    pub from_uri: *const c_char,
    pub kind: msrp_imdn_kind_t,
    pub status: msrp_imdn_status_t,
    /// The status element's name ("delivered", or an unknown one as received).
    pub status_name: *const c_char,
    /// The original message's DateTime as the notification gives it ("" when absent).
    pub datetime: *const c_char,
}

/// A notification arrived (see `msrp_session_config_t.on_imdn`).
pub type msrp_on_imdn_cb =
    Option<extern "C" fn(user_data: *mut std::ffi::c_void, event: *const msrp_imdn_event_t)>;

/// Calls `f` with a notification event (on a dispatcher thread).
pub(crate) fn deliver_notification(
    f: extern "C" fn(*mut std::ffi::c_void, *const msrp_imdn_event_t),
    user_data: *mut std::ffi::c_void,
    message_id: Option<&str>,
    notification_message_id: &str,
    from: Option<&str>,
    n: &Imdn,
) {
    use super::handle::c_string;
    let id = message_id.map(c_string);
    let imdn_id = c_string(&n.message_id);
    let nid = c_string(notification_message_id);
    let from = from.map(c_string);
    let status = c_string(n.status.as_str());
    let datetime = c_string(&n.datetime);
    let ptr = |c: &Option<std::ffi::CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let e = msrp_imdn_event_t {
        message_id: ptr(&id),
        imdn_message_id: imdn_id.as_ptr(),
        notification_message_id: nid.as_ptr(),
        from_uri: ptr(&from),
        kind: kind_code(n.kind),
        status: status_code(&n.status),
        status_name: status.as_ptr(),
        datetime: datetime.as_ptr(),
    };
    f(user_data, &e);
}
