//! Typed MSRP headers (RFC 4975 §9, RFC 4976 §10): each header can be built
//! from its decoded value or parsed from its encoded text, and encodes back.
//! Header names are matched case-insensitively (ABNF literals are
//! case-insensitive); unknown headers are kept verbatim as [`Header::Extension`].

use std::fmt;

use super::uri::{Path, Uri, UriError};
use std::sync::Arc;

/// A header value that does not follow its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    /// The header's canonical name.
    pub name: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} header: {}", self.name, self.reason)
    }
}

impl std::error::Error for HeaderError {}

fn header_error(name: &'static str, reason: impl Into<String>) -> HeaderError {
    HeaderError {
        name,
        reason: reason.into(),
    }
}

/// `Success-Report` values (RFC 4975 §7.1.4). Absent means `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuccessReport {
    Yes,
    No,
}

/// `Failure-Report` values (RFC 4975 §7.1.4). Absent means `yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReport {
    Yes,
    No,
    Partial,
}

impl SuccessReport {
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessReport::Yes => "yes",
            SuccessReport::No => "no",
        }
    }
}

impl FailureReport {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReport::Yes => "yes",
            FailureReport::No => "no",
            FailureReport::Partial => "partial",
        }
    }
}

/// `Byte-Range: start-end/total` (RFC 4975 §7.1.1, §9). Positions are 1-based
/// and `end` is inclusive; `None` stands for `*` (unknown). An empty body is
/// `1-0/0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    pub start: u64,
    pub end: Option<u64>,
    pub total: Option<u64>,
}

impl ByteRange {
    /// Builds and checks a range: `start >= 1`, `end >= start - 1`, `end <= total`.
    pub fn new(start: u64, end: Option<u64>, total: Option<u64>) -> Result<ByteRange, HeaderError> {
        let r = ByteRange { start, end, total };
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), HeaderError> {
        const N: &str = "Byte-Range";
        if self.start == 0 {
            return Err(header_error(N, "range-start must be at least 1"));
        }
        if let Some(end) = self.end {
            if end < self.start - 1 {
                return Err(header_error(N, "range-end before range-start"));
            }
        }
        if let Some(total) = self.total {
            if let Some(end) = self.end {
                if end > total {
                    return Err(header_error(N, "range-end beyond total"));
                }
            }
            if self.start > total.saturating_add(1) {
                return Err(header_error(N, "range-start beyond total"));
            }
        }
        Ok(())
    }

    /// The number of octets the range says the chunk carries, when known.
    pub fn len(&self) -> Option<u64> {
        self.end.map(|e| e + 1 - self.start)
    }

    /// Whether the range covers no octet (`1-0/0`, for example).
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The common form of the value, `start-end/total` with each number
    /// 1 to 19 digits (`end` and `total` may be `*`) and nothing else, read
    /// straight from the octets; `None` for anything else, which
    /// [`Header::parse`] then reads (and reports) the general way. A file
    /// sent in 8 KiB chunks has one such line per chunk.
    pub(crate) fn parse_common(v: &[u8]) -> Option<ByteRange> {
        fn number(v: &[u8], star: bool) -> Option<(Option<u64>, &[u8])> {
            if star && v.first() == Some(&b'*') {
                return Some((None, &v[1..]));
            }
            let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 || digits > 19 {
                return None;
            }
            // 19 digits stay below u64::MAX.
            let n = v[..digits]
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            Some((Some(n), &v[digits..]))
        }
        let (start, rest) = number(v, false)?;
        let rest = rest.strip_prefix(b"-")?;
        let (end, rest) = number(rest, true)?;
        let rest = rest.strip_prefix(b"/")?;
        let (total, rest) = number(rest, true)?;
        if !rest.is_empty() {
            return None;
        }
        ByteRange::new(start?, end, total).ok()
    }

    fn parse(v: &str) -> Result<ByteRange, HeaderError> {
        const N: &str = "Byte-Range";
        let (start, rest) = v
            .split_once('-')
            .ok_or_else(|| header_error(N, "missing '-'"))?;
        let (end, total) = rest
            .split_once('/')
            .ok_or_else(|| header_error(N, "missing '/'"))?;
        let num = |t: &str, what: &str| -> Result<Option<u64>, HeaderError> {
            if t == "*" {
                return Ok(None);
            }
            if t.is_empty() || t.len() > 19 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(header_error(
                    N,
                    format!("{what} is not a number or '*': {t:?}"),
                ));
            }
            t.parse()
                .map(Some)
                .map_err(|_| header_error(N, format!("{what} out of range")))
        };
        let start = num(start.trim(), "range-start")?
            .ok_or_else(|| header_error(N, "range-start cannot be '*'"))?;
        ByteRange::new(
            start,
            num(end.trim(), "range-end")?,
            num(total.trim(), "total")?,
        )
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-", self.start)?;
        match self.end {
            Some(e) => write!(f, "{e}/")?,
            None => f.write_str("*/")?,
        }
        match self.total {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("*"),
        }
    }
}

/// `Status: 000 code [comment]` of a REPORT (RFC 4975 §9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    pub code: u16,
    pub comment: Option<String>,
}

/// Parameters of a Digest challenge or credentials (RFC 4976 §10, via RFC 2617),
/// in order, values unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestParams {
    /// The scheme word, `Digest`, when the header has one (not in
    /// Authentication-Info).
    pub scheme: Option<String>,
    pub params: Vec<(String, String)>,
}

/// Parameters whose value is written as a token, never quoted (RFC 2617).
/// In credentials and Authentication-Info (RFC 2617 `message-qop`, `nonce-count`).
const UNQUOTED_DIGEST_PARAMS: &[&str] = &["algorithm", "qop", "nc", "stale"];
/// In a challenge `qop` is a quoted list (RFC 2617 §3.2.1 `qop-options`).
const UNQUOTED_CHALLENGE_PARAMS: &[&str] = &["algorithm", "stale"];

/// `token` of RFC 2616 §2.2: CHARs other than controls and separators.
fn is_http_token(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

impl DigestParams {
    /// The value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(
        name: &'static str,
        text: &str,
        with_scheme: bool,
    ) -> Result<DigestParams, HeaderError> {
        let mut rest = text.trim();
        let mut scheme = None;
        if with_scheme {
            let end = rest
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if word.is_empty() || !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(header_error(name, "missing auth scheme"));
            }
            scheme = Some(word.to_string());
            rest = rest[end..].trim_start();
        }
        let mut params = Vec::new();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| header_error(name, "parameter without '='"))?;
            let pname = rest[..eq].trim();
            if pname.is_empty()
                || !pname
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(header_error(name, format!("bad parameter name {pname:?}")));
            }
            rest = rest[eq + 1..].trim_start();
            let value;
            if let Some(q) = rest.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = q.char_indices();
                let mut close = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                out.push(n);
                            }
                        }
                        '"' => {
                            close = Some(i);
                            break;
                        }
                        c => out.push(c),
                    }
                }
                let close =
                    close.ok_or_else(|| header_error(name, "unterminated quoted string"))?;
                value = out;
                rest = q[close + 1..].trim_start();
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                value = rest[..end].trim().to_string();
                if value.is_empty() {
                    return Err(header_error(name, format!("empty value for {pname}")));
                }
                rest = &rest[end..];
            }
            params.push((pname.to_string(), value));
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.is_empty() {
                return Err(header_error(name, "expected ',' between parameters"));
            }
        }
        if params.is_empty() {
            return Err(header_error(name, "no parameters"));
        }
        Ok(DigestParams { scheme, params })
    }
}

impl DigestParams {
    /// Writes the parameters, leaving the values of `unquoted` parameters
    /// bare when they are tokens; every other value is a quoted-string.
    fn write(&self, f: &mut impl fmt::Write, unquoted: &[&str]) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s} ")?;
        }
        for (i, (n, v)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_http_token(v) && unquoted.iter().any(|u| u.eq_ignore_ascii_case(n)) {
                write!(f, "{n}={v}")?;
            } else {
                write!(f, "{n}=\"")?;
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('"')?;
            }
        }
        Ok(())
    }

    /// The value as written in a WWW-Authenticate header (`qop` quoted).
    pub fn to_challenge_string(&self) -> String {
        let mut out = String::new();
        let _ = self.write(&mut out, UNQUOTED_CHALLENGE_PARAMS);
        out
    }
}

/// The credentials form (Authorization, Authentication-Info): `algorithm`,
/// `qop`, `nc` and `stale` unquoted when they are tokens.
impl fmt::Display for DigestParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, UNQUOTED_DIGEST_PARAMS)
    }
}

/// `Content-Disposition: type *(;param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDisposition {
    pub disposition: String,
    pub parameters: Vec<(String, Option<String>)>,
}

impl fmt::Display for ContentDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.disposition)?;
        for (n, v) in &self.parameters {
            match v {
                Some(v) => write!(f, "; {n}={v}")?,
                None => write!(f, "; {n}")?,
            }
        }
        Ok(())
    }
}

/// One MSRP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    ToPath(Path),
    FromPath(Path),
    /// Shared like the paths: a clone counts a reference.
    MessageId(Arc<str>),
    SuccessReport(SuccessReport),
    FailureReport(FailureReport),
    ByteRange(ByteRange),
    Status(Status),
    Expires(u32),
    MinExpires(u32),
    MaxExpires(u32),
    UsePath(Path),
    WwwAuthenticate(DigestParams),
    Authorization(DigestParams),
    AuthenticationInfo(DigestParams),
    /// Shared like the paths: a clone counts a reference.
    ContentType(Arc<str>),
    ContentId(String),
    ContentDescription(String),
    ContentDisposition(ContentDisposition),
    /// Any other header, name and value kept verbatim.
    Extension {
        name: String,
        value: String,
    },
}

/// Where a header goes when encoding (RFC 4975 §9: To-Path first, From-Path
/// second, MIME headers after the others and Content-Type last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum HeaderRank {
    ToPath,
    FromPath,
    Other,
    Mime,
    ContentType,
}

/// Limits applied while decoding a header value.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimits {
    /// Most URIs in one path header.
    pub max_path_uris: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        HeaderLimits { max_path_uris: 32 }
    }
}

impl Header {
    /// The header's name as encoded.
    pub fn name(&self) -> &str {
        match self {
            Header::ToPath(_) => "To-Path",
            Header::FromPath(_) => "From-Path",
            Header::MessageId(_) => "Message-ID",
            Header::SuccessReport(_) => "Success-Report",
            Header::FailureReport(_) => "Failure-Report",
            Header::ByteRange(_) => "Byte-Range",
            Header::Status(_) => "Status",
            Header::Expires(_) => "Expires",
            Header::MinExpires(_) => "Min-Expires",
            Header::MaxExpires(_) => "Max-Expires",
            Header::UsePath(_) => "Use-Path",
            Header::WwwAuthenticate(_) => "WWW-Authenticate",
            Header::Authorization(_) => "Authorization",
            Header::AuthenticationInfo(_) => "Authentication-Info",
            Header::ContentType(_) => "Content-Type",
            Header::ContentId(_) => "Content-ID",
            Header::ContentDescription(_) => "Content-Description",
            Header::ContentDisposition(_) => "Content-Disposition",
            Header::Extension { name, .. } => name,
        }
    }

    pub(crate) fn rank(&self) -> HeaderRank {
        match self {
            Header::ToPath(_) => HeaderRank::ToPath,
            Header::FromPath(_) => HeaderRank::FromPath,
            Header::ContentType(_) => HeaderRank::ContentType,
            Header::ContentId(_)
            | Header::ContentDescription(_)
            | Header::ContentDisposition(_) => HeaderRank::Mime,
            // MIME-extension-field = ("Content-" ...) per RFC 4975 §9
            Header::Extension { name, .. }
                if name.len() > 8 && name.as_bytes()[..8].eq_ignore_ascii_case(b"content-") =>
            {
                HeaderRank::Mime
            }
            _ => HeaderRank::Other,
        }
    }

    /// Whether two headers have the same name (case-insensitive).
    pub fn same_name(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name)
    }

    /// The encoded value (what follows `Name: `).
    pub fn encode_value(&self) -> String {
        match self {
            Header::ToPath(p) | Header::FromPath(p) | Header::UsePath(p) => Uri::format_path(p),
            Header::MessageId(v) | Header::ContentType(v) => v.to_string(),
            Header::ContentId(v) | Header::ContentDescription(v) => v.clone(),
            Header::SuccessReport(v) => v.as_str().to_string(),
            Header::FailureReport(v) => v.as_str().to_string(),
            Header::ByteRange(r) => r.to_string(),
            Header::Status(s) => match &s.comment {
                Some(c) => format!("000 {:03} {}", s.code, c),
                None => format!("000 {:03}", s.code),
            },
            Header::Expires(v) | Header::MinExpires(v) | Header::MaxExpires(v) => v.to_string(),
            Header::WwwAuthenticate(p) => p.to_challenge_string(),
            Header::Authorization(p) | Header::AuthenticationInfo(p) => p.to_string(),
            Header::ContentDisposition(d) => d.to_string(),
            Header::Extension { value, .. } => value.clone(),
        }
    }

    /// Appends `Name: value\r\n`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        out.extend_from_slice(self.name().as_bytes());
        out.extend_from_slice(b": ");
        // The headers of every chunk are written straight into the output
        // (no string per value); the rest go through `encode_value`.
        match self {
            Header::ToPath(p) | Header::FromPath(p) | Header::UsePath(p) => {
                for (i, u) in p.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    let _ = write!(out, "{u}");
                }
            }
            Header::MessageId(v) | Header::ContentType(v) => out.extend_from_slice(v.as_bytes()),
            Header::ByteRange(r) => {
                let _ = write!(out, "{r}");
            }
            _ => out.extend_from_slice(self.encode_value().as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Decodes a header from its name (any case) and encoded value.
    pub fn parse(name: &str, value: &str) -> Result<Header, HeaderError> {
        Header::parse_with_limits(name, value, &HeaderLimits::default())
    }

    /// [`Header::parse`] with explicit limits.
    pub fn parse_with_limits(
        name: &str,
        value: &str,
        limits: &HeaderLimits,
    ) -> Result<Header, HeaderError> {
        let value = value.trim_matches([' ', '\t']);
        // The name in lower case, on the stack: a name longer than every
        // known one ("authentication-info", "content-description") can
        // only be an extension header.
        let mut lower_buf = [0u8; 24];
        let lower = match lower_buf.get_mut(..name.len()) {
            Some(lower) => {
                lower.copy_from_slice(name.as_bytes());
                lower.make_ascii_lowercase();
                // Lower-casing ASCII letters keeps UTF-8 valid.
                std::str::from_utf8(lower).unwrap_or("")
            }
            None => "",
        };
        let path = |n: &'static str| -> Result<Path, HeaderError> {
            if value
                .split_ascii_whitespace()
                .nth(limits.max_path_uris)
                .is_some()
            {
                return Err(header_error(
                    n,
                    format!("more than {} URIs", limits.max_path_uris),
                ));
            }
            Path::parse(value).map_err(|e: UriError| header_error(n, e.to_string()))
        };
        let number = |n: &'static str| -> Result<u32, HeaderError> {
            if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(header_error(n, format!("not a number: {value:?}")));
            }
            value.parse().map_err(|_| header_error(n, "out of range"))
        };
        let text = |n: &'static str| -> Result<String, HeaderError> {
            if value.is_empty() {
                return Err(header_error(n, "empty value"));
            }
            Ok(value.to_string())
        };
        Ok(match lower {
            "to-path" => Header::ToPath(path("To-Path")?),
            "from-path" => Header::FromPath(path("From-Path")?),
            "use-path" => Header::UsePath(path("Use-Path")?),
            "message-id" => {
                // Read as deployed stacks write it (UUIDs, `@`, `_`), not
                // only as `ident` (RFC 4975 §9): see `is_received_id`.
                if !is_received_id(value) {
                    return Err(header_error(
                        "Message-ID",
                        format!("not 1-{MAX_RECEIVED_ID} visible characters: {value:?}"),
                    ));
                }
                Header::MessageId(value.into())
            }
            "success-report" => Header::SuccessReport(match value.to_ascii_lowercase().as_str() {
                "yes" => SuccessReport::Yes,
                "no" => SuccessReport::No,
                _ => {
                    return Err(header_error(
                        "Success-Report",
                        format!("must be yes or no: {value:?}"),
                    ))
                }
            }),
            "failure-report" => Header::FailureReport(match value.to_ascii_lowercase().as_str() {
                "yes" => FailureReport::Yes,
                "no" => FailureReport::No,
                "partial" => FailureReport::Partial,
                _ => {
                    return Err(header_error(
                        "Failure-Report",
                        format!("must be yes, no or partial: {value:?}"),
                    ))
                }
            }),
            "byte-range" => Header::ByteRange(ByteRange::parse(value)?),
            "status" => {
                // Status = "Status:" SP namespace SP status-code [SP text-reason]
                let mut parts = value.splitn(3, ' ');
                let ns = parts.next().unwrap_or("");
                let code = parts.next().unwrap_or("");
                if ns.len() != 3 || !ns.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(header_error("Status", "namespace must be three digits"));
                }
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(header_error("Status", "status-code must be three digits"));
                }
                Header::Status(Status {
                    code: code.parse().unwrap_or(0),
                    comment: parts.next().map(str::to_string),
                })
            }
            "expires" => Header::Expires(number("Expires")?),
            "min-expires" => Header::MinExpires(number("Min-Expires")?),
            "max-expires" => Header::MaxExpires(number("Max-Expires")?),
            "www-authenticate" => {
                Header::WwwAuthenticate(DigestParams::parse("WWW-Authenticate", value, true)?)
            }
            "authorization" => {
                Header::Authorization(DigestParams::parse("Authorization", value, true)?)
            }
            "authentication-info" => Header::AuthenticationInfo(DigestParams::parse(
                "Authentication-Info",
                value,
                false,
            )?),
            "content-type" => {
                // type "/" subtype *( ";" gen-param ), checked loosely.
                let (t, rest) = value.split_once('/').ok_or_else(|| {
                    header_error("Content-Type", format!("not type/subtype: {value:?}"))
                })?;
                let sub = rest.split(';').next().unwrap_or("").trim();
                if t.trim().is_empty()
                    || sub.is_empty()
                    || value.bytes().any(|b| b.is_ascii_control())
                {
                    return Err(header_error(
                        "Content-Type",
                        format!("not type/subtype: {value:?}"),
                    ));
                }
                Header::ContentType(value.into())
            }
            "content-id" => Header::ContentId(text("Content-ID")?),
            "content-description" => Header::ContentDescription(text("Content-Description")?),
            "content-disposition" => {
                let mut parts = split_outside_quotes(value, b';').into_iter();
                let disposition = parts.next().unwrap_or("").trim();
                if disposition.is_empty() {
                    return Err(header_error(
                        "Content-Disposition",
                        "empty disposition type",
                    ));
                }
                let parameters = parts
                    .map(|p| {
                        let p = p.trim();
                        match p.split_once('=') {
                            Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
                            None => (p.to_string(), None),
                        }
                    })
                    .collect();
                Header::ContentDisposition(ContentDisposition {
                    disposition: disposition.to_string(),
                    parameters,
                })
            }
            _ => Header::Extension {
                name: name.to_string(),
                value: value.to_string(),
            },
        })
    }
}

/// Splits at `sep` where it is not inside a quoted-string (`"..."` with
/// backslash escapes), so `filename="a;b.txt"` stays one parameter.
fn split_outside_quotes(text: &str, sep: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in text.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + 1;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `token` of RFC 4975 §9: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 /
/// %x41-5A / %x5E-7E.
pub(crate) fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A | 0x2B | 0x2D | 0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// Longest transaction id or Message-ID [`is_received_id`] takes.
pub const MAX_RECEIVED_ID: usize = 255;

/// Whether a transaction id or Message-ID received from a peer is taken:
/// 1 to [`MAX_RECEIVED_ID`] visible characters (%x21-7E), no white space.
///
/// Wider than the grammar's `ident` ([`is_ident`], what this library
/// writes), as RFC 4975 §7's robustness rule asks: deployed stacks send
/// 36-character UUIDs, ids of 1 to 3 characters, and underscores. A
/// transaction id only has to frame its chunk, which the exact end-line
/// `-------<id><flag>` still does for any of these.
pub fn is_received_id(text: &str) -> bool {
    (1..=MAX_RECEIVED_ID).contains(&text.len()) && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// `ident = ALPHANUM 3*31ident-char`, `ident-char = ALPHANUM / "." / "-" / "+" / "%" / "="`
/// (RFC 4975 §9): the transaction ids and message ids this library writes.
/// Received ids are checked with [`is_received_id`].
pub fn is_ident(text: &str) -> bool {
    let b = text.as_bytes();
    (4..=32).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b".-+%=".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The common form read straight from the octets gives what the general
    /// path gives, and leaves everything else to it.
    #[test]
    fn byte_range_common_form_agrees_with_the_general_path() {
        let common = [
            "1-8192/1073741824",
            "1-*/*",
            "8193-*/1073741824",
            "1-0/0",
            "001-5/5",
            "9999999999999999999-*/*",
            "5-4/10",
        ];
        for v in common {
            let r = ByteRange::parse_common(v.as_bytes()).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(
                Header::parse("Byte-Range", v),
                Ok(Header::ByteRange(r)),
                "{v}"
            );
        }
        let other = [
            "0-5/5",
            "1-5/4",
            "3-1/5",
            "1 - 5/5",
            "1-5/5 x",
            "18446744073709551615-*/*",
            "-5/5",
            "1-/5",
            "1-5/",
            "*-5/5",
            "1-5*/5",
            "1-5/5/5",
            "",
        ];
        for v in other {
            assert_eq!(ByteRange::parse_common(v.as_bytes()), None, "{v}");
        }
        assert!(
            Header::parse("Byte-Range", "1 - 5/5").is_ok(),
            "spaces: the general path"
        );
    }

    #[test]
    fn byte_range_forms() {
        assert_eq!(
            Header::parse("Byte-Range", "1-0/0").unwrap(),
            Header::ByteRange(ByteRange {
                start: 1,
                end: Some(0),
                total: Some(0)
            })
        );
        assert_eq!(
            Header::parse("byte-range", "1-*/*").unwrap().encode_value(),
            "1-*/*"
        );
        assert_eq!(Header::parse("Byte-Range", "10001-*/486").ok(), None);
        assert_eq!(
            Header::parse("Byte-Range", "1-25/*")
                .unwrap()
                .encode_value(),
            "1-25/*"
        );
        for bad in [
            "0-1/2",
            "5-3/10",
            "1-11/10",
            "a-1/2",
            "1-2",
            "1/2",
            "-1-2/3",
            "1-99999999999999999999/*",
            "*-1/2",
            "",
        ] {
            assert!(Header::parse("Byte-Range", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn report_headers() {
        assert_eq!(
            Header::parse("Success-Report", "YES").unwrap(),
            Header::SuccessReport(SuccessReport::Yes)
        );
        assert_eq!(
            Header::parse("Failure-Report", "partial").unwrap(),
            Header::FailureReport(FailureReport::Partial)
        );
        assert!(Header::parse("Failure-Report", "maybe").is_err());
        assert!(Header::parse("Success-Report", "partial").is_err());
    }

    #[test]
    fn status_header() {
        let h = Header::parse("Status", "000 200 OK").unwrap();
        assert_eq!(
            h,
            Header::Status(Status {
                code: 200,
                comment: Some("OK".into())
            })
        );
        assert_eq!(h.encode_value(), "000 200 OK");
        assert_eq!(
            Header::parse("Status", "000 413").unwrap().encode_value(),
            "000 413"
        );
        assert!(Header::parse("Status", "200 OK").is_err());
    }

    #[test]
    fn digest_headers_round_trip() {
        let v = r#"Digest realm="example.com", nonce="dcd98b\"7102", qop="auth", algorithm=MD5, opaque="x,y""#;
        let h = Header::parse("WWW-Authenticate", v).unwrap();
        let Header::WwwAuthenticate(p) = &h else {
            panic!()
        };
        assert_eq!(p.scheme.as_deref(), Some("Digest"));
        assert_eq!(p.get("NONCE"), Some("dcd98b\"7102"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("opaque"), Some("x,y"));
        let again = Header::parse("WWW-Authenticate", &h.encode_value()).unwrap();
        assert_eq!(again, h);
        assert!(Header::parse("WWW-Authenticate", "Digest realm=\"x").is_err());
        assert!(Header::parse("Authorization", "Digest").is_err());
        let ai = Header::parse("Authentication-Info", "nextnonce=\"abc\", qop=auth").unwrap();
        assert_eq!(ai.encode_value(), "nextnonce=\"abc\", qop=auth");
    }

    #[test]
    fn digest_values_that_are_not_tokens_stay_quoted() {
        // qop="auth,auth-int" used to be written bare (qop=auth,auth-int),
        // which parses back as qop=auth and a broken parameter; an empty
        // algorithm="" was written as algorithm= and could not be parsed back.
        for (name, v) in [
            (
                "WWW-Authenticate",
                r#"Digest realm="r", nonce="n", qop="auth,auth-int""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="r", nonce="n", qop="auth""#,
            ),
            (
                "Authorization",
                r#"Digest username="a", qop=auth, nc=00000001, algorithm="""#,
            ),
            ("Authentication-Info", r#"qop="a b", nc=00000001"#),
        ] {
            let h = Header::parse(name, v).unwrap();
            let again = Header::parse(name, &h.encode_value()).unwrap();
            assert_eq!(again, h, "{v}");
        }
        // A challenge's qop is a quoted list (RFC 2617 §3.2.1); credentials' bare.
        let ch = Header::parse(
            "WWW-Authenticate",
            r#"Digest realm="r", qop="auth", nonce="n""#,
        )
        .unwrap();
        assert_eq!(
            ch.encode_value(),
            r#"Digest realm="r", qop="auth", nonce="n""#
        );
        let cr = Header::parse(
            "Authorization",
            r#"Digest username="a", qop=auth, nc=00000001"#,
        )
        .unwrap();
        assert_eq!(
            cr.encode_value(),
            r#"Digest username="a", qop=auth, nc=00000001"#
        );
    }

    #[test]
    fn unknown_headers_kept_verbatim() {
        let h = Header::parse("Keep-Alive", "yes").unwrap();
        assert_eq!(
            h,
            Header::Extension {
                name: "Keep-Alive".into(),
                value: "yes".into()
            }
        );
        let mut out = Vec::new();
        h.encode_into(&mut out);
        assert_eq!(out, b"Keep-Alive: yes\r\n");
    }

    #[test]
    fn non_ascii_extension_name_encodes() {
        // Ranking a non-ASCII extension name used to slice inside a character.
        let h = Header::parse("Content\u{e9}xyz", "v").unwrap();
        let mut c = crate::protocol::Chunk::request("abcd", crate::protocol::Method::Send);
        c.add_header(h);
        assert!(!c.encode().is_empty());
    }

    #[test]
    fn names_any_case() {
        assert!(matches!(
            Header::parse("tO-pAtH", "msrp://a:1/s;tcp").unwrap(),
            Header::ToPath(_)
        ));
        assert!(matches!(
            Header::parse("MESSAGE-ID", "abcd").unwrap(),
            Header::MessageId(_)
        ));
        assert!(matches!(
            Header::parse("content-type", "text/plain").unwrap(),
            Header::ContentType(_)
        ));
    }

    #[test]
    fn idents() {
        assert!(is_ident("a1b2"));
        assert!(is_ident("dkei38sd.-+%="));
        assert!(!is_ident("abc"));
        assert!(!is_ident(".abc"));
        assert!(!is_ident(&"a".repeat(33)));
        assert!(!is_ident("ab cd"));
        // Received ids: what peers send, within what still frames a chunk.
        for id in [
            "a",
            "ab",
            "0c5a1c6e-3f1b-4b8e-9a5f-2d6c7e8f9a0b",
            "file_offset_1",
            "id@host.example",
            &"x".repeat(MAX_RECEIVED_ID),
        ] {
            assert!(is_received_id(id), "{id}");
        }
        for id in [
            "",
            "ab cd",
            "ab\tcd",
            "\u{e9}t\u{e9}",
            &"x".repeat(MAX_RECEIVED_ID + 1),
        ] {
            assert!(!is_received_id(id), "{id:?}");
        }
        let uuid = "0C5A1C6E-3F1B-4B8E-9A5F-2D6C7E8F9A0B";
        assert_eq!(
            Header::parse("Message-ID", uuid).unwrap(),
            Header::MessageId(uuid.into())
        );
        assert!(Header::parse("Message-ID", "two words").is_err());
    }

    #[test]
    fn path_limit() {
        let many = vec!["msrp://a:1/s;tcp"; 40].join(" ");
        assert!(Header::parse("To-Path", &many).is_err());
        let limits = HeaderLimits { max_path_uris: 64 };
        assert!(Header::parse_with_limits("To-Path", &many, &limits).is_ok());
    }

    #[test]
    fn content_disposition_quoted_semicolon() {
        // A ';' inside a quoted filename used to split the parameter, turning
        // filename="a;b.txt" into filename="a; b.txt" on the way out.
        let v = "attachment; filename=\"a;b.txt\"; size=3";
        let h = Header::parse("Content-Disposition", v).unwrap();
        let Header::ContentDisposition(d) = &h else {
            panic!()
        };
        assert_eq!(d.parameters.len(), 2);
        assert_eq!(d.parameters[0].1.as_deref(), Some("\"a;b.txt\""));
        assert_eq!(h.encode_value(), v);
    }

    #[test]
    fn content_disposition() {
        let h = Header::parse("Content-Disposition", "attachment; filename=a.txt; size").unwrap();
        assert_eq!(h.encode_value(), "attachment; filename=a.txt; size");
    }
}
