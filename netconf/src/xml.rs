//! XML as NETCONF needs it: a small namespace-aware element tree parsed
//! with quick-xml, and writing it back.
//!
//! Elements keep their original prefix and namespace declarations, so a
//! part of a document can be written out on its own and still mean the
//! same (values such as identityrefs carry prefixes that need their
//! declarations). Mixed content is not needed by NETCONF or YANG data: an
//! element keeps the concatenation of its text pieces.

use std::fmt::Write as _;
use std::sync::Arc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// The NETCONF base namespace (RFC 6241).
pub const NC_NS: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";
/// ietf-netconf-monitoring (RFC 6022).
pub const MONITORING_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring";
/// ietf-netconf-with-defaults (RFC 6243).
pub const WITH_DEFAULTS_NS: &str = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults";
/// The namespace bound to the `xml` prefix.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted; deeper input is refused rather than
/// risking the stack in the recursive walks.
pub const MAX_DEPTH: usize = 128;

/// Namespace declarations in scope: a chain from an element to the root.
#[derive(Debug, Default)]
pub struct Scope {
    parent: Option<Arc<Scope>>,
    /// Declarations made here: (prefix, namespace); `None` is the default
    /// namespace, and an empty namespace undeclares it.
    decls: Vec<(Option<String>, String)>,
}

impl Scope {
    /// The namespace a prefix (or, with `None`, the default namespace)
    /// stands for here.
    pub fn resolve(&self, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some((_, ns)) = s.decls.iter().rev().find(|(p, _)| p.as_deref() == prefix) {
                return (!ns.is_empty()).then_some(ns.as_str());
            }
            scope = s.parent.as_deref();
        }
        None
    }

    /// Every binding visible here, innermost winning, outermost first.
    pub fn bindings(&self) -> Vec<(Option<String>, String)> {
        let mut chain = Vec::new();
        let mut scope = Some(self);
        while let Some(s) = scope {
            chain.push(s);
            scope = s.parent.as_deref();
        }
        let mut out: Vec<(Option<String>, String)> = Vec::new();
        for s in chain.into_iter().rev() {
            for (p, ns) in &s.decls {
                out.retain(|(q, _)| q != p);
                out.push((p.clone(), ns.clone()));
            }
        }
        out
    }
}

/// An attribute other than a namespace declaration.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Its prefix as written.
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Namespace (unprefixed attributes have none).
    pub ns: Option<String>,
    /// Unescaped value.
    pub value: String,
}

/// An element with its children.
#[derive(Debug, Clone)]
pub struct Element {
    /// Prefix as written.
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Resolved namespace.
    pub ns: Option<String>,
    /// Attributes, without namespace declarations.
    pub attrs: Vec<Attribute>,
    /// Namespace declarations made on this element.
    pub decls: Vec<(Option<String>, String)>,
    /// Declarations in scope here (including `decls`).
    pub scope: Arc<Scope>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's text (all text pieces, concatenated, unescaped).
    pub text: String,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub String);

impl Element {
    /// A new element in namespace `ns` written without prefix (declaring
    /// the namespace as default when `declare` is set).
    pub fn new(name: &str, ns: Option<&str>) -> Element {
        Element {
            prefix: None,
            name: name.to_string(),
            ns: ns.map(str::to_string),
            attrs: Vec::new(),
            decls: Vec::new(),
            scope: Arc::new(Scope::default()),
            children: Vec::new(),
            text: String::new(),
        }
    }

    /// Declares `prefix` for `ns` on this element (the prefix of an
    /// identity in its text), for writing and for resolving it.
    pub fn bind(&mut self, prefix: &str, ns: &str) {
        let decl = (Some(prefix.to_string()), ns.to_string());
        self.decls.push(decl.clone());
        self.scope = Arc::new(Scope {
            parent: Some(self.scope.clone()),
            decls: vec![decl],
        });
    }

    /// Whether this element has the given namespace and local name.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The first child with the given namespace and name.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// The value of the attribute with no namespace and the given name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute in namespace `ns` named `name`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// A copy without children and text.
    pub fn clone_shallow(&self) -> Element {
        Element {
            prefix: self.prefix.clone(),
            name: self.name.clone(),
            ns: self.ns.clone(),
            attrs: self.attrs.clone(),
            decls: self.decls.clone(),
            scope: self.scope.clone(),
            children: Vec::new(),
            text: String::new(),
        }
    }

    /// The trimmed text.
    pub fn value(&self) -> &str {
        self.text.trim()
    }

    /// Whether the element is empty: no children, no text.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.value().is_empty()
    }

    /// The qualified name as written.
    pub fn qname(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Resolves a `prefix:name` value (an identityref) in this element's
    /// scope: (namespace, local name). Values without prefix, or whose
    /// prefix is unknown, give `None`.
    pub fn qname_value(&self) -> Option<(&str, &str)> {
        let (prefix, local) = self.value().split_once(':')?;
        Some((self.scope.resolve(Some(prefix))?, local))
    }
}

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    if text.contains('\0') {
        return Err(XmlError("the message contains a NUL character".into()));
    }
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let root_scope = Arc::new(Scope::default());
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError(format!("{e} at byte {}", reader.error_position())))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let parent_scope = stack
                    .last()
                    .map(|e| e.scope.clone())
                    .unwrap_or_else(|| root_scope.clone());
                stack.push(start_element(&start, parent_scope)?);
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(XmlError("unexpected end tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Empty(_) => unreachable_empty()?,
            Event::Text(t) => {
                let text = t.xml_content().map_err(|e| XmlError(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t.xml_content().map_err(|e| XmlError(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                    Some(c) => c,
                    None => {
                        let name = r.decode().map_err(|e| XmlError(e.to_string()))?;
                        match &*name {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => return Err(XmlError(format!("unknown entity &{other};"))),
                        }
                    }
                };
                if ch == '\0' {
                    return Err(XmlError("character reference to NUL".into()));
                }
                push_text(&mut stack, ch.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => {
                return Err(XmlError(
                    "document type declarations are not accepted".into(),
                ))
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("unexpected end of document".into()));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

fn unreachable_empty() -> Result<(), XmlError> {
    // expand_empty_elements turns <a/> into Start and End.
    Err(XmlError("internal: empty element event".into()))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(e) => {
            e.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError("text outside the root element".into())),
    }
}

fn split_qname(raw: &str) -> Result<(Option<String>, String), XmlError> {
    match raw.split_once(':') {
        Some((p, l)) if !p.is_empty() && !l.is_empty() && !l.contains(':') => {
            Ok((Some(p.to_string()), l.to_string()))
        }
        Some(_) => Err(XmlError(format!("bad qualified name {raw}"))),
        None => Ok((None, raw.to_string())),
    }
}

fn start_element(start: &BytesStart<'_>, parent: Arc<Scope>) -> Result<Element, XmlError> {
    let raw = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| XmlError("element name is not UTF-8".into()))?
        .to_string();
    let (prefix, name) = split_qname(&raw)?;
    let mut decls = Vec::new();
    let mut raw_attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError(e.to_string()))?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|_| XmlError("attribute name is not UTF-8".into()))?
            .to_string();
        let value = attr
            .unescape_value()
            .map_err(|e| XmlError(e.to_string()))?
            .into_owned();
        if value.contains('\0') {
            return Err(XmlError("attribute value contains NUL".into()));
        }
        if key == "xmlns" {
            decls.push((None, value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(XmlError(format!("prefix {p} bound to the empty namespace")));
            }
            decls.push((Some(p.to_string()), value));
        } else {
            raw_attrs.push((key, value));
        }
    }
    let scope = if decls.is_empty() {
        parent
    } else {
        Arc::new(Scope {
            parent: Some(parent),
            decls: decls.clone(),
        })
    };
    let ns = match scope.resolve(prefix.as_deref()) {
        Some(ns) => Some(ns.to_string()),
        None if prefix.is_some() => {
            return Err(XmlError(format!("undeclared prefix in {raw}")));
        }
        None => None,
    };
    let mut attrs = Vec::new();
    for (key, value) in raw_attrs {
        let (prefix, name) = split_qname(&key)?;
        let ns = match &prefix {
            Some(p) => Some(
                scope
                    .resolve(Some(p))
                    .ok_or_else(|| XmlError(format!("undeclared prefix in attribute {key}")))?
                    .to_string(),
            ),
            None => None,
        };
        attrs.push(Attribute {
            prefix,
            name,
            ns,
            value,
        });
    }
    Ok(Element {
        prefix,
        name,
        ns,
        attrs,
        decls,
        scope,
        children: Vec::new(),
        text: String::new(),
    })
}

/// Escapes text for element content or attribute values.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// How to write an element out.
pub struct WriteOptions<'a> {
    /// Declare every namespace binding in scope on the top element, so a
    /// part of a document stands on its own.
    pub declare_scope: bool,
    /// Leave attributes out (NETCONF operation attributes in edit values).
    pub strip_attrs: bool,
    /// Children for which this is true are left out.
    pub skip: &'a dyn Fn(&Element) -> bool,
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            declare_scope: true,
            strip_attrs: false,
            skip: &|_| false,
        }
    }
}

/// Writes the start tag of `e`; `declare_scope` declares all bindings in
/// scope, else only those made on the element.
pub fn write_start(out: &mut String, e: &Element, declare_scope: bool, strip_attrs: bool) {
    out.push('<');
    out.push_str(&e.qname());
    let decls = if declare_scope {
        e.scope.bindings()
    } else {
        e.decls.clone()
    };
    let mut has_default = false;
    for (p, ns) in &decls {
        match p {
            Some(p) => {
                let _ = write!(out, " xmlns:{p}=\"{}\"", escape(ns));
            }
            None => {
                has_default = true;
                let _ = write!(out, " xmlns=\"{}\"", escape(ns));
            }
        }
    }
    // An element built without declarations but with a namespace (by this
    // crate) declares it as default.
    if e.prefix.is_none() && !has_default && declare_scope {
        if let Some(ns) = &e.ns {
            let _ = write!(out, " xmlns=\"{}\"", escape(ns));
        }
    }
    if !strip_attrs {
        for a in &e.attrs {
            match &a.prefix {
                Some(p) => {
                    let _ = write!(out, " {p}:{}=\"{}\"", a.name, escape(&a.value));
                }
                None => {
                    let _ = write!(out, " {}=\"{}\"", a.name, escape(&a.value));
                }
            }
        }
    }
    out.push('>');
}

/// Writes the end tag of `e`.
pub fn write_end(out: &mut String, e: &Element) {
    out.push_str("</");
    out.push_str(&e.qname());
    out.push('>');
}

/// Writes `e` and its subtree.
pub fn write(out: &mut String, e: &Element, options: &WriteOptions<'_>) {
    write_start(out, e, options.declare_scope, options.strip_attrs);
    let inner = WriteOptions {
        declare_scope: false,
        strip_attrs: options.strip_attrs,
        skip: options.skip,
    };
    if e.children.is_empty() {
        out.push_str(&escape(&e.text));
    } else {
        for c in &e.children {
            if !(options.skip)(c) {
                write(out, c, &inner);
            }
        }
    }
    write_end(out, e);
}

/// `e` as a string, standing on its own.
pub fn to_string(e: &Element) -> String {
    let mut out = String::new();
    write(&mut out, e, &WriteOptions::default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_resolve_and_survive_writing() {
        let doc = r#"<?xml version="1.0"?><nc:rpc xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7">
            <nc:edit-config><nc:config><x:top xmlns:x="urn:x" xmlns:t="urn:t" nc:operation="merge">
            <x:leaf>t:ID &amp; &#65;</x:leaf><plain/></x:top></nc:config></nc:edit-config></nc:rpc>"#;
        let rpc = parse(doc).unwrap();
        assert!(rpc.is(NC_NS, "rpc"));
        assert_eq!(rpc.attr("message-id"), Some("7"));
        let top = &rpc.children[0].children[0].children[0];
        assert_eq!(top.ns.as_deref(), Some("urn:x"));
        assert_eq!(top.attr_ns(NC_NS, "operation"), Some("merge"));
        let leaf = &top.children[0];
        assert_eq!(leaf.value(), "t:ID & A");
        assert_eq!(top.children[1].ns, None);
        let written = to_string(leaf);
        let again = parse(&written).unwrap();
        assert_eq!(again.ns.as_deref(), Some("urn:x"));
        assert_eq!(again.value(), "t:ID & A");
        assert_eq!(again.scope.resolve(Some("t")), Some("urn:t"));
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "<a><b></a>",
            "<a>&#0;</a>",
            "<a>&foo;</a>",
            "<p:a/>",
            "<a/><b/>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>\0</a>",
            "",
            "<a",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
    }
}
