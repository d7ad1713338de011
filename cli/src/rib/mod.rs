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

mod attrs;
mod originate;
mod routes;

use std::net::IpAddr;

use anyhow::bail;
use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::get_request::DataType;
use ocbgp_gnmi::proto::gnmi::PathElem;
use serde_json::Value;

use crate::client::{Conn, Event};
use crate::paths::{self, Family};
use crate::table::text;
use attrs::{row, set_paths, Attrs};
pub use originate::{add, del};
use routes::{Grouper, RouteLeaves};

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
            let name = |f: Family| if f == Family::Ipv4 { "ipv4" } else { "ipv6" };
            bail!("the prefix is {}, but -a {} was given", name(own), name(asked.unwrap_or(own)));
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

/// Prints rows as they come: a table, or one JSON array.
struct Printer {
    json: bool,
    count: usize,
    out: std::io::BufWriter<std::io::Stdout>,
    /// Rows written since the last flush.
    unflushed: usize,
}

/// How long buffered rows may wait for more before they are flushed.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

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
        Printer {
            json,
            count: 0,
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            unflushed: 0,
        }
    }

    /// Writes, or ends quietly when stdout is gone (a closed pipe).
    fn write(&mut self, text: std::fmt::Arguments<'_>) {
        use std::io::Write;
        if self.out.write_fmt(text).is_err() {
            std::process::exit(0);
        }
    }

    /// Whether rows wait in the buffer.
    fn pending(&self) -> bool {
        self.unflushed > 0
    }

    fn flush(&mut self) {
        use std::io::Write;
        if self.out.flush().is_err() {
            std::process::exit(0);
        }
        self.unflushed = 0;
    }

    fn print(&mut self, v: &Value) {
        if self.json {
            // The separator goes before each row: the array closes at the end.
            let sep = if self.count == 0 { "[" } else { "," };
            self.write(format_args!("{sep}\n  {v}"));
        } else {
            if self.count == 0 {
                let header = line(&HEADER.map(String::from));
                self.write(format_args!("{header}\n"));
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
            let row = line(&[
                t("prefix"),
                t("next_hop"),
                t("source"),
                t("as_path"),
                t("origin"),
                t("med"),
                t("local_pref"),
                comms.filter(|c| !c.is_empty()).unwrap_or_default(),
            ]);
            self.write(format_args!("{row}\n"));
        }
        self.count += 1;
        self.unflushed += 1;
    }

    fn finish(&mut self) {
        if self.json {
            let end = if self.count == 0 { "[]" } else { "\n]" };
            self.write(format_args!("{end}\n"));
        } else if self.count == 0 {
            self.write(format_args!("no routes\n"));
        }
        self.flush();
    }
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
    // Routes come as whole subtrees, one update each: grouped as they are.
    let whole = |elems: &[PathElem]| {
        elems
            .last()
            .is_some_and(|e| e.name == "route" || e.name.ends_with(":route"))
    };
    'stream: loop {
        // Rows are buffered; they are written out when the stream pauses.
        let events = if printer.pending() {
            match tokio::time::timeout(FLUSH_AFTER, sub.next_with(&whole)).await {
                Ok(next) => next?,
                Err(_) => {
                    printer.flush();
                    sub.next_with(&whole).await?
                }
            }
        } else {
            sub.next_with(&whole).await?
        };
        let Some(events) = events else { break };
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

/// For `monitor rib`: the route stream pieces.
pub(crate) mod stream {
    pub(crate) use super::attrs::{row, Attrs};
    pub(crate) use super::routes::{Grouper, RouteLeaves};
    pub(crate) use super::TableKind;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{expand, parse_path};
    use ocbgp_gnmi::proto::gnmi::PathElem;
    use serde_json::json;

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
