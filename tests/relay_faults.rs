//! Relay failures (RFC 4976 relays, Kamailio from tests/relay/kamailio.sh):
//! the relay killed in the middle of a 64 MiB file transfer, and a fresh
//! session through the same relay after it restarts. This binary runs its
//! own relay (the shared one of tests/relay.rs must not be killed).

#[path = "relay/script.rs"]
mod script;

use std::collections::HashMap;
use std::time::Duration;

use msrp::connect::{AcceptorRelay, ConnectorRelay, EndpointConfig, RelaySettings};
use msrp::protocol::Uri;
use msrp::session::{
    CloseReason, FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionEvent,
    Unfinished,
};
use msrp::transport::Transport;
use script::kamailio;
use tokio::sync::mpsc::Receiver;

const T: Option<Duration> = Some(Duration::from_secs(10));

fn settings(relay: &HashMap<String, String>) -> RelaySettings {
    let uri = Uri::parse(&relay["TCP_URI"]).unwrap();
    RelaySettings::from_uri(&uri, relay["USER"].clone(), relay["PASSWORD"].clone())
}

/// A connector and an acceptor, both through the relay, bound to each other.
async fn pair(relay: &HashMap<String, String>) -> (Transport, Transport) {
    let mut connector = ConnectorRelay::new(EndpointConfig::default(), settings(relay));
    let mut acceptor = AcceptorRelay::new(EndpointConfig::default(), settings(relay));
    let c_path = connector.prepare(None).await.unwrap();
    let a_path = acceptor.prepare(None).await.unwrap();
    let a = tokio::spawn(async move { acceptor.complete(&c_path, T).await });
    let ct = connector.complete(&a_path, T).await.unwrap();
    (ct, a.await.unwrap().unwrap())
}

async fn next_event(rx: &mut Receiver<SessionEvent>) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an event in time")
        .expect("an event before the channel ends")
}

/// Reads events until Closed; returns the reason, the unfinished list and
/// the success REPORTs seen on the way.
async fn until_closed(
    rx: &mut Receiver<SessionEvent>,
) -> (CloseReason, Vec<Unfinished>, Vec<String>) {
    let mut reported = Vec::new();
    loop {
        match next_event(rx).await {
            SessionEvent::Closed { reason, unfinished } => return (reason, unfinished, reported),
            SessionEvent::Report {
                message_id,
                code: 200,
                ..
            } => reported.push(message_id),
            _ => {}
        }
    }
}

#[tokio::test]
async fn relay_killed_mid_transfer_then_restarted() {
    let pid = std::process::id().to_string();
    let relay = kamailio(&["start", "--watch-pid", &pid]);
    let rundir = relay["RUNDIR"].clone();

    let (ct, at) = pair(&relay).await;
    let dir = tempfile::tempdir().unwrap();
    // Larger than what the socket buffers between the relay and the
    // receiver can still hand on after the kill (the receiver's 4 MiB
    // receive buffer, 8 MiB as Linux counts it, and the relay's send
    // buffer).
    let size: u64 = 64 << 20;
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
    let mut f = OutgoingFile::new(FileSource::Path(path), "application/octet-stream");
    f.success_report = true;
    let file_id = cs.send_file(f).unwrap();
    // A second message (its chunk interleaves with the file's).
    let mut text = OutgoingMessage::new("text/plain", "beside the file");
    text.success_report = true;
    let text_id = cs.send_message(text).unwrap();

    // Kill the relay once the receiver holds 2 MiB (well before 64 MiB).
    let mut received = 0u64;
    while received < 2 << 20 {
        match next_event(&mut arx).await {
            SessionEvent::MessageData { data, .. } => received += data.len() as u64,
            e @ (SessionEvent::MessageComplete { .. } | SessionEvent::Closed { .. }) => {
                panic!("the transfer ended before the relay was killed: {e:?}")
            }
            _ => {}
        }
    }
    // SIGKILL its process group at once (the script's stop takes longer,
    // and the receiver's session goes on reading meanwhile), then let the
    // script clean up.
    let relay_pid: libc::pid_t = relay["PID"].parse().unwrap();
    // SAFETY: a plain system call with a process group id.
    unsafe { libc::killpg(relay_pid, libc::SIGKILL) };
    let rd = rundir.clone();
    tokio::task::spawn_blocking(move || kamailio(&["stop", "--fast", "--rundir", &rd]))
        .await
        .unwrap();

    // The sender: the session ends with an error (never a clean close) and
    // lists the file as unfinished. Kamailio may have answered 200 to every
    // chunk already (it queues toward the receiver), so Sent can say 200:
    // through a relay, only success REPORTs count as acknowledged. The text
    // beside the file is either confirmed by its REPORT or unfinished.
    let (reason, unfinished, reported) = until_closed(&mut crx).await;
    assert!(
        matches!(reason, CloseReason::Error(_) | CloseReason::Peer),
        "{reason:?}"
    );
    assert!(!reported.contains(&file_id));
    let file = unfinished
        .iter()
        .find(|u| u.message_id == file_id)
        .unwrap_or_else(|| panic!("the file is not listed as unfinished: {unfinished:?}"));
    assert!(file.outgoing);
    assert!(file.bytes_acknowledged < size, "{file:?}");
    assert!(
        reported.contains(&text_id) ^ unfinished.iter().any(|u| u.message_id == text_id),
        "the text is neither confirmed nor unfinished (or both): {unfinished:?} {reported:?}"
    );
    eprintln!("sender: {reason:?}, unfinished {unfinished:?}, reported {reported:?}");

    // The receiver: its session ends too, with the partial file listed
    // (octets received, as many as it saw).
    let mut received_after = received;
    let (reason, unfinished) = loop {
        match next_event(&mut arx).await {
            SessionEvent::MessageData { data, .. } => received_after += data.len() as u64,
            SessionEvent::MessageComplete { .. } => panic!("the file completed without the relay"),
            SessionEvent::Closed { reason, unfinished } => break (reason, unfinished),
            _ => {}
        }
    };
    assert!(
        matches!(reason, CloseReason::Error(_) | CloseReason::Peer),
        "{reason:?}"
    );
    let incoming = unfinished
        .iter()
        .find(|u| u.message_id == file_id && !u.outgoing)
        .unwrap_or_else(|| panic!("the partial file is not listed: {unfinished:?}"));
    assert_eq!(incoming.bytes_acknowledged, received_after);
    assert!(received_after < size);
    // What the sender may count on is no more than what arrived.
    assert!(
        file.bytes_acknowledged <= received_after,
        "{file:?} > {received_after}"
    );
    eprintln!("receiver: {reason:?}, {received_after} octets of {size}");

    // Restart on the same ports: old sessions stay dead, a fresh
    // prepare/complete through the restarted relay works.
    let again = kamailio(&[
        "start",
        "--rundir",
        &rundir,
        "--tcp-port",
        &relay["TCP_PORT"],
        "--tls-port",
        &relay["TLS_PORT"],
        "--watch-pid",
        &pid,
    ]);
    assert_eq!(again["TCP_URI"], relay["TCP_URI"]);
    assert!(cs
        .send_message(OutgoingMessage::new("text/plain", "x"))
        .is_err());
    let (ct, at) = pair(&again).await;
    let (cs, mut crx) = Session::new(ct, SessionConfig::default());
    let (_as, mut arx) = Session::new(at, SessionConfig::default());
    let mut m = OutgoingMessage::new("text/plain", "through the restarted relay");
    m.success_report = true;
    let id = cs.send_message(m).unwrap();
    loop {
        if let SessionEvent::Message(m) = next_event(&mut arx).await {
            assert_eq!(&m.body[..], b"through the restarted relay");
            assert_eq!(m.message_id, id);
            break;
        }
    }
    loop {
        if let SessionEvent::Report {
            code, message_id, ..
        } = next_event(&mut crx).await
        {
            assert_eq!((code, message_id), (200, id));
            break;
        }
    }
    cs.shutdown(true).await;
    kamailio(&["stop", "--rundir", &rundir]);
}
