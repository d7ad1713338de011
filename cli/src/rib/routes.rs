//! Route leaves grouped into routes as a subscription delivers them.

use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::table::{bare, text};

/// One route as its leaves arrived.
#[derive(Debug, Default, Clone)]
pub(crate) struct RouteLeaves {
    pub(crate) family: Option<String>,
    pub(crate) neighbor: Option<String>,
    pub(crate) keys: BTreeMap<String, String>,
    pub(crate) leaves: Map<String, Value>,
}

impl RouteLeaves {
    pub(crate) fn prefix(&self) -> Option<IpNet> {
        let p = self
            .leaves
            .get("prefix")
            .and_then(|v| text(Some(v)))
            .or_else(|| self.keys.get("prefix").cloned())?;
        p.parse().ok()
    }
    pub(crate) fn attr_index(&self) -> Option<String> {
        text(self.leaves.get("attr-index"))
    }
    pub(crate) fn community_index(&self) -> Option<String> {
        text(self.leaves.get("community-index"))
    }
}

/// Where the `route` list entry is in a leaf's path.
fn route_position(elems: &[PathElem]) -> Option<usize> {
    elems
        .iter()
        .rposition(|e| e.name == "route" || e.name.ends_with(":route"))
}

/// The route a leaf path at `i` belongs to: family, neighbor, keys.
fn route_of(elems: &[PathElem], i: usize) -> RouteLeaves {
    let mut r = RouteLeaves::default();
    for e in &elems[..=i] {
        if let Some(f) = e.key.get("afi-safi-name") {
            r.family = Some(bare(f).to_string());
        }
        if let Some(n) = e.key.get("neighbor-address") {
            r.neighbor = Some(n.clone());
        }
    }
    r.keys = elems[i].key.clone();
    r
}

/// Whether the leaf path belongs to route `r` (same table, same keys):
/// checked without allocating, as it runs for every leaf of a big table.
fn same_route(r: &RouteLeaves, elems: &[PathElem], i: usize) -> bool {
    if elems[i].key != r.keys {
        return false;
    }
    elems[..i].iter().all(|e| {
        e.key
            .get("afi-safi-name")
            .is_none_or(|f| r.family.as_deref() == Some(bare(f)))
            && e.key
                .get("neighbor-address")
                .is_none_or(|n| r.neighbor.as_deref() == Some(n.as_str()))
    })
}

/// Adds a value under `name`, flattening containers (a server may send a
/// subtree instead of single leaves).
pub(crate) fn put_leaf(into: &mut Map<String, Value>, name: &str, v: Value) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                put_leaf(into, bare(&k), v);
            }
        }
        v => {
            into.insert(bare(name).to_string(), v);
        }
    }
}

/// Groups a stream of leaf updates into routes: leaves of one route arrive
/// together, so a route is complete when a leaf of another one arrives (or
/// the stream syncs).
#[derive(Default)]
pub(crate) struct Grouper {
    current: Option<RouteLeaves>,
}

impl Grouper {
    /// Takes one update; returns the previous route when this one starts a
    /// new route.
    pub(crate) fn push(&mut self, elems: &[PathElem], value: Value) -> Option<RouteLeaves> {
        let i = route_position(elems)?;
        let leaf = elems
            .last()
            .filter(|_| i + 1 < elems.len())
            .map(|e| e.name.as_str())
            .unwrap_or("");
        let mut done = None;
        if !self
            .current
            .as_ref()
            .is_some_and(|r| same_route(r, elems, i))
        {
            done = self.current.replace(route_of(elems, i));
        }
        let r = self.current.as_mut().expect("set above");
        put_leaf(&mut r.leaves, leaf, value);
        done
    }

    pub(crate) fn finish(&mut self) -> Option<RouteLeaves> {
        self.current.take()
    }
}
