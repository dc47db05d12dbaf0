//! The C ABI of libmsrp.
//!
//! This module is the only place with `#[unsafe(no_mangle)]` functions; the
//! layers below it know nothing of C. Every item exported here ends up in the
//! generated header `include/msrp.h` (see `cbindgen.toml` and
//! `scripts/gen-header.sh`), so doc comments here are the C documentation.
//!
//! One file per C type family; the helpers every entry point shares:
//! - [`result`]: `msrp_result_t`, the per-thread last error, and the one
//!   panic boundary (`ffi_boundary!`) every exported function runs behind;
//! - [`handle`]: how opaque handles map to Rust values (`Castable`): the only
//!   place where a `Box` or `Arc` is turned into a raw pointer and back;
//! - [`runtime`]: the process's one Tokio runtime, blocking entry points, and
//!   the dispatcher threads that run C callbacks (serialized per handle).

// The C names are the public contract (`msrp_uri_t`, `msrp_uri_parse`).
#![allow(non_camel_case_types)]
// Every entry point is called from C, where nothing is checked by a compiler:
// each one documents which pointers it reads, NULL-checks them, and does the
// dereference inside the helpers of `handle` and `result`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
pub mod result;
pub mod chunk;
pub mod config;
pub mod connector;
pub mod cpim;
pub(crate) mod handle;
pub mod imdn;
pub mod iscomposing;
pub mod logger;
pub mod relay;
pub mod runtime;
pub mod sdp;
pub mod server;
pub mod session;
pub mod tls;
pub mod transport;
pub mod uri;
pub mod version;
