//! The protocol layer: bytes only, no I/O and no async. URIs, typed headers,
//! the chunk model, the streaming parser and encoder, random ids, and RFC 4976
//! digest authentication.

pub mod chunk;
pub mod digest;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod headers;
pub mod ids;
pub mod parser;
pub mod uri;

pub use chunk::{reason_phrase, Chunk, ChunkKind, Continuation, Method, VerifyError};
pub use headers::{
    ByteRange, ContentDisposition, DigestParams, FailureReport, Header, HeaderError, HeaderLimits,
    Status, SuccessReport,
};
pub use parser::{ChunkReader, Event, Limits, ParseError, ParseErrorKind, Parser};
pub use uri::{Host, Path, Uri, UriError};
