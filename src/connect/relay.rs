//! Connections through an MSRP relay (RFC 4976): [`RelaySettings`] (python-msrplib's
//! `MSRPRelaySettings`), AUTH with digest authentication (§5, §9.1),
//! and [`ConnectorRelay`] / [`AcceptorRelay`] (prepare authenticates and
//! returns the path for SDP; complete binds through the relay).
//!
//! Paths (§5.1): the SDP path is the Use-Path reversed, then the local URI;
//! outgoing To-Path is the Use-Path followed by the peer's SDP path. Incoming
//! From-Path carries the relays, so the binding check compares its last URI.
//!
//! Relay discovery (§8: `host`, or SRV `_msrps._tcp.<domain>`, or the
//! domain's addresses) lives in the discovery module.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{bind_on, check_remote_path, discovery, ConnectError, EndpointConfig};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::digest::{self, Challenge};
use crate::protocol::{ids, Chunk, Header, Host, Method, Uri};
use crate::transport::tls::Fingerprint;
use crate::transport::{MsrpError, Transport, TransportError, TransportInfo};

/// The port used when the settings name none (RFC 4975 §6 recommends 2855).
pub const RECOMMENDED_PORT: u16 = 2855;

/// How long before a registration expires the application is warned by
/// default (see [`RelaySettings::expiry_lead`]): time for a re-AUTH and an
/// SDP offer/answer through the signalling.
pub const DEFAULT_EXPIRY_LEAD: Duration = Duration::from_secs(120);

/// Which relay to use and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// The domain to look the relay up in (RFC 4976 §8) when `host` is
    /// `None`.
    pub domain: String,
    pub username: String,
    pub password: String,
    /// The relay's host name or address. `None`: discovery in `domain`
    /// (SRV `_msrps._tcp.<domain>` when `port` is `None` too, then the
    /// domain's A/AAAA records).
    pub host: Option<String>,
    /// The relay's port (default: from SRV, else 2855).
    pub port: Option<u16>,
    /// TLS to the relay (msrps). RFC 4976 requires it; plain TCP is the
    /// explicit opt-in of setting this to false.
    pub use_tls: bool,
    /// Reach the relay over WebSocket (RFC 7977; wss with `use_tls`): a
    /// relay URI with the `ws` transport. The local URI is then a WebSocket
    /// client's, `msrp://<random>.invalid:2855/<id>;ws` (§5.2, §8), unless
    /// one is given.
    pub websocket: bool,
    /// The relay certificate's expected fingerprint (besides, or instead of,
    /// the endpoint's trust anchors).
    pub fingerprint: Option<Fingerprint>,
    /// Requested registration lifetime in seconds (the relay decides).
    pub expires: Option<u32>,
    /// The DNS server for relay discovery (`None`: the system's, from
    /// resolv.conf).
    pub dns_server: Option<std::net::SocketAddr>,
    /// How long before the registration's end the application is warned
    /// that it must renegotiate (RFC 4976 §9.4: a re-AUTH gives a new URI,
    /// so a new offer/answer is needed). At most half the lifetime granted
    /// is used. Default [`DEFAULT_EXPIRY_LEAD`].
    pub expiry_lead: Duration,
}

impl RelaySettings {
    /// Settings for `domain` with TLS, as RFC 4976 requires.
    pub fn new(
        domain: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> RelaySettings {
        RelaySettings {
            domain: domain.into(),
            username: username.into(),
            password: password.into(),
            host: None,
            port: None,
            use_tls: true,
            websocket: false,
            fingerprint: None,
            expires: None,
            dns_server: None,
            expiry_lead: DEFAULT_EXPIRY_LEAD,
        }
    }

    /// Settings from a relay URI such as `msrps://relay.example.com:2855;tcp`
    /// (an `msrp://` URI is the explicit opt-in to plain TCP). As RFC 4976
    /// §8 reads such a URI: an address is the relay; a domain name with a
    /// port is looked up (A/AAAA); a domain name without one is discovered
    /// (SRV `_msrps._tcp`, then A/AAAA at 2855).
    pub fn from_uri(
        uri: &Uri,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> RelaySettings {
        let name = uri.host.connect_name();
        let host = matches!(uri.host, Host::Ip(_)).then(|| name.clone());
        RelaySettings {
            domain: name,
            username: username.into(),
            password: password.into(),
            host,
            port: uri.port,
            use_tls: uri.secure,
            websocket: uri.transport.eq_ignore_ascii_case("ws"),
            fingerprint: None,
            expires: None,
            dns_server: None,
            expiry_lead: DEFAULT_EXPIRY_LEAD,
        }
    }

    /// The relay's URI, as put in the AUTH To-Path.
    pub fn relay_uri(&self) -> Result<Uri, ConnectError> {
        let host_text = self.host.clone().unwrap_or_else(|| self.domain.clone());
        let host = Host::parse(&host_text).map_err(|e| ConnectError::InvalidPath(e.to_string()))?;
        let mut uri = Uri::new(
            host,
            Some(self.port.unwrap_or(RECOMMENDED_PORT)),
            None,
            self.use_tls,
        );
        if self.websocket {
            uri.transport = "ws".into();
        }
        Ok(uri)
    }
}

/// A successful AUTH: the connection to the relay and what it granted.
pub struct Registration {
    transport: Transport,
    /// The Use-Path the relay returned (RFC 4976 §5.1).
    pub use_path: Vec<Uri>,
    /// When the relay's grant ends (RFC 4976 §9.4: a new AUTH gives a new URI
    /// and needs a new offer/answer).
    pub expires_at: Instant,
    pub local_uri: Uri,
}

/// Reads responses until the one for `tid`, keeping nothing else.
async fn read_response(t: &mut Transport, tid: &str) -> Result<Chunk, ConnectError> {
    loop {
        match t.read_chunk(None).await {
            Ok(c) if !c.is_request() && c.transaction_id == tid => return Ok(c),
            Ok(_) => continue,
            Err(TransportError::Parse(e)) if !e.fatal => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn auth_request(
    local: &Uri,
    relay: &Uri,
    authorization: Option<Header>,
    expires: Option<u32>,
) -> Chunk {
    let mut c = Chunk::request(ids::transaction_id(), Method::Auth);
    c.add_header(Header::ToPath(vec![relay.clone()].into()));
    c.add_header(Header::FromPath(vec![local.clone()].into()));
    if let Some(a) = authorization {
        c.add_header(a);
    }
    if let Some(e) = expires {
        c.add_header(Header::Expires(e));
    }
    c
}

/// Connects to the relay and authenticates (RFC 4976 §5): AUTH → 401 with
/// a digest challenge → AUTH with Authorization (always with `uri=`) → 200
/// with Use-Path and Expires. A 423 is retried with the relay's
/// Min-Expires/Max-Expires; 403, a second 401 and other errors are returned
/// with the relay's words.
pub async fn authenticate(
    config: &EndpointConfig,
    settings: &RelaySettings,
    local_uri: &Uri,
) -> Result<Registration, ConnectError> {
    let (stream, relay) = discovery::connect(config, settings).await?;
    let info = TransportInfo::new(
        vec![local_uri.clone()],
        vec![relay.clone()],
        Vec::new(),
        config.matching,
        &stream,
        config.limits,
        config.logger.clone(),
    );
    let mut t = Transport::new(
        stream,
        info,
        Default::default(),
        crate::protocol::ChunkReader::new(config.limits),
        VecDeque::new(),
    );
    let relay_text = relay.to_string();
    let mut expires = settings.expires;
    let mut authorization: Option<Header> = None;
    let mut challenge: Option<Challenge> = None;
    let mut nc = 0u32;
    let mut challenged_twice = false;
    for _ in 0..6 {
        let req = auth_request(local_uri, &relay, authorization.clone(), expires);
        t.write_chunk(&req).await?;
        let resp = read_response(&mut t, &req.transaction_id).await?;
        let code = resp.code().unwrap_or(0);
        let comment = resp.comment().unwrap_or("").to_string();
        match code {
            200 => {
                let use_path = resp.use_path().cloned().ok_or_else(|| {
                    ConnectError::Protocol("relay's 200 to AUTH has no Use-Path".into())
                })?;
                let secs = resp.expires().or(expires).unwrap_or(3600);
                msrp_log!(
                    config.logger,
                    Level::Info,
                    "relay {relay_text}: authenticated, Use-Path {}, expires in {secs} s",
                    Uri::format_path(&use_path)
                );
                return Ok(Registration {
                    transport: t,
                    use_path: use_path.into(),
                    expires_at: Instant::now() + Duration::from_secs(secs as u64),
                    local_uri: local_uri.clone(),
                });
            }
            401 => {
                if authorization.is_some() && challenged_twice {
                    return Err(ConnectError::Authentication(MsrpError::new(code, comment)));
                }
                if authorization.is_some() {
                    challenged_twice = true;
                }
                let h = resp
                    .header("WWW-Authenticate")
                    .ok_or_else(|| ConnectError::Protocol("401 without WWW-Authenticate".into()))?;
                let ch =
                    Challenge::from_header(h).map_err(|e| ConnectError::Protocol(e.to_string()))?;
                // A fresh challenge after credentials is only retried when the relay calls the nonce stale.
                if authorization.is_some() && !ch.stale {
                    return Err(ConnectError::Authentication(MsrpError::new(code, comment)));
                }
                nc = 1;
                authorization = Some(digest::authorization(
                    &settings.username,
                    &settings.password,
                    &ch,
                    &relay_text,
                    nc,
                ));
                challenge = Some(ch);
            }
            423 => {
                let min = resp.headers.iter().find_map(|h| match h {
                    Header::MinExpires(v) => Some(*v),
                    _ => None,
                });
                let max = resp.headers.iter().find_map(|h| match h {
                    Header::MaxExpires(v) => Some(*v),
                    _ => None,
                });
                expires = match (min, max) {
                    (Some(m), _) => Some(m),
                    (None, Some(m)) => Some(m),
                    (None, None) => {
                        return Err(ConnectError::Rejected(MsrpError::new(code, comment)))
                    }
                };
                if let Some(ch) = &challenge {
                    nc += 1;
                    authorization = Some(digest::authorization(
                        &settings.username,
                        &settings.password,
                        ch,
                        &relay_text,
                        nc,
                    ));
                }
            }
            403 => return Err(ConnectError::Authentication(MsrpError::new(code, comment))),
            _ => return Err(ConnectError::Rejected(MsrpError::new(code, comment))),
        }
    }
    Err(ConnectError::Protocol(
        "relay kept answering AUTH without granting or refusing".into(),
    ))
}

fn default_local_uri(config: &EndpointConfig, websocket: bool, local_uri: Option<Uri>) -> Uri {
    let mut uri = local_uri.unwrap_or_else(|| {
        if websocket {
            // A WebSocket client's URI (RFC 7977 §5.2): nobody connects to it.
            let mut u = Uri::new(
                Host::Name(format!(
                    "{}.invalid",
                    ids::session_id().to_ascii_lowercase()
                )),
                Some(RECOMMENDED_PORT),
                None,
                config.identity.is_some(),
            );
            u.transport = "ws".into();
            return u;
        }
        Uri::new(
            Host::Ip(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            Some(RECOMMENDED_PORT),
            None,
            config.identity.is_some(),
        )
    });
    if uri.session_id.is_none() {
        uri.session_id = Some(ids::session_id());
    }
    // Nothing listens on the local URI (the relay carries the session), but
    // a path never advertises port 0: RFC 4145 §4's discard port instead.
    if uri.port == Some(0) {
        uri.port = Some(super::DISCARD_PORT);
    }
    uri
}

/// The SDP path for a registration: the Use-Path reversed, then the local URI.
fn sdp_path(reg: &Registration) -> Vec<Uri> {
    let mut p: Vec<Uri> = reg.use_path.iter().rev().cloned().collect();
    p.push(reg.local_uri.clone());
    p
}

/// What both relay sides share: settings, the registration between
/// prepare and complete, and the grant's times (kept after complete).
struct RelayEndpoint {
    config: EndpointConfig,
    relay: RelaySettings,
    registration: Option<Registration>,
    /// When the last registration was granted and when it ends.
    grant: Option<(Instant, Instant)>,
}

impl RelayEndpoint {
    fn new(config: EndpointConfig, relay: RelaySettings) -> RelayEndpoint {
        RelayEndpoint {
            config,
            relay,
            registration: None,
            grant: None,
        }
    }

    async fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        let local = default_local_uri(&self.config, self.relay.websocket, local_uri);
        let granted = Instant::now();
        let reg = authenticate(&self.config, &self.relay, &local).await?;
        let path = sdp_path(&reg);
        self.grant = Some((granted, reg.expires_at));
        self.registration = Some(reg);
        Ok(path)
    }

    fn expires_at(&self) -> Option<Instant> {
        self.grant.map(|(_, end)| end)
    }

    /// `expiry_lead` before the end, but no earlier than half-way.
    fn warn_at(&self) -> Option<Instant> {
        let (granted, end) = self.grant?;
        let lead = self.relay.expiry_lead.min((end - granted) / 2);
        Some(end - lead)
    }

    fn cleanup(&mut self) {
        if self.registration.take().is_some() {
            self.grant = None;
        }
    }

    /// The relay connection, now carrying the session's paths.
    fn take_transport(&mut self, remote_path: &[Uri]) -> Result<Transport, ConnectError> {
        check_remote_path(remote_path)?;
        let reg = self.registration.take().ok_or(ConnectError::NotPrepared)?;
        let local_path = sdp_path(&reg);
        let info =
            reg.transport
                .info()
                .rebound(local_path, remote_path.to_vec(), reg.use_path.clone());
        Ok(reg.transport.with_info(info))
    }
}

/// The active side through a relay.
pub struct ConnectorRelay {
    inner: RelayEndpoint,
}

impl ConnectorRelay {
    pub fn new(config: EndpointConfig, relay: RelaySettings) -> ConnectorRelay {
        ConnectorRelay {
            inner: RelayEndpoint::new(config, relay),
        }
    }

    /// The same registration, as the passive side: when SDP (RFC 6135
    /// §4.5) makes the peer the one that sends the first SEND.
    pub fn into_acceptor(self) -> AcceptorRelay {
        AcceptorRelay { inner: self.inner }
    }

    /// Authenticates to the relay and returns the full local path for SDP.
    /// The local URI is only advertised (a random one when `None`).
    pub async fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        self.inner.prepare(local_uri).await
    }

    /// When the relay's grant ends (renegotiate before then). Kept after
    /// complete, until the next prepare.
    pub fn expires_at(&self) -> Option<Instant> {
        self.inner.expires_at()
    }

    /// When the application is to be warned: `expiry_lead` before
    /// [`expires_at`](Self::expires_at), no earlier than half the lifetime.
    /// Hand both to `Session::warn_relay_expiry` for a
    /// `SessionEvent::RelayExpiring` in time to renegotiate.
    pub fn expiry_warning_at(&self) -> Option<Instant> {
        self.inner.warn_at()
    }

    /// Binds to the peer at `remote_path` through the relay: sends the
    /// binding SEND (To-Path: Use-Path, then the remote path) and waits for
    /// the relay's 200.
    pub async fn complete(
        &mut self,
        remote_path: &[Uri],
        timeout: Option<Duration>,
    ) -> Result<Transport, ConnectError> {
        let t = self.inner.take_transport(remote_path)?;
        let timeout = timeout.unwrap_or(self.inner.config.bind_timeout);
        tokio::time::timeout(timeout, bind_on(t))
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    /// Closes the relay connection (if prepared and not completed).
    pub fn cleanup(&mut self) {
        self.inner.cleanup();
    }
}

/// The passive side through a relay.
pub struct AcceptorRelay {
    inner: RelayEndpoint,
}

impl AcceptorRelay {
    pub fn new(config: EndpointConfig, relay: RelaySettings) -> AcceptorRelay {
        AcceptorRelay {
            inner: RelayEndpoint::new(config, relay),
        }
    }

    /// The same registration, as the active side: when SDP (RFC 6135
    /// §4.5) makes this end the one that sends the first SEND.
    pub fn into_connector(self) -> ConnectorRelay {
        ConnectorRelay { inner: self.inner }
    }

    /// Authenticates to the relay and returns the path to put in SDP.
    pub async fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        self.inner.prepare(local_uri).await
    }

    /// When the relay's grant ends (renegotiate before then). Kept after
    /// complete, until the next prepare.
    pub fn expires_at(&self) -> Option<Instant> {
        self.inner.expires_at()
    }

    /// When the application is to be warned: `expiry_lead` before
    /// [`expires_at`](Self::expires_at), no earlier than half the lifetime.
    /// Hand both to `Session::warn_relay_expiry` for a
    /// `SessionEvent::RelayExpiring` in time to renegotiate.
    pub fn expiry_warning_at(&self) -> Option<Instant> {
        self.inner.warn_at()
    }

    /// Waits for the peer's first chunk arriving through the relay; its
    /// From-Path must end with the remote endpoint's URI. A bodiless binding
    /// is answered here; a first chunk with a body is left for the session.
    pub async fn complete(
        &mut self,
        remote_path: &[Uri],
        timeout: Option<Duration>,
    ) -> Result<Transport, ConnectError> {
        let mut t = self.inner.take_transport(remote_path)?;
        let timeout = timeout.unwrap_or(self.inner.config.bind_timeout);
        let wait = async {
            loop {
                let chunk = match t.read_chunk(None).await {
                    Ok(c) => c,
                    Err(TransportError::Parse(e)) if !e.fatal => continue,
                    Err(e) => return Err(ConnectError::from(e)),
                };
                if chunk.method() != Some(&Method::Send) {
                    continue;
                }
                if let Err(e) = t.check_incoming_send_chunk(&chunk) {
                    t.write_response(&chunk, e.code, Some(&e.comment)).await?;
                    continue;
                }
                if chunk.has_body() {
                    let mut pending = VecDeque::new();
                    pending.push_back(chunk);
                    t.reader.push_pending(pending);
                } else {
                    t.write_response(&chunk, 200, None).await?;
                }
                return Ok(());
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| ConnectError::Timeout)??;
        Ok(t)
    }

    pub fn cleanup(&mut self) {
        self.inner.cleanup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_uri_reads_as_rfc_4976_section_8_says() {
        // An address: that relay.
        let s =
            RelaySettings::from_uri(&Uri::parse("msrps://192.0.2.1:9000;tcp").unwrap(), "u", "p");
        assert_eq!(
            (s.host.as_deref(), s.port, s.use_tls),
            (Some("192.0.2.1"), Some(9000), true)
        );
        // A domain name with a port: its addresses at that port.
        let s = RelaySettings::from_uri(
            &Uri::parse("msrps://example.com:9000;tcp").unwrap(),
            "u",
            "p",
        );
        assert_eq!(
            (s.host.as_deref(), s.port, s.domain.as_str()),
            (None, Some(9000), "example.com")
        );
        // A domain name alone: SRV discovery.
        let s = RelaySettings::from_uri(&Uri::parse("msrps://example.com;tcp").unwrap(), "u", "p");
        assert_eq!((s.host.as_deref(), s.port), (None, None));
        // msrp: the plain TCP opt-in.
        let s = RelaySettings::from_uri(&Uri::parse("msrp://example.com;tcp").unwrap(), "u", "p");
        assert!(!s.use_tls);
    }

    #[test]
    fn the_local_uri_never_advertises_port_0() {
        let config = EndpointConfig::default();
        let port = |u: Option<&str>| {
            default_local_uri(&config, false, u.map(|u| Uri::parse(u).unwrap())).port
        };
        assert_eq!(port(None), Some(RECOMMENDED_PORT));
        assert_eq!(port(Some("msrp://127.0.0.1:0/zero;tcp")), Some(9));
        assert_eq!(port(Some("msrp://127.0.0.1:4000/given;tcp")), Some(4000));
        assert_eq!(port(Some("msrp://example.com/none;tcp")), None);
    }

    #[test]
    fn warning_comes_at_the_lead_but_not_before_half_way() {
        let mut ep = RelayEndpoint::new(
            EndpointConfig::default(),
            RelaySettings::new("example.com", "u", "p"),
        );
        assert_eq!(ep.warn_at(), None);
        let t0 = Instant::now();
        ep.grant = Some((t0, t0 + Duration::from_secs(3600)));
        assert_eq!(
            ep.warn_at(),
            Some(t0 + Duration::from_secs(3600) - DEFAULT_EXPIRY_LEAD)
        );
        ep.grant = Some((t0, t0 + Duration::from_secs(60)));
        assert_eq!(ep.warn_at(), Some(t0 + Duration::from_secs(30)));
        // cleanup after complete keeps the grant (the session still uses it).
        ep.cleanup();
        assert!(ep.expires_at().is_some());
    }
}
