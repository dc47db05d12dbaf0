//! Finding and reaching the MSRP relay (RFC 4976 §8) for [`RelaySettings`]:
//!
//! - with a `host`: that host (an address, or its A/AAAA records) at `port`,
//!   or 2855;
//! - without a host but with a `port`: the A/AAAA records of the `domain` at
//!   that port (§8: "a domain name and an explicit port");
//! - with neither: the SRV records of `_msrps._tcp.<domain>`, taken in the
//!   order of RFC 2782 (priority, then weighted random), each target's
//!   A/AAAA records at the SRV port; with no SRV record, the A/AAAA records
//!   of the domain at 2855. §8 defines no `_msrp` service (AUTH goes over
//!   TLS), so the plain-TCP opt-in skips the SRV step.
//!
//! Look-ups use `dns_server` from the settings when set, else the system's
//! resolver configuration (resolv.conf). A name with a host but no DNS
//! server override goes through the system's own resolver (getaddrinfo), so
//! /etc/hosts keeps working. Addresses are tried in order until a TCP
//! connection opens; the TLS handshake then checks the relay's certificate
//! against the domain that was asked for (the host when one is given): an
//! SRV answer is not authenticated, so its target name proves nothing
//! (RFC 6125 §6.2.1).

use std::io;
use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::net::TcpStream;

use super::relay::{RelaySettings, RECOMMENDED_PORT};
use super::{ConnectError, EndpointConfig};
use crate::log::Level;
use crate::msrp_log;
use crate::protocol::{Host, Uri};
use crate::transport::tls;
use crate::transport::Stream;

/// One place the relay may be: a host name (or address text) and port, and
/// the addresses found for it.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// The name the addresses were found for (the SRV target, the host, or
    /// the domain); it goes into the AUTH To-Path.
    pub host: String,
    pub port: u16,
    pub addresses: Vec<SocketAddr>,
}

/// An SRV record's fields that selection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// Orders SRV records as RFC 2782 says: ascending priority; within one
/// priority, repeatedly pick a record with probability proportional to its
/// weight (zero-weight records get a small chance, being put first and
/// picked when the running sum first reaches the random number).
/// `random(n)` returns a number in `0..=n`.
pub fn order_srv(
    mut records: Vec<SrvRecord>,
    mut random: impl FnMut(u32) -> u32,
) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        rest = tail;
        // Zero weights first, as the RFC's algorithm places them.
        let mut group: Vec<SrvRecord> = group
            .iter()
            .filter(|r| r.weight == 0)
            .chain(group.iter().filter(|r| r.weight != 0))
            .cloned()
            .collect();
        while !group.is_empty() {
            let sum: u32 = group.iter().map(|r| r.weight as u32).sum();
            let pick = random(sum).min(sum);
            let mut running = 0u32;
            let index = group
                .iter()
                .position(|r| {
                    running += r.weight as u32;
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

fn random_up_to(n: u32) -> u32 {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        return 0;
    }
    if n == u32::MAX {
        return u32::from_le_bytes(b);
    }
    u32::from_le_bytes(b) % (n + 1)
}

fn resolver(settings: &RelaySettings) -> Result<TokioResolver, ConnectError> {
    let provider = TokioConnectionProvider::default();
    let builder = match settings.dns_server {
        Some(server) => {
            let mut config = ResolverConfig::new();
            config.add_name_server(NameServerConfig::new(server, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(server, Protocol::Tcp));
            let mut options = ResolverOpts::default();
            // Only the given server answers (tests rely on it).
            options.use_hosts_file = ResolveHosts::Never;
            TokioResolver::builder_with_config(config, provider).with_options(options)
        }
        None => TokioResolver::builder(provider).map_err(|e| {
            ConnectError::Io(io::Error::other(format!(
                "cannot read the system's DNS configuration: {e}"
            )))
        })?,
    };
    Ok(builder.build())
}

/// A fully qualified form of `name`, so that no search domain is appended.
fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn describe(e: &ResolveError) -> String {
    if e.is_nx_domain() {
        "no such domain (NXDOMAIN)".into()
    } else if e.is_no_records_found() {
        "no records".into()
    } else {
        e.to_string()
    }
}

async fn addresses_of(
    settings: &RelaySettings,
    dns: &mut Option<TokioResolver>,
    name: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if settings.dns_server.is_none() && settings.host.is_some() {
        // The system's resolver, with /etc/hosts and the rest of nsswitch.
        return tokio::net::lookup_host((name, port))
            .await
            .map(|a| a.collect())
            .map_err(|e| e.to_string());
    }
    if dns.is_none() {
        *dns = Some(resolver(settings).map_err(|e| e.to_string())?);
    }
    let r = dns.as_ref().expect("resolver made above");
    match r.lookup_ip(absolute(name)).await {
        Ok(found) => Ok(found.iter().map(|ip| SocketAddr::new(ip, port)).collect()),
        Err(e) => Err(describe(&e)),
    }
}

/// Where the relay may be, in the order to try (RFC 4976 §8).
pub async fn locate(
    config: &EndpointConfig,
    settings: &RelaySettings,
) -> Result<Vec<RelayTarget>, ConnectError> {
    let mut dns = None;
    let not_found = |what: String| {
        ConnectError::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no MSRP relay found for {}: {what}", settings.domain),
        ))
    };
    if let Some(host) = &settings.host {
        let port = settings.port.unwrap_or(RECOMMENDED_PORT);
        let addresses = addresses_of(settings, &mut dns, host, port)
            .await
            .map_err(|e| not_found(format!("host {host}: {e}")))?;
        return Ok(vec![RelayTarget {
            host: host.clone(),
            port,
            addresses,
        }]);
    }
    let domain = settings.domain.trim_end_matches('.').to_string();
    if domain.is_empty() {
        return Err(ConnectError::InvalidPath(
            "relay settings without a domain".into(),
        ));
    }
    let mut srv_failure = None;
    if settings.port.is_none() && settings.use_tls && domain.parse::<IpAddr>().is_err() {
        let service = format!("_msrps._tcp.{domain}.");
        let r = resolver(settings)?;
        let answer = r.srv_lookup(service.as_str()).await;
        dns = Some(r);
        match answer {
            Ok(found) => {
                let records: Vec<SrvRecord> = found
                    .iter()
                    .map(|s| SrvRecord {
                        priority: s.priority(),
                        weight: s.weight(),
                        port: s.port(),
                        target: s.target().to_ascii().trim_end_matches('.').to_string(),
                    })
                    .collect();
                // RFC 2782: a single record with target "." means the
                // service is decidedly not available.
                if records.len() == 1 && records[0].target.is_empty() {
                    return Err(not_found(format!(
                        "{service} says the service is not offered"
                    )));
                }
                let mut targets = Vec::new();
                let mut failures = Vec::new();
                for srv in order_srv(records, random_up_to) {
                    if srv.target.is_empty() {
                        continue;
                    }
                    match addresses_of(settings, &mut dns, &srv.target, srv.port).await {
                        Ok(addresses) if !addresses.is_empty() => targets.push(RelayTarget {
                            host: srv.target,
                            port: srv.port,
                            addresses,
                        }),
                        Ok(_) => failures.push(format!("{}: no addresses", srv.target)),
                        Err(e) => failures.push(format!("{}: {e}", srv.target)),
                    }
                }
                msrp_log!(
                    config.logger,
                    Level::Debug,
                    "relay discovery: {service} gave {} target(s)",
                    targets.len()
                );
                if targets.is_empty() {
                    return Err(not_found(format!(
                        "no address for the targets of {service} ({})",
                        failures.join("; ")
                    )));
                }
                return Ok(targets);
            }
            Err(e) => {
                msrp_log!(
                    config.logger,
                    Level::Debug,
                    "relay discovery: {service}: {}; trying the domain's addresses",
                    describe(&e)
                );
                srv_failure = Some(format!("{service}: {}", describe(&e)));
            }
        }
    }
    let port = settings.port.unwrap_or(RECOMMENDED_PORT);
    match addresses_of(settings, &mut dns, &domain, port).await {
        Ok(addresses) if !addresses.is_empty() => Ok(vec![RelayTarget {
            host: domain,
            port,
            addresses,
        }]),
        other => {
            let e = match other {
                Err(e) => e,
                Ok(_) => "no addresses".into(),
            };
            Err(not_found(match srv_failure {
                Some(s) => format!("{s}; {domain}: {e}"),
                None => format!("{domain}: {e}"),
            }))
        }
    }
}

/// For a relay reached over WebSocket (RFC 7977 §8), the upgrade on the
/// open stream, and the relay URI with the `ws` transport; else as it is.
async fn over_websocket(
    config: &EndpointConfig,
    settings: &RelaySettings,
    stream: Stream,
    mut uri: Uri,
    host: &str,
) -> Result<(Stream, Uri), ConnectError> {
    if !settings.websocket {
        return Ok((stream, uri));
    }
    let port = uri.port.unwrap_or(0);
    let ws = crate::transport::websocket::connect(
        stream,
        host.trim_matches(['[', ']']),
        port,
        settings.use_tls,
        config.limits.max_assembled_chunk,
    )
    .await?;
    uri.transport = "ws".into();
    Ok((Stream::Ws(Box::new(ws)), uri))
}

/// Finds the relay, opens TCP to the first address that answers and, for
/// msrps, does the TLS handshake. Returns the stream and the relay URI for
/// the AUTH To-Path.
pub(crate) async fn connect(
    config: &EndpointConfig,
    settings: &RelaySettings,
) -> Result<(Stream, Uri), ConnectError> {
    let targets = locate(config, settings).await?;
    let mut last_error = None;
    for target in &targets {
        for address in &target.addresses {
            let tcp = match tokio::time::timeout(config.bind_timeout, TcpStream::connect(address))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => {
                    msrp_log!(
                        config.logger,
                        Level::Info,
                        "relay {}:{} at {address}: {e}",
                        target.host,
                        target.port
                    );
                    last_error = Some(io::Error::new(
                        e.kind(),
                        format!("relay {}:{} at {address}: {e}", target.host, target.port),
                    ));
                    continue;
                }
                Err(_) => {
                    last_error = Some(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "relay {}:{} at {address}: connect timed out",
                            target.host, target.port
                        ),
                    ));
                    continue;
                }
            };
            super::configure_socket(&tcp, config);
            let host = Host::parse(&target.host)
                .map_err(|e| ConnectError::InvalidPath(format!("{}: {e}", target.host)))?;
            let mut uri = Uri::new(host, Some(target.port), None, settings.use_tls);
            if !settings.use_tls {
                return over_websocket(config, settings, Stream::Tcp(tcp), uri, &target.host).await;
            }
            // The name the certificate must carry: the host asked for, else
            // the domain (see the module comment).
            let name = settings
                .host
                .clone()
                .unwrap_or_else(|| settings.domain.clone());
            let name = name
                .trim_end_matches('.')
                .trim_matches(['[', ']'])
                .to_string();
            let verify = config.peer_verification(settings.fingerprint);
            let client = tls::client_config(config.identity.as_ref(), &verify)?;
            let s = tls::connect(tcp, client, &name).await?;
            uri.secure = true;
            return over_websocket(config, settings, Stream::TlsClient(Box::new(s)), uri, &name)
                .await;
        }
    }
    Err(ConnectError::Io(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no MSRP relay address for {}", settings.domain),
        )
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 1,
            target: target.into(),
        }
    }

    #[test]
    fn priority_first_then_weight() {
        let records = vec![srv(10, 1, "c"), srv(0, 1, "a"), srv(0, 2, "b")];
        // Random 0 picks the first of each group (with its zero weights first).
        let ordered = order_srv(records.clone(), |_| 0);
        let names: Vec<_> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // The largest random number picks the last of the group.
        let ordered = order_srv(records, |n| n);
        let names: Vec<_> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
    }

    #[test]
    fn weights_share_the_picks() {
        // Weight 3 against weight 1: the heavier record comes first about
        // three times in four over every possible random number.
        let mut first_heavy = 0;
        for pick in 0..=4 {
            let ordered = order_srv(vec![srv(0, 1, "light"), srv(0, 3, "heavy")], |_| pick);
            if ordered[0].target == "heavy" {
                first_heavy += 1;
            }
        }
        // Running sums 1 (light), 4 (heavy): picks 0 and 1 go to light.
        assert_eq!(first_heavy, 3);
    }

    #[test]
    fn zero_weights_still_come_out() {
        let ordered = order_srv(vec![srv(0, 0, "zero"), srv(0, 5, "five")], |_| 3);
        assert_eq!(ordered.len(), 2);
        assert_eq!(ordered[0].target, "five");
        assert_eq!(ordered[1].target, "zero");
    }
}
