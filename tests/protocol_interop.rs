//! One test per interoperability rule the protocol layer promises.

use bytes::{Bytes, BytesMut};
use msrp::protocol::fuzz_checks::{read_chunks, Outcome};
use msrp::protocol::headers::is_ident;
use msrp::protocol::*;

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn parse_one(wire: &[u8]) -> Chunk {
    let out = read_chunks(wire, &[], Limits::default());
    assert_eq!(read_chunks(wire, &[1], Limits::default()), out);
    match &out[..] {
        [Outcome::Chunk(c)] => c.clone(),
        other => panic!("{other:?}"),
    }
}

fn header_names(wire: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(wire);
    text.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("-------"))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

#[test]
fn encodes_to_path_first_from_path_second_content_type_last() {
    let mut c = Chunk::request("abcd1234", Method::Send);
    c.add_header(Header::ContentType("text/plain".into()));
    c.add_header(Header::ContentDisposition(ContentDisposition {
        disposition: "inline".into(),
        parameters: vec![],
    }));
    c.add_header(Header::Extension {
        name: "Content-Language".into(),
        value: "en".into(),
    });
    c.add_header(Header::ByteRange(
        ByteRange::new(1, Some(2), Some(2)).unwrap(),
    ));
    c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
    c.add_header(Header::Extension {
        name: "Keep-Alive".into(),
        value: "yes".into(),
    });
    c.add_header(Header::MessageId("mid12345".into()));
    c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
    c.data = Bytes::from_static(b"hi");
    let wire = c.encode();
    assert_eq!(
        header_names(&wire),
        [
            "To-Path",
            "From-Path",
            "Byte-Range",
            "Keep-Alive",
            "Message-ID",
            "Content-Disposition",
            "Content-Language",
            "Content-Type"
        ]
    );
    // Also when re-encoding a chunk received with another order.
    let received = b"MSRP abcd1234 SEND\r\nContent-Type: text/plain\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: mid12345\r\nTo-Path: msrp://b:1/x;tcp\r\n\r\nhi\r\n-------abcd1234$\r\n";
    assert_eq!(
        header_names(&parse_one(received).encode()),
        ["To-Path", "From-Path", "Message-ID", "Content-Type"]
    );
    // encode_start holds the same order.
    assert_eq!(header_names(&c.encode_start()), header_names(&wire));
}

#[test]
fn header_names_in_any_case() {
    let wire = b"MSRP abcd1234 SEND\r\ntO-pAtH: msrp://b:1/x;tcp\r\nFROM-PATH: msrp://a:1/y;tcp\r\nmessage-id: mid12345\r\nBYTE-range: 1-2/2\r\nsuccess-REPORT: yes\r\nFailure-report: no\r\ncontent-TYPE: text/plain\r\n\r\nhi\r\n-------abcd1234$\r\n";
    let c = parse_one(wire);
    assert_eq!(c.to_path().unwrap()[0], uri("msrp://b:1/x;tcp"));
    assert_eq!(c.from_path().unwrap()[0], uri("msrp://a:1/y;tcp"));
    assert_eq!(c.message_id(), Some("mid12345"));
    assert_eq!(c.byte_range(), ByteRange::new(1, Some(2), Some(2)).unwrap());
    assert_eq!(c.success_report(), SuccessReport::Yes);
    assert_eq!(c.failure_report(), FailureReport::No);
    assert_eq!(c.content_type(), Some("text/plain"));
    assert!(c.header("TO-PATH").is_some() && c.header("content-type").is_some());
    // Known headers are sent with their canonical names.
    assert_eq!(
        header_names(&c.encode()),
        [
            "To-Path",
            "From-Path",
            "Message-ID",
            "Byte-Range",
            "Success-Report",
            "Failure-Report",
            "Content-Type"
        ]
    );
}

#[test]
fn unknown_headers_kept_verbatim() {
    let wire = b"MSRP abcd1234 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nKeep-Alive: yes\r\nx-VENDOR_thing: Some Value; with=\"stuff\"\r\nByte-Range: 1-0/0\r\n-------abcd1234$\r\n";
    let c = parse_one(wire);
    assert_eq!(
        c.header("keep-alive"),
        Some(&Header::Extension {
            name: "Keep-Alive".into(),
            value: "yes".into()
        })
    );
    assert_eq!(
        c.header("X-Vendor_Thing"),
        Some(&Header::Extension {
            name: "x-VENDOR_thing".into(),
            value: "Some Value; with=\"stuff\"".into()
        })
    );
    let out = c.encode();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\r\nKeep-Alive: yes\r\n"));
    assert!(text.contains("\r\nx-VENDOR_thing: Some Value; with=\"stuff\"\r\n"));
    // Two of the same unknown header are both kept, in order.
    let mut c = Chunk::request("abcd", Method::Send);
    c.add_header(Header::Extension {
        name: "X-A".into(),
        value: "1".into(),
    });
    c.add_header(Header::Extension {
        name: "X-A".into(),
        value: "2".into(),
    });
    assert_eq!(c.headers.len(), 2);
}

#[test]
fn methods_upper_case_on_the_wire() {
    // Lower case tolerated on input (normalised)...
    for (m, want) in [
        ("send", Method::Send),
        ("Report", Method::Report),
        ("auth", Method::Auth),
        ("nickName", Method::Nickname),
        ("foo", Method::Other("FOO".into())),
    ] {
        let wire = format!("MSRP abcd1234 {m}\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\n-------abcd1234$\r\n");
        let c = parse_one(wire.as_bytes());
        assert_eq!(c.method(), Some(&want));
        // ...never sent.
        let out = c.encode();
        let up = m.to_ascii_uppercase();
        assert!(out.starts_with(format!("MSRP abcd1234 {up}\r\n").as_bytes()));
    }
    let c = Chunk::request("abcd1234", Method::Other("custom".into()));
    assert!(c.encode().starts_with(b"MSRP abcd1234 CUSTOM\r\n"));
    assert!(c.encode_start().starts_with(b"MSRP abcd1234 CUSTOM\r\n"));
}

#[test]
fn transaction_ids_written_as_idents_read_liberally() {
    // Generated ids are idents of 4-32 characters starting alphanumeric.
    for _ in 0..1000 {
        let t = ids::transaction_id();
        assert!(is_ident(&t) && (4..=32).contains(&t.len()));
        assert!(t.as_bytes()[0].is_ascii_alphanumeric());
    }
    // The parser takes what peers send (1-255 visible characters: UUIDs,
    // short ids, a leading dot or dash), and refuses what cannot frame.
    let chunk = |tid: &str| {
        format!("MSRP {tid} SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\n-------{tid}$\r\n")
    };
    for ok in [
        "a1b2",
        "Z.-+%=",
        &"x".repeat(32),
        "0abc",
        "abc",
        "a",
        &"x".repeat(255),
        ".abc",
        "-abc",
        "+abc",
        "9f6c2c1e-4a7b-4c8d-8e9f-0a1b2c3d4e5f",
    ] {
        assert_eq!(parse_one(chunk(ok).as_bytes()).transaction_id, ok);
    }
    for bad in [&"x".repeat(256), "\u{e9}t\u{e9}", "a\x7fb"] {
        let out = read_chunks(chunk(bad).as_bytes(), &[], Limits::default());
        assert!(
            matches!(
                &out[..],
                [Outcome::Error {
                    kind: ParseErrorKind::InvalidTransactionId,
                    fatal: true,
                    ..
                }]
            ),
            "{bad}"
        );
    }
    // A chunk whose payload holds its own end-line gets a fresh id.
    let mut c = Chunk::request("abcd1234", Method::Send);
    c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
    c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
    c.add_header(Header::ContentType("text/plain".into()));
    c.data = Bytes::from_static(b"quoting a chunk:\r\n-------abcd1234$\r\nMSRP x");
    assert!(c.payload_contains_end_line());
    c.ensure_safe_transaction_id();
    assert_ne!(c.transaction_id, "abcd1234");
    assert!(is_ident(&c.transaction_id) && !c.payload_contains_end_line());
    assert_eq!(parse_one(&c.encode()), c);
    // A safe id is left alone.
    let before = c.transaction_id.clone();
    c.ensure_safe_transaction_id();
    assert_eq!(c.transaction_id, before);
}

#[test]
fn bodiless_send_carries_1_0_0_and_differs_from_an_empty_body() {
    let mut c = Chunk::request("abcd1234", Method::Send);
    c.add_header(Header::ToPath(vec![uri("msrp://b:1/x;tcp")].into()));
    c.add_header(Header::FromPath(vec![uri("msrp://a:1/y;tcp")].into()));
    c.add_header(Header::MessageId("mid12345".into()));
    c.add_header(Header::ByteRange(
        ByteRange::new(1, Some(0), Some(0)).unwrap(),
    ));
    let bodiless = c.encode();
    assert!(bodiless.ends_with(b"Byte-Range: 1-0/0\r\n-------abcd1234$\r\n"));
    assert!(!c.has_body());
    c.verify_headers().unwrap();
    c.add_header(Header::ContentType("text/plain".into()));
    let empty = c.encode();
    assert!(empty.ends_with(
        b"Byte-Range: 1-0/0\r\nContent-Type: text/plain\r\n\r\n\r\n-------abcd1234$\r\n"
    ));
    assert!(c.has_body());
    assert_ne!(bodiless, empty);
    // Both parse, and stay distinct.
    let a = parse_one(&bodiless);
    let b = parse_one(&empty);
    assert!(!a.has_body() && b.has_body());
    assert!(a.data.is_empty() && b.data.is_empty());
    assert_eq!((a.encode(), b.encode()), (bodiless, empty));
    assert_eq!(
        a.byte_range(),
        ByteRange {
            start: 1,
            end: Some(0),
            total: Some(0)
        }
    );
    assert!(a.byte_range().is_empty());
}

#[test]
fn missing_byte_range_on_a_first_chunk_is_accepted() {
    let wire = b"MSRP abcd1234 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nMessage-ID: mid12345\r\nContent-Type: text/plain\r\n\r\nthe whole message\r\n-------abcd1234$\r\n";
    let c = parse_one(wire);
    assert_eq!(c.byte_range_header(), None);
    // Implied: the whole message, from octet 1 (RFC 4975 §7.1.1, §7.3.1).
    assert_eq!(
        c.byte_range(),
        ByteRange {
            start: 1,
            end: None,
            total: None
        }
    );
    assert_eq!(&c.data[..], b"the whole message");
    c.verify_headers().unwrap();
    // The encoder does not invent one.
    assert_eq!(c.encode(), wire);
}

#[test]
fn uri_equality_follows_section_6_1() {
    let a = uri("msrp://Alice.Example.COM:7654/jshA7weztas;tcp");
    // Userinfo ignored; scheme, host and transport case-insensitive.
    assert_eq!(a, uri("MSRP://bob@alice.example.com:7654/jshA7weztas;TCP"));
    // Other parameters ignored.
    assert_eq!(
        a,
        uri("msrp://alice.example.com:7654/jshA7weztas;tcp;foo=bar")
    );
    // Percent-encoded unreserved characters are decoded.
    assert_eq!(a, uri("msrp://%41lice.example.com:7654/jshA7weztas;tcp"));
    // The session id is case-sensitive.
    assert_ne!(a, uri("msrp://alice.example.com:7654/JSHA7WEZTAS;tcp"));
    // No default port: an absent port never equals 2855 (or anything).
    let p = uri("msrp://alice.example.com:2855/jshA7weztas;tcp");
    assert_ne!(p, uri("msrp://alice.example.com/jshA7weztas;tcp"));
    assert_eq!(
        uri("msrp://alice.example.com/jshA7weztas;tcp").authority(),
        None
    );
    // msrp and msrps differ; so do transports.
    assert_ne!(a, uri("msrps://alice.example.com:7654/jshA7weztas;tcp"));
    assert_ne!(a, uri("msrp://alice.example.com:7654/jshA7weztas;ws"));
    // IP addresses by value.
    assert_eq!(
        uri("msrp://[2001:db8:0::1]:1/s;tcp"),
        uri("msrp://[2001:DB8::1]:1/s;tcp")
    );
    assert_ne!(
        uri("msrp://127.0.0.1:1/s;tcp"),
        uri("msrp://localhost:1/s;tcp")
    );
    // Hash agrees with equality.
    use std::collections::HashSet;
    let set: HashSet<Uri> = [
        a.clone(),
        uri("msrp://x@ALICE.example.com:7654/jshA7weztas;tcp"),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn session_id_only_matching() {
    // For middleboxes that rewrite addresses (RFC 6714 practice): opt-in.
    let local = uri("msrp://192.168.1.10:2855/jshA7weztas;tcp");
    let seen = uri("msrp://203.0.113.7:40123/jshA7weztas;tcp");
    assert_ne!(local, seen);
    assert!(local.same_session_id(&seen));
    assert!(!local.same_session_id(&uri("msrp://192.168.1.10:2855/JSHA7weztas;tcp")));
    // Both must carry one.
    assert!(!uri("msrp://a:1;tcp").same_session_id(&uri("msrp://a:1;tcp")));
}

#[test]
fn whole_sdp_path_attribute() {
    let value = "msrps://relay.example.com:2855/r4nd0m;tcp  msrp://[2001:db8::5]:7777/iau39soe2843z;ws\tmsrp://10.1.2.3:9/x;tcp";
    let p = Uri::parse_path(value).unwrap();
    assert_eq!(p.len(), 3);
    assert!(p[0].secure && !p[1].secure);
    assert_eq!(p[1].host, Host::Ip("2001:db8::5".parse().unwrap()));
    assert_eq!(p[1].transport, "ws");
    assert_eq!(p[2].host, Host::Ip("10.1.2.3".parse().unwrap()));
    assert_eq!(
        Uri::format_path(&p),
        "msrps://relay.example.com:2855/r4nd0m;tcp msrp://[2001:db8::5]:7777/iau39soe2843z;ws msrp://10.1.2.3:9/x;tcp"
    );
    assert!(Uri::parse_path("").is_err());
    assert!(Uri::parse_path("msrp://a:1/s;tcp sip:bob@x").is_err());
}

#[test]
fn chunk_reader_hands_out_payload_without_copying() {
    let wire = b"MSRP abcd1234 SEND\r\nTo-Path: msrp://b:1/x;tcp\r\nFrom-Path: msrp://a:1/y;tcp\r\nContent-Type: text/plain\r\n\r\n0123456789\r\n-------abcd1234$\r\n";
    let mut buf = BytesMut::from(&wire[..]);
    let start = buf.as_ptr() as usize;
    let c = ChunkReader::default()
        .read_chunk(&mut buf, None)
        .unwrap()
        .unwrap();
    let offset = c.data.as_ptr() as usize - start;
    assert_eq!(&wire[offset..offset + 10], b"0123456789");
}
