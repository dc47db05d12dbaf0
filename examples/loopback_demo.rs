//! The demo: two endpoints on loopback. An acceptor prepares a path, a
//! connector binds to it, then chat messages and a 32 MiB file go across
//! while the chat keeps flowing; the receiver checks the file's SHA-256.

use std::time::{Duration, Instant};

use msrp::connect::{AcceptorDirect, ConnectorDirect, EndpointConfig};
use msrp::session::{
    FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionEvent,
};
use sha2::{Digest, Sha256};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let acceptor_path = acceptor.prepare(None).await?;
    println!(
        "acceptor a=path: {}",
        msrp::protocol::Uri::format_path(&acceptor_path)
    );
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let connector_path = connector.prepare(None)?;
    println!(
        "connector a=path: {}",
        msrp::protocol::Uri::format_path(&connector_path)
    );

    let timeout = Some(Duration::from_secs(10));
    let accepting =
        tokio::spawn(async move { acceptor.complete(&connector_path, None, timeout).await });
    let connector_transport = connector.complete(&acceptor_path, None, timeout).await?;
    let acceptor_transport = accepting.await??;
    println!("bound");

    let (sender, mut sender_events) = Session::new(connector_transport, SessionConfig::default());
    let receive_config = SessionConfig {
        max_message_size: 1 << 20,
        ..Default::default()
    };
    let (_receiver, mut receiver_events) = Session::new(acceptor_transport, receive_config);

    let dir = std::env::temp_dir().join(format!("msrp-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("demo.bin");
    let data: Vec<u8> = (0..32u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &data)?;
    let expected = Sha256::digest(&data);

    let started = Instant::now();
    let file_id = sender.send_file(OutgoingFile::new(
        FileSource::Path(path.clone()),
        "application/octet-stream",
    ))?;
    for line in [
        "Hello Bob!",
        "Here comes the file.",
        "Chat keeps flowing meanwhile.",
    ] {
        sender.send_message(OutgoingMessage::new("text/plain", line))?;
    }
    let mut hasher = Sha256::new();
    loop {
        match receiver_events.recv().await.ok_or("receiver closed")? {
            SessionEvent::Message(m) => println!(
                "received chat {}: {}",
                m.message_id,
                String::from_utf8_lossy(&m.body)
            ),
            SessionEvent::MessageData { data, .. } => {
                for slice in data.slices() {
                    hasher.update(slice);
                }
            }
            SessionEvent::MessageComplete {
                message_id, bytes, ..
            } => {
                let secs = started.elapsed().as_secs_f64();
                let ok = hasher.finalize_reset()[..] == expected[..];
                println!("received file {message_id}: {bytes} octets in {secs:.2} s ({:.0} MB/s), sha256 {}", bytes as f64 / secs / 1e6, if ok { "matches" } else { "DIFFERS" });
                if !ok {
                    return Err("file hash differs".into());
                }
                break;
            }
            _ => {}
        }
    }
    while let Some(e) = sender_events.recv().await {
        if let SessionEvent::Sent {
            message_id,
            code,
            bytes_acknowledged,
        } = e
        {
            println!("sent {message_id}: {code} ({bytes_acknowledged} octets acknowledged)");
            if message_id == file_id {
                break;
            }
        }
    }
    sender.shutdown(true).await;
    std::fs::remove_dir_all(&dir)?;
    println!("done");
    Ok(())
}
