//! Compiled match conditions and their evaluation.

use std::net::IpAddr;
use std::sync::Arc;

use ocbgp_models::gen::types::InstallProtocolType;

use super::eval::{run_policy, Ctx};
use super::sets::aspath::{render, AsPathSet};
use super::sets::community::{CommunitySet, ExtCommunitySet};
use super::sets::large::LargeCommunitySet;
use super::sets::prefix::PrefixSet;
use super::sets::{NeighborSet, TagSet};
use super::{DefaultPolicy, Outcome, PolicyRef};
use crate::rib::{PathAttrs, SourceKind};
use crate::wire::{NextHop, Origin};

/// How a route's values are compared with a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetMatch {
    /// Some value matches some member.
    Any,
    /// Every member is matched by some value.
    All,
    /// No value matches any member.
    Invert,
}

/// `ATTRIBUTE_EQ`, `ATTRIBUTE_GE`, `ATTRIBUTE_LE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ge,
    Le,
}

impl Cmp {
    fn test(self, have: usize, want: u32) -> bool {
        let want = want as usize;
        match self {
            Cmp::Eq => have == want,
            Cmp::Ge => have >= want,
            Cmp::Le => have <= want,
        }
    }
}

/// One condition of a statement.
#[derive(Debug)]
pub(crate) enum Condition {
    /// call-policy.
    Call(PolicyRef),
    /// install-protocol-eq.
    InstallProtocol(InstallProtocolType),
    /// match-prefix-set (`true`: INVERT).
    Prefix(Arc<PrefixSet>, bool),
    /// match-neighbor-set (`true`: INVERT).
    Neighbor(Arc<NeighborSet>, bool),
    /// match-tag-set (`true`: INVERT).
    Tag(Arc<TagSet>, bool),
    /// med-eq.
    MedEq(u32),
    /// origin-eq.
    OriginEq(Origin),
    /// next-hop-in.
    NextHopIn(Vec<IpAddr>),
    /// afi-safi-in, as (IPv4 unicast, IPv6 unicast) listed.
    Family(bool, bool),
    /// local-pref-eq.
    LocalPrefEq(u32),
    /// route-type.
    RouteType(SourceKind),
    /// community-count.
    CommunityCount(Cmp, u32),
    /// ext-community-count.
    ExtCommunityCount(Cmp, u32),
    /// as-path-length.
    AsPathLength(Cmp, u32),
    /// match-community-set (and the deprecated community-set leaf).
    Community(Arc<CommunitySet>, SetMatch),
    /// match-ext-community-set (and the deprecated ext-community-set leaf).
    ExtCommunity(Arc<ExtCommunitySet>, SetMatch),
    /// match-as-path-set.
    AsPath(Arc<AsPathSet>, SetMatch),
    /// ocbgp:match-large-community-set.
    LargeCommunity(Arc<LargeCommunitySet>, SetMatch),
    /// ocbgp:rpki-validation-result.
    Rpki(crate::rpki::Validation),
}

/// Cache key of a set match: the set's unique id and whether ALL.
fn key(id: u64, all: bool) -> u64 {
    id << 1 | u64::from(all)
}

impl Condition {
    /// Evaluation order: call-policy first (it may change the route), then
    /// by cost.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Condition::Call(_) => 0,
            Condition::InstallProtocol(_)
            | Condition::MedEq(_)
            | Condition::OriginEq(_)
            | Condition::Family(..)
            | Condition::LocalPrefEq(_)
            | Condition::RouteType(_)
            | Condition::CommunityCount(..)
            | Condition::ExtCommunityCount(..)
            | Condition::AsPathLength(..) => 1,
            Condition::Rpki(_) => 3,
            Condition::NextHopIn(_) | Condition::Neighbor(..) | Condition::Tag(..) => 2,
            Condition::Prefix(..) => 3,
            Condition::Community(..)
            | Condition::ExtCommunity(..)
            | Condition::LargeCommunity(..) => 4,
            Condition::AsPath(..) => 5,
        }
    }

    /// Whether the condition holds for the route in `ctx`.
    pub(crate) fn holds<'p>(&'p self, ctx: &mut Ctx<'p>) -> bool {
        match self {
            Condition::Call(policy) => match run_policy(policy, ctx) {
                Some(Outcome::Accept) => true,
                Some(_) => false,
                None => ctx.default == DefaultPolicy::Accept,
            },
            Condition::InstallProtocol(p) => match ctx.route.source.kind {
                SourceKind::Local => *p == InstallProtocolType::Static,
                _ => *p == InstallProtocolType::Bgp,
            },
            Condition::Prefix(set, invert) => set.contains(&ctx.route.prefix) != *invert,
            Condition::Neighbor(set, invert) => {
                set.contains(ctx.route.neighbor_address()) != *invert
            }
            Condition::Tag(set, invert) => ctx.tags.iter().any(|t| set.contains(t)) != *invert,
            Condition::MedEq(v) => ctx.current().attrs.med == Some(*v),
            Condition::OriginEq(o) => ctx.current().attrs.origin == Some(*o),
            Condition::LocalPrefEq(v) => ctx.current().attrs.local_pref == Some(*v),
            Condition::NextHopIn(list) => match ctx.current().next_hop {
                Some(NextHop::V4(a)) => list.contains(&IpAddr::V4(a)),
                Some(NextHop::V6 { global, .. }) => list.contains(&IpAddr::V6(global)),
                None => false,
            },
            Condition::Family(v4, v6) => match ctx.route.prefix {
                ipnet::IpNet::V4(_) => *v4,
                ipnet::IpNet::V6(_) => *v6,
            },
            Condition::RouteType(kind) => ctx.route.source.kind == *kind,
            Condition::Rpki(v) => ctx.route.validation() == *v,
            Condition::CommunityCount(cmp, v) => {
                cmp.test(ctx.current().attrs.communities.len(), *v)
            }
            Condition::ExtCommunityCount(cmp, v) => {
                cmp.test(ctx.current().attrs.extended_communities.len(), *v)
            }
            Condition::AsPathLength(cmp, v) => cmp.test(
                ctx.current()
                    .attrs
                    .as_path
                    .as_ref()
                    .map_or(0, |p| p.length()),
                *v,
            ),
            Condition::Community(set, how) => {
                let all = *how == SetMatch::All;
                let hit = ctx.cached(key(set.id, all), |a: &PathAttrs, scratch| {
                    if all {
                        set.all(&a.attrs.communities, scratch)
                    } else {
                        set.any(&a.attrs.communities, scratch)
                    }
                });
                hit != (*how == SetMatch::Invert)
            }
            Condition::ExtCommunity(set, how) => {
                let all = *how == SetMatch::All;
                let hit = ctx.cached(key(set.id, all), |a: &PathAttrs, scratch| {
                    if all {
                        set.all(&a.attrs.extended_communities, scratch)
                    } else {
                        set.any(&a.attrs.extended_communities, scratch)
                    }
                });
                hit != (*how == SetMatch::Invert)
            }
            Condition::LargeCommunity(set, how) => {
                let all = *how == SetMatch::All;
                let hit = ctx.cached(key(set.id, all), |a: &PathAttrs, scratch| {
                    if all {
                        set.all(&a.attrs.large_communities, scratch)
                    } else {
                        set.any(&a.attrs.large_communities, scratch)
                    }
                });
                hit != (*how == SetMatch::Invert)
            }
            Condition::AsPath(set, how) => {
                let all = *how == SetMatch::All;
                let hit = ctx.cached(key(set.id, all), |a: &PathAttrs, scratch| {
                    match &a.attrs.as_path {
                        Some(p) => render(p, scratch),
                        None => scratch.clear(),
                    }
                    if all {
                        set.all(scratch)
                    } else {
                        set.any(scratch)
                    }
                });
                hit != (*how == SetMatch::Invert)
            }
        }
    }

    /// Whether the condition looks at the neighbor (so an export chain
    /// holding it must be evaluated per target peer).
    pub(crate) fn uses_neighbor(&self) -> bool {
        match self {
            Condition::Neighbor(..) => true,
            Condition::Call(p) => p.uses_neighbor,
            _ => false,
        }
    }
}
