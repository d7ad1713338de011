//! Export: update groups. Peers that would be sent the same UPDATEs share
//! a group; the group computes each outgoing attribute set once, encodes
//! each UPDATE once and hands the same bytes to every member.
//!
//! No Adj-RIB-Out is stored: what a group had advertised for a prefix is
//! what export makes of the best path it had before (kept by the table
//! until the flush). The one per-member difference is split horizon: a
//! route is not sent back to the peer it came from.
//!
//! Route-server clients (RFC 7947) are the exception: each has a group of
//! its own (`GroupKey::rs_member`) that keeps what it sent per prefix, so
//! that it can send the next best path when the best one is not for the
//! client (path hiding, RFC 7947 2.3.2.1), and routes to it go
//! transparently (no AS prepended, NEXT_HOP and MED kept).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use smallvec::SmallVec;

use super::attrs::{Attrs, Interner, PathAttrs};
use super::bestpath::DEFAULT_LOCAL_PREF;
use super::key::RouteKey;
use super::path::{Path, PeerIdx, PeerInfo, SourceKind};
use super::policy::{PolicyRoute, SharedPolicy};
use super::rules::Outbound;
use super::table::{Change, Dest, Table};
use super::Peers;
use crate::wire::{
    AsPath, CodecConfig, Community, EncodedAttributes, Family, NextHop, Nlri, Segment, SegmentType,
    UpdatePacker,
};

/// Where a member's outgoing messages go: the session's writer.
pub type Outbox = tokio::sync::mpsc::UnboundedSender<Bytes>;

/// A table dump being gathered: each route with the number of its
/// exported attribute set (and source), one entry per route, so that a
/// set's prefixes go out together, packed into as few UPDATEs as
/// possible, without a list per set.
struct Gathered<K> {
    numbers: HashMap<(usize, PeerIdx), u32>,
    sets: Vec<(Attrs, PeerIdx)>,
    routes: Vec<GatheredRoute<K>>,
}

/// (set number, prefix, our path id).
type GatheredRoute<K> = (u32, K, u32);

impl<K: RouteKey> Gathered<K> {
    fn with_capacity(routes: usize) -> Self {
        Gathered {
            numbers: HashMap::new(),
            sets: Vec::new(),
            routes: Vec::with_capacity(routes),
        }
    }

    fn add(&mut self, attrs: &Attrs, src: PeerIdx, key: K, id: u32) {
        let sets = &mut self.sets;
        let n = *self
            .numbers
            .entry((Arc::as_ptr(attrs) as usize, src))
            .or_insert_with(|| {
                sets.push((attrs.clone(), src));
                (sets.len() - 1) as u32
            });
        self.routes.push((n, key, id));
    }

    /// The sets, and the routes sorted by set (in prefix order within a
    /// set): runs of one set each.
    fn into_runs(self) -> (Vec<(Attrs, PeerIdx)>, Vec<GatheredRoute<K>>) {
        let Gathered {
            sets, mut routes, ..
        } = self;
        routes.sort_unstable();
        (sets, routes)
    }
}

/// What makes two peers' UPDATE streams identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    /// Internal or external members.
    pub kind: SourceKind,
    /// Members are route-reflector clients.
    pub rr_client: bool,
    /// Our AS as these members see it.
    pub local_asn: u32,
    /// Our IPv4 address on the members' sessions (next hop self).
    pub local_v4: Option<Ipv4Addr>,
    /// Our IPv6 address on the members' sessions (next hop self).
    pub local_v6: Option<Ipv6Addr>,
    /// The encoding settings the members negotiated.
    pub codec: CodecConfig,
    /// The families the members negotiated.
    pub families: Vec<Family>,
    /// IPv4 routes may carry an IPv6 next hop (RFC 8950 negotiated).
    pub ipv4_over_ipv6: bool,
    /// Export policy, applied after the attribute rules above.
    pub policy: Option<SharedPolicy>,
    /// Add-path eligible-prefix policies (IPv4, IPv6 unicast): only the
    /// prefixes they accept get more than the best path.
    pub add_path_eligible: [Option<SharedPolicy>; 2],
    /// The one member, when the policy depends on the target peer.
    pub target: Option<PeerInfo>,
    /// The one member, when it is a route-server client of ours.
    pub rs_member: Option<PeerIdx>,
    /// The members' cluster id for reflection; `None`: the speaker's.
    pub cluster_id: Option<Ipv4Addr>,
    /// Routes from one route-reflector client go to the other clients.
    pub client_to_client: bool,
    /// AS_PATH and community rules of the members.
    pub outbound: Outbound,
    /// The members negotiated long-lived graceful restart: they take
    /// routes marked LLGR_STALE (RFC 9494 4.3); others do not.
    pub llgr: bool,
}

/// A member of a group.
#[derive(Debug, Clone)]
pub struct Member {
    /// The peer.
    pub peer: PeerIdx,
    /// Its writer.
    pub out: Outbox,
}

/// Settings of this speaker that export needs.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Cluster id of reflection for neighbors without one of their own: our
    /// router id (RFC 4456 7).
    pub cluster_id: Ipv4Addr,
    /// Our AS (policies prepend it by default).
    pub local_asn: u32,
    /// The VRPs in force, for export policies on origin validation.
    pub vrps: Arc<crate::rpki::Vrps>,
}

/// One update group.
#[derive(Debug)]
pub struct UpdateGroup {
    key: GroupKey,
    members: Vec<Member>,
    packer: UpdatePacker,
    /// Export results by (source attribute set, source kind, family), for
    /// the length of one flush: a full table has ~7 routes per set.
    cache: HashMap<ExportKey, (Attrs, Option<Attrs>)>,
    /// Routes advertised, per family, and how many of those each member
    /// was the source of (and so was not sent).
    advertised: HashMap<Family, i64>,
    sourced: HashMap<(Family, PeerIdx), i64>,
    /// Groups whose members do not simply get the best path (see
    /// [`UpdateGroup::tracks`]): what they were sent, by prefix.
    sent: HashMap<(Family, IpNet), Sent>,
    /// A copy of what members are sent, while a BMP station follows the
    /// Adj-RIBs-Out (RFC 8671); the RIB takes it after each flush.
    tap: Option<RefCell<Vec<(PeerIdx, Bytes)>>>,
}

/// The paths of one prefix a tracking group sends: (our path id, the
/// attributes, the source).
type Sent = SmallVec<[(u32, Attrs, PeerIdx); 2]>;

/// A table as one member gets it: by (prefix, our path id), the
/// attributes and the source.
pub type MemberTable<K> = HashMap<(K, u32), (Attrs, PeerIdx)>;

/// Our path id for a path of the RIB (RFC 7911): stable while the path is
/// there and the same in every group (so a member moved between groups
/// keeps its ids), made of the source's index and the low 12 bits of the
/// source's own path id. Two paths of one source whose ids agree in those
/// bits would collide: the second is then not sent (see `choose`).
fn path_id_of(p: &Path) -> u32 {
    (p.peer.0 << 12 | (p.path_id & 0xfff)).wrapping_add(1)
}

/// What an export result depends on besides the group: the attribute set
/// after export policy and the one before (by address; the cache keeps the
/// first alive, the table the second), the source's kind and
/// route-reflector role, and the family.
type ExportKey = (usize, usize, SourceKind, bool, Option<Ipv4Addr>, Family);

/// The routes of one flush, batched by what goes into one UPDATE run.
#[derive(Default)]
struct Batches {
    /// (exported set, source) → routes; sent to every member but the source.
    announce: HashMap<(usize, PeerIdx), (Attrs, Vec<Nlri>)>,
    /// excluded member → routes; sent to every member but that one.
    withdraw: HashMap<PeerIdx, Vec<Nlri>>,
    /// member → routes withdrawn from it alone.
    withdraw_one: HashMap<PeerIdx, Vec<Nlri>>,
}

impl UpdateGroup {
    /// An empty group for peers with `key`.
    pub fn new(key: GroupKey) -> UpdateGroup {
        let packer = UpdatePacker::new(&key.codec);
        UpdateGroup {
            key,
            members: Vec::new(),
            packer,
            cache: HashMap::new(),
            advertised: HashMap::new(),
            sourced: HashMap::new(),
            sent: HashMap::new(),
            tap: None,
        }
    }

    /// Starts or stops copying what members are sent.
    pub fn set_tap(&mut self, on: bool) {
        if on != self.tap.is_some() {
            self.tap = on.then(|| RefCell::new(Vec::new()));
        }
    }

    /// What members were sent since the last call (while tapped).
    pub fn take_sent(&mut self) -> Vec<(PeerIdx, Bytes)> {
        self.tap
            .as_mut()
            .map(|t| std::mem::take(t.get_mut()))
            .unwrap_or_default()
    }

    /// Hands `bytes` to a member's writer (and to the tap).
    fn deliver(&self, to: &Member, bytes: Bytes) {
        if let Some(t) = &self.tap {
            t.borrow_mut().push((to.peer, bytes.clone()));
        }
        let _ = to.out.send(bytes);
    }

    /// The group's key.
    pub fn key(&self) -> &GroupKey {
        &self.key
    }

    /// The members.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Adds a member.
    pub fn join(&mut self, member: Member) {
        self.members.push(member);
    }

    /// Removes a member; returns whether the group is now empty.
    pub fn leave(&mut self, peer: PeerIdx) -> bool {
        self.members.retain(|m| m.peer != peer);
        self.sourced.retain(|(_, p), _| *p != peer);
        self.members.is_empty()
    }

    /// Routes of `family` currently sent to `peer`.
    pub fn sent_to(&self, family: Family, peer: PeerIdx) -> u64 {
        let all = self.advertised.get(&family).copied().unwrap_or(0);
        let own = self.sourced.get(&(family, peer)).copied().unwrap_or(0);
        (all - own).max(0) as u64
    }

    /// Forgets per-flush caches (they hold attribute sets alive).
    pub fn end_flush(&mut self) {
        self.cache.clear();
    }

    /// What this group sends for `path` to `prefix`, or `None` if it sends
    /// nothing: the export policy (per route: it may look at the prefix),
    /// then the attribute rules (cached per attribute set).
    pub fn export(
        &mut self,
        family: Family,
        prefix: IpNet,
        path: &Path,
        source: &PeerInfo,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> Option<Attrs> {
        let accepted = path.accepted.as_ref()?;
        // Export policy first: it sees the route as the Loc-RIB holds it
        // (its MED, next hop and AS path), then the RFC 4271 5.1 rules
        // make it what goes on the wire, our AS in front of any prepends.
        let policed = match &self.key.policy {
            None => accepted.clone(),
            Some(policy) => policy.0.apply(
                &PolicyRoute {
                    prefix,
                    attrs: accepted,
                    source,
                    target: self.key.target.as_ref(),
                    local_asn: settings.local_asn,
                    vrps: &settings.vrps,
                },
                interner,
            )?,
        };
        self.ruled(family, policed, accepted, source, settings, interner)
    }

    /// What this group would send for `path` before export policy (BMP's
    /// pre-policy Adj-RIB-Out, RFC 8671): the attribute rules alone, or
    /// `None` if they keep the route from the members.
    pub fn pre_policy(
        &mut self,
        family: Family,
        path: &Path,
        source: &PeerInfo,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> Option<Attrs> {
        let accepted = path.accepted.as_ref()?;
        // As a policy that leaves the route unchanged: cached alike.
        self.ruled(
            family,
            accepted.clone(),
            accepted,
            source,
            settings,
            interner,
        )
    }

    /// The attribute rules applied to what the policy made of `accepted`
    /// (cached per attribute set for the length of a flush).
    fn ruled(
        &mut self,
        family: Family,
        policed: Attrs,
        accepted: &Attrs,
        source: &PeerInfo,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> Option<Attrs> {
        let v6 = family.afi == crate::wire::Afi::IPV6;
        let cache_key = (
            Arc::as_ptr(&policed) as usize,
            Arc::as_ptr(accepted) as usize,
            source.kind,
            source.rr_client,
            source.cluster_id,
            family,
        );
        if let Some((_, out)) = self.cache.get(&cache_key) {
            return out.clone();
        }
        let out = self
            .transform(v6, &policed, source, settings)
            .map(|mut out| {
                // What the policy set explicitly survives the rules.
                if policed.attrs.med != accepted.attrs.med {
                    out.attrs.med = policed.attrs.med;
                }
                if policed.next_hop != accepted.next_hop && policed.next_hop.is_some() {
                    out.next_hop = policed.next_hop;
                }
                interner.intern(out)
            });
        self.cache.insert(cache_key, (policed, out.clone()));
        out
    }

    /// A route's NLRI as the members receive it: with add-path sending
    /// negotiated, our one (best) path goes with path id 1.
    fn nlri(&self, family: Family, prefix: IpNet) -> Nlri {
        self.nlri_id(family, prefix, self.single_id(family))
    }

    /// The NLRI of our path `id` to `prefix` (no id without add-path).
    fn nlri_id(&self, family: Family, prefix: IpNet, id: u32) -> Nlri {
        if self.key.codec.sends_path_ids(family) {
            Nlri::with_path_id(prefix, id)
        } else {
            Nlri::new(prefix)
        }
    }

    /// The path id of the one path a group sends per prefix.
    fn single_id(&self, family: Family) -> u32 {
        u32::from(self.key.codec.sends_path_ids(family))
    }

    /// How many paths per prefix the members get (add-path send-max; 1
    /// without add-path). Route-server clients get several too where they
    /// take them (RFC 7947 2.3.2.2.2: a cure for path hiding).
    fn send_max(&self, family: Family) -> usize {
        if !self.key.codec.sends_path_ids(family) {
            return 1;
        }
        let i = usize::from(family == Family::IPV6_UNICAST);
        usize::from(self.key.outbound.send_max[i].max(1))
    }

    /// Whether the group keeps what it sent per prefix: route-server
    /// groups (their one member gets the best path that is not its own)
    /// and add-path groups sending several paths per prefix.
    fn tracks(&self, family: Family) -> bool {
        self.key.rs_member.is_some() || self.send_max(family) > 1
    }

    /// What a tracking group sends for a prefix: the first `send_max`
    /// accepted paths of `dest` in the RIB's order (the best first, the
    /// rest by preference) that are not the route-server member's own
    /// (RFC 7947 2.3.2.1) and that export lets through, each with our
    /// path id.
    fn choose(
        &mut self,
        family: Family,
        prefix: IpNet,
        dest: Option<&Dest>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> Sent {
        let several = self.send_max(family) > 1;
        let mut out = Sent::new();
        let Some(dest) = dest else { return out };
        let max = match several && self.eligible(family, prefix, dest, peers, settings, interner) {
            true => self.send_max(family),
            false => 1,
        };
        for p in dest.paths().iter().take_while(|p| p.accepted.is_some()) {
            if out.len() == max {
                break;
            }
            // Ids from the group's mode, not the prefix's: a prefix that
            // becomes eligible keeps its best path's id.
            let id = if several {
                path_id_of(p)
            } else {
                self.single_id(family)
            };
            if Some(p.peer) == self.key.rs_member || out.iter().any(|(o, _, _)| *o == id) {
                continue;
            }
            let Some(info) = peers.get(p.peer) else {
                continue;
            };
            if let Some(attrs) = self.export(family, prefix, p, info, settings, interner) {
                out.push((id, attrs, p.peer));
            }
        }
        out
    }

    /// Whether the add-path eligible-prefix policy (if any) accepts the
    /// prefix, judged on its best path.
    fn eligible(
        &self,
        family: Family,
        prefix: IpNet,
        dest: &Dest,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> bool {
        let i = usize::from(family == Family::IPV6_UNICAST);
        let Some(policy) = &self.key.add_path_eligible[i] else {
            return true;
        };
        let Some((best, attrs)) = dest.best().and_then(|b| Some((b, b.accepted.as_ref()?))) else {
            return false;
        };
        let Some(source) = peers.get(best.peer) else {
            return false;
        };
        let route = PolicyRoute {
            prefix,
            attrs,
            source,
            target: self.key.target.as_ref(),
            local_asn: settings.local_asn,
            vrps: &settings.vrps,
        };
        policy.0.apply(&route, interner).is_some()
    }

    /// Chooses anew for every prefix of the table and remembers it as sent.
    fn choose_all<K: RouteKey>(
        &mut self,
        table: &Table<K>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) {
        let family = K::FAMILY;
        self.sent.retain(|(f, _), _| *f != family);
        for (key, dest) in table.range_from(None) {
            let prefix = key.to_net();
            let chosen = self.choose(family, prefix, Some(dest), peers, settings, interner);
            if !chosen.is_empty() {
                self.sent.insert((family, prefix), chosen);
            }
        }
    }

    /// What a tracking group has sent of `family`, but what came from
    /// `to`: (prefix, our path id, attributes, source).
    fn paths_sent_to(
        &self,
        family: Family,
        to: PeerIdx,
    ) -> impl Iterator<Item = (IpNet, u32, &Attrs, PeerIdx)> {
        self.sent
            .iter()
            .filter(move |((f, _), _)| *f == family)
            .flat_map(|((_, prefix), paths)| {
                paths
                    .iter()
                    .map(move |(id, a, src)| (*prefix, *id, a, *src))
            })
            .filter(move |(.., src)| *src != to)
    }

    /// Tracking flush: each changed prefix's paths against what the
    /// members were sent, path by path (RFC 7911: a path is withdrawn
    /// alone, by its id; a changed one is replaced under the same id).
    fn tracked_flush<K: RouteKey>(
        &mut self,
        changes: &[Change<K>],
        table: &Table<K>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> Batches {
        let family = K::FAMILY;
        let mut batches = Batches::default();
        for Change { key, .. } in changes {
            let prefix = key.to_net();
            let new = self.choose(family, prefix, table.get(*key), peers, settings, interner);
            let old = self.sent.remove(&(family, prefix)).unwrap_or_default();
            // A source is never sent its own path (nor, in a route-server
            // group, is the member ever the source), so keying withdrawals
            // and announcements by source reaches exactly the right members.
            for (id, _, src) in &old {
                if !new.iter().any(|(n, _, _)| n == id) {
                    let nlri = self.nlri_id(family, prefix, *id);
                    batches.withdraw.entry(*src).or_default().push(nlri);
                    self.count(family, Some(*src), -1);
                }
            }
            for (id, attrs, src) in &new {
                match old.iter().find(|(o, _, _)| o == id) {
                    Some((_, a, s)) if Arc::ptr_eq(a, attrs) && s == src => continue,
                    Some((_, _, s)) => {
                        self.count(family, Some(*s), -1);
                        self.count(family, Some(*src), 1);
                    }
                    None => self.count(family, Some(*src), 1),
                }
                let nlri = self.nlri_id(family, prefix, *id);
                batches
                    .announce
                    .entry((Arc::as_ptr(attrs) as usize, *src))
                    .or_insert_with(|| (attrs.clone(), Vec::new()))
                    .1
                    .push(nlri);
            }
            if !new.is_empty() {
                self.sent.insert((family, prefix), new);
            }
        }
        batches
    }

    /// Our address on the members' sessions, as a next hop of the family.
    fn self_hop(&self, v6: bool) -> Option<NextHop> {
        if v6 {
            self.key.local_v6.map(|global| NextHop::V6 {
                global,
                link_local: None,
            })
        } else {
            self.key.local_v4.map(NextHop::V4)
        }
    }

    /// The attribute rules of RFC 4271 5.1 and RFC 4456 8; toward a
    /// route-server client, those of RFC 7947 2.2.
    fn transform(
        &self,
        v6: bool,
        attrs: &PathAttrs,
        source: &PeerInfo,
        s: &ExportSettings,
    ) -> Option<PathAttrs> {
        let key = &self.key;
        if !key.llgr && attrs.attrs.communities.contains(&Community::LLGR_STALE) {
            return None;
        }
        let reflect = source.kind == SourceKind::Internal && key.kind == SourceKind::Internal;
        if reflect && !(source.rr_client || key.rr_client) {
            // iBGP routes go to iBGP peers only by reflection.
            return None;
        }
        if reflect && source.rr_client && key.rr_client && !key.client_to_client {
            return None;
        }
        let self_hop = || self.self_hop(v6);
        let mut out = attrs.clone();
        let transparent = key.rs_member.is_some()
            && key.kind == SourceKind::External
            && source.kind != SourceKind::Local;
        match key.kind {
            SourceKind::External if transparent => {
                // RFC 7947 2.2: the route server is not in the path; the
                // next hop, MED and communities are the source's.
                let mut path = out.attrs.as_path.take().unwrap_or_default();
                path.segments.retain(|seg| !seg.kind.is_confed());
                out.attrs.as_path = Some(path);
                if out.next_hop.is_none() {
                    out.next_hop = Some(self_hop()?);
                }
                out.attrs.local_pref = None;
                out.attrs.originator_id = None;
                out.attrs.cluster_list.clear();
            }
            SourceKind::External | SourceKind::Local => {
                let mut path = out.attrs.as_path.take().unwrap_or_default();
                key.outbound.rewrite_path(&mut path, key.local_asn);
                if let Some(global) = key.outbound.global_behind {
                    prepend(&mut path, global);
                }
                prepend(&mut path, key.local_asn);
                // Confederation segments never leave the confederation.
                path.segments.retain(|seg| !seg.kind.is_confed());
                out.attrs.as_path = Some(path);
                // Next hop self, except for a route of our own given an
                // explicit next hop (as GoBGP does).
                if source.kind != SourceKind::Local || out.next_hop.is_none() {
                    out.next_hop = Some(self_hop()?);
                }
                out.attrs.local_pref = None;
                if source.kind != SourceKind::Local {
                    // A neighbor AS's MED is not passed to other ASes.
                    out.attrs.med = None;
                }
                out.attrs.originator_id = None;
                out.attrs.cluster_list.clear();
            }
            SourceKind::Internal => {
                out.attrs.as_path.get_or_insert_with(AsPath::default);
                out.attrs.local_pref = Some(attrs.attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF));
                // iBGP keeps the next hop; our own routes without one get
                // ours.
                if out.next_hop.is_none() {
                    out.next_hop = Some(self_hop()?);
                }
                if reflect {
                    // The cluster of the client side of the reflection.
                    let cluster = if source.rr_client {
                        source.cluster_id
                    } else {
                        key.cluster_id
                    };
                    out.attrs.originator_id.get_or_insert(source.router_id);
                    out.attrs
                        .cluster_list
                        .insert(0, cluster.unwrap_or(s.cluster_id));
                }
            }
        }
        key.outbound.filter_communities(v6, &mut out.attrs);
        // An IPv4 route needs an IPv4 next hop unless RFC 8950 applies.
        match (v6, out.next_hop) {
            (false, Some(NextHop::V6 { .. })) if !key.ipv4_over_ipv6 => None,
            _ => Some(out),
        }
    }

    /// Sends what changed for the prefixes in `changes` (with the best
    /// path each had before) to the members.
    pub(super) fn flush<K: RouteKey>(
        &mut self,
        changes: &[Change<K>],
        table: &Table<K>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) {
        let family = K::FAMILY;
        if !self.key.families.contains(&family) || self.members.is_empty() {
            return;
        }
        if self.tracks(family) {
            let batches = self.tracked_flush(changes, table, peers, settings, interner);
            self.send(family, batches);
            return;
        }
        let mut batches = Batches::default();
        for Change { key, before, after } in changes {
            let prefix = key.to_net();
            let mut out = |p: &Path| {
                let info = peers.get(p.peer)?;
                self.export(family, prefix, p, info, settings, interner)
                    .map(|a| (a, p.peer))
            };
            let old_out = before.as_ref().and_then(&mut out);
            let new_out = after.as_ref().and_then(&mut out);
            let nlri = self.nlri(family, key.to_net());
            match (&old_out, &new_out) {
                (None, None) => continue,
                (Some((a, sa)), Some((b, sb))) if Arc::ptr_eq(a, b) && sa == sb => continue,
                (Some((_, src)), None) => batches.withdraw.entry(*src).or_default().push(nlri),
                (old, Some((attrs, src))) => {
                    batches
                        .announce
                        .entry((Arc::as_ptr(attrs) as usize, *src))
                        .or_insert_with(|| (attrs.clone(), Vec::new()))
                        .1
                        .push(nlri);
                    if let Some((_, old_src)) = old {
                        if old_src != src {
                            // The new source had our old route; it must go.
                            batches.withdraw_one.entry(*src).or_default().push(nlri);
                        }
                    }
                }
            }
            self.count(family, old_out.as_ref().map(|o| o.1), -1);
            self.count(family, new_out.as_ref().map(|n| n.1), 1);
        }
        self.send(family, batches);
    }

    /// Adds `by` to the advertised counts for a route from `source`.
    pub(super) fn count(&mut self, family: Family, source: Option<PeerIdx>, by: i64) {
        if let Some(src) = source {
            *self.advertised.entry(family).or_default() += by;
            *self.sourced.entry((family, src)).or_default() += by;
        }
    }

    /// Sends the whole table of `family` to new members, then End-of-RIB.
    /// The UPDATEs are encoded once, by source, and shared: each member
    /// gets all but those of its own routes (members that come up together,
    /// as after our restart, cost one encoding). For the first members of
    /// a new group, `count` sets the group's advertised-route counters.
    pub(super) fn dump<K: RouteKey>(
        &mut self,
        to: &[Member],
        count: bool,
        table: &Table<K>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) {
        let family = K::FAMILY;
        if !self.key.families.contains(&family) {
            return;
        }
        let tracks = self.tracks(family);
        let mut gathered = Gathered::with_capacity(if tracks { 0 } else { table.len() });
        if tracks {
            if count {
                // A new group: what its members get, chosen and counted.
                self.choose_all(table, peers, settings, interner);
            }
            for ((f, prefix), paths) in &self.sent {
                let Some(key) = K::from_net(*prefix).filter(|_| *f == family) else {
                    continue;
                };
                for (id, attrs, src) in paths {
                    gathered.add(attrs, *src, key, *id);
                }
            }
        }
        let single = self.single_id(family);
        for (key, best) in table.best_paths().filter(move |_| !tracks) {
            let Some(info) = peers.get(best.peer) else {
                continue;
            };
            if let Some(attrs) = self.export(family, key.to_net(), best, info, settings, interner) {
                gathered.add(&attrs, best.peer, key, single);
            }
        }
        // The exported sets are all in `gathered` now: the cache of how
        // each was made goes before the encoding.
        self.cache.clear();
        let (sets, routes) = gathered.into_runs();
        if count {
            let mut counts: HashMap<PeerIdx, i64> = HashMap::new();
            for run in routes.chunk_by(|a, b| a.0 == b.0) {
                *counts.entry(sets[run[0].0 as usize].1).or_default() += run.len() as i64;
            }
            for (src, n) in counts {
                self.count(family, Some(src), n);
            }
        }
        let mut bufs: HashMap<PeerIdx, BytesMut> = HashMap::new();
        let share = |group: &Self, src: PeerIdx, bytes: Bytes| {
            for m in to.iter().filter(|m| m.peer != src) {
                group.deliver(m, bytes.clone());
            }
        };
        let mut nlri: Vec<Nlri> = Vec::new();
        for run in routes.chunk_by(|a, b| a.0 == b.0) {
            let (attrs, src) = &sets[run[0].0 as usize];
            nlri.clear();
            nlri.extend(
                run.iter()
                    .map(|(_, key, id)| self.nlri_id(family, key.to_net(), *id)),
            );
            let buf = bufs.entry(*src).or_default();
            self.encode_announce(family, attrs, &nlri, buf);
            if buf.len() > 1 << 20 {
                share(self, *src, buf.split().freeze());
            }
        }
        for (src, buf) in bufs {
            if !buf.is_empty() {
                share(self, src, buf.freeze());
            }
        }
        let mut eor = BytesMut::new();
        let _ = self.packer.end_of_rib(family, &mut eor);
        let eor = eor.freeze();
        for m in to {
            self.deliver(m, eor.clone());
        }
    }

    /// What this group sends `to` of the whole table of `family`, by prefix.
    pub(super) fn table_for<K: RouteKey>(
        &mut self,
        to: PeerIdx,
        table: &Table<K>,
        peers: &Peers,
        settings: &ExportSettings,
        interner: &mut Interner,
    ) -> MemberTable<K> {
        let family = K::FAMILY;
        let mut out = HashMap::new();
        if !self.key.families.contains(&family) {
            return out;
        }
        if self.tracks(family) {
            // Chosen anew: a group the member joins may be new.
            self.choose_all(table, peers, settings, interner);
            return self
                .paths_sent_to(family, to)
                .filter_map(|(prefix, id, attrs, src)| {
                    Some(((K::from_net(prefix)?, id), (attrs.clone(), src)))
                })
                .collect();
        }
        let single = self.single_id(family);
        for (key, best) in table.best_paths() {
            if best.peer == to {
                continue;
            }
            let Some(info) = peers.get(best.peer) else {
                continue;
            };
            if let Some(attrs) = self.export(family, key.to_net(), best, info, settings, interner) {
                out.insert((key, single), (attrs, best.peer));
            }
        }
        out
    }

    /// Sends `to` a BoRR (`begin`) or EoRR for `family` (RFC 7313 4).
    pub fn send_refresh_marker(&self, to: &Member, family: Family, begin: bool) {
        use crate::wire::{Message, RouteRefresh, RouteRefreshSubtype};
        let subtype = if begin {
            RouteRefreshSubtype::BeginningOfRefresh
        } else {
            RouteRefreshSubtype::EndOfRefresh
        };
        let mut buf = BytesMut::new();
        if Message::RouteRefresh(RouteRefresh { family, subtype })
            .encode(&Default::default(), &mut buf)
            .is_ok()
        {
            let _ = to.out.send(buf.freeze());
        }
    }

    /// Sends `to` what turns its view `old` of `family` into `new`.
    pub fn send_diff<K: RouteKey>(&self, to: &Member, old: &MemberTable<K>, new: &MemberTable<K>) {
        let family = K::FAMILY;
        let mut withdraw: Vec<Nlri> = old
            .keys()
            .filter(|k| !new.contains_key(k))
            .map(|(k, id)| self.nlri_id(family, k.to_net(), *id))
            .collect();
        withdraw.sort();
        let mut runs: HashMap<usize, (Attrs, Vec<Nlri>)> = HashMap::new();
        for ((k, id), (attrs, _)) in new {
            if old
                .get(&(*k, *id))
                .is_some_and(|(o, _)| Arc::ptr_eq(o, attrs))
            {
                continue;
            }
            runs.entry(Arc::as_ptr(attrs) as usize)
                .or_insert_with(|| (attrs.clone(), Vec::new()))
                .1
                .push(self.nlri_id(family, k.to_net(), *id));
        }
        let mut buf = BytesMut::new();
        if !withdraw.is_empty() {
            let _ = self.packer.withdraw(family, &withdraw, &mut buf);
        }
        for (attrs, mut nlri) in runs.into_values() {
            nlri.sort();
            self.encode_announce(family, &attrs, &nlri, &mut buf);
        }
        if !buf.is_empty() {
            self.deliver(to, buf.freeze());
        }
    }

    fn encode_announce(
        &self,
        family: Family,
        attrs: &PathAttrs,
        nlri: &[Nlri],
        buf: &mut BytesMut,
    ) {
        let Some(next_hop) = attrs.next_hop else {
            return;
        };
        match EncodedAttributes::new(&attrs.attrs, self.key.codec.four_octet_as) {
            Ok(encoded) => {
                if let Err(e) = self.packer.announce(&encoded, family, next_hop, nlri, buf) {
                    tracing::warn!(error = %e, "cannot encode routes for an update group");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode attributes for an update group"),
        }
    }

    /// Encodes a flush's batches and hands them out: everything that goes
    /// to the same recipients (all members but one source) is encoded into
    /// one buffer and sent once per member, so a burst becomes a few large
    /// writes, not one channel message per attribute set.
    fn send(&self, family: Family, batches: Batches) {
        let mut to_all_but: HashMap<PeerIdx, BytesMut> = HashMap::new();
        for (except, nlri) in batches.withdraw {
            let buf = to_all_but.entry(except).or_default();
            if let Err(e) = self.packer.withdraw(family, &nlri, buf) {
                tracing::warn!(error = %e, "cannot encode withdrawals for an update group");
            }
        }
        for ((_, src), (attrs, nlri)) in batches.announce {
            self.encode_announce(family, &attrs, &nlri, to_all_but.entry(src).or_default());
        }
        for (except, buf) in to_all_but {
            if buf.is_empty() {
                continue;
            }
            let bytes = buf.freeze();
            for m in self.members.iter().filter(|m| m.peer != except) {
                self.deliver(m, bytes.clone());
            }
        }
        for (peer, nlri) in batches.withdraw_one {
            let mut buf = BytesMut::new();
            if let (Some(m), Ok(_)) = (
                self.members.iter().find(|m| m.peer == peer),
                self.packer.withdraw(family, &nlri, &mut buf),
            ) {
                self.deliver(m, buf.freeze());
            }
        }
    }
}

/// Puts `asn` in front of the path (RFC 4271 5.1.2).
pub(super) fn prepend(path: &mut AsPath, asn: u32) {
    match path.segments.first_mut() {
        Some(seg) if seg.kind == SegmentType::Sequence && seg.asns.len() < 255 => {
            seg.asns.insert(0, asn)
        }
        _ => path.segments.insert(
            0,
            Segment {
                kind: SegmentType::Sequence,
                asns: vec![asn],
            },
        ),
    }
}
