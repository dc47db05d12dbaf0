//! The active side's local port: what its path advertises and, when asked,
//! the port its outgoing socket is bound to.
//!
//! RFC 4975 does not use the active side's port: the passive side matches
//! the binding chunk by its From-Path URI (§5.4), and this library's
//! acceptors and servers do. Port 0 must still never be advertised, since an
//! SDP `m=` line with port 0 refuses the stream (RFC 3264 §6). By default
//! the path carries the local URI's port or [`DISCARD_PORT`], 9, the port
//! RFC 4145 §4 gives an active endpoint that will not accept connections.
//!
//! Some peers match an incoming connection to a session by the remote
//! address and port that the SDP announced instead (msrp-node-lib does by
//! default, and so do several SBCs): for them [`SourcePort::Any`] and
//! [`SourcePort::Range`] pick a free port at prepare time, keep it reserved
//! (a socket bound to it), advertise it, and connect from it.
//!
//! A reserved socket is bound without `SO_REUSEADDR` first, so that a port
//! another socket uses (a connection of this or any process, a connection
//! in TIME_WAIT) is skipped; `SO_REUSEADDR` is set right after binding, so
//! that this connection's own TIME_WAIT does not block the port's next use.
//! Only when no port is free that way is `SO_REUSEADDR` asked before
//! binding, which takes a port whose only users are connections in
//! TIME_WAIT (or connections to other peers). The ports reserved by this
//! process are also kept in a set, so that two connectors never advertise
//! the same one.

use std::collections::BTreeSet;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use tokio::net::{TcpSocket, TcpStream};

use super::ConnectError;

/// The port an active endpoint advertises when it does not bind one: the
/// discard port, which RFC 4145 §4 gives an endpoint that will not accept
/// connections (a `setup:active` endpoint).
pub const DISCARD_PORT: u16 = 9;

/// How the active side of a direct connection chooses its source port
/// ([`EndpointConfig::source_port`](super::EndpointConfig::source_port)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourcePort {
    /// The system picks the source port when connecting; the path carries
    /// the local URI's port, or [`DISCARD_PORT`] when it has none (or 0).
    #[default]
    Unbound,
    /// At prepare time a port is bound and advertised: the local URI's
    /// port when it has one (not 0), else a free port the system picks.
    /// The outgoing connection is made from it.
    Any,
    /// As [`SourcePort::Any`], but a port the local URI does not give is
    /// a free one of `low..=high` (both included, `0 < low <= high`).
    Range { low: u16, high: u16 },
}

impl SourcePort {
    /// Whether the outgoing socket is bound to the advertised port.
    pub fn binds(&self) -> bool {
        !matches!(self, SourcePort::Unbound)
    }
}

/// The ports reserved by this process's connectors, from prepare until
/// their connection is made (or they are cleaned up).
static HELD: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn held() -> std::sync::MutexGuard<'static, BTreeSet<u16>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// A local port bound for an outgoing connection: the socket that holds it
/// until [`ReservedPort::connect`]. Dropping it frees the port.
#[derive(Debug)]
pub(crate) struct ReservedPort {
    socket: Option<TcpSocket>,
    port: u16,
    v6: bool,
}

impl Drop for ReservedPort {
    fn drop(&mut self) {
        held().remove(&self.port);
    }
}

/// A TCP socket of the family `v6` bound to `port` on the unspecified
/// address (the system picks the source address by route). `reuse_first`
/// sets `SO_REUSEADDR` before binding; it is set after binding in any case
/// (see the module doc).
fn bound_socket(v6: bool, port: u16, reuse_first: bool) -> io::Result<TcpSocket> {
    let (socket, addr) = if v6 {
        (
            TcpSocket::new_v6()?,
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        )
    } else {
        (
            TcpSocket::new_v4()?,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        )
    };
    if reuse_first {
        socket.set_reuseaddr(true)?;
    }
    socket.bind(addr)?;
    socket.set_reuseaddr(true)?;
    Ok(socket)
}

/// The candidates of a range, from a random one on, so that processes
/// sharing a range do not all try its first port.
fn range_order(low: u16, high: u16) -> Vec<u16> {
    let n = u32::from(high - low) + 1;
    let mut r = [0u8; 4];
    let start = match getrandom::getrandom(&mut r) {
        Ok(()) => u32::from_le_bytes(r) % n,
        Err(_) => 0,
    };
    (0..n)
        .map(|i| low + ((start + i) % n) as u16)
        .collect::<Vec<u16>>()
}

impl ReservedPort {
    /// Binds a port as `source` says (`wanted`: the local URI's port, when
    /// it gives one) for a socket of the family `v6`. A port in use, or no
    /// free port in the range, is [`ConnectError::AddressInUse`].
    pub(crate) fn reserve(
        source: SourcePort,
        wanted: Option<u16>,
        v6: bool,
    ) -> Result<ReservedPort, ConnectError> {
        let (candidates, what) = match (wanted, source) {
            (Some(p), _) => (vec![p], format!("local port {p}")),
            (None, SourcePort::Range { low, high }) => {
                if low == 0 || low > high {
                    return Err(ConnectError::InvalidPath(format!(
                        "source port range {low}-{high}: need 0 < low <= high"
                    )));
                }
                (range_order(low, high), format!("local ports {low}-{high}"))
            }
            (None, _) => (vec![0], "an ephemeral local port".to_string()),
        };
        let mut held = held();
        let mut last: Option<io::Error> = None;
        // Strictly first: a port any other socket uses is skipped. Then,
        // for a port given or a range, SO_REUSEADDR before binding: a port
        // with only connections in TIME_WAIT on it.
        let passes: &[bool] = if candidates == [0] {
            &[false]
        } else {
            &[false, true]
        };
        for &reuse_first in passes {
            for &port in &candidates {
                if port != 0 && held.contains(&port) {
                    continue;
                }
                match bound_socket(v6, port, reuse_first) {
                    Ok(socket) => {
                        let port = socket.local_addr()?.port();
                        held.insert(port);
                        return Ok(ReservedPort {
                            socket: Some(socket),
                            port,
                            v6,
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                    Err(e) => {
                        return Err(ConnectError::Io(io::Error::new(
                            e.kind(),
                            format!("binding {what}: {e}"),
                        )))
                    }
                }
            }
        }
        let why = match last {
            Some(e) => e.to_string(),
            None => "reserved by another connector of this process".to_string(),
        };
        Err(ConnectError::AddressInUse(format!(
            "{what}: none free ({why})"
        )))
    }

    /// The reserved port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Connects from the reserved port to the first address of `host:port`
    /// that answers, preferring those of the reserved socket's family
    /// (another family binds the same port in it). The port stays this
    /// process's until the connection is made or refused.
    pub(crate) async fn connect(
        mut self,
        host: &str,
        port: u16,
    ) -> Result<TcpStream, ConnectError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let same: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| a.is_ipv6() == self.v6)
            .collect();
        let targets = if same.is_empty() { addrs } else { same };
        let mut last = None;
        for addr in targets {
            let socket = match self.socket.take() {
                Some(s) if addr.is_ipv6() == self.v6 => s,
                other => {
                    drop(other);
                    bound_socket(addr.is_ipv6(), self.port, true).map_err(|e| {
                        in_use_or_io(e, || format!("local port {}: in use", self.port))
                    })?
                }
            };
            match socket.connect(addr).await {
                Ok(tcp) => return Ok(tcp),
                Err(e) => {
                    let from = self.port;
                    last = Some(in_use_or_io(e, || {
                        format!("local port {from} already has a connection to {addr}")
                    }))
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            ConnectError::InvalidPath(format!("{host}: no address to connect to"))
        }))
    }
}

/// `AddrInUse` and `AddrNotAvailable` (on connect from a bound port: that
/// connection exists already) as [`ConnectError::AddressInUse`].
fn in_use_or_io(e: io::Error, text: impl FnOnce() -> String) -> ConnectError {
    match e.kind() {
        io::ErrorKind::AddrInUse | io::ErrorKind::AddrNotAvailable => {
            ConnectError::AddressInUse(format!("{} ({e})", text()))
        }
        _ => ConnectError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_tried_whole_from_a_random_port_on() {
        let mut order = range_order(40000, 40009);
        assert_eq!(order.len(), 10);
        order.sort_unstable();
        assert_eq!(order, (40000..=40009).collect::<Vec<_>>());
        assert_eq!(range_order(7, 7), vec![7]);
        assert_eq!(range_order(65535, 65535), vec![65535]);
        assert_eq!(range_order(1, 65535).len(), 65535);
    }

    #[test]
    fn a_port_reserved_twice_in_this_process_is_refused() {
        let first = ReservedPort::reserve(SourcePort::Any, None, false).unwrap();
        let port = first.port();
        assert_ne!(port, 0);
        // SO_REUSEADDR on both sockets would let the system bind it twice:
        // the set of held ports does not.
        match ReservedPort::reserve(SourcePort::Any, Some(port), false) {
            Err(ConnectError::AddressInUse(text)) => assert!(text.contains(&port.to_string())),
            other => panic!("expected AddressInUse, got {other:?}"),
        }
        drop(first);
        let again = ReservedPort::reserve(SourcePort::Any, Some(port), false).unwrap();
        assert_eq!(again.port(), port);
    }

    #[test]
    fn an_empty_range_is_refused() {
        for (low, high) in [(0, 10), (20, 10)] {
            let r = ReservedPort::reserve(SourcePort::Range { low, high }, None, false);
            assert!(
                matches!(r, Err(ConnectError::InvalidPath(_))),
                "{low}-{high}"
            );
        }
    }
}
