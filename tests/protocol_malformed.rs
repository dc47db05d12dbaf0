#![allow(clippy::unnecessary_to_owned, clippy::never_loop)]
//! Malformed inputs: each yields its specific ParseErrorKind, says whether
//! it is fatal and whether a 400 can still be answered, gives the same
//! result whole and byte by byte, never panics; after every non-fatal error
//! the valid chunk that follows parses (resynchronisation).

use bytes::BytesMut;
use msrp::protocol::fuzz_checks::{parse_steps, read_chunks, Outcome, Step};
use msrp::protocol::ParseErrorKind::*;
use msrp::protocol::*;

const TO: &str = "To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n";
const FROM: &str = "From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n";

/// A valid chunk that must parse after any non-fatal error.
const NEXT: &[u8] = b"MSRP next1234 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------next1234$\r\n";

/// A SEND `abcd1234` with the paths, then `extra` headers, then `rest`.
fn send(extra: &str, rest: &str) -> Vec<u8> {
    format!("MSRP abcd1234 SEND\r\n{TO}{FROM}{extra}{rest}").into_bytes()
}

/// A bodiless SEND `abcd1234` with the paths and a raw header line.
fn with_bytes(header: &[u8]) -> Vec<u8> {
    let mut w = format!("MSRP abcd1234 SEND\r\n{TO}{FROM}").into_bytes();
    w.extend_from_slice(header);
    w.extend_from_slice(b"-------abcd1234$\r\n");
    w
}

/// `send` with a text body and an end-line.
fn send_body(extra: &str, body: &str) -> Vec<u8> {
    send(
        &format!("{extra}Content-Type: text/plain\r\n"),
        &format!("\r\n{body}\r\n-------abcd1234$\r\n"),
    )
}

/// A bodiless chunk with the given start line and header lines.
fn bodiless(start: &str, headers: &str) -> Vec<u8> {
    let tid = start.split(' ').nth(1).unwrap();
    format!("{start}\r\n{headers}-------{tid}$\r\n").into_bytes()
}

fn check(wire: &[u8], limits: Limits, kind: ParseErrorKind, fatal: bool, answerable: bool) {
    let mut input = wire.to_vec();
    input.extend_from_slice(NEXT);
    // The whole picture from a chunk reader, fed whole.
    let mut reader = ChunkReader::new(limits);
    let mut buf = BytesMut::from(&input[..]);
    let e = match reader.read_chunk(&mut buf, None) {
        Ok(Some(c)) => panic!("parsed {c:?} before the error"),
        Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(wire)),
        Err(e) => e,
    };
    assert_eq!(
        (e.kind, e.fatal, e.can_answer()),
        (kind, fatal, answerable),
        "{e}"
    );
    if e.can_answer() {
        // Enough to build the 400: the head (the session adds the previous
        // hop when the head names none).
        let head = e
            .head
            .as_ref()
            .expect("an answerable error carries the head");
        assert_eq!(
            e.transaction_id.as_deref(),
            Some(head.transaction_id.as_str())
        );
    }
    assert!(!e.to_string().is_empty());
    if fatal {
        // Nothing after a fatal error: the connection is to be closed.
    } else {
        let next = reader.read_chunk(&mut buf, None).expect("resynchronised");
        let next = next.expect("the following chunk");
        assert_eq!(next.transaction_id, "next1234");
        assert_eq!(&next.data[..], b"hello");
        assert_eq!(reader.read_chunk(&mut buf, None), Ok(None));
        assert!(buf.is_empty() && reader.is_idle());
    }
    // The same outcome in any slicing, at both levels.
    let whole = read_chunks(&input, &[], limits);
    assert_eq!(read_chunks(&input, &[1], limits), whole);
    assert_eq!(read_chunks(&input, &[3, 17], limits), whole);
    assert!(matches!(
        whole.iter().find(|o| matches!(o, Outcome::Error { .. })),
        Some(Outcome::Error { kind: k, fatal: f, answerable: a, .. }) if (*k, *f, *a) == (kind, fatal, answerable)
    ));
    assert_eq!(whole.len(), if fatal { 1 } else { 2 }, "{whole:?}");
    let steps = parse_steps(&input, &[], limits);
    assert_eq!(parse_steps(&input, &[1], limits), steps);
    // (max_assembled_chunk is the chunk reader's limit, not the parser's.)
    if limits.max_assembled_chunk == Limits::default().max_assembled_chunk {
        assert!(steps
            .iter()
            .any(|s| matches!(s, Step::Error { kind: k, .. } if *k == kind)));
    }
}

macro_rules! malformed {
    ($($name:ident: $wire:expr => $kind:ident, fatal: $fatal:expr, answer: $answer:expr $(, $limits:expr)?;)*) => {
        $(
            #[test]
            fn $name() {
                #[allow(unused_mut, unused_assignments)]
                let mut limits = Limits::default();
                $( limits = $limits; )?
                let wire: Vec<u8> = $wire;
                check(&wire, limits, $kind, $fatal, $answer);
            }
        )*
    };
}

fn small(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

malformed! {
    // ---- start line (fatal: the transaction id, which frames the chunk, is unknown or bad)
    transaction_id_of_256_chars: bodiless(&format!("MSRP {} SEND", "a".repeat(256)), "") => InvalidTransactionId, fatal: true, answer: false;
    start_line_too_long: format!("MSRP abcd1234 SEND{}\r\n", " ".repeat(2000)).into_bytes()
        => StartLineTooLong, fatal: true, answer: false;
    start_line_too_long_small_limit: format!("MSRP abcd1234 {}\r\n", "A".repeat(30)).into_bytes()
        => StartLineTooLong, fatal: true, answer: false, small(|l| l.max_start_line = 32);
    missing_msrp_prefix: bodiless("MSRQ abcd1234 SEND", "") => InvalidStartLine, fatal: true, answer: false;
    lower_case_msrp_prefix: bodiless("msrp abcd1234 SEND", "") => InvalidStartLine, fatal: true, answer: false;
    http_request_line: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec() => InvalidStartLine, fatal: true, answer: false;
    start_line_without_method: b"MSRP abcd1234\r\n".to_vec() => InvalidStartLine, fatal: true, answer: false;
    bare_lf_in_start_line: b"MSRP abcd1234 SEND\nTo-Path: x\r\n".to_vec() => InvalidStartLine, fatal: true, answer: false;
    transaction_id_not_utf8: b"MSRP ab\xffcd SEND\r\n".to_vec() => InvalidTransactionId, fatal: true, answer: false;
    double_space_before_tid: bodiless("MSRP  abcd1234 SEND", "") => InvalidTransactionId, fatal: true, answer: false;
    // ---- start line (not fatal: the transaction id frames the chunk)
    method_too_long: bodiless(&format!("MSRP abcd1234 {}", "A".repeat(65)), &format!("{TO}{FROM}")) => InvalidMethod, fatal: false, answer: true;
    method_with_colon: bodiless("MSRP abcd1234 SE:ND", &format!("{TO}{FROM}")) => InvalidMethod, fatal: false, answer: true;
    method_with_space: bodiless("MSRP abcd1234 SE ND", &format!("{TO}{FROM}")) => InvalidMethod, fatal: false, answer: true;
    status_2000: bodiless("MSRP abcd1234 2000", "") => InvalidStatusCode, fatal: false, answer: false;
    status_of_2_digits: bodiless("MSRP abcd1234 20", "") => InvalidStatusCode, fatal: false, answer: false;
    status_without_space_before_comment: bodiless("MSRP abcd1234 200OK", "") => InvalidStatusCode, fatal: false, answer: false;
    too_many_blank_lines_between_chunks: "\r\n".repeat(17).into_bytes() => TooManyBlankLines, fatal: true, answer: false;

    // ---- header framing (fatal: the end of the header block cannot be trusted)
    bare_lf_in_header_line: send("Message-ID: abcd\n", "-------abcd1234$\r\n") => InvalidHeaderLine, fatal: true, answer: false;
    header_line_too_long: send(&format!("X-Long: {}\r\n", "v".repeat(9000)), "-------abcd1234$\r\n")
        => HeaderLineTooLong, fatal: true, answer: false;
    too_many_headers: send(&"X-H: v\r\n".repeat(63), "-------abcd1234$\r\n") => TooManyHeaders, fatal: true, answer: false;
    too_many_headers_small_limit: send(&"X-H: v\r\n".repeat(3), "-------abcd1234$\r\n")
        => TooManyHeaders, fatal: true, answer: false, small(|l| l.max_headers = 4);
    header_block_too_large: send(&format!("X-A: {}\r\n", "v".repeat(100)).repeat(3), "-------abcd1234$\r\n")
        => HeaderBlockTooLarge, fatal: true, answer: false, small(|l| l.max_header_block = 300);
    bad_continuation_flag_in_bodiless_end_line: send("", "-------abcd1234!\r\n") => InvalidHeaderLine, fatal: true, answer: false;

    // ---- header lines (not fatal: skipped to the end-line; answerable when the paths were read)
    header_without_colon: send("Keep-Alive yes\r\n", "-------abcd1234$\r\n") => InvalidHeaderLine, fatal: false, answer: true;
    header_name_starting_with_digit: send("1X: v\r\n", "-------abcd1234$\r\n") => InvalidHeaderLine, fatal: false, answer: true;
    header_name_with_space: send("X Y: v\r\n", "-------abcd1234$\r\n") => InvalidHeaderLine, fatal: false, answer: true;
    empty_header_name: send(": v\r\n", "-------abcd1234$\r\n") => InvalidHeaderLine, fatal: false, answer: true;
    non_utf8_header: with_bytes(b"X-Bin: \xff\xfe\r\n") => InvalidHeaderLine, fatal: false, answer: true;
    nul_in_header_value: send("X-Nul: a\0b\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    escape_in_header_value: send("X-Esc: a\x1bb\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    cr_in_header_value: send("X-Cr: a\rb\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_without_slash: send("Byte-Range: 1-2\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_starting_at_0: send("Byte-Range: 0-1/2\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_end_before_start: send("Byte-Range: 5-3/10\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_end_beyond_total: send("Byte-Range: 1-11/10\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_star_start: send("Byte-Range: *-1/2\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_letters: send("Byte-Range: a-1/2\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_negative: send("Byte-Range: -1-2/3\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_overflow: send("Byte-Range: 1-99999999999999999999/*\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    message_id_with_space: send("Message-ID: two words\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    message_id_of_256_chars: send(&format!("Message-ID: {}\r\n", "m".repeat(256)), "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    byte_range_start_beyond_total: send("Byte-Range: 10001-*/486\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    success_report_partial: send("Success-Report: partial\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    failure_report_maybe: send("Failure-Report: maybe\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    expires_negative: send("Expires: -1\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    expires_out_of_range: send("Expires: 4294967296\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    content_type_without_subtype: send("Content-Type: text\r\n", "\r\nx\r\n-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    www_authenticate_unterminated_quote: send("WWW-Authenticate: Digest realm=\"x\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    authorization_without_parameters: send("Authorization: Digest\r\n", "-------abcd1234$\r\n") => InvalidHeaderValue, fatal: false, answer: true;
    duplicate_to_path: send(TO, "-------abcd1234$\r\n") => DuplicateHeader, fatal: false, answer: true;
    duplicate_message_id: send("Message-ID: abcd\r\nMessage-ID: efgh\r\n", "-------abcd1234$\r\n") => DuplicateHeader, fatal: false, answer: true;
    duplicate_byte_range: send("Byte-Range: 1-0/0\r\nbyte-range: 1-0/0\r\n", "-------abcd1234$\r\n") => DuplicateHeader, fatal: false, answer: true;

    // ---- paths (answerable: the connection's session knows the previous hop)
    missing_to_path: bodiless("MSRP abcd1234 SEND", FROM) => MissingToPath, fatal: false, answer: true;
    missing_from_path: bodiless("MSRP abcd1234 SEND", TO) => MissingFromPath, fatal: false, answer: true;
    missing_both_paths_with_body: b"MSRP abcd1234 SEND\r\nContent-Type: text/plain\r\n\r\nx\r\n-------abcd1234$\r\n".to_vec()
        => MissingToPath, fatal: false, answer: true;
    sip_uri_in_to_path: bodiless("MSRP abcd1234 SEND", &format!("To-Path: sip:bob@example.com\r\n{FROM}")) => InvalidHeaderValue, fatal: false, answer: true;
    uri_without_transport_in_from_path: bodiless("MSRP abcd1234 SEND", &format!("{TO}From-Path: msrp://a.example.com:1/s\r\n")) => InvalidHeaderValue, fatal: false, answer: true;
    uri_with_bad_port: bodiless("MSRP abcd1234 SEND", &format!("To-Path: msrp://b:99999/s;tcp\r\n{FROM}")) => InvalidHeaderValue, fatal: false, answer: true;
    unbracketed_ipv6_uri: bodiless("MSRP abcd1234 SEND", &format!("To-Path: msrp://::1:5/s;tcp\r\n{FROM}")) => InvalidHeaderValue, fatal: false, answer: true;
    non_ascii_after_scheme: bodiless("MSRP abcd1234 SEND", &format!("To-Path: msrps:/\u{e9}x\r\n{FROM}")) => InvalidHeaderValue, fatal: false, answer: true;
    too_many_path_uris: bodiless("MSRP abcd1234 SEND", &format!("To-Path:{}\r\n{FROM}", " msrp://r:1/s;tcp".repeat(33))) => InvalidHeaderValue, fatal: false, answer: true;
    too_many_path_uris_small_limit: bodiless("MSRP abcd1234 SEND", &format!("{TO}From-Path:{}\r\n", " msrp://r:1/s;tcp".repeat(3)))
        => InvalidHeaderValue, fatal: false, answer: true, small(|l| l.max_path_uris = 2);
    empty_to_path: bodiless("MSRP abcd1234 SEND", &format!("To-Path: \r\n{FROM}")) => InvalidHeaderValue, fatal: false, answer: true;

    // ---- what a 400 may not answer
    bad_header_in_report: bodiless("MSRP abcd1234 REPORT", &format!("{TO}{FROM}Status: 200 OK\r\n")) => InvalidHeaderValue, fatal: false, answer: false;
    bad_header_in_response: bodiless("MSRP abcd1234 200 OK", &format!("{TO}{FROM}Byte-Range: x\r\n")) => InvalidHeaderValue, fatal: false, answer: false;
    bad_header_in_auth: bodiless("MSRP abcd1234 AUTH", &format!("{TO}{FROM}Expires: soon\r\n")) => InvalidHeaderValue, fatal: false, answer: true;

    // ---- payload against its Byte-Range (not fatal: skipped to the end-line;
    // a whole message that runs past its range is tolerated, see below)
    continued_chunk_longer_than_byte_range: send("Byte-Range: 1-3/10\r\nContent-Type: text/plain\r\n", "\r\nhello\r\n-------abcd1234+\r\n")
        => ByteRangeExceeded, fatal: false, answer: true;
    last_chunk_longer_than_byte_range: send_body("Byte-Range: 4-6/6\r\n", "hello") => ByteRangeExceeded, fatal: false, answer: true;
    last_chunk_longer_than_total: send_body("Byte-Range: 3-*/4\r\n", "hello") => ByteRangeExceeded, fatal: false, answer: true;
    payload_shorter_than_byte_range: send_body("Byte-Range: 1-10/10\r\n", "hello") => ByteRangeShort, fatal: false, answer: true;
    bodiless_chunk_declaring_octets: send("Byte-Range: 1-10/10\r\n", "-------abcd1234$\r\n") => ByteRangeShort, fatal: false, answer: true;
    continued_chunk_shorter_than_declared: send("Byte-Range: 1-10/20\r\nContent-Type: text/plain\r\n", "\r\nhello\r\n-------abcd1234+\r\n")
        => ByteRangeShort, fatal: false, answer: true;
    undeclared_chunk_over_the_limit: send_body("", &"x".repeat(100)) => ChunkTooLarge, fatal: false, answer: true,
        small(|l| l.max_undeclared_chunk = 64);
    star_range_chunk_over_the_limit: send_body("Byte-Range: 1-*/*\r\n", &"x".repeat(100)) => ChunkTooLarge, fatal: false, answer: true,
        small(|l| l.max_undeclared_chunk = 99);
    declared_chunk_over_the_assembly_limit: send_body("Byte-Range: 1-100/100\r\n", &"x".repeat(100)) => ChunkTooLarge, fatal: false, answer: true,
        small(|l| l.max_assembled_chunk = 64);
}

/// What deployed stacks send outside the grammar that is still read as a
/// chunk (RFC 4975 §7: liberal in what is accepted): each parses whole and
/// byte by byte into the chunk `check` expects, and the next chunk follows.
fn tolerated(wire: &[u8], check: impl Fn(&Chunk)) {
    let mut input = wire.to_vec();
    input.extend_from_slice(NEXT);
    for slicing in [&[][..], &[1], &[3, 17]] {
        let out = read_chunks(&input, slicing, Limits::default());
        let [Outcome::Chunk(c), Outcome::Chunk(next)] = &out[..] else {
            panic!("{:?}: {out:?}", String::from_utf8_lossy(wire))
        };
        check(c);
        assert_eq!(next.transaction_id, "next1234");
    }
}

#[test]
fn transaction_ids_outside_ident_are_read() {
    for tid in [
        "a",
        "ab",
        "abc",
        ".abcd",
        "ab_cd",
        "0c5a1c6e-3f1b-4b8e-9a5f-2d6c7e8f9a0b",
        &"t".repeat(255),
    ] {
        let wire = bodiless(&format!("MSRP {tid} SEND"), &format!("{TO}{FROM}"));
        tolerated(&wire, |c| assert_eq!(c.transaction_id, tid));
        // With a body: the end-line carries the same id.
        let wire = format!(
            "MSRP {tid} SEND\r\n{TO}{FROM}Content-Type: text/plain\r\n\r\nhi\r\n-------{tid}$\r\n"
        );
        tolerated(wire.as_bytes(), |c| assert_eq!(&c.data[..], b"hi"));
    }
}

#[test]
fn methods_outside_upalpha_are_read() {
    for (line, method) in [
        ("MSRP abcd1234 FILE_OFFSET", "FILE_OFFSET"),
        ("MSRP abcd1234 SE1ND", "SE1ND"),
        ("MSRP abcd1234 SEND ", "SEND"),
        ("MSRP abcd1234 \tSEND", "SEND"),
        (
            &format!("MSRP abcd1234 {}", "A".repeat(64)),
            &"A".repeat(64),
        ),
    ] {
        let wire = bodiless(line, &format!("{TO}{FROM}"));
        tolerated(&wire, |c| {
            assert_eq!(c.method().map(Method::as_str), Some(method))
        });
    }
}

#[test]
fn responses_in_every_shape_are_read() {
    for (line, code, comment) in [
        ("MSRP abcd1234 200", 200, None),
        ("MSRP abcd1234 200 ", 200, None),
        ("MSRP abcd1234 200  OK ", 200, Some("OK")),
        ("MSRP abcd1234 200\tOK", 200, Some("OK")),
        (
            "MSRP abcd1234 481 no such session",
            481,
            Some("no such session"),
        ),
    ] {
        let wire = bodiless(line, &format!("{TO}{FROM}"));
        tolerated(&wire, |c| {
            assert_eq!(c.code(), Some(code));
            assert_eq!(c.comment(), comment);
        });
    }
    // Lower-case, unknown and repeated unknown headers; a comment that is
    // not UTF-8 keeps its text.
    let wire = bodiless(
        "MSRP abcd1234 200 OK",
        "to-path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\nfrom-path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\nX-Server: x\r\nx-server: y\r\n",
    );
    tolerated(&wire, |c| {
        assert!(c.to_path().is_some() && c.from_path().is_some())
    });
    let mut wire = b"MSRP abcd1234 200 \xffOK".to_vec();
    wire.extend_from_slice(format!("\r\n{TO}{FROM}-------abcd1234$\r\n").as_bytes());
    tolerated(&wire, |c| assert_eq!(c.comment(), Some("\u{fffd}OK")));
}

#[test]
fn header_spacing_and_case_are_read() {
    let wire = "MSRP abcd1234 SEND\r\nto-path:msrp://bob.example.com:8888/9di4eae923wzd;tcp  \r\nFROM-PATH :\t msrp://alice.example.com:7777/iau39soe2843z;tcp\t\r\nmessage-id:   0C5A1C6E-3F1B-4B8E-9A5F-2D6C7E8F9A0B \r\nbyte-range:1-2/2\r\nContent-ID: <part1@example.com>\r\nContent-Description: a note\r\nContent-Disposition: inline\r\nContent-X-Unknown: kept\r\ncontent-type:  text/plain; charset=UTF-8\r\n\r\nhi\r\n-------abcd1234$\r\n";
    tolerated(wire.as_bytes(), |c| {
        assert_eq!(c.message_id(), Some("0C5A1C6E-3F1B-4B8E-9A5F-2D6C7E8F9A0B"));
        assert_eq!(c.content_type(), Some("text/plain; charset=UTF-8"));
        assert_eq!(c.byte_range().len(), Some(2));
        assert!(c.to_path().is_some() && c.from_path().is_some());
        assert_eq!(&c.data[..], b"hi");
    });
}

/// msrp-node-lib declares a binary buffer's length in Byte-Range but sends
/// the buffer as a string, longer than declared: the end-line frames the
/// chunk, and a whole message (`1-N/N`, `$`) is taken as framed, its range
/// mended to what arrived.
#[test]
fn whole_message_longer_than_its_byte_range_is_read_as_framed() {
    for (range, body) in [
        ("1-3/3", "hello"),
        ("1-*/4", "hello"),
        ("1-0/0", "x"),
        ("1-4/4", "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"),
    ] {
        let wire = send_body(&format!("Byte-Range: {range}\r\n"), body);
        tolerated(&wire, |c| {
            assert_eq!(&c.data[..], body.as_bytes());
            let n = body.len() as u64;
            assert_eq!(c.byte_range(), ByteRange::new(1, Some(n), Some(n)).unwrap());
            c.verify_headers().expect("consistent once mended");
        });
    }
}

#[test]
fn lower_case_method_is_tolerated_not_an_error() {
    let wire = bodiless("MSRP abcd1234 send", &format!("{TO}{FROM}"));
    let out = read_chunks(&wire, &[], Limits::default());
    let [Outcome::Chunk(c)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(c.method(), Some(&Method::Send));
}

#[test]
fn errors_at_every_truncation_never_panic() {
    // Every prefix of a few malformed inputs, fed whole and byte by byte.
    let inputs = [
        send_body("Byte-Range: 1-3/3\r\n", "hello"),
        send("Byte-Range: 1-10/10\r\n", "-------abcd1234$\r\n"),
        bodiless(
            "MSRP abcd1234 SEND",
            &format!("To-Path: msrps:/\u{e9}x\r\n{FROM}"),
        ),
        send("X Y: v\r\n", "-------abcd1234$\r\n"),
    ];
    for wire in inputs {
        for end in 0..=wire.len() {
            let w = &wire[..end];
            assert_eq!(
                read_chunks(w, &[], Limits::default()),
                read_chunks(w, &[1], Limits::default())
            );
        }
    }
}
