//! RIB tables: `global rib` (the Loc-RIB), `neighbor ADDR adj-in|adj-out`,
//! and originated routes (`global rib add|del`).
//!
//! Tables stream: one Subscribe ONCE on the routes path; each notification
//! (up to a thousand routes) is decoded straight into typed routes
//! (`route.rs`), the attribute and community sets they point to are read
//! by index, those not already cached, in one Get (`sets.rs`), and the rows
//! are written. The first rows come with the first notification, and the
//! client's memory is one notification and a bounded set cache, however
//! big the table. Lookups are the server's: a prefix is one route key, an
//! address asks for every prefix that could cover it and keeps the longest.

mod originate;
mod route;
mod row;
mod sets;

use std::net::IpAddr;

use anyhow::bail;
use ipnet::IpNet;
use ocbgp_gnmi::proto::gnmi::get_request::DataType;

use crate::client::{Conn, Response};
use crate::paths::{self, Family};
pub use originate::{add, del};
use route::{decode, Decoded, Route};
use row::Printer;

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
            bail!(
                "the prefix is {}, but -a {} was given",
                name(own),
                name(asked.unwrap_or(own))
            );
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
    /// The path of the routes `filter` wants of `family` (one prefix, or
    /// the whole table).
    fn routes_path(&self, family: Family, prefix: Option<IpNet>) -> String {
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
        match prefix {
            // Missing keys (origin, path-id) select every path of the prefix.
            Some(net) => format!("{}[prefix={}]", table, paths::key(&net.to_string())),
            None => table,
        }
    }

    /// The paths a read with `filter` subscribes to.
    fn paths(&self, families: &[Family], filter: Filter) -> Vec<String> {
        match filter {
            Filter::All => families
                .iter()
                .map(|f| self.routes_path(*f, None))
                .collect(),
            Filter::Exact(net) => vec![self.routes_path(Family::of(net.addr()), Some(net))],
            // Every prefix that could cover the address.
            Filter::Longest(addr) => {
                let max = if addr.is_ipv4() { 32 } else { 128 };
                (0..=max)
                    .rev()
                    .filter_map(|len| IpNet::new(addr, len).ok())
                    .map(|net| self.routes_path(Family::of(addr), Some(net.trunc())))
                    .collect()
            }
        }
    }
}

/// Routes decoded from a read, a notification at a time.
type Batches = tokio::sync::mpsc::Receiver<anyhow::Result<Vec<Route>>>;

/// Reads `paths` (Subscribe ONCE) on a task of its own, so the next
/// notification is decoded while the sets of this one are read.
async fn read(conn: &mut Conn, paths: &[String], table: &TableKind) -> anyhow::Result<Batches> {
    let mut sub = conn.subscribe(paths, false, false).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let table = table.clone();
    tokio::spawn(async move {
        loop {
            let routes = match sub.next_raw().await {
                Ok(Some(Response::Update(n))) => {
                    let mut d = Decoded::default();
                    decode(&n, &table, &mut d);
                    Ok(d.routes)
                }
                Ok(Some(Response::SyncResponse(_)) | None) => return,
                Ok(Some(_)) => continue,
                Err(e) => Err(e.into()),
            };
            let failed = routes.is_err();
            if tx.send(routes).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(rx)
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
    let mut batches = read(conn, &table.paths(&families, filter), &table).await?;
    let mut printer = Printer::new(json, table);
    let mut sets = sets::Sets::default();
    if let Filter::Longest(_) = filter {
        // The paths of the longest prefix that has any.
        let mut found: Vec<Route> = Vec::new();
        while let Some(routes) = batches.recv().await {
            for r in routes? {
                match found.first().map(|f| f.prefix.prefix_len()) {
                    Some(len) if len > r.prefix.prefix_len() => {}
                    Some(len) if len == r.prefix.prefix_len() => found.push(r),
                    _ => found = vec![r],
                }
            }
        }
        sets.fetch_for(conn, &found).await?;
        for r in &found {
            printer.row(r, &sets);
        }
        printer.finish();
        return Ok(());
    }
    loop {
        // Rows wait in the output buffer while more are ready; it is
        // written out before waiting for the server.
        let next = match batches.try_recv() {
            Ok(routes) => Some(routes),
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                printer.flush();
                batches.recv().await
            }
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
        };
        let Some(routes) = next else { break };
        let routes = routes?;
        sets.fetch_for(conn, &routes).await?;
        for r in &routes {
            printer.row(r, &sets);
        }
    }
    printer.finish();
    Ok(())
}

/// For `monitor rib`: the route stream pieces.
pub(crate) mod stream {
    pub(crate) use super::route::{decode, Decoded};
    pub(crate) use super::row::Cells;
    pub(crate) use super::sets::Sets;
    pub(crate) use super::TableKind;
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lookups_name_their_prefixes() {
        let loc = TableKind::Loc;
        let all = loc.paths(&[Family::Ipv4, Family::Ipv6], Filter::All);
        assert_eq!(all.len(), 2);
        assert!(
            all[1].ends_with("ipv6-unicast/loc-rib/routes/route"),
            "{all:?}"
        );
        let exact = loc.paths(&[Family::Ipv4], Filter::parse(Some("10.1.0.0/16")).unwrap());
        assert!(
            exact[0].ends_with("loc-rib/routes/route[prefix=10.1.0.0/16]"),
            "{exact:?}"
        );
        let longest = loc.paths(&[Family::Ipv4], Filter::parse(Some("10.1.2.3")).unwrap());
        assert_eq!(longest.len(), 33);
        assert!(longest[0].ends_with("[prefix=10.1.2.3/32]"), "{longest:?}");
        assert!(longest[8].ends_with("[prefix=10.1.2.0/24]"), "{longest:?}");
        assert!(longest[32].ends_with("[prefix=0.0.0.0/0]"), "{longest:?}");
        let v6 = TableKind::AdjIn("2001:db8::1".into())
            .paths(&[Family::Ipv6], Filter::parse(Some("2001:db8::5")).unwrap());
        assert_eq!(v6.len(), 129);
        assert!(
            v6[0].contains("neighbor[neighbor-address=2001:db8::1]/adj-rib-in-post"),
            "{v6:?}"
        );
    }
}
