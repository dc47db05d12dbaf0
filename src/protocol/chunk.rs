//! The chunk model (python-msrplib's `MSRPData`): a request or a response with its
//! transaction id, headers in order, payload and continuation flag, and its
//! encoding (RFC 4975 §7, §9).

use bytes::Bytes;
use std::fmt;

use super::headers::{ByteRange, FailureReport, Header, HeaderError, Status, SuccessReport};
use super::ids;
use super::uri::Path;
use std::sync::Arc;

/// The continuation flag that ends a chunk's end-line (RFC 4975 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Continuation {
    /// `$`: last chunk of the message.
    End,
    /// `+`: more chunks follow.
    More,
    /// `#`: the message is aborted.
    Abort,
}

impl Continuation {
    pub fn as_byte(self) -> u8 {
        match self {
            Continuation::End => b'$',
            Continuation::More => b'+',
            Continuation::Abort => b'#',
        }
    }

    pub fn from_byte(b: u8) -> Option<Continuation> {
        match b {
            b'$' => Some(Continuation::End),
            b'+' => Some(Continuation::More),
            b'#' => Some(Continuation::Abort),
            _ => None,
        }
    }
}

/// A request method. RFC 4975 defines SEND and REPORT, RFC 4976 AUTH, RFC 7701
/// NICKNAME; any other method name is kept as `Other` (an endpoint answers
/// it 501, RFC 4975 §7.2; a relay forwards it, RFC 4976 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Send,
    Report,
    Auth,
    Nickname,
    Other(String),
}

/// Longest method name [`Method::parse`] takes.
pub const MAX_METHOD_LEN: usize = 64;

impl Method {
    /// Parses a received method name, liberally: 1 to [`MAX_METHOD_LEN`]
    /// `token` characters (RFC 4975 §9), so that names outside the
    /// grammar's `1*UPALPHA` that deployed stacks send (sipsimple's
    /// `FILE_OFFSET`, digits) are read and answered 501 rather than
    /// ending the connection. Letters are read in any case and kept in
    /// upper case; the known methods are matched without regard to case.
    /// What this library sends is checked by [`Method::is_grammatical`].
    pub fn parse(text: &str) -> Option<Method> {
        if text.is_empty()
            || text.len() > MAX_METHOD_LEN
            || !text.bytes().all(super::headers::is_token_char)
        {
            return None;
        }
        // The known methods without a String (a SEND per chunk).
        for (name, method) in [
            ("SEND", Method::Send),
            ("REPORT", Method::Report),
            ("AUTH", Method::Auth),
            ("NICKNAME", Method::Nickname),
        ] {
            if text.eq_ignore_ascii_case(name) {
                return Some(method);
            }
        }
        Some(Method::Other(text.to_ascii_uppercase()))
    }

    /// Whether the name is the grammar's `method = 1*UPALPHA` (RFC 4975
    /// §9), read in any case: the methods this library lets an application
    /// send.
    pub fn is_grammatical(&self) -> bool {
        self.as_str().bytes().all(|b| b.is_ascii_alphabetic())
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Send => "SEND",
            Method::Report => "REPORT",
            Method::Auth => "AUTH",
            Method::Nickname => "NICKNAME",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a chunk is a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkKind {
    Request { method: Method },
    Response { code: u16, comment: Option<String> },
}

/// One MSRP chunk: a request (possibly one piece of a larger message) or a
/// response. Cheap to clone: the payload is reference-counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub transaction_id: String,
    pub kind: ChunkKind,
    /// Headers in the order they were added or received.
    pub headers: Vec<Header>,
    /// The payload of this chunk.
    pub data: Bytes,
    pub continuation: Continuation,
    /// For a chunk produced by [`super::parser::Parser`] in segment mode, the
    /// 1-based segment number of a "virtual chunk" (python-msrplib's `segment`);
    /// 0 for a whole chunk.
    pub segment: u32,
}

/// Why [`Chunk::verify_headers`] rejects a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    MissingToPath,
    MissingFromPath,
    /// A header that may appear once appears more than once.
    Duplicate(&'static str),
    /// A request with a body but no Content-Type.
    MissingContentType,
    /// Byte-Range says one length, the payload has another.
    ByteRangeMismatch {
        declared: u64,
        actual: u64,
    },
    Header(HeaderError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingToPath => f.write_str("missing To-Path header"),
            VerifyError::MissingFromPath => f.write_str("missing From-Path header"),
            VerifyError::Duplicate(n) => write!(f, "duplicate {n} header"),
            VerifyError::MissingContentType => f.write_str("body without Content-Type"),
            VerifyError::ByteRangeMismatch { declared, actual } => {
                write!(
                    f,
                    "Byte-Range declares {declared} octets but the chunk carries {actual}"
                )
            }
            VerifyError::Header(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The canonical reason phrase for a status code (RFC 4975 §10, RFC 4976).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        413 => "Message Too Large",
        415 => "Unsupported Media Type",
        423 => "Interval Out-of-Bounds",
        481 => "Session Does Not Exist",
        501 => "Not Implemented",
        506 => "Session Already Bound",
        _ => "",
    }
}

macro_rules! header_getter {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Option<&$ty> {
            self.headers.iter().find_map(|h| match h {
                Header::$variant(v) => Some(v),
                _ => None,
            })
        }
    };
}

impl Chunk {
    /// A request with no headers and no payload.
    pub fn request(transaction_id: impl Into<String>, method: Method) -> Chunk {
        Chunk {
            transaction_id: transaction_id.into(),
            kind: ChunkKind::Request { method },
            headers: Vec::new(),
            data: Bytes::new(),
            continuation: Continuation::End,
            segment: 0,
        }
    }

    /// A response with no headers.
    pub fn response(
        transaction_id: impl Into<String>,
        code: u16,
        comment: Option<String>,
    ) -> Chunk {
        Chunk {
            transaction_id: transaction_id.into(),
            kind: ChunkKind::Response { code, comment },
            headers: Vec::new(),
            data: Bytes::new(),
            continuation: Continuation::End,
            segment: 0,
        }
    }

    /// The method, for a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.kind {
            ChunkKind::Request { method } => Some(method),
            ChunkKind::Response { .. } => None,
        }
    }

    /// The status code, for a response.
    pub fn code(&self) -> Option<u16> {
        match &self.kind {
            ChunkKind::Response { code, .. } => Some(*code),
            ChunkKind::Request { .. } => None,
        }
    }

    /// The comment of a response's start line.
    pub fn comment(&self) -> Option<&str> {
        match &self.kind {
            ChunkKind::Response { comment, .. } => comment.as_deref(),
            ChunkKind::Request { .. } => None,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.kind, ChunkKind::Request { .. })
    }

    /// Adds a header, replacing one of the same name (extension headers are
    /// always appended).
    pub fn add_header(&mut self, header: Header) {
        if !matches!(header, Header::Extension { .. }) {
            if let Some(slot) = self.headers.iter_mut().find(|h| h.same_name(header.name())) {
                *slot = header;
                return;
            }
        }
        self.headers.push(header);
    }

    /// Removes every header with this name.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|h| !h.same_name(name));
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers.iter().find(|h| h.same_name(name))
    }

    header_getter!(to_path, ToPath, Path);
    header_getter!(from_path, FromPath, Path);
    header_getter!(use_path, UsePath, Path);
    header_getter!(
        /// The Message-ID header value.
        message_id_header, MessageId, Arc<str>
    );
    header_getter!(byte_range_header, ByteRange, ByteRange);
    header_getter!(status, Status, Status);
    header_getter!(content_type_header, ContentType, Arc<str>);

    /// The message id, if the chunk has one.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id_header().map(|v| &**v)
    }

    /// The Content-Type, if the chunk has one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type_header().map(|v| &**v)
    }

    /// The Byte-Range, or the implied one when absent (RFC 4975 §7.1.1: a
    /// missing Byte-Range means the whole message is in this chunk, `1-*/*`).
    pub fn byte_range(&self) -> ByteRange {
        self.byte_range_header().copied().unwrap_or(ByteRange {
            start: 1,
            end: None,
            total: None,
        })
    }

    /// The Byte-Range header when it describes this chunk's own payload: in
    /// a SEND (or another request carrying content), but not in a REPORT,
    /// whose Byte-Range names the range of the reported message (RFC 4975
    /// §7.1.2), nor in a response.
    pub fn payload_byte_range(&self) -> Option<ByteRange> {
        match self.method() {
            Some(Method::Report) | None => None,
            Some(_) => self.byte_range_header().copied(),
        }
    }

    /// The Failure-Report value, explicit or implied (`yes` when absent).
    pub fn failure_report(&self) -> FailureReport {
        self.headers
            .iter()
            .find_map(|h| match h {
                Header::FailureReport(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(FailureReport::Yes)
    }

    /// The Success-Report value, explicit or implied (`no` when absent).
    pub fn success_report(&self) -> SuccessReport {
        self.headers
            .iter()
            .find_map(|h| match h {
                Header::SuccessReport(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(SuccessReport::No)
    }

    /// `Expires` value, if present.
    pub fn expires(&self) -> Option<u32> {
        self.headers.iter().find_map(|h| match h {
            Header::Expires(v) => Some(*v),
            _ => None,
        })
    }

    /// The size of this chunk's payload in octets.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Whether the chunk carries a body section (Content-Type and payload).
    /// A bodiless SEND (no Content-Type, no payload) is not the same as one
    /// with an empty body (RFC 4975 §7.1).
    pub fn has_body(&self) -> bool {
        !self.data.is_empty() || self.content_type_header().is_some()
    }

    /// Checks what RFC 4975 §7.1 requires of every chunk: To-Path and
    /// From-Path present exactly once, single-valued headers not repeated,
    /// a Content-Type with any body, and a Byte-Range that agrees with the
    /// payload where its end is known (for whole chunks, not virtual segments,
    /// and not for a REPORT: see [`Chunk::payload_byte_range`]).
    pub fn verify_headers(&self) -> Result<(), VerifyError> {
        let mut seen = [0u8; 8];
        for h in &self.headers {
            let idx = match h {
                Header::ToPath(_) => 0,
                Header::FromPath(_) => 1,
                Header::MessageId(_) => 2,
                Header::ByteRange(_) => 3,
                Header::ContentType(_) => 4,
                Header::SuccessReport(_) => 5,
                Header::FailureReport(_) => 6,
                Header::Status(_) => 7,
                _ => continue,
            };
            seen[idx] += 1;
            if seen[idx] > 1 {
                let name = [
                    "To-Path",
                    "From-Path",
                    "Message-ID",
                    "Byte-Range",
                    "Content-Type",
                    "Success-Report",
                    "Failure-Report",
                    "Status",
                ][idx];
                return Err(VerifyError::Duplicate(name));
            }
        }
        if seen[0] == 0 {
            return Err(VerifyError::MissingToPath);
        }
        if seen[1] == 0 {
            return Err(VerifyError::MissingFromPath);
        }
        if self.is_request() && !self.data.is_empty() && seen[4] == 0 {
            return Err(VerifyError::MissingContentType);
        }
        if self.segment == 0 && self.continuation != Continuation::Abort {
            if let Some(declared) = self.payload_byte_range().and_then(|r| r.len()) {
                let actual = self.data.len() as u64;
                if declared != actual {
                    return Err(VerifyError::ByteRangeMismatch { declared, actual });
                }
            }
        }
        Ok(())
    }

    /// Headers in encoding order (RFC 4975 §9): To-Path, From-Path, the
    /// others as added, MIME headers, Content-Type last.
    fn ordered_headers(&self) -> Vec<&Header> {
        let mut hs: Vec<&Header> = self.headers.iter().collect();
        hs.sort_by_key(|h| h.rank()); // stable: keeps insertion order within a rank
        hs
    }

    /// Appends the start line and headers (and, when the chunk has a body,
    /// the blank line that precedes it) to `out`: everything before the payload.
    pub fn encode_start_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"MSRP ");
        out.extend_from_slice(self.transaction_id.as_bytes());
        match &self.kind {
            ChunkKind::Request { method } => {
                out.push(b' ');
                // Methods are sent in upper case (RFC 4975 §9 other-method =
                // 1*UPALPHA), even a Method::Other a caller wrote in lower case.
                out.extend(method.as_str().bytes().map(|b| b.to_ascii_uppercase()));
            }
            ChunkKind::Response { code, comment } => {
                out.extend_from_slice(format!(" {code:03}").as_bytes());
                if let Some(c) = comment {
                    out.push(b' ');
                    out.extend_from_slice(c.as_bytes());
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        for h in self.ordered_headers() {
            h.encode_into(out);
        }
        if self.has_body() {
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The start line and headers (python-msrplib's `encode_start`).
    pub fn encode_start(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_start_into(&mut out);
        out
    }

    /// The end-line for this chunk with the given flag, preceded by the CRLF
    /// that closes a body when there is one (python-msrplib's `encode_end`).
    pub fn encode_end(&self, continuation: Continuation) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.transaction_id.len() + 12);
        self.encode_end_into(continuation, &mut out);
        out
    }

    /// Appends the end-line (see [`Chunk::encode_end`]) to `out`.
    pub fn encode_end_into(&self, continuation: Continuation, out: &mut Vec<u8>) {
        if self.has_body() {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"-------");
        out.extend_from_slice(self.transaction_id.as_bytes());
        out.push(continuation.as_byte());
        out.extend_from_slice(b"\r\n");
    }

    /// The whole chunk on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.encode_start();
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.encode_end(self.continuation));
        out
    }

    /// Whether the end-line of this chunk's transaction id occurs inside its
    /// payload (which would end the chunk early on the wire).
    pub fn payload_contains_end_line(&self) -> bool {
        contains_end_line(&self.data, &self.transaction_id)
    }

    /// Picks new random transaction ids until the end-line cannot occur in the
    /// payload (RFC 4975 §7.1: the sender chooses the id so). Only changes the
    /// id when it collides.
    pub fn ensure_safe_transaction_id(&mut self) {
        while self.payload_contains_end_line() {
            self.transaction_id = ids::transaction_id();
        }
    }

    /// Sets the Status header of a REPORT.
    pub fn set_status(&mut self, code: u16, comment: Option<String>) {
        self.add_header(Header::Status(Status { code, comment }));
    }
}

/// Whether the end-line of transaction `transaction_id` (seven dashes and
/// the id) occurs in `payload`, which would end a chunk early on the wire
/// (RFC 4975 §7.1).
pub fn contains_end_line(payload: &[u8], transaction_id: &str) -> bool {
    // One searcher for the seven dashes, built once (no searcher built per
    // chunk). A hit starts a run of dashes, and the seven dashes of an
    // end-line can be any seven of that run: the id is compared after each
    // of them, then the search goes on after the run.
    static DASHES: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"-------"));
    let id = transaction_id.as_bytes();
    let mut from = 0;
    while let Some(hit) = DASHES.find(&payload[from..]) {
        let run = from + hit;
        let run_end = run
            + 7
            + payload[run + 7..]
                .iter()
                .take_while(|&&b| b == b'-')
                .count();
        if (run..=run_end - 7).any(|at| payload[at + 7..].starts_with(id)) {
            return true;
        }
        from = run_end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Uri;

    fn uri(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn encodes_in_rfc_order() {
        let mut c = Chunk::request("a786hjs2", Method::Send);
        c.add_header(Header::ContentType("text/plain".into()));
        c.add_header(Header::MessageId("87652491".into()));
        c.add_header(Header::FromPath(
            vec![uri("msrp://alicepc.example.com:7777/iau39soe2843z;tcp")].into(),
        ));
        c.add_header(Header::ToPath(
            vec![uri("msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp")].into(),
        ));
        c.add_header(Header::ByteRange(
            ByteRange::new(1, Some(25), Some(25)).unwrap(),
        ));
        c.data = Bytes::from_static(b"Hey Bob, are you there?\r\n");
        let text = String::from_utf8(c.encode()).unwrap();
        assert_eq!(
            text,
            "MSRP a786hjs2 SEND\r\n\
             To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
             From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp\r\n\
             Message-ID: 87652491\r\n\
             Byte-Range: 1-25/25\r\n\
             Content-Type: text/plain\r\n\
             \r\n\
             Hey Bob, are you there?\r\n\
             \r\n\
             -------a786hjs2$\r\n"
        );
        c.verify_headers().unwrap();
    }

    #[test]
    fn bodiless_send_differs_from_empty_body() {
        let mut c = Chunk::request("abcd1234", Method::Send);
        c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
        c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
        c.add_header(Header::ByteRange(
            ByteRange::new(1, Some(0), Some(0)).unwrap(),
        ));
        let bodiless = c.encode();
        assert!(bodiless.ends_with(b"Byte-Range: 1-0/0\r\n-------abcd1234$\r\n"));
        c.add_header(Header::ContentType("text/plain".into()));
        let empty = c.encode();
        assert!(empty.ends_with(b"Content-Type: text/plain\r\n\r\n\r\n-------abcd1234$\r\n"));
        assert_ne!(bodiless, empty);
    }

    #[test]
    fn implied_report_values() {
        let mut c = Chunk::request("abcd", Method::Send);
        assert_eq!(c.failure_report(), FailureReport::Yes);
        assert_eq!(c.success_report(), SuccessReport::No);
        c.add_header(Header::FailureReport(FailureReport::Partial));
        c.add_header(Header::SuccessReport(SuccessReport::Yes));
        assert_eq!(c.failure_report(), FailureReport::Partial);
        assert_eq!(c.success_report(), SuccessReport::Yes);
        assert_eq!(
            c.byte_range(),
            ByteRange {
                start: 1,
                end: None,
                total: None
            }
        );
    }

    #[test]
    fn verify_headers_rules() {
        let mut c = Chunk::request("abcd", Method::Send);
        assert_eq!(c.verify_headers(), Err(VerifyError::MissingToPath));
        c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
        assert_eq!(c.verify_headers(), Err(VerifyError::MissingFromPath));
        c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
        c.verify_headers().unwrap();
        c.data = Bytes::from_static(b"hi");
        assert_eq!(c.verify_headers(), Err(VerifyError::MissingContentType));
        c.add_header(Header::ContentType("text/plain".into()));
        c.add_header(Header::ByteRange(
            ByteRange::new(1, Some(5), Some(5)).unwrap(),
        ));
        assert_eq!(
            c.verify_headers(),
            Err(VerifyError::ByteRangeMismatch {
                declared: 5,
                actual: 2
            })
        );
        c.headers
            .push(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
        assert_eq!(c.verify_headers(), Err(VerifyError::Duplicate("To-Path")));
    }

    #[test]
    fn report_byte_range_names_the_reported_range() {
        // RFC 4975 Figure 17: a bodiless REPORT with Byte-Range: 1-106/106.
        let mut r = Chunk::request("dkei38sd", Method::Report);
        r.add_header(Header::ToPath(vec![uri("msrp://a:1/y;tcp")].into()));
        r.add_header(Header::FromPath(vec![uri("msrp://b:1/x;tcp")].into()));
        r.add_header(Header::ByteRange(
            ByteRange::new(1, Some(106), Some(106)).unwrap(),
        ));
        r.set_status(200, Some("OK".into()));
        assert_eq!(r.payload_byte_range(), None);
        r.verify_headers().unwrap();
    }

    #[test]
    fn safe_transaction_id() {
        let mut c = Chunk::request("abcd", Method::Send);
        c.data = Bytes::from_static(b"x\r\n-------abcd$\r\n");
        assert!(c.payload_contains_end_line());
        c.ensure_safe_transaction_id();
        assert_ne!(c.transaction_id, "abcd");
        assert!(!c.payload_contains_end_line());
    }

    /// The end-line can start anywhere in a longer run of dashes: the
    /// check must not stop at the run's first seven.
    #[test]
    fn end_line_found_inside_a_longer_run_of_dashes() {
        for dashes in 7..=20 {
            let mut body = b"x".to_vec();
            body.extend(std::iter::repeat_n(b'-', dashes));
            body.extend_from_slice(b"abcd$");
            assert!(contains_end_line(&body, "abcd"), "{dashes} dashes");
            assert!(!contains_end_line(&body, "abce"), "{dashes} dashes");
            assert!(!contains_end_line(&body[..body.len() - 2], "abcd"));
        }
        assert!(!contains_end_line(b"------abcd", "abcd"), "six dashes");
        assert!(
            contains_end_line(b"--------abcd", "-abcd"),
            "an id that starts with a dash"
        );
        assert!(contains_end_line(b"a-------b--------c-------abcd", "abcd"));
        assert!(!contains_end_line(&[b'-'; 4096], "abcd"));
        assert!(contains_end_line(&[b'-'; 4096], "---"));
    }

    #[test]
    fn methods_always_sent_upper_case() {
        let c = Chunk::request("abcd", Method::Other("nickname".into()));
        assert!(c.encode().starts_with(b"MSRP abcd NICKNAME\r\n"));
    }

    #[test]
    fn methods() {
        assert_eq!(Method::parse("send"), Some(Method::Send));
        assert_eq!(Method::parse("FOO"), Some(Method::Other("FOO".into())));
        assert_eq!(Method::parse("SE ND"), None);
        assert_eq!(Method::parse(""), None);
        assert_eq!(Method::parse("SE\tND"), None);
        assert_eq!(Method::parse("SE:ND"), None);
        assert_eq!(Method::parse(&"A".repeat(MAX_METHOD_LEN + 1)), None);
        // Outside 1*UPALPHA but tokens: read (and answered 501), never sent.
        let file_offset = Method::parse("FILE_OFFSET").unwrap();
        assert_eq!(file_offset, Method::Other("FILE_OFFSET".into()));
        assert!(!file_offset.is_grammatical());
        assert_eq!(Method::parse("SEND1"), Some(Method::Other("SEND1".into())));
        assert!(Method::parse("nickname").unwrap().is_grammatical());
    }
}
