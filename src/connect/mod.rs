//! The connect layer (python-msrplib's `msrplib.connect`): establishing and binding
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
pub mod source_port;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::log::{default_logger, Level, SharedLogger};
use crate::msrp_log;
use crate::protocol::{ChunkReader, Header, Limits, Uri};
use crate::transport::tls::{self, PeerVerification, TlsError, TlsIdentity};
use crate::transport::websocket::{self, WsHandshakeError, WsSettings};
use crate::transport::{
    ChunkParams, MsrpError, PathMatching, Stream, Transport, TransportError, TransportInfo,
};

pub use direct::{AcceptorDirect, ConnectorDirect};
pub use relay::{AcceptorRelay, ConnectorRelay, RelaySettings};
pub use server::Server;
pub use source_port::{SourcePort, DISCARD_PORT};

use source_port::ReservedPort;

/// The default time allowed for connecting and binding.
pub const DEFAULT_BIND_TIMEOUT: Duration = Duration::from_secs(30);

/// Default most sessions one [`Server`] holds (prepared or bound, until
/// `cleanup`). With the default 1 MiB chunk limit, 1,000 sessions can make
/// the transports assemble at most 1 GiB at once; see the C header's
/// "Resource limits" for the whole arithmetic.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

/// Default largest chunk payload a connection assembles in one piece: 1 MiB.
/// A session reads a longer chunk (RFC 4975 sets no chunk size; python-msrplib
/// sends up to 4 MiB) in segments of this size, streamed to the message, so
/// its length is bounded only by the message's (`max_incoming_size`).
/// Senders of this library use 8 KiB chunks; relays pass about 10 KiB.
pub const DEFAULT_MAX_CHUNK: u64 = 1 << 20;

/// Default receive buffer asked of the kernel for every connection
/// ([`EndpointConfig::receive_buffer`]): 4 MiB.
///
/// Measured on loopback (docs/performance.md, step 20): a 1 GiB file at
/// 8 KiB chunks went from 0.67 to 0.78 of raw TCP with it. Linux sizes an
/// autotuned buffer from what the reader took per round trip, which on a
/// short path is little; a receiving task scheduled a few milliseconds late
/// then closes the window and the sender stalls.
pub const DEFAULT_RECEIVE_BUFFER: usize = 4 << 20;

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
    /// The local port to bind ([`SourcePort`]) is in use, or no port of the
    /// range is free (the text says which).
    AddressInUse(String),
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
            ConnectError::AddressInUse(s) => write!(f, "address in use: {s}"),
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

impl From<WsHandshakeError> for ConnectError {
    fn from(e: WsHandshakeError) -> Self {
        match e {
            WsHandshakeError::Io(e) => ConnectError::Io(e),
            refused => ConnectError::Protocol(refused.to_string()),
        }
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
    /// fingerprint from SDP). A self-signed anchor may be the peer's (or
    /// relay's) own certificate, `CA:TRUE` as `openssl req -x509` makes it;
    /// see [`tls::TrustAnchors`] for the rule.
    pub trust_anchors: Option<tls::TrustAnchors>,
    /// Parser limits. By default a connection assembles at most
    /// [`DEFAULT_MAX_CHUNK`] of one chunk in one piece (a session streams
    /// longer ones in segments) and a chunk of undeclared length is not
    /// limited by itself (its message is).
    pub limits: Limits,
    /// How incoming requests are matched to their session:
    /// [`PathMatching::SessionId`] by default (address rewrites by ALGs and
    /// SBCs tolerated, RFC 6714 §4.1), [`PathMatching::Uri`] for the strict
    /// RFC 4975 §6.1 comparison.
    pub matching: PathMatching,
    /// Time allowed for connecting and binding when the caller gives none.
    pub bind_timeout: Duration,
    /// Most sessions a [`Server`] made with this config holds, prepared or
    /// bound, until `cleanup` ([`DEFAULT_MAX_SESSIONS`]); `prepare` beyond it
    /// fails with [`ConnectError::LimitExceeded`].
    pub max_sessions: usize,
    /// The socket receive buffer (`SO_RCVBUF`) asked for every connection
    /// ([`DEFAULT_RECEIVE_BUFFER`]); `None` leaves its size to the kernel's
    /// autotuning.
    ///
    /// A size is a ceiling, not an allocation: an idle connection holds
    /// nothing for it. Setting it turns the kernel's autotuning off for
    /// the socket, which on a long fast path (over 8 MiB in flight, e.g.
    /// 1 Gbit/s at 70 ms) could have grown the window further. On Linux a
    /// size above `net.core.rmem_max` would be cut to that limit and still
    /// turn autotuning off, so such a size is not set at all (autotuning
    /// stays) and a debug message says so. Stock kernels have an
    /// `rmem_max` of 208 KiB: there the default takes effect only once it
    /// is raised (`sysctl net.core.rmem_max=4194304`).
    pub receive_buffer: Option<usize>,
    /// How a [`ConnectorDirect`] chooses its source port and the port of
    /// its path ([`SourcePort::Unbound`]: the system's choice, the path
    /// carrying the local URI's port or [`DISCARD_PORT`]). Acceptors,
    /// servers and relay connections do not use it.
    pub source_port: SourcePort,
    /// MSRP over WebSocket (RFC 7977): what listeners of a [`Server`] or
    /// [`AcceptorDirect`] accept ([`crate::transport::WsListen::TcpOnly`] by default), the
    /// origins a WebSocket server accepts, and the upgrade's time limit.
    /// Connecting over WebSocket needs no setting: a first hop with the
    /// `ws` transport is reached over ws (msrps: wss).
    pub websocket: WsSettings,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            logger: default_logger(),
            identity: None,
            trust_anchors: None,
            limits: Limits {
                max_assembled_chunk: DEFAULT_MAX_CHUNK,
                max_undeclared_chunk: u64::MAX,
                ..Limits::default()
            },
            matching: PathMatching::SessionId,
            bind_timeout: DEFAULT_BIND_TIMEOUT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            receive_buffer: Some(DEFAULT_RECEIVE_BUFFER),
            source_port: SourcePort::Unbound,
            websocket: WsSettings::default(),
        }
    }
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("identity", &self.identity.is_some())
            .field("bind_timeout", &self.bind_timeout)
            .field("max_sessions", &self.max_sessions)
            .field("receive_buffer", &self.receive_buffer)
            .field("source_port", &self.source_port)
            .field("websocket", &self.websocket)
            .finish()
    }
}

impl EndpointConfig {
    /// How to verify a peer that gave `fingerprint` in its SDP.
    pub fn peer_verification(&self, fingerprint: Option<tls::Fingerprint>) -> PeerVerification {
        PeerVerification::new(self.trust_anchors.clone(), fingerprint)
    }
}

/// Checks a full path from SDP: at least one URI, and a session id on the
/// last. Nothing is connected to here, so any transport and host is taken:
/// a browser behind a WebSocket gateway or relay has a `ws` URI with an
/// `.invalid` host and maybe no port at the end of its path (RFC 7977 §5.2,
/// crocodile-msrp), and a passive or relayed endpoint only sends to it
/// through the connection it has. [`check_connect_path`] adds what an
/// endpoint that connects to the first hop needs.
pub fn check_remote_path(path: &[Uri]) -> Result<(), ConnectError> {
    if path.is_empty() {
        return Err(ConnectError::InvalidPath("empty path".into()));
    }
    if path.last().is_some_and(|u| u.session_id.is_none()) {
        return Err(ConnectError::InvalidPath(format!(
            "{}: no session id",
            path[path.len() - 1]
        )));
    }
    Ok(())
}

/// [`check_remote_path`] for a path whose first hop this endpoint connects
/// to: that hop has a port and the tcp or the ws transport (RFC 7977 §5.2;
/// ws is reached over a WebSocket, wss for msrps), and is not a browser's
/// `.invalid` host (RFC 7977 §8: such a client cannot be connected to).
pub fn check_connect_path(path: &[Uri]) -> Result<(), ConnectError> {
    check_remote_path(path)?;
    let first = &path[0];
    if let crate::protocol::Host::Name(name) = &first.host {
        if name.to_ascii_lowercase().ends_with(".invalid") {
            return Err(ConnectError::InvalidPath(format!(
                "{first}: an .invalid host is a WebSocket client's and cannot be connected to"
            )));
        }
    }
    if !first.transport.eq_ignore_ascii_case("tcp") && !first.transport.eq_ignore_ascii_case("ws") {
        return Err(ConnectError::InvalidPath(format!(
            "{first}: transport {} is not supported",
            first.transport
        )));
    }
    if first.port.is_none() {
        return Err(ConnectError::InvalidPath(format!(
            "{first}: no port (MSRP has no default port)"
        )));
    }
    Ok(())
}

/// Opens TCP (and TLS for msrps) to the first hop of `path`, from the
/// `source` port when one is reserved; for the ws transport, then the
/// WebSocket upgrade (RFC 7977 §4.1).
pub(crate) async fn open_stream(
    first_hop: &Uri,
    config: &EndpointConfig,
    verify: &PeerVerification,
    source: Option<ReservedPort>,
) -> Result<Stream, ConnectError> {
    let port = first_hop
        .port
        .ok_or_else(|| ConnectError::InvalidPath(format!("{first_hop}: no port")))?;
    let host = first_hop.host.connect_name();
    let tcp = match source {
        Some(source) => source.connect(&host, port).await?,
        None => TcpStream::connect((host.as_str(), port)).await?,
    };
    configure_socket(&tcp, config);
    let stream = if first_hop.secure {
        let client = tls::client_config(config.identity.as_ref(), verify)?;
        let s = tls::connect(tcp, client, &host).await?;
        Stream::TlsClient(Box::new(s))
    } else {
        Stream::Tcp(tcp)
    };
    if !first_hop.transport.eq_ignore_ascii_case("ws") {
        return Ok(stream);
    }
    let ws = websocket::connect(
        stream,
        &host,
        port,
        first_hop.secure,
        config.limits.max_assembled_chunk,
    )
    .await?;
    msrp_log!(
        config.logger,
        Level::Debug,
        "WebSocket connected to {}",
        ws.resource()
    );
    Ok(Stream::Ws(Box::new(ws)))
}

/// The active side's binding (RFC 4975 §5.4, python-msrplib's ConnectorDirect):
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

/// Sets up every connection's socket, outgoing, accepted or to a relay:
/// no Nagle delay (a response or a chat line goes out when written),
/// keepalive, and the receive buffer of `config`. Failures are ignored:
/// each only makes the connection slower to notice a dead peer, or slower.
pub(crate) fn configure_socket(tcp: &TcpStream, config: &EndpointConfig) {
    let _ = tcp.set_nodelay(true);
    set_keepalive(tcp);
    if let Some(size) = config.receive_buffer {
        if !set_receive_buffer(tcp, size) {
            msrp_log!(
                config.logger,
                Level::Debug,
                "receive buffer of {size} octets not set (above the system's limit); \
                 the kernel sizes it"
            );
        }
    }
}

/// Sets one integer socket option; whether the system took it.
fn set_socket_option(
    tcp: &TcpStream,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is an open socket owned by `tcp` for the call; the
    // option value is a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Asks for a receive buffer of `size` octets, unless the system would cut
/// it (see [`EndpointConfig::receive_buffer`]).
fn set_receive_buffer(tcp: &TcpStream, size: usize) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if receive_buffer_limit().is_none_or(|limit| size > limit) {
        return false;
    }
    let Ok(size) = libc::c_int::try_from(size) else {
        return false;
    };
    set_socket_option(tcp, libc::SOL_SOCKET, libc::SO_RCVBUF, size)
}

/// Linux's largest `SO_RCVBUF` an unprivileged socket gets
/// (`net.core.rmem_max`), read once; `None` when it cannot be read.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn receive_buffer_limit() -> Option<usize> {
    static LIMIT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// Turns on TCP keepalive ([`KEEPALIVE_IDLE`], [`KEEPALIVE_INTERVAL`],
/// [`KEEPALIVE_PROBES`]), so that a peer that vanished without a FIN ends an
/// idle connection too. Failures are ignored (the liveness timeout of the
/// session still applies).
fn set_keepalive(tcp: &TcpStream) {
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        set_socket_option(tcp, level, name, value);
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

    /// A connected pair of sockets (the listener's side is dropped).
    async fn socket() -> TcpStream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn receive_buffer_is_set_within_the_system_limit() {
        let config = |receive_buffer| EndpointConfig {
            receive_buffer,
            ..EndpointConfig::default()
        };
        let rcvbuf = |tcp: &TcpStream| option(tcp, libc::SOL_SOCKET, libc::SO_RCVBUF);
        // Left to the system: the socket keeps its initial size.
        let tcp = socket().await;
        let initial = rcvbuf(&tcp);
        configure_socket(&tcp, &config(None));
        assert_eq!(rcvbuf(&tcp), initial);
        assert_eq!(option(&tcp, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
        // Linux: a size within its limit (net.core.rmem_max; the smallest
        // default is 208 KiB) is set, and reported as twice the size asked
        // (socket(7): room for its own bookkeeping); a size above it is not
        // set at all (the system would cut it and still turn autotuning
        // off), nor any when the limit cannot be read.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let limit = receive_buffer_limit();
            for size in [96 * 1024, limit.unwrap_or(0), limit.unwrap_or(0) + 1] {
                let tcp = socket().await;
                let initial = rcvbuf(&tcp);
                configure_socket(&tcp, &config(Some(size)));
                let expected = match limit {
                    Some(limit) if size <= limit => 2 * size,
                    _ => initial as usize,
                };
                assert_eq!(
                    rcvbuf(&tcp) as usize,
                    expected,
                    "size {size}, limit {limit:?}"
                );
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let tcp = socket().await;
            configure_socket(&tcp, &config(Some(96 * 1024)));
            assert!(rcvbuf(&tcp) >= 96 * 1024);
        }
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
