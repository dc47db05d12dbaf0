//! Hostile byte streams over real loopback sockets against one shared
//! `Server`: first bytes of new connections (binding phase) and raw chunks on
//! bound sessions. A well-behaved session bound to the same server must keep
//! working throughout, no task may panic, and memory must stay bounded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use msrp::connect::{ConnectorDirect, EndpointConfig, Server};
use msrp::protocol::Uri;
use msrp::session::{OutgoingMessage, Session, SessionConfig, SessionEvent};
use msrp::transport::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const T: Option<Duration> = Some(Duration::from_secs(10));
const BIND_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection the server drops must be closed within this bound.
const CLOSE_BOUND: Duration = Duration::from_secs(3);
const MAX_IN: u64 = 1 << 20;

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn junk(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

/// A session pair bound through the shared server, both sides wrapped in
/// `Session`. Events of the server side are forwarded as (message id, body).
struct Good {
    client: Session,
    _server_side: Session,
    _crx: mpsc::Receiver<SessionEvent>,
    msgs: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    local: Uri,
    n: usize,
}

/// Forwards the Message events of `rx` (and keeps draining the rest).
fn forward_messages(
    mut rx: mpsc::Receiver<SessionEvent>,
) -> mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    let (tx, out) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if let SessionEvent::Message(m) = e {
                let _ = tx.send((m.message_id, m.body.to_vec()));
            }
        }
    });
    out
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Binds a raw connector transport to a fresh session of `server`; returns
/// (peer transport, server-side transport, server local URI, peer path).
async fn bind_raw(server: &Server) -> (Transport, Transport, Uri, Vec<Uri>) {
    let local = server.prepare(None).await.unwrap();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri(&format!("msrp://127.0.0.1:0/peer{n:05}x;tcp"))))
        .unwrap();
    let s = server.clone();
    let l = local[0].clone();
    let cp = c_path.clone();
    let wait = tokio::spawn(async move { s.complete(&l, &cp, None, T).await });
    let ct = connector.complete(&local, None, T).await.unwrap();
    let st = wait.await.unwrap().unwrap();
    (ct, st, local[0].clone(), c_path)
}

async fn good_session(server: &Server) -> Good {
    let (ct, st, local, _) = bind_raw(server).await;
    let (client, crx) = Session::new(ct, SessionConfig::default());
    let (server_side, srx) = Session::new(st, SessionConfig::default());
    Good {
        client,
        _server_side: server_side,
        _crx: crx,
        msgs: forward_messages(srx),
        local,
        n: 0,
    }
}

impl Good {
    async fn check(&mut self, when: &str) {
        self.n += 1;
        let body = format!("good message {} ({when})", self.n);
        let id = self
            .client
            .send_message(OutgoingMessage::new("text/plain", body.clone()))
            .unwrap_or_else(|e| panic!("good session broken {when}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = tokio::time::timeout_at(deadline.into(), self.msgs.recv())
                .await
                .unwrap_or_else(|_| panic!("good message not delivered {when}"))
                .unwrap_or_else(|| panic!("good session closed {when}"));
            if got.0 == id {
                assert_eq!(got.1, body.as_bytes());
                return;
            }
        }
    }
}

// ---------------------------------------------------------------- phase A

/// What the server answered on a raw connection.
#[derive(Debug)]
struct RawOutcome {
    codes: Vec<u16>,
    closed_after: Option<Duration>,
}

fn parse_codes(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .filter(|l| l.starts_with("MSRP "))
        .filter_map(|l| {
            let mut it = l.split(' ');
            it.nth(2).and_then(|c| c.parse().ok())
        })
        .collect()
}

/// Reads until EOF/error or `within`; returns bytes read and time to close.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let end = started + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(started.elapsed())),
            Ok(Ok(n)) => {
                if out.len() < 65536 {
                    out.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
}

/// Opens a connection, writes `bytes` (errors ignored: the server may close
/// first), optionally half-closes, and reads until the server closes.
async fn raw_stream(addr: std::net::SocketAddr, bytes: &[u8], half_close: bool) -> RawOutcome {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.split();
    let write = async {
        let _ = wr.write_all(bytes).await;
        if half_close {
            let _ = wr.shutdown().await;
        }
    };
    let mut data = Vec::new();
    let started = Instant::now();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(CLOSE_BOUND, rd.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                Ok(Ok(n)) => {
                    if data.len() < 65536 {
                        data.extend_from_slice(&buf[..n]);
                    }
                }
            }
        }
    };
    let ((), closed_after) = tokio::join!(write, read);
    RawOutcome {
        codes: parse_codes(&data),
        closed_after,
    }
}

fn send_head(tid: &str, to: &str, from: &str) -> String {
    format!(
        "MSRP {tid} SEND\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\nMessage-ID: m{tid}\r\nByte-Range: 1-0/0\r\n"
    )
}

fn bodiless(tid: &str, to: &str, from: &str) -> Vec<u8> {
    format!("{}-------{tid}$\r\n", send_head(tid, to, from)).into_bytes()
}

/// Phase A streams: (name, bytes, half-close, expected code if one is due).
fn phase_a_streams(good_to: &str, server_port: u16) -> Vec<(String, Vec<u8>, bool, Option<u16>)> {
    let from = "msrp://127.0.0.1:9/hostile1;tcp";
    let unknown = format!("msrp://127.0.0.1:{server_port}/nosuchsession;tcp");
    let mut v: Vec<(String, Vec<u8>, bool, Option<u16>)> = Vec::new();
    let mut add = |name: &str, b: Vec<u8>, hc: bool, code: Option<u16>| {
        v.push((name.to_string(), b, hc, code));
    };
    add("empty connection", Vec::new(), true, None);
    add(
        "oversized start line",
        format!("MSRP {} SEND\r\n", "a".repeat(4000)).into_bytes(),
        false,
        None,
    );
    let mut endless = b"MSRP abcd1234 SEND\r\nTo-Path: ".to_vec();
    endless.extend(std::iter::repeat_n(b'x', 100 * 1024));
    add(
        "endless header line (100 KB, no CRLF)",
        endless,
        false,
        None,
    );
    let mut many = send_head("many0001", &unknown, from);
    for i in 0..500 {
        many.push_str(&format!("X-Hdr-{i}: v\r\n"));
    }
    many.push_str("\r\n-------many0001$\r\n");
    add("too many headers", many.into_bytes(), false, None);
    let mut block = send_head("block001", &unknown, from);
    for i in 0..12 {
        block.push_str(&format!("X-Big-{i}: {}\r\n", "y".repeat(8000)));
    }
    block.push_str("-------block001$\r\n");
    add("header block over 64 KB", block.into_bytes(), false, None);
    add(
        "NUL in start line",
        b"MSRP ab\0cd SEND\r\n".to_vec(),
        false,
        None,
    );
    let mut nul_hdr = bodiless("nulh0001", &unknown, from);
    nul_hdr.splice(30..30, [0u8, 0, 0]);
    add("NUL in To-Path", nul_hdr, false, None);
    let mut bad_utf8 =
        format!("MSRP utf80001 SEND\r\nTo-Path: msrp://127.0.0.1:{server_port}/").into_bytes();
    bad_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    bad_utf8.extend_from_slice(format!(";tcp\r\nFrom-Path: {from}\r\nMessage-ID: x\r\nByte-Range: 1-0/0\r\n-------utf80001$\r\n").as_bytes());
    add("invalid UTF-8 in To-Path", bad_utf8, false, None);
    let mut bad_utf8f =
        format!("MSRP utf80002 SEND\r\nTo-Path: {unknown}\r\nFrom-Path: msrp://é").into_bytes();
    bad_utf8f.extend_from_slice(&[0x80, 0x80, 0xed, 0xa0, 0x80]);
    bad_utf8f
        .extend_from_slice(b"/x;tcp\r\nMessage-ID: x\r\nByte-Range: 1-0/0\r\n-------utf80002$\r\n");
    add("invalid UTF-8 in From-Path", bad_utf8f, false, None);
    add(
        "transaction id too short",
        bodiless("a", &unknown, from),
        false,
        None,
    );
    add(
        "transaction id with bad chars",
        bodiless("ab$c!d", &unknown, from),
        false,
        None,
    );
    let long_tid = "t".repeat(200);
    add(
        "transaction id 200 chars",
        bodiless(&long_tid, &unknown, from),
        false,
        None,
    );
    add(
        "wrong session id",
        bodiless("wrong001", &unknown, from),
        false,
        Some(481),
    );
    add(
        "someone else's (bound) session id",
        bodiless("steal001", good_to, from),
        false,
        Some(506),
    );
    add(
        "To-Path with two URIs",
        bodiless("two00001", &format!("{unknown} {unknown}"), from),
        false,
        Some(481),
    );
    add("garbage 4 KB", junk(7, 4096), false, None);
    add("garbage 1 MB", junk(99, 1 << 20), false, None);
    add("all 0xff", vec![0xff; 10_000], false, None);
    add("all NUL", vec![0; 10_000], false, None);
    add(
        "HTTP request",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        false,
        None,
    );
    add(
        "TLS ClientHello on plain port",
        vec![0x16, 3, 1, 0, 0x40, 1, 0, 0, 0x3c, 3, 3],
        false,
        None,
    );
    add("response as first chunk", format!("MSRP abcd1234 200 OK\r\nTo-Path: {unknown}\r\nFrom-Path: {from}\r\n-------abcd1234$\r\n").into_bytes(), false, None);
    add(
        "REPORT as first chunk",
        format!("MSRP rep00001 REPORT\r\nTo-Path: {good_to}\r\nFrom-Path: {from}\r\nMessage-ID: x\r\nByte-Range: 1-5/5\r\nStatus: 000 200 OK\r\n-------rep00001$\r\n").into_bytes(),
        false,
        None,
    );
    add(
        "missing To-Path",
        format!("MSRP noto0001 SEND\r\nFrom-Path: {from}\r\nMessage-ID: x\r\n-------noto0001$\r\n")
            .into_bytes(),
        false,
        None,
    );
    add("only blank lines", b"\r\n".repeat(100), false, None);
    add(
        "start line without CRLF then close",
        b"MSRP abcd1234 SEND".to_vec(),
        true,
        None,
    );
    add(
        "lowercase msrp",
        bodiless("low00001", &unknown, from).to_ascii_lowercase(),
        false,
        None,
    );
    add(
        "unknown method, unknown session",
        bodiless("meth0001", &unknown, from).replace_first(b"SEND", b"FROB"),
        false,
        Some(481),
    );
    add(
        "wrong end-line transaction id",
        format!(
            "{}-------other999$\r\n",
            send_head("endl0001", &unknown, from)
        )
        .into_bytes(),
        false,
        None,
    );
    let mut huge_br = send_head("huge0001", &unknown, from);
    huge_br = huge_br.replace("1-0/0", "1-99999999999999999999999/99999999999999999999999");
    huge_br.push_str("-------huge0001$\r\n");
    add("overflowing Byte-Range", huge_br.into_bytes(), false, None);
    let mut neg_br = send_head("nega0001", &unknown, from).replace("1-0/0", "-1--5/-5");
    neg_br.push_str("-------nega0001$\r\n");
    add("negative Byte-Range", neg_br.into_bytes(), false, None);
    let mut tb = send_head("tera0001", &unknown, from).replace("1-0/0", "1-5/1099511627776");
    tb.push_str("Content-Type: text/plain\r\n\r\nhello\r\n-------tera0001$\r\n");
    add(
        "1 TB message to unknown session",
        tb.into_bytes(),
        false,
        Some(481),
    );
    add("just MSRP", b"MSRP".to_vec(), true, None);
    v
}

trait ReplaceFirst {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for Vec<u8> {
    fn replace_first(mut self, from: &[u8], to: &[u8]) -> Vec<u8> {
        if let Some(i) = self.windows(from.len()).position(|w| w == from) {
            self.splice(i..i + from.len(), to.iter().copied());
        }
        self
    }
}

// ---------------------------------------------------------------- phase B

/// A session bound through the server, the server side in a `Session`, the
/// peer side a raw transport writing hostile bytes.
struct Bound {
    peer: Transport,
    _session: Session,
    msgs: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    to: String,
    from: String,
}

async fn bound(server: &Server) -> Bound {
    let (ct, st, local, c_path) = bind_raw(server).await;
    let cfg = SessionConfig {
        max_incoming_size: Some(MAX_IN),
        ..Default::default()
    };
    let (session, rx) = Session::new(st, cfg);
    Bound {
        peer: ct,
        _session: session,
        msgs: forward_messages(rx),
        to: local.to_string(),
        from: c_path
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// One SEND chunk as text with the given Byte-Range, body and end flag.
fn chunk(
    b: &Bound,
    tid: &str,
    mid: &str,
    range: &str,
    body: &[u8],
    cont: char,
    extra: &str,
) -> Vec<u8> {
    let mut v = format!(
        "MSRP {tid} SEND\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: hostile-{mid}\r\nByte-Range: {range}\r\n{extra}Content-Type: text/plain\r\n\r\n",
        b.to, b.from
    )
    .into_bytes();
    v.extend_from_slice(body);
    v.extend_from_slice(format!("\r\n-------{tid}{cont}\r\n").as_bytes());
    v
}

struct BOutcome {
    /// (transaction id, code) of every response before the probe's.
    answers: Vec<(String, u16)>,
    /// The probe got 200 and its message was delivered.
    alive: bool,
}

impl std::fmt::Debug for BOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.answers.len();
        let head = &self.answers[..n.min(8)];
        write!(f, "{n} answers, first {head:?}, alive {}", self.alive)
    }
}

impl BOutcome {
    fn code_of(&self, tid: &str) -> Vec<u16> {
        self.answers
            .iter()
            .filter(|a| a.0 == tid)
            .map(|a| a.1)
            .collect()
    }
}

/// Writes `hostile`, then a valid probe message; collects responses until the
/// probe's (or the connection closes) and checks the probe is delivered.
async fn run_b(b: &mut Bound, hostile: &[u8]) -> BOutcome {
    static PROBE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ptid = format!("probe{n:05}");
    let pmid = format!("probemsg{n:05}");
    b.peer.writer.buffer_raw(hostile);
    let probe = chunk(b, &ptid, &pmid, "1-5/5", b"probe", '$', "");
    b.peer.writer.buffer_raw(&probe);
    let wrote = tokio::time::timeout(Duration::from_secs(10), b.peer.writer.flush()).await;
    let mut answers = Vec::new();
    if !matches!(wrote, Ok(Ok(()))) {
        return BOutcome {
            answers,
            alive: false,
        };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probe_ok = false;
    loop {
        match tokio::time::timeout_at(deadline.into(), b.peer.read_chunk(None)).await {
            Err(_) => break,
            Ok(Err(_)) => break,
            Ok(Ok(c)) => {
                if let Some(code) = c.code() {
                    if c.transaction_id == ptid {
                        probe_ok = code == 200;
                        break;
                    }
                    answers.push((c.transaction_id.clone(), code));
                }
            }
        }
    }
    let mut delivered = false;
    if probe_ok {
        let end = Instant::now() + Duration::from_secs(10);
        while let Ok(Some((id, body))) = tokio::time::timeout_at(end.into(), b.msgs.recv()).await {
            if id == format!("hostile-{pmid}") {
                assert_eq!(body, b"probe");
                delivered = true;
                break;
            }
        }
    }
    BOutcome {
        answers,
        alive: probe_ok && delivered,
    }
}

/// Every hostile stream ends this way.
enum Expect {
    /// The given transaction is answered with this code, then the session works.
    Code(&'static str, u16),
    /// The given transaction gets no answer, the session works.
    Silent(&'static str),
    /// The session keeps working (any answers).
    Alive,
    /// This code, then the connection may stay desynchronised (the payload
    /// never ends for the parser: only the peer's own connection suffers).
    CodeThenAny(&'static str, u16),
    /// The server closes the connection (a framing error it cannot resync).
    Closed,
}

type Build = Box<dyn Fn(&Bound) -> Vec<u8>>;

fn phase_b_streams() -> Vec<(&'static str, Build, Expect)> {
    let mut v: Vec<(&'static str, Build, Expect)> = Vec::new();
    v.push((
        "Byte-Range end beyond total",
        Box::new(|b| chunk(b, "endb0001", "m1", "1-10/5", b"0123456789", '$', "")),
        Expect::Code("endb0001", 400),
    ));
    v.push((
        "Byte-Range start after end",
        Box::new(|b| chunk(b, "stae0001", "m2", "5-2/10", b"", '$', "")),
        Expect::Code("stae0001", 400),
    ));
    v.push((
        "Byte-Range start 0",
        Box::new(|b| chunk(b, "zero0001", "m3", "0-5/5", b"hello", '$', "")),
        Expect::Code("zero0001", 400),
    ));
    v.push((
        "Byte-Range negative",
        Box::new(|b| chunk(b, "nega0001", "m4", "-1-5/5", b"hello", '$', "")),
        Expect::Code("nega0001", 400),
    ));
    v.push((
        "Byte-Range overflowing u64",
        Box::new(|b| {
            chunk(
                b,
                "ovfl0001",
                "m5",
                "1-99999999999999999999999/99999999999999999999999",
                b"hello",
                '$',
                "",
            )
        }),
        Expect::Code("ovfl0001", 400),
    ));
    v.push((
        "Byte-Range huge start near u64::MAX",
        Box::new(|b| {
            chunk(
                b,
                "umax0001",
                "m6",
                "18446744073709551615-18446744073709551615/*",
                b"h",
                '$',
                "",
            )
        }),
        Expect::Alive,
    ));
    v.push((
        "total of 1 TB",
        Box::new(|b| chunk(b, "tera0001", "m7", "1-5/1099511627776", b"hello", '+', "")),
        Expect::Code("tera0001", 413),
    ));
    v.push((
        "total of 1 TB, Failure-Report no",
        Box::new(|b| {
            chunk(
                b,
                "tera0002",
                "m8",
                "1-5/1099511627776",
                b"hello",
                '+',
                "Failure-Report: no\r\n",
            )
        }),
        Expect::Silent("tera0002"),
    ));
    v.push((
        "overlapping ranges",
        Box::new(|b| {
            let mut v = chunk(b, "ovl00001", "m9", "1-6/10", b"abcdef", '+', "");
            v.extend(chunk(b, "ovl00002", "m9", "4-10/10", b"defghij", '$', ""));
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "overlapping ranges with different content",
        Box::new(|b| {
            let mut v = chunk(b, "ovd00001", "m10", "1-6/10", b"abcdef", '+', "");
            v.extend(chunk(
                b,
                "ovd00002",
                "m10",
                "1-10/10",
                b"XXXXXXXXXX",
                '$',
                "",
            ));
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "end-line with the wrong transaction id",
        Box::new(|b| {
            let mut v = chunk(b, "wend0001", "m11", "1-5/9", b"hello", '+', "");
            let n = v.len();
            v.truncate(n - 11);
            v.extend_from_slice(b"zzzz9999+\r\n");
            v
        }),
        Expect::CodeThenAny("wend0001", 400),
    ));
    v.push((
        // A whole message (`1-N/N`) may run past its range when the
        // end-line follows (msrp-node-lib): held until the end-line, which
        // never comes, so framing is lost and the connection closed.
        "whole message whose end-line has the wrong transaction id",
        Box::new(|b| {
            let mut v = chunk(b, "wend0002", "m11b", "1-5/5", b"hello", '$', "");
            let n = v.len();
            v.truncate(n - 11);
            v.extend_from_slice(b"zzzz9999$\r\n");
            v.extend(std::iter::repeat_n(b'x', 80 * 1024));
            v
        }),
        Expect::Closed,
    ));
    v.push((
        "payload longer than Byte-Range",
        Box::new(|b| chunk(b, "long0001", "m12", "1-5/10", b"helloEXTRA", '+', "")),
        Expect::Code("long0001", 400),
    ));
    v.push((
        "payload shorter than Byte-Range",
        Box::new(|b| chunk(b, "shrt0001", "m13", "1-10/10", b"hello", '$', "")),
        Expect::Code("shrt0001", 400),
    ));
    v.push((
        "10,000 tiny chunks of one message, in order",
        Box::new(|b| {
            let mut v = Vec::new();
            for i in 1..=10_000u32 {
                let cont = if i == 10_000 { '$' } else { '+' };
                v.extend(chunk(
                    b,
                    &format!("tiny{i:06}"),
                    "m14",
                    &format!("{i}-{i}/10000"),
                    b"x",
                    cont,
                    "",
                ));
            }
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "10,000 tiny disjoint chunks (odd octets only)",
        Box::new(|b| {
            let mut v = Vec::new();
            for k in 0..10_000u32 {
                let i = 2 * k + 1;
                v.extend(chunk(
                    b,
                    &format!("odd{k:06}"),
                    "m15",
                    &format!("{i}-{i}/20000"),
                    b"x",
                    '+',
                    "",
                ));
            }
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "duplicate Message-ID chunks",
        Box::new(|b| {
            let mut v = chunk(b, "dup00001", "m16", "1-5/5", b"hello", '$', "");
            v.extend(chunk(b, "dup00002", "m16", "1-5/5", b"hello", '$', ""));
            v.extend(chunk(b, "dup00003", "m16", "1-5/5", b"HELLO", '$', ""));
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "REPORT for unknown message",
        Box::new(|b| {
            format!(
                "MSRP rept0001 REPORT\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: nosuchmsg\r\nByte-Range: 1-5/5\r\nStatus: 000 200 OK\r\n-------rept0001$\r\n",
                b.to, b.from
            )
            .into_bytes()
        }),
        Expect::Silent("rept0001"),
    ));
    v.push((
        "REPORT with garbage Status",
        Box::new(|b| {
            format!(
                "MSRP rept0002 REPORT\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: nosuchmsg\r\nStatus: banana\r\n-------rept0002$\r\n",
                b.to, b.from
            )
            .into_bytes()
        }),
        Expect::Silent("rept0002"),
    ));
    v.push((
        "unknown method",
        Box::new(|b| {
            format!(
                "MSRP meth0001 FROBNICATE\r\nTo-Path: {}\r\nFrom-Path: {}\r\nMessage-ID: frobnicate1\r\n-------meth0001$\r\n",
                b.to, b.from
            )
            .into_bytes()
        }),
        Expect::Code("meth0001", 501),
    ));
    v.push((
        "response for an unknown transaction",
        Box::new(|b| {
            format!(
                "MSRP nosuch01 200 OK\r\nTo-Path: {}\r\nFrom-Path: {}\r\n-------nosuch01$\r\n",
                b.to, b.from
            )
            .into_bytes()
        }),
        Expect::Silent("nosuch01"),
    ));
    v.push((
        "response with a 3-digit garbage code",
        Box::new(|b| {
            format!(
                "MSRP nosuch02 999 What\r\nTo-Path: {}\r\nFrom-Path: {}\r\n-------nosuch02$\r\n",
                b.to, b.from
            )
            .into_bytes()
        }),
        Expect::Silent("nosuch02"),
    ));
    v.push((
        "Failure-Report no on a valid SEND",
        Box::new(|b| {
            chunk(
                b,
                "frno0001",
                "m17",
                "1-5/5",
                b"hello",
                '$',
                "Failure-Report: no\r\n",
            )
        }),
        Expect::Silent("frno0001"),
    ));
    v.push((
        "wrong To-Path session id",
        Box::new(|b| {
            let to = b.to.clone();
            let mut c = chunk(b, "wto00001", "m18", "1-5/5", b"hello", '$', "");
            let bad = String::from_utf8(c.clone()).unwrap().replacen(
                &to,
                "msrp://127.0.0.1:1/someoneelse;tcp",
                1,
            );
            c = bad.into_bytes();
            c
        }),
        Expect::Code("wto00001", 481),
    ));
    v.push((
        "wrong From-Path",
        Box::new(|b| {
            let from = b.from.clone();
            String::from_utf8(chunk(b, "wfr00001", "m19", "1-5/5", b"hello", '$', ""))
                .unwrap()
                .replacen(&from, "msrp://10.9.9.9:1/impostor;tcp", 1)
                .into_bytes()
        }),
        Expect::Alive,
    ));
    v.push((
        "missing Message-ID",
        Box::new(|b| {
            String::from_utf8(chunk(b, "nmid0001", "XX", "1-5/5", b"hello", '$', ""))
                .unwrap()
                .replacen("Message-ID: hostile-XX\r\n", "", 1)
                .into_bytes()
        }),
        Expect::Code("nmid0001", 400),
    ));
    v.push((
        "Byte-Range garbage",
        Box::new(|b| chunk(b, "brg00001", "m20", "abc", b"hello", '$', "")),
        Expect::Code("brg00001", 400),
    ));
    v.push((
        "aborted message",
        Box::new(|b| {
            let mut v = chunk(b, "abt00001", "m21", "1-5/10", b"hello", '+', "");
            v.extend(chunk(b, "abt00002", "m21", "6-8/10", b"wor", '#', ""));
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "chunk after the message was aborted",
        Box::new(|b| {
            let mut v = chunk(b, "aft00001", "m22", "1-5/10", b"hello", '#', "");
            v.extend(chunk(b, "aft00002", "m22", "6-10/10", b"world", '$', ""));
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "2,000 distinct unfinished messages",
        Box::new(|b| {
            let mut v = Vec::new();
            for i in 0..2000 {
                v.extend(chunk(
                    b,
                    &format!("open{i:05}"),
                    &format!("open{i}"),
                    "1-1/100",
                    b"x",
                    '+',
                    "",
                ));
            }
            v
        }),
        // max_incoming_messages (64) unfinished messages: new ones get 413.
        Expect::CodeThenAny("open00064", 413),
    ));
    v.push((
        "many distinct messages over max_incoming_size in sum",
        Box::new(|b| {
            let body = vec![b'z'; 60_000];
            let mut v = Vec::new();
            for i in 0..40 {
                v.extend(chunk(
                    b,
                    &format!("big{i:05}"),
                    &format!("big{i}"),
                    "1-60000/*",
                    &body,
                    '+',
                    "",
                ));
            }
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "message growing past max_incoming_size with unknown total",
        Box::new(|b| {
            let body = vec![b'z'; 65_536];
            let mut v = Vec::new();
            for i in 0..20u64 {
                let s = i * 65_536 + 1;
                let e = s + 65_535;
                v.extend(chunk(
                    b,
                    &format!("grow{i:04}"),
                    "grow",
                    &format!("{s}-{e}/*"),
                    &body,
                    '+',
                    "",
                ));
            }
            v
        }),
        Expect::Alive,
    ));
    v.push((
        "NUL in a header",
        Box::new(|b| chunk(b, "nulh0001", "m\0\0x", "1-5/5", b"hello", '$', "")),
        Expect::Code("nulh0001", 400),
    ));
    v.push((
        "invalid UTF-8 in Message-ID",
        Box::new(|b| {
            let mut c = chunk(b, "utf80001", "mUTF", "1-5/5", b"hello", '$', "");
            let i = c.windows(4).position(|w| w == b"mUTF").unwrap();
            c.splice(i..i + 4, [b'm', 0xff, 0xfe, 0xc3]);
            c
        }),
        Expect::Code("utf80001", 400),
    ));
    v.push((
        "Status header on a SEND",
        Box::new(|b| {
            chunk(
                b,
                "stat0001",
                "m23",
                "1-5/5",
                b"hello",
                '$',
                "Status: 000 200 OK\r\n",
            )
        }),
        Expect::Alive,
    ));
    v.push((
        "Content-Type 8 KB long",
        Box::new(|b| {
            let extra = format!("X-Long: {}\r\n", "c".repeat(8000));
            chunk(b, "ctl00001", "m24", "1-5/5", b"hello", '$', &extra)
        }),
        Expect::Code("ctl00001", 200),
    ));
    v.push((
        "invalid continuation flag",
        Box::new(|b| chunk(b, "cont0001", "m25", "1-5/9", b"hello", '!', "")),
        Expect::CodeThenAny("cont0001", 400),
    ));
    v.push((
        // A whole message's payload is held past its range until an
        // end-line shows its flag; none does, so framing is lost.
        "invalid continuation flag on a whole message",
        Box::new(|b| {
            let mut v = chunk(b, "cont0002", "m25b", "1-5/5", b"hello", '!', "");
            v.extend(std::iter::repeat_n(b'x', 80 * 1024));
            v
        }),
        Expect::Closed,
    ));
    v.push((
        "end-line look-alikes in payload",
        Box::new(|b| {
            let body = b"a\r\n-------fake0001$\r\n-------look0001+b";
            chunk(
                b,
                "look0001",
                "m26",
                &format!("1-{}/{}", body.len(), body.len()),
                body,
                '$',
                "",
            )
        }),
        Expect::Code("look0001", 200),
    ));
    v.push((
        "oversized start line mid-session",
        Box::new(|_| format!("MSRP {} SEND\r\n", "a".repeat(4000)).into_bytes()),
        Expect::Closed,
    ));
    v.push((
        "endless header line mid-session",
        Box::new(|b| {
            let mut v =
                format!("MSRP endl0001 SEND\r\nTo-Path: {}\r\nX-Endless: ", b.to).into_bytes();
            v.extend(std::iter::repeat_n(b'q', 100 * 1024));
            v.extend_from_slice(b"\r\n");
            v
        }),
        Expect::Closed,
    ));
    v.push((
        "garbage mid-session",
        Box::new(|_| junk(42, 8192)),
        Expect::Closed,
    ));
    v.push((
        "bodiless SEND with Byte-Range 1-0/0 (keepalive)",
        Box::new(|b| chunk(b, "keep0001", "m27", "1-0/0", b"", '$', "")),
        Expect::Alive,
    ));
    v.push((
        "total 0 with a body",
        Box::new(|b| chunk(b, "tz000001", "m28", "1-5/0", b"hello", '$', "")),
        Expect::Code("tz000001", 400),
    ));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_streams_against_one_server() {
    let rss_start = rss_bytes();
    let server = Server::new(EndpointConfig {
        bind_timeout: BIND_TIMEOUT,
        ..Default::default()
    });
    let mut good = good_session(&server).await;
    good.check("at start").await;
    let addr = server.local_addrs()[0];
    let good_to = good.local.to_string();
    let mut count = 0usize;
    let mut observed: Vec<String> = Vec::new();

    // Phase A: first bytes of a new connection.
    for (name, bytes, half_close, expect) in phase_a_streams(&good_to, addr.port()) {
        if std::env::var("HOSTILE_ONLY").is_ok() {
            break;
        }
        let o = raw_stream(addr, &bytes, half_close).await;
        let closed = o.closed_after.unwrap_or_else(|| {
            panic!("A `{name}`: connection not closed within {CLOSE_BOUND:?}: {o:?}")
        });
        if let Some(code) = expect {
            assert_eq!(o.codes.first(), Some(&code), "A `{name}`: {o:?}");
        }
        observed.push(format!(
            "A {name}: answers {:?}, closed after {closed:?}",
            o.codes
        ));
        count += 1;
        if count % 10 == 0 {
            good.check(&format!("after A stream {count} ({name})"))
                .await;
        }
    }

    // Silent connection: closed by the bind timeout.
    {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (_, closed) = read_to_close(&mut s, CLOSE_BOUND).await;
        let closed = closed.expect("silent connection closed by the bind timeout");
        assert!(
            closed >= BIND_TIMEOUT - Duration::from_millis(100),
            "{closed:?}"
        );
        observed.push(format!("A silent connection: closed after {closed:?}"));
        count += 1;
    }
    // Slowloris: one byte every 50 ms for 2 s; the bind timeout must end it.
    {
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = s.into_split();
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            let line = b"MSRP slow0001 SEND\r\nTo-Path: msrp://127.0.0.1:1/xyz;tcp\r\n";
            for &b in line.iter().cycle().take(40) {
                if wr.write_all(&[b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            wr
        });
        let mut buf = [0u8; 1024];
        let closed = loop {
            match tokio::time::timeout(CLOSE_BOUND, rd.read(&mut buf)).await {
                Err(_) => panic!("slowloris not closed"),
                Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
                Ok(Ok(_)) => {}
            }
        };
        assert!(
            closed < BIND_TIMEOUT + Duration::from_millis(800),
            "slowloris lived {closed:?}"
        );
        let _ = writer.await;
        observed.push(format!("A slowloris: closed after {closed:?}"));
        count += 1;
    }
    // Many connections at once, each binding to the good session's id.
    {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let b = bodiless(
                &format!("crowd{i:03}"),
                &good_to,
                "msrp://127.0.0.1:9/crowd;tcp",
            );
            tasks.push(tokio::spawn(
                async move { raw_stream(addr, &b, false).await },
            ));
        }
        for t in tasks {
            let o = t.await.unwrap();
            assert!(o.closed_after.is_some(), "{o:?}");
            assert_eq!(o.codes.first(), Some(&506), "{o:?}");
        }
        observed.push("A 20 concurrent steals of the bound session id: 506 each, closed".into());
        count += 1;
    }
    good.check("after phase A").await;
    let phase_a = count;

    // Phase B: raw bytes on bound sessions.
    let only = std::env::var("HOSTILE_ONLY").ok();
    for (name, build, expect) in phase_b_streams() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let mut b = bound(&server).await;
        let bytes = build(&b);
        let o = run_b(&mut b, &bytes).await;
        match expect {
            Expect::Code(tid, code) => {
                assert_eq!(o.code_of(tid), vec![code], "B `{name}`: {o:?}");
                assert!(o.alive, "B `{name}`: session dead afterwards: {o:?}");
            }
            Expect::Silent(tid) => {
                assert!(o.code_of(tid).is_empty(), "B `{name}`: {o:?}");
                assert!(o.alive, "B `{name}`: session dead afterwards: {o:?}");
            }
            Expect::CodeThenAny(tid, code) => {
                assert_eq!(o.code_of(tid), vec![code], "B `{name}`: {o:?}");
            }
            Expect::Alive => assert!(o.alive, "B `{name}`: session dead afterwards: {o:?}"),
            Expect::Closed => {
                assert!(!o.alive, "B `{name}`: expected a close: {o:?}");
                let r = tokio::time::timeout(CLOSE_BOUND, async {
                    while b.peer.read_chunk(None).await.is_ok() {}
                })
                .await;
                assert!(r.is_ok(), "B `{name}`: not closed: {o:?}");
            }
        }
        let mut codes: HashMap<u16, usize> = HashMap::new();
        for a in &o.answers {
            *codes.entry(a.1).or_default() += 1;
        }
        let mut codes: Vec<_> = codes.into_iter().collect();
        codes.sort();
        observed.push(format!(
            "B {name}: answers {codes:?} (code: count), {}",
            if o.alive {
                "then a valid message was delivered"
            } else {
                "then the probe message got no 200 (closed, refused or desynchronised)"
            }
        ));
        count += 1;
        if count % 10 == 0 {
            good.check(&format!("after B stream {count} ({name})"))
                .await;
        }
    }
    good.check("at the end").await;
    for line in &observed {
        eprintln!("{line}");
    }
    eprintln!("{count} hostile streams ({phase_a} in phase A)");
    assert!(count >= 60, "{count}");
    let rss_end = rss_bytes();
    let grew = rss_end.saturating_sub(rss_start);
    eprintln!("RSS {rss_start} -> {rss_end} (+{grew})");
    assert!(grew < 64 << 20, "RSS grew by {grew} bytes");
}

/// Bogus bindings for a prepared session that `complete` has not picked up
/// yet must not lock the real peer out (they used to fill the server's
/// MAX_EARLY_ARRIVALS slots, and the real binding then got 481).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_bogus_bindings_do_not_lock_out_the_real_peer() {
    let server = Server::new(EndpointConfig {
        bind_timeout: BIND_TIMEOUT,
        ..Default::default()
    });
    let local = server.prepare(None).await.unwrap();
    let addr = server.local_addrs()[0];
    let to = local[0].to_string();
    let mut bogus = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let b = bodiless(
            &format!("early{i:03}"),
            &to,
            "msrp://127.0.0.1:9/squatter;tcp",
        );
        s.write_all(&b).await.unwrap();
        bogus.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut connector = ConnectorDirect::new(EndpointConfig::default());
    let c_path = connector
        .prepare(Some(uri("msrp://127.0.0.1:0/realpeer;tcp")))
        .unwrap();
    let l = local[0].clone();
    let cp = c_path.clone();
    let s = server.clone();
    let real = tokio::spawn(async move {
        connector
            .complete(&[l], None, Some(Duration::from_secs(5)))
            .await
    });
    // The application learns the peer's path (SDP answer) a little later.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let st = s
        .complete(&local[0], &cp, None, Some(Duration::from_secs(5)))
        .await
        .expect("real peer bound");
    let ct = real
        .await
        .unwrap()
        .expect("real peer's binding answered 200");
    let (cs, _crx) = Session::new(ct, SessionConfig::default());
    let (_ss, srx) = Session::new(st, SessionConfig::default());
    let mut msgs = forward_messages(srx);
    let id = cs
        .send_message(OutgoingMessage::new("text/plain", "after the squatters"))
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), msgs.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.0, id);
    // Every squatter was answered 481 and closed.
    for mut b in bogus {
        let (data, closed) = read_to_close(&mut b, CLOSE_BOUND).await;
        assert!(closed.is_some());
        assert_eq!(parse_codes(&data), vec![481]);
    }
}

/// Eight unauthenticated connections each stream a 60 MB binding chunk to a
/// session that does not exist: the server must not buffer them whole (it
/// used to assemble up to 64 MiB per connection before looking at To-Path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_binding_chunks_are_not_buffered() {
    let server = Server::new(EndpointConfig {
        bind_timeout: Duration::from_secs(5),
        ..Default::default()
    });
    let _local = server.prepare(None).await.unwrap();
    let addr = server.local_addrs()[0];
    let before = rss_bytes();
    let mut tasks = Vec::new();
    for i in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let n = 60_000_000u64;
            let head = format!(
                "MSRP big{i:05} SEND\r\nTo-Path: msrp://127.0.0.1:{}/nosuch;tcp\r\n\
                 From-Path: msrp://127.0.0.1:9/x;tcp\r\nMessage-ID: abcdef\r\n\
                 Byte-Range: 1-{n}/{n}\r\nContent-Type: text/plain\r\n\r\n",
                addr.port()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let block = vec![b'a'; 1 << 20];
            for _ in 0..57 {
                if s.write_all(&block).await.is_err() {
                    break;
                }
            }
            let (_, closed) = read_to_close(&mut s, Duration::from_secs(10)).await;
            closed.is_some()
        }));
    }
    let mut peak = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_bytes());
    }
    for t in tasks {
        assert!(t.await.unwrap(), "connection not closed");
    }
    let grew = peak.saturating_sub(before);
    eprintln!("RSS peak grew by {} MiB", grew >> 20);
    assert!(grew < 64 << 20, "RSS grew by {grew} bytes");
}
