//! Attribute and community sets (`bgp/rib/attr-sets`, `bgp/rib/communities`)
//! and the route rows they complete.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::{json, Map, Value};

use super::routes::{put_leaf, RouteLeaves};
use super::TableKind;
use crate::client::{Conn, Event};
use crate::paths;
use crate::table::{bare, number, text};

/// An attribute set as the table shows it.
#[derive(Debug, Default, Clone)]
struct AttrSet {
    leaves: Map<String, Value>,
    segments: BTreeMap<u64, (String, Vec<String>)>,
    /// The AS_PATH as text, once the segments are dropped.
    path: Option<String>,
}

impl AttrSet {
    fn as_path(&self) -> String {
        if let Some(p) = &self.path {
            return p.clone();
        }
        let mut parts = Vec::new();
        for (kind, members) in self.segments.values() {
            match kind.as_str() {
                "AS_SET" | "AS_CONFED_SET" => parts.push(format!("{{{}}}", members.join(","))),
                "AS_CONFED_SEQUENCE" => parts.push(format!("({})", members.join(" "))),
                _ => parts.extend(members.iter().cloned()),
            }
        }
        parts.join(" ")
    }
}

/// Attribute and community sets by index.
#[derive(Default)]
pub(crate) struct Attrs {
    sets: HashMap<String, AttrSet>,
    communities: HashMap<String, Vec<String>>,
}

impl Attrs {
    pub(crate) fn take(&mut self, elems: &[PathElem], value: Value) {
        let key_of = |name: &str| {
            elems
                .iter()
                .find(|e| e.name == name)
                .and_then(|e| e.key.get("index"))
                .cloned()
        };
        let leaf = elems.last().map(|e| e.name.as_str()).unwrap_or("");
        if let Some(i) = key_of("attr-set") {
            let set = self.sets.entry(i).or_default();
            if let Some(seg) = key_of("as-segment").and_then(|s| s.parse::<u64>().ok()) {
                let entry = set.segments.entry(seg).or_default();
                match leaf {
                    "type" => entry.0 = text(Some(&value)).unwrap_or_default(),
                    "member" => {
                        entry.1 = match value {
                            Value::Array(a) => a.iter().filter_map(|m| text(Some(m))).collect(),
                            v => text(Some(&v)).into_iter().collect(),
                        }
                    }
                    _ => {}
                }
            } else {
                put_leaf(&mut set.leaves, leaf, value);
            }
        } else if let Some(i) = key_of("community") {
            if leaf == "community" {
                let list = match value {
                    Value::Array(a) => a.iter().filter_map(|m| text(Some(m))).collect(),
                    v => text(Some(&v)).into_iter().collect(),
                };
                self.communities.insert(i, list);
            }
        }
    }

    /// Whether the attribute set `index` is known.
    pub(crate) fn has(&self, index: &str) -> bool {
        self.sets.contains_key(index)
    }

    /// Reads the sets `routes` point to.
    pub(crate) async fn load_for(
        &mut self,
        conn: &mut Conn,
        routes: &[RouteLeaves],
    ) -> anyhow::Result<()> {
        self.load(conn, set_paths(routes)).await
    }

    /// Reads the sets at `paths` (Subscribe ONCE).
    pub(crate) async fn load(&mut self, conn: &mut Conn, paths: Vec<String>) -> anyhow::Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut sub = conn.subscribe(&paths, false, false).await?;
        // A set's subtree is expanded below the set alone: its leaves'
        // paths are short, whatever the table's path.
        let whole = |elems: &[PathElem]| {
            elems
                .last()
                .is_some_and(|e| matches!(bare(&e.name), "attr-set" | "community"))
        };
        let mut leaves = Vec::new();
        while let Some(events) = sub.next_with(&whole).await? {
            for e in events {
                match e {
                    Event::Update(mut elems, v) if v.is_object() && whole(&elems) => {
                        let mut at = elems.split_off(elems.len() - 1);
                        crate::client::expand(&mut at, v, &mut leaves);
                        for (e, v) in leaves.drain(..) {
                            self.take(&e, v);
                        }
                    }
                    Event::Update(elems, v) => self.take(&elems, v),
                    Event::Sync => {
                        self.compact();
                        return Ok(());
                    }
                    Event::Delete(_) => {}
                }
            }
        }
        self.compact();
        Ok(())
    }

    /// Keeps of each set only what rows show, with its AS_PATH as text:
    /// a full table holds every set of the RIB.
    fn compact(&mut self) {
        for set in self.sets.values_mut() {
            if !set.segments.is_empty() {
                set.path = Some(set.as_path());
                set.segments = BTreeMap::new();
            }
            set.leaves
                .retain(|k, _| matches!(k.as_str(), "next-hop" | "origin" | "med" | "local-pref"));
        }
        self.sets.shrink_to_fit();
        self.communities.shrink_to_fit();
    }
}

/// A route with its attributes, as printed (`--json`: one object per route,
/// in a JSON array).
pub(crate) fn row(r: &RouteLeaves, table: &TableKind, attrs: &Attrs) -> Value {
    let set = r.attr_index().and_then(|i| attrs.sets.get(&i));
    let a = |name: &str| {
        set.and_then(|s| s.leaves.get(name))
            .cloned()
            .map(|v| match v {
                Value::String(s) => Value::String(bare(&s).to_string()),
                v => v,
            })
    };
    let source = match table {
        TableKind::Loc => {
            let o = r
                .leaves
                .get("origin")
                .and_then(|v| text(Some(v)))
                .or_else(|| r.keys.get("origin").map(|o| bare(o).to_string()));
            o.map(|o| {
                if o.parse::<IpAddr>().is_ok() {
                    o
                } else {
                    "local".to_string()
                }
            })
        }
        TableKind::AdjIn(n) => Some(n.clone()),
        TableKind::AdjOut(_) => None,
    };
    let communities = r
        .community_index()
        .and_then(|i| attrs.communities.get(&i))
        .cloned()
        .unwrap_or_default();
    json!({
        "prefix": r.prefix().map(|p| p.to_string()),
        "family": r.family,
        "source": source,
        "path_id": number(r.leaves.get("path-id")).or_else(|| r.keys.get("path-id").and_then(|p| p.parse().ok())),
        "next_hop": a("next-hop"),
        "as_path": set.map(AttrSet::as_path).unwrap_or_default(),
        "origin": a("origin"),
        "med": a("med").and_then(|v| number(Some(&v))),
        "local_pref": a("local-pref").and_then(|v| number(Some(&v))),
        "communities": communities,
        "best": r.leaves.get("best-path").and_then(Value::as_bool),
    })
}

/// The paths of the sets some routes point to.
pub(crate) fn set_paths(routes: &[RouteLeaves]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for r in routes {
        if let Some(i) = r.attr_index() {
            out.insert(format!("{}/rib/attr-sets/attr-set[index={i}]", paths::BGP));
        }
        if let Some(i) = r.community_index() {
            out.insert(format!(
                "{}/rib/communities/community[index={i}]",
                paths::BGP
            ));
        }
    }
    out.into_iter().collect()
}
