//! Routes decoded from the notifications of a table read: each route entry
//! comes as one update (the entry's path and its RFC 7951 JSON), decoded
//! straight into a small typed [`Route`]: no JSON tree, no path copy per
//! route, as a full table is a million of them.

use std::net::IpAddr;

use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::{Notification, PathElem};
use serde::Deserialize;

use super::TableKind;
use crate::client::json_bytes;
use crate::paths::Family;
use crate::table::bare;

/// Where a route came from, as the table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Originated by this speaker.
    Local,
    /// Learned from this neighbor.
    Peer(IpAddr),
}

impl Source {
    /// From a Loc-RIB route's `origin` key: a neighbor address, or an
    /// identity (`STATIC`, ...) for routes of our own.
    fn of_origin(origin: &str) -> Source {
        match origin.parse() {
            Ok(a) => Source::Peer(a),
            Err(_) => Source::Local,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Local => f.write_str("local"),
            Source::Peer(a) => write!(f, "{a}"),
        }
    }
}

/// One route of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub family: Family,
    pub prefix: IpNet,
    /// `None` for an Adj-RIB-Out (the routes are ours to send).
    pub source: Option<Source>,
    pub path_id: Option<u32>,
    /// The route's attribute set (`bgp/rib/attr-sets`).
    pub attr_index: Option<u64>,
    /// The route's community set (`bgp/rib/communities`), if it has any.
    pub community_index: Option<u64>,
    pub best: Option<bool>,
    /// Kept stale over its peer's restart.
    pub stale: bool,
    /// Its RPKI origin validation state (VALID, INVALID, NOT_FOUND),
    /// while the daemon has VRPs.
    pub validation: Option<String>,
    /// In the forwarding table through this route (Loc-RIB, while the
    /// daemon has a FIB backend).
    pub fib_installed: Option<bool>,
}

/// A route entry's JSON: only what rows show (the keys come from the
/// path; other members are skipped unparsed).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteJson {
    state: RouteState,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteState {
    #[serde(rename = "attr-index", deserialize_with = "number")]
    attr_index: Option<u64>,
    #[serde(rename = "community-index", deserialize_with = "number")]
    community_index: Option<u64>,
    #[serde(rename = "best-path")]
    best_path: Option<bool>,
    #[serde(rename = "ocbgp:stale")]
    stale: Option<bool>,
    #[serde(rename = "ocbgp:rpki-validation")]
    validation: Option<String>,
    #[serde(rename = "ocbgp:fib-installed")]
    fib_installed: Option<bool>,
}

/// An unsigned number written as RFC 7951 does for 64-bit types (a
/// string) or as a plain JSON number.
pub(crate) fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<'a> {
        Number(u64),
        Text(&'a str),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::Number(n)) => Some(n),
        Some(Either::Text(t)) => t.parse().ok(),
        None => None,
    })
}

fn key<'e>(elem: &'e PathElem, name: &str) -> Option<&'e str> {
    elem.key.get(name).map(String::as_str)
}

/// The family and neighbor named along a path.
#[derive(Debug, Default, Clone, Copy)]
struct Context {
    family: Option<Family>,
    neighbor: Option<IpAddr>,
}

impl Context {
    fn add(&mut self, elems: &[PathElem]) {
        for e in elems {
            match key(e, "afi-safi-name").map(bare) {
                Some("IPV4_UNICAST") => self.family = Some(Family::Ipv4),
                Some("IPV6_UNICAST") => self.family = Some(Family::Ipv6),
                _ => {}
            }
            if let Some(n) = key(e, "neighbor-address").and_then(|n| n.parse().ok()) {
                self.neighbor = Some(n);
            }
        }
    }
}

fn is_route(e: &PathElem) -> bool {
    bare(&e.name) == "route"
}

/// The route a route entry's path names (its keys), without attributes.
fn keyed(ctx: Context, route: &PathElem, table: &TableKind) -> Option<Route> {
    let prefix: IpNet = key(route, "prefix")?.parse().ok()?;
    let family = ctx.family.unwrap_or(Family::of(prefix.addr()));
    let source = match table {
        TableKind::Loc => key(route, "origin").map(|o| Source::of_origin(bare(o))),
        TableKind::AdjIn(_) => ctx.neighbor.map(Source::Peer),
        TableKind::AdjOut(_) => None,
    };
    Some(Route {
        family,
        prefix,
        source,
        path_id: key(route, "path-id").and_then(|p| p.parse().ok()),
        attr_index: None,
        community_index: None,
        best: None,
        stale: false,
        validation: None,
        fib_installed: None,
    })
}

/// What one notification of a table read holds.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Routes added or changed, in order.
    pub routes: Vec<Route>,
    /// Routes gone (ON_CHANGE deletes), by their keys.
    pub gone: Vec<Route>,
    /// Whether a delete named the whole table (or more).
    pub cleared: bool,
}

/// Decodes the route entries of `n`, a notification of a read of `table`.
/// Updates that are not whole route entries are skipped (ocbgpd sends
/// each route as one entry).
pub(crate) fn decode(n: &Notification, table: &TableKind, out: &mut Decoded) {
    let mut ctx = Context::default();
    if let Some(p) = &n.prefix {
        ctx.add(&p.elem);
    }
    for d in &n.delete {
        let mut c = ctx;
        c.add(&d.elem);
        match d.elem.last().filter(|e| is_route(e)) {
            Some(r) => out.gone.extend(keyed(c, r, table)),
            None => out.cleared = true,
        }
    }
    for u in &n.update {
        let Some(path) = &u.path else { continue };
        let Some((last, above)) = path.elem.split_last() else {
            continue;
        };
        if !is_route(last) {
            continue;
        }
        let mut c = ctx;
        c.add(above);
        let Some(mut route) = keyed(c, last, table) else {
            continue;
        };
        if let Some(json) = json_bytes(u.val.as_ref()) {
            let v: RouteJson = serde_json::from_slice(json).unwrap_or_default();
            route.attr_index = v.state.attr_index;
            route.community_index = v.state.community_index;
            route.best = v.state.best_path;
            route.stale = v.state.stale.unwrap_or(false);
            route.validation = v.state.validation;
            route.fib_installed = v.state.fib_installed;
        }
        out.routes.push(route);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::parse_path;
    use ocbgp_gnmi::proto::gnmi::typed_value::Value as Typed;
    use ocbgp_gnmi::proto::gnmi::{TypedValue, Update};

    const LOC: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]\
        /bgp/rib/afi-safis/afi-safi[afi-safi-name=openconfig-bgp-types:IPV4_UNICAST]/ipv4-unicast/loc-rib/routes";

    fn update(path: &str, json: &str) -> Update {
        Update {
            path: Some(parse_path(path).unwrap()),
            val: Some(TypedValue {
                value: Some(Typed::JsonIetfVal(json.as_bytes().to_vec())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn route_entries_decode_with_their_keys() {
        let n = Notification {
            prefix: Some(parse_path(LOC).unwrap()),
            update: vec![
                update(
                    "/route[prefix=10.0.0.0/8][origin=192.0.2.1][path-id=0]",
                    r#"{"prefix":"10.0.0.0/8","origin":"192.0.2.1","path-id":0,
                       "state":{"attr-index":"7","community-index":"3","valid-route":true}}"#,
                ),
                update(
                    "/route[prefix=10.1.0.0/16][origin=openconfig-policy-types:STATIC][path-id=2]",
                    r#"{"state":{"attr-index":8,"best-path":true}}"#,
                ),
                // A leaf, not a route entry: skipped.
                update(
                    "/route[prefix=10.2.0.0/16][origin=192.0.2.1][path-id=0]/state/attr-index",
                    r#""9""#,
                ),
            ],
            delete: vec![
                parse_path("/route[prefix=10.3.0.0/16][origin=192.0.2.9][path-id=0]").unwrap(),
            ],
            ..Default::default()
        };
        let mut d = Decoded::default();
        decode(&n, &TableKind::Loc, &mut d);
        assert_eq!(d.routes.len(), 2);
        let a = &d.routes[0];
        assert_eq!(a.family, Family::Ipv4);
        assert_eq!(a.prefix.to_string(), "10.0.0.0/8");
        assert_eq!(a.source, Some(Source::Peer("192.0.2.1".parse().unwrap())));
        assert_eq!(
            (a.attr_index, a.community_index, a.path_id),
            (Some(7), Some(3), Some(0))
        );
        let b = &d.routes[1];
        assert_eq!(b.source.unwrap().to_string(), "local");
        assert_eq!(
            (b.attr_index, b.best, b.path_id),
            (Some(8), Some(true), Some(2))
        );
        assert_eq!(d.gone.len(), 1);
        assert_eq!(d.gone[0].prefix.to_string(), "10.3.0.0/16");
    }

    #[test]
    fn adj_in_routes_come_from_the_neighbor() {
        let prefix = LOC.replace(
            "loc-rib/routes",
            "neighbors/neighbor[neighbor-address=2001:db8::1]/adj-rib-in-post/routes",
        );
        let n = Notification {
            prefix: Some(parse_path(&prefix).unwrap()),
            update: vec![update("/route[prefix=10.0.0.0/8][path-id=0]", "{}")],
            ..Default::default()
        };
        let mut d = Decoded::default();
        decode(&n, &TableKind::AdjIn("2001:db8::1".into()), &mut d);
        assert_eq!(d.routes[0].source.unwrap().to_string(), "2001:db8::1");
        assert_eq!(d.routes[0].attr_index, None);
    }
}
