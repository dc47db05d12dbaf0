#![no_main]
//! See `msrp::protocol::fuzz_checks::check_parse_uri` for the properties checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrp::protocol::fuzz_checks::check_parse_uri(data);
});
