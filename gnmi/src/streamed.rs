//! Reads of streamed state (the RIB): entries from the state provider's
//! [`StateStream`] matched against a query and turned into updates without
//! a libyang tree.
//!
//! Each entry (a route, an attribute set, ...) becomes one update whose
//! value is the entry's RFC 7951 JSON, or, when the query goes below the
//! entry, one update per selected node; PROTO gives one update per leaf.
//! Updates are grouped into notifications whose prefix is the path the
//! entries share (their table), at most `max` updates each.

use std::collections::BTreeMap;
use std::sync::Arc;

use ocbgp_models::datastore::{
    entry_keys, object_json, Scalar, StateStream, StreamElem, StreamEntry, StreamNode,
};

use ocbgp_models::nacm::Access;

use crate::data::{now_ns, Query};
use crate::encode::{Leaf, ValueEncoding};
use crate::proto::gnmi::typed_value::Value as Typed;
use crate::proto::gnmi::{Notification, Path, PathElem, ScalarArray, TypedValue, Update};

/// Element names as a query may write them (`module:name`), bare.
fn bare(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, n)| n)
}

/// Whether a query's key value selects an entry's (bare identity) value.
fn key_matches(query: &str, entry: &str) -> bool {
    if query == "*" || query == entry {
        return true;
    }
    // An identity given with its module.
    match query.split_once(':') {
        Some((module, rest))
            if module.starts_with("openconfig-") || module.starts_with("ocbgp") =>
        {
            rest == entry
        }
        _ => false,
    }
}

fn elem_matches(q: &PathElem, name: &str, keys: &[(String, String)]) -> bool {
    if q.name != "*" && bare(&q.name) != name {
        return false;
    }
    q.key
        .iter()
        .all(|(k, v)| keys.iter().any(|(ek, ev)| ek == k && key_matches(v, ev)))
}

/// How a query meets an entry's path.
pub(crate) enum Meet {
    /// The query names the entry or something above it: all of it.
    Whole,
    /// The query goes below the entry: these elements of the query remain.
    Below(usize),
}

pub(crate) fn meet(q: &[PathElem], qi: usize, e: &[StreamElem], ei: usize) -> Option<Meet> {
    meet_by(q, qi, &|i| &e[i], e.len(), ei)
}

/// [`meet`] for an entry's path (its parent and its own element).
pub(crate) fn meet_entry(q: &[PathElem], entry: &StreamEntry) -> Option<Meet> {
    meet_by(q, 0, &|i| entry.path_elem(i), entry.depth(), 0)
}

fn meet_by<'e>(
    q: &[PathElem],
    qi: usize,
    e: &dyn Fn(usize) -> &'e StreamElem,
    len: usize,
    ei: usize,
) -> Option<Meet> {
    if qi == q.len() {
        return Some(Meet::Whole);
    }
    if q[qi].name == "..." {
        if qi + 1 == q.len() {
            return Some(Meet::Whole);
        }
        return (ei..=len).find_map(|ej| meet_by(q, qi + 1, e, len, ej));
    }
    if ei == len {
        return Some(Meet::Below(qi));
    }
    let el = e(ei);
    if elem_matches(&q[qi], &el.name, &el.keys) {
        meet_by(q, qi + 1, e, len, ei + 1)
    } else {
        None
    }
}

/// A selected part of an entry.
enum Part<'a> {
    Node(&'a StreamNode),
    Object(&'a [StreamNode]),
}

pub(crate) fn to_elem(e: &StreamElem) -> PathElem {
    PathElem {
        name: e.name.clone(),
        key: e.keys.iter().cloned().collect::<BTreeMap<_, _>>(),
    }
}

fn list_elem(name: &str, keys: &[&'static str], children: &[StreamNode]) -> PathElem {
    PathElem {
        name: name.to_string(),
        key: entry_keys(keys, children).into_iter().collect(),
    }
}

/// The nodes of `children` that `q` selects, with their paths below the
/// entry.
fn descend<'a>(
    children: &'a [StreamNode],
    q: &[PathElem],
    at: &mut Vec<PathElem>,
    out: &mut Vec<(Vec<PathElem>, Part<'a>)>,
) {
    let Some(first) = q.first() else { return };
    if first.name == "..." {
        out.push((at.clone(), Part::Object(children)));
        return;
    }
    for child in children {
        if first.name != "*" && bare(&first.name) != child.name() {
            continue;
        }
        match child {
            StreamNode::Leaf(..) | StreamNode::LeafList(..) => {
                if q.len() == 1 && first.key.is_empty() {
                    at.push(PathElem {
                        name: child.name().to_string(),
                        ..Default::default()
                    });
                    out.push((at.clone(), Part::Node(child)));
                    at.pop();
                }
            }
            StreamNode::Container(name, inner) => {
                at.push(PathElem {
                    name: name.to_string(),
                    ..Default::default()
                });
                if q.len() == 1 {
                    out.push((at.clone(), Part::Node(child)));
                } else {
                    descend(inner, &q[1..], at, out);
                }
                at.pop();
            }
            StreamNode::List(name, keys, entries) => {
                for entry in entries {
                    let elem = list_elem(name, keys, entry);
                    let ks: Vec<(String, String)> = elem.key.clone().into_iter().collect();
                    if !elem_matches(first, name, &ks) {
                        continue;
                    }
                    at.push(elem);
                    if q.len() == 1 {
                        out.push((at.clone(), Part::Object(entry)));
                    } else {
                        descend(entry, &q[1..], at, out);
                    }
                    at.pop();
                }
            }
        }
    }
}

fn typed(s: &Scalar) -> Typed {
    match s {
        Scalar::U32(n) => Typed::UintVal(u64::from(*n)),
        Scalar::U64(n) => Typed::UintVal(*n),
        Scalar::Bool(b) => Typed::BoolVal(*b),
        other => Typed::StringVal(other.text()),
    }
}

/// Every leaf at or below `children`, under `at`.
fn leaves_of(children: &[StreamNode], at: &mut Vec<PathElem>, out: &mut Vec<Leaf>) {
    for child in children {
        leaves_of_node(child, at, out);
    }
}

fn leaves_of_node(node: &StreamNode, at: &mut Vec<PathElem>, out: &mut Vec<Leaf>) {
    match node {
        StreamNode::Leaf(name, _) | StreamNode::LeafList(name, _) => {
            at.push(PathElem {
                name: name.to_string(),
                ..Default::default()
            });
            let mut json = String::new();
            node.json_value(&mut json);
            let typed = match node {
                StreamNode::Leaf(_, v) => typed(v),
                StreamNode::LeafList(_, vs) => Typed::LeaflistVal(ScalarArray {
                    element: vs
                        .iter()
                        .map(|v| TypedValue {
                            value: Some(typed(v)),
                        })
                        .collect(),
                }),
                _ => unreachable!("matched above"),
            };
            out.push(Leaf {
                path: Path {
                    elem: at.clone(),
                    ..Default::default()
                },
                json,
                typed,
                config: false,
                counter: false,
            });
            at.pop();
        }
        StreamNode::Container(name, inner) => {
            at.push(PathElem {
                name: name.to_string(),
                ..Default::default()
            });
            leaves_of(inner, at, out);
            at.pop();
        }
        StreamNode::List(name, keys, entries) => {
            for e in entries {
                at.push(list_elem(name, keys, e));
                leaves_of(e, at, out);
                at.pop();
            }
        }
    }
}

/// The updates `query` selects from one entry, relative to the entry's
/// parent (the notification prefix). JSON: one per selected node; PROTO:
/// per leaf.
pub(crate) fn entry_updates(
    entry: &StreamEntry,
    query: &Query,
    encoding: ValueEncoding,
    out: &mut Vec<Update>,
) {
    if let Some(m) = meet_entry(&query.elems, entry) {
        updates_at(entry, m, query, encoding, out);
    }
}

/// [`entry_updates`] with the query's meeting with the entry known.
fn updates_at(
    entry: &StreamEntry,
    m: Meet,
    query: &Query,
    encoding: ValueEncoding,
    out: &mut Vec<Update>,
) {
    let last = &entry.elem;
    let mut selected = Vec::new();
    match m {
        Meet::Whole => selected.push((vec![to_elem(last)], Part::Object(&entry.children))),
        Meet::Below(qi) => {
            let mut at = vec![to_elem(last)];
            descend(&entry.children, &query.elems[qi..], &mut at, &mut selected);
        }
    }
    for (rel, part) in selected {
        if encoding == ValueEncoding::Proto {
            let mut leaves = Vec::new();
            let mut at = rel;
            match part {
                Part::Node(n) => {
                    let own = at.pop();
                    if own.is_some() {
                        leaves_of_node(n, &mut at, &mut leaves);
                    }
                }
                Part::Object(children) => leaves_of(children, &mut at, &mut leaves),
            }
            for l in leaves {
                let val = Some(l.value(encoding));
                out.push(Update {
                    path: Some(l.path),
                    val,
                    ..Default::default()
                });
            }
        } else {
            let mut json = String::with_capacity(256);
            match part {
                Part::Node(n) => n.json_value(&mut json),
                Part::Object(children) => object_json(children, &mut json),
            }
            let path = Path {
                elem: rel,
                ..Default::default()
            };
            out.push(Update {
                path: Some(path),
                val: Some(encoding.json_value(json)),
                ..Default::default()
            });
        }
    }
}

/// Turns a stream into notifications for `query`, handing each to `emit`
/// as soon as it is full (at most `max` updates, all under one prefix);
/// `emit` returning false stops the read. Entries the query selects are
/// offered to `keep` first (false: skip it). Returns the number of updates.
pub(crate) fn notifications(
    stream: StateStream,
    query: &Query,
    encoding: ValueEncoding,
    target: Option<&Path>,
    max: usize,
    mut keep: impl FnMut(&StreamEntry) -> bool,
    mut emit: impl FnMut(Notification) -> bool,
) -> usize {
    let mut group = Grouper::new(target, max);
    if add_notifications(stream, query, encoding, &mut group, &mut keep, &mut emit) {
        group.finish(&mut emit);
    }
    group.count
}

/// [`notifications`] into a grouper the caller finishes: the entries of
/// several queries (one Get) share notifications when they share a table.
/// False when `emit` said stop.
pub(crate) fn add_notifications(
    stream: StateStream,
    query: &Query,
    encoding: ValueEncoding,
    group: &mut Grouper,
    mut keep: impl FnMut(&StreamEntry) -> bool,
    emit: &mut impl FnMut(Notification) -> bool,
) -> bool {
    let mut updates = Vec::new();
    let mut meets = Meets::default();
    for entry in stream {
        let Some(m) = meets.of(&query.elems, &entry) else {
            continue;
        };
        if !keep(&entry) {
            continue;
        }
        updates_at(&entry, m, query, encoding, &mut updates);
        if !group.push(&entry.parent, &mut updates, emit) {
            return false;
        }
    }
    true
}

/// [`meet_entry`] for the entries of one stream, which share their parent
/// path with the entries before them (a table's routes): a query without
/// `...` is matched against a parent once, then only against each
/// entry's own element.
#[derive(Default)]
struct Meets {
    /// The last parent seen and whether the query matches along it.
    parent: Option<(Arc<[StreamElem]>, bool)>,
}

impl Meets {
    fn of(&mut self, q: &[PathElem], entry: &StreamEntry) -> Option<Meet> {
        if q.iter().any(|e| e.name == "...") {
            return meet_entry(q, entry);
        }
        let parent = &entry.parent;
        let along = match &self.parent {
            Some((p, ok)) if Arc::ptr_eq(p, parent) => *ok,
            _ => {
                let ok = q
                    .iter()
                    .zip(parent.iter())
                    .all(|(qe, pe)| elem_matches(qe, &pe.name, &pe.keys));
                self.parent = Some((parent.clone(), ok));
                ok
            }
        };
        let depth = parent.len();
        match q.len() {
            _ if !along => None,
            n if n <= depth => Some(Meet::Whole),
            n => {
                if !elem_matches(&q[depth], &entry.elem.name, &entry.elem.keys) {
                    return None;
                }
                Some(if n == depth + 1 {
                    Meet::Whole
                } else {
                    Meet::Below(depth + 1)
                })
            }
        }
    }
}

/// Puts the updates of consecutive entries with the same parent into
/// notifications whose prefix is that parent, at most `max` updates each.
pub(crate) struct Grouper {
    target: String,
    max: usize,
    parent: Option<Arc<[StreamElem]>>,
    updates: Vec<Update>,
    /// Updates taken so far.
    pub count: usize,
}

impl Grouper {
    /// Notifications for `target`'s paths.
    pub(crate) fn new(target: Option<&Path>, max: usize) -> Grouper {
        Grouper {
            target: target.map(|t| t.target.clone()).unwrap_or_default(),
            max: max.max(1),
            parent: None,
            updates: Vec::new(),
            count: 0,
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(Notification) -> bool) -> bool {
        if self.updates.is_empty() {
            return true;
        }
        let n = Notification {
            timestamp: now_ns(),
            prefix: Some(Path {
                elem: self
                    .parent
                    .iter()
                    .flat_map(|p| p.iter())
                    .map(to_elem)
                    .collect(),
                target: self.target.clone(),
                ..Default::default()
            }),
            update: std::mem::take(&mut self.updates),
            ..Default::default()
        };
        emit(n)
    }

    /// Adds `updates` (drained) under `parent`; false when `emit` says stop.
    pub(crate) fn push(
        &mut self,
        parent: &Arc<[StreamElem]>,
        updates: &mut Vec<Update>,
        emit: &mut impl FnMut(Notification) -> bool,
    ) -> bool {
        if updates.is_empty() {
            return true;
        }
        let same = self
            .parent
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, parent) || **p == **parent);
        if !same {
            if !self.flush(emit) {
                return false;
            }
            self.parent = Some(parent.clone());
        }
        for u in updates.drain(..) {
            self.count += 1;
            if self.updates.len() == self.max && !self.flush(emit) {
                return false;
            }
            self.updates.push(u);
        }
        true
    }

    /// Sends what is left.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(Notification) -> bool) {
        self.flush(emit);
    }
}

/// Whether `query` reads streamed state, and the stream if it does.
pub(crate) fn open(
    store: &ocbgp_models::datastore::Datastore,
    query: &Query,
    access: &Access,
) -> Option<StateStream> {
    if !query.has_state {
        return None;
    }
    let root = query.stream_root();
    if access.reads_subtree(&root) != Some(true) {
        // Access control leaves the table out (see `streams_for`).
        return None;
    }
    store.stream_state(&root)
}

/// Whether a reader with `access` gets the streamed table at `root`: only
/// when it may read all of it. A streamed table is not a tree the access
/// rules can be applied to node by node, and the tree read that serves a
/// path when it is not streamed holds no routes: a table the reader may
/// read only in part is left out whole.
pub(crate) fn streams_for(access: &Access, root: &str) -> bool {
    // Streamed entries are the RIB's: a read from above it is judged on
    // the RIB (every instance's), one at or below it on its own root.
    const RIB: &str = "/openconfig-network-instance:network-instances/network-instance\
                       /protocols/protocol/bgp/rib";
    let bare: String = root
        .split('[')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once(']').map_or("", |(_, rest)| rest)
            }
        })
        .collect();
    let above = root == "/*" || (RIB.starts_with(&bare) && RIB[bare.len()..].starts_with('/'));
    access.reads_subtree(if above { RIB } else { root }) == Some(true)
}

/// [`open`] for the queries of one read together (the provider answers
/// many small reads in one go).
pub(crate) fn open_all(
    store: &ocbgp_models::datastore::Datastore,
    queries: &[Query],
    access: &Access,
) -> Vec<Option<StateStream>> {
    let asked: Vec<(usize, String)> = queries
        .iter()
        .enumerate()
        .filter(|(_, q)| q.has_state)
        .map(|(i, q)| (i, q.stream_root()))
        .filter(|(_, root)| streams_for(access, root))
        .collect();
    let roots: Vec<String> = asked.iter().map(|(_, r)| r.clone()).collect();
    let mut out: Vec<Option<StateStream>> = queries.iter().map(|_| None).collect();
    for ((i, _), stream) in asked.into_iter().zip(store.stream_states(&roots)) {
        out[i] = stream;
    }
    out
}

#[cfg(test)]
mod tests {
    use ocbgp_models::datastore::{StreamElem, StreamEntry, StreamNode};

    use super::*;
    use crate::path::parse_text;

    const TABLE: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]\
        /bgp/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes";

    fn entry(prefix: &str) -> StreamEntry {
        let mut path: Vec<StreamElem> = parse_text(TABLE)
            .unwrap()
            .elem
            .iter()
            .map(|e| StreamElem {
                name: e.name.clone(),
                keys: e.key.clone().into_iter().collect(),
            })
            .collect();
        let children = vec![
            StreamNode::Leaf("prefix", Scalar::Str(prefix.into())),
            StreamNode::Leaf("origin", Scalar::Str("192.0.2.2".into())),
            StreamNode::Leaf("path-id", Scalar::U32(0)),
            StreamNode::Container(
                "state",
                vec![
                    StreamNode::Leaf("path-id", Scalar::U32(0)),
                    StreamNode::Leaf("attr-index", Scalar::U64(7)),
                ],
            ),
        ];
        path.push(StreamElem {
            name: "route".into(),
            keys: entry_keys(&["prefix", "origin", "path-id"], &children),
        });
        StreamEntry::at(path, children)
    }

    fn run(query: &str, encoding: ValueEncoding, max: usize) -> Vec<Notification> {
        let q = Query::new(None, &parse_text(query).unwrap()).unwrap();
        let entries = vec![
            entry("10.0.0.0/24"),
            entry("10.0.1.0/24"),
            entry("10.0.2.0/24"),
        ];
        let mut out = Vec::new();
        notifications(
            Box::new(entries.into_iter()),
            &q,
            encoding,
            None,
            max,
            |_| true,
            |n| {
                out.push(n);
                true
            },
        );
        out
    }

    #[test]
    fn one_update_per_route_under_the_table_prefix() {
        let out = run(TABLE, ValueEncoding::JsonIetf, 2);
        assert_eq!(
            out.iter().map(|n| n.update.len()).collect::<Vec<_>>(),
            [2, 1]
        );
        let prefix = out[0].prefix.as_ref().unwrap();
        assert_eq!(
            crate::path::to_text(prefix),
            crate::path::to_text(&parse_text(TABLE).unwrap())
        );
        let u = &out[0].update[0];
        assert_eq!(
            crate::path::to_text(u.path.as_ref().unwrap()),
            "/route[origin=192.0.2.2][path-id=0][prefix=10.0.0.0/24]"
        );
        assert_eq!(
            u.val,
            Some(ValueEncoding::JsonIetf.json_value(entry("10.0.0.0/24").json()))
        );
    }

    #[test]
    fn a_path_below_the_entry_selects_its_node() {
        let out = run(
            &format!("{TABLE}/route[prefix=10.0.1.0/24][origin=*][path-id=0]/state/attr-index"),
            ValueEncoding::JsonIetf,
            10,
        );
        let updates: Vec<_> = out.iter().flat_map(|n| n.update.iter()).collect();
        assert_eq!(updates.len(), 1);
        assert_eq!(
            updates[0].val,
            Some(ValueEncoding::JsonIetf.json_value("\"7\"".into()))
        );
        assert!(crate::path::to_text(updates[0].path.as_ref().unwrap())
            .ends_with("[prefix=10.0.1.0/24]/state/attr-index"));
    }

    #[test]
    fn entries_of_several_queries_share_notifications() {
        let mut group = Grouper::new(None, 10);
        let mut out = Vec::new();
        let mut emit = |n: Notification| {
            out.push(n);
            true
        };
        for p in ["10.0.0.0/24", "10.0.2.0/24"] {
            let q = Query::new(
                None,
                &parse_text(&format!("{TABLE}/route[prefix={p}]")).unwrap(),
            )
            .unwrap();
            let entries = vec![
                entry("10.0.0.0/24"),
                entry("10.0.1.0/24"),
                entry("10.0.2.0/24"),
            ];
            assert!(add_notifications(
                Box::new(entries.into_iter()),
                &q,
                ValueEncoding::JsonIetf,
                &mut group,
                |_| true,
                &mut emit
            ));
        }
        group.finish(&mut emit);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].update.len(), 2);
        assert_eq!(group.count, 2);
    }

    #[test]
    fn proto_is_one_update_per_leaf() {
        let out = run(
            &format!("{TABLE}/route[prefix=10.0.2.0/24]"),
            ValueEncoding::Proto,
            100,
        );
        let updates: Vec<_> = out.iter().flat_map(|n| n.update.iter()).collect();
        assert_eq!(updates.len(), 5);
        assert!(updates.iter().any(|u| u.val
            == Some(TypedValue {
                value: Some(Typed::UintVal(7))
            })));
    }
}
