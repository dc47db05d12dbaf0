//! Connections through a real MSRP relay: Kamailio's msrp module, started by
//! tests/relay/kamailio.sh on loopback (TCP and TLS legs, digest auth).

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use msrp::connect::{
    AcceptorDirect, AcceptorRelay, ConnectError, ConnectorRelay, EndpointConfig, RelaySettings,
};
use msrp::protocol::Uri;
use msrp::session::{
    FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionEvent,
};
use msrp::transport::PeerVerification;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::Receiver;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/relay/kamailio.sh");
const T: Option<Duration> = Some(Duration::from_secs(10));

/// One relay for the whole test binary; `--watch-pid` stops it after exit.
fn relay() -> &'static HashMap<String, String> {
    static RELAY: OnceLock<HashMap<String, String>> = OnceLock::new();
    RELAY.get_or_init(|| {
        let out = Command::new(SCRIPT)
            .args(["start", "--watch-pid", &std::process::id().to_string()])
            .output()
            .expect("run kamailio.sh");
        assert!(
            out.status.success(),
            "relay did not start (is kamailio installed? scripts/install-tools.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

fn settings(tls: bool, password: &str) -> RelaySettings {
    let r = relay();
    let uri = Uri::parse(&r[if tls { "TLS_URI" } else { "TCP_URI" }]).unwrap();
    RelaySettings::from_uri(&uri, r["USER"].clone(), password.to_string())
}

fn config(tls: bool) -> EndpointConfig {
    let mut c = EndpointConfig::default();
    if tls {
        c.trust_anchors =
            Some(PeerVerification::trust_anchors_from_file(relay()["CERT"].as_ref()).unwrap());
    }
    c
}

async fn next_matching<F: Fn(&SessionEvent) -> bool>(
    rx: &mut Receiver<SessionEvent>,
    f: F,
) -> SessionEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("event in time")
            .expect("event");
        if f(&e) {
            return e;
        }
    }
}

#[tokio::test]
async fn connector_through_relay_to_direct_acceptor() {
    for tls in [false, true] {
        let password = relay()["PASSWORD"].clone();
        let mut connector = ConnectorRelay::new(config(tls), settings(tls, &password));
        let c_path = connector.prepare(None).await.unwrap();
        assert_eq!(c_path.len(), 2, "Use-Path reversed, then the local URI");
        assert!(connector.expires_at().is_some());
        let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
        let a_path = acceptor.prepare(None).await.unwrap();
        let p = c_path.clone();
        let a = tokio::spawn(async move { acceptor.complete(&p, None, T).await });
        let ct = connector.complete(&a_path, T).await.unwrap();
        let at = a.await.unwrap().unwrap();
        let (cs, mut crx) = Session::new(ct, SessionConfig::default());
        let (as_, mut arx) = Session::new(at, SessionConfig::default());
        let mut m = OutgoingMessage::new("text/plain", "through the relay");
        m.success_report = true;
        let id = cs.send_message(m).unwrap();
        let e = next_matching(&mut arx, |e| matches!(e, SessionEvent::Message(_))).await;
        assert!(
            matches!(e, SessionEvent::Message(m) if &m.body[..] == b"through the relay" && m.message_id == id)
        );
        // End-to-end confirmation is the REPORT (the relay's 200 is hop by hop).
        let e = next_matching(&mut crx, |e| matches!(e, SessionEvent::Report { .. })).await;
        assert!(matches!(e, SessionEvent::Report { code: 200, .. }));
        as_.send_message(OutgoingMessage::new("text/plain", "and back"))
            .unwrap();
        let e = next_matching(&mut crx, |e| matches!(e, SessionEvent::Message(_))).await;
        assert!(matches!(e, SessionEvent::Message(m) if &m.body[..] == b"and back"));
        cs.shutdown(true).await;
    }
}

#[tokio::test]
async fn both_through_relay_with_a_file() {
    for tls in [false, true] {
        let password = relay()["PASSWORD"].clone();
        let mut connector = ConnectorRelay::new(config(tls), settings(tls, &password));
        let mut acceptor = AcceptorRelay::new(config(tls), settings(tls, &password));
        let c_path = connector.prepare(None).await.unwrap();
        let a_path = acceptor.prepare(None).await.unwrap();
        let p = c_path.clone();
        let a = tokio::spawn(async move { acceptor.complete(&p, T).await });
        let ct = connector.complete(&a_path, T).await.unwrap();
        let at = a.await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let size = 20 << 20;
        let data: Vec<u8> = (0..size as u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, &data).unwrap();
        let (cs, mut crx) = Session::new(ct, SessionConfig::default());
        let (_as, mut arx) = Session::new(
            at,
            SessionConfig {
                max_message_size: 1 << 20,
                ..Default::default()
            },
        );
        // The relay sets up its own leg toward the receiver on the first
        // SEND (a TLS handshake with itself on the TLS port) and queues
        // what arrives meanwhile; a file sent at full speed during that
        // set-up can overflow its queues, and Kamailio then drops frames it
        // already answered 200 (tests/relay/BEHAVIOUR.md §6). A message
        // that has arrived first makes sure the leg is up.
        cs.send_message(OutgoingMessage::new("text/plain", "before the file"))
            .unwrap();
        next_matching(&mut arx, |e| matches!(e, SessionEvent::Message(_))).await;
        let mut f = OutgoingFile::new(FileSource::Path(path), "application/octet-stream");
        f.success_report = true;
        let id = cs.send_file(f).unwrap();
        let mut h = Sha256::new();
        loop {
            match next_matching(&mut arx, |e| {
                matches!(
                    e,
                    SessionEvent::MessageData { .. } | SessionEvent::MessageComplete { .. }
                )
            })
            .await
            {
                SessionEvent::MessageData { data, .. } => h.update(&data),
                SessionEvent::MessageComplete { bytes, .. } => {
                    assert_eq!(bytes, size as u64);
                    break;
                }
                _ => unreachable!(),
            }
        }
        assert_eq!(h.finalize()[..], Sha256::digest(&data)[..]);
        let e = next_matching(&mut crx, |e| matches!(e, SessionEvent::Report { .. })).await;
        assert!(
            matches!(e, SessionEvent::Report { message_id, code: 200, .. } if message_id == id)
        );
    }
}

#[tokio::test]
async fn wrong_password_names_the_relays_answer() {
    let mut connector = ConnectorRelay::new(config(false), settings(false, "not-the-password"));
    match connector.prepare(None).await {
        Err(ConnectError::Authentication(e)) => assert_eq!(e.code, 401),
        Err(other) => panic!("expected an authentication error, got {other}"),
        Ok(_) => panic!("authenticated with a wrong password"),
    }
}

#[tokio::test]
async fn relay_down_is_a_connection_error_within_the_timeout() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(false, "x");
    s.port = Some(port);
    let mut connector = ConnectorRelay::new(config(false), s);
    let started = std::time::Instant::now();
    let err = connector.prepare(None).await.expect_err("no relay there");
    assert!(matches!(err, ConnectError::Io(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
