//! Direct connections without a relay: [`ConnectorDirect`] (the active side:
//! connects to the first hop of the remote path and binds) and
//! [`AcceptorDirect`] (the passive side: listens and waits for the peer's
//! binding chunk). prepare → complete → transport, or cleanup.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::server::Server;
use super::source_port::ReservedPort;
use super::{
    bind_outgoing, check_connect_path, open_stream, ConnectError, EndpointConfig, DISCARD_PORT,
};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::{ids, Host, Uri};
use crate::transport::tls::Fingerprint;
use crate::transport::{Transport, TransportInfo};

/// The active side of a direct connection.
#[derive(Debug)]
pub struct ConnectorDirect {
    config: EndpointConfig,
    local_uri: Option<Uri>,
    /// With a binding [`SourcePort`](super::SourcePort): the port of the
    /// path, held from prepare until complete connects from it.
    source: Option<ReservedPort>,
}

/// Whether a local URI names an IPv6 address (the family of the socket
/// reserved for it; any other host reserves an IPv4 one).
fn is_v6(uri: &Uri) -> bool {
    matches!(uri.host, Host::Ip(IpAddr::V6(_)))
}

impl ConnectorDirect {
    pub fn new(config: EndpointConfig) -> ConnectorDirect {
        ConnectorDirect {
            config,
            local_uri: None,
            source: None,
        }
    }

    /// Returns the full local path for SDP. Without `local_uri`, the local
    /// URI is on 127.0.0.1 with a random session id (msrps when this
    /// endpoint has a certificate); a missing session id is generated.
    ///
    /// Its port: with the default [`SourcePort::Unbound`](super::SourcePort)
    /// it is only advertised, never the socket's source port: the local
    /// URI's, or [`DISCARD_PORT`] (9) when it has none or 0 (a path never
    /// carries port 0). With [`SourcePort::Any`](super::SourcePort::Any) or
    /// [`SourcePort::Range`](super::SourcePort::Range) it is bound here and
    /// complete connects from it: the local URI's port when not 0, else a
    /// free one (of the range); a port in use is
    /// [`ConnectError::AddressInUse`]. The port stays reserved until
    /// complete connects, or cleanup, drop or another prepare.
    pub fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        self.source = None;
        self.local_uri = None;
        let mut uri = local_uri.unwrap_or_else(|| {
            Uri::new(
                Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                None,
                None,
                self.config.identity.is_some(),
            )
        });
        if uri.session_id.is_none() {
            uri.session_id = Some(ids::session_id());
        }
        let given = uri.port.filter(|&p| p != 0);
        if self.config.source_port.binds() {
            let reserved = ReservedPort::reserve(self.config.source_port, given, is_v6(&uri))?;
            uri.port = Some(reserved.port());
            msrp_log!(
                self.config.logger,
                Level::Debug,
                "source port {} reserved for {uri}",
                reserved.port()
            );
            self.source = Some(reserved);
        } else {
            uri.port = Some(given.unwrap_or(DISCARD_PORT));
        }
        self.local_uri = Some(uri.clone());
        Ok(vec![uri])
    }

    /// Connects to the first hop of `remote_path` (TLS for msrps, checking
    /// the peer's certificate against `fingerprint` from its SDP and/or the
    /// configured trust anchors), from the path's port when the source port
    /// is bound, sends the binding chunk and waits for its 200. `timeout`
    /// covers all of it (the configured default when `None`). A complete
    /// tried again after a failure binds the path's port again.
    pub async fn complete(
        &mut self,
        remote_path: &[Uri],
        fingerprint: Option<Fingerprint>,
        timeout: Option<Duration>,
    ) -> Result<Transport, ConnectError> {
        let local = self.local_uri.clone().ok_or(ConnectError::NotPrepared)?;
        check_connect_path(remote_path)?;
        let timeout = timeout.unwrap_or(self.config.bind_timeout);
        let config = self.config.clone();
        let verify = config.peer_verification(fingerprint);
        let source = match self.source.take() {
            Some(s) => Some(s),
            None if config.source_port.binds() => Some(ReservedPort::reserve(
                config.source_port,
                local.port,
                is_v6(&local),
            )?),
            None => None,
        };
        let work = async {
            let stream = open_stream(&remote_path[0], &config, &verify, source).await?;
            let info = TransportInfo::new(
                vec![local],
                remote_path.to_vec(),
                Vec::new(),
                config.matching,
                &stream,
                config.limits,
                config.logger.clone(),
            );
            bind_outgoing(stream, info).await
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| ConnectError::Timeout)?
    }

    /// Forgets the prepared local URI and frees its reserved port.
    pub fn cleanup(&mut self) {
        self.local_uri = None;
        self.source = None;
    }
}

/// The passive side of a direct connection: its own listener, one session.
pub struct AcceptorDirect {
    server: Server,
    local_uri: Option<Uri>,
}

impl AcceptorDirect {
    pub fn new(config: EndpointConfig) -> AcceptorDirect {
        AcceptorDirect {
            server: Server::new(config),
            local_uri: None,
        }
    }

    /// Starts listening where `local_uri` says (port 0 picks a free port and
    /// the returned path carries it) and returns the full local path for SDP.
    pub async fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        let path = self.server.prepare(local_uri).await?;
        self.local_uri = path.last().cloned();
        Ok(path)
    }

    /// Waits for the peer's connection whose binding chunk comes from
    /// `remote_path` (and, over TLS with `fingerprint`, whose client
    /// certificate matches it), answers it and returns the transport.
    pub async fn complete(
        &mut self,
        remote_path: &[Uri],
        fingerprint: Option<Fingerprint>,
        timeout: Option<Duration>,
    ) -> Result<Transport, ConnectError> {
        let local = self.local_uri.clone().ok_or(ConnectError::NotPrepared)?;
        let t = self
            .server
            .complete(&local, remote_path, fingerprint, timeout)
            .await?;
        self.server.close();
        Ok(t)
    }

    /// Closes the listener.
    pub fn cleanup(&mut self) {
        self.server.close();
        self.local_uri = None;
    }

    /// The local URI after prepare.
    pub fn local_uri(&self) -> Option<&Uri> {
        self.local_uri.as_ref()
    }

    /// The endpoint configuration it was made with.
    pub fn config(&self) -> &EndpointConfig {
        self.server.config()
    }
}
