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

mod emit;
mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use ocbgp_models::datastore::{
    Datastore, Scalar, StateStream, StreamElem, StreamEntry, StreamNode,
};
use ocbgp_models::path::{DataPath, Segment};
use ocbgp_models::schema;
use yang2::schema::SchemaNode;

use crate::error::{ErrorTag, RpcError};
use crate::filter::{self, Filter};
use crate::xml::{self, write_end, Element, WriteOptions};
use crate::yang;
use emit::Namespaces;
use plan::Plan;

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

/// What part of the RIB a `<get>` asks for.
pub struct RibRequest {
    /// A subtree filter (the `<filter>` element) cut down to its branch
    /// into the RIB.
    filter: Element,
    /// The path below `bgp/rib` the branch stays within (empty: all of
    /// the RIB): what is read of the state provider.
    below: String,
}

/// The part of the RIB `filter` selects; `None` when it selects none of
/// it (no filter at all reads everything but the RIB).
pub fn request(filter: &Filter) -> Option<RibRequest> {
    let filter = match filter {
        Filter::Subtree(f) => branch(f)?,
        Filter::XPath(x) => xpath_filter(x)?,
    };
    let below = below_rib(&filter);
    Some(RibRequest { filter, below })
}

/// The path below `rib` that the branch `filter` (one chain down to
/// `rib`) stays within: down its single containment or selection nodes,
/// with their content match nodes as keys. Only the tables (and sets)
/// on it are read: a filter for the Loc-RIB does not read the Adj-RIBs
/// too. It may hold more than the filter selects (content matches on
/// leaves that are not keys, a selection node on a leaf); every entry
/// goes through the filter anyway.
fn below_rib(filter: &Element) -> String {
    let mut f = filter;
    for name in TO_RIB {
        match f.children.iter().find(|c| c.name == name && in_ni(c)) {
            Some(c) => f = c,
            None => return String::new(),
        }
    }
    let mut path = DataPath::default();
    loop {
        let mut down = f.children.iter().filter(|c| !filter::is_content_match(c));
        let (Some(next), None) = (down.next(), down.next()) else {
            break;
        };
        let keys: Vec<(String, String)> = next
            .children
            .iter()
            .filter(|c| filter::is_content_match(c))
            .map(|c| (c.name.clone(), c.value().to_string()))
            .collect();
        if !in_ni(next)
            || keys
                .iter()
                .any(|(_, v)| v.contains('\'') && v.contains('"'))
        {
            break;
        }
        path.segments.push(Segment {
            module: None,
            name: next.name.clone(),
            keys,
        });
        f = next;
    }
    let below = path.to_string();
    // Names a path cannot hold select nothing of the RIB: read all of it.
    match DataPath::parse(&format!("/rib{below}")) {
        Ok(_) if !path.segments.is_empty() => below,
        _ => String::new(),
    }
}

fn in_ni(e: &Element) -> bool {
    e.ns.as_deref().is_none_or(|ns| ns == NI_NS)
}

/// The branch of subtree filter `f` that reaches the `rib` element: at
/// each level its content match nodes (the keys) and the way down.
fn branch(f: &Element) -> Option<Element> {
    fn down(f: &Element, depth: usize) -> Option<Element> {
        if depth + 1 == TO_RIB.len() {
            return Some(f.clone());
        }
        let next = f
            .children
            .iter()
            .filter(|c| c.name == TO_RIB[depth + 1] && in_ni(c))
            .find_map(|c| down(c, depth + 1))?;
        let mut out = f.clone_shallow();
        out.children.extend(
            f.children
                .iter()
                .filter(|c| filter::is_content_match(c))
                .cloned(),
        );
        out.children.push(next);
        Some(out)
    }
    let top = f
        .children
        .iter()
        .filter(|c| c.name == TO_RIB[0] && in_ni(c))
        .find_map(|c| down(c, 0))?;
    let mut out = f.clone_shallow();
    out.children.push(top);
    Some(out)
}

/// An XPath (module-name prefixes) that is a plain path through
/// `bgp/rib`, as a subtree filter.
fn xpath_filter(xpath: &str) -> Option<Element> {
    let path = DataPath::parse(xpath.trim()).ok()?;
    let names: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
    if !names.starts_with(&TO_RIB) {
        return None;
    }
    let mut ns = String::new();
    let mut chain = Vec::new();
    for seg in &path.segments {
        if let Some(m) = &seg.module {
            ns = schema::module(m)?.namespace?.to_string();
        }
        let mut e = Element::new(&seg.name, Some(&ns));
        for (k, v) in &seg.keys {
            // Key names may carry their module, as the rest of the path.
            let k = k.rsplit_once(':').map_or(k.as_str(), |(_, name)| name);
            let mut key = Element::new(k, Some(&ns));
            key.text = v.clone();
            if let Some((prefix, _)) = v.split_once(':') {
                if let Some(module_ns) = schema::module(prefix).and_then(|m| m.namespace) {
                    key.bind(prefix, module_ns);
                }
            }
            e.children.push(key);
        }
        chain.push(e);
    }
    let mut inner = chain.pop()?;
    while let Some(mut parent) = chain.pop() {
        parent.children.push(inner);
        inner = parent;
    }
    let mut f = Element::new("filter", None);
    f.children.push(inner);
    Some(f)
}

/// The RIB entries a request reads, from the first; `None` when there
/// are none (no BGP instance, or nothing in the selected tables).
pub fn open(
    store: &Datastore,
    req: &RibRequest,
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

/// Writes entries as nested XML, keeping elements open while the next
/// entries are inside them.
struct Writer {
    /// The elements open in the output, from the top: the head opened the
    /// first `base` (down to `bgp`).
    open: Vec<StreamElem>,
    base: usize,
    /// A path whose elements are the first of `open` (the parent of the
    /// last entry written): an entry below it has those in common.
    open_parent: Option<Arc<[StreamElem]>>,
    /// The subtree filter each entry goes through.
    filter: Element,
    /// The plan of the last shape of entry: its parent, its name.
    plan: Option<(Arc<[StreamElem]>, String, Plan)>,
    /// Whether plans are used; `false`: every entry goes through the
    /// filter as a tree (what the tests compare the plans with).
    planned: bool,
    pending: Option<StreamEntry>,
    stream: StateStream,
    keys: KeyKinds,
    ns: Namespaces,
}

/// What is written of an entry.
enum Selected {
    /// All of it, from its stream nodes.
    Whole,
    /// Part of it, as the filter left its element.
    Part(Element),
}

impl Writer {
    /// A writer below the elements `open` (the head's), `first` and then
    /// `rest` through `filter`.
    fn new(
        open: Vec<StreamElem>,
        filter: Element,
        first: StreamEntry,
        rest: StateStream,
        keys: KeyKinds,
    ) -> Writer {
        Writer {
            base: open.len(),
            open,
            open_parent: None,
            filter,
            plan: None,
            planned: true,
            pending: Some(first),
            stream: rest,
            keys,
            ns: Namespaces::default(),
        }
    }

    fn fill(&mut self, out: &mut String) -> bool {
        while out.len() < PIECE {
            let Some(entry) = self.pending.take().or_else(|| self.stream.next()) else {
                self.close_to(self.base, out);
                return false;
            };
            self.entry(entry, out);
        }
        true
    }

    fn close_to(&mut self, depth: usize, out: &mut String) {
        while self.open.len() > depth {
            let e = self.open.pop().expect("deeper than depth");
            out.push_str("</");
            out.push_str(&e.name);
            out.push('>');
        }
    }

    /// The filter's plan for entries shaped as `entry`.
    fn plan(&mut self, entry: &StreamEntry) -> &Plan {
        let known = self.plan.as_ref().is_some_and(|(parent, name, _)| {
            (Arc::ptr_eq(parent, &entry.parent) || *parent == entry.parent)
                && *name == entry.elem.name
        });
        if !known {
            let above = &self.open[..self.base];
            let p = if self.planned {
                plan::plan(
                    &self.filter,
                    &entry.parent,
                    &entry.elem.name,
                    above,
                    &mut self.keys,
                )
            } else if plan::outside(&entry.parent, above) {
                Plan::Nothing
            } else {
                Plan::PerEntry
            };
            self.plan = Some((entry.parent.clone(), entry.elem.name.clone(), p));
        }
        &self.plan.as_ref().expect("just set").2
    }

    /// What the filter leaves of `entry`, or `None` if it selects nothing
    /// of it.
    fn select(&mut self, entry: &StreamEntry) -> Option<Selected> {
        match self.plan(entry) {
            Plan::Nothing => return None,
            Plan::Whole(checks) => {
                return plan::leaves_match(checks, entry).then_some(Selected::Whole)
            }
            Plan::PerEntry => {}
        }
        self.selected(entry).map(Selected::Part)
    }

    /// The entry's element as the filter leaves it, or `None` if it
    /// selects nothing of it.
    fn selected(&mut self, entry: &StreamEntry) -> Option<Element> {
        let mut own = Element::new(&entry.elem.name, Some(NI_NS));
        elements(&entry.children, &mut own.children);
        // The entry with the path above it, keys included, for the filter.
        let path = &entry.parent;
        let mut e = own;
        for (depth, elem) in path.iter().enumerate().rev() {
            e = self.keys.element(&path[..depth], elem, vec![e]);
        }
        let mut selected = filter::subtree(&[e], &self.filter).into_iter().next()?;
        for elem in path[1..].iter().chain([&entry.elem]) {
            // Keys are leaves: they never share a name with the way down.
            let i = selected.children.iter().position(|c| c.name == elem.name)?;
            selected = selected.children.swap_remove(i);
        }
        Some(selected)
    }

    /// How many of the open elements `entry`'s path starts with.
    fn common(&self, entry: &StreamEntry) -> usize {
        let parent = entry.parent.len();
        if self
            .open_parent
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &entry.parent))
        {
            // The open elements start with the parent's (see `entry`).
            return parent + usize::from(self.open.get(parent) == Some(&entry.elem));
        }
        self.open
            .iter()
            .enumerate()
            .take_while(|(i, open)| *i < entry.depth() && *open == entry.path_elem(*i))
            .count()
    }

    fn entry(&mut self, entry: StreamEntry, out: &mut String) {
        let Some(selected) = self.select(&entry) else {
            return;
        };
        let here = entry.depth();
        let common = self.common(&entry);
        if common == here && self.open.len() >= here {
            // Opened for earlier entries inside it: its keys are written.
            self.close_to(here, out);
            let keys = &entry.elem.keys;
            let is_key = |name: &str| keys.iter().any(|(k, _)| k == name);
            match &selected {
                Selected::Whole => {
                    for n in &entry.children {
                        if !is_key(self.ns.element_name(n.name()).0) {
                            emit::node(out, &mut self.ns, n);
                        }
                    }
                }
                Selected::Part(e) => {
                    for c in e.children.iter().filter(|c| !is_key(&c.name)) {
                        xml::write(out, c, &inner_options());
                    }
                }
            }
            self.open_parent = Some(entry.parent.clone());
            return;
        }
        self.close_to(common.max(self.base), out);
        for depth in self.open.len()..here - 1 {
            let elem = entry.parent[depth].clone();
            let opened = self.keys.element(&entry.parent[..depth], &elem, Vec::new());
            self.start(&opened.name, depth, out);
            for k in &opened.children {
                xml::write(out, k, &inner_options());
            }
            self.open.push(elem);
        }
        // The entry stays open: later entries may be inside it.
        self.start(&entry.elem.name, here - 1, out);
        match &selected {
            Selected::Whole => {
                for n in &entry.children {
                    emit::node(out, &mut self.ns, n);
                }
            }
            Selected::Part(e) => {
                for c in &e.children {
                    xml::write(out, c, &inner_options());
                }
            }
        }
        self.open_parent = Some(entry.parent.clone());
        self.open.push(entry.elem);
    }

    /// A start tag; the first element below the head declares the
    /// namespace, whatever the head's default is.
    fn start(&self, name: &str, depth: usize, out: &mut String) {
        out.push('<');
        out.push_str(name);
        if depth == self.base {
            out.push_str(" xmlns=\"");
            out.push_str(NI_NS);
            out.push('"');
        }
        out.push('>');
    }
}

fn inner_options() -> WriteOptions<'static> {
    WriteOptions {
        declare_scope: false,
        ..WriteOptions::default()
    }
}

#[cfg(test)]
mod tests;
