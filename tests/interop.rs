//! What deployed MSRP stacks put on the wire, played byte for byte over a
//! real loopback socket against an accepting libmsrp session: each shape
//! gets the answer RFC 4975 §7.2 and §10 give it, and the session survives
//! it (a plain message sent after it is answered 200 and delivered).
//!
//! The shapes are facts learned from the sources and trackers of other
//! stacks (named beside each one), written here in this project's own
//! words: python-msrplib and sipsimple (Blink), msrp-node-lib, msrp-java,
//! crocodile-msrp, FreeSWITCH, Doubango. `{TO}` stands for the session's
//! URI, `{FROM}` for the peer's, `{TO_ALG}` for the session's URI with the
//! host and port an ALG would write.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::BytesMut;
use msrp::connect::{AcceptorDirect, EndpointConfig};
use msrp::protocol::{Chunk, ChunkReader, Limits, Uri};
use msrp::session::{OutgoingMessage, Session, SessionConfig, SessionEvent};
use msrp::transport::PathMatching;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;

const T: Duration = Duration::from_secs(10);

/// The raw peer's own URI (it never listens: it is the active side).
const PEER_URI: &str = "msrp://127.0.0.1:9/p33rS3ss10n;tcp";

/// A raw peer bound to an accepting session.
struct Bound {
    stream: TcpStream,
    reader: ChunkReader,
    buf: BytesMut,
    session: Session,
    events: Receiver<SessionEvent>,
    /// The session's URI as text.
    to: String,
    /// The peer's full path as text.
    from: String,
    probes: usize,
    /// Messages delivered whole, by Message-ID, not yet asked for.
    delivered: HashMap<String, Vec<u8>>,
    /// Messages being delivered in pieces.
    streamed: HashMap<String, Vec<u8>>,
    /// Other events that came while a message was awaited.
    others: VecDeque<SessionEvent>,
    /// Responses read while a request was awaited.
    early: VecDeque<Chunk>,
    /// Requests read while a response was awaited.
    requests: VecDeque<Chunk>,
}

/// What the peer's requests carry, with the session's and the peer's URIs
/// filled in.
fn fill(template: &str, to: &str, from: &str) -> Vec<u8> {
    let alg = Uri::parse(to).unwrap();
    let alg = format!(
        "msrp://192.0.2.77:{}/{};tcp",
        alg.port.unwrap_or(1) + 1,
        alg.session_id.as_deref().unwrap_or_default()
    );
    template
        .replace("{TO_ALG}", &alg)
        .replace("{TO}", to)
        .replace("{FROM}", from)
        .into_bytes()
}

/// Binds a raw peer to a fresh accepting session. `binding` is the peer's
/// first request (its binding SEND, RFC 4975 §5.4), answered before the
/// session starts.
async fn bind(config: EndpointConfig, session: SessionConfig, binding: &str) -> Bound {
    bind_from(config, session, binding, PEER_URI).await
}

/// [`bind`] with the peer's full path (`from`, space-separated URIs: the
/// hop on the connection first).
async fn bind_from(
    config: EndpointConfig,
    session: SessionConfig,
    binding: &str,
    from: &str,
) -> Bound {
    let mut acceptor = AcceptorDirect::new(config);
    let path = acceptor.prepare(None).await.unwrap();
    let to = path[0].to_string();
    let peer = Uri::parse_path(from).unwrap();
    let accept = tokio::spawn(async move { acceptor.complete(&peer, None, Some(T)).await });
    let addr = format!("127.0.0.1:{}", path[0].port.unwrap());
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&fill(binding, &to, from)).await.unwrap();
    let transport = accept.await.unwrap().expect("bound");
    let (session, events) = Session::new(transport, session);
    let mut b = Bound {
        stream,
        reader: ChunkReader::new(Limits::default()),
        buf: BytesMut::new(),
        session,
        events,
        to,
        from: from.to_string(),
        probes: 0,
        delivered: HashMap::new(),
        streamed: HashMap::new(),
        others: VecDeque::new(),
        early: VecDeque::new(),
        requests: VecDeque::new(),
    };
    let tid = start_tid(binding);
    let answer = b.response(&tid).await;
    assert_eq!(answer.code(), Some(200), "binding {binding:?}");
    b
}

/// The transaction id of a template's first start line.
fn start_tid(template: &str) -> String {
    template.split(' ').nth(1).unwrap().to_string()
}

impl Bound {
    async fn send(&mut self, template: &str) {
        let bytes = fill(template, &self.to, &self.from);
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// The next chunk from the session (a response or a request).
    async fn next_chunk(&mut self) -> Chunk {
        tokio::time::timeout(T, async {
            loop {
                if let Some(c) = self.reader.read_chunk(&mut self.buf, None).unwrap() {
                    return c;
                }
                self.buf.reserve(64 * 1024);
                let n = self.stream.read_buf(&mut self.buf).await.unwrap();
                assert!(n > 0, "the session closed the connection");
            }
        })
        .await
        .expect("nothing from the session")
    }

    /// The next request from the session (responses are kept for
    /// [`Bound::responses_until`]).
    async fn next_request(&mut self) -> Chunk {
        if let Some(c) = self.requests.pop_front() {
            return c;
        }
        loop {
            let c = self.next_chunk().await;
            if c.is_request() {
                return c;
            }
            self.early.push_back(c);
        }
    }

    /// The responses up to and including the one to `tid` (requests from
    /// the session in between are kept for [`Bound::next_request`]).
    async fn responses_until(&mut self, tid: &str) -> Vec<Chunk> {
        let mut out = Vec::new();
        loop {
            let c = match self.early.pop_front() {
                Some(c) => c,
                None => self.next_chunk().await,
            };
            if c.is_request() {
                self.requests.push_back(c);
                continue;
            }
            let last = c.transaction_id == tid;
            out.push(c);
            if last {
                return out;
            }
        }
    }

    async fn response(&mut self, tid: &str) -> Chunk {
        self.responses_until(tid).await.pop().unwrap()
    }

    /// A plain SEND from the peer after whatever came before: it must be
    /// answered 200 and delivered. Returns the responses that came before
    /// its own.
    async fn probe(&mut self) -> Vec<Chunk> {
        self.probes += 1;
        let tid = format!("pr0be{:04}", self.probes);
        let mid = format!("pr0bemsg{:04}", self.probes);
        let body = format!("still here {}", self.probes);
        self.send(&format!(
            "MSRP {tid} SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: {mid}\r\nByte-Range: 1-{n}/{n}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n-------{tid}$\r\n",
            n = body.len()
        ))
        .await;
        let mut before = self.responses_until(&tid).await;
        let own = before.pop().unwrap();
        assert_eq!(own.code(), Some(200), "probe {tid}: {own:?}");
        let got = self.message(&mid).await;
        assert_eq!(got, body.as_bytes(), "probe {tid}");
        before
    }

    /// The body of the incoming message `mid`, whole (the messages that
    /// arrive before it are kept for their own turn; the session must not
    /// close).
    async fn message(&mut self, mid: &str) -> Vec<u8> {
        tokio::time::timeout(T, async {
            loop {
                if let Some(body) = self.delivered.remove(mid) {
                    return body;
                }
                match self.events.recv().await.expect("session events ended") {
                    SessionEvent::Message(m) => {
                        self.delivered.insert(m.message_id, m.body.to_vec());
                    }
                    SessionEvent::MessageData {
                        message_id,
                        offset,
                        data,
                        ..
                    } => {
                        let so_far = self.streamed.entry(message_id).or_default();
                        assert_eq!(offset as usize, so_far.len(), "in order");
                        so_far.extend_from_slice(&data.to_vec());
                    }
                    SessionEvent::MessageComplete { message_id, .. } => {
                        let body = self.streamed.remove(&message_id).unwrap_or_default();
                        self.delivered.insert(message_id, body);
                    }
                    SessionEvent::Closed { reason, .. } => panic!("session closed: {reason}"),
                    other => self.others.push_back(other),
                }
            }
        })
        .await
        .expect("message not delivered")
    }

    /// Sends `template` (one request, `tid` its transaction id) and checks
    /// its answer: `Some(code)`, or `None` for no answer at all (a REPORT,
    /// RFC 4975 §7.1.2). Then the session must still work.
    async fn expect(&mut self, template: &str, code: Option<u16>) {
        let tid = start_tid(template);
        self.send(template).await;
        let before = self.probe().await;
        let answers: Vec<_> = before
            .iter()
            .filter(|c| c.transaction_id == tid)
            .map(|c| c.code())
            .collect();
        match code {
            Some(code) => {
                assert_eq!(answers, vec![Some(code)], "{template:?}: {before:?}");
                let r = before.iter().find(|c| c.transaction_id == tid).unwrap();
                // The response goes back to the previous hop, from the
                // session (RFC 4975 §7.2).
                let hop = self.from.split(' ').next().unwrap();
                assert_eq!(r.to_path().unwrap().to_string(), hop, "{r:?}");
                assert_eq!(r.from_path().unwrap().to_string(), self.to, "{r:?}");
            }
            None => assert!(answers.is_empty(), "{template:?}: {before:?}"),
        }
    }
}

/// The binding SEND most stacks open with: bodiless, no Message-ID.
const BINDING: &str =
    "MSRP b1nd1ng0 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------b1nd1ng0$\r\n";

async fn default_bound() -> Bound {
    bind(EndpointConfig::default(), SessionConfig::default(), BINDING).await
}

/// msrp-node-lib, RCS clients: transaction ids and Message-IDs are
/// 36-character UUIDs (outside RFC 4975's 4-32 character `ident`).
#[tokio::test]
async fn uuid_transaction_ids_and_message_ids() {
    let mut b = default_bound().await;
    let tid = "3f2b8c1e-9d4a-4e6f-b7a2-5c8d9e0f1a2b";
    let mid = "A1B2C3D4-E5F6-4789-9ABC-DEF012345678";
    b.send(&format!(
        "MSRP {tid} SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: {mid}\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------{tid}$\r\n"
    ))
    .await;
    assert_eq!(b.response(tid).await.code(), Some(200));
    assert_eq!(b.message(mid).await, b"hello");
    b.probe().await;
}

/// Ids of one to three characters, with underscores and other punctuation.
#[tokio::test]
async fn short_and_punctuated_ids() {
    let mut b = default_bound().await;
    for (tid, mid) in [
        ("q", "m"),
        ("x7", "id_with_underscores"),
        ("a.b", "mid@host.example"),
    ] {
        b.send(&format!(
            "MSRP {tid} SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: {mid}\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------{tid}$\r\n"
        ))
        .await;
        assert_eq!(b.response(tid).await.code(), Some(200), "{tid}");
        assert_eq!(b.message(mid).await, b"hi", "{mid}");
    }
    b.probe().await;
}

/// A binding SEND with a UUID transaction id (the first request of
/// msrp-node-lib and of RCS clients).
#[tokio::test]
async fn uuid_binding() {
    let binding = "MSRP 6d0f6a7c-0c59-4b0e-8f55-3b0d7c1e2a94 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 0b5a7f3e-21c4-4d7a-9e1b-6f2c8d4a0e3b\r\nByte-Range: 1-0/0\r\n-------6d0f6a7c-0c59-4b0e-8f55-3b0d7c1e2a94$\r\n";
    let mut b = bind(EndpointConfig::default(), SessionConfig::default(), binding).await;
    b.probe().await;
}

/// sipsimple (Blink) asks where to resume a file with its own method
/// `FILE_OFFSET` (an underscore: outside `1*UPALPHA`): answered 501, the
/// session goes on (RFC 4975 §7.2, §10.9).
#[tokio::test]
async fn file_offset_gets_501() {
    let mut b = default_bound().await;
    b.expect(
        "MSRP f1l30ff5 FILE_OFFSET\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: f1l3tr4nsf3r\r\n-------f1l30ff5$\r\n",
        Some(501),
    )
    .await;
    // Other unknown methods and method names with digits: the same.
    b.expect(
        "MSRP unkn0wn1 PING\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------unkn0wn1$\r\n",
        Some(501),
    )
    .await;
    b.expect(
        "MSRP unkn0wn2 SEND2\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nContent-Type: text/plain\r\n\r\nbody of an unknown method\r\n-------unkn0wn2$\r\n",
        Some(501),
    )
    .await;
    // A method name that is not a token: 400.
    b.expect(
        "MSRP n0tt0k3n SE:ND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------n0tt0k3n$\r\n",
        Some(400),
    )
    .await;
}

/// A request without From-Path used to get no answer at all (the sender
/// waited for its timeout): now 400, to the session's peer.
#[tokio::test]
async fn missing_from_path_gets_400() {
    let mut b = default_bound().await;
    b.expect(
        "MSRP n0fr0m01 SEND\r\nTo-Path: {TO}\r\nMessage-ID: n0fr0m\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------n0fr0m01$\r\n",
        Some(400),
    )
    .await;
    b.expect(
        "MSRP n0t0p4th SEND\r\nFrom-Path: {FROM}\r\nMessage-ID: n0t0\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------n0t0p4th$\r\n",
        Some(400),
    )
    .await;
}

/// python-msrplib takes chunks of up to 4 MiB and sends large ones; RFC 4975
/// sets no chunk size. A 4 MiB single chunk is streamed to its message.
#[tokio::test]
async fn four_mib_single_chunk() {
    let mut b = default_bound().await;
    let n = 4 << 20;
    let body: Vec<u8> = (0..n)
        .map(|i| b"0123456789abcdef"[(i * 7 + i / 4096) % 16])
        .collect();
    let mut wire = fill(
        &format!("MSRP b1gchunk SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: b1gm3ss4g3\r\nByte-Range: 1-{n}/{n}\r\nContent-Type: application/octet-stream\r\n\r\n"),
        &b.to,
        PEER_URI,
    );
    wire.extend_from_slice(&body);
    wire.extend_from_slice(b"\r\n-------b1gchunk$\r\n");
    b.stream.write_all(&wire).await.unwrap();
    let answers = b.responses_until("b1gchunk").await;
    assert_eq!(
        answers.len(),
        1,
        "one response for one request: {answers:?}"
    );
    assert_eq!(answers[0].code(), Some(200));
    assert!(b.message("b1gm3ss4g3").await == body, "body differs");
    b.probe().await;
}

/// A NAT or ALG rewrote the host and port of the session's URI in the
/// peer's To-Path; the random session id is intact. Matched by session id
/// by default (RFC 6714 §4.1); 481 with the strict RFC 4975 §6.1
/// comparison, which stays available.
#[tokio::test]
async fn alg_rewritten_to_path() {
    let rewritten = "MSRP 4lgr3wr1 SEND\r\nTo-Path: {TO_ALG}\r\nFrom-Path: {FROM}\r\nMessage-ID: 4lgm3ss4g3\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nok\r\n-------4lgr3wr1$\r\n";
    let mut b = default_bound().await;
    b.expect(rewritten, Some(200)).await;
    assert_eq!(b.message("4lgm3ss4g3").await, b"ok");
    // The binding itself, rewritten: bound by default.
    let binding = BINDING.replace("{TO}", "{TO_ALG}");
    let mut b = bind(
        EndpointConfig::default(),
        SessionConfig::default(),
        &binding,
    )
    .await;
    b.probe().await;
    // Strict: 481 to the rewritten request, and the session goes on.
    let strict = EndpointConfig {
        matching: PathMatching::Uri,
        ..Default::default()
    };
    let mut b = bind(strict, SessionConfig::default(), BINDING).await;
    b.expect(rewritten, Some(481)).await;
}

/// msrp-node-lib writes a binary buffer's length in Byte-Range but sends
/// the buffer converted to a string, so the payload runs past the range
/// (each octet that is not UTF-8 becomes three). The end-line frames the
/// chunk: a whole message is taken as framed; any other chunk gets 400.
#[tokio::test]
async fn payload_longer_than_its_byte_range() {
    let mut b = default_bound().await;
    // 4 octets declared, 12 sent (four U+FFFD).
    let body = "\u{fffd}\u{fffd}\u{fffd}\u{fffd}";
    b.expect(
        &format!("MSRP n0d3l1b1 SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: n0d3m3ss4g3\r\nByte-Range: 1-4/4\r\nContent-Type: application/octet-stream\r\n\r\n{body}\r\n-------n0d3l1b1$\r\n"),
        Some(200),
    )
    .await;
    assert_eq!(b.message("n0d3m3ss4g3").await, body.as_bytes());
    // The first chunk of a longer message: 400 for that chunk.
    b.expect(
        &format!("MSRP n0d3l1b2 SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: n0d3m3ss4g32\r\nByte-Range: 1-4/8\r\nContent-Type: application/octet-stream\r\n\r\n{body}\r\n-------n0d3l1b2+\r\n"),
        Some(400),
    )
    .await;
}

/// msrp-java opens with an empty SEND and keeps the connection alive with
/// more of them (bodiless, `Byte-Range: 1-0/0`): each answered 200.
#[tokio::test]
async fn empty_sends() {
    let binding = "MSRP 3mpty001 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 3mptym3ss4g3\r\nByte-Range: 1-0/0\r\n-------3mpty001$\r\n";
    let mut b = bind(EndpointConfig::default(), SessionConfig::default(), binding).await;
    b.expect(
        "MSRP 3mpty002 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 3mptym3ss4g4\r\nByte-Range: 1-0/0\r\n-------3mpty002$\r\n",
        Some(200),
    )
    .await;
}

/// Header shapes outside the letter of RFC 4975 §9 that peers write: no
/// space or a tab after the colon, trailing blanks, lower case, MIME headers
/// (Content-ID, Content-Description, Content-Disposition, unknown ones)
/// before Content-Type, and parameters on Content-Type matched by
/// type/subtype against accept-types.
#[tokio::test]
async fn header_shapes() {
    let config = SessionConfig {
        accept_types: vec!["text/plain".into(), "message/cpim".into()],
        ..Default::default()
    };
    let mut b = bind(EndpointConfig::default(), config, BINDING).await;
    b.expect(
        "MSRP h34d3r01 SEND\r\nto-path:{TO}\r\nfrom-path:\t{FROM}  \r\nmessage-id:  h34d3rm3ss4g3 \r\nbyte-range: 1-5/5\r\nsuccess-report: no\r\nfailure-report: yes\r\nContent-ID: <part1@example.com>\r\nContent-Description: greeting\r\nContent-Disposition: inline\r\nContent-Language: en\r\ncontent-type: text/plain; charset=UTF-8\r\n\r\nhello\r\n-------h34d3r01$\r\n",
        Some(200),
    )
    .await;
    assert_eq!(b.message("h34d3rm3ss4g3").await, b"hello");
    b.expect(
        "MSRP h34d3r02 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: h34d3rm3ss4g4\r\nByte-Range: 1-5/5\r\nContent-Type: TEXT/PLAIN;charset=\"utf-8\"\r\n\r\nhello\r\n-------h34d3r02$\r\n",
        Some(200),
    )
    .await;
    // A type not accepted: 415 (RFC 4975 §7.3.1).
    b.expect(
        "MSRP h34d3r03 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: h34d3rm3ss4g5\r\nByte-Range: 1-5/5\r\nContent-Type: image/png\r\n\r\nhello\r\n-------h34d3r03$\r\n",
        Some(415),
    )
    .await;
    // A header the grammar cannot read: 400 for that request.
    b.expect(
        "MSRP h34d3r04 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: h34d3rm3ss4g6\r\nByte-Range: one-five/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------h34d3r04$\r\n",
        Some(400),
    )
    .await;
}

/// An unsolicited success REPORT (crocodile-msrp expects and sends them;
/// `Status: 000 200 OK`) and a REPORT for an unknown message: no answer
/// (RFC 4975 §7.1.2), the session goes on.
#[tokio::test]
async fn reports_are_never_answered() {
    let mut b = default_bound().await;
    b.expect(
        "MSRP r3p0rt01 REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: n0s3ntm3ss4g3\r\nByte-Range: 1-10/10\r\nStatus: 000 200 OK\r\n-------r3p0rt01$\r\n",
        None,
    )
    .await;
    b.expect(
        "MSRP r3p0rt02 REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: n0s3ntm3ss4g3\r\nByte-Range: 1-10/10\r\nStatus: 000 200\r\n-------r3p0rt02$\r\n",
        None,
    )
    .await;
}

/// Responses to this session's requests in the shapes peers write them:
/// no reason phrase, lower-case and unknown headers, extra blanks.
#[tokio::test]
async fn responses_in_peer_shapes() {
    let mut b = default_bound().await;
    for (i, shape) in [
        "MSRP {tid} 200\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------{tid}$\r\n",
        "MSRP {tid} 200 OK\r\nto-path: {TO}\r\nfrom-path: {FROM}\r\nX-Relay: none\r\n-------{tid}$\r\n",
        "MSRP {tid}  200  ok \r\nTo-Path:{TO}\r\nFrom-Path:\t{FROM}\r\n-------{tid}$\r\n",
    ]
    .into_iter()
    .enumerate()
    {
        let id = b
            .session
            .send_message(OutgoingMessage::new("text/plain", format!("to the peer {i}")))
            .unwrap();
        let request = b.next_chunk().await;
        assert!(request.is_request(), "{request:?}");
        assert_eq!(request.message_id(), Some(id.as_str()));
        let answer = shape.replace("{tid}", &request.transaction_id);
        b.send(&answer).await;
        let code = tokio::time::timeout(T, async {
            loop {
                match b.events.recv().await.expect("events") {
                    SessionEvent::Sent { message_id, code, .. } if message_id == id => return code,
                    SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
                    _ => {}
                }
            }
        })
        .await
        .expect("no Sent event");
        assert_eq!(code, 200, "{shape:?}");
    }
    b.probe().await;
}

/// A message over the session's limit gets 413 (RFC 4975 §10.5), whatever
/// its chunk sizes; the session goes on.
#[tokio::test]
async fn message_over_the_limit_gets_413() {
    let config = SessionConfig {
        max_incoming_size: Some(1000),
        ..Default::default()
    };
    let mut b = bind(EndpointConfig::default(), config, BINDING).await;
    let body = "z".repeat(1001);
    b.expect(
        &format!("MSRP t00b1g01 SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: t00b1gm3ss4g3\r\nByte-Range: 1-1001/1001\r\nContent-Type: text/plain\r\n\r\n{body}\r\n-------t00b1g01$\r\n"),
        Some(413),
    )
    .await;
}

/// A message sent by the session, answered by the peer with `response`
/// (`{tid}` the session's transaction id); returns the session's Message-ID
/// and the transaction id.
async fn sent_and_answered(b: &mut Bound, response: &str) -> (String, String) {
    let id = b
        .session
        .send_message(OutgoingMessage::new("text/plain", "hello"))
        .unwrap();
    let request = loop {
        let c = b.next_chunk().await;
        if c.is_request() && c.message_id() == Some(id.as_str()) {
            break c;
        }
    };
    let tid = request.transaction_id.clone();
    b.send(&response.replace("{tid}", &tid)).await;
    (id, tid)
}

/// The next `Sent` or `Report` event of message `id`.
async fn outcome(b: &mut Bound, id: &str) -> SessionEvent {
    tokio::time::timeout(T, async {
        loop {
            let next = match b.others.pop_front() {
                Some(e) => e,
                None => b.events.recv().await.expect("events"),
            };
            match next {
                e @ (SessionEvent::Sent { .. } | SessionEvent::Report { .. }) => {
                    let mine = match &e {
                        SessionEvent::Sent { message_id, .. }
                        | SessionEvent::Report { message_id, .. } => message_id == id,
                        _ => false,
                    };
                    if mine {
                        return e;
                    }
                }
                SessionEvent::Closed { reason, .. } => panic!("closed: {reason}"),
                _ => {}
            }
        }
    })
    .await
    .expect("no outcome")
}

/// Failure REPORTs after a 200 (sipsimple's `413 Unwanted Message`; an RCS
/// network's `000 413 413` with `+` in the transaction id; SipLib's `000
/// 503`, a code MSRP does not define): never answered, passed to the
/// application with their code; a REPORT reusing the SEND's transaction id
/// (FreeSWITCH, rcsjta) is a REPORT, not a stray response.
#[tokio::test]
async fn failure_reports_after_a_200() {
    let mut b = default_bound().await;
    for (status, code) in [
        ("000 413 Unwanted Message", 413),
        ("000 413 413", 413),
        ("000 503 Service Unavailable -- No Listeners", 503),
    ] {
        let (id, _) = sent_and_answered(
            &mut b,
            "MSRP {tid} 200 OK\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------{tid}$\r\n",
        )
        .await;
        assert!(matches!(
            outcome(&mut b, &id).await,
            SessionEvent::Sent { code: 200, .. }
        ));
        b.expect(
            &format!("MSRP n07x00q1z0+1938 REPORT\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nStatus: {status}\r\nMessage-ID: {id}\r\nByte-Range: 1-5/5\r\n-------n07x00q1z0+1938$\r\n"),
            None,
        )
        .await;
        let SessionEvent::Report { code: got, .. } = outcome(&mut b, &id).await else {
            panic!("a Sent event twice")
        };
        assert_eq!(got, code, "{status}");
    }
    // FreeSWITCH: the REPORT carries the SEND's transaction id.
    let (id, tid) = sent_and_answered(
        &mut b,
        "MSRP {tid} 200 OK\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------{tid}$\r\n",
    )
    .await;
    assert!(matches!(
        outcome(&mut b, &id).await,
        SessionEvent::Sent { code: 200, .. }
    ));
    b.expect(
        &format!("MSRP {tid} REPORT\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: {id}\r\nStatus: 000 200 OK\r\nByte-Range: 1-5/5\r\n-------{tid}$\r\n"),
        None,
    )
    .await;
    assert!(matches!(
        outcome(&mut b, &id).await,
        SessionEvent::Report { code: 200, .. }
    ));
}

/// Responses with headers a response need not carry (Doubango copies the
/// request's Byte-Range; Kamailio adds a Message-ID), and a 200 to a
/// REPORT this session sent (Doubango, rcsjta and SipLib answer REPORTs):
/// the first completes its transaction, the second is ignored.
#[tokio::test]
async fn responses_with_extra_headers_and_to_reports() {
    let config = SessionConfig::default();
    let mut b = bind(EndpointConfig::default(), config, BINDING).await;
    let (id, _) = sent_and_answered(
        &mut b,
        "MSRP {tid} 200 OK\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: x\r\nByte-Range: 1-5/5\r\n-------{tid}$\r\n",
    )
    .await;
    assert!(matches!(
        outcome(&mut b, &id).await,
        SessionEvent::Sent { code: 200, .. }
    ));
    // A message asking for a success REPORT: the session sends one, which
    // the peer answers.
    b.send("MSRP r3qr3p01 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 3927600000.h7g6f5d4\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\nContent-Disposition: inline\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nHello\r\n-------r3qr3p01$\r\n").await;
    let report = loop {
        let c = b.next_chunk().await;
        if c.method().is_some() {
            break c;
        }
    };
    assert_eq!(report.method().map(|m| m.as_str()), Some("REPORT"));
    assert_eq!(report.message_id(), Some("3927600000.h7g6f5d4"));
    assert_eq!(report.byte_range().to_string(), "1-5/5");
    b.send(&format!(
        "MSRP {} 200 Report received\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\n-------{}$\r\n",
        report.transaction_id, report.transaction_id
    ))
    .await;
    assert_eq!(b.message("3927600000.h7g6f5d4").await, b"Hello");
    b.probe().await;
}

/// Shapes of message chunks: msrp-java's `N-*/T` ranges on a message cut in
/// two, python-msrplib's `1-*/N` whole message, node-lib's abort chunk with
/// no range and no body, SipLib's retransmitted SEND (same transaction id,
/// delivered once), Doubango's decimal ids, OpenSIPS's dotted transaction
/// id, a zero-octet body, NICKNAME (RFC 7701) at an endpoint, a keep-alive
/// with an extension header, and both reports off (no response at all).
#[tokio::test]
async fn message_chunk_shapes() {
    let mut b = default_bound().await;
    let a = "A".repeat(3000);
    let bb = "B".repeat(2000);
    b.expect(&format!("MSRP Cc5Vv6Xx SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: 1122334455667788990aabbccddeeff\r\nByte-Range: 1-*/5000\r\nContent-Type: application/octet-stream\r\n\r\n{a}\r\n-------Cc5Vv6Xx+\r\n"), Some(200)).await;
    b.expect(&format!("MSRP Dd7Ff8Gg SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: 1122334455667788990aabbccddeeff\r\nByte-Range: 3001-*/5000\r\nContent-Type: application/octet-stream\r\n\r\n{bb}\r\n-------Dd7Ff8Gg$\r\n"), Some(200)).await;
    assert_eq!(
        b.message("1122334455667788990aabbccddeeff").await,
        format!("{a}{bb}").as_bytes()
    );
    let x = "x".repeat(2100);
    b.expect(&format!("MSRP 5a6b7c8d9e0f1a2b SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nByte-Range: 1-*/2100\r\nMessage-ID: 0f1e2d3c4b5a6978\r\nContent-Type: text/plain\r\n\r\n{x}\r\n-------5a6b7c8d9e0f1a2b$\r\n"), Some(200)).await;
    assert_eq!(b.message("0f1e2d3c4b5a6978").await, x.as_bytes());
    // Abort: the first 2048 octets of 5000, then `#` with nothing else.
    let part = "p".repeat(2048);
    b.expect(&format!("MSRP c4x3z2a0 SEND\r\nTo-Path: {{TO}}\r\nFrom-Path: {{FROM}}\r\nMessage-ID: 3927600004.u7y6t5r4\r\nByte-Range: 1-2048/5000\r\nContent-Type: text/plain\r\n\r\n{part}\r\n-------c4x3z2a0+\r\n"), Some(200)).await;
    b.expect("MSRP c4x3z2a1 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 3927600004.u7y6t5r4\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\n-------c4x3z2a1#\r\n", Some(200)).await;
    // The same SEND twice: both answered 200, the message delivered once.
    let dup = "MSRP qwe4rty5ui SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: mnb8vcx7za\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nHello\r\n-------qwe4rty5ui$\r\n";
    b.expect(dup, Some(200)).await;
    assert_eq!(b.message("mnb8vcx7za").await, b"Hello");
    b.expect(dup, Some(200)).await;
    b.probe().await;
    assert!(!b.delivered.contains_key("mnb8vcx7za"), "delivered twice");
    b.expect("MSRP 1718000000123 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 1718000000456\r\n-------1718000000123$\r\n", Some(200)).await;
    b.expect("MSRP 3a.1.7f2c.9e107d9d37 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: e4d909c290d0fb1ca068ffaddf22cbd0\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nHello\r\n-------3a.1.7f2c.9e107d9d37$\r\n", Some(200)).await;
    assert_eq!(
        b.message("e4d909c290d0fb1ca068ffaddf22cbd0").await,
        b"Hello"
    );
    b.expect("MSRP e3m4p5t6 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 77ee88ff99aa\r\nByte-Range: 1-0/0\r\nContent-Type: text/plain\r\n\r\n\r\n-------e3m4p5t6$\r\n", Some(200)).await;
    b.expect("MSRP Ff3Yy4Uu NICKNAME\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nUse-Nickname: \"Alice\"\r\n-------Ff3Yy4Uu$\r\n", Some(501)).await;
    b.expect("MSRP 3e4d5c6b7a8f9e0d SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nByte-Range: 1-0/0\r\nMessage-ID: 7c6b5a4f3e2d1c0b\r\nKeep-Alive: yes\r\n-------3e4d5c6b7a8f9e0d$\r\n", Some(200)).await;
    b.expect("MSRP 3d4e5f6a7b8c9d0e SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nByte-Range: 1-6/6\r\nMessage-ID: 0e9d8c7b6a5f4e3d\r\nFailure-Report: no\r\nSuccess-Report: no\r\nContent-Type: text/plain\r\n\r\ntyping\r\n-------3d4e5f6a7b8c9d0e$\r\n", None).await;
    assert_eq!(b.message("0e9d8c7b6a5f4e3d").await, b"typing");
}

/// Requests for another session (481, RFC 4975 §7.3.1; none with
/// `Failure-Report: no`), a REPORT whose Byte-Range cannot be read
/// (msrp-node-lib's `1--1/*`) and a REPORT whose Status line has a blank
/// before its colon and a one-digit namespace: never answered, the
/// session goes on.
#[tokio::test]
async fn wrong_session_and_unreadable_reports() {
    let mut b = default_bound().await;
    let other = "MSRP u1n2k3n4 SEND\r\nTo-Path: msrp://127.0.0.1:2855/n0such5e55;tcp\r\nFrom-Path: {FROM}\r\nMessage-ID: 11aa22bb33cc\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nHello\r\n-------u1n2k3n4$\r\n";
    b.expect(other, Some(481)).await;
    b.expect(
        &other.replace("Message-ID", "Failure-Report: no\r\nMessage-ID"),
        None,
    )
    .await;
    b.expect("MSRP z0x9c8v7 REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: Lm00000001\r\nStatus: 000 200 OK\r\nByte-Range: 1--1/*\r\n-------z0x9c8v7$\r\n", None).await;
    b.expect("MSRP lm0001tid REPORT\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nStatus : 0 200 OK\r\nMessage-id: Lm00000008\r\nByte-Range: 1-5/5\r\n-------lm0001tid$\r\n", None).await;
}

/// A browser behind a WebSocket gateway or relay (crocodile-msrp): the
/// peer's path ends in a `ws` URI with an `.invalid` host (RFC 7977 §5.2),
/// and its empty SEND asks for a success REPORT, which it waits 120 s for.
/// The accepting session binds, answers the previous hop, and REPORTs along
/// the whole path.
#[tokio::test]
async fn browser_behind_a_gateway() {
    let from = "msrp://127.0.0.1:9/gw4yS3ss;tcp msrps://k3j4h5g6.invalid:2855/a1b2c3d4e5;ws";
    let empty = "MSRP p0o9i8u7 SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: 3927600005.i9o8p7l6\r\nSuccess-Report: yes\r\nFailure-Report: yes\r\nByte-Range: 1-0/0\r\n-------p0o9i8u7$\r\n";
    // As the binding: answered 200, then the REPORT it asks for.
    let config = SessionConfig::default();
    let mut b = bind_from(EndpointConfig::default(), config, empty, from).await;
    let report = b.next_request().await;
    assert_eq!(report.method().map(|m| m.as_str()), Some("REPORT"));
    assert_eq!(report.message_id(), Some("3927600005.i9o8p7l6"));
    assert_eq!(report.byte_range().to_string(), "1-0/0");
    assert_eq!(report.to_path().unwrap().to_string(), from);
    // Again within the session: the same.
    b.expect(&empty.replace("p0o9i8u7", "p0o9i8u8"), Some(200))
        .await;
    let report = b.next_request().await;
    assert_eq!(report.byte_range().to_string(), "1-0/0");
    // A message: answered to the previous hop, REPORTed along the path.
    b.send("MSRP b5r0ws3r SEND\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\nMessage-ID: br0ws3rm3ss4g3\r\nSuccess-Report: yes\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------b5r0ws3r$\r\n").await;
    let report = b.next_request().await;
    assert_eq!(report.method().map(|m| m.as_str()), Some("REPORT"));
    assert_eq!(report.message_id(), Some("br0ws3rm3ss4g3"));
    assert_eq!(report.to_path().unwrap().to_string(), from);
    assert_eq!(b.response("b5r0ws3r").await.code(), Some(200));
    assert_eq!(b.message("br0ws3rm3ss4g3").await, b"hi");
    b.probe().await;
}
