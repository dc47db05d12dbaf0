//! libmsrp: an MSRP (RFC 4975) endpoint stack.
pub mod ffi;
pub mod protocol;
