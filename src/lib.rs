//! libmsrp: an MSRP (RFC 4975) endpoint stack with a C ABI.
//!
//! Layers, bottom to top: [`protocol`] (bytes only; beside it [`sdp`], the
//! MSRP media description, and [`content`], what MSRP bodies carry: CPIM,
//! IMDN, isComposing), [`transport`] (one
//! connection, TCP, TLS or WebSocket), [`connect`] (establishing and binding
//! connections), [`session`] (messages, files, reports), and [`ffi`] (the C
//! surface).

pub mod connect;
pub mod content;
pub mod ffi;
pub mod log;
pub mod protocol;
pub mod sdp;
pub mod session;
pub mod transport;
