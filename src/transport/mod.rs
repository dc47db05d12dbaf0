//! The transport layer: one MSRP connection over TCP, TLS or WebSocket (python-msrplib's
//! `msrplib.transport`): the stream, framed reading and writing of chunks,
//! `make_chunk`, responses, and the binding checks.

pub mod connection;
pub mod response;
pub mod stream;
pub mod tls;
pub mod websocket;

pub use connection::{
    make_response_to, ChunkParams, MsrpError, PathMatching, Transport, TransportError,
    TransportInfo, TransportReader, TransportWriter,
};
pub use response::{response_due, success_report, ResponseEncoder};
pub use stream::Stream;
pub use tls::{Fingerprint, PeerVerification, TlsError, TlsIdentity, TrustAnchors};
pub use websocket::{WsListen, WsSettings, WsStream};
