//! `a=setup` (RFC 4145 §4, as RFC 6135 §4.2 uses it for MSRP) and
//! `a=connection` (RFC 4145 §5, which RFC 6135 §4.4 says MSRP ignores).

use std::fmt;

/// The value of `a=setup`: which end opens the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// This end connects.
    Active,
    /// This end listens.
    Passive,
    /// Either; the answer decides (offers only).
    Actpass,
    /// No connection for now. RFC 6135 §4.2.1: never sent by an MSRP
    /// endpoint, and read as if `a=setup` were absent.
    Holdconn,
}

impl Setup {
    /// Reads the value in any case; `None` for an unknown value.
    pub fn parse(text: &str) -> Option<Setup> {
        [
            Setup::Active,
            Setup::Passive,
            Setup::Actpass,
            Setup::Holdconn,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::Actpass => "actpass",
            Setup::Holdconn => "holdconn",
        }
    }

    /// The value the offer/answer rules work with: `holdconn` is taken as
    /// absent (RFC 6135 §4.2.1).
    pub fn effective(setup: Option<Setup>) -> Option<Setup> {
        setup.filter(|s| *s != Setup::Holdconn)
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value of `a=connection`. Kept when read, never acted on and never
/// written by this library (RFC 6135 §4.4: MSRP reuses connections by its
/// own rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionAttr {
    /// `new`
    New,
    /// `existing`
    Existing,
}

impl ConnectionAttr {
    /// Reads the value in any case; `None` for an unknown value.
    pub fn parse(text: &str) -> Option<ConnectionAttr> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("new") => Some(ConnectionAttr::New),
            t if t.eq_ignore_ascii_case("existing") => Some(ConnectionAttr::Existing),
            _ => None,
        }
    }

    /// The value as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionAttr::New => "new",
            ConnectionAttr::Existing => "existing",
        }
    }
}
