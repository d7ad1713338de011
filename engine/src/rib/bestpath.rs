//! Best-path selection (RFC 4271 9.1.2.2 with the usual tie-breakers).
//!
//! MED is compared only between paths from the same neighbor AS unless
//! `always_compare_med` is set. That relation is not transitive, so the
//! selection is done deterministically: the best path of each neighbor-AS
//! group first (with MED), then the best of those (without MED).

use std::cmp::Ordering;

use super::path::{Path, PeerInfo, SourceKind};
use crate::wire::{Community, Origin, SegmentType};

/// LOCAL_PREF assumed for paths that carry none (eBGP-learned routes).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Route selection options (OpenConfig `route-selection-options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionOptions {
    /// Compare MED between paths from different neighbor ASes.
    pub always_compare_med: bool,
    /// Skip the AS_PATH length step.
    pub ignore_as_path_length: bool,
    /// Compare router IDs of external paths instead of preferring the
    /// oldest one.
    pub external_compare_router_id: bool,
    /// Equal-cost multipath (`use-multiple-paths`).
    pub multipath: MultipathOptions,
}

/// How many paths may share a prefix's forwarding (OpenConfig
/// `use-multiple-paths`); 1 and 1 is no multipath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipathOptions {
    /// Most eBGP paths in a set.
    pub ebgp: u32,
    /// Most iBGP paths in a set.
    pub ibgp: u32,
    /// eBGP paths from different neighbor ASes may share a set.
    pub allow_multiple_as: bool,
}

impl Default for MultipathOptions {
    fn default() -> Self {
        MultipathOptions {
            ebgp: 1,
            ibgp: 1,
            allow_multiple_as: false,
        }
    }
}

impl Default for SelectionOptions {
    fn default() -> Self {
        // OpenConfig's defaults.
        SelectionOptions {
            always_compare_med: false,
            ignore_as_path_length: false,
            external_compare_router_id: true,
            multipath: MultipathOptions::default(),
        }
    }
}

/// What the comparison needs to know about paths' sources.
pub trait Sources {
    /// The source of a path.
    fn info(&self, path: &Path) -> &PeerInfo;
}

/// Facts of a path that the steps compare, computed once per comparison.
struct Facts<'a> {
    /// Marked LLGR_STALE: least preferred whatever else (RFC 9494 4.5).
    llgr_stale: bool,
    local_pref: u32,
    as_path_len: usize,
    origin: u8,
    med: u32,
    neighbor_as: u32,
    info: &'a PeerInfo,
    router_id: u32,
    cluster_len: usize,
}

fn facts<'a, S: Sources>(path: &Path, sources: &'a S) -> Option<Facts<'a>> {
    let attrs = &path.accepted.as_ref()?.attrs;
    let info = sources.info(path);
    let as_path = attrs.as_path.as_ref();
    let as_path_len = as_path
        .map(|p| {
            p.segments
                .iter()
                .map(|s| match s.kind {
                    SegmentType::Sequence => s.asns.len(),
                    SegmentType::Set => 1,
                    // Confederation segments do not count (RFC 5065 5.3).
                    _ => 0,
                })
                .sum()
        })
        .unwrap_or(0);
    Some(Facts {
        llgr_stale: attrs.communities.contains(&Community::LLGR_STALE),
        local_pref: attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
        as_path_len,
        origin: attrs.origin.map(Origin::code).unwrap_or(2),
        med: attrs.med.unwrap_or(0),
        neighbor_as: as_path.and_then(|p| p.first_as()).unwrap_or(0),
        info,
        router_id: u32::from(attrs.originator_id.unwrap_or(info.router_id)),
        cluster_len: attrs.cluster_list.len(),
    })
}

/// Compares two accepted paths; `Less` means `a` is better.
fn compare_facts(
    a: (&Path, &Facts),
    b: (&Path, &Facts),
    opts: &SelectionOptions,
    with_med: bool,
) -> Ordering {
    let ((pa, fa), (pb, fb)) = (a, b);
    let kind_rank = |k: SourceKind| match k {
        SourceKind::Local => 0,
        SourceKind::External => 1,
        SourceKind::Internal => 2,
    };
    fa.llgr_stale
        .cmp(&fb.llgr_stale)
        .then_with(|| fb.local_pref.cmp(&fa.local_pref))
        .then_with(|| (fa.info.kind != SourceKind::Local).cmp(&(fb.info.kind != SourceKind::Local)))
        .then_with(|| {
            if opts.ignore_as_path_length {
                Ordering::Equal
            } else {
                fa.as_path_len.cmp(&fb.as_path_len)
            }
        })
        .then_with(|| fa.origin.cmp(&fb.origin))
        .then_with(|| {
            if with_med {
                fa.med.cmp(&fb.med)
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| kind_rank(fa.info.kind).cmp(&kind_rank(fb.info.kind)))
        .then_with(|| {
            let both_external =
                fa.info.kind == SourceKind::External && fb.info.kind == SourceKind::External;
            if both_external && !opts.external_compare_router_id {
                pa.since.cmp(&pb.since)
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| fa.router_id.cmp(&fb.router_id))
        .then_with(|| fa.cluster_len.cmp(&fb.cluster_len))
        .then_with(|| fa.info.address.cmp(&fb.info.address))
        .then_with(|| pa.path_id.cmp(&pb.path_id))
}

/// Orders `paths` so that the best path comes first, then the other
/// accepted paths, then the rejected ones. Returns whether any path is
/// accepted.
pub fn select<S: Sources>(paths: &mut [Path], sources: &S, opts: &SelectionOptions) -> bool {
    // Rejected paths to the back.
    let accepted = partition(paths, |p| p.accepted.is_some());
    if accepted == 0 {
        return false;
    }
    let live = &mut paths[..accepted];
    if live.len() == 1 {
        return true;
    }
    let all: Vec<Facts> = live
        .iter()
        .map(|p| facts(p, sources).expect("accepted"))
        .collect();
    let med_everywhere = opts.always_compare_med;
    let better = |i: usize, j: usize, with_med: bool| {
        compare_facts((&live[i], &all[i]), (&live[j], &all[j]), opts, with_med) == Ordering::Less
    };
    // Winners per neighbor-AS group (one group for everything when MED is
    // always compared), then the best winner without MED.
    let mut winners: Vec<usize> = Vec::new();
    for i in 0..live.len() {
        match winners
            .iter_mut()
            .find(|w| med_everywhere || all[**w].neighbor_as == all[i].neighbor_as)
        {
            Some(w) if better(i, *w, true) => *w = i,
            Some(_) => {}
            None => winners.push(i),
        }
    }
    let mut best = winners[0];
    for &w in &winners[1..] {
        if better(w, best, false) {
            best = w;
        }
    }
    live.swap(0, best);
    // The rest in a stable, transitive order (for display only).
    let rest = &mut live[1..];
    rest.sort_by(|a, b| {
        let (fa, fb) = (
            facts(a, sources).expect("accepted"),
            facts(b, sources).expect("accepted"),
        );
        compare_facts((a, &fa), (b, &fb), opts, med_everywhere)
    });
    true
}

/// How many paths, from the best on, `paths` (as `select` ordered them)
/// use for forwarding: the best and those equal to it up to the tie
/// breakers (LOCAL_PREF, AS_PATH length, ORIGIN, MED, eBGP or iBGP, and
/// the neighbor AS unless `allow_multiple_as`), at most the eBGP or iBGP
/// maximum. 0 when no path is accepted; 1 without multipath.
pub fn multipath_count<S: Sources>(paths: &[Path], sources: &S, opts: &SelectionOptions) -> usize {
    let Some(best) = paths.first().filter(|p| p.accepted.is_some()) else {
        return 0;
    };
    let Some(fb) = facts(best, sources) else {
        return 0;
    };
    let max = match fb.info.kind {
        SourceKind::External => opts.multipath.ebgp,
        SourceKind::Internal => opts.multipath.ibgp,
        SourceKind::Local => 1,
    } as usize;
    if max <= 1 {
        return 1;
    }
    let equal = |p: &Path| {
        let Some(f) = facts(p, sources) else {
            return false;
        };
        f.llgr_stale == fb.llgr_stale
            && f.local_pref == fb.local_pref
            && (opts.ignore_as_path_length || f.as_path_len == fb.as_path_len)
            && f.origin == fb.origin
            && f.med == fb.med
            && f.info.kind == fb.info.kind
            && (opts.multipath.allow_multiple_as
                || fb.info.kind != SourceKind::External
                || f.neighbor_as == fb.neighbor_as)
    };
    1 + paths[1..]
        .iter()
        .take(max - 1)
        .take_while(|p| p.accepted.is_some() && equal(p))
        .count()
}

/// Moves the elements satisfying `keep` to the front, keeping their order;
/// returns how many there are.
fn partition(paths: &mut [Path], keep: impl Fn(&Path) -> bool) -> usize {
    let mut n = 0;
    for i in 0..paths.len() {
        if keep(&paths[i]) {
            paths[n..=i].rotate_right(1);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::rib::attrs::PathAttrs;
    use crate::rib::path::PeerIdx;
    use crate::wire::AsPath;

    struct Peers(Vec<PeerInfo>);
    impl Sources for Peers {
        fn info(&self, path: &Path) -> &PeerInfo {
            &self.0[path.peer.0 as usize]
        }
    }

    fn peer(kind: SourceKind, last: u8, asn: u32) -> PeerInfo {
        PeerInfo {
            router_id: Ipv4Addr::new(10, 0, 0, last),
            ..PeerInfo::peer(kind, IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), asn, 65000)
        }
    }

    fn path(peer: u32, f: impl FnOnce(&mut PathAttrs)) -> Path {
        let mut a = PathAttrs::default();
        a.attrs.origin = Some(Origin::Igp);
        a.attrs.as_path = Some(AsPath::from_sequence([65000 + peer]));
        f(&mut a);
        let a = Arc::new(a);
        Path {
            peer: PeerIdx(peer),
            path_id: 0,
            received: a.clone(),
            accepted: Some(a),
            since: 0,
        }
    }

    fn peers() -> Peers {
        Peers(vec![
            PeerInfo::local(65000, Ipv4Addr::new(10, 0, 0, 100)),
            peer(SourceKind::External, 1, 65001),
            peer(SourceKind::External, 2, 65002),
            peer(SourceKind::Internal, 3, 65000),
        ])
    }

    fn best(mut paths: Vec<Path>, opts: SelectionOptions) -> u32 {
        assert!(select(&mut paths, &peers(), &opts));
        paths[0].peer.0
    }

    #[test]
    fn steps_in_order() {
        let o = SelectionOptions::default();
        // local-pref beats everything below it
        assert_eq!(
            best(
                vec![path(1, |_| {}), path(3, |a| a.attrs.local_pref = Some(200))],
                o
            ),
            3
        );
        // shorter AS path
        assert_eq!(
            best(
                vec![
                    path(1, |a| a.attrs.as_path = Some(AsPath::from_sequence([1, 2]))),
                    path(2, |_| {})
                ],
                o
            ),
            2
        );
        // lower origin
        assert_eq!(
            best(
                vec![
                    path(1, |a| a.attrs.origin = Some(Origin::Incomplete)),
                    path(2, |_| {})
                ],
                o
            ),
            2
        );
        // eBGP over iBGP
        assert_eq!(
            best(
                vec![
                    path(3, |a| a.attrs.as_path =
                        Some(AsPath::from_sequence([65009]))),
                    path(2, |_| {})
                ],
                o
            ),
            2
        );
        // lower router id last
        assert_eq!(best(vec![path(2, |_| {}), path(1, |_| {})], o), 1);
        // rejected paths never win
        let mut rejected = path(1, |a| a.attrs.local_pref = Some(500));
        rejected.accepted = None;
        assert_eq!(best(vec![rejected, path(2, |_| {})], o), 2);
    }

    #[test]
    fn med_only_within_a_neighbor_as_unless_always() {
        let same_as = |p: &mut PathAttrs, med| {
            p.attrs.as_path = Some(AsPath::from_sequence([65100]));
            p.attrs.med = Some(med);
        };
        let o = SelectionOptions::default();
        // Same neighbor AS: lower MED wins over lower router id.
        assert_eq!(
            best(
                vec![path(1, |a| same_as(a, 50)), path(2, |a| same_as(a, 10))],
                o
            ),
            2
        );
        // Different neighbor ASes: MED ignored, router id decides.
        let a = path(1, |a| a.attrs.med = Some(50));
        let b = path(2, |a| a.attrs.med = Some(10));
        assert_eq!(best(vec![a.clone(), b.clone()], o), 1);
        assert_eq!(
            best(
                vec![a, b],
                SelectionOptions {
                    always_compare_med: true,
                    ..o
                }
            ),
            2
        );
    }
}
