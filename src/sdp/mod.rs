//! SDP for MSRP: the media description of an MSRP session (RFC 4975 §8),
//! parsed and written, and the offer/answer rules around it (RFC 3264,
//! RFC 6135, RFC 5547 §8, RFC 8122, RFC 6714). Part of the protocol layer:
//! text in, text and values out, no I/O.
//!
//! One concept per file:
//! - [`error`]: [`SdpError`], which names the attribute at fault;
//! - [`proto`]: the `m=` transport protocols (`TCP/MSRP`, `TCP/TLS/MSRP`, …);
//! - [`setup`]: `a=setup` (RFC 4145 / RFC 6135) and `a=connection`;
//! - [`direction`]: `sendrecv`, `sendonly`, `recvonly`, `inactive`;
//! - [`fingerprint`]: `a=fingerprint` with any hash function (RFC 8122);
//! - [`file`]: the RFC 5547 file attributes (`file-selector`, …);
//! - [`media`]: [`MediaDescription`], one `m=message` section, and how a
//!   whole SDP body is searched for it;
//! - [`offer`]: building the local offer or answer ([`LocalSettings`]);
//! - [`negotiate`]: who connects, and what else follows from a final
//!   offer/answer pair ([`Negotiated`]), re-offers included.

pub mod direction;
pub mod error;
pub mod file;
pub mod fingerprint;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod media;
pub mod negotiate;
pub mod offer;
pub mod proto;
pub mod setup;

pub use direction::Direction;
pub use error::SdpError;
pub use file::{FileAttributes, FileHash, FileRange, FileSelector};
pub use fingerprint::SdpFingerprint;
pub use media::{ConnectionData, MediaDescription};
pub use negotiate::{negotiate, reoffer_is_same_transfer, who_connects, Negotiated, Role, Side};
pub use offer::{build_answer, build_offer, refuse, LocalSettings};
pub use proto::Proto;
pub use setup::{ConnectionAttr, Setup};
