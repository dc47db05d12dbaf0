//! Load benchmark: one Server port holding many bound sessions, each sending
//! a message a second, with every message accounted for; prints resident
//! memory per idle session and CPU time per message, each beside a baseline
//! measured in the same run (plain TCP connections doing the same).
//!
//! `load run --sessions N --seconds S` runs two phases, each in a fresh
//! server process (`load server raw|msrp ...`, so that one phase's freed
//! memory does not flatter the other's RSS). Each server process starts
//! `load client` (a separate process, so the server's RSS is its own) and
//! talks to it over the child's stdin/stdout, one line each: server →
//! client `RAW|MSRP <port> <sessions> <seconds>`, then `GO`; client → server
//! `BOUND` once every connection is up, `DONE <sent> <answered>` at the end.
//! `scripts/bench-load.sh` runs it with 10,000 sessions for 60 s.
//!
//! Figures (server process only):
//! - idle memory: (RSS with N idle connections − RSS before) / N, for MSRP
//!   sessions and, as the baseline, for plain TCP connections each read by
//!   one task;
//! - CPU per message: getrusage user+system time of the sending phase
//!   divided by the messages received, for MSRP (SEND, 200 answer) and for
//!   the baseline (the same bytes one way, a 4-byte answer back).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use msrp::connect::{ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::{Host, Uri};
use msrp::session::{OutgoingMessage, Session, SessionConfig, SessionEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The message each session sends every second.
const BODY: &[u8] = b"load test message: sixty-four octets of text/plain, every second.";

/// Connections opened at once by the client.
const CONNECT_CONCURRENCY: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    raise_nofile();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opt("--threads", 2) as usize)
        .enable_all()
        .build()
        .expect("runtime");
    let (sessions, seconds) = (opt("--sessions", 1000), opt("--seconds", 10));
    match args.get(1).map(String::as_str) {
        Some("run") => run(sessions, seconds, opt("--threads", 2)),
        Some("server") => runtime.block_on(server(args[2] == "msrp", sessions, seconds)),
        Some("client") => runtime.block_on(client()),
        _ => {
            eprintln!("usage: load run [--sessions N] [--seconds S] [--threads T]");
            std::process::exit(2);
        }
    }
}

/// Raises the soft limit of open files to the hard limit.
fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn server_uri(port: u16, i: u64) -> Uri {
    Uri::new(
        Host::Ip(localhost()),
        Some(port),
        Some(format!("srv{i}")),
        false,
    )
}

fn client_uri(i: u64) -> Uri {
    Uri::new(
        Host::Ip(localhost()),
        Some(9),
        Some(format!("cli{i}")),
        false,
    )
}

/// What one phase measured.
struct Phase {
    idle_per_connection: f64,
    cpu_per_message: Duration,
    sent: u64,
    answered: u64,
    received: u64,
}

struct Child {
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
    process: std::process::Child,
}

impl Child {
    fn say(&mut self, line: &str) {
        writeln!(self.to, "{line}").expect("client stdin");
        self.to.flush().expect("client stdin");
    }

    /// The next line from the client (blocking: call from a blocking thread).
    fn hear(&mut self) -> String {
        let mut line = String::new();
        self.from.read_line(&mut line).expect("client stdout");
        assert!(!line.is_empty(), "the client exited");
        line.trim().to_string()
    }
}

async fn hear(child: Arc<std::sync::Mutex<Child>>) -> String {
    tokio::task::spawn_blocking(move || child.lock().expect("child").hear())
        .await
        .expect("reader")
}

/// Runs both phases, each in its own server process, and prints the figures.
fn run(sessions: u64, seconds: u64, threads: u64) {
    println!("load: {sessions} connections through one port, one message a second each for {seconds} s; client in a separate process");
    let phase = |kind: &str| -> Phase {
        let exe = std::env::current_exe().expect("own path");
        let out = Command::new(exe)
            .args(["server", kind, "--sessions", &sessions.to_string()])
            .args([
                "--seconds",
                &seconds.to_string(),
                "--threads",
                &threads.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("server process");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .unwrap_or_else(|| panic!("{kind} phase failed: {text}"));
        let v: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|w| w.parse().expect("number"))
            .collect();
        Phase {
            idle_per_connection: v[0],
            cpu_per_message: Duration::from_secs_f64(v[1]),
            sent: v[2] as u64,
            answered: v[3] as u64,
            received: v[4] as u64,
        }
    };
    let raw = phase("raw");
    let msrp = phase("msrp");
    report(sessions, seconds, &raw, &msrp);
}

/// One phase's server process: prints `RESULT <idle bytes per connection>
/// <CPU seconds per message> <sent> <answered> <received>`.
async fn server(msrp: bool, sessions: u64, seconds: u64) {
    let exe = std::env::current_exe().expect("own path");
    let mut process = Command::new(exe)
        .arg("client")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("client process");
    let child = Arc::new(std::sync::Mutex::new(Child {
        to: process.stdin.take().expect("stdin"),
        from: BufReader::new(process.stdout.take().expect("stdout")),
        process,
    }));
    let p = if msrp {
        msrp_phase(&child, sessions, seconds).await
    } else {
        raw_phase(&child, sessions, seconds).await
    };
    child.lock().expect("child").say("EXIT");
    let _ = child.lock().expect("child").process.wait();
    println!(
        "RESULT {} {} {} {} {}",
        p.idle_per_connection,
        p.cpu_per_message.as_secs_f64(),
        p.sent,
        p.answered,
        p.received
    );
}

fn report(sessions: u64, seconds: u64, raw: &Phase, msrp: &Phase) {
    let kib = |b: f64| b / 1024.0;
    println!(
        "plain TCP (baseline): {:.2} KiB per idle connection, {:.1} us CPU per message ({} sent, {} answered, {} received)",
        kib(raw.idle_per_connection),
        raw.cpu_per_message.as_secs_f64() * 1e6,
        raw.sent,
        raw.answered,
        raw.received
    );
    println!(
        "MSRP sessions:        {:.2} KiB per idle session, {:.1} us CPU per message ({} sent, {} answered 200, {} received)",
        kib(msrp.idle_per_connection),
        msrp.cpu_per_message.as_secs_f64() * 1e6,
        msrp.sent,
        msrp.answered,
        msrp.received
    );
    println!(
        "ratio MSRP / plain TCP: memory per idle connection {:.1}, CPU per message {:.1}",
        msrp.idle_per_connection / raw.idle_per_connection.max(1.0),
        msrp.cpu_per_message.as_secs_f64() / raw.cpu_per_message.as_secs_f64().max(1e-9)
    );
    let expected = sessions * seconds;
    let all = |p: &Phase| p.sent == expected && p.answered == expected && p.received == expected;
    if all(raw) && all(msrp) {
        println!("every message accounted for: {expected} per phase");
    } else {
        println!("MESSAGES MISSING: expected {expected} sent, answered and received per phase");
        std::process::exit(1);
    }
}

/// Waits until `counter` reaches `target` (or `limit` passes).
async fn wait_count(counter: &AtomicU64, target: u64, limit: Duration) {
    let end = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < target && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Idle RSS per connection, then the sending phase's CPU per message.
async fn measure(
    child: &Arc<std::sync::Mutex<Child>>,
    connections: u64,
    ready: &AtomicU64,
    received: &AtomicU64,
    rss_before: u64,
    seconds: u64,
) -> Phase {
    assert_eq!(hear(child.clone()).await, "BOUND");
    wait_count(ready, connections, Duration::from_secs(120)).await;
    assert_eq!(ready.load(Ordering::Relaxed), connections, "not all bound");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_bytes().saturating_sub(rss_before) as f64 / connections as f64;
    let cpu_before = cpu_time();
    child.lock().expect("child").say("GO");
    let done = hear(child.clone()).await;
    let mut words = done.split_whitespace().skip(1);
    let sent: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let answered: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    wait_count(received, sent, Duration::from_secs(30)).await;
    let cpu = cpu_time() - cpu_before;
    let got = received.load(Ordering::Relaxed);
    let _ = seconds;
    Phase {
        idle_per_connection: idle,
        cpu_per_message: cpu / got.max(1) as u32,
        sent,
        answered,
        received: got,
    }
}

async fn raw_phase(child: &Arc<std::sync::Mutex<Child>>, n: u64, seconds: u64) -> Phase {
    let listener = TcpListener::bind((localhost(), 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let ready = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let rss_before = rss_bytes();
    let (r, m) = (ready.clone(), received.clone());
    let acceptor = tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            r.fetch_add(1, Ordering::Relaxed);
            let m = m.clone();
            tokio::spawn(async move {
                // A greeting, so that the client opens connections no faster
                // than they are accepted (an overflowing accept queue loses
                // connections the client believes open).
                if tcp.write_all(b"h").await.is_err() {
                    return;
                }
                let mut buf = [0u8; 256];
                loop {
                    tcp.readable().await.ok();
                    match tcp.try_read(&mut buf) {
                        Ok(0) => return,
                        Ok(_) => {
                            m.fetch_add(1, Ordering::Relaxed);
                            if tcp.write_all(b"ok\r\n").await.is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
            });
        }
    });
    child
        .lock()
        .expect("child")
        .say(&format!("RAW {port} {n} {seconds}"));
    let phase = measure(child, n, &ready, &received, rss_before, seconds).await;
    acceptor.abort();
    phase
}

async fn msrp_phase(child: &Arc<std::sync::Mutex<Child>>, n: u64, seconds: u64) -> Phase {
    let server = Server::new(EndpointConfig {
        max_sessions: n as usize,
        ..Default::default()
    });
    // The listener first, so that it is not counted per session.
    let probe = server.prepare(None).await.expect("listener");
    let port = probe[0].port.expect("port");
    server.cleanup(&probe[0]);
    let ready = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let rss_before = rss_bytes();
    for i in 0..n {
        let local = server_uri(port, i);
        server.prepare(Some(local.clone())).await.expect("prepare");
        let (server, ready, received) = (server.clone(), ready.clone(), received.clone());
        tokio::spawn(async move {
            // Boxed: a task's allocation is the size of its largest state,
            // and this one lives as long as the session; the binding's
            // future is freed once it is done.
            let t = Box::pin(server.complete(
                &local,
                &[client_uri(i)],
                None,
                Some(Duration::from_secs(300)),
            ))
            .await
            .expect("bound");
            let (_session, mut events) = Session::new(t, SessionConfig::default());
            ready.fetch_add(1, Ordering::Relaxed);
            while let Some(e) = events.recv().await {
                match e {
                    SessionEvent::Message(_) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    SessionEvent::Closed { .. } => break,
                    _ => {}
                }
            }
        });
    }
    child
        .lock()
        .expect("child")
        .say(&format!("MSRP {port} {n} {seconds}"));
    measure(child, n, &ready, &received, rss_before, seconds).await
}

/// The client process: opens the connections the server asks for, says
/// BOUND, waits for GO, sends, says DONE.
async fn client() {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut next = move || lines.next().and_then(|l| l.ok()).unwrap_or_default();
    loop {
        let line = tokio::task::block_in_place(&mut next);
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(&kind) = words.first() else { return };
        if kind == "EXIT" {
            return;
        }
        let port: u16 = words[1].parse().expect("port");
        let n: u64 = words[2].parse().expect("sessions");
        let seconds: u64 = words[3].parse().expect("seconds");
        let (sent, answered) = if kind == "RAW" {
            raw_client(port, n, seconds, &mut next).await
        } else {
            msrp_client(port, n, seconds, &mut next).await
        };
        println!("DONE {sent} {answered}");
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("stdout");
}

/// Start times spread over the first second, so that the server sees an
/// even rate.
fn start_of(i: u64, n: u64, go: Instant) -> Instant {
    go + Duration::from_micros(i * 1_000_000 / n.max(1))
}

async fn raw_client(
    port: u16,
    n: u64,
    seconds: u64,
    next: &mut impl FnMut() -> String,
) -> (u64, u64) {
    let addr = SocketAddr::new(localhost(), port);
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut conns = Vec::new();
    for _ in 0..n {
        let permit = gate.clone().acquire_owned().await.expect("gate");
        conns.push(tokio::spawn(async move {
            let mut t = TcpStream::connect(addr).await.expect("connect");
            let _ = t.set_nodelay(true);
            let mut greeting = [0u8; 1];
            t.read_exact(&mut greeting).await.expect("greeting");
            drop(permit);
            t
        }));
    }
    let mut streams = Vec::new();
    for c in conns {
        streams.push(c.await.expect("connect task"));
    }
    say("BOUND");
    assert_eq!(tokio::task::block_in_place(&mut *next), "GO");
    let go = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, mut t) in streams.into_iter().enumerate() {
        let (sent, answered) = (sent.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(start_of(i as u64, n, go), Duration::from_secs(1));
            let mut answer = [0u8; 4];
            for _ in 0..seconds {
                tick.tick().await;
                t.write_all(BODY).await.expect("write");
                sent.fetch_add(1, Ordering::Relaxed);
                t.read_exact(&mut answer).await.expect("answer");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    )
}

async fn msrp_client(
    port: u16,
    n: u64,
    seconds: u64,
    next: &mut impl FnMut() -> String,
) -> (u64, u64) {
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut binds = Vec::new();
    for i in 0..n {
        let permit = gate.clone().acquire_owned().await.expect("gate");
        binds.push(tokio::spawn(async move {
            let mut connector = ConnectorDirect::new(EndpointConfig::default());
            connector.prepare(Some(client_uri(i))).expect("prepare");
            let t = connector
                .complete(&[server_uri(port, i)], None, Some(Duration::from_secs(120)))
                .await
                .expect("bind");
            drop(permit);
            Session::new(t, SessionConfig::default())
        }));
    }
    let mut sessions = Vec::new();
    for b in binds {
        sessions.push(b.await.expect("bind task"));
    }
    say("BOUND");
    assert_eq!(tokio::task::block_in_place(&mut *next), "GO");
    let go = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, (session, mut events)) in sessions.into_iter().enumerate() {
        let (sent, answered) = (sent.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(start_of(i as u64, n, go), Duration::from_secs(1));
            for _ in 0..seconds {
                tick.tick().await;
                session
                    .send_message(OutgoingMessage::new("text/plain", BODY))
                    .expect("send");
                sent.fetch_add(1, Ordering::Relaxed);
            }
            let mut ok = 0;
            while ok < seconds {
                match events.recv().await {
                    Some(SessionEvent::Sent { code: 200, .. }) => {
                        ok += 1;
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(SessionEvent::Sent { code, .. }) => {
                        eprintln!("load: a message got {code}")
                    }
                    Some(SessionEvent::Closed { reason, .. }) => {
                        eprintln!("load: session closed: {reason}");
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            session.shutdown(false).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    )
}
