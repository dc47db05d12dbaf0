//! The media direction attributes of RFC 3264 §5.1 / §6.1 as RFC 5547 uses
//! them for file transfer: `sendrecv` (the default), `sendonly`,
//! `recvonly`, `inactive`.

use std::fmt;

/// Which way messages may flow, seen from the end that wrote the SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default when no attribute is present).
    #[default]
    SendRecv,
    /// This end only sends.
    SendOnly,
    /// This end only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Reads an attribute name in any case; `None` if it is not one.
    pub fn parse(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    /// The attribute as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether this end may send.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this end may receive.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction made of two abilities.
    pub fn from_abilities(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The answer's direction to an offer with this one, limited by what
    /// the answerer wants (RFC 3264 §6.1): it may send only what the
    /// offerer receives, and receive only what the offerer sends.
    pub fn answer_to(self, wanted: Direction) -> Direction {
        Direction::from_abilities(
            self.receives() && wanted.sends(),
            self.sends() && wanted.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
