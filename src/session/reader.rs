//! The session's reader task: owns the read half; matches responses to
//! transactions, answers incoming requests as RFC 4975 §7.2 says (per their
//! Failure-Report), reassembles messages, sends success REPORTs, passes
//! REPORTs up, expires transactions after the response timeout, and reports
//! the end of the session.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::incoming::{IncomingState, Reassembled};
use super::limits;
use super::writer::Command;
use super::{
    content_type_accepted, CloseReason, IncomingMessage, Inner, Liveness, SessionEvent, Unfinished,
};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::{ByteRange, Chunk, Header, Method};
use crate::transport::{TransportError, TransportReader};

struct Reader {
    inner: Arc<Inner>,
    incoming: HashMap<String, IncomingState>,
    /// Messages refused (415/413): their further chunks get the same answer.
    refused: HashMap<String, u16>,
}

pub(crate) async fn run(inner: Arc<Inner>, mut r: TransportReader, writer: JoinHandle<()>) {
    let mut rd = Reader {
        inner: inner.clone(),
        incoming: HashMap::new(),
        refused: HashMap::new(),
    };
    let mut liveness = Liveness::new(inner.config.liveness_timeout);
    let reason = loop {
        let deadline = inner.next_deadline();
        let liveness_deadline = liveness.deadline(&inner, !rd.incoming.is_empty());
        let read = tokio::select! {
            biased;
            c = r.read_chunk(None) => c,
            _ = sleep_until(deadline) => {
                for e in inner.expire(Instant::now()) {
                    inner.emit(e).await;
                }
                continue;
            }
            _ = sleep_until(liveness_deadline) => {
                if let Some(reason) = liveness.dead(&inner, !rd.incoming.is_empty()) {
                    break reason;
                }
                continue;
            }
            _ = inner.deadline_added.notified() => continue,
            _ = inner.writer_failed.notified() => {
                let text = inner.shared.lock().expect("session state").write_error.clone();
                break CloseReason::Error(text.unwrap_or_else(|| "write failed".into()));
            }
        };
        liveness.received();
        match read {
            Ok(chunk) => rd.handle(chunk).await,
            Err(TransportError::Parse(e)) if !e.fatal => {
                if e.can_answer() {
                    if let Some(head) = &e.head {
                        rd.respond(head, 400, Some(&e.detail));
                    }
                }
            }
            Err(TransportError::Closed) => break CloseReason::Peer,
            Err(e) => break CloseReason::Error(e.to_string()),
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
    fn respond(&self, request: &Chunk, code: u16, comment: Option<&str>) {
        if let Some(resp) = self.inner.info.make_response(request, code, comment) {
            let _ = self.inner.commands.send(Command::Urgent(resp));
        }
    }

    async fn handle(&mut self, chunk: Chunk) {
        match chunk.method() {
            None => {
                let tid = chunk.transaction_id.clone();
                for e in self.inner.complete_transaction(&tid, chunk) {
                    self.inner.emit(e).await;
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
        self.inner.note_report(&id, status.code, chunk.byte_range());
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
        self.inner.emit(event).await;
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
        let refused_by_application = self
            .inner
            .refusals
            .lock()
            .expect("session state")
            .remove(&message_id);
        if let Some(code) = refused_by_application {
            self.incoming.remove(&message_id);
            self.refuse(&chunk, &message_id, code);
            return;
        }
        if let Some(&code) = self.refused.get(&message_id) {
            self.respond(&chunk, code, None);
            return;
        }
        let config = &self.inner.config;
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
            self.inner.emit(SessionEvent::Chunk(chunk.clone())).await;
        }
        let max_mem = config.max_message_size;
        let inner = &self.inner;
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
        if state.held() > 0 {
            let held: u64 = self.incoming.values().map(IncomingState::held).sum();
            if held > config.max_buffered_incoming || limits::total_exceeded() {
                // The chunk that takes the session (or the library) over its
                // budget: the message is refused with 413 (RFC 4975 §7.2);
                // its earlier chunks stay acknowledged.
                msrp_log!(
                    self.inner.info.logger,
                    Level::Warn,
                    "message {message_id}: refused with 413: {held} octets held for reassembly in this session (limit {}), {} in the library (limit {})",
                    config.max_buffered_incoming,
                    limits::total_buffered(),
                    limits::total_buffered_limit()
                );
                self.incoming.remove(&message_id);
                self.refuse(&chunk, &message_id, 413);
                return;
            }
        }
        let state = self.incoming.get_mut(&message_id).expect("present");
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
                    let e = SessionEvent::MessageData {
                        message_id: message_id.clone(),
                        content_type: content_type.clone(),
                        offset,
                        data,
                        total,
                    };
                    self.inner.emit(e).await;
                }
                Reassembled::Aborted { bytes } => {
                    self.incoming.remove(&message_id);
                    self.inner
                        .emit(SessionEvent::Aborted {
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
                    self.inner.emit(e).await;
                }
            }
        }
        if report_progress && self.incoming.contains_key(&message_id) {
            self.inner
                .emit(SessionEvent::Progress {
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
    fn send_report(&self, chunk: &Chunk, bytes: u64) {
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
        let _ = self.inner.commands.send(Command::Urgent(report));
    }
}
