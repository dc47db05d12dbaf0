//! [`Server`] (python-msrplib's `MSRPServer`): listening sockets shared by many
//! sessions. `prepare(local URI)` registers an expected session id,
//! `complete(local URI, remote path)` waits for the connection whose binding
//! chunk matches, `cleanup(local URI)` forgets it. Unknown session ids get 481
//! and the connection is closed; a session already bound gets 506 (RFC 4975
//! §5.4). [`super::AcceptorDirect`] is a server with one session.
//!
//! Listeners take MSRP over TCP, over WebSocket (RFC 7977), or both on one
//! port, as [`EndpointConfig::websocket`] says; a WebSocket connection is
//! upgraded before its binding chunk is read, and then routed like any.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::{ConnectError, EndpointConfig};
use crate::log::{Level, SharedLogger};
use crate::msrp_log;
use crate::protocol::{ids, Chunk, ChunkReader, Host, Limits, Method, Uri};
use crate::transport::tls::{self, Fingerprint};
use crate::transport::websocket::{self, WsListen};
use crate::transport::{
    make_response_to, success_report, MsrpError, Stream, Transport, TransportInfo,
};

/// Connections that arrived for a session before `complete` was called, at most.
const MAX_EARLY_ARRIVALS: usize = 4;

/// Most payload octets of a binding chunk assembled before it is routed.
const MAX_BINDING_CHUNK: u64 = 1 << 20;

/// Most connections in the binding phase at once (accepted, not yet bound:
/// reading their first chunk, or stashed until `complete`). Each may hold
/// up to [`MAX_BINDING_CHUNK`], so at most 256 MiB. Further connections
/// wait in the listen backlog until one of these is bound or dropped.
pub const MAX_BINDING_CONNECTIONS: usize = 256;

/// A shared listener that routes incoming connections by session id.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    config: EndpointConfig,
    state: Mutex<State>,
    /// One permit per connection in the binding phase.
    binding: Arc<Semaphore>,
}

#[derive(Default)]
struct State {
    listeners: Vec<Listener>,
    sessions: HashMap<String, Registration>,
    bound: HashSet<String>,
    closed: bool,
}

struct Listener {
    addr: SocketAddr,
    secure: bool,
    task: JoinHandle<()>,
}

struct Registration {
    local_path: Vec<Uri>,
    logger: SharedLogger,
    waiter: Option<Waiter>,
    arrived: Vec<Arrival>,
}

struct Waiter {
    remote_path: Vec<Uri>,
    fingerprint: Option<Fingerprint>,
    tx: oneshot::Sender<Result<Transport, ConnectError>>,
}

/// A connection whose binding chunk was read but not yet accepted.
struct Arrival {
    stream: Stream,
    chunk: Chunk,
    leftover: BytesMut,
    parser: ChunkReader,
    /// Held while the connection is in the binding phase.
    _permit: OwnedSemaphorePermit,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(state) = self.state.get_mut() {
            for l in &state.listeners {
                l.task.abort();
            }
        }
    }
}

impl Server {
    /// A server with no listener yet; `prepare` opens them as needed.
    pub fn new(config: EndpointConfig) -> Server {
        Server {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                binding: Arc::new(Semaphore::new(MAX_BINDING_CONNECTIONS)),
            }),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.inner.config
    }

    /// The addresses listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.inner
            .state
            .lock()
            .expect("server state")
            .listeners
            .iter()
            .map(|l| l.addr)
            .collect()
    }

    /// Starts listening where `local_uri` says (port 0 picks a port, or
    /// reuses this server's listener on that address) and registers its
    /// session id. Without a URI, one is generated on the first listener (or
    /// on 127.0.0.1). Returns the full local path for SDP (`[local URI]`).
    pub async fn prepare(&self, local_uri: Option<Uri>) -> Result<Vec<Uri>, ConnectError> {
        self.prepare_with_logger(local_uri, None).await
    }

    /// [`Server::prepare`] with a logger for this session's connection.
    pub async fn prepare_with_logger(
        &self,
        local_uri: Option<Uri>,
        logger: Option<SharedLogger>,
    ) -> Result<Vec<Uri>, ConnectError> {
        let secure_default = self.inner.config.identity.is_some();
        let mut uri = match local_uri {
            Some(u) => u,
            None => {
                let first = self
                    .inner
                    .state
                    .lock()
                    .expect("server state")
                    .listeners
                    .first()
                    .map(|l| (l.addr, l.secure));
                match first {
                    Some((addr, secure)) => {
                        Uri::new(Host::Ip(addr.ip()), Some(addr.port()), None, secure)
                    }
                    None => Uri::new(
                        Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                        Some(0),
                        None,
                        secure_default,
                    ),
                }
            }
        };
        if uri.session_id.is_none() {
            uri.session_id = Some(ids::session_id());
        }
        let tcp = uri.transport.eq_ignore_ascii_case("tcp");
        let ws = uri.transport.eq_ignore_ascii_case("ws");
        match self.inner.config.websocket.listen {
            WsListen::TcpOnly if !tcp => {
                return Err(ConnectError::InvalidPath(format!(
                    "{uri}: only the tcp transport can be listened on (WebSocket is not enabled)"
                )));
            }
            // A WebSocket listener's path names the ws transport (RFC 7977 §5.2).
            WsListen::WsOnly if tcp || ws => uri.transport = "ws".into(),
            WsListen::WsOnly | WsListen::Both if !(tcp || ws) => {
                return Err(ConnectError::InvalidPath(format!(
                    "{uri}: only the tcp and ws transports can be listened on"
                )));
            }
            _ => {}
        }
        if uri.secure && self.inner.config.identity.is_none() {
            return Err(ConnectError::InvalidPath(format!(
                "{uri}: msrps needs a certificate and key"
            )));
        }
        let ip = match &uri.host {
            Host::Ip(ip) => *ip,
            Host::Name(n) if n.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Host::Name(n) => {
                let addr = tokio::net::lookup_host((n.as_str(), 0)).await?.next();
                addr.ok_or_else(|| ConnectError::InvalidPath(format!("{n}: no address")))?
                    .ip()
            }
        };
        let port = self
            .ensure_listener(ip, uri.port.unwrap_or(0), uri.secure)
            .await?;
        uri.port = Some(port);
        let sid = uri.session_id.clone().expect("set above");
        let mut state = self.inner.state.lock().expect("server state");
        if state.closed {
            return Err(ConnectError::Cancelled);
        }
        let held = state.sessions.len() + state.bound.len();
        if held >= self.inner.config.max_sessions {
            let text = format!(
                "{uri}: the server holds {held} sessions, its limit (max_sessions {}); clean up ended sessions or raise it",
                self.inner.config.max_sessions
            );
            msrp_log!(
                self.inner.config.logger,
                Level::Warn,
                "prepare refused: {text}"
            );
            return Err(ConnectError::LimitExceeded(text));
        }
        if state.sessions.contains_key(&sid) || state.bound.contains(&sid) {
            return Err(ConnectError::InvalidPath(format!(
                "session id {sid} is already in use"
            )));
        }
        let logger = logger.unwrap_or_else(|| self.inner.config.logger.clone());
        state.sessions.insert(
            sid,
            Registration {
                local_path: vec![uri.clone()],
                logger,
                waiter: None,
                arrived: Vec::new(),
            },
        );
        Ok(vec![uri])
    }

    async fn ensure_listener(
        &self,
        ip: IpAddr,
        port: u16,
        secure: bool,
    ) -> Result<u16, ConnectError> {
        {
            let state = self.inner.state.lock().expect("server state");
            let existing = state
                .listeners
                .iter()
                .find(|l| l.addr.ip() == ip && (port == 0 || l.addr.port() == port));
            if let Some(l) = existing {
                if l.secure != secure {
                    return Err(ConnectError::InvalidPath(format!(
                        "{}: already listening with the other scheme",
                        l.addr
                    )));
                }
                return Ok(l.addr.port());
            }
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, port)).await?;
        let addr = listener.local_addr()?;
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(accept_loop(weak, listener, secure));
        let mut state = self.inner.state.lock().expect("server state");
        state.listeners.push(Listener { addr, secure, task });
        Ok(addr.port())
    }

    /// Waits until the peer at `remote_path` binds to the session prepared
    /// for `local_uri` (its From-Path must match the path, and with TLS, its
    /// certificate the `fingerprint` when given). Answers the binding with
    /// 200 and returns the bound transport.
    pub async fn complete(
        &self,
        local_uri: &Uri,
        remote_path: &[Uri],
        fingerprint: Option<Fingerprint>,
        timeout: Option<Duration>,
    ) -> Result<Transport, ConnectError> {
        super::check_remote_path(remote_path)?;
        let sid = local_uri
            .session_id
            .clone()
            .ok_or(ConnectError::NotPrepared)?;
        let (tx, rx) = oneshot::channel();
        let ready = {
            let mut state = self.inner.state.lock().expect("server state");
            let reg = state
                .sessions
                .get_mut(&sid)
                .ok_or(ConnectError::NotPrepared)?;
            if reg.waiter.is_some() {
                return Err(ConnectError::Protocol(
                    "complete is already waiting for this session".into(),
                ));
            }
            let mut found = None;
            let mut rejected = Vec::new();
            for a in reg.arrived.drain(..) {
                if found.is_none()
                    && arrival_matches(
                        &a,
                        remote_path,
                        fingerprint.as_ref(),
                        &reg.local_path,
                        &self.inner.config,
                    )
                {
                    found = Some(a);
                } else {
                    rejected.push(a);
                }
            }
            let local = reg.local_path[0].clone();
            for a in rejected {
                tokio::spawn(reject(
                    a.stream,
                    a.chunk,
                    local.clone(),
                    481,
                    "From-Path is not this session's peer",
                ));
            }
            match found {
                Some(a) => {
                    let reg = state.sessions.remove(&sid).expect("present");
                    state.bound.insert(sid.clone());
                    Some((a, reg))
                }
                None => {
                    reg.waiter = Some(Waiter {
                        remote_path: remote_path.to_vec(),
                        fingerprint,
                        tx,
                    });
                    None
                }
            }
        };
        if let Some((arrival, reg)) = ready {
            return accept_binding(
                arrival,
                reg.local_path,
                remote_path.to_vec(),
                &self.inner.config,
                reg.logger,
            )
            .await;
        }
        let timeout = timeout.unwrap_or(self.inner.config.bind_timeout);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ConnectError::Cancelled),
            Err(_) => {
                let mut state = self.inner.state.lock().expect("server state");
                if let Some(reg) = state.sessions.get_mut(&sid) {
                    reg.waiter = None;
                }
                Err(ConnectError::Timeout)
            }
        }
    }

    /// Forgets the session prepared for `local_uri` (and that it was bound);
    /// a waiting `complete` fails with `Cancelled`.
    pub fn cleanup(&self, local_uri: &Uri) {
        if let Some(sid) = &local_uri.session_id {
            let mut state = self.inner.state.lock().expect("server state");
            state.sessions.remove(sid);
            state.bound.remove(sid);
        }
    }

    /// Stops listening and cancels every waiting `complete`.
    pub fn close(&self) {
        let mut state = self.inner.state.lock().expect("server state");
        state.closed = true;
        for l in state.listeners.drain(..) {
            l.task.abort();
        }
        state.sessions.clear();
    }
}

fn arrival_matches(
    a: &Arrival,
    remote_path: &[Uri],
    fingerprint: Option<&Fingerprint>,
    local_path: &[Uri],
    config: &EndpointConfig,
) -> bool {
    let info_ok = {
        let info = TransportInfo::new(
            local_path.to_vec(),
            remote_path.to_vec(),
            Vec::new(),
            config.matching,
            &a.stream,
            config.limits,
            config.logger.clone(),
        );
        info.check_incoming_send_chunk(&a.chunk).is_ok()
    };
    let fp_ok = match fingerprint {
        Some(fp) => a.stream.peer_fingerprint().as_ref() == Some(fp),
        None => true,
    };
    info_ok && fp_ok
}

/// Answers the binding chunk and builds the transport.
async fn accept_binding(
    a: Arrival,
    local_path: Vec<Uri>,
    remote_path: Vec<Uri>,
    config: &EndpointConfig,
    logger: SharedLogger,
) -> Result<Transport, ConnectError> {
    let info = TransportInfo::new(
        local_path,
        remote_path,
        Vec::new(),
        config.matching,
        &a.stream,
        config.limits,
        logger,
    );
    let mut pending = VecDeque::new();
    let bodiless = !a.chunk.has_body();
    if !bodiless {
        // The first chunk is a real message: the session answers it.
        pending.push_back(a.chunk.clone());
    }
    let mut t = Transport::new(a.stream, info, a.leftover, a.parser, pending);
    if bodiless {
        t.write_response(&a.chunk, 200, None).await?;
        if a.chunk.success_report() == crate::protocol::SuccessReport::Yes {
            // An empty SEND that asks for a success REPORT (crocodile-msrp
            // binds so and waits for it; RFC 4975 §7.1.3).
            let info = t.info().clone();
            let report = success_report(&a.chunk, &info.local_uri, &info.to_path, 0);
            t.write_chunk(&report).await?;
        }
    }
    Ok(t)
}

async fn reject(mut stream: Stream, chunk: Chunk, local: Uri, code: u16, comment: &'static str) {
    use tokio::io::AsyncWriteExt;
    let to = chunk
        .to_path()
        .and_then(|p| p.first().cloned())
        .unwrap_or(local);
    let resp = make_response_to(&chunk, &to, code, Some(comment));
    let _ = stream.write_all(&resp.encode()).await;
    let _ = stream.shutdown().await;
}

async fn accept_loop(inner: Weak<Inner>, listener: TcpListener, secure: bool) {
    loop {
        let Some(binding) = inner.upgrade().map(|i| i.binding.clone()) else {
            return;
        };
        let permit = match binding.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if let Some(inner) = inner.upgrade() {
                    msrp_log!(
                        inner.config.logger,
                        Level::Warn,
                        "{MAX_BINDING_CONNECTIONS} connections are binding: new ones wait in the listen backlog"
                    );
                }
                match binding.acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                if let Some(inner) = inner.upgrade() {
                    msrp_log!(inner.config.logger, Level::Warn, "accept failed: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(strong) = inner.upgrade() else {
            return;
        };
        super::configure_socket(&tcp, &strong.config);
        drop(strong);
        let inner = inner.clone();
        tokio::spawn(async move {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let logger = strong.config.logger.clone();
            let timeout = strong.config.bind_timeout;
            drop(strong);
            match tokio::time::timeout(timeout, handle_connection(inner, tcp, secure, permit)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => msrp_log!(
                    logger,
                    Level::Info,
                    "incoming connection from {peer} not bound: {e}"
                ),
                Err(_) => msrp_log!(
                    logger,
                    Level::Info,
                    "incoming connection from {peer} not bound: timed out"
                ),
            }
        });
    }
}

/// Reads chunks from a raw stream until the first whole chunk.
async fn read_first_chunk(
    stream: &mut Stream,
    parser: &mut ChunkReader,
    buf: &mut BytesMut,
) -> Result<Chunk, ConnectError> {
    loop {
        match parser.read_chunk(buf, None) {
            Ok(Some(c)) => return Ok(c),
            Ok(None) => {
                buf.reserve(8192);
                if stream.read_buf(buf).await? == 0 {
                    return Err(ConnectError::Protocol("peer closed before binding".into()));
                }
            }
            Err(e) => {
                if e.can_answer() {
                    if let Some(head) = &e.head {
                        let to = head.to_path().and_then(|p| p.first().cloned());
                        if let Some(to) = to {
                            let resp = make_response_to(head, &to, 400, Some(&e.detail));
                            use tokio::io::AsyncWriteExt;
                            let _ = stream.write_all(&resp.encode()).await;
                        }
                    }
                }
                return Err(ConnectError::Protocol(format!("malformed binding: {e}")));
            }
        }
    }
}

async fn handle_connection(
    inner: Weak<Inner>,
    tcp: TcpStream,
    secure: bool,
    permit: OwnedSemaphorePermit,
) -> Result<(), ConnectError> {
    let (limits, tls_config, ws) = {
        let strong = inner.upgrade().ok_or(ConnectError::Cancelled)?;
        let tls_config = match (&strong.config.identity, secure) {
            (Some(id), true) => Some(tls::server_config(id)?),
            _ => None,
        };
        (
            strong.config.limits,
            tls_config,
            strong.config.websocket.clone(),
        )
    };
    let stream = match tls_config {
        Some(cfg) => Stream::TlsServer(Box::new(tls::accept(tcp, cfg).await?)),
        None => Stream::Tcp(tcp),
    };
    let mut buf = BytesMut::new();
    let mut stream = match ws.listen {
        WsListen::TcpOnly => stream,
        WsListen::WsOnly => {
            let ws =
                websocket::accept(stream, buf.split(), &ws, limits.max_assembled_chunk).await?;
            Stream::Ws(Box::new(ws))
        }
        WsListen::Both => {
            // An upgrade starts "GET " (RFC 6455 §4.1), an MSRP request
            // "MSRP " (RFC 4975 §7.1): four octets tell them apart.
            let mut stream = stream;
            while buf.len() < 4 {
                buf.reserve(64);
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(ConnectError::Protocol("peer closed before binding".into()));
                }
            }
            if buf.starts_with(b"GET ") {
                let ws =
                    websocket::accept(stream, buf.split(), &ws, limits.max_assembled_chunk).await?;
                Stream::Ws(Box::new(ws))
            } else {
                stream
            }
        }
    };
    // The binding chunk is read before anything is known about the peer:
    // assemble at most MAX_BINDING_CHUNK octets of it (the default limits
    // let every unauthenticated connection buffer 64 MiB).
    let binding_limits = Limits {
        max_assembled_chunk: limits.max_assembled_chunk.min(MAX_BINDING_CHUNK),
        max_undeclared_chunk: limits.max_undeclared_chunk.min(MAX_BINDING_CHUNK),
        ..limits
    };
    let mut first = ChunkReader::new(binding_limits);
    let chunk = read_first_chunk(&mut stream, &mut first, &mut buf).await?;
    // Between chunks: the session continues with the configured limits.
    debug_assert!(first.is_idle());
    let parser = ChunkReader::new(limits);
    if !chunk.is_request() || chunk.method() == Some(&Method::Report) {
        return Err(ConnectError::Protocol(
            "first chunk is not a request that binds".into(),
        ));
    }
    let strong = inner.upgrade().ok_or(ConnectError::Cancelled)?;
    let arrival = Arrival {
        stream,
        chunk,
        leftover: buf,
        parser,
        _permit: permit,
    };
    match route_arrival(&strong, arrival) {
        Routed::Stashed => Ok(()),
        Routed::Evict(old, to) => {
            tokio::spawn(reject(
                old.stream,
                old.chunk,
                to,
                481,
                "From-Path is not this session's peer",
            ));
            Ok(())
        }
        Routed::Reject(a, to, code, comment) => {
            reject(a.stream, a.chunk, to, code, comment).await;
            Err(ConnectError::Rejected(MsrpError::new(code, comment)))
        }
        Routed::Bind(a, reg, w) => {
            let result =
                accept_binding(a, reg.local_path, w.remote_path, &strong.config, reg.logger).await;
            let _ = w.tx.send(result);
            Ok(())
        }
    }
}

enum Routed {
    Stashed,
    Reject(Arrival, Uri, u16, &'static str),
    /// The newcomer was stashed in place of this older arrival.
    Evict(Arrival, Uri),
    Bind(Arrival, Registration, Waiter),
}

/// Decides under the state lock what to do with a binding chunk.
fn route_arrival(inner: &Inner, arrival: Arrival) -> Routed {
    let to = arrival.chunk.to_path().cloned().unwrap_or_default();
    let sid = to.first().and_then(|u| u.session_id.clone());
    let fallback = to
        .first()
        .cloned()
        .unwrap_or_else(|| Uri::new(Host::Name("invalid".into()), None, None, false));
    let mut state = inner.state.lock().expect("server state");
    let Some(sid) = sid.filter(|_| to.len() == 1) else {
        return Routed::Reject(arrival, fallback, 481, "Session Does Not Exist");
    };
    let Some(reg) = state.sessions.get_mut(&sid) else {
        if state.bound.contains(&sid) {
            return Routed::Reject(arrival, fallback, 506, "Session Already Bound");
        }
        return Routed::Reject(arrival, fallback, 481, "Session Does Not Exist");
    };
    let local = reg.local_path[0].clone();
    match reg.waiter.take() {
        Some(w) => {
            if arrival_matches(
                &arrival,
                &w.remote_path,
                w.fingerprint.as_ref(),
                &reg.local_path,
                &inner.config,
            ) {
                let reg = state.sessions.remove(&sid).expect("present");
                state.bound.insert(sid);
                Routed::Bind(arrival, reg, w)
            } else {
                reg.waiter = Some(w);
                Routed::Reject(arrival, local, 481, "From-Path is not this session's peer")
            }
        }
        None if reg.arrived.len() >= MAX_EARLY_ARRIVALS => {
            // Full: drop the oldest, not the newcomer, so that bogus early
            // bindings cannot lock the real peer out of a prepared session.
            let oldest = reg.arrived.remove(0);
            reg.arrived.push(arrival);
            Routed::Evict(oldest, local)
        }
        None => {
            reg.arrived.push(arrival);
            Routed::Stashed
        }
    }
}
