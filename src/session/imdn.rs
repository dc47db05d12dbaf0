//! IMDN help for CPIM chat (RFC 5438) inside a session, switched on by
//! [`ImdnConfig`]:
//! - an incoming `message/cpim` message that asks for `positive-delivery`
//!   is answered with a delivery notification (`delivered`) at once, when
//!   it has arrived whole (the application still gets the message);
//! - an incoming notification (CPIM wrapping `message/imdn+xml`) becomes a
//!   [`SessionEvent::Notification`] instead of a message, matched to the
//!   MSRP Message-ID of the CPIM message this session sent with that
//!   `imdn.Message-ID`;
//! - [`Session::send_imdn`] sends a notification (e.g. `displayed` once
//!   the user saw the message) about a received CPIM message.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::{Inner, OutgoingMessage, Session, SessionError, SessionEvent};
use crate::content::imdn::{is_notification, notification_message};
use crate::content::{Cpim, DispositionRequest, Imdn, ImdnStatus, NotificationKind};
use crate::protocol::ids;

/// What the session does with IMDNs. All off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImdnConfig {
    /// Answer `positive-delivery` requests with a `delivered` notification.
    pub auto_delivery: bool,
    /// Report received notifications as [`SessionEvent::Notification`]
    /// (instead of [`SessionEvent::Message`]) and remember the
    /// `imdn.Message-ID`s of the CPIM messages sent, to match them.
    pub notification_events: bool,
}

/// Most `imdn.Message-ID`s of sent messages remembered for matching; the
/// oldest are forgotten first.
pub(crate) const MAX_TRACKED: usize = 4096;

/// The `imdn.Message-ID` → MSRP Message-ID map of sent CPIM messages.
#[derive(Debug, Default)]
pub(crate) struct SentIds {
    map: Mutex<(HashMap<String, String>, VecDeque<String>)>,
}

impl SentIds {
    fn remember(&self, imdn_id: &str, msrp_id: &str) {
        let mut guard = self.map.lock().expect("imdn ids");
        let (map, order) = &mut *guard;
        if map
            .insert(imdn_id.to_string(), msrp_id.to_string())
            .is_none()
        {
            order.push_back(imdn_id.to_string());
            if order.len() > MAX_TRACKED {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    fn find(&self, imdn_id: &str) -> Option<String> {
        self.map.lock().expect("imdn ids").0.get(imdn_id).cloned()
    }
}

fn is_cpim(content_type: &str) -> bool {
    crate::content::cpim::media_type(content_type).eq_ignore_ascii_case("message/cpim")
}

/// Called with every message queued by `send_message`.
pub(super) fn note_sent(inner: &Inner, msg: &OutgoingMessage, msrp_id: &str) {
    if !inner.config.imdn.notification_events || !is_cpim(&msg.content_type) {
        return;
    }
    if let Ok(m) = Cpim::parse(&msg.body) {
        if let Some(id) = m.imdn_message_id() {
            inner.imdn_sent.remember(id, msrp_id);
        }
    }
}

/// Called by the reader with every event it emits: answers delivery
/// requests and turns notifications into their own event.
pub(super) fn on_event(inner: &Arc<Inner>, event: SessionEvent) -> SessionEvent {
    let cfg = inner.config.imdn;
    if !cfg.auto_delivery && !cfg.notification_events {
        return event;
    }
    let SessionEvent::Message(m) = event else {
        return event;
    };
    if !is_cpim(&m.content_type) {
        return SessionEvent::Message(m);
    }
    let Ok(cpim) = Cpim::parse(&m.body) else {
        return SessionEvent::Message(m);
    };
    if is_notification(&cpim) {
        if cfg.notification_events {
            if let Ok(n) = Imdn::parse(cpim.body()) {
                return SessionEvent::Notification {
                    message_id: inner.imdn_sent.find(&n.message_id),
                    notification_message_id: m.message_id.clone(),
                    from: cpim.from_uri().map(str::to_string),
                    notification: Box::new(n),
                };
            }
        }
    } else if cfg.auto_delivery && DispositionRequest::of(&cpim).positive_delivery {
        let session = Session {
            inner: inner.clone(),
        };
        if let Err(e) =
            session.send_imdn(&m.body, NotificationKind::Delivery, ImdnStatus::Delivered)
        {
            crate::msrp_log!(
                inner.info.logger,
                crate::log::Level::Warn,
                "session {}: no delivery notification for {}: {e}",
                inner.info.local_uri,
                m.message_id
            );
        }
    }
    SessionEvent::Message(m)
}

impl Session {
    /// Sends the notification of `kind` with `status` about a received CPIM
    /// message (`original`, its whole body): From its To, To its From, the
    /// original's `imdn.Message-ID` and DateTime in the document (RFC 5438
    /// §7.2.1). Returns the notification's MSRP Message-ID; its outcome
    /// arrives as [`SessionEvent::Sent`]. Fails with `InvalidArgument` when
    /// `original` is not CPIM with an `imdn.Message-ID`, when it carries a
    /// notification itself (RFC 5438 §7: never notify a notification), or
    /// when `status` does not belong to `kind`.
    pub fn send_imdn(
        &self,
        original: &[u8],
        kind: NotificationKind,
        status: ImdnStatus,
    ) -> Result<String, SessionError> {
        let bad = |e: &dyn std::fmt::Display| SessionError::InvalidArgument(e.to_string());
        let cpim = Cpim::parse(original).map_err(|e| bad(&e))?;
        if is_notification(&cpim) {
            return Err(bad(&"the message is a notification"));
        }
        let n = Imdn::about(&cpim, kind, status).map_err(|e| bad(&e))?;
        let info = &self.inner.info;
        let local = info.local_uri.to_string();
        let remote = info
            .to_path
            .last()
            .map(|u| u.to_string())
            .unwrap_or_else(|| local.clone());
        let body = notification_message(&cpim, &n, &ids::message_id(), &local, &remote)
            .map_err(|e| bad(&e))?;
        self.send_message(OutgoingMessage::new("message/cpim", body))
    }
}
