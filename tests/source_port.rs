//! The active side's local port over loopback: the path advertises port 9
//! (or the caller's port) and never 0; with `SourcePort::Any`/`Range` the
//! connector binds the advertised port at prepare time and connects from
//! it, so that the passive side sees the path's port as the source port.
//!
//! "Occupied" here means a socket bound without SO_REUSEADDR: a socket with
//! it could share the port with the connector's reservation (which sets it,
//! so that its TIME_WAIT does not block the port), and would prove nothing.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use msrp::connect::{
    AcceptorDirect, ConnectError, ConnectorDirect, EndpointConfig, Server, SourcePort, DISCARD_PORT,
};
use msrp::protocol::Uri;
use msrp::transport::{ChunkParams, Transport};
use tokio::net::TcpSocket;

const WAIT: Option<Duration> = Some(Duration::from_secs(10));

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn text(t: &str) -> ChunkParams {
    ChunkParams {
        data: Bytes::copy_from_slice(t.as_bytes()),
        ..Default::default()
    }
}

fn config(source_port: SourcePort) -> EndpointConfig {
    EndpointConfig {
        source_port,
        ..EndpointConfig::default()
    }
}

/// A socket bound to `port` on all IPv4 addresses without SO_REUSEADDR,
/// or the error of binding it.
fn occupy(port: u16) -> std::io::Result<TcpSocket> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
    Ok(s)
}

fn is_free(port: u16) -> bool {
    occupy(port).is_ok()
}

/// The system's ephemeral port range (the ports it picks when connecting).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|n| n.parse().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// `n` consecutive free ports outside the ephemeral range, so that the
/// system never picks one of them for another connection of the tests.
fn free_ports(n: u16) -> u16 {
    let (lo, hi) = ephemeral_range();
    let mut seed = [0u8; 2];
    getrandom::getrandom(&mut seed).unwrap();
    let mut base = 10000 + u16::from_le_bytes(seed) % 20000;
    for _ in 0..2000 {
        base = if base > 30000 { 10000 } else { base + n + 7 };
        let end = base + n - 1;
        if end >= lo && base <= hi {
            continue;
        }
        if (base..=end).all(is_free) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

/// Prepares an acceptor, prepares `connector` with `local`, completes both,
/// and checks a chunk each way. Returns the connector's path and both
/// transports (connector's first).
async fn bind_to_acceptor(
    connector: &mut ConnectorDirect,
    local: Option<Uri>,
    acceptor_uri: Option<Uri>,
) -> (Vec<Uri>, Transport, Transport) {
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(acceptor_uri).await.unwrap();
    let c_path = connector.prepare(local).unwrap();
    let remote = c_path.clone();
    let a_task = tokio::spawn(async move { acceptor.complete(&remote, None, WAIT).await });
    let mut ct = connector.complete(&a_path, None, WAIT).await.unwrap();
    let mut at = a_task.await.unwrap().unwrap();
    exchange(&mut ct, &mut at).await;
    (c_path, ct, at)
}

async fn exchange(ct: &mut Transport, at: &mut Transport) {
    ct.write_chunk(&ct.make_chunk(text("from the active side")))
        .await
        .unwrap();
    let got = at.read_chunk(None).await.unwrap();
    assert_eq!(&got.data[..], b"from the active side");
    at.check_incoming_send_chunk(&got).unwrap();
    at.write_chunk(&at.make_chunk(text("from the passive side")))
        .await
        .unwrap();
    let got = ct.read_chunk(None).await.unwrap();
    assert_eq!(&got.data[..], b"from the passive side");
    ct.check_incoming_send_chunk(&got).unwrap();
}

fn source_port_seen_by(at: &Transport) -> u16 {
    at.info()
        .peer_addr
        .expect("an accepted socket's peer")
        .port()
}

#[tokio::test]
async fn default_path_advertises_port_9_and_any_source_port_binds() {
    let mut c = ConnectorDirect::new(EndpointConfig::default());
    assert_eq!(c.prepare(None).unwrap()[0].port, Some(DISCARD_PORT));
    assert_eq!(DISCARD_PORT, 9);
    let zero = c
        .prepare(Some(uri("msrp://127.0.0.1:0/zeroport;tcp")))
        .unwrap();
    assert_eq!(zero[0].port, Some(9));
    assert_eq!(zero[0].to_string(), "msrp://127.0.0.1:9/zeroport;tcp");
    // A URI without a port; the acceptor binds it although its socket's
    // source port is another (RFC 4975 §5.4 matches by the URI).
    let (path, _ct, at) =
        bind_to_acceptor(&mut c, Some(uri("msrp://127.0.0.1/noport;tcp")), None).await;
    assert_eq!(path[0].port, Some(9));
    assert_eq!(at.info().remote_path[0].port, Some(9));
    assert_ne!(source_port_seen_by(&at), 9);
}

#[tokio::test]
async fn without_the_option_a_given_port_is_only_advertised() {
    let q = free_ports(1);
    let mut c = ConnectorDirect::new(EndpointConfig::default());
    let local = uri(&format!("msrp://127.0.0.1:{q}/givenport;tcp"));
    let (path, ct, at) = bind_to_acceptor(&mut c, Some(local), None).await;
    assert_eq!(path[0].port, Some(q));
    // Outside the ephemeral range: the system never picked it.
    assert_ne!(source_port_seen_by(&at), q);
    assert_ne!(ct.info().local_addr.unwrap().port(), q);
    assert!(is_free(q), "nothing was bound to the advertised port");
}

#[tokio::test]
async fn the_bound_port_is_the_source_port_the_passive_side_sees() {
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let path = c.prepare(None).unwrap();
    let p = path[0].port.unwrap();
    assert!(p != 0 && p != 9, "{p}");
    // Reserved from prepare on.
    assert!(!is_free(p), "port {p} is not held after prepare");
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    let a_task = tokio::spawn(async move { acceptor.complete(&path, None, WAIT).await });
    let mut ct = c.complete(&a_path, None, WAIT).await.unwrap();
    let mut at = a_task.await.unwrap().unwrap();
    exchange(&mut ct, &mut at).await;
    assert_eq!(source_port_seen_by(&at), p);
    assert_eq!(ct.info().local_addr.unwrap().port(), p);
    assert_eq!(at.info().remote_path[0].port, Some(p));
}

#[tokio::test]
async fn with_the_option_a_given_port_is_bound() {
    let q = free_ports(1);
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let local = uri(&format!("msrp://127.0.0.1:{q}/boundgiven;tcp"));
    let (path, _ct, at) = bind_to_acceptor(&mut c, Some(local), None).await;
    assert_eq!(path[0].port, Some(q));
    assert_eq!(source_port_seen_by(&at), q);
}

#[tokio::test]
async fn a_range_is_honoured() {
    let b = free_ports(3);
    // The first two ports of the range are occupied (one listening).
    let _first = occupy(b).unwrap();
    let second = occupy(b + 1).unwrap().listen(1).unwrap();
    let range = SourcePort::Range {
        low: b,
        high: b + 2,
    };
    let mut c = ConnectorDirect::new(config(range));
    let (path, _ct, at) = bind_to_acceptor(&mut c, None, None).await;
    assert_eq!(path[0].port, Some(b + 2));
    assert_eq!(source_port_seen_by(&at), b + 2);
    // With the connection up and the other two occupied, another connector
    // of the range prepares on the connection's port only if nothing else
    // is free; then its path has that port (a connection to another peer
    // could be made from it).
    let mut again = ConnectorDirect::new(config(range));
    assert_eq!(again.prepare(None).unwrap()[0].port, Some(b + 2));
    // While that one holds it, a third finds the range full.
    let mut third = ConnectorDirect::new(config(range));
    match third.prepare(None) {
        Err(ConnectError::AddressInUse(t)) => {
            assert!(t.contains(&format!("{b}-{}", b + 2)), "{t}")
        }
        other => panic!("expected AddressInUse, got {other:?}"),
    }
    // A port freed in the range is taken.
    drop(second);
    assert_eq!(third.prepare(None).unwrap()[0].port, Some(b + 1));
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let q = free_ports(1);
    for listening in [false, true] {
        let _occupant: Box<dyn std::any::Any> = if listening {
            Box::new(occupy(q).unwrap().listen(1).unwrap())
        } else {
            Box::new(occupy(q).unwrap())
        };
        for (source, local) in [
            (SourcePort::Range { low: q, high: q }, None),
            (
                SourcePort::Any,
                Some(uri(&format!("msrp://127.0.0.1:{q}/inuse;tcp"))),
            ),
        ] {
            let mut c = ConnectorDirect::new(config(source));
            match c.prepare(local) {
                Err(ConnectError::AddressInUse(t)) => {
                    assert!(t.contains(&q.to_string()), "{t}");
                    let shown = ConnectError::AddressInUse(t).to_string();
                    assert!(shown.starts_with("address in use: "), "{shown}");
                }
                other => panic!("expected AddressInUse (listening {listening}), got {other:?}"),
            }
            // Not prepared: complete says so instead of connecting.
            let err = c
                .complete(&[uri("msrp://127.0.0.1:1/x;tcp")], None, WAIT)
                .await
                .unwrap_err();
            assert!(matches!(err, ConnectError::NotPrepared), "{err}");
        }
    }
}

#[tokio::test]
async fn cleanup_drop_and_a_new_prepare_free_the_port() {
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let p = c.prepare(None).unwrap()[0].port.unwrap();
    assert!(occupy(p).is_err(), "held after prepare");
    c.cleanup();
    drop(occupy(p).expect("free after cleanup"));
    let again = c
        .prepare(Some(uri(&format!("msrp://127.0.0.1:{p}/again;tcp"))))
        .unwrap();
    assert_eq!(again[0].port, Some(p));
    assert!(occupy(p).is_err(), "held after the second prepare");
    // Another prepare frees the port of the first.
    let other = c.prepare(None).unwrap()[0].port.unwrap();
    assert_ne!(other, p);
    drop(occupy(p).expect("free after another prepare"));
    drop(c);
    drop(occupy(other).expect("free after drop"));
}

#[tokio::test]
async fn the_same_port_serves_one_session_after_another() {
    let q = free_ports(1);
    let range = SourcePort::Range { low: q, high: q };
    let mut c = ConnectorDirect::new(config(range));
    let (_, ct, mut at) = bind_to_acceptor(&mut c, None, None).await;
    assert_eq!(source_port_seen_by(&at), q);
    // The active side closes first: its end of the connection goes to
    // TIME_WAIT on port q.
    drop(ct);
    assert!(at.read_chunk(None).await.is_err());
    drop(at);
    let mut c2 = ConnectorDirect::new(config(range));
    let (path, _ct, at) = bind_to_acceptor(&mut c2, None, None).await;
    assert_eq!(path[0].port, Some(q));
    assert_eq!(source_port_seen_by(&at), q);
}

#[tokio::test]
async fn a_second_connection_from_the_port_to_the_same_peer_fails_clearly() {
    let q = free_ports(1);
    let range = SourcePort::Range { low: q, high: q };
    let server = Server::new(EndpointConfig::default());
    let first = server.prepare(None).await.unwrap();
    let second = server.prepare(None).await.unwrap();
    let mut c1 = ConnectorDirect::new(config(range));
    let p1 = c1.prepare(None).unwrap();
    let (s, l) = (server.clone(), first[0].clone());
    let wait = tokio::spawn(async move { s.complete(&l, &p1, None, WAIT).await });
    let _ct = c1.complete(&first, None, WAIT).await.unwrap();
    let st = wait.await.unwrap().unwrap();
    assert_eq!(source_port_seen_by(&st), q);
    // The port is taken by a live connection, so prepare takes it only
    // with SO_REUSEADDR; the same four-tuple cannot be made twice.
    let mut c2 = ConnectorDirect::new(config(range));
    assert_eq!(c2.prepare(None).unwrap()[0].port, Some(q));
    match c2.complete(&second, None, WAIT).await {
        Err(ConnectError::AddressInUse(t)) => assert!(t.contains(&q.to_string()), "{t}"),
        other => panic!("expected AddressInUse, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_complete_binds_the_port_again_when_retried() {
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let path = c.prepare(None).unwrap();
    let p = path[0].port.unwrap();
    // Nothing listens on a port just freed: refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = c
        .complete(
            &[uri(&format!("msrp://127.0.0.1:{closed}/nobody;tcp"))],
            None,
            WAIT,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Io(_)), "{err}");
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    let a_task = tokio::spawn(async move { acceptor.complete(&path, None, WAIT).await });
    let _ct = c.complete(&a_path, None, WAIT).await.unwrap();
    let at = a_task.await.unwrap().unwrap();
    assert_eq!(source_port_seen_by(&at), p);
}

#[tokio::test]
async fn ipv6_and_a_peer_of_the_other_family() {
    // An IPv6 local URI reserves an IPv6 socket.
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let (path, _ct, at) = bind_to_acceptor(
        &mut c,
        Some(uri("msrp://[::1]/sixlocal;tcp")),
        Some(uri("msrp://[::1]:0/sixpeer;tcp")),
    )
    .await;
    let p = path[0].port.unwrap();
    assert_eq!(source_port_seen_by(&at), p);
    assert!(at.info().peer_addr.unwrap().is_ipv6());
    // An IPv4 one, connecting to an IPv6 peer: the same port is bound in
    // IPv6 to connect.
    let mut c = ConnectorDirect::new(config(SourcePort::Any));
    let (path, _ct, at) =
        bind_to_acceptor(&mut c, None, Some(uri("msrp://[::1]:0/sixpeer2;tcp"))).await;
    assert_eq!(source_port_seen_by(&at), path[0].port.unwrap());
}
