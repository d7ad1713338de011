//! The routing information base: one table per family holding every path
//! (Adj-RIB-In pre- and post-policy and Loc-RIB in one structure), best-path
//! selection, and export through update groups.
//!
//! The RIB is plain data with no I/O and no locks: one task owns it (see
//! [`crate::engine`]) and feeds it events in batches, then calls
//! [`Rib::flush`] so export sees the net effect of the whole batch.

mod attrs;
mod bestpath;
mod export;
mod feed;
mod key;
mod path;
mod policy;
mod rules;
pub(crate) mod snapshot;
mod table;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use ipnet::IpNet;

pub use attrs::{state_index, Attrs, Interner, PathAttrs, SetKind};
pub use bestpath::{multipath_count, MultipathOptions, SelectionOptions, DEFAULT_LOCAL_PREF};
pub use export::{ExportSettings, GroupKey, Member, Outbox, UpdateGroup};
pub use feed::{Feed, NextHops, RouteChange, SessionUp, FEED_CAPACITY};
pub use key::{RouteKey, V4Key, V6Key};
pub use path::{Path, PeerIdx, PeerInfo, SourceKind};
pub use policy::{PeerPolicies, PolicyRoute, RoutePolicy, SharedPolicy};
pub use rules::{Breach, CommunityKinds, FamilyLimits, Inbound, Limit, Outbound, PrivateAs};
pub use table::{Change, Delta, Dest, Table};

use crate::wire::{Attributes, Community, DecodedUpdate, Family, GracefulRestart, Nlri};

/// Per-peer, per-family route counts (OpenConfig `afi-safi/state/prefixes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixCounts {
    /// Paths received (pre-policy).
    pub received: u64,
    /// Paths accepted by import policy.
    pub accepted: u64,
    /// Paths that are the best path of their prefix.
    pub installed: u64,
    /// Routes sent to the peer.
    pub sent: u64,
}

/// A route as it is sent to a peer (Adj-RIB-Out), see [`Rib::advertised`].
#[derive(Debug, Clone)]
pub struct Advertised {
    /// The prefix.
    pub net: IpNet,
    /// Where the best path sent came from.
    pub source: PeerIdx,
    /// Its attributes before export's rules (pre-policy).
    pub pre: Attrs,
    /// Its attributes as sent (post-policy).
    pub post: Attrs,
}

/// This speaker's identity, as the RIB uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSettings {
    /// Our AS.
    pub asn: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Reflect routes from one client to the other clients (RFC 4456 5).
    pub client_to_client: bool,
}

impl LocalSettings {
    /// AS and router id, client-to-client reflection on.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> LocalSettings {
        LocalSettings {
            asn,
            router_id,
            client_to_client: true,
        }
    }
}

/// A prefix limit a peer breached, for the RIB task to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitEvent {
    /// The family.
    pub family: Family,
    /// Whether the limit counts received (pre-policy) routes.
    pub received: bool,
    /// The limit.
    pub limit: Limit,
    /// What happened.
    pub breach: Breach,
    /// The count that breached it.
    pub count: u64,
}

/// Whether two import outcomes are the same (same interned set, or both
/// rejections).
fn same_outcome(a: &Option<Attrs>, b: &Option<Attrs>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// What the change feed adds to a path that the tables do not hold.
struct Facts<'a> {
    stale: &'a dyn Fn(PeerIdx, IpNet, u32) -> bool,
    multipath: &'a dyn Fn(&Dest) -> usize,
    validation: &'a dyn Fn(IpNet, &Attrs) -> Option<crate::rpki::Validation>,
}

/// The NLRI of a stored path (path id 0: none).
fn nlri_of(prefix: IpNet, path_id: u32) -> Nlri {
    if path_id == 0 {
        Nlri::new(prefix)
    } else {
        Nlri::with_path_id(prefix, path_id)
    }
}

/// The peers the RIB knows, indexed by [`PeerIdx`].
#[derive(Debug, Default)]
struct Peers(Vec<Option<PeerInfo>>);

impl Peers {
    /// The source `peer`, if known.
    fn get(&self, peer: PeerIdx) -> Option<&PeerInfo> {
        self.0.get(peer.0 as usize).and_then(Option::as_ref)
    }
}

impl bestpath::Sources for Peers {
    fn info(&self, path: &Path) -> &PeerInfo {
        self.get(path.peer)
            .expect("paths only come from known peers")
    }
}

/// What judging a received path reads (eligibility, then import policy),
/// borrowed apart from the tables so a walk over a table can judge its
/// paths as it goes.
struct Judge<'a> {
    local: LocalSettings,
    peers: &'a Peers,
    imports: &'a HashMap<PeerIdx, SharedPolicy>,
    unreachable: &'a HashSet<IpAddr>,
    clusters: &'a [Ipv4Addr],
    vrps: &'a crate::rpki::Vrps,
    interner: &'a mut Interner,
}

impl Judge<'_> {
    /// Whether a path from `peer` with `attrs` may be used at all: no AS,
    /// originator or cluster loop (RFC 4271 9.1.2, RFC 4456 8), the peer's
    /// AS first where that is enforced, and a next hop the forwarding
    /// table can reach (RFC 4271 9.1.2.1, when one tracks them).
    fn eligible(&self, peer: PeerIdx, attrs: &Attrs) -> bool {
        if peer == PeerIdx::LOCAL {
            return true;
        }
        let Some(info) = self.peers.get(peer) else {
            return false;
        };
        if !self.unreachable.is_empty()
            && attrs
                .next_hop
                .is_some_and(|nh| self.unreachable.contains(&nh.address()))
        {
            return false;
        }
        rules::ineligible(
            &attrs.attrs,
            &info.inbound,
            self.local.asn,
            self.local.router_id,
            self.clusters,
        )
        .is_none()
    }

    /// Runs `peer`'s import policy on a received path.
    fn import(&mut self, peer: PeerIdx, prefix: IpNet, received: &Attrs) -> Option<Attrs> {
        let prepend = self.peers.get(peer).and_then(|p| p.inbound.prepend);
        let with_local_as;
        let received = match prepend {
            // The path as if it had crossed the AS the peer talks to.
            Some(asn) => {
                let mut attrs = PathAttrs::clone(received);
                let mut path = attrs.attrs.as_path.take().unwrap_or_default();
                export::prepend(&mut path, asn);
                attrs.attrs.as_path = Some(path);
                with_local_as = self.interner.intern(attrs);
                &with_local_as
            }
            None => received,
        };
        let Some(policy) = self.imports.get(&peer) else {
            return Some(received.clone());
        };
        let source = self.peers.get(peer)?;
        let route = PolicyRoute {
            prefix,
            attrs: received,
            source,
            target: None,
            local_asn: self.local.asn,
            vrps: self.vrps,
        };
        policy.0.apply(&route, self.interner)
    }

    /// The import outcome of a stored path: `None` when it is not eligible
    /// or policy rejects it.
    fn outcome(&mut self, peer: PeerIdx, prefix: IpNet, received: &Attrs) -> Option<Attrs> {
        if self.eligible(peer, received) {
            self.import(peer, prefix, received)
        } else {
            None
        }
    }
}

/// The tables, one per family.
#[derive(Debug, Default)]
struct Tables {
    v4: Table<V4Key>,
    v6: Table<V6Key>,
}

/// A key type the RIB has a table of: one generic function serves every
/// family, and a new family is one more implementation.
trait Keyed: RouteKey {
    /// The family's table.
    fn table(tables: &Tables) -> &Table<Self>;
    /// The family's table, to change.
    fn table_mut(tables: &mut Tables) -> &mut Table<Self>;
}

impl Keyed for V4Key {
    fn table(tables: &Tables) -> &Table<Self> {
        &tables.v4
    }
    fn table_mut(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v4
    }
}

impl Keyed for V6Key {
    fn table(tables: &Tables) -> &Table<Self> {
        &tables.v6
    }
    fn table_mut(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v6
    }
}

/// Runs `$body` with the type `$k` naming the key type of `$family`'s
/// table; does nothing for a family the RIB has no table of.
macro_rules! with_key {
    ($family:expr, $k:ident => $body:expr) => {
        if $family == Family::IPV4_UNICAST {
            type $k = V4Key;
            $body
        } else if $family == Family::IPV6_UNICAST {
            type $k = V6Key;
            $body
        }
    };
}

impl Tables {
    /// Starts or stops noting touched paths for the change feed.
    fn watch(&mut self, on: bool) {
        self.v4.watch(on);
        self.v6.watch(on);
    }

    /// See [`Table::note_every_accepted`].
    fn note_every_accepted(&mut self, on: bool) {
        self.v4.note_every_accepted(on);
        self.v6.note_every_accepted(on);
    }

    /// Reselects every prefix's best path.
    fn reselect_all(&mut self, peers: &Peers, selection: &SelectionOptions) {
        self.v4.reselect_all(peers, selection);
        self.v6.reselect_all(peers, selection);
    }
}

/// The RIB.
pub struct Rib {
    local: LocalSettings,
    selection: SelectionOptions,
    peers: Peers,
    interner: Interner,
    tables: Tables,
    groups: Vec<UpdateGroup>,
    counts: HashMap<(PeerIdx, Family), PrefixCounts>,
    /// Import policy per peer; none means accept everything as received.
    imports: HashMap<PeerIdx, SharedPolicy>,
    /// Export policy per peer, put in its update group's key.
    exports: HashMap<PeerIdx, SharedPolicy>,
    /// Add-path eligible-prefix policies by peer (IPv4, IPv6).
    add_path_eligible: HashMap<PeerIdx, [Option<SharedPolicy>; 2]>,
    started: Instant,
    /// Listeners of route changes.
    feed: feed::Feed,
    /// Every cluster id in use (the speaker's and the peers'): a received
    /// CLUSTER_LIST holding one is a loop.
    clusters: Vec<Ipv4Addr>,
    /// Prefix limits per peer, IPv4 and IPv6 unicast.
    limits: HashMap<PeerIdx, [FamilyLimits; 2]>,
    /// What each limit has reported, by (peer, family, received).
    limit_state: HashMap<(PeerIdx, Family, bool), rules::LimitState>,
    /// Enhanced route refresh: paths of a peer's family not yet re-sent
    /// since its BoRR (RFC 7313 4.2).
    stale: HashMap<(PeerIdx, Family), HashSet<(IpNet, u32)>>,
    /// Graceful restart: a restarting peer's paths of a family kept since
    /// its session went down and not re-sent since (RFC 4724 4.2).
    restart_stale: HashMap<(PeerIdx, Family), HashSet<(IpNet, u32)>>,
    /// Families of restarting peers in their long-lived stale period
    /// (RFC 9494): their stale paths carry LLGR_STALE.
    long_lived: HashSet<(PeerIdx, Family)>,
    /// Established sessions, for monitoring stations that connect.
    sessions: BTreeMap<PeerIdx, Arc<SessionUp>>,
    /// Next hops the forwarding table cannot reach: their paths are not
    /// eligible (next-hop tracking).
    unreachable: HashSet<IpAddr>,
    /// The VRPs of the RPKI caches (origin validation).
    vrps: Arc<crate::rpki::Vrps>,
}

impl Rib {
    /// An empty RIB that accepts every route.
    pub fn new(local: LocalSettings, selection: SelectionOptions) -> Rib {
        let mut peers = Peers::default();
        peers
            .0
            .push(Some(PeerInfo::local(local.asn, local.router_id)));
        Rib {
            local,
            selection,
            peers,
            interner: Interner::default(),
            tables: Tables::default(),
            groups: Vec::new(),
            counts: HashMap::new(),
            imports: HashMap::new(),
            exports: HashMap::new(),
            add_path_eligible: HashMap::new(),
            started: Instant::now(),
            feed: feed::Feed::default(),
            clusters: vec![local.router_id],
            limits: HashMap::new(),
            limit_state: HashMap::new(),
            stale: HashMap::new(),
            restart_stale: HashMap::new(),
            long_lived: HashSet::new(),
            sessions: BTreeMap::new(),
            unreachable: HashSet::new(),
            vrps: Arc::default(),
        }
    }

    /// Recomputes the cluster ids in use.
    fn note_clusters(&mut self) {
        // The router id is the cluster id of neighbors without one of their own.
        let mut c = vec![self.local.router_id];
        c.extend(self.peers.0.iter().flatten().filter_map(|p| p.cluster_id));
        c.sort();
        c.dedup();
        self.clusters = c;
    }

    /// See [`Judge::eligible`].
    fn eligible(&mut self, peer: PeerIdx, attrs: &Attrs) -> bool {
        self.split().1.eligible(peer, attrs)
    }

    /// The tables, and what judging their paths reads.
    fn split(&mut self) -> (&Tables, Judge<'_>) {
        let judge = Judge {
            local: self.local,
            peers: &self.peers,
            imports: &self.imports,
            unreachable: &self.unreachable,
            clusters: &self.clusters,
            vrps: &self.vrps,
            interner: &mut self.interner,
        };
        (&self.tables, judge)
    }

    /// Turns client-to-client reflection on or off; route-reflector
    /// clients get only the difference.
    pub fn set_client_to_client(&mut self, on: bool) {
        if self.local.client_to_client == on {
            return;
        }
        self.local.client_to_client = on;
        let clients: Vec<PeerIdx> = self
            .groups
            .iter()
            .filter(|g| g.key().rr_client)
            .flat_map(|g| g.members().iter().map(|m| m.peer))
            .collect();
        for peer in clients {
            self.rekey(peer);
        }
    }

    /// Sets a peer's prefix limits (IPv4, IPv6 unicast) and checks them
    /// against what it has sent already.
    pub fn set_limits(&mut self, peer: PeerIdx, limits: [FamilyLimits; 2]) -> Vec<LimitEvent> {
        if limits == [FamilyLimits::default(); 2] {
            self.limits.remove(&peer);
            self.limit_state.retain(|(p, _, _), _| *p != peer);
            return Vec::new();
        }
        if self.limits.insert(peer, limits) != Some(limits) {
            // A new limit is judged afresh.
            for s in self
                .limit_state
                .iter_mut()
                .filter(|((p, _, _), _)| *p == peer)
            {
                s.1.restart();
            }
        }
        self.check_limits(peer)
    }

    /// What the peer's counts newly breach.
    pub fn check_limits(&mut self, peer: PeerIdx) -> Vec<LimitEvent> {
        let Some(limits) = self.limits.get(&peer).copied() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (family, l) in [
            (Family::IPV4_UNICAST, limits[0]),
            (Family::IPV6_UNICAST, limits[1]),
        ] {
            let counts = self
                .counts
                .get(&(peer, family))
                .copied()
                .unwrap_or_default();
            for (received, limit, count) in [
                (false, l.accepted, counts.accepted),
                (true, l.received, counts.received),
            ] {
                let Some(limit) = limit else { continue };
                let state = self
                    .limit_state
                    .entry((peer, family, received))
                    .or_default();
                if let Some(breach) = state.check(&limit, count) {
                    out.push(LimitEvent {
                        family,
                        received,
                        limit,
                        breach,
                        count,
                    });
                }
            }
        }
        out
    }

    /// Whether a peer's prefix limit of `family` was exceeded (OpenConfig
    /// `prefix-limit-exceeded`, `received` for `prefix-limit-received`);
    /// cleared when the session comes back.
    pub fn limit_exceeded(&self, peer: PeerIdx, family: Family, received: bool) -> bool {
        self.limit_state
            .get(&(peer, family, received))
            .is_some_and(|s| s.exceeded)
    }

    /// When any prefix limit of the peer was last exceeded (nanoseconds
    /// since the Unix epoch).
    pub fn last_limit_exceeded(&self, peer: PeerIdx) -> Option<u64> {
        self.limit_state
            .iter()
            .filter(|((p, _, _), _)| *p == peer)
            .filter_map(|(_, s)| s.last_exceeded)
            .max()
    }

    /// Our settings.
    pub fn local(&self) -> LocalSettings {
        self.local
    }

    /// The IPv4 unicast table.
    pub fn v4(&self) -> &Table<V4Key> {
        &self.tables.v4
    }

    /// The IPv6 unicast table.
    pub fn v6(&self) -> &Table<V6Key> {
        &self.tables.v6
    }

    /// Paths held, all prefixes and families (accepted or not).
    pub fn paths(&self) -> usize {
        self.tables.v4.paths() + self.tables.v6.paths()
    }

    /// What `peer` is sent of `family`, before and after export's
    /// attribute rules (Adj-RIB-Out pre and post), computed from the best
    /// paths as export would (nothing is stored per peer).
    pub fn advertised(&mut self, peer: PeerIdx, family: Family) -> Vec<Advertised> {
        self.advertised_batch(peer, family, None, usize::MAX).0
    }

    /// [`Rib::advertised`] for the best paths of at most `max` prefixes
    /// from `from` on (a reader's batch: the table is not copied whole),
    /// and the prefix the next batch starts at.
    pub fn advertised_batch(
        &mut self,
        peer: PeerIdx,
        family: Family,
        from: Option<IpNet>,
        max: usize,
    ) -> (Vec<Advertised>, Option<IpNet>) {
        let settings = self.export_settings();
        let peers = &self.peers;
        let info = peers;
        let mut out = Vec::new();
        let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.members().iter().any(|m| m.peer == peer))
        else {
            return (out, None);
        };
        let mut visit = |net: IpNet, best: &Path| {
            if best.peer == peer {
                return;
            }
            let Some(source) = info.get(best.peer) else {
                return;
            };
            if let (Some(pre), Some(post)) = (
                best.accepted.clone(),
                g.export(family, net, best, source, &settings, &mut self.interner),
            ) {
                out.push(Advertised {
                    net,
                    source: best.peer,
                    pre,
                    post,
                });
            }
        };
        let next = if family == Family::IPV4_UNICAST {
            best_from(&self.tables.v4, from, max, &mut visit)
        } else if family == Family::IPV6_UNICAST {
            best_from(&self.tables.v6, from, max, &mut visit)
        } else {
            None
        };
        g.end_flush();
        (out, next)
    }

    /// BMP's pre-policy Adj-RIB-Out of `peer` for `family` (RFC 8671):
    /// what its update group would send it of each prefix's best path with
    /// the attribute rules but no export policy ([`UpdateGroup::pre_policy`]).
    /// With `nets`, those prefixes each, `None` where nothing would go (no
    /// best path, the peer's own, or the rules keep it back); without, every
    /// prefix that would go.
    pub fn advertised_pre_policy(
        &mut self,
        peer: PeerIdx,
        family: Family,
        nets: Option<&[IpNet]>,
    ) -> Vec<(IpNet, Option<Attrs>)> {
        let settings = self.export_settings();
        let peers = &self.peers;
        let info = peers;
        let mut out = Vec::new();
        let Some(g) = self.groups.iter_mut().find(|g| {
            g.key().families.contains(&family) && g.members().iter().any(|m| m.peer == peer)
        }) else {
            return out;
        };
        let interner = &mut self.interner;
        let mut pre = |best: Option<&Path>| {
            let best = best.filter(|b| b.peer != peer)?;
            g.pre_policy(family, best, info.get(best.peer)?, &settings, interner)
        };
        match (family, nets) {
            (Family::IPV4_UNICAST, None) => out.extend(
                self.tables
                    .v4
                    .best_paths()
                    .filter_map(|(k, b)| Some((k.to_net(), Some(pre(Some(b))?)))),
            ),
            (Family::IPV6_UNICAST, None) => out.extend(
                self.tables
                    .v6
                    .best_paths()
                    .filter_map(|(k, b)| Some((k.to_net(), Some(pre(Some(b))?)))),
            ),
            (_, Some(nets)) => {
                for &net in nets {
                    let best = match net {
                        IpNet::V4(n) if family == Family::IPV4_UNICAST => {
                            self.tables.v4.get(V4Key::new(n)).and_then(Dest::best)
                        }
                        IpNet::V6(n) if family == Family::IPV6_UNICAST => {
                            self.tables.v6.get(V6Key::new(n)).and_then(Dest::best)
                        }
                        _ => continue,
                    };
                    out.push((net, pre(best)));
                }
            }
            _ => {}
        }
        g.end_flush();
        out
    }

    /// Number of update groups (peers sharing one are sent the same bytes).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Distinct attribute sets in use.
    pub fn attr_sets(&self) -> usize {
        self.interner.len()
    }

    /// What is known about a peer.
    pub fn peer(&self, peer: PeerIdx) -> Option<&PeerInfo> {
        self.peers.get(peer)
    }

    /// Route counts of a peer for a family.
    pub fn counts(&self, peer: PeerIdx, family: Family) -> PrefixCounts {
        let mut c = self
            .counts
            .get(&(peer, family))
            .copied()
            .unwrap_or_default();
        c.sent = self
            .groups
            .iter()
            .filter(|g| g.members().iter().any(|m| m.peer == peer))
            .map(|g| g.sent_to(family, peer))
            .sum();
        c
    }

    /// The attribute set with state index `index` of `kind` (see
    /// [`SetKind`]), if one is in use.
    pub fn set_by_index(&mut self, kind: SetKind, index: u64) -> Option<Attrs> {
        self.interner.lookup(kind, index)
    }

    /// Interns an attribute set.
    pub fn intern(&mut self, attrs: PathAttrs) -> Attrs {
        self.interner.intern(attrs)
    }

    /// Registers a route source; returns its index.
    pub fn add_peer(&mut self, info: PeerInfo) -> PeerIdx {
        let idx = match self.peers.0.iter().skip(1).position(Option::is_none) {
            Some(free) => free + 1,
            None => {
                self.peers.0.push(None);
                self.peers.0.len() - 1
            }
        };
        self.peers.0[idx] = Some(info);
        self.note_for_route_servers();
        PeerIdx(idx as u32)
    }

    /// Registers a route source at an index the caller allocated, or
    /// updates what is known about it (after its OPEN: router id).
    pub fn set_peer(&mut self, peer: PeerIdx, info: PeerInfo) {
        let i = peer.0 as usize;
        if i == 0 {
            return;
        }
        if self.peers.0.len() <= i {
            self.peers.0.resize(i + 1, None);
        }
        let mut info = info;
        if info.router_id.is_unspecified() {
            // Configuration does not know the identifier the OPEN told.
            if let Some(known) = &self.peers.0[i] {
                info.router_id = known.router_id;
            }
        }
        let inbound_changed = self.peers.0[i]
            .as_ref()
            .is_some_and(|old| old.inbound != info.inbound);
        let clusters_changed = self.peers.0[i]
            .as_ref()
            .is_some_and(|old| old.cluster_id != info.cluster_id);
        self.peers.0[i] = Some(info);
        self.note_for_route_servers();
        self.note_clusters();
        // Export rules of an established peer may have changed.
        self.rekey(peer);
        if clusters_changed {
            // Loop checks of every peer's routes use the cluster ids.
            let all: Vec<PeerIdx> = (1..self.peers.0.len() as u32).map(PeerIdx).collect();
            for p in all {
                self.reimport(p);
            }
        } else if inbound_changed {
            // Loop checks and the local-as prefix run again on stored routes.
            self.reimport(peer);
        }
    }

    /// Tables note every accepted-path change only while some peer is a
    /// route-server client or is sent several paths per prefix (add-path).
    fn note_for_route_servers(&mut self) {
        let any = self
            .peers
            .0
            .iter()
            .flatten()
            .any(|i| i.rs_client || i.outbound.send_max.iter().any(|&m| m > 1));
        self.tables.note_every_accepted(any);
    }

    /// Changes the best-path options and reselects every prefix.
    pub fn set_selection(&mut self, selection: SelectionOptions) {
        if selection != self.selection {
            self.selection = selection;
            self.tables.reselect_all(&self.peers, &self.selection);
        }
    }

    /// Forgets a peer: its routes go and its index is free again.
    pub fn remove_peer(&mut self, peer: PeerIdx) {
        if self.sessions.contains_key(&peer) {
            let n = crate::wire::Notification::cease(crate::wire::CeaseSubcode::PeerDeconfigured);
            self.session_down(peer, crate::event::DownReason::LocalNotification(n));
        }
        self.peer_down(peer, &[]);
        // Export must still know the peer to withdraw its routes.
        self.flush();
        if peer != PeerIdx::LOCAL {
            if let Some(slot) = self.peers.0.get_mut(peer.0 as usize) {
                *slot = None;
            }
            self.note_for_route_servers();
            self.note_clusters();
            self.forget_limits(peer);
        }
    }

    /// A session came up: the peer joins the update group of its kind and
    /// is sent the current table, then End-of-RIB, per family.
    pub fn peer_up(&mut self, peer: PeerIdx, key: GroupKey, out: Outbox) {
        self.peers_up(vec![(peer, key, out)]);
    }

    /// [`Rib::peer_up`] for sessions that come up together (the ones our
    /// restart held back until its selection deferral ended): members of
    /// one update group share one encoding of the table.
    pub fn peers_up(&mut self, up: Vec<(PeerIdx, GroupKey, Outbox)>) {
        // Anything pending goes out first so the dumps are current.
        self.flush();
        let mut joining: Vec<(usize, Vec<Member>)> = Vec::new();
        for (peer, mut key, out) in up {
            self.fill_key(peer, &mut key);
            // A limit's breach is forgotten when the session comes back.
            for s in self
                .limit_state
                .iter_mut()
                .filter(|((p, _, _), _)| *p == peer)
            {
                s.1.restart();
            }
            let g = group_for(&mut self.groups, self.feed.wants_sent(), key);
            let member = Member { peer, out };
            match joining.iter_mut().find(|(i, _)| *i == g) {
                Some((_, members)) => members.push(member),
                None => joining.push((g, vec![member])),
            }
        }
        let settings = self.export_settings();
        let peers = &self.peers;
        let info = peers;
        for (g, members) in joining {
            let group = &mut self.groups[g];
            let fresh = group.members().is_empty();
            let interner = &mut self.interner;
            group.dump(&members, fresh, &self.tables.v4, info, &settings, interner);
            group.dump(&members, fresh, &self.tables.v6, info, &settings, interner);
            group.end_flush();
            for m in members {
                group.join(m);
            }
        }
    }

    /// Sends the table of `family` to `peer` again (it sent ROUTE-REFRESH).
    pub fn refresh(&mut self, peer: PeerIdx, family: Family, enhanced: bool) {
        self.flush();
        let settings = self.export_settings();
        let peers = &self.peers;
        let info = peers;
        for g in &mut self.groups {
            let Some(member) = g.members().iter().find(|m| m.peer == peer).cloned() else {
                continue;
            };
            // RFC 7313 4: the routes between BoRR and EoRR.
            if enhanced {
                g.send_refresh_marker(&member, family, true);
            }
            let to = std::slice::from_ref(&member);
            let (tables, interner) = (&self.tables, &mut self.interner);
            with_key!(family, K => g.dump(to, false, K::table(tables), info, &settings, interner));
            if enhanced {
                g.send_refresh_marker(&member, family, false);
            }
            g.end_flush();
        }
    }

    /// A session went down: the peer leaves its group and its routes are
    /// withdrawn, but those of the `retain` families: a graceful restart
    /// peer's routes stay, marked stale and still used, until it is back
    /// and sends them again and End-of-RIB, or its timers run out (RFC
    /// 4724 4.2; the session times them).
    pub fn peer_down(&mut self, peer: PeerIdx, retain: &[Family]) {
        self.groups.retain_mut(|g| !g.leave(peer));
        self.stale.retain(|(p, _), _| *p != peer);
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            if retain.contains(&family) {
                let paths = self.paths_of(peer, family);
                // Readers of the change feed see them turn stale.
                for &(prefix, id) in &paths {
                    match prefix {
                        IpNet::V4(n) => self.tables.v4.touch(V4Key::new(n), peer, id),
                        IpNet::V6(n) => self.tables.v6.touch(V6Key::new(n), peer, id),
                    }
                }
                self.restart_stale
                    .entry((peer, family))
                    .or_default()
                    .extend(paths);
            } else {
                self.withdraw_family(peer, family);
                self.counts.remove(&(peer, family));
                self.restart_stale.remove(&(peer, family));
                self.long_lived.remove(&(peer, family));
            }
        }
    }

    /// Every path of `peer` in `family`, as (prefix, path id).
    fn paths_of(&self, peer: PeerIdx, family: Family) -> Vec<(IpNet, u32)> {
        fn of<K: Keyed>(rib: &Rib, peer: PeerIdx) -> Vec<(IpNet, u32)> {
            let paths = K::table(&rib.tables).paths_of(peer);
            paths.into_iter().map(|(k, id)| (k.to_net(), id)).collect()
        }
        with_key!(family, K => return of::<K>(self, peer));
        Vec::new()
    }

    /// Removes every path of `family` from `peer`.
    fn withdraw_family(&mut self, peer: PeerIdx, family: Family) {
        fn withdraw<K: Keyed>(rib: &mut Rib, peer: PeerIdx) {
            for (key, id) in K::table(&rib.tables).paths_of(peer) {
                rib.set(key, peer, id, None);
            }
        }
        with_key!(family, K => withdraw::<K>(self, peer));
    }

    /// A restarted peer is back (`gr`: the graceful restart capability of
    /// its new OPEN): stale routes of families it no longer covers, or
    /// whose forwarding state it did not keep, go now (RFC 4724 4.2); the
    /// others wait for its End-of-RIB.
    pub fn resume_stale(&mut self, peer: PeerIdx, gr: Option<&GracefulRestart>) {
        let families: Vec<Family> = self
            .restart_stale
            .keys()
            .filter(|(p, _)| *p == peer)
            .map(|(_, f)| *f)
            .collect();
        for family in families {
            let kept = gr.is_some_and(|gr| {
                gr.families
                    .iter()
                    .any(|f| f.family == family && f.forwarding_preserved)
            });
            if !kept {
                tracing::info!(peer = %self.address_of(peer), %family, "graceful restart: peer back without forwarding state for the family, stale routes removed");
                self.sweep_family(peer, family);
            }
        }
    }

    /// The peer's End-of-RIB for `family`: what it did not send again is
    /// gone.
    pub fn end_of_rib(&mut self, peer: PeerIdx, family: Family) {
        if self.restart_stale.contains_key(&(peer, family)) {
            let n = self.restart_stale[&(peer, family)].len();
            tracing::info!(peer = %self.address_of(peer), %family, stale = n, "graceful restart: End-of-RIB received, stale routes removed");
            self.sweep_family(peer, family);
        }
    }

    /// Removes `peer`'s stale paths of `families` (all when `None`).
    pub fn sweep_stale(&mut self, peer: PeerIdx, families: Option<&[Family]>) {
        let all = [Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        for &family in families.unwrap_or(&all) {
            self.sweep_family(peer, family);
        }
    }

    fn sweep_family(&mut self, peer: PeerIdx, family: Family) {
        self.long_lived.remove(&(peer, family));
        let Some(stale) = self.restart_stale.remove(&(peer, family)) else {
            return;
        };
        for (prefix, id) in stale {
            self.set_path(peer, &nlri_of(prefix, id), None, true);
        }
    }

    /// The restart time of `peer` ran out: its stale paths of `families`
    /// enter the long-lived stale period (RFC 9494 4.2). Paths with
    /// NO_LLGR go; the others get LLGR_STALE, which makes them least
    /// preferred and keeps them from peers without the capability.
    pub fn long_lived_stale(&mut self, peer: PeerIdx, families: &[Family]) {
        for &family in families {
            let Some(stale) = self.restart_stale.get(&(peer, family)).cloned() else {
                continue;
            };
            self.long_lived.insert((peer, family));
            for (prefix, id) in stale {
                let received = self.path(peer, prefix, id).map(|p| p.received.clone());
                let Some(received) = received else {
                    continue;
                };
                let n = nlri_of(prefix, id);
                if received.attrs.communities.contains(&Community::NO_LLGR) {
                    self.set_path(peer, &n, None, true);
                    if let Some(s) = self.restart_stale.get_mut(&(peer, family)) {
                        s.remove(&(prefix, id));
                    }
                    continue;
                }
                if received.attrs.communities.contains(&Community::LLGR_STALE) {
                    continue;
                }
                let mut attrs = PathAttrs::clone(&received);
                attrs.attrs.communities.push(Community::LLGR_STALE);
                let attrs = self.interner.intern(attrs);
                let eligible = self.eligible(peer, &attrs);
                self.set_path(peer, &n, Some(attrs), eligible);
            }
        }
    }

    /// How many paths of `dest`, from its best on, forward together
    /// (see [`multipath_count`]).
    pub fn multipath(&self, dest: &Dest) -> usize {
        multipath_count(dest.paths(), &self.peers, &self.selection)
    }

    /// The next hops `dest` is forwarded by: its best path's and its
    /// multipath set's (not locally originated paths'), sorted, without
    /// repeats; none when no path forwards.
    pub fn forwarding_next_hops(&self, dest: &Dest) -> NextHops {
        let n = self.multipath(dest);
        let mut out: NextHops = dest.paths()[..n]
            .iter()
            .filter(|p| p.peer != PeerIdx::LOCAL)
            .filter_map(|p| p.accepted.as_ref().and_then(|a| a.next_hop))
            .map(|nh| nh.address())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A peer's address for logs.
    fn address_of(&self, peer: PeerIdx) -> String {
        self.peer(peer)
            .map(|p| p.address.to_string())
            .unwrap_or_default()
    }

    /// One stored path.
    fn path(&self, peer: PeerIdx, prefix: IpNet, path_id: u32) -> Option<&Path> {
        match prefix {
            IpNet::V4(n) => self.tables.v4.get(V4Key::new(n))?.get(peer, path_id),
            IpNet::V6(n) => self.tables.v6.get(V6Key::new(n))?.get(peer, path_id),
        }
    }

    /// Whether a path of `peer` is kept stale over the peer's restart.
    pub fn is_stale(&self, peer: PeerIdx, prefix: IpNet, path_id: u32) -> bool {
        if self.restart_stale.is_empty() {
            return false;
        }
        let family = match prefix {
            IpNet::V4(_) => Family::IPV4_UNICAST,
            IpNet::V6(_) => Family::IPV6_UNICAST,
        };
        self.restart_stale
            .get(&(peer, family))
            .is_some_and(|s| s.contains(&(prefix, path_id)))
    }

    /// How many of `peer`'s paths of `family` are kept stale.
    pub fn stale_count(&self, peer: PeerIdx, family: Family) -> usize {
        self.restart_stale
            .get(&(peer, family))
            .map_or(0, HashSet::len)
    }

    /// Applies a received UPDATE (after RFC 7606 handling): its announced
    /// routes are stored and run through import policy, its withdrawn
    /// ones (including treat-as-withdraw ones) removed.
    pub fn update(&mut self, peer: PeerIdx, update: &DecodedUpdate) {
        self.apply(peer, update, update.update.attributes.clone());
    }

    /// [`Rib::update`] for an UPDATE the caller is done with: its
    /// attributes are interned without a copy.
    pub fn take_update(&mut self, peer: PeerIdx, mut update: Box<DecodedUpdate>) {
        let attributes = std::mem::take(&mut update.update.attributes);
        self.apply(peer, &update, attributes);
    }

    /// Applies `update`, whose path attributes are `attributes`.
    fn apply(&mut self, peer: PeerIdx, update: &DecodedUpdate, attributes: Attributes) {
        for (family, nlri) in update.withdrawn() {
            for n in nlri {
                self.set_path(peer, n, None, true);
                self.refreshed(peer, family, n);
            }
        }
        let mut attributes = Some(attributes);
        let mut announced = update.announced().peekable();
        while let Some(group) = announced.next() {
            // The last group (nearly always the only one) takes them.
            let attrs = match announced.peek() {
                Some(_) => attributes.clone().unwrap_or_default(),
                None => attributes.take().unwrap_or_default(),
            };
            let attrs = self.interner.intern(PathAttrs {
                attrs,
                next_hop: Some(group.next_hop),
            });
            let eligible = self.eligible(peer, &attrs);
            for n in group.nlri {
                self.set_path(peer, n, Some(attrs.clone()), eligible);
                self.refreshed(peer, group.family, n);
            }
        }
    }

    /// A path the peer re-sent (or withdrew) during an enhanced route
    /// refresh or after its restart is no longer stale.
    fn refreshed(&mut self, peer: PeerIdx, family: Family, n: &Nlri) {
        for stale in [&mut self.stale, &mut self.restart_stale] {
            if stale.is_empty() {
                continue;
            }
            if let Some(s) = stale.get_mut(&(peer, family)) {
                s.remove(&(n.prefix, n.path_id.unwrap_or(0)));
            }
        }
    }

    /// Enhanced route refresh (RFC 7313 4.2): at BoRR every path of the
    /// peer's family becomes stale; at EoRR the stale ones are withdrawn.
    pub fn refresh_boundary(&mut self, peer: PeerIdx, family: Family, begin: bool) {
        if begin {
            if family != Family::IPV4_UNICAST && family != Family::IPV6_UNICAST {
                return;
            }
            let paths = self.paths_of(peer, family).into_iter().collect();
            self.stale.insert((peer, family), paths);
        } else if let Some(stale) = self.stale.remove(&(peer, family)) {
            for (prefix, id) in stale {
                self.set_path(peer, &nlri_of(prefix, id), None, true);
            }
        }
    }

    /// Announces a route of our own (`next_hop` None means next hop self).
    pub fn originate(&mut self, prefix: IpNet, attrs: PathAttrs) {
        let attrs = self.interner.intern(attrs);
        self.set_path(PeerIdx::LOCAL, &Nlri::new(prefix), Some(attrs), true);
    }

    /// Withdraws a route of our own.
    pub fn withdraw_originated(&mut self, prefix: IpNet) {
        self.set_path(PeerIdx::LOCAL, &Nlri::new(prefix), None, true);
    }

    /// Stores or removes one path, running import policy on a new one
    /// unless it is not `eligible` (a loop: kept, never accepted).
    fn set_path(&mut self, peer: PeerIdx, nlri: &Nlri, received: Option<Attrs>, eligible: bool) {
        let path_id = nlri.path_id.unwrap_or(0);
        let path = received.map(|received| {
            let accepted = if eligible {
                self.import(peer, nlri.prefix, &received)
            } else {
                None
            };
            Path {
                peer,
                path_id,
                received,
                accepted,
                since: self.started.elapsed().as_secs() as u32,
            }
        });
        match nlri.prefix {
            IpNet::V4(n) => self.set(V4Key::new(n), peer, path_id, path),
            IpNet::V6(n) => self.set(V6Key::new(n), peer, path_id, path),
        }
    }

    /// Runs `peer`'s import policy on a received path.
    fn import(&mut self, peer: PeerIdx, prefix: IpNet, received: &Attrs) -> Option<Attrs> {
        self.split().1.import(peer, prefix, received)
    }

    /// Sets (or clears) `peer`'s import policy and runs it again over the
    /// peer's stored routes (soft reconfiguration inbound), all of them or
    /// those `within` the prefixes given: only routes whose outcome
    /// changed reach export.
    pub fn set_import(
        &mut self,
        peer: PeerIdx,
        policy: Option<SharedPolicy>,
        within: Option<&[IpNet]>,
    ) {
        match policy {
            Some(p) => self.imports.insert(peer, p),
            None => self.imports.remove(&peer),
        };
        self.reimport_within(peer, within);
    }

    /// Next-hop tracking: these next hops became unreachable, those
    /// reachable again; the paths through them are judged again (an
    /// unreachable next hop makes a path ineligible, RFC 4271 9.1.2.1).
    pub fn set_next_hops(&mut self, unreachable: &[IpAddr], reachable: &[IpAddr]) {
        let mut changed: HashSet<IpAddr> = HashSet::new();
        for nh in unreachable {
            if self.unreachable.insert(*nh) {
                changed.insert(*nh);
            }
        }
        for nh in reachable {
            if self.unreachable.remove(nh) {
                changed.insert(*nh);
            }
        }
        if changed.is_empty() {
            return;
        }
        let through = |p: &Path| {
            p.received
                .next_hop
                .is_some_and(|nh| changed.contains(&nh.address()))
        };
        let v4 = self.paths_where::<V4Key>(through);
        let v6 = self.paths_where::<V6Key>(through);
        for (key, peer, id) in v4 {
            self.rejudge(key, peer, id);
        }
        for (key, peer, id) in v6 {
            self.rejudge(key, peer, id);
        }
    }

    /// The VRPs in force.
    pub fn vrps(&self) -> &crate::rpki::Vrps {
        &self.vrps
    }

    /// The origin validation state of a path's attributes to `prefix`.
    pub fn validation(&self, prefix: IpNet, attrs: &Attrs) -> crate::rpki::Validation {
        self.vrps.validate(
            prefix,
            crate::rpki::origin_as(attrs.attrs.as_path.as_ref(), self.local.asn),
        )
    }

    /// RPKI: VRPs added and removed. The routes they cover are judged
    /// again (import policy may look at their validation state); no
    /// session is reset.
    pub fn set_vrps(&mut self, added: &[crate::rpki::Vrp], removed: &[crate::rpki::Vrp]) {
        let vrps = Arc::make_mut(&mut self.vrps);
        for v in removed {
            vrps.remove(v);
        }
        for v in added {
            vrps.insert(*v);
        }
        let covered: Vec<IpNet> = added.iter().chain(removed).map(|v| v.prefix).collect();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in covered {
            match net {
                IpNet::V4(n) => self.paths_within(V4Key::new(n), &mut v4),
                IpNet::V6(n) => self.paths_within(V6Key::new(n), &mut v6),
            }
        }
        self.revalidate(v4);
        self.revalidate(v6);
    }

    /// Runs `peer`'s import policy again over its stored routes.
    pub fn reimport(&mut self, peer: PeerIdx) {
        self.reimport_within(peer, None);
    }

    /// Runs `peer`'s import policy again over its stored routes within
    /// `within` (`None`: all of them). A policy update that changed a few
    /// entries of a large prefix-set is judged on the routes they cover,
    /// not on the whole table.
    fn reimport_within(&mut self, peer: PeerIdx, within: Option<&[IpNet]>) {
        fn again<K: Keyed>(rib: &mut Rib, peer: PeerIdx, within: Option<Vec<K>>) {
            // One walk judges every path of the peer in range; only the
            // paths whose outcome changed are looked up again, to store it.
            let (tables, mut judge) = rib.split();
            let table = K::table(tables);
            let mut changed = Vec::new();
            let mut judge_dest = |key: &K, dest: &Dest| {
                for p in dest.paths().iter().filter(|p| p.peer == peer) {
                    let accepted = judge.outcome(peer, key.to_net(), &p.received);
                    if !same_outcome(&p.accepted, &accepted) {
                        changed.push((
                            *key,
                            Path {
                                accepted,
                                ..p.clone()
                            },
                        ));
                    }
                }
            };
            match within {
                None => table
                    .range_from(None)
                    .for_each(|(key, dest)| judge_dest(key, dest)),
                Some(nets) => {
                    for net in nets {
                        table
                            .within(net)
                            .for_each(|(key, dest)| judge_dest(key, dest));
                    }
                }
            }
            for (key, path) in changed {
                rib.set(key, peer, path.path_id, Some(path));
            }
        }
        // The ranges, sorted, without those another one covers (each
        // route is judged once): a covering prefix sorts before what it
        // covers.
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        let mut nets: Vec<IpNet> = within
            .unwrap_or_default()
            .iter()
            .map(IpNet::trunc)
            .collect();
        nets.sort_unstable();
        let mut last: Option<IpNet> = None;
        for net in nets {
            if last.is_some_and(|l| l.contains(&net)) {
                continue;
            }
            last = Some(net);
            match net {
                IpNet::V4(n) => v4.push(V4Key::new(n)),
                IpNet::V6(n) => v6.push(V6Key::new(n)),
            }
        }
        again::<V4Key>(self, peer, within.map(|_| v4));
        again::<V6Key>(self, peer, within.map(|_| v6));
    }

    /// Puts what `peer`'s own settings make of its group key: export
    /// policy, reflection and export rules.
    fn fill_key(&self, peer: PeerIdx, key: &mut GroupKey) {
        if let Some(info) = self.peer(peer) {
            key.rr_client = info.rr_client;
            key.local_asn = info.inbound.local_asn;
            key.cluster_id = info.cluster_id;
            key.outbound = info.outbound;
        }
        key.client_to_client = self.local.client_to_client;
        key.policy = self.exports.get(&peer).cloned();
        key.add_path_eligible = self
            .add_path_eligible
            .get(&peer)
            .cloned()
            .unwrap_or_default();
        key.target = match &key.policy {
            Some(p) if p.0.depends_on_target() => self.peer(peer).cloned(),
            _ => None,
        };
        // A route-server client has a group of its own (path hiding).
        key.rs_member = self.peer(peer).filter(|i| i.rs_client).map(|_| peer);
    }

    /// Sets (or clears) `peer`'s export policy. An established peer moves
    /// to the update group of its new key and is sent only the difference
    /// (soft reconfiguration outbound).
    pub fn set_export(&mut self, peer: PeerIdx, policy: Option<SharedPolicy>) {
        let eligible = self
            .add_path_eligible
            .get(&peer)
            .cloned()
            .unwrap_or_default();
        self.set_export_policies(peer, policy, eligible);
    }

    /// Sets `peer`'s export policy and add-path eligible-prefix policies
    /// (IPv4, IPv6) at once, as [`Rib::set_export`] does.
    pub fn set_export_policies(
        &mut self,
        peer: PeerIdx,
        policy: Option<SharedPolicy>,
        eligible: [Option<SharedPolicy>; 2],
    ) {
        match policy {
            Some(p) => self.exports.insert(peer, p),
            None => self.exports.remove(&peer),
        };
        if eligible.iter().all(Option::is_none) {
            self.add_path_eligible.remove(&peer);
        } else {
            self.add_path_eligible.insert(peer, eligible);
        }
        self.rekey(peer);
    }

    /// Moves an established peer to the update group its settings now
    /// call for, sending it only the difference.
    fn rekey(&mut self, peer: PeerIdx) {
        let Some(g) = self
            .groups
            .iter()
            .position(|g| g.members().iter().any(|m| m.peer == peer))
        else {
            return;
        };
        let mut key = self.groups[g].key().clone();
        self.fill_key(peer, &mut key);
        if key == *self.groups[g].key() {
            return;
        }
        self.flush();
        let settings = self.export_settings();
        let peers = &self.peers;
        let info = peers;
        let member = self.groups[g]
            .members()
            .iter()
            .find(|m| m.peer == peer)
            .cloned()
            .expect("member");
        let old4 =
            self.groups[g].table_for(peer, &self.tables.v4, info, &settings, &mut self.interner);
        let old6 =
            self.groups[g].table_for(peer, &self.tables.v6, info, &settings, &mut self.interner);
        self.groups[g].end_flush();
        if self.groups[g].leave(peer) {
            self.groups.remove(g);
        }
        let g = group_for(&mut self.groups, self.feed.wants_sent(), key);
        let group = &mut self.groups[g];
        let fresh = group.members().is_empty();
        let new4 = group.table_for(peer, &self.tables.v4, info, &settings, &mut self.interner);
        let new6 = group.table_for(peer, &self.tables.v6, info, &settings, &mut self.interner);
        group.end_flush();
        if fresh {
            for (family, table) in [
                (
                    Family::IPV4_UNICAST,
                    new4.values().map(|v| v.1).collect::<Vec<_>>(),
                ),
                (Family::IPV6_UNICAST, new6.values().map(|v| v.1).collect()),
            ] {
                for src in table {
                    group.count(family, Some(src), 1);
                }
            }
        }
        group.send_diff(&member, &old4, &new4);
        group.send_diff(&member, &old6, &new6);
        group.join(member);
    }

    /// Puts `path` in place of the path from `peer` with `path_id` (or
    /// removes that path) and keeps the peer's counts.
    fn set<K: Keyed>(&mut self, key: K, peer: PeerIdx, path_id: u32, path: Option<Path>) {
        let table = K::table_mut(&mut self.tables);
        let delta = table.set(key, peer, path_id, path, &self.peers, &self.selection);
        self.account(peer, K::FAMILY, delta);
    }

    /// Runs import policy again on one path (its eligibility or the
    /// policy's inputs changed), storing the new outcome if it differs.
    fn rejudge<K: Keyed>(&mut self, key: K, peer: PeerIdx, id: u32) {
        let table = K::table(&self.tables);
        let Some(old) = table.get(key).and_then(|d| d.get(peer, id)).cloned() else {
            return;
        };
        let accepted = self.split().1.outcome(peer, key.to_net(), &old.received);
        if !same_outcome(&old.accepted, &accepted) {
            self.set(key, peer, id, Some(Path { accepted, ..old }));
        }
    }

    /// Every path of `K`'s table that `which` picks, as (prefix, source,
    /// path id).
    fn paths_where<K: Keyed>(&self, which: impl Fn(&Path) -> bool) -> Vec<(K, PeerIdx, u32)> {
        let table = K::table(&self.tables);
        let picked = table.range_from(None).flat_map(|(k, d)| {
            let paths = d.paths().iter().filter(|p| which(p));
            paths.map(|p| (*k, p.peer, p.path_id))
        });
        picked.collect()
    }

    /// Every path to `net` or a more specific prefix, as (prefix, source,
    /// path id).
    fn paths_within<K: Keyed>(&self, net: K, out: &mut Vec<(K, PeerIdx, u32)>) {
        for (k, d) in K::table(&self.tables).within(net) {
            out.extend(d.paths().iter().map(|p| (*k, p.peer, p.path_id)));
        }
    }

    /// Judges `paths` again after their origin validation changed.
    fn revalidate<K: Keyed>(&mut self, mut paths: Vec<(K, PeerIdx, u32)>) {
        paths.sort_unstable();
        paths.dedup();
        for (key, peer, id) in paths {
            self.rejudge(key, peer, id);
            // Export policies may look at validation too; state readers
            // following the feed see the new validation state.
            let table = K::table_mut(&mut self.tables);
            table.mark_dirty(key);
            table.touch(key, peer, id);
        }
    }

    fn account(&mut self, peer: PeerIdx, family: Family, delta: Delta) {
        if delta == Delta::default() {
            return;
        }
        let c = self.counts.entry((peer, family)).or_default();
        c.received = c.received.saturating_add_signed(delta.received);
        c.accepted = c.accepted.saturating_add_signed(delta.accepted);
    }

    fn export_settings(&self) -> ExportSettings {
        ExportSettings {
            vrps: self.vrps.clone(),
            cluster_id: self.local.router_id,
            local_asn: self.local.asn,
        }
    }

    /// Forgets what a removed peer's limits reported.
    fn forget_limits(&mut self, peer: PeerIdx) {
        self.limits.remove(&peer);
        self.limit_state.retain(|(p, _, _), _| *p != peer);
    }

    /// Whether changes wait for [`Rib::flush`].
    pub fn has_pending(&self) -> bool {
        self.tables.v4.has_dirty() || self.tables.v6.has_dirty()
    }

    /// Sends every change since the last flush to the update groups and
    /// keeps the installed counts.
    pub fn flush(&mut self) {
        let settings = self.export_settings();
        let v4 = self.tables.v4.take_dirty();
        let v6 = self.tables.v6.take_dirty();
        for g in &mut self.groups {
            g.flush(
                &v4,
                &self.tables.v4,
                &self.peers,
                &settings,
                &mut self.interner,
            );
            g.flush(
                &v6,
                &self.tables.v6,
                &self.peers,
                &settings,
                &mut self.interner,
            );
            g.end_flush();
        }
        self.interner.sweep_fresh();
        Self::count_changes(&mut self.counts, &v4);
        Self::count_changes(&mut self.counts, &v6);
        self.tables.v4.give_back(v4);
        self.tables.v6.give_back(v6);
    }

    /// Keeps the installed counts of a flush's changes.
    fn count_changes<K: RouteKey>(
        counts: &mut HashMap<(PeerIdx, Family), PrefixCounts>,
        changes: &[Change<K>],
    ) {
        let source = |p: &Option<Path>| p.as_ref().map(|p| p.peer);
        for c in changes {
            Self::count_installed(counts, K::FAMILY, source(&c.before), source(&c.after));
        }
    }

    /// A new listener of route changes (see [`Feed`]).
    pub fn listen_routes(&mut self) -> tokio::sync::mpsc::Receiver<RouteChange> {
        self.listen_routes_with(FEED_CAPACITY, false)
    }

    /// A new listener of route changes with a queue of `capacity`; with
    /// `sent`, it also gets what each peer is sent ([`RouteChange::Sent`]).
    pub fn listen_routes_with(
        &mut self,
        capacity: usize,
        sent: bool,
    ) -> tokio::sync::mpsc::Receiver<RouteChange> {
        self.tables.watch(true);
        let rx = self.feed.listen_for(capacity, sent);
        self.tap_groups();
        rx
    }

    /// A new listener of what the Loc-RIB forwards
    /// ([`RouteChange::Forwarding`]), with a queue of `capacity` changes.
    pub fn listen_forwarding(
        &mut self,
        capacity: usize,
    ) -> tokio::sync::mpsc::Receiver<RouteChange> {
        self.tables.watch(true);
        self.feed.listen_forwarding(capacity)
    }

    /// A new listener of route changes that also hears what the
    /// forwarding table installs ([`RouteChange::Installed`]).
    pub fn listen_routes_fib(&mut self) -> tokio::sync::mpsc::Receiver<RouteChange> {
        self.tables.watch(true);
        self.feed.listen_fib(FEED_CAPACITY)
    }

    /// The forwarding table looked at these prefixes (installed or not):
    /// listeners that asked hear it with each prefix's paths.
    pub fn fib_installed(&mut self, nets: &[(IpNet, bool)]) {
        // The forwarding table has just worked through its queue: if it
        // had fallen behind, it hears so now (a lag notice waits for a
        // publish, and once the table has arrived none may follow).
        self.feed.flush_lagged();
        if !self.feed.wants_fib() {
            return;
        }
        self.publish_changes();
        let changes: Vec<RouteChange> = nets
            .iter()
            .map(|&(net, installed)| {
                let (family, paths) = match net {
                    IpNet::V4(_) => (Family::IPV4_UNICAST, self.forwarding(&self.tables.v4, net)),
                    IpNet::V6(_) => (Family::IPV6_UNICAST, self.forwarding(&self.tables.v6, net)),
                };
                RouteChange::Installed {
                    family,
                    net,
                    paths,
                    installed,
                }
            })
            .collect();
        self.feed.publish(&changes, false);
    }

    /// The accepted paths of `net` in `table`, with whether each forwards
    /// (the best path and its multipath set).
    fn forwarding<K: RouteKey>(&self, table: &Table<K>, net: IpNet) -> Vec<(PeerIdx, u32, bool)> {
        let Some(d) = K::from_net(net).and_then(|k| table.get(k)) else {
            return Vec::new();
        };
        let n = self.multipath(d);
        d.paths()
            .iter()
            .take_while(|p| p.accepted.is_some())
            .enumerate()
            .map(|(i, p)| (p.peer, p.path_id, i < n))
            .collect()
    }

    /// Has update groups copy what they send while someone wants it.
    fn tap_groups(&mut self) {
        let on = self.feed.wants_sent();
        for g in &mut self.groups {
            g.set_tap(on);
        }
    }

    /// A session reached Established: listeners hear it after the changes
    /// before it.
    pub fn session_up(&mut self, up: SessionUp) {
        self.publish_changes();
        let up = Arc::new(up);
        self.sessions.insert(up.peer, up.clone());
        if self.feed.active() {
            self.feed.publish(&[RouteChange::PeerUp(up)], false);
        }
    }

    /// A session left Established: listeners hear it before its paths go.
    pub fn session_down(&mut self, peer: PeerIdx, reason: crate::event::DownReason) {
        if self.sessions.remove(&peer).is_none() {
            return;
        }
        self.publish_changes();
        if self.feed.active() {
            self.feed
                .publish(&[RouteChange::PeerDown { peer, reason }], false);
        }
    }

    /// The established sessions.
    pub fn sessions_up(&self) -> Vec<Arc<SessionUp>> {
        self.sessions.values().cloned().collect()
    }

    /// Publishes the paths touched since the last call to the change
    /// feed's listeners; stops noting changes when nobody listens.
    pub fn publish_changes(&mut self) {
        if !self.feed.active() {
            self.tables.watch(false);
            self.tap_groups();
            return;
        }
        let (t4, all4) = self.tables.v4.take_touched();
        let (t6, all6) = self.tables.v6.take_touched();
        // Copies stop once no listener wants them.
        self.tap_groups();
        let sent: Vec<RouteChange> = self
            .groups
            .iter_mut()
            .flat_map(|g| g.take_sent())
            .map(|(peer, bytes)| RouteChange::Sent { peer, bytes })
            .collect();
        if t4.is_empty() && t6.is_empty() && !(all4 || all6) && sent.is_empty() {
            return;
        }
        let mut changes = Vec::with_capacity(t4.len() + t6.len() + sent.len());
        let stale = |peer, net, id| self.is_stale(peer, net, id);
        let multipath = |d: &Dest| self.multipath(d);
        let validation = |net, a: &Attrs| (!self.vrps.is_empty()).then(|| self.validation(net, a));
        let facts = Facts {
            stale: &stale,
            multipath: &multipath,
            validation: &validation,
        };
        Self::changes_of(
            &self.tables.v4,
            Family::IPV4_UNICAST,
            &t4,
            &facts,
            &mut changes,
        );
        Self::changes_of(
            &self.tables.v6,
            Family::IPV6_UNICAST,
            &t6,
            &facts,
            &mut changes,
        );
        if self.feed.wants_forwarding() {
            self.forwarding_of(&self.tables.v4, &t4, &mut changes);
            self.forwarding_of(&self.tables.v6, &t6, &mut changes);
        }
        changes.extend(sent);
        self.feed.publish(&changes, all4 || all6);
    }

    /// What the touched prefixes are forwarded by now, once each.
    fn forwarding_of<K: RouteKey>(
        &self,
        table: &Table<K>,
        touched: &[(K, PeerIdx, u32)],
        out: &mut Vec<RouteChange>,
    ) {
        let mut last = None;
        for (key, _, _) in touched {
            // Paths of one prefix are usually touched together.
            if last == Some(*key) {
                continue;
            }
            last = Some(*key);
            out.push(RouteChange::Forwarding {
                net: key.to_net(),
                next_hops: table
                    .get(*key)
                    .map(|d| self.forwarding_next_hops(d))
                    .unwrap_or_default(),
            });
        }
    }

    fn changes_of<K: RouteKey>(
        table: &Table<K>,
        family: Family,
        touched: &[(K, PeerIdx, u32)],
        facts: &Facts<'_>,
        out: &mut Vec<RouteChange>,
    ) {
        for (key, peer, path_id) in touched {
            let (peer, path_id) = (*peer, *path_id);
            let net = key.to_net();
            let dest = table.get(*key);
            match dest.and_then(|d| d.get(peer, path_id)) {
                Some(p) => out.push(RouteChange::Set {
                    family,
                    net,
                    peer,
                    path_id,
                    received: p.received.clone(),
                    accepted: p.accepted.clone(),
                    best: dest
                        .and_then(Dest::best)
                        .is_some_and(|b| b.peer == peer && b.path_id == path_id),
                    multipath: dest.is_some_and(|d| {
                        let n = (facts.multipath)(d);
                        d.paths()[..n]
                            .iter()
                            .any(|m| m.peer == peer && m.path_id == path_id)
                    }),
                    stale: (facts.stale)(peer, net, path_id),
                    validation: (facts.validation)(net, &p.received),
                }),
                None => out.push(RouteChange::Gone {
                    family,
                    net,
                    peer,
                    path_id,
                }),
            }
        }
    }

    fn count_installed(
        counts: &mut HashMap<(PeerIdx, Family), PrefixCounts>,
        family: Family,
        old: Option<PeerIdx>,
        new: Option<PeerIdx>,
    ) {
        if old == new {
            return;
        }
        if let Some(p) = old {
            if let Some(c) = counts.get_mut(&(p, family)) {
                c.installed = c.installed.saturating_sub(1);
            }
        }
        if let Some(p) = new {
            counts.entry((p, family)).or_default().installed += 1;
        }
    }
}

/// The index in `groups` of the update group with `key`, made (with a tap
/// if BMP wants what is sent) if there is none.
fn group_for(groups: &mut Vec<UpdateGroup>, tap: bool, key: GroupKey) -> usize {
    if let Some(g) = groups.iter().position(|g| *g.key() == key) {
        return g;
    }
    let mut g = UpdateGroup::new(key);
    g.set_tap(tap);
    groups.push(g);
    groups.len() - 1
}

/// Visits the best paths of at most `max` prefixes of `table` from `from`
/// on; the prefix after the last one visited, if there is one.
fn best_from<K: RouteKey>(
    table: &Table<K>,
    from: Option<IpNet>,
    max: usize,
    visit: &mut impl FnMut(IpNet, &Path),
) -> Option<IpNet> {
    for (seen, (k, d)) in table.range_from(from.and_then(K::from_net)).enumerate() {
        if seen == max {
            return Some(k.to_net());
        }
        if let Some(best) = d.best() {
            visit(k.to_net(), best);
        }
    }
    None
}
