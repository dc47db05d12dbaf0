//! Property checks shared by the cargo-fuzz targets (`fuzz/`) and the test
//! that replays their regressions (`tests/fuzz_regressions.rs`). Each check
//! panics when a property fails; none may panic on any input otherwise.
//!
//! Not a stable API.

use bytes::{Bytes, BytesMut};

use super::chunk::Chunk;
use super::headers::Header;
use super::parser::{ChunkReader, Event, Limits, ParseErrorKind, Parser};
use super::uri::Uri;

/// Small limits, so that fuzz inputs reach every limit.
pub fn small_limits() -> Limits {
    Limits {
        max_start_line: 128,
        max_header_line: 512,
        max_headers: 12,
        max_header_block: 2048,
        max_path_uris: 4,
        max_undeclared_chunk: 1024,
        max_blank_lines: 4,
        max_assembled_chunk: 1536,
    }
}

/// What a [`ChunkReader`] gave: a chunk, or an error's kind and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Chunk(Chunk),
    Error {
        kind: ParseErrorKind,
        fatal: bool,
        answerable: bool,
        transaction_id: Option<String>,
    },
}

/// What a [`Parser`] gave, with consecutive payload pieces joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Head(Chunk),
    Data(Bytes),
    End(super::chunk::Continuation),
    Error {
        kind: ParseErrorKind,
        fatal: bool,
        answerable: bool,
    },
}

/// Feeds `wire` to a [`ChunkReader`] (whole chunks) in slices whose sizes
/// cycle through `sizes` (all of it at once when `sizes` is empty), until
/// the input ends or a fatal error. Also asserts the reader never holds more
/// unconsumed input than one slice plus what a limit allows.
pub fn read_chunks(wire: &[u8], sizes: &[usize], limits: Limits) -> Vec<Outcome> {
    let mut reader = ChunkReader::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in slices(wire, sizes) {
        buf.extend_from_slice(piece);
        loop {
            match reader.read_chunk(&mut buf, None) {
                Ok(Some(c)) => out.push(Outcome::Chunk(c)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Outcome::Error {
                        kind: e.kind,
                        fatal: e.fatal,
                        answerable: e.can_answer(),
                        transaction_id: e.transaction_id.clone(),
                    });
                    if e.fatal {
                        return out;
                    }
                }
            }
        }
        let bound = limits.max_start_line.max(limits.max_header_line) + 64;
        assert!(buf.len() <= bound, "{} octets left unconsumed", buf.len());
    }
    out
}

/// Feeds `wire` to a [`Parser`] like [`read_chunks`] and lists its events,
/// payload pieces joined.
pub fn parse_steps(wire: &[u8], sizes: &[usize], limits: Limits) -> Vec<Step> {
    let mut parser = Parser::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut data = BytesMut::new();
    let flush = |data: &mut BytesMut, out: &mut Vec<Step>| {
        if !data.is_empty() {
            out.push(Step::Data(data.split().freeze()));
        }
    };
    for piece in slices(wire, sizes) {
        buf.extend_from_slice(piece);
        loop {
            match parser.next_event(&mut buf) {
                Ok(Some(Event::Data(d))) => {
                    assert!(!d.is_empty(), "empty Data event");
                    data.extend_from_slice(&d);
                }
                Ok(Some(Event::Head(h))) => {
                    flush(&mut data, &mut out);
                    out.push(Step::Head(h));
                }
                Ok(Some(Event::End(f))) => {
                    flush(&mut data, &mut out);
                    out.push(Step::End(f));
                }
                Ok(None) => break,
                Err(e) => {
                    flush(&mut data, &mut out);
                    out.push(Step::Error {
                        kind: e.kind,
                        fatal: e.fatal,
                        answerable: e.can_answer(),
                    });
                    if e.fatal {
                        return out;
                    }
                }
            }
        }
    }
    flush(&mut data, &mut out);
    out
}

fn slices<'a>(wire: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = wire;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            sizes[i % sizes.len()].clamp(1, rest.len())
        };
        i += 1;
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// The chunk with its headers in encoding order (what parsing its encoding
/// gives back).
pub fn canonical(chunk: &Chunk) -> Chunk {
    let mut c = chunk.clone();
    c.headers.sort_by_key(|h| h.rank());
    c
}

/// Encodes a chunk, parses it back and asserts it is the same chunk (with
/// its headers in encoding order) and that encoding it again gives the same
/// octets: so nothing compared loosely (URI userinfo and parameters) is lost.
pub fn assert_round_trip(chunk: &Chunk) {
    let wire = chunk.encode();
    // Encoding may lengthen lines a little (a space after the colon, quotes
    // around digest values): parse it back without the limits in the way.
    let mut reader = ChunkReader::new(Limits {
        max_start_line: 1 << 20,
        max_header_line: 1 << 20,
        max_headers: 1 << 16,
        max_header_block: 1 << 24,
        max_path_uris: 1 << 16,
        max_undeclared_chunk: u64::MAX,
        max_blank_lines: 0,
        max_assembled_chunk: u64::MAX,
    });
    let mut buf = BytesMut::from(&wire[..]);
    let again = match reader.read_chunk(&mut buf, None) {
        Ok(Some(c)) => c,
        other => panic!(
            "encoding of {chunk:?} did not parse back: {other:?}\n{}",
            String::from_utf8_lossy(&wire)
        ),
    };
    assert!(buf.is_empty(), "octets left after the chunk");
    assert_eq!(again, canonical(chunk));
    assert_eq!(again.encode(), wire, "encoding is not stable");
}

/// The `parse_chunk` fuzz target: the first byte says how many of the next
/// bytes are slice sizes; the rest is fed to the parser whole and in those
/// slices. Results must be identical, and every parsed chunk must round-trip.
pub fn check_parse_chunk(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 8).min(rest.len());
    let sizes: Vec<usize> = rest[..n].iter().map(|&b| b as usize + 1).collect();
    let wire = &rest[n..];
    for limits in [small_limits(), Limits::default()] {
        let whole = read_chunks(wire, &[], limits);
        let sliced = read_chunks(wire, &sizes, limits);
        assert_eq!(whole, sliced, "whole and sliced feeds differ");
        let bytewise = read_chunks(wire, &[1], limits);
        assert_eq!(whole, bytewise, "whole and byte-by-byte feeds differ");
        let steps = parse_steps(wire, &[], limits);
        assert_eq!(
            steps,
            parse_steps(wire, &sizes, limits),
            "parser events differ"
        );
        for o in &whole {
            if let Outcome::Chunk(c) = o {
                assert_round_trip(c);
            }
        }
    }
    // The Byte-Range value read straight from the octets agrees with the
    // general header path.
    if let Some(range) = super::headers::ByteRange::parse_common(wire) {
        let text = std::str::from_utf8(wire).expect("digits, '-', '/' and '*'");
        assert_eq!(
            Header::parse("Byte-Range", text),
            Ok(Header::ByteRange(range))
        );
    }
    // The same octets as a payload: when the sender's check says its
    // end-line is not in them, the chunk parses back with exactly that
    // payload (RFC 4975 §7.1).
    for id in ["abcd", "a-b-", "a------"] {
        if !super::chunk::contains_end_line(wire, id) {
            assert_round_trip(&payload_chunk(id, wire));
        }
    }
    // Virtual chunks join back into the same chunks (the assembly limit
    // does not apply to segments: use limits where it is never reached).
    let limits = Limits::default();
    let whole = read_chunks(wire, &[], limits);
    let segment = sizes.first().copied().unwrap_or(1) - 1;
    let segmented = read_segmented(wire, &sizes, limits, segment);
    assert_eq!(whole.len(), segmented.len(), "{whole:?}\n{segmented:?}");
    for (a, b) in whole.iter().zip(&segmented) {
        assert!(same_but_range(a, b), "{a:?}\n{b:?}");
    }
}

/// A SEND chunk with transaction id `id` carrying `payload`.
fn payload_chunk(id: &str, payload: &[u8]) -> Chunk {
    let uri = |text: &str| Uri::parse(text).expect("a valid URI");
    let mut c = Chunk::request(id, super::chunk::Method::Send);
    c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
    c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
    c.add_header(Header::MessageId("m1234".into()));
    c.add_header(Header::ByteRange(
        super::headers::ByteRange::new(1, None, None).expect("a valid range"),
    ));
    c.add_header(Header::ContentType("application/octet-stream".into()));
    c.data = Bytes::copy_from_slice(payload);
    c
}

/// Structural equality of two URIs, userinfo and parameters included
/// (`==` is RFC 4975 §6.1 comparison, which ignores them).
pub fn same_uri(a: &Uri, b: &Uri) -> bool {
    a.is_identical(b)
}

/// The `parse_uri` fuzz target: a path that parses formats back to a path
/// that parses to the same URIs and formats identically.
pub fn check_parse_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(path) = Uri::parse_path(text) else {
        return;
    };
    let formatted = Uri::format_path(&path);
    let again = Uri::parse_path(&formatted)
        .unwrap_or_else(|e| panic!("{formatted:?} (from {text:?}) does not parse: {e}"));
    assert_eq!(path.len(), again.len());
    for (a, b) in path.iter().zip(&again) {
        assert!(same_uri(a, b), "{a:?} != {b:?}");
        assert_eq!(a, b);
    }
    assert_eq!(Uri::format_path(&again), formatted);
}

/// The `parse_digest` fuzz target: the first byte picks WWW-Authenticate,
/// Authorization or Authentication-Info, the rest is the value; a value that
/// parses encodes to one that parses to the same header and encodes the same.
pub fn check_parse_digest(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let name = ["WWW-Authenticate", "Authorization", "Authentication-Info"][which as usize % 3];
    let Ok(value) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(h) = Header::parse(name, value) else {
        return;
    };
    let encoded = h.encode_value();
    let again = Header::parse(name, &encoded)
        .unwrap_or_else(|e| panic!("{encoded:?} (from {value:?}) does not parse: {e}"));
    assert_eq!(again, h);
    assert_eq!(again.encode_value(), encoded);
}

/// Feeds `wire` like [`read_chunks`] but reads "virtual chunk" segments of
/// `segment` octets, checks each chunk's segments (numbered 1..n, adjacent
/// Byte-Ranges that match their octets, `+` on all but the last) and joins
/// them back into whole chunks, so the result compares with [`read_chunks`].
pub fn read_segmented(
    wire: &[u8],
    sizes: &[usize],
    limits: Limits,
    segment: usize,
) -> Vec<Outcome> {
    let mut reader = ChunkReader::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut parts: Vec<Chunk> = Vec::new();
    for piece in slices(wire, sizes) {
        buf.extend_from_slice(piece);
        loop {
            match reader.read_chunk(&mut buf, Some(segment)) {
                Ok(Some(c)) if c.segment == 0 => {
                    assert!(parts.is_empty(), "a whole chunk amid segments");
                    out.push(Outcome::Chunk(c));
                }
                Ok(Some(c)) => {
                    assert_eq!(c.segment as usize, parts.len() + 1, "segment numbers");
                    if let Some(prev) = parts.last() {
                        assert_eq!(prev.continuation, super::chunk::Continuation::More);
                        let r = prev.byte_range();
                        assert_eq!(c.byte_range().start, r.start + prev.data.len() as u64);
                    }
                    assert_eq!(c.byte_range().len(), Some(c.data.len() as u64));
                    parts.push(c);
                    if reader.is_idle() {
                        out.push(Outcome::Chunk(join(std::mem::take(&mut parts))));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    parts.clear();
                    out.push(Outcome::Error {
                        kind: e.kind,
                        fatal: e.fatal,
                        answerable: e.can_answer(),
                        transaction_id: e.transaction_id.clone(),
                    });
                    if e.fatal {
                        return out;
                    }
                }
            }
        }
    }
    out
}

/// The whole chunk that segments were cut from.
fn join(parts: Vec<Chunk>) -> Chunk {
    let first = &parts[0];
    let last = parts.last().expect("segments");
    let mut data = BytesMut::new();
    for p in &parts {
        data.extend_from_slice(&p.data);
    }
    let mut whole = first.clone();
    whole.data = data.freeze();
    whole.continuation = last.continuation;
    whole.segment = 0;
    whole
}

/// Two chunks are the same but for the Byte-Range header (which segments
/// rewrite).
fn same_but_range(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Chunk(a), Outcome::Chunk(b)) => {
            let strip = |c: &Chunk| {
                let mut c = c.clone();
                c.remove_header("Byte-Range");
                c
            };
            strip(a) == strip(b)
        }
        (a, b) => a == b,
    }
}
