//! IMDN help of a session over real loopback sockets: automatic delivery
//! notifications, displayed ones sent by the application, and received
//! notifications reported as their own event, matched to the sent message.

use std::time::Duration;

use msrp::connect::{AcceptorDirect, ConnectorDirect, EndpointConfig};
use msrp::content::{
    Cpim, CpimBuilder, DateTime, ImdnStatus, NotificationKind, IMDN_CONTENT_TYPE, IMDN_NAMESPACE,
};
use msrp::session::{ImdnConfig, OutgoingMessage, Session, SessionConfig, SessionEvent};
use msrp::transport::Transport;
use tokio::sync::mpsc::Receiver;

const T: Option<Duration> = Some(Duration::from_secs(10));

async fn pair() -> (Transport, Transport) {
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let a_path = acceptor.prepare(None).await.unwrap();
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector.prepare(None).unwrap();
    let a = tokio::spawn(async move { acceptor.complete(&c_path, None, T).await.unwrap() });
    let c = connector.complete(&a_path, None, T).await.unwrap();
    (c, a.await.unwrap())
}

async fn next(rx: &mut Receiver<SessionEvent>) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("event in time")
        .expect("event")
}

/// The next event that is not Sent/Progress/Report.
async fn next_content(rx: &mut Receiver<SessionEvent>) -> SessionEvent {
    loop {
        match next(rx).await {
            SessionEvent::Sent { .. }
            | SessionEvent::Progress { .. }
            | SessionEvent::Report { .. } => {}
            e => return e,
        }
    }
}

fn chat(imdn_id: &str, request: Option<&str>, text: &str) -> Vec<u8> {
    let mut b = CpimBuilder::new()
        .from(Some("Alice"), "sip:alice@example.org")
        .unwrap()
        .to(None, "sip:bob@example.net")
        .unwrap()
        .namespace("imdn", IMDN_NAMESPACE)
        .unwrap()
        .header("imdn.Message-ID", imdn_id)
        .unwrap()
        .datetime(DateTime::parse("2024-05-01T10:00:00Z").unwrap())
        .unwrap();
    if let Some(r) = request {
        b = b.header("imdn.Disposition-Notification", r).unwrap();
    }
    b.content_type("text/plain;charset=UTF-8")
        .unwrap()
        .body(text.as_bytes().to_vec())
        .build()
}

fn config(imdn: ImdnConfig) -> SessionConfig {
    SessionConfig {
        imdn,
        ..SessionConfig::default()
    }
}

#[tokio::test]
async fn delivery_automatic_display_by_the_application() {
    let (c, a) = pair().await;
    let both = ImdnConfig {
        auto_delivery: true,
        notification_events: true,
    };
    let (alice, mut arx) = Session::new(c, config(both));
    let (bob, mut brx) = Session::new(a, config(both));

    let wire = chat("imdn-1", Some("positive-delivery, display"), "Hi Bob");
    let sent_id = alice
        .send_message(OutgoingMessage::new("message/cpim", wire.clone()))
        .unwrap();

    // Bob gets the message itself.
    let received = match next_content(&mut brx).await {
        SessionEvent::Message(m) => {
            assert_eq!(m.message_id, sent_id);
            assert_eq!(&m.body[..], &wire[..]);
            m
        }
        other => panic!("{other:?}"),
    };
    // Alice gets the automatic delivery notification, matched.
    match next_content(&mut arx).await {
        SessionEvent::Notification {
            message_id,
            from,
            notification,
            notification_message_id,
        } => {
            assert_eq!(message_id.as_deref(), Some(sent_id.as_str()));
            assert_ne!(notification_message_id, sent_id);
            assert_eq!(from.as_deref(), Some("sip:bob@example.net"));
            assert_eq!(notification.message_id, "imdn-1");
            assert_eq!(notification.kind, NotificationKind::Delivery);
            assert_eq!(notification.status, ImdnStatus::Delivered);
            assert_eq!(notification.datetime, "2024-05-01T10:00:00Z");
            assert_eq!(
                notification.recipient_uri.as_deref(),
                Some("sip:bob@example.net")
            );
        }
        other => panic!("{other:?}"),
    }
    // Bob's application says it was displayed.
    bob.send_imdn(
        &received.body,
        NotificationKind::Display,
        ImdnStatus::Displayed,
    )
    .unwrap();
    match next_content(&mut arx).await {
        SessionEvent::Notification {
            message_id,
            notification,
            ..
        } => {
            assert_eq!(message_id.as_deref(), Some(sent_id.as_str()));
            assert_eq!(notification.status, ImdnStatus::Displayed);
        }
        other => panic!("{other:?}"),
    }
    // A status that does not belong to the kind, and a notification about a
    // notification, are refused.
    assert!(bob
        .send_imdn(
            &received.body,
            NotificationKind::Display,
            ImdnStatus::Delivered
        )
        .is_err());
    let n = CpimBuilder::new()
        .namespace("imdn", IMDN_NAMESPACE)
        .unwrap()
        .header("imdn.Message-ID", "x")
        .unwrap()
        .content_type(IMDN_CONTENT_TYPE)
        .unwrap()
        .build();
    assert!(bob
        .send_imdn(&n, NotificationKind::Delivery, ImdnStatus::Delivered)
        .is_err());
    assert!(bob
        .send_imdn(
            b"not cpim",
            NotificationKind::Delivery,
            ImdnStatus::Delivered
        )
        .is_err());

    // A message that asks only for display gets no automatic notification,
    // and one that is not CPIM neither: the next thing Alice hears is
    // Bob's text message.
    alice
        .send_message(OutgoingMessage::new(
            "message/cpim",
            chat("imdn-2", Some("display"), "no delivery"),
        ))
        .unwrap();
    assert!(matches!(
        next_content(&mut brx).await,
        SessionEvent::Message(_)
    ));
    alice
        .send_message(OutgoingMessage::new("text/plain", "plain"))
        .unwrap();
    assert!(matches!(
        next_content(&mut brx).await,
        SessionEvent::Message(_)
    ));
    bob.send_message(OutgoingMessage::new("text/plain", "marker"))
        .unwrap();
    match next_content(&mut arx).await {
        SessionEvent::Message(m) => assert_eq!(&m.body[..], b"marker"),
        other => panic!("{other:?}"),
    }
    alice.shutdown(true).await;
    bob.shutdown(true).await;
}

#[tokio::test]
async fn off_by_default_and_unmatched_notifications() {
    let (c, a) = pair().await;
    // Alice reports notifications but sent nothing Bob's notification names;
    // Bob has the help off, so nothing is answered automatically.
    let (alice, mut arx) = Session::new(
        c,
        config(ImdnConfig {
            auto_delivery: false,
            notification_events: true,
        }),
    );
    let (bob, mut brx) = Session::new(a, SessionConfig::default());
    alice
        .send_message(OutgoingMessage::new(
            "message/cpim",
            chat("imdn-3", Some("positive-delivery"), "x"),
        ))
        .unwrap();
    let m = match next_content(&mut brx).await {
        SessionEvent::Message(m) => m,
        other => panic!("{other:?}"),
    };
    // Bob, with the help off, still can send one by hand; Alice matches it.
    bob.send_imdn(&m.body, NotificationKind::Delivery, ImdnStatus::Delivered)
        .unwrap();
    match next_content(&mut arx).await {
        SessionEvent::Notification {
            message_id,
            notification,
            ..
        } => {
            assert_eq!(message_id.as_deref(), Some(m.message_id.as_str()));
            assert_eq!(notification.message_id, "imdn-3");
        }
        other => panic!("{other:?}"),
    }
    // A notification about a message Alice never sent: unmatched.
    let other = chat("imdn-never", Some("positive-delivery"), "y");
    bob.send_imdn(&other, NotificationKind::Delivery, ImdnStatus::Failed)
        .unwrap();
    match next_content(&mut arx).await {
        SessionEvent::Notification {
            message_id,
            notification,
            ..
        } => {
            assert_eq!(message_id, None);
            assert_eq!(notification.status, ImdnStatus::Failed);
        }
        other => panic!("{other:?}"),
    }
    // Bob, with the help off, gets notifications as plain messages.
    alice
        .send_imdn(&m.body, NotificationKind::Delivery, ImdnStatus::Delivered)
        .unwrap();
    match next_content(&mut brx).await {
        SessionEvent::Message(n) => {
            let cpim = Cpim::parse(&n.body).unwrap();
            assert_eq!(cpim.media_type(), IMDN_CONTENT_TYPE);
        }
        other => panic!("{other:?}"),
    }
    alice.shutdown(true).await;
    bob.shutdown(true).await;
}
