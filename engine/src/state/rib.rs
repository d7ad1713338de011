//! The `bgp/rib` state tree: attribute sets, communities, the Loc-RIB and
//! each neighbor's Adj-RIBs, from one snapshot taken on the RIB task.
//!
//! Attribute and community sets are identified by a hash of their content
//! (`attr-index`, `community-index`), so the same set has the same index
//! in every read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use ocbgp_models::ModelError;
use yang2::data::DataTree;

use super::RIB_WAIT;
use crate::engine::Engine;
use crate::rib::{Attrs, Path, PeerIdx, RouteKey};
use crate::rib_task::RibHandle;
use ocbgp_models::datastore::{Scalar, StreamNode};

use crate::wire::{Community, ExtCommunity, Family, NextHop, SegmentType};

/// One route as the state tree shows it.
struct Route {
    prefix: IpNet,
    /// Neighbor address, or our own protocol for originated routes.
    origin: String,
    path_id: u32,
    attrs: Attrs,
    since: u32,
    best: bool,
}

/// One neighbor's tables of one family.
#[derive(Default)]
struct AdjRibs {
    in_pre: Vec<Route>,
    in_post: Vec<Route>,
    out_pre: Vec<Route>,
    out_post: Vec<Route>,
}

#[derive(Default)]
struct FamilySnapshot {
    loc: Vec<Route>,
    neighbors: BTreeMap<IpAddr, AdjRibs>,
}

pub(super) const LOCAL_ORIGIN: &str = "openconfig-policy-types:STATIC";

fn origin_of(peer: PeerIdx, names: &HashMap<PeerIdx, IpAddr>) -> String {
    names
        .get(&peer)
        .map_or_else(|| LOCAL_ORIGIN.to_string(), |a| a.to_string())
}

fn snapshot(engine: &Engine, rib: &RibHandle) -> Option<Vec<(Family, FamilySnapshot)>> {
    let names: HashMap<PeerIdx, IpAddr> = engine
        .neighbors()
        .into_iter()
        .map(|(a, n)| (n.idx, a))
        .collect();
    rib.query_blocking(RIB_WAIT, move |rib| {
        let mut out = Vec::new();
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let mut snap = FamilySnapshot::default();
            let mut visit = |net: IpNet, paths: &[Path]| {
                for (i, p) in paths.iter().enumerate() {
                    let best = i == 0 && p.accepted.is_some();
                    let route = |attrs: &Attrs| Route {
                        prefix: net,
                        origin: origin_of(p.peer, &names),
                        path_id: p.path_id,
                        attrs: attrs.clone(),
                        since: p.since,
                        best,
                    };
                    if let Some(acc) = &p.accepted {
                        snap.loc.push(route(acc));
                    }
                    if let Some(addr) = names.get(&p.peer) {
                        let adj = snap.neighbors.entry(*addr).or_default();
                        adj.in_pre.push(route(&p.received));
                        if let Some(acc) = &p.accepted {
                            adj.in_post.push(route(acc));
                        }
                    }
                }
            };
            if family == Family::IPV4_UNICAST {
                for (k, d) in rib.v4().range_from(None) {
                    visit(k.to_net(), d.paths());
                }
            } else {
                for (k, d) in rib.v6().range_from(None) {
                    visit(k.to_net(), d.paths());
                }
            }
            for (idx, addr) in &names {
                // Every neighbor has its entry, with routes or without.
                snap.neighbors.entry(*addr).or_default();
                for (net, pre, post) in rib.advertised(*idx, family) {
                    let adj = snap.neighbors.entry(*addr).or_default();
                    let r = |attrs: Attrs| Route {
                        prefix: net,
                        origin: String::new(),
                        path_id: 0,
                        attrs,
                        since: 0,
                        best: true,
                    };
                    adj.out_pre.push(r(pre));
                    adj.out_post.push(r(post));
                }
            }
            out.push((family, snap));
        }
        out
    })
}

pub(super) use crate::rib::state_index as index_of;

/// Writes the RIB state under `rib_path` (`.../bgp/rib`).
pub(super) fn write(
    engine: &Engine,
    rib: &RibHandle,
    tree: &mut DataTree<'static>,
    rib_path: &str,
) -> Result<(), ModelError> {
    let Some(families) = snapshot(engine, rib) else {
        return Ok(());
    };
    let mut sets: BTreeMap<u64, Attrs> = BTreeMap::new();
    for (family, snap) in &families {
        let (name, container) = match *family {
            Family::IPV4_UNICAST => ("openconfig-bgp-types:IPV4_UNICAST", "ipv4-unicast"),
            _ => ("openconfig-bgp-types:IPV6_UNICAST", "ipv6-unicast"),
        };
        let af = format!("{rib_path}/afi-safis/afi-safi[afi-safi-name='{name}']");
        tree.new_path(&format!("{af}/state/afi-safi-name"), Some(name), false)?;
        let base = format!("{af}/{container}");
        for r in &snap.loc {
            let at = format!(
                "{base}/loc-rib/routes/route[prefix='{}'][origin='{}'][path-id='{}']/state",
                r.prefix, r.origin, r.path_id
            );
            write_route(tree, &at, r, true, false, &mut sets)?;
        }
        for (addr, adj) in &snap.neighbors {
            let n = format!("{base}/neighbors/neighbor[neighbor-address='{addr}']");
            tree.new_path(
                &format!("{n}/state/neighbor-address"),
                Some(&addr.to_string()),
                false,
            )?;
            for (table, routes, best) in [
                ("adj-rib-in-pre", &adj.in_pre, false),
                ("adj-rib-in-post", &adj.in_post, true),
                ("adj-rib-out-pre", &adj.out_pre, false),
                ("adj-rib-out-post", &adj.out_post, false),
            ] {
                for r in routes {
                    let at = format!(
                        "{n}/{table}/routes/route[prefix='{}'][path-id='{}']/state",
                        r.prefix, r.path_id
                    );
                    write_route(tree, &at, r, false, best, &mut sets)?;
                }
            }
        }
    }
    // Attribute sets with the same communities share one community set:
    // write it once (its leaf-list is state data, where libyang keeps
    // duplicate values, so a second write would repeat every community).
    let mut community_sets = BTreeSet::new();
    let mut ext_sets = BTreeSet::new();
    for (index, attrs) in &sets {
        write_attr_set(tree, rib_path, *index, attrs, &mut community_sets)?;
        let ext = &attrs.attrs.extended_communities;
        let ei = index_of(ext);
        if !ext.is_empty() && ext_sets.insert(ei) {
            let c = format!("{rib_path}/ext-communities/ext-community[index='{ei}']/state");
            tree.new_path(&format!("{c}/index"), Some(&ei.to_string()), false)?;
            for e in ext {
                tree.new_path(
                    &format!("{c}/ext-community"),
                    Some(&ext_text(*e).text()),
                    false,
                )?;
            }
        }
    }
    Ok(())
}

fn write_route(
    tree: &mut DataTree<'static>,
    at: &str,
    r: &Route,
    with_origin: bool,
    with_best: bool,
    sets: &mut BTreeMap<u64, Attrs>,
) -> Result<(), ModelError> {
    let leaf = |tree: &mut DataTree<'static>, name: &str, value: &str| -> Result<(), ModelError> {
        tree.new_path(&format!("{at}/{name}"), Some(value), false)?;
        Ok(())
    };
    leaf(tree, "prefix", &r.prefix.to_string())?;
    if with_origin {
        leaf(tree, "origin", &r.origin)?;
    }
    leaf(tree, "path-id", &r.path_id.to_string())?;
    let index = index_of(&*r.attrs);
    sets.entry(index).or_insert_with(|| r.attrs.clone());
    leaf(tree, "attr-index", &index.to_string())?;
    if !r.attrs.attrs.communities.is_empty() {
        leaf(
            tree,
            "community-index",
            &index_of(&r.attrs.attrs.communities).to_string(),
        )?;
    }
    if !r.attrs.attrs.extended_communities.is_empty() {
        leaf(
            tree,
            "ext-community-index",
            &index_of(&r.attrs.attrs.extended_communities).to_string(),
        )?;
    }
    leaf(tree, "valid-route", "true")?;
    if with_best {
        leaf(tree, "best-path", if r.best { "true" } else { "false" })?;
    }
    let _ = r.since;
    Ok(())
}

fn write_attr_set(
    tree: &mut DataTree<'static>,
    rib_path: &str,
    index: u64,
    a: &Attrs,
    community_sets: &mut BTreeSet<u64>,
) -> Result<(), ModelError> {
    let set = format!("{rib_path}/attr-sets/attr-set[index='{index}']");
    let mut leaf = |name: &str, value: String| -> Result<(), ModelError> {
        tree.new_path(&format!("{set}/state/{name}"), Some(&value), false)?;
        Ok(())
    };
    leaf("index", index.to_string())?;
    let attrs = &a.attrs;
    if let Some(o) = attrs.origin {
        leaf(
            "origin",
            ["IGP", "EGP", "INCOMPLETE"][usize::from(o.code().min(2))].to_string(),
        )?;
    }
    leaf("atomic-aggregate", attrs.atomic_aggregate.to_string())?;
    if let Some(nh) = a.next_hop {
        leaf(
            "next-hop",
            match nh {
                NextHop::V4(v4) => v4.to_string(),
                NextHop::V6 { global, .. } => global.to_string(),
            },
        )?;
    }
    if let Some(med) = attrs.med {
        leaf("med", med.to_string())?;
    }
    if let Some(lp) = attrs.local_pref {
        leaf("local-pref", lp.to_string())?;
    }
    if let Some(id) = attrs.originator_id {
        leaf("originator-id", id.to_string())?;
    }
    for (i, seg) in attrs
        .as_path
        .iter()
        .flat_map(|p| p.segments.iter())
        .enumerate()
    {
        let s = format!("{set}/as-path/as-segment[index='{i}']/state");
        tree.new_path(&format!("{s}/index"), Some(&i.to_string()), false)?;
        let kind = match seg.kind {
            SegmentType::Sequence => "AS_SEQ",
            SegmentType::Set => "AS_SET",
            SegmentType::ConfedSequence => "AS_CONFED_SEQUENCE",
            SegmentType::ConfedSet => "AS_CONFED_SET",
        };
        tree.new_path(&format!("{s}/type"), Some(kind), false)?;
        for asn in &seg.asns {
            tree.new_path(&format!("{s}/member"), Some(&asn.to_string()), false)?;
        }
    }
    let ci = index_of(&attrs.communities);
    if !attrs.communities.is_empty() && community_sets.insert(ci) {
        let c = format!("{rib_path}/communities/community[index='{ci}']/state");
        tree.new_path(&format!("{c}/index"), Some(&ci.to_string()), false)?;
        for com in &attrs.communities {
            let text = format!("{}:{}", com.0 >> 16, com.0 & 0xffff);
            tree.new_path(&format!("{c}/community"), Some(&text), false)?;
        }
    }
    Ok(())
}

fn origin_name(code: u8) -> &'static str {
    ["IGP", "EGP", "INCOMPLETE"][usize::from(code.min(2))]
}

fn segment_name(kind: SegmentType) -> &'static str {
    match kind {
        SegmentType::Sequence => "AS_SEQ",
        SegmentType::Set => "AS_SET",
        SegmentType::ConfedSequence => "AS_CONFED_SEQUENCE",
        SegmentType::ConfedSet => "AS_CONFED_SET",
    }
}

fn community_text(c: Community) -> String {
    format!("{}:{}", c.0 >> 16, c.0 & 0xffff)
}

/// An extended community as the model's `bgp-ext-community-recv-type`:
/// the text form when the type has one, else the eight octets (binary).
pub(super) fn ext_text(c: ExtCommunity) -> Scalar {
    let mut text = String::new();
    crate::policy::sets::community::write_ext(c, &mut text);
    if text.starts_with("0x") {
        Scalar::Binary(base64(&c.0))
    } else {
        Scalar::Str(text)
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An attribute set entry's children (streamed form of [`write_attr_set`]).
pub(super) fn attr_set_nodes(index: u64, a: &Attrs) -> Vec<StreamNode> {
    let attrs = &a.attrs;
    let mut state = vec![StreamNode::Leaf("index", Scalar::U64(index))];
    if let Some(o) = attrs.origin {
        state.push(StreamNode::Leaf(
            "origin",
            Scalar::Str(origin_name(o.code()).into()),
        ));
    }
    state.push(StreamNode::Leaf(
        "atomic-aggregate",
        Scalar::Bool(attrs.atomic_aggregate),
    ));
    if let Some(nh) = a.next_hop {
        let text = match nh {
            NextHop::V4(v4) => v4.to_string(),
            NextHop::V6 { global, .. } => global.to_string(),
        };
        state.push(StreamNode::Leaf("next-hop", Scalar::Str(text)));
    }
    if let Some(med) = attrs.med {
        state.push(StreamNode::Leaf("med", Scalar::U32(med)));
    }
    if let Some(lp) = attrs.local_pref {
        state.push(StreamNode::Leaf("local-pref", Scalar::U32(lp)));
    }
    if let Some(id) = attrs.originator_id {
        state.push(StreamNode::Leaf(
            "originator-id",
            Scalar::Str(id.to_string()),
        ));
    }
    let mut children = vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container("state", state),
    ];
    let segments: Vec<Vec<StreamNode>> = attrs
        .as_path
        .iter()
        .flat_map(|p| p.segments.iter())
        .enumerate()
        .map(|(i, seg)| {
            let mut state = vec![
                StreamNode::Leaf("index", Scalar::U32(i as u32)),
                StreamNode::Leaf("type", Scalar::Str(segment_name(seg.kind).into())),
            ];
            if !seg.asns.is_empty() {
                state.push(StreamNode::LeafList(
                    "member",
                    seg.asns.iter().map(|a| Scalar::U32(*a)).collect(),
                ));
            }
            vec![
                StreamNode::Leaf("index", Scalar::U32(i as u32)),
                StreamNode::Container("state", state),
            ]
        })
        .collect();
    if !segments.is_empty() {
        children.push(StreamNode::Container(
            "as-path",
            vec![StreamNode::List("as-segment", &["index"], segments)],
        ));
    }
    children
}

/// A community set entry's children.
pub(super) fn community_nodes(index: u64, communities: &[Community]) -> Vec<StreamNode> {
    let list = communities
        .iter()
        .map(|c| Scalar::Str(community_text(*c)))
        .collect();
    vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container(
            "state",
            vec![
                StreamNode::Leaf("index", Scalar::U64(index)),
                StreamNode::LeafList("community", list),
            ],
        ),
    ]
}

/// An extended community set entry's children.
pub(super) fn ext_community_nodes(index: u64, ext: &[ExtCommunity]) -> Vec<StreamNode> {
    let list = ext.iter().map(|c| ext_text(*c)).collect();
    vec![
        StreamNode::Leaf("index", Scalar::U64(index)),
        StreamNode::Container(
            "state",
            vec![
                StreamNode::Leaf("index", Scalar::U64(index)),
                StreamNode::LeafList("ext-community", list),
            ],
        ),
    ]
}
