//! Unit tests: fingerprint text forms, server names, error texts, and TLS 1.2
//! handshakes (the public API lets rustls pick TLS 1.3 between two libmsrp peers,
//! so the TLS 1.2 signature paths are exercised here with restricted configs).

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FP_TEXT: &str =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

fn fp_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    for chunk in b.chunks_mut(8) {
        chunk.copy_from_slice(&[0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89]);
    }
    b
}

#[test]
fn fingerprint_parses_all_accepted_forms() {
    let expected = Fingerprint(fp_bytes());
    let lower = FP_TEXT.to_ascii_lowercase();
    let forms = [
        FP_TEXT.to_owned(),
        lower.clone(),
        format!("sha-256 {FP_TEXT}"),
        format!("SHA-256 {lower}"),
        format!("Sha-256 \t  {FP_TEXT}"),
        format!("  sha-256   {FP_TEXT}  \n"),
        format!(" {FP_TEXT} "),
    ];
    for form in &forms {
        assert_eq!(Fingerprint::parse(form).unwrap(), expected, "form {form:?}");
        assert_eq!(
            form.parse::<Fingerprint>().unwrap(),
            expected,
            "FromStr {form:?}"
        );
    }
}

#[test]
fn fingerprint_formats_and_round_trips() {
    let fp = Fingerprint(fp_bytes());
    assert_eq!(fp.to_string(), FP_TEXT);
    assert_eq!(fp.to_sdp(), format!("sha-256 {FP_TEXT}"));
    assert_eq!(format!("{fp:?}"), format!("Fingerprint({FP_TEXT})"));
    assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
    assert_eq!(Fingerprint::parse(&fp.to_sdp()).unwrap(), fp);
    let zero = Fingerprint([0; 32]);
    assert!(zero.to_string().starts_with("00:00:"));
    assert_eq!(zero.to_string().len(), 32 * 3 - 1);
    assert_eq!(Fingerprint::parse(&zero.to_sdp()).unwrap(), zero);
    assert_eq!(fp.as_bytes(), &fp_bytes());
}

fn parse_error(text: &str) -> String {
    match Fingerprint::parse(text) {
        Err(e @ TlsError::InvalidFingerprint(_)) => e.to_string(),
        other => panic!("{text:?} should be rejected, got {other:?}"),
    }
}

#[test]
fn fingerprint_rejects_bad_forms_with_clear_messages() {
    // wrong length
    let short = &FP_TEXT[..FP_TEXT.len() - 3];
    assert!(parse_error(short).contains("expected 32 colon-separated hex pairs"));
    assert!(parse_error(short).contains("found 31"));
    let long = format!("{FP_TEXT}:00");
    assert!(parse_error(&long).contains("found 33"));
    assert!(parse_error("AB:CD").contains("found 2"));
    // bad hex
    let bad_hex = FP_TEXT.replacen("EF", "EG", 1);
    let msg = parse_error(&bad_hex);
    assert!(msg.contains("pair 3 \"EG\" is not two hex digits"), "{msg}");
    let three = FP_TEXT.replacen("AB:CD", "ABC:D", 1);
    assert!(parse_error(&three).contains("pair 1 \"ABC\""));
    let empty_pair = FP_TEXT.replacen(":CD:", "::", 1);
    assert!(parse_error(&empty_pair).contains("pair 2 \"\" is not two hex digits"));
    let signed = FP_TEXT.replacen("AB", "+A", 1);
    assert!(parse_error(&signed).contains("\"+A\" is not two hex digits"));
    // missing colons
    let no_colons = FP_TEXT.replace(':', "");
    assert!(parse_error(&no_colons).contains("separated by colons"));
    assert!(parse_error(&format!("sha-256 {no_colons}")).contains("separated by colons"));
    let spaces = FP_TEXT.replace(':', " ");
    assert!(parse_error(&spaces).contains("unsupported hash function \"AB\""));
    // other hash names
    let sha1 = "sha-1 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01";
    let msg = parse_error(sha1);
    assert!(msg.contains("unsupported hash function \"sha-1\""), "{msg}");
    assert!(msg.contains("only sha-256"), "{msg}");
    assert!(parse_error(&format!("sha256 {FP_TEXT}")).contains("\"sha256\""));
    assert!(parse_error(&format!("sha-512 {FP_TEXT}")).contains("\"sha-512\""));
    // hash name glued on, nothing, only the name
    assert!(parse_error(&format!("sha-256:{FP_TEXT}")).contains("found 33"));
    assert!(parse_error("").contains("empty"));
    assert!(parse_error("   ").contains("empty"));
    assert!(parse_error("sha-256").contains("missing"));
    assert!(parse_error("sha-256   ").contains("missing"));
    // the message quotes the input
    assert!(parse_error("nonsense").starts_with("invalid certificate fingerprint \"nonsense\""));
    // a huge input is not echoed in full
    let huge = "A".repeat(10_000);
    assert!(parse_error(&huge).len() < 400);
}

#[test]
fn fingerprint_of_certificate_is_sha256() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1
    let fp = Fingerprint::of_certificate(b"abc");
    assert_eq!(
        fp.to_string(),
        "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
    );
}

#[test]
fn server_names() {
    use rustls_pki_types::IpAddr as PkiIp;
    let v4 = server_name("127.0.0.1").unwrap();
    assert!(matches!(v4, ServerName::IpAddress(PkiIp::V4(_))));
    for host in [
        "::1",
        "[::1]",
        "fe80::1",
        "[2001:db8::42]",
        "::ffff:192.0.2.1",
    ] {
        let name = server_name(host).unwrap();
        assert!(
            matches!(name, ServerName::IpAddress(PkiIp::V6(_))),
            "{host}"
        );
    }
    assert_eq!(
        server_name("[::1]").unwrap(),
        ServerName::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST).into())
    );
    for host in ["localhost", "relay.example.com", "a-b.example"] {
        assert!(
            matches!(server_name(host).unwrap(), ServerName::DnsName(_)),
            "{host}"
        );
    }
    for host in [
        "",
        "[127.0.0.1]",
        "[::1",
        "[nonsense]",
        "bad host",
        "a..b",
        "fe80::1%eth0",
    ] {
        let err = server_name(host).unwrap_err();
        assert!(
            matches!(err, TlsError::InvalidServerName(_)),
            "{host}: {err:?}"
        );
        assert!(err.to_string().contains(host), "{err}");
    }
}

#[test]
fn error_texts_are_user_readable() {
    let a = Fingerprint([0xAA; 32]);
    let b = Fingerprint([0xBB; 32]);
    let e = TlsError::FingerprintMismatch {
        expected: a,
        presented: Some(b),
    };
    assert_eq!(
        e.to_string(),
        format!("peer certificate fingerprint {b} does not match expected {a}")
    );
    let e = TlsError::FingerprintMismatch {
        expected: a,
        presented: None,
    };
    assert!(e.to_string().contains("no certificate"));
    // a verifier rejection survives the trip through rustls and io::Error
    let rejection = Rejection::Mismatch {
        expected: a,
        presented: b,
    };
    let io = io::Error::new(io::ErrorKind::InvalidData, rejection.into_rustls());
    match TlsError::from(io) {
        TlsError::FingerprintMismatch {
            expected,
            presented,
        } => {
            assert_eq!(expected, a);
            assert_eq!(presented, Some(b));
        }
        other => panic!("{other:?}"),
    }
    let alert = io::Error::new(
        io::ErrorKind::InvalidData,
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
    );
    let msg = TlsError::from(alert).to_string();
    assert!(msg.contains("requires a client certificate"), "{msg}");
    // and back to io::Error for the transport layer
    let io: io::Error = TlsError::NoPeerCertificate.into();
    assert!(io
        .get_ref()
        .and_then(|i| i.downcast_ref::<TlsError>())
        .is_some());
}

#[test]
fn configs_need_something_to_check() {
    let id = TlsIdentity::self_signed(&["localhost"]).unwrap().identity;
    let err = client_config(Some(&id), &PeerVerification::None).unwrap_err();
    assert!(err
        .to_string()
        .contains("a TLS client needs trust anchors or a fingerprint"));
    let err = server_config_requiring(&id, &PeerVerification::None).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)));
    let empty = Arc::new(RootCertStore::empty());
    let err = client_config(None, &PeerVerification::TrustAnchors(empty.into())).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err:?}");
    assert!(matches!(
        PeerVerification::new(None, None),
        PeerVerification::None
    ));
    let fp = id.fingerprint();
    assert!(matches!(
        PeerVerification::new(None, Some(fp)),
        PeerVerification::Fingerprint(f) if f == fp
    ));
}

// --- TLS 1.2 over loopback ---------------------------------------------------

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (client.unwrap(), server.unwrap().0)
}

#[tokio::test]
async fn tls12_fingerprint_ok_and_client_cert_seen() {
    let server_id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let client_id = TlsIdentity::self_signed(&["client"]).unwrap().identity;
    let ccfg = client_config_with_versions(
        Some(&client_id),
        &PeerVerification::Fingerprint(server_id.fingerprint()),
        TLS12,
    )
    .unwrap();
    let scfg = server_config(&server_id).unwrap();
    let (c, s) = pair().await;
    let (client, server) = tokio::join!(connect(c, ccfg, "127.0.0.1"), accept(s, scfg));
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    assert_eq!(
        client.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(
        peer_fingerprint(server.get_ref().1),
        Some(client_id.fingerprint())
    );
    client.write_all(b"ping").await.unwrap();
    client.flush().await.unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn tls12_wrong_fingerprint_fails_in_handshake() {
    let server_id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let expected = Fingerprint([7; 32]);
    let ccfg =
        client_config_with_versions(None, &PeerVerification::Fingerprint(expected), TLS12).unwrap();
    let (c, s) = pair().await;
    let (client, server) = tokio::join!(
        connect(c, ccfg, "127.0.0.1"),
        accept(s, server_config(&server_id).unwrap())
    );
    match client.unwrap_err() {
        TlsError::FingerprintMismatch {
            expected: e,
            presented,
        } => {
            assert_eq!(e, expected);
            assert_eq!(presented, Some(server_id.fingerprint()));
        }
        other => panic!("{other:?}"),
    }
    assert!(server.is_err());
}

#[tokio::test]
async fn tls12_requiring_rejects_in_handshake_on_both_sides() {
    let server_id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let wanted = TlsIdentity::self_signed(&["wanted"]).unwrap().identity;
    let other = TlsIdentity::self_signed(&["other"]).unwrap().identity;
    let verify_server = PeerVerification::Fingerprint(server_id.fingerprint());
    let scfg = server_config_requiring_with_versions(
        &server_id,
        &PeerVerification::Fingerprint(wanted.fingerprint()),
        TLS12,
    )
    .unwrap();

    // no certificate: in TLS 1.2 the client learns it before its handshake ends
    let ccfg = client_config_with_versions(None, &verify_server, TLS12).unwrap();
    let (c, s) = pair().await;
    let (client, server) = tokio::join!(connect(c, ccfg, "127.0.0.1"), accept(s, scfg.clone()));
    assert!(matches!(server.unwrap_err(), TlsError::NoPeerCertificate));
    let msg = client.unwrap_err().to_string();
    assert!(msg.contains("peer"), "{msg}");

    // the wrong certificate
    let ccfg = client_config_with_versions(Some(&other), &verify_server, TLS12).unwrap();
    let (c, s) = pair().await;
    let (client, server) = tokio::join!(connect(c, ccfg, "127.0.0.1"), accept(s, scfg.clone()));
    match server.unwrap_err() {
        TlsError::FingerprintMismatch {
            expected,
            presented,
        } => {
            assert_eq!(expected, wanted.fingerprint());
            assert_eq!(presented, Some(other.fingerprint()));
        }
        e => panic!("{e:?}"),
    }
    let msg = client.unwrap_err().to_string();
    assert!(
        msg.contains("rejected this endpoint's certificate"),
        "{msg}"
    );

    // the right one
    let ccfg = client_config_with_versions(Some(&wanted), &verify_server, TLS12).unwrap();
    let (c, s) = pair().await;
    let (client, server) = tokio::join!(connect(c, ccfg, "127.0.0.1"), accept(s, scfg));
    client.unwrap();
    let server = server.unwrap();
    assert_eq!(
        peer_fingerprint(server.get_ref().1),
        Some(wanted.fingerprint())
    );
}
