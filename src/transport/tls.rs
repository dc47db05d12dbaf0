//! TLS for `msrps:` connections: the endpoint's identity, checking the peer's
//! certificate, rustls configurations, and the connect/accept handshakes.
//!
//! MSRP endpoints usually present self-signed certificates and authenticate each
//! other with the SHA-256 fingerprint carried in SDP (`a=fingerprint`, RFC 4572 /
//! RFC 8122, required by RFC 4975 §14.4). A certificate chain to configured trust
//! anchors (e.g. a relay's CA-issued certificate, RFC 4976) is the other option.
//! [`PeerVerification`] names which one applies; [`TrustAnchors`] holds the
//! anchors.
//!
//! Trust anchors follow what OpenSSL users expect of a self-signed certificate:
//! one made by `openssl req -x509` carries basic constraints `CA:TRUE`, and a
//! relay or PBX presents it as its own (end-entity) certificate. Such a
//! certificate is accepted when it is byte for byte one of the trust anchors
//! and self-signed, with its validity period, extended key usage and (on the
//! client side) the server name still checked. Any other end-entity certificate
//! with `CA:TRUE` is refused, as the Web PKI rules (rustls-webpki) say. See
//! [`TrustAnchors`].
//!
//! * On the client side the check runs inside the handshake: a certificate that
//!   does not pass makes the handshake fail before any application data is sent,
//!   and [`connect`] returns [`TlsError::FingerprintMismatch`] or
//!   [`TlsError::Untrusted`].
//! * A listener shared by many sessions cannot know, during the handshake, which
//!   session the client is for. [`server_config`] therefore asks for a client
//!   certificate without requiring one (checking only the handshake signature), and
//!   the session decides afterwards with [`check_client_certificate`] (or reads
//!   [`peer_fingerprint`]). A dedicated acceptor that knows its peer can instead use
//!   [`server_config_requiring`], which rejects the client in the handshake.
//!
//! All cryptography comes from rustls' *ring* provider, passed explicitly to every
//! configuration; the process-default provider is never consulted or installed.
//!
//! Note on TLS 1.3: a server rejects a client certificate *after* the client has
//! finished its side of the handshake, so with [`server_config_requiring`] the
//! client's [`connect`] can succeed and the rejection shows up as an error on the
//! client's first read (converted by `From<std::io::Error> for TlsError`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), msrp::transport::tls::TlsError> {
//! use msrp::transport::tls::{self, Fingerprint, PeerVerification, TlsIdentity};
//!
//! // Our identity; its fingerprint goes into our SDP as `a=fingerprint:sha-256 …`.
//! let me = TlsIdentity::self_signed(&["192.0.2.1"])?.identity;
//! println!("a=fingerprint:{}", me.fingerprint().to_sdp());
//!
//! // The peer's fingerprint from its SDP; checked inside the handshake.
//! let theirs: Fingerprint = "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
//!                            AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".parse()?;
//! let config = tls::client_config(Some(&me), &PeerVerification::Fingerprint(theirs))?;
//! let tcp = tokio::net::TcpStream::connect("192.0.2.2:2855").await?;
//! let stream = tls::connect(tcp, config, "192.0.2.2").await?;
//! # let _ = stream; Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, CommonState, DigitallySignedStruct,
    DistinguishedName, OtherError, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

/// The *ring* crypto provider, built once and shared by every configuration.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

// ---------------------------------------------------------------------------
// Fingerprint
// ---------------------------------------------------------------------------

/// SHA-256 certificate fingerprint as used in SDP `a=fingerprint` (RFC 4572 / RFC 8122).
///
/// Text forms: [`Display`](fmt::Display) gives the upper-case colon-separated hex
/// pairs (`AB:CD:…`), [`Fingerprint::to_sdp`] the attribute value with the hash
/// name (`sha-256 AB:CD:…`), and [`Fingerprint::parse`] / [`FromStr`] read either.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The SHA-256 of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses a fingerprint as given in SDP or on a command line: 32 colon-separated
    /// hex pairs in any case, optionally preceded by the hash name `sha-256` (any
    /// case) and white space. Surrounding white space is ignored.
    ///
    /// Anything else — another hash function, a wrong number of pairs, pairs that are
    /// not two hex digits, hex without colons — is a [`TlsError::InvalidFingerprint`]
    /// whose message says what is wrong.
    pub fn parse(text: &str) -> Result<Fingerprint, TlsError> {
        let invalid = |reason: String| {
            let shown: String = text.chars().take(120).collect();
            let ellipsis = if shown.len() < text.len() { "…" } else { "" };
            TlsError::InvalidFingerprint(format!(
                "invalid certificate fingerprint \"{shown}{ellipsis}\": {reason}"
            ))
        };
        let trimmed = text.trim();
        let hex = match trimmed.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((name, rest)) => {
                if !name.eq_ignore_ascii_case("sha-256") {
                    return Err(invalid(format!(
                        "unsupported hash function \"{name}\" (only sha-256 is supported)"
                    )));
                }
                rest.trim_start()
            }
            None if trimmed.eq_ignore_ascii_case("sha-256") => {
                return Err(invalid(
                    "the hex pairs after \"sha-256\" are missing".into(),
                ));
            }
            None => trimmed,
        };
        if hex.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if !hex.contains(':') {
            return Err(invalid(
                "expected 32 hex pairs separated by colons, like AB:CD:…:EF".into(),
            ));
        }
        let pairs: Vec<&str> = hex.split(':').collect();
        if pairs.len() != 32 {
            return Err(invalid(format!(
                "expected 32 colon-separated hex pairs (a SHA-256 digest), found {}",
                pairs.len()
            )));
        }
        let mut bytes = [0u8; 32];
        for (i, (pair, byte)) in pairs.iter().zip(bytes.iter_mut()).enumerate() {
            let ok = pair.len() == 2 && pair.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(invalid(format!(
                    "pair {} \"{pair}\" is not two hex digits",
                    i + 1
                )));
            }
            *byte = u8::from_str_radix(pair, 16).map_err(|e| invalid(e.to_string()))?;
        }
        Ok(Fingerprint(bytes))
    }

    /// The SDP `a=fingerprint` attribute value: `sha-256 AB:CD:…`.
    pub fn to_sdp(&self) -> String {
        format!("sha-256 {self}")
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    /// Upper-case colon-separated hex pairs, `AB:CD:…` (no hash name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fingerprint::parse(s)
    }
}

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

/// The endpoint's own certificate chain and private key, checked to belong together.
///
/// Cheap to clone (one `Arc` inside). `Debug` shows the fingerprint, never the key.
#[derive(Clone)]
pub struct TlsIdentity {
    inner: Arc<IdentityInner>,
}

struct IdentityInner {
    certified: Arc<CertifiedKey>,
    fingerprint: Fingerprint,
}

/// A freshly generated self-signed identity, with its PEM texts for saving.
pub struct SelfSigned {
    /// The identity, ready for the config functions.
    pub identity: TlsIdentity,
    /// The certificate, PEM-encoded (`CERTIFICATE`).
    pub cert_pem: String,
    /// The private key, PEM-encoded (PKCS#8 `PRIVATE KEY`). Secret.
    pub key_pem: String,
}

impl fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSigned")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.inner.fingerprint)
            .field("chain_len", &self.inner.certified.cert.len())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads an identity from PEM text: `cert_chain_pem` holds one or more
    /// `CERTIFICATE` sections, end-entity first; `key_pem` holds the private key as
    /// PKCS#8 (`PRIVATE KEY`), PKCS#1 RSA (`RSA PRIVATE KEY`) or SEC1 EC
    /// (`EC PRIVATE KEY`). Other sections are ignored. Encrypted keys are not
    /// supported. Fails if the key does not match the end-entity certificate.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Self::from_pem_labelled(
            cert_chain_pem,
            key_pem,
            "the certificate PEM",
            "the key PEM",
        )
    }

    /// Like [`TlsIdentity::from_pem`], reading the two files; errors name the file.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let cert_pem = read_file(cert)?;
        let key_pem = read_file(key)?;
        Self::from_pem_labelled(
            &cert_pem,
            &key_pem,
            &format!("certificate file {}", cert.display()),
            &format!("key file {}", key.display()),
        )
    }

    fn from_pem_labelled(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        cert_label: &str,
        key_label: &str,
    ) -> Result<Self, TlsError> {
        let chain = certificates_from_pem(cert_chain_pem, cert_label)?;
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) => {
                let text = String::from_utf8_lossy(key_pem);
                let hint = if text.contains("ENCRYPTED PRIVATE KEY")
                    || text.contains("Proc-Type: 4,ENCRYPTED")
                {
                    "; the key is encrypted, which is not supported (decrypt it first, \
                     e.g. with `openssl pkey`)"
                } else {
                    ""
                };
                return Err(TlsError::Pem(format!(
                    "{key_label}: no private key found (expected a PEM section \
                     \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"){hint}"
                )));
            }
            Err(e) => return Err(TlsError::Pem(format!("{key_label}: {}", describe_pem(&e)))),
        };
        Self::from_der_labelled(chain, key, cert_label, key_label)
    }

    /// Builds an identity from DER: the chain (end-entity first) and its private key.
    pub fn from_der(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        Self::from_der_labelled(cert_chain, key, "the certificate", "the private key")
    }

    fn from_der_labelled(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_label: &str,
        key_label: &str,
    ) -> Result<Self, TlsError> {
        let Some(end_entity) = cert_chain.first() else {
            return Err(TlsError::Pem(format!(
                "{cert_label}: the certificate chain is empty"
            )));
        };
        let fingerprint = Fingerprint::of_certificate(end_entity);
        let certified =
            CertifiedKey::from_der(cert_chain, key, &provider()).map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => TlsError::Key(format!(
                    "the private key ({key_label}) does not belong to the first certificate \
                 ({cert_label})"
                )),
                rustls::Error::InvalidCertificate(_) => TlsError::Pem(format!(
                    "{cert_label}: the first certificate cannot be used: {}",
                    describe_rustls(&e)
                )),
                other => TlsError::Key(format!(
                    "{key_label}: the private key cannot be used: {}",
                    describe_rustls(&other)
                )),
            })?;
        Ok(TlsIdentity {
            inner: Arc::new(IdentityInner {
                certified: Arc::new(certified),
                fingerprint,
            }),
        })
    }

    /// Generates a self-signed ECDSA P-256 certificate and key (with rcgen).
    ///
    /// `subject_alt_names` are DNS names or IP literals (IPv6 with or without
    /// brackets); the first one is also the subject common name (`libmsrp` if the
    /// list is empty). The certificate allows both server and client
    /// authentication; its validity period is rcgen's default (1975 to 4096),
    /// which fingerprint checking ignores anyway.
    pub fn self_signed(subject_alt_names: &[&str]) -> Result<SelfSigned, TlsError> {
        let generate_error =
            |e: rcgen::Error| TlsError::Config(format!("cannot generate a certificate: {e}"));
        let names: Vec<String> = subject_alt_names
            .iter()
            .map(|n| {
                n.strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .unwrap_or(n)
                    .to_owned()
            })
            .collect();
        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate_error)?;
        let mut params = rcgen::CertificateParams::new(names.clone()).map_err(|e| {
            TlsError::Config(format!(
                "cannot make a certificate for {names:?}: {e} (each name must be a DNS \
                 name or an IP address)"
            ))
        })?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CommonName,
            names.first().map(String::as_str).unwrap_or("libmsrp"),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key).map_err(generate_error)?;
        let identity = TlsIdentity::from_der(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
        Ok(SelfSigned {
            identity,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The SHA-256 fingerprint of the end-entity certificate (for SDP `a=fingerprint`).
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.fingerprint
    }

    /// The certificate chain, end-entity first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.inner.certified.cert
    }

    fn resolver(&self) -> Arc<SingleCertAndKey> {
        Arc::new(SingleCertAndKey::from(self.inner.certified.clone()))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::File {
        path: path.to_owned(),
        source,
    })
}

fn describe_pem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            let label = String::from_utf8_lossy(end_marker);
            format!("a PEM section is not terminated (missing \"-----END {label}-----\")")
        }
        pem::Error::IllegalSectionStart { line } => format!(
            "malformed PEM BEGIN line \"{}\"",
            String::from_utf8_lossy(line)
        ),
        pem::Error::Base64Decode(detail) => {
            format!("a PEM section's body is not valid base64 ({detail})")
        }
        pem::Error::NoItemsFound => "no PEM section of the expected kind".into(),
        other => other.to_string(),
    }
}

fn certificates_from_pem(
    pem_text: &[u8],
    label: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(format!("{label}: {}", describe_pem(&e))))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(format!(
            "{label}: no certificate found (expected a PEM section \"CERTIFICATE\")"
        )));
    }
    Ok(certs)
}

// ---------------------------------------------------------------------------
// Peer verification
// ---------------------------------------------------------------------------

/// Trust anchors for a peer's certificate chain: the certificate authorities
/// (and self-signed certificates) a peer's certificate may chain to.
///
/// Made from certificates ([`TrustAnchors::from_pem`], [`TrustAnchors::from_file`],
/// [`TrustAnchors::from_certificates`]), the anchors keep each certificate's DER
/// besides rustls' [`RootCertStore`], for this rule:
///
/// **A self-signed trust anchor presented as the end-entity certificate is
/// accepted.** `openssl req -x509` makes certificates with basic constraints
/// `CA:TRUE`, and relays and PBXs present them as their own certificate; the Web
/// PKI rules refuse a CA certificate as end-entity (rustls' `CaUsedAsEndEntity`).
/// Here such a certificate passes when all of these hold:
/// * the peer's end-entity certificate is byte for byte (the same DER) one of the
///   certificates given as trust anchors;
/// * it is self-signed: its issuer is its subject and its signature verifies
///   with its own public key;
/// * the current time is within its validity period;
/// * its extended key usage, if it has one, allows server authentication (for a
///   server's certificate) or client authentication (for a client's);
/// * on the client side, it is valid for the server name given to [`connect`]
///   (an IP address SAN for an IP literal, a DNS SAN for a name).
///
/// Any other end-entity certificate with `CA:TRUE` is still refused (e.g. a CA
/// certificate issued by an anchor, or one with the same subject and key as an
/// anchor but not the same bytes). Anchors converted from a [`RootCertStore`]
/// (e.g. a store of public CAs) have no certificates to compare and follow the
/// Web PKI rules only. The handshake signature always proves the peer holds the
/// certificate's private key.
///
/// Cheap to clone (two `Arc`s inside).
#[derive(Clone)]
pub struct TrustAnchors {
    roots: Arc<RootCertStore>,
    /// The DER of every certificate given as an anchor, for the rule above.
    certificates: Arc<[CertificateDer<'static>]>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("roots", &self.roots.len())
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

impl TrustAnchors {
    /// Trust anchors from PEM text with one or more `CERTIFICATE` sections. Every
    /// certificate must be usable as a trust anchor; at least one is required.
    pub fn from_pem(pem_text: &[u8]) -> Result<TrustAnchors, TlsError> {
        trust_anchors_labelled(pem_text, "the trust anchor PEM")
    }

    /// Like [`TrustAnchors::from_pem`], reading a file; errors name the file.
    pub fn from_file(path: &Path) -> Result<TrustAnchors, TlsError> {
        let text = read_file(path)?;
        trust_anchors_labelled(&text, &format!("trust anchor file {}", path.display()))
    }

    /// Trust anchors from DER certificates; at least one is required.
    pub fn from_certificates(
        certificates: Vec<CertificateDer<'static>>,
    ) -> Result<TrustAnchors, TlsError> {
        if certificates.is_empty() {
            return Err(TlsError::Pem("no trust anchor certificate given".into()));
        }
        anchors_from_certificates(certificates, "the trust anchors")
    }

    /// How many anchors there are.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are none (only possible when converted from an empty
    /// [`RootCertStore`]).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// rustls' view of the anchors (subject, public key, name constraints).
    pub fn root_store(&self) -> &Arc<RootCertStore> {
        &self.roots
    }

    /// Whether `end_entity` is byte for byte one of the certificates given.
    fn contains_certificate(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.certificates
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
    }
}

/// Anchors without certificates: the Web PKI rules only (see [`TrustAnchors`]).
impl From<Arc<RootCertStore>> for TrustAnchors {
    fn from(roots: Arc<RootCertStore>) -> Self {
        TrustAnchors {
            roots,
            certificates: Arc::from(Vec::new()),
        }
    }
}

/// Anchors without certificates: the Web PKI rules only (see [`TrustAnchors`]).
impl From<RootCertStore> for TrustAnchors {
    fn from(roots: RootCertStore) -> Self {
        TrustAnchors::from(Arc::new(roots))
    }
}

/// How to check the other side's certificate.
#[derive(Clone, Debug)]
pub enum PeerVerification {
    /// Nothing configured. Valid only for a server that does not require client
    /// certificates ([`server_config`]); [`client_config`] rejects it.
    None,
    /// Verify the chain against these trust anchors (and, on the client side, the
    /// server name given to [`connect`]), including validity dates and key usage;
    /// a self-signed anchor may be the peer's own certificate (see
    /// [`TrustAnchors`]).
    TrustAnchors(TrustAnchors),
    /// The end-entity certificate's SHA-256 must equal this (self-signed
    /// certificates are the norm in MSRP). The handshake signature is still
    /// verified; the name and validity dates are not checked.
    Fingerprint(Fingerprint),
    /// Either check passing is enough (useful when both were given).
    AnchorsOrFingerprint(TrustAnchors, Fingerprint),
}

impl PeerVerification {
    /// The verification for optional trust anchors and an optional fingerprint
    /// (e.g. the `--ca` and `--fingerprint` options): both → either suffices.
    pub fn new(anchors: Option<TrustAnchors>, fingerprint: Option<Fingerprint>) -> Self {
        match (anchors, fingerprint) {
            (None, None) => PeerVerification::None,
            (Some(a), None) => PeerVerification::TrustAnchors(a),
            (None, Some(f)) => PeerVerification::Fingerprint(f),
            (Some(a), Some(f)) => PeerVerification::AnchorsOrFingerprint(a, f),
        }
    }

    /// [`TrustAnchors::from_pem`].
    pub fn trust_anchors_from_pem(pem_text: &[u8]) -> Result<TrustAnchors, TlsError> {
        TrustAnchors::from_pem(pem_text)
    }

    /// [`TrustAnchors::from_file`].
    pub fn trust_anchors_from_file(path: &Path) -> Result<TrustAnchors, TlsError> {
        TrustAnchors::from_file(path)
    }

    fn parts(&self) -> (Option<&TrustAnchors>, Option<Fingerprint>) {
        match self {
            PeerVerification::None => (None, None),
            PeerVerification::TrustAnchors(a) => (Some(a), None),
            PeerVerification::Fingerprint(f) => (None, Some(*f)),
            PeerVerification::AnchorsOrFingerprint(a, f) => (Some(a), Some(*f)),
        }
    }
}

fn trust_anchors_labelled(pem_text: &[u8], label: &str) -> Result<TrustAnchors, TlsError> {
    anchors_from_certificates(certificates_from_pem(pem_text, label)?, label)
}

fn anchors_from_certificates(
    certs: Vec<CertificateDer<'static>>,
    label: &str,
) -> Result<TrustAnchors, TlsError> {
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(cert.clone()).map_err(|e| {
            TlsError::Pem(format!(
                "{label}: certificate #{} cannot be used as a trust anchor: {}",
                i + 1,
                describe_rustls(&e)
            ))
        })?;
    }
    Ok(TrustAnchors {
        roots: Arc::new(store),
        certificates: Arc::from(certs),
    })
}

/// What the peer's certificate is checked for.
#[derive(Clone, Copy)]
enum Role<'a> {
    /// A server's certificate, valid for this name.
    Server(&'a ServerName<'a>),
    /// A client's certificate.
    Client,
}

/// Runs the Web PKI chain check `webpki`; where it refuses the end-entity only
/// for being a CA certificate, applies the self-signed trust anchor rule (see
/// [`TrustAnchors`]) instead.
fn check_chain(
    anchors: &TrustAnchors,
    end_entity: &CertificateDer<'_>,
    role: Role<'_>,
    now: UnixTime,
    webpki: impl FnOnce() -> Result<(), rustls::Error>,
) -> Result<(), rustls::Error> {
    match webpki() {
        Err(e) if is_ca_used_as_end_entity(&e) && anchors.contains_certificate(end_entity) => {
            check_presented_anchor(end_entity, role, now).map_err(|refusal| refusal.unwrap_or(e))
        }
        other => other,
    }
}

fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

/// The checks of the self-signed trust anchor rule for `end_entity`, already
/// known to be byte for byte a trust anchor. `Err(None)`: the rule does not apply
/// (the certificate is not self-signed), so the chain check's own refusal stands.
fn check_presented_anchor(
    end_entity: &CertificateDer<'_>,
    role: Role<'_>,
    now: UnixTime,
) -> Result<(), Option<rustls::Error>> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity) else {
        return Err(Some(CertificateError::BadEncoding.into()));
    };
    // Self-signed (RFC 5280 §3.2): self-issued, and its own key verifies the
    // signature.
    if cert.issuer().as_raw() != cert.subject().as_raw() || cert.verify_signature(None).is_err() {
        return Err(None);
    }
    // Validity period (RFC 5280 §4.1.2.5), inclusive at both ends as in
    // rustls-webpki. rustls-webpki 0.103 checks it before basic constraints, so
    // an expired certificate never gets here; checked again so that the rule
    // does not depend on that order.
    let time = i128::from(now.as_secs());
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let as_unix = |t: i64| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.try_into().unwrap_or(0)))
    };
    if time < i128::from(not_before) {
        return Err(Some(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: as_unix(not_before),
            }
            .into(),
        ));
    }
    if time > i128::from(not_after) {
        return Err(Some(
            CertificateError::ExpiredContext {
                time: now,
                not_after: as_unix(not_after),
            }
            .into(),
        ));
    }
    // Extended key usage (RFC 5280 §4.2.1.12): when present, it must name the
    // purpose, as rustls-webpki requires of end-entity certificates.
    let eku = cert
        .extended_key_usage()
        .map_err(|_| Some(CertificateError::BadEncoding.into()))?;
    if let Some(eku) = eku {
        let allowed = match role {
            Role::Server(_) => eku.value.server_auth,
            Role::Client => eku.value.client_auth,
        };
        if !allowed {
            return Err(Some(CertificateError::InvalidPurpose.into()));
        }
    }
    // The name, by rustls-webpki's rules (RFC 6125: SAN only, IP literals
    // against IP address SANs).
    if let Role::Server(name) = role {
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity).map_err(Some)?;
        rustls::client::verify_server_name(&parsed, name).map_err(Some)?;
    }
    Ok(())
}

/// Why a verifier turned the peer's certificate down; carried through rustls inside
/// `CertificateError::Other` and turned back into a [`TlsError`].
#[derive(Debug, Clone)]
enum Rejection {
    Mismatch {
        expected: Fingerprint,
        presented: Fingerprint,
    },
    Untrusted {
        presented: Fingerprint,
        expected: Option<Fingerprint>,
        reason: String,
    },
}

impl Rejection {
    fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(self))))
    }

    fn to_tls_error(&self) -> TlsError {
        match self.clone() {
            Rejection::Mismatch {
                expected,
                presented,
            } => TlsError::FingerprintMismatch {
                expected,
                presented: Some(presented),
            },
            Rejection::Untrusted {
                presented,
                expected,
                reason,
            } => TlsError::Untrusted {
                presented: Some(presented),
                expected,
                reason,
            },
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_tls_error().fmt(f)
    }
}

impl std::error::Error for Rejection {}

/// The shared decision: a matching fingerprint is enough; otherwise the chain check
/// (if there are trust anchors) decides.
fn decide(
    end_entity: &CertificateDer<'_>,
    fingerprint: Option<Fingerprint>,
    chain_check: Option<impl FnOnce() -> Result<(), rustls::Error>>,
) -> Result<(), Rejection> {
    let presented = Fingerprint::of_certificate(end_entity);
    if fingerprint == Some(presented) {
        return Ok(());
    }
    match (chain_check, fingerprint) {
        (Some(check), expected) => check().map_err(|e| Rejection::Untrusted {
            presented,
            expected,
            reason: describe_rustls(&e),
        }),
        (None, Some(expected)) => Err(Rejection::Mismatch {
            expected,
            presented,
        }),
        // Nothing to check against: callers never build a verifier like that.
        (None, None) => Ok(()),
    }
}

/// Client side: checks the server's certificate by fingerprint and/or chain.
#[derive(Debug)]
struct ServerVerifier {
    anchors: Option<(TrustAnchors, Arc<WebPkiServerVerifier>)>,
    fingerprint: Option<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain_check = self.anchors.as_ref().map(|(anchors, v)| {
            move || {
                check_chain(anchors, end_entity, Role::Server(server_name), now, || {
                    v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                        .map(|_| ())
                })
            }
        });
        decide(end_entity, self.fingerprint, chain_check)
            .map(|()| ServerCertVerified::assertion())
            .map_err(Rejection::into_rustls)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Server side: asks for a client certificate; `required` decides whether one must
/// be presented and checked against `fingerprint`/`anchors` in the handshake.
#[derive(Debug)]
struct ClientVerifier {
    required: bool,
    anchors: Option<(TrustAnchors, Arc<dyn ClientCertVerifier>)>,
    fingerprint: Option<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Hint the CAs only when a CA-issued certificate is the sole way in; an empty
        // list tells the client to send whatever certificate it has.
        match (&self.anchors, self.fingerprint) {
            (Some((_, v)), None) => v.root_hint_subjects(),
            _ => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if !self.required {
            // Accept any certificate here: the session decides after the handshake
            // (check_client_certificate). The signature check still proves the
            // client holds the certificate's key.
            return Ok(ClientCertVerified::assertion());
        }
        let chain_check = self.anchors.as_ref().map(|(anchors, v)| {
            move || {
                check_chain(anchors, end_entity, Role::Client, now, || {
                    v.verify_client_cert(end_entity, intermediates, now)
                        .map(|_| ())
                })
            }
        });
        decide(end_entity, self.fingerprint, chain_check)
            .map(|()| ClientCertVerified::assertion())
            .map_err(Rejection::into_rustls)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn webpki_client_verifier(
    anchors: &TrustAnchors,
) -> Result<(TrustAnchors, Arc<dyn ClientCertVerifier>), TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(anchors.roots.clone(), provider())
        .build()
        .map_err(|e| TlsError::Config(format!("cannot use the trust anchors: {e}")))?;
    Ok((anchors.clone(), verifier))
}

// ---------------------------------------------------------------------------
// Configurations
// ---------------------------------------------------------------------------

/// A client configuration: presents `identity` if the server asks for a client
/// certificate (and `identity` is given), and checks the server per `verify`,
/// inside the handshake.
///
/// [`PeerVerification::None`] is an error: a TLS client needs trust anchors or a
/// fingerprint.
pub fn client_config(
    identity: Option<&TlsIdentity>,
    verify: &PeerVerification,
) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with_versions(identity, verify, rustls::DEFAULT_VERSIONS)
}

fn client_config_with_versions(
    identity: Option<&TlsIdentity>,
    verify: &PeerVerification,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, TlsError> {
    let (anchors, fingerprint) = verify.parts();
    if anchors.is_none() && fingerprint.is_none() {
        return Err(TlsError::Config(
            "a TLS client needs trust anchors or a fingerprint to check the server's \
             certificate"
                .into(),
        ));
    }
    let anchors = anchors
        .map(|a| {
            WebPkiServerVerifier::builder_with_provider(a.roots.clone(), provider())
                .build()
                .map(|v| (a.clone(), v))
                .map_err(|e| TlsError::Config(format!("cannot use the trust anchors: {e}")))
        })
        .transpose()?;
    let verifier = Arc::new(ServerVerifier {
        anchors,
        fingerprint,
        provider: provider(),
    });
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match identity {
        Some(id) => builder.with_client_cert_resolver(id.resolver()),
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A server configuration for a listener shared by many sessions: presents
/// `identity`; asks for a client certificate but does not require one (MSRP peers
/// may present one). A presented certificate must come with a valid handshake
/// signature, but which certificate is acceptable is decided per session after the
/// handshake, with [`check_client_certificate`] or [`peer_fingerprint`].
pub fn server_config(identity: &TlsIdentity) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = ClientVerifier {
        required: false,
        anchors: None,
        fingerprint: None,
        provider: provider(),
    };
    build_server_config(identity, Arc::new(verifier), rustls::DEFAULT_VERSIONS)
}

/// A server configuration that requires, in the handshake, a client certificate
/// matching `verify` (for a dedicated acceptor that knows its peer). A client
/// without a certificate fails with [`TlsError::NoPeerCertificate`], one with the
/// wrong certificate with [`TlsError::FingerprintMismatch`] or
/// [`TlsError::Untrusted`], on the [`accept`] side. [`PeerVerification::None`] is
/// an error (use [`server_config`]).
pub fn server_config_requiring(
    identity: &TlsIdentity,
    verify: &PeerVerification,
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_requiring_with_versions(identity, verify, rustls::DEFAULT_VERSIONS)
}

fn server_config_requiring_with_versions(
    identity: &TlsIdentity,
    verify: &PeerVerification,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let (anchors, fingerprint) = verify.parts();
    if anchors.is_none() && fingerprint.is_none() {
        return Err(TlsError::Config(
            "requiring a client certificate needs trust anchors or a fingerprint to check \
             it against"
                .into(),
        ));
    }
    let verifier = ClientVerifier {
        required: true,
        anchors: anchors.map(webpki_client_verifier).transpose()?,
        fingerprint,
        provider: provider(),
    };
    build_server_config(identity, Arc::new(verifier), versions)
}

fn build_server_config(
    identity: &TlsIdentity,
    verifier: Arc<dyn ClientCertVerifier>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(identity.resolver());
    Ok(Arc::new(config))
}

// ---------------------------------------------------------------------------
// After the handshake
// ---------------------------------------------------------------------------

/// The peer's end-entity certificate fingerprint after the handshake, if it
/// presented a certificate. Works on client and server connections alike
/// (`&ServerConnection` and `&ClientConnection` deref to `CommonState`).
pub fn peer_fingerprint(conn: &CommonState) -> Option<Fingerprint> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .map(|ee| Fingerprint::of_certificate(ee))
}

/// Decides, after a handshake on a [`server_config`] listener, whether the client
/// is acceptable for a session expecting `verify`. Returns the client's
/// fingerprint (if it presented a certificate) on success.
///
/// [`PeerVerification::None`] accepts any client. Otherwise the client must have
/// presented a certificate ([`TlsError::NoPeerCertificate`]) that matches the
/// fingerprint ([`TlsError::FingerprintMismatch`]) or chains to the anchors as a
/// client certificate ([`TlsError::Untrusted`]). The handshake already proved the
/// client holds the certificate's private key.
pub fn check_client_certificate(
    conn: &CommonState,
    verify: &PeerVerification,
) -> Result<Option<Fingerprint>, TlsError> {
    let (anchors, fingerprint) = verify.parts();
    let chain = conn.peer_certificates().unwrap_or(&[]);
    let Some((end_entity, intermediates)) = chain.split_first() else {
        return match (anchors, fingerprint) {
            (None, None) => Ok(None),
            (_, Some(expected)) => Err(TlsError::FingerprintMismatch {
                expected,
                presented: None,
            }),
            (Some(_), None) => Err(TlsError::NoPeerCertificate),
        };
    };
    let webpki = anchors.map(webpki_client_verifier).transpose()?;
    let now = UnixTime::now();
    let chain_check = webpki.as_ref().map(|(anchors, v)| {
        move || {
            check_chain(anchors, end_entity, Role::Client, now, || {
                v.verify_client_cert(end_entity, intermediates, now)
                    .map(|_| ())
            })
        }
    });
    if anchors.is_some() || fingerprint.is_some() {
        decide(end_entity, fingerprint, chain_check).map_err(|r| r.to_tls_error())?;
    }
    Ok(Some(Fingerprint::of_certificate(end_entity)))
}

// ---------------------------------------------------------------------------
// Handshakes
// ---------------------------------------------------------------------------

/// The [`ServerName`] for connecting to `host` from an MSRP URI: an IPv4 literal,
/// an IPv6 literal with or without brackets, or a DNS name. With trust anchors the
/// server certificate must be valid for it (an IP SAN for an IP literal); no SNI is
/// sent for IP literals.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    if let Some(inner) = host.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| ServerName::IpAddress(IpAddr::V6(ip).into()))
            .map_err(|_| {
                TlsError::InvalidServerName(format!("\"{host}\" is not a valid IPv6 literal"))
            });
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_owned()).map_err(|_| {
        TlsError::InvalidServerName(format!("\"{host}\" is not a valid host name or IP address"))
    })
}

/// Runs the client handshake over `stream` (usually a `TcpStream`) to `host` (see
/// [`server_name`]). The server's certificate is checked inside the handshake per
/// the config's [`PeerVerification`]: on failure nothing has been sent but
/// handshake messages. No timeout is applied; wrap in `tokio::time::timeout`.
pub async fn connect<S>(
    stream: S,
    config: Arc<ClientConfig>,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = server_name(host)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(handshake_error)
}

/// Runs the server handshake over `stream`. With [`server_config`], check the
/// client afterwards with [`check_client_certificate`]. No timeout is applied.
pub async fn accept<S>(
    stream: S,
    config: Arc<ServerConfig>,
) -> Result<tokio_rustls::server::TlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio_rustls::TlsAcceptor::from(config)
        .accept(stream)
        .await
        .map_err(handshake_error)
}

fn handshake_error(e: io::Error) -> TlsError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof if e.get_ref().is_none_or(|i| !i.is::<rustls::Error>()) => {
            TlsError::Handshake("the peer closed the connection during the TLS handshake".into())
        }
        _ => TlsError::from(e),
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Errors of this module. Every message is meant to be shown to an end user as is.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A fingerprint text could not be parsed.
    InvalidFingerprint(String),
    /// PEM text is malformed or lacks the expected section, or a certificate in it
    /// cannot be parsed or used.
    Pem(String),
    /// The private key cannot be used or does not match the certificate.
    Key(String),
    /// A certificate, key or trust anchor file could not be read.
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An unusable configuration (e.g. a client with nothing to check the server
    /// against), or certificate generation failed.
    Config(String),
    /// A host that cannot be a TLS server name.
    InvalidServerName(String),
    /// The peer's certificate is not the one whose fingerprint was expected
    /// (`presented` is `None` when it presented no certificate).
    FingerprintMismatch {
        /// The fingerprint that was expected (e.g. from SDP).
        expected: Fingerprint,
        /// The fingerprint of the certificate the peer presented.
        presented: Option<Fingerprint>,
    },
    /// The peer's certificate failed chain verification against the trust anchors
    /// (and, if one was given, did not match the expected fingerprint either).
    Untrusted {
        /// The fingerprint of the certificate the peer presented.
        presented: Option<Fingerprint>,
        /// The fingerprint that would also have been accepted, if any.
        expected: Option<Fingerprint>,
        /// Why the chain was not accepted.
        reason: String,
    },
    /// The peer presented no certificate but one is required.
    NoPeerCertificate,
    /// The TLS handshake (or the TLS session) failed for another reason, including
    /// the peer rejecting this endpoint or its certificate.
    Handshake(String),
    /// An I/O error on the underlying connection.
    Io(io::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::InvalidFingerprint(m)
            | TlsError::Pem(m)
            | TlsError::Key(m)
            | TlsError::Config(m)
            | TlsError::InvalidServerName(m)
            | TlsError::Handshake(m) => f.write_str(m),
            TlsError::File { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::FingerprintMismatch {
                expected,
                presented: Some(presented),
            } => write!(
                f,
                "peer certificate fingerprint {presented} does not match expected {expected}"
            ),
            TlsError::FingerprintMismatch {
                expected,
                presented: None,
            } => write!(
                f,
                "peer presented no certificate; expected one with fingerprint {expected}"
            ),
            TlsError::Untrusted {
                presented,
                expected,
                reason,
            } => {
                f.write_str("peer certificate ")?;
                if let Some(p) = presented {
                    write!(f, "{p} ")?;
                }
                write!(f, "is not trusted: {reason}")?;
                if let Some(e) = expected {
                    write!(f, "; nor does it match the expected fingerprint {e}")?;
                }
                Ok(())
            }
            TlsError::NoPeerCertificate => {
                f.write_str("peer presented no certificate, but one is required")
            }
            TlsError::Io(e) => write!(f, "connection error: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::File { source, .. } | TlsError::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        if let rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = &e {
            if let Some(rejection) = inner.downcast_ref::<Rejection>() {
                return rejection.to_tls_error();
            }
        }
        match e {
            rustls::Error::NoCertificatesPresented => TlsError::NoPeerCertificate,
            rustls::Error::InvalidCertificate(_) => TlsError::Untrusted {
                presented: None,
                expected: None,
                reason: describe_rustls(&e),
            },
            other => TlsError::Handshake(describe_rustls(&other)),
        }
    }
}

/// Unwraps the `rustls::Error` that tokio-rustls puts inside `io::Error`, so that
/// handshake failures and TLS errors on later reads get their specific variant.
impl From<io::Error> for TlsError {
    fn from(e: io::Error) -> Self {
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return TlsError::from(tls.clone());
        }
        if let Some(rejection) = e.get_ref().and_then(|i| i.downcast_ref::<Rejection>()) {
            return rejection.to_tls_error();
        }
        TlsError::Io(e)
    }
}

/// For the transport layer, which speaks `io::Error`: the `TlsError` stays
/// reachable with `get_ref()`/`into_inner()` and a downcast.
impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

/// A user-facing description of a rustls error.
fn describe_rustls(e: &rustls::Error) -> String {
    use rustls::Error as E;
    use AlertDescription as A;
    use CertificateError as C;
    match e {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                "it is not issued by a trusted certificate authority (unknown issuer)".into()
            }
            C::BadEncoding => "it is not a well-formed X.509 certificate".into(),
            C::Expired => "it has expired".into(),
            C::NotValidYet => "it is not valid yet".into(),
            C::Revoked => "it has been revoked".into(),
            C::NotValidForName => "it is not valid for the host name".into(),
            C::InvalidPurpose => "it is not valid for this purpose (extended key usage)".into(),
            C::BadSignature => "its signature is invalid".into(),
            C::UnhandledCriticalExtension => "it has an unsupported critical extension".into(),
            C::Other(OtherError(inner))
                if matches!(
                    inner.downcast_ref::<webpki::Error>(),
                    Some(webpki::Error::CaUsedAsEndEntity)
                ) =>
            {
                "it is a CA certificate (basic constraints CA:TRUE) used as the peer's own \
                 certificate; such a certificate is accepted only when it is self-signed and \
                 is itself one of the trust anchors"
                    .into()
            }
            C::Other(OtherError(inner)) => inner.to_string(),
            other => other.to_string(),
        },
        E::AlertReceived(alert) => match alert {
            A::CertificateRequired => {
                "the peer requires a client certificate and none was presented".into()
            }
            A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied => {
                format!("the peer rejected this endpoint's certificate (TLS alert {alert:?})")
            }
            A::HandshakeFailure | A::ProtocolVersion | A::InsufficientSecurity => format!(
                "the peer found no common TLS version or cipher suite (TLS alert {alert:?})"
            ),
            other => format!("the peer aborted the TLS session (TLS alert {other:?})"),
        },
        E::NoCertificatesPresented => "the peer presented no certificate".into(),
        other => format!("TLS error: {other}"),
    }
}

#[cfg(test)]
mod tests;
