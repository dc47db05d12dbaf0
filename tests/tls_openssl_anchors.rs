//! Self-signed trust anchors as OpenSSL users make them: certificates from the
//! `openssl` command-line tool (`openssl req -x509`, which sets basic
//! constraints CA:TRUE), given as trust anchors and presented by the peer as its
//! own certificate, over real TCP on 127.0.0.1. Skipped, with a message on
//! stderr, where no `openssl` command is installed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use msrp::transport::tls::{
    accept, check_client_certificate, client_config, connect, server_config,
    server_config_requiring, Fingerprint, PeerVerification, TlsError, TlsIdentity, TrustAnchors,
};
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{client, server};

type Handshakes = (
    Result<client::TlsStream<TcpStream>, TlsError>,
    Result<server::TlsStream<TcpStream>, TlsError>,
);

/// Connects a client (to server name `host`) and a server over real TCP on
/// 127.0.0.1 and runs both handshakes.
async fn handshake(host: &str, ccfg: Arc<ClientConfig>, scfg: Arc<ServerConfig>) -> Handshakes {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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

/// A scratch directory with the `openssl` tool; `None` (and a message on
/// stderr, which the test harness does not capture) where it is missing.
struct Openssl {
    dir: tempfile::TempDir,
}

fn openssl(test: &str) -> Option<Openssl> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Some(Openssl {
            dir: tempfile::tempdir().unwrap(),
        }),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test}: no `openssl` command (install the openssl package)"
            );
            None
        }
    }
}

/// A certificate and key made by `openssl`, as files.
struct Made {
    cert: PathBuf,
    key: PathBuf,
}

impl Made {
    fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_pem_files(&self.cert, &self.key).unwrap()
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_file(&self.cert).unwrap()
    }

    fn fingerprint(&self) -> Fingerprint {
        self.identity().fingerprint()
    }
}

impl Openssl {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=relay -addext
    /// subjectAltName=<san> -keyout <name>.key -out <name>.pem -days 30`, as
    /// relays and PBXs are set up (CA:TRUE), with `extra` options appended.
    fn req_x509(&self, name: &str, subject: &str, san: &str, extra: &[&str]) -> Made {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        let alt = format!("subjectAltName={san}");
        let mut args = vec![
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-addext", &alt,
            "-keyout", &key, "-out", &cert, "-days", "30",
        ];
        args.extend_from_slice(extra);
        self.run(&args);
        Made {
            cert: self.path(&cert),
            key: self.path(&key),
        }
    }

    /// Like [`Openssl::req_x509`] but with the existing key `key` (`-key`).
    fn req_x509_with_key(&self, name: &str, key: &Path, subject: &str, san: &str) -> Made {
        let cert = format!("{name}.pem");
        let alt = format!("subjectAltName={san}");
        self.run(&[
            "req",
            "-x509",
            "-key",
            key.to_str().unwrap(),
            "-subj",
            subject,
            "-addext",
            &alt,
            "-out",
            &cert,
            "-days",
            "30",
        ]);
        Made {
            cert: self.path(&cert),
            key: key.to_owned(),
        }
    }

    /// A self-signed CA:TRUE certificate valid from `start` to `end`
    /// (`YYYYMMDDHHMMSSZ`): OpenSSL 3.0's `req -x509` only counts days forward
    /// from now, so `openssl ca -selfsign` with `-startdate`/`-enddate` signs the
    /// request instead.
    fn self_signed_dated(&self, name: &str, san: &str, start: &str, end: &str) -> Made {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        let alt = format!("subjectAltName={san}");
        self.run(&[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=relay",
            "-addext",
            &alt,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        std::fs::write(
            self.path("ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n\
             serial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n\
             unique_subject = no\n[p]\ncommonName = supplied\n",
        )
        .unwrap();
        std::fs::write(self.path("index.txt"), "").unwrap();
        std::fs::write(self.path("serial"), "01\n").unwrap();
        self.run(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            &key,
            "-in",
            &csr,
            "-out",
            &cert,
            "-startdate",
            start,
            "-enddate",
            end,
        ]);
        Made {
            cert: self.path(&cert),
            key: self.path(&key),
        }
    }

    /// A certificate for `subject`/`san` with the extensions in `ext` (an
    /// `-extfile` text), signed by `issuer`.
    fn signed_by(&self, name: &str, issuer: &Made, subject: &str, ext: &str) -> Made {
        let (cert, key, csr, extfile) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
        );
        std::fs::write(self.path(&extfile), ext).unwrap();
        self.run(&[
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", &key,
            "-out", &csr,
        ]);
        self.run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            issuer.cert.to_str().unwrap(),
            "-CAkey",
            issuer.key.to_str().unwrap(),
            "-set_serial",
            "7",
            "-days",
            "30",
            "-extfile",
            &extfile,
            "-out",
            &cert,
        ]);
        Made {
            cert: self.path(&cert),
            key: self.path(&key),
        }
    }

    /// The text form of a certificate (`openssl x509 -text`), for checking the
    /// premise of a test.
    fn text(&self, made: &Made) -> String {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&made.cert)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The client's refusal of the server's certificate: `Untrusted`, with its reason.
fn untrusted(result: Handshakes) -> String {
    match result.0 {
        Err(TlsError::Untrusted { reason, .. }) => reason,
        Err(other) => panic!("expected an untrusted certificate, got {other:?}"),
        Ok(_) => panic!("the client accepted the server's certificate"),
    }
}

async fn client_with_anchors(host: &str, anchors: TrustAnchors, server: &Made) -> Handshakes {
    let ccfg = client_config(None, &PeerVerification::TrustAnchors(anchors)).unwrap();
    let scfg = server_config(&server.identity()).unwrap();
    handshake(host, ccfg, scfg).await
}

#[tokio::test]
async fn openssl_req_x509_certificate_is_accepted_as_its_own_anchor() {
    let Some(ssl) = openssl("openssl_req_x509_certificate_is_accepted_as_its_own_anchor") else {
        return;
    };
    let relay = ssl.req_x509("relay", "/CN=relay", "IP:127.0.0.1", &[]);
    assert!(ssl.text(&relay).contains("CA:TRUE"), "the premise: CA:TRUE");

    let (c, s) = client_with_anchors("127.0.0.1", relay.anchors(), &relay).await;
    let (mut c, mut s) = (c.unwrap(), s.unwrap());
    exchange(&mut c, &mut s).await;

    // Anchors or a fingerprint: the anchor alone is enough when the fingerprint
    // is another certificate's; the fingerprint alone as before.
    let scfg = server_config(&relay.identity()).unwrap();
    let verify = PeerVerification::AnchorsOrFingerprint(relay.anchors(), Fingerprint([1; 32]));
    let ccfg = client_config(None, &verify).unwrap();
    let (c, s) = handshake("127.0.0.1", ccfg, scfg.clone()).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;
    let ccfg = client_config(None, &PeerVerification::Fingerprint(relay.fingerprint())).unwrap();
    let (c, s) = handshake("127.0.0.1", ccfg, scfg).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;
}

#[tokio::test]
async fn presented_anchor_with_a_dns_name_and_among_other_anchors() {
    let Some(ssl) = openssl("presented_anchor_with_a_dns_name_and_among_other_anchors") else {
        return;
    };
    let relay = ssl.req_x509(
        "relay",
        "/CN=relay.example.test",
        "DNS:relay.example.test",
        &[],
    );
    let other = ssl.req_x509("other", "/CN=other", "IP:127.0.0.1", &[]);
    // One file with two anchors, the presented one second.
    let mut both = std::fs::read(&other.cert).unwrap();
    both.extend(std::fs::read(&relay.cert).unwrap());
    let anchors = TrustAnchors::from_pem(&both).unwrap();
    assert_eq!(anchors.len(), 2);

    let (c, s) = client_with_anchors("relay.example.test", anchors.clone(), &relay).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;

    // The name is still checked: an IP literal needs an IP address SAN.
    let reason = untrusted(client_with_anchors("127.0.0.1", anchors, &relay).await);
    assert!(reason.contains("not valid for name"), "{reason}");
}

#[tokio::test]
async fn presented_anchor_for_another_name_is_refused() {
    let Some(ssl) = openssl("presented_anchor_for_another_name_is_refused") else {
        return;
    };
    for (i, san) in ["IP:127.0.0.2", "DNS:relay.example.test"]
        .iter()
        .enumerate()
    {
        let relay = ssl.req_x509(&format!("relay{i}"), "/CN=127.0.0.1", san, &[]);
        let reason = untrusted(client_with_anchors("127.0.0.1", relay.anchors(), &relay).await);
        assert!(reason.contains("not valid for name"), "{san}: {reason}");
    }
}

#[tokio::test]
async fn presented_anchor_out_of_its_validity_period_is_refused() {
    let Some(ssl) = openssl("presented_anchor_out_of_its_validity_period_is_refused") else {
        return;
    };
    let expired = ssl.self_signed_dated(
        "expired",
        "IP:127.0.0.1",
        "20200101000000Z",
        "20200201000000Z",
    );
    let text = ssl.text(&expired);
    assert!(
        text.contains("CA:TRUE") && text.contains("Feb  1 00:00:00 2020 GMT"),
        "{text}"
    );
    let reason = untrusted(client_with_anchors("127.0.0.1", expired.anchors(), &expired).await);
    assert!(reason.contains("expired"), "{reason}");

    let future = ssl.self_signed_dated(
        "future",
        "IP:127.0.0.1",
        "20900101000000Z",
        "20900201000000Z",
    );
    let reason = untrusted(client_with_anchors("127.0.0.1", future.anchors(), &future).await);
    assert!(reason.contains("not valid yet"), "{reason}");
}

#[tokio::test]
async fn ca_certificate_issued_by_the_anchor_is_refused_as_end_entity() {
    let Some(ssl) = openssl("ca_certificate_issued_by_the_anchor_is_refused_as_end_entity") else {
        return;
    };
    let ca = ssl.req_x509("ca", "/CN=Test CA", "DNS:ca.example.test", &[]);
    let sub = ssl.signed_by(
        "sub",
        &ca,
        "/CN=relay",
        "basicConstraints=critical,CA:TRUE\nsubjectAltName=IP:127.0.0.1\n",
    );
    assert!(ssl.text(&sub).contains("CA:TRUE"), "the premise: CA:TRUE");
    let reason = untrusted(client_with_anchors("127.0.0.1", ca.anchors(), &sub).await);
    assert!(reason.contains("CA certificate"), "{reason}");

    // Byte for byte an anchor too, but not self-signed: still refused.
    let mut both = std::fs::read(&ca.cert).unwrap();
    both.extend(std::fs::read(&sub.cert).unwrap());
    let anchors = TrustAnchors::from_pem(&both).unwrap();
    let reason = untrusted(client_with_anchors("127.0.0.1", anchors, &sub).await);
    assert!(reason.contains("CA certificate"), "{reason}");

    // The same shape with CA:FALSE is an ordinary leaf and chains to the anchor.
    let leaf = ssl.signed_by(
        "leaf",
        &ca,
        "/CN=relay",
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
    );
    let (c, s) = client_with_anchors("127.0.0.1", ca.anchors(), &leaf).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;
}

#[tokio::test]
async fn certificate_with_the_anchors_subject_but_other_bytes_is_refused() {
    let Some(ssl) = openssl("certificate_with_the_anchors_subject_but_other_bytes_is_refused")
    else {
        return;
    };
    let anchor = ssl.req_x509("anchor", "/CN=relay", "IP:127.0.0.1", &[]);
    // The same key and subject, issued again (another serial number).
    let reissued = ssl.req_x509_with_key("reissued", &anchor.key, "/CN=relay", "IP:127.0.0.1");
    assert_ne!(
        std::fs::read(&anchor.cert).unwrap(),
        std::fs::read(&reissued.cert).unwrap()
    );
    let reason = untrusted(client_with_anchors("127.0.0.1", anchor.anchors(), &reissued).await);
    assert!(reason.contains("CA certificate"), "{reason}");
    // Another key, same subject.
    let other_key = ssl.req_x509("otherkey", "/CN=relay", "IP:127.0.0.1", &[]);
    let reason = untrusted(client_with_anchors("127.0.0.1", anchor.anchors(), &other_key).await);
    assert!(reason.contains("CA certificate"), "{reason}");
}

#[tokio::test]
async fn presented_anchor_whose_key_usage_excludes_servers_is_refused() {
    let Some(ssl) = openssl("presented_anchor_whose_key_usage_excludes_servers_is_refused") else {
        return;
    };
    let client_only = ssl.req_x509(
        "clientonly",
        "/CN=relay",
        "IP:127.0.0.1",
        &["-addext", "extendedKeyUsage=clientAuth"],
    );
    let reason =
        untrusted(client_with_anchors("127.0.0.1", client_only.anchors(), &client_only).await);
    assert!(reason.contains("purpose"), "{reason}");
    let server_too = ssl.req_x509(
        "servertoo",
        "/CN=relay",
        "IP:127.0.0.1",
        &["-addext", "extendedKeyUsage=serverAuth,clientAuth"],
    );
    let (c, s) = client_with_anchors("127.0.0.1", server_too.anchors(), &server_too).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;
}

#[tokio::test]
async fn client_certificate_that_is_its_own_anchor_is_accepted_by_the_server() {
    let Some(ssl) = openssl("client_certificate_that_is_its_own_anchor_is_accepted_by_the_server")
    else {
        return;
    };
    let server_id = TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity;
    let by_fp = PeerVerification::Fingerprint(server_id.fingerprint());
    let peer = ssl.req_x509("peer", "/CN=peer", "DNS:peer.example.test", &[]);
    let stranger = ssl.req_x509("stranger", "/CN=peer", "DNS:peer.example.test", &[]);
    let verify = PeerVerification::TrustAnchors(peer.anchors());

    // Checked in the handshake (a dedicated acceptor).
    let scfg = server_config_requiring(&server_id, &verify).unwrap();
    let ccfg = client_config(Some(&peer.identity()), &by_fp).unwrap();
    let (c, s) = handshake("127.0.0.1", ccfg, scfg.clone()).await;
    exchange(&mut c.unwrap(), &mut s.unwrap()).await;
    let ccfg = client_config(Some(&stranger.identity()), &by_fp).unwrap();
    let (_, s) = handshake("127.0.0.1", ccfg, scfg).await;
    match s {
        Err(TlsError::Untrusted { reason, .. }) => assert!(reason.contains("CA certificate")),
        other => panic!("expected the server to refuse the stranger, got {other:?}"),
    }

    // Checked after the handshake (a listener shared by sessions).
    let scfg = server_config(&server_id).unwrap();
    let ccfg = client_config(Some(&peer.identity()), &by_fp).unwrap();
    let (_c, s) = handshake("127.0.0.1", ccfg, scfg.clone()).await;
    let s = s.unwrap();
    let fp = check_client_certificate(s.get_ref().1, &verify).unwrap();
    assert_eq!(fp, Some(peer.fingerprint()));
    let ccfg = client_config(Some(&stranger.identity()), &by_fp).unwrap();
    let (_c, s) = handshake("127.0.0.1", ccfg, scfg).await;
    let s = s.unwrap();
    let err = check_client_certificate(s.get_ref().1, &verify).unwrap_err();
    assert!(matches!(err, TlsError::Untrusted { .. }), "{err:?}");
}
