//! Network faults over real loopback sockets, each ending with the
//! application told exactly what completed and what did not (message ids,
//! acknowledged octets in `SessionEvent::Closed`'s unfinished list):
//! - a peer that resets the connection (RST, SO_LINGER 0) in the middle of a
//!   chunk, while sending to the session and while receiving from it;
//! - a half-open connection: a TCP proxy that stops forwarding without
//!   closing, found by the sessions' liveness timeout on both sides;
//! - TLS handshakes aborted by the client (the Server keeps serving others)
//!   and by the server (`complete` returns a TLS or I/O error, not a timeout).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use msrp::connect::{ConnectError, ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::{
    ByteRange, Chunk, ChunkReader, Continuation, Header, Host, Limits, Method, Uri,
};
use msrp::session::{
    CloseReason, OutgoingMessage, Session, SessionConfig, SessionEvent, Unfinished,
};
use msrp::transport::{make_response_to, PathMatching, TlsIdentity, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::Receiver;

const T: Option<Duration> = Some(Duration::from_secs(10));

/// Closes `tcp` with a reset instead of a FIN (SO_LINGER on, 0 seconds).
fn reset(tcp: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is open (owned by `tcp`) and the value is a linger struct.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
    drop(tcp);
}

async fn next(rx: &mut Receiver<SessionEvent>) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("event in time")
        .expect("event")
}

/// Events until Closed; returns the reason, the unfinished list and what
/// came before.
async fn until_closed(
    rx: &mut Receiver<SessionEvent>,
) -> (CloseReason, Vec<Unfinished>, Vec<SessionEvent>) {
    let mut before = Vec::new();
    loop {
        match next(rx).await {
            SessionEvent::Closed { reason, unfinished } => return (reason, unfinished, before),
            e => before.push(e),
        }
    }
}

/// A peer written by hand on a raw socket, bound to a Server session.
struct RawPeer {
    tcp: TcpStream,
    buf: BytesMut,
    reader: ChunkReader,
    /// Our URI (From-Path) and the session's (To-Path).
    me: Uri,
    session: Uri,
}

impl RawPeer {
    /// Connects to `server`'s session and binds it; returns the peer and the
    /// server's bound transport.
    async fn bind(server: &Server) -> (RawPeer, Transport) {
        let path = server.prepare(None).await.unwrap();
        let session = path[0].clone();
        let me = Uri::new(
            Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Some(9),
            Some("rawpeer4711".into()),
            false,
        );
        let s = server.clone();
        let (l, m) = (session.clone(), me.clone());
        let accepted = tokio::spawn(async move { s.complete(&l, &[m], None, T).await });
        let tcp = TcpStream::connect(server.local_addrs()[0]).await.unwrap();
        let mut peer = RawPeer {
            tcp,
            buf: BytesMut::new(),
            reader: ChunkReader::new(Limits::default()),
            me,
            session,
        };
        let mut bind = peer.send_chunk("bind", 1, b"", Some(0), Continuation::End);
        bind.remove_header("Content-Type");
        peer.tcp.write_all(&bind.encode()).await.unwrap();
        let answer = peer.read_chunk().await;
        assert_eq!(answer.code(), Some(200));
        (peer, accepted.await.unwrap().unwrap())
    }

    /// A SEND chunk of message `id` carrying `data` from octet `start`.
    fn send_chunk(
        &self,
        id: &str,
        start: u64,
        data: &[u8],
        total: Option<u64>,
        flag: Continuation,
    ) -> Chunk {
        let mut c = Chunk::request(msrp::protocol::ids::transaction_id(), Method::Send);
        c.add_header(Header::ToPath(vec![self.session.clone()].into()));
        c.add_header(Header::FromPath(vec![self.me.clone()].into()));
        c.add_header(Header::MessageId(format!("{id}0000").into()));
        c.add_header(Header::ByteRange(ByteRange {
            start,
            end: Some(start + data.len() as u64 - 1),
            total,
        }));
        c.add_header(Header::ContentType("text/plain".into()));
        c.data = Bytes::copy_from_slice(data);
        c.continuation = flag;
        c
    }

    async fn read_chunk(&mut self) -> Chunk {
        loop {
            if let Some(c) = self.reader.read_chunk(&mut self.buf, None).unwrap() {
                return c;
            }
            let n = tokio::time::timeout(Duration::from_secs(30), self.tcp.read_buf(&mut self.buf))
                .await
                .expect("data in time")
                .unwrap();
            assert!(n > 0, "session closed the connection");
        }
    }

    async fn answer_200(&mut self, request: &Chunk) {
        let resp = make_response_to(request, &self.me, 200, None);
        self.tcp.write_all(&resp.encode()).await.unwrap();
    }
}

/// The peer sends a message: one whole chunk (answered 200), then half of
/// the next, then resets. The session reports the message unfinished with
/// exactly the first chunk's octets.
#[tokio::test]
async fn peer_resets_mid_chunk_while_sending() {
    let server = Server::new(EndpointConfig::default());
    let (mut peer, transport) = RawPeer::bind(&server).await;
    let (_session, mut events) = Session::new(transport, SessionConfig::default());
    let first = peer.send_chunk(
        "resetsend",
        1,
        &[b'a'; 1000],
        Some(3000),
        Continuation::More,
    );
    peer.tcp.write_all(&first.encode()).await.unwrap();
    let answer = peer.read_chunk().await;
    assert_eq!(
        (answer.code(), answer.transaction_id.as_str()),
        (Some(200), first.transaction_id.as_str())
    );
    let second = peer.send_chunk(
        "resetsend",
        1001,
        &[b'b'; 1000],
        Some(3000),
        Continuation::More,
    );
    let wire = second.encode();
    peer.tcp.write_all(&wire[..wire.len() / 2]).await.unwrap();
    peer.tcp.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await; // let the half arrive before the RST
    reset(peer.tcp);
    let (reason, unfinished, _) = until_closed(&mut events).await;
    assert!(matches!(&reason, CloseReason::Error(_)), "{reason:?}");
    assert_eq!(
        unfinished,
        vec![Unfinished {
            message_id: "resetsend0000".into(),
            outgoing: false,
            bytes_acknowledged: 1000,
        }]
    );
}

/// The session sends a message of 8 KiB chunks; the peer answers three,
/// reads part of the fourth and resets. The session reports the message
/// unfinished with exactly the three chunks' octets acknowledged.
#[tokio::test]
async fn peer_resets_mid_chunk_while_receiving() {
    let server = Server::new(EndpointConfig::default());
    let (mut peer, transport) = RawPeer::bind(&server).await;
    let (session, mut events) = Session::new(
        transport,
        SessionConfig {
            chunk_size: 8192,
            progress_step: 1,
            ..Default::default()
        },
    );
    let id = session
        .send_message(OutgoingMessage::new("text/plain", vec![b'x'; 100_000]))
        .unwrap();
    for _ in 0..3 {
        let c = peer.read_chunk().await;
        assert_eq!(c.message_id(), Some(id.as_str()));
        peer.answer_200(&c).await;
    }
    // Reset only once the session has taken the three answers in.
    loop {
        match next(&mut events).await {
            SessionEvent::Progress { bytes: 24_576, .. } => break,
            SessionEvent::Progress { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    // Part of the fourth chunk (the sender is ahead of us).
    let mut some = [0u8; 100];
    let n = peer.tcp.read(&mut some).await.unwrap();
    assert!(n > 0);
    reset(peer.tcp);
    let (reason, unfinished, _) = until_closed(&mut events).await;
    assert!(matches!(&reason, CloseReason::Error(_)), "{reason:?}");
    assert_eq!(
        unfinished,
        vec![Unfinished {
            message_id: id,
            outgoing: true,
            bytes_acknowledged: 24_576,
        }]
    );
}

/// A TCP proxy that forwards both ways until `budget` octets went from the
/// client to the server, then stops forwarding in both directions without
/// closing either connection (a peer that vanished without a FIN, as far as
/// each end can tell).
struct FreezingProxy {
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FreezingProxy {
    async fn start(target: SocketAddr, budget: i64) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(target).await.unwrap();
            let budget = Arc::new(AtomicI64::new(budget));
            let frozen = Arc::new(AtomicBool::new(false));
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let (b, f) = (budget.clone(), frozen.clone());
            let up = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = cr.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    let left = b.fetch_sub(n as i64, Ordering::SeqCst);
                    let pass = left.clamp(0, n as i64) as usize;
                    sw.write_all(&buf[..pass]).await.unwrap();
                    if pass < n || left - n as i64 <= 0 {
                        f.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                // Hold both halves open, forwarding nothing.
                std::future::pending::<()>().await;
                drop((cr, sw));
            });
            let down = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = sr.read(&mut buf).await.unwrap_or(0);
                    if n == 0 || frozen.load(Ordering::SeqCst) {
                        break;
                    }
                    cw.write_all(&buf[..n]).await.unwrap();
                }
                std::future::pending::<()>().await;
                drop((sr, cw));
            });
            let _ = tokio::join!(up, down);
        });
        FreezingProxy {
            addr,
            tasks: vec![task],
        }
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Half-open: the proxy between the sessions stops forwarding in the
/// middle of a message. Both sessions declare the connection dead after
/// their liveness timeout and list the message as unfinished: the
/// receiver with the octets it took, the sender with the octets answered
/// 200 (never more than the receiver took).
#[tokio::test]
async fn half_open_connection_found_by_liveness_timeout() {
    // The connector reaches the server through the proxy, so the paths do
    // not name the same address: match by session id (RFC 6714 practice).
    let config = EndpointConfig {
        matching: PathMatching::SessionId,
        ..Default::default()
    };
    let server = Server::new(config.clone());
    let s_path = server.prepare(None).await.unwrap();
    let proxy = FreezingProxy::start(server.local_addrs()[0], 60_000).await;
    let mut via_proxy = s_path.clone();
    via_proxy[0].port = Some(proxy.addr.port());
    let mut connector = ConnectorDirect::new(config);
    let c_path = connector.prepare(None).unwrap();
    let s = server.clone();
    let local = s_path[0].clone();
    let accepted = tokio::spawn(async move { s.complete(&local, &c_path, None, T).await });
    let c = connector.complete(&via_proxy, None, T).await.unwrap();
    let a = accepted.await.unwrap().unwrap();
    let live = Some(Duration::from_millis(1500));
    let (sender, mut sender_events) = Session::new(
        c,
        SessionConfig {
            chunk_size: 4096,
            liveness_timeout: live,
            ..Default::default()
        },
    );
    let (_receiver, mut receiver_events) = Session::new(
        a,
        SessionConfig {
            max_message_size: 1024, // streamed: each chunk is an event
            liveness_timeout: live,
            ..Default::default()
        },
    );
    let total = 1 << 20;
    let id = sender
        .send_message(OutgoingMessage::new("text/plain", vec![b'h'; total]))
        .unwrap();
    let (r_reason, r_unfinished, r_before) = until_closed(&mut receiver_events).await;
    let (s_reason, s_unfinished, _) = until_closed(&mut sender_events).await;
    let received: u64 = r_before
        .iter()
        .map(|e| match e {
            SessionEvent::MessageData { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum();
    for reason in [&r_reason, &s_reason] {
        match reason {
            CloseReason::Error(text) => assert!(text.contains("declared dead"), "{text}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(received > 0 && received < total as u64, "{received}");
    assert_eq!(received % 4096, 0);
    assert_eq!(
        r_unfinished,
        vec![Unfinished {
            message_id: id.clone(),
            outgoing: false,
            bytes_acknowledged: received,
        }]
    );
    assert_eq!(s_unfinished.len(), 1, "{s_unfinished:?}");
    let acked = s_unfinished[0].bytes_acknowledged;
    assert_eq!(
        (
            s_unfinished[0].message_id.as_str(),
            s_unfinished[0].outgoing
        ),
        (id.as_str(), true)
    );
    assert!(
        acked <= received && acked % 4096 == 0,
        "{acked} of {received}"
    );
    drop(proxy);
}

/// Clients abort their TLS handshakes with the Server in several ways; the
/// Server goes on serving, and a real session binds and talks after them.
#[tokio::test]
async fn tls_handshake_aborted_by_clients_server_keeps_serving() {
    let id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let fp = id.fingerprint();
    let server = Server::new(EndpointConfig {
        identity: Some(id),
        ..Default::default()
    });
    let path = server.prepare(None).await.unwrap();
    assert!(path[0].secure);
    let addr = server.local_addrs()[0];
    // A TLS record header announcing a handshake, and part of a ClientHello.
    let partial_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    // 1: part of a ClientHello, then RST.
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(&partial_hello).await.unwrap();
    reset(t);
    // 2: part of a ClientHello, then FIN; the server closes its side.
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(&partial_hello).await.unwrap();
    t.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), t.read_to_end(&mut rest))
        .await
        .expect("the server ends the aborted handshake");
    // 3: connect and reset before any byte.
    reset(TcpStream::connect(addr).await.unwrap());
    // 4: not TLS at all: the server answers with an alert or closes.
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(b"MSRP abcd SEND\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), t.read_to_end(&mut rest))
        .await
        .expect("the server ends the non-TLS connection");

    // The real peer still binds and talks.
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector.prepare(None).unwrap();
    let s = server.clone();
    let local = path[0].clone();
    let accepted = tokio::spawn(async move { s.complete(&local, &c_path, None, T).await });
    let c = connector.complete(&path, Some(fp), T).await.unwrap();
    let a = accepted.await.unwrap().unwrap();
    let (cs, mut crx) = Session::new(c, SessionConfig::default());
    let (_as, mut arx) = Session::new(a, SessionConfig::default());
    let sent_id = cs
        .send_message(OutgoingMessage::new("text/plain", "after the aborts"))
        .unwrap();
    loop {
        if let SessionEvent::Message(m) = next(&mut arx).await {
            assert_eq!(&m.body[..], b"after the aborts");
            break;
        }
    }
    loop {
        if let SessionEvent::Sent {
            message_id, code, ..
        } = next(&mut crx).await
        {
            assert_eq!((message_id, code), (sent_id, 200));
            break;
        }
    }
}

/// A server that takes the ClientHello and closes (FIN) or resets: the
/// connector's complete fails with a TLS or I/O error at once, not after
/// its timeout.
#[tokio::test]
async fn tls_handshake_aborted_by_server_complete_fails_clearly() {
    let fp = TlsIdentity::self_signed(&["127.0.0.1"])
        .unwrap()
        .identity
        .fingerprint();
    for rst in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let aborter = tokio::spawn(async move {
            let (mut t, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 64];
            let n = t.read(&mut hello).await.unwrap();
            assert!(n > 0 && hello[0] == 0x16, "a TLS handshake record");
            if rst {
                reset(t);
            } else {
                t.shutdown().await.unwrap();
                drop(t);
            }
        });
        let remote = vec![Uri::new(
            Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Some(port),
            Some("abortedtls".into()),
            true,
        )];
        let mut connector = ConnectorDirect::new(EndpointConfig::default());
        connector.prepare(None).unwrap();
        let err = connector
            .complete(&remote, Some(fp), Some(Duration::from_secs(60)))
            .await
            .expect_err("the handshake was aborted");
        assert!(
            matches!(err, ConnectError::Tls(_) | ConnectError::Io(_)),
            "rst {rst}: {err:?}"
        );
        aborter.await.unwrap();
    }
}

/// The receiving application cannot store a message any more (a full disk)
/// and refuses the rest of it: the sender's Sent carries 413 and exactly the
/// octets the receiver took (answered 200), and the session goes on.
#[tokio::test]
async fn receiver_refuses_the_rest_of_a_message() {
    let server = Server::new(EndpointConfig::default());
    let path = server.prepare(None).await.unwrap();
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector.prepare(None).unwrap();
    let s = server.clone();
    let local = path[0].clone();
    let accepted = tokio::spawn(async move { s.complete(&local, &c_path, None, T).await });
    let c = connector.complete(&path, None, T).await.unwrap();
    let a = accepted.await.unwrap().unwrap();
    let (sender, mut sender_events) = Session::new(
        c,
        SessionConfig {
            chunk_size: 4096,
            ..Default::default()
        },
    );
    let (receiver, mut receiver_events) = Session::new(
        a,
        SessionConfig {
            max_message_size: 1024, // streamed
            ..Default::default()
        },
    );
    let id = sender
        .send_message(OutgoingMessage::new("text/plain", vec![b'd'; 1 << 20]))
        .unwrap();
    let mut took = 0u64;
    match next(&mut receiver_events).await {
        SessionEvent::MessageData {
            message_id, data, ..
        } => {
            assert_eq!(message_id, id);
            took += data.len() as u64;
        }
        other => panic!("{other:?}"),
    }
    assert!(receiver.refuse_incoming(&id, 200).is_err());
    receiver.refuse_incoming(&id, 413).unwrap();
    let acked = loop {
        if let SessionEvent::Sent {
            message_id,
            code,
            bytes_acknowledged,
        } = next(&mut sender_events).await
        {
            assert_eq!((message_id.as_str(), code), (id.as_str(), 413));
            break bytes_acknowledged;
        }
    };
    // Every chunk answered 200 was handed to the receiver before the 413.
    while let Ok(e) = receiver_events.try_recv() {
        match e {
            SessionEvent::MessageData { data, .. } => took += data.len() as u64,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(acked, took);
    assert!(took < 1 << 20);
    // The session goes on.
    let next_id = sender
        .send_message(OutgoingMessage::new("text/plain", "still here"))
        .unwrap();
    match next(&mut receiver_events).await {
        SessionEvent::Message(m) => {
            assert_eq!((m.message_id, &m.body[..]), (next_id, &b"still here"[..]))
        }
        other => panic!("{other:?}"),
    }
}

/// Chunks sent with Failure-Report partial get no response on success, so a
/// silent peer is normal for them: the liveness timeout does not declare the
/// connection dead (a reset does end it).
#[tokio::test]
async fn liveness_ignores_chunks_that_expect_no_response() {
    let server = Server::new(EndpointConfig::default());
    let (mut peer, transport) = RawPeer::bind(&server).await;
    let (session, mut events) = Session::new(
        transport,
        SessionConfig {
            liveness_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    );
    let mut m = OutgoingMessage::new("text/plain", vec![b'p'; 20_000]);
    m.failure_report = msrp::protocol::FailureReport::Partial;
    let id = session.send_message(m).unwrap();
    for _ in 0..3 {
        let c = peer.read_chunk().await;
        assert_eq!(c.message_id(), Some(id.as_str()));
    }
    // Several liveness periods without a byte from the peer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !session.is_closed(),
        "declared dead for a silent Failure-Report partial peer"
    );
    reset(peer.tcp);
    let (reason, _, _) = until_closed(&mut events).await;
    assert!(matches!(&reason, CloseReason::Error(_)), "{reason:?}");
}
