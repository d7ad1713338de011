//! Listing a table (GoBGP's `ListPath`).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::ServerError;
use crate::engine::{Engine, EngineError};
use crate::rib::snapshot::{batch, PathSnap};
use crate::rib::{Attrs, PeerIdx};
use crate::rpki::Validation;
use crate::wire::Family;

/// Prefixes read per visit to the RIB task.
const LIST_BATCH: usize = 4096;

/// Which table [`BgpServer::list_paths`](super::BgpServer::list_paths)
/// reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// The Loc-RIB: every path import policy accepted, as accepted, the
    /// best of each prefix marked (GoBGP's global table).
    Global,
    /// What `neighbor` sent us (Adj-RIB-In): as received, rejected paths
    /// included; or with `post_policy`, as import policy accepted them.
    AdjIn {
        /// The neighbor.
        neighbor: IpAddr,
        /// After import policy.
        post_policy: bool,
    },
    /// What `neighbor` is sent (Adj-RIB-Out), one path per prefix: as our
    /// best path is, or with `post_policy`, as it goes on the wire
    /// (export policy and the RFC 4271 rules applied: our AS prepended,
    /// next hop set).
    AdjOut {
        /// The neighbor.
        neighbor: IpAddr,
        /// After export policy and rules.
        post_policy: bool,
    },
}

/// Where a path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathSource {
    /// Announced by this speaker ([`BgpServer::add_path`](super::BgpServer::add_path)
    /// or the configuration).
    Local,
    /// Received from this neighbor.
    Peer(IpAddr),
}

/// One path of a prefix in a listed table.
#[derive(Debug, Clone)]
pub struct PathEntry {
    /// Where it came from.
    pub source: PathSource,
    /// Its add-path identifier from the source (0 without add-path).
    pub path_id: u32,
    /// Its attributes in this table.
    pub attrs: Attrs,
    /// Whether it is the prefix's best path (always true in Adj-RIB-Out).
    pub best: bool,
    /// Kept stale over its peer's graceful restart.
    pub stale: bool,
    /// RPKI origin validation, while RPKI caches give VRPs.
    pub validation: Option<Validation>,
}

/// A prefix with its paths in a listed table (GoBGP's `Destination`).
#[derive(Debug, Clone)]
pub struct Destination {
    /// The prefix.
    pub prefix: IpNet,
    /// Its paths, best first.
    pub paths: Vec<PathEntry>,
}

/// Refuses the families the RIB has no table for.
pub(super) fn check_family(family: Family) -> Result<(), ServerError> {
    match family {
        Family::IPV4_UNICAST | Family::IPV6_UNICAST => Ok(()),
        other => Err(ServerError::Family(other)),
    }
}

/// Neighbor addresses by RIB index, refreshed from the engine when an
/// index is not known (a neighbor added since); indexes of neighbors
/// removed since are kept, for their paths still going.
pub(super) struct Names {
    engine: Engine,
    by_idx: HashMap<PeerIdx, IpAddr>,
}

impl Names {
    pub(super) fn new(engine: Engine) -> Names {
        let mut names = Names {
            engine,
            by_idx: HashMap::new(),
        };
        names.refresh();
        names
    }

    /// Reads the neighbors again (an index reused by a new neighbor takes
    /// its address).
    pub(super) fn refresh(&mut self) {
        for (a, n) in self.engine.neighbors() {
            self.by_idx.insert(n.idx, a);
        }
    }

    /// The source of paths from `idx`; `None` for a neighbor the engine
    /// no longer has and this never knew.
    pub(super) fn source(&mut self, idx: PeerIdx) -> Option<PathSource> {
        if idx == PeerIdx::LOCAL {
            return Some(PathSource::Local);
        }
        if !self.by_idx.contains_key(&idx) {
            self.refresh();
        }
        self.by_idx.get(&idx).map(|a| PathSource::Peer(*a))
    }
}

pub(super) async fn list(
    engine: &Engine,
    table: Table,
    family: Family,
) -> Result<Vec<Destination>, ServerError> {
    check_family(family)?;
    let rib = engine.rib().ok_or(EngineError::NotRunning)?;
    let idx_of = |neighbor: IpAddr| {
        engine
            .neighbor(neighbor)
            .map(|n| n.idx)
            .ok_or(EngineError::UnknownNeighbor(neighbor))
    };
    let mut names = Names::new(engine.clone());
    let mut out = Vec::new();
    let (only, post) = match table {
        Table::AdjOut {
            neighbor,
            post_policy,
        } => {
            let idx = idx_of(neighbor)?;
            let sent = rib
                .query(move |rib| rib.advertised(idx, family))
                .await
                .ok_or(ServerError::RibGone)?;
            for a in sent {
                let Some(source) = names.source(a.source) else {
                    continue;
                };
                out.push(Destination {
                    prefix: a.net,
                    paths: vec![PathEntry {
                        source,
                        path_id: 0,
                        attrs: if post_policy { a.post } else { a.pre },
                        best: true,
                        stale: false,
                        validation: None,
                    }],
                });
            }
            return Ok(out);
        }
        Table::Global => (None, true),
        Table::AdjIn {
            neighbor,
            post_policy,
        } => (Some(idx_of(neighbor)?), post_policy),
    };
    let mut from = None;
    loop {
        let b = rib
            .query(move |rib| batch(rib, family, from, LIST_BATCH))
            .await
            .ok_or(ServerError::RibGone)?;
        for (prefix, snaps) in b.dests {
            let paths: Vec<PathEntry> = snaps
                .into_iter()
                .filter(|p| only.is_none_or(|o| o == p.peer))
                .filter_map(|p| entry(p, post, &mut names))
                .collect();
            if !paths.is_empty() {
                out.push(Destination { prefix, paths });
            }
        }
        match b.next {
            Some(next) => from = Some(next),
            None => return Ok(out),
        }
    }
}

/// A path as a table shows it: received, or accepted (`post`; none if
/// import policy rejected it).
fn entry(p: PathSnap, post: bool, names: &mut Names) -> Option<PathEntry> {
    let attrs = if post { p.accepted? } else { p.received };
    Some(PathEntry {
        source: names.source(p.peer)?,
        path_id: p.path_id,
        attrs,
        best: p.best,
        stale: p.stale,
        validation: p.validation,
    })
}
