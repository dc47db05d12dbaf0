//! Connections through a real MSRP relay: Kamailio's msrp module, started by
//! tests/relay/kamailio.sh on loopback (TCP and TLS legs, digest auth).

#[path = "relay/dns.rs"]
mod dns;
#[path = "relay/script.rs"]
mod script;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::Duration;

use hickory_resolver::proto::rr::RecordType;
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

const T: Option<Duration> = Some(Duration::from_secs(10));

/// One relay for the whole test binary; `--watch-pid` stops it after exit.
fn relay() -> &'static HashMap<String, String> {
    static RELAY: OnceLock<HashMap<String, String>> = OnceLock::new();
    RELAY.get_or_init(|| {
        // Registrations as short as 5 s, for the expiry warning test.
        script::kamailio(&[
            "start",
            "--min-expires",
            "5",
            "--watch-pid",
            &std::process::id().to_string(),
        ])
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
                SessionEvent::MessageData { data, .. } => {
                    for slice in data.slices() {
                        h.update(slice);
                    }
                }
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

fn tls_port() -> u16 {
    relay()["TLS_PORT"].parse().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Settings for the domain `relay.test` (the name the relay's certificate
/// carries) with nothing but the domain: discovery through `dns`.
fn discovery_settings(domain: &str, dns: &dns::DnsServer) -> RelaySettings {
    let mut s = RelaySettings::new(domain, relay()["USER"].clone(), relay()["PASSWORD"].clone());
    s.dns_server = Some(dns.addr);
    s
}

#[tokio::test]
async fn srv_discovery_reaches_the_relay_over_tls() {
    let realm = relay()["REALM"].clone();
    let mut zone = dns::Zone::default();
    let service = format!("_msrps._tcp.{realm}");
    // Priority 0 is a relay that is down; priority 1 the real one.
    zone.srv(&service, 0, 1, free_port(), &format!("down.{realm}"));
    zone.srv(&service, 1, 1, tls_port(), &format!("kamailio.{realm}"));
    zone.a(&format!("down.{realm}"), Ipv4Addr::LOCALHOST);
    zone.a(&format!("kamailio.{realm}"), Ipv4Addr::LOCALHOST);
    let server = dns::DnsServer::start(zone).await;

    let mut connector = ConnectorRelay::new(config(true), discovery_settings(&realm, &server));
    let path = connector.prepare(None).await.unwrap();
    // The Use-Path: the relay's TLS leg (its scheme follows the AUTH's leg).
    assert_eq!(
        path[0]
            .to_string()
            .split('/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/"),
        format!("msrps://127.0.0.1:{}", tls_port())
    );
    let questions = server.questions();
    assert_eq!(
        questions[0],
        (service.clone(), RecordType::SRV),
        "{questions:?}"
    );
    assert!(
        questions.contains(&(format!("down.{realm}"), RecordType::A)),
        "{questions:?}"
    );
    assert!(
        questions.contains(&(format!("kamailio.{realm}"), RecordType::A)),
        "{questions:?}"
    );

    // The registration works: a message through it to a direct acceptor.
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    let p = path.clone();
    let a = tokio::spawn(async move { acceptor.complete(&p, None, T).await });
    let ct = connector.complete(&a_path, T).await.unwrap();
    let at = a.await.unwrap().unwrap();
    let (cs, _crx) = Session::new(ct, SessionConfig::default());
    let (_as, mut arx) = Session::new(at, SessionConfig::default());
    cs.send_message(OutgoingMessage::new("text/plain", "found by SRV"))
        .unwrap();
    let e = next_matching(&mut arx, |e| matches!(e, SessionEvent::Message(_))).await;
    assert!(matches!(e, SessionEvent::Message(m) if &m.body[..] == b"found by SRV"));
}

/// Forwards every TCP connection on `listen` to `to`; counts connections.
async fn forwarder(
    listen: std::net::SocketAddr,
    to: std::net::SocketAddr,
) -> Option<std::sync::Arc<std::sync::atomic::AtomicUsize>> {
    let l = tokio::net::TcpListener::bind(listen).await.ok()?;
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = l.accept().await {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Some(count)
}

#[tokio::test]
async fn without_srv_the_domains_address_at_2855() {
    let realm = relay()["REALM"].clone();
    // Port 2855 on some 127.x.y.z address of loopback, forwarded to the
    // relay's TLS leg (2855 on 127.0.0.1 may be taken by someone else).
    let tls = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, tls_port()));
    let mut seed = std::process::id();
    let mut found = None;
    for _ in 0..20 {
        seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
        let ip = Ipv4Addr::new(127, (seed >> 8) as u8 % 200 + 20, (seed >> 16) as u8, 7);
        if let Some(count) = forwarder((ip, 2855).into(), tls).await {
            found = Some((ip, count));
            break;
        }
    }
    let (ip, connections) = found.expect("a free 127.x.y.7:2855");
    let mut zone = dns::Zone::default();
    zone.a(&realm, ip);
    let server = dns::DnsServer::start(zone).await;

    let mut connector = ConnectorRelay::new(config(true), discovery_settings(&realm, &server));
    let path = connector.prepare(None).await.unwrap();
    assert!(path[0].secure, "{}", path[0]);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    let questions = server.questions();
    assert_eq!(
        questions[0],
        (format!("_msrps._tcp.{realm}"), RecordType::SRV),
        "{questions:?}"
    );
    assert!(
        questions.contains(&(realm.clone(), RecordType::A)),
        "{questions:?}"
    );
}

#[tokio::test]
async fn no_relay_in_dns_is_a_connection_error_naming_the_domain() {
    let mut zone = dns::Zone::default();
    zone.empty("empty.test");
    zone.empty("_msrps._tcp.empty.test");
    let server = dns::DnsServer::start(zone).await;
    for domain in ["nowhere.test", "empty.test"] {
        let mut connector = ConnectorRelay::new(config(true), discovery_settings(domain, &server));
        match connector.prepare(None).await {
            Err(ConnectError::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
                assert!(e.to_string().contains(domain), "{e}");
            }
            Err(other) => panic!("expected a connection error, got {other}"),
            Ok(_) => panic!("found a relay for {domain}"),
        }
    }
    let q = server.questions();
    assert!(
        q.contains(&("_msrps._tcp.nowhere.test".into(), RecordType::SRV)),
        "{q:?}"
    );
    assert!(q.contains(&("nowhere.test".into(), RecordType::A)), "{q:?}");
}

#[tokio::test]
async fn expiring_event_comes_before_the_registration_ends() {
    let mut s = settings(true, &relay()["PASSWORD"]);
    s.expires = Some(10);
    s.expiry_lead = Duration::from_secs(4);
    let mut connector = ConnectorRelay::new(config(true), s);
    let path = connector.prepare(None).await.unwrap();
    let expires_at = connector.expires_at().unwrap();
    let warn_at = connector.expiry_warning_at().unwrap();
    assert_eq!(expires_at - warn_at, Duration::from_secs(4));
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    let a = tokio::spawn(async move { acceptor.complete(&path, None, T).await });
    let ct = connector.complete(&a_path, T).await.unwrap();
    let _at = a.await.unwrap().unwrap();
    // Still known after complete.
    assert_eq!(connector.expires_at(), Some(expires_at));
    let (cs, mut crx) = Session::new(ct, SessionConfig::default());
    cs.warn_relay_expiry(warn_at, expires_at);
    let e = next_matching(&mut crx, |e| {
        matches!(e, SessionEvent::RelayExpiring { .. })
    })
    .await;
    let now = std::time::Instant::now();
    assert!(matches!(e, SessionEvent::RelayExpiring { expires_at: x } if x == expires_at));
    assert!(now >= warn_at);
    assert!(
        now < expires_at,
        "the warning came after the registration ended"
    );
    // Renegotiation: a new AUTH gives a new URI (RFC 4976 §9.4).
    let mut again = ConnectorRelay::new(config(true), settings(true, &relay()["PASSWORD"]));
    let new_path = again.prepare(None).await.unwrap();
    assert_ne!(new_path[0], cs.info().local_path[0]);
}

#[tokio::test]
async fn relay_refusing_the_short_expires_is_retried_with_its_minimum() {
    let mut s = settings(false, &relay()["PASSWORD"]);
    s.expires = Some(1);
    let mut connector = ConnectorRelay::new(config(false), s);
    connector.prepare(None).await.unwrap();
    let left = connector.expires_at().unwrap() - std::time::Instant::now();
    // Granted the relay's minimum (5 s here), not the 1 s asked for.
    assert!(
        left > Duration::from_secs(2) && left <= Duration::from_secs(5),
        "{left:?}"
    );
}

#[tokio::test]
async fn discovered_relay_must_prove_the_domain_in_its_certificate() {
    // DNS sends other.test to the test relay, whose certificate names only
    // 127.0.0.1, localhost and the realm: the TLS handshake must fail.
    let mut zone = dns::Zone::default();
    zone.srv(
        "_msrps._tcp.other.test",
        0,
        1,
        tls_port(),
        "relay.other.test",
    );
    zone.a("relay.other.test", Ipv4Addr::LOCALHOST);
    let server = dns::DnsServer::start(zone).await;
    let mut connector =
        ConnectorRelay::new(config(true), discovery_settings("other.test", &server));
    match connector.prepare(None).await {
        Err(ConnectError::Tls(_)) => {}
        Err(other) => panic!("expected a TLS error, got {other}"),
        Ok(_) => panic!("authenticated to a relay that does not hold other.test"),
    }
    // (A TLS error means the relay was reached: finding nothing would be
    // an I/O error. The resolver answers `localhost` itself, RFC 6761.)
    assert_eq!(
        server.questions()[0],
        ("_msrps._tcp.other.test".into(), RecordType::SRV)
    );
}
