//! The RIB in `<get>` replies. Routes are not in the operational tree:
//! the state provider streams them as entries (what gNMI reads,
//! `StateProvider::stream_state`), and a reply writes them as XML, piece
//! by piece, inside the `bgp` element of the rest of its data, so a table
//! of any size is sent in bounded memory.
//!
//! As in gNMI, a read above `bgp/rib` does not include the RIB: a subtree
//! filter names the `rib` element under `bgp`, or an XPath filter is a
//! plain path through `bgp/rib` (keys as `[name='value']` predicates; it
//! becomes the equivalent subtree filter). The filter is applied to each
//! entry (a route, a set) with the path above it, so the result is what
//! the same filter would select from a whole tree.
//!
//! [`request`] finds the filter's branch into the RIB and the tables it
//! reaches (only those are read); `writer` writes the entries, deciding
//! the filter once per shape of entry (`plan`) and writing whole entries
//! as text (`emit`) without an element tree per route.

mod emit;
mod plan;
mod request;
mod writer;

use std::collections::HashMap;

use ocbgp_models::datastore::{
    Datastore, Scalar, StateStream, StreamElem, StreamEntry, StreamNode,
};
use ocbgp_models::schema;
use yang2::schema::SchemaNode;

use crate::error::{ErrorTag, RpcError};
use crate::xml::{self, write_end, Element, WriteOptions};
use crate::yang;
pub use request::{request, RibRequest};
use writer::Writer;

/// The elements from the top of the schema to the RIB.
const TO_RIB: [&str; 6] = [
    "network-instances",
    "network-instance",
    "protocols",
    "protocol",
    "bgp",
    "rib",
];
/// Where those elements are (the RIB is used by network-instance).
const NI_NS: &str = "http://openconfig.net/yang/network-instance";
/// The BGP protocol instances of the configuration.
const BGP_PROTOCOLS: &str = "/openconfig-network-instance:network-instances/network-instance\
    /protocols/protocol[identifier='openconfig-policy-types:BGP']";
/// Bytes of XML handed to the session at a time.
pub const PIECE: usize = 64 * 1024;

/// Whether a filter element can be of the RIB's namespace.
pub(super) fn in_ni(e: &Element) -> bool {
    e.ns.as_deref().is_none_or(|ns| ns == NI_NS)
}

/// The RIB entries a request reads, from the first; `None` when there
/// are none (no BGP instance, or nothing in the selected tables).
pub fn open(
    store: &Datastore,
    req: &RibRequest,
    access: &ocbgp_models::nacm::Access,
) -> Result<Option<(StreamEntry, StateStream)>, RpcError> {
    let running = store.running();
    let protocols = ocbgp_models::ly::find(running.tree(), BGP_PROTOCOLS)
        .map_err(|e| RpcError::application(ErrorTag::OperationFailed, e))?;
    let Some(protocol) = protocols.first() else {
        return Ok(None);
    };
    let path = format!(
        "{}/bgp/rib{}",
        ocbgp_models::ly::node_path(protocol),
        req.below
    );
    // A table the user may read only in part is left out whole: streamed
    // entries are not a tree the rules can be applied to node by node.
    if access.reads_subtree(&path) != Some(true) {
        return Ok(None);
    }
    let Some(mut stream) = store.stream_state_nested(&path) else {
        return Ok(None);
    };
    Ok(stream.next().map(|first| (first, stream)))
}

/// A `<data>` whose RIB part is still to be written: `head`, then the
/// pieces [`Streamed::fill`] writes, then `tail`.
pub struct Streamed {
    /// The data up to the inside of the `bgp` element.
    pub head: String,
    /// The data from the end of the `bgp` element.
    pub tail: String,
    writer: Writer,
}

impl Streamed {
    /// Puts `content` (the data read from the tree) around the RIB
    /// entries `first` and `rest`.
    pub fn new(
        content: &str,
        first: StreamEntry,
        rest: StateStream,
        req: RibRequest,
    ) -> Result<Streamed, RpcError> {
        let path = first.path();
        let Some(rib_at) = path.iter().position(|e| e.name == "rib") else {
            return Err(RpcError::application(
                ErrorTag::OperationFailed,
                "a RIB entry outside bgp/rib",
            ));
        };
        let chain = path[..rib_at].to_vec();
        let mut data = xml::parse(&format!("<data>{content}</data>"))
            .map_err(|e| RpcError::application(ErrorTag::OperationFailed, e.to_string()))?;
        let mut keys = KeyKinds::default();
        let at = locate(&mut data.children, &chain, &mut keys);
        let mut out = [String::new(), String::new()];
        let mut part = 0;
        for (i, c) in data.children.iter().enumerate() {
            if i == at[0] {
                write_split(&mut out, &mut part, c, &at[1..], true);
            } else {
                xml::write(&mut out[part], c, &WriteOptions::default());
            }
        }
        let [head, tail] = out;
        Ok(Streamed {
            head,
            tail,
            writer: Writer::new(chain, req.filter, first, rest, keys),
        })
    }

    /// Writes entries into `out` until it holds about [`PIECE`] bytes;
    /// `false` once the last entry is written (and the elements opened
    /// for them are closed).
    pub fn fill(&mut self, out: &mut String) -> bool {
        self.writer.fill(out)
    }
}

/// Writes `e` (declaring its scope if `top`) into `out[*part]`, switching
/// to `out[1]` at the end of the element `at` leads to.
fn write_split(out: &mut [String; 2], part: &mut usize, e: &Element, at: &[usize], top: bool) {
    xml::write_start(&mut out[*part], e, top, false);
    let inner = WriteOptions {
        declare_scope: false,
        ..WriteOptions::default()
    };
    for (i, c) in e.children.iter().enumerate() {
        match at.split_first() {
            Some((&next, rest)) if next == i => write_split(out, part, c, rest, false),
            _ => xml::write(&mut out[*part], c, &inner),
        }
    }
    if at.is_empty() {
        *part = 1;
    }
    write_end(&mut out[*part], e);
}

/// Finds (creating what is missing) the elements `chain` names among
/// `siblings` and below; their indexes, from the top.
fn locate(siblings: &mut Vec<Element>, chain: &[StreamElem], keys: &mut KeyKinds) -> Vec<usize> {
    let mut at = Vec::new();
    let mut level = siblings;
    for (depth, elem) in chain.iter().enumerate() {
        let found = level.iter().position(|e| {
            e.name == elem.name
                && in_ni(e)
                && elem.keys.iter().all(|(k, v)| {
                    e.children.iter().any(|c| {
                        c.name == *k
                            && c.value().rsplit_once(':').map_or(c.value(), |(_, l)| l) == v
                    })
                })
        });
        let i = match found {
            Some(i) => i,
            None => {
                level.push(keys.element(&chain[..depth], elem, Vec::new()));
                level.len() - 1
            }
        };
        at.push(i);
        level = &mut level[i].children;
    }
    at
}

/// Which list keys are identities (their values come bare in a stream's
/// paths), looked up in the schema once per list and key.
#[derive(Default)]
struct KeyKinds(HashMap<(String, String), bool>);

impl KeyKinds {
    fn is_identity(&mut self, above: &[StreamElem], list: &str, key: &str) -> bool {
        let id = (list.to_string(), key.to_string());
        if let Some(&known) = self.0.get(&id) {
            return known;
        }
        let node = schema_node(above.iter().map(|e| e.name.as_str()).chain([list]));
        let known = node
            .and_then(|n| yang::child_node(&n, NI_NS, key))
            .is_some_and(|k| yang::is_identityref(&k));
        self.0.insert(id, known);
        known
    }

    /// The element for `elem` (below `above`) with its keys, then
    /// `children`.
    fn element(
        &mut self,
        above: &[StreamElem],
        elem: &StreamElem,
        children: Vec<Element>,
    ) -> Element {
        let mut e = Element::new(&elem.name, Some(NI_NS));
        for (k, v) in &elem.keys {
            let value = if self.is_identity(above, &elem.name, k) {
                match schema::identity_module(v) {
                    Some(m) => Scalar::Identity(format!("{}:{v}", m.name)),
                    None => Scalar::Str(v.clone()),
                }
            } else {
                Scalar::Str(v.clone())
            };
            e.children.push(leaf(k, &value));
        }
        e.children.extend(children);
        e
    }
}

fn schema_node<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<SchemaNode<'static>> {
    let mut node = yang::top_node(NI_NS, names.next()?)?;
    for n in names {
        node = yang::child_node(&node, NI_NS, n)?;
    }
    Some(node)
}

/// The element of a streamed node: in the RIB's namespace, or, for a
/// node another module adds (`module:name`), in that module's, declared on
/// it.
fn node_element(name: &str) -> Element {
    if let Some((module, local)) = name.split_once(':') {
        if let Some(ns) = schema::module(module).and_then(|m| m.namespace) {
            let mut e = Element::new(local, Some(ns));
            e.decls.push((None, ns.to_string()));
            return e;
        }
    }
    Element::new(name, Some(NI_NS))
}

/// A leaf element; an identity is written with its module's name as
/// prefix, declared on the element.
fn leaf(name: &str, value: &Scalar) -> Element {
    let mut e = node_element(name);
    match value {
        Scalar::Identity(id) => {
            if let Some((module, _)) = id.split_once(':') {
                if let Some(ns) = schema::module(module).and_then(|m| m.namespace) {
                    e.bind(module, ns);
                }
            }
            e.text = id.clone();
        }
        other => e.text = other.text(),
    }
    e
}

/// The elements of stream nodes.
fn elements(nodes: &[StreamNode], out: &mut Vec<Element>) {
    for n in nodes {
        match n {
            StreamNode::Leaf(name, v) => out.push(leaf(name, v)),
            StreamNode::LeafList(name, values) => out.extend(values.iter().map(|v| leaf(name, v))),
            StreamNode::Container(name, children) => {
                let mut e = node_element(name);
                elements(children, &mut e.children);
                out.push(e);
            }
            StreamNode::List(name, _, entries) => {
                for children in entries {
                    let mut e = node_element(name);
                    elements(children, &mut e.children);
                    out.push(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
