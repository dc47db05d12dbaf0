//! Session throughput beside raw loopback TCP, in the same run:
//!
//! - `raw_tcp`: one loopback connection, 128 KiB writes, the reader discards;
//! - `raw_tcp_file`: the same, the writer sending the file read in 1 MiB
//!   blocks (what a file costs without the protocol);
//! - `msrp_tcp` / `msrp_tls` / `msrp_ws`: a file sent through a [`Session`]
//!   (ConnectorDirect/AcceptorDirect) over TCP, TLS or WebSocket (RFC 7977,
//!   one WebSocket message per chunk), the receiver consuming `MessageData`
//!   events until `MessageComplete`; timed from binding to the last octet;
//! - `pipelined`: K `send_message` calls of 16 octets, timed until all K
//!   `Sent` events arrived and the receiver got K `Message` events.
//!
//! N = 256 MiB unless `MSRP_BENCH_BYTES` says otherwise; K = 20,000 unless
//! `MSRP_BENCH_MESSAGES` does. The ratios (median of the samples) are printed
//! at the end, for wall time and for the CPU time the process used (user and
//! system, both ends: steadier than wall time when the machine is busy).
//!
//! `nice cargo bench --bench session`
//! See docs/performance.md for results.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use msrp::connect::{AcceptorDirect, ConnectorDirect, EndpointConfig};
use msrp::protocol::Uri;
use msrp::session::{
    FileSource, OutgoingFile, OutgoingMessage, Session, SessionConfig, SessionEvent,
};
use msrp::transport::{TlsIdentity, Transport, WsListen, WsSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const WRITE: usize = 128 * 1024;
const T: Option<Duration> = Some(Duration::from_secs(10));

/// Every sample's time per function, for the ratios printed at the end.
static SAMPLES: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());
/// Every sample's CPU time (user + system, all threads of the process).
static CPU: Mutex<BTreeMap<&'static str, Vec<Duration>>> = Mutex::new(BTreeMap::new());

fn record(name: &'static str, d: Duration) {
    SAMPLES.lock().unwrap().entry(name).or_default().push(d);
}

/// CPU time the process used so far. Unlike wall time, it hardly depends on
/// what else runs on the machine, so its ratio is steadier on a busy one.
fn cpu_time() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Raw TCP: bind, connect, write `n` octets in 128 KiB writes, the reader
/// discards until it has `n`.
async fn raw_tcp(n: usize) -> Duration {
    let mut block = vec![0x5au8; WRITE];
    raw_transfer(n, &mut block, |_| {}).await
}

/// Raw TCP sending the file: `raw_tcp` with each 1 MiB of what is written
/// first read from the file (as a session's file source reads it; the read
/// blocks the thread of `block_on`, not a runtime worker). What separates
/// this from `raw_tcp` is the file read; what separates `msrp_tcp` from
/// this is the protocol.
async fn raw_tcp_file(path: &Path, n: usize) -> Duration {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut block = vec![0u8; 1 << 20];
    raw_transfer(n, &mut block, |b| f.read_exact(b).unwrap()).await
}

/// One loopback connection: `n` octets written in 128 KiB writes, taken
/// from `block` after `fill` filled it; the reader discards until it has
/// `n`. Timed from binding the listener to the last octet read.
async fn raw_transfer(n: usize, block: &mut [u8], mut fill: impl FnMut(&mut [u8])) -> Duration {
    let start = Instant::now();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; WRITE];
        let mut got = 0;
        while got < n {
            let r = s.read(&mut buf).await.unwrap();
            assert!(r > 0, "early end");
            got += r;
        }
        start.elapsed()
    });
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        fill(&mut block[..k]);
        for piece in block[..k].chunks(WRITE) {
            s.write_all(piece).await.unwrap();
        }
        left -= k;
    }
    let d = reader.await.unwrap();
    drop(s);
    d
}

/// What a benchmarked session runs over.
#[derive(Clone, Copy)]
enum Over {
    Tcp,
    Tls,
    Ws,
}

async fn pair(over: Over) -> (Transport, Transport) {
    let tls = matches!(over, Over::Tls);
    let id = tls.then(|| TlsIdentity::self_signed(&["127.0.0.1"]).unwrap().identity);
    let fp = id.as_ref().map(|i| i.fingerprint());
    let ws = matches!(over, Over::Ws);
    let acfg = EndpointConfig {
        identity: id,
        websocket: WsSettings {
            listen: if ws {
                WsListen::WsOnly
            } else {
                WsListen::TcpOnly
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let mut acceptor = AcceptorDirect::new(acfg);
    let a_path = acceptor.prepare(None).await.unwrap();
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    // A WebSocket client's own URI, as a browser's (RFC 7977 §5.2).
    let local = ws.then(|| Uri::parse("msrp://bench.invalid:9/b3nchcl13nt;ws").unwrap());
    let c_path = connector.prepare(local).unwrap();
    let a = tokio::spawn(async move { acceptor.complete(&c_path, None, T).await.unwrap() });
    let c = connector.complete(&a_path, fp, T).await.unwrap();
    (c, a.await.unwrap())
}

/// A file of `n` octets through a session; from binding to the last octet
/// received. (With TLS, the self-signed identity is made before the clock
/// starts: it is set-up, not transfer.)
async fn msrp_file(path: &Path, n: usize, over: Over) -> Duration {
    let start = Instant::now();
    let (c, a) = pair(over).await;
    let (cs, mut crx) = Session::new(c, SessionConfig::default());
    // The sender's events (Progress every MiB) must be drained, or its
    // reader stops at a full event queue.
    let drain = tokio::spawn(async move { while crx.recv().await.is_some() {} });
    let (as_, mut arx) = Session::new(
        a,
        SessionConfig {
            max_message_size: 64 * 1024,
            ..Default::default()
        },
    );
    cs.send_file(OutgoingFile::new(
        FileSource::Path(path.to_path_buf()),
        "application/octet-stream",
    ))
    .unwrap();
    let mut got = 0u64;
    loop {
        match arx.recv().await.expect("event") {
            SessionEvent::MessageData { data, .. } => got += data.len() as u64,
            SessionEvent::MessageComplete { bytes, .. } => {
                assert_eq!(bytes, n as u64);
                break;
            }
            SessionEvent::Message(m) => {
                got += m.body.len() as u64;
                break;
            }
            SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    let d = start.elapsed();
    assert_eq!(got, n as u64);
    cs.shutdown(false).await;
    as_.shutdown(false).await;
    drain.abort();
    d
}

/// `k` messages of 16 octets, sent without waiting; until all are `Sent`
/// and the receiver has all of them.
async fn pipelined(k: usize) -> Duration {
    let (c, a) = pair(Over::Tcp).await;
    let (cs, mut crx) = Session::new(c, SessionConfig::default());
    let (as_, mut arx) = Session::new(a, SessionConfig::default());
    let receiver = tokio::spawn(async move {
        let mut got = 0;
        while got < k {
            match arx.recv().await.expect("event") {
                SessionEvent::Message(m) => {
                    assert_eq!(m.body.len(), 16);
                    got += 1;
                }
                SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
                _ => {}
            }
        }
        arx
    });
    let start = Instant::now();
    for _ in 0..k {
        cs.send_message(OutgoingMessage::new("text/plain", &b"0123456789abcdef"[..]))
            .unwrap();
    }
    let mut sent = 0;
    while sent < k {
        match crx.recv().await.expect("event") {
            SessionEvent::Sent { code, .. } => {
                assert_eq!(code, 200);
                sent += 1;
            }
            SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
    let _arx = receiver.await.unwrap();
    let d = start.elapsed();
    cs.shutdown(false).await;
    as_.shutdown(false).await;
    d
}

fn make_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("bench.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        let k = left.min(block.len());
        f.write_all(&block[..k]).unwrap();
        left -= k;
    }
    f.flush().unwrap();
    path
}

/// An `iter_custom` routine running `f` `iters` times, recording each time.
fn timed<'a>(name: &'static str, f: &'a dyn Fn() -> Duration) -> impl FnMut(u64) -> Duration + 'a {
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let cpu = cpu_time();
            let d = f();
            CPU.lock()
                .unwrap()
                .entry(name)
                .or_default()
                .push(cpu_time().saturating_sub(cpu));
            record(name, d);
            total += d;
        }
        total
    }
}

fn bench(c: &mut Criterion, rt: &Runtime, path: &Path, n: usize, k: usize) {
    let mut g = c.benchmark_group("transfer");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(n as u64));
    let id = format!("{} MiB", n >> 20);
    g.bench_function(format!("raw_tcp/{id}"), |b| {
        b.iter_custom(timed("raw_tcp", &|| rt.block_on(raw_tcp(n))))
    });
    g.bench_function(format!("raw_tcp_file/{id}"), |b| {
        b.iter_custom(timed("raw_tcp_file", &|| {
            rt.block_on(raw_tcp_file(path, n))
        }))
    });
    g.bench_function(format!("msrp_tcp/{id}"), |b| {
        b.iter_custom(timed("msrp_tcp", &|| {
            rt.block_on(msrp_file(path, n, Over::Tcp))
        }))
    });
    g.bench_function(format!("msrp_tls/{id}"), |b| {
        b.iter_custom(timed("msrp_tls", &|| {
            rt.block_on(msrp_file(path, n, Over::Tls))
        }))
    });
    g.bench_function(format!("msrp_ws/{id}"), |b| {
        b.iter_custom(timed("msrp_ws", &|| {
            rt.block_on(msrp_file(path, n, Over::Ws))
        }))
    });
    g.finish();

    let mut g = c.benchmark_group("messages");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(k as u64));
    g.bench_function(format!("pipelined/{k}"), |b| {
        b.iter_custom(timed("pipelined", &|| rt.block_on(pipelined(k))))
    });
    g.finish();
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n = env_usize("MSRP_BENCH_BYTES", 256 << 20);
    let k = env_usize("MSRP_BENCH_MESSAGES", 20_000);
    let dir = tempfile::tempdir().unwrap();
    let path = make_file(dir.path(), n);
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt, &path, n, k);
    c.final_summary();

    let samples = SAMPLES.lock().unwrap();
    let mbps = |name: &str| {
        samples
            .get(name)
            .map(|v| n as f64 / median(v).as_secs_f64() / 1e6)
    };
    let Some(raw) = mbps("raw_tcp") else {
        return;
    };
    println!(
        "\nsession bench summary, N = {n} octets ({} MiB), medians:",
        n >> 20
    );
    println!("  raw TCP   {raw:9.1} MB/s");
    let raw_file = mbps("raw_tcp_file");
    if let Some(f) = raw_file {
        println!(
            "  raw TCP sending the file {f:9.1} MB/s  ratio file/raw = {:.3}",
            f / raw
        );
    }
    for name in ["msrp_tcp", "msrp_tls", "msrp_ws"] {
        if let Some(m) = mbps(name) {
            print!("  {name}  {m:9.1} MB/s  ratio msrp/raw = {:.3}", m / raw);
            match raw_file {
                Some(f) => println!("  msrp/raw-file = {:.3}", m / f),
                None => println!(),
            }
        }
    }
    let cpu = CPU.lock().unwrap();
    let cpu_ns = |name: &str| {
        cpu.get(name)
            .map(|v| median(v).as_secs_f64() * 1e9 / n as f64)
    };
    if let Some(raw_cpu) = cpu_ns("raw_tcp") {
        println!("  CPU time per octet (both ends, all threads), medians:");
        println!("  raw TCP   {raw_cpu:9.3} ns");
        if let Some(f) = cpu_ns("raw_tcp_file") {
            println!("  raw TCP sending the file {f:9.3} ns");
        }
        for name in ["msrp_tcp", "msrp_tls", "msrp_ws"] {
            if let Some(m) = cpu_ns(name) {
                println!("  {name}  {m:9.3} ns  ratio raw/msrp = {:.3}", raw_cpu / m);
            }
        }
    }
    if let Some(v) = samples.get("pipelined") {
        let per_s = k as f64 / median(v).as_secs_f64();
        println!("  pipelined {per_s:9.0} messages/s (K = {k}, SEND + 200 each)");
    }
}
