//! The CI version of the load benchmark (`examples/load.rs`,
//! `scripts/bench-load.sh`): 1,000 sessions bound through one Server port,
//! each sending a message a second for 3 seconds, both ends in this process;
//! every message is accounted for by its Message-ID: received once by the
//! right server session and answered 200 to its sender. No figures here.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use msrp::connect::{ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::{Host, Uri};
use msrp::session::{OutgoingMessage, Session, SessionConfig, SessionEvent};
use tokio::sync::Semaphore;
use tokio::time::Instant;

const SESSIONS: u64 = 1000;
const SECONDS: u64 = 3;

/// Raises the soft limit of open files to the hard one; 1,000 sessions with
/// both ends in this process need about 2,100 descriptors.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur as u64
}

fn uri(port: Option<u16>, id: String) -> Uri {
    Uri::new(
        Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port,
        Some(id),
        false,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_sessions_through_one_port() {
    assert!(
        raise_nofile() >= 2 * SESSIONS + 100,
        "RLIMIT_NOFILE's hard limit is too low for {SESSIONS} sessions in one process"
    );
    let server = Server::new(EndpointConfig {
        max_sessions: SESSIONS as usize,
        ..Default::default()
    });
    let probe = server.prepare(None).await.unwrap();
    let port = probe[0].port.unwrap();
    server.cleanup(&probe[0]);

    // Server side: each session reports the Message-IDs it received.
    let mut receivers = Vec::new();
    for i in 0..SESSIONS {
        let local = uri(Some(port), format!("srv{i}"));
        server.prepare(Some(local.clone())).await.unwrap();
        let server = server.clone();
        receivers.push(tokio::spawn(async move {
            let remote = [uri(Some(9), format!("cli{i}"))];
            let t = server
                .complete(&local, &remote, None, Some(Duration::from_secs(120)))
                .await
                .unwrap();
            let (_session, mut events) = Session::new(t, SessionConfig::default());
            let mut ids = Vec::new();
            while let Some(e) = events.recv().await {
                match e {
                    SessionEvent::Message(m) => ids.push(m.message_id),
                    SessionEvent::Closed { .. } => break,
                    _ => {}
                }
            }
            ids
        }));
    }

    // Client side: bind all, then send a message a second from each.
    let gate = Arc::new(Semaphore::new(200));
    let mut binds = Vec::new();
    for i in 0..SESSIONS {
        let permit = gate.clone().acquire_owned().await.unwrap();
        binds.push(tokio::spawn(async move {
            let mut connector = ConnectorDirect::new(EndpointConfig::default());
            connector
                .prepare(Some(uri(Some(9), format!("cli{i}"))))
                .unwrap();
            let remote = [uri(Some(port), format!("srv{i}"))];
            let t = connector
                .complete(&remote, None, Some(Duration::from_secs(120)))
                .await
                .unwrap();
            drop(permit);
            Session::new(t, SessionConfig::default())
        }));
    }
    let mut sessions = Vec::new();
    for b in binds {
        sessions.push(b.await.unwrap());
    }
    let go = Instant::now();
    let mut senders = Vec::new();
    for (i, (session, mut events)) in sessions.into_iter().enumerate() {
        senders.push(tokio::spawn(async move {
            let start = go + Duration::from_micros(i as u64 * 1_000_000 / SESSIONS);
            let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
            let mut sent = Vec::new();
            for n in 0..SECONDS {
                tick.tick().await;
                let body = format!("message {n} of session {i}");
                sent.push(
                    session
                        .send_message(OutgoingMessage::new("text/plain", body))
                        .unwrap(),
                );
            }
            let mut answered = HashSet::new();
            while answered.len() < sent.len() {
                match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
                    Ok(Some(SessionEvent::Sent {
                        message_id, code, ..
                    })) => {
                        assert_eq!(code, 200, "session {i}: {message_id}");
                        assert!(answered.insert(message_id));
                    }
                    Ok(Some(SessionEvent::Closed { reason, .. })) => {
                        panic!("session {i} closed: {reason}")
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => panic!("session {i}: answers missing"),
                }
            }
            session.shutdown(true).await;
            (sent, answered)
        }));
    }
    let mut total = 0;
    for (i, (s, r)) in senders.into_iter().zip(receivers).enumerate() {
        let (sent, answered) = s.await.unwrap();
        let received = r.await.unwrap();
        assert_eq!(sent.len() as u64, SECONDS);
        assert_eq!(
            answered,
            sent.iter().cloned().collect::<HashSet<_>>(),
            "session {i}"
        );
        assert_eq!(received, sent, "session {i}: received in order, once each");
        total += received.len() as u64;
    }
    assert_eq!(total, SESSIONS * SECONDS);
}
