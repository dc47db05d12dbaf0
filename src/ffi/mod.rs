//! The C ABI of libmsrp.
//!
//! This module is the only place with `#[unsafe(no_mangle)]` functions; the
//! layers below it know nothing of C. Every item exported here ends up in the
//! generated header `include/msrp.h` (see `cbindgen.toml` and
//! `scripts/gen-header.sh`), so doc comments here are the C documentation.

pub mod version;
