//! Compiled actions and their application. Each action first checks
//! whether it would change anything, so that a statement that leaves the
//! route as it is does not copy the attributes.

use std::net::IpAddr;
use std::sync::Arc;

use super::eval::Ctx;
use super::sets::community::{CommunitySet, ExtCommunitySet};
use super::sets::large::LargeCommunitySet;
use super::sets::Tag;
use crate::wire::{AsPath, NextHop, Origin, Segment, SegmentType};

/// set-next-hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextHopAction {
    /// An address.
    Addr(NextHop),
    /// SELF: the next hop is cleared, the marker for our own address.
    SelfMarker,
    /// PEER_ADDRESS: the neighbor's address.
    Peer,
}

/// set-med with set-med-action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MedOp {
    Set(u32),
    Add(u32),
    Subtract(u32),
}

/// What set-as-path-prepend prepends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrependAs {
    Asn(u32),
    Local,
    /// use-last-as: the path's first (most recently added) AS.
    Last,
}

/// ADD, REMOVE or REPLACE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Add,
    Remove,
    Replace,
}

/// One action of a statement.
#[derive(Debug)]
pub(crate) enum Action {
    Origin(Origin),
    LocalPref(u32),
    Med(MedOp),
    NextHop(NextHopAction),
    Prepend {
        asn: PrependAs,
        times: u8,
    },
    /// set-community: the operation and the sets (inline communities are
    /// compiled into an anonymous set).
    Community(SetOp, Vec<Arc<CommunitySet>>),
    /// set-ext-community.
    ExtCommunity(SetOp, Vec<Arc<ExtCommunitySet>>),
    /// ocbgp:set-large-community.
    LargeCommunity(SetOp, Vec<Arc<LargeCommunitySet>>),
    /// set-tag (replaces the evaluation's tags).
    Tags(Vec<Tag>),
}

/// The next hop that stands for `addr`.
fn next_hop_of(addr: IpAddr) -> Option<NextHop> {
    match addr {
        IpAddr::V4(a) if !a.is_unspecified() => Some(NextHop::V4(a)),
        IpAddr::V6(a) if !a.is_unspecified() => Some(NextHop::V6 {
            global: a,
            link_local: None,
        }),
        _ => None,
    }
}

/// Puts `asn` in front of `path` `times` times, filling the leading
/// AS_SEQUENCE up to its 255-AS limit and adding segments beyond.
pub(crate) fn prepend(path: &mut AsPath, asn: u32, times: usize) {
    let mut left = times;
    if let Some(seg) = path.segments.first_mut() {
        if seg.kind == SegmentType::Sequence && seg.asns.len() < 255 {
            let n = left.min(255 - seg.asns.len());
            seg.asns.splice(0..0, std::iter::repeat_n(asn, n));
            left -= n;
        }
    }
    while left > 0 {
        let n = left.min(255);
        path.segments.insert(
            0,
            Segment {
                kind: SegmentType::Sequence,
                asns: vec![asn; n],
            },
        );
        left -= n;
    }
}

impl Action {
    /// Applies the action to the route in `ctx`.
    pub(crate) fn apply(&self, ctx: &mut Ctx<'_>) {
        match self {
            Action::Origin(o) => {
                if ctx.attrs().attrs.origin != Some(*o) {
                    ctx.make_mut().attrs.origin = Some(*o);
                }
            }
            Action::LocalPref(v) => {
                if ctx.attrs().attrs.local_pref != Some(*v) {
                    ctx.make_mut().attrs.local_pref = Some(*v);
                }
            }
            Action::Med(op) => {
                let cur = ctx.attrs().attrs.med;
                let base = cur.unwrap_or(0);
                let new = match *op {
                    MedOp::Set(v) => v,
                    MedOp::Add(v) => base.saturating_add(v),
                    MedOp::Subtract(v) => base.saturating_sub(v),
                };
                if cur != Some(new) {
                    ctx.make_mut().attrs.med = Some(new);
                }
            }
            Action::NextHop(nh) => {
                let new = match nh {
                    NextHopAction::Addr(a) => Some(*a),
                    NextHopAction::SelfMarker => None,
                    NextHopAction::Peer => next_hop_of(ctx.route.neighbor_address()),
                };
                if ctx.attrs().next_hop != new {
                    ctx.make_mut().next_hop = new;
                }
            }
            Action::Prepend { asn, times } => {
                let asn = match asn {
                    PrependAs::Asn(a) => *a,
                    PrependAs::Local => ctx.route.local_asn,
                    PrependAs::Last => match ctx
                        .attrs()
                        .attrs
                        .as_path
                        .as_ref()
                        .and_then(AsPath::first_as)
                    {
                        Some(a) => a,
                        None => return,
                    },
                };
                let path = ctx
                    .make_mut()
                    .attrs
                    .as_path
                    .get_or_insert_with(AsPath::default);
                prepend(path, asn, usize::from(*times));
            }
            Action::Community(op, sets) => communities(ctx, *op, sets),
            Action::ExtCommunity(op, sets) => ext_communities(ctx, *op, sets),
            Action::LargeCommunity(op, sets) => large_communities(ctx, *op, sets),
            Action::Tags(tags) => {
                ctx.tags.clear();
                ctx.tags.extend(tags.iter().cloned());
            }
        }
    }
}

fn communities(ctx: &mut Ctx<'_>, op: SetOp, sets: &[Arc<CommunitySet>]) {
    match op {
        SetOp::Add => {
            let a = &ctx.attrs().attrs;
            if sets
                .iter()
                .all(|s| s.std.iter().all(|c| a.communities.contains(c)))
            {
                return;
            }
            let a = &mut ctx.make_mut().attrs;
            for s in sets {
                for c in &s.std {
                    if !a.communities.contains(c) {
                        a.communities.push(*c);
                    }
                }
            }
        }
        SetOp::Remove => {
            for s in sets {
                let invert = s.invert_removal;
                let (owned, scratch) = ctx.parts();
                let a = &owned.attrs;
                if !a
                    .communities
                    .iter()
                    .any(|&c| s.matches_std(c, scratch) != invert)
                {
                    continue;
                }
                let (owned, scratch) = ctx.parts_mut();
                owned
                    .attrs
                    .communities
                    .retain(|&c| s.matches_std(c, scratch) == invert);
            }
        }
        SetOp::Replace => {
            let mut std = Vec::new();
            for s in sets {
                for c in &s.std {
                    if !std.contains(c) {
                        std.push(*c);
                    }
                }
            }
            if ctx.attrs().attrs.communities != std {
                ctx.make_mut().attrs.communities = std;
            }
        }
    }
}

fn ext_communities(ctx: &mut Ctx<'_>, op: SetOp, sets: &[Arc<ExtCommunitySet>]) {
    match op {
        SetOp::Add => {
            let cur = &ctx.attrs().attrs.extended_communities;
            if sets
                .iter()
                .all(|s| s.literal.iter().all(|c| cur.contains(c)))
            {
                return;
            }
            let cur = &mut ctx.make_mut().attrs.extended_communities;
            for s in sets {
                for c in &s.literal {
                    if !cur.contains(c) {
                        cur.push(*c);
                    }
                }
            }
        }
        SetOp::Remove => {
            for s in sets {
                let invert = s.invert_removal;
                let (owned, scratch) = ctx.parts();
                if !owned
                    .attrs
                    .extended_communities
                    .iter()
                    .any(|&c| s.matches(c, scratch) != invert)
                {
                    continue;
                }
                let (owned, scratch) = ctx.parts_mut();
                owned
                    .attrs
                    .extended_communities
                    .retain(|&c| s.matches(c, scratch) == invert);
            }
        }
        SetOp::Replace => {
            let mut new = Vec::new();
            for s in sets {
                for c in &s.literal {
                    if !new.contains(c) {
                        new.push(*c);
                    }
                }
            }
            if ctx.attrs().attrs.extended_communities != new {
                ctx.make_mut().attrs.extended_communities = new;
            }
        }
    }
}

fn large_communities(ctx: &mut Ctx<'_>, op: SetOp, sets: &[Arc<LargeCommunitySet>]) {
    match op {
        SetOp::Add => {
            let cur = &ctx.attrs().attrs.large_communities;
            if sets
                .iter()
                .all(|s| s.literal.iter().all(|l| cur.contains(l)))
            {
                return;
            }
            let cur = &mut ctx.make_mut().attrs.large_communities;
            for s in sets {
                for l in &s.literal {
                    if !cur.contains(l) {
                        cur.push(*l);
                    }
                }
            }
        }
        SetOp::Remove => {
            for s in sets {
                let (owned, scratch) = ctx.parts();
                if !owned
                    .attrs
                    .large_communities
                    .iter()
                    .any(|l| s.matches(l, scratch))
                {
                    continue;
                }
                let (owned, scratch) = ctx.parts_mut();
                owned
                    .attrs
                    .large_communities
                    .retain(|l| !s.matches(l, scratch));
            }
        }
        SetOp::Replace => {
            let mut new = Vec::new();
            for s in sets {
                for l in &s.literal {
                    if !new.contains(l) {
                        new.push(*l);
                    }
                }
            }
            if ctx.attrs().attrs.large_communities != new {
                ctx.make_mut().attrs.large_communities = new;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_fills_and_splits() {
        let mut p = AsPath::from_sequence([1, 2]);
        prepend(&mut p, 9, 3);
        assert_eq!(p, AsPath::from_sequence([9, 9, 9, 1, 2]));
        let mut p = AsPath {
            segments: vec![Segment {
                kind: SegmentType::Set,
                asns: vec![1, 2],
            }],
        };
        prepend(&mut p, 9, 2);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].asns, vec![9, 9]);
        let mut p = AsPath::from_sequence(vec![1; 250]);
        prepend(&mut p, 9, 10);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].asns.len(), 5);
        assert_eq!(p.segments[1].asns.len(), 255);
        assert_eq!(p.length(), 260);
        let mut p = AsPath::default();
        prepend(&mut p, 7, 1);
        assert_eq!(p, AsPath::from_sequence([7]));
    }
}
