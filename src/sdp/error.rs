//! [`SdpError`]: why a media description cannot be read or an offer/answer
//! cannot be made; the text names the SDP line or attribute at fault.

use std::fmt;

/// An SDP error. `attribute` is the line or attribute at fault (`m=`,
/// `a=path`, `a=setup`, …), `reason` says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpError {
    /// The line or attribute: `m=`, `c=`, `a=path`, `a=file-selector`, …
    pub attribute: String,
    /// What is wrong.
    pub reason: String,
}

impl SdpError {
    pub(crate) fn new(attribute: impl Into<String>, reason: impl Into<String>) -> SdpError {
        SdpError {
            attribute: attribute.into(),
            reason: reason.into(),
        }
    }
}

/// At most this many characters of peer text are quoted in an error.
const QUOTE_MAX: usize = 120;

/// Quotes peer text for an error message, shortened.
pub(crate) fn quote(text: &str) -> String {
    let shown: String = text.chars().take(QUOTE_MAX).collect();
    if shown.len() < text.len() {
        format!("\"{shown}…\"")
    } else {
        format!("\"{shown}\"")
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SDP {}: {}", self.attribute, self.reason)
    }
}

impl std::error::Error for SdpError {}
