//! MSRP over WebSocket (RFC 7977) over loopback: ConnectorDirect ↔
//! AcceptorDirect over ws and wss (chunks and whole sessions with a file
//! whose SHA-256 is equal at both ends), one WebSocket message per chunk
//! (§5.1), text and binary messages (§4.2), TCP and WebSocket on one port,
//! and hostile upgrades: no `msrp` subprotocol, oversized or slow upgrade
//! requests, a disallowed origin, two chunks in one message, one chunk
//! over two messages, pings and close codes.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use msrp::connect::{AcceptorDirect, ConnectError, ConnectorDirect, EndpointConfig};
use msrp::protocol::Uri;
use msrp::session::{
    CloseReason, FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionEvent,
};
use msrp::transport::{ChunkParams, TlsIdentity, Transport, TransportError, WsListen, WsSettings};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const T: Option<Duration> = Some(Duration::from_secs(10));

fn ws_config(listen: WsListen) -> EndpointConfig {
    EndpointConfig {
        websocket: WsSettings {
            listen,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn text(t: &[u8]) -> ChunkParams {
    ChunkParams {
        data: Bytes::copy_from_slice(t),
        ..Default::default()
    }
}

/// An acceptor listening with `cfg`, its path, and a connector's transport
/// to it with the acceptor's.
async fn pair_with(cfg: EndpointConfig, fp_from_identity: bool) -> (Transport, Transport) {
    let fp = fp_from_identity.then(|| cfg.identity.as_ref().unwrap().fingerprint());
    let mut acceptor = AcceptorDirect::new(cfg);
    let a_path = acceptor.prepare(None).await.unwrap();
    assert_eq!(a_path[0].transport, "ws", "{}", a_path[0]);
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(Uri::parse("msrp://client.invalid:9/abcd;ws").unwrap()))
        .unwrap();
    let a = tokio::spawn(async move { acceptor.complete(&c_path, None, T).await.unwrap() });
    let c = connector.complete(&a_path, fp, T).await.unwrap();
    (c, a.await.unwrap())
}

fn wss_config() -> EndpointConfig {
    EndpointConfig {
        identity: Some(TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity),
        ..ws_config(WsListen::WsOnly)
    }
}

#[tokio::test]
async fn ws_and_wss_chunks_both_ways() {
    for secure in [false, true] {
        let cfg = if secure {
            wss_config()
        } else {
            ws_config(WsListen::WsOnly)
        };
        let (mut ct, mut at) = pair_with(cfg, secure).await;
        assert_eq!(ct.info().tls, secure);
        let c = ct.make_chunk(text(b"hello acceptor"));
        ct.write_chunk(&c).await.unwrap();
        let got = at.read_chunk(None).await.unwrap();
        assert_eq!(&got.data[..], b"hello acceptor");
        at.check_incoming_send_chunk(&got).unwrap();
        at.write_response(&got, 200, None).await.unwrap();
        let resp = ct.read_chunk(None).await.unwrap();
        assert_eq!(resp.code(), Some(200));
        // Several chunks gathered into one flush, one of them binary.
        let (_r, mut w) = at.into_split();
        let chunks: Vec<_> = [&b"one"[..], &[0xff, 0xfe, 0x00][..], &b"three"[..]]
            .iter()
            .map(|d| w.info().make_chunk(text(d)))
            .collect();
        for chunk in &chunks {
            w.buffer_chunk(chunk);
        }
        w.flush().await.unwrap();
        for chunk in &chunks {
            let got = ct.read_chunk(None).await.unwrap();
            assert_eq!(got.data, chunk.data);
        }
        w.close().await;
        assert!(matches!(
            ct.read_chunk(None).await,
            Err(TransportError::Closed)
        ));
    }
}

/// A raw WebSocket client (tokio-tungstenite) upgraded at `port` with the
/// given subprotocol header.
async fn raw_client(
    port: u16,
    protocol: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut request = format!("ws://127.0.0.1:{port}/")
        .into_client_request()
        .unwrap();
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    tokio_tungstenite::client_async(request, tcp)
        .await
        .map(|(ws, _)| ws)
}

fn chunk(tid: &str, to: &Uri, from: &str, body: &str) -> String {
    if body.is_empty() {
        return format!(
            "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: m{tid}\r\n\
             Byte-Range: 1-0/0\r\n-------{tid}$\r\n"
        );
    }
    format!(
        "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: m{tid}\r\n\
         Byte-Range: 1-{len}/{len}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n-------{tid}$\r\n",
        len = body.len()
    )
}

/// What a raw client receives: each message is exactly one whole chunk;
/// a valid UTF-8 chunk comes as text, another as binary.
async fn next_message(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("message in time")
            .expect("open")
            .expect("no error");
        if !matches!(m, Message::Ping(_) | Message::Pong(_)) {
            return m;
        }
    }
}

/// A raw browser-like client: binds with a `.invalid` host and no port
/// (RFC 7977 §5.2), sends two chunks in one message and one chunk over two
/// messages (both read, liberal in what is accepted), and sees the session's
/// answers one chunk per message, text or binary as their content is.
#[tokio::test]
async fn raw_client_framing_and_liberal_reading() {
    let mut acceptor = AcceptorDirect::new(ws_config(WsListen::WsOnly));
    let a_path = acceptor.prepare(None).await.unwrap();
    let port = a_path[0].port.unwrap();
    let from = "msrp://df7jal23ls0d.invalid/98cjs;ws";
    let remote = vec![Uri::parse(from).unwrap()];
    let a = tokio::spawn(async move { acceptor.complete(&remote, None, T).await.unwrap() });
    let mut ws = raw_client(port, Some("msrp")).await.unwrap();
    let to = &a_path[0];
    ws.send(Message::text(chunk("b1", to, from, "")))
        .await
        .unwrap();
    let answer = next_message(&mut ws).await;
    let Message::Text(t) = answer else {
        panic!("{answer:?}")
    };
    assert!(
        t.starts_with("MSRP b1 200 OK\r\n") && t.ends_with("-------b1$\r\n"),
        "{t}"
    );
    let mut at = a.await.unwrap();
    // Two chunks in one message, then one chunk cut over two messages.
    let two = chunk("c1", to, from, "first") + &chunk("c2", to, from, "second");
    ws.send(Message::binary(two.into_bytes())).await.unwrap();
    let third = chunk("c3", to, from, "third");
    let (x, y) = third.split_at(20);
    ws.send(Message::text(x.to_string())).await.unwrap();
    ws.send(Message::binary(y.as_bytes().to_vec()))
        .await
        .unwrap();
    for body in ["first", "second", "third"] {
        let got = at.read_chunk(None).await.unwrap();
        assert_eq!(&got.data[..], body.as_bytes());
        at.check_incoming_send_chunk(&got).unwrap();
    }
    // Two chunks written in one flush come as two messages; the binary one
    // as a binary message.
    let (mut r, mut w) = at.into_split();
    let texts = w.info().make_chunk(text(b"plain text"));
    let bin = w.info().make_chunk(text(&[0x80, 0x81, 0x82]));
    w.buffer_chunk(&texts);
    w.buffer_chunk(&bin);
    w.flush().await.unwrap();
    match next_message(&mut ws).await {
        Message::Text(t) => assert_eq!(t.as_bytes(), &texts.encode()[..]),
        other => panic!("{other:?}"),
    }
    match next_message(&mut ws).await {
        Message::Binary(b) => assert_eq!(&b[..], &bin.encode()[..]),
        other => panic!("{other:?}"),
    }
    // A ping is answered with a pong carrying its payload while the
    // session only reads.
    let reading = tokio::spawn(async move { r.read_chunk(None).await.map(|_| ()) });
    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    let pong = match tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Message::Pong(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(&pong[..], b"are you there");
    // A close frame with a protocol error code ends the read with an error
    // naming it.
    ws.close(Some(CloseFrame {
        code: CloseCode::Protocol,
        reason: "test".into(),
    }))
    .await
    .unwrap();
    let err = reading.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("1002"), "{err}");
    drop(w);
}

/// A whole session over ws and then wss: a 40 MB file with chat beside it
/// (enough for the sender to fill the socket and wait for room: a writer
/// whose wake-up was taken by the reading task stalled there), SHA-256
/// equal at both ends, and the peer's normal close is a close by the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_file_and_chat_over_ws_and_wss() {
    let size = 40_000_000;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.bin");
    std::fs::write(&path, &data).unwrap();
    let digest = Sha256::digest(&data);
    for secure in [false, true] {
        let cfg = if secure {
            wss_config()
        } else {
            ws_config(WsListen::WsOnly)
        };
        let (c, a) = pair_with(cfg, secure).await;
        let (cs, mut crx) = Session::new(c, SessionConfig::default());
        // Messages over 1 MiB are handed over in pieces as they arrive.
        let cfg = SessionConfig {
            max_message_size: 1 << 20,
            ..Default::default()
        };
        let (as_, mut arx) = Session::new(a, cfg);
        cs.send_message(OutgoingMessage::new("text/plain", "hello over ws"))
            .unwrap();
        let file = cs
            .send_file(OutgoingFile::new(
                FileSource::Path(path.clone()),
                "application/octet-stream",
            ))
            .unwrap();
        let mut hasher = Sha256::new();
        let mut chat = None;
        loop {
            let e = tokio::time::timeout(Duration::from_secs(60), arx.recv())
                .await
                .unwrap()
                .unwrap();
            match e {
                SessionEvent::Message(m) => chat = Some(m.body.clone()),
                SessionEvent::MessageData {
                    message_id, data, ..
                } => {
                    assert_eq!(message_id, file);
                    for s in data.slices() {
                        hasher.update(s);
                    }
                }
                SessionEvent::MessageComplete { bytes, .. } => {
                    assert_eq!(bytes, size as u64);
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(chat.as_deref(), Some(&b"hello over ws"[..]));
        assert_eq!(hasher.finalize()[..], digest[..]);
        as_.shutdown(false).await;
        loop {
            let e = tokio::time::timeout(Duration::from_secs(10), crx.recv())
                .await
                .unwrap()
                .unwrap();
            if let SessionEvent::Closed { reason, .. } = e {
                assert_eq!(reason, CloseReason::Peer, "secure {secure}");
                break;
            }
        }
    }
}

/// One port, both: a TCP connector and a WebSocket connector bind to two
/// sessions of the same listener; over TLS (msrps and wss) too, where the
/// first octets are told apart after the handshake.
#[tokio::test]
async fn tcp_and_ws_on_one_port() {
    for secure in [false, true] {
        let cfg = if secure {
            EndpointConfig {
                identity: wss_config().identity,
                ..ws_config(WsListen::Both)
            }
        } else {
            ws_config(WsListen::Both)
        };
        let fp = cfg.identity.as_ref().map(|i| i.fingerprint());
        let server = msrp::connect::Server::new(cfg);
        let tcp_local = server.prepare(None).await.unwrap();
        assert_eq!(tcp_local[0].secure, secure);
        let mut ws_uri = tcp_local[0].clone();
        ws_uri.session_id = None;
        ws_uri.transport = "ws".into();
        let ws_local = server.prepare(Some(ws_uri)).await.unwrap();
        assert_eq!(tcp_local[0].port, ws_local[0].port);
        assert_eq!(ws_local[0].transport, "ws");
        for local in [tcp_local, ws_local] {
            let mut connector = ConnectorDirect::new(EndpointConfig::default());
            let c_path = connector.prepare(None).unwrap();
            let s = server.clone();
            let l = local.clone();
            let a = tokio::spawn(async move { s.complete(&l[0], &c_path, None, T).await.unwrap() });
            let mut ct = connector.complete(&local, fp, T).await.unwrap();
            let mut at = a.await.unwrap();
            assert_eq!(at.info().tls, secure);
            let c = ct.make_chunk(text(local[0].transport.as_bytes()));
            ct.write_chunk(&c).await.unwrap();
            let got = at.read_chunk(None).await.unwrap();
            assert_eq!(got.data, c.data);
        }
    }
}

/// Reads an HTTP answer's status line from a raw socket.
async fn http_status(tcp: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn hostile_upgrades_are_answered_and_closed() {
    let cfg = EndpointConfig {
        websocket: WsSettings {
            listen: WsListen::WsOnly,
            allowed_origins: Some(vec!["https://chat.example.com".into()]),
            upgrade_timeout: Some(Duration::from_millis(300)),
        },
        ..Default::default()
    };
    let mut acceptor = AcceptorDirect::new(cfg);
    let a_path = acceptor.prepare(None).await.unwrap();
    let port = a_path[0].port.unwrap();
    let upgrade = |extra: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };
    // No subprotocol: 400 (RFC 7977 §4.1), also through a real client.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(upgrade("Origin: https://chat.example.com\r\n").as_bytes())
        .await
        .unwrap();
    assert!(http_status(&mut tcp).await.contains(" 400 "));
    assert!(raw_client(port, None).await.is_err());
    // Another subprotocol only: 400.
    assert!(raw_client(port, Some("sip")).await.is_err());
    // Wrong origin, and none: 403.
    for origin in ["Origin: https://evil.example.net\r\n", ""] {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let req = upgrade(&format!("Sec-WebSocket-Protocol: msrp\r\n{origin}"));
        tcp.write_all(req.as_bytes()).await.unwrap();
        assert!(http_status(&mut tcp).await.contains(" 403 "), "{origin}");
    }
    // Right origin: 101 with the msrp subprotocol.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = upgrade("Sec-WebSocket-Protocol: sip, msrp\r\nOrigin: https://chat.example.com\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("sec-websocket-protocol: msrp\r\n"), "{head}");
    drop(tcp);
    // Oversized request head: 431 and closed, after at most 8 KiB read.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let big = format!("GET / HTTP/1.1\r\nX-Filler: {}\r\n", "a".repeat(20_000));
    let _ = tcp.write_all(big.as_bytes()).await;
    assert!(http_status(&mut tcp).await.contains(" 431 "));
    // MSRP on a WebSocket-only port: 400 at once, before the time is up.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"MSRP a1 SEND\r\nTo-Path: msrp://127.0.0.1:9/x;tcp\r\n")
        .await
        .unwrap();
    assert!(http_status(&mut tcp).await.contains(" 400 "));
    // Slowloris: a request that never ends is answered 408 and closed
    // once the upgrade time is up.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(http_status(&mut tcp).await.contains(" 408 "));
    acceptor.cleanup();
}

/// A connector refuses a server that answers 101 without choosing msrp,
/// and a WebSocket client's .invalid host is never connected to.
#[tokio::test]
async fn client_requires_the_msrp_subprotocol() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // tokio-tungstenite's plain accept chooses no subprotocol.
        let _ws = tokio_tungstenite::accept_async(tcp).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    connector.prepare(None).unwrap();
    let remote = vec![Uri::parse(&format!("msrp://127.0.0.1:{port}/abc;ws")).unwrap()];
    let err = connector.complete(&remote, None, T).await.unwrap_err();
    assert!(err.to_string().contains("subprotocol"), "{err}");
    let remote = vec![Uri::parse("msrp://abc.invalid:80/abc;ws").unwrap()];
    let err = connector.complete(&remote, None, T).await.unwrap_err();
    assert!(matches!(err, ConnectError::InvalidPath(_)), "{err}");
}
