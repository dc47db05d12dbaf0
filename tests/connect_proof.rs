//! Proof tests for the connect layer over real loopback sockets: many
//! sessions through one Server port, misbehaving peers, wrong From-Path,
//! double binding, backpressure, IPv6 and TLS client certificates.

use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp::connect::{AcceptorDirect, ConnectError, ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::{Continuation, Uri};
use msrp::transport::{ChunkParams, TlsIdentity, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Option<Duration> = Some(Duration::from_secs(10));

fn text(t: &str) -> ChunkParams {
    ChunkParams {
        data: Bytes::copy_from_slice(t.as_bytes()),
        ..Default::default()
    }
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

fn raise_nofile() {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        r.rlim_cur = r.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &r), 0);
    }
}

fn sid(path: &[Uri]) -> String {
    path.last().unwrap().session_id.clone().unwrap()
}

/// Sends `msg` from `a` to `b` and checks it arrived from `a_sid`, is
/// answered 200 and that `b`'s reply reaches `a`.
async fn exchange(a: &mut Transport, b: &mut Transport, a_sid: &str, b_sid: &str, tag: &str) {
    let msg = format!("from {a_sid} {tag}");
    let c = a.make_chunk(text(&msg));
    a.write_chunk(&c).await.unwrap();
    let got = b.read_chunk(None).await.unwrap();
    assert_eq!(&got.data[..], msg.as_bytes());
    let from = got.from_path().unwrap();
    assert_eq!(from.last().unwrap().session_id.as_deref(), Some(a_sid));
    let to = got.to_path().unwrap();
    assert_eq!(to.last().unwrap().session_id.as_deref(), Some(b_sid));
    b.check_incoming_send_chunk(&got).unwrap();
    b.write_response(&got, 200, None).await.unwrap();
    let resp = a.read_chunk(None).await.unwrap();
    assert_eq!(resp.code(), Some(200));
    assert_eq!(resp.transaction_id, c.transaction_id);
    let reply = format!("from {b_sid} {tag}");
    let c2 = b.make_chunk(text(&reply));
    b.write_chunk(&c2).await.unwrap();
    let got2 = a.read_chunk(None).await.unwrap();
    assert_eq!(&got2.data[..], reply.as_bytes());
    let from2 = got2.from_path().unwrap();
    assert_eq!(from2.last().unwrap().session_id.as_deref(), Some(b_sid));
    a.check_incoming_send_chunk(&got2).unwrap();
}

/// Binds one connector to a session prepared on `server`.
async fn bind_one(server: &Server, csid: &str) -> (Transport, Transport, String, String) {
    let local = server.prepare(None).await.unwrap();
    let ssid = sid(&local);
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri(&format!("msrp://127.0.0.1:0/{csid};tcp"))))
        .unwrap();
    let s = server.clone();
    let l = local[0].clone();
    let wait = tokio::spawn(async move { s.complete(&l, &c_path, None, T).await });
    let ct = connector.complete(&local, None, T).await.unwrap();
    let st = wait.await.unwrap().unwrap();
    (ct, st, csid.to_string(), ssid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sessions_through_one_port() {
    raise_nofile();
    const N: usize = 500;
    let started = Instant::now();
    let server = Server::new(EndpointConfig::default());
    let mut locals = Vec::new();
    for _ in 0..N {
        locals.push(server.prepare(None).await.unwrap());
    }
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 1, "one listening socket: {addrs:?}");
    for l in &locals {
        assert_eq!(l[0].port, Some(addrs[0].port()));
    }
    // Bind all of them concurrently.
    let mut tasks = Vec::new();
    for (i, local) in locals.iter().enumerate() {
        let server = server.clone();
        let local = local.clone();
        tasks.push(tokio::spawn(async move {
            let csid = format!("conn{i:04}x");
            let mut connector = ConnectorDirect::new(EndpointConfig::default());
            let c_path = connector
                .prepare(Some(uri(&format!("msrp://127.0.0.1:0/{csid};tcp"))))
                .unwrap();
            let l = local[0].clone();
            let s = server.clone();
            let wait = tokio::spawn(async move { s.complete(&l, &c_path, None, T).await });
            let ct = connector.complete(&local, None, T).await.unwrap();
            let st = wait.await.unwrap().unwrap();
            (ct, st, csid, sid(&local))
        }));
    }
    let mut pairs = Vec::new();
    for t in tasks {
        pairs.push(t.await.unwrap());
    }
    // All 500 are bound at once; now exchange on all of them concurrently.
    let mut tasks = Vec::new();
    for (mut ct, mut st, csid, ssid) in pairs {
        tasks.push(tokio::spawn(async move {
            exchange(&mut ct, &mut st, &csid, &ssid, "hello").await;
            (ct, st)
        }));
    }
    let mut kept = Vec::new();
    for t in tasks {
        kept.push(t.await.unwrap());
    }
    assert_eq!(kept.len(), N);
    let elapsed = started.elapsed();
    eprintln!("{N} sessions bound and exchanged in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

/// Reads until EOF or error; true when the peer closed within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let end = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_silent_peers_are_closed() {
    let cfg = EndpointConfig {
        bind_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let server = Server::new(cfg);
    let local = server.prepare(None).await.unwrap();
    let addr = server.local_addrs()[0];
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    let mut x: u32 = 0x1234_5678;
    let mut junk = b"HELLO\r\n".to_vec();
    for _ in 0..4096 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        junk.push((x >> 16) as u8);
    }
    garbage.write_all(&junk).await.unwrap();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let opened = Instant::now();
    // Meanwhile, a good session binds and exchanges.
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri("msrp://127.0.0.1:0/goodone;tcp")))
        .unwrap();
    let s = server.clone();
    let l = local[0].clone();
    let wait = tokio::spawn(async move {
        s.complete(&l, &c_path, None, Some(Duration::from_secs(5)))
            .await
    });
    let mut ct = connector
        .complete(&local, None, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let mut st = wait.await.unwrap().unwrap();
    exchange(&mut ct, &mut st, "goodone", &sid(&local), "meanwhile").await;
    // The garbage and the silent peer are closed by the server.
    assert!(
        closed_within(&mut garbage, Duration::from_secs(3)).await,
        "garbage peer still open"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(3)).await,
        "silent peer still open"
    );
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "closed early: {waited:?}"
    );
    // The bound session still works, and a new one binds afterwards.
    exchange(&mut ct, &mut st, "goodone", &sid(&local), "still").await;
    let (mut ct2, mut st2, csid, ssid) = bind_one(&server, "afterwards").await;
    exchange(&mut ct2, &mut st2, &csid, &ssid, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_from_path_is_rejected_481_then_right_peer_binds() {
    let server = Server::new(EndpointConfig::default());
    let local = server.prepare(None).await.unwrap();
    let right = vec![uri("msrp://127.0.0.1:9/rightpeer;tcp")];
    let s = server.clone();
    let l = local[0].clone();
    let r = right.clone();
    let wait = tokio::spawn(async move {
        s.complete(&l, &r, None, Some(Duration::from_secs(10)))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut wrong = ConnectorDirect::new(EndpointConfig::default());
    wrong
        .prepare(Some(uri("msrp://127.0.0.1:9/wrongpeer;tcp")))
        .unwrap();
    match wrong
        .complete(&local, None, Some(Duration::from_secs(5)))
        .await
    {
        Err(ConnectError::Rejected(e)) => assert_eq!(e.code, 481),
        Err(e) => panic!("expected 481, got {e}"),
        Ok(_) => panic!("wrong peer bound"),
    }
    assert!(!wait.is_finished(), "complete returned on the wrong peer");
    let mut good = ConnectorDirect::new(EndpointConfig::default());
    good.prepare(Some(right[0].clone())).unwrap();
    let mut ct = good
        .complete(&local, None, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let mut st = wait.await.unwrap().unwrap();
    exchange(&mut ct, &mut st, "rightpeer", &sid(&local), "right").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_connection_to_bound_session_gets_506() {
    let server = Server::new(EndpointConfig::default());
    let local = server.prepare(None).await.unwrap();
    let c_path = vec![uri("msrp://127.0.0.1:9/firstpeer;tcp")];
    let s = server.clone();
    let l = local[0].clone();
    let p = c_path.clone();
    let wait = tokio::spawn(async move { s.complete(&l, &p, None, T).await });
    let mut first = ConnectorDirect::new(EndpointConfig::default());
    first.prepare(Some(c_path[0].clone())).unwrap();
    let mut ct = first.complete(&local, None, T).await.unwrap();
    let mut st = wait.await.unwrap().unwrap();
    // Same From-Path, and a different one: both 506.
    for from in [
        "msrp://127.0.0.1:9/firstpeer;tcp",
        "msrp://127.0.0.1:9/other;tcp",
    ] {
        let mut second = ConnectorDirect::new(EndpointConfig::default());
        second.prepare(Some(uri(from))).unwrap();
        match second.complete(&local, None, T).await {
            Err(ConnectError::Rejected(e)) => assert_eq!(e.code, 506, "{from}"),
            Err(e) => panic!("expected 506, got {e}"),
            Ok(_) => panic!("second connection bound"),
        }
    }
    exchange(&mut ct, &mut st, "firstpeer", &sid(&local), "still bound").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_bounds_buffering_and_loses_nothing() {
    let server = Server::new(EndpointConfig::default());
    let (mut ct, mut st, _, _) = bind_one(&server, "sender").await;
    const CHUNK: usize = 64 * 1024;
    const LIMIT: usize = 64 * 1024 * 1024;
    let body = |n: usize| -> Bytes {
        let mut v = vec![0u8; CHUNK];
        for (i, b) in v.iter_mut().enumerate() {
            *b = (n.wrapping_mul(31).wrapping_add(i) % 251) as u8;
        }
        Bytes::from(v)
    };
    let chunk = |t: &Transport, n: usize| {
        t.make_chunk(ChunkParams {
            data: body(n),
            content_type: Some("application/octet-stream".into()),
            message_id: Some(format!("msg{n}")),
            ..Default::default()
        })
    };
    // The receiver does not read; the writes must eventually block.
    let mut n = 0usize;
    let mut blocked = false;
    while n * CHUNK < LIMIT {
        let c = chunk(&ct, n);
        let r = tokio::time::timeout(Duration::from_millis(300), ct.write_chunk(&c)).await;
        n += 1;
        match r {
            Ok(r) => r.unwrap(),
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    assert!(blocked, "{} bytes written without blocking", n * CHUNK);
    eprintln!("blocked after {n} chunks ({} bytes)", n * CHUNK);
    assert!(n * CHUNK < 16 * 1024 * 1024, "{} bytes", n * CHUNK);
    // The reader resumes; the one more chunk written after the blocked one
    // completes it, and every chunk arrives intact and in order (the one
    // whose write timed out included, exactly once).
    let total = n + 1;
    let reader = tokio::spawn(async move {
        for i in 0..total {
            let got = st.read_chunk(None).await.unwrap();
            assert_eq!(
                got.message_id(),
                Some(format!("msg{i}").as_str()),
                "chunk {i}"
            );
            assert_eq!(got.continuation, Continuation::End);
            assert!(got.data == body(i), "chunk {i} corrupted");
        }
        st
    });
    let last = chunk(&ct, n);
    tokio::time::timeout(Duration::from_secs(20), ct.write_chunk(&last))
        .await
        .expect("write after the reader resumed")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("reader finished")
        .unwrap();
}

fn ipv6_available() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping: cannot bind [::1]: {e}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_tcp_and_tls() {
    if !ipv6_available() {
        return;
    }
    // TCP.
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor
        .prepare(Some(uri("msrp://[::1]:0/acceptsix;tcp")))
        .await
        .unwrap();
    assert_ne!(a_path[0].port, Some(0));
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri("msrp://[::1]:0/connectsix;tcp")))
        .unwrap();
    let wait = tokio::spawn(async move { acceptor.complete(&c_path, None, T).await });
    let mut ct = connector.complete(&a_path, None, T).await.unwrap();
    let mut at = wait.await.unwrap().unwrap();
    exchange(&mut ct, &mut at, "connectsix", "acceptsix", "v6 tcp").await;

    // TLS with the fingerprint.
    let id = TlsIdentity::self_signed(&["::1"]).unwrap().identity;
    let mut acceptor = AcceptorDirect::new(EndpointConfig {
        identity: Some(id.clone()),
        ..Default::default()
    });
    let a_path = acceptor
        .prepare(Some(uri("msrps://[::1]:0/tlssix;tcp")))
        .await
        .unwrap();
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri("msrps://[::1]:0/tlsclientsix;tcp")))
        .unwrap();
    let wait = tokio::spawn(async move { acceptor.complete(&c_path, None, T).await });
    let mut ct = connector
        .complete(&a_path, Some(id.fingerprint()), T)
        .await
        .unwrap();
    let mut at = wait.await.unwrap().unwrap();
    exchange(&mut ct, &mut at, "tlsclientsix", "tlssix", "v6 tls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificate_checked_on_accept() {
    let server_id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let client_id = TlsIdentity::self_signed(&["client.invalid"])
        .unwrap()
        .identity;
    let other_id = TlsIdentity::self_signed(&["other.invalid"])
        .unwrap()
        .identity;
    let server_cfg = EndpointConfig {
        identity: Some(server_id.clone()),
        ..Default::default()
    };
    let client_cfg = EndpointConfig {
        identity: Some(client_id.clone()),
        ..Default::default()
    };

    // Matching client fingerprint: binds.
    let mut acceptor = AcceptorDirect::new(server_cfg.clone());
    let a_path = acceptor.prepare(None).await.unwrap();
    assert!(a_path[0].secure);
    let mut connector = ConnectorDirect::new(client_cfg.clone());
    let c_path = connector
        .prepare(Some(uri("msrps://127.0.0.1:0/certclient;tcp")))
        .unwrap();
    let fp = client_id.fingerprint();
    let wait = tokio::spawn(async move { acceptor.complete(&c_path, Some(fp), T).await });
    let mut ct = connector
        .complete(&a_path, Some(server_id.fingerprint()), T)
        .await
        .unwrap();
    let mut at = wait.await.unwrap().unwrap();
    exchange(&mut ct, &mut at, "certclient", &sid(&a_path), "cert ok").await;

    // Another expected fingerprint: does not bind, the connector is rejected.
    let mut acceptor = AcceptorDirect::new(server_cfg);
    let a_path = acceptor.prepare(None).await.unwrap();
    let mut connector = ConnectorDirect::new(client_cfg);
    let c_path = connector
        .prepare(Some(uri("msrps://127.0.0.1:0/certclient;tcp")))
        .unwrap();
    let fp = other_id.fingerprint();
    let wait = tokio::spawn(async move {
        acceptor
            .complete(&c_path, Some(fp), Some(Duration::from_millis(1500)))
            .await
    });
    let r = connector
        .complete(
            &a_path,
            Some(server_id.fingerprint()),
            Some(Duration::from_secs(5)),
        )
        .await;
    match r {
        Err(ConnectError::Rejected(e)) => assert_eq!(e.code, 481),
        Err(e) => panic!("expected a rejection, got {e}"),
        Ok(_) => panic!("connector with the wrong certificate bound"),
    }
    match wait.await.unwrap() {
        Err(ConnectError::Timeout) => {}
        Err(e) => panic!("expected a timeout, got {e}"),
        Ok(_) => panic!("acceptor bound the wrong certificate"),
    }
}
