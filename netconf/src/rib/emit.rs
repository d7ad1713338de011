//! Streamed RIB content written straight as XML text: no element tree
//! per route. The text is what building the elements ([`super::leaf`],
//! [`super::elements`]) and writing them with [`xml::write`] gives, byte
//! for byte (the tests compare the two).

use std::fmt::Write as _;

use ocbgp_models::datastore::{Scalar, StreamNode};
use ocbgp_models::schema;

use crate::xml;

/// Module namespaces, looked up in the schema once per module name (a
/// route names at most a couple: `ocbgp` leaves, identities).
#[derive(Default)]
pub(super) struct Namespaces(Vec<(Box<str>, Option<&'static str>)>);

impl Namespaces {
    /// The namespace of module `name`, if it is one of ours.
    pub(super) fn of(&mut self, name: &str) -> Option<&'static str> {
        if let Some((_, ns)) = self.0.iter().find(|(m, _)| &**m == name) {
            return *ns;
        }
        let ns = schema::module(name).and_then(|m| m.namespace);
        self.0.push((name.into(), ns));
        ns
    }

    /// A node's element name and the default namespace it declares: a
    /// node another module adds (`module:name`) is in that module's
    /// namespace; others are in the RIB's, declared above.
    pub(super) fn element_name<'a>(&mut self, name: &'a str) -> (&'a str, Option<&'static str>) {
        if let Some((module, local)) = name.split_once(':') {
            if let Some(ns) = self.of(module) {
                return (local, Some(ns));
            }
        }
        (name, None)
    }
}

/// Appends `text` escaped for element content or attribute values.
pub(super) fn escape_into(out: &mut String, text: &str) {
    if text
        .bytes()
        .any(|b| matches!(b, b'<' | b'>' | b'&' | b'\'' | b'"'))
    {
        out.push_str(&xml::escape(text));
    } else {
        out.push_str(text);
    }
}

fn start(out: &mut String, local: &str, default_ns: Option<&str>) {
    out.push('<');
    out.push_str(local);
    if let Some(ns) = default_ns {
        out.push_str(" xmlns=\"");
        escape_into(out, ns);
        out.push('"');
    }
}

fn end(out: &mut String, local: &str) {
    out.push_str("</");
    out.push_str(local);
    out.push('>');
}

/// Writes a leaf; an identity with its module's name as prefix, declared
/// on the element.
pub(super) fn leaf(out: &mut String, ns: &mut Namespaces, name: &str, value: &Scalar) {
    let (local, default_ns) = ns.element_name(name);
    start(out, local, default_ns);
    match value {
        Scalar::Identity(id) => {
            if let Some((module, _)) = id.split_once(':') {
                if let Some(module_ns) = ns.of(module) {
                    out.push_str(" xmlns:");
                    out.push_str(module);
                    out.push_str("=\"");
                    escape_into(out, module_ns);
                    out.push('"');
                }
            }
            out.push('>');
            escape_into(out, id);
        }
        Scalar::U32(n) => {
            out.push('>');
            let _ = write!(out, "{n}");
        }
        Scalar::U64(n) => {
            out.push('>');
            let _ = write!(out, "{n}");
        }
        Scalar::Bool(b) => {
            out.push('>');
            out.push_str(if *b { "true" } else { "false" });
        }
        Scalar::Str(s) | Scalar::Binary(s) => {
            out.push('>');
            escape_into(out, s);
        }
    }
    end(out, local);
}

/// Writes node `n` (all its elements: a leaf-list's values, a list's
/// entries).
pub(super) fn node(out: &mut String, ns: &mut Namespaces, n: &StreamNode) {
    match n {
        StreamNode::Leaf(name, v) => leaf(out, ns, name, v),
        StreamNode::LeafList(name, values) => {
            for v in values {
                leaf(out, ns, name, v);
            }
        }
        StreamNode::Container(name, children) => inner(out, ns, name, children),
        StreamNode::List(name, _, entries) => {
            for children in entries {
                inner(out, ns, name, children);
            }
        }
    }
}

/// A container or list entry named `name` with `children`.
fn inner(out: &mut String, ns: &mut Namespaces, name: &str, children: &[StreamNode]) {
    let (local, default_ns) = ns.element_name(name);
    start(out, local, default_ns);
    out.push('>');
    for c in children {
        node(out, ns, c);
    }
    end(out, local);
}
