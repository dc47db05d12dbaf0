//! The decisions the session's reader takes for incoming SEND and REPORT
//! requests, without I/O: which answer each chunk gets (RFC 4975 §7.2),
//! which messages are refused (415, 413) or dropped (400), what the
//! reassembly hands to the application, when a success REPORT is due
//! (§7.1.4) and which failure REPORTs stop an outgoing message (§7.3.2).
//! The reader task (`reader.rs`) carries the resulting [`Action`]s out over
//! the socket and the event channel; the fuzz checks drive them directly.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use super::incoming::{IncomingState, Reassembled};
use super::{
    content_type_accepted, limits, IncomingMessage, SessionConfig, SessionEvent, Unfinished,
};
use crate::protocol::Chunk;

/// What the application announced about incoming messages.
pub(crate) trait Application {
    /// The octets the application already holds of `message_id`, when it
    /// expects the message to be resumed (taken: asked once per message).
    fn take_resume(&mut self, message_id: &str) -> Option<u64>;
    /// The error code the application refuses the rest of `message_id`
    /// with (taken: asked once).
    fn take_refusal(&mut self, message_id: &str) -> Option<u16>;
}

/// One thing to do after an incoming request, in order.
#[derive(Debug)]
pub(crate) enum Action {
    /// Answer the request with this code (the transport leaves out what its
    /// Failure-Report says not to send, §7.2).
    Respond { code: u16, comment: Option<String> },
    /// Send a success REPORT for the whole message of `bytes` octets to
    /// the sender of the request (§7.1.4).
    SuccessReport { bytes: u64 },
    /// A failure REPORT for an outgoing message: stop sending it (§7.3.2).
    StopOutgoing { message_id: String, code: u16 },
    /// Tell the application.
    Event(SessionEvent),
    /// Tell the application of a piece of a streamed message (the common
    /// event, kept without a `String` per piece).
    Data(DataPiece),
    /// Log a warning.
    Warn(String),
}

/// A piece of a streamed message: what [`SessionEvent::MessageData`]
/// carries, with the ids shared with the message's state.
#[derive(Debug)]
pub(crate) struct DataPiece {
    pub(crate) message_id: Arc<str>,
    pub(crate) content_type: Arc<str>,
    pub(crate) offset: u64,
    pub(crate) data: Bytes,
    pub(crate) total: Option<u64>,
}

impl DataPiece {
    /// The event the application would get for this piece alone.
    pub(crate) fn to_event(&self) -> SessionEvent {
        SessionEvent::MessageData {
            message_id: self.message_id.to_string(),
            content_type: self.content_type.to_string(),
            offset: self.offset,
            data: self.data.clone().into(),
            total: self.total,
        }
    }
}

/// Incoming messages being reassembled and the ones refused.
#[derive(Debug, Default)]
pub(crate) struct IncomingRequests {
    pub(crate) incoming: HashMap<String, IncomingState>,
    /// Messages refused (415/413/400): their further chunks get the same answer.
    refused: HashMap<String, u16>,
    /// Messages delivered complete or aborted: their further chunks are
    /// duplicates (RFC 4975 §5.4), answered but not delivered again.
    finished: HashSet<String>,
    /// What reassembly said about the current chunk (kept for its room).
    reassembled: Vec<Reassembled>,
}

/// Most refused Message-IDs remembered (the list is cleared beyond).
pub(crate) const MAX_REFUSED: usize = 1024;

/// Most finished (complete or aborted) Message-IDs remembered (the list is
/// cleared beyond).
pub(crate) const MAX_FINISHED: usize = 1024;

impl IncomingRequests {
    /// A REPORT whose paths were checked. REPORTs are never answered
    /// (§7.1.2).
    /// Lets go of the room kept for the next chunk (the session waits idle).
    pub(crate) fn release_idle(&mut self) {
        self.reassembled = Vec::new();
    }

    pub(crate) fn report(&mut self, chunk: &Chunk) -> Vec<Action> {
        let (Some(id), Some(status)) = (chunk.message_id(), chunk.status()) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        if status.code != 200 {
            actions.push(Action::StopOutgoing {
                message_id: id.to_string(),
                code: status.code,
            });
        }
        actions.push(Action::Event(SessionEvent::Report {
            message_id: id.to_string(),
            code: status.code,
            comment: status.comment.clone(),
            byte_range: chunk.byte_range(),
        }));
        actions
    }

    /// A SEND whose paths were checked. `application` says what the
    /// application announced about incoming messages (resumes, refusals).
    pub(crate) fn send(
        &mut self,
        chunk: &Chunk,
        config: &SessionConfig,
        application: &mut impl Application,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        self.send_into(chunk, config, application, &mut actions);
        actions
    }

    /// [`IncomingRequests::send`] appending to `actions` (a list the
    /// caller reuses: no allocation per chunk on the common path).
    pub(crate) fn send_into(
        &mut self,
        chunk: &Chunk,
        config: &SessionConfig,
        application: &mut impl Application,
        actions: &mut Vec<Action>,
    ) {
        let Some(message_id) = chunk.message_id() else {
            respond(actions, 400, Some("missing Message-ID"));
            return;
        };
        let mut known = self.incoming.contains_key(message_id);
        if !chunk.has_body() && chunk.byte_range().total == Some(0) && !known {
            // A bodiless SEND (binding or keepalive): answered, and
            // reported when it asks for it (crocodile-msrp's empty SEND
            // does and waits for the REPORT; RFC 4975 §7.1.3).
            respond(actions, 200, None);
            if chunk.success_report() == crate::protocol::SuccessReport::Yes {
                actions.push(Action::SuccessReport { bytes: 0 });
            }
            return;
        }
        if let Some(code) = application.take_refusal(message_id) {
            self.incoming.remove(message_id);
            self.refuse(actions, message_id, code);
            return;
        }
        if let Some(&code) = (!self.refused.is_empty())
            .then(|| self.refused.get(message_id))
            .flatten()
        {
            respond(actions, code, None);
            return;
        }
        let mut resumed = None;
        if !known {
            resumed = application.take_resume(message_id);
            if resumed.is_none() && self.finished.contains(message_id) {
                // A chunk of a message already delivered or aborted: the
                // duplicate is acknowledged as Failure-Report asks but not
                // presented again (RFC 4975 §5.4: duplicates are not shown
                // to the user without warning).
                respond(actions, 200, None);
                actions.push(Action::Warn(format!(
                    "message {message_id}: chunk after the message finished, dropped"
                )));
                return;
            }
            self.finished.remove(message_id);
            if let Some(ct) = chunk.content_type() {
                if !content_type_accepted(&config.accept_types, ct) {
                    self.refuse(actions, message_id, 415);
                    return;
                }
            }
            let total = chunk.byte_range().total;
            let too_big = match (config.max_incoming_size, total) {
                (Some(max), Some(t)) => t > max,
                _ => false,
            };
            if too_big || self.incoming.len() >= config.max_incoming_messages {
                self.refuse(actions, message_id, 413);
                return;
            }
        }
        if config.chunk_events {
            actions.push(Action::Event(SessionEvent::Chunk(chunk.clone())));
        }
        let max_mem = config.max_message_size;
        if !known {
            let state = match resumed {
                Some(already) => IncomingState::resumed(chunk, already),
                None => IncomingState::new(chunk, max_mem),
            };
            self.incoming.insert(message_id.to_string(), state);
            known = true;
        }
        debug_assert!(known);
        let mut results = std::mem::take(&mut self.reassembled);
        results.clear();
        let state = self.incoming.get_mut(message_id).expect("present");
        if let Err(reason) = state.add_into(chunk, max_mem, &mut results) {
            results.clear();
            self.reassembled = results;
            self.incoming.remove(message_id);
            self.refuse(actions, message_id, 400);
            actions.push(Action::Warn(format!("message {message_id}: {reason}")));
            return;
        }
        if let Some(max) = config.max_incoming_size {
            if state.received.covered() > max {
                results.clear();
                self.reassembled = results;
                self.incoming.remove(message_id);
                self.refuse(actions, message_id, 413);
                return;
            }
        }
        if state.held() > 0 {
            let held: u64 = self.incoming.values().map(IncomingState::held).sum();
            if held > config.max_buffered_incoming || limits::total_exceeded() {
                // The chunk that takes the session (or the library) over its
                // budget: the message is refused with 413 (RFC 4975 §7.2);
                // its earlier chunks stay acknowledged.
                actions.push(Action::Warn(format!(
                    "message {message_id}: refused with 413: {held} octets held for reassembly in this session (limit {}), {} in the library (limit {})",
                    config.max_buffered_incoming,
                    limits::total_buffered(),
                    limits::total_buffered_limit()
                )));
                results.clear();
                self.reassembled = results;
                self.incoming.remove(message_id);
                self.refuse(actions, message_id, 413);
                return;
            }
        }
        let state = self.incoming.get_mut(message_id).expect("present");
        let shared_id = state.message_id.clone();
        let content_type = state.content_type.clone();
        let total = state.total;
        let covered = state.received.covered();
        let report_progress =
            state.streaming() && covered >= state.progress_reported + config.progress_step;
        if report_progress {
            state.progress_reported = covered;
        }
        // Answer once the data was taken (§7.2: partial gets no 200).
        respond(actions, 200, None);
        let mut present = true;
        for r in results.drain(..) {
            match r {
                Reassembled::Partial => {}
                Reassembled::Data { offset, data } => {
                    actions.push(Action::Data(DataPiece {
                        message_id: shared_id.clone(),
                        content_type: content_type.clone(),
                        offset,
                        data,
                        total,
                    }));
                }
                Reassembled::Aborted { bytes } => {
                    self.incoming.remove(message_id);
                    present = false;
                    self.finish(message_id);
                    actions.push(Action::Event(SessionEvent::Aborted {
                        message_id: message_id.to_string(),
                        bytes,
                    }));
                }
                Reassembled::Complete { body, bytes } => {
                    let state = self.incoming.remove(message_id).expect("present");
                    present = false;
                    self.finish(message_id);
                    if state.success_report {
                        actions.push(Action::SuccessReport { bytes });
                    }
                    actions.push(Action::Event(match body {
                        Some(body) => SessionEvent::Message(IncomingMessage {
                            message_id: message_id.to_string(),
                            content_type: content_type.to_string(),
                            headers: state.headers,
                            body,
                        }),
                        None => SessionEvent::MessageComplete {
                            message_id: message_id.to_string(),
                            content_type: content_type.to_string(),
                            bytes,
                        },
                    }));
                }
            }
        }
        self.reassembled = results;
        if report_progress && present {
            actions.push(Action::Event(SessionEvent::Progress {
                message_id: message_id.to_string(),
                outgoing: false,
                bytes: covered,
                total,
            }));
        }
    }

    /// Refuses a message: the error answer (for Failure-Report yes or
    /// partial), and its further chunks get the same. No 200 was sent for
    /// this chunk, so the error response is the whole answer (§7.1.4).
    fn refuse(&mut self, actions: &mut Vec<Action>, message_id: &str, code: u16) {
        if self.refused.len() > MAX_REFUSED {
            self.refused.clear();
        }
        self.refused.insert(message_id.to_string(), code);
        respond(actions, code, None);
    }

    fn finish(&mut self, message_id: &str) {
        if self.finished.len() >= MAX_FINISHED {
            self.finished.clear();
        }
        self.finished.insert(message_id.to_string());
    }

    /// How many finished Message-IDs are remembered.
    pub(crate) fn finished_len(&self) -> usize {
        self.finished.len()
    }

    /// How many refused Message-IDs are remembered.
    pub(crate) fn refused_len(&self) -> usize {
        self.refused.len()
    }

    /// The messages left unfinished, for the Closed event.
    pub(crate) fn unfinished(&mut self) -> Vec<Unfinished> {
        self.incoming
            .drain()
            .map(|(id, s)| Unfinished {
                message_id: id,
                outgoing: false,
                bytes_acknowledged: s.received.covered(),
            })
            .collect()
    }
}

fn respond(actions: &mut Vec<Action>, code: u16, comment: Option<&str>) {
    actions.push(Action::Respond {
        code,
        comment: comment.map(str::to_string),
    });
}
