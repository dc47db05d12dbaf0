//! The session's reader task: owns the read half; matches responses to
//! transactions, answers incoming requests as RFC 4975 §7.2 says (per their
//! Failure-Report), reassembles messages, sends success REPORTs, passes
//! REPORTs up, expires transactions after the response timeout, and reports
//! the end of the session.
//!
//! Everything one socket read brought is handled before anything is handed
//! on: the responses and REPORTs it produced go to the writer as one batch
//! (one wake-up, one socket write), and consecutive pieces of one streamed
//! message are delivered as one [`SessionEvent::MessageData`], both just
//! before the reader waits for more input (or sooner, when another event
//! must keep its place in the order).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::incoming::{IncomingState, Reassembled};
use super::writer::Command;
use super::{content_type_accepted, CloseReason, IncomingMessage, Inner, SessionEvent, Unfinished};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::{ByteRange, Chunk, Header, Method};
use crate::transport::{TransportError, TransportReader};

struct Reader {
    inner: Arc<Inner>,
    incoming: HashMap<String, IncomingState>,
    /// Messages refused (415/413): their further chunks get the same answer.
    refused: HashMap<String, u16>,
    /// Responses and REPORTs not yet handed to the writer.
    output: Vec<Chunk>,
    /// Pieces of one streamed message not yet delivered.
    data: Option<PendingData>,
}

/// Consecutive pieces of one incoming message, delivered as one event.
struct PendingData {
    message_id: String,
    content_type: String,
    offset: u64,
    total: Option<u64>,
    pieces: Vec<Bytes>,
    len: usize,
}

/// Most octets gathered into one `MessageData` event. The event queue holds
/// `EVENT_QUEUE` events, so this also bounds what waits there for a slow
/// application (256 × 64 KiB); and a chat message queued behind file data
/// waits for no more than that.
const MAX_DATA_EVENT: usize = 64 * 1024;

pub(crate) async fn run(inner: Arc<Inner>, mut r: TransportReader, writer: JoinHandle<()>) {
    let mut rd = Reader {
        inner: inner.clone(),
        incoming: HashMap::new(),
        refused: HashMap::new(),
        output: Vec::new(),
        data: None,
    };
    let reason = loop {
        let read = match r.read_buffered_chunk() {
            Ok(Some(c)) => Ok(c),
            Err(e) => Err(e),
            Ok(None) => {
                // All that arrived is handled: hand it on before waiting.
                rd.hand_on().await;
                let deadline = inner.next_deadline();
                tokio::select! {
                    biased;
                    c = r.read_chunk(None) => c,
                    _ = sleep_until(deadline) => {
                        for e in inner.expire(Instant::now()) {
                            rd.emit(e).await;
                        }
                        continue;
                    }
                    _ = inner.deadline_added.notified() => continue,
                }
            }
        };
        match read {
            Ok(chunk) => rd.handle(chunk).await,
            Err(TransportError::Parse(e)) if !e.fatal => {
                if e.can_answer() {
                    if let Some(head) = &e.head {
                        rd.respond(head, 400, Some(&e.detail));
                    }
                }
            }
            Err(TransportError::Closed) => {
                rd.hand_on().await;
                break CloseReason::Peer;
            }
            Err(e) => {
                rd.hand_on().await;
                break CloseReason::Error(e.to_string());
            }
        }
    };
    if writer.is_finished() {
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
    let unfinished: Vec<Unfinished> = rd
        .incoming
        .drain()
        .map(|(id, s)| Unfinished {
            message_id: id,
            outgoing: false,
            bytes_acknowledged: s.received.covered(),
        })
        .collect();
    if let Some(unfinished) = inner.take_unfinished(unfinished) {
        writer.abort();
        inner
            .emit(SessionEvent::Closed { reason, unfinished })
            .await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Reader {
    fn respond(&mut self, request: &Chunk, code: u16, comment: Option<&str>) {
        if let Some(resp) = self.inner.info.make_response(request, code, comment) {
            self.output.push(resp);
        }
    }

    /// Hands the responses gathered so far to the writer (one batch).
    fn send_output(&mut self) {
        if !self.output.is_empty() {
            let batch = std::mem::take(&mut self.output);
            let _ = self.inner.commands.send(Command::UrgentBatch(batch));
        }
    }

    /// Delivers the gathered message data.
    async fn deliver_data(&mut self) {
        if let Some(d) = self.data.take() {
            let data = if d.pieces.len() == 1 {
                d.pieces.into_iter().next().expect("one piece")
            } else {
                let mut joined = BytesMut::with_capacity(d.len);
                for p in &d.pieces {
                    joined.extend_from_slice(p);
                }
                joined.freeze()
            };
            let e = SessionEvent::MessageData {
                message_id: d.message_id,
                content_type: d.content_type,
                offset: d.offset,
                data,
                total: d.total,
            };
            self.send_event(e).await;
        }
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

    /// Adds a piece of a streamed message, joined to the previous one when
    /// it continues it.
    async fn add_data(
        &mut self,
        message_id: &str,
        content_type: &str,
        offset: u64,
        data: Bytes,
        total: Option<u64>,
    ) {
        if let Some(d) = &mut self.data {
            if d.message_id == message_id
                && d.offset + d.len as u64 == offset
                && d.len + data.len() <= MAX_DATA_EVENT
            {
                d.len += data.len();
                d.pieces.push(data);
                return;
            }
            self.hand_on().await;
        }
        self.data = Some(PendingData {
            message_id: message_id.to_string(),
            content_type: content_type.to_string(),
            offset,
            total,
            len: data.len(),
            pieces: vec![data],
        });
    }

    async fn handle(&mut self, chunk: Chunk) {
        match chunk.method() {
            None => {
                let tid = chunk.transaction_id.clone();
                for e in self.inner.complete_transaction(&tid, chunk) {
                    self.emit(e).await;
                }
            }
            Some(Method::Send) => self.handle_send(chunk).await,
            Some(Method::Report) => self.handle_report(chunk).await,
            Some(_) => self.respond(&chunk, 501, Some("Not Implemented")),
        }
    }

    async fn handle_report(&mut self, chunk: Chunk) {
        // REPORTs are never answered (RFC 4975 §7.1.2).
        if self.inner.info.check_incoming_send_chunk(&chunk).is_err() {
            return;
        }
        let (Some(id), Some(status)) = (chunk.message_id(), chunk.status()) else {
            return;
        };
        let id = id.to_string();
        if status.code != 200 {
            // §7.3.2: a failure REPORT means the message (or part) failed: stop sending it.
            let mut shared = self.inner.shared.lock().expect("session state");
            if let Some(out) = shared.outgoing.get_mut(&id) {
                out.stopped = true;
                out.first_error.get_or_insert(status.code);
            }
        }
        let event = SessionEvent::Report {
            message_id: id,
            code: status.code,
            comment: status.comment.clone(),
            byte_range: chunk.byte_range(),
        };
        self.emit(event).await;
    }

    async fn handle_send(&mut self, chunk: Chunk) {
        if let Err(e) = self.inner.info.check_incoming_send_chunk(&chunk) {
            self.respond(&chunk, e.code, Some(&e.comment));
            return;
        }
        let Some(message_id) = chunk.message_id().map(str::to_string) else {
            self.respond(&chunk, 400, Some("missing Message-ID"));
            return;
        };
        if !chunk.has_body()
            && chunk.byte_range().total == Some(0)
            && !self.incoming.contains_key(&message_id)
        {
            // A bodiless SEND (binding or keepalive): just answered.
            self.respond(&chunk, 200, None);
            return;
        }
        if let Some(&code) = self.refused.get(&message_id) {
            self.respond(&chunk, code, None);
            return;
        }
        let inner = self.inner.clone();
        let config = &inner.config;
        if !self.incoming.contains_key(&message_id) {
            if let Some(ct) = chunk.content_type() {
                if !content_type_accepted(&config.accept_types, ct) {
                    self.refuse(&chunk, &message_id, 415);
                    return;
                }
            }
            let total = chunk.byte_range().total;
            let too_big = match (config.max_incoming_size, total) {
                (Some(max), Some(t)) => t > max,
                _ => false,
            };
            if too_big || self.incoming.len() >= config.max_incoming_messages {
                self.refuse(&chunk, &message_id, 413);
                return;
            }
        }
        if config.chunk_events {
            self.emit(SessionEvent::Chunk(chunk.clone())).await;
        }
        let max_mem = config.max_message_size;
        let state = self.incoming.entry(message_id.clone()).or_insert_with(|| {
            let resumed = inner
                .resumes
                .lock()
                .expect("session state")
                .remove(&message_id);
            match resumed {
                Some(already) => IncomingState::resumed(&chunk, already),
                None => IncomingState::new(&chunk, max_mem),
            }
        });
        let results = match state.add(&chunk, max_mem) {
            Ok(r) => r,
            Err(reason) => {
                self.incoming.remove(&message_id);
                self.refuse(&chunk, &message_id, 400);
                msrp_log!(
                    self.inner.info.logger,
                    Level::Warn,
                    "message {message_id}: {reason}"
                );
                return;
            }
        };
        if let Some(max) = config.max_incoming_size {
            if state.received.covered() > max {
                self.incoming.remove(&message_id);
                self.refuse(&chunk, &message_id, 413);
                return;
            }
        }
        let content_type = state.content_type.clone();
        let total = state.total;
        let step = config.progress_step;
        let covered = state.received.covered();
        let report_progress = state.streaming() && covered >= state.progress_reported + step;
        if report_progress {
            state.progress_reported = covered;
        }
        // Answer once the data was taken (§7.2: partial gets no 200).
        self.respond(&chunk, 200, None);
        for r in results {
            match r {
                Reassembled::Partial => {}
                Reassembled::Data { offset, data } => {
                    self.add_data(&message_id, &content_type, offset, data, total)
                        .await;
                }
                Reassembled::Aborted { bytes } => {
                    self.incoming.remove(&message_id);
                    self.emit(SessionEvent::Aborted {
                        message_id: message_id.clone(),
                        bytes,
                    })
                    .await;
                }
                Reassembled::Complete { body, bytes } => {
                    let state = self.incoming.remove(&message_id).expect("present");
                    if state.success_report {
                        self.send_report(&chunk, bytes);
                    }
                    let e = match body {
                        Some(body) => SessionEvent::Message(IncomingMessage {
                            message_id: message_id.clone(),
                            content_type: content_type.clone(),
                            headers: state.headers,
                            body,
                        }),
                        None => SessionEvent::MessageComplete {
                            message_id: message_id.clone(),
                            content_type: content_type.clone(),
                            bytes,
                        },
                    };
                    self.emit(e).await;
                }
            }
        }
        if report_progress && self.incoming.contains_key(&message_id) {
            self.emit(SessionEvent::Progress {
                message_id,
                outgoing: false,
                bytes: covered,
                total,
            })
            .await;
        }
    }

    /// Refuses a message: the error answer (for Failure-Report yes or partial),
    /// and its further chunks get the same.
    fn refuse(&mut self, chunk: &Chunk, message_id: &str, code: u16) {
        if self.refused.len() > 1024 {
            self.refused.clear();
        }
        self.refused.insert(message_id.to_string(), code);
        // No 200 was sent for this chunk, so the error response (when its
        // Failure-Report asks for one) is the whole answer (§7.1.4).
        self.respond(chunk, code, None);
    }

    /// A success REPORT covering the whole message (RFC 4975 §7.1.4): its
    /// To-Path is the whole From-Path of the request (§7.1.3 via §7.2).
    fn send_report(&mut self, chunk: &Chunk, bytes: u64) {
        let info = &self.inner.info;
        let mut report = Chunk::request(crate::protocol::ids::transaction_id(), Method::Report);
        report.add_header(Header::ToPath(
            chunk
                .from_path()
                .cloned()
                .unwrap_or_else(|| info.to_path.clone()),
        ));
        report.add_header(Header::FromPath(vec![info.local_uri.clone()]));
        report.add_header(Header::MessageId(
            chunk.message_id().unwrap_or_default().to_string(),
        ));
        report.add_header(Header::ByteRange(ByteRange {
            start: 1,
            end: Some(bytes),
            total: Some(bytes),
        }));
        report.set_status(200, Some("OK".to_string()));
        self.output.push(report);
    }
}
