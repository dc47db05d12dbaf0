//! The streaming chunk parser: fed arbitrary byte slices (one byte at a time
//! gives the same chunks as everything at once), it finds the end-line
//! `-------<transaction-id>[$+#]` that ends a chunk even when the payload holds
//! look-alike lines, hands payload out as zero-copy `Bytes` slices of the input
//! buffer, and never buffers without bound (RFC 4975 §7, §9).
//!
//! Two levels:
//! - [`Parser::next_event`] yields [`Event::Head`], [`Event::Data`] pieces and
//!   [`Event::End`]: for streaming consumers (files, relays).
//! - [`ChunkReader::read_chunk`] assembles whole chunks, or with a size hint
//!   python-msrplib's "virtual chunks" (segments with an adjusted Byte-Range
//!   and `+`).

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;
use std::fmt;

use super::chunk::{Chunk, ChunkKind, Continuation, Method};
use super::headers::{is_received_id, is_token_char, ByteRange, Header, HeaderLimits};

/// Octets discarded past a chunk's declared length, while looking for its
/// end-line, before the connection is given up as unframed.
const SKIP_AFTER_DECLARED: u64 = 64 * 1024;

/// Parser limits. Defaults are safe for a process holding thousands of sessions.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest start line, CRLF included.
    pub max_start_line: usize,
    /// Longest header line, CRLF included.
    pub max_header_line: usize,
    /// Most headers in one chunk.
    pub max_headers: usize,
    /// Most octets in the start line and headers together.
    pub max_header_block: usize,
    /// Most URIs in one path header.
    pub max_path_uris: usize,
    /// Most payload octets in a chunk that declares no length (no Byte-Range,
    /// or an end and total of `*`).
    pub max_undeclared_chunk: u64,
    /// Most empty lines tolerated between chunks.
    pub max_blank_lines: usize,
    /// Most payload octets [`ChunkReader`] assembles into one whole chunk
    /// (`size = None`), whatever the chunk's Byte-Range declares (RFC 4975
    /// §14.5: sanity-check byte-range values before allocating).
    pub max_assembled_chunk: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_start_line: 1024,
            max_header_line: 8192,
            max_headers: 64,
            max_header_block: 65536,
            max_path_uris: 32,
            max_undeclared_chunk: 64 << 20,
            max_blank_lines: 16,
            max_assembled_chunk: 64 << 20,
        }
    }
}

/// Which rule a malformed input broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    StartLineTooLong,
    InvalidStartLine,
    InvalidTransactionId,
    InvalidMethod,
    InvalidStatusCode,
    HeaderLineTooLong,
    TooManyHeaders,
    HeaderBlockTooLarge,
    InvalidHeaderLine,
    InvalidHeaderValue,
    DuplicateHeader,
    MissingToPath,
    MissingFromPath,
    /// More payload than the Byte-Range declares.
    ByteRangeExceeded,
    /// Payload ended before the declared Byte-Range length.
    ByteRangeShort,
    /// A chunk with no declared length grew past `max_undeclared_chunk`, or
    /// [`ChunkReader`] would assemble more than `max_assembled_chunk`.
    ChunkTooLarge,
    TooManyBlankLines,
}

/// A malformed input. When `fatal` is false the parser has resynchronised
/// (it skips the rest of the bad chunk) and can be fed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The rule that failed.
    pub kind: ParseErrorKind,
    /// A human-readable account of what was wrong.
    pub detail: String,
    /// The failed chunk's transaction id, once its start line was read.
    pub transaction_id: Option<String>,
    /// The failed chunk's start line and headers, when they were read (an
    /// error in the headers, or from [`ChunkReader`] an error in the payload;
    /// [`Parser::next_event`] already handed the head out as [`Event::Head`]
    /// before a payload error).
    pub head: Option<Box<Chunk>>,
    /// The connection cannot be resynchronised: close it.
    pub fatal: bool,
    /// The failed chunk is a request other than REPORT whose start line,
    /// To-Path and From-Path were read, so it can be answered with 400
    /// (RFC 4975 §7.2; a REPORT is never answered).
    pub answerable: bool,
}

impl ParseError {
    fn fatal(kind: ParseErrorKind, detail: impl Into<String>) -> ParseError {
        ParseError {
            kind,
            detail: detail.into(),
            transaction_id: None,
            head: None,
            fatal: true,
            answerable: false,
        }
    }

    /// Whether a 400 response can still be sent for this error: the parser
    /// resynchronised and the chunk is an answerable request.
    pub fn can_answer(&self) -> bool {
        !self.fatal && self.answerable
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)?;
        if let Some(t) = &self.transaction_id {
            write!(f, " (transaction {t})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// What the parser found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A chunk's start line and headers; `data` is empty. Payload follows.
    Head(Chunk),
    /// A piece of the current chunk's payload (a zero-copy slice of the input).
    Data(Bytes),
    /// The current chunk ended with this flag.
    End(Continuation),
}

/// Kept inline (no allocation per chunk for the parser's own state).
#[derive(Debug)]
enum State {
    StartLine { blank_lines: usize },
    Headers(PendingHead),
    Body(BodyState),
}

#[derive(Debug)]
struct PendingHead {
    chunk: Chunk,
    header_bytes: usize,
    error: Option<(ParseErrorKind, String)>,
}

/// The header lines [`Parser`] keeps the last one of, with what it parsed
/// to (the name with its colon, as this library and most others write it).
const CACHED_LINES: [&[u8]; 4] = [b"To-Path:", b"From-Path:", b"Message-ID:", b"Content-Type:"];

/// The last line of each of [`CACHED_LINES`] and what it parsed to.
type LineCache = [Option<(Vec<u8>, Header)>; CACHED_LINES.len()];

/// The fixed part of the end-line that ends a chunk with a body,
/// `\r\n-------`, followed on the wire by the transaction id and the flag
/// (RFC 4975 §7.1). One searcher serves every chunk; each hit is then
/// compared with the chunk's own transaction id, so a payload holding
/// `\r\n-------` followed by anything else stays payload.
const END_LINE_PREFIX: &[u8] = b"\r\n-------";

fn end_line_finder() -> &'static Finder<'static> {
    static FINDER: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(END_LINE_PREFIX));
    &FINDER
}

#[derive(Debug)]
struct BodyState {
    /// Payload octets handed out so far.
    seen: u64,
    /// Declared payload length, when the Byte-Range end is known.
    declared: Option<u64>,
    /// Most payload the Byte-Range allows: the declared length, or what is
    /// left of a known total when the end is `*`.
    allowed: Option<u64>,
    /// Discarding the payload of a chunk already reported as an error.
    skipping: bool,
    /// Payload octets discarded while skipping.
    skipped: u64,
    /// Payload past what the Byte-Range allows in a chunk whose range says
    /// it is a whole message, held until the end-line shows its flag: `$`
    /// (then it is handed out) or another (then the chunk is an error).
    overflow: Option<BytesMut>,
    /// The Byte-Range says the chunk is a whole message: it starts at octet
    /// 1 and its end, where given, is the total.
    whole_message: bool,
    /// The chunk is a request that a 400 can answer.
    answerable: bool,
    transaction_id: String,
}

/// The streaming parser. Feed it by appending to a `BytesMut` and calling
/// [`Parser::next_event`] until it returns `Ok(None)` (needs more input).
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    header_limits: HeaderLimits,
    state: State,
    /// The end of a bodiless chunk, reported right after its head.
    pending_end: Option<Continuation>,
    /// The last To-Path, From-Path, Message-ID and Content-Type lines and
    /// what they parsed to: on one connection the paths repeat in every
    /// chunk, and the others in every chunk of a message, so a line equal
    /// to the cached one is cloned instead of checked and parsed again.
    /// Made on first use and dropped while the connection waits idle.
    line_cache: Option<Box<LineCache>>,
    /// The room of the last body's transaction id, reused by the next.
    spare_transaction_id: String,
    /// The room of the last chunk given back with [`Parser::recycle`],
    /// reused by the next chunk's head.
    spare: SpareRoom,
}

/// What a chunk given back with [`Parser::recycle`] leaves for the next
/// one: the room of its transaction id, of its header list and of a
/// response's comment (each empty, none allocated, until a chunk is given
/// back).
#[derive(Debug, Default)]
struct SpareRoom {
    transaction_id: String,
    headers: Vec<Header>,
    comment: String,
}

/// Most octets of a transaction id or comment room kept for reuse (an id is
/// 4-32 characters, RFC 4975 §9; comments are reason phrases).
const MAX_SPARE_TEXT: usize = 256;

impl SpareRoom {
    /// `text` in the room taken from `room` (which is left empty).
    fn text_in(room: &mut String, text: &str) -> String {
        let mut room = std::mem::take(room);
        room.clear();
        room.push_str(text);
        room
    }
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(Limits::default())
    }
}

fn find_crlf(buf: &[u8], limit: usize) -> Result<Option<usize>, ()> {
    // Returns the index of '\n' of the first line ending, Err on a bare '\n'.
    match memchr::memchr(b'\n', &buf[..buf.len().min(limit)]) {
        Some(i) if i > 0 && buf[i - 1] == b'\r' => Ok(Some(i)),
        Some(_) => Err(()),
        None => Ok(None),
    }
}

impl Parser {
    pub fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            header_limits: HeaderLimits {
                max_path_uris: limits.max_path_uris,
            },
            state: State::StartLine { blank_lines: 0 },
            pending_end: None,
            line_cache: None,
            spare_transaction_id: String::new(),
            spare: SpareRoom::default(),
        }
    }

    /// Gives back a chunk the caller is done with: the next chunk parsed
    /// reuses the room of its transaction id, header list and comment, so a
    /// reader that gives back every chunk it handled parses without
    /// allocating for them. Optional; the payload is only released.
    pub fn recycle(&mut self, chunk: Chunk) {
        let Chunk {
            transaction_id,
            kind,
            mut headers,
            ..
        } = chunk;
        if transaction_id.capacity() <= MAX_SPARE_TEXT {
            self.spare.transaction_id = transaction_id;
        }
        if headers.capacity() <= self.limits.max_headers.max(8) {
            headers.clear();
            self.spare.headers = headers;
        }
        if let ChunkKind::Response {
            comment: Some(comment),
            ..
        } = kind
        {
            if comment.capacity() <= MAX_SPARE_TEXT {
                self.spare.comment = comment;
            }
        }
    }

    /// Parses a header line, through the line cache for the headers of
    /// [`CACHED_LINES`] (exactly as written there; other spellings are
    /// parsed every time).
    fn header(
        line_cache: &mut Option<Box<LineCache>>,
        header_limits: &HeaderLimits,
        line: &[u8],
    ) -> Result<Header, (ParseErrorKind, String)> {
        // The line that changes with every chunk, in its common form, is
        // read without the general header path.
        if let Some(value) = line.strip_prefix(b"Byte-Range:") {
            // Spaces and tabs around the value, as the general path trims.
            if let Some(range) = ByteRange::parse_common(trim_blank(value)) {
                return Ok(Header::ByteRange(range));
            }
        }
        let Some(slot) = CACHED_LINES.iter().position(|p| line.starts_with(p)) else {
            return parse_header_line(line, header_limits);
        };
        let line_cache = line_cache.get_or_insert_with(Default::default);
        if let Some((cached, header)) = &line_cache[slot] {
            if cached.as_slice() == line {
                return Ok(header.clone());
            }
        }
        let header = parse_header_line(line, header_limits)?;
        match &mut line_cache[slot] {
            Some((cached, cached_header)) => {
                cached.clear();
                cached.extend_from_slice(line);
                *cached_header = header.clone();
            }
            empty => *empty = Some((line.to_vec(), header.clone())),
        }
        Ok(header)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Lets go of what only helps while chunks keep coming (the cached
    /// lines, the room of the last transaction id and of the last chunk
    /// given back), for a connection that waits idle: an idle connection
    /// keeps none of it, and a busy one parses its lines again once per
    /// socket read, not once per chunk.
    pub fn release_idle_state(&mut self) {
        self.line_cache = None;
        self.spare_transaction_id = String::new();
        self.spare = SpareRoom::default();
    }

    /// Whether the parser is between chunks (nothing partially read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::StartLine { .. }) && self.pending_end.is_none()
    }

    /// Consumes what it can from the front of `buf` and returns the next event,
    /// `Ok(None)` when more input is needed. After a non-fatal error, keep
    /// calling; after a fatal one, the connection cannot be resynchronised.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ParseError> {
        if let Some(flag) = self.pending_end.take() {
            return Ok(Some(Event::End(flag)));
        }
        loop {
            match &mut self.state {
                State::StartLine { blank_lines } => {
                    let limit = self.limits.max_start_line;
                    let nl = match find_crlf(buf, limit) {
                        Ok(Some(nl)) => nl,
                        Ok(None) => {
                            if buf.len() >= limit {
                                return Err(ParseError::fatal(
                                    ParseErrorKind::StartLineTooLong,
                                    format!("no CRLF within {limit} octets"),
                                ));
                            }
                            return Ok(None);
                        }
                        Err(()) => {
                            return Err(ParseError::fatal(
                                ParseErrorKind::InvalidStartLine,
                                "bare LF in start line",
                            ))
                        }
                    };
                    let line = buf.split_to(nl + 1);
                    let line = &line[..nl - 1];
                    if line.is_empty() {
                        *blank_lines += 1;
                        if *blank_lines > self.limits.max_blank_lines {
                            return Err(ParseError::fatal(
                                ParseErrorKind::TooManyBlankLines,
                                "too many empty lines between chunks",
                            ));
                        }
                        continue;
                    }
                    let (chunk, error) = parse_start_line(line, &mut self.spare)?;
                    let header_bytes = nl + 1;
                    self.state = State::Headers(PendingHead {
                        chunk,
                        header_bytes,
                        error,
                    });
                }
                State::Headers(head) => {
                    let limit = self.limits.max_header_line;
                    let nl = match find_crlf(buf, limit) {
                        Ok(Some(nl)) => nl,
                        Ok(None) => {
                            if buf.len() >= limit {
                                return Err(self.fatal_in_head(
                                    ParseErrorKind::HeaderLineTooLong,
                                    format!("no CRLF within {limit} octets"),
                                ));
                            }
                            return Ok(None);
                        }
                        Err(()) => {
                            return Err(self.fatal_in_head(
                                ParseErrorKind::InvalidHeaderLine,
                                "bare LF in header line",
                            ))
                        }
                    };
                    head.header_bytes += nl + 1;
                    if head.header_bytes > self.limits.max_header_block {
                        let max = self.limits.max_header_block;
                        return Err(self.fatal_in_head(
                            ParseErrorKind::HeaderBlockTooLarge,
                            format!("headers exceed {max} octets"),
                        ));
                    }
                    let line = buf.split_to(nl + 1);
                    let line = &line[..nl - 1];
                    let tid = head.chunk.transaction_id.as_bytes();
                    if line.len() == 8 + tid.len()
                        && line.starts_with(b"-------")
                        && &line[7..7 + tid.len()] == tid
                    {
                        // End-line right after the headers: a chunk without a body.
                        let flag = line[line.len() - 1];
                        let Some(flag) = Continuation::from_byte(flag) else {
                            return Err(self.fatal_in_head(
                                ParseErrorKind::InvalidHeaderLine,
                                "bad continuation flag",
                            ));
                        };
                        let head = self.take_head();
                        let chunk = check_head(head, Some(flag))?;
                        self.pending_end = Some(flag);
                        return Ok(Some(Event::Head(chunk)));
                    }
                    if line.is_empty() {
                        // Blank line: the body follows.
                        let head = self.take_head();
                        return match check_head(head, None) {
                            Ok(chunk) => {
                                let mut body = BodyState::new(
                                    self.transaction_id_room(&chunk.transaction_id),
                                    chunk.payload_byte_range(),
                                    false,
                                );
                                body.answerable = is_answerable(&chunk);
                                self.state = State::Body(body);
                                Ok(Some(Event::Head(chunk)))
                            }
                            Err(e) => {
                                // Skipped to its end-line, with the length
                                // its Byte-Range declares when it has one.
                                let range = e.head.as_ref().and_then(|h| h.payload_byte_range());
                                let tid = e.transaction_id.as_deref().unwrap_or_default();
                                let tid = self.transaction_id_room(tid);
                                self.state = State::Body(BodyState::new(tid, range, true));
                                Err(e)
                            }
                        };
                    }
                    if head.chunk.headers.len() >= self.limits.max_headers {
                        let max = self.limits.max_headers;
                        return Err(self.fatal_in_head(
                            ParseErrorKind::TooManyHeaders,
                            format!("more than {max} headers"),
                        ));
                    }
                    match Parser::header(&mut self.line_cache, &self.header_limits, line) {
                        Ok(h) => head.chunk.headers.push(h),
                        Err((kind, detail)) => {
                            if head.error.is_none() {
                                head.error = Some((kind, detail));
                            }
                        }
                    }
                }
                State::Body(body) => {
                    // The end-line without its flag: `\r\n-------<tid>`.
                    let tid = body.transaction_id.as_bytes();
                    let needle_len = END_LINE_PREFIX.len() + tid.len();
                    let finder = end_line_finder();
                    let mut from = 0;
                    let found = loop {
                        match finder.find(&buf[from..]) {
                            Some(p) => {
                                let p = from + p;
                                let after = p + needle_len;
                                if buf.len() < after {
                                    // Too close to the end for a whole
                                    // `\r\n-------<tid>`: held back below,
                                    // as is anything after it.
                                    break None;
                                }
                                if &buf[p + END_LINE_PREFIX.len()..after] != tid {
                                    from = p + 1; // another transaction's id: payload
                                    continue;
                                }
                                if buf.len() < after + 3 {
                                    break Some((p, false)); // maybe an end-line: wait for more input
                                }
                                if Continuation::from_byte(buf[after]).is_some()
                                    && &buf[after + 1..after + 3] == b"\r\n"
                                {
                                    break Some((p, true));
                                }
                                from = p + 1; // a look-alike line inside the payload
                            }
                            None => break None,
                        }
                    };
                    let (emit, complete) = match found {
                        Some((p, complete)) => (p, complete),
                        // Hold back what could be the start of an end-line.
                        None => (buf.len().saturating_sub(needle_len + 2), false),
                    };
                    if emit > 0 {
                        if body.skipping {
                            buf.advance(emit);
                            body.skipped += emit as u64;
                            if let Some(e) = body.lost_framing(&self.limits) {
                                return Err(e);
                            }
                            continue;
                        }
                        // Hand out payload up to the limit, then hold what
                        // runs past it until the end-line says what it is:
                        // the same events whatever the input's slicing.
                        let limit = body.allowed.unwrap_or(self.limits.max_undeclared_chunk);
                        let room = limit.saturating_sub(body.seen);
                        if room == 0 {
                            if let (Some(a), false) = (body.allowed, body.whole_message) {
                                // More payload than the Byte-Range declares,
                                // in a chunk that is not a whole message: an
                                // error, skipped to its end-line.
                                body.skipping = true;
                                return Err(body.error(
                                    ParseErrorKind::ByteRangeExceeded,
                                    format!("payload exceeds the {a} octets its Byte-Range allows"),
                                ));
                            }
                            if body.allowed.is_some() {
                                // More payload than the Byte-Range declares,
                                // in what says it is a whole message. The
                                // end-line still frames the chunk; held (at
                                // most SKIP_AFTER_DECLARED octets) until it
                                // shows the flag: `$` makes all of it the
                                // message.
                                let over = body.overflow.get_or_insert_with(BytesMut::new);
                                over.extend_from_slice(&buf[..emit]);
                                buf.advance(emit);
                                if over.len() as u64 > SKIP_AFTER_DECLARED {
                                    return Err(body.framing_lost(SKIP_AFTER_DECLARED));
                                }
                                continue;
                            }
                            body.skipping = true;
                            return Err(body.error(
                                ParseErrorKind::ChunkTooLarge,
                                format!("chunk of undeclared length exceeds {limit} octets"),
                            ));
                        }
                        let n = emit.min(usize::try_from(room).unwrap_or(usize::MAX));
                        body.seen += n as u64;
                        return Ok(Some(Event::Data(buf.split_to(n).freeze())));
                    }
                    if !complete {
                        return Ok(None);
                    }
                    // buf starts with "\r\n-------<tid><flag>\r\n"
                    let flag = Continuation::from_byte(buf[needle_len]).expect("checked above");
                    buf.advance(needle_len + 3);
                    let skipping = body.skipping;
                    let short = body
                        .declared
                        .filter(|d| body.seen < *d && flag != Continuation::Abort);
                    let seen = body.seen;
                    let mut error = short.map(|declared| {
                        body.error(
                            ParseErrorKind::ByteRangeShort,
                            format!("chunk carries {seen} octets but its Byte-Range declares {declared}"),
                        )
                    });
                    let overflow = body.overflow.take();
                    let mut tail = None;
                    if let Some(over) = overflow {
                        if flag == Continuation::End {
                            // A whole message whose payload ran past its
                            // Byte-Range (msrp-node-lib writes a binary
                            // buffer's length but sends it as a string): the
                            // end-line frames it, so all of it is the
                            // message (RFC 4975 §7: liberal in what is
                            // accepted). `ChunkReader` mends the Byte-Range.
                            tail = Some(over.freeze());
                        } else {
                            let allowed = body.allowed.unwrap_or_default();
                            let more = over.len();
                            error = Some(body.error(
                                ParseErrorKind::ByteRangeExceeded,
                                format!("payload exceeds the {allowed} octets its Byte-Range allows by {more}"),
                            ));
                        }
                    }
                    if let State::Body(body) =
                        std::mem::replace(&mut self.state, State::StartLine { blank_lines: 0 })
                    {
                        self.spare_transaction_id = body.transaction_id;
                    }
                    if skipping {
                        continue;
                    }
                    if let Some(e) = error {
                        return Err(e);
                    }
                    if let Some(tail) = tail {
                        self.pending_end = Some(flag);
                        return Ok(Some(Event::Data(tail)));
                    }
                    return Ok(Some(Event::End(flag)));
                }
            }
        }
    }

    /// `transaction_id` in the room of the last body's id.
    fn transaction_id_room(&mut self, transaction_id: &str) -> String {
        SpareRoom::text_in(&mut self.spare_transaction_id, transaction_id)
    }

    fn take_head(&mut self) -> PendingHead {
        match std::mem::replace(&mut self.state, State::StartLine { blank_lines: 0 }) {
            State::Headers(h) => h,
            _ => unreachable!("take_head outside the header state"),
        }
    }

    fn fatal_in_head(&mut self, kind: ParseErrorKind, detail: impl Into<String>) -> ParseError {
        let tid = match &self.state {
            State::Headers(h) => Some(h.chunk.transaction_id.clone()),
            _ => None,
        };
        ParseError {
            kind,
            detail: detail.into(),
            transaction_id: tid,
            head: None,
            fatal: true,
            answerable: false,
        }
    }

    /// Makes the parser discard the rest of the current chunk's payload (for
    /// a consumer that gave up on it); no effect outside a payload.
    pub fn skip_current_chunk(&mut self) {
        if let State::Body(body) = &mut self.state {
            body.skipping = true;
        }
    }
}

impl BodyState {
    fn new(transaction_id: String, range: Option<ByteRange>, skipping: bool) -> BodyState {
        let declared = range.and_then(|r| r.len());
        let allowed = declared
            .or_else(|| range.and_then(|r| r.total.map(|t| (t + 1).saturating_sub(r.start))));
        let whole_message = range.is_some_and(|r| {
            r.start == 1 && r.total.is_some() && (r.end.is_none() || r.end == r.total)
        });
        BodyState {
            seen: 0,
            declared,
            allowed,
            skipping,
            skipped: 0,
            overflow: None,
            whole_message,
            answerable: false,
            transaction_id,
        }
    }

    /// While skipping: the fatal error once so much was skipped without an
    /// end-line that framing is lost. A chunk that declared its length but
    /// whose end-line does not follow it within [`SKIP_AFTER_DECLARED`]
    /// octets has lost it (a wrong transaction id or flag on the
    /// end-line): whatever comes next would be swallowed. Only the octets
    /// past the declared length count, so a long chunk skipped from its
    /// start is skipped to its end.
    fn lost_framing(&self, limits: &Limits) -> Option<ParseError> {
        let (past, limit) = match self.declared {
            Some(d) => (
                (self.seen + self.skipped).saturating_sub(d),
                SKIP_AFTER_DECLARED,
            ),
            None => (
                self.skipped,
                limits.max_undeclared_chunk.max(SKIP_AFTER_DECLARED),
            ),
        };
        (past > limit).then(|| self.framing_lost(limit))
    }

    /// The fatal error of a chunk whose end-line did not come within
    /// `limit` octets past where it had to be.
    fn framing_lost(&self, limit: u64) -> ParseError {
        self.fatal_error(
            ParseErrorKind::ByteRangeExceeded,
            format!(
                "no end-line within {limit} octets after a chunk's declared length: framing lost"
            ),
        )
    }

    /// A non-fatal error in this chunk's payload (the head was handed out).
    fn error(&self, kind: ParseErrorKind, detail: String) -> ParseError {
        ParseError {
            kind,
            detail,
            transaction_id: Some(self.transaction_id.clone()),
            head: None,
            fatal: false,
            answerable: self.answerable,
        }
    }

    fn fatal_error(&self, kind: ParseErrorKind, detail: String) -> ParseError {
        ParseError {
            fatal: true,
            answerable: false,
            ..self.error(kind, detail)
        }
    }
}

/// A request other than REPORT can be answered (RFC 4975 §7.2).
fn is_answerable(chunk: &Chunk) -> bool {
    matches!(chunk.method(), Some(m) if *m != Method::Report)
}

/// Validates a completed head: no header errors, To-Path and From-Path present
/// once. A bodiless chunk's Byte-Range must not declare octets it lacks.
/// `bodiless_end` is the flag of a chunk without a body.
///
/// A failed request other than REPORT stays answerable even without its
/// paths: the connection's session knows the previous hop a response goes
/// to (RFC 4975 §7.2 asks for a 400 to a request it cannot accept, and a
/// sender left without one waits for its timeout).
fn check_head(head: PendingHead, bodiless_end: Option<Continuation>) -> Result<Chunk, ParseError> {
    let PendingHead { chunk, error, .. } = head;
    let answerable = is_answerable(&chunk);
    let fail = |kind, detail: String, chunk: Chunk| ParseError {
        kind,
        detail,
        transaction_id: Some(chunk.transaction_id.clone()),
        head: Some(Box::new(chunk)),
        fatal: false,
        answerable,
    };
    if let Some((kind, detail)) = error {
        return Err(fail(kind, detail, chunk));
    }
    if chunk.to_path().is_none() {
        return Err(fail(
            ParseErrorKind::MissingToPath,
            "no To-Path header".into(),
            chunk,
        ));
    }
    if chunk.from_path().is_none() {
        return Err(fail(
            ParseErrorKind::MissingFromPath,
            "no From-Path header".into(),
            chunk,
        ));
    }
    if let Err(super::chunk::VerifyError::Duplicate(name)) = chunk.verify_headers() {
        return Err(fail(
            ParseErrorKind::DuplicateHeader,
            format!("duplicate {name} header"),
            chunk,
        ));
    }
    // An aborted chunk may stop short of its Byte-Range (as with a body).
    if bodiless_end.is_some_and(|f| f != Continuation::Abort) {
        if let Some(len) = chunk.payload_byte_range().and_then(|r| r.len()) {
            if len != 0 {
                return Err(fail(
                    ParseErrorKind::ByteRangeShort,
                    format!("chunk has no body but its Byte-Range declares {len} octets"),
                    chunk,
                ));
            }
        }
    }
    Ok(chunk)
}

/// What [`parse_start_line`] read: the chunk without headers, and the
/// error that its request line or status line carries when the chunk can
/// still be framed (its transaction id was read), reported once the chunk
/// is skipped.
type StartLine = (Chunk, Option<(ParseErrorKind, String)>);

/// Parses a start line into a chunk without headers, in the room `spare`
/// holds (RFC 4975 §7.1: `req-start = pMSRP SP transact-id SP method CRLF`,
/// `resp-start = pMSRP SP transact-id SP status-code [SP comment] CRLF`).
///
/// Read liberally (RFC 4975 §7): any transaction id of
/// [`is_received_id`], any `token` method, a response with or without a
/// comment. Only a line that names no transaction id cannot be framed
/// (the end-line needs it) and is fatal; an unreadable method or status
/// code is an error of this chunk alone.
fn parse_start_line(line: &[u8], spare: &mut SpareRoom) -> Result<StartLine, ParseError> {
    let bad = |kind, detail: &str| ParseError::fatal(kind, detail.to_string());
    let rest = line.strip_prefix(b"MSRP ").ok_or_else(|| {
        bad(
            ParseErrorKind::InvalidStartLine,
            "start line does not begin with \"MSRP \"",
        )
    })?;
    let sp = memchr::memchr(b' ', rest).ok_or_else(|| {
        bad(
            ParseErrorKind::InvalidStartLine,
            "start line has no method or status",
        )
    })?;
    let tid = std::str::from_utf8(&rest[..sp]).map_err(|_| {
        bad(
            ParseErrorKind::InvalidTransactionId,
            "transaction id is not text",
        )
    })?;
    if !is_received_id(tid) {
        return Err(ParseError::fatal(
            ParseErrorKind::InvalidTransactionId,
            format!(
                "transaction id {:?} is not 1-{} visible characters",
                truncate(tid),
                super::headers::MAX_RECEIVED_ID
            ),
        ));
    }
    // Extra spaces before the method or status are tolerated.
    let rest = trim_blank(&rest[sp + 1..]);
    let mut error = None;
    let kind = if rest.first().is_some_and(u8::is_ascii_digit) {
        let code = if rest.len() >= 3
            && rest[..3].iter().all(u8::is_ascii_digit)
            && (rest.len() == 3 || rest[3] == b' ' || rest[3] == b'\t')
        {
            (rest[0] - b'0') as u16 * 100 + (rest[1] - b'0') as u16 * 10 + (rest[2] - b'0') as u16
        } else {
            error = Some((
                ParseErrorKind::InvalidStatusCode,
                format!(
                    "status code {:?} is not three digits",
                    String::from_utf8_lossy(&rest[..rest.len().min(16)])
                ),
            ));
            0
        };
        // The comment as sent, without the white space around it; a comment
        // that is not UTF-8 is kept with its bad octets replaced.
        let comment = trim_blank(rest.get(3..).unwrap_or_default());
        let comment = (error.is_none() && !comment.is_empty()).then(|| {
            let c = String::from_utf8_lossy(comment);
            SpareRoom::text_in(&mut spare.comment, &c)
        });
        ChunkKind::Response { code, comment }
    } else {
        let method = std::str::from_utf8(rest).ok().and_then(Method::parse);
        let method = method.unwrap_or_else(|| {
            error = Some((
                ParseErrorKind::InvalidMethod,
                format!(
                    "method {:?} is not a token",
                    String::from_utf8_lossy(&rest[..rest.len().min(32)])
                ),
            ));
            Method::Other(String::new())
        });
        ChunkKind::Request { method }
    };
    let mut headers = std::mem::take(&mut spare.headers);
    headers.clear();
    headers.reserve(6);
    let chunk = Chunk {
        transaction_id: SpareRoom::text_in(&mut spare.transaction_id, tid),
        kind,
        headers,
        data: Bytes::new(),
        continuation: Continuation::End,
        segment: 0,
    };
    Ok((chunk, error))
}

/// `text` without the spaces and tabs at either end.
fn trim_blank(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let from = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let to = text.iter().rposition(|b| !blank(b)).map_or(from, |i| i + 1);
    &text[from..to]
}

fn parse_header_line(
    line: &[u8],
    limits: &HeaderLimits,
) -> Result<Header, (ParseErrorKind, String)> {
    let line = std::str::from_utf8(line).map_err(|_| {
        (
            ParseErrorKind::InvalidHeaderLine,
            "header line is not UTF-8".to_string(),
        )
    })?;
    let (name, value) = line.split_once(':').ok_or_else(|| {
        (
            ParseErrorKind::InvalidHeaderLine,
            format!("no ':' in header line {:?}", truncate(line)),
        )
    })?;
    // hname = ALPHA *token (RFC 4975 §9); white space between the name and
    // the colon is tolerated on input.
    let name = name.trim_end_matches([' ', '\t']);
    if !name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        || !name.bytes().all(is_token_char)
    {
        return Err((
            ParseErrorKind::InvalidHeaderLine,
            format!("bad header name {:?}", truncate(name)),
        ));
    }
    // hval = utf8text = *(HTAB / %x20-7E / UTF8-NONASCII): no control characters.
    if value.bytes().any(|b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
        return Err((
            ParseErrorKind::InvalidHeaderValue,
            format!("control character in {name} header"),
        ));
    }
    Header::parse_with_limits(name, value, limits)
        .map_err(|e| (ParseErrorKind::InvalidHeaderValue, e.to_string()))
}

fn truncate(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Assembles parser events into chunks: whole chunks, or with a size hint python-msrplib's
///  "virtual chunks" — segments of one chunk, each with a Byte-Range that
/// matches the octets it carries, continuation `+` except the last, and a
/// `segment` number starting at 1.
#[derive(Debug, Default)]
pub struct ChunkReader {
    parser: Parser,
    head: Option<Chunk>,
    pieces: Vec<Bytes>,
    piece_bytes: usize,
    /// Offset in the chunk's payload of the current segment's first octet.
    segment_offset: u64,
    segment: u32,
}

impl ChunkReader {
    pub fn new(limits: Limits) -> ChunkReader {
        ChunkReader {
            parser: Parser::new(limits),
            ..Default::default()
        }
    }

    /// The underlying parser.
    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// Whether nothing of a chunk is partially read.
    pub fn is_idle(&self) -> bool {
        self.head.is_none() && self.parser.is_idle()
    }

    /// See [`Parser::recycle`].
    pub fn recycle(&mut self, chunk: Chunk) {
        self.parser.recycle(chunk);
    }

    /// See [`Parser::release_idle_state`]; also the room of the pieces
    /// list. Only between chunks.
    pub fn release_idle_state(&mut self) {
        if self.is_idle() {
            self.parser.release_idle_state();
            self.pieces = Vec::new();
        }
    }

    /// Returns the next whole chunk (`size = None`) or segment, `Ok(None)` when
    /// more input is needed. With `Some(size)`, a segment is returned once at
    /// least `size` payload octets are available (`Some(0)`: whatever arrived).
    pub fn read_chunk(
        &mut self,
        buf: &mut BytesMut,
        size: Option<usize>,
    ) -> Result<Option<Chunk>, ParseError> {
        loop {
            let event = match self.parser.next_event(buf) {
                Ok(Some(e)) => e,
                Ok(None) => {
                    // Out of input mid-chunk: hand out a segment when asked to.
                    if let (Some(size), Some(_)) = (size, &self.head) {
                        if self.piece_bytes > 0 && self.piece_bytes >= size {
                            return Ok(Some(self.take_segment(Continuation::More, false)));
                        }
                    }
                    return Ok(None);
                }
                Err(e) => return Err(self.fail(e)),
            };
            match event {
                Event::Head(chunk) => {
                    self.head = Some(chunk);
                    self.segment_offset = 0;
                    self.segment = 0;
                }
                Event::Data(d) => {
                    let max = self.parser.limits.max_assembled_chunk;
                    if size.is_none() && (self.piece_bytes + d.len()) as u64 > max {
                        // Never assemble more than the limit, whatever the
                        // Byte-Range declares: skip the rest of this chunk.
                        self.parser.skip_current_chunk();
                        let head = self.head.as_ref();
                        let e = ParseError {
                            kind: ParseErrorKind::ChunkTooLarge,
                            detail: format!("chunk payload exceeds {max} octets"),
                            transaction_id: head.map(|h| h.transaction_id.clone()),
                            head: None,
                            fatal: false,
                            answerable: head.is_some_and(is_answerable),
                        };
                        return Err(self.fail(e));
                    }
                    self.piece_bytes += d.len();
                    self.pieces.push(d);
                }
                Event::End(flag) => {
                    let last = self.segment > 0;
                    let chunk = self.take_segment(flag, !last);
                    // The chunk is over, whatever its flag (a real '+' too).
                    self.head = None;
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// Drops the partial chunk, attaching its head to a payload error.
    fn fail(&mut self, mut e: ParseError) -> ParseError {
        self.pieces.clear();
        self.piece_bytes = 0;
        if let Some(head) = self.head.take() {
            if e.head.is_none() && e.transaction_id.as_deref() == Some(&head.transaction_id) {
                e.head = Some(Box::new(head));
            }
        }
        e
    }

    fn take_segment(&mut self, flag: Continuation, whole: bool) -> Chunk {
        let data = match self.pieces.len() {
            0 => Bytes::new(),
            1 => self.pieces.pop().expect("one piece"),
            _ => {
                let mut all = BytesMut::with_capacity(self.piece_bytes);
                for p in self.pieces.drain(..) {
                    all.extend_from_slice(&p);
                }
                all.freeze()
            }
        };
        self.pieces.clear();
        self.piece_bytes = 0;
        if whole {
            let mut chunk = self.head.take().expect("a head before the end");
            if let Some(range) = chunk.payload_byte_range() {
                let n = data.len() as u64;
                let allowed = range
                    .len()
                    .or_else(|| range.total.map(|t| (t + 1).saturating_sub(range.start)));
                if allowed.is_some_and(|allowed| n > allowed) {
                    // A whole message whose payload ran past its Byte-Range
                    // (see `Parser::next_event`): the range is mended to the
                    // octets the end-line framed.
                    chunk.add_header(Header::ByteRange(ByteRange {
                        start: 1,
                        end: Some(n),
                        total: Some(n),
                    }));
                }
            }
            chunk.data = data;
            chunk.continuation = flag;
            return chunk;
        }
        let head = self.head.as_ref().expect("a head before data");
        let mut chunk = head.clone();
        let range = head.byte_range();
        self.segment += 1;
        let start = range.start + self.segment_offset;
        let len = data.len() as u64;
        self.segment_offset += len;
        chunk.add_header(Header::ByteRange(ByteRange {
            start,
            end: Some(start + len - 1),
            total: range.total,
        }));
        chunk.data = data;
        chunk.continuation = flag;
        chunk.segment = self.segment;
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodiless_report_with_byte_range_parses() {
        // RFC 4975 Figure 17: the REPORT's Byte-Range names the reported range.
        let wire = b"MSRP dkei38sd REPORT\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\nMessage-ID: 12339sdqwer\r\nByte-Range: 1-106/106\r\nStatus: 000 200 OK\r\n-------dkei38sd$\r\n";
        let mut buf = BytesMut::from(&wire[..]);
        let c = ChunkReader::default()
            .read_chunk(&mut buf, None)
            .unwrap()
            .unwrap();
        assert_eq!(c.method(), Some(&Method::Report));
        assert_eq!(c.byte_range().len(), Some(106));
    }

    #[test]
    fn payload_errors_can_be_answered() {
        // Byte-Range says 3 octets of 10, the payload has 5: the head was
        // read, so a 400 can still be sent (it used to say it could not).
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-3/10\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------abcd+\r\n";
        let mut buf = BytesMut::from(&wire[..]);
        let mut r = ChunkReader::default();
        let e = r.read_chunk(&mut buf, None).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::ByteRangeExceeded);
        assert!(!e.fatal && e.can_answer());
        assert_eq!(
            e.head.as_ref().map(|h| h.transaction_id.as_str()),
            Some("abcd")
        );
    }

    #[test]
    fn repeated_lines_share_their_values() {
        // Two chunks of one message on one connection: the second one's
        // paths, Message-ID and Content-Type are the first one's, shared.
        let one = b"MSRP a1b2c3 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: m1234\r\nByte-Range: 1-2/4\r\nContent-Type: text/plain\r\n\r\nab\r\n-------a1b2c3+\r\n";
        let two = b"MSRP d4e5f6 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: m1234\r\nByte-Range: 3-4/4\r\nContent-Type: text/plain\r\n\r\ncd\r\n-------d4e5f6$\r\n";
        let mut buf = BytesMut::new();
        buf.extend_from_slice(one);
        buf.extend_from_slice(two);
        let mut r = ChunkReader::default();
        let first = r.read_chunk(&mut buf, None).unwrap().unwrap();
        let second = r.read_chunk(&mut buf, None).unwrap().unwrap();
        assert_eq!(second.transaction_id, "d4e5f6");
        assert_eq!(&second.data[..], b"cd");
        let to = |c: &Chunk| c.to_path().unwrap().as_slice().as_ptr();
        let from = |c: &Chunk| c.from_path().unwrap().as_slice().as_ptr();
        assert_eq!(to(&first), to(&second));
        assert_eq!(from(&first), from(&second));
        assert_ne!(to(&first), from(&first));
        let id = |c: &Chunk| c.message_id().unwrap().as_ptr();
        let content_type = |c: &Chunk| c.content_type().unwrap().as_ptr();
        assert_eq!(id(&first), id(&second));
        assert_eq!(content_type(&first), content_type(&second));
        assert_eq!(second.to_path().unwrap().to_string(), "msrp://b:1/x;tcp");
        assert_eq!(second.message_id(), Some("m1234"));
    }

    #[test]
    fn a_recycled_chunk_lends_its_room_to_the_next() {
        let wire = b"MSRP a1b2c3 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------a1b2c3$\r\nMSRP d4e5f6 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------d4e5f6$\r\n";
        let mut buf = BytesMut::from(&wire[..]);
        let mut r = ChunkReader::default();
        let first = r.read_chunk(&mut buf, None).unwrap().unwrap();
        let rooms = |c: &Chunk| {
            (
                c.transaction_id.as_ptr(),
                c.headers.as_ptr(),
                c.comment().unwrap().as_ptr(),
            )
        };
        let lent = rooms(&first);
        r.recycle(first);
        let second = r.read_chunk(&mut buf, None).unwrap().unwrap();
        assert_eq!(rooms(&second), lent);
        assert_eq!(second.transaction_id, "d4e5f6");
        assert_eq!(second.code(), Some(200));
        assert_eq!(second.comment(), Some("OK"));
        assert_eq!(second.headers.len(), 2);
        assert_eq!(second.from_path().unwrap().to_string(), "msrp://b:1/x;tcp");
    }

    fn events(wire: &[u8], step: usize) -> Vec<Result<Event, ParseErrorKind>> {
        let mut p = Parser::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut data = BytesMut::new();
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                match p.next_event(&mut buf) {
                    Ok(Some(Event::Data(d))) => data.extend_from_slice(&d),
                    Ok(Some(e)) => {
                        if !data.is_empty() {
                            out.push(Ok(Event::Data(data.split().freeze())));
                        }
                        out.push(Ok(e));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        if !data.is_empty() {
                            out.push(Ok(Event::Data(data.split().freeze())));
                        }
                        out.push(Err(e.kind));
                        if e.fatal {
                            return out;
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn end_line_look_alikes_stay_payload_in_any_slicing() {
        // The payload holds `\r\n-------` followed by another id, by a
        // prefix of this chunk's id, and by this id with a bad flag (RFC
        // 4975 §7.1): all of it is payload, whatever the slicing.
        let body: &[u8] = b"a\r\n-------wxyz$\r\nb\r\n-------abc\r\nc\r\n-------abcdX\r\nd\r\n-------abcde$\r\n-------";
        let mut wire = format!(
            "MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-{0}/{0}\r\nContent-Type: text/plain\r\n\r\n",
            body.len()
        )
        .into_bytes();
        wire.extend_from_slice(body);
        wire.extend_from_slice(b"\r\n-------abcd$\r\n");
        for step in [1, 2, 3, 7, 16, wire.len()] {
            let got = events(&wire, step);
            assert_eq!(got.len(), 3, "slices of {step}: {got:?}");
            assert!(matches!(&got[0], Ok(Event::Head(c)) if c.transaction_id == "abcd"));
            assert_eq!(got[1], Ok(Event::Data(Bytes::copy_from_slice(body))));
            assert_eq!(got[2], Ok(Event::End(Continuation::End)));
        }
    }

    #[test]
    fn lost_framing_after_a_declared_length_is_fatal() {
        // The end-line names another transaction: the chunk overruns its
        // Byte-Range, and when no end-line follows within the slack, the
        // connection is given up instead of swallowing the rest.
        let mut wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nhey\r\n-------wxyz$\r\n".to_vec();
        wire.extend(std::iter::repeat_n(b'x', 70 * 1024));
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&wire[..]);
        let mut kinds = Vec::new();
        loop {
            match p.next_event(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    kinds.push((e.kind, e.fatal));
                    if e.fatal {
                        break;
                    }
                }
            }
        }
        assert_eq!(kinds, vec![(ParseErrorKind::ByteRangeExceeded, true)]);
    }

    #[test]
    fn payload_over_the_limit_gives_the_same_events_in_any_slicing() {
        // Whole, the 5-octet piece used to be dropped with the error; byte by
        // byte, 3 octets were handed out first. What runs past the range is
        // held until the end-line: a whole message gets it after the rest,
        // any other chunk is an error.
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------abcd$\r\n";
        let whole = events(wire, wire.len());
        assert_eq!(whole, events(wire, 1));
        assert_eq!(whole[1], Ok(Event::Data(Bytes::from_static(b"hello"))));
        assert_eq!(whole[2], Ok(Event::End(Continuation::End)));
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 2-4/4\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------abcd$\r\n";
        let whole = events(wire, wire.len());
        assert_eq!(whole, events(wire, 1));
        assert_eq!(whole[1], Ok(Event::Data(Bytes::from_static(b"hel"))));
        assert_eq!(whole[2], Err(ParseErrorKind::ByteRangeExceeded));
        // An undeclared chunk past max_undeclared_chunk: same, and not fatal.
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------abcd$\r\nMSRP abcd 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------abcd$\r\n";
        let mut p = Parser::new(Limits {
            max_undeclared_chunk: 2,
            ..Limits::default()
        });
        let mut buf = BytesMut::from(&wire[..]);
        assert!(matches!(p.next_event(&mut buf), Ok(Some(Event::Head(_)))));
        assert_eq!(
            p.next_event(&mut buf),
            Ok(Some(Event::Data(Bytes::from_static(b"he"))))
        );
        let e = p.next_event(&mut buf).unwrap_err();
        assert_eq!(
            (e.kind, e.fatal, e.can_answer()),
            (ParseErrorKind::ChunkTooLarge, false, true)
        );
        assert!(
            matches!(p.next_event(&mut buf), Ok(Some(Event::Head(c))) if c.code() == Some(200))
        );
    }

    #[test]
    fn chunk_reader_never_assembles_more_than_the_limit() {
        // The Byte-Range declares 10 octets; a whole-chunk reader limited to
        // 4 used to buffer all of them (any declared size, RFC 4975 §14.5).
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-10/10\r\nContent-Type: text/plain\r\n\r\n0123456789\r\n-------abcd$\r\nMSRP abcd 200 OK\r\nTo-Path: msrp://a:1/y;tcp\r\nFrom-Path: msrp://b:1/x;tcp\r\n-------abcd$\r\n";
        let mut r = ChunkReader::new(Limits {
            max_assembled_chunk: 4,
            ..Limits::default()
        });
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[*b]);
            loop {
                match r.read_chunk(&mut buf, None) {
                    Ok(Some(c)) => got.push(Ok(c.code())),
                    Ok(None) => break,
                    Err(e) => got.push(Err((e.kind, e.fatal, e.can_answer(), e.head.is_some()))),
                }
            }
            assert!(r.piece_bytes <= 4);
        }
        assert_eq!(
            got,
            vec![
                Err((ParseErrorKind::ChunkTooLarge, false, true, true)),
                Ok(Some(200))
            ]
        );
    }

    #[test]
    fn bodiless_aborted_chunk_may_stop_short() {
        // '#' exempts a chunk with a body from ByteRangeShort; a bodiless one
        // used to be rejected.
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-10/10\r\n-------abcd#\r\n";
        let mut buf = BytesMut::from(&wire[..]);
        let c = ChunkReader::default()
            .read_chunk(&mut buf, None)
            .unwrap()
            .unwrap();
        assert_eq!(c.continuation, Continuation::Abort);
        let mut buf = BytesMut::from(&wire[..]);
        buf[wire.len() - 3] = b'$';
        let e = ChunkReader::default()
            .read_chunk(&mut buf, None)
            .unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::ByteRangeShort);
    }

    #[test]
    fn segment_reader_is_idle_after_a_chunk_ending_in_plus() {
        // The last segment of a chunk whose real flag is '+' used to leave
        // the head behind: is_idle() stayed false after the chunk ended.
        let wire = b"MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-*/20\r\nContent-Type: text/plain\r\n\r\n0123456789\r\n-------abcd+\r\n";
        let mut r = ChunkReader::default();
        let mut buf = BytesMut::new();
        let mut segs = Vec::new();
        for piece in wire.chunks(4) {
            buf.extend_from_slice(piece);
            while let Some(c) = r.read_chunk(&mut buf, Some(1)).unwrap() {
                segs.push(c);
            }
        }
        assert!(segs.len() > 1);
        assert_eq!(segs.last().unwrap().continuation, Continuation::More);
        assert!(r.is_idle());
    }
}
