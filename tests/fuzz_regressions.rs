//! Replays every input under tests/fuzz_regressions/<target>/ through the
//! checks of the cargo-fuzz target of that name.

use std::path::Path;

use msrp::content::fuzz_checks::{check_cpim, check_imdn};
use msrp::protocol::fuzz_checks::{check_parse_chunk, check_parse_digest, check_parse_uri};
use msrp::sdp::fuzz_checks::check_parse_sdp;
use msrp::session::fuzz_checks::check_session;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no regressions for this target
    };
    let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let name = file.display().to_string();
        if let Err(e) = std::panic::catch_unwind(|| check(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{name}: {msg}");
        }
    }
}

#[test]
fn parse_chunk_regressions() {
    replay("parse_chunk", check_parse_chunk);
}

#[test]
fn parse_uri_regressions() {
    replay("parse_uri", check_parse_uri);
}

#[test]
fn parse_digest_regressions() {
    replay("parse_digest", check_parse_digest);
}

#[test]
fn parse_sdp_regressions() {
    replay("parse_sdp", check_parse_sdp);
}

#[test]
fn session_regressions() {
    replay("session", |data| {
        check_session(data);
    });
}

#[test]
fn content_cpim_regressions() {
    replay("content_cpim", check_cpim);
}

#[test]
fn content_imdn_regressions() {
    replay("content_imdn", check_imdn);
}

#[test]
fn seed_corpus_passes_the_checks() {
    // The committed seed corpus must satisfy the properties too.
    for (target, check) in [
        ("parse_chunk", check_parse_chunk as fn(&[u8])),
        ("parse_uri", check_parse_uri),
        ("parse_digest", check_parse_digest),
        ("content_cpim", check_cpim),
        ("content_imdn", check_imdn),
        ("parse_sdp", check_parse_sdp),
        ("session", |data| {
            check_session(data);
        }),
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus_seed")
            .join(target);
        for e in std::fs::read_dir(dir).unwrap() {
            check(&std::fs::read(e.unwrap().path()).unwrap());
        }
    }
}
