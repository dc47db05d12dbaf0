//! The session's reader task: owns the read half; matches responses to
//! transactions, answers incoming requests as RFC 4975 §7.2 says (per their
//! Failure-Report), reassembles messages, sends success REPORTs, passes
//! REPORTs up, expires transactions after the response timeout, and reports
//! the end of the session.
//!
//! Everything one socket read brought is handled before anything is handed
//! on: the responses and REPORTs it produced go to the writer as one batch
//! (one wake-up, one socket write), then the events it made (data and the
//! others, in their order) go to the application together (one wake-up),
//! just before the reader waits for more input. Handling a chunk never
//! waits. Consecutive pieces of one message are gathered into events of
//! up to 256 KiB (their slices as received, not copied) while the
//! application keeps up, and joined into events of 32 KiB while it falls
//! behind.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::requests::{Action, Application, DataPiece, IncomingRequests};
use super::writer::{Command, Urgent};
use super::{CloseReason, Inner, Liveness, Octets, SessionEvent};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::{Chunk, Header, Method};
use crate::transport::{
    response_due, success_report, ResponseEncoder, TransportError, TransportReader,
};

struct Reader {
    inner: Arc<Inner>,
    requests: IncomingRequests,
    /// Responses and REPORTs not yet handed to the writer.
    output: Vec<Urgent>,
    /// Encodes this session's responses (the local URI's text once).
    responses: ResponseEncoder,
    /// Whether the logger wants the wire hooks: then responses go to the
    /// writer as chunks, which the hooks take.
    wire_log: bool,
    /// Pieces of one streamed message not yet delivered.
    data: Option<PendingData>,
    /// Events made from what the current socket read brought, delivered
    /// all together (kept for its room while chunks keep coming).
    ready: Vec<SessionEvent>,
    /// The list of pieces of the last delivered data, kept for its room.
    spare_pieces: Vec<Bytes>,
    /// What [`IncomingRequests`] decided for the current chunk (kept for
    /// its room: no allocation per chunk).
    actions: Vec<Action>,
    /// The request whose chunk is being read in segments, when one is.
    segmented: Option<Segmented>,
    /// Most payload of one chunk read in one piece: a longer chunk is read
    /// in segments of about this size, so a peer's chunk of any length is
    /// received in bounded memory.
    segment_size: usize,
}

/// A request whose chunk is longer than the segment size, read in
/// segments (virtual chunks with their own Byte-Range). It gets one
/// response, as any request: the first error a segment meets (then its
/// further segments are dropped unread), or after its last segment.
struct Segmented {
    transaction_id: String,
    /// The response was sent (an error): the rest of the chunk is dropped.
    answered: bool,
    /// The segment being handled is not the last: a 200 is held back.
    hold_success: bool,
}

/// Consecutive pieces of one incoming message, delivered as one event.
struct PendingData {
    message_id: Arc<str>,
    content_type: Arc<str>,
    offset: u64,
    total: Option<u64>,
    pieces: Vec<Bytes>,
    len: usize,
}

/// Most octets gathered into one `MessageData` event while the application
/// keeps up (at most [`BUSY_QUEUE`] events wait in its queue): the fewer
/// events, the fewer times an application on another thread is woken.
const MAX_DATA_EVENT: usize = 256 * 1024;
/// Most octets gathered into one `MessageData` event while more events than
/// [`BUSY_QUEUE`] wait. So what waits in the queue for a slow application
/// stays under 16 MiB: at most `BUSY_QUEUE + 1` events of 256 KiB and the
/// rest of the `EVENT_QUEUE` (256) events of 32 KiB, 15.2 MiB (a piece
/// larger than the limit, from a peer's large chunk, is cut into events of
/// the limit); and a chat message queued behind file data waits for no
/// more than that.
const BUSY_DATA_EVENT: usize = 32 * 1024;
/// Events waiting for the application above which it counts as busy.
const BUSY_QUEUE: usize = 32;

pub(crate) async fn run(inner: Arc<Inner>, mut r: TransportReader, writer: JoinHandle<()>) {
    let mut rd = Reader {
        inner: inner.clone(),
        requests: IncomingRequests::default(),
        output: Vec::new(),
        responses: ResponseEncoder::new(&inner.info.local_uri),
        wire_log: inner.info.logger.wants_wire(),
        data: None,
        ready: Vec::new(),
        spare_pieces: Vec::new(),
        actions: Vec::new(),
        segmented: None,
        segment_size: segment_size(&inner),
    };
    let mut liveness = Liveness::new(inner.config.liveness_timeout);
    let reason = loop {
        let read = match r.read_buffered_piece(rd.segment_size) {
            Ok(Some(c)) => Ok(c),
            Err(e) => Err(e),
            Ok(None) => {
                // All that arrived is handled: hand it on before waiting.
                Box::pin(rd.hand_on()).await;
                rd.release_idle();
                let deadline = inner.next_deadline();
                let liveness_deadline = liveness.deadline(&inner, !rd.requests.incoming.is_empty());
                tokio::select! {
                    biased;
                    c = r.read_chunk(Some(rd.segment_size)) => c,
                    _ = sleep_until(deadline) => {
                        for e in inner.expire(Instant::now()) {
                            Box::pin(rd.emit(e)).await;
                        }
                        continue;
                    }
                    _ = sleep_until(liveness_deadline) => {
                        if let Some(reason) = liveness.dead(&inner, !rd.requests.incoming.is_empty()) {
                            break reason;
                        }
                        continue;
                    }
                    _ = inner.deadline_added.notified() => continue,
                    _ = inner.writer_failed.notified() => {
                        let text = inner.shared.lock().expect("session state").write_error.clone();
                        break CloseReason::Error(text.unwrap_or_else(|| "write failed".into()));
                    }
                }
            }
        };
        liveness.received();
        match read {
            // Handling a chunk never waits: its answer joins the batch for
            // the writer and its events the ones for the application, both
            // handed on before the reader waits for more input.
            Ok(chunk) => {
                let more = chunk.segment > 0 && r.in_chunk();
                // What is left of it is room for the next chunk parsed.
                if let Some(chunk) = rd.handle_piece(chunk, more) {
                    r.recycle(chunk);
                }
            }
            Err(TransportError::Parse(e)) if !e.fatal => {
                // A request the parser framed but could not accept: the
                // RFC's answer and the session goes on (RFC 4975 §7.2);
                // the transport logged why. A request already answered in
                // an earlier segment gets nothing more.
                let answered = rd.segmented.take().is_some_and(|s| {
                    s.answered && e.transaction_id.as_deref() == Some(s.transaction_id.as_str())
                });
                if e.can_answer() && !answered {
                    if let Some(head) = &e.head {
                        rd.respond(head, 400, Some(&e.detail));
                    }
                }
            }
            Err(TransportError::Closed) => {
                Box::pin(rd.hand_on()).await;
                break CloseReason::Peer;
            }
            Err(e) => {
                Box::pin(rd.hand_on()).await;
                break CloseReason::Error(e.to_string());
            }
        }
    };
    let write_failed = inner
        .shared
        .lock()
        .expect("session state")
        .write_error
        .is_some();
    if writer.is_finished() && !write_failed {
        // The writer ended the session (local shutdown) and reported it.
        return;
    }
    msrp_log!(
        inner.info.logger,
        Level::Info,
        "session {}: {}",
        inner.info.local_uri,
        reason
    );
    let unfinished = rd.requests.unfinished();
    if let Some(unfinished) = inner.take_unfinished(unfinished) {
        writer.abort();
        Box::pin(inner.emit(SessionEvent::Closed { reason, unfinished })).await;
    }
}

/// The session's segment size: the configured largest assembled chunk,
/// at most the parser's default bound (64 MiB).
fn segment_size(inner: &Inner) -> usize {
    let max = inner
        .info
        .limits
        .max_assembled_chunk
        .min(crate::protocol::Limits::default().max_assembled_chunk);
    usize::try_from(max).unwrap_or(usize::MAX)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What the application announced through the [`super::Session`] handle.
struct Announced<'a>(&'a Inner);

impl Application for Announced<'_> {
    // Asked for every chunk: an empty map (the usual case) is not hashed.
    fn take_resume(&mut self, message_id: &str) -> Option<u64> {
        let mut resumes = self.0.resumes.lock().expect("session state");
        if resumes.is_empty() {
            return None;
        }
        resumes.remove(message_id)
    }

    fn take_refusal(&mut self, message_id: &str) -> Option<u16> {
        let mut refusals = self.0.refusals.lock().expect("session state");
        if refusals.is_empty() {
            return None;
        }
        refusals.remove(message_id)
    }
}

impl Reader {
    /// Queues the response to `request` when one is due (RFC 4975 §7.2),
    /// encoded: consecutive responses share one buffer. A request without
    /// a From-Path is answered to the previous hop this session knows (the
    /// first hop of its own To-Path: whoever is at the other end of the
    /// connection).
    fn respond(&mut self, request: &Chunk, code: u16, comment: Option<&str>) {
        if let Some(s) = &mut self.segmented {
            if s.transaction_id == request.transaction_id {
                if code == 200 && s.hold_success {
                    return; // its 200 comes after its last segment
                }
                s.answered = true;
            }
        }
        if request.from_path().is_none() {
            if let Some(hop) = self.inner.info.to_path.first() {
                let mut request = request.clone();
                request.add_header(Header::FromPath(vec![hop.clone()].into()));
                return self.respond(&request, code, comment);
            }
        }
        if self.wire_log {
            if let Some(resp) = self.inner.info.make_response(request, code, comment) {
                self.output.push(Urgent::Chunk(resp));
            }
            return;
        }
        if !response_due(request, code) {
            return;
        }
        if !matches!(self.output.last(), Some(Urgent::Encoded(_))) {
            self.output.push(Urgent::Encoded(Vec::with_capacity(1024)));
        }
        let Some(Urgent::Encoded(out)) = self.output.last_mut() else {
            unreachable!("an encoded batch was just pushed");
        };
        self.responses
            .encode_response_to(request, code, comment, out);
    }

    /// Lets go of the lists kept for their room while chunks keep coming:
    /// an idle session holds none (they are made again once per socket
    /// read, not per chunk).
    fn release_idle(&mut self) {
        self.actions = Vec::new();
        self.spare_pieces = Vec::new();
        self.ready = Vec::new();
        self.requests.release_idle();
        self.responses.release_idle();
    }

    /// Hands the responses gathered so far to the writer (one batch).
    fn send_output(&mut self) {
        if !self.output.is_empty() {
            let batch = std::mem::take(&mut self.output);
            let _ = self.inner.commands.send(Command::UrgentBatch(batch));
        }
    }

    /// Turns the pieces gathered so far into one `MessageData` event,
    /// which waits in `ready` until the reader hands everything on.
    ///
    /// While the application keeps up, the event carries the pieces as
    /// they are: slices of the buffers they were read into, not copied
    /// (at most `BUSY_QUEUE + 1` such events wait, each sharing read
    /// buffers of at most 256 KiB). Once it falls behind, several pieces
    /// are joined into one buffer of exactly their octets, so that what
    /// waits for a stalled application is the octets it counts, not whole
    /// read buffers behind small slices.
    fn seal_data(&mut self) {
        if let Some(mut d) = self.data.take() {
            let data = if d.pieces.len() == 1 || self.data_event_limit() == MAX_DATA_EVENT {
                Octets::from_slices(std::mem::take(&mut d.pieces))
            } else {
                let mut joined = BytesMut::with_capacity(d.len);
                for p in d.pieces.drain(..) {
                    joined.extend_from_slice(&p);
                }
                self.spare_pieces = d.pieces;
                Octets::from(joined.freeze())
            };
            self.ready.push(SessionEvent::MessageData {
                message_id: d.message_id.to_string(),
                content_type: d.content_type.to_string(),
                offset: d.offset,
                data,
                total: d.total,
            });
        }
    }

    /// Delivers the events gathered (data and others, in order). The events
    /// made from one socket read go to the application together: it wakes
    /// once for them, not once per event.
    async fn deliver_data(&mut self) {
        self.seal_data();
        if self.ready.is_empty() {
            return;
        }
        let mut ready = std::mem::take(&mut self.ready);
        for e in ready.drain(..) {
            self.send_event(e).await;
        }
        self.ready = ready;
    }

    /// Queues an event for the application. When its queue is full the
    /// gathered responses go to the writer first: they never wait for the
    /// application.
    async fn send_event(&mut self, event: SessionEvent) {
        match self.inner.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                self.send_output();
                let _ = self.inner.events.send(event).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Hands on everything gathered: responses first, then message data.
    async fn hand_on(&mut self) {
        self.send_output();
        self.deliver_data().await;
    }

    /// Emits an event in its place: what was gathered before it goes first.
    /// The responses go to the writer before the application hears of the
    /// request: an application that closes the session from its callback
    /// must not keep the peer from getting the answer to what it saw.
    async fn emit(&mut self, event: SessionEvent) {
        self.hand_on().await;
        self.send_event(event).await;
    }

    /// Queues an event made while handling a chunk, after the data gathered
    /// before it; it goes to the application with the others of this
    /// socket read.
    fn queue_event(&mut self, event: SessionEvent) {
        self.seal_data();
        self.ready.push(event);
    }

    /// Most octets the next `MessageData` event may gather: less while the
    /// application falls behind (see [`BUSY_DATA_EVENT`]).
    fn data_event_limit(&self) -> usize {
        let events = &self.inner.events;
        let waiting = events.max_capacity() - events.capacity() + self.ready.len();
        if waiting <= BUSY_QUEUE {
            MAX_DATA_EVENT
        } else {
            BUSY_DATA_EVENT
        }
    }

    /// Adds a piece of a streamed message, joined to the previous one when
    /// it continues it.
    /// (It never waits: data gathered before is sealed into an event that
    /// waits with the others of this read.)
    fn add_data(&mut self, piece: DataPiece) {
        let limit = self.data_event_limit();
        if let Some(d) = &mut self.data {
            if (Arc::ptr_eq(&d.message_id, &piece.message_id) || d.message_id == piece.message_id)
                && d.offset + d.len as u64 == piece.offset
                && d.len + piece.data.len() <= limit
            {
                d.len += piece.data.len();
                d.pieces.push(piece.data);
                return;
            }
            self.seal_data();
        }
        // A piece larger than an event may be (from a peer's large chunk) is
        // cut into events of the limit: slices of the same octets, no copy,
        // so the bound on what waits for the application holds whatever the
        // chunk size.
        let mut piece = piece;
        loop {
            let limit = self.data_event_limit();
            if piece.data.len() <= limit {
                break;
            }
            let head = DataPiece {
                message_id: piece.message_id.clone(),
                content_type: piece.content_type.clone(),
                offset: piece.offset,
                data: piece.data.split_to(limit),
                total: piece.total,
            };
            piece.offset += limit as u64;
            self.start_data(head);
            self.seal_data();
        }
        self.start_data(piece);
    }

    /// Starts gathering data with `piece` (nothing is gathered).
    fn start_data(&mut self, piece: DataPiece) {
        debug_assert!(self.data.is_none());
        let mut pieces = std::mem::take(&mut self.spare_pieces);
        let len = piece.data.len();
        pieces.push(piece.data);
        self.data = Some(PendingData {
            message_id: piece.message_id,
            content_type: piece.content_type,
            offset: piece.offset,
            total: piece.total,
            len,
            pieces,
        });
    }

    /// Handles a whole chunk, or a segment of a long one (`more`: further
    /// segments of it follow). A long request's segments go through the
    /// same steps as whole chunks, each with its own Byte-Range, but the
    /// request gets one response: the first error, after which its further
    /// segments are dropped, or the 200 after its last segment (RFC 4975
    /// §7.2: a request has one response; §7.1.1 sets no chunk size).
    fn handle_piece(&mut self, chunk: Chunk, more: bool) -> Option<Chunk> {
        if chunk.segment == 0 {
            self.segmented = None;
            return self.handle(chunk);
        }
        let same = self
            .segmented
            .as_ref()
            .is_some_and(|s| s.transaction_id == chunk.transaction_id);
        if !same {
            self.segmented = Some(Segmented {
                transaction_id: chunk.transaction_id.clone(),
                answered: false,
                hold_success: false,
            });
        }
        let segmented = self.segmented.as_mut().expect("set above");
        if segmented.answered {
            if !more {
                self.segmented = None;
            }
            return Some(chunk);
        }
        segmented.hold_success = more;
        // Only a SEND's payload means anything: anything else is handled
        // (answered, reported) once, with its first segment.
        let once = chunk.method() != Some(&Method::Send);
        let chunk = self.handle(chunk);
        match &mut self.segmented {
            Some(_) if !more => self.segmented = None,
            Some(s) if once => s.answered = true,
            _ => {}
        }
        chunk
    }

    /// Handles one chunk (RFC 4975 §7.2): the response to a request sent,
    /// or a request answered and its data and events gathered. Returns the
    /// chunk unless an event or a waiting caller kept it.
    fn handle(&mut self, chunk: Chunk) -> Option<Chunk> {
        match chunk.method() {
            None => {
                let mut response = Some(chunk);
                for e in self.inner.complete_transaction(&mut response) {
                    self.queue_event(e);
                }
                return response;
            }
            Some(Method::Send) => {
                if let Err(e) = self.inner.info.check_incoming_send_chunk(&chunk) {
                    self.respond(&chunk, e.code, Some(&e.comment));
                    return Some(chunk);
                }
                let inner = &self.inner;
                let mut actions = std::mem::take(&mut self.actions);
                self.requests
                    .send_into(&chunk, &inner.config, &mut Announced(inner), &mut actions);
                self.carry_out(&chunk, &mut actions);
                self.actions = actions;
            }
            Some(Method::Report) => {
                if self.inner.info.check_incoming_send_chunk(&chunk).is_err() {
                    return Some(chunk); // REPORTs are never answered (RFC 4975 §7.1.2)
                }
                if let (Some(id), Some(status)) = (chunk.message_id(), chunk.status()) {
                    self.inner.note_report(id, status.code, chunk.byte_range());
                }
                let mut actions = self.requests.report(&chunk);
                self.carry_out(&chunk, &mut actions);
            }
            Some(_) => self.respond(&chunk, 501, Some("Not Implemented")),
        }
        Some(chunk)
    }

    /// Carries out what [`IncomingRequests`] decided for `request`.
    fn carry_out(&mut self, request: &Chunk, actions: &mut Vec<Action>) {
        for action in actions.drain(..) {
            match action {
                Action::Respond { code, comment } => {
                    self.respond(request, code, comment.as_deref())
                }
                Action::SuccessReport { bytes } => self.send_report(request, bytes),
                Action::StopOutgoing { message_id, code } => {
                    let mut shared = self.inner.shared.lock().expect("session state");
                    if let Some(out) = shared.outgoing.get_mut(&message_id) {
                        out.stopped = true;
                        out.first_error.get_or_insert(code);
                    }
                }
                Action::Data(piece) => self.add_data(piece),
                Action::Event(e) => {
                    let e = super::imdn::on_event(&self.inner, e);
                    self.queue_event(e)
                }
                Action::Warn(text) => {
                    msrp_log!(self.inner.info.logger, Level::Warn, "{text}")
                }
            }
        }
    }

    /// A success REPORT covering the whole message (RFC 4975 §7.1.4): its
    /// To-Path is the whole From-Path of the request (§7.1.3 via §7.2).
    fn send_report(&mut self, chunk: &Chunk, bytes: u64) {
        let info = &self.inner.info;
        let report = success_report(chunk, &info.local_uri, &info.to_path, bytes);
        self.output.push(Urgent::Chunk(report));
    }
}
