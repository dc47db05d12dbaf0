//! The file transfer attributes of RFC 5547 §6: `file-selector` (name,
//! type, size, hash), `file-transfer-id`, `file-disposition`, `file-date`,
//! `file-icon`, `file-range`.
//!
//! Read liberally: names quoted or not, with spaces, percent-encoded or not;
//! `hash:sha1:` as well as `hash:sha-1:` (sipsimple reads both), hex in any
//! case. Written strictly: the name quoted with `"`, `%`, control
//! characters and directory separators percent-encoded, the hash as
//! `sha-1` with upper-case pairs.

use std::fmt;

use super::error::{quote, SdpError};
use super::fingerprint::{canonical_hash_name, format_hex_pairs, parse_hex_pairs};

/// `hash:<algorithm>:<XX:XX:…>` of a file selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Registered lower-case name; `sha-1` is the only one RFC 5547 uses.
    pub algorithm: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl FileHash {
    /// The SHA-1 of a whole body in memory.
    pub fn sha1(data: &[u8]) -> FileHash {
        let mut h = Sha1::new();
        h.update(data);
        h.finish()
    }
}

/// Incremental SHA-1 for a [`FileHash`] of a file read piece by piece.
pub struct Sha1(ring::digest::Context);

impl Sha1 {
    /// A new hash.
    pub fn new() -> Sha1 {
        Sha1(ring::digest::Context::new(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ))
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The selector hash of everything added.
    pub fn finish(self) -> FileHash {
        FileHash {
            algorithm: "sha-1".into(),
            value: self.0.finish().as_ref().to_vec(),
        }
    }
}

impl Default for Sha1 {
    fn default() -> Self {
        Sha1::new()
    }
}

/// `a=file-selector`: what identifies the file (RFC 5547 §5). All parts are
/// optional; an attribute with none is the capability indication of
/// RFC 5547 §8.5.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileSelector {
    /// `name:"…"`, decoded (UTF-8).
    pub name: Option<String>,
    /// `type:…`, the media type with any parameters, as written.
    pub media_type: Option<String>,
    /// `size:…` in bytes.
    pub size: Option<u64>,
    /// `hash:…`.
    pub hash: Option<FileHash>,
    /// Selectors this endpoint does not know, kept as written.
    pub other: Vec<String>,
}

/// `a=file-range:<start>-<stop>`: the octets of the file offered, from 1;
/// `stop` `None` for `*` (to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// First octet, counted from 1.
    pub start: u64,
    /// Last octet, or `None` for `*`.
    pub stop: Option<u64>,
}

/// The RFC 5547 attributes of one media description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileAttributes {
    /// `a=file-selector`, when present.
    pub selector: Option<FileSelector>,
    /// `a=file-transfer-id` (RFC 5547 §8.1): the same id in a re-offer
    /// means the same transfer.
    pub transfer_id: Option<String>,
    /// `a=file-disposition` (`render`, `attachment`, …).
    pub disposition: Option<String>,
    /// `a=file-date` parameters in order: (`creation`|`modification`|`read`,
    /// the date text without its quotes).
    pub dates: Vec<(String, String)>,
    /// `a=file-icon`, a `cid:` URL.
    pub icon: Option<String>,
    /// `a=file-range`.
    pub range: Option<FileRange>,
}

impl FileAttributes {
    /// Whether any file attribute is present.
    pub fn is_empty(&self) -> bool {
        *self == FileAttributes::default()
    }

    /// Whether this describes a file (a selector with at least one part).
    pub fn has_file(&self) -> bool {
        self.selector.as_ref().is_some_and(|s| {
            s.name.is_some() || s.size.is_some() || s.hash.is_some() || s.media_type.is_some()
        })
    }
}

/// Splits on white space outside double quotes.
fn split_quoted(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    let mut in_quote = false;
    for (i, c) in text.char_indices() {
        if c == '"' {
            in_quote = !in_quote;
        }
        if c.is_ascii_whitespace() && !in_quote {
            if let Some(s) = start.take() {
                out.push(&text[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as is.
fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Encodes what RFC 5547 §6 does not allow in `filename-string` (`"`, `%`,
/// CR, LF, NUL, other controls) and directory separators (`/`, `\`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '"' || c == '%' || c == '/' || c == '\\' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Strips one pair of surrounding double quotes, if present.
fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .map(|t| t.strip_suffix('"').unwrap_or(t))
        .unwrap_or(text)
}

impl FileSelector {
    /// Reads an `a=file-selector` value (empty for the capability form).
    pub fn parse(text: &str) -> Result<FileSelector, SdpError> {
        let err = |reason: String| SdpError::new("a=file-selector", reason);
        let mut sel = FileSelector::default();
        for item in split_quoted(text) {
            let (key, value) = item.split_once(':').unwrap_or((item, ""));
            match key.to_ascii_lowercase().as_str() {
                "name" => sel.name = Some(percent_decode(unquote(value))),
                "type" => {
                    if value.is_empty() || value.matches('"').count() % 2 != 0 {
                        return Err(err(format!(
                            "type {} is empty or has an unclosed quote",
                            quote(value)
                        )));
                    }
                    sel.media_type = Some(value.to_string());
                }
                "size" => {
                    sel.size = Some(value.parse().map_err(|_| {
                        err(format!("size {} is not a number of bytes", quote(value)))
                    })?)
                }
                "hash" => {
                    let (alg, hex) = value.split_once(':').ok_or_else(|| {
                        err(format!(
                            "hash {} is not <algorithm>:<hex pairs>",
                            quote(value)
                        ))
                    })?;
                    if alg.is_empty()
                        || !alg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        return Err(err(format!("hash algorithm {} is not a token", quote(alg))));
                    }
                    let value = parse_hex_pairs(hex).ok_or_else(|| {
                        err(format!("hash value {} is not hex pairs", quote(hex)))
                    })?;
                    sel.hash = Some(FileHash {
                        algorithm: canonical_hash_name(alg),
                        value,
                    });
                }
                _ => sel.other.push(item.to_string()),
            }
        }
        Ok(sel)
    }
}

impl fmt::Display for FileSelector {
    /// The attribute value, selectors in the order of RFC 5547's examples.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(n) = &self.name {
            parts.push(format!("name:\"{}\"", percent_encode(n)));
        }
        if let Some(t) = &self.media_type {
            parts.push(format!("type:{t}"));
        }
        if let Some(s) = self.size {
            parts.push(format!("size:{s}"));
        }
        if let Some(h) = &self.hash {
            parts.push(format!(
                "hash:{}:{}",
                h.algorithm,
                format_hex_pairs(&h.value)
            ));
        }
        parts.extend(self.other.iter().cloned());
        f.write_str(&parts.join(" "))
    }
}

impl FileRange {
    /// Reads `<start>-<stop>` (`stop` a number or `*`).
    pub fn parse(text: &str) -> Result<FileRange, SdpError> {
        let err = || {
            SdpError::new(
                "a=file-range",
                format!("{} is not <start>-<stop>", quote(text)),
            )
        };
        let (a, b) = text.trim().split_once('-').ok_or_else(err)?;
        let start: u64 = a.trim().parse().map_err(|_| err())?;
        let stop = match b.trim() {
            "*" => None,
            s => Some(s.parse::<u64>().map_err(|_| err())?),
        };
        if start == 0 || stop.is_some_and(|s| s < start) {
            return Err(err());
        }
        Ok(FileRange { start, stop })
    }
}

impl fmt::Display for FileRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stop {
            Some(s) => write!(f, "{}-{s}", self.start),
            None => write!(f, "{}-*", self.start),
        }
    }
}

/// Reads an `a=file-date` value: `creation:"…" modification:"…" read:"…"`.
pub(crate) fn parse_dates(text: &str) -> Result<Vec<(String, String)>, SdpError> {
    split_quoted(text)
        .into_iter()
        .map(|item| {
            let (k, v) = item.split_once(':').ok_or_else(|| {
                SdpError::new(
                    "a=file-date",
                    format!("{} is not <kind>:\"<date>\"", quote(item)),
                )
            })?;
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(SdpError::new(
                    "a=file-date",
                    format!("{} is not creation, modification or read", quote(k)),
                ));
            }
            Ok((k.to_ascii_lowercase(), v.replace('"', "")))
        })
        .collect()
}

/// Writes an `a=file-date` value.
pub(crate) fn format_dates(dates: &[(String, String)]) -> String {
    dates
        .iter()
        .map(|(k, v)| format!("{k}:\"{}\"", v.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" ")
}
