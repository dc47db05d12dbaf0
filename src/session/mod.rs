//! The session layer (python-msrplib's `MSRPSession` and `OutgoingFile`): sending
//! chunks with response tracking and timeouts, whole messages split into
//! chunks, files read from disk as the socket drains, interleaving of
//! outgoing messages chunk by chunk (RFC 4975 §5.1), reassembly of incoming
//! messages, responses and REPORTs as §7 says, and shutdown.
//!
//! A [`Session`] runs two tasks on the current Tokio runtime: a writer that
//! owns the socket's write half and a reader that owns its read half. The
//! application talks to them through [`Session`] (a cheap handle) and hears
//! back through a bounded channel of [`SessionEvent`]s: if the application
//! stops reading events, the session stops reading the socket (backpressure
//! all the way to TCP).

#[doc(hidden)]
pub mod fuzz_checks;
mod imdn;
mod incoming;
pub mod limits;
mod octets;
mod outgoing;
mod reader;
mod requests;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

pub use imdn::ImdnConfig;
pub use incoming::RangeSet;
pub use limits::{DEFAULT_MAX_BUFFERED_INCOMING, DEFAULT_MAX_QUEUED_OUTGOING};
pub use octets::Octets;

use crate::protocol::{ByteRange, Chunk, FailureReport, Header};
use crate::transport::{Transport, TransportInfo};

/// Default largest payload of an outgoing chunk: passes the relays people
/// run (Kamailio answers 413 to frames of 11,239 octets or more; OpenSIPS
/// drops frames over 64 KiB).
pub const DEFAULT_CHUNK_SIZE: usize = 8192;

/// Default time to wait for a response after a chunk's last octet was written
/// (RFC 4975 §7.1.2: 30 seconds).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Default liveness timeout: a connection from which nothing arrived for this
/// long while something is outstanding is declared dead.
pub const DEFAULT_LIVENESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// MIME types accepted from the peer (`*` and `type/*` match many);
    /// others are answered 415.
    pub accept_types: Vec<String>,
    /// Largest outgoing chunk payload.
    pub chunk_size: usize,
    /// Time to wait for a response after a chunk was written.
    pub response_timeout: Duration,
    /// Incoming messages up to this size are delivered whole
    /// ([`SessionEvent::Message`]); larger ones as [`SessionEvent::MessageData`].
    pub max_message_size: u64,
    /// Incoming messages larger than this are refused with 413.
    pub max_incoming_size: Option<u64>,
    /// Outgoing messages larger than this (SDP `a=max-size` of the peer) are
    /// refused locally.
    pub max_outgoing_size: Option<u64>,
    /// Emit [`SessionEvent::Chunk`] for every incoming request chunk.
    pub chunk_events: bool,
    /// Emit progress after at least this many octets (and at the end).
    pub progress_step: u64,
    /// Most incoming messages being reassembled at once (413 beyond).
    pub max_incoming_messages: usize,
    /// Most octets of incoming messages held in memory for reassembly at
    /// once; a message whose chunk takes the session over it is refused with
    /// 413 (its earlier chunks were answered 200 and stay acknowledged). The
    /// library-wide budget ([`limits::set_total_buffered_limit`]) applies too.
    pub max_buffered_incoming: u64,
    /// Most octets of `send_message` bodies queued and not yet written;
    /// beyond it (or the library-wide budget) `send_message` fails with
    /// [`SessionError::LimitExceeded`]. Files are read as the socket drains
    /// and are not counted.
    pub max_queued_outgoing: u64,
    /// When nothing at all has arrived from the peer for this long while
    /// something is outstanding (a chunk sent with Failure-Report yes
    /// awaiting its response, an incoming message partly received),
    /// the connection is declared dead and the session closes with an error
    /// listing what did not finish. A peer that vanished without a FIN, or a
    /// middlebox that stopped forwarding, is found this way; TCP keepalive
    /// (set on every connection) finds a vanished peer of an idle session.
    /// `None`: never.
    pub liveness_timeout: Option<Duration>,
    /// IMDN help for CPIM chat (RFC 5438): automatic delivery
    /// notifications and [`SessionEvent::Notification`]; off by default.
    pub imdn: ImdnConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            accept_types: vec!["*".to_string()],
            chunk_size: DEFAULT_CHUNK_SIZE,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            max_message_size: 16 << 20,
            max_incoming_size: None,
            max_outgoing_size: None,
            chunk_events: false,
            progress_step: 1 << 20,
            max_incoming_messages: 64,
            max_buffered_incoming: DEFAULT_MAX_BUFFERED_INCOMING,
            max_queued_outgoing: DEFAULT_MAX_QUEUED_OUTGOING,
            liveness_timeout: Some(DEFAULT_LIVENESS_TIMEOUT),
            imdn: ImdnConfig::default(),
        }
    }
}

/// Whether `content_type` matches one of `accept_types` (`*` matches all,
/// `type/*` a whole type; parameters are ignored; case-insensitive).
pub fn content_type_accepted(accept_types: &[String], content_type: &str) -> bool {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (major, _) = ct.split_once('/').unwrap_or((&ct, ""));
    // By type/subtype alone, on both sides: `text/plain; charset=UTF-8`
    // is a `text/plain`, whatever parameters either names (RFC 4975 §8.6).
    accept_types.iter().any(|t| {
        let t = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        t == "*" || t == ct || t.strip_suffix("/*").is_some_and(|m| m == major)
    })
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub content_type: String,
    pub body: Bytes,
    /// Extra headers for every chunk (e.g. Content-Disposition).
    pub headers: Vec<Header>,
    /// Generated when `None`.
    pub message_id: Option<String>,
    /// Ask for a success REPORT.
    pub success_report: bool,
    pub failure_report: FailureReport,
}

impl OutgoingMessage {
    pub fn new(content_type: impl Into<String>, body: impl Into<Bytes>) -> OutgoingMessage {
        OutgoingMessage {
            content_type: content_type.into(),
            body: body.into(),
            headers: Vec::new(),
            message_id: None,
            success_report: false,
            failure_report: FailureReport::Yes,
        }
    }
}

/// Where a file's octets come from.
#[derive(Debug)]
pub enum FileSource {
    Path(PathBuf),
    File(std::fs::File),
}

/// A file to send (python-msrplib's `OutgoingFile`).
#[derive(Debug)]
pub struct OutgoingFile {
    pub source: FileSource,
    /// The whole file's size; read from the file when `None`.
    pub size: Option<u64>,
    pub content_type: String,
    /// python-msrplib's resume: continue the message `message_id` at this 0-based
    /// offset (Byte-Range starts at `position + 1`, total is the file size).
    pub position: u64,
    /// RFC 5547 §8 resume: send only the octets `[start, end)` of the file as
    /// a new message numbered from 1.
    pub range: Option<(u64, u64)>,
    pub message_id: Option<String>,
    pub headers: Vec<Header>,
    pub success_report: bool,
}

impl OutgoingFile {
    pub fn new(source: FileSource, content_type: impl Into<String>) -> OutgoingFile {
        OutgoingFile {
            source,
            size: None,
            content_type: content_type.into(),
            position: 0,
            range: None,
            message_id: None,
            headers: Vec::new(),
            success_report: false,
        }
    }
}

/// A whole incoming message.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub message_id: String,
    pub content_type: String,
    /// Headers of the message's first chunk seen.
    pub headers: Vec<Header>,
    pub body: Bytes,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// This side shut it down.
    Local,
    /// The peer closed the connection.
    Peer,
    /// An error ended it (connection reset, malformed input, ...).
    Error(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Local => f.write_str("closed locally"),
            CloseReason::Peer => f.write_str("closed by peer"),
            CloseReason::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// A message that did not complete before the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub message_id: String,
    pub outgoing: bool,
    /// Outgoing: octets the peer acknowledged contiguously from the start of
    /// what was sent (resume from `position + this`). Incoming: octets received.
    /// Through a relay, for a message that asked for a success REPORT, only
    /// the octets REPORTs confirmed count (the relay's 200s are hop by hop,
    /// and a relay that dies loses what it queued), and such a message is
    /// listed even after all of the relay's 200s came, until its REPORT.
    pub bytes_acknowledged: u64,
}

/// What a session tells the application.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// An incoming request chunk (with [`SessionConfig::chunk_events`]).
    Chunk(Chunk),
    /// A whole incoming message.
    Message(IncomingMessage),
    /// A piece of a large incoming message (offset is 0-based): `data` is
    /// one or more slices of what was received, in order (see [`Octets`]).
    MessageData {
        message_id: String,
        content_type: String,
        offset: u64,
        data: Octets,
        total: Option<u64>,
    },
    /// The end of a large message delivered as `MessageData`.
    MessageComplete {
        message_id: String,
        content_type: String,
        bytes: u64,
    },
    /// An incoming message ended with `#`.
    Aborted { message_id: String, bytes: u64 },
    /// The response to a chunk sent with `send_chunk(.., true)`.
    ChunkResponse {
        transaction_id: String,
        response: Chunk,
    },
    /// An outgoing message is done: the first non-2xx code, else 200.
    Sent {
        message_id: String,
        code: u16,
        bytes_acknowledged: u64,
    },
    /// A REPORT for an outgoing message.
    Report {
        message_id: String,
        code: u16,
        comment: Option<String>,
        byte_range: ByteRange,
    },
    /// Progress of a message (outgoing: octets acknowledged; incoming: received).
    Progress {
        message_id: String,
        outgoing: bool,
        bytes: u64,
        total: Option<u64>,
    },
    /// The relay registration this session's connection depends on ends
    /// soon (armed by [`Session::warn_relay_expiry`] with the relay
    /// connector's `expiry_warning_at` and `expires_at`): re-AUTH and renegotiate (a new
    /// prepare, a new offer/answer; RFC 4976 §9.4) before `expires_at`.
    RelayExpiring { expires_at: std::time::Instant },
    /// An IMDN (RFC 5438) arrived, with [`ImdnConfig::notification_events`]:
    /// a `message/cpim` message wrapping `message/imdn+xml`, reported
    /// instead of a [`SessionEvent::Message`].
    Notification {
        /// The MSRP Message-ID of the CPIM message this session sent with
        /// the `imdn.Message-ID` the notification names; `None` when none
        /// is known (sent before, by another session, or forgotten).
        message_id: Option<String>,
        /// The MSRP Message-ID of the notification message itself.
        notification_message_id: String,
        /// The address of the CPIM From of the notification.
        from: Option<String>,
        /// The notification (boxed: it is rare, and every event is as large
        /// as its largest kind).
        notification: Box<crate::content::Imdn>,
    },
    /// The session ended. No event follows.
    Closed {
        reason: CloseReason,
        unfinished: Vec<Unfinished>,
    },
}

/// Why a session call failed.
#[derive(Debug)]
pub enum SessionError {
    /// The session is closed (or shutting down).
    Closed,
    InvalidArgument(String),
    /// A resource limit would be exceeded (the text says which).
    LimitExceeded(String),
    /// A transaction got a non-2xx answer (received, or 408 generated locally).
    Transaction {
        code: u16,
        response: Box<Chunk>,
    },
    Io(io::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Closed => f.write_str("session is closed"),
            SessionError::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
            SessionError::LimitExceeded(s) => write!(f, "limit exceeded: {s}"),
            SessionError::Transaction { code, response } => write!(
                f,
                "transaction failed: {code} {}",
                response.comment().unwrap_or("")
            ),
            SessionError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// What to do when a transaction's response arrives (or times out).
#[derive(Debug)]
pub(crate) enum PendingKind {
    /// A chunk of an outgoing message: octets `[start, end]` in its numbering.
    Message {
        /// Shared by the message's chunks (see the writer's `message_id`).
        message_id: Arc<str>,
        start: u64,
        end: u64,
    },
    /// `send_chunk` with notification.
    Notify,
    /// `send_chunk` without notification.
    Silent,
    /// `deliver_chunk`.
    Deliver(oneshot::Sender<Chunk>),
}

#[derive(Debug)]
pub(crate) struct Pending {
    kind: PendingKind,
    failure_report: FailureReport,
    /// Set once the chunk's last octet was written.
    deadline: Option<Instant>,
}

/// Bookkeeping of one outgoing message.
#[derive(Debug)]
pub(crate) struct OutgoingState {
    /// Octets acknowledged (2xx), as a set in the message's numbering.
    acked: RangeSet,
    /// First octet this send covers (1 for new messages, `position+1` on resume).
    first: u64,
    total: u64,
    first_error: Option<u16>,
    /// Every chunk was written.
    all_written: bool,
    /// Chunks written and not answered.
    outstanding: usize,
    /// Stop producing chunks (error answer, cancel).
    stopped: bool,
    progress_reported: u64,
}

impl OutgoingState {
    fn acknowledged(&self) -> u64 {
        // Octets acknowledged contiguously from `first`.
        self.acked.contiguous_from(self.first)
    }
}

/// An outgoing message through a relay that asked for a success REPORT:
/// the relay's 200s are hop by hop, so only the REPORT says the peer has it
/// (a relay that dies can lose octets it already answered 200 to).
#[derive(Debug, Default)]
struct ReportWatch {
    /// Every chunk got its (relay's) 2xx: the message left this side.
    sent: bool,
    total: u64,
    /// Octets success REPORTs confirmed.
    confirmed: RangeSet,
}

impl ReportWatch {
    fn complete(&self) -> bool {
        self.sent && self.confirmed.contiguous_from_one() >= self.total
    }
}

/// A map keyed by ids this endpoint chose (transaction ids, the Message-IDs
/// of its own messages), looked up several times per chunk: hashed with a
/// fast seeded hasher. A peer only looks entries up (by the transaction id
/// of its response); it never adds keys, so it cannot crowd one bucket.
type OwnIdMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The most octets of a transaction id (RFC 4975 §9: `ident` is 4 to 32
/// characters).
const MAX_TRANSACTION_ID: usize = 32;

/// A transaction id held inline (no allocation): the key of the
/// transactions in flight and of their deadlines. The sender makes one per
/// chunk, so it is not a `String`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TransactionKey {
    len: u8,
    octets: [u8; MAX_TRANSACTION_ID],
}

impl TransactionKey {
    /// The key of `id`; `None` when it is longer than any transaction id
    /// (no transaction of this session can have it).
    pub(crate) fn new(id: &str) -> Option<TransactionKey> {
        let mut octets = [0; MAX_TRANSACTION_ID];
        octets.get_mut(..id.len())?.copy_from_slice(id.as_bytes());
        Some(TransactionKey {
            len: id.len() as u8,
            octets,
        })
    }

    /// A new random transaction id: 16 alphanumerics (about 95 bits).
    pub(crate) fn random() -> TransactionKey {
        let mut octets = [0; MAX_TRANSACTION_ID];
        crate::protocol::ids::fill_alphanumeric(&mut octets[..16]);
        TransactionKey { len: 16, octets }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.octets[..usize::from(self.len)])
            .expect("made from a str or of alphanumerics")
    }
}

impl fmt::Debug for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A chunk the application sends must have a transaction id of at most 32
/// octets (RFC 4975 §9 `ident`): a longer one could not be matched with
/// its response; and its payload must not hold the id's end-line, which a
/// receiver may take for the chunk's end (§7.1: the sender picks an id
/// that is not in the body; [`Chunk::ensure_safe_transaction_id`] does).
fn check_transaction_id(chunk: &Chunk) -> Result<(), SessionError> {
    if TransactionKey::new(&chunk.transaction_id).is_none() {
        return Err(SessionError::InvalidArgument(format!(
            "transaction id of {} octets (at most {MAX_TRANSACTION_ID})",
            chunk.transaction_id.len()
        )));
    }
    if chunk.payload_contains_end_line() {
        return Err(SessionError::InvalidArgument(format!(
            "the payload holds the end-line of transaction id {}",
            chunk.transaction_id
        )));
    }
    Ok(())
}

/// State shared by the reader, the writer and the handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Messages through a relay waiting for their success REPORT; those
    /// still waiting when the session closes are listed as unfinished.
    report_watch: OwnIdMap<String, ReportWatch>,
    pending: OwnIdMap<TransactionKey, Pending>,
    /// Response deadlines in the order the transactions were written. Every
    /// deadline is the flush time plus the same response timeout, so the
    /// order is also the order of the deadlines, and the front is the next
    /// one due. Entries of answered transactions are dropped as they reach
    /// the front, so the queue holds about what is in flight.
    deadlines: VecDeque<(Instant, TransactionKey)>,
    outgoing: OwnIdMap<String, OutgoingState>,
    /// Set once the session is closing or closed; no new sends.
    closing: bool,
    closed_event_sent: bool,
    /// Why the writer failed, for the reader's Closed.
    write_error: Option<String>,
}

pub(crate) struct Inner {
    shared: Mutex<Shared>,
    /// Wakes the reader's timer when a first deadline appears.
    deadline_added: Notify,
    /// The writer failed (its text in `Shared::write_error`): the reader
    /// ends the session, so that Closed lists incoming messages too.
    writer_failed: Notify,
    commands: mpsc::UnboundedSender<writer::Command>,
    events: mpsc::Sender<SessionEvent>,
    config: SessionConfig,
    info: Arc<TransportInfo>,
    /// Messages the application expects to be resumed: id → octets it holds.
    resumes: Mutex<HashMap<String, u64>>,
    /// Octets of `send_message` bodies queued and not yet written.
    queued_outgoing: Arc<AtomicU64>,
    /// Incoming messages the application refused ([`Session::refuse_incoming`]),
    /// not yet taken by the reader: id → code.
    refusals: Mutex<HashMap<String, u16>>,
    /// `imdn.Message-ID`s of sent CPIM messages (see [`ImdnConfig`]).
    imdn_sent: imdn::SentIds,
}

/// A running session. Cloning gives another handle to the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("local", &self.inner.info.local_uri.to_string())
            .finish()
    }
}

/// Capacity of the event channel.
pub const EVENT_QUEUE: usize = 256;

impl Session {
    /// Starts a session over a bound transport. Must be called within a Tokio
    /// runtime. Events arrive on the returned receiver until
    /// [`SessionEvent::Closed`].
    pub fn new(
        transport: Transport,
        config: SessionConfig,
    ) -> (Session, mpsc::Receiver<SessionEvent>) {
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let info = transport.info().clone();
        let inner = Arc::new(Inner {
            shared: Mutex::new(Shared::default()),
            deadline_added: Notify::new(),
            writer_failed: Notify::new(),
            commands: cmd_tx,
            events: events_tx,
            config,
            info,
            resumes: Mutex::new(HashMap::new()),
            queued_outgoing: Arc::new(AtomicU64::new(0)),
            refusals: Mutex::new(HashMap::new()),
            imdn_sent: imdn::SentIds::default(),
        });
        let (read_half, write_half) = transport.into_split();
        let writer_task = tokio::spawn(writer::run(inner.clone(), write_half, cmd_rx));
        tokio::spawn(reader::run(inner.clone(), read_half, writer_task));
        (Session { inner }, events_rx)
    }

    /// The connection's paths and addresses.
    pub fn info(&self) -> &Arc<TransportInfo> {
        &self.inner.info
    }

    /// Emits [`SessionEvent::RelayExpiring`] at `warn_at` (at once if that
    /// has passed), unless the session has closed by then. For a session
    /// through a relay: `ConnectorRelay::expiry_warning_at` and
    /// `expires_at` (or the `AcceptorRelay` ones).
    pub fn warn_relay_expiry(&self, warn_at: std::time::Instant, expires_at: std::time::Instant) {
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep_until(Instant::from_std(warn_at)).await;
            loop {
                let Some(inner) = inner.upgrade() else { return };
                {
                    // Under the lock that Closed is decided under, so the
                    // warning never follows Closed.
                    let shared = inner.shared.lock().expect("session state");
                    if shared.closed_event_sent {
                        return;
                    }
                    match inner
                        .events
                        .try_send(SessionEvent::RelayExpiring { expires_at })
                    {
                        Err(mpsc::error::TrySendError::Full(_)) => {}
                        _ => return,
                    }
                }
                drop(inner);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    /// The configuration in force.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    fn command(&self, c: writer::Command) -> Result<(), SessionError> {
        if self.inner.shared.lock().expect("session state").closing {
            return Err(SessionError::Closed);
        }
        self.inner
            .commands
            .send(c)
            .map_err(|_| SessionError::Closed)
    }

    /// Sends a request chunk as it is (python-msrplib's `send_chunk`). With
    /// `notify_response`, its response (received, or generated after the
    /// response timeout: 408 for Failure-Report yes, 200 for partial/no)
    /// arrives as [`SessionEvent::ChunkResponse`].
    pub fn send_chunk(&self, chunk: Chunk, notify_response: bool) -> Result<(), SessionError> {
        if !chunk.is_request() {
            return Err(SessionError::InvalidArgument(
                "send_chunk takes a request".into(),
            ));
        }
        check_transaction_id(&chunk)?;
        let kind = if notify_response {
            PendingKind::Notify
        } else {
            PendingKind::Silent
        };
        self.command(writer::Command::Raw(Box::new((chunk, kind))))
    }

    /// Sends a request chunk and waits for its transaction's result (python-msrplib's
    /// `deliver_chunk`): the 2xx response, `None` at once for
    /// Failure-Report `no`, or [`SessionError::Transaction`] with the code.
    pub async fn deliver_chunk(&self, chunk: Chunk) -> Result<Option<Chunk>, SessionError> {
        if !chunk.is_request() {
            return Err(SessionError::InvalidArgument(
                "deliver_chunk takes a request".into(),
            ));
        }
        check_transaction_id(&chunk)?;
        if chunk.failure_report() == FailureReport::No {
            self.command(writer::Command::Raw(Box::new((chunk, PendingKind::Silent))))?;
            return Ok(None);
        }
        let (tx, rx) = oneshot::channel();
        self.command(writer::Command::Raw(Box::new((
            chunk,
            PendingKind::Deliver(tx),
        ))))?;
        let response = rx.await.map_err(|_| SessionError::Closed)?;
        match response.code() {
            Some(c) if (200..300).contains(&c) => Ok(Some(response)),
            Some(c) => Err(SessionError::Transaction {
                code: c,
                response: Box::new(response),
            }),
            None => Err(SessionError::Closed),
        }
    }

    /// Queues a whole message; the library splits it into chunks. Returns
    /// its Message-ID. The outcome arrives as [`SessionEvent::Sent`].
    pub fn send_message(&self, mut msg: OutgoingMessage) -> Result<String, SessionError> {
        if let Some(max) = self.inner.config.max_outgoing_size {
            if msg.body.len() as u64 > max {
                return Err(SessionError::InvalidArgument(format!(
                    "message of {} octets exceeds the peer's max-size {max}",
                    msg.body.len()
                )));
            }
        }
        check_content_type(&msg.content_type)?;
        let watch = msg.success_report;
        let len = msg.body.len() as u64;
        let mut charge = limits::Charge::new(Some(self.inner.queued_outgoing.clone()));
        let limit = self.inner.config.max_queued_outgoing;
        if !charge.try_add(len, limit) {
            let text = format!(
                "message of {len} octets: {} octets already queued for this session (limit {limit}), {} in the library (limit {})",
                self.inner.queued_outgoing.load(std::sync::atomic::Ordering::Relaxed),
                limits::total_buffered(),
                limits::total_buffered_limit()
            );
            crate::msrp_log!(
                self.inner.info.logger,
                crate::log::Level::Warn,
                "session {}: send refused: {text}",
                self.inner.info.local_uri
            );
            return Err(SessionError::LimitExceeded(text));
        }
        msg.body = limits::charged_bytes(msg.body, charge);
        let tracked = self
            .inner
            .config
            .imdn
            .notification_events
            .then(|| msg.clone());
        let source = outgoing::Source::message(msg)?;
        let id = source.message_id.to_string();
        if let Some(msg) = tracked {
            imdn::note_sent(&self.inner, &msg, &id);
        }
        self.queue_watched(source, watch)?;
        Ok(id)
    }

    /// Queues a file; chunks are read from disk as the socket drains.
    pub fn send_file(&self, file: OutgoingFile) -> Result<String, SessionError> {
        check_content_type(&file.content_type)?;
        let watch = file.success_report;
        let source = outgoing::Source::file(file, self.inner.config.max_outgoing_size)?;
        let id = source.message_id.to_string();
        self.queue_watched(source, watch)?;
        Ok(id)
    }

    /// Queues a message; through a relay, one asking for a success REPORT
    /// stays unfinished until the REPORT confirms it.
    fn queue_watched(
        &self,
        source: outgoing::Source,
        success_report: bool,
    ) -> Result<(), SessionError> {
        let id = source.message_id.clone();
        let watch = success_report && self.inner.info.via_relay;
        if watch {
            let mut shared = self.inner.shared.lock().expect("session state");
            shared
                .report_watch
                .insert(id.to_string(), ReportWatch::default());
        }
        let r = self.command(writer::Command::Queue(Box::new(source)));
        if r.is_err() && watch {
            let mut shared = self.inner.shared.lock().expect("session state");
            shared.report_watch.remove(&*id);
        }
        r
    }

    /// Cancels an outgoing message: one not started is dropped, one under
    /// way is ended with `#`. Its [`SessionEvent::Sent`] carries 0... unless
    /// it already completed.
    pub fn cancel(&self, message_id: &str) -> Result<(), SessionError> {
        {
            // A cancelled message waits for no REPORT (unless it had gone).
            let mut shared = self.inner.shared.lock().expect("session state");
            if shared.report_watch.get(message_id).is_some_and(|w| !w.sent) {
                shared.report_watch.remove(message_id);
            }
        }
        self.command(writer::Command::Cancel(message_id.to_string()))
    }

    /// Ends the session. `sync`: sends what is queued, waits for the last
    /// responses, then closes. Otherwise closes now; what was pending is
    /// listed as unfinished in [`SessionEvent::Closed`]. Either way the
    /// responses and REPORTs already queued for the peer go out with the
    /// close (waiting at most a second for the socket to take them).
    /// Returns once closed.
    pub async fn shutdown(&self, sync: bool) {
        let (tx, rx) = oneshot::channel();
        {
            let mut shared = self.inner.shared.lock().expect("session state");
            if shared.closed_event_sent {
                return;
            }
            shared.closing = true;
        }
        if self
            .inner
            .commands
            .send(writer::Command::Shutdown { sync, done: tx })
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Tells the session that the peer will resume the incoming message
    /// `message_id` (python-msrplib's position-based resume: same Message-ID, the
    /// sender continues at octet `already + 1`) and that the application
    /// already holds its first `already` octets. The rest then arrives as
    /// [`SessionEvent::MessageData`] at its offsets and the message
    /// completes with [`SessionEvent::MessageComplete`] once the total is
    /// reached. Call it before the resumed chunks arrive.
    pub fn expect_resume(&self, message_id: &str, already: u64) -> Result<(), SessionError> {
        if !crate::protocol::headers::is_received_id(message_id) {
            return Err(SessionError::InvalidArgument(format!(
                "message id {message_id:?} is not 1-255 visible characters"
            )));
        }
        if already == 0 {
            return Err(SessionError::InvalidArgument(
                "a resumed message starts after at least one octet".into(),
            ));
        }
        self.inner
            .resumes
            .lock()
            .expect("session state")
            .insert(message_id.to_string(), already);
        Ok(())
    }

    /// Refuses the rest of an incoming message, e.g. when the application
    /// cannot store it (a full disk): its next chunks, and those already on
    /// the way, are answered `code` (RFC 4975 §7.2; 413 tells the sender to
    /// stop sending the message, §7.1.4), so the sender learns that only the
    /// octets answered 200 so far were taken. The message is no longer
    /// reassembled and is not listed as unfinished at close. `code` must be
    /// 400-599.
    pub fn refuse_incoming(&self, message_id: &str, code: u16) -> Result<(), SessionError> {
        if !(400..600).contains(&code) {
            return Err(SessionError::InvalidArgument(format!(
                "{code} is not an error code"
            )));
        }
        if !crate::protocol::headers::is_received_id(message_id) {
            return Err(SessionError::InvalidArgument(format!(
                "message id {message_id:?} is not 1-255 visible characters"
            )));
        }
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        let mut refusals = self.inner.refusals.lock().expect("session state");
        if refusals.len() >= 1024 {
            return Err(SessionError::LimitExceeded(
                "1024 refusals are waiting for their messages' next chunk".into(),
            ));
        }
        refusals.insert(message_id.to_string(), code);
        Ok(())
    }

    /// Whether the session has ended or is ending.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.lock().expect("session state").closing
    }
}

fn check_content_type(ct: &str) -> Result<(), SessionError> {
    match Header::parse("Content-Type", ct) {
        Ok(_) => Ok(()),
        Err(e) => Err(SessionError::InvalidArgument(e.to_string())),
    }
}

/// The liveness check of [`SessionConfig::liveness_timeout`], kept by the
/// reader: when something is outstanding, the connection must show life
/// (any octets from the peer) within the timeout of the later of the last
/// arrival and the moment something became outstanding.
pub(crate) struct Liveness {
    timeout: Option<Duration>,
    last_received: Instant,
    outstanding_since: Option<Instant>,
}

impl Liveness {
    pub(crate) fn new(timeout: Option<Duration>) -> Liveness {
        Liveness {
            timeout,
            last_received: Instant::now(),
            outstanding_since: None,
        }
    }

    /// Something arrived from the peer.
    pub(crate) fn received(&mut self) {
        self.last_received = Instant::now();
    }

    /// The cheap test, on every loop of the reader: anything in flight.
    fn outstanding(inner: &Inner, incoming_open: bool) -> bool {
        if incoming_open {
            return true;
        }
        let shared = inner.shared.lock().expect("session state");
        !shared.pending.is_empty() || !shared.outgoing.is_empty()
    }

    /// The precise test, once the deadline passed: something the peer must
    /// answer or continue. Chunks sent with Failure-Report partial or no
    /// get no response on success (RFC 4975 §7.1.2), so a silent peer is
    /// normal for them.
    fn awaiting_peer(inner: &Inner, incoming_open: bool) -> bool {
        if incoming_open {
            return true;
        }
        let shared = inner.shared.lock().expect("session state");
        shared
            .pending
            .values()
            .any(|p| p.failure_report == FailureReport::Yes)
    }

    /// When the connection is to be declared dead unless something arrives
    /// (`None`: no deadline now).
    pub(crate) fn deadline(&mut self, inner: &Inner, incoming_open: bool) -> Option<Instant> {
        let timeout = self.timeout?;
        if !Self::outstanding(inner, incoming_open) {
            self.outstanding_since = None;
            return None;
        }
        let since = *self.outstanding_since.get_or_insert_with(Instant::now);
        Some(since.max(self.last_received) + timeout)
    }

    /// The close reason when the deadline passed with something still outstanding.
    pub(crate) fn dead(&mut self, inner: &Inner, incoming_open: bool) -> Option<CloseReason> {
        let deadline = self.deadline(inner, incoming_open)?;
        let now = Instant::now();
        if now < deadline {
            return None;
        }
        if !Self::awaiting_peer(inner, incoming_open) {
            // Only unanswerable chunks are out: start the wait over.
            self.outstanding_since = Some(now);
            return None;
        }
        let timeout = self.timeout?;
        Some(CloseReason::Error(format!(
            "connection declared dead: nothing received from the peer for {} ms while a transaction or message was outstanding",
            timeout.as_millis()
        )))
    }
}

impl Inner {
    /// Sends an event; waits when the application is behind.
    async fn emit(&self, event: SessionEvent) {
        let _ = self.events.send(event).await;
    }

    /// Handles the answer to a transaction (received or generated), named
    /// by the response's transaction id. Returns events to emit (none, and
    /// no allocation, for the usual 200 to a message chunk). The response
    /// is taken out of `response` only when an event or a waiting caller
    /// keeps it; otherwise it is left there, for the reader to recycle.
    fn complete_transaction(&self, response: &mut Option<Chunk>) -> Vec<SessionEvent> {
        let Some(chunk) = response.as_ref() else {
            return Vec::new();
        };
        let Some(key) = TransactionKey::new(&chunk.transaction_id) else {
            return Vec::new();
        };
        let mut shared = self.shared.lock().expect("session state");
        let Some(p) = shared.pending.remove(&key) else {
            return Vec::new();
        };
        let code = chunk.code().unwrap_or(0);
        match p.kind {
            PendingKind::Silent => Vec::new(),
            PendingKind::Notify => {
                let response = response.take().expect("checked above");
                vec![SessionEvent::ChunkResponse {
                    transaction_id: response.transaction_id.clone(),
                    response,
                }]
            }
            PendingKind::Deliver(tx) => {
                let _ = tx.send(response.take().expect("checked above"));
                Vec::new()
            }
            PendingKind::Message {
                message_id,
                start,
                end,
            } => {
                let step = self.config.progress_step;
                let Some(out) = shared.outgoing.get_mut(&*message_id) else {
                    return Vec::new();
                };
                out.outstanding = out.outstanding.saturating_sub(1);
                let mut events = Vec::new();
                if (200..300).contains(&code) {
                    out.acked.insert(start, end);
                    let acked = out.acknowledged();
                    if acked >= out.progress_reported + step
                        && acked < out.total.saturating_sub(out.first - 1)
                    {
                        out.progress_reported = acked;
                        events.push(SessionEvent::Progress {
                            message_id: message_id.to_string(),
                            outgoing: true,
                            bytes: acked,
                            total: Some(out.total),
                        });
                    }
                } else if out.first_error.is_none() {
                    // §7.1.4 / 413: stop sending this message.
                    out.first_error = Some(code);
                    out.stopped = true;
                }
                if (out.all_written || out.stopped) && out.outstanding == 0 {
                    let out = shared.outgoing.remove(&*message_id).expect("present");
                    let bytes = out.acknowledged();
                    if let Some(w) = shared.report_watch.get_mut(&*message_id) {
                        w.sent = true;
                        w.total = out.total;
                        if out.first_error.is_some() || w.complete() {
                            shared.report_watch.remove(&*message_id);
                        }
                    }
                    events.push(SessionEvent::Sent {
                        message_id: message_id.to_string(),
                        code: out.first_error.unwrap_or(200),
                        bytes_acknowledged: bytes,
                    });
                }
                events
            }
        }
    }

    /// Expires transactions whose deadline passed, generating python-msrplib's
    /// local response: 408 for Failure-Report yes, 200 for partial or no.
    /// Such a 408 is a local event only; it is never sent (RFC 4975 §10.4).
    fn expire(&self, now: Instant) -> Vec<SessionEvent> {
        let mut expired = Vec::new();
        {
            let mut shared = self.shared.lock().expect("session state");
            while let Some((at, _)) = shared.deadlines.front() {
                if *at > now {
                    break;
                }
                let (at, tid) = shared.deadlines.pop_front().expect("peeked");
                if let Some(p) = shared.pending.get(&tid) {
                    if p.deadline == Some(at) {
                        expired.push((tid, p.failure_report));
                    }
                }
            }
        }
        let mut events = Vec::new();
        for (tid, fr) in expired {
            let code = if fr == FailureReport::Yes { 408 } else { 200 };
            let comment = if code == 408 {
                "Request Timeout (generated locally)"
            } else {
                "OK (no response expected)"
            };
            let response = Chunk::response(tid.as_str(), code, Some(comment.to_string()));
            events.extend(self.complete_transaction(&mut Some(response)));
        }
        events
    }

    /// The next response deadline of a transaction still waiting for its
    /// response; the entries of answered ones before it are dropped.
    fn next_deadline(&self) -> Option<Instant> {
        let mut shared = self.shared.lock().expect("session state");
        let shared = &mut *shared;
        while let Some((at, tid)) = shared.deadlines.front() {
            if shared
                .pending
                .get(tid)
                .is_some_and(|p| p.deadline == Some(*at))
            {
                return Some(*at);
            }
            shared.deadlines.pop_front();
        }
        None
    }

    /// A REPORT for an outgoing message arrived (RFC 4975 §7.1.2): a success
    /// confirms its range end to end; a failure ends the wait (the
    /// application hears of it as `SessionEvent::Report`).
    pub(crate) fn note_report(&self, message_id: &str, code: u16, range: ByteRange) {
        let mut shared = self.shared.lock().expect("session state");
        let Some(w) = shared.report_watch.get_mut(message_id) else {
            return;
        };
        if code != 200 {
            shared.report_watch.remove(message_id);
            return;
        }
        if let Some(end) = range.end.or(range.total) {
            if end >= range.start && range.start >= 1 {
                w.confirmed.insert(range.start, end);
            }
        }
        if w.complete() {
            shared.report_watch.remove(message_id);
        }
    }

    /// The unfinished list for the Closed event; marks the session closed.
    /// `None` when Closed was already emitted.
    fn take_unfinished(&self, incoming: Vec<Unfinished>) -> Option<Vec<Unfinished>> {
        let mut shared = self.shared.lock().expect("session state");
        if shared.closed_event_sent {
            return None;
        }
        shared.closed_event_sent = true;
        shared.closing = true;
        let outgoing: Vec<(String, OutgoingState)> = shared.outgoing.drain().collect();
        let mut list: Vec<Unfinished> = outgoing
            .into_iter()
            .map(|(message_id, s)| {
                // Through a relay with a success REPORT asked for, only the
                // REPORTs count (the relay's 200s are hop by hop).
                let bytes_acknowledged = match shared.report_watch.remove(&message_id) {
                    Some(w) => w
                        .confirmed
                        .contiguous_from_one()
                        .saturating_sub(s.first - 1),
                    None => s.acknowledged(),
                };
                Unfinished {
                    bytes_acknowledged,
                    message_id,
                    outgoing: true,
                }
            })
            .collect();
        // Through a relay: taken by the relay, never confirmed by a REPORT.
        let watched: Vec<Unfinished> = shared
            .report_watch
            .drain()
            .filter(|(_, w)| w.sent)
            .map(|(message_id, w)| Unfinished {
                bytes_acknowledged: w.confirmed.contiguous_from_one().min(w.total),
                message_id,
                outgoing: true,
            })
            .collect();
        list.extend(watched);
        list.sort_by(|a, b| a.message_id.cmp(&b.message_id));
        for (_, p) in shared.pending.drain() {
            if let PendingKind::Deliver(tx) = p.kind {
                drop(tx);
            }
        }
        shared.deadlines.clear();
        list.extend(incoming);
        Some(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_types_match() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(content_type_accepted(&t(&["*"]), "image/png"));
        assert!(content_type_accepted(
            &t(&["text/plain"]),
            "Text/Plain; charset=utf-8"
        ));
        assert!(content_type_accepted(
            &t(&["message/cpim", "text/*"]),
            "text/html"
        ));
        assert!(!content_type_accepted(&t(&["text/*"]), "image/png"));
        assert!(!content_type_accepted(&t(&["text/plain"]), "text/plainx"));
        assert!(!content_type_accepted(&[], "text/plain"));
    }

    #[test]
    fn transaction_keys_hold_ids_of_up_to_32_octets() {
        let longest = "a".repeat(32);
        let key = TransactionKey::new(&longest).expect("32 octets fit");
        assert_eq!(key.as_str(), longest);
        assert_eq!(TransactionKey::new(&"a".repeat(33)), None);
        assert_eq!(TransactionKey::new("abcd"), TransactionKey::new("abcd"));
        assert_ne!(TransactionKey::new("abcd"), TransactionKey::new("abcd1"));
        let random = TransactionKey::random();
        assert_eq!(random.as_str().len(), 16);
        assert!(crate::protocol::headers::is_ident(random.as_str()));
        assert_ne!(random, TransactionKey::random());
        let mut chunk = Chunk::request("a".repeat(33), crate::protocol::Method::Send);
        assert!(matches!(
            check_transaction_id(&chunk),
            Err(SessionError::InvalidArgument(_))
        ));
        chunk.transaction_id.pop();
        assert!(check_transaction_id(&chunk).is_ok());
        chunk.transaction_id = "abcd".into();
        chunk.data = Bytes::from_static(b"x\r\n---------abcd$\r\n");
        assert!(matches!(
            check_transaction_id(&chunk),
            Err(SessionError::InvalidArgument(_))
        ));
        chunk.ensure_safe_transaction_id();
        assert!(check_transaction_id(&chunk).is_ok());
    }
}

#[cfg(test)]
mod idle_memory {
    /// Every session's command channel allocates room for 32 commands when
    /// it is made (tokio's channel blocks), idle or not: keep them small.
    #[test]
    fn writer_commands_stay_small() {
        assert!(std::mem::size_of::<super::writer::Command>() <= 32);
    }
}
