//! [`MediaDescription`]: one MSRP media description — the `m=message` line
//! and the `c=` and `a=` lines under it (RFC 4975 §8) — read from a whole
//! SDP body or from the section alone, and written back.
//!
//! Reading is liberal: LF, CR or CRLF line ends, attribute names in any case,
//! session-level `c=`, `a=setup` and `a=fingerprint` inherited by the
//! section (RFC 4566 §5, RFC 8122 §5), unknown attributes kept in order and
//! otherwise ignored. A malformed attribute this module knows is an error
//! that names it.

use std::fmt;

use super::direction::Direction;
use super::error::{quote, SdpError};
use super::file::{format_dates, parse_dates, FileAttributes, FileRange, FileSelector};
use super::fingerprint::SdpFingerprint;
use super::proto::Proto;
use super::setup::{ConnectionAttr, Setup};
use crate::protocol::Uri;

/// The longest SDP text read (bytes); SIP bodies are far smaller.
pub const MAX_SDP_LEN: usize = 256 * 1024;

/// `c=<nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionData {
    /// `IN`.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    /// An address or a domain name.
    pub address: String,
}

impl ConnectionData {
    fn parse(text: &str) -> Result<ConnectionData, SdpError> {
        let parts: Vec<&str> = text.split_ascii_whitespace().collect();
        match parts.as_slice() {
            [n, a, addr, ..] => Ok(ConnectionData {
                net_type: n.to_string(),
                addr_type: a.to_string(),
                address: addr.to_string(),
            }),
            _ => Err(SdpError::new(
                "c=",
                format!("{} is not \"IN IP4|IP6 <address>\"", quote(text)),
            )),
        }
    }

    /// The `c=` line for the host of a URI.
    pub fn of_uri(uri: &Uri) -> ConnectionData {
        let host = uri.host.to_string();
        let (addr_type, address) = match host.strip_prefix('[') {
            Some(v6) => ("IP6", v6.trim_end_matches(']').to_string()),
            None => ("IP4", host),
        };
        ConnectionData {
            net_type: "IN".into(),
            addr_type: addr_type.into(),
            address,
        }
    }
}

impl fmt::Display for ConnectionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

/// One MSRP media description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The `m=` port; 0 refuses the stream (RFC 3264 §6).
    pub port: u16,
    /// The `m=` transport protocol.
    pub proto: Proto,
    /// The `m=` formats (`*` for MSRP).
    pub formats: Vec<String>,
    /// `c=` of the section, or of the session when the section has none.
    pub connection: Option<ConnectionData>,
    /// `a=path`: the URIs from the first hop to the endpoint.
    pub path: Vec<Uri>,
    /// `a=accept-types`.
    pub accept_types: Vec<String>,
    /// `a=accept-wrapped-types`.
    pub accept_wrapped_types: Vec<String>,
    /// `a=max-size`.
    pub max_size: Option<u64>,
    /// `a=setup`, as written (see [`Setup::effective`]).
    pub setup: Option<Setup>,
    /// `a=connection`, kept but never acted on (RFC 6135 §4.4).
    pub connection_attr: Option<ConnectionAttr>,
    /// `a=fingerprint`s, of the section or else of the session.
    pub fingerprints: Vec<SdpFingerprint>,
    /// `a=msrp-cema` (RFC 6714 §4).
    pub cema: bool,
    /// The direction attribute; `None` when absent (meaning sendrecv).
    pub direction: Option<Direction>,
    /// The RFC 5547 file attributes.
    pub file: FileAttributes,
    /// Other attributes of the section, in order: (name, value).
    pub other: Vec<(String, Option<String>)>,
}

impl MediaDescription {
    /// A description with this `m=` line and nothing else.
    pub fn new(port: u16, proto: Proto) -> MediaDescription {
        MediaDescription {
            port,
            proto,
            formats: vec!["*".into()],
            connection: None,
            path: Vec::new(),
            accept_types: Vec::new(),
            accept_wrapped_types: Vec::new(),
            max_size: None,
            setup: None,
            connection_attr: None,
            fingerprints: Vec::new(),
            cema: false,
            direction: None,
            file: FileAttributes::default(),
            other: Vec::new(),
        }
    }

    /// The direction, `sendrecv` when absent.
    pub fn direction(&self) -> Direction {
        self.direction.unwrap_or_default()
    }

    /// Whether the stream is refused (`m=` port 0).
    pub fn is_refused(&self) -> bool {
        self.port == 0
    }

    /// Reads the first `m=message` section of an SDP body, or a section
    /// alone (text that starts with `m=`).
    pub fn parse(text: &str) -> Result<MediaDescription, SdpError> {
        MediaDescription::parse_nth(text, 0)
    }

    /// Reads the `index`-th (from 0) `m=message` section of an SDP body;
    /// other media (audio, video) are skipped and not counted.
    pub fn parse_nth(text: &str, index: usize) -> Result<MediaDescription, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::new(
                "body",
                format!("{} bytes is longer than {MAX_SDP_LEN}", text.len()),
            ));
        }
        // CRLF, LF, or a lone CR end a line (RFC 4566 §5 asks for CRLF).
        let lines = text
            .split(['\r', '\n'])
            .map(str::trim_end)
            .filter(|l| !l.is_empty());
        let mut session = Vec::new();
        let mut sections: Vec<Vec<&str>> = Vec::new();
        for line in lines {
            if line.starts_with("m=") {
                sections.push(vec![line]);
            } else if let Some(s) = sections.last_mut() {
                s.push(line);
            } else {
                session.push(line);
            }
        }
        let messages: Vec<&Vec<&str>> = sections
            .iter()
            .filter(|s| {
                s[0][2..]
                    .split_ascii_whitespace()
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case("message"))
            })
            .collect();
        let Some(section) = messages.get(index) else {
            return Err(SdpError::new(
                "m=",
                match messages.len() {
                    0 => "no m=message section".to_string(),
                    n => format!("no m=message section {index} (there are {n})"),
                },
            ));
        };
        let mut md = parse_section(section)?;
        // Session-level defaults (RFC 4566 §5.7, RFC 4145 §4, RFC 8122 §5).
        let mut session_fingerprints = Vec::new();
        for line in session {
            if let Some(c) = line.strip_prefix("c=") {
                if md.connection.is_none() {
                    md.connection = Some(ConnectionData::parse(c)?);
                }
            } else if let Some(a) = line.strip_prefix("a=") {
                let (name, value) = split_attribute(a);
                match name.to_ascii_lowercase().as_str() {
                    "setup" if md.setup.is_none() => md.setup = Some(parse_setup(value)?),
                    "fingerprint" => {
                        session_fingerprints.push(SdpFingerprint::parse(value.unwrap_or(""))?)
                    }
                    _ => {}
                }
            }
        }
        if md.fingerprints.is_empty() {
            md.fingerprints = session_fingerprints;
        }
        if md.path.is_empty() && !md.is_refused() {
            return Err(SdpError::new(
                "a=path",
                "missing (RFC 4975 §8.2 requires it)",
            ));
        }
        Ok(md)
    }

    /// The lines of the description (without line ends), in the order of
    /// RFC 4975's and RFC 5547's examples.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "m=message {} {} {}",
            self.port,
            self.proto,
            self.formats.join(" ")
        )];
        if let Some(c) = &self.connection {
            out.push(format!("c={c}"));
        }
        if let Some(d) = self.direction {
            out.push(format!("a={d}"));
        }
        if !self.accept_types.is_empty() {
            out.push(format!("a=accept-types:{}", self.accept_types.join(" ")));
        }
        if !self.accept_wrapped_types.is_empty() {
            out.push(format!(
                "a=accept-wrapped-types:{}",
                self.accept_wrapped_types.join(" ")
            ));
        }
        if let Some(m) = self.max_size {
            out.push(format!("a=max-size:{m}"));
        }
        if !self.path.is_empty() {
            out.push(format!("a=path:{}", Uri::format_path(&self.path)));
        }
        if let Some(s) = self.setup {
            out.push(format!("a=setup:{s}"));
        }
        if let Some(c) = self.connection_attr {
            out.push(format!("a=connection:{}", c.as_str()));
        }
        for f in &self.fingerprints {
            out.push(format!("a=fingerprint:{f}"));
        }
        if self.cema {
            out.push("a=msrp-cema".into());
        }
        let file = &self.file;
        if let Some(s) = &file.selector {
            let v = s.to_string();
            out.push(if v.is_empty() {
                "a=file-selector".into()
            } else {
                format!("a=file-selector:{v}")
            });
        }
        if let Some(t) = &file.transfer_id {
            out.push(format!("a=file-transfer-id:{t}"));
        }
        if let Some(d) = &file.disposition {
            out.push(format!("a=file-disposition:{d}"));
        }
        if !file.dates.is_empty() {
            out.push(format!("a=file-date:{}", format_dates(&file.dates)));
        }
        if let Some(i) = &file.icon {
            out.push(format!("a=file-icon:{i}"));
        }
        if let Some(r) = &file.range {
            out.push(format!("a=file-range:{r}"));
        }
        for (name, value) in &self.other {
            out.push(match value {
                Some(v) => format!("a={name}:{v}"),
                None => format!("a={name}"),
            });
        }
        out
    }
}

impl fmt::Display for MediaDescription {
    /// The section as SDP text, each line ended by CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in self.lines() {
            write!(f, "{l}\r\n")?;
        }
        Ok(())
    }
}

/// `name:value` or a flag `name`.
fn split_attribute(a: &str) -> (&str, Option<&str>) {
    match a.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (a.trim(), None),
    }
}

fn parse_setup(value: Option<&str>) -> Result<Setup, SdpError> {
    let v = value.unwrap_or("");
    Setup::parse(v).ok_or_else(|| {
        SdpError::new(
            "a=setup",
            format!("{} is not active, passive, actpass or holdconn", quote(v)),
        )
    })
}

fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect()
}

/// Reads the lines of one section, `m=` first.
fn parse_section(lines: &[&str]) -> Result<MediaDescription, SdpError> {
    let m = &lines[0][2..];
    let fields: Vec<&str> = m.split_ascii_whitespace().collect();
    let bad_m = |reason: String| SdpError::new("m=", reason);
    if fields.len() < 3 {
        return Err(bad_m(format!(
            "{} is not \"message <port> <proto> <formats>\"",
            quote(m)
        )));
    }
    // <port>[/<count>] (RFC 4566 §5.14)
    let port_text = fields[1].split('/').next().unwrap_or("");
    let port: u16 = port_text
        .parse()
        .map_err(|_| bad_m(format!("port {} is not a number 0-65535", quote(fields[1]))))?;
    let proto = Proto::parse(fields[2]).ok_or_else(|| {
        bad_m(format!(
            "protocol {} is not TCP/MSRP, TCP/TLS/MSRP, TCP/WS/MSRP or TCP/WSS/MSRP",
            quote(fields[2])
        ))
    })?;
    let mut md = MediaDescription::new(port, proto);
    md.formats = fields[3..].iter().map(|s| s.to_string()).collect();
    for line in &lines[1..] {
        if let Some(c) = line.strip_prefix("c=") {
            md.connection = Some(ConnectionData::parse(c)?);
            continue;
        }
        let Some(a) = line.strip_prefix("a=") else {
            continue; // i=, b=, k=: not used by MSRP
        };
        let (name, value) = split_attribute(a);
        let lower = name.to_ascii_lowercase();
        if let Some(d) = Direction::parse(&lower) {
            md.direction = Some(d);
            continue;
        }
        let v = value.unwrap_or("");
        match lower.as_str() {
            "path" => {
                md.path = Uri::parse_path(v)
                    .map_err(|e| SdpError::new("a=path", format!("{}: {e}", quote(v))))?
            }
            "accept-types" => md.accept_types = list(value),
            "accept-wrapped-types" => md.accept_wrapped_types = list(value),
            "max-size" => {
                md.max_size = Some(v.parse().map_err(|_| {
                    SdpError::new("a=max-size", format!("{} is not a number", quote(v)))
                })?)
            }
            "setup" => md.setup = Some(parse_setup(value)?),
            "connection" => {
                md.connection_attr = Some(ConnectionAttr::parse(v).ok_or_else(|| {
                    SdpError::new(
                        "a=connection",
                        format!("{} is not new or existing", quote(v)),
                    )
                })?)
            }
            "fingerprint" => md.fingerprints.push(SdpFingerprint::parse(v)?),
            "msrp-cema" => md.cema = true,
            "file-selector" => md.file.selector = Some(FileSelector::parse(v)?),
            "file-transfer-id" => md.file.transfer_id = Some(v.to_string()),
            "file-disposition" => md.file.disposition = Some(v.to_string()),
            "file-date" => md.file.dates = parse_dates(v)?,
            "file-icon" => md.file.icon = Some(v.to_string()),
            "file-range" => md.file.range = Some(FileRange::parse(v)?),
            _ => md.other.push((name.to_string(), value.map(str::to_string))),
        }
    }
    Ok(md)
}
