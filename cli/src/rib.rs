//! RIB tables: `global rib` (the Loc-RIB), `neighbor ADDR adj-in|adj-out`,
//! and originated routes (`global rib add|del`).
//!
//! Tables stream: one Subscribe ONCE on the routes path, and each route is
//! printed as soon as its leaves have arrived (the leaves of one route come
//! together), so client memory does not grow with the table. Route
//! attributes live in the model's attribute and community sets, which
//! routes point to by index: a full table first reads the sets (memory
//! grows with the number of distinct attribute sets, not routes); a lookup
//! reads only the sets of the routes it found.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use anyhow::bail;
use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::{json, Map, Value};

use crate::client::{Conn, Event};
use crate::paths::{self, Family};
use crate::raw::done;
use crate::table::{bare, number, text};

/// Which routes a table read keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// All.
    All,
    /// Exactly this prefix.
    Exact(IpNet),
    /// The longest prefix that covers this address.
    Longest(IpAddr),
}

impl Filter {
    /// A command-line PREFIX: a prefix (exact) or an address (longest match).
    pub fn parse(arg: Option<&str>) -> anyhow::Result<Filter> {
        let Some(a) = arg else { return Ok(Filter::All) };
        if let Ok(net) = a.parse::<IpNet>() {
            if net.trunc() != net {
                bail!("{a} has host bits set: did you mean {}?", net.trunc());
            }
            return Ok(Filter::Exact(net));
        }
        if let Ok(addr) = a.parse::<IpAddr>() {
            return Ok(Filter::Longest(addr));
        }
        bail!("{a:?} is neither an IP prefix (10.0.0.0/8) nor an address (10.1.2.3)")
    }

    /// The families the filter can match (within the ones asked for).
    fn families(self, asked: Option<Family>) -> anyhow::Result<Vec<Family>> {
        let own = match self {
            Filter::All => return Ok(Family::selected(asked)),
            Filter::Exact(n) => Family::of(n.addr()),
            Filter::Longest(a) => Family::of(a),
        };
        if asked.is_some_and(|f| f != own) {
            bail!("the prefix is {:?}, not {:?}", own, asked.unwrap());
        }
        Ok(vec![own])
    }
}

/// Which table to read.
#[derive(Debug, Clone)]
pub enum TableKind {
    /// The Loc-RIB.
    Loc,
    /// A neighbor's Adj-RIB-In (post-policy).
    AdjIn(String),
    /// A neighbor's Adj-RIB-Out (post-policy).
    AdjOut(String),
}

impl TableKind {
    fn routes_path(&self, family: Family, filter: Filter) -> String {
        let base = paths::family_rib(family);
        let table = match self {
            TableKind::Loc => format!("{base}/loc-rib/routes/route"),
            TableKind::AdjIn(n) => {
                format!(
                    "{base}/neighbors/neighbor[neighbor-address={}]/adj-rib-in-post/routes/route",
                    paths::key(n)
                )
            }
            TableKind::AdjOut(n) => {
                format!(
                    "{base}/neighbors/neighbor[neighbor-address={}]/adj-rib-out-post/routes/route",
                    paths::key(n)
                )
            }
        };
        match filter {
            // Missing keys (origin, path-id) select every path of the prefix.
            Filter::Exact(net) => format!("{}[prefix={}]", table, paths::key(&net.to_string())),
            _ => table,
        }
    }
}

/// One route as its leaves arrived.
#[derive(Debug, Default, Clone)]
pub(crate) struct RouteLeaves {
    family: Option<String>,
    neighbor: Option<String>,
    keys: BTreeMap<String, String>,
    leaves: Map<String, Value>,
}

impl RouteLeaves {
    fn prefix(&self) -> Option<IpNet> {
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
    fn community_index(&self) -> Option<String> {
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
fn put_leaf(into: &mut Map<String, Value>, name: &str, v: Value) {
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

/// An attribute set as the table shows it.
#[derive(Debug, Default, Clone)]
struct AttrSet {
    leaves: Map<String, Value>,
    segments: BTreeMap<u64, (String, Vec<String>)>,
}

impl AttrSet {
    fn as_path(&self) -> String {
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
    fn take(&mut self, elems: &[PathElem], value: Value) {
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
    async fn load(&mut self, conn: &mut Conn, paths: Vec<String>) -> anyhow::Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut sub = conn.subscribe(&paths, false, false).await?;
        while let Some(events) = sub.next().await? {
            for e in events {
                match e {
                    Event::Update(elems, v) => self.take(&elems, v),
                    Event::Sync => return Ok(()),
                    Event::Delete(_) => {}
                }
            }
        }
        Ok(())
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

/// Prints rows as they come: a table, or one JSON array.
struct Printer {
    json: bool,
    count: usize,
}

const HEADER: [&str; 8] = [
    "Network",
    "Next Hop",
    "From",
    "AS_PATH",
    "Origin",
    "MED",
    "LocPrf",
    "Communities",
];

fn line(cells: &[String]) -> String {
    format!(
        "{:<20} {:<18} {:<18} {:<20} {:<10} {:>6} {:>6}  {}",
        cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
    )
    .trim_end()
    .to_string()
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer { json, count: 0 }
    }

    fn print(&mut self, v: &Value) {
        if self.json {
            // The separator goes before each row: the array closes at the end.
            let sep = if self.count == 0 { "[" } else { "," };
            crate::table::emit_part(format_args!("{sep}\n  {v}"), false);
        } else {
            if self.count == 0 {
                crate::emit!("{}", line(&HEADER.map(String::from)));
            }
            let t = |k: &str| {
                text(v.get(k))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into())
            };
            let comms = v["communities"].as_array().map(|a| {
                a.iter()
                    .filter_map(|c| text(Some(c)))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            crate::emit!(
                "{}",
                line(&[
                    t("prefix"),
                    t("next_hop"),
                    t("source"),
                    t("as_path"),
                    t("origin"),
                    t("med"),
                    t("local_pref"),
                    comms.filter(|c| !c.is_empty()).unwrap_or_default(),
                ])
            );
        }
        self.count += 1;
    }

    fn finish(&self) {
        if self.json {
            crate::emit!("{}", if self.count == 0 { "[]" } else { "\n]" });
        } else if self.count == 0 {
            crate::emit!("no routes");
        }
    }
}

/// The paths of the sets some routes point to.
fn set_paths(routes: &[RouteLeaves]) -> Vec<String> {
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

/// Reads and prints a table (`global rib`, `adj-in`, `adj-out`).
pub async fn show(
    conn: &mut Conn,
    table: TableKind,
    family: Option<Family>,
    filter: Filter,
    json: bool,
) -> anyhow::Result<()> {
    if let TableKind::AdjIn(n) | TableKind::AdjOut(n) = &table {
        if n.parse::<IpAddr>().is_err() {
            bail!("{n:?} is not a neighbor address (IPv4 or IPv6)");
        }
        let config = format!("{}/config/neighbor-address", paths::neighbor(Some(n)));
        if conn.get_opt(&config, DataType::Config).await?.is_none() {
            bail!("no neighbor {n} is configured");
        }
    }
    let families = filter.families(family)?;
    let paths: Vec<String> = families
        .iter()
        .map(|f| table.routes_path(*f, filter))
        .collect();
    let mut printer = Printer::new(json);
    let mut attrs = Attrs::default();
    if filter == Filter::All {
        let bgp = paths::BGP;
        attrs
            .load(
                conn,
                vec![
                    format!("{bgp}/rib/attr-sets"),
                    format!("{bgp}/rib/communities"),
                ],
            )
            .await?;
    }
    // Routes kept for a lookup: the paths of one prefix at most.
    let mut kept: Vec<RouteLeaves> = Vec::new();
    let mut sub = conn.subscribe(&paths, false, false).await?;
    let mut grouper = Grouper::default();
    let take = |r: RouteLeaves, printer: &mut Printer, kept: &mut Vec<RouteLeaves>| match filter {
        Filter::All => printer.print(&row(&r, &table, &attrs)),
        Filter::Exact(net) => {
            if r.prefix() == Some(net) {
                kept.push(r);
            }
        }
        Filter::Longest(addr) => {
            let Some(p) = r.prefix().filter(|p| p.contains(&addr)) else {
                return;
            };
            match kept.first().and_then(RouteLeaves::prefix) {
                Some(best) if best.prefix_len() > p.prefix_len() => {}
                Some(best) if best.prefix_len() == p.prefix_len() => kept.push(r),
                _ => *kept = vec![r],
            }
        }
    };
    'stream: while let Some(events) = sub.next().await? {
        for e in events {
            match e {
                Event::Update(elems, v) => {
                    if let Some(r) = grouper.push(&elems, v) {
                        take(r, &mut printer, &mut kept);
                    }
                }
                Event::Sync => break 'stream,
                Event::Delete(_) => {}
            }
        }
    }
    if let Some(r) = grouper.finish() {
        take(r, &mut printer, &mut kept);
    }
    if !kept.is_empty() {
        attrs.load(conn, set_paths(&kept)).await?;
        for r in &kept {
            printer.print(&row(r, &table, &attrs));
        }
    }
    printer.finish();
    Ok(())
}

/// Attributes of `global rib add`, parsed from `WORD VALUE` pairs.
pub fn route_config(prefix: &str, args: &[String]) -> anyhow::Result<(IpNet, Value)> {
    let net: IpNet = prefix
        .parse()
        .map_err(|_| anyhow::anyhow!("{prefix:?} is not an IP prefix (such as 10.0.0.0/24)"))?;
    if net.trunc() != net {
        bail!("{prefix} has host bits set: did you mean {}?", net.trunc());
    }
    let mut c = Map::new();
    c.insert("prefix".into(), json!(net.to_string()));
    let mut it = args.iter().peekable();
    const WORDS: [&str; 6] = [
        "nexthop",
        "origin",
        "med",
        "local-pref",
        "community",
        "large-community",
    ];
    while let Some(word) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("{word} needs a value"))
        };
        match word.as_str() {
            "nexthop" | "next-hop" => {
                let v = value()?;
                let a: IpAddr = v.parse().map_err(|_| anyhow::anyhow!("nexthop {v:?} is not an IP address"))?;
                c.insert("next-hop".into(), json!(a.to_string()));
            }
            "origin" => {
                let v = value()?.to_ascii_uppercase();
                if !["IGP", "EGP", "INCOMPLETE"].contains(&v.as_str()) {
                    bail!("origin must be igp, egp or incomplete, not {v:?}");
                }
                c.insert("origin".into(), json!(v));
            }
            "med" | "local-pref" => {
                let v = value()?;
                let n: u32 = v.parse().map_err(|_| anyhow::anyhow!("{word} {v:?} is not a number (0..4294967295)"))?;
                c.insert(word.clone(), json!(n));
            }
            "community" | "large-community" => {
                let mut list = Vec::new();
                while let Some(v) = it.peek() {
                    if WORDS.contains(&v.as_str()) || *v == "next-hop" {
                        break;
                    }
                    for one in it.next().expect("peeked").split(',').filter(|s| !s.is_empty()) {
                        list.push(if word == "community" { community(one)? } else { large_community(one)? });
                    }
                }
                if list.is_empty() {
                    bail!("{word} needs at least one value");
                }
                c.insert(word.clone(), json!(list));
            }
            other => bail!("unknown route attribute {other:?}: use nexthop, origin, med, local-pref, community or large-community"),
        }
    }
    Ok((net, json!({"prefix": net.to_string(), "config": c})))
}

/// A standard community as the model takes it: `A:B` or a well-known name.
fn community(s: &str) -> anyhow::Result<String> {
    let well_known = [
        ("no-export", "NO_EXPORT"),
        ("no-advertise", "NO_ADVERTISE"),
        ("no-export-subconfed", "NO_EXPORT_SUBCONFED"),
        ("nopeer", "NOPEER"),
    ];
    let lower = s.to_ascii_lowercase().replace('_', "-");
    if let Some((_, id)) = well_known.iter().find(|(n, _)| *n == lower) {
        return Ok(format!("openconfig-bgp-types:{id}"));
    }
    match s.split_once(':') {
        Some((a, b)) if a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok() => Ok(s.to_string()),
        _ => bail!("community {s:?} is not ASN:VALUE (two numbers up to 65535) or no-export, no-advertise, no-export-subconfed, nopeer"),
    }
}

fn large_community(s: &str) -> anyhow::Result<String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
        Ok(s.to_string())
    } else {
        bail!("large community {s:?} is not GA:LD1:LD2 (three numbers up to 4294967295)")
    }
}

/// `global rib add PREFIX [attributes]`: replaces the originated route.
pub async fn add(conn: &mut Conn, prefix: &str, args: &[String], json: bool) -> anyhow::Result<()> {
    let (net, value) = route_config(prefix, args)?;
    let path = paths::originated(&net.to_string());
    conn.set(&[], &[(&path, value)], &[]).await?;
    done(json, "added", &net.to_string());
    Ok(())
}

/// `global rib del PREFIX`.
pub async fn del(conn: &mut Conn, prefix: &str, json: bool) -> anyhow::Result<()> {
    let net: IpNet = prefix
        .parse()
        .map_err(|_| anyhow::anyhow!("{prefix:?} is not an IP prefix (such as 10.0.0.0/24)"))?;
    let path = paths::originated(&net.trunc().to_string());
    let exists = conn
        .get_opt(
            &format!("{path}/config/prefix"),
            ocbgp_gnmi::proto::gnmi::get_request::DataType::Config,
        )
        .await?;
    if exists.is_none() {
        bail!(
            "{} is not an originated route (see `ocbgp get {}/global/ocbgp:originated-routes`)",
            net.trunc(),
            paths::BGP
        );
    }
    conn.set(&[&path], &[], &[]).await?;
    done(json, "deleted", &net.trunc().to_string());
    Ok(())
}

/// For `monitor rib`: the route stream pieces.
pub(crate) mod stream {
    pub(crate) use super::{row, Attrs, Grouper, RouteLeaves, TableKind};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{expand, parse_path};

    fn elems(path: &str) -> Vec<PathElem> {
        parse_path(path).unwrap().elem
    }

    fn routes(events: Vec<(Vec<PathElem>, Value)>) -> Vec<RouteLeaves> {
        let mut g = Grouper::default();
        let mut out: Vec<RouteLeaves> = events
            .into_iter()
            .filter_map(|(e, v)| g.push(&e, v))
            .collect();
        out.extend(g.finish());
        out
    }

    const LOC: &str =
        "/bgp/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes";

    #[test]
    fn leaves_group_into_routes() {
        let r = |p: &str, o: &str, leaf: &str| {
            elems(&format!(
                "{LOC}/route[prefix={p}][origin={o}][path-id=0]/state/{leaf}"
            ))
        };
        let got = routes(vec![
            (r("10.0.0.0/8", "192.0.2.1", "prefix"), json!("10.0.0.0/8")),
            (r("10.0.0.0/8", "192.0.2.1", "attr-index"), json!("7")),
            (
                r("10.1.0.0/16", "192.0.2.1", "prefix"),
                json!("10.1.0.0/16"),
            ),
            (r("10.1.0.0/16", "192.0.2.1", "attr-index"), json!("8")),
            (r("10.1.0.0/16", "192.0.2.2", "attr-index"), json!("9")),
        ]);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].prefix().unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(got[1].attr_index().as_deref(), Some("8"));
        // A route whose prefix leaf did not come still has its key.
        assert_eq!(got[2].prefix().unwrap().to_string(), "10.1.0.0/16");
        assert_eq!(got[2].family.as_deref(), Some("IPV4_UNICAST"));
    }

    #[test]
    fn subtrees_group_like_leaves() {
        let v = json!({"route": [
            {"prefix": "10.0.0.0/8", "origin": "openconfig-policy-types:STATIC", "path-id": 0,
             "state": {"prefix": "10.0.0.0/8", "attr-index": "7", "community-index": "3"}},
            {"prefix": "10.1.0.0/16", "origin": "192.0.2.1", "path-id": 0, "state": {"attr-index": "8"}}]});
        let mut leaves = Vec::new();
        expand(&mut elems(LOC), v, &mut leaves);
        let got = routes(leaves);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].community_index().as_deref(), Some("3"));
        assert_eq!(
            got[1].keys.get("origin").map(String::as_str),
            Some("192.0.2.1")
        );

        let sets = json!({"attr-set": [{"index": "7", "state": {"index": "7", "next-hop": "192.0.2.1", "med": 5},
            "as-path": {"as-segment": [{"index": 0, "state": {"index": 0, "type": "AS_SEQ", "member": [65010, 65020]}},
                                       {"index": 1, "state": {"index": 1, "type": "AS_SET", "member": [1, 2]}}]}}]});
        let mut leaves = Vec::new();
        expand(&mut elems("/bgp/rib/attr-sets"), sets, &mut leaves);
        let mut attrs = Attrs::default();
        for (e, v) in leaves {
            attrs.take(&e, v);
        }
        let row = row(&got[0], &TableKind::Loc, &attrs);
        assert_eq!(row["as_path"], "65010 65020 {1,2}");
        assert_eq!(row["next_hop"], "192.0.2.1");
        assert_eq!(row["med"], 5);
        assert_eq!(row["source"], "local");
    }

    #[test]
    fn route_attributes_parse() {
        let args: Vec<String> = "nexthop 192.0.2.1 med 10 community 65000:1 no-export origin egp"
            .split(' ')
            .map(String::from)
            .collect();
        let (net, v) = route_config("10.0.0.0/24", &args).unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/24");
        assert_eq!(v["config"]["next-hop"], "192.0.2.1");
        assert_eq!(v["config"]["med"], 10);
        assert_eq!(v["config"]["origin"], "EGP");
        assert_eq!(
            v["config"]["community"],
            json!(["65000:1", "openconfig-bgp-types:NO_EXPORT"])
        );
        assert!(route_config("10.0.0.1/24", &[]).is_err());
        assert!(route_config("10.0.0.0/24", &["med".into(), "x".into()]).is_err());
        assert!(route_config("10.0.0.0/24", &["colour".into(), "x".into()]).is_err());
    }

    #[test]
    fn filters_parse() {
        assert_eq!(
            Filter::parse(Some("10.0.0.0/8")).unwrap(),
            Filter::Exact("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            Filter::parse(Some("10.1.2.3")).unwrap(),
            Filter::Longest("10.1.2.3".parse().unwrap())
        );
        assert!(Filter::parse(Some("10.1.2.3/8")).is_err());
        assert!(Filter::parse(Some("x")).is_err());
    }
}
