#![no_main]
//! See `msrp::sdp::fuzz_checks::check_parse_sdp` for the properties checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrp::sdp::fuzz_checks::check_parse_sdp(data);
});
