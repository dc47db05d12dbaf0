//! Instant Message Disposition Notification (RFC 5438): the
//! `message/imdn+xml` document, the `imdn.Disposition-Notification` request
//! header, and the CPIM message that carries a notification back.
//!
//! A sender asks for notifications in the CPIM headers of its message
//! (`NS: imdn <urn:ietf:params:imdn>`, `imdn.Message-ID`, `DateTime`,
//! `imdn.Disposition-Notification: positive-delivery, display`). The
//! recipient answers with a CPIM message of its own whose inner part is
//! `Content-Type: message/imdn+xml` with `Content-Disposition:
//! notification`, naming the original `imdn.Message-ID` and its DateTime,
//! and one status: delivered, failed, forbidden or error for a delivery
//! notification; displayed, forbidden or error for a display notification;
//! processed, stored, forbidden or error for a processing notification.
//!
//! The document is read with quick-xml (see [`super::xml`]): namespace
//! prefixes are resolved, unknown elements from other namespaces ignored,
//! and unknown status values kept as [`ImdnStatus::Other`].

use std::fmt;

use super::cpim::{Cpim, CpimBuilder, CpimError, IMDN_NAMESPACE};
use super::datetime::DateTime;
use super::xml::{self, XmlError};

/// The XML namespace of `message/imdn+xml` (RFC 5438 §10).
pub const IMDN_XML_NAMESPACE: &str = "urn:ietf:params:xml:ns:imdn";
/// The media type of an IMDN document.
pub const IMDN_CONTENT_TYPE: &str = "message/imdn+xml";

/// Which notifications a message asks for (RFC 5438 §6.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispositionRequest {
    pub positive_delivery: bool,
    pub negative_delivery: bool,
    pub display: bool,
    pub processing: bool,
}

impl DispositionRequest {
    /// Reads an `imdn.Disposition-Notification` value: comma-separated
    /// tokens, case-insensitive, unknown ones ignored.
    pub fn parse(value: &str) -> DispositionRequest {
        let mut r = DispositionRequest::default();
        for token in value.split(',') {
            let t = token.trim();
            if t.eq_ignore_ascii_case("positive-delivery") {
                r.positive_delivery = true;
            } else if t.eq_ignore_ascii_case("negative-delivery") {
                r.negative_delivery = true;
            } else if t.eq_ignore_ascii_case("display") {
                r.display = true;
            } else if t.eq_ignore_ascii_case("processing") {
                r.processing = true;
            }
        }
        r
    }

    /// What a CPIM message asks for (nothing without the header).
    pub fn of(message: &Cpim<'_>) -> DispositionRequest {
        message
            .imdn_header("Disposition-Notification")
            .map(DispositionRequest::parse)
            .unwrap_or_default()
    }

    /// Whether anything is asked for.
    pub fn any(&self) -> bool {
        self.positive_delivery || self.negative_delivery || self.display || self.processing
    }
}

impl fmt::Display for DispositionRequest {
    /// The header value, e.g. `positive-delivery, display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = [
            (self.positive_delivery, "positive-delivery"),
            (self.negative_delivery, "negative-delivery"),
            (self.display, "display"),
            (self.processing, "processing"),
        ];
        let mut first = true;
        for (on, t) in tokens {
            if on {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(t)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The kind of a notification (its element in the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// `<delivery-notification>`.
    Delivery,
    /// `<display-notification>`.
    Display,
    /// `<processing-notification>`.
    Processing,
}

impl NotificationKind {
    fn element(self) -> &'static str {
        match self {
            NotificationKind::Delivery => "delivery-notification",
            NotificationKind::Display => "display-notification",
            NotificationKind::Processing => "processing-notification",
        }
    }
}

/// A notification's status (RFC 5438 §7.1, the `<status>` element).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImdnStatus {
    Delivered,
    Failed,
    Displayed,
    Processed,
    Stored,
    Forbidden,
    Error,
    /// A value this library does not know (its element's local name).
    Other(String),
}

impl ImdnStatus {
    /// The element name (`delivered`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            ImdnStatus::Delivered => "delivered",
            ImdnStatus::Failed => "failed",
            ImdnStatus::Displayed => "displayed",
            ImdnStatus::Processed => "processed",
            ImdnStatus::Stored => "stored",
            ImdnStatus::Forbidden => "forbidden",
            ImdnStatus::Error => "error",
            ImdnStatus::Other(s) => s,
        }
    }

    /// The status named `name` (case-sensitive, as the schema says).
    pub fn from_name(name: &str) -> ImdnStatus {
        match name {
            "delivered" => ImdnStatus::Delivered,
            "failed" => ImdnStatus::Failed,
            "displayed" => ImdnStatus::Displayed,
            "processed" => ImdnStatus::Processed,
            "stored" => ImdnStatus::Stored,
            "forbidden" => ImdnStatus::Forbidden,
            "error" => ImdnStatus::Error,
            other => ImdnStatus::Other(other.to_string()),
        }
    }

    /// Whether RFC 5438 §7.1's schema allows this status in `kind`.
    pub fn allowed_in(&self, kind: NotificationKind) -> bool {
        use ImdnStatus::*;
        match kind {
            NotificationKind::Delivery => matches!(self, Delivered | Failed | Forbidden | Error),
            NotificationKind::Display => matches!(self, Displayed | Forbidden | Error),
            NotificationKind::Processing => matches!(self, Processed | Stored | Forbidden | Error),
        }
    }
}

impl fmt::Display for ImdnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `message/imdn+xml` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imdn {
    /// The `imdn.Message-ID` of the message this is about.
    pub message_id: String,
    /// The DateTime of that message, as written.
    pub datetime: String,
    pub recipient_uri: Option<String>,
    pub original_recipient_uri: Option<String>,
    pub subject: Option<String>,
    pub kind: NotificationKind,
    pub status: ImdnStatus,
}

impl Imdn {
    /// Reads a document. Needs `<imdn>` in the IMDN namespace with a
    /// `<message-id>` and one notification element holding a `<status>`
    /// with one status element; a missing `<datetime>` is tolerated ("").
    pub fn parse(data: &[u8]) -> Result<Imdn, XmlError> {
        let ns = IMDN_XML_NAMESPACE;
        let root = xml::parse(data)?;
        if root.namespace != ns || root.name != "imdn" {
            return Err(XmlError(format!(
                "root element {{{}}}{} is not {{{ns}}}imdn",
                root.namespace, root.name
            )));
        }
        let message_id = root
            .child_text(ns, "message-id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| XmlError("no <message-id>".into()))?
            .to_string();
        let datetime = root.child_text(ns, "datetime").unwrap_or("").to_string();
        let text = |name: &str| root.child_text(ns, name).map(str::to_string);
        let (kind, el) = [
            NotificationKind::Delivery,
            NotificationKind::Display,
            NotificationKind::Processing,
        ]
        .into_iter()
        .find_map(|k| root.child(ns, k.element()).map(|e| (k, e)))
        .ok_or_else(|| XmlError("no notification element".into()))?;
        let status = el
            .child(ns, "status")
            .ok_or_else(|| XmlError("no <status>".into()))?
            .children
            .iter()
            .find(|c| c.namespace == ns)
            .map(|c| ImdnStatus::from_name(&c.name))
            .ok_or_else(|| XmlError("empty <status>".into()))?;
        Ok(Imdn {
            message_id,
            datetime,
            recipient_uri: text("recipient-uri"),
            original_recipient_uri: text("original-recipient-uri"),
            subject: text("subject"),
            kind,
            status,
        })
    }

    /// The DateTime, parsed.
    pub fn datetime(&self) -> Option<DateTime> {
        DateTime::parse(&self.datetime)
    }

    /// The encoded document (UTF-8, in the element order of RFC 5438 §7.1).
    pub fn to_xml(&self) -> Vec<u8> {
        xml::document("imdn", IMDN_XML_NAMESPACE, |w| {
            xml::text_element(w, "message-id", &self.message_id)?;
            xml::text_element(w, "datetime", &self.datetime)?;
            if let Some(r) = &self.recipient_uri {
                xml::text_element(w, "recipient-uri", r)?;
            }
            if let Some(r) = &self.original_recipient_uri {
                xml::text_element(w, "original-recipient-uri", r)?;
            }
            if let Some(s) = &self.subject {
                xml::text_element(w, "subject", s)?;
            }
            w.create_element(self.kind.element())
                .write_inner_content(|w| {
                    w.create_element("status").write_inner_content(|w| {
                        w.create_element(self.status.as_str()).write_empty()?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })
    }

    /// The notification of `kind` with `status` about `original` (a CPIM
    /// message with an `imdn.Message-ID`): its message id and DateTime, and
    /// its To as the recipient.
    pub fn about(
        original: &Cpim<'_>,
        kind: NotificationKind,
        status: ImdnStatus,
    ) -> Result<Imdn, CpimError> {
        let message_id = original.imdn_message_id().ok_or_else(|| {
            CpimError::InvalidArgument("the message has no imdn.Message-ID".into())
        })?;
        if !status.allowed_in(kind) {
            return Err(CpimError::InvalidArgument(format!(
                "status {status} is not one of a {} (RFC 5438 §7.1)",
                kind.element()
            )));
        }
        let recipient = original.to_uri().map(str::to_string);
        Ok(Imdn {
            message_id: message_id.to_string(),
            datetime: original
                .header("DateTime")
                .map(|h| h.value.to_string())
                .unwrap_or_else(|| DateTime::now().to_string()),
            recipient_uri: recipient.clone(),
            original_recipient_uri: recipient,
            subject: None,
            kind,
            status,
        })
    }
}

/// Builds the CPIM message that carries `notification` back to the sender
/// of `original` (RFC 5438 §7.2.1): From its To (or `local_uri` when it
/// had none), To its From (or `remote_uri`), a new `imdn.Message-ID`,
/// DateTime now, inner `message/imdn+xml` with `Content-Disposition:
/// notification`.
pub fn notification_message(
    original: &Cpim<'_>,
    notification: &Imdn,
    new_message_id: &str,
    local_uri: &str,
    remote_uri: &str,
) -> Result<Vec<u8>, CpimError> {
    let from = original.to_uri().unwrap_or(local_uri);
    let to = original.from_uri().unwrap_or(remote_uri);
    Ok(CpimBuilder::new()
        .from(None, from)?
        .to(None, to)?
        .namespace("imdn", IMDN_NAMESPACE)?
        .header("imdn.Message-ID", new_message_id)?
        .datetime(DateTime::now())?
        .content_type(IMDN_CONTENT_TYPE)?
        .content_header("Content-Disposition", "notification")?
        .body(notification.to_xml())
        .build())
}

/// Whether a CPIM message carries an IMDN (its inner type is
/// `message/imdn+xml`).
pub fn is_notification(message: &Cpim<'_>) -> bool {
    message.media_type() == IMDN_CONTENT_TYPE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5438's delivery-notification example (§7.2.1.1): its message
    /// id, datetime, recipients and subject.
    const DELIVERED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
   <message-id>34jk324j</message-id>
   <datetime>2008-04-04T12:16:49-05:00</datetime>
   <recipient-uri>im:bob@example.com</recipient-uri>
   <original-recipient-uri
      >im:bob@example.com</original-recipient-uri>
   <subject>Project Tomorrow</subject>
   <delivery-notification>
      <status>
         <delivered/>
      </status>
   </delivery-notification>
</imdn>
"#;

    #[test]
    fn rfc5438_examples() {
        let n = Imdn::parse(DELIVERED.as_bytes()).unwrap();
        assert_eq!(n.message_id, "34jk324j");
        assert_eq!(n.datetime().unwrap().offset_minutes, -300);
        assert_eq!(n.recipient_uri.as_deref(), Some("im:bob@example.com"));
        assert_eq!(
            n.original_recipient_uri.as_deref(),
            Some("im:bob@example.com")
        );
        assert_eq!(n.subject.as_deref(), Some("Project Tomorrow"));
        assert_eq!(
            (n.kind, n.status.clone()),
            (NotificationKind::Delivery, ImdnStatus::Delivered)
        );
        let displayed = DELIVERED
            .replace("delivery-notification", "display-notification")
            .replace("<delivered/>", "<displayed/>");
        let n = Imdn::parse(displayed.as_bytes()).unwrap();
        assert_eq!(
            (n.kind, n.status),
            (NotificationKind::Display, ImdnStatus::Displayed)
        );
        let processed = DELIVERED
            .replace("delivery-notification", "processing-notification")
            .replace("<delivered/>", "<processed/>");
        let n = Imdn::parse(processed.as_bytes()).unwrap();
        assert_eq!(
            (n.kind, n.status),
            (NotificationKind::Processing, ImdnStatus::Processed)
        );
    }

    /// A message asking for notifications, shaped as RFC 5438's examples
    /// (Alice to Bob, imdn.Message-ID 34jk324j), and the reply.
    #[test]
    fn request_and_notification_message() {
        let request = b"From: Alice <im:alice@example.com>\r\nTo: Bob <im:bob@example.com>\r\n\
NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 34jk324j\r\nDateTime: 2006-04-04T12:16:49-05:00\r\n\
imdn.Disposition-Notification: positive-delivery, display\r\n\r\n\
Content-type: text/plain\r\nContent-length: 12\r\n\r\nHello World\r\n";
        let m = Cpim::parse(request).unwrap();
        let r = DispositionRequest::of(&m);
        assert!(r.positive_delivery && r.display && !r.negative_delivery && !r.processing);
        assert_eq!(r.to_string(), "positive-delivery, display");
        let n = Imdn::about(&m, NotificationKind::Delivery, ImdnStatus::Delivered).unwrap();
        assert_eq!(n.message_id, "34jk324j");
        assert_eq!(n.datetime, "2006-04-04T12:16:49-05:00");
        let wire = notification_message(&m, &n, "d834jied93rf", "im:me@x", "im:you@x").unwrap();
        let reply = Cpim::parse(&wire).unwrap();
        assert_eq!(reply.from_uri(), Some("im:bob@example.com"));
        assert_eq!(reply.to_uri(), Some("im:alice@example.com"));
        assert_eq!(reply.imdn_message_id(), Some("d834jied93rf"));
        assert!(is_notification(&reply));
        assert_eq!(
            reply.content_header("content-disposition"),
            Some("notification")
        );
        assert!(!DispositionRequest::of(&reply).any());
        assert_eq!(Imdn::parse(reply.body()).unwrap(), n);
        assert!(Imdn::about(&m, NotificationKind::Display, ImdnStatus::Delivered).is_err());
        let no_id = Cpim::parse(b"From: <a:b>\r\n\r\n").unwrap();
        assert!(Imdn::about(&no_id, NotificationKind::Delivery, ImdnStatus::Delivered).is_err());
    }

    #[test]
    fn tolerant_reading() {
        // A prefixed namespace, an unknown extension element, an unknown
        // status, no datetime.
        let doc =
            br#"<i:imdn xmlns:i="urn:ietf:params:xml:ns:imdn" xmlns:x="urn:x"><x:ext>1</x:ext>
<i:message-id> abc </i:message-id><i:delivery-notification><i:status><i:lost/></i:status>
</i:delivery-notification></i:imdn>"#;
        let n = Imdn::parse(doc).unwrap();
        assert_eq!(n.message_id, "abc");
        assert_eq!(n.datetime, "");
        assert_eq!(n.status, ImdnStatus::Other("lost".into()));
        for bad in [
            &br#"<imdn><message-id>a</message-id></imdn>"#[..],
            br#"<imdn xmlns="urn:ietf:params:xml:ns:imdn"><delivery-notification><status><delivered/></status></delivery-notification></imdn>"#,
            br#"<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>a</message-id></imdn>"#,
            br#"<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>a</message-id><delivery-notification/></imdn>"#,
            br#"<imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>a</message-id><delivery-notification><status/></delivery-notification></imdn>"#,
        ] {
            assert!(Imdn::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writes_escaped_and_round_trips() {
        let n = Imdn {
            message_id: "<&>".into(),
            datetime: "2024-05-01T10:00:00Z".into(),
            recipient_uri: Some("sip:b@x".into()),
            original_recipient_uri: None,
            subject: Some("a & b".into()),
            kind: NotificationKind::Display,
            status: ImdnStatus::Error,
        };
        let xml = n.to_xml();
        assert!(String::from_utf8_lossy(&xml).contains("<message-id>&lt;&amp;&gt;</message-id>"));
        assert_eq!(Imdn::parse(&xml).unwrap(), n);
    }

    #[test]
    fn disposition_tokens() {
        let r = DispositionRequest::parse(" Negative-Delivery ,PROCESSING,bogus");
        assert!(r.negative_delivery && r.processing && !r.positive_delivery && !r.display);
        assert!(!DispositionRequest::parse("").any());
    }
}
