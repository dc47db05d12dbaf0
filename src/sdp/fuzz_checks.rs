//! Property checks for the SDP parser, shared by the cargo-fuzz target
//! `parse_sdp` (`fuzz/`) and the test that replays its regressions
//! (`tests/fuzz_regressions.rs`). A check panics when a property fails; on
//! any other input nothing may panic.
//!
//! Not a stable API.

use super::media::MediaDescription;
use super::negotiate::negotiate;
use super::offer::{build_answer, LocalSettings};
use crate::protocol::Uri;

/// Parses `data` (as UTF-8, lossily) as a whole body and as its first
/// byte's section index; whatever parses must be written so that it reads
/// back the same, and writing is a fixed point. A parsed offer is answered
/// and the pair negotiated, which must not panic.
pub fn check_parse_sdp(data: &[u8]) {
    let index = data.first().map_or(0, |b| usize::from(b % 3));
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    for i in [0, index] {
        let Ok(md) = MediaDescription::parse_nth(&text, i) else {
            continue;
        };
        let written = md.to_string();
        let again = MediaDescription::parse(&written)
            .unwrap_or_else(|e| panic!("written SDP does not parse: {e}\n{written}"));
        assert_eq!(again.to_string(), written, "writing is not a fixed point");
        let third = MediaDescription::parse(&again.to_string()).expect("parses");
        assert_eq!(
            third, again,
            "a written description does not read back the same"
        );

        let path = Uri::parse_path(if md.proto.is_secure() {
            "msrps://127.0.0.1:2855/fuzz;tcp"
        } else {
            "msrp://127.0.0.1:2855/fuzz;tcp"
        })
        .expect("a valid path");
        let settings = LocalSettings {
            path,
            ..LocalSettings::default()
        };
        if let Ok(answer) = build_answer(&md, &settings) {
            let text = answer.to_string();
            let read = MediaDescription::parse(&text)
                .unwrap_or_else(|e| panic!("an answer does not parse: {e}\n{text}"));
            assert_eq!(read, answer, "an answer does not read back the same");
            let _ = negotiate(&answer, &md, false);
            let _ = negotiate(&md, &answer, true);
        }
    }
}
