//! Cheap snapshots of the tables, a batch of prefixes at a time, taken on
//! the RIB task (shared attribute sets, no copies) for readers that walk a
//! whole table without holding the RIB task for long.

use ipnet::IpNet;

use super::{Attrs, PeerIdx, Rib, RouteKey, Table, V4Key, V6Key};
use crate::rpki::Validation;
use crate::wire::Family;

/// One path of a prefix as a batch holds it.
pub(crate) struct PathSnap {
    pub(crate) peer: PeerIdx,
    pub(crate) path_id: u32,
    pub(crate) received: Attrs,
    pub(crate) accepted: Option<Attrs>,
    pub(crate) best: bool,
    /// Kept over the peer's restart.
    pub(crate) stale: bool,
    /// Origin validation, while RPKI gives VRPs.
    pub(crate) validation: Option<Validation>,
    /// The best path or in its multipath set: what the FIB installs.
    pub(crate) forwarding: bool,
}

/// One batch of prefixes and where the next batch starts.
pub(crate) struct Batch {
    pub(crate) dests: Vec<(IpNet, Vec<PathSnap>)>,
    pub(crate) next: Option<IpNet>,
}

fn take_batch<K: RouteKey>(rib: &Rib, table: &Table<K>, from: Option<IpNet>, max: usize) -> Batch {
    let from = from.and_then(K::from_net);
    let mut dests = Vec::with_capacity(max.min(table.len()));
    let mut next = None;
    for (k, d) in table.range_from(from) {
        if dests.len() == max {
            next = Some(k.to_net());
            break;
        }
        let forwarding = rib.multipath(d);
        let paths = d
            .paths()
            .iter()
            .enumerate()
            .map(|(i, p)| PathSnap {
                peer: p.peer,
                path_id: p.path_id,
                received: p.received.clone(),
                accepted: p.accepted.clone(),
                best: i == 0 && p.accepted.is_some(),
                stale: rib.is_stale(p.peer, k.to_net(), p.path_id),
                validation: (!rib.vrps().is_empty())
                    .then(|| rib.validation(k.to_net(), &p.received)),
                forwarding: i < forwarding,
            })
            .collect();
        dests.push((k.to_net(), paths));
    }
    Batch { dests, next }
}

/// Up to `max` prefixes of `family`'s table (IPv4 or IPv6 unicast), from
/// `from` on.
pub(crate) fn batch(rib: &Rib, family: Family, from: Option<IpNet>, max: usize) -> Batch {
    if family == Family::IPV4_UNICAST {
        take_batch::<V4Key>(rib, rib.v4(), from, max)
    } else {
        take_batch::<V6Key>(rib, rib.v6(), from, max)
    }
}
