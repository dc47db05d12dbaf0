//! Building this endpoint's media description: the offer (RFC 3264 §5,
//! RFC 6135 §4.2.2, RFC 5547 §8.2), the answer to a peer's offer (RFC 3264
//! §6, RFC 5547 §8.3), and the refusal (`m=` port 0).

use super::direction::Direction;
use super::error::SdpError;
use super::file::FileAttributes;
use super::fingerprint::SdpFingerprint;
use super::media::{ConnectionData, MediaDescription};
use super::negotiate::who_connects;
use super::proto::Proto;
use super::setup::Setup;
use crate::protocol::Uri;

/// What this endpoint puts in its offer or answer.
#[derive(Debug, Clone, Default)]
pub struct LocalSettings {
    /// The full local path from the connector's prepare (first hop first,
    /// this endpoint's URI last).
    pub path: Vec<Uri>,
    /// `a=setup`. `None`: `actpass` in an offer (RFC 6135 §4.2.2); in an
    /// answer `active` to `actpass`, else what the offer leaves.
    pub setup: Option<Setup>,
    /// This endpoint's certificate fingerprint, written when the path is
    /// `msrps` (RFC 8122; SHA-256).
    pub fingerprint: Option<SdpFingerprint>,
    /// `a=accept-types`; empty writes `*`.
    pub accept_types: Vec<String>,
    /// `a=accept-wrapped-types`; empty writes none.
    pub accept_wrapped_types: Vec<String>,
    /// `a=max-size`.
    pub max_size: Option<u64>,
    /// Whether to write `a=msrp-cema` (RFC 6714 §4): this endpoint matches
    /// sessions by session id, so it can work through address-rewriting
    /// middleboxes. In an answer only when the offer has it too.
    pub cema: bool,
    /// What this endpoint wants: `None` is sendrecv, or `sendonly` when
    /// [`LocalSettings::file`] describes a file to send.
    pub direction: Option<Direction>,
    /// A file to send (offer: `a=sendonly` plus these attributes) or the
    /// description of a file the peer asks for (answer to a recvonly
    /// file offer).
    pub file: Option<FileAttributes>,
}

/// The `m=` port RFC 4975 §8.1 asks for: the port of the endpoint's own
/// URI (the last of the path); for an active end without one, 9 (RFC 4145
/// §4 and RFC 6135 §4.2.2: the discard port says "no listener here").
fn media_port(path: &[Uri], active: bool) -> u16 {
    let port = path.last().and_then(|u| u.port).unwrap_or(0);
    if active && (port == 0 || port == 9) {
        9
    } else {
        port
    }
}

fn base(
    settings: &LocalSettings,
    setup: Setup,
    direction: Direction,
) -> Result<MediaDescription, SdpError> {
    let Some(first) = settings.path.first() else {
        return Err(SdpError::new(
            "a=path",
            "the local path is empty (prepare the connector first)",
        ));
    };
    let own = settings.path.last().unwrap_or(first);
    let active = setup == Setup::Active;
    let port = media_port(&settings.path, active);
    if port == 0 {
        return Err(SdpError::new(
            "m=",
            format!("the local URI {own} has no port to listen on, but a=setup is {setup}"),
        ));
    }
    let mut md = MediaDescription::new(port, Proto::of_uri(first));
    md.connection = Some(ConnectionData::of_uri(own));
    md.path = settings.path.clone();
    md.accept_types = if settings.accept_types.is_empty() {
        vec!["*".into()]
    } else {
        settings.accept_types.clone()
    };
    md.accept_wrapped_types = settings.accept_wrapped_types.clone();
    md.max_size = settings.max_size;
    md.setup = Some(setup);
    if md.proto.is_secure() {
        md.fingerprints.extend(settings.fingerprint.clone());
    }
    md.direction = (direction != Direction::SendRecv).then_some(direction);
    Ok(md)
}

/// Builds an offer.
///
/// `a=setup` is `actpass` unless the settings say `active`; `passive` is
/// refused (RFC 6135 §4.2.2: never in an offer). A file to send makes it
/// `a=sendonly` with the file attributes (RFC 5547 §8.2.1); a file
/// transfer id is required then (RFC 5547 §8.1).
pub fn build_offer(settings: &LocalSettings) -> Result<MediaDescription, SdpError> {
    let setup = settings.setup.unwrap_or(Setup::Actpass);
    if matches!(setup, Setup::Passive | Setup::Holdconn) {
        return Err(SdpError::new(
            "a=setup",
            format!("an offer may not say {setup} (RFC 6135 §4.2: actpass or active)"),
        ));
    }
    let direction = settings.direction.unwrap_or(match &settings.file {
        Some(f) if f.has_file() => Direction::SendOnly,
        _ => Direction::SendRecv,
    });
    let mut md = base(settings, setup, direction)?;
    if let Some(f) = &settings.file {
        if f.has_file() && f.transfer_id.is_none() {
            return Err(SdpError::new(
                "a=file-transfer-id",
                "a file offer needs one (RFC 5547 §8.1)",
            ));
        }
        md.file = f.clone();
    }
    md.cema = settings.cema;
    Ok(md)
}

/// Builds the answer to `offer`.
///
/// `a=setup` (RFC 6135 §4.2, RFC 4145 §4.1): to `actpass` `active` unless
/// the settings say `passive`; to `active` `passive`; to `passive`
/// `active`; to an offer without one (an RFC 4975 peer, which connects
/// itself) `passive`. A setting that contradicts the offer is an error.
///
/// The direction answers the offer's (RFC 3264 §6.1). A file offer
/// (RFC 5547 §8.3.1) is answered with the same `file-selector` and
/// `file-transfer-id` (and `file-range`); a file request (a recvonly
/// offer) with the settings' file when given, else the offer's selector.
/// The protocol is the local path's first hop's (it may differ from the
/// offer's: RFC 4976 §11 answers TCP/MSRP with TCP/TLS/MSRP via a relay).
pub fn build_answer(
    offer: &MediaDescription,
    settings: &LocalSettings,
) -> Result<MediaDescription, SdpError> {
    if offer.is_refused() {
        return Err(SdpError::new(
            "m=",
            "the offer's port is 0: nothing to answer",
        ));
    }
    let offered = Setup::effective(offer.setup);
    let setup = match (offered, settings.setup) {
        (Some(Setup::Actpass), None) => Setup::Active,
        (Some(Setup::Active), None) | (None | Some(Setup::Holdconn), None) => Setup::Passive,
        (Some(Setup::Passive), None) => Setup::Active,
        (_, Some(Setup::Actpass)) | (_, Some(Setup::Holdconn)) => {
            return Err(SdpError::new(
                "a=setup",
                "an answer says active or passive (RFC 4145 §4.1)",
            ))
        }
        (_, Some(s)) => s,
    };
    // Rejects the combinations where both ends would connect or both wait.
    who_connects(offer.setup, Some(setup))?;
    let wanted = settings.direction.unwrap_or_default();
    let direction = offer.direction().answer_to(wanted);
    let mut md = base(settings, setup, direction)?;
    if offer.file.selector.is_some() {
        let mut file = FileAttributes {
            selector: offer.file.selector.clone(),
            transfer_id: offer.file.transfer_id.clone(),
            range: offer.file.range,
            ..FileAttributes::default()
        };
        if offer.direction() == Direction::RecvOnly {
            if let Some(mine) = settings.file.as_ref().filter(|f| f.has_file()) {
                file = FileAttributes {
                    transfer_id: offer.file.transfer_id.clone(),
                    ..mine.clone()
                };
            }
        }
        md.file = file;
    }
    md.cema = offer.cema && settings.cema;
    Ok(md)
}

/// The answer that refuses `offer`'s stream: the same `m=` line with port 0
/// (RFC 3264 §6).
pub fn refuse(offer: &MediaDescription) -> MediaDescription {
    let mut md = MediaDescription::new(0, offer.proto);
    md.formats = offer.formats.clone();
    md
}
