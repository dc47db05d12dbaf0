//! One bound MSRP connection (python-msrplib's `MSRPTransport`): framed reading
//! through the streaming parser, writing through the encoder, `make_chunk`,
//! `write_response` (RFC 4975 §7.2), and `check_incoming_send_chunk`.
//!
//! A [`Transport`] can be used whole (seed style: read and write from one
//! task) or split into a [`TransportReader`] and a [`TransportWriter`] that
//! run concurrently (the session layer does this). Backpressure is natural:
//! the reader reads only when asked, the writer waits for the socket.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};

use super::stream::Stream;
use super::tls::Fingerprint;
use crate::log::{ConnectionInfo, Level, SharedLogger};
use crate::msrp_log;
use crate::protocol::{
    ids, ByteRange, Chunk, ChunkReader, Continuation, Event, Header, Limits, Method, ParseError,
    Uri,
};

/// Smallest read reservation; the read size doubles while reads fill it.
const MIN_READ: usize = 8 * 1024;
/// Largest read reservation. (1 MiB made fewer reads of a fast file
/// transfer but no difference that stood out in CPU time, and it would let
/// a connection assembling a 1 MiB chunk hold twice that: the limits'
/// arithmetic in msrp.h counts 1 MiB per connection.)
const MAX_READ: usize = 256 * 1024;
/// A written output buffer larger than this is freed rather than kept.
const KEEP_WRITE_BUFFER: usize = 4 * 1024;

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// An MSRP error answer: a status code and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsrpError {
    pub code: u16,
    pub comment: String,
}

impl MsrpError {
    pub fn new(code: u16, comment: impl Into<String>) -> MsrpError {
        MsrpError {
            code,
            comment: comment.into(),
        }
    }
}

impl fmt::Display for MsrpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.comment)
    }
}

impl std::error::Error for MsrpError {}

/// What ended or broke a read.
#[derive(Debug)]
pub enum TransportError {
    /// The peer closed the connection between chunks.
    Closed,
    /// The peer closed the connection in the middle of a chunk.
    ClosedMidChunk,
    /// The input was malformed. When the error is not fatal, the connection
    /// can go on (a 400 may be answered when [`ParseError::can_answer`]).
    Parse(ParseError),
    Io(io::Error),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Closed => f.write_str("connection closed by peer"),
            TransportError::ClosedMidChunk => {
                f.write_str("connection closed by peer in the middle of a chunk")
            }
            TransportError::Parse(e) => write!(f, "malformed input: {e}"),
            TransportError::Io(e) => write!(f, "connection error: {e}"),
        }
    }
}

impl std::error::Error for TransportError {}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> Self {
        TransportError::Io(e)
    }
}

impl TransportError {
    /// Whether the connection cannot be used any more.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, TransportError::Parse(e) if !e.fatal)
    }
}

/// How strictly incoming requests are matched to this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathMatching {
    /// RFC 4975 §6.1 URI comparison of the To-Path against the local URI and
    /// the last From-Path URI against the remote endpoint's URI.
    Uri,
    /// Session ids only (the default): ALGs and SBCs rewrite the host and
    /// port of a path, never its random session id (RFC 6714 §4.1; what
    /// sipsimple and RCS clients do).
    #[default]
    SessionId,
}

/// What a bound connection knows about its session. Shared by the reader
/// and the writer halves.
#[derive(Debug)]
pub struct TransportInfo {
    /// Process-unique connection number (for logs).
    pub id: u64,
    /// This endpoint's URI (last of the full local path).
    pub local_uri: Uri,
    /// The full local path as put in SDP (relays first, then the local URI).
    pub local_path: Vec<Uri>,
    /// The full remote path from the peer's SDP.
    pub remote_path: Vec<Uri>,
    /// The To-Path of outgoing requests: this side's relays (Use-Path), then
    /// the remote path (RFC 4976 §5.1).
    pub to_path: Vec<Uri>,
    /// Whether incoming From-Path may hold relays the remote path does not
    /// name (true through relays): then only its last URI is compared.
    pub via_relay: bool,
    pub matching: PathMatching,
    pub peer_addr: Option<SocketAddr>,
    pub local_addr: Option<SocketAddr>,
    pub peer_fingerprint: Option<Fingerprint>,
    pub tls: bool,
    pub limits: Limits,
    pub logger: SharedLogger,
    peer_text: String,
    local_text: String,
}

/// Parameters for python-msrplib's `make_chunk`.
#[derive(Debug, Clone, Default)]
pub struct ChunkParams {
    /// Random when `None`.
    pub transaction_id: Option<String>,
    /// `None` (and no `code`) means SEND.
    pub method: Option<Method>,
    /// A response code: builds a response instead of a request.
    pub code: Option<u16>,
    pub comment: Option<String>,
    pub data: Bytes,
    /// Content-Type for a chunk with data (`text/plain` when data is given and this is `None`).
    pub content_type: Option<String>,
    /// `None`: `$` when the chunk ends the message, else `+`.
    pub continuation: Option<Continuation>,
    /// 1-based start of this chunk in the message (default 1).
    pub start: Option<u64>,
    /// Inclusive end; computed from start and data when `None`.
    pub end: Option<u64>,
    /// Total message length; as if this chunk ended the message when `None`.
    pub length: Option<u64>,
    /// Random when `None` (requests only).
    pub message_id: Option<String>,
}

impl TransportInfo {
    /// Builds the shared state of a bound connection.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        local_path: Vec<Uri>,
        remote_path: Vec<Uri>,
        use_path: Vec<Uri>,
        matching: PathMatching,
        stream: &Stream,
        limits: Limits,
        logger: SharedLogger,
    ) -> TransportInfo {
        let peer_addr = stream.peer_addr().ok();
        let socket = TransportInfo {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            local_text: String::new(),
            peer_text: peer_addr.map(|a| a.to_string()).unwrap_or_default(),
            local_uri: local_path
                .last()
                .cloned()
                .expect("a local path has at least the local URI"),
            local_path: Vec::new(),
            remote_path: Vec::new(),
            to_path: Vec::new(),
            via_relay: false,
            matching,
            peer_addr,
            local_addr: stream.local_addr().ok(),
            peer_fingerprint: stream.peer_fingerprint(),
            tls: stream.is_tls(),
            limits,
            logger,
        };
        socket.rebound(local_path, remote_path, use_path)
    }

    /// The state for another session on the same connection (after a
    /// relay's AUTH): same socket facts, new paths. Also what [`Self::new`]
    /// uses to set the paths: the To-Path of outgoing requests is the
    /// Use-Path then the remote path (RFC 4976 §5.1).
    pub fn rebound(
        &self,
        local_path: Vec<Uri>,
        remote_path: Vec<Uri>,
        use_path: Vec<Uri>,
    ) -> TransportInfo {
        let local_uri = local_path
            .last()
            .cloned()
            .expect("a local path has at least the local URI");
        let via_relay = !use_path.is_empty() || local_path.len() > 1 || remote_path.len() > 1;
        let mut to_path = use_path;
        to_path.extend(remote_path.iter().cloned());
        TransportInfo {
            id: self.id,
            local_text: local_uri.to_string(),
            peer_text: self.peer_text.clone(),
            local_uri,
            local_path,
            remote_path,
            to_path,
            via_relay,
            matching: self.matching,
            peer_addr: self.peer_addr,
            local_addr: self.local_addr,
            peer_fingerprint: self.peer_fingerprint,
            tls: self.tls,
            limits: self.limits,
            logger: self.logger.clone(),
        }
    }

    /// Who to name in log lines.
    pub fn connection_info(&self) -> ConnectionInfo<'_> {
        ConnectionInfo {
            id: self.id,
            local: &self.local_text,
            peer: &self.peer_text,
        }
    }

    /// The remote endpoint's URI (last of the remote path).
    pub fn remote_uri(&self) -> &Uri {
        self.remote_path
            .last()
            .expect("a remote path has at least one URI")
    }

    /// python-msrplib's `make_chunk`: a request (SEND unless told) or a response
    /// with To-Path/From-Path from this connection's state, Byte-Range from
    /// start/end/length, and a Message-ID generated when absent.
    pub fn make_chunk(&self, p: ChunkParams) -> Chunk {
        let tid = p.transaction_id.unwrap_or_else(ids::transaction_id);
        let mut chunk = match p.code {
            Some(code) => Chunk::response(tid, code, p.comment),
            None => Chunk::request(tid, p.method.unwrap_or(Method::Send)),
        };
        chunk.add_header(Header::ToPath(self.to_path.as_slice().into()));
        chunk.add_header(Header::FromPath(vec![self.local_uri.clone()].into()));
        if chunk.is_request() {
            chunk.add_header(Header::MessageId(
                p.message_id.unwrap_or_else(ids::message_id).into(),
            ));
            let start = p.start.unwrap_or(1).max(1);
            let len = p.data.len() as u64;
            let end = p.end.unwrap_or(start + len - 1);
            let total = p.length.unwrap_or(end);
            let range = ByteRange {
                start,
                end: Some(end),
                total: Some(total),
            };
            chunk.add_header(Header::ByteRange(range));
            chunk.continuation = p.continuation.unwrap_or(if end >= total {
                Continuation::End
            } else {
                Continuation::More
            });
            if !p.data.is_empty() || p.content_type.is_some() {
                chunk.add_header(Header::ContentType(
                    p.content_type.as_deref().unwrap_or("text/plain").into(),
                ));
            }
        }
        chunk.data = p.data;
        chunk.ensure_safe_transaction_id();
        chunk
    }

    /// A response to `request` (RFC 4975 §7.2): To-Path is the leftmost URI
    /// of the request's From-Path (the previous hop), From-Path this
    /// endpoint's URI. `None` for requests that get no response (REPORT,
    /// Failure-Report: no; Failure-Report: partial with a 200).
    pub fn make_response(
        &self,
        request: &Chunk,
        code: u16,
        comment: Option<&str>,
    ) -> Option<Chunk> {
        if !super::response_due(request, code) {
            return None; // §7.1.2: REPORTs are never answered
        }
        Some(make_response_to(request, &self.local_uri, code, comment))
    }

    /// Checks an incoming request's paths against this session (python-msrplib's
    /// `check_incoming_SEND_chunk`): `Ok` or the error to answer.
    pub fn check_incoming_send_chunk(&self, chunk: &Chunk) -> Result<(), MsrpError> {
        let to = chunk
            .to_path()
            .ok_or_else(|| MsrpError::new(400, "missing To-Path"))?;
        let from = chunk
            .from_path()
            .ok_or_else(|| MsrpError::new(400, "missing From-Path"))?;
        // By the time a request reaches its endpoint, relays have removed
        // themselves: the To-Path is this endpoint's URI alone (RFC 4976 §6.2).
        let to_ok = to.len() == 1 && self.uri_matches(&to[0], &self.local_uri);
        if !to_ok {
            return Err(MsrpError::new(481, "To-Path is not this session"));
        }
        let from_ok = if self.via_relay {
            from.last()
                .is_some_and(|u| self.uri_matches(u, self.remote_uri()))
        } else {
            from.len() == self.remote_path.len()
                && from
                    .iter()
                    .zip(&self.remote_path)
                    .all(|(a, b)| self.uri_matches(a, b))
        };
        if !from_ok {
            return Err(MsrpError::new(481, "From-Path is not this session's peer"));
        }
        Ok(())
    }

    fn uri_matches(&self, a: &Uri, b: &Uri) -> bool {
        match self.matching {
            PathMatching::Uri => a == b,
            PathMatching::SessionId => a.same_session_id(b),
        }
    }
}

/// A response to `request` from an endpoint with URI `local` (RFC 4975 §7.2).
pub fn make_response_to(request: &Chunk, local: &Uri, code: u16, comment: Option<&str>) -> Chunk {
    let comment = comment.map(str::to_string).or_else(|| {
        let r = crate::protocol::reason_phrase(code);
        (!r.is_empty()).then(|| r.to_string())
    });
    let mut resp = Chunk::response(request.transaction_id.clone(), code, comment);
    let prev_hop = request.from_path().and_then(|p| p.first().cloned());
    if let Some(hop) = prev_hop {
        resp.add_header(Header::ToPath(vec![hop].into()));
    }
    resp.add_header(Header::FromPath(vec![local.clone()].into()));
    resp
}

/// The reading half of a connection.
pub struct TransportReader {
    info: Arc<TransportInfo>,
    io: ReadHalf<Stream>,
    buf: BytesMut,
    chunks: ChunkReader,
    pending: VecDeque<Chunk>,
    read_size: usize,
    eof: bool,
}

/// The writing half of a connection.
///
/// Output is gathered as a list of parts: runs of `out` (heads, end-lines,
/// small payloads, all copied there) and payloads of at least
/// [`BY_REFERENCE`] octets kept as the `Bytes` they came in, written with
/// vectored writes instead of being copied. Over TLS the vectored write
/// still makes full records: rustls cuts its records from all the slices
/// of one write as from one buffer, encrypting straight from them. Over
/// WebSocket the stream cuts what it is given into one message per chunk
/// at each chunk's end-line (RFC 7977 §5.1, [`super::websocket`]), so
/// gathering many chunks into one write, or slicing one, is still right.
pub struct TransportWriter {
    info: Arc<TransportInfo>,
    io: WriteHalf<Stream>,
    out: Vec<u8>,
    /// How much of `out` the parts cover.
    out_noted: usize,
    parts: Vec<Part>,
    /// The first part the socket has not taken whole, and how much of it it
    /// took. A flush that is cancelled (a timeout around `write_chunk`)
    /// resumes from here, so no octet is sent twice.
    part: usize,
    part_offset: usize,
    /// Octets in the parts, and octets of them written.
    queued: usize,
    written: usize,
    closed: bool,
    /// The last flush had to wait long for the socket to take its octets
    /// (or no flush was made yet): see [`TransportWriter::last_flush_waited`].
    waited: bool,
}

/// Payloads at least this long are written from their own buffer.
const BY_REFERENCE: usize = 1024;

/// Most slices handed to one vectored write (512 KiB of 8 KiB chunks, a
/// head and a payload each).
const MAX_SLICES: usize = 128;

/// A flush that waits this long for the socket to take its octets counts
/// as having waited (see [`TransportWriter::last_flush_waited`]); shorter
/// waits are the peer catching up, as on loopback.
const LONG_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// A piece of buffered output.
enum Part {
    /// `out[start..end]`.
    Out { start: usize, end: usize },
    /// A payload, by reference.
    Data(Bytes),
}

/// A bound MSRP connection.
pub struct Transport {
    pub reader: TransportReader,
    pub writer: TransportWriter,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("info", &self.reader.info)
            .finish()
    }
}

impl Transport {
    /// Wraps a connected stream. `leftover` is input already read from it
    /// (during binding) and `pending` chunks already parsed but not consumed.
    pub fn new(
        stream: Stream,
        info: TransportInfo,
        leftover: BytesMut,
        parser: ChunkReader,
        pending: VecDeque<Chunk>,
    ) -> Transport {
        let info = Arc::new(info);
        let (r, w) = tokio::io::split(stream);
        Transport {
            reader: TransportReader {
                info: info.clone(),
                io: r,
                buf: leftover,
                chunks: parser,
                pending,
                read_size: MIN_READ,
                eof: false,
            },
            writer: TransportWriter {
                info,
                io: w,
                out: Vec::new(),
                out_noted: 0,
                parts: Vec::new(),
                part: 0,
                part_offset: 0,
                queued: 0,
                written: 0,
                closed: false,
                waited: true,
            },
        }
    }

    pub fn info(&self) -> &Arc<TransportInfo> {
        &self.reader.info
    }

    /// The same connection with new session state (after a relay's AUTH,
    /// the paths of the session that binds on it). Buffered input is kept.
    pub fn with_info(mut self, info: TransportInfo) -> Transport {
        let info = Arc::new(info);
        self.reader.info = info.clone();
        self.writer.info = info;
        self
    }

    /// See [`TransportInfo::make_chunk`].
    pub fn make_chunk(&self, p: ChunkParams) -> Chunk {
        self.reader.info.make_chunk(p)
    }

    /// See [`TransportInfo::check_incoming_send_chunk`].
    pub fn check_incoming_send_chunk(&self, chunk: &Chunk) -> Result<(), MsrpError> {
        self.reader.info.check_incoming_send_chunk(chunk)
    }

    /// Reads the next chunk (or, with `size`, a virtual segment).
    pub async fn read_chunk(&mut self, size: Option<usize>) -> Result<Chunk, TransportError> {
        self.reader.read_chunk(size).await
    }

    /// Writes one chunk and waits until it is handed to the socket.
    pub async fn write_chunk(&mut self, chunk: &Chunk) -> io::Result<()> {
        self.writer.write_chunk(chunk).await
    }

    /// Writes the response to `request` when one is due (RFC 4975 §7.2).
    pub async fn write_response(
        &mut self,
        request: &Chunk,
        code: u16,
        comment: Option<&str>,
    ) -> io::Result<()> {
        self.writer.write_response(request, code, comment).await
    }

    /// Splits into halves that can be used from two tasks.
    pub fn into_split(self) -> (TransportReader, TransportWriter) {
        (self.reader, self.writer)
    }

    /// Closes the connection (TLS close_notify, then FIN).
    pub async fn close(mut self) {
        self.writer.close().await;
    }
}

impl TransportReader {
    pub fn info(&self) -> &Arc<TransportInfo> {
        &self.info
    }

    /// Reads more input into the buffer. While the connection is idle no
    /// read buffer is held: the reader first waits until the stream is
    /// readable (a zero-length read, which both the TCP and the TLS stream
    /// answer only once input or the end is there), and only then reserves
    /// room and reads; a read that turns out to have nothing to give
    /// releases the empty buffer again before it waits.
    async fn fill(&mut self) -> Result<(), TransportError> {
        if self.eof {
            return Err(if self.chunks.is_idle() && self.buf.is_empty() {
                TransportError::Closed
            } else {
                TransportError::ClosedMidChunk
            });
        }
        let n = std::future::poll_fn(|cx| self.poll_fill(cx)).await?;
        if n == 0 {
            self.eof = true;
            return Err(if self.chunks.is_idle() && self.buf.is_empty() {
                TransportError::Closed
            } else {
                TransportError::ClosedMidChunk
            });
        }
        if n >= self.read_size && self.read_size < MAX_READ {
            self.read_size *= 2;
        } else if n < self.read_size / 4 && self.read_size > MIN_READ {
            self.read_size /= 2;
        }
        Ok(())
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut probe = ReadBuf::new(&mut []);
        match Pin::new(&mut self.io).poll_read(cx, &mut probe) {
            Poll::Pending => {
                self.release_idle_buffer();
                return Poll::Pending;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        self.buf.reserve(self.read_size);
        let spare = self.buf.spare_capacity_mut();
        let mut read = ReadBuf::uninit(spare);
        match Pin::new(&mut self.io).poll_read(cx, &mut read) {
            Poll::Pending => {
                self.release_idle_buffer();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                // SAFETY: the stream initialised `n` octets of the spare capacity.
                unsafe { self.buf.set_len(self.buf.len() + n) };
                Poll::Ready(Ok(n))
            }
        }
    }

    /// An empty buffer is not kept while waiting for input, nor what the
    /// parser keeps only for the message in progress.
    fn release_idle_buffer(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
            self.chunks.release_idle_state();
        }
    }

    /// Gives back a chunk the caller is done with, for the next one read to
    /// reuse its room (see [`crate::protocol::Parser::recycle`]).
    pub fn recycle(&mut self, chunk: Chunk) {
        self.chunks.recycle(chunk);
    }

    /// The next chunk already received, or `None` when reading one would
    /// mean waiting for the socket (the session answers everything a read
    /// brought before it waits).
    pub fn read_buffered_chunk(&mut self) -> Result<Option<Chunk>, TransportError> {
        self.take_chunk(None)
    }

    /// The next chunk already received, whole when it is shorter than
    /// `size` payload octets, else the next segment of it (a "virtual
    /// chunk", see [`crate::protocol::ChunkReader::read_chunk`]) once at
    /// least `size` octets of it arrived; `None` when that would mean
    /// waiting for the socket. A chunk of any length is read this way in
    /// memory bounded by `size` and one socket read. Whether a segment was
    /// the last of its chunk is [`TransportReader::in_chunk`]'s to say.
    pub fn read_buffered_piece(&mut self, size: usize) -> Result<Option<Chunk>, TransportError> {
        self.take_chunk(Some(size))
    }

    /// Whether the last chunk read was a segment of a chunk whose rest is
    /// still to come (false after a whole chunk or a chunk's last segment).
    pub fn in_chunk(&self) -> bool {
        !self.chunks.is_idle()
    }

    /// Reads the next chunk (python-msrplib's `read_chunk(size)`): a whole chunk,
    /// or with `size` a "virtual" segment once at least `size` payload octets
    /// have arrived (`Some(0)`: whatever has arrived).
    pub async fn read_chunk(&mut self, size: Option<usize>) -> Result<Chunk, TransportError> {
        loop {
            match self.take_chunk(size)? {
                Some(chunk) => return Ok(chunk),
                None => self.fill().await?,
            }
        }
    }

    /// A chunk (or segment of `size`) from what was already received.
    fn take_chunk(&mut self, size: Option<usize>) -> Result<Option<Chunk>, TransportError> {
        if let Some(c) = self.pending.pop_front() {
            return Ok(Some(c));
        }
        match self.chunks.read_chunk(&mut self.buf, size) {
            Ok(Some(chunk)) => {
                self.log_received(&chunk);
                Ok(Some(chunk))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                msrp_log!(
                    self.info.logger,
                    Level::Warn,
                    "connection {}: {}",
                    self.info.id,
                    e
                );
                Err(TransportError::Parse(e))
            }
        }
    }

    /// Streaming read: the next parser event (head, payload piece, end). Do
    /// not mix with [`TransportReader::read_chunk`] inside one chunk.
    pub async fn read_event(
        &mut self,
        parser: &mut crate::protocol::Parser,
    ) -> Result<Event, TransportError> {
        loop {
            match parser.next_event(&mut self.buf) {
                Ok(Some(e)) => return Ok(e),
                Ok(None) => self.fill().await?,
                Err(e) => return Err(TransportError::Parse(e)),
            }
        }
    }

    /// Queues chunks to be returned by the next reads before any new input.
    pub fn push_pending(&mut self, chunks: VecDeque<Chunk>) {
        self.pending.extend(chunks);
    }

    fn log_received(&self, chunk: &Chunk) {
        let logger = &self.info.logger;
        if logger.wants_wire() {
            let conn = self.info.connection_info();
            logger.received_new_chunk(&chunk.encode_start(), conn, chunk);
            if !chunk.data.is_empty() {
                logger.received_chunk_data(&chunk.data, conn, &chunk.transaction_id);
            }
            logger.received_chunk_end(
                &chunk.encode_end(chunk.continuation),
                conn,
                &chunk.transaction_id,
            );
        }
    }
}

impl TransportWriter {
    pub fn info(&self) -> &Arc<TransportInfo> {
        &self.info
    }

    /// Appends a chunk's encoding to the output without writing it;
    /// [`TransportWriter::flush`] writes it. Small payloads are copied into
    /// the buffer so that many small chunks go out in one write; large ones
    /// (over TCP) are written from their own buffer.
    pub fn buffer_chunk(&mut self, chunk: &Chunk) {
        let start = self.out.len();
        chunk.encode_start_into(&mut self.out);
        let head_end = self.out.len();
        self.note_out();
        self.push_payload(&chunk.data);
        let end_start = self.out.len();
        chunk.encode_end_into(chunk.continuation, &mut self.out);
        self.note_out();
        let logger = &self.info.logger;
        if logger.wants_wire() {
            let conn = self.info.connection_info();
            logger.sent_new_chunk(&self.out[start..head_end], conn, chunk);
            if !chunk.data.is_empty() {
                logger.sent_chunk_data(&chunk.data, conn, &chunk.transaction_id);
            }
            logger.sent_chunk_end(&self.out[end_start..], conn, &chunk.transaction_id);
        }
    }

    /// Appends raw octets (a piece of a chunk being written in slices).
    pub fn buffer_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.note_out();
    }

    /// Appends what `encode` writes into the output buffer (an encoded
    /// head or end-line).
    pub fn buffer_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        encode(&mut self.out);
        self.note_out();
    }

    /// Appends a piece of payload, by reference when it is large.
    pub fn buffer_bytes(&mut self, bytes: &Bytes) {
        self.push_payload(bytes);
    }

    fn push_payload(&mut self, data: &Bytes) {
        if data.len() >= BY_REFERENCE {
            self.queued += data.len();
            self.parts.push(Part::Data(data.clone()));
        } else {
            self.out.extend_from_slice(data);
            self.note_out();
        }
    }

    /// Covers what was appended to `out` with a part.
    fn note_out(&mut self) {
        let len = self.out.len();
        if len == self.out_noted {
            return;
        }
        match self.parts.last_mut() {
            Some(Part::Out { end, .. }) if *end == self.out_noted => *end = len,
            _ => self.parts.push(Part::Out {
                start: self.out_noted,
                end: len,
            }),
        }
        self.queued += len - self.out_noted;
        self.out_noted = len;
    }

    /// Octets buffered and not yet written.
    pub fn buffered(&self) -> usize {
        self.queued - self.written
    }

    /// Whether the last flush had to wait at least [`LONG_WAIT`] until the
    /// socket took its octets (its send buffer stayed full: the peer or the
    /// path is slower than this writer), and before the first flush. A writer gathers more between
    /// flushes while the socket keeps up (fewer, larger writes) and less
    /// when it does not (urgent output, a response or a chat message, then
    /// waits behind less).
    pub fn last_flush_waited(&self) -> bool {
        self.waited
    }

    fn reset_out(&mut self) {
        self.parts.clear();
        self.part = 0;
        self.part_offset = 0;
        self.queued = 0;
        self.written = 0;
        self.out_noted = 0;
        // An idle connection keeps no large output buffer either.
        if self.out.capacity() > KEEP_WRITE_BUFFER {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
    }

    /// Writes everything buffered and flushes the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "connection closed",
            ));
        }
        // Cancel safe: progress is recorded after every write, so a flush
        // dropped mid-way (e.g. by a timeout) leaves only the octets the
        // socket has not taken, and the next flush continues with them.
        let mut waiting_since: Option<std::time::Instant> = None;
        while self.part < self.parts.len() {
            let result = {
                let mut slices = [io::IoSlice::new(&[]); MAX_SLICES];
                let mut count = 0;
                let mut offset = self.part_offset;
                for part in &self.parts[self.part..] {
                    if count == MAX_SLICES {
                        break;
                    }
                    let bytes: &[u8] = match part {
                        Part::Out { start, end } => &self.out[*start..*end],
                        Part::Data(d) => d,
                    };
                    slices[count] = io::IoSlice::new(&bytes[offset..]);
                    offset = 0;
                    count += 1;
                }
                let slices = &slices[..count];
                let io = &mut self.io;
                let waiting_since = &mut waiting_since;
                std::future::poll_fn(|cx| {
                    let poll = if count > 1 {
                        Pin::new(&mut *io).poll_write_vectored(cx, slices)
                    } else {
                        Pin::new(&mut *io).poll_write(cx, &slices[0])
                    };
                    if poll.is_pending() && waiting_since.is_none() {
                        *waiting_since = Some(std::time::Instant::now());
                    }
                    poll
                })
                .await
            };
            match result {
                Ok(0) => {
                    self.reset_out();
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
                Ok(n) => self.advance(n),
                Err(e) => {
                    self.reset_out();
                    return Err(e);
                }
            }
        }
        self.waited = waiting_since.is_some_and(|t| t.elapsed() >= LONG_WAIT);
        self.reset_out();
        self.io.flush().await
    }

    /// Records that the socket took `n` more octets.
    fn advance(&mut self, mut n: usize) {
        self.written += n;
        while n > 0 {
            let len = match &self.parts[self.part] {
                Part::Out { start, end } => end - start,
                Part::Data(d) => d.len(),
            } - self.part_offset;
            if n >= len {
                n -= len;
                self.part += 1;
                self.part_offset = 0;
            } else {
                self.part_offset += n;
                n = 0;
            }
        }
    }

    /// Writes one chunk and waits until the socket took it.
    pub async fn write_chunk(&mut self, chunk: &Chunk) -> io::Result<()> {
        self.buffer_chunk(chunk);
        self.flush().await
    }

    /// Writes the response to `request` when one is due (RFC 4975 §7.2).
    pub async fn write_response(
        &mut self,
        request: &Chunk,
        code: u16,
        comment: Option<&str>,
    ) -> io::Result<()> {
        match self.info.make_response(request, code, comment) {
            Some(r) => self.write_chunk(&r).await,
            None => Ok(()),
        }
    }

    /// Closes the connection for writing (TLS close_notify, then FIN).
    pub async fn close(&mut self) {
        if !self.closed {
            let _ = self.flush().await;
            let _ = self.io.shutdown().await;
            self.closed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    const CHUNK: &[u8] = b"MSRP a1b2c3 SEND\r\nTo-Path: msrp://127.0.0.1:2/b;tcp\r\nFrom-Path: msrp://127.0.0.1:1/a;tcp\r\nMessage-ID: m1m2m3\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------a1b2c3$\r\n";

    /// A transport over a loopback TCP connection, and the other end.
    async fn loopback_transport() -> (Transport, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let stream = Stream::Tcp(listener.accept().await.unwrap().0);
        let info = TransportInfo::new(
            vec![Uri::parse("msrp://127.0.0.1:2/b;tcp").unwrap()],
            vec![Uri::parse("msrp://127.0.0.1:1/a;tcp").unwrap()],
            Vec::new(),
            PathMatching::Uri,
            &stream,
            Limits::default(),
            crate::log::default_logger(),
        );
        let t = Transport::new(
            stream,
            info,
            BytesMut::new(),
            ChunkReader::new(Limits::default()),
            VecDeque::new(),
        );
        (t, peer)
    }

    /// A flush reports whether it had to wait long for the socket: before
    /// any flush (so a writer starts with small writes), after one larger
    /// than what the socket takes while the peer reads nothing for 50 ms,
    /// and not after one the socket took at once.
    #[tokio::test]
    async fn flush_says_whether_it_waited() {
        let (t, peer) = loopback_transport().await;
        let (_reader, mut writer) = t.into_split();
        assert!(writer.last_flush_waited(), "no flush yet");
        writer.buffer_raw(b"hello");
        writer.flush().await.unwrap();
        assert!(!writer.last_flush_waited(), "five octets are taken at once");
        // 64 MiB is more than loopback's socket buffers hold: the flush
        // waits until the peer starts reading.
        let big = Bytes::from(vec![b'x'; 64 << 20]);
        writer.buffer_bytes(&big);
        let drain = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut peer = peer;
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0;
            while got < (64 << 20) + 5 {
                got += peer.read(&mut buf).await.unwrap();
            }
            peer
        });
        writer.flush().await.unwrap();
        assert!(writer.last_flush_waited(), "the socket was full");
        let _peer = drain.await.unwrap();
        writer.buffer_raw(b"hello");
        writer.flush().await.unwrap();
        assert!(!writer.last_flush_waited(), "taken at once again");
    }

    /// An idle connection holds no read buffer: once everything received was
    /// parsed, a read that has to wait releases it (and reserves again when
    /// input arrives).
    #[tokio::test]
    async fn idle_reader_holds_no_buffer() {
        let (t, mut peer) = loopback_transport().await;
        let (mut reader, _writer) = t.into_split();
        for round in 0..2 {
            peer.write_all(CHUNK).await.unwrap();
            let chunk = reader.read_chunk(None).await.unwrap();
            assert_eq!(&chunk.data[..], b"hello", "round {round}");
            assert!(reader.buf.capacity() > 0, "the read reserved room");
            // Poll a read that has nothing to read, then give up on it.
            let waited =
                tokio::time::timeout(Duration::from_millis(20), reader.read_chunk(None)).await;
            assert!(waited.is_err(), "nothing was sent");
            assert_eq!(reader.buf.capacity(), 0, "idle, the buffer is released");
        }
    }
}
