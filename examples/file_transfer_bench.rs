//! The Rust half of the C-versus-Rust API benchmark (`scripts/bench-c-vs-rust.sh`;
//! the C half is `bench-c/c_file_transfer.c`, which does the same through
//! the C API).
//!
//!   file_transfer_bench FILE
//!
//! One process: an `AcceptorDirect` and a `ConnectorDirect` bound over
//! loopback TCP, the connector's session sends FILE with `send_file` (default
//! chunk size), the acceptor's session (default configuration, so a large
//! file arrives as `MessageData` pieces) counts and discards what arrives.
//! Timed from binding the acceptor to the last octet received. The runtime
//! has as many worker threads as the C library's internal one (2, or
//! `MSRP_THREADS`), and the transfer runs as a task on it. Prints one line:
//!
//!   rust bytes=N seconds=S MBps=X cpu=C
//!
//! (MB = 10^6 octets; C: the process's CPU time, user + system, all threads,
//! over the same interval.)

use std::time::{Duration, Instant};

use msrp::connect::{AcceptorDirect, ConnectorDirect, EndpointConfig};
use msrp::session::{FileSource, OutgoingFile, Session, SessionConfig, SessionEvent};

fn main() -> Result<(), BoxError> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: file_transfer_bench FILE")?;
    let size = std::fs::metadata(&path)?.len();
    let threads = std::env::var("MSRP_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    // The transfer runs as a task on the runtime's workers (as in a server),
    // not on the thread that waits for it: its events then need no wake-up of
    // another thread, the fastest way to use the Rust API.
    let task = runtime.spawn(transfer(path.into(), size));
    let (elapsed, cpu_seconds) = runtime.block_on(task)??;
    let seconds = elapsed.as_secs_f64();
    println!(
        "rust bytes={size} seconds={seconds:.3} MBps={:.1} cpu={cpu_seconds:.3}",
        size as f64 / seconds / 1e6
    );
    Ok(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// CPU time of the whole process (all threads), user + system, in seconds.
fn cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The transfer: its wall-clock time and the process's CPU time over it.
async fn transfer(path: std::path::PathBuf, size: u64) -> Result<(Duration, f64), BoxError> {
    let timeout = Some(Duration::from_secs(10));
    let start = Instant::now();
    let cpu_start = cpu();
    let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
    let acceptor_path = acceptor.prepare(None).await?;
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let connector_path = connector.prepare(None)?;
    let accepting =
        tokio::spawn(async move { acceptor.complete(&connector_path, None, timeout).await });
    let sending = connector.complete(&acceptor_path, None, timeout).await?;
    let receiving = accepting.await??;

    let (receiver, mut received_events) = Session::new(receiving, SessionConfig::default());
    let (sender, mut sent_events) = Session::new(sending, SessionConfig::default());
    // The sender's events (progress, the final Sent) are read too, as the
    // C library reads them for its callbacks.
    let sender_events = tokio::spawn(async move {
        let mut code = None;
        while let Some(e) = sent_events.recv().await {
            match e {
                SessionEvent::Sent { code: c, .. } => code = Some(c),
                SessionEvent::Closed { .. } => break,
                _ => {}
            }
        }
        code
    });
    sender.send_file(OutgoingFile::new(
        FileSource::Path(path),
        "application/octet-stream",
    ))?;
    let mut received = 0u64;
    loop {
        match received_events.recv().await.ok_or("receiver closed")? {
            SessionEvent::MessageData { data, .. } => received += data.len() as u64,
            SessionEvent::Message(m) => {
                received += m.body.len() as u64;
                break;
            }
            SessionEvent::MessageComplete { .. } => break,
            SessionEvent::Closed { reason, .. } => {
                return Err(format!("receiver closed: {reason}").into())
            }
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    let cpu_seconds = cpu() - cpu_start;
    if received != size {
        return Err(format!("received {received} of {size} octets").into());
    }
    sender.shutdown(true).await;
    receiver.shutdown(false).await;
    let code = sender_events.await?;
    if code != Some(200) {
        return Err(format!("sender's outcome: {code:?}").into());
    }
    Ok((elapsed, cpu_seconds))
}
