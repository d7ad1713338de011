//! Streamed state: large `config false` tables (the RIB) read entry by
//! entry instead of through a libyang tree.
//!
//! A [`StateProvider`](super::StateProvider) that serves a table this way
//! returns a [`StateStream`] of [`StreamEntry`]s: each one list entry (or
//! container) with its absolute path and its content as a small typed tree
//! that prints as RFC 7951 JSON or splits into leaves, without libyang.

use std::fmt::Write as _;
use std::sync::Arc;

/// One element of an entry's absolute path: the node name (bare, as
/// OpenConfig paths write it) and, for a list entry, its keys in schema
/// order (identity values bare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamElem {
    /// Node name.
    pub name: String,
    /// Key names and values.
    pub keys: Vec<(String, String)>,
}

impl StreamElem {
    /// A container (or a list entry without keys).
    pub fn node(name: &str) -> StreamElem {
        StreamElem {
            name: name.to_string(),
            keys: Vec::new(),
        }
    }

    /// A list entry.
    pub fn entry(name: &str, keys: &[(&str, String)]) -> StreamElem {
        StreamElem {
            name: name.to_string(),
            keys: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }
}

/// A leaf value with the type facts its encodings need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// An 8, 16 or 32-bit unsigned integer: a JSON number.
    U32(u32),
    /// A 64-bit unsigned integer: a JSON string (RFC 7951 6.1).
    U64(u64),
    /// A boolean.
    Bool(bool),
    /// Text (addresses, prefixes, enumerations, strings): a JSON string.
    Str(String),
    /// An identity, module-qualified (`module:NAME`); PROTO and path keys
    /// use the bare name.
    Identity(String),
    /// A binary value, already base64 (RFC 7951 6.6).
    Binary(String),
}

impl Scalar {
    /// The RFC 7951 JSON text.
    pub fn json(&self, out: &mut String) {
        match self {
            Scalar::U32(n) => {
                let _ = write!(out, "{n}");
            }
            Scalar::U64(n) => {
                let _ = write!(out, "\"{n}\"");
            }
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Scalar::Str(s) | Scalar::Identity(s) | Scalar::Binary(s) => json_string(s, out),
        }
    }

    /// The text a path key or a PROTO string uses: identities bare.
    pub fn text(&self) -> String {
        match self {
            Scalar::U32(n) => n.to_string(),
            Scalar::U64(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Identity(s) => s
                .split_once(':')
                .map_or(s.as_str(), |(_, bare)| bare)
                .to_string(),
            Scalar::Str(s) | Scalar::Binary(s) => s.clone(),
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // The common case: nothing to escape.
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A data node of a streamed entry's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamNode {
    /// A leaf.
    Leaf(&'static str, Scalar),
    /// A leaf-list with its values in order.
    LeafList(&'static str, Vec<Scalar>),
    /// A container with its children.
    Container(&'static str, Vec<StreamNode>),
    /// A list: its name, its key names, and its entries' children (keys
    /// included as leaves).
    List(&'static str, &'static [&'static str], Vec<Vec<StreamNode>>),
}

impl StreamNode {
    /// The node's name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamNode::Leaf(n, _)
            | StreamNode::LeafList(n, _)
            | StreamNode::Container(n, _)
            | StreamNode::List(n, _, _) => n,
        }
    }

    /// The RFC 7951 JSON of the node's value: a scalar, an array or an
    /// object.
    pub fn json_value(&self, out: &mut String) {
        match self {
            StreamNode::Leaf(_, v) => v.json(out),
            StreamNode::LeafList(_, vs) => {
                out.push('[');
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.json(out);
                }
                out.push(']');
            }
            StreamNode::Container(_, children) => object_json(children, out),
            StreamNode::List(_, _, entries) => {
                out.push('[');
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    object_json(e, out);
                }
                out.push(']');
            }
        }
    }
}

/// The JSON object of some children.
pub fn object_json(children: &[StreamNode], out: &mut String) {
    out.push('{');
    for (i, c) in children.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(c.name(), out);
        out.push(':');
        c.json_value(out);
    }
    out.push('}');
}

/// The key elements of a list entry whose children are `children`.
pub fn entry_keys(keys: &[&'static str], children: &[StreamNode]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| {
            let value = children
                .iter()
                .find_map(|c| match c {
                    StreamNode::Leaf(n, v) if n == k => Some(v.text()),
                    _ => None,
                })
                .unwrap_or_default();
            (k.to_string(), value)
        })
        .collect()
}

/// One streamed entry: a list entry or container at `parent` + `elem` and
/// its content (for a list entry, its key leaves first). Entries of one
/// table share their parent path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Absolute path of the entry's parent, from the root.
    pub parent: Arc<[StreamElem]>,
    /// The entry's own element.
    pub elem: StreamElem,
    /// The children.
    pub children: Vec<StreamNode>,
}

impl StreamEntry {
    /// An entry at `path` (not empty).
    pub fn at(path: Vec<StreamElem>, children: Vec<StreamNode>) -> StreamEntry {
        let mut parent = path;
        let elem = parent.pop().unwrap_or_else(|| StreamElem::node(""));
        StreamEntry {
            parent: parent.into(),
            elem,
            children,
        }
    }

    /// The entry's whole path.
    pub fn path(&self) -> Vec<StreamElem> {
        let mut p = self.parent.to_vec();
        p.push(self.elem.clone());
        p
    }

    /// Element `i` of the path (`i` below [`StreamEntry::depth`]).
    pub fn path_elem(&self, i: usize) -> &StreamElem {
        self.parent.get(i).unwrap_or(&self.elem)
    }

    /// Length of the path.
    pub fn depth(&self) -> usize {
        self.parent.len() + 1
    }

    /// The RFC 7951 JSON object of the entry (what a gNMI update at its
    /// path carries).
    pub fn json(&self) -> String {
        let mut out = String::with_capacity(256);
        object_json(&self.children, &mut out);
        out
    }
}

/// The entries of a streamed table, produced as they are read.
pub type StateStream = Box<dyn Iterator<Item = StreamEntry> + Send>;

/// What changed in a streamed table, for on-change readers.
#[derive(Debug, Clone)]
pub enum StreamChange {
    /// An entry is new or changed: its whole content.
    Update(StreamEntry),
    /// The entry at this path went.
    Delete(Vec<StreamElem>),
    /// The reader fell behind and changes were lost: read everything again.
    Lagged,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_rfc7951() {
        let e = StreamEntry::at(
            vec![StreamElem::node("x")],
            vec![
                StreamNode::Leaf("a", Scalar::U32(1)),
                StreamNode::Leaf("b", Scalar::U64(2)),
                StreamNode::LeafList("c", vec![Scalar::Str("q\"".into())]),
                StreamNode::List(
                    "l",
                    &["k"],
                    vec![vec![StreamNode::Leaf("k", Scalar::Identity("m:K".into()))]],
                ),
            ],
        );
        assert_eq!(e.json(), r#"{"a":1,"b":"2","c":["q\""],"l":[{"k":"m:K"}]}"#);
        assert_eq!(
            entry_keys(
                &["k"],
                &[StreamNode::Leaf("k", Scalar::Identity("m:K".into()))]
            ),
            vec![("k".to_string(), "K".to_string())]
        );
    }
}
