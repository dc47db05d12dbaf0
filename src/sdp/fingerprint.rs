//! [`SdpFingerprint`]: `a=fingerprint:<hash-func> <XX:XX:…>` (RFC 8122 §5).
//!
//! A peer may name any hash function of the IANA "Hash Function Textual
//! Names" registry (rcsjta sends `SHA-1`); this endpoint writes SHA-256.
//! Names are read in any case and with or without the hyphen (`sha1`,
//! `SHA-256`) and kept in their registered lower-case form.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::error::{quote, SdpError};

/// A certificate fingerprint as SDP carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpFingerprint {
    /// The hash function, lower case as registered: `sha-256`, `sha-1`, …
    pub hash: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

/// Registered names this endpoint can compute, with their digest lengths.
const KNOWN: &[(&str, usize)] = &[
    ("sha-1", 20),
    ("sha-224", 28),
    ("sha-256", 32),
    ("sha-384", 48),
    ("sha-512", 64),
    ("md5", 16),
    ("md2", 16),
];

/// The registered spelling of a hash name: lower case, and `sha1` →
/// `sha-1` (RFC 5547 §6 and RFC 8122 both use the hyphenated names).
pub(crate) fn canonical_hash_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.strip_prefix("sha") {
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!("sha-{rest}")
        }
        _ => lower,
    }
}

/// Reads colon-separated hex pairs (any case); also, liberally, hex
/// without colons.
pub(crate) fn parse_hex_pairs(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let digits: Vec<u8> = if text.contains(':') {
        let mut out = Vec::new();
        for pair in text.split(':') {
            let pair = pair.trim();
            if pair.len() != 2 {
                return None;
            }
            out.extend_from_slice(pair.as_bytes());
        }
        out
    } else {
        text.as_bytes().to_vec()
    };
    if digits.is_empty() || digits.len() % 2 != 0 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// Upper-case hex pairs separated by colons.
pub(crate) fn format_hex_pairs(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// The digest of `data` with a registered hash name; `None` for a hash this
/// endpoint cannot compute (md2, or unknown).
pub(crate) fn digest(hash: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match hash {
        "sha-1" => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
            .as_ref()
            .to_vec(),
        "sha-224" => Sha224::digest(data).to_vec(),
        "sha-256" => Sha256::digest(data).to_vec(),
        "sha-384" => Sha384::digest(data).to_vec(),
        "sha-512" => Sha512::digest(data).to_vec(),
        "md5" => Md5::digest(data).to_vec(),
        _ => return None,
    })
}

impl SdpFingerprint {
    /// Reads an `a=fingerprint` value: a hash name, white space, hex pairs.
    pub fn parse(text: &str) -> Result<SdpFingerprint, SdpError> {
        let err = |reason: String| SdpError::new("a=fingerprint", reason);
        let text = text.trim();
        let (name, hex) = text
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or_else(|| err(format!("{} is not \"<hash> <hex pairs>\"", quote(text))))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(err(format!("{} is not a hash function name", quote(name))));
        }
        let hash = canonical_hash_name(name);
        let value = parse_hex_pairs(hex)
            .ok_or_else(|| err(format!("{} is not colon-separated hex pairs", quote(hex))))?;
        if let Some((_, len)) = KNOWN.iter().find(|(n, _)| *n == hash) {
            if value.len() != *len {
                return Err(err(format!(
                    "a {hash} digest has {len} bytes, this one {}",
                    value.len()
                )));
            }
        }
        Ok(SdpFingerprint { hash, value })
    }

    /// The SHA-256 fingerprint of a DER certificate (what this endpoint
    /// offers).
    pub fn sha256_of_certificate(der: &[u8]) -> SdpFingerprint {
        SdpFingerprint {
            hash: "sha-256".into(),
            value: Sha256::digest(der).to_vec(),
        }
    }

    /// Whether a DER certificate has this fingerprint. `None` when the hash
    /// function is one this endpoint cannot compute.
    pub fn matches_certificate(&self, der: &[u8]) -> Option<bool> {
        digest(&self.hash, der).map(|d| d == self.value)
    }
}

impl fmt::Display for SdpFingerprint {
    /// The attribute value: `sha-256 AB:CD:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash, format_hex_pairs(&self.value))
    }
}
