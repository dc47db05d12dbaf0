//! `msrp_relay_settings_t`: which MSRP relay (RFC 4976) a relay connector or
//! acceptor authenticates to, with which credentials, how it is found (DNS,
//! §8), and the warning before its registration expires (§9.4).

use std::ffi::c_char;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::connector::msrp_connector_t;
use super::handle::{
    box_from_ptr, box_into_ptr, opt_str_arg, out, str_arg, try_mut, try_ref, Castable, OwnershipBox,
};
use super::result::{
    fail, msrp_result_t, MSRP_RESULT_INVALID_ARGUMENT, MSRP_RESULT_NOT_FOUND, MSRP_RESULT_PARSE,
};
use super::session::msrp_session_t;
use super::tls::fingerprint_arg;
use super::uri::parse_uri;
use crate::connect::relay::DEFAULT_EXPIRY_LEAD;
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
/// explicit opt-in to plain TCP) — or a bare domain such as `example.com`.
/// The relay is found as RFC 4976 §8 says: an address in the URI is the
/// relay; a domain name with a port is looked up (A/AAAA); a bare domain, or
/// a URI with a domain name and no port, is discovered: DNS SRV
/// `_msrps._tcp.<domain>` (RFC 2782 order), else the domain's A/AAAA
/// records at port 2855. `msrp_relay_settings_set_host` skips discovery;
/// `msrp_relay_settings_set_dns_server` picks the DNS server. When nothing
/// is found, prepare fails with `MSRP_RESULT_IO` and a text naming the
/// domain.
/// A relay URI with the `ws` transport (`msrp://host:port;ws`,
/// `msrps://host:port;ws` for WSS) is reached over WebSocket (RFC 7977 §8,
/// as Kamailio's websocket module serves it); the local URI then defaults to
/// a WebSocket client's, `msrp://<random>.invalid:2855/<id>;ws` (§5.2).
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

/// Sets the relay's host name or address (NULL: none, so the relay is
/// discovered in the domain through DNS, as for a bare domain in
/// `msrp_relay_settings_new`).
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

/// Sets the relay's port (0: none: from DNS SRV when discovering, else
/// 2855).
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

/// Sets the DNS server used to find the relay: an address with an optional
/// port (`"192.0.2.53"`, `"127.0.0.1:5353"`, `"[2001:db8::53]:53"`; port 53
/// when absent), asked over UDP (TCP for long answers). NULL: the system's
/// servers (resolv.conf). Fails with `MSRP_RESULT_PARSE` on anything else,
/// leaving the settings unchanged.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_dns_server(
    settings: *mut msrp_relay_settings_t,
    server: *const c_char,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        let server = match opt_str_arg(server, "server")? {
            None => None,
            Some(text) => {
                let text = text.trim();
                match (text.parse::<SocketAddr>(), text.parse::<IpAddr>()) {
                    (Ok(a), _) => Some(a),
                    (_, Ok(ip)) => Some(SocketAddr::new(ip, 53)),
                    _ => return fail(MSRP_RESULT_PARSE, "server is not an IP address with an optional port"),
                }
            }
        };
        s.dns_server = server;
        Ok(())
    }
}

/// Sets how long, in seconds, before the relay registration ends the
/// session's `on_relay_expiring` callback runs (0: the default, 120 s). At
/// most half the lifetime the relay grants is used.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_relay_settings_set_expiry_lead(
    settings: *mut msrp_relay_settings_t,
    lead_s: u32,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_mut(settings)?;
        s.expiry_lead = if lead_s == 0 { DEFAULT_EXPIRY_LEAD } else { Duration::from_secs(lead_s.into()) };
        Ok(())
    }
}

/// Milliseconds since the Unix epoch of an instant (the wall clock now plus
/// what is left).
fn unix_ms(at: Instant) -> u64 {
    let now_i = Instant::now();
    let now = SystemTime::now();
    let t = if at >= now_i {
        now + (at - now_i)
    } else {
        now - (now_i - at)
    };
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn grant(connector: *const msrp_connector_t) -> super::result::Result<(Instant, Instant)> {
    match try_ref(connector)?.relay_grant()? {
        Some(g) => Ok(g),
        None => fail(
            MSRP_RESULT_NOT_FOUND,
            "no relay registration: not a relay connector, or not prepared",
        ),
    }
}

/// Writes when the relay registration of a relay connector or acceptor
/// ends, in milliseconds since the Unix epoch, to `*out_unix_ms`. Known from
/// prepare on, and still after complete (until the next prepare).
///
/// Errors: `MSRP_RESULT_NOT_FOUND` (a direct connector, or nothing granted
/// yet), `MSRP_RESULT_INVALID_STATE` (a prepare or complete is running),
/// `MSRP_RESULT_NULL_POINTER`. Non-blocking; any thread.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_expires_at(
    connector: *const msrp_connector_t,
    out_unix_ms: *mut u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_unix_ms = out(out_unix_ms, "out_unix_ms")?;
        let (_, end) = grant(connector)?;
        out_unix_ms.write(unix_ms(end));
        Ok(())
    }
}

/// Writes when the warning before the registration's end is due (the
/// settings' expiry lead before `msrp_connector_expires_at`, at most half
/// the lifetime), in milliseconds since the Unix epoch. Errors as for
/// `msrp_connector_expires_at`.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_connector_expiry_warning_at(
    connector: *const msrp_connector_t,
    out_unix_ms: *mut u64,
) -> msrp_result_t {
    ffi_boundary! { result:
        let out_unix_ms = out(out_unix_ms, "out_unix_ms")?;
        let (warn, _) = grant(connector)?;
        out_unix_ms.write(unix_ms(warn));
        Ok(())
    }
}

/// Arms the session's `on_relay_expiring` callback from the registration of
/// the relay connector or acceptor whose transport the session runs on: it
/// runs once, at `msrp_connector_expiry_warning_at` (at once if that has
/// passed), unless the session has ended. The connector may be freed
/// afterwards. Call it again after renegotiating with the new connector.
///
/// Errors as for `msrp_connector_expires_at`. Non-blocking; any thread,
/// also inside callbacks.
#[unsafe(no_mangle)]
pub extern "C" fn msrp_session_watch_relay_expiry(
    session: *const msrp_session_t,
    connector: *const msrp_connector_t,
) -> msrp_result_t {
    ffi_boundary! { result:
        let s = try_ref(session)?;
        let (warn, end) = grant(connector)?;
        let rt = super::runtime::handle()?;
        let _enter = rt.enter();
        s.session.warn_relay_expiry(warn, end);
        Ok(())
    }
}
