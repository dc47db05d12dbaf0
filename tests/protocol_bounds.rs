//! Bounded buffering: a 100 MB chunk streamed through the parser in 64 KiB
//! slices never leaves more than one slice plus a few dozen octets in the
//! input buffer; ChunkReader's "virtual chunk" segments cover a chunk
//! exactly.

use bytes::{Bytes, BytesMut};
use msrp::protocol::*;

const SLICE: usize = 64 * 1024;

fn head(tid: &str, range: &str) -> Vec<u8> {
    format!(
        "MSRP {tid} SEND\r\nTo-Path: msrp://b.example.com:1/x;tcp\r\nFrom-Path: msrp://a.example.com:2/y;tcp\r\nMessage-ID: mid12345\r\nByte-Range: {range}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes()
}

/// A deterministic payload slice salted with look-alike end-lines.
fn payload_slice(tid: &str, n: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(n);
    let mut x: u32 = 0x1234_5678;
    while p.len() < n {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        if x % 97 == 0 {
            p.extend_from_slice(format!("\r\n-------{tid}").as_bytes());
            p.push(b'x');
        } else {
            p.push((x >> 24) as u8);
        }
    }
    p.truncate(n);
    // No look-alike may straddle the cut and become real: end with a plain byte.
    *p.last_mut().unwrap() = b'.';
    p
}

#[test]
fn parser_buffers_at_most_one_slice_of_a_100_mb_chunk() {
    let total: usize = 100 * 1024 * 1024;
    let tid = "big0chunk1";
    let mut wire_head = head(tid, &format!("1-{total}/{total}"));
    let body = payload_slice(tid, SLICE);
    let mut parser = Parser::default();
    let mut buf = BytesMut::with_capacity(2 * SLICE);
    let mut fed = 0usize;
    let mut got = 0usize;
    let mut max_held = 0usize;
    let mut ended = None;
    let mut heads = 0;
    // The head, then 1600 payload slices, then the end-line, in 64 KiB slices
    // cut wherever they fall.
    let mut tail = format!("\r\n-------{tid}$\r\n").into_bytes();
    let mut pending: Vec<u8> = std::mem::take(&mut wire_head);
    loop {
        while pending.len() < SLICE && (fed < total || !tail.is_empty()) {
            if fed < total {
                let n = (total - fed).min(SLICE);
                pending.extend_from_slice(&body[..n]);
                fed += n;
            } else {
                pending.append(&mut tail);
            }
        }
        if pending.is_empty() {
            break;
        }
        let n = pending.len().min(SLICE);
        buf.extend_from_slice(&pending[..n]);
        pending.drain(..n);
        max_held = max_held.max(buf.len());
        assert!(buf.len() <= SLICE + 48, "{} octets held", buf.len());
        while let Some(e) = parser.next_event(&mut buf).unwrap() {
            match e {
                Event::Head(h) => {
                    heads += 1;
                    assert_eq!(h.byte_range().len(), Some(total as u64));
                }
                Event::Data(d) => got += d.len(),
                Event::End(f) => ended = Some(f),
            }
        }
        // What is left is at most a possible start of the end-line.
        assert!(buf.len() <= tid.len() + 11, "{} octets left", buf.len());
    }
    assert_eq!((heads, got, ended), (1, total, Some(Continuation::End)));
    assert!(buf.is_empty() && parser.is_idle());
    assert!(max_held > SLICE, "slices were cut as intended");
}

/// Feeds `wire` in `slice`-octet pieces, reading segments of `size`.
fn segments(wire: &[u8], slice: usize, size: usize) -> Vec<Chunk> {
    let mut reader = ChunkReader::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(slice) {
        buf.extend_from_slice(piece);
        while let Some(c) = reader.read_chunk(&mut buf, Some(size)).unwrap() {
            out.push(c);
        }
        assert!(buf.len() <= 64, "{} octets held", buf.len());
    }
    assert!(reader.is_idle());
    out
}

fn check_segments(
    segs: &[Chunk],
    payload: &[u8],
    start: u64,
    total: Option<u64>,
    flag: Continuation,
) {
    assert!(segs.len() > 1, "the chunk was cut into segments");
    let mut next = start;
    let mut joined = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.segment as usize, i + 1, "segment numbers 1..n");
        assert_eq!(s.transaction_id, segs[0].transaction_id);
        assert_eq!(s.message_id(), Some("mid12345"));
        let r = s.byte_range();
        assert_eq!(r.start, next, "adjacent");
        assert_eq!(
            r.len(),
            Some(s.data.len() as u64),
            "the range covers the segment's octets"
        );
        assert_eq!(r.total, total);
        next += s.data.len() as u64;
        let last = i + 1 == segs.len();
        assert_eq!(s.continuation, if last { flag } else { Continuation::More });
        s.verify_headers().unwrap();
        joined.extend_from_slice(&s.data);
    }
    assert_eq!(joined, payload, "the segments cover the chunk");
}

#[test]
fn chunk_reader_segments_cover_the_chunk() {
    let tid = "seg0chunk1";
    let payload = payload_slice(tid, 1 << 20);
    let n = payload.len() as u64;
    for (range, start, total, flag) in [
        (format!("1-{n}/{n}"), 1, Some(n), Continuation::End),
        (
            format!("1001-*/{}", n + 5000),
            1001,
            Some(n + 5000),
            Continuation::More,
        ),
        ("1-*/*".to_string(), 1, None, Continuation::Abort),
    ] {
        let mut wire = head(tid, &range);
        wire.extend_from_slice(&payload);
        wire.extend_from_slice(
            format!("\r\n-------{tid}{}\r\n", flag.as_byte() as char).as_bytes(),
        );
        for (slice, size) in [(4096, 16 * 1024), (SLICE, 0), (1000, 1), (7, 100_000)] {
            let segs = segments(&wire, slice, size);
            check_segments(&segs, &payload, start, total, flag);
            // A segment is handed out once `size` octets are there (the
            // last one may be smaller), never much more than a slice beyond.
            for s in &segs[..segs.len() - 1] {
                assert!(s.data.len() >= size.max(1));
                assert!(s.data.len() < size.max(1) + slice + 64);
            }
        }
        // Given at once, the reader returns the whole chunk (segment 0).
        let segs = segments(&wire, wire.len(), 16);
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].segment, segs[0].continuation), (0, flag));
        assert_eq!(segs[0].data, Bytes::from(payload.clone()));
    }
}
