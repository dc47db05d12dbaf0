//! Reassembly of incoming messages (sans-I/O): chunks of one Message-ID, in or
//! out of order, duplicates tolerated, into a whole message held in memory up
//! to a limit, or streamed out piece by piece above it (RFC 4975 §5.1, §7.1.1).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::limits::Charge;
use crate::protocol::{Chunk, Continuation, Header};

/// A set of disjoint, sorted, inclusive ranges of received octets.
#[derive(Debug, Default, Clone)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// Adds `[start, end]` and returns how many octets were new.
    pub fn insert(&mut self, start: u64, end: u64) -> u64 {
        if end < start {
            return 0;
        }
        // In order (the common case): the range starts within or right
        // after the last one, or after it with a gap; no earlier range is
        // touched, so it is merged or appended in place.
        match self.ranges.last_mut() {
            None => {
                self.ranges.push((start, end));
                return end - start + 1;
            }
            Some((a, b)) if start >= *a && start <= b.saturating_add(1) => {
                let new = end.saturating_sub(*b);
                *b = (*b).max(end);
                return new;
            }
            Some((_, b)) if start > b.saturating_add(1) => {
                self.ranges.push((start, end));
                return end - start + 1;
            }
            Some(_) => {}
        }
        let before = self.covered();
        let mut s = start;
        let mut e = end;
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.ranges {
            if b.saturating_add(1) < s {
                out.push((a, b));
            } else if e.saturating_add(1) < a {
                if !placed {
                    out.push((s, e));
                    placed = true;
                }
                out.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        if !placed {
            out.push((s, e));
        }
        self.ranges = out;
        self.covered() - before
    }

    /// Octets covered.
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a + 1).sum()
    }

    /// The last octet covered (0 when empty).
    pub fn last(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.1)
    }

    /// Octets covered contiguously from 1.
    pub fn contiguous_from_one(&self) -> u64 {
        match self.ranges.first() {
            Some(&(1, b)) => b,
            _ => 0,
        }
    }

    /// Octets covered contiguously from `first` (at least 1), counting
    /// every octet before `first` as covered: `contiguous_from_one` of the
    /// set with `1..first` added, less those `first - 1`, without a copy.
    pub fn contiguous_from(&self, first: u64) -> u64 {
        let before = first.max(1) - 1;
        let mut reach = before;
        for &(a, b) in &self.ranges {
            if a > reach.saturating_add(1) {
                break;
            }
            reach = reach.max(b);
        }
        reach - before
    }

    /// Number of separate ranges (bounded to keep memory in check).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// What the reassembler has to say after a chunk.
#[derive(Debug)]
pub enum Reassembled {
    /// Nothing to report yet.
    Partial,
    /// A piece of a large message to hand out as it is (streaming mode).
    Data { offset: u64, data: Bytes },
    /// The message is whole (memory mode: `body` is everything).
    Complete { body: Option<Bytes>, bytes: u64 },
    /// The message was aborted with `#`.
    Aborted { bytes: u64 },
}

/// One incoming message being reassembled.
#[derive(Debug)]
pub struct IncomingState {
    /// The Message-ID (shared with the data pieces handed out).
    pub message_id: Arc<str>,
    /// The message's Content-Type (shared with the data pieces handed out).
    pub content_type: Arc<str>,
    /// Headers of the first chunk seen.
    pub headers: Vec<Header>,
    pub total: Option<u64>,
    pub received: RangeSet,
    /// Memory mode buffer; `None` once streaming.
    body: Option<BytesMut>,
    /// The end position of the `$` chunk, once seen.
    end_seen: Option<u64>,
    pub success_report: bool,
    /// Progress already reported, in octets.
    pub progress_reported: u64,
    /// The memory-mode buffer's octets, held against the library-wide budget.
    charge: Charge,
}

/// Most separate ranges tolerated for one message (a peer sending a million
/// disjoint 1-octet pieces must not grow memory without bound).
pub const MAX_RANGES: usize = 1024;

impl IncomingState {
    pub fn new(first: &Chunk, max_in_memory: u64) -> IncomingState {
        let total = first.byte_range().total;
        let streaming = total.is_some_and(|t| t > max_in_memory);
        IncomingState {
            message_id: first.message_id().unwrap_or("").into(),
            content_type: first.content_type().unwrap_or("").into(),
            headers: first.headers.clone(),
            total,
            received: RangeSet::default(),
            body: if streaming {
                None
            } else {
                Some(BytesMut::new())
            },
            end_seen: None,
            success_report: first.success_report() == crate::protocol::SuccessReport::Yes,
            progress_reported: 0,
            charge: Charge::new(None),
        }
    }

    /// A message resumed by the sender at octet `already + 1` (python-msrplib's
    /// position-based resume): octets `1..=already` are counted as held by
    /// the application, and the rest is streamed out at its offsets.
    pub fn resumed(first: &Chunk, already: u64) -> IncomingState {
        let mut state = IncomingState::new(first, 0);
        state.body = None;
        state.received.insert(1, already);
        state
    }

    /// Whether the message is streamed out rather than held.
    pub fn streaming(&self) -> bool {
        self.body.is_none()
    }

    /// Octets held in memory for this message (counted against the
    /// library-wide budget of `super::limits` while held).
    pub fn held(&self) -> u64 {
        self.charge.amount()
    }

    /// The received octets of `held` as data pieces, leaving out the range
    /// `new` (the chunk being added, handed out whole after them).
    fn hand_out_held(&self, held: &Bytes, new: (u64, u64), out: &mut Vec<Reassembled>) {
        let held_end = held.len() as u64;
        for &(a, b) in &self.received.ranges {
            let b = b.min(held_end);
            for (from, to) in [(a, b.min(new.0 - 1)), (a.max(new.1.saturating_add(1)), b)] {
                if from <= to {
                    out.push(Reassembled::Data {
                        offset: from - 1,
                        data: held.slice((from - 1) as usize..to as usize),
                    });
                }
            }
        }
    }

    /// Adds a chunk's payload. Returns what to report, or an error text when
    /// the chunk cannot belong to this message (400).
    #[cfg(test)]
    pub fn add(&mut self, chunk: &Chunk, max_in_memory: u64) -> Result<Vec<Reassembled>, String> {
        let mut out = Vec::new();
        self.add_into(chunk, max_in_memory, &mut out)?;
        Ok(out)
    }

    /// [`IncomingState::add`] appending to `out` (a list the caller reuses).
    pub fn add_into(
        &mut self,
        chunk: &Chunk,
        max_in_memory: u64,
        out: &mut Vec<Reassembled>,
    ) -> Result<(), String> {
        let range = chunk.byte_range();
        if chunk.continuation == Continuation::Abort {
            self.received
                .insert(range.start, range.start + chunk.data.len() as u64 - 1);
            out.push(Reassembled::Aborted {
                bytes: self.received.covered(),
            });
            return Ok(());
        }
        if self.content_type.is_empty() {
            if let Some(ct) = chunk.content_type() {
                self.content_type = ct.into();
            }
        }
        if let (Some(a), Some(b)) = (self.total, range.total) {
            if a != b {
                return Err(format!(
                    "Byte-Range total {b} differs from the message's {a}"
                ));
            }
        }
        if self.total.is_none() {
            self.total = range.total;
        }
        let len = chunk.data.len() as u64;
        let start = range.start;
        let end = start + len - 1; // start >= 1, so this is start - 1 for an empty chunk
        if let Some(total) = self.total {
            if end > total {
                return Err(format!(
                    "chunk ends at {end}, beyond the message total {total}"
                ));
            }
        }
        let first_out = out.len();
        if len > 0 {
            self.received.insert(start, end);
            if self.received.len() > MAX_RANGES {
                return Err("too many separate byte ranges in one message".into());
            }
            if let Some(buf) = &mut self.body {
                let needed = end as usize;
                if end > max_in_memory {
                    // Switch to streaming: hand out what is held (the octets
                    // received, not the gaps between them), then pieces.
                    let held = self.body.take().expect("memory mode").freeze();
                    self.charge.set(0);
                    self.hand_out_held(&held, (start, end), out);
                    out.push(Reassembled::Data {
                        offset: start - 1,
                        data: chunk.data.clone(),
                    });
                } else {
                    if buf.len() < needed {
                        buf.resize(needed, 0);
                    }
                    buf[(start - 1) as usize..needed].copy_from_slice(&chunk.data);
                    self.charge.set(buf.len() as u64);
                }
            } else {
                out.push(Reassembled::Data {
                    offset: start - 1,
                    data: chunk.data.clone(),
                });
            }
        }
        if chunk.continuation == Continuation::End {
            self.end_seen = Some(end);
            if self.total.is_none() {
                self.total = Some(end);
            }
        }
        if let Some(total) = self.total {
            // Octets taken before the total was known (`*`) must fit in it.
            if self.received.last() > total {
                return Err(format!(
                    "octets received up to {}, beyond the message total {total}",
                    self.received.last()
                ));
            }
            if self.end_seen.is_some() && self.received.contiguous_from_one() >= total {
                let body = self.body.take().map(|mut b| {
                    b.truncate(total as usize);
                    b.freeze()
                });
                // Handed to the application: no longer the session's.
                self.charge.set(0);
                out.push(Reassembled::Complete { body, bytes: total });
            }
        }
        if out.len() == first_out {
            out.push(Reassembled::Partial);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ByteRange, Method};

    fn chunk(start: u64, data: &[u8], total: Option<u64>, flag: Continuation) -> Chunk {
        let mut c = Chunk::request("abcd", Method::Send);
        c.add_header(Header::MessageId("m1234".into()));
        c.add_header(Header::ContentType("text/plain".into()));
        c.add_header(Header::ByteRange(ByteRange {
            start,
            end: Some(start + data.len() as u64 - 1),
            total,
        }));
        c.data = Bytes::copy_from_slice(data);
        c.continuation = flag;
        c
    }

    #[test]
    fn range_set_merges() {
        let mut r = RangeSet::default();
        assert_eq!(r.insert(5, 9), 5);
        assert_eq!(r.insert(1, 3), 3);
        assert_eq!(r.insert(2, 6), 1);
        assert_eq!(r.contiguous_from_one(), 9);
        assert_eq!(r.len(), 1);
        assert_eq!(r.insert(20, 21), 2);
        assert_eq!(r.covered(), 11);
    }

    #[test]
    fn contiguous_from_counts_from_the_first_octet() {
        let mut r = RangeSet::default();
        assert_eq!(r.contiguous_from(1), 0);
        assert_eq!(r.contiguous_from(7), 0);
        r.insert(1, 3);
        r.insert(5, 20);
        r.insert(30, 40);
        assert_eq!(r.contiguous_from(1), 3);
        assert_eq!(r.contiguous_from(4), 0); // octet 4 is missing
        assert_eq!(r.contiguous_from(5), 16);
        assert_eq!(r.contiguous_from(6), 15);
        assert_eq!(r.contiguous_from(21), 0);
        assert_eq!(r.contiguous_from(22), 0);
        assert_eq!(r.contiguous_from(30), 11);
        assert_eq!(r.contiguous_from(50), 0);
    }

    #[test]
    fn range_set_agrees_with_a_set_of_octets() {
        // In-order inserts take a shortcut; any order must give what a
        // plain set of octets gives.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            let mut r = RangeSet::default();
            let mut octets = std::collections::BTreeSet::new();
            let mut next = 1;
            for _ in 0..30 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let (start, len) = if seed % 3 == 0 {
                    (1 + seed % 200, (seed >> 8) % 20)
                } else {
                    (next + (seed >> 8) % 3, 1 + (seed >> 16) % 10)
                };
                let end = start + len - 1;
                next = end + 1;
                let new = (start..=end).filter(|o| octets.insert(*o)).count() as u64;
                assert_eq!(r.insert(start, end), new, "round {round}");
                assert_eq!(r.covered(), octets.len() as u64);
                assert!(r.ranges.windows(2).all(|w| w[0].1 + 1 < w[1].0));
            }
        }
    }

    #[test]
    fn out_of_order_reassembly() {
        let last = chunk(6, b"world", Some(10), Continuation::End);
        let mut s = IncomingState::new(&last, 1 << 20);
        assert!(matches!(
            s.add(&last, 1 << 20).unwrap()[0],
            Reassembled::Partial
        ));
        let first = chunk(1, b"hello", Some(10), Continuation::More);
        let r = s.add(&first, 1 << 20).unwrap();
        match &r[0] {
            Reassembled::Complete {
                body: Some(b),
                bytes,
            } => {
                assert_eq!(&b[..], b"helloworld");
                assert_eq!(*bytes, 10);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_total_and_streaming_switch() {
        let a = chunk(1, b"abcd", None, Continuation::More);
        let mut s = IncomingState::new(&a, 6);
        s.add(&a, 6).unwrap();
        let b = chunk(5, b"efgh", None, Continuation::End);
        let r = s.add(&b, 6).unwrap();
        assert!(matches!(&r[0], Reassembled::Data { offset: 0, data } if &data[..] == b"abcd"));
        assert!(matches!(&r[1], Reassembled::Data { offset: 4, data } if &data[..] == b"efgh"));
        assert!(matches!(
            &r[2],
            Reassembled::Complete {
                body: None,
                bytes: 8
            }
        ));
    }

    #[test]
    fn resumed_message_completes_from_its_position() {
        let rest = chunk(7, b"wxyz", Some(10), Continuation::End);
        let mut s = IncomingState::resumed(&rest, 6);
        let r = s.add(&rest, 1 << 20).unwrap();
        assert!(matches!(&r[0], Reassembled::Data { offset: 6, data } if &data[..] == b"wxyz"));
        assert!(matches!(
            &r[1],
            Reassembled::Complete {
                body: None,
                bytes: 10
            }
        ));
    }

    #[test]
    fn rejects_inconsistent_chunks() {
        let a = chunk(1, b"abcd", Some(4), Continuation::More);
        let mut s = IncomingState::new(&a, 100);
        s.add(&a, 100).unwrap();
        assert!(s
            .add(&chunk(3, b"xyz", Some(4), Continuation::End), 100)
            .is_err());
        assert!(s
            .add(&chunk(1, b"x", Some(5), Continuation::End), 100)
            .is_err());
    }
}
