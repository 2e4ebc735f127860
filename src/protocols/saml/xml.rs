//! A small namespace-aware element tree over quick-xml, for reading SAML messages and metadata
//! (the protocol layer never sees bergshamra's DOM).
//!
//! Only the five predefined entities and character references are understood: a DTD, any other
//! entity reference or a processing instruction fails the parse. Depth is limited to 64.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::SamlError;

const MAX_DEPTH: usize = 64;

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data (text and CDATA, entities resolved).
    Text(String),
    /// A comment (kept so identities split by comments can be refused).
    Comment,
}

/// An element with its namespace, attributes and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI ("" when none).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Attributes: unprefixed ones by local name, prefixed ones as `prefix:local`.
    pub attrs: Vec<(String, String)>,
    /// Children in document order.
    pub children: Vec<Node>,
}

fn invalid(msg: impl std::fmt::Display) -> SamlError {
    SamlError::new("invalid_response", format!("Malformed XML: {msg}"))
}

fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn push_text(stack: &mut [Element], s: &str) {
    if let Some(top) = stack.last_mut() {
        if let Some(Node::Text(t)) = top.children.last_mut() {
            t.push_str(s);
        } else {
            top.children.push(Node::Text(s.to_string()));
        }
    }
}

/// Parses a document into its root element.
pub fn parse(xml: &str) -> Result<Element, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(invalid)?;
        let ns = match resolved {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref().as_bytes()).into_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => {
                return Err(invalid(format!("unknown prefix {p}")));
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(invalid("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(invalid("nesting too deep"));
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(invalid)?;
                    let key = String::from_utf8_lossy(a.key.as_ref().as_bytes()).into_owned();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(invalid)?
                        .into_owned();
                    attrs.push((key, value));
                }
                let el = Element {
                    ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref().as_bytes()).into_owned(),
                    attrs,
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(el)),
                        None => root = Some(el),
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| invalid("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                if stack.is_empty() {
                    if !s.trim().is_empty() {
                        return Err(invalid("text outside the root element"));
                    }
                } else {
                    push_text(&mut stack, &s);
                }
            }
            Event::CData(c) => {
                let s = c.into_inner().into_owned();
                push_text(&mut stack, &s);
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let c = entity(&name).ok_or_else(|| invalid(format!("unknown entity &{name};")))?;
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]));
            }
            Event::Comment(_) => {
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node::Comment);
                }
            }
            Event::DocType(_) => {
                return Err(SamlError::new(
                    "dtd_forbidden",
                    "The XML contains a DTD, which is not allowed.",
                ));
            }
            Event::PI(_) => return Err(invalid("processing instructions are not allowed")),
            Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(invalid("unexpected end of document"));
    }
    root.ok_or_else(|| invalid("no root element"))
}

impl Element {
    /// True when this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.name == local
    }

    /// An attribute by its (unprefixed) name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The first child element `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// Every child element `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// Every descendant element `{ns}local` (depth-first, document order).
    pub fn descendants_named<'a>(&'a self, ns: &str, local: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut todo: Vec<&Element> = vec![self];
        while let Some(e) = todo.pop() {
            if e.is(ns, local) {
                out.push(e);
            }
            let kids: Vec<&Element> = e.elements().collect();
            todo.extend(kids.into_iter().rev());
        }
        out
    }

    /// The element's own text (children's text is not included), trimmed.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<String>()
            .trim()
            .to_string()
    }

    /// Like [`Self::text`], but refuses text split by a comment (a classic way to make a
    /// parser read `alice@example.com` out of `alice@example.com<!---->.evil.test`).
    pub fn identity_text(&self) -> Result<String, SamlError> {
        if self.children.iter().any(|n| matches!(n, Node::Comment)) {
            return Err(SamlError::new(
                "comment_in_identity",
                format!(
                    "The {} value contains an XML comment, which is not allowed.",
                    self.name
                ),
            ));
        }
        Ok(self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_entities_and_comments_are_read() {
        let root = parse(
            r#"<?xml version="1.0"?><a:R xmlns:a="urn:a" x="1&amp;2"><a:N>al&lt;ice<!--c--></a:N><b xmlns="urn:b"><![CDATA[<x>]]></b></a:R>"#,
        )
        .unwrap();
        assert!(root.is("urn:a", "R"));
        assert_eq!(root.attr("x"), Some("1&2"));
        let n = root.child("urn:a", "N").unwrap();
        assert_eq!(n.text(), "al<ice");
        assert!(n.identity_text().is_err());
        assert_eq!(root.child("urn:b", "b").unwrap().text(), "<x>");
    }

    #[test]
    fn dtds_unknown_entities_and_deep_nesting_fail() {
        assert_eq!(
            parse(r#"<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>"#)
                .unwrap_err()
                .code,
            "dtd_forbidden"
        );
        assert!(parse("<r>&x;</r>").is_err());
        assert!(parse(&"<a>".repeat(100)).is_err());
        assert!(parse("<a></a><b/>").is_err());
        assert!(parse("<a><b></a>").is_err());
    }
}
