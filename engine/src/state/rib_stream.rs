//! The `bgp/rib` tables as a stream of entries, without libyang: what
//! gNMI Get and Subscribe read for paths inside `bgp/rib`.
//!
//! A producer thread walks the RIB in batches of [`BATCH`] prefixes, each
//! batch a cheap snapshot taken on the RIB task (shared attribute sets, no
//! copies), and turns the routes into [`StreamEntry`]s on its own thread.
//! Entries go through a bounded channel, so a slow reader holds at most
//! one batch and the channel's entries; the RIB task is busy one batch at
//! a time. Each route is consistent; the table as a whole is not one
//! instant (a route changed during the walk appears as it was when its
//! batch was taken).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;

use ipnet::IpNet;
use ocbgp_models::datastore::{
    Scalar, StateStream, StreamChange, StreamElem, StreamEntry, StreamNode,
};
use ocbgp_models::path::DataPath;

use super::rib_nodes::{
    attr_set_nodes, community_nodes, ext_community_nodes, index_of, LOCAL_ORIGIN,
};
use super::RIB_WAIT;
use crate::engine::Engine;
use crate::rib::snapshot::{batch, PathSnap};
use crate::rib::{Advertised, Attrs, PathAttrs, PeerIdx, RouteChange, SetKind};
use crate::rib_task::RibHandle;
use crate::rpki::Validation;
use crate::wire::Family;

/// Prefixes per snapshot batch taken on the RIB task.
pub(crate) const BATCH: usize = 4096;
/// Chunks of entries buffered between the producer and the reader.
const CHANNEL: usize = 4;

/// Which tables of one neighbor a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tables {
    pub in_pre: bool,
    pub in_post: bool,
    pub out_pre: bool,
    pub out_post: bool,
}

impl Tables {
    const ALL: Tables = Tables {
        in_pre: true,
        in_post: true,
        out_pre: true,
        out_post: true,
    };
    const NONE: Tables = Tables {
        in_pre: false,
        in_post: false,
        out_pre: false,
        out_post: false,
    };
}

/// What part of `bgp/rib` a read wants, from its data path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    pub sets: bool,
    /// One set named by its index (`attr-set[index=N]` and the like):
    /// looked up, not searched for.
    pub set: Option<(SetKind, u64)>,
    /// One prefix of the tables (`route[prefix=P]`).
    pub prefix: Option<IpNet>,
    pub families: Vec<Family>,
    pub loc: bool,
    /// `None`: every neighbor.
    pub neighbor: Option<IpAddr>,
    pub tables: Tables,
    /// Document order (each container once, its content contiguous: one
    /// pass over the table per Adj-RIB-In) instead of the batched order
    /// (one pass, a prefix's tables together).
    pub nested: bool,
}

impl Selection {
    /// The selection for a read of `path`, or `None` if `path` is not at
    /// or inside `rib_path`.
    pub(crate) fn of(path: &str, rib_path: &str) -> Option<Selection> {
        let rest = path.strip_prefix(rib_path)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let mut sel = Selection {
            sets: true,
            set: None,
            prefix: None,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            loc: true,
            neighbor: None,
            tables: Tables::ALL,
            nested: false,
        };
        if rest.is_empty() || rest == "/" {
            return Some(sel);
        }
        let parsed = DataPath::parse(&format!("/x{rest}")).ok()?;
        let segs: Vec<_> = parsed.segments.iter().skip(1).collect();
        let name = |i: usize| segs.get(i).map(|s| s.name.as_str());
        let key = |i: usize, k: &str| {
            segs.get(i)?
                .keys
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        match name(0) {
            Some(sets @ ("attr-sets" | "communities" | "ext-communities")) => {
                sel.families.clear();
                sel.loc = false;
                sel.tables = Tables::NONE;
                let kind = match sets {
                    "attr-sets" => SetKind::Attributes,
                    "communities" => SetKind::Communities,
                    _ => SetKind::ExtCommunities,
                };
                sel.set = key(1, "index")
                    .and_then(|i| i.parse().ok())
                    .map(|i| (kind, i));
                return Some(sel);
            }
            Some("afi-safis") => sel.sets = false,
            _ => return Some(sel),
        }
        if let Some(af) = segs.get(1) {
            if let Some((_, v)) = af.keys.iter().find(|(k, _)| k == "afi-safi-name") {
                let v = v.rsplit(':').next().unwrap_or(v);
                sel.families.retain(|f| match *f {
                    Family::IPV4_UNICAST => v == "IPV4_UNICAST",
                    _ => v == "IPV6_UNICAST",
                });
            }
        }
        // The route entry's position: under loc-rib, or a neighbor's table.
        let route_at = if name(3) == Some("loc-rib") { 5 } else { 7 };
        sel.prefix = key(route_at, "prefix").and_then(|p| p.parse().ok());
        match name(3) {
            Some("loc-rib") => {
                sel.tables = Tables::NONE;
            }
            Some("neighbors") => {
                sel.loc = false;
                if let Some(n) = segs.get(4) {
                    sel.neighbor = n
                        .keys
                        .iter()
                        .find(|(k, _)| k == "neighbor-address")
                        .and_then(|(_, v)| v.parse().ok());
                }
                let only = |t: &str| Tables {
                    in_pre: t == "adj-rib-in-pre",
                    in_post: t == "adj-rib-in-post",
                    out_pre: t == "adj-rib-out-pre",
                    out_post: t == "adj-rib-out-post",
                };
                match name(5) {
                    Some(
                        t @ ("adj-rib-in-pre" | "adj-rib-in-post" | "adj-rib-out-pre"
                        | "adj-rib-out-post"),
                    ) => sel.tables = only(t),
                    Some(_) => sel.tables = Tables::NONE,
                    None => {}
                }
            }
            Some(_) => {
                sel.loc = false;
                sel.tables = Tables::NONE;
            }
            None => {}
        }
        Some(sel)
    }
}

/// Walks `family`'s table batch by batch (or only prefix `only`); `f`
/// false stops.
fn walk(
    rib: &RibHandle,
    family: Family,
    only: Option<IpNet>,
    mut f: impl FnMut(IpNet, &[PathSnap]) -> bool,
) {
    let mut from = only;
    let max = if only.is_some() { 1 } else { BATCH };
    loop {
        let Some(b) = rib.query_blocking(RIB_WAIT, move |rib| batch(rib, family, from, max)) else {
            return;
        };
        for (net, paths) in &b.dests {
            if only.is_some_and(|o| o != *net) || !f(*net, paths) {
                return;
            }
        }
        if only.is_some() {
            return;
        }
        match b.next {
            Some(n) => from = Some(n),
            None => return,
        }
    }
}

/// Walks what `peer` is sent of `family` (Adj-RIB-Out pre- and
/// post-policy), batch by batch as [`walk`] does, or only prefix `only`;
/// `None` from `f` stops the walk and is returned. A batch the RIB task
/// does not answer in time ends the walk.
fn walk_advertised(
    rib: &RibHandle,
    peer: PeerIdx,
    family: Family,
    only: Option<IpNet>,
    mut f: impl FnMut(IpNet, &Attrs, &Attrs) -> Option<()>,
) -> Option<()> {
    let mut from = only;
    let max = if only.is_some() { 1 } else { BATCH };
    loop {
        let Some((out, next)) = rib.query_blocking(RIB_WAIT, move |rib| {
            rib.advertised_batch(peer, family, from, max)
        }) else {
            return Some(());
        };
        for Advertised { net, pre, post, .. } in &out {
            if only.is_none_or(|o| o == *net) {
                f(*net, pre, post)?;
            }
        }
        match next {
            Some(n) if only.is_none() => from = Some(n),
            _ => return Some(()),
        }
    }
}

/// The path elements of `bgp/rib` in gNMI form.
pub(crate) fn rib_elems() -> Vec<StreamElem> {
    vec![
        StreamElem::node("network-instances"),
        StreamElem::entry("network-instance", &[("name", "DEFAULT".to_string())]),
        StreamElem::node("protocols"),
        StreamElem::entry(
            "protocol",
            &[
                ("identifier", "BGP".to_string()),
                ("name", "BGP".to_string()),
            ],
        ),
        StreamElem::node("bgp"),
        StreamElem::node("rib"),
    ]
}

fn family_names(family: Family) -> (&'static str, &'static str) {
    match family {
        Family::IPV4_UNICAST => ("openconfig-bgp-types:IPV4_UNICAST", "ipv4-unicast"),
        _ => ("openconfig-bgp-types:IPV6_UNICAST", "ipv6-unicast"),
    }
}

fn with(base: &[StreamElem], more: impl IntoIterator<Item = StreamElem>) -> Vec<StreamElem> {
    let mut p = base.to_vec();
    p.extend(more);
    p
}

/// A loc-rib or Adj-RIB route entry's children (`index`: its attribute
/// set's indexes).
fn route_nodes(
    prefix: IpNet,
    origin: Option<Scalar>,
    path_id: u32,
    index: Indexes,
    best: Option<bool>,
    stale: bool,
    validation: Option<Validation>,
) -> Vec<StreamNode> {
    let marks = Marks {
        best,
        stale,
        validation,
        ..Marks::default()
    };
    route_nodes_indexed(prefix, origin, path_id, index, marks)
}

/// What a route entry tells beside its attributes.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// `best-path` (Adj-RIB-In post-policy).
    best: Option<bool>,
    /// `ocbgp:stale`: kept over the peer's restart.
    stale: bool,
    /// `ocbgp:rpki-validation`, while RPKI gives VRPs.
    validation: Option<Validation>,
    /// `ocbgp:fib-installed` (Loc-RIB), while a FIB backend runs.
    installed: Option<bool>,
}

/// The set indexes a route points to.
#[derive(Debug, Clone, Copy)]
struct Indexes {
    attrs: u64,
    communities: Option<u64>,
    ext_communities: Option<u64>,
}

impl Indexes {
    fn of(a: &PathAttrs) -> Indexes {
        Indexes {
            attrs: index_of(a),
            communities: SetKind::Communities.index_of(a),
            ext_communities: SetKind::ExtCommunities.index_of(a),
        }
    }
}

/// Hashes a shared set's address (already unique) with one multiply.
#[derive(Default)]
struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Set indexes by shared set: hashing a set is done about once per read,
/// not once per route (a full table has about seven routes a set). The
/// sets are held, so an address is never reused while cached. At most
/// [`INDEX_CACHE`] sets: a read's memory does not grow with the table.
#[derive(Default)]
struct IndexCache(HashMap<usize, (Attrs, Indexes), std::hash::BuildHasherDefault<AddrHasher>>);

/// Sets an [`IndexCache`] holds before it starts again (a few MB).
const INDEX_CACHE: usize = 1 << 16;

impl IndexCache {
    fn of(&mut self, a: &Attrs) -> Indexes {
        if self.0.len() >= INDEX_CACHE {
            self.0.clear();
        }
        self.0
            .entry(Arc::as_ptr(a) as usize)
            .or_insert_with(|| (a.clone(), Indexes::of(a)))
            .1
    }
}

/// [`route_nodes`] with the set indexes known.
fn route_nodes_indexed(
    prefix: IpNet,
    origin: Option<Scalar>,
    path_id: u32,
    index: Indexes,
    marks: Marks,
) -> Vec<StreamNode> {
    let prefix = Scalar::Str(prefix.to_string());
    let mut keys = Vec::with_capacity(4);
    let mut state = Vec::with_capacity(8);
    keys.push(StreamNode::Leaf("prefix", prefix.clone()));
    state.push(StreamNode::Leaf("prefix", prefix));
    if let Some(o) = origin {
        keys.push(StreamNode::Leaf("origin", o.clone()));
        state.push(StreamNode::Leaf("origin", o));
    }
    keys.push(StreamNode::Leaf("path-id", Scalar::U32(path_id)));
    state.push(StreamNode::Leaf("path-id", Scalar::U32(path_id)));
    state.push(StreamNode::Leaf("attr-index", Scalar::U64(index.attrs)));
    if let Some(i) = index.communities {
        state.push(StreamNode::Leaf("community-index", Scalar::U64(i)));
    }
    if let Some(i) = index.ext_communities {
        state.push(StreamNode::Leaf("ext-community-index", Scalar::U64(i)));
    }
    state.push(StreamNode::Leaf("valid-route", Scalar::Bool(true)));
    if let Some(b) = marks.best {
        state.push(StreamNode::Leaf("best-path", Scalar::Bool(b)));
    }
    if marks.stale {
        // Kept over the peer's restart (our module's leaf).
        state.push(StreamNode::Leaf("ocbgp:stale", Scalar::Bool(true)));
    }
    if let Some(v) = marks.validation {
        state.push(StreamNode::Leaf(
            "ocbgp:rpki-validation",
            Scalar::Str(v.name().to_string()),
        ));
    }
    if let Some(i) = marks.installed {
        state.push(StreamNode::Leaf("ocbgp:fib-installed", Scalar::Bool(i)));
    }
    keys.push(StreamNode::Container("state", state));
    keys
}

/// The origin key of a loc-rib route from `peer`.
pub(crate) fn origin_scalar(peer: PeerIdx, names: &HashMap<PeerIdx, IpAddr>) -> Scalar {
    match names.get(&peer) {
        Some(a) => Scalar::Str(a.to_string()),
        None => Scalar::Identity(LOCAL_ORIGIN.to_string()),
    }
}

/// The path of a table's `routes` container: `base` (the family's
/// container, or a neighbor's entry) and the table's name.
fn routes_of(base: &[StreamElem], table: &str) -> Arc<[StreamElem]> {
    with(base, [StreamElem::node(table), StreamElem::node("routes")]).into()
}

/// A route entry in the table whose `routes` container is at `routes`.
pub(crate) fn route_entry(
    routes: &Arc<[StreamElem]>,
    children: Vec<StreamNode>,
    loc: bool,
) -> StreamEntry {
    let keys: &[&str] = if loc {
        &["prefix", "origin", "path-id"]
    } else {
        &["prefix", "path-id"]
    };
    let elem = StreamElem {
        name: "route".into(),
        keys: ocbgp_models::datastore::entry_keys(keys, &children),
    };
    StreamEntry {
        parent: routes.clone(),
        elem,
        children,
    }
}

/// Entries handed to the reader in chunks (fewer thread wake-ups).
struct Out<'a> {
    tx: &'a SyncSender<Vec<StreamEntry>>,
    buf: Vec<StreamEntry>,
}

/// Entries per chunk.
const CHUNK: usize = 256;

impl Out<'_> {
    fn push(&mut self, e: StreamEntry) -> Option<()> {
        self.buf.push(e);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Some(())
    }

    fn flush(&mut self) -> Option<()> {
        if self.buf.is_empty() {
            return Some(());
        }
        self.tx
            .send(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)))
            .ok()
    }
}

/// Produces the entries `sel` wants into `tx`; stops when the reader goes.
fn produce(engine: &Engine, rib: &RibHandle, sel: &Selection, tx: &mut Out<'_>) -> Option<()> {
    let fib = engine.fib().map(|(_, stats)| stats);
    let names: HashMap<PeerIdx, IpAddr> = engine
        .neighbors()
        .into_iter()
        .map(|(a, n)| (n.idx, a))
        .collect();
    let neighbors: BTreeMap<IpAddr, PeerIdx> = names
        .iter()
        .map(|(i, a)| (*a, *i))
        .filter(|(a, _)| sel.neighbor.is_none_or(|n| n == *a))
        .collect();
    let want_in = sel.tables.in_pre || sel.tables.in_post;
    let want_out = sel.tables.out_pre || sel.tables.out_post;
    for &family in &sel.families {
        let (af_name, _) = family_names(family);
        let fam = family_base(family);
        let af = fam[..fam.len() - 1].to_vec();
        let name_leaf = StreamNode::Leaf("afi-safi-name", Scalar::Identity(af_name.into()));
        tx.push(StreamEntry::at(
            af,
            vec![
                name_leaf.clone(),
                StreamNode::Container("state", vec![name_leaf]),
            ],
        ))?;
        let loc_routes = routes_of(&fam, "loc-rib");
        // Per neighbor: its entry's path and its four tables' routes.
        let mut tables: HashMap<IpAddr, [Arc<[StreamElem]>; 4]> = HashMap::new();
        let mut entries: HashMap<IpAddr, Vec<StreamElem>> = HashMap::new();
        for a in neighbors.keys() {
            let nbr = with(
                &fam,
                [
                    StreamElem::node("neighbors"),
                    StreamElem::entry("neighbor", &[("neighbor-address", a.to_string())]),
                ],
            );
            tables.insert(
                *a,
                [
                    "adj-rib-in-pre",
                    "adj-rib-in-post",
                    "adj-rib-out-pre",
                    "adj-rib-out-post",
                ]
                .map(|t| routes_of(&nbr, t)),
            );
            entries.insert(*a, nbr);
        }
        let entry_of = |a: &IpAddr| {
            let addr = StreamNode::Leaf("neighbor-address", Scalar::Str(a.to_string()));
            StreamEntry::at(
                entries[a].clone(),
                vec![addr.clone(), StreamNode::Container("state", vec![addr])],
            )
        };
        let walk_tables = |tx: &mut Out<'_>, loc: bool, only: Option<PeerIdx>, t: Tables| {
            let mut ok = true;
            let mut cache = IndexCache::default();
            walk(rib, family, sel.prefix, |net, paths| {
                for p in paths {
                    let marks = Marks {
                        best: None,
                        stale: p.stale,
                        validation: p.validation,
                        installed: None,
                    };
                    if loc {
                        if let Some(acc) = &p.accepted {
                            let i = cache.of(acc);
                            let installed = fib
                                .as_ref()
                                .map(|f| p.forwarding && f.installed.contains(&net));
                            let nodes = route_nodes_indexed(
                                net,
                                Some(origin_scalar(p.peer, &names)),
                                p.path_id,
                                i,
                                Marks { installed, ..marks },
                            );
                            ok &= tx.push(route_entry(&loc_routes, nodes, true)).is_some();
                        }
                    }
                    if only.is_some_and(|o| o != p.peer) {
                        continue;
                    }
                    let Some(tab) = names.get(&p.peer).and_then(|a| tables.get(a)) else {
                        continue;
                    };
                    if t.in_pre {
                        let i = cache.of(&p.received);
                        let nodes = route_nodes_indexed(net, None, p.path_id, i, marks);
                        ok &= tx.push(route_entry(&tab[0], nodes, false)).is_some();
                    }
                    if t.in_post {
                        if let Some(acc) = &p.accepted {
                            let i = cache.of(acc);
                            let best = Some(p.best);
                            let nodes = route_nodes_indexed(
                                net,
                                None,
                                p.path_id,
                                i,
                                Marks { best, ..marks },
                            );
                            ok &= tx.push(route_entry(&tab[1], nodes, false)).is_some();
                        }
                    }
                }
                ok
            });
            ok.then_some(())
        };
        let out_tables = |tx: &mut Out<'_>, a: &IpAddr, idx: PeerIdx| -> Option<()> {
            let t = &tables[a];
            let push = |tx: &mut Out<'_>, table: usize, net: IpNet, attrs: &Attrs| {
                let nodes = route_nodes(net, None, 0, Indexes::of(attrs), None, false, None);
                tx.push(route_entry(&t[table], nodes, false))
            };
            let (pre, post) = (sel.tables.out_pre, sel.tables.out_post);
            if sel.nested {
                // Each table whole: pre-policy, then post-policy.
                if pre {
                    walk_advertised(rib, idx, family, sel.prefix, |net, a, _| {
                        push(tx, 2, net, a)
                    })?;
                }
                if post {
                    walk_advertised(rib, idx, family, sel.prefix, |net, _, a| {
                        push(tx, 3, net, a)
                    })?;
                }
                return Some(());
            }
            walk_advertised(
                rib,
                idx,
                family,
                sel.prefix,
                |net, pre_attrs, post_attrs| {
                    if pre {
                        push(tx, 2, net, pre_attrs)?;
                    }
                    if post {
                        push(tx, 3, net, post_attrs)?;
                    }
                    Some(())
                },
            )
        };
        if sel.nested {
            // The Loc-RIB, then each neighbor with its tables, one by one.
            if sel.loc {
                walk_tables(tx, true, None, Tables::NONE)?;
            }
            if want_in || want_out {
                for (a, idx) in &neighbors {
                    tx.push(entry_of(a))?;
                    for t in [
                        Tables {
                            in_pre: sel.tables.in_pre,
                            ..Tables::NONE
                        },
                        Tables {
                            in_post: sel.tables.in_post,
                            ..Tables::NONE
                        },
                    ] {
                        if t != Tables::NONE {
                            walk_tables(tx, false, Some(*idx), t)?;
                        }
                    }
                    if want_out {
                        out_tables(tx, a, *idx)?;
                    }
                }
            }
            continue;
        }
        if want_in || want_out {
            for a in neighbors.keys() {
                tx.push(entry_of(a))?;
            }
        }
        if sel.loc || want_in {
            walk_tables(tx, sel.loc, None, sel.tables)?;
        }
        if want_out {
            for (a, idx) in &neighbors {
                out_tables(tx, a, *idx)?;
            }
        }
    }
    if sel.sets {
        produce_sets(rib, &names, tx)?;
    }
    tx.flush()
}

/// The attribute, community and extended community sets every table
/// refers to (received, accepted and advertised attributes).
fn produce_sets(rib: &RibHandle, names: &HashMap<PeerIdx, IpAddr>, tx: &mut Out<'_>) -> Option<()> {
    let mut sets: BTreeMap<u64, Attrs> = BTreeMap::new();
    let mut seen: HashSet<*const crate::rib::PathAttrs> = HashSet::new();
    let mut add = |a: &Attrs| {
        if seen.insert(std::sync::Arc::as_ptr(a)) {
            sets.entry(index_of(&**a)).or_insert_with(|| a.clone());
        }
    };
    for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        walk(rib, family, None, |_, paths| {
            for p in paths {
                if p.accepted.is_some() || names.contains_key(&p.peer) {
                    if names.contains_key(&p.peer) {
                        add(&p.received);
                    }
                    if let Some(acc) = &p.accepted {
                        add(acc);
                    }
                }
            }
            true
        });
        for idx in names.keys() {
            walk_advertised(rib, *idx, family, None, |_, pre, post| {
                add(pre);
                add(post);
                Some(())
            });
        }
    }
    drop(seen);
    // Each list whole (document order for nesting readers): the attribute
    // sets, then the community sets, then the extended ones.
    for (index, attrs) in &sets {
        tx.push(set_entry(SetKind::Attributes, *index, attrs))?;
    }
    let mut done = HashSet::new();
    for attrs in sets.values() {
        if let Some(i) = Indexes::of(attrs).communities.filter(|i| done.insert(*i)) {
            tx.push(set_entry(SetKind::Communities, i, attrs))?;
        }
    }
    done.clear();
    for attrs in sets.values() {
        if let Some(i) = Indexes::of(attrs)
            .ext_communities
            .filter(|i| done.insert(*i))
        {
            tx.push(set_entry(SetKind::ExtCommunities, i, attrs))?;
        }
    }
    Some(())
}

/// The entry of a set looked up by index.
fn set_entry(kind: SetKind, index: u64, attrs: &Attrs) -> StreamEntry {
    let (list, entry, children) = match kind {
        SetKind::Attributes => ("attr-sets", "attr-set", attr_set_nodes(index, attrs)),
        SetKind::Communities => (
            "communities",
            "community",
            community_nodes(index, &attrs.attrs.communities),
        ),
        SetKind::ExtCommunities => (
            "ext-communities",
            "ext-community",
            ext_community_nodes(index, &attrs.attrs.extended_communities),
        ),
    };
    let path = with(
        &rib_elems(),
        [
            StreamElem::node(list),
            StreamElem::entry(entry, &[("index", index.to_string())]),
        ],
    );
    StreamEntry::at(path, children)
}

/// The streams of many selections read together: the sets named by index
/// are looked up in one visit to the RIB task (a reader completing a
/// table's rows asks for thousands at once), the rest stream as
/// [`stream`] does. One answer per selection, in order.
pub(crate) fn streams(
    engine: &Engine,
    rib: &RibHandle,
    sels: Vec<Option<Selection>>,
) -> Vec<Option<StateStream>> {
    let wanted: Vec<(SetKind, u64)> = sels.iter().flatten().filter_map(|s| s.set).collect();
    let mut found = if wanted.is_empty() {
        Vec::new()
    } else {
        let asked = wanted.clone();
        rib.query_blocking(RIB_WAIT, move |rib| {
            asked
                .iter()
                .map(|(k, i)| rib.set_by_index(*k, *i))
                .collect()
        })
        .unwrap_or_else(|| vec![None; wanted.len()])
    }
    .into_iter();
    sels.into_iter()
        .map(|sel| {
            let sel = sel?;
            Some(match sel.set {
                Some((kind, index)) => {
                    let entry = found.next().flatten().map(|a| set_entry(kind, index, &a));
                    Box::new(entry.into_iter()) as StateStream
                }
                None => stream(engine.clone(), rib.clone(), sel),
            })
        })
        .collect()
}

/// Starts streaming what `sel` wants of the RIB (sets by index are
/// [`streams`]'s).
fn stream(engine: Engine, rib: RibHandle, sel: Selection) -> StateStream {
    let (tx, rx) = sync_channel(CHANNEL);
    let spawned = std::thread::Builder::new()
        .name("rib-stream".into())
        .spawn(move || {
            let mut out = Out {
                tx: &tx,
                buf: Vec::with_capacity(CHUNK),
            };
            let _ = produce(&engine, &rib, &sel, &mut out);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a RIB stream: {e}");
    }
    Box::new(rx.into_iter().flatten())
}

/// The bases (path to the table container) of one family.
fn family_base(family: Family) -> Vec<StreamElem> {
    let (af_name, container) = family_names(family);
    with(
        &rib_elems(),
        [
            StreamElem::node("afi-safis"),
            StreamElem::entry(
                "afi-safi",
                &[("afi-safi-name", Scalar::Identity(af_name.into()).text())],
            ),
            StreamElem::node(container),
        ],
    )
}

fn route_path(routes: &[StreamElem], keys: Vec<(&str, String)>) -> Vec<StreamElem> {
    with(routes, [StreamElem::entry("route", &keys)])
}

/// A family's container path and its Loc-RIB's `routes` path.
type FamilyBase = (Family, Vec<StreamElem>, Arc<[StreamElem]>);

/// Turns one route change into the stream changes `sel` wants.
fn convert(
    change: RouteChange,
    sel: &Selection,
    names: &HashMap<PeerIdx, IpAddr>,
    bases: &[FamilyBase],
    cache: &mut IndexCache,
    out: &mut Vec<StreamChange>,
) {
    let (family, net, peer, path_id, now) = match change {
        RouteChange::Lagged => return out.push(StreamChange::Lagged),
        RouteChange::PeerUp(_)
        | RouteChange::PeerDown { .. }
        | RouteChange::Sent { .. }
        | RouteChange::Forwarding { .. } => return,
        RouteChange::Installed {
            family,
            net,
            paths,
            installed,
        } => return installed_changes(family, net, &paths, installed, sel, names, bases, out),
        RouteChange::Set {
            family,
            net,
            peer,
            path_id,
            received,
            accepted,
            best,
            stale,
            validation,
            ..
        } => (
            family,
            net,
            peer,
            path_id,
            Some((received, accepted, best, stale, validation)),
        ),
        RouteChange::Gone {
            family,
            net,
            peer,
            path_id,
        } => (family, net, peer, path_id, None),
    };
    if !sel.families.contains(&family) || sel.prefix.is_some_and(|p| p != net) {
        return;
    }
    let Some((_, fam, loc_routes)) = bases.iter().find(|(f, _, _)| *f == family) else {
        return;
    };
    if sel.loc {
        let origin = origin_scalar(peer, names);
        match now
            .as_ref()
            .and_then(|(_, acc, _, stale, v)| Some((acc.as_ref()?, *stale, *v)))
        {
            Some((acc, stale, v)) => {
                let nodes = route_nodes(net, Some(origin), path_id, cache.of(acc), None, stale, v);
                out.push(StreamChange::Update(route_entry(loc_routes, nodes, true)));
            }
            None => out.push(StreamChange::Delete(route_path(
                loc_routes,
                vec![
                    ("prefix", net.to_string()),
                    ("origin", origin.text()),
                    ("path-id", path_id.to_string()),
                ],
            ))),
        }
    }
    let Some(addr) = names
        .get(&peer)
        .filter(|a| sel.neighbor.is_none_or(|n| n == **a))
    else {
        return;
    };
    if !(sel.tables.in_pre || sel.tables.in_post) {
        return;
    }
    let nbr = with(
        fam,
        [
            StreamElem::node("neighbors"),
            StreamElem::entry("neighbor", &[("neighbor-address", addr.to_string())]),
        ],
    );
    let keys = || {
        vec![
            ("prefix", net.to_string()),
            ("path-id", path_id.to_string()),
        ]
    };
    if sel.tables.in_pre {
        let routes = routes_of(&nbr, "adj-rib-in-pre");
        match &now {
            Some((received, _, _, stale, v)) => {
                let index = cache.of(received);
                let nodes = route_nodes(net, None, path_id, index, None, *stale, *v);
                out.push(StreamChange::Update(route_entry(&routes, nodes, false)));
            }
            None => out.push(StreamChange::Delete(route_path(&routes, keys()))),
        }
    }
    if sel.tables.in_post {
        let routes = routes_of(&nbr, "adj-rib-in-post");
        match &now {
            Some((_, Some(acc), best, stale, v)) => {
                let index = cache.of(acc);
                let nodes = route_nodes(net, None, path_id, index, Some(*best), *stale, *v);
                out.push(StreamChange::Update(route_entry(&routes, nodes, false)));
            }
            _ => out.push(StreamChange::Delete(route_path(&routes, keys()))),
        }
    }
}

/// The forwarding table looked at `net`: `ocbgp:fib-installed` of each of
/// its Loc-RIB routes, as updates of that leaf alone.
#[allow(clippy::too_many_arguments)]
fn installed_changes(
    family: Family,
    net: IpNet,
    paths: &[(PeerIdx, u32, bool)],
    installed: bool,
    sel: &Selection,
    names: &HashMap<PeerIdx, IpAddr>,
    bases: &[FamilyBase],
    out: &mut Vec<StreamChange>,
) {
    if !sel.loc || !sel.families.contains(&family) || sel.prefix.is_some_and(|p| p != net) {
        return;
    }
    let Some((_, _, loc_routes)) = bases.iter().find(|(f, _, _)| *f == family) else {
        return;
    };
    for &(peer, path_id, forwards) in paths {
        let keys = [
            ("prefix", Scalar::Str(net.to_string())),
            ("origin", origin_scalar(peer, names)),
            ("path-id", Scalar::U32(path_id)),
        ];
        let mut nodes: Vec<StreamNode> = keys
            .iter()
            .map(|(k, v)| StreamNode::Leaf(k, v.clone()))
            .collect();
        let mut state: Vec<StreamNode> = keys
            .into_iter()
            .map(|(k, v)| StreamNode::Leaf(k, v))
            .collect();
        let now = Scalar::Bool(installed && forwards);
        state.push(StreamNode::Leaf("ocbgp:fib-installed", now));
        nodes.push(StreamNode::Container("state", state));
        out.push(StreamChange::Update(route_entry(loc_routes, nodes, true)));
    }
}

/// Changes queued towards one reader after conversion.
const CHANGES_QUEUE: usize = 1024;

/// The change feed of what `sel` wants, if it can be had: the Loc-RIB and
/// the Adj-RIBs-In (not the Adj-RIBs-Out, computed on read, nor the
/// attribute sets). Must run where a tokio runtime is reachable.
pub(crate) fn changes(
    engine: Engine,
    rib: RibHandle,
    sel: Selection,
) -> Option<tokio::sync::mpsc::Receiver<StreamChange>> {
    if sel.sets || sel.tables.out_pre || sel.tables.out_post {
        return None;
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let mut feed = rib.query_blocking(RIB_WAIT, |rib| rib.listen_routes_fib())?;
    let (tx, rx) = tokio::sync::mpsc::channel(CHANGES_QUEUE);
    runtime.spawn(async move {
        let bases: Vec<_> = [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .map(|f| {
                let fam = family_base(f);
                let loc = routes_of(&fam, "loc-rib");
                (f, fam, loc)
            })
            .collect();
        let mut batch = Vec::with_capacity(1024);
        let mut out = Vec::new();
        // Kept across batches: a set is hashed about once per feed, not
        // once per route change.
        let mut cache = IndexCache::default();
        while feed.recv_many(&mut batch, 1024).await > 0 {
            let names: HashMap<PeerIdx, IpAddr> = engine
                .neighbors()
                .into_iter()
                .map(|(a, n)| (n.idx, a))
                .collect();
            for c in batch.drain(..) {
                convert(c, &sel, &names, &bases, &mut cache, &mut out);
            }
            for c in out.drain(..) {
                // Waiting here is fine: the RIB task never waits for this
                // queue, it marks the feed lagged instead.
                if tx.send(c).await.is_err() {
                    return;
                }
            }
        }
    });
    Some(rx)
}
