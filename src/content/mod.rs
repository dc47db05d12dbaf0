//! Messaging content carried in MSRP bodies, sans I/O: CPIM message
//! wrappers (RFC 3862), instant message disposition notifications (IMDN,
//! RFC 5438) and isComposing typing indications (RFC 3994), with the
//! RFC 3339 date-times they use. Parsers are liberal about the shapes real
//! stacks send (sipsimple/Blink, rcsjta, Doubango); builders are strict.
//!
//! - [`cpim`]: `message/cpim` parse (borrowing) and build;
//! - [`imdn`]: `message/imdn+xml`, `imdn.Disposition-Notification`, and
//!   the CPIM message that carries a notification;
//! - [`iscomposing`]: the `application/im-iscomposing+xml` documents;
//! - [`datetime`]: RFC 3339 date-times;
//! - [`xml`]: the small quick-xml element reader the two XML formats share.

pub mod cpim;
pub mod datetime;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod imdn;
pub mod iscomposing;
pub mod xml;

pub use cpim::{Cpim, CpimBuilder, CpimError, CpimHeader, Namespace, IMDN_NAMESPACE};
pub use datetime::DateTime;
pub use imdn::{
    DispositionRequest, Imdn, ImdnStatus, NotificationKind, IMDN_CONTENT_TYPE, IMDN_XML_NAMESPACE,
};
pub use iscomposing::{ComposingState, IsComposing, ISCOMPOSING_CONTENT_TYPE};
pub use xml::XmlError;

/// The media type of CPIM.
pub const CPIM_CONTENT_TYPE: &str = "message/cpim";
