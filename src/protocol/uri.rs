//! MSRP URIs (RFC 4975 §6, §9): parsing, formatting, and the §6.1 comparison
//! rules, plus parsing of a whole SDP `a=path` value.
//!
//! ```text
//! MSRP-URI  = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter)
//! msrp-scheme = "msrp" / "msrps"
//! session-id  = 1*( unreserved / "+" / "=" / "/" )
//! transport   = "tcp" / 1*ALPHANUM          (RFC 7977 adds "ws")
//! URI-parameter = token ["=" token]
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a URI (or a path of URIs) could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError {
    /// The rule of RFC 4975 §9 that the text breaks.
    pub rule: &'static str,
    /// The offending text (truncated to 200 bytes).
    pub text: String,
}

impl UriError {
    fn new(rule: &'static str, text: &str) -> UriError {
        let mut end = text.len().min(200);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        UriError {
            rule,
            text: text[..end].to_string(),
        }
    }
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid MSRP URI ({}): {:?}", self.rule, self.text)
    }
}

impl std::error::Error for UriError {}

/// The host part of an MSRP URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address (IPv6 is written in brackets).
    Ip(IpAddr),
    /// A DNS name, kept as written.
    Name(String),
}

impl Host {
    /// Parses a host as it appears in an authority (IPv6 in brackets).
    pub fn parse(text: &str) -> Result<Host, UriError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| UriError::new("IP-literal", text))?;
            return inner
                .parse::<std::net::Ipv6Addr>()
                .map(|a| Host::Ip(IpAddr::V6(a)))
                .map_err(|_| UriError::new("IPv6address", text));
        }
        if text.is_empty() {
            return Err(UriError::new("host", text));
        }
        if let Ok(v4) = text.parse::<std::net::Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(v4)));
        }
        // Bare IPv6 (without brackets) is accepted from Rust callers who pass an IpAddr's text.
        if text.contains(':') {
            return text
                .parse::<std::net::Ipv6Addr>()
                .map(|a| Host::Ip(IpAddr::V6(a)))
                .map_err(|_| UriError::new("host", text));
        }
        // reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986)
        let ok = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
        if !ok || text.contains(';') {
            return Err(UriError::new("reg-name", text));
        }
        Ok(Host::Name(text.to_string()))
    }

    /// The host as a string usable for connecting or as a TLS server name
    /// (IPv6 without brackets).
    pub fn connect_name(&self) -> String {
        match self {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.clone(),
        }
    }

    fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Ip(a), Host::Ip(b)) => a == b,
            (Host::Name(a), Host::Name(b)) => {
                // Names equal but for case decode to names equal but for
                // case: only other spellings need the decoding.
                a.eq_ignore_ascii_case(b)
                    || percent_decode_unreserved(a)
                        .eq_ignore_ascii_case(&percent_decode_unreserved(b))
            }
            _ => false,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// Decodes percent-encoded *unreserved* characters only (RFC 3986 §6.2.2.2),
/// which is the normalisation RFC 4975 §6.1 asks for.
fn percent_decode_unreserved(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                    out.push(v as char);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// An MSRP or MSRPS URI.
///
/// Equality (`==`) follows RFC 4975 §6.1: scheme and host case-insensitive
/// (IP addresses by value), userinfo ignored, ports must match exactly (there
/// is no default port), session id case-sensitive, transport case-insensitive,
/// other parameters ignored.
#[derive(Debug, Clone, Eq)]
pub struct Uri {
    /// `msrps` when true: the hop is reached over TLS.
    pub secure: bool,
    /// The userinfo part (before `@`), if any; ignored by comparison.
    pub user: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, if written. RFC 4975 has no default port (2855 is only recommended).
    pub port: Option<u16>,
    /// The session id (after `/`), if any.
    pub session_id: Option<String>,
    /// The transport parameter, lower-cased: `tcp`, `ws` (RFC 7977), or another token.
    pub transport: String,
    /// Other `;name[=value]` parameters, in order.
    pub parameters: Vec<(String, Option<String>)>,
}

impl Uri {
    /// Whether every part of the two URIs is the same, so that both are
    /// written the same (stricter than `==`, which is the comparison of RFC
    /// 4975 §6.1 and ignores case, userinfo and other parameters).
    pub fn is_identical(&self, other: &Uri) -> bool {
        self.secure == other.secure
            && self.port == other.port
            && self.host == other.host
            && self.session_id == other.session_id
            && self.transport == other.transport
            && self.user == other.user
            && self.parameters == other.parameters
    }

    /// A URI for a local endpoint: `msrp[s]://host:port/session_id;tcp`.
    pub fn new(host: Host, port: Option<u16>, session_id: Option<String>, secure: bool) -> Uri {
        Uri {
            secure,
            user: None,
            host,
            port,
            session_id,
            transport: "tcp".to_string(),
            parameters: Vec::new(),
        }
    }

    /// The scheme name, `msrp` or `msrps`.
    pub fn scheme(&self) -> &'static str {
        if self.secure {
            "msrps"
        } else {
            "msrp"
        }
    }

    /// Parses one URI.
    pub fn parse(text: &str) -> Result<Uri, UriError> {
        // Compare bytes: slicing the str at 7 or 8 would panic inside a
        // multi-byte character.
        let b = text.as_bytes();
        let (secure, rest) = if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"msrps://") {
            (true, &text[8..])
        } else if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"msrp://") {
            (false, &text[7..])
        } else {
            return Err(UriError::new("msrp-scheme", text));
        };
        // The authority ends at the first '/' or ';' (IPv6 literals contain neither).
        let auth_end = rest
            .find(['/', ';'])
            .ok_or_else(|| UriError::new("transport", text))?;
        let authority = &rest[..auth_end];
        let mut tail = &rest[auth_end..];
        let (user, hostport) = match authority.rfind('@') {
            Some(at) => {
                let user = &authority[..at];
                if !user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,=:".contains(&b))
                {
                    return Err(UriError::new("userinfo", text));
                }
                (Some(user.to_string()), &authority[at + 1..])
            }
            None => (None, authority),
        };
        let (host_text, port) =
            split_host_port(hostport).ok_or_else(|| UriError::new("port", text))?;
        let host = Host::parse(host_text).map_err(|e| UriError::new(e.rule, text))?;
        if matches!(host, Host::Ip(IpAddr::V6(_))) && !host_text.starts_with('[') {
            return Err(UriError::new("IP-literal", text));
        }
        let mut session_id = None;
        if let Some(after) = tail.strip_prefix('/') {
            let end = after
                .find(';')
                .ok_or_else(|| UriError::new("transport", text))?;
            let sid = &after[..end];
            // session-id = 1*( unreserved / "+" / "=" / "/" )
            if sid.is_empty()
                || !sid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~+=/%".contains(&b))
            {
                return Err(UriError::new("session-id", text));
            }
            session_id = Some(sid.to_string());
            tail = &after[end..];
        }
        // tail starts with ';'
        let mut params = tail[1..].split(';');
        let transport = params.next().unwrap_or("");
        if transport.is_empty() || !transport.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(UriError::new("transport", text));
        }
        let mut parameters = Vec::new();
        for p in params {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty()
                || !name.bytes().all(is_token_char)
                || value.is_some_and(|v| v.is_empty() || !v.bytes().all(is_token_char))
            {
                return Err(UriError::new("URI-parameter", text));
            }
            parameters.push((name.to_string(), value.map(str::to_string)));
        }
        Ok(Uri {
            secure,
            user,
            host,
            port,
            session_id,
            transport: transport.to_ascii_lowercase(),
            parameters,
        })
    }

    /// Parses a space-separated list of URIs: an SDP `a=path` value or a
    /// To-Path/From-Path/Use-Path header value. At least one URI is required.
    pub fn parse_path(text: &str) -> Result<Vec<Uri>, UriError> {
        let path: Vec<Uri> = text
            .split_ascii_whitespace()
            .map(Uri::parse)
            .collect::<Result<_, _>>()?;
        if path.is_empty() {
            return Err(UriError::new("path", text));
        }
        Ok(path)
    }

    /// Formats a path as a space-separated list (the `a=path` form).
    pub fn format_path(path: &[Uri]) -> String {
        let mut out = String::new();
        write_path(&mut out, path).expect("writing to a String");
        out
    }

    /// Session matching on the session id alone: for middleboxes that rewrite
    /// addresses (the practice behind RFC 6714's CEMA). Both URIs must carry a
    /// session id.
    pub fn same_session_id(&self, other: &Uri) -> bool {
        matches!((&self.session_id, &other.session_id), (Some(a), Some(b)) if a == b)
    }

    /// The socket address text `host:port` to connect to (IPv6 in brackets).
    /// `None` when the URI has no port: RFC 4975 has no default.
    pub fn authority(&self) -> Option<String> {
        self.port.map(|p| format!("{}:{}", self.host, p))
    }
}

fn is_token_char(b: u8) -> bool {
    // token (RFC 3261): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if text.starts_with('[') {
        let close = text.find(']')?;
        let host = &text[..=close];
        let rest = &text[close + 1..];
        if rest.is_empty() {
            return Some((host, None));
        }
        let port = rest.strip_prefix(':')?;
        return Some((host, Some(parse_port(port)?)));
    }
    match text.rfind(':') {
        // More than one colon without brackets: an unbracketed IPv6, rejected by the caller.
        Some(_) if text.matches(':').count() > 1 => Some((text, None)),
        Some(c) => Some((&text[..c], Some(parse_port(&text[c + 1..])?))),
        None => Some((text, None)),
    }
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl PartialEq for Uri {
    fn eq(&self, other: &Uri) -> bool {
        self.secure == other.secure
            && self.host.equivalent(&other.host)
            && self.port == other.port
            && self.session_id == other.session_id
            && self.transport.eq_ignore_ascii_case(&other.transport)
    }
}

impl std::hash::Hash for Uri {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with the §6.1 equality: only compared parts, normalised.
        self.secure.hash(state);
        match &self.host {
            Host::Ip(ip) => ip.hash(state),
            Host::Name(n) => percent_decode_unreserved(n)
                .to_ascii_lowercase()
                .hash(state),
        }
        self.port.hash(state);
        self.session_id.hash(state);
        self.transport.to_ascii_lowercase().hash(state);
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())?;
        f.write_str("://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(s) = &self.session_id {
            write!(f, "/{s}")?;
        }
        write!(f, ";{}", self.transport)?;
        for (n, v) in &self.parameters {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

/// A path: the URIs of a To-Path, From-Path or Use-Path header, or of an
/// SDP `a=path` attribute, in order (RFC 4975 §6: the first URI is the next
/// hop, the last the endpoint; §9: `To-Path = "To-Path:" SP MSRP-URI *( SP
/// MSRP-URI )`).
///
/// The URIs are shared: a clone counts a reference instead of copying them,
/// as every chunk of a connection carries the same two paths. A path reads
/// as a slice of URIs (`path[0]`, `path.iter()`, `path.len()`); it is made
/// from a `Vec<Uri>`, a slice, an array or one URI with `.into()`, and is
/// never changed in place (`path.to_vec()` gives a list to edit).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Path(std::sync::Arc<[Uri]>);

impl Path {
    /// A path of these URIs.
    pub fn new(uris: impl Into<Path>) -> Path {
        uris.into()
    }

    /// The URIs, first hop first.
    pub fn as_slice(&self) -> &[Uri] {
        &self.0
    }

    /// Parses a space-separated list of URIs (see [`Uri::parse_path`]).
    pub fn parse(text: &str) -> Result<Path, UriError> {
        Uri::parse_path(text).map(Path::from)
    }
}

impl std::ops::Deref for Path {
    type Target = [Uri];
    fn deref(&self) -> &[Uri] {
        &self.0
    }
}

impl AsRef<[Uri]> for Path {
    fn as_ref(&self) -> &[Uri] {
        &self.0
    }
}

impl std::borrow::Borrow<[Uri]> for Path {
    fn borrow(&self) -> &[Uri] {
        &self.0
    }
}

impl From<Vec<Uri>> for Path {
    fn from(uris: Vec<Uri>) -> Path {
        Path(uris.into())
    }
}

impl From<&[Uri]> for Path {
    fn from(uris: &[Uri]) -> Path {
        Path(uris.into())
    }
}

impl<const N: usize> From<[Uri; N]> for Path {
    fn from(uris: [Uri; N]) -> Path {
        Path(std::sync::Arc::new(uris))
    }
}

impl From<Uri> for Path {
    fn from(uri: Uri) -> Path {
        Path::from([uri])
    }
}

impl From<Path> for Vec<Uri> {
    fn from(path: Path) -> Vec<Uri> {
        path.0.to_vec()
    }
}

impl FromIterator<Uri> for Path {
    fn from_iter<I: IntoIterator<Item = Uri>>(uris: I) -> Path {
        Path(uris.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Path {
    type Item = &'a Uri;
    type IntoIter = std::slice::Iter<'a, Uri>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl PartialEq<[Uri]> for Path {
    fn eq(&self, other: &[Uri]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<Vec<Uri>> for Path {
    fn eq(&self, other: &Vec<Uri>) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Path> for Vec<Uri> {
    fn eq(&self, other: &Path) -> bool {
        **self == *other.0
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// The space-separated form of a header value or an SDP `a=path`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, &self.0)
    }
}

/// Writes `path` space-separated, as a header value or an SDP `a=path`.
fn write_path(out: &mut impl fmt::Write, path: &[Uri]) -> fmt::Result {
    for (i, u) in path.iter().enumerate() {
        if i > 0 {
            out.write_char(' ')?;
        }
        write!(out, "{u}")?;
    }
    Ok(())
}

impl FromStr for Path {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Path, UriError> {
        Path::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_clones_share_their_uris() {
        let text = "msrp://relay.example.com:2855/a1;tcp msrps://bob.example.com:9/b2;tcp";
        let path: Path = text.parse().unwrap();
        assert_eq!(path.len(), 2);
        assert_eq!(path.to_string(), text);
        assert_eq!(path, Uri::parse_path(text).unwrap());
        let copy = path.clone();
        assert!(std::ptr::eq(copy.as_slice(), path.as_slice()));
        let one = Path::from(path[1].clone());
        assert_eq!(one.to_string(), "msrps://bob.example.com:9/b2;tcp");
        assert_ne!(one, path);
        assert!(Path::parse("").is_err());
    }

    #[test]
    fn parses_rfc_examples() {
        let u = Uri::parse("msrp://atlanta.example.com:7654/jshA7weztas;tcp").unwrap();
        assert!(!u.secure);
        assert_eq!(u.host, Host::Name("atlanta.example.com".into()));
        assert_eq!(u.port, Some(7654));
        assert_eq!(u.session_id.as_deref(), Some("jshA7weztas"));
        assert_eq!(u.transport, "tcp");
        let u = Uri::parse("msrps://bob@relay.example.com:9999;tcp").unwrap();
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.session_id, None);
        let u = Uri::parse("msrp://[2001:db8::1]:2855/abc;ws;foo=bar;baz").unwrap();
        assert_eq!(u.host, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(u.transport, "ws");
        assert_eq!(
            u.parameters,
            vec![("foo".into(), Some("bar".into())), ("baz".into(), None)]
        );
        assert_eq!(
            u.to_string(),
            "msrp://[2001:db8::1]:2855/abc;ws;foo=bar;baz"
        );
        let u = Uri::parse("msrp://10.0.0.1/s;tcp").unwrap();
        assert_eq!(u.port, None);
        assert_eq!(u.authority(), None);
    }

    #[test]
    fn formats_back_identically() {
        for t in [
            "msrp://atlanta.example.com:7654/jshA7weztas;tcp",
            "msrps://bob@relay.example.com:9999;tcp",
            "msrp://127.0.0.1:0/a+b=c/d;tcp",
            "msrps://[::1]:1/x;tcp;k=v",
        ] {
            assert_eq!(Uri::parse(t).unwrap().to_string(), t);
        }
    }

    #[test]
    fn rejects_malformed() {
        for t in [
            "sip://a:1/x;tcp",
            "msrp://a:1/x",
            "msrp://a:1/;tcp",
            "msrp://:1/x;tcp",
            "msrp://a:99999/x;tcp",
            "msrp://a:/x;tcp",
            "msrp://a:1/x;",
            "msrp://a:1/x;t-c",
            "msrp://::1/x;tcp",
            "msrp://[::1/x;tcp",
            "msrp://a b:1/x;tcp",
            "msrp://a:1/x y;tcp",
            "msrp://a:1/x;tcp;=v",
        ] {
            assert!(Uri::parse(t).is_err(), "{t} should fail");
        }
    }

    #[test]
    fn comparison_follows_section_6_1() {
        let a = Uri::parse("MSRP://Atlanta.Example.COM:7654/jshA7weztas;TCP").unwrap();
        let b = Uri::parse("msrp://alice@atlanta.example.com:7654/jshA7weztas;tcp").unwrap();
        assert_eq!(
            a, b,
            "scheme, host and transport case-insensitive; userinfo ignored"
        );
        let c = Uri::parse("msrp://atlanta.example.com:7654/JSHA7weztas;tcp").unwrap();
        assert_ne!(a, c, "session id is case-sensitive");
        let d = Uri::parse("msrp://atlanta.example.com/jshA7weztas;tcp").unwrap();
        assert_ne!(a, d, "no default port");
        let e = Uri::parse("msrps://atlanta.example.com:7654/jshA7weztas;tcp").unwrap();
        assert_ne!(a, e, "scheme must match");
        let f = Uri::parse("msrp://atlanta.example.com:7654;tcp").unwrap();
        assert_ne!(a, f, "a URI without session id never equals one with");
        let g = Uri::parse("msrp://atlanta.example.com:7654/jshA7weztas;ws").unwrap();
        assert_ne!(a, g, "transport must match");
        let h = Uri::parse("msrp://[0:0::1]:1/s;tcp").unwrap();
        let i = Uri::parse("msrp://[::1]:1/s;tcp").unwrap();
        assert_eq!(h, i, "IP addresses compared by value");
        let j = Uri::parse("msrp://%61tlanta.example.com:7654/jshA7weztas;tcp").unwrap();
        assert_eq!(a, j, "percent-encoded unreserved characters decoded");
        assert!(a.same_session_id(&Uri::parse("msrp://10.1.1.1:1/jshA7weztas;tcp").unwrap()));
    }

    #[test]
    fn non_ascii_never_panics() {
        // A multi-byte character straddling the scheme's length used to panic.
        for t in [
            "msrps:/\u{e9}x",
            "msrp:/\u{e9}",
            "msrp://h\u{e9}st:1/s;tcp",
            "\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert!(Uri::parse(t).is_err(), "{t}");
        }
    }

    #[test]
    fn parses_paths() {
        let p = Uri::parse_path("msrps://relay.example.com:2855/a;tcp  msrp://10.0.0.1:1/b;tcp")
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            Uri::format_path(&p),
            "msrps://relay.example.com:2855/a;tcp msrp://10.0.0.1:1/b;tcp"
        );
        assert!(Uri::parse_path("   ").is_err());
    }
}
