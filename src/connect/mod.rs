//! The connect layer (the seed's `msrplib.connect`): establishing and binding
//! connections. [`ConnectorDirect`] (active side), [`AcceptorDirect`] (passive
//! side with its own listener), [`Server`] (one listening socket shared by many
//! sessions, routing by session id) and, for relays, the relay module.
//!
//! Connection reuse (RFC 4975 §5.4) is not done: every session gets its own
//! connection. A second connection trying to bind a session that is already
//! bound is answered 506.

pub mod direct;
pub mod discovery;
pub mod relay;
pub mod server;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls::RootCertStore;
use tokio::net::TcpStream;

use crate::log::{default_logger, Level, SharedLogger};
use crate::msrp_log;
use crate::protocol::{ChunkReader, Header, Limits, Uri};
use crate::transport::tls::{self, PeerVerification, TlsError, TlsIdentity};
use crate::transport::{
    ChunkParams, MsrpError, PathMatching, Stream, Transport, TransportError, TransportInfo,
};

pub use direct::{AcceptorDirect, ConnectorDirect};
pub use relay::{AcceptorRelay, ConnectorRelay, RelaySettings};
pub use server::Server;

/// The default time allowed for connecting and binding.
pub const DEFAULT_BIND_TIMEOUT: Duration = Duration::from_secs(30);

/// Default most sessions one [`Server`] holds (prepared or bound, until
/// `cleanup`). With the default 1 MiB chunk limit, 1,000 sessions can make
/// the transports assemble at most 1 GiB at once; see the C header's
/// "Resource limits" for the whole arithmetic.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

/// Default largest chunk payload a connection assembles (and largest
/// undeclared-length chunk it accepts): 1 MiB. Senders of this library use
/// 8 KiB chunks; relays pass about 10 KiB.
pub const DEFAULT_MAX_CHUNK: u64 = 1 << 20;

/// TCP keepalive on every connection: first probe after this long idle.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// TCP keepalive: time between probes, and how many unanswered probes end
/// the connection (30 + 3 × 10 = 60 seconds to find a vanished peer).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_PROBES: u32 = 3;

/// Why establishing or binding a connection failed.
#[derive(Debug)]
pub enum ConnectError {
    /// A path or URI that cannot be used (no port, wrong scheme, empty).
    InvalidPath(String),
    /// TCP-level failure (refused, unreachable, reset).
    Io(io::Error),
    /// TLS failure, including a certificate fingerprint mismatch.
    Tls(TlsError),
    /// Nothing bound within the timeout.
    Timeout,
    /// The peer answered the binding with an error.
    Rejected(MsrpError),
    /// The peer or the connection misbehaved during binding.
    Protocol(String),
    /// `prepare` was not called, or `cleanup` was.
    NotPrepared,
    /// Cancelled by cleanup or free.
    Cancelled,
    /// A relay refused authentication (403, or 401 again), with its words.
    Authentication(MsrpError),
    /// A resource limit would be exceeded (the text says which).
    LimitExceeded(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::InvalidPath(s) => write!(f, "invalid path: {s}"),
            ConnectError::Io(e) => write!(f, "connection failed: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS failed: {e}"),
            ConnectError::Timeout => f.write_str("timed out"),
            ConnectError::Rejected(e) => write!(f, "binding rejected: {e}"),
            ConnectError::Protocol(s) => write!(f, "protocol error: {s}"),
            ConnectError::NotPrepared => f.write_str("prepare was not called (or cleanup was)"),
            ConnectError::Cancelled => f.write_str("cancelled"),
            ConnectError::Authentication(e) => write!(f, "relay authentication failed: {e}"),
            ConnectError::LimitExceeded(s) => write!(f, "limit exceeded: {s}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::Io(e)
    }
}

impl From<TlsError> for ConnectError {
    fn from(e: TlsError) -> Self {
        ConnectError::Tls(e)
    }
}

impl From<TransportError> for ConnectError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Io(e) => ConnectError::Io(e),
            other => ConnectError::Protocol(other.to_string()),
        }
    }
}

/// Settings shared by connectors, acceptors and servers.
#[derive(Clone)]
pub struct EndpointConfig {
    pub logger: SharedLogger,
    /// This endpoint's certificate and key (required to accept msrps; presented
    /// as a client certificate when connecting).
    pub identity: Option<TlsIdentity>,
    /// Trust anchors for the peer's certificate (besides, or instead of, the
    /// fingerprint from SDP).
    pub trust_anchors: Option<Arc<RootCertStore>>,
    pub limits: Limits,
    pub matching: PathMatching,
    /// Time allowed for connecting and binding when the caller gives none.
    pub bind_timeout: Duration,
    /// Most sessions a [`Server`] made with this config holds, prepared or
    /// bound, until `cleanup` ([`DEFAULT_MAX_SESSIONS`]); `prepare` beyond it
    /// fails with [`ConnectError::LimitExceeded`].
    pub max_sessions: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            logger: default_logger(),
            identity: None,
            trust_anchors: None,
            limits: Limits {
                max_assembled_chunk: DEFAULT_MAX_CHUNK,
                max_undeclared_chunk: DEFAULT_MAX_CHUNK,
                ..Limits::default()
            },
            matching: PathMatching::Uri,
            bind_timeout: DEFAULT_BIND_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("identity", &self.identity.is_some())
            .field("bind_timeout", &self.bind_timeout)
            .finish()
    }
}

impl EndpointConfig {
    /// How to verify a peer that gave `fingerprint` in its SDP.
    pub fn peer_verification(&self, fingerprint: Option<tls::Fingerprint>) -> PeerVerification {
        PeerVerification::new(self.trust_anchors.clone(), fingerprint)
    }
}

/// Checks a full path from SDP: at least one URI, every hop with a port and
/// the tcp transport (RFC 7977's ws is parsed but not served).
pub fn check_remote_path(path: &[Uri]) -> Result<(), ConnectError> {
    if path.is_empty() {
        return Err(ConnectError::InvalidPath("empty path".into()));
    }
    for u in path {
        if !u.transport.eq_ignore_ascii_case("tcp") {
            return Err(ConnectError::InvalidPath(format!(
                "{u}: transport {} is not supported",
                u.transport
            )));
        }
    }
    if path[0].port.is_none() {
        return Err(ConnectError::InvalidPath(format!(
            "{}: no port (MSRP has no default port)",
            path[0]
        )));
    }
    if path.last().is_some_and(|u| u.session_id.is_none()) {
        return Err(ConnectError::InvalidPath(format!(
            "{}: no session id",
            path[path.len() - 1]
        )));
    }
    Ok(())
}

/// Opens TCP (and TLS for msrps) to the first hop of `path`.
pub(crate) async fn open_stream(
    first_hop: &Uri,
    config: &EndpointConfig,
    verify: &PeerVerification,
) -> Result<Stream, ConnectError> {
    let port = first_hop
        .port
        .ok_or_else(|| ConnectError::InvalidPath(format!("{first_hop}: no port")))?;
    let host = first_hop.host.connect_name();
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    let _ = tcp.set_nodelay(true);
    set_keepalive(&tcp);
    if !first_hop.secure {
        return Ok(Stream::Tcp(tcp));
    }
    let client = tls::client_config(config.identity.as_ref(), verify)?;
    let s = tls::connect(tcp, client, &host).await?;
    Ok(Stream::TlsClient(Box::new(s)))
}

/// The active side's binding (RFC 4975 §5.4, the seed's ConnectorDirect):
/// sends a bodiless SEND and waits for its response. Requests that arrive
/// before the response are kept for the session.
pub(crate) async fn bind_outgoing(
    stream: Stream,
    info: TransportInfo,
) -> Result<Transport, ConnectError> {
    let limits = info.limits;
    let transport = Transport::new(
        stream,
        info,
        BytesMut::new(),
        ChunkReader::new(limits),
        VecDeque::new(),
    );
    bind_on(transport).await
}

/// Sends the binding chunk on an open transport and waits for its 200
/// (through a relay, the relay's hop-by-hop 200).
pub(crate) async fn bind_on(mut transport: Transport) -> Result<Transport, ConnectError> {
    let logger = transport.info().logger.clone();
    let mut bind = transport.make_chunk(ChunkParams::default());
    // A bodiless SEND carries Byte-Range 1-0/0 (RFC 4975 §7.1).
    bind.add_header(Header::ByteRange(crate::protocol::ByteRange {
        start: 1,
        end: Some(0),
        total: Some(0),
    }));
    transport.write_chunk(&bind).await?;
    let mut early = VecDeque::new();
    loop {
        let chunk = match transport.read_chunk(None).await {
            Ok(c) => c,
            Err(TransportError::Parse(e)) if !e.fatal => continue,
            Err(e) => return Err(e.into()),
        };
        if chunk.is_request() {
            early.push_back(chunk);
            if early.len() > 64 {
                return Err(ConnectError::Protocol(
                    "peer sent too many requests before answering the binding".into(),
                ));
            }
            continue;
        }
        if chunk.transaction_id != bind.transaction_id {
            continue;
        }
        let code = chunk.code().unwrap_or(0);
        if code != 200 {
            let comment = chunk.comment().unwrap_or("").to_string();
            msrp_log!(
                logger,
                Level::Warn,
                "binding rejected by peer: {code} {comment}"
            );
            return Err(ConnectError::Rejected(MsrpError::new(code, comment)));
        }
        transport.reader.push_pending(early);
        return Ok(transport);
    }
}

/// Turns on TCP keepalive ([`KEEPALIVE_IDLE`], [`KEEPALIVE_INTERVAL`],
/// [`KEEPALIVE_PROBES`]), so that a peer that vanished without a FIN ends an
/// idle connection too. Failures are ignored (the liveness timeout of the
/// session still applies).
pub(crate) fn set_keepalive(tcp: &TcpStream) {
    use std::os::fd::AsRawFd;
    let fd = tcp.as_raw_fd();
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: fd is an open socket owned by `tcp` for the call; the
        // option value is a c_int of the size given.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            KEEPALIVE_IDLE.as_secs() as libc::c_int,
        );
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            KEEPALIVE_INTERVAL.as_secs() as libc::c_int,
        );
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            KEEPALIVE_PROBES as libc::c_int,
        );
    }
    #[cfg(target_os = "macos")]
    set(
        libc::IPPROTO_TCP,
        libc::TCP_KEEPALIVE,
        KEEPALIVE_IDLE.as_secs() as libc::c_int,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn option(tcp: &TcpStream, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: an open socket, a c_int and its size.
        let rc = unsafe {
            libc::getsockopt(
                tcp.as_raw_fd(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        value
    }

    #[tokio::test]
    async fn keepalive_is_set() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(option(&tcp, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        set_keepalive(&tcp);
        assert_eq!(option(&tcp, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            assert_eq!(option(&tcp, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 30);
            assert_eq!(option(&tcp, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 10);
            assert_eq!(option(&tcp, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        }
    }
}
