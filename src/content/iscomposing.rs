//! isComposing (RFC 3994): `application/im-iscomposing+xml`, the typing
//! indication: a state (active or idle), and optionally the time of last
//! activity, the type of content being composed, and the refresh interval.
//!
//! Read with quick-xml (see [`super::xml`]); extension elements of other
//! namespaces are ignored, and a state other than `active` counts as idle
//! (RFC 3994 §3.5).

use super::datetime::DateTime;
use super::xml::{self, XmlError};

/// The XML namespace (RFC 3994 §6).
pub const ISCOMPOSING_NAMESPACE: &str = "urn:ietf:params:xml:ns:im-iscomposing";
/// The media type.
pub const ISCOMPOSING_CONTENT_TYPE: &str = "application/im-iscomposing+xml";

/// The composer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposingState {
    Active,
    Idle,
}

impl ComposingState {
    pub fn as_str(self) -> &'static str {
        match self {
            ComposingState::Active => "active",
            ComposingState::Idle => "idle",
        }
    }
}

/// An isComposing document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsComposing {
    pub state: ComposingState,
    /// `<lastactive>` as written.
    pub lastactive: Option<String>,
    /// `<contenttype>`: a media type (`text/plain`) or only a type (`audio`).
    pub contenttype: Option<String>,
    /// `<refresh>` in seconds (a positive integer; others are ignored).
    pub refresh: Option<u32>,
}

impl IsComposing {
    /// An active (or idle) indication with nothing else.
    pub fn new(state: ComposingState) -> IsComposing {
        IsComposing {
            state,
            lastactive: None,
            contenttype: None,
            refresh: None,
        }
    }

    /// Reads a document; needs `<isComposing>` with a `<state>`.
    pub fn parse(data: &[u8]) -> Result<IsComposing, XmlError> {
        let ns = ISCOMPOSING_NAMESPACE;
        let root = xml::parse(data)?;
        if root.namespace != ns || root.name != "isComposing" {
            return Err(XmlError(format!(
                "root element {{{}}}{} is not {{{ns}}}isComposing",
                root.namespace, root.name
            )));
        }
        let state = root
            .child_text(ns, "state")
            .ok_or_else(|| XmlError("no <state>".into()))?;
        let state = if state.eq_ignore_ascii_case("active") {
            ComposingState::Active
        } else {
            ComposingState::Idle
        };
        let text = |name| {
            root.child_text(ns, name)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Ok(IsComposing {
            state,
            lastactive: text("lastactive"),
            contenttype: text("contenttype"),
            refresh: text("refresh")
                .and_then(|r| r.parse::<u32>().ok())
                .filter(|&r| r > 0),
        })
    }

    /// `<lastactive>`, parsed.
    pub fn lastactive(&self) -> Option<DateTime> {
        self.lastactive.as_deref().and_then(DateTime::parse)
    }

    /// The encoded document (elements in the schema's order, RFC 3994 §6.1).
    pub fn to_xml(&self) -> Vec<u8> {
        xml::document("isComposing", ISCOMPOSING_NAMESPACE, |w| {
            xml::text_element(w, "state", self.state.as_str())?;
            if let Some(t) = &self.lastactive {
                xml::text_element(w, "lastactive", t)?;
            }
            if let Some(t) = &self.contenttype {
                xml::text_element(w, "contenttype", t)?;
            }
            if let Some(r) = self.refresh {
                xml::text_element(w, "refresh", &r.to_string())?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3994 §5, both examples as printed.
    const ACTIVE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
   xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing
   iscomposing.xsd">
     <state>active</state>
     <contenttype>text/plain</contenttype>
     <refresh>90</refresh>
   </isComposing>"#;
    const IDLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
   xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing
   iscomposing.xsd">
     <state>idle</state>
     <lastactive>2003-01-27T10:43:00Z</lastactive>
     <contenttype>audio</contenttype>
   </isComposing>"#;

    #[test]
    fn rfc3994_examples() {
        let a = IsComposing::parse(ACTIVE.as_bytes()).unwrap();
        assert_eq!(a.state, ComposingState::Active);
        assert_eq!(a.contenttype.as_deref(), Some("text/plain"));
        assert_eq!(a.refresh, Some(90));
        assert_eq!(a.lastactive, None);
        let i = IsComposing::parse(IDLE.as_bytes()).unwrap();
        assert_eq!(i.state, ComposingState::Idle);
        assert_eq!(i.lastactive().unwrap().to_string(), "2003-01-27T10:43:00Z");
        assert_eq!(i.contenttype.as_deref(), Some("audio"));
        assert_eq!(i.refresh, None);
        for doc in [a, i] {
            assert_eq!(IsComposing::parse(&doc.to_xml()).unwrap(), doc);
        }
    }

    #[test]
    fn tolerant_and_strict_parts() {
        let ns = ISCOMPOSING_NAMESPACE;
        let other = format!(
            r#"<isComposing xmlns="{ns}"><state>typing</state><refresh>0</refresh><x xmlns="urn:x"/></isComposing>"#
        );
        let d = IsComposing::parse(other.as_bytes()).unwrap();
        assert_eq!(d.state, ComposingState::Idle);
        assert_eq!(d.refresh, None);
        assert!(IsComposing::parse(format!(r#"<isComposing xmlns="{ns}"/>"#).as_bytes()).is_err());
        assert!(IsComposing::parse(b"<isComposing><state>active</state></isComposing>").is_err());
    }
}
