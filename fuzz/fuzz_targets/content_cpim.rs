#![no_main]
//! See `msrp::content::fuzz_checks::check_cpim` for the properties checked.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    msrp::content::fuzz_checks::check_cpim(data);
});
