//! A small element tree read with quick-xml, shared by the IMDN and
//! isComposing parsers: namespaces resolved, entities and character
//! references decoded, CDATA taken as text, comments and processing
//! instructions skipped, and bounded depth and size so that a peer cannot
//! make the tree large.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

/// Deepest element nesting accepted.
pub(crate) const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document.
pub(crate) const MAX_ELEMENTS: usize = 512;
/// Largest document accepted, in octets.
pub(crate) const MAX_DOCUMENT: usize = 64 * 1024;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

/// One element: its namespace URI ("" when unbound), local name, the text
/// directly inside it (concatenated), and its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub namespace: String,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child in namespace `ns` named `name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.namespace == ns && c.name == name)
    }

    /// The trimmed text of the first child `name` in `ns`.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<&str> {
        self.child(ns, name).map(|c| c.text.trim())
    }
}

/// Reads the root element of a UTF-8 document.
pub fn parse(data: &[u8]) -> Result<Element, XmlError> {
    if data.len() > MAX_DOCUMENT {
        return Err(XmlError(format!("document over {MAX_DOCUMENT} octets")));
    }
    let text = std::str::from_utf8(data).map_err(|_| XmlError("document is not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let err = |e: &dyn fmt::Display| XmlError(format!("XML: {e}"));
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| err(&e))?;
        let namespace = match ns {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => {
                return Err(XmlError(format!(
                    "undeclared namespace prefix {}",
                    String::from_utf8_lossy(&p)
                )))
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(XmlError("content after the root element".into()));
                }
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError("document too large or too deep".into()));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if !valid_ncname(&name) {
                    // Not a namespace-well-formed name (`<a:b:c>`, `<a:?b>`):
                    // quick-xml leaves names to the application to check.
                    return Err(XmlError(format!("bad element name {name:?}")));
                }
                let el = Element {
                    namespace,
                    name,
                    ..Element::default()
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| err(&e))?;
                match stack.last_mut() {
                    Some(top) => push_text(top, &s)?,
                    None if s.trim().is_empty() => {}
                    None => return Err(XmlError("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| err(&e))?;
                if let Some(top) = stack.last_mut() {
                    push_text(top, &s)?;
                }
            }
            Event::GeneralRef(r) => {
                let Some(top) = stack.last_mut() else {
                    return Err(XmlError("reference outside the root element".into()));
                };
                if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .map_err(|e| err(&e))?
                        .ok_or_else(|| XmlError("bad character reference".into()))?;
                    top.text.push(c);
                } else {
                    let name = r.decode().map_err(|e| err(&e))?;
                    let v = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?;
                    top.text.push_str(v);
                }
            }
            Event::DocType(_) => {
                // No DTDs: no entity definitions to expand.
                return Err(XmlError("DOCTYPE not allowed".into()));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

/// Whether `name` is an XML NCName (a Name without `:`), with the ASCII
/// rules of XML 1.0 §2.3 and any non-ASCII character allowed.
fn valid_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    match chars.next() {
        Some(c) if start(c) => {}
        _ => return false,
    }
    chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn push_text(top: &mut Element, s: &str) -> Result<(), XmlError> {
    if top.text.len() + s.len() > MAX_DOCUMENT {
        return Err(XmlError("text too long".into()));
    }
    top.text.push_str(s);
    Ok(())
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Writes `<?xml version="1.0" encoding="UTF-8"?>` and a root element in
/// namespace `ns` whose content `inner` writes.
pub fn document<F>(root: &str, ns: &str, inner: F) -> Vec<u8>
where
    F: FnOnce(&mut quick_xml::Writer<Vec<u8>>) -> std::io::Result<()>,
{
    use quick_xml::events::BytesDecl;
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = w
        .create_element(root)
        .with_attribute(("xmlns", ns))
        .write_inner_content(inner);
    let mut out = w.into_inner();
    out.push(b'\n');
    out
}

/// Writes `<name>text</name>` (text escaped).
pub fn text_element(
    w: &mut quick_xml::Writer<Vec<u8>>,
    name: &str,
    text: &str,
) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(quick_xml::events::BytesText::new(text))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespaces_entities_and_cdata() {
        let doc = br#"<?xml version="1.0"?><!-- c --><a:r xmlns:a="urn:x" xmlns="urn:d"><b>1 &lt; 2 &#x41;<![CDATA[<z>]]></b><a:c/><e xmlns=""/></a:r>"#;
        let r = parse(doc).unwrap();
        assert_eq!((r.namespace.as_str(), r.name.as_str()), ("urn:x", "r"));
        assert_eq!(r.child_text("urn:d", "b"), Some("1 < 2 A<z>"));
        assert!(r.child("urn:x", "c").is_some());
        assert!(r.child("", "e").is_some());
    }

    #[test]
    fn refuses_bad_documents() {
        for bad in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"<a/><b/>",
            b"<p:a/>",
            b"<a>&ent;</a>",
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
            b"text<a/>",
            b"<a>\xff</a>",
            b"<a:b:c xmlns:a='urn:x'/>",
            b"<a><?b/></a>",
            b"<a:?b xmlns:a='urn:x'/>",
            b"<1a/>",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        assert!(parse(wide.as_bytes()).is_err());
    }

    #[test]
    fn writes_escaped_text() {
        let doc = document("r", "urn:x", |w| text_element(w, "t", "a<b&c"));
        let text = String::from_utf8(doc.clone()).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(text.contains("<t>a&lt;b&amp;c</t>"), "{text}");
        assert_eq!(parse(&doc).unwrap().child_text("urn:x", "t"), Some("a<b&c"));
    }
}
