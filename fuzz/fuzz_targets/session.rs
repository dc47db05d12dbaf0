#![no_main]
//! See `msrp::session::fuzz_checks::check_session` for the input's decoding
//! and the properties checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = msrp::session::fuzz_checks::check_session(data);
});
