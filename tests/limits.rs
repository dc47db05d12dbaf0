//! Resource limits over loopback: sessions per Server, incoming message size
//! (413), incoming octets held for reassembly per session and library-wide
//! (413 for the chunk that goes over, earlier chunks stay acknowledged),
//! queued outgoing octets (`send_message` refused), chunk size (400 for a
//! chunk over it).
//!
//! The library-wide budget is process state, so every case runs inside one
//! test function, one after the other.

use std::time::Duration;

use msrp::connect::{ConnectError, ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::Uri;
use msrp::session::{
    limits, FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionError,
    SessionEvent,
};
use msrp::transport::Transport;
use tokio::sync::mpsc::Receiver;

const T: Option<Duration> = Some(Duration::from_secs(10));

/// A bound pair through `server`: (connector side, server side, the local URI).
async fn pair(server: &Server) -> (Transport, Transport, Uri) {
    let path = server.prepare(None).await.unwrap();
    let local = path[0].clone();
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector.prepare(None).unwrap();
    let s = server.clone();
    let l = local.clone();
    let accepted = tokio::spawn(async move { s.complete(&l, &c_path, None, T).await });
    let c = connector.complete(&path, None, T).await.unwrap();
    (c, accepted.await.unwrap().unwrap(), local)
}

async fn next(rx: &mut Receiver<SessionEvent>) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("event in time")
        .expect("event")
}

/// The Sent event of `id`, skipping others.
async fn sent(rx: &mut Receiver<SessionEvent>, id: &str) -> (u16, u64) {
    loop {
        if let SessionEvent::Sent {
            message_id,
            code,
            bytes_acknowledged,
        } = next(rx).await
        {
            if message_id == id {
                return (code, bytes_acknowledged);
            }
        }
    }
}

/// The next whole message, skipping other events.
async fn message(rx: &mut Receiver<SessionEvent>) -> Vec<u8> {
    loop {
        if let SessionEvent::Message(m) = next(rx).await {
            return m.body.to_vec();
        }
    }
}

#[tokio::test]
async fn limits_over_loopback() {
    max_sessions_per_server().await;
    incoming_message_size_413().await;
    buffered_incoming_per_session_413().await;
    buffered_incoming_library_wide_413().await;
    queued_outgoing_refused().await;
    chunk_size_limit().await;
}

async fn chunk_size_limit() {
    let server = Server::new(EndpointConfig::default());
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(
        c,
        SessionConfig {
            chunk_size: 2 << 20,
            ..Default::default()
        },
    );
    let (_as, mut arx) = Session::new(a, SessionConfig::default());
    // A 2 MiB chunk is over the connection's default 1 MiB assembly limit:
    // it is read in segments and streamed to its message (RFC 4975 sets no
    // chunk size), so the message arrives whole and each chunk gets one 200.
    let mut body = vec![b'k'; 3 << 20];
    body[(2 << 20) + 7] = b'!';
    let big = cs
        .send_message(OutgoingMessage::new("text/plain", body.clone()))
        .unwrap();
    assert_eq!(message(&mut arx).await, body);
    assert_eq!(sent(&mut crx, &big).await, (200, 3 << 20));
    let ok = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'm'; 1 << 20]))
        .unwrap();
    assert_eq!(message(&mut arx).await, vec![b'm'; 1 << 20]);
    assert_eq!(sent(&mut crx, &ok).await, (200, 1 << 20));
}

async fn max_sessions_per_server() {
    let server = Server::new(EndpointConfig {
        max_sessions: 2,
        ..Default::default()
    });
    let (c, a, local) = pair(&server).await;
    let second = server.prepare(None).await.unwrap();
    // Two held (one bound, one prepared): the third is refused.
    match server.prepare(None).await {
        Err(ConnectError::LimitExceeded(text)) => {
            assert!(text.contains("max_sessions 2"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    // Cleaning up the bound one makes room.
    drop((c, a));
    server.cleanup(&local);
    let third = server.prepare(None).await.unwrap();
    server.cleanup(&second[0]);
    server.cleanup(&third[0]);
    // The room serves a real binding again.
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(c, SessionConfig::default());
    let (_as, mut arx) = Session::new(a, SessionConfig::default());
    let id = cs
        .send_message(OutgoingMessage::new("text/plain", "after cleanup"))
        .unwrap();
    assert_eq!(message(&mut arx).await, b"after cleanup");
    assert_eq!(sent(&mut crx, &id).await, (200, 13));
}

async fn incoming_message_size_413() {
    let server = Server::new(EndpointConfig::default());
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(c, SessionConfig::default());
    let (_as, mut arx) = Session::new(
        a,
        SessionConfig {
            max_incoming_size: Some(1000),
            ..Default::default()
        },
    );
    let big = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'x'; 1001]))
        .unwrap();
    assert_eq!(sent(&mut crx, &big).await, (413, 0));
    let ok = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'y'; 1000]))
        .unwrap();
    assert_eq!(message(&mut arx).await, vec![b'y'; 1000]);
    assert_eq!(sent(&mut crx, &ok).await, (200, 1000));
}

async fn buffered_incoming_per_session_413() {
    let server = Server::new(EndpointConfig::default());
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(
        c,
        SessionConfig {
            chunk_size: 4096,
            ..Default::default()
        },
    );
    let (_as, mut arx) = Session::new(
        a,
        SessionConfig {
            max_buffered_incoming: 20_000,
            ..Default::default()
        },
    );
    // Chunks of 4096: four are held (16,384 octets), the fifth would make
    // 20,480 > 20,000 and is answered 413, and so is every later one.
    let big = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'z'; 50_000]))
        .unwrap();
    assert_eq!(sent(&mut crx, &big).await, (413, 16_384));
    // The refused message's octets were given back: a message that fits passes.
    let ok = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'w'; 19_000]))
        .unwrap();
    assert_eq!(message(&mut arx).await, vec![b'w'; 19_000]);
    assert_eq!(sent(&mut crx, &ok).await, (200, 19_000));
}

async fn buffered_incoming_library_wide_413() {
    let server = Server::new(EndpointConfig::default());
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(
        c,
        SessionConfig {
            chunk_size: 4096,
            ..Default::default()
        },
    );
    let (_as, mut arx) = Session::new(a, SessionConfig::default());
    // Sent from a file: the sender's queue holds no body octets, so only the
    // receiver's reassembly counts against the library-wide budget.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q");
    std::fs::write(&file, vec![b'q'; 30_000]).unwrap();
    limits::set_total_buffered_limit(10_000);
    assert_eq!(limits::total_buffered_limit(), 10_000);
    let big = cs
        .send_file(OutgoingFile::new(FileSource::Path(file), "text/plain"))
        .unwrap();
    // Two chunks (8,192) fit under the library-wide 10,000; the third does not.
    assert_eq!(sent(&mut crx, &big).await, (413, 8192));
    limits::set_total_buffered_limit(0);
    assert_eq!(
        limits::total_buffered_limit(),
        limits::DEFAULT_TOTAL_BUFFERED
    );
    let ok = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'r'; 30_000]))
        .unwrap();
    assert_eq!(message(&mut arx).await, vec![b'r'; 30_000]);
    assert_eq!(sent(&mut crx, &ok).await, (200, 30_000));
    assert_eq!(limits::total_buffered(), 0, "every charge came back");
}

async fn queued_outgoing_refused() {
    let server = Server::new(EndpointConfig::default());
    let (c, a, _) = pair(&server).await;
    let (cs, mut crx) = Session::new(
        c,
        SessionConfig {
            max_queued_outgoing: 10_000,
            ..Default::default()
        },
    );
    let (_as, mut arx) = Session::new(a, SessionConfig::default());
    match cs.send_message(OutgoingMessage::new("text/plain", vec![b'a'; 10_001])) {
        Err(SessionError::LimitExceeded(text)) => assert!(text.contains("limit 10000"), "{text}"),
        other => panic!("{other:?}"),
    }
    // This test runs on a current-thread runtime: the writer cannot take the
    // first message off the queue before the second call, so the two are
    // queued together and the second goes over.
    let first = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'b'; 6000]))
        .unwrap();
    match cs.send_message(OutgoingMessage::new("text/plain", vec![b'c'; 6000])) {
        Err(SessionError::LimitExceeded(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(message(&mut arx).await, vec![b'b'; 6000]);
    assert_eq!(sent(&mut crx, &first).await, (200, 6000));
    // Written: its octets are no longer queued.
    let second = cs
        .send_message(OutgoingMessage::new("text/plain", vec![b'c'; 6000]))
        .unwrap();
    assert_eq!(message(&mut arx).await, vec![b'c'; 6000]);
    assert_eq!(sent(&mut crx, &second).await, (200, 6000));
}
