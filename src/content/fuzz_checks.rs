//! Properties the fuzz targets of `fuzz/` check on arbitrary input (and
//! that `tests/fuzz_regressions.rs` replays): the content parsers never
//! panic, borrow within their input, and what they read survives being
//! written again by the builders.

use super::cpim::{valid_header_name, Cpim, CpimBuilder};
use super::imdn::Imdn;
use super::iscomposing::IsComposing;

/// `fuzz/fuzz_targets/content_cpim.rs`: CPIM parsing, and the IMDN or
/// isComposing document inside.
pub fn check_cpim(data: &[u8]) {
    let Ok(m) = Cpim::parse(data) else { return };
    let body = m.body();
    let start = body.as_ptr() as usize - data.as_ptr() as usize;
    assert!(start + body.len() <= data.len(), "body outside the input");
    assert!(m.body_offset() <= data.len());
    let _ = (
        m.from_uri(),
        m.to_uri(),
        m.datetime(),
        m.imdn_message_id(),
        m.media_type(),
    );
    let _ = super::imdn::DispositionRequest::of(&m);
    if super::imdn::is_notification(&m) {
        check_imdn(body);
    }

    // Headers with names the builder takes come back the same.
    let mut b = CpimBuilder::new();
    let mut kept = Vec::new();
    for h in m.headers() {
        let value = super::cpim::unescape(h.value);
        if !valid_header_name(h.full_name) || !h.params.is_empty() || value.trim() != value {
            continue;
        }
        b = b.header(h.full_name, &value).expect("valid name");
        kept.push((h.full_name, value.into_owned()));
    }
    // Message headers that are all MIME-like (Content-*, MIME-Version) are
    // ambiguous by design (an outer MIME block, or no message headers):
    // no round trip for those.
    let mime_like = |n: &str| {
        (n.len() > 8 && n[..8].eq_ignore_ascii_case("content-"))
            || n.eq_ignore_ascii_case("mime-version")
    };
    if !kept.is_empty() && kept.iter().all(|(n, _)| mime_like(n)) {
        return;
    }
    let rebuilt = b.body(body.to_vec()).build();
    let again = Cpim::parse(&rebuilt).expect("a built message parses");
    let got: Vec<_> = again
        .headers()
        .iter()
        .map(|h| (h.full_name, super::cpim::unescape(h.value).into_owned()))
        .collect();
    assert_eq!(got, kept, "headers changed");
    assert_eq!(again.body(), body, "body changed");
}

/// `fuzz/fuzz_targets/content_imdn.rs`: IMDN and isComposing documents
/// parse without panicking and survive a round trip.
pub fn check_imdn(data: &[u8]) {
    if let Ok(n) = Imdn::parse(data) {
        let xml = n.to_xml();
        let again = Imdn::parse(&xml).expect("a written IMDN parses");
        assert_eq!(again, n);
    }
    if let Ok(c) = IsComposing::parse(data) {
        let again = IsComposing::parse(&c.to_xml()).expect("a written isComposing parses");
        assert_eq!(again, c);
    }
}
