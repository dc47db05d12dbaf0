//! Memory budgets for buffered message octets: one library-wide budget shared
//! by every session of the process, and per-session counters. A [`Charge`]
//! holds octets against them and gives them back when dropped, so whatever
//! path ends a message (completed, refused, aborted, session closed) returns
//! its octets.
//!
//! What is counted: incoming messages being reassembled in memory (the
//! session answers 413 to a message that takes it over a budget, RFC 4975
//! §7.2) and the bodies of outgoing messages queued by `send_message` until
//! their last chunk is written (`send_message` fails instead of queueing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

/// Default library-wide budget: 256 MiB of buffered message octets across
/// every session of the process.
pub const DEFAULT_TOTAL_BUFFERED: u64 = 256 << 20;

/// Default per-session budget of incoming octets held for reassembly (two
/// whole messages at the default `max_message_size` of 16 MiB).
pub const DEFAULT_MAX_BUFFERED_INCOMING: u64 = 32 << 20;

/// Default per-session budget of queued outgoing message octets.
pub const DEFAULT_MAX_QUEUED_OUTGOING: u64 = 32 << 20;

static TOTAL_LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_TOTAL_BUFFERED);
static TOTAL_HELD: AtomicU64 = AtomicU64::new(0);

/// Sets the library-wide budget of buffered message octets (0 restores the
/// default). Octets already held stay held; new ones are refused while the
/// total is above the budget.
pub fn set_total_buffered_limit(bytes: u64) {
    let bytes = if bytes == 0 {
        DEFAULT_TOTAL_BUFFERED
    } else {
        bytes
    };
    TOTAL_LIMIT.store(bytes, Ordering::Relaxed);
}

/// The library-wide budget in force.
pub fn total_buffered_limit() -> u64 {
    TOTAL_LIMIT.load(Ordering::Relaxed)
}

/// Octets held right now by every session of the process.
pub fn total_buffered() -> u64 {
    TOTAL_HELD.load(Ordering::Relaxed)
}

/// Whether the library-wide budget is exceeded.
pub fn total_exceeded() -> bool {
    total_buffered() > total_buffered_limit()
}

/// Octets held against the library-wide budget and, optionally, a session's
/// counter. Dropping it gives them back.
#[derive(Debug, Default)]
pub struct Charge {
    amount: u64,
    session: Option<Arc<AtomicU64>>,
}

impl Charge {
    /// A charge of nothing yet, counted also against `session`.
    pub fn new(session: Option<Arc<AtomicU64>>) -> Charge {
        Charge { amount: 0, session }
    }

    /// Takes `bytes` more when both budgets allow (the session's
    /// `session_limit` and the library-wide one); `false` leaves it unchanged.
    pub fn try_add(&mut self, bytes: u64, session_limit: u64) -> bool {
        if let Some(s) = &self.session {
            let before = s.fetch_add(bytes, Ordering::AcqRel);
            if before + bytes > session_limit {
                s.fetch_sub(bytes, Ordering::AcqRel);
                return false;
            }
        }
        let before = TOTAL_HELD.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > total_buffered_limit() {
            TOTAL_HELD.fetch_sub(bytes, Ordering::AcqRel);
            if let Some(s) = &self.session {
                s.fetch_sub(bytes, Ordering::AcqRel);
            }
            return false;
        }
        self.amount += bytes;
        true
    }

    /// Sets the amount held to `bytes` without asking (the caller checks
    /// the budgets afterwards).
    pub fn set(&mut self, bytes: u64) {
        if bytes >= self.amount {
            let more = bytes - self.amount;
            TOTAL_HELD.fetch_add(more, Ordering::AcqRel);
            if let Some(s) = &self.session {
                s.fetch_add(more, Ordering::AcqRel);
            }
        } else {
            let less = self.amount - bytes;
            TOTAL_HELD.fetch_sub(less, Ordering::AcqRel);
            if let Some(s) = &self.session {
                s.fetch_sub(less, Ordering::AcqRel);
            }
        }
        self.amount = bytes;
    }

    /// Octets held by this charge.
    pub fn amount(&self) -> u64 {
        self.amount
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// A message body whose octets stay charged for as long as any slice of it
/// is alive (the queued message and the chunks cut from it).
struct ChargedBody {
    body: Bytes,
    _charge: Charge,
}

impl AsRef<[u8]> for ChargedBody {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

/// Wraps `body` so that `charge` is given back when its last slice drops.
pub fn charged_bytes(body: Bytes, charge: Charge) -> Bytes {
    if body.is_empty() {
        return body;
    }
    Bytes::from_owner(ChargedBody {
        body,
        _charge: charge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_come_back_when_dropped() {
        let session = Arc::new(AtomicU64::new(0));
        let mut c = Charge::new(Some(session.clone()));
        assert!(c.try_add(100, 150));
        assert!(!c.try_add(100, 150), "over the session's budget");
        assert_eq!(session.load(Ordering::Relaxed), 100);
        let body = charged_bytes(Bytes::from_static(b"0123456789"), c);
        let piece = body.slice(2..4);
        drop(body);
        assert_eq!(session.load(Ordering::Relaxed), 100, "a slice is alive");
        assert_eq!(&piece[..], b"23");
        drop(piece);
        assert_eq!(session.load(Ordering::Relaxed), 0);
        let mut d = Charge::new(Some(session.clone()));
        d.set(70);
        d.set(20);
        assert_eq!(session.load(Ordering::Relaxed), 20);
        drop(d);
        assert_eq!(session.load(Ordering::Relaxed), 0);
    }
}
