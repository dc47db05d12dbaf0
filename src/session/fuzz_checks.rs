//! The property check behind the `session` cargo-fuzz target (`fuzz/`) and
//! the test that replays its regressions (`tests/fuzz_regressions.rs`).
//!
//! The fuzz input is decoded into a session configuration and a sequence of
//! operations: SEND chunks (chosen Message-ID, Byte-Range, continuation flag,
//! Failure-/Success-Report, Content-Type, payload), REPORTs with a Status,
//! and the application announcing a resumed message. Each request is encoded
//! to wire format, read back by the chunk reader as the transport would, and
//! handed to the session's sans-I/O request handling ([`IncomingRequests`]).
//! Besides "no panic", [`check_session`] asserts after every operation:
//!
//! - every SEND gets exactly one answer decision, a REPORT none (§7.1.2);
//!   nothing is delivered from a chunk that was not answered 200;
//! - memory stays within the configuration: at most `max_incoming_messages`
//!   messages in reassembly, none holding more than `max_message_size`
//!   octets or more than `max_incoming_size` received, together at most
//!   `max_buffered_incoming` octets held, at most
//!   [`MAX_RANGES`] separate ranges each, a bounded list of refused IDs;
//! - nothing of a message is delivered after the application refused it;
//! - a Message-ID is delivered complete at most once, and never after it was
//!   reported aborted, unless the application announced its resume (fuzz
//!   inputs are too short to make the session forget a finished Message-ID,
//!   which it does beyond [`MAX_FINISHED`]);
//! - a completed message was delivered whole: every octet from 1 to its total
//!   (held by the application through a resume, or handed out as data);
//! - delivered octets are the ones sent: payloads are a fixed function of the
//!   Message-ID and the octet's position, so any data event or whole message
//!   can be checked octet by octet (unless the input also sent arbitrary
//!   octets under that Message-ID);
//! - a success REPORT goes out only with the completion of a message that
//!   asked for one.
//!
//! To see what an input does, replay it with `MSRP_FUZZ_TRACE=1` set (e.g.
//! `MSRP_FUZZ_TRACE=1 fuzz/target/<host>/release/session FILE`).
//!
//! Not a stable API.

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};

use super::incoming::MAX_RANGES;
use super::requests::{Action, Application, IncomingRequests, MAX_FINISHED, MAX_REFUSED};
use super::{IncomingMessage, RangeSet, SessionConfig, SessionEvent};
use crate::protocol::{
    ByteRange, Chunk, ChunkReader, Continuation, FailureReport, Header, Limits, Method,
    SuccessReport, Uri,
};

/// Reads the fuzz input a byte at a time; zeros once it is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}

/// The Message-IDs the operations choose from.
const MESSAGE_IDS: [&str; 4] = ["msgA1234", "msgB1234", "msgC1234", "msgD1234"];

/// The octet at 0-based `position` of the message `message_id` when sent
/// consistently: a lowercase letter, so never part of an end-line and never
/// the zero a buffer is filled with.
pub fn octet(message_id: &str, position: u64) -> u8 {
    let seed = message_id
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31) ^ b as u64);
    b'a' + (position.wrapping_mul(7).wrapping_add(seed) % 26) as u8
}

fn config(input: &mut Input) -> SessionConfig {
    let a = input.byte();
    let b = input.byte();
    SessionConfig {
        accept_types: if a & 1 == 0 {
            vec!["*".to_string()]
        } else {
            vec!["text/*".to_string(), "message/cpim".to_string()]
        },
        max_message_size: [0, 4, 16, 64, 1000, 1 << 20][(a >> 1) as usize % 6],
        max_incoming_size: [None, Some(8), Some(64), Some(300), Some(5000)][(a >> 4) as usize % 5],
        max_incoming_messages: [1, 2, 3, 64][(b & 3) as usize],
        max_buffered_incoming: [100, 16, 2000, 1 << 20][((b >> 5) & 3) as usize],
        chunk_events: b & 4 != 0,
        progress_step: [1, 10, 100, 1 << 20][((b >> 3) & 3) as usize],
        ..SessionConfig::default()
    }
}

/// A position or length: small values mostly, some large, some near the end
/// of the u64 range.
fn number(b: u8) -> u64 {
    match b {
        0..=199 => b as u64,
        200..=249 => (b as u64 - 199) * 97,
        _ => u64::MAX - (255 - b as u64) * 1000,
    }
}

/// The application's announcements, as the model holds them.
struct Announced<'a> {
    resumes: &'a mut HashMap<String, u64>,
    refusals: &'a mut HashMap<String, u16>,
    /// What was taken during the last SEND.
    resumed: Option<u64>,
    refused: Option<u16>,
}

impl Application for Announced<'_> {
    fn take_resume(&mut self, message_id: &str) -> Option<u64> {
        self.resumed = self.resumes.remove(message_id);
        self.resumed
    }

    fn take_refusal(&mut self, message_id: &str) -> Option<u16> {
        self.refused = self.refusals.remove(message_id);
        self.refused
    }
}

/// What the model knows of the messages of one run.
#[derive(Default)]
struct Model {
    /// Message-IDs under which arbitrary octets were sent.
    arbitrary: HashSet<String>,
    completed: HashSet<String>,
    aborted: HashSet<String>,
    /// Octets handed to the application, per Message-ID (1-based ranges).
    delivered: HashMap<String, RangeSet>,
    /// Resumes announced and not yet taken: Message-ID → octets held.
    resumes: HashMap<String, u64>,
    /// Refusals announced and not yet taken: Message-ID → code.
    refusals: HashMap<String, u16>,
    /// Message-IDs the application refused, with the code: nothing more is
    /// delivered, later chunks may get that code.
    refused: HashMap<String, u16>,
}

/// What one run of [`check_session`] saw (for tests of the check itself).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Message-IDs delivered complete.
    pub completed: usize,
    /// Message-IDs reported aborted.
    pub aborted: usize,
    /// REPORTs handed to the application.
    pub reports: usize,
}

/// Decodes `data` as described in the module documentation and checks the
/// properties listed there; panics when one fails.
pub fn check_session(data: &[u8]) -> Summary {
    let mut input = Input { data };
    let config = config(&mut input);
    let local = Uri::parse("msrp://127.0.0.1:2855/local1234;tcp").expect("valid");
    let remote = Uri::parse("msrp://127.0.0.1:2856/remote123;tcp").expect("valid");
    let mut requests = IncomingRequests::default();
    let mut model = Model::default();
    let mut reader = ChunkReader::new(Limits::default());
    let mut operation = 0u32;
    let mut reports = 0;
    // For triage: MSRP_FUZZ_TRACE=1 prints each SEND and what it led to.
    let trace = std::env::var_os("MSRP_FUZZ_TRACE").is_some();
    while !input.is_empty() {
        operation += 1;
        let kind = input.byte();
        let b1 = input.byte();
        let id_index = (b1 & 3) as usize;
        let message_id = MESSAGE_IDS[id_index];
        match kind % 8 {
            7 if b1 & 0x80 != 0 => {
                // The application refuses the rest of `message_id`.
                let code = [413, 400, 415, 500][((b1 >> 4) & 3) as usize];
                model.refusals.insert(message_id.to_string(), code);
                continue;
            }
            7 => {
                // The application expects `message_id` to be resumed.
                let already = number(input.byte()).max(1);
                model.resumes.insert(message_id.to_string(), already);
                continue;
            }
            6 => {
                let code = [200, 400, 408, 413, 415, 481, 0, 999][(b1 >> 2) as usize % 8];
                let mut chunk = Chunk::request(format!("tr{operation:04}"), Method::Report);
                chunk.add_header(Header::ToPath(vec![local.clone()].into()));
                chunk.add_header(Header::FromPath(vec![remote.clone()].into()));
                if b1 & 0x40 == 0 {
                    chunk.add_header(Header::MessageId(message_id.into()));
                }
                let start = number(input.byte()).max(1);
                let end = start.saturating_add(number(input.byte()));
                chunk.add_header(Header::ByteRange(ByteRange {
                    start,
                    end: Some(end),
                    total: Some(end),
                }));
                chunk.set_status(code, None);
                let Some(chunk) = through_the_reader(&mut reader, &chunk) else {
                    continue;
                };
                let actions = requests.report(&chunk);
                check_report(&chunk, &actions);
                reports += actions
                    .iter()
                    .filter(|a| matches!(a, Action::Event(SessionEvent::Report { .. })))
                    .count();
                continue;
            }
            _ => {}
        }
        // A SEND.
        let b2 = input.byte();
        let with_byte_range = b2 & 0x80 == 0;
        // Without a Byte-Range the chunk is the whole message, from octet 1.
        let start = if with_byte_range {
            number(input.byte()).max(1)
        } else {
            input.byte();
            1
        };
        let length_byte = input.byte();
        let length = match length_byte {
            0..=239 => length_byte as usize,
            _ => (length_byte as usize - 239) * 300,
        };
        let total_byte = input.byte();
        let continuation =
            [Continuation::End, Continuation::More, Continuation::Abort][(b2 & 3) as usize % 3];
        let last = start.saturating_add(length as u64).saturating_sub(1);
        let total = match (b2 >> 2) & 3 {
            0 => None,
            1 => Some(number(total_byte)),
            2 => Some(last),
            _ => Some(40 + 50 * id_index as u64),
        };
        let end = match (b2 >> 4) & 3 {
            0 | 1 => Some(last),
            2 => None,
            _ => Some(last.saturating_add(1)),
        };
        let arbitrary = b2 & 0x40 != 0;
        let payload: Bytes = if arbitrary {
            model.arbitrary.insert(message_id.to_string());
            Bytes::copy_from_slice(input.take(length))
        } else {
            (0..length as u64)
                .map(|i| octet(message_id, (start - 1).wrapping_add(i)))
                .collect::<Vec<u8>>()
                .into()
        };
        let mut chunk = Chunk::request(format!("tr{operation:04}"), Method::Send);
        chunk.add_header(Header::ToPath(vec![local.clone()].into()));
        chunk.add_header(Header::FromPath(vec![remote.clone()].into()));
        if b1 & 4 == 0 {
            chunk.add_header(Header::MessageId(message_id.into()));
        }
        if with_byte_range {
            chunk.add_header(Header::ByteRange(ByteRange { start, end, total }));
        }
        match (b1 >> 3) & 3 {
            0 => {}
            1 => chunk.add_header(Header::FailureReport(FailureReport::No)),
            2 => chunk.add_header(Header::FailureReport(FailureReport::Partial)),
            _ => chunk.add_header(Header::FailureReport(FailureReport::Yes)),
        }
        if b1 & 0x20 != 0 {
            chunk.add_header(Header::SuccessReport(SuccessReport::Yes));
        }
        let content_type = [
            None,
            Some("text/plain"),
            Some("image/png"),
            Some("message/cpim"),
        ][(b1 >> 6) as usize];
        if let Some(ct) = content_type {
            chunk.add_header(Header::ContentType(ct.into()));
        } else if !payload.is_empty() {
            chunk.add_header(Header::ContentType("text/plain".into()));
        }
        chunk.data = payload;
        chunk.continuation = continuation;
        let Some(chunk) = through_the_reader(&mut reader, &chunk) else {
            continue;
        };
        let mut application = Announced {
            resumes: &mut model.resumes,
            refusals: &mut model.refusals,
            resumed: None,
            refused: None,
        };
        let actions = requests.send(&chunk, &config, &mut application);
        let (resumed, refused) = (application.resumed, application.refused);
        if let (Some(code), Some(id)) = (refused, chunk.message_id()) {
            assert!(
                matches!(actions.as_slice(), [Action::Respond { code: c, .. }] if *c == code),
                "a refused message's chunk got {actions:?}"
            );
            model.refused.insert(id.to_string(), code);
        }
        if let (Some(already), Some(id)) = (resumed, chunk.message_id()) {
            // The application holds the first octets of a resumed message.
            let mut held = RangeSet::default();
            held.insert(1, already);
            model.delivered.insert(id.to_string(), held);
            // Announcing a resume makes the Message-ID new again.
            model.completed.remove(id);
            model.aborted.remove(id);
        }
        if trace {
            eprintln!("{}{actions:#?}", String::from_utf8_lossy(&chunk.encode()));
        }
        let refusal = chunk
            .message_id()
            .and_then(|id| model.refused.get(id).copied());
        check_send(&actions, &config, &mut model, refusal);
        check_bounds(&requests, &config);
    }
    Summary {
        completed: model.completed.len(),
        aborted: model.aborted.len(),
        reports,
    }
}

/// Encodes `chunk` and reads it back as the transport would; `None` when the
/// reader refuses it (the transport answers or closes, not the session).
fn through_the_reader(reader: &mut ChunkReader, chunk: &Chunk) -> Option<Chunk> {
    let mut buf = BytesMut::from(&chunk.encode()[..]);
    match reader.read_chunk(&mut buf, None) {
        Ok(Some(c)) if buf.is_empty() => Some(c),
        _ => {
            // Start afresh: the next operation is a new connection's input.
            *reader = ChunkReader::new(Limits::default());
            None
        }
    }
}

fn check_report(chunk: &Chunk, actions: &[Action]) {
    let code = chunk.status().map(|s| s.code);
    for a in actions {
        match a {
            Action::Respond { .. } => panic!("a REPORT was answered: {actions:?}"),
            Action::StopOutgoing { code: c, .. } => {
                assert_ne!(Some(200), code, "a 200 REPORT stopped a message");
                assert_eq!(Some(*c), code);
            }
            Action::Event(SessionEvent::Report { code: c, .. }) => assert_eq!(Some(*c), code),
            other => panic!("unexpected action for a REPORT: {other:?}"),
        }
    }
    if chunk.message_id().is_some() && code.is_some() {
        assert!(
            matches!(
                actions.last(),
                Some(Action::Event(SessionEvent::Report { .. }))
            ),
            "a REPORT did not reach the application: {actions:?}"
        );
    }
}

/// `refusal`: the code the application refused this chunk's message with, if
/// it did.
fn check_send(actions: &[Action], config: &SessionConfig, model: &mut Model, refusal: Option<u16>) {
    let answers: Vec<u16> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Respond { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(1, answers.len(), "a SEND needs one answer: {actions:?}");
    let answer = answers[0];
    assert!(
        [200, 400, 413, 415].contains(&answer) || Some(answer) == refusal,
        "unexpected answer {answer}"
    );
    let mut answered = false;
    let mut report_due: Option<u64> = None;
    for a in actions {
        if let Some(bytes) = report_due.take() {
            let completed = match a {
                Action::Event(SessionEvent::Message(m)) => m.body.len() as u64,
                Action::Event(SessionEvent::MessageComplete { bytes, .. }) => *bytes,
                other => panic!("a success REPORT without a completion: {other:?}"),
            };
            assert_eq!(bytes, completed, "the success REPORT's range");
        }
        match a {
            Action::Respond { .. } => answered = true,
            Action::SuccessReport { bytes } => {
                assert!(answered && answer == 200);
                report_due = Some(*bytes);
            }
            Action::StopOutgoing { .. } => panic!("a SEND stopped an outgoing message"),
            Action::Warn(_) => {}
            Action::Event(SessionEvent::Chunk(_)) => {}
            Action::Event(e) => {
                assert!(
                    answered && answer == 200,
                    "{e:?} from a chunk answered {answer}"
                );
                check_event(e, config, model);
            }
            Action::Data(piece) => {
                let e = piece.to_event();
                assert!(
                    answered && answer == 200,
                    "{e:?} from a chunk answered {answer}"
                );
                check_event(&e, config, model);
            }
        }
    }
    assert!(
        report_due.is_none(),
        "a success REPORT without a completion"
    );
}

fn check_event(event: &SessionEvent, config: &SessionConfig, model: &mut Model) {
    if let SessionEvent::Message(IncomingMessage { message_id: id, .. })
    | SessionEvent::MessageData { message_id: id, .. }
    | SessionEvent::MessageComplete { message_id: id, .. } = event
    {
        assert!(
            !model.refused.contains_key(id),
            "{id} delivered after the application refused it"
        );
    }
    match event {
        SessionEvent::Message(m) => {
            let id = &m.message_id;
            assert!(
                m.body.len() as u64 <= config.max_message_size,
                "a whole message above max_message_size"
            );
            if !model.arbitrary.contains(id) {
                for (i, &b) in m.body.iter().enumerate() {
                    assert_eq!(octet(id, i as u64), b, "{id}: octet {} differs", i + 1);
                }
            }
            completed(model, id);
        }
        SessionEvent::MessageData {
            message_id,
            offset,
            data,
            total,
            ..
        } => {
            if let Some(total) = total {
                assert!(
                    offset.saturating_add(data.len() as u64) <= *total,
                    "data beyond the total"
                );
            }
            if !model.arbitrary.contains(message_id) {
                for (i, &b) in data.slices().iter().flat_map(|s| s.iter()).enumerate() {
                    let position = offset + i as u64;
                    assert_eq!(
                        octet(message_id, position),
                        b,
                        "{message_id}: octet {} differs",
                        position + 1
                    );
                }
            }
            if !data.is_empty() {
                model
                    .delivered
                    .entry(message_id.clone())
                    .or_default()
                    .insert(offset + 1, offset + data.len() as u64);
            }
        }
        SessionEvent::MessageComplete {
            message_id, bytes, ..
        } => {
            let delivered = model
                .delivered
                .get(message_id)
                .map_or(0, RangeSet::contiguous_from_one);
            assert!(
                delivered >= *bytes,
                "{message_id} complete at {bytes} octets with only {delivered} delivered"
            );
            completed(model, message_id);
        }
        SessionEvent::Aborted { message_id, .. } => {
            assert!(
                !model.completed.contains(message_id),
                "{message_id} aborted after it completed"
            );
            model.aborted.insert(message_id.clone());
            model.delivered.remove(message_id);
        }
        SessionEvent::Progress { .. } => {}
        other => panic!("unexpected event for a SEND: {other:?}"),
    }
}

fn completed(model: &mut Model, id: &str) {
    assert!(
        !model.aborted.contains(id),
        "{id} reported complete after it was aborted"
    );
    assert!(
        model.completed.insert(id.to_string()),
        "{id} delivered complete twice"
    );
    model.delivered.remove(id);
}

fn check_bounds(requests: &IncomingRequests, config: &SessionConfig) {
    assert!(requests.incoming.len() <= config.max_incoming_messages);
    assert!(requests.refused_len() <= MAX_REFUSED + 1);
    assert!(requests.finished_len() <= MAX_FINISHED);
    let held: u64 = requests.incoming.values().map(|s| s.held()).sum();
    assert!(
        held <= config.max_buffered_incoming,
        "{held} octets held, above max_buffered_incoming"
    );
    for (id, state) in &requests.incoming {
        assert!(
            state.held() <= config.max_message_size,
            "{id} holds {} octets, above max_message_size",
            state.held()
        );
        if let Some(max) = config.max_incoming_size {
            assert!(
                state.received.covered() <= max,
                "{id} above max_incoming_size"
            );
        }
        assert!(state.received.len() <= MAX_RANGES, "{id}: too many ranges");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/fuzz/corpus_seed/session/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("seed")
    }

    #[test]
    fn seeds_reach_what_they_are_named_for() {
        let done = |completed| Summary {
            completed,
            ..Summary::default()
        };
        assert_eq!(done(1), check_session(&seed("one_chunk")));
        assert_eq!(done(1), check_session(&seed("two_chunks")));
        assert_eq!(done(1), check_session(&seed("out_of_order_streaming")));
        let aborted = Summary {
            aborted: 1,
            ..Summary::default()
        };
        assert_eq!(aborted, check_session(&seed("abort")));
        let resumed = Summary {
            completed: 1,
            reports: 1,
            ..Summary::default()
        };
        assert_eq!(resumed, check_session(&seed("report_and_resume")));
    }

    #[test]
    #[should_panic(expected = "delivered complete twice")]
    fn a_message_completed_twice_is_caught() {
        let mut model = Model::default();
        completed(&mut model, "msgA1234");
        completed(&mut model, "msgA1234");
    }

    #[test]
    #[should_panic(expected = "octet 2 differs")]
    fn a_wrong_octet_is_caught() {
        let body: Bytes = vec![octet("msgA1234", 0), b'-'].into();
        let event = SessionEvent::Message(IncomingMessage {
            message_id: "msgA1234".into(),
            content_type: "text/plain".into(),
            headers: Vec::new(),
            body,
        });
        check_event(&event, &SessionConfig::default(), &mut Model::default());
    }
}
