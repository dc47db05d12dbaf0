//! Responses encoded straight to their wire form (RFC 4975 §7.2), for the
//! path where every incoming chunk is answered: no [`Chunk`] is built for a
//! response and no URI is formatted per response. The local URI's
//! `From-Path` line is encoded once per session; the previous hop's
//! `To-Path` line is kept while the requests keep naming the same hop.
//!
//! The bytes are exactly what encoding the response [`Chunk`] that
//! [`super::make_response_to`] builds gives (the tests compare the two).

use std::io::Write;

use crate::protocol::{reason_phrase, ByteRange, Chunk, FailureReport, Header, Method, Uri};

/// Whether `request` gets a response with this code (RFC 4975 §7.2): never
/// a response or a REPORT (§7.1.2); with `Failure-Report: no` nothing, with
/// `partial` only an error.
pub fn response_due(request: &Chunk, code: u16) -> bool {
    if request.method() == Some(&Method::Report) || !request.is_request() {
        return false;
    }
    match request.failure_report() {
        FailureReport::No => false,
        FailureReport::Partial => code != 200,
        FailureReport::Yes => true,
    }
}

/// Encodes responses of one endpoint (one local URI).
#[derive(Debug, Clone)]
pub struct ResponseEncoder {
    /// `From-Path: <local URI>\r\n`.
    from_path_line: Vec<u8>,
    /// The last previous hop answered and its `To-Path: <hop>\r\n` line.
    to_path_line: Option<(Uri, Vec<u8>)>,
}

impl ResponseEncoder {
    /// An encoder for responses from the endpoint with URI `local`.
    pub fn new(local: &Uri) -> ResponseEncoder {
        let mut from_path_line = Vec::with_capacity(64);
        let _ = write!(from_path_line, "From-Path: {local}\r\n");
        ResponseEncoder {
            from_path_line,
            to_path_line: None,
        }
    }

    /// Forgets the previous hop's line (a session waiting idle keeps none;
    /// it is encoded again with the next response).
    pub fn release_idle(&mut self) {
        self.to_path_line = None;
    }

    /// Appends a response to `request`, due or not (whether one is due is
    /// [`response_due`]'s to say), as [`super::make_response_to`] builds
    /// it: the comment defaults to the code's reason phrase, To-Path is the
    /// leftmost URI of the request's From-Path (the previous hop),
    /// From-Path the local URI.
    pub fn encode_response_to(
        &mut self,
        request: &Chunk,
        code: u16,
        comment: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let tid = request.transaction_id.as_bytes();
        out.extend_from_slice(b"MSRP ");
        out.extend_from_slice(tid);
        out.push(b' ');
        if code < 1000 {
            out.extend_from_slice(&[
                b'0' + (code / 100) as u8,
                b'0' + (code / 10 % 10) as u8,
                b'0' + (code % 10) as u8,
            ]);
        } else {
            let _ = write!(out, "{code}");
        }
        let comment = comment.or_else(|| Some(reason_phrase(code)).filter(|r| !r.is_empty()));
        if let Some(c) = comment {
            out.push(b' ');
            out.extend_from_slice(c.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Some(hop) = request.from_path().and_then(|p| p.first()) {
            match &self.to_path_line {
                Some((cached, line)) if cached.is_identical(hop) => out.extend_from_slice(line),
                _ => {
                    let mut line = Vec::with_capacity(64);
                    let _ = write!(line, "To-Path: {hop}\r\n");
                    out.extend_from_slice(&line);
                    self.to_path_line = Some((hop.clone(), line));
                }
            }
        }
        out.extend_from_slice(&self.from_path_line);
        // No body: the end-line follows the headers (§7.1).
        out.extend_from_slice(b"-------");
        out.extend_from_slice(tid);
        out.extend_from_slice(b"$\r\n");
    }
}

/// A success REPORT for the whole of `request`'s message of `bytes` octets
/// (RFC 4975 §7.1.3 via §7.1.4: To-Path is the request's whole From-Path,
/// or `fallback` when it has none; From-Path this endpoint's URI `local`;
/// the message's Message-ID; `Byte-Range: 1-<bytes>/<bytes>`;
/// `Status: 000 200 OK`).
pub fn success_report(request: &Chunk, local: &Uri, fallback: &[Uri], bytes: u64) -> Chunk {
    let mut report = Chunk::request(crate::protocol::ids::transaction_id(), Method::Report);
    report.add_header(Header::ToPath(
        request
            .from_path()
            .cloned()
            .unwrap_or_else(|| fallback.into()),
    ));
    report.add_header(Header::FromPath(vec![local.clone()].into()));
    report.add_header(Header::MessageId(
        request.message_id().unwrap_or_default().into(),
    ));
    report.add_header(Header::ByteRange(ByteRange {
        start: 1,
        end: Some(bytes),
        total: Some(bytes),
    }));
    report.set_status(200, Some("OK".to_string()));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::make_response_to;

    fn uri(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    fn request(tid: &str, from_path: &[&str], local: &str) -> Chunk {
        let mut c = Chunk::request(tid, Method::Send);
        c.add_header(Header::ToPath(vec![uri(local)].into()));
        c.add_header(Header::FromPath(from_path.iter().map(|u| uri(u)).collect()));
        c
    }

    /// The encoder's bytes equal the encoding of the response chunk, for
    /// plain, IPv6, TLS and relay paths, codes with and without a reason
    /// phrase, explicit comments, and a hop that changes between requests.
    #[test]
    fn encoded_responses_equal_encoded_chunks() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["msrp://127.0.0.1:40000/a1b2c3;tcp"],
                "msrp://127.0.0.1:2855/x9y8z7;tcp",
            ),
            (
                &["msrp://[2001:db8::1]:2855/v6session;tcp"],
                "msrp://[::1]:1234/local6;tcp",
            ),
            (
                &["msrps://alice.example.com:7394/tls1;tcp"],
                "msrps://bob.example.com:443/tls2;tcp",
            ),
            (
                // Through relays: the previous hop is the leftmost URI.
                &[
                    "msrps://relay.example.net:2855/r3l4y;tcp",
                    "msrps://user@alice.example.com:9999/s5;tcp;extra=1;flag",
                ],
                "msrps://bob.example.com:2856/mine;tcp",
            ),
        ];
        for (from, local) in cases {
            let local_uri = uri(local);
            let mut encoder = ResponseEncoder::new(&local_uri);
            for (tid, code, comment) in [
                ("abcd1234", 200, None),
                ("Zz-9.+%=", 400, Some("Byte-Range too large")),
                ("q1w2e3r4t5", 481, Some("To-Path is not this session")),
                ("y6u7", 299, None), // no reason phrase
                ("i8o9", 413, None),
            ] {
                let req = request(tid, from, local);
                let want = make_response_to(&req, &local_uri, code, comment).encode();
                let mut got = Vec::new();
                assert!(response_due(&req, code));
                encoder.encode_response_to(&req, code, comment, &mut got);
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    String::from_utf8(want).unwrap(),
                    "{from:?} {tid} {code}"
                );
            }
        }
        // The cached To-Path line follows a change of hop.
        let local_uri = uri("msrp://127.0.0.1:1/me;tcp");
        let mut encoder = ResponseEncoder::new(&local_uri);
        for hop in [
            "msrp://127.0.0.1:2/you;tcp",
            "msrp://127.0.0.1:2/YOU;tcp",
            "msrp://LOCALHOST:2/you;tcp",
            "msrp://localhost:2/you;tcp",
            "msrp://127.0.0.1:2/you;tcp;p=1",
        ] {
            let req = request("abcd", &[hop], "msrp://127.0.0.1:1/me;tcp");
            let want = make_response_to(&req, &local_uri, 200, None).encode();
            let mut got = Vec::new();
            encoder.encode_response_to(&req, 200, None, &mut got);
            assert_eq!(got, want, "{hop}");
        }
    }

    #[test]
    fn reports_and_unwanted_answers_are_not_due() {
        let local = "msrp://127.0.0.1:1/me;tcp";
        let mut report = Chunk::request("abcd", Method::Report);
        report.add_header(Header::FromPath(
            vec![uri("msrp://127.0.0.1:2/you;tcp")].into(),
        ));
        assert!(!response_due(&report, 200));
        let mut no = request("abcd", &["msrp://127.0.0.1:2/you;tcp"], local);
        no.add_header(Header::FailureReport(FailureReport::No));
        assert!(!response_due(&no, 400));
        let mut partial = request("abcd", &["msrp://127.0.0.1:2/you;tcp"], local);
        partial.add_header(Header::FailureReport(FailureReport::Partial));
        assert!(!response_due(&partial, 200));
        assert!(response_due(&partial, 413));
        let response = Chunk::response("abcd", 200, None);
        assert!(!response_due(&response, 200));
    }
}
