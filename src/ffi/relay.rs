//! `msrp_relay_settings_t`: which MSRP relay (RFC 4976) a relay connector or
//! acceptor authenticates to, and with which credentials.

use std::ffi::c_char;

use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, str_arg, try_mut, Castable, OwnershipBox,
};
use super::result::{fail, msrp_result_t, MSRP_RESULT_INVALID_ARGUMENT};
use super::tls::fingerprint_arg;
use super::uri::parse_uri;
use crate::connect::RelaySettings;

/// The relay to use and how to authenticate to it: domain, username,
/// password, and optionally host, port, TLS, the relay certificate's
/// fingerprint, the requested registration lifetime.
///
/// Made by `msrp_relay_settings_new`, freed by `msrp_relay_settings_free`;
/// `msrp_connector_relay_new` and `msrp_acceptor_relay_new` copy it, so it
/// may be freed right after.
///
/// Thread-safety: not while being changed (set it up from one thread);
/// making connectors from it on several threads at once is safe.
pub struct msrp_relay_settings_t {
    _private: [u8; 0],
}

impl Castable for msrp_relay_settings_t {
    type Ownership = OwnershipBox;
    type RustType = RelaySettings;
}

/// Makes relay settings and writes them to `*out`.
///
/// `relay` is either a relay URI — `msrps://relay.example.com:2855;tcp`
/// (TLS to the relay, as RFC 4976 requires) or `msrp://host:port;tcp` (the
/// explicit opt-in to plain TCP) — giving host, port and TLS, or a bare
/// domain such as `example.com` (host = the domain, port 2855, TLS).
/// `username` and `password` are the relay's digest credentials. The relay's
/// certificate (TLS) is checked against the endpoint config's trust anchors
/// or the fingerprint set by `msrp_relay_settings_set_fingerprint`.
///
/// Errors: `MSRP_RESULT_NULL_POINTER`, `MSRP_RESULT_PARSE` (a malformed
/// relay URI), `MSRP_RESULT_INVALID_ARGUMENT` (an empty domain).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_new(
    relay: *const c_char,
    username: *const c_char,
    password: *const c_char,
    out_settings: *mut *mut msrp_relay_settings_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_settings = out(out_settings, "out")?;
        let relay = str_arg(relay, "relay")?;
        let username = str_arg(username, "username")?;
        let password = str_arg(password, "password")?;
        let settings = if relay.contains("://") {
            RelaySettings::from_uri(&parse_uri(relay)?, username, password)
        } else {
            if relay.trim().is_empty() || relay.chars().any(|c| c.is_whitespace() || c == '/') {
                return fail(MSRP_RESULT_INVALID_ARGUMENT, "relay is neither a relay URI nor a domain");
            }
            RelaySettings::new(relay, username, password)
        };
        out_settings.write(box_into_ptr(settings));
        Ok(())
    }
}

/// Frees relay settings (connectors made from them are not affected). NULL
/// is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_free(settings: *mut msrp_relay_settings_t) {
    ffi_boundary! {
        // SAFETY: the caller passes settings from msrp_relay_settings_new, once.
        drop(unsafe { box_from_ptr(settings) });
    }
}

/// Sets the relay's host name or address (NULL: back to the domain).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_host(
    settings: *mut msrp_relay_settings_t,
    host: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.host = opt_str_arg(host, "host")?.map(str::to_owned);
        Ok(())
    }
}

/// Sets the relay's port (0: back to the default, 2855).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_port(
    settings: *mut msrp_relay_settings_t,
    port: u16,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.port = (port != 0).then_some(port);
        Ok(())
    }
}

/// Sets whether the relay connection uses TLS (msrps; the default, as RFC
/// 4976 requires). False is the explicit opt-in to plain TCP.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_tls(
    settings: *mut msrp_relay_settings_t,
    use_tls: bool,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.use_tls = use_tls;
        Ok(())
    }
}

/// Sets the relay certificate's expected SHA-256 fingerprint (`sha-256
/// AB:CD:...` or just the hex pairs; NULL: none), accepted besides the
/// config's trust anchors. Fails with `MSRP_RESULT_PARSE` on a malformed
/// fingerprint, leaving the settings unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_fingerprint(
    settings: *mut msrp_relay_settings_t,
    fingerprint: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.fingerprint = fingerprint_arg(fingerprint)?;
        Ok(())
    }
}

/// Sets the registration lifetime, in seconds, asked of the relay in AUTH
/// (0: none asked; the relay decides either way).
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_expires(
    settings: *mut msrp_relay_settings_t,
    expires_s: u32,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.expires = (expires_s != 0).then_some(expires_s);
        Ok(())
    }
}
