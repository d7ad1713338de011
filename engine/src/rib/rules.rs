//! Per-peer route rules outside routing policy: the loop checks that make
//! a received path ineligible (RFC 4271 9.1.2, RFC 4456 8), the limits on
//! how many prefixes a peer may send (RFC 4486), and what export does to
//! the AS_PATH and communities of routes sent to a peer.

use std::net::Ipv4Addr;

use crate::wire::{AsPath, Attributes};

/// The loop checks of one peer's received paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inbound {
    /// Our AS as this peer sees it (`local-as`, else the global AS).
    pub local_asn: u32,
    /// How many times our AS may appear in a received AS_PATH
    /// (`as-path-options/allow-own-as`).
    pub allow_own_as: u8,
    /// The `local-as` put in front of received AS_PATHs (unless
    /// `ocbgp:local-as-no-prepend`).
    pub prepend: Option<u32>,
    /// The AS received paths must begin with (an external peer's, with
    /// `ocbgp:enforce-first-as`).
    pub first_as: Option<u32>,
}

impl Inbound {
    /// No own-AS occurrence allowed.
    pub fn new(local_asn: u32) -> Inbound {
        Inbound {
            local_asn,
            allow_own_as: 0,
            prepend: None,
            first_as: None,
        }
    }
}

/// Why a received path is not eligible for best-path selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligible {
    /// Our AS is in the AS_PATH more often than allowed.
    OwnAs,
    /// The ORIGINATOR_ID is our router id: a route we reflected came back.
    OriginatorId,
    /// The CLUSTER_LIST holds one of our cluster ids.
    ClusterList,
    /// From an external peer, the AS_PATH does not begin with its AS
    /// (enforce-first-as; RFC 7606 7.2 calls for treat-as-withdraw, and a
    /// path that is kept but never used is that, re-checked when the
    /// setting changes).
    FirstAs,
}

/// Why a path from a peer with `rules` may not be used, if it may not.
/// `global_asn` and `router_id` are the speaker's; `clusters` every
/// cluster id it uses.
pub fn ineligible(
    attrs: &Attributes,
    rules: &Inbound,
    global_asn: u32,
    router_id: Ipv4Addr,
    clusters: &[Ipv4Addr],
) -> Option<Ineligible> {
    let path = attrs.as_path.as_ref();
    if let Some(path) = path {
        let own = path
            .segments
            .iter()
            .flat_map(|s| s.asns.iter())
            .filter(|&&a| a == global_asn || a == rules.local_asn)
            .count();
        if own > usize::from(rules.allow_own_as) {
            return Some(Ineligible::OwnAs);
        }
    }
    if rules.first_as.is_some() && path.and_then(AsPath::first_as) != rules.first_as {
        return Some(Ineligible::FirstAs);
    }
    if attrs.originator_id == Some(router_id) {
        return Some(Ineligible::OriginatorId);
    }
    if attrs.cluster_list.iter().any(|c| clusters.contains(c)) {
        return Some(Ineligible::ClusterList);
    }
    None
}

/// Which community attributes go to a peer (`send-community-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommunityKinds {
    /// COMMUNITIES (RFC 1997).
    pub standard: bool,
    /// EXTENDED_COMMUNITIES (RFC 4360).
    pub extended: bool,
    /// LARGE_COMMUNITY (RFC 8092).
    pub large: bool,
}

impl CommunityKinds {
    /// Every kind.
    pub const ALL: CommunityKinds = CommunityKinds {
        standard: true,
        extended: true,
        large: true,
    };
}

/// How private AS numbers leave (`remove-private-as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivateAs {
    /// Every private AS is taken out of the path.
    RemoveAll,
    /// Every private AS is replaced by ours.
    ReplaceAll,
}

/// What export does to routes for one peer beyond RFC 4271's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Outbound {
    /// Community kinds sent, for IPv4 and IPv6 unicast.
    pub communities: [CommunityKinds; 2],
    /// Private AS handling toward an external peer.
    pub private_as: Option<PrivateAs>,
    /// AS override: this AS (the peer's) is replaced by ours in paths sent
    /// to an external peer (`replace-peer-as`).
    pub replace_as: Option<u32>,
    /// Our global AS, put behind the `local-as` in paths sent to the peer
    /// (unless `ocbgp:local-as-replace-as`).
    pub global_behind: Option<u32>,
    /// Most paths per prefix sent with add-path, IPv4 and IPv6 unicast
    /// (`add-paths/config/send-max`; 1: the best only).
    pub send_max: [u8; 2],
}

impl Default for Outbound {
    /// Everything sent as it is.
    fn default() -> Outbound {
        Outbound {
            communities: [CommunityKinds::ALL; 2],
            private_as: None,
            replace_as: None,
            global_behind: None,
            send_max: [1; 2],
        }
    }
}

/// Whether `asn` is for private use (RFC 6996).
pub fn is_private(asn: u32) -> bool {
    (64512..=65534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

impl Outbound {
    /// Applies the AS_PATH rules to a path before our AS goes in front
    /// (`local_asn`: our AS toward the peer).
    pub fn rewrite_path(&self, path: &mut AsPath, local_asn: u32) {
        if self.private_as.is_none() && self.replace_as.is_none() {
            return;
        }
        for seg in &mut path.segments {
            for asn in &mut seg.asns {
                if Some(*asn) == self.replace_as
                    || (self.private_as == Some(PrivateAs::ReplaceAll) && is_private(*asn))
                {
                    *asn = local_asn;
                }
            }
            if self.private_as == Some(PrivateAs::RemoveAll) {
                seg.asns.retain(|&a| !is_private(a));
            }
        }
        path.segments.retain(|s| !s.asns.is_empty());
    }

    /// Drops the community attributes the peer is not sent.
    pub fn filter_communities(&self, v6: bool, attrs: &mut Attributes) {
        let kinds = self.communities[usize::from(v6)];
        if !kinds.standard {
            attrs.communities.clear();
        }
        if !kinds.extended {
            attrs.extended_communities.clear();
        }
        if !kinds.large {
            attrs.large_communities.clear();
        }
    }
}

/// A prefix limit of one peer and family (`prefix-limit` counts accepted
/// routes, `prefix-limit-received` received ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Most prefixes allowed.
    pub max: u32,
    /// Percentage of `max` at which a warning is logged.
    pub warning_pct: Option<u8>,
    /// Only log and flag when exceeded; keep the session.
    pub prevent_teardown: bool,
}

/// A peer's prefix limits for one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FamilyLimits {
    /// On accepted (post-policy) routes.
    pub accepted: Option<Limit>,
    /// On received (pre-policy) routes.
    pub received: Option<Limit>,
}

/// What a prefix count did to a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    /// The count reached the warning threshold.
    Warning,
    /// The count went over the limit.
    Exceeded,
}

/// Where a peer stands against one limit: what was already reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitState {
    /// The warning was logged.
    pub warned: bool,
    /// The limit was exceeded (OpenConfig `prefix-limit-exceeded`).
    pub exceeded: bool,
    /// When it was last exceeded, in nanoseconds since the Unix epoch
    /// (OpenConfig `last-prefix-limit-exceeded`); kept across sessions.
    pub last_exceeded: Option<u64>,
}

impl LimitState {
    /// A new session: the limit is judged afresh (the last time it was
    /// exceeded is kept).
    pub fn restart(&mut self) {
        *self = LimitState {
            last_exceeded: self.last_exceeded,
            ..LimitState::default()
        };
    }

    /// What `count` newly breaches of `limit`.
    pub fn check(&mut self, limit: &Limit, count: u64) -> Option<Breach> {
        if count > u64::from(limit.max) {
            if !self.exceeded {
                self.exceeded = true;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                self.last_exceeded = Some(now.as_nanos().min(u128::from(u64::MAX)) as u64);
                return Some(Breach::Exceeded);
            }
            return None;
        }
        let threshold = limit
            .warning_pct
            .map(|p| u64::from(limit.max) * u64::from(p.min(100)) / 100);
        if threshold.is_some_and(|t| count >= t) && !self.warned {
            self.warned = true;
            return Some(Breach::Warning);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Segment, SegmentType};

    fn path(asns: &[u32]) -> AsPath {
        AsPath::from_sequence(asns.iter().copied())
    }

    fn attrs(asns: &[u32]) -> Attributes {
        Attributes {
            as_path: Some(path(asns)),
            ..Attributes::default()
        }
    }

    const ME: u32 = 64512;
    const RID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[test]
    fn own_as_makes_a_loop_unless_allowed() {
        let rules = Inbound::new(ME);
        assert_eq!(
            ineligible(&attrs(&[65001, 100]), &rules, ME, RID, &[RID]),
            None
        );
        assert_eq!(
            ineligible(&attrs(&[65001, ME, 100]), &rules, ME, RID, &[RID]),
            Some(Ineligible::OwnAs)
        );
        let once = Inbound {
            allow_own_as: 1,
            ..rules
        };
        assert_eq!(
            ineligible(&attrs(&[65001, ME, 100]), &once, ME, RID, &[RID]),
            None
        );
        assert_eq!(
            ineligible(&attrs(&[65001, ME, ME]), &once, ME, RID, &[RID]),
            Some(Ineligible::OwnAs)
        );
        // local-as counts as ours too.
        let local = Inbound::new(65010);
        assert_eq!(
            ineligible(&attrs(&[65001, 65010]), &local, ME, RID, &[RID]),
            Some(Ineligible::OwnAs)
        );
    }

    #[test]
    fn first_as_when_enforced() {
        let rules = Inbound {
            first_as: Some(65001),
            ..Inbound::new(ME)
        };
        assert_eq!(
            ineligible(&attrs(&[65001, 100]), &rules, ME, RID, &[RID]),
            None
        );
        assert_eq!(
            ineligible(&attrs(&[65020]), &rules, ME, RID, &[RID]),
            Some(Ineligible::FirstAs)
        );
        assert_eq!(
            ineligible(&attrs(&[]), &rules, ME, RID, &[RID]),
            Some(Ineligible::FirstAs)
        );
        assert_eq!(
            ineligible(&attrs(&[65020]), &Inbound::new(ME), ME, RID, &[RID]),
            None
        );
    }

    #[test]
    fn reflection_loops() {
        let rules = Inbound::new(ME);
        let cluster = Ipv4Addr::new(192, 0, 2, 100);
        let mut a = attrs(&[]);
        a.originator_id = Some(RID);
        assert_eq!(
            ineligible(&a, &rules, ME, RID, &[cluster]),
            Some(Ineligible::OriginatorId)
        );
        a.originator_id = Some(Ipv4Addr::new(10, 0, 0, 2));
        a.cluster_list = vec![Ipv4Addr::new(1, 1, 1, 1), cluster];
        assert_eq!(
            ineligible(&a, &rules, ME, RID, &[cluster]),
            Some(Ineligible::ClusterList)
        );
        a.cluster_list.pop();
        assert_eq!(ineligible(&a, &rules, ME, RID, &[cluster]), None);
    }

    #[test]
    fn private_as_and_as_override() {
        let mut p = path(&[65001, 64600, 100, 4_200_000_001]);
        Outbound {
            private_as: Some(PrivateAs::RemoveAll),
            ..Outbound::default()
        }
        .rewrite_path(&mut p, ME);
        assert_eq!(p, path(&[100]));
        let mut p = path(&[65001, 100]);
        Outbound {
            private_as: Some(PrivateAs::ReplaceAll),
            ..Outbound::default()
        }
        .rewrite_path(&mut p, 7);
        assert_eq!(p, path(&[7, 100]));
        let mut p = path(&[300, 200, 300]);
        Outbound {
            replace_as: Some(300),
            ..Outbound::default()
        }
        .rewrite_path(&mut p, ME);
        assert_eq!(p, path(&[ME, 200, ME]));
        // A segment left empty goes.
        let mut p = AsPath {
            segments: vec![
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![64600],
                },
                Segment {
                    kind: SegmentType::Sequence,
                    asns: vec![100],
                },
            ],
        };
        Outbound {
            private_as: Some(PrivateAs::RemoveAll),
            ..Outbound::default()
        }
        .rewrite_path(&mut p, ME);
        assert_eq!(p, path(&[100]));
    }

    #[test]
    fn limits_report_each_breach_once() {
        let limit = Limit {
            max: 10,
            warning_pct: Some(80),
            prevent_teardown: false,
        };
        let mut s = LimitState::default();
        assert_eq!(s.check(&limit, 7), None);
        assert_eq!(s.check(&limit, 8), Some(Breach::Warning));
        assert_eq!(s.check(&limit, 9), None);
        assert_eq!(s.check(&limit, 10), None);
        assert_eq!(s.check(&limit, 11), Some(Breach::Exceeded));
        assert_eq!(s.check(&limit, 12), None);
        assert!(s.exceeded);
    }
}
