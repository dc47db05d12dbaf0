//! Direct connections without a relay: [`ConnectorDirect`] (the active side:
//! connects to the first hop of the remote path and binds) and
//! [`AcceptorDirect`] (the passive side: listens and waits for the peer's
//! binding chunk). prepare → complete → transport, or cleanup.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::server::Server;
use super::{bind_outgoing, check_connect_path, open_stream, ConnectError, EndpointConfig};
use crate::protocol::{ids, Host, Uri};
use crate::transport::tls::Fingerprint;
use crate::transport::{Transport, TransportInfo};

/// The active side of a direct connection.
#[derive(Debug)]
pub struct ConnectorDirect {
    config: EndpointConfig,
    local_uri: Option<Uri>,
}

impl ConnectorDirect {
    pub fn new(config: EndpointConfig) -> ConnectorDirect {
        ConnectorDirect {
            config,
            local_uri: None,
        }
    }

    /// Returns the full local path for SDP. `local_uri` is only advertised
    /// (its port is never the socket's source port); without one, a URI on
    /// 127.0.0.1 with a random session id is generated (msrps when this
    /// endpoint has a certificate). A missing session id is generated.
    pub fn prepare(&mut self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        let mut uri = local_uri.unwrap_or_else(|| {
            Uri::new(
                Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                Some(0),
                None,
                self.config.identity.is_some(),
            )
        });
        if uri.session_id.is_none() {
            uri.session_id = Some(ids::session_id());
        }
        if uri.port.is_none() {
            uri.port = Some(0);
        }
        self.local_uri = Some(uri.clone());
        Ok(vec![uri])
    }

    /// Connects to the first hop of `remote_path` (TLS for msrps, checking
    /// the peer's certificate against `fingerprint` from its SDP and/or the
    /// configured trust anchors), sends the binding chunk and waits for its
    /// 200. `timeout` covers all of it (the configured default when `None`).
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
        let work = async {
            let stream = open_stream(&remote_path[0], &config, &verify).await?;
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

    /// Forgets the prepared local URI.
    pub fn cleanup(&mut self) {
        self.local_uri = None;
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
