//! `msrp_endpoint_config_t`: what connectors, acceptors and servers are made
//! with — the endpoint's own certificate and key, trust anchors for peers,
//! the logger, timeouts.

use std::ffi::c_char;
use std::path::Path;

use super::handle::{
    box_from_ptr, box_into_ptr, out, slice_arg, str_arg, string_into_ptr, try_mut, try_ref,
    Castable, OwnershipBox,
};
use super::logger::{msrp_logger_t, CLogger, UserData};
use super::result::{
    fail, msrp_result_t, Result, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_NOT_FOUND,
};
use super::runtime::duration_from_ms;
use crate::connect::{EndpointConfig, SourcePort};
use crate::transport::{PathMatching, PeerVerification, TlsIdentity};

/// Settings for `msrp_connector_*_new`, `msrp_acceptor_*_new` and
/// `msrp_server_new`, which copy them: one config can make many handles and
/// be freed right after.
///
/// Made by `msrp_endpoint_config_new`, freed by `msrp_endpoint_config_free`.
///
/// Thread-safety: not while being changed (set it up from one thread);
/// making handles from it on several threads at once is safe.
pub struct msrp_endpoint_config_t {
    _private: [u8; 0],
}

impl Castable for msrp_endpoint_config_t {
    type Ownership = OwnershipBox;
    type RustType = EndpointConfig;
}

/// The config behind a possibly NULL pointer (NULL: defaults).
pub(crate) fn config_or_default(cfg: *const msrp_endpoint_config_t) -> Result<EndpointConfig> {
    if cfg.is_null() {
        Ok(EndpointConfig::default())
    } else {
        try_ref(cfg).cloned()
    }
}

/// Makes a config with the defaults: no certificate, no trust anchors, the
/// default logger (stderr at the level named by the environment variable
/// `MSRP_LOG`: error, warn, info, debug, trace; default warn), a 30 second
/// bind timeout, session-id matching of incoming requests
/// (`msrp_endpoint_config_set_session_id_matching`), at most 1,000 sessions
/// per server, chunks assembled in pieces of at most 1 MiB (longer ones
/// streamed), a 4 MiB socket receive buffer, and an unbound source port
/// for direct connectors (their path advertises port 9; see
/// `msrp_endpoint_config_set_bind_source_port`). Writes it to `*out`.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_new(
    out_cfg: *mut *mut msrp_endpoint_config_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_cfg = out(out_cfg, "out")?;
        out_cfg.write(box_into_ptr(EndpointConfig::default()));
        Ok(())
    }
}

/// Frees a config (handles made from it are not affected). NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_free(cfg: *mut msrp_endpoint_config_t) {
    ffi_boundary! {
        // SAFETY: the caller passes a config from msrp_endpoint_config_new, once.
        drop(unsafe { box_from_ptr(cfg) });
    }
}

/// Sets the endpoint's certificate chain and private key from PEM files
/// (`cert_file`: one or more CERTIFICATE sections, end-entity first;
/// `key_file`: PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted). Needed to accept
/// `msrps` connections; presented as client certificate when connecting.
/// Fails with `MSRP_RESULT_IO` (unreadable file) or `MSRP_RESULT_TLS`
/// (malformed, or the key does not match), leaving the config unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_identity_files(
    cfg: *mut msrp_endpoint_config_t,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        let identity = TlsIdentity::from_pem_files(Path::new(str_arg(cert_file, "cert_file")?), Path::new(str_arg(key_file, "key_file")?))?;
        cfg.identity = Some(identity);
        Ok(())
    }
}

/// Like `msrp_endpoint_config_set_identity_files`, from PEM text in memory
/// (`cert_pem`/`cert_len`, `key_pem`/`key_len`; not NUL-terminated).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_identity_pem(
    cfg: *mut msrp_endpoint_config_t,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        let identity = TlsIdentity::from_pem(slice_arg(cert_pem, cert_len, "cert_pem")?, slice_arg(key_pem, key_len, "key_pem")?)?;
        cfg.identity = Some(identity);
        Ok(())
    }
}

/// Sets the trust anchors (CA certificates, PEM file with one or more
/// CERTIFICATE sections) that a peer's or relay's certificate may chain to,
/// besides or instead of the fingerprint from SDP.
///
/// A self-signed certificate may be given as an anchor and presented by the
/// peer or relay as its own certificate, as OpenSSL users expect: such a
/// certificate (e.g. made by `openssl req -x509`, which sets basic constraints
/// CA:TRUE) is accepted when the presented certificate is byte for byte one of
/// the anchors and self-signed, the current time is within its validity
/// period, its extended key usage (if any) allows server (or client)
/// authentication, and, for a server, it is valid for the host connected to
/// (an IP address SAN for an IP literal, a DNS SAN for a name). Any other
/// certificate with CA:TRUE presented as the peer's own is refused.
///
/// Fails with `MSRP_RESULT_IO` (unreadable file) or `MSRP_RESULT_TLS`
/// (malformed, or no usable certificate), leaving the config unchanged. The
/// file is read during the call; `ca_file` is not kept.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_trust_anchors_file(
    cfg: *mut msrp_endpoint_config_t,
    ca_file: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        let anchors = PeerVerification::trust_anchors_from_file(Path::new(str_arg(ca_file, "ca_file")?))?;
        cfg.trust_anchors = Some(anchors);
        Ok(())
    }
}

/// Sets the logger (see `msrp_logger_t`; the struct is copied, and its
/// `user_data` is consumed even when the call fails). NULL restores the
/// default stderr logger.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_logger(
    cfg: *mut msrp_endpoint_config_t,
    logger: *const msrp_logger_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        // SAFETY: NULL or a logger struct readable for the call.
        let hooks = unsafe { logger.as_ref() };
        let cfg = match try_mut(cfg) {
            Ok(c) => c,
            Err(e) => {
                drop(hooks.map(|h| UserData::new(h.user_data, h.user_data_free)));
                return Err(e);
            }
        };
        cfg.logger = match hooks {
            Some(h) => CLogger::shared(h),
            None => crate::log::default_logger(),
        };
        Ok(())
    }
}

/// Sets the time allowed for connecting and binding when `complete` is given
/// a timeout of 0 (`timeout_ms` 0 restores the default, 30 seconds).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_bind_timeout(
    cfg: *mut msrp_endpoint_config_t,
    timeout_ms: u32,
) -> msrp_result_t {
    ffi_boundary! { result:
        try_mut(cfg)?.bind_timeout = duration_from_ms(timeout_ms).unwrap_or(crate::connect::DEFAULT_BIND_TIMEOUT);
        Ok(())
    }
}

/// Sets the most sessions a server made with this config holds, prepared or
/// bound, until `msrp_server_cleanup` (`max_sessions` 0 restores the
/// default, 1,000). `msrp_server_prepare` beyond it fails with
/// `MSRP_RESULT_LIMIT` and logs why (a warning). See "Resource limits" at
/// the top of this header for the arithmetic behind the defaults.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_max_sessions(
    cfg: *mut msrp_endpoint_config_t,
    max_sessions: usize,
) -> msrp_result_t {
    ffi_boundary! { result:
        try_mut(cfg)?.max_sessions = if max_sessions == 0 { crate::connect::DEFAULT_MAX_SESSIONS } else { max_sessions };
        Ok(())
    }
}

/// Sets the largest chunk payload a connection made with this config
/// assembles in memory in one piece, in bytes (`max_chunk` 0 restores the
/// default, 1 MiB; this library sends 8 KiB chunks by default). A session
/// receives a longer chunk (RFC 4975 sets no chunk size; python-msrplib
/// sends up to 4 MiB) in segments of about this size, streamed to its
/// message: what limits it is the message's size (the session config's
/// `max_incoming_size`, answered 413). While binding, a connection
/// assembles at most 1 MiB of its first chunk.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_max_chunk_size(
    cfg: *mut msrp_endpoint_config_t,
    max_chunk: u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        let max = if max_chunk == 0 { crate::connect::DEFAULT_MAX_CHUNK } else { max_chunk };
        cfg.limits.max_assembled_chunk = max;
        Ok(())
    }
}

/// `receive_buffer` value for `msrp_endpoint_config_set_receive_buffer`:
/// no size is asked of the system; its autotuning sizes each connection's
/// receive buffer.
pub const MSRP_RECEIVE_BUFFER_SYSTEM: u64 = u64::MAX;

/// Sets the socket receive buffer (`SO_RCVBUF`) asked for each connection
/// made with this config, in bytes (`receive_buffer` 0 restores the
/// default, 4 MiB; `MSRP_RECEIVE_BUFFER_SYSTEM` leaves the size to the
/// system's autotuning).
///
/// The size is a ceiling, not an allocation: an idle connection holds
/// nothing for it. A fixed size keeps a fast transfer going when the
/// receiving side is scheduled a few milliseconds late (on loopback the
/// 4 MiB default made a file transfer about 10% faster than autotuning),
/// but it turns autotuning off, which on a long fast path could have grown
/// the window further. On Linux a size above `net.core.rmem_max` is not
/// set at all (the system would cut it and still turn autotuning off); a
/// debug message says so. Stock Linux kernels have an `rmem_max` of
/// 208 KiB, so there the default takes effect only once it is raised
/// (`sysctl net.core.rmem_max=4194304`).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_receive_buffer(
    cfg: *mut msrp_endpoint_config_t,
    receive_buffer: u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        cfg.receive_buffer = match receive_buffer {
            0 => Some(crate::connect::DEFAULT_RECEIVE_BUFFER),
            MSRP_RECEIVE_BUFFER_SYSTEM => None,
            // Larger than any system's limit: not set (see above).
            size => Some(usize::try_from(size).unwrap_or(usize::MAX)),
        };
        Ok(())
    }
}

/// Sets the library-wide budget of buffered message bytes, shared by every
/// session of the process (`bytes` 0 restores the default, 256 MiB): incoming
/// messages being reassembled in memory and `msrp_session_send_message`
/// bodies not yet written. A message that takes the total over it is
/// answered 413 (incoming) or refused with `MSRP_RESULT_LIMIT` (outgoing).
///
/// Thread-safety: callable from any thread at any time; sessions see the new
/// budget at their next buffered chunk or send.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_buffer_limit_set(bytes: u64) -> msrp_result_t {
    ffi_boundary! { result:
        crate::session::limits::set_total_buffered_limit(bytes);
        Ok(())
    }
}

/// Writes the bytes buffered right now by every session of the process (the
/// amount counted against `msrp_buffer_limit_set`'s budget) to `*out_bytes`.
/// Thread-safety: callable from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_buffer_usage(out_bytes: *mut u64) -> msrp_result_t {
    ffi_boundary! { result:
        out(out_bytes, "out_bytes")?.write(crate::session::limits::total_buffered());
        Ok(())
    }
}

/// The port a direct connector advertises in its path by default when the
/// local URI gives none (or 0): 9, the discard port, which RFC 4145 §4 gives
/// an active endpoint that accepts no connections. See
/// `msrp_endpoint_config_set_bind_source_port`.
pub const MSRP_DISCARD_PORT: u16 = 9;
const _: () = assert!(MSRP_DISCARD_PORT == crate::connect::DISCARD_PORT);

/// Whether a direct connector (`msrp_connector_direct_new`) binds the source
/// port of its outgoing connection to the port its path advertises.
///
/// Default (`enabled` false): the system picks the source port when
/// connecting, and the path's port is only advertised: the local URI's,
/// or `MSRP_DISCARD_PORT` (9) when it has none or 0 (the port RFC 4145
/// gives an active endpoint that accepts no connections; a path never
/// carries 0, which an SDP `m=` line would read as a refused stream).
/// Peers that follow RFC 4975 match the session by the URIs of its path
/// (§5.4), not by the connection's address, so this is enough for them.
///
/// With `enabled`, `msrp_connector_prepare` binds a port and advertises it,
/// and `msrp_connector_complete` connects from it (on the unspecified
/// address: the system picks the source address by route), for peers that
/// match an incoming connection by the address and port in the SDP
/// (msrp-node-lib by default, several SBCs). The port is the local URI's
/// when it gives one (not 0), else a free port of `port_low..=port_high`,
/// or any free port the system picks when both are 0. It stays reserved
/// until complete connects from it, or `msrp_connector_cleanup`,
/// `msrp_connector_free` or another prepare frees it; after the
/// connection ends it may be used again at once. A port in use, or no
/// free port in the range, fails prepare with `MSRP_RESULT_ADDRESS_IN_USE`
/// (also complete, when the connection from that port to the peer already
/// exists). Acceptors, servers and relay connectors ignore the setting.
///
/// `MSRP_RESULT_INVALID_ARGUMENT` when `enabled` and only one of
/// `port_low`, `port_high` is 0, or `port_low > port_high`; the config is
/// then unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_bind_source_port(
    cfg: *mut msrp_endpoint_config_t,
    enabled: bool,
    port_low: u16,
    port_high: u16,
) -> msrp_result_t {
    ffi_boundary! { result:
        let cfg = try_mut(cfg)?;
        cfg.source_port = match (enabled, port_low, port_high) {
            (false, _, _) => SourcePort::Unbound,
            (true, 0, 0) => SourcePort::Any,
            (true, low, high) if low != 0 && low <= high => SourcePort::Range { low, high },
            (true, low, high) => {
                return fail(
                    MSRP_RESULT_INVALID_ARGUMENT,
                    format!("source port range {low}-{high}: need both 0, or 0 < low <= high"),
                )
            }
        };
        Ok(())
    }
}

/// Chooses how incoming chunks are matched to their session: `true` (the
/// default) by session id alone, which tolerates the host and port
/// rewrites of ALGs and SBCs (they never change the random session id;
/// RFC 6714 §4.1, the practice of sipsimple and RCS clients); `false` by
/// the strict RFC 4975 §6.1 URI comparison of To-Path and From-Path.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_set_session_id_matching(
    cfg: *mut msrp_endpoint_config_t,
    enabled: bool,
) -> msrp_result_t {
    ffi_boundary! { result:
        try_mut(cfg)?.matching = if enabled { PathMatching::SessionId } else { PathMatching::Uri };
        Ok(())
    }
}

/// Writes the SHA-256 fingerprint of the config's certificate to `*out`, as
/// upper-case colon-separated hex pairs (`AB:CD:...`; prefix `"sha-256 "` for
/// SDP `a=fingerprint`). Free with `msrp_string_free`.
/// `MSRP_RESULT_NOT_FOUND` when no certificate is set.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_endpoint_config_fingerprint(
    cfg: *const msrp_endpoint_config_t,
    out_text: *mut *mut c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_text = out(out_text, "out")?;
        let Some(identity) = &try_ref(cfg)?.identity else {
            return fail(MSRP_RESULT_NOT_FOUND, "the config has no certificate");
        };
        out_text.write(string_into_ptr(identity.fingerprint().to_string())?);
        Ok(())
    }
}
