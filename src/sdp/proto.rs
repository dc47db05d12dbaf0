//! [`Proto`]: the transport protocol field of an MSRP `m=` line (RFC 4975
//! §8.1, RFC 7977 §8 for WebSocket).

use std::fmt;

use crate::protocol::Uri;

/// The `<proto>` of `m=message <port> <proto> *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `TCP/MSRP`
    Tcp,
    /// `TCP/TLS/MSRP`
    Tls,
    /// `TCP/WS/MSRP` (RFC 7977)
    Ws,
    /// `TCP/WSS/MSRP` (RFC 7977)
    Wss,
}

impl Proto {
    /// Reads the field, in any case. `None` for anything that is not MSRP.
    pub fn parse(text: &str) -> Option<Proto> {
        [Proto::Tcp, Proto::Tls, Proto::Ws, Proto::Wss]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }

    /// The field as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP/MSRP",
            Proto::Tls => "TCP/TLS/MSRP",
            Proto::Ws => "TCP/WS/MSRP",
            Proto::Wss => "TCP/WSS/MSRP",
        }
    }

    /// Whether the hop is protected by TLS.
    pub fn is_secure(self) -> bool {
        matches!(self, Proto::Tls | Proto::Wss)
    }

    /// The protocol that matches a URI: `msrps` is TLS, the `ws` transport
    /// parameter WebSocket.
    pub fn of_uri(uri: &Uri) -> Proto {
        match (uri.secure, uri.transport.eq_ignore_ascii_case("ws")) {
            (false, false) => Proto::Tcp,
            (true, false) => Proto::Tls,
            (false, true) => Proto::Ws,
            (true, true) => Proto::Wss,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
