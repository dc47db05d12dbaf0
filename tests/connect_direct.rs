//! Direct connections over loopback: ConnectorDirect ↔ AcceptorDirect and
//! ConnectorDirect ↔ Server, TCP and TLS.

use std::time::Duration;

use bytes::Bytes;
use msrp::connect::{AcceptorDirect, ConnectError, ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::Uri;
use msrp::transport::{ChunkParams, TlsIdentity};

fn text(t: &str) -> ChunkParams {
    ChunkParams {
        data: Bytes::copy_from_slice(t.as_bytes()),
        ..Default::default()
    }
}

#[tokio::test]
async fn tcp_connector_to_acceptor_both_directions() {
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    assert_ne!(a_path[0].port, Some(0));
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector.prepare(None).unwrap();
    let a_task = tokio::spawn(async move {
        acceptor
            .complete(&c_path, None, Some(Duration::from_secs(5)))
            .await
    });
    let mut ct = connector
        .complete(&a_path, None, Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let mut at = a_task.await.unwrap().unwrap();
    let c = ct.make_chunk(text("hello acceptor"));
    ct.write_chunk(&c).await.unwrap();
    let got = at.read_chunk(None).await.unwrap();
    assert_eq!(&got.data[..], b"hello acceptor");
    at.check_incoming_send_chunk(&got).unwrap();
    at.write_response(&got, 200, None).await.unwrap();
    let resp = ct.read_chunk(None).await.unwrap();
    assert_eq!(resp.code(), Some(200));
    assert_eq!(resp.transaction_id, c.transaction_id);
    let c2 = at.make_chunk(text("hello connector"));
    at.write_chunk(&c2).await.unwrap();
    let got2 = ct.read_chunk(None).await.unwrap();
    assert_eq!(&got2.data[..], b"hello connector");
    ct.check_incoming_send_chunk(&got2).unwrap();
}

#[tokio::test]
async fn tls_with_fingerprint_and_mismatch() {
    let server_id = TlsIdentity::self_signed(&["localhost", "127.0.0.1"])
        .unwrap()
        .identity;
    let other_id = TlsIdentity::self_signed(&["localhost"]).unwrap().identity;
    let cfg = EndpointConfig {
        identity: Some(server_id.clone()),
        ..Default::default()
    };
    let server = Server::new(cfg);
    let local = server.prepare(None).await.unwrap();
    assert!(local[0].secure);
    // Wrong fingerprint: the client refuses in the handshake.
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let _ = connector
        .prepare(Some(Uri::parse("msrps://127.0.0.1:9/abcdef;tcp").unwrap()))
        .unwrap();
    let err = connector
        .complete(
            &local,
            Some(other_id.fingerprint()),
            Some(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Tls(_)), "{err}");
    // Right fingerprint: binds.
    let c_path = connector.prepare(None).unwrap();
    let s = server.clone();
    let l = local[0].clone();
    let wait = tokio::spawn(async move {
        s.complete(&l, &c_path, None, Some(Duration::from_secs(5)))
            .await
    });
    let mut ct = connector
        .complete(
            &local,
            Some(server_id.fingerprint()),
            Some(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let mut st = wait.await.unwrap().unwrap();
    ct.write_chunk(&ct.make_chunk(text("over tls")))
        .await
        .unwrap();
    assert_eq!(&st.read_chunk(None).await.unwrap().data[..], b"over tls");
}

#[tokio::test]
async fn unknown_session_gets_481() {
    let server = Server::new(EndpointConfig::default());
    let local = server.prepare(None).await.unwrap();
    let mut wrong = local[0].clone();
    wrong.session_id = Some("nosuchsession".into());
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    connector.prepare(None).unwrap();
    let err = connector
        .complete(&[wrong], None, Some(Duration::from_secs(5)))
        .await
        .unwrap_err();
    match err {
        ConnectError::Rejected(e) => assert_eq!(e.code, 481),
        other => panic!("expected 481, got {other}"),
    }
}
