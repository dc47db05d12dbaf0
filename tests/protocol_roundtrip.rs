//! Parse → encode → identical octets, for canonical inputs of every chunk
//! shape, and for many random chunks (a small deterministic PRNG) encoded
//! into one stream and fed to the parser in random-sized slices, their
//! payloads salted with look-alike end-lines.

use bytes::{Bytes, BytesMut};
use msrp::protocol::fuzz_checks::{
    assert_round_trip, canonical, parse_steps, read_chunks, Outcome,
};
use msrp::protocol::*;

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// Parses exactly one chunk from `wire`, whole and byte by byte.
fn parse_one(wire: &[u8]) -> Chunk {
    let whole = read_chunks(wire, &[], Limits::default());
    assert_eq!(read_chunks(wire, &[1], Limits::default()), whole);
    match &whole[..] {
        [Outcome::Chunk(c)] => c.clone(),
        other => panic!("{other:?}\n{}", String::from_utf8_lossy(wire)),
    }
}

/// Asserts parse → encode gives back exactly `text` (LF written as CRLF).
fn assert_identical(text: &str) -> Chunk {
    let wire = crlf(text);
    let c = parse_one(&wire);
    assert_eq!(
        String::from_utf8_lossy(&c.encode()),
        String::from_utf8_lossy(&wire)
    );
    assert_eq!(
        c.encode_start().len() + c.data.len() + c.encode_end(c.continuation).len(),
        wire.len()
    );
    c
}

const TO: &str = "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp";
const FROM: &str = "From-Path: msrp://alicepc.example.com:7777/iau39soe2843z;tcp";

#[test]
fn send_with_body() {
    let c = assert_identical(&format!(
        "MSRP a786hjs2 SEND\n{TO}\n{FROM}\nMessage-ID: 87652491\nByte-Range: 1-23/23\nSuccess-Report: yes\nFailure-Report: partial\nContent-Type: text/plain\n\nHey Bob, are you there?\n-------a786hjs2$\n"
    ));
    assert_eq!(&c.data[..], b"Hey Bob, are you there?");
    c.verify_headers().unwrap();
}

#[test]
fn bodiless_send() {
    let c = assert_identical(&format!(
        "MSRP abcd1234 SEND\n{TO}\n{FROM}\nMessage-ID: mid1\nByte-Range: 1-0/0\n-------abcd1234$\n"
    ));
    assert!(!c.has_body() && c.data.is_empty());
}

#[test]
fn send_with_empty_body() {
    let c = assert_identical(&format!(
        "MSRP abcd1234 SEND\n{TO}\n{FROM}\nMessage-ID: mid1\nByte-Range: 1-0/0\nContent-Type: text/plain\n\n\n-------abcd1234$\n"
    ));
    assert!(c.has_body() && c.data.is_empty());
}

#[test]
fn continued_and_aborted_chunks() {
    let c = assert_identical(&format!(
        "MSRP dkei38sd SEND\n{TO}\n{FROM}\nMessage-ID: 4564dpWd\nByte-Range: 1-*/8\nContent-Type: text/plain\n\nabcd\n-------dkei38sd+\n"
    ));
    assert_eq!(c.continuation, Continuation::More);
    let c = assert_identical(&format!(
        "MSRP dkei38ia SEND\n{TO}\n{FROM}\nMessage-ID: 4564dpWd\nByte-Range: 5-*/*\nContent-Type: text/plain\n\nEF\n-------dkei38ia#\n"
    ));
    assert_eq!(c.continuation, Continuation::Abort);
    // Aborted with fewer octets than declared: allowed for '#'.
    let c = assert_identical(&format!(
        "MSRP dkei38ib SEND\n{TO}\n{FROM}\nByte-Range: 5-8/8\nContent-Type: text/plain\n\nE\n-------dkei38ib#\n"
    ));
    assert_eq!(&c.data[..], b"E");
}

#[test]
fn responses_with_and_without_comment() {
    for (line, code, comment) in [
        ("MSRP a786hjs2 200 OK", 200, Some("OK")),
        ("MSRP a786hjs2 200", 200, None),
        (
            "MSRP a786hjs2 481 Session Does Not Exist",
            481,
            Some("Session Does Not Exist"),
        ),
        (
            "MSRP a786hjs2 413 Message Too Large \u{e9}t\u{e9}",
            413,
            Some("Message Too Large \u{e9}t\u{e9}"),
        ),
        ("MSRP a786hjs2 000 x", 0, Some("x")),
    ] {
        let c = assert_identical(&format!(
            "{line}\nTo-Path: msrp://a:1/y;tcp\nFrom-Path: msrp://b:1/x;tcp\n-------a786hjs2$\n"
        ));
        assert_eq!((c.code(), c.comment()), (Some(code), comment));
    }
}

#[test]
fn reports_with_status() {
    let c = assert_identical(&format!(
        "MSRP dkei38sd REPORT\n{TO}\n{FROM}\nMessage-ID: 12339sdqwer\nByte-Range: 1-106/106\nStatus: 000 200 OK\n-------dkei38sd$\n"
    ));
    assert_eq!(
        c.status(),
        Some(&Status {
            code: 200,
            comment: Some("OK".into())
        })
    );
    let c = assert_identical(&format!(
        "MSRP dkei38se REPORT\n{TO}\n{FROM}\nMessage-ID: 12339sdqwer\nByte-Range: 1-50/106\nStatus: 000 413\n-------dkei38se$\n"
    ));
    assert_eq!(
        c.status(),
        Some(&Status {
            code: 413,
            comment: None
        })
    );
}

#[test]
fn auth_with_digest_headers() {
    assert_identical(
        "MSRP 49fi AUTH\nTo-Path: msrps://alice@intra.example.com;tcp\nFrom-Path: msrps://alice.example.com:9892/98cjs;tcp\nAuthorization: Digest username=\"Alice\", realm=\"intra.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"msrps://alice@intra.example.com;tcp\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\nExpires: 900\n-------49fi$\n",
    );
    assert_identical(
        "MSRP 49fh 401 Unauthorized\nTo-Path: msrps://alice.example.com:9892/98cjs;tcp\nFrom-Path: msrps://alice@intra.example.com;tcp\nWWW-Authenticate: Digest realm=\"intra.example.com\", qop=\"auth\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", algorithm=MD5, stale=true\n-------49fh$\n",
    );
    let c = assert_identical(
        "MSRP 49fi 200 OK\nTo-Path: msrps://alice.example.com:9892/98cjs;tcp\nFrom-Path: msrps://alice@intra.example.com;tcp\nUse-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://extra.example.com:9000/mywdEe1233;tcp\nAuthentication-Info: nextnonce=\"40f2e879449675f288476d772627370a\", rspauth=\"7327570c586207eca2afae94fc20903d\", cnonce=\"0a4f113b\", nc=00000001, qop=auth\nExpires: 900\n-------49fi$\n",
    );
    assert_eq!(c.use_path().map(|p| p.len()), Some(2));
    assert_identical(
        "MSRP 49fj 423 Interval Out-of-Bounds\nTo-Path: msrps://alice.example.com:9892/98cjs;tcp\nFrom-Path: msrps://intra.example.com;tcp\nMin-Expires: 60\nMax-Expires: 3600\n-------49fj$\n",
    );
}

#[test]
fn extension_and_mime_headers() {
    let c = assert_identical(&format!(
        "MSRP Z9.-+%= NICKNAME\n{TO}\n{FROM}\nKeep-Alive: yes\nX-Weird_Name.!~: a: b; c=\"d\" \u{e9}\nUse-Nickname: \"Alice\"\nContent-ID: <part1@example.com>\nContent-Description: a picture\nContent-Disposition: attachment; filename=\"a;b.txt\"; size=3\nContent-Language: en\nContent-Type: text/plain; charset=utf-8\n\nabc\n-------Z9.-+%=$\n"
    ));
    assert_eq!(c.method(), Some(&Method::Nickname));
    assert_eq!(
        c.header("keep-alive"),
        Some(&Header::Extension {
            name: "Keep-Alive".into(),
            value: "yes".into()
        })
    );
    assert!(matches!(
        c.header("Content-Language"),
        Some(Header::Extension { .. })
    ));
}

#[test]
fn uri_forms() {
    assert_identical(
        "MSRP abcd SEND\nTo-Path: msrp://[2001:db8::1]:2855/a+b=c/d;ws;k=v;flag msrps://relay.example.com;tcp\nFrom-Path: msrp://user.name@10.0.0.1:9/x-y_z~.;tcp\nByte-Range: 1-0/0\n-------abcd$\n",
    );
}

#[test]
fn non_canonical_inputs_encode_canonically() {
    // Header order, name case, spacing and lower-case methods are normalised.
    let wire = crlf(
        "MSRP abcd send\nbyte-range: 1 - 3 / 3\ncontent-type:   text/plain  \nfrom-path: msrp://A:1/y;TCP\nTO-PATH:\tmsrp://b:1/x;tcp\nsuccess-report: YES\n\nabc\n-------abcd$\n",
    );
    let c = parse_one(&wire);
    let want = "MSRP abcd SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://A:1/y;tcp\r\nByte-Range: 1-3/3\r\nSuccess-Report: yes\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------abcd$\r\n";
    assert_eq!(String::from_utf8(c.encode()).unwrap(), want);
    assert_eq!(parse_one(want.as_bytes()), canonical(&c));
}

// ------------------------------------------------------------ random chunks

/// xorshift64*: small, deterministic, good enough to pick test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// `min` to `min + spread - 1` characters from `alphabet`.
    fn from(&mut self, alphabet: &[u8], min: usize, spread: usize) -> String {
        let len = min + self.below(spread.max(1));
        (0..len).map(|_| *self.pick(alphabet) as char).collect()
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const IDENT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-+%=";
const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";

fn ident(rng: &mut Rng) -> String {
    let len = 4 + rng.below(29);
    let mut s = rng.from(ALNUM, 1, 1);
    s.push_str(&rng.from(IDENT, len - 1, 1));
    s
}

fn random_uri(rng: &mut Rng) -> Uri {
    let host = match rng.below(3) {
        0 => Host::Name(format!(
            "{}.example.{}",
            rng.from(b"abcxyz-09", 1, 8),
            rng.pick(&["com", "org", "net"])
        )),
        1 => Host::Ip(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
            rng.next() as u32
        ))),
        _ => Host::Ip(std::net::IpAddr::V6(std::net::Ipv6Addr::from(
            ((rng.next() as u128) << 64) | (rng.next() as u128 & 0xffff),
        ))),
    };
    let mut u = Uri::new(
        host,
        rng.chance(85).then(|| rng.next() as u16),
        rng.chance(85).then(|| rng.from(b"abcXYZ019-._~+=/", 1, 24)),
        rng.chance(50),
    );
    if rng.chance(15) {
        u.user = Some(rng.from(b"alice.bob-_~", 1, 8));
    }
    if rng.chance(10) {
        u.transport = "ws".into();
    }
    for _ in 0..rng.below(3) {
        let name = rng.from(TOKEN, 1, 6);
        let value = rng.chance(50).then(|| rng.from(TOKEN, 1, 6));
        u.parameters.push((name, value));
    }
    u
}

fn random_path(rng: &mut Rng) -> Vec<Uri> {
    (0..1 + rng.below(3)).map(|_| random_uri(rng)).collect()
}

/// Printable text with no leading or trailing blank (header values are
/// trimmed), now and then non-ASCII.
fn random_text(rng: &mut Rng) -> String {
    let mut s = rng.from(b"abc XYZ 0123:;,=\"'()<>@/\\?{}[]!#$%&*+-._~^|`", 1, 30);
    if rng.chance(20) {
        s.push_str("\u{e9}\u{4e2d}");
    }
    format!("x{}y", s)
}

/// A payload with look-alike end-lines for `tid` (and others) in it.
fn random_payload(rng: &mut Rng, tid: &str) -> Vec<u8> {
    let mut p = Vec::new();
    for _ in 0..rng.below(6) {
        match rng.below(10) {
            0 => p.extend_from_slice(format!("\r\n-------{tid}").as_bytes()),
            1 => p.extend_from_slice(
                format!("\r\n-------{tid}{}", *rng.pick(&['$', '+', '#'])).as_bytes(),
            ),
            2 => p.extend_from_slice(format!("\r\n-------{tid}$\r").as_bytes()),
            3 => p.extend_from_slice(format!("\r\n-------{tid}x\r\n").as_bytes()),
            4 => p.extend_from_slice(format!("-------{tid}$\r\n").as_bytes()),
            5 => p.extend_from_slice(format!("\r\n-------{}$\r\n", ident(rng)).as_bytes()),
            6 => p.extend_from_slice(b"\r\n\r\nMSRP abcd SEND\r\n"),
            7 => p.extend((0..rng.below(3000)).map(|_| rng.next() as u8)),
            _ => p.extend_from_slice(rng.from(b"-\r\n$+#", 0, 12).as_bytes()),
        }
        // Break what would be a real end-line: a look-alike needs a byte
        // other than CRLF after its flag.
        p.push(b'.');
    }
    if rng.chance(20) {
        // A look-alike that ends the payload: the encoder's CRLF follows it,
        // so it must lack a flag.
        p.extend_from_slice(format!("\r\n-------{tid}").as_bytes());
    }
    p
}

fn is_safe(payload: &[u8], tid: &str) -> bool {
    let mut hay = payload.to_vec();
    hay.extend_from_slice(b"\r\n");
    ['$', '+', '#'].iter().all(|f| {
        let needle = format!("\r\n-------{tid}{f}\r\n");
        memchr::memmem::find(&hay, needle.as_bytes()).is_none()
    })
}

fn random_chunk(rng: &mut Rng) -> Chunk {
    let tid = ident(rng);
    let mut c = match rng.below(10) {
        0..=5 => Chunk::request(tid.clone(), Method::Send),
        6 => Chunk::request(tid.clone(), Method::Report),
        7 => Chunk::request(tid.clone(), Method::Auth),
        8 => Chunk::request(tid.clone(), Method::Other(rng.from(b"ABCXYZ", 1, 10))),
        _ => Chunk::response(
            tid.clone(),
            rng.below(1000) as u16,
            rng.chance(70).then(|| random_text(rng)),
        ),
    };
    let mut headers = vec![
        Header::ToPath(random_path(rng).into()),
        Header::FromPath(random_path(rng).into()),
    ];
    let sends = matches!(c.method(), Some(Method::Send | Method::Other(_)));
    let with_body = sends && rng.chance(85);
    if with_body {
        loop {
            let p = random_payload(rng, &tid);
            if is_safe(&p, &tid) {
                c.data = Bytes::from(p);
                break;
            }
        }
        c.continuation = *rng.pick(&[Continuation::End, Continuation::More, Continuation::Abort]);
    }
    if rng.chance(80) {
        headers.push(Header::MessageId(ident(rng).into()));
    }
    let len = c.data.len() as u64;
    let start = 1 + rng.below(1000) as u64;
    match rng.below(4) {
        _ if c.code().is_some() => {}
        0 if sends => {}
        1 => headers.push(Header::ByteRange(
            ByteRange::new(start, None, None).unwrap(),
        )),
        2 => headers.push(Header::ByteRange(
            ByteRange::new(start, None, Some(start + len + rng.below(10) as u64)).unwrap(),
        )),
        _ => headers.push(Header::ByteRange(
            ByteRange::new(
                start,
                Some(start + len - 1),
                rng.chance(50).then_some(start + len + 5),
            )
            .unwrap(),
        )),
    }
    if c.method() == Some(&Method::Report) {
        headers.push(Header::Status(Status {
            code: rng.below(1000) as u16,
            comment: rng.chance(50).then(|| random_text(rng)),
        }));
    }
    if rng.chance(30) {
        headers.push(Header::SuccessReport(
            *rng.pick(&[SuccessReport::Yes, SuccessReport::No]),
        ));
    }
    if rng.chance(30) {
        headers.push(Header::FailureReport(*rng.pick(&[
            FailureReport::Yes,
            FailureReport::No,
            FailureReport::Partial,
        ])));
    }
    if rng.chance(10) {
        headers.push(Header::Expires(rng.next() as u32));
        headers.push(Header::UsePath(random_path(rng).into()));
    }
    if rng.chance(10) {
        let params = (0..1 + rng.below(4))
            .map(|i| {
                (
                    format!("p{i}"),
                    if rng.chance(50) {
                        random_text(rng)
                    } else {
                        String::new()
                    },
                )
            })
            .collect();
        headers.push(Header::WwwAuthenticate(DigestParams {
            scheme: Some("Digest".into()),
            params,
        }));
    }
    for _ in 0..rng.below(3) {
        headers.push(Header::Extension {
            name: format!("X-{}", rng.from(TOKEN, 1, 10)),
            value: random_text(rng),
        });
    }
    if with_body || rng.chance(10) {
        if rng.chance(30) {
            headers.push(Header::ContentId(format!("<{}@x>", ident(rng))));
            headers.push(Header::ContentDisposition(ContentDisposition {
                disposition: "attachment".into(),
                parameters: vec![("filename".into(), Some("\"a;b c.txt\"".into()))],
            }));
        }
        if sends {
            headers.push(Header::ContentType(
                rng.pick(&[
                    "text/plain",
                    "message/cpim",
                    "application/octet-stream; x=1",
                ])
                .to_string()
                .into(),
            ));
        }
    }
    // In random order: the encoder sorts them.
    while !headers.is_empty() {
        let h = headers.swap_remove(rng.below(headers.len()));
        c.headers.push(h);
    }
    c
}

#[test]
fn random_chunks_round_trip_one_by_one() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut look_alikes, mut bodiless, mut responses) = (0, 0, 0);
    for _ in 0..3000 {
        let c = random_chunk(&mut rng);
        look_alikes += c.payload_contains_end_line() as usize;
        bodiless += !c.has_body() as usize;
        responses += c.code().is_some() as usize;
        c.verify_headers().unwrap_or_else(|e| {
            // Only a Byte-Range whose declared length the generator chose
            // to disagree with is allowed here; it does not.
            panic!("{e}: {c:?}")
        });
        assert_round_trip(&c);
    }
    // The generator does reach the interesting cases.
    assert!(
        look_alikes > 1000 && bodiless > 300 && responses > 200,
        "{look_alikes} {bodiless} {responses}"
    );
}

#[test]
fn random_chunk_streams_in_random_slices() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for round in 0..60 {
        let chunks: Vec<Chunk> = (0..1 + rng.below(40))
            .map(|_| random_chunk(&mut rng))
            .collect();
        let mut wire = Vec::new();
        for c in &chunks {
            wire.extend_from_slice(&c.encode());
        }
        let sizes: Vec<usize> = (0..1 + rng.below(8))
            .map(|_| match rng.below(4) {
                0 => 1,
                1 => 1 + rng.below(16),
                2 => 1 + rng.below(512),
                _ => 1 + rng.below(70_000),
            })
            .collect();
        let got = read_chunks(&wire, &sizes, Limits::default());
        let want: Vec<Outcome> = chunks
            .iter()
            .map(|c| Outcome::Chunk(canonical(c)))
            .collect();
        assert_eq!(got, want, "round {round}, slices {sizes:?}");
        // The parser's events do not depend on the slicing either.
        assert_eq!(
            parse_steps(&wire, &sizes, Limits::default()),
            parse_steps(&wire, &[], Limits::default())
        );
        // And the payload comes out without copies when read whole.
        let mut buf = BytesMut::from(&wire[..]);
        let base = buf.as_ptr() as usize;
        let mut reader = ChunkReader::default();
        while let Some(c) = reader.read_chunk(&mut buf, None).unwrap() {
            let p = c.data.as_ptr() as usize;
            if !c.data.is_empty() {
                assert!(p >= base && p < base + wire.len(), "payload was copied");
            }
        }
        assert!(buf.is_empty());
    }
}

#[test]
fn look_alike_end_lines_in_payload() {
    let tid = "a786hjs2";
    for payload in [
        &b"\r\n-------a786hjs2"[..],
        b"\r\n-------a786hjs2 look-alike",
        b"\r\n-------a786hjs2$ not the end",
        b"\r\n-------a786hjs2$\r",
        b"\r\n-------a786hjs2$\rx\n",
        b"\r\n-------a786hjs2x\r\n",
        b"\r\n-------a786hjs2+x",
        b"\r\n-------a786hjs2#\n",
        b"-------a786hjs2$\r\n",
        b"\r\n-------a786hjs\r\n-------a786hjs2!",
        b"\r\n-------other123$\r\n",
        b"\r\n-------a786hjs22$\r\n",
        b"\r\n\r\n-------",
        b"\r\r\n-------a786hjs2",
    ] {
        let mut c = Chunk::request(tid, Method::Send);
        c.add_header(Header::ToPath(
            vec![Uri::parse("msrp://b:1/x;tcp").unwrap()].into(),
        ));
        c.add_header(Header::FromPath(
            vec![Uri::parse("msrp://a:1/y;tcp").unwrap()].into(),
        ));
        c.add_header(Header::ContentType("text/plain".into()));
        c.data = Bytes::copy_from_slice(payload);
        let wire = c.encode();
        assert_eq!(
            parse_one(&wire),
            c,
            "{:?}",
            String::from_utf8_lossy(payload)
        );
        // Also with the chunk followed by another one.
        let mut two = wire.clone();
        two.extend_from_slice(&wire);
        for sizes in [&[][..], &[1], &[5, 3]] {
            let got = read_chunks(&two, sizes, Limits::default());
            assert_eq!(
                got,
                vec![Outcome::Chunk(c.clone()), Outcome::Chunk(c.clone())]
            );
        }
    }
}
