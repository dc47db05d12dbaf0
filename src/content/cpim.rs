//! `message/cpim` (RFC 3862): parsing and building.
//!
//! A CPIM message is a block of message headers (From, To, cc, DateTime,
//! Subject, NS, Require, and namespaced ones such as `imdn.Message-ID`), a
//! blank line, then a MIME entity: its headers (Content-Type,
//! Content-Length, Content-Disposition, ...), a blank line, and its body.
//!
//! [`Cpim::parse`] borrows from the payload: header values and the inner
//! body are slices of it (a value is copied only when a MIME header was
//! folded over several lines), so a large payload is not copied;
//! [`Cpim::parse_head`] reads the headers from the first chunk of a large
//! message and says where its body starts. It is
//! liberal where real stacks differ from the RFC:
//! - header names compared case-insensitively (`Content-type`, `cc`);
//! - CRLF or bare LF line ends, mixed (Python's email generator writes the
//!   inner MIME part with bare LF);
//! - blank lines before the message headers and extra ones between the
//!   message headers and the MIME headers;
//! - missing From/To/DateTime, and a wrapper of only `Subject:` (Doubango);
//! - the RFC 3862 §2 outer `Content-type: Message/CPIM` MIME header block
//!   given in front of the message headers;
//! - `imdn.` headers without an `NS` declaration of the `imdn` prefix;
//! - a Content-Length larger than the body (the body is what is there).
//!
//! [`CpimBuilder`] is strict: CRLF line ends, header names checked against
//! RFC 3862 §3.1, control characters in values escaped (§2.3), and a
//! Content-Length for the inner body.

use std::borrow::Cow;
use std::fmt;

use super::datetime::DateTime;

/// The IMDN namespace of CPIM headers (RFC 5438 §6.1).
pub const IMDN_NAMESPACE: &str = "urn:ietf:params:imdn";

/// Why a payload is not a CPIM message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpimError {
    /// The payload ends before the blank line after the message headers (or
    /// after the MIME headers): with a partial payload, wait for more.
    Incomplete,
    /// A header line is not `Name: value`, or not UTF-8.
    BadHeader(String),
    /// A builder argument is not allowed (e.g. a header name with a space).
    InvalidArgument(String),
}

impl fmt::Display for CpimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpimError::Incomplete => f.write_str("CPIM headers not terminated by a blank line"),
            CpimError::BadHeader(t) => write!(f, "bad CPIM header: {t}"),
            CpimError::InvalidArgument(t) => write!(f, "invalid argument: {t}"),
        }
    }
}

impl std::error::Error for CpimError {}

/// Most header lines accepted in one block (message or MIME headers).
pub(crate) const MAX_HEADERS: usize = 256;

/// One CPIM message header (RFC 3862 §3): `prefix.Name:;params value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimHeader<'a> {
    /// The namespace prefix before the first `.`, if any (`imdn`).
    pub prefix: Option<&'a str>,
    /// The name without its prefix (`Message-ID`).
    pub name: &'a str,
    /// The name as written (`imdn.Message-ID`).
    pub full_name: &'a str,
    /// Parameters after the colon without the leading `;` (`lang=fr`), or "".
    pub params: &'a str,
    /// The value, surrounding white space removed, escapes not decoded (see
    /// [`unescape`]).
    pub value: &'a str,
}

/// A namespace declaration (`NS: imdn <urn:ietf:params:imdn>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace<'a> {
    /// The prefix; "" for a default namespace (`NS: <uri>`).
    pub prefix: &'a str,
    pub uri: &'a str,
}

/// A parsed CPIM message borrowing from its payload.
#[derive(Debug, Clone)]
pub struct Cpim<'a> {
    headers: Vec<CpimHeader<'a>>,
    namespaces: Vec<Namespace<'a>>,
    content_headers: Vec<(&'a str, Cow<'a, str>)>,
    body: &'a [u8],
    body_offset: usize,
}

/// One header line: its text without the line end, and where the next
/// line starts; `None` at the end of `data` without a line end.
fn next_line(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(pos..)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let mut line = &rest[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    Some((line, pos + nl + 1))
}

/// Whether a line looks like `Name:` (a header, not body text).
fn looks_like_header(line: &[u8]) -> bool {
    match memchr::memchr(b':', line) {
        Some(0) | None => false,
        Some(i) => line[..i].iter().all(|&c| c > b' ' && c < 0x7f),
    }
}

/// Header lines as read: name and value.
type HeaderLines<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// Reads header lines from `pos` up to and including the blank line;
/// returns the lines (continuation lines joined when `fold`) and the
/// position after the blank line.
fn header_block(
    data: &[u8],
    mut pos: usize,
    fold: bool,
) -> Result<(HeaderLines<'_>, usize), CpimError> {
    let mut out: Vec<(&str, Cow<'_, str>)> = Vec::new();
    loop {
        let (line, next) = next_line(data, pos).ok_or(CpimError::Incomplete)?;
        if line.is_empty() {
            return Ok((out, next));
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| CpimError::BadHeader("header line is not UTF-8".into()))?;
        if fold && matches!(line[0], b' ' | b'\t') {
            // A folded MIME header (RFC 5322 §2.2.3): joined with one space.
            let Some((_, value)) = out.last_mut() else {
                return Err(CpimError::BadHeader("continuation line first".into()));
            };
            let joined = format!("{} {}", value, text.trim());
            *value = Cow::Owned(joined);
        } else {
            let Some((name, value)) = text.split_once(':') else {
                return Err(CpimError::BadHeader(format!("no colon in {text:?}")));
            };
            if name.is_empty() || name.bytes().any(|c| c <= b' ' || c >= 0x7f) {
                return Err(CpimError::BadHeader(format!("bad name in {text:?}")));
            }
            out.push((name, Cow::Borrowed(value)));
        }
        if out.len() > MAX_HEADERS {
            return Err(CpimError::BadHeader("too many headers".into()));
        }
        pos = next;
    }
}

fn skip_blank_lines(data: &[u8], mut pos: usize) -> usize {
    while let Some((line, next)) = next_line(data, pos) {
        if !line.is_empty() {
            break;
        }
        pos = next;
    }
    pos
}

impl<'a> Cpim<'a> {
    /// Parses a `message/cpim` payload. With only the start of a payload
    /// (a first chunk), the headers are parsed and the body is what is there
    /// ([`Cpim::body_offset`] says where it starts), or
    /// [`CpimError::Incomplete`] when the headers are not all there yet.
    pub fn parse(data: &'a [u8]) -> Result<Cpim<'a>, CpimError> {
        let mut pos = skip_blank_lines(data, 0);
        let (mut raw, mut after) = header_block(data, pos, false)?;
        // RFC 3862 §2: the message may come with its own MIME headers first
        // (`Content-type: Message/CPIM`); in MSRP those are the chunk's.
        let outer = !raw.is_empty()
            && raw
                .iter()
                .all(|(n, _)| n.len() > 8 && n[..8].eq_ignore_ascii_case("content-"))
            && raw.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("content-type")
                    && media_type(v).eq_ignore_ascii_case("message/cpim")
            });
        if outer {
            pos = skip_blank_lines(data, after);
            (raw, after) = header_block(data, pos, false)?;
        }
        // A blank line first and then only MIME headers: the message
        // headers are empty (the RFC 3862 §3.6 grammar allows none).
        let mime_only = pos > 0
            && !raw.is_empty()
            && raw.iter().all(|(n, _)| {
                (n.len() > 8 && n[..8].eq_ignore_ascii_case("content-"))
                    || n.eq_ignore_ascii_case("mime-version")
            });
        if mime_only {
            raw.clear();
            after = pos;
        }
        let mut headers = Vec::with_capacity(raw.len());
        let mut namespaces = Vec::new();
        for (full_name, value) in raw {
            let Cow::Borrowed(value) = value else {
                unreachable!("message headers are never folded")
            };
            let (params, value) = match value.strip_prefix(';') {
                // `Subject:;lang=fr text` (RFC 3862 §3.3).
                Some(p) => p.split_once(' ').unwrap_or((p, "")),
                None => ("", value),
            };
            let value = value.trim();
            let (prefix, name) = match full_name.split_once('.') {
                Some((p, n)) if !p.is_empty() && !n.is_empty() => (Some(p), n),
                _ => (None, full_name),
            };
            if prefix.is_none() && name.eq_ignore_ascii_case("NS") {
                if let Some(ns) = parse_ns(value) {
                    namespaces.push(ns);
                }
            }
            headers.push(CpimHeader {
                prefix,
                name,
                full_name,
                params,
                value,
            });
        }
        // Extra blank lines before the MIME headers are skipped, but only
        // when headers follow: otherwise the entity has no headers and the
        // body begins right after the separator.
        let mut inner = after;
        let skipped = skip_blank_lines(data, after);
        if skipped != after && next_line(data, skipped).is_some_and(|(l, _)| looks_like_header(l)) {
            inner = skipped;
        }
        let starts_with_header = next_line(data, inner).is_some_and(|(l, _)| looks_like_header(l));
        let (content_headers, body_offset) = if starts_with_header {
            header_block(data, inner, true)?
        } else if data.len() > inner
            && !data[inner..].contains(&b'\n')
            && looks_like_header(&data[inner..])
        {
            // A header line without its end yet.
            return Err(CpimError::Incomplete);
        } else {
            (Vec::new(), inner)
        };
        let content_headers: Vec<(&str, Cow<'_, str>)> = content_headers
            .into_iter()
            .map(|(n, v)| {
                let v = match v {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
                };
                (n, v)
            })
            .collect();
        let mut body = &data[body_offset.min(data.len())..];
        let length = content_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        if let Some(n) = length {
            body = &body[..n.min(body.len())];
        }
        Ok(Cpim {
            headers,
            namespaces,
            content_headers,
            body,
            body_offset,
        })
    }

    /// Parses the start of a payload (the first chunk of a large message):
    /// `Ok` once the message headers and the inner MIME headers are complete
    /// (the body is then what is there, from [`Cpim::body_offset`]),
    /// [`CpimError::Incomplete`] before. Unlike [`Cpim::parse`], an inner
    /// part without MIME headers is taken as incomplete: with part of a
    /// payload, a body cannot be told from headers still to come.
    pub fn parse_head(data: &'a [u8]) -> Result<Cpim<'a>, CpimError> {
        let m = Cpim::parse(data)?;
        if m.content_headers.is_empty() {
            return Err(CpimError::Incomplete);
        }
        Ok(m)
    }

    /// The message headers, in order.
    pub fn headers(&self) -> &[CpimHeader<'a>] {
        &self.headers
    }

    /// The namespace declarations, in order.
    pub fn namespaces(&self) -> &[Namespace<'a>] {
        &self.namespaces
    }

    /// The first message header named `name` (case-insensitive), written as
    /// it appears (`From`, `imdn.Message-ID`).
    pub fn header(&self, name: &str) -> Option<&CpimHeader<'a>> {
        self.headers
            .iter()
            .find(|h| h.full_name.eq_ignore_ascii_case(name))
    }

    /// Every message header named `name` (e.g. `To`, `cc`, `Subject`).
    pub fn headers_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s CpimHeader<'a>> + 's {
        self.headers
            .iter()
            .filter(move |h| h.full_name.eq_ignore_ascii_case(name))
    }

    /// The first header `name` in the namespace `uri`: a prefixed header
    /// whose prefix was declared (before it, RFC 3862 §3.4) for `uri`. For
    /// the IMDN namespace, an `imdn.` prefix that no NS header declared
    /// counts too (some stacks leave the NS out).
    pub fn header_ns(&self, uri: &str, name: &str) -> Option<&CpimHeader<'a>> {
        let mut declared: Vec<(&str, &str)> = Vec::new();
        for h in &self.headers {
            if h.prefix.is_none() && h.name.eq_ignore_ascii_case("NS") {
                if let Some(ns) = parse_ns(h.value) {
                    declared.retain(|(p, _)| !p.eq_ignore_ascii_case(ns.prefix));
                    declared.push((ns.prefix, ns.uri));
                }
                continue;
            }
            if !h.name.eq_ignore_ascii_case(name) {
                continue;
            }
            let prefix = h.prefix.unwrap_or("");
            let bound = declared
                .iter()
                .rev()
                .find(|(p, _)| p.eq_ignore_ascii_case(prefix))
                .map(|(_, u)| *u);
            let matches = match bound {
                Some(u) => u == uri,
                None => uri == IMDN_NAMESPACE && prefix.eq_ignore_ascii_case("imdn"),
            };
            if matches {
                return Some(h);
            }
        }
        None
    }

    /// The value of the IMDN header `name` (`Message-ID`,
    /// `Disposition-Notification`).
    pub fn imdn_header(&self, name: &str) -> Option<&'a str> {
        self.header_ns(IMDN_NAMESPACE, name).map(|h| h.value)
    }

    /// The `imdn.Message-ID` (RFC 5438 §6.3).
    pub fn imdn_message_id(&self) -> Option<&'a str> {
        self.imdn_header("Message-ID").filter(|v| !v.is_empty())
    }

    /// The address of the From header: inside `<>`, or the whole value.
    pub fn from_uri(&self) -> Option<&'a str> {
        self.header("From").and_then(|h| address_uri(h.value))
    }

    /// The address of the first To header.
    pub fn to_uri(&self) -> Option<&'a str> {
        self.header("To").and_then(|h| address_uri(h.value))
    }

    /// The DateTime header, if present and valid RFC 3339.
    pub fn datetime(&self) -> Option<DateTime> {
        self.header("DateTime")
            .and_then(|h| DateTime::parse(h.value))
    }

    /// The inner MIME headers, in order (folded ones unfolded).
    pub fn content_headers(&self) -> impl Iterator<Item = (&'a str, &str)> + '_ {
        self.content_headers.iter().map(|(n, v)| (*n, v.as_ref()))
    }

    /// The first inner MIME header `name` (case-insensitive).
    pub fn content_header(&self, name: &str) -> Option<&str> {
        self.content_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// The inner Content-Type as written (with parameters), if any.
    pub fn content_type(&self) -> Option<&str> {
        self.content_header("Content-Type")
    }

    /// The inner media type, lower-case, without parameters (`text/plain`);
    /// "" when there is no Content-Type.
    pub fn media_type(&self) -> String {
        self.content_type()
            .map(|t| media_type(t).to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// The inner body: a slice of the payload given to [`Cpim::parse`].
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Where the inner body starts in the payload.
    pub fn body_offset(&self) -> usize {
        self.body_offset
    }
}

/// `type/subtype` of a Content-Type value, trimmed, case kept.
pub fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// The value of parameter `name` of a Content-Type (`charset`), quotes
/// removed (`charset="utf8"` gives `utf8`).
pub fn content_type_param<'t>(content_type: &'t str, name: &str) -> Option<&'t str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The address of a From/To/cc value: what is inside the last `<...>`, or
/// the whole trimmed value when there are no brackets.
pub fn address_uri(value: &str) -> Option<&str> {
    let v = value.trim();
    if let (Some(open), Some(close)) = (v.rfind('<'), v.rfind('>')) {
        if open < close {
            let uri = v[open + 1..close].trim();
            return (!uri.is_empty()).then_some(uri);
        }
    }
    (!v.is_empty()).then_some(v)
}

fn parse_ns(value: &str) -> Option<Namespace<'_>> {
    let value = value.trim();
    let open = value.find('<')?;
    let close = value.rfind('>')?;
    if close < open {
        return None;
    }
    Some(Namespace {
        prefix: value[..open].trim(),
        uri: value[open + 1..close].trim(),
    })
}

/// Decodes the RFC 3862 §2.3 escapes of a header value (`\uXXXX`, `\\`,
/// `\"`, `\'`, `\b`, `\t`, `\n`, `\r`); an unknown or short escape is kept
/// as written.
pub fn unescape(value: &str) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match chars.peek().map(|&(_, n)| n) {
            Some('\\') => Some('\\'),
            Some('"') => Some('"'),
            Some('\'') => Some('\''),
            Some('b') => Some('\u{8}'),
            Some('t') => Some('\t'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('u') => value
                .get(i + 2..i + 6)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(d) => {
                let skip = if chars.peek().map(|&(_, n)| n) == Some('u') {
                    5
                } else {
                    1
                };
                for _ in 0..skip {
                    chars.next();
                }
                out.push(d);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Escapes a header value for sending (RFC 3862 §2.3): control characters
/// as `\uXXXX`, backslash as `\\`.
pub fn escape(value: &str) -> Cow<'_, str> {
    if !value.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `name` is a CPIM header name (RFC 3862 §3.1, §3.6: NAMECHARs,
/// with at most one `.` between a prefix and the name).
pub fn valid_header_name(name: &str) -> bool {
    let namechar = |c: u8| {
        c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'^'..=b'`' | b'|' | b'~')
    };
    let (prefix, rest) = match name.split_once('.') {
        Some((p, r)) => (Some(p), r),
        None => (None, name),
    };
    let ok = |s: &str| !s.is_empty() && s.bytes().all(namechar);
    prefix.is_none_or(ok) && ok(rest)
}

/// Builds a `message/cpim` payload.
#[derive(Debug, Clone, Default)]
pub struct CpimBuilder {
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    content_headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: bool,
}

impl CpimBuilder {
    /// An empty message (no headers, empty body); the inner part gets a
    /// Content-Length.
    pub fn new() -> CpimBuilder {
        CpimBuilder {
            content_length: true,
            ..CpimBuilder::default()
        }
    }

    /// Adds a message header (`From`, `imdn.Message-ID`, ...); its value is
    /// escaped as RFC 3862 §2.3 says.
    pub fn header(mut self, name: &str, value: &str) -> Result<CpimBuilder, CpimError> {
        if !valid_header_name(name) {
            return Err(CpimError::InvalidArgument(format!(
                "{name:?} is not a CPIM header name"
            )));
        }
        self.headers
            .push((name.to_string(), escape(value).into_owned()));
        Ok(self)
    }

    /// `From: [name ]<uri>`.
    pub fn from(self, display_name: Option<&str>, uri: &str) -> Result<CpimBuilder, CpimError> {
        let v = address_value(display_name, uri)?;
        self.header("From", &v)
    }

    /// `To: [name ]<uri>` (repeat for several recipients).
    pub fn to(self, display_name: Option<&str>, uri: &str) -> Result<CpimBuilder, CpimError> {
        let v = address_value(display_name, uri)?;
        self.header("To", &v)
    }

    /// `DateTime: <RFC 3339>`.
    pub fn datetime(self, t: DateTime) -> Result<CpimBuilder, CpimError> {
        self.header("DateTime", &t.to_string())
    }

    /// `NS: prefix <uri>` ("" prefix: the default namespace).
    pub fn namespace(self, prefix: &str, uri: &str) -> Result<CpimBuilder, CpimError> {
        if !prefix.is_empty() && (!valid_header_name(prefix) || prefix.contains('.')) {
            return Err(CpimError::InvalidArgument(format!("bad prefix {prefix:?}")));
        }
        if uri.is_empty() || uri.contains(['<', '>']) || uri.chars().any(char::is_whitespace) {
            return Err(CpimError::InvalidArgument(format!(
                "bad namespace URI {uri:?}"
            )));
        }
        let v = if prefix.is_empty() {
            format!("<{uri}>")
        } else {
            format!("{prefix} <{uri}>")
        };
        self.header("NS", &v)
    }

    /// The inner Content-Type (with parameters, e.g.
    /// `text/plain;charset=UTF-8`).
    pub fn content_type(mut self, content_type: &str) -> Result<CpimBuilder, CpimError> {
        check_mime_value("Content-Type", content_type)?;
        self.content_type = Some(content_type.to_string());
        Ok(self)
    }

    /// Another inner MIME header (`Content-Disposition: notification`).
    pub fn content_header(mut self, name: &str, value: &str) -> Result<CpimBuilder, CpimError> {
        if name.is_empty() || name.bytes().any(|c| c <= b' ' || c >= 0x7f || c == b':') {
            return Err(CpimError::InvalidArgument(format!(
                "bad MIME header name {name:?}"
            )));
        }
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("content-type")
        {
            return Err(CpimError::InvalidArgument(format!(
                "{name} is set by the builder"
            )));
        }
        check_mime_value(name, value)?;
        self.content_headers
            .push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// Whether to write a Content-Length for the body (default yes).
    pub fn content_length(mut self, yes: bool) -> CpimBuilder {
        self.content_length = yes;
        self
    }

    /// The inner body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> CpimBuilder {
        self.body = body.into();
        self
    }

    /// The encoded payload.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(t) = &self.content_type {
            out.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        for (n, v) in &self.content_headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if self.content_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

fn address_value(display_name: Option<&str>, uri: &str) -> Result<String, CpimError> {
    if uri.is_empty() || uri.contains(['<', '>']) || uri.chars().any(char::is_whitespace) {
        return Err(CpimError::InvalidArgument(format!("bad URI {uri:?}")));
    }
    Ok(match display_name.filter(|n| !n.is_empty()) {
        // Formal-name (RFC 3862 §3.6): a quoted string when it is not
        // plain tokens.
        Some(n)
            if n.chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_') =>
        {
            format!("{n} <{uri}>")
        }
        Some(n) => format!(
            "\"{}\" <{uri}>",
            n.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        None => format!("<{uri}>"),
    })
}

fn check_mime_value(name: &str, value: &str) -> Result<(), CpimError> {
    if value.chars().any(|c| c.is_control()) {
        return Err(CpimError::InvalidArgument(format!(
            "{name} value contains a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3862 §5.1, with its outer MIME header (the `m:` line) and the
    /// RFC's line ends (CRLF).
    const RFC3862_EXAMPLE: &str = "Content-type: Message/CPIM\r\n\r\n\
        From: MR SANDERS <im:piglet@100akerwood.com>\r\n\
        To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n\
        DateTime: 2000-12-13T13:40:00-08:00\r\n\
        Subject: the weather will be fine today\r\n\
        Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n\
        NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n\
        Require: MyFeatures.VitalMessageOption\r\n\
        MyFeatures.VitalMessageOption: Confirmation-requested\r\n\
        MyFeatures.WackyMessageOption: Use-silly-font\r\n\
        \r\n\
        Content-type: text/xml; charset=utf-8\r\n\
        Content-ID: <1234567890@foo.com>\r\n\
        \r\n\
        <body>\r\n\
        Here is the text of my message.\r\n\
        </body>\r\n";

    #[test]
    fn rfc3862_example() {
        for text in [
            RFC3862_EXAMPLE,
            RFC3862_EXAMPLE.split_once("\r\n\r\n").unwrap().1,
        ] {
            let m = Cpim::parse(text.as_bytes()).unwrap();
            assert_eq!(m.from_uri(), Some("im:piglet@100akerwood.com"));
            assert_eq!(m.to_uri(), Some("im:eeyore@100akerwood.com"));
            assert_eq!(
                m.header("to").unwrap().value,
                "Depressed Donkey <im:eeyore@100akerwood.com>"
            );
            assert_eq!(
                m.datetime().unwrap().to_string(),
                "2000-12-13T13:40:00-08:00"
            );
            let subjects: Vec<_> = m.headers_named("Subject").collect();
            assert_eq!(subjects.len(), 2);
            assert_eq!(subjects[1].params, "lang=fr");
            assert_eq!(subjects[1].value, "beau temps prevu pour aujourd'hui");
            assert_eq!(
                m.namespaces(),
                &[Namespace {
                    prefix: "MyFeatures",
                    uri: "mid:MessageFeatures@id.foo.com"
                }]
            );
            let h = m
                .header_ns("mid:MessageFeatures@id.foo.com", "WackyMessageOption")
                .unwrap();
            assert_eq!(h.value, "Use-silly-font");
            assert_eq!(h.prefix, Some("MyFeatures"));
            assert!(m.header_ns("urn:other", "WackyMessageOption").is_none());
            assert_eq!(m.content_type(), Some("text/xml; charset=utf-8"));
            assert_eq!(m.media_type(), "text/xml");
            assert_eq!(
                content_type_param(m.content_type().unwrap(), "CHARSET"),
                Some("utf-8")
            );
            assert_eq!(m.content_header("content-id"), Some("<1234567890@foo.com>"));
            assert_eq!(
                m.body(),
                b"<body>\r\nHere is the text of my message.\r\n</body>\r\n"
            );
            // The body is a slice of the input, not a copy.
            let start = m.body().as_ptr() as usize - text.as_ptr() as usize;
            assert_eq!(start, m.body_offset());
        }
    }

    #[test]
    fn sipsimple_shape_bare_lf_inner_part() {
        let p = b"From: Alice <sip:alice@example.org>\r\nTo: <sip:bob@example.net>\r\n\
DateTime: 2024-05-01T10:00:00+00:00\r\n\r\nMIME-Version: 1.0\nContent-Type: text/plain; charset=\"utf8\"\n\nHi Bob\r\n";
        let m = Cpim::parse(p).unwrap();
        assert_eq!(m.from_uri(), Some("sip:alice@example.org"));
        assert_eq!(m.media_type(), "text/plain");
        assert_eq!(
            content_type_param(m.content_type().unwrap(), "charset"),
            Some("utf8")
        );
        assert_eq!(m.body(), b"Hi Bob\r\n");
    }

    #[test]
    fn doubango_subject_only_and_upper_case() {
        let p = b"Subject: test\r\n\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let m = Cpim::parse(p).unwrap();
        assert_eq!(m.from_uri(), None);
        assert_eq!(m.header("SUBJECT").unwrap().value, "test");
        assert_eq!(m.media_type(), "text/plain");
        assert_eq!(m.body(), b"hello\r\n");
    }

    #[test]
    fn extra_blank_lines_and_missing_headers() {
        let p = b"\r\n\r\nFrom: <sip:a@x>\r\n\r\n\r\n\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi and more";
        let m = Cpim::parse(p).unwrap();
        assert_eq!(m.media_type(), "text/plain");
        assert_eq!(m.body(), b"hi");
        // No MIME headers at all: the body starts after the separator.
        let m = Cpim::parse(b"From: <sip:a@x>\r\n\r\n\r\ntext").unwrap();
        assert_eq!(m.content_type(), None);
        assert_eq!(m.body(), b"\r\ntext");
        // No message headers at all.
        let m = Cpim::parse(b"\r\nContent-Type: text/plain\r\n\r\nx").unwrap();
        assert!(m.headers().is_empty());
        assert_eq!(m.body(), b"x");
    }

    #[test]
    fn rcs_imdn_request_and_undeclared_prefix() {
        let p = b"From: <sip:+15551230001@ims.example>\r\nTo: <sip:+15551230002@ims.example>\r\n\
NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 0123456789abcdef0123456789abcdef\r\n\
DateTime: 2024-05-01T10:00:00.000Z\r\nimdn.Disposition-Notification: positive-delivery, display\r\n\r\n\
Content-type: text/plain;charset=UTF-8\r\nContent-length: 5\r\n\r\nhello";
        let m = Cpim::parse(p).unwrap();
        assert_eq!(
            m.imdn_message_id(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            m.imdn_header("disposition-notification"),
            Some("positive-delivery, display")
        );
        assert_eq!(m.body(), b"hello");
        let m = Cpim::parse(b"IMDN.Message-ID: abc\r\n\r\n").unwrap();
        assert_eq!(m.imdn_message_id(), Some("abc"));
        // A prefix bound to another namespace is not IMDN's.
        let m = Cpim::parse(b"NS: imdn <urn:other>\r\nimdn.Message-ID: abc\r\n\r\n").unwrap();
        assert_eq!(m.imdn_message_id(), None);
        // A different prefix declared for IMDN is.
        let m = Cpim::parse(b"NS: x <urn:ietf:params:imdn>\r\nx.Message-ID: q\r\n\r\n").unwrap();
        assert_eq!(m.imdn_message_id(), Some("q"));
    }

    #[test]
    fn incomplete_and_bad_input() {
        assert_eq!(
            Cpim::parse(b"From: <sip:a@x>\r\n").unwrap_err(),
            CpimError::Incomplete
        );
        assert_eq!(
            Cpim::parse(b"From: <sip:a@x>\r\n\r\nContent-Type: text/pl").unwrap_err(),
            CpimError::Incomplete
        );
        assert_eq!(Cpim::parse(b"").unwrap_err(), CpimError::Incomplete);
        assert!(matches!(
            Cpim::parse(b"no colon here\r\n\r\n"),
            Err(CpimError::BadHeader(_))
        ));
        assert!(matches!(
            Cpim::parse(b"From: \xff\r\n\r\n"),
            Err(CpimError::BadHeader(_))
        ));
    }

    #[test]
    fn the_head_of_a_payload_is_enough() {
        let full = RFC3862_EXAMPLE.as_bytes();
        let off = Cpim::parse(full).unwrap().body_offset();
        for cut in 0..=full.len() {
            match Cpim::parse_head(&full[..cut]) {
                Ok(m) => {
                    assert!(cut >= off, "complete at {cut}, before the body at {off}");
                    assert_eq!(m.body_offset(), off);
                    assert_eq!(m.body(), &full[off..cut]);
                    assert_eq!(m.from_uri(), Some("im:piglet@100akerwood.com"));
                }
                Err(e) => {
                    assert_eq!(e, CpimError::Incomplete);
                    assert!(cut < off, "incomplete at {cut}, after the headers ({off})");
                }
            }
        }
    }

    #[test]
    fn folded_mime_header() {
        let m =
            Cpim::parse(b"From: <a:b>\r\n\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\nx")
                .unwrap();
        assert_eq!(m.content_type(), Some("text/plain; charset=utf-8"));
    }

    #[test]
    fn builder_round_trips() {
        let p = CpimBuilder::new()
            .from(Some("Alice"), "sip:alice@example.org")
            .unwrap()
            .to(None, "sip:bob@example.net")
            .unwrap()
            .namespace("imdn", IMDN_NAMESPACE)
            .unwrap()
            .header("imdn.Message-ID", "m1")
            .unwrap()
            .datetime(DateTime::parse("2024-05-01T10:00:00Z").unwrap())
            .unwrap()
            .header("Subject", "line\r\nbreak \\ here")
            .unwrap()
            .content_type("text/plain;charset=UTF-8")
            .unwrap()
            .body("Hi")
            .build();
        let text = std::str::from_utf8(&p).unwrap();
        assert_eq!(
            text,
            "From: Alice <sip:alice@example.org>\r\nTo: <sip:bob@example.net>\r\n\
NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: m1\r\nDateTime: 2024-05-01T10:00:00Z\r\n\
Subject: line\\u000d\\u000abreak \\\\ here\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\
Content-Length: 2\r\n\r\nHi"
        );
        let m = Cpim::parse(&p).unwrap();
        assert_eq!(m.imdn_message_id(), Some("m1"));
        assert_eq!(
            unescape(m.header("Subject").unwrap().value),
            "line\r\nbreak \\ here"
        );
        assert_eq!(m.body(), b"Hi");
        assert!(CpimBuilder::new().header("Bad Name", "x").is_err());
        assert!(CpimBuilder::new().header("a.b.c", "x").is_err());
        assert!(CpimBuilder::new().from(None, "sip:a b").is_err());
        assert!(CpimBuilder::new()
            .content_header("Content-Length", "1")
            .is_err());
        assert!(CpimBuilder::new()
            .content_type("text/plain\r\nX: y")
            .is_err());
        let quoted = CpimBuilder::new()
            .from(Some("O'Neil \"Jr\""), "sip:a@b")
            .unwrap()
            .build();
        let m = Cpim::parse(&quoted).unwrap();
        assert_eq!(m.from_uri(), Some("sip:a@b"));
    }

    #[test]
    fn unescape_handles_every_escape() {
        assert_eq!(
            unescape(r#"a\\b\"c\'d\te\u0041\x\u00"#),
            "a\\b\"c'd\teA\\x\\u00"
        );
        assert_eq!(unescape("plain"), "plain");
    }
}
