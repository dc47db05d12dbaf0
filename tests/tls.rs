//! `msrp::transport::tls` through its public API, over real TCP on 127.0.0.1 and ::1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use msrp::transport::tls::{
    accept, check_client_certificate, client_config, connect, peer_fingerprint, server_config,
    server_config_requiring, Fingerprint, PeerVerification, TlsError, TlsIdentity, TrustAnchors,
};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{client, server};

const V4: &str = "127.0.0.1:0";
const V6: &str = "[::1]:0";

type Handshakes = (
    Result<client::TlsStream<TcpStream>, TlsError>,
    Result<server::TlsStream<TcpStream>, TlsError>,
);

/// Connects a client and a server over real TCP on `bind` and runs both handshakes.
async fn handshake(
    bind: &str,
    host: &str,
    ccfg: Arc<ClientConfig>,
    scfg: Arc<ServerConfig>,
) -> Handshakes {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept(tcp, scfg).await
    };
    let client = async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        connect(tcp, ccfg, host).await
    };
    tokio::join!(client, server)
}

fn self_signed(names: &[&str]) -> TlsIdentity {
    TlsIdentity::self_signed(names).unwrap().identity
}

fn by_fingerprint(id: &TlsIdentity) -> PeerVerification {
    PeerVerification::Fingerprint(id.fingerprint())
}

/// Sends a line each way and checks both arrive.
async fn exchange(
    client: &mut client::TlsStream<TcpStream>,
    server: &mut server::TlsStream<TcpStream>,
) {
    client.write_all(b"MSRP a786hjs2 SEND\r\n").await.unwrap();
    client.flush().await.unwrap();
    let mut buf = [0u8; 20];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"MSRP a786hjs2 SEND\r\n");
    server.write_all(b"MSRP a786hjs2 200 OK\r\n").await.unwrap();
    server.flush().await.unwrap();
    let mut buf = [0u8; 22];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"MSRP a786hjs2 200 OK\r\n");
}

/// The server must not have received any application data: either its handshake
/// failed, or the stream ends (or fails) without a byte.
async fn assert_no_application_data(server: Result<server::TlsStream<TcpStream>, TlsError>) {
    if let Ok(mut s) = server {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        assert!(got.is_empty(), "server application received {got:?}");
    }
}

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn make_ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    Ca { cert, key }
}

impl Ca {
    fn anchors(&self) -> TrustAnchors {
        PeerVerification::trust_anchors_from_pem(self.cert.pem().as_bytes()).unwrap()
    }

    /// A leaf for `names`, loaded through the PEM path like a user's files.
    fn leaf(&self, names: &[&str], eku: rcgen::ExtendedKeyUsagePurpose) -> TlsIdentity {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![eku];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        TlsIdentity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
    }
}

// --- fingerprints --------------------------------------------------------------

#[test]
fn fingerprint_text_round_trip_and_rejection() {
    let fp = self_signed(&["localhost"]).fingerprint();
    let text = fp.to_string();
    assert_eq!(text.len(), 95);
    assert_eq!(text, text.to_ascii_uppercase());
    assert_eq!(Fingerprint::parse(&text).unwrap(), fp);
    assert_eq!(fp.to_sdp().parse::<Fingerprint>().unwrap(), fp);
    assert_eq!(
        Fingerprint::parse(&format!("SHA-256  {}", text.to_lowercase())).unwrap(),
        fp
    );
    let bad = [
        text[..text.len() - 3].to_owned(),  // 31 pairs
        format!("{text}:00"),               // 33 pairs
        text.replacen(&text[..2], "ZZ", 1), // bad hex
        text.replace(':', ""),              // no colons
        format!("sha-1 {}", &text[..59]),   // other hash
        format!("sha-512 {text}"),          // other hash, right length
        String::new(),
    ];
    for b in &bad {
        let err = Fingerprint::parse(b).unwrap_err();
        assert!(matches!(err, TlsError::InvalidFingerprint(_)), "{b:?}");
        assert!(
            err.to_string()
                .starts_with("invalid certificate fingerprint"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn fingerprint_handshake_ok_data_both_ways_ipv4() {
    let server_id = self_signed(&["127.0.0.1"]);
    let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
    let scfg = server_config(&server_id).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    assert_eq!(
        peer_fingerprint(c.get_ref().1),
        Some(server_id.fingerprint())
    );
    assert_eq!(
        peer_fingerprint(s.get_ref().1),
        None,
        "client presented no cert"
    );
    assert_eq!(
        c.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    exchange(&mut c, &mut s).await;
}

#[tokio::test]
async fn fingerprint_handshake_ok_ipv6_literal_with_and_without_brackets() {
    let server_id = self_signed(&["::1"]);
    for host in ["::1", "[::1]"] {
        let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
        let scfg = server_config(&server_id).unwrap();
        let (c, s) = handshake(V6, host, ccfg, scfg).await;
        let (mut c, mut s) = (c.unwrap(), s.unwrap());
        assert!(c.get_ref().0.peer_addr().unwrap().is_ipv6());
        exchange(&mut c, &mut s).await;
    }
}

#[tokio::test]
async fn fingerprint_ignores_names_so_any_host_works() {
    // Fingerprint checking does not look at names: a cert for "elsewhere" is fine.
    let server_id = self_signed(&["elsewhere.example"]);
    let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
    let scfg = server_config(&server_id).unwrap();
    let (c, s) = handshake(V4, "localhost", ccfg, scfg).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;
}

#[tokio::test]
async fn wrong_fingerprint_fails_client_handshake_and_no_data_reaches_server() {
    for bind in [V4, V6] {
        let server_id = self_signed(&["127.0.0.1", "::1"]);
        let impostor_expected = self_signed(&["127.0.0.1"]).fingerprint();
        let ccfg = client_config(None, &PeerVerification::Fingerprint(impostor_expected)).unwrap();
        let scfg = server_config(&server_id).unwrap();
        let host = if bind == V4 { "127.0.0.1" } else { "::1" };
        let (c, s) = handshake(bind, host, ccfg, scfg).await;
        let err = c.unwrap_err();
        match &err {
            TlsError::FingerprintMismatch {
                expected,
                presented,
            } => {
                assert_eq!(*expected, impostor_expected);
                assert_eq!(*presented, Some(server_id.fingerprint()));
            }
            other => panic!("expected FingerprintMismatch, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "peer certificate fingerprint {} does not match expected {}",
                server_id.fingerprint(),
                impostor_expected
            )
        );
        // The client aborted with an alert: the server's handshake fails.
        let server_err = s.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            server_err.contains("rejected this endpoint's certificate"),
            "server side: {server_err:?}"
        );
        assert_no_application_data(s).await;
    }
}

// --- trust anchors -------------------------------------------------------------

#[tokio::test]
async fn trust_anchors_accept_ca_signed_leaf_by_name_and_ip() {
    let ca = make_ca("Test CA");
    let leaf = ca.leaf(
        &["localhost", "127.0.0.1", "::1"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    let verify = PeerVerification::TrustAnchors(ca.anchors());
    for (bind, host) in [
        (V4, "localhost"),
        (V4, "127.0.0.1"),
        (V6, "::1"),
        (V6, "[::1]"),
    ] {
        let ccfg = client_config(None, &verify).unwrap();
        let scfg = server_config(&leaf).unwrap();
        let (c, s) = handshake(bind, host, ccfg, scfg).await;
        let (mut c, mut s) = (c.unwrap_or_else(|e| panic!("{host}: {e}")), s.unwrap());
        exchange(&mut c, &mut s).await;
    }
}

#[tokio::test]
async fn trust_anchors_reject_wrong_ca_and_wrong_name() {
    let ca = make_ca("Test CA");
    let other_ca = make_ca("Other CA");
    let leaf = ca.leaf(
        &["localhost", "127.0.0.1"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );

    let ccfg = client_config(None, &PeerVerification::TrustAnchors(other_ca.anchors())).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&leaf).unwrap()).await;
    let err = c.unwrap_err();
    match &err {
        TlsError::Untrusted {
            presented,
            expected,
            reason,
        } => {
            assert_eq!(*presented, Some(leaf.fingerprint()));
            assert_eq!(*expected, None);
            assert!(reason.contains("unknown issuer"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with(&format!(
        "peer certificate {} is not trusted: it is not issued by a trusted certificate authority",
        leaf.fingerprint()
    )));
    assert_no_application_data(s).await;

    // Right CA, but the certificate is not for this host name.
    let ccfg = client_config(None, &PeerVerification::TrustAnchors(ca.anchors())).unwrap();
    let (c, s) = handshake(V4, "relay.example.com", ccfg, server_config(&leaf).unwrap()).await;
    let msg = c.unwrap_err().to_string();
    assert!(msg.contains("not valid for name"), "{msg}");
    assert!(msg.contains("relay.example.com"), "{msg}");
    assert_no_application_data(s).await;

    // Right CA, but a certificate for "localhost" only, reached by IP.
    let dns_only = ca.leaf(&["localhost"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let ccfg = client_config(None, &PeerVerification::TrustAnchors(ca.anchors())).unwrap();
    let (c, _s) = handshake(V4, "127.0.0.1", ccfg, server_config(&dns_only).unwrap()).await;
    assert!(matches!(c.unwrap_err(), TlsError::Untrusted { .. }));
}

#[tokio::test]
async fn self_signed_certificate_can_be_its_own_trust_anchor() {
    // `--ca peer-cert.pem` with the peer's self-signed certificate.
    let generated = TlsIdentity::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let anchors = PeerVerification::trust_anchors_from_pem(generated.cert_pem.as_bytes()).unwrap();
    let ccfg = client_config(None, &PeerVerification::TrustAnchors(anchors)).unwrap();
    let scfg = server_config(&generated.identity).unwrap();
    let (c, s) = handshake(V4, "localhost", ccfg, scfg).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;
}

#[tokio::test]
async fn anchors_or_fingerprint_either_is_enough() {
    let ca = make_ca("Test CA");
    let other_ca = make_ca("Other CA");
    let self_signed_server = self_signed(&["127.0.0.1"]);
    let ca_server = ca.leaf(&["127.0.0.1"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);

    // fingerprint passes, anchors would not
    let verify = PeerVerification::new(
        Some(other_ca.anchors()),
        Some(self_signed_server.fingerprint()),
    );
    assert!(matches!(verify, PeerVerification::AnchorsOrFingerprint(..)));
    let ccfg = client_config(None, &verify).unwrap();
    let (c, s) = handshake(
        V4,
        "127.0.0.1",
        ccfg,
        server_config(&self_signed_server).unwrap(),
    )
    .await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;

    // anchors pass, fingerprint would not
    let verify = PeerVerification::AnchorsOrFingerprint(ca.anchors(), Fingerprint([1; 32]));
    let ccfg = client_config(None, &verify).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&ca_server).unwrap()).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;

    // neither
    let verify = PeerVerification::AnchorsOrFingerprint(other_ca.anchors(), Fingerprint([1; 32]));
    let ccfg = client_config(None, &verify).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&ca_server).unwrap()).await;
    let err = c.unwrap_err();
    match &err {
        TlsError::Untrusted {
            presented,
            expected,
            ..
        } => {
            assert_eq!(*presented, Some(ca_server.fingerprint()));
            assert_eq!(*expected, Some(Fingerprint([1; 32])));
        }
        other => panic!("{other:?}"),
    }
    assert!(err
        .to_string()
        .contains("nor does it match the expected fingerprint 01:01:"));
    assert_no_application_data(s).await;
}

// --- client certificates ---------------------------------------------------------

#[tokio::test]
async fn client_certificate_fingerprint_is_readable_by_the_server() {
    let server_id = self_signed(&["127.0.0.1"]);
    let client_id = self_signed(&["client.example"]);
    let ccfg = client_config(Some(&client_id), &by_fingerprint(&server_id)).unwrap();
    let scfg = server_config(&server_id).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    let conn = s.get_ref().1;
    assert_eq!(peer_fingerprint(conn), Some(client_id.fingerprint()));
    // the per-session decision on a shared listener
    assert_eq!(
        check_client_certificate(conn, &by_fingerprint(&client_id)).unwrap(),
        Some(client_id.fingerprint())
    );
    assert_eq!(
        check_client_certificate(conn, &PeerVerification::None).unwrap(),
        Some(client_id.fingerprint())
    );
    match check_client_certificate(conn, &PeerVerification::Fingerprint(Fingerprint([9; 32]))) {
        Err(TlsError::FingerprintMismatch {
            expected,
            presented,
        }) => {
            assert_eq!(expected, Fingerprint([9; 32]));
            assert_eq!(presented, Some(client_id.fingerprint()));
        }
        other => panic!("{other:?}"),
    }
    // a self-signed client certificate does not chain to an unrelated CA
    let ca = make_ca("Test CA");
    assert!(matches!(
        check_client_certificate(conn, &PeerVerification::TrustAnchors(ca.anchors())),
        Err(TlsError::Untrusted { .. })
    ));
    exchange(&mut c, &mut s).await;
}

#[tokio::test]
async fn check_client_certificate_without_a_client_certificate() {
    let server_id = self_signed(&["127.0.0.1"]);
    let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
    let (_c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&server_id).unwrap()).await;
    let s = s.unwrap();
    let conn = s.get_ref().1;
    assert_eq!(
        check_client_certificate(conn, &PeerVerification::None).unwrap(),
        None
    );
    let err = check_client_certificate(conn, &PeerVerification::Fingerprint(Fingerprint([3; 32])))
        .unwrap_err();
    assert!(matches!(
        err,
        TlsError::FingerprintMismatch {
            presented: None,
            ..
        }
    ));
    assert!(
        err.to_string().contains("presented no certificate"),
        "{err}"
    );
    let ca = make_ca("Test CA");
    assert!(matches!(
        check_client_certificate(conn, &PeerVerification::TrustAnchors(ca.anchors())),
        Err(TlsError::NoPeerCertificate)
    ));
}

#[tokio::test]
async fn check_client_certificate_accepts_ca_issued_client_cert() {
    let ca = make_ca("Client CA");
    let server_id = self_signed(&["127.0.0.1"]);
    let client_id = ca.leaf(
        &["alice.example"],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    let ccfg = client_config(Some(&client_id), &by_fingerprint(&server_id)).unwrap();
    let (_c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&server_id).unwrap()).await;
    let s = s.unwrap();
    assert_eq!(
        check_client_certificate(s.get_ref().1, &PeerVerification::TrustAnchors(ca.anchors()))
            .unwrap(),
        Some(client_id.fingerprint())
    );
}

/// With `server_config_requiring`, the server's handshake fails; the client learns
/// it in the handshake (TLS 1.2) or on its first read (TLS 1.3, where the client
/// finishes first). Either way the server application gets nothing.
async fn client_rejected(c: Result<client::TlsStream<TcpStream>, TlsError>) -> TlsError {
    match c {
        Err(e) => e,
        Ok(mut c) => {
            let mut buf = [0u8; 1];
            match c.read(&mut buf).await {
                Err(e) => TlsError::from(e),
                Ok(n) => panic!("client read {n} bytes from a server that rejected it"),
            }
        }
    }
}

#[tokio::test]
async fn server_config_requiring_rejects_client_without_certificate() {
    let server_id = self_signed(&["127.0.0.1"]);
    let wanted = self_signed(&["client"]);
    let scfg = server_config_requiring(&server_id, &by_fingerprint(&wanted)).unwrap();
    let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg).await;
    let server_err = s.as_ref().unwrap_err();
    assert!(
        matches!(server_err, TlsError::NoPeerCertificate),
        "{server_err:?}"
    );
    assert_eq!(
        server_err.to_string(),
        "peer presented no certificate, but one is required"
    );
    let client_err = client_rejected(c).await;
    assert!(
        client_err
            .to_string()
            .contains("requires a client certificate"),
        "{client_err}"
    );
}

#[tokio::test]
async fn server_config_requiring_rejects_wrong_client_certificate() {
    for bind in [V4, V6] {
        let server_id = self_signed(&["127.0.0.1", "::1"]);
        let wanted = self_signed(&["client"]);
        let impostor = self_signed(&["client"]);
        let scfg = server_config_requiring(&server_id, &by_fingerprint(&wanted)).unwrap();
        let ccfg = client_config(Some(&impostor), &by_fingerprint(&server_id)).unwrap();
        let host = if bind == V4 { "127.0.0.1" } else { "[::1]" };
        let (c, s) = handshake(bind, host, ccfg, scfg).await;
        match s.as_ref().unwrap_err() {
            TlsError::FingerprintMismatch {
                expected,
                presented,
            } => {
                assert_eq!(*expected, wanted.fingerprint());
                assert_eq!(*presented, Some(impostor.fingerprint()));
            }
            other => panic!("{other:?}"),
        }
        let client_err = client_rejected(c).await;
        assert!(
            client_err
                .to_string()
                .contains("rejected this endpoint's certificate"),
            "{client_err}"
        );
    }
}

#[tokio::test]
async fn server_config_requiring_accepts_the_right_client() {
    let server_id = self_signed(&["127.0.0.1"]);
    let wanted = self_signed(&["client"]);
    let scfg = server_config_requiring(&server_id, &by_fingerprint(&wanted)).unwrap();
    let ccfg = client_config(Some(&wanted), &by_fingerprint(&server_id)).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    assert_eq!(peer_fingerprint(s.get_ref().1), Some(wanted.fingerprint()));
    exchange(&mut c, &mut s).await;

    // by trust anchors: a CA-issued client certificate in, a self-signed one out
    let ca = make_ca("Client CA");
    let alice = ca.leaf(
        &["alice.example"],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    let verify = PeerVerification::TrustAnchors(ca.anchors());
    let scfg = server_config_requiring(&server_id, &verify).unwrap();
    let ccfg = client_config(Some(&alice), &by_fingerprint(&server_id)).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg.clone()).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;

    let ccfg = client_config(Some(&wanted), &by_fingerprint(&server_id)).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, scfg).await;
    match s.as_ref().unwrap_err() {
        TlsError::Untrusted {
            presented, reason, ..
        } => {
            assert_eq!(*presented, Some(wanted.fingerprint()));
            assert!(reason.contains("unknown issuer"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    client_rejected(c).await;
}

// --- PEM -------------------------------------------------------------------------

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[tokio::test]
async fn pem_round_trip_of_generated_identity() {
    let generated = TlsIdentity::self_signed(&["localhost", "127.0.0.1", "[::1]"]).unwrap();
    assert!(generated
        .cert_pem
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(generated.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{generated:?}").contains("PRIVATE"));
    let fp = generated.identity.fingerprint();
    assert_eq!(
        fp,
        Fingerprint::of_certificate(generated.identity.cert_chain()[0].as_ref())
    );

    let loaded =
        TlsIdentity::from_pem(generated.cert_pem.as_bytes(), generated.key_pem.as_bytes()).unwrap();
    assert_eq!(loaded.fingerprint(), fp);

    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &generated.cert_pem).unwrap();
    std::fs::write(&key_path, &generated.key_pem).unwrap();
    let from_files = TlsIdentity::from_pem_files(&cert_path, &key_path).unwrap();
    assert_eq!(from_files.fingerprint(), fp);
    let anchors = PeerVerification::trust_anchors_from_file(&cert_path).unwrap();
    assert_eq!(anchors.len(), 1);

    // the reloaded identity works on both sides of a handshake
    let ccfg = client_config(
        Some(&from_files),
        &PeerVerification::AnchorsOrFingerprint(anchors, fp),
    )
    .unwrap();
    let (c, s) = handshake(V6, "::1", ccfg, server_config(&loaded).unwrap()).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    assert_eq!(peer_fingerprint(s.get_ref().1), Some(fp));
    assert_eq!(peer_fingerprint(c.get_ref().1), Some(fp));
    exchange(&mut c, &mut s).await;
}

fn openssl_fingerprint(file: &str) -> Fingerprint {
    let text = std::fs::read_to_string(data(file)).unwrap();
    let (_, hex) = text.trim().split_once('=').unwrap();
    hex.parse().unwrap()
}

#[tokio::test]
async fn pem_loads_pkcs1_rsa_and_sec1_ec_keys() {
    let rsa = TlsIdentity::from_pem_files(&data("rsa.crt"), &data("rsa_pkcs1.key")).unwrap();
    assert_eq!(rsa.fingerprint(), openssl_fingerprint("rsa.crt.sha256"));
    let ec = TlsIdentity::from_pem_files(&data("ec.crt"), &data("ec_sec1.key")).unwrap();
    assert_eq!(ec.fingerprint(), openssl_fingerprint("ec.crt.sha256"));

    // both usable: an RSA server, an EC client certificate
    let ccfg = client_config(Some(&ec), &by_fingerprint(&rsa)).unwrap();
    let (c, s) = handshake(V4, "127.0.0.1", ccfg, server_config(&rsa).unwrap()).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    assert_eq!(peer_fingerprint(s.get_ref().1), Some(ec.fingerprint()));
    exchange(&mut c, &mut s).await;
}

#[test]
fn pem_errors_are_clear() {
    let generated = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let other = TlsIdentity::self_signed(&["localhost"]).unwrap();
    let cert = generated.cert_pem.as_bytes();
    let key = generated.key_pem.as_bytes();
    let msg = |r: Result<TlsIdentity, TlsError>| r.unwrap_err().to_string();

    let m = msg(TlsIdentity::from_pem(b"garbage, not PEM at all", key));
    assert!(m.contains("no certificate found"), "{m}");
    let m = msg(TlsIdentity::from_pem(cert, b"garbage"));
    assert!(m.contains("no private key found"), "{m}");
    // swapped arguments
    let m = msg(TlsIdentity::from_pem(key, cert));
    assert!(m.contains("no certificate found"), "{m}");
    // a key that belongs to another certificate
    let r = TlsIdentity::from_pem(cert, other.key_pem.as_bytes());
    assert!(matches!(r, Err(TlsError::Key(_))));
    assert!(msg(r).contains("does not belong"));
    // broken base64 inside a section
    let broken = generated.cert_pem.replacen('M', "*", 1);
    let m = msg(TlsIdentity::from_pem(broken.as_bytes(), key));
    assert!(m.contains("not valid base64"), "{m}");
    // a section without its end line
    let cut = &generated.cert_pem[..generated.cert_pem.len() - 30];
    let m = msg(TlsIdentity::from_pem(cut.as_bytes(), key));
    assert!(m.contains("END CERTIFICATE"), "{m}");
    // valid base64 that is not a certificate
    let not_cert = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    let m = msg(TlsIdentity::from_pem(not_cert.as_bytes(), key));
    assert!(m.contains("certificate"), "{m}");
    // an encrypted key
    let ec_cert = std::fs::read(data("ec.crt")).unwrap();
    let enc = std::fs::read(data("ec_encrypted.key")).unwrap();
    let m = msg(TlsIdentity::from_pem(&ec_cert, &enc));
    assert!(m.contains("encrypted"), "{m}");
    // missing files name the file
    let missing = data("no-such-file.pem");
    let r = TlsIdentity::from_pem_files(&missing, &data("ec_sec1.key"));
    let m = msg(r);
    assert!(m.contains("no-such-file.pem"), "{m}");
    let m = msg(TlsIdentity::from_pem_files(
        &data("ec_sec1.key"),
        &data("ec_sec1.key"),
    ));
    assert!(
        m.contains("certificate file") && m.contains("ec_sec1.key"),
        "{m}"
    );
    // trust anchors
    let e = PeerVerification::trust_anchors_from_pem(b"nothing here").unwrap_err();
    assert!(matches!(e, TlsError::Pem(_)));
    assert!(e.to_string().contains("no certificate found"), "{e}");
    let e = PeerVerification::trust_anchors_from_pem(not_cert.as_bytes()).unwrap_err();
    assert!(
        e.to_string().contains("cannot be used as a trust anchor"),
        "{e}"
    );
    let e = PeerVerification::trust_anchors_from_file(&missing).unwrap_err();
    assert!(matches!(e, TlsError::File { .. }));
}

#[test]
fn client_config_requires_something_to_verify() {
    let id = self_signed(&["localhost"]);
    let err = client_config(Some(&id), &PeerVerification::None).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)));
    assert!(err
        .to_string()
        .starts_with("a TLS client needs trust anchors or a fingerprint"));
}

#[tokio::test]
async fn handshake_against_a_closed_connection_is_reported() {
    let server_id = self_signed(&["127.0.0.1"]);
    let listener = TcpListener::bind(V4).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        drop(tcp);
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    closer.await.unwrap();
    let ccfg = client_config(None, &by_fingerprint(&server_id)).unwrap();
    let err = connect(tcp, ccfg, "127.0.0.1").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("closed the connection during the TLS handshake")
            || matches!(err, TlsError::Io(_)),
        "{err:?}"
    );
}
