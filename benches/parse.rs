//! Parse throughput, fed in 64 KiB slices as a socket read would, beside a
//! `memchr::memmem` scan for the end-line pattern over the same bytes (the
//! baseline: the least any parser must do to find chunk ends).
//!
//! `nice cargo bench --bench parse -- --warm-up-time 1 --measurement-time 3`
//! See docs/performance.md for results.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use msrp::protocol::*;

const SLICE: usize = 64 * 1024;
const TID: &str = "f8Qa2m0Zk3Lp9Xc1";

/// One chunk with a `size`-octet payload (none: a bodiless 200 response).
fn chunk(size: Option<usize>) -> Vec<u8> {
    let to = vec![Uri::parse("msrp://bob.example.com:2855/9di4eae923wzd;tcp").unwrap()];
    let from = vec![Uri::parse("msrp://alicepc.example.com:2855/iau39soe2843z;tcp").unwrap()];
    let mut c = match size {
        None => Chunk::response(TID, 200, Some("OK".into())),
        Some(_) => Chunk::request(TID, Method::Send),
    };
    c.add_header(Header::ToPath(to.into()));
    c.add_header(Header::FromPath(from.into()));
    if let Some(n) = size {
        c.add_header(Header::MessageId("m8Xq2Lp0Zk3a9Xc1Bv7N".into()));
        c.add_header(Header::ByteRange(
            ByteRange::new(1, Some(n as u64), Some(n as u64)).unwrap(),
        ));
        c.add_header(Header::ContentType("application/octet-stream".into()));
        // Pseudo-random payload: few CR/LF/'-' runs, like compressed media.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<u8> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect();
        c.data = Bytes::from(data);
        assert!(!c.payload_contains_end_line());
    }
    c.encode()
}

/// A stream of at least 4 MiB made of such chunks.
fn stream(size: Option<usize>) -> (Vec<u8>, usize) {
    let one = chunk(size);
    let count = (4usize << 20).div_ceil(one.len());
    (one.repeat(count), count)
}

/// Makes 64 KiB slices of `all` arrive at the end of the parser's buffer
/// one after the other, as a socket read writes them into a `BytesMut`
/// (`unsplit` of contiguous parts is O(1): no copy that the parser would
/// not see in real life), consuming every event. Returns the number of
/// chunks and what is left of the buffer (dropped outside the timing).
fn parse_arriving(mut all: BytesMut) -> (usize, BytesMut, BytesMut) {
    let mut parser = Parser::default();
    let mut buf = all.split_to(0);
    let mut ends = 0;
    while !all.is_empty() {
        buf.unsplit(all.split_to(all.len().min(SLICE)));
        while let Some(e) = parser.next_event(&mut buf).unwrap() {
            if let Event::End(_) = e {
                ends += 1;
            }
            black_box(e);
        }
    }
    (ends, buf, all)
}

/// [`parse_arriving`] with a [`ChunkReader`] assembling whole chunks.
fn read_arriving(mut all: BytesMut) -> (usize, BytesMut, BytesMut) {
    let mut reader = ChunkReader::default();
    let mut buf = all.split_to(0);
    let mut n = 0;
    while !all.is_empty() {
        buf.unsplit(all.split_to(all.len().min(SLICE)));
        while let Some(c) = reader.read_chunk(&mut buf, None).unwrap() {
            black_box(c);
            n += 1;
        }
    }
    (n, buf, all)
}

/// Feeds `wire` in 64 KiB slices copied into the parser's buffer
/// (`extend_from_slice`: the copy is counted), consuming every event.
fn parse(wire: &[u8]) -> usize {
    let mut parser = Parser::default();
    let mut buf = BytesMut::with_capacity(2 * SLICE);
    let mut ends = 0;
    for slice in wire.chunks(SLICE) {
        buf.extend_from_slice(slice);
        while let Some(e) = parser.next_event(&mut buf).unwrap() {
            if let Event::End(_) = e {
                ends += 1;
            }
            black_box(e);
        }
    }
    ends
}

/// [`parse`] with a [`ChunkReader`] assembling whole chunks.
fn read(wire: &[u8]) -> usize {
    let mut reader = ChunkReader::default();
    let mut buf = BytesMut::with_capacity(2 * SLICE);
    let mut n = 0;
    for slice in wire.chunks(SLICE) {
        buf.extend_from_slice(slice);
        while let Some(c) = reader.read_chunk(&mut buf, None).unwrap() {
            black_box(c);
            n += 1;
        }
    }
    n
}

/// The baseline: memmem for the end-line pattern over the same bytes.
fn scan(finder: &memchr::memmem::Finder, wire: &[u8]) -> usize {
    finder.find_iter(wire).count()
}

fn bench(c: &mut Criterion) {
    let needle = format!("\r\n-------{TID}");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    for (name, size) in [
        ("header_only", None),
        ("1KiB", Some(1024)),
        ("64KiB", Some(64 * 1024)),
        ("4MiB", Some(4 << 20)),
    ] {
        let (wire, count) = stream(size);
        assert_eq!(parse(&wire), count);
        assert_eq!(read(&wire), count);
        if size.is_some() {
            assert_eq!(scan(&finder, &wire), count);
        }
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        let arriving = || BytesMut::from(&wire[..]);
        assert_eq!(parse_arriving(arriving()).0, count);
        assert_eq!(read_arriving(arriving()).0, count);
        g.bench_function("memmem_scan", |b| {
            b.iter(|| scan(&finder, black_box(&wire)))
        });
        g.bench_function("parser_events", |b| {
            b.iter_batched(arriving, parse_arriving, BatchSize::LargeInput)
        });
        g.bench_function("chunk_reader", |b| {
            b.iter_batched(arriving, read_arriving, BatchSize::LargeInput)
        });
        g.bench_function("parser_events_copy_feed", |b| {
            b.iter(|| parse(black_box(&wire)))
        });
        g.bench_function("chunk_reader_copy_feed", |b| {
            b.iter(|| read(black_box(&wire)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
