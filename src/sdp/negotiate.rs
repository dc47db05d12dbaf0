//! What a final offer/answer pair decides (RFC 3264, RFC 4975 §8, RFC 6135
//! §4.2, RFC 5547 §8): which end connects, the peer's path and certificate
//! fingerprint, what the peer accepts, and the file being transferred; and
//! whether a re-offer continues the same file transfer (RFC 5547 §8.1).

use super::direction::Direction;
use super::error::SdpError;
use super::file::FileAttributes;
use super::fingerprint::SdpFingerprint;
use super::media::MediaDescription;
use super::setup::Setup;
use crate::protocol::Uri;

/// One end of an offer/answer exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The end that sent the offer.
    Offerer,
    /// The end that sent the answer.
    Answerer,
}

/// This endpoint's part in establishing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connects to the peer's path and sends the first SEND.
    Active,
    /// Waits for the peer's connection.
    Passive,
}

/// Which end connects, from the offer's and the answer's `a=setup`
/// (`holdconn` counts as absent, RFC 6135 §4.2.1).
///
/// | offer \ answer | active   | passive  | absent   |
/// |----------------|----------|----------|----------|
/// | actpass        | answerer | offerer  | offerer  |
/// | active         | error    | offerer  | offerer  |
/// | passive        | answerer | error    | error    |
/// | absent         | answerer | offerer  | offerer  |
///
/// An absent attribute is a peer of RFC 4975's model, where the offerer
/// connects (RFC 6135 §5). An answer that says `actpass` (which RFC 4145
/// §4.1 forbids) is read as `passive`.
pub fn who_connects(offer: Option<Setup>, answer: Option<Setup>) -> Result<Side, SdpError> {
    let answer = match Setup::effective(answer) {
        Some(Setup::Actpass) => Some(Setup::Passive),
        a => a,
    };
    match (Setup::effective(offer), answer) {
        (Some(Setup::Active), Some(Setup::Active)) => Err(SdpError::new(
            "a=setup",
            "both the offer and the answer say active: both ends would connect",
        )),
        (Some(Setup::Passive), Some(Setup::Passive) | None) => Err(SdpError::new(
            "a=setup",
            "the offer says passive and the answer does not say active: both ends would wait",
        )),
        (_, Some(Setup::Active)) => Ok(Side::Answerer),
        (Some(Setup::Passive), _) => Ok(Side::Answerer),
        _ => Ok(Side::Offerer),
    }
}

/// What a final offer/answer pair decides, seen from this endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Whether this endpoint connects.
    pub role: Role,
    /// The peer's `a=path`: give it to the connector's complete.
    pub remote_path: Vec<Uri>,
    /// The certificate fingerprint the peer's TLS certificate must have
    /// (the first of its `a=fingerprint`s); `None` without TLS or when the
    /// peer gave none.
    pub remote_fingerprint: Option<SdpFingerprint>,
    /// What the peer accepts (`a=accept-types`; empty when it gave none).
    pub remote_accept_types: Vec<String>,
    /// `a=accept-wrapped-types` of the peer.
    pub remote_accept_wrapped_types: Vec<String>,
    /// `a=max-size` of the peer.
    pub remote_max_size: Option<u64>,
    /// What this endpoint may do: its own description's direction, limited
    /// by the peer's.
    pub direction: Direction,
    /// The file being transferred (the offerer's description of it), when
    /// there is one.
    pub file: Option<FileAttributes>,
    /// Whether both ends wrote `a=msrp-cema` (RFC 6714).
    pub cema: bool,
    /// Whether the peer's first hop is reached over TLS (its `m=` protocol).
    pub secure: bool,
}

/// Decides what the pair `local`/`remote` means for this endpoint;
/// `local_is_offer` says which of the two was the offer.
///
/// Errors: the answer refused the stream (port 0, attribute `m=`), the
/// `a=setup` pair is contradictory, or the peer's path is missing.
pub fn negotiate(
    local: &MediaDescription,
    remote: &MediaDescription,
    local_is_offer: bool,
) -> Result<Negotiated, SdpError> {
    if remote.is_refused() || local.is_refused() {
        return Err(SdpError::new("m=", "the MSRP stream was refused (port 0)"));
    }
    // The two protocols may differ: each says how to reach that end's first
    // hop (RFC 4976 §11 answers a TCP/MSRP offer with TCP/TLS/MSRP through
    // a relay).
    if remote.path.is_empty() {
        return Err(SdpError::new("a=path", "the peer gave none"));
    }
    let (offer, answer) = if local_is_offer {
        (local, remote)
    } else {
        (remote, local)
    };
    let connects = who_connects(offer.setup, answer.setup)?;
    let role = match (connects, local_is_offer) {
        (Side::Offerer, true) | (Side::Answerer, false) => Role::Active,
        _ => Role::Passive,
    };
    let direction = Direction::from_abilities(
        local.direction().sends() && remote.direction().receives(),
        local.direction().receives() && remote.direction().sends(),
    );
    let file = [offer, answer]
        .into_iter()
        .find(|m| m.file.has_file())
        .map(|m| m.file.clone());
    Ok(Negotiated {
        role,
        remote_path: remote.path.clone(),
        remote_fingerprint: remote
            .proto
            .is_secure()
            .then(|| remote.fingerprints.first().cloned())
            .flatten(),
        remote_accept_types: remote.accept_types.clone(),
        remote_accept_wrapped_types: remote.accept_wrapped_types.clone(),
        remote_max_size: remote.max_size,
        direction,
        file,
        cema: local.cema && remote.cema,
        secure: remote.proto.is_secure(),
    })
}

/// Whether `reoffer` continues the file transfer `previous` described
/// (RFC 5547 §8.1): both carry the same `file-transfer-id`. A re-offer
/// sent for a session timer (RFC 4028) repeats the id and changes nothing;
/// a new id is a new transfer. False when either has no id.
pub fn reoffer_is_same_transfer(previous: &MediaDescription, reoffer: &MediaDescription) -> bool {
    matches!(
        (&previous.file.transfer_id, &reoffer.file.transfer_id),
        (Some(a), Some(b)) if a == b
    )
}
