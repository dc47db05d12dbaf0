//! libmsrp: an MSRP (RFC 4975) endpoint stack with a C ABI.
//!
//! Layers, bottom to top: [`protocol`] (bytes only; [`sdp`], the MSRP media
//! description, belongs to it), [`transport`] (one
//! connection, TCP or TLS), [`connect`] (establishing and binding
//! connections), [`session`] (messages, files, reports), and [`ffi`] (the C
//! surface).

pub mod connect;
pub mod ffi;
pub mod log;
pub mod protocol;
pub mod sdp;
pub mod session;
pub mod transport;
