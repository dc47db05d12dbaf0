//! The session's writer task: owns the write half; sends responses and
//! REPORTs first, then raw chunks, then one chunk of each queued message in
//! turn (interleaving, RFC 4975 §5.1); interrupts a long chunk when something
//! urgent is waiting (§7.1.1); registers transactions and their deadlines;
//! flushes in batches; and carries out shutdown.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use bytes::Bytes;

use super::outgoing::{Source, INTERRUPTIBLE_OVER};
use super::{
    CloseReason, Inner, OutgoingState, Pending, PendingKind, SessionEvent, TransactionKey,
};
use crate::protocol::chunk::contains_end_line;
use crate::protocol::{Chunk, Continuation, FailureReport};
use crate::transport::TransportWriter;

/// Write to the socket once this much is buffered, while writes wait long
/// for the socket (a slower peer or path): urgent output (a response, a
/// chat message) waits behind no more than this.
const FLUSH_AT: usize = 64 * 1024;
/// The same while the socket takes the writes without a long wait: fewer,
/// larger writes (on loopback at 2 GB/s, 512 KiB is a quarter of a
/// millisecond).
const FLUSH_AT_KEEPING_UP: usize = 512 * 1024;
/// A chunk payload larger than this is written in slices of this size, with
/// a check for urgent output between slices.
const SLICE: usize = 16 * 1024;
/// The writer lets other tasks run after writing this much: a peer (or a
/// relay) that takes everything at once would otherwise keep the runtime's
/// thread busy with one session (tokio's own budget allows 128 writes, i.e.
/// megabytes, per turn).
const YIELD_AFTER: usize = 1 << 20;
/// The longest a closing connection waits for the socket to take what is
/// buffered: on a non-sync shutdown, the responses and REPORTs already
/// queued (a peer that does not read cannot hold the close longer).
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) enum Command {
    /// A request chunk from `send_chunk`/`deliver_chunk` (boxed: every
    /// session's command channel allocates room for 32 commands up front,
    /// so the variants are kept small for idle sessions' memory).
    Raw(Box<(Chunk, PendingKind)>),
    /// Responses and REPORTs from the reader (all that one socket read
    /// produced): go out first.
    UrgentBatch(Vec<Urgent>),
    /// A message or file to send.
    Queue(Box<Source>),
    Cancel(String),
    Shutdown {
        sync: bool,
        done: oneshot::Sender<()>,
    },
}

/// Output that goes out before requests and message chunks: responses
/// and REPORTs (RFC 4975 §7.1.1: what is waiting interrupts a long chunk).
#[derive(Debug)]
pub(crate) enum Urgent {
    /// Responses already encoded by the reader (one after another).
    Encoded(Vec<u8>),
    /// A chunk to encode (a REPORT, an abort, or a response while the
    /// logger wants the wire hooks, which take the chunk).
    Chunk(Chunk),
}

struct Writer {
    inner: Arc<Inner>,
    w: TransportWriter,
    urgent: VecDeque<Urgent>,
    raw: VecDeque<(Chunk, PendingKind)>,
    queue: VecDeque<Box<Source>>,
    /// Transactions written since the last flush (their deadlines start at the flush).
    written: Vec<TransactionKey>,
    /// Messages whose every chunk was written since the last flush (Failure-Report no).
    finished_unanswered: Vec<String>,
    shutdown: Option<(bool, oneshot::Sender<()>)>,
    other_waiters: Vec<oneshot::Sender<()>>,
    /// Octets written since the writer last let other tasks run.
    since_yield: usize,
}

pub(crate) async fn run(
    inner: Arc<Inner>,
    w: TransportWriter,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let mut wr = Writer {
        inner,
        w,
        urgent: VecDeque::new(),
        raw: VecDeque::new(),
        queue: VecDeque::new(),
        written: Vec::new(),
        finished_unanswered: Vec::new(),
        shutdown: None,
        other_waiters: Vec::new(),
        since_yield: 0,
    };
    let result = wr.main_loop(&mut rx).await;
    let reason = match result {
        Ok(()) => CloseReason::Local,
        Err(e) => CloseReason::Error(format!("write failed: {e}")),
    };
    // The steps after the loop, and the loop's heavy steps, are boxed: the
    // task's allocation is the size of its largest state, and an idle
    // session should only pay for the wait.
    if tokio::time::timeout(CLOSE_WAIT, Box::pin(wr.w.close()))
        .await
        .is_err()
    {
        crate::msrp_log!(
            wr.inner.info.logger,
            crate::log::Level::Info,
            "closing: the peer did not take the last {} octets within {CLOSE_WAIT:?}",
            wr.w.buffered()
        );
    }
    if let CloseReason::Error(text) = &reason {
        // The reader emits Closed: it holds the incoming messages' state.
        wr.inner.shared.lock().expect("session state").write_error = Some(text.clone());
        wr.inner.writer_failed.notify_one();
    } else if let Some(unfinished) = wr.inner.take_unfinished(Vec::new()) {
        Box::pin(wr.inner.emit(SessionEvent::Closed { reason, unfinished })).await;
    }
    if let Some((_, done)) = wr.shutdown.take() {
        let _ = done.send(());
    }
    for d in wr.other_waiters.drain(..) {
        let _ = d.send(());
    }
}

impl Writer {
    fn accept(&mut self, c: Command) {
        match c {
            Command::UrgentBatch(output) => self.urgent.extend(output),
            Command::Raw(request) => self.raw.push_back(*request),
            Command::Queue(src) => {
                let mut shared = self.inner.shared.lock().expect("session state");
                shared.outgoing.insert(
                    src.message_id.to_string(),
                    OutgoingState {
                        acked: Default::default(),
                        first: src.first,
                        total: src.total,
                        first_error: None,
                        all_written: false,
                        outstanding: 0,
                        stopped: false,
                        progress_reported: 0,
                    },
                );
                drop(shared);
                self.queue.push_back(src);
            }
            Command::Cancel(id) => {
                if let Some(pos) = self.queue.iter().position(|s| *s.message_id == *id) {
                    let src = self.queue.remove(pos).expect("position found");
                    if src.started && !src.done() {
                        let abort = src.abort_chunk(&self.inner.info);
                        self.urgent.push_back(Urgent::Chunk(abort));
                    }
                    let mut shared = self.inner.shared.lock().expect("session state");
                    if let Some(out) = shared.outgoing.get_mut(&id) {
                        out.stopped = true;
                        out.first_error.get_or_insert(0);
                        out.all_written = true;
                    }
                }
            }
            Command::Shutdown { sync, done } => {
                if self.shutdown.is_some() {
                    self.other_waiters.push(done);
                } else {
                    self.shutdown = Some((sync, done));
                }
            }
        }
    }

    fn buffer_urgent(&mut self, urgent: Urgent) {
        match urgent {
            Urgent::Encoded(bytes) => self.w.buffer_raw(&bytes),
            Urgent::Chunk(chunk) => self.w.buffer_chunk(&chunk),
        }
    }

    /// How much to gather before writing (see [`FLUSH_AT`]).
    fn flush_at(&self) -> usize {
        if self.w.last_flush_waited() {
            FLUSH_AT
        } else {
            FLUSH_AT_KEEPING_UP
        }
    }

    /// Registers the transaction of a chunk the application sent, unless
    /// its id is longer than any transaction id (RFC 4975 `ident`), which
    /// `Session::send_chunk` refuses before.
    fn register(&self, chunk: &Chunk, kind: PendingKind) -> Option<TransactionKey> {
        let key = TransactionKey::new(&chunk.transaction_id)?;
        let mut shared = self.inner.shared.lock().expect("session state");
        shared.pending.insert(
            key,
            Pending {
                kind,
                failure_report: chunk.failure_report(),
                deadline: None,
            },
        );
        Some(key)
    }

    /// Writes buffered output and starts the response timers of what it held.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.write_out().await?;
        let deadline = Instant::now() + self.inner.config.response_timeout;
        let mut first = false;
        {
            let mut shared = self.inner.shared.lock().expect("session state");
            first = first || shared.deadlines.is_empty();
            for tid in self.written.drain(..) {
                if let Some(p) = shared.pending.get_mut(&tid) {
                    p.deadline = Some(deadline);
                    shared.deadlines.push_back((deadline, tid));
                }
            }
        }
        if first {
            self.inner.deadline_added.notify_one();
        }
        // Messages sent with Failure-Report: no are done once written.
        for id in std::mem::take(&mut self.finished_unanswered) {
            let out = self
                .inner
                .shared
                .lock()
                .expect("session state")
                .outgoing
                .remove(&id);
            if let Some(out) = out {
                let bytes = out.total.saturating_sub(out.first - 1);
                self.inner
                    .emit(SessionEvent::Sent {
                        message_id: id,
                        code: out.first_error.unwrap_or(200),
                        bytes_acknowledged: bytes,
                    })
                    .await;
            }
        }
        Ok(())
    }

    /// Writes the buffered output; lets other tasks run now and then.
    async fn write_out(&mut self) -> std::io::Result<()> {
        self.since_yield += self.w.buffered();
        self.w.flush().await?;
        if self.since_yield >= YIELD_AFTER {
            self.since_yield = 0;
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    fn stopped(&self, id: &str) -> bool {
        self.inner
            .shared
            .lock()
            .expect("session state")
            .outgoing
            .get(id)
            .is_none_or(|o| o.stopped)
    }

    async fn main_loop(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Command>,
    ) -> std::io::Result<()> {
        loop {
            while let Ok(c) = rx.try_recv() {
                self.accept(c);
            }
            if let Some((false, _)) = &self.shutdown {
                // Closing now: the requests and messages not written are
                // failed, but the responses and REPORTs already queued go
                // out (with the close, bounded by CLOSE_WAIT). They answer
                // requests the application may already have been given:
                // without its 200 the peer would count such a message as
                // lost, and send it again.
                for urgent in std::mem::take(&mut self.urgent) {
                    self.buffer_urgent(urgent);
                }
                return Ok(());
            }
            if let Some(urgent) = self.urgent.pop_front() {
                self.buffer_urgent(urgent);
            } else if let Some((chunk, kind)) = self.raw.pop_front() {
                let answered = !matches!(kind, PendingKind::Silent)
                    || chunk.failure_report() != FailureReport::No;
                if answered {
                    if let Some(key) = self.register(&chunk, kind) {
                        self.written.push(key);
                    }
                }
                self.w.buffer_chunk(&chunk);
            } else if let Some(mut src) = self.queue.pop_front() {
                // Whether an error answer or a cancel stopped the message was
                // last looked at when its previous chunk was written (under
                // the lock taken for that chunk anyway); a message not started
                // yet is looked up here.
                if src.stop_seen || (!src.started && self.stopped(&src.message_id)) {
                    self.finish_stopped(&src.message_id);
                    continue;
                }
                let max = self.inner.config.chunk_size;
                let data = match src.take_ready(max) {
                    Some(data) => Ok(data),
                    None => Box::pin(src.next_payload(max)).await,
                };
                let data = match data {
                    Ok(d) => d,
                    Err(e) => {
                        // The file could not be read: abort what went out, report the error.
                        crate::msrp_log!(
                            self.inner.info.logger,
                            crate::log::Level::Error,
                            "message {}: {e}",
                            src.message_id
                        );
                        if src.next > src.first {
                            self.urgent
                                .push_back(Urgent::Chunk(src.abort_chunk(&self.inner.info)));
                        }
                        self.fail_message(&src.message_id);
                        continue;
                    }
                };
                let (start, last) = src.advance(&data);
                // A payload over SLICE is written in slices (so that it can
                // be interrupted, §7.1.1), and the wire hooks take a chunk:
                // those build one; every other chunk comes from the template.
                let in_slices = data.len() > SLICE;
                if in_slices || self.inner.info.logger.wants_wire() {
                    let chunk = src.make_chunk(&self.inner.info, start, last, data);
                    Box::pin(self.write_message_chunk(&mut src, chunk, rx)).await?;
                } else {
                    self.write_templated_chunk(&mut src, start, last, data);
                }
                if !src.done() {
                    self.queue.push_back(src);
                }
            }
            let idle = self.urgent.is_empty() && self.raw.is_empty() && self.queue.is_empty();
            if self.w.buffered() >= self.flush_at() || (idle && self.w.buffered() > 0) {
                Box::pin(self.flush()).await?;
            }
            if idle {
                if let Some((true, _)) = &self.shutdown {
                    if self
                        .inner
                        .shared
                        .lock()
                        .expect("session state")
                        .pending
                        .is_empty()
                    {
                        return Ok(());
                    }
                    tokio::select! {
                        c = rx.recv() => match c { Some(c) => self.accept(c), None => return Ok(()) },
                        _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
                    }
                    continue;
                }
                match rx.recv().await {
                    Some(c) => self.accept(c),
                    None => return Ok(()),
                }
            }
        }
    }

    fn finish_stopped(&mut self, id: &str) {
        let mut shared = self.inner.shared.lock().expect("session state");
        if let Some(out) = shared.outgoing.get_mut(id) {
            out.all_written = true;
            if out.outstanding == 0 {
                // Its Sent event comes from the last response; with none outstanding, now.
                let out = shared.outgoing.remove(id).expect("present");
                let bytes = out.acknowledged();
                drop(shared);
                let _ = self.inner.events.try_send(SessionEvent::Sent {
                    message_id: id.to_string(),
                    code: out.first_error.unwrap_or(0),
                    bytes_acknowledged: bytes,
                });
            }
        }
    }

    fn fail_message(&mut self, id: &str) {
        {
            let mut shared = self.inner.shared.lock().expect("session state");
            if let Some(out) = shared.outgoing.get_mut(id) {
                out.stopped = true;
                out.first_error.get_or_insert(0);
            }
        }
        self.finish_stopped(id);
    }

    /// Writes one chunk of a message, registering its transaction. A long
    /// chunk (its Byte-Range end is `*`) is written in slices and cut short
    /// when urgent output arrives meanwhile (§7.1.1).
    async fn write_message_chunk(
        &mut self,
        src: &mut Source,
        mut chunk: Chunk,
        rx: &mut mpsc::UnboundedReceiver<Command>,
    ) -> std::io::Result<()> {
        let start = chunk.byte_range().start;
        let data = chunk.data.clone();
        let mut sent = data.len();
        if data.len() > SLICE && chunk.byte_range().end.is_none() {
            // Head, then slices; check for urgent output between them.
            let mut head = chunk.clone();
            head.data = bytes::Bytes::new();
            let mut out = Vec::new();
            head.encode_start_into(&mut out);
            if !head.has_body() {
                out.extend_from_slice(b"\r\n");
            }
            let mut offset = 0;
            let mut cut = false;
            self.w.buffer_raw(&out);
            while offset < data.len() {
                let end = (offset + SLICE).min(data.len());
                self.w.buffer_bytes(&data.slice(offset..end));
                offset = end;
                if self.w.buffered() >= self.flush_at() {
                    self.write_out().await?;
                }
                while let Ok(c) = rx.try_recv() {
                    self.accept(c);
                }
                if !self.urgent.is_empty() && offset < data.len() {
                    cut = true;
                    break;
                }
            }
            let flag = if cut {
                Continuation::More
            } else {
                chunk.continuation
            };
            self.w.buffer_raw(&chunk.encode_end(flag));
            if cut {
                sent = offset;
                src.interrupted(start, &data, offset);
                chunk.data = data.slice(..offset);
                chunk.continuation = Continuation::More;
            }
        } else {
            self.w.buffer_chunk(&chunk);
        }
        let end = start + sent as u64 - 1;
        let failure_report = chunk.failure_report();
        self.written_message_chunk(src, own_key(&chunk), start, end, failure_report);
        Ok(())
    }

    /// Writes one chunk of a message from the message's head template (no
    /// [`Chunk`] built): the transaction id and Byte-Range are all that
    /// changes between a message's chunks. Payloads over 2048 octets carry
    /// `*` as their Byte-Range end (§7.1.1) like every chunk this library
    /// sends; this path is taken for those that are not written in slices.
    fn write_templated_chunk(&mut self, src: &mut Source, start: u64, last: bool, data: Bytes) {
        let total = src.total;
        let Some(template) = src.template(&self.inner.info) else {
            let chunk = src.make_chunk(&self.inner.info, start, last, data);
            self.w.buffer_chunk(&chunk);
            let end = start + chunk.data.len() as u64 - 1;
            let failure_report = chunk.failure_report();
            self.written_message_chunk(src, own_key(&chunk), start, end, failure_report);
            return;
        };
        // §7.1: the end-line must not occur in the body.
        let mut transaction_id = TransactionKey::random();
        while contains_end_line(&data, transaction_id.as_str()) {
            transaction_id = TransactionKey::random();
        }
        let end = start + data.len() as u64 - 1;
        let range_end = (data.len() <= INTERRUPTIBLE_OVER).then_some(end);
        let flag = if last {
            Continuation::End
        } else {
            Continuation::More
        };
        self.w.buffer_with(|out| {
            template.encode_into(out, transaction_id.as_str(), start, range_end, total);
        });
        self.w.buffer_bytes(&data);
        self.w.buffer_with(|out| {
            out.extend_from_slice(b"\r\n-------");
            out.extend_from_slice(transaction_id.as_str().as_bytes());
            out.push(flag.as_byte());
            out.extend_from_slice(b"\r\n");
        });
        let failure_report = template.failure_report;
        self.written_message_chunk(src, transaction_id, start, end, failure_report);
    }

    /// Bookkeeping after a chunk of `src` carrying octets `start..=end` was
    /// buffered: the message's outstanding count, its transaction (unless
    /// Failure-Report is `no`), or its end when nothing will answer it.
    fn written_message_chunk(
        &mut self,
        src: &mut Source,
        transaction_id: TransactionKey,
        start: u64,
        end: u64,
        failure_report: FailureReport,
    ) {
        let done = src.done();
        let answered = failure_report != FailureReport::No;
        let mut shared = self.inner.shared.lock().expect("session state");
        match shared.outgoing.get_mut(&*src.message_id) {
            Some(out) => {
                if answered {
                    out.outstanding += 1;
                }
                out.all_written = done;
                src.stop_seen = out.stopped;
            }
            None => src.stop_seen = true,
        }
        if answered {
            shared.pending.insert(
                transaction_id,
                Pending {
                    kind: PendingKind::Message {
                        message_id: src.message_id.clone(),
                        start,
                        end,
                    },
                    failure_report,
                    deadline: None,
                },
            );
            drop(shared);
            self.written.push(transaction_id);
        } else if done {
            drop(shared);
            self.finished_unanswered.push(src.message_id.to_string());
        }
    }
}

/// The key of a chunk this library made (its transaction id is one of ours,
/// 16 alphanumerics).
fn own_key(chunk: &Chunk) -> TransactionKey {
    TransactionKey::new(&chunk.transaction_id).expect("the library's own transaction id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{AcceptorDirect, ConnectorDirect, EndpointConfig};
    use crate::protocol::Method;
    use crate::session::{Session, SessionConfig};
    use crate::transport::{ChunkParams, Transport};
    use std::time::Duration;

    /// A bound pair of transports over loopback.
    async fn pair() -> (Transport, Transport) {
        let timeout = Some(Duration::from_secs(10));
        let mut acceptor = AcceptorDirect::new(EndpointConfig::default());
        let a_path = acceptor.prepare(None).await.unwrap();
        let mut connector = ConnectorDirect::new(EndpointConfig::default());
        let c_path = connector.prepare(None).unwrap();
        let accepted =
            tokio::spawn(async move { acceptor.complete(&c_path, None, timeout).await.unwrap() });
        let connected = connector.complete(&a_path, None, timeout).await.unwrap();
        (connected, accepted.await.unwrap())
    }

    /// A non-sync shutdown still writes the responses already queued (for
    /// requests the application may have been given), then closes: here
    /// the response and the shutdown reach the writer together, as when
    /// the application frees the session from the callback of the message
    /// that response answers.
    #[tokio::test]
    async fn closing_now_still_sends_queued_responses() {
        let (ours, mut peer) = pair().await;
        let request = peer.make_chunk(ChunkParams {
            method: Some(Method::Send),
            data: Bytes::from_static(b"hello"),
            content_type: Some("text/plain".into()),
            ..Default::default()
        });
        let (session, _events) = Session::new(ours, SessionConfig::default());
        let response = session
            .info()
            .make_response(&request, 200, None)
            .expect("a SEND is answered");
        let (done, closed) = oneshot::channel();
        // Both are queued before the writer task runs (this runtime has
        // one thread and nothing was awaited in between).
        let commands = &session.inner.commands;
        commands
            .send(Command::UrgentBatch(vec![Urgent::Chunk(response)]))
            .unwrap();
        commands
            .send(Command::Shutdown { sync: false, done })
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), peer.reader.read_chunk(None))
            .await
            .expect("in time")
            .expect("the response, then the close");
        assert_eq!(got.transaction_id, request.transaction_id);
        assert_eq!(got.code(), Some(200));
        closed.await.unwrap();
    }
}
