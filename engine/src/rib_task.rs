//! The task that owns the RIB: it applies session events and commands in
//! batches, then flushes export once per batch, so a burst of UPDATEs turns
//! into packed outgoing UPDATEs instead of one message per route.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};

use crate::event::{RibEvent, SessionInfo};
use crate::restart::RestartState;
use crate::rib::{
    Breach, FamilyLimits, GroupKey, LimitEvent, LocalSettings, Outbox, PathAttrs, PeerIdx,
    PeerInfo, PeerPolicies, Rib, SelectionOptions, SessionUp, SourceKind,
};
use crate::session::PeerHandle;
use crate::wire::{Afi, CodecConfig, Family, PeerKind};

/// A request to the RIB task from the rest of the engine.
pub enum RibCommand {
    /// Forget a route source and its routes.
    RemovePeer(PeerIdx),
    /// Register a route source at an index the engine allocated, or change
    /// what is known about it (AS, route-reflector client, ...); takes
    /// effect at its next session.
    SetPeer(PeerIdx, PeerInfo),
    /// Change the best-path options.
    SetSelection(SelectionOptions),
    /// Set a peer's policies (soft reconfiguration).
    SetPolicies(PeerIdx, PeerPolicies),
    /// Run import policy again over every peer's routes (a set or policy
    /// definition changed).
    Reimport(Vec<PeerIdx>),
    /// Announce (or replace) a route of our own.
    Originate(IpNet, Box<PathAttrs>),
    /// Withdraw a route of our own.
    WithdrawOriginated(IpNet),
    /// The forwarding table looked at these prefixes: installed or not.
    FibInstalled(Vec<(IpNet, bool)>),
    /// Turn client-to-client reflection on or off.
    SetClientToClient(bool),
    /// Set a peer's prefix limits (IPv4, IPv6 unicast) and the session to
    /// close when one is exceeded.
    SetLimits(PeerIdx, [FamilyLimits; 2], PeerHandle),
    /// Run a read (or a change) against the RIB on its task.
    Run(Box<dyn FnOnce(&mut Rib) + Send>),
    /// The speaker restarted: wait for this configured peer's End-of-RIB
    /// before selecting and advertising (RFC 4724 4.1).
    ExpectEndOfRib(PeerIdx),
    /// The selection deferral time is over.
    EndDeferral,
    /// Next-hop tracking: next hops that became unreachable, and reachable.
    NextHops(Vec<IpAddr>, Vec<IpAddr>),
    /// RPKI: VRPs added and removed.
    Vrps(Vec<crate::rpki::Vrp>, Vec<crate::rpki::Vrp>),
}

/// Handle to the RIB task.
#[derive(Clone)]
pub struct RibHandle {
    commands: mpsc::UnboundedSender<RibCommand>,
    events: mpsc::UnboundedSender<RibEvent>,
}

/// Events or commands handled before one export flush.
const BATCH: usize = 1024;

impl RibHandle {
    /// Starts the RIB task on the current tokio runtime. With `deferral`
    /// the speaker has restarted (`restart` says so to its sessions): no
    /// session gets routes until every expected peer sent End-of-RIB or
    /// `deferral` has passed (RFC 4724 4.1); then `restart` is finished.
    pub fn spawn(
        local: LocalSettings,
        selection: SelectionOptions,
        restart: Arc<RestartState>,
        deferral: Option<Duration>,
    ) -> RibHandle {
        let (commands, mut cmd_rx) = mpsc::unbounded_channel();
        let (events, mut ev_rx) = mpsc::unbounded_channel();
        let mut rib = Rib::new(local, selection);
        if let Some(d) = deferral {
            let timer = commands.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                let _ = timer.send(RibCommand::EndDeferral);
            });
            tracing::info!(selection_deferral_time = d.as_secs(), "graceful restart: restarted, deferring best-path selection and advertisements until End-of-RIB from every graceful restart peer");
        }
        tokio::spawn(async move {
            let mut sessions = Sessions {
                deferral: deferral.map(|_| Deferral {
                    restart,
                    ..Deferral::default()
                }),
                ..Sessions::default()
            };
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                tokio::select! {
                    // Commands first: they are rare and often someone waits.
                    biased;
                    cmd = cmd_rx.recv() => match cmd {
                        Some(cmd) => command(&mut rib, &mut sessions, cmd),
                        None => break,
                    },
                    n = ev_rx.recv_many(&mut batch, BATCH) => {
                        if n == 0 {
                            break;
                        }
                        for ev in batch.drain(..) {
                            event(&mut rib, &mut sessions, ev);
                        }
                    }
                }
                // Take what else is already queued before flushing, up to a
                // bound so commands and other sessions are not starved.
                for _ in 0..16 {
                    match ev_rx.try_recv() {
                        Ok(ev) => event(&mut rib, &mut sessions, ev),
                        Err(_) => break,
                    }
                }
                if rib.has_pending() {
                    rib.flush();
                }
                rib.publish_changes();
            }
        });
        RibHandle { commands, events }
    }

    /// Whether both handles lead to the same RIB task.
    pub fn same(&self, other: &RibHandle) -> bool {
        self.commands.same_channel(&other.commands)
    }

    /// Where sessions send their events.
    pub fn events(&self) -> mpsc::UnboundedSender<RibEvent> {
        self.events.clone()
    }

    /// Sends a command; false if the task has ended.
    pub fn send(&self, cmd: RibCommand) -> bool {
        self.commands.send(cmd).is_ok()
    }

    /// Runs `f` on the RIB task and waits for its result on this thread,
    /// at most `limit`: for synchronous readers (state providers running in
    /// blocking threads). Never call it from the RIB task itself.
    pub fn query_blocking<R: Send + 'static>(
        &self,
        limit: std::time::Duration,
        f: impl FnOnce(&mut Rib) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.send(RibCommand::Run(Box::new(move |rib| {
            let _ = tx.send(f(rib));
        })));
        rx.recv_timeout(limit).ok()
    }

    /// Runs `f` on the RIB task and returns its result.
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Rib) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        self.send(RibCommand::Run(Box::new(move |rib| {
            let _ = tx.send(f(rib));
        })));
        rx.await.ok()
    }
}

/// What the RIB task knows of the sessions: enough to act on limits.
#[derive(Default)]
struct Sessions {
    /// Sessions of peers with prefix limits.
    limited: HashMap<PeerIdx, PeerHandle>,
    /// Peers that negotiated enhanced route refresh.
    enhanced_refresh: HashSet<PeerIdx>,
    /// The speaker's own restart, while it defers.
    deferral: Option<Deferral>,
}

/// The wait of a restarted speaker (RFC 4724 4.1): sessions that came up
/// get nothing until every expected peer has sent End-of-RIB for each of
/// its families or the deferral time is over.
#[derive(Default)]
struct Deferral {
    restart: Arc<RestartState>,
    /// Configured graceful restart peers not done yet.
    expected: HashSet<PeerIdx>,
    /// Families whose End-of-RIB an established peer has still to send.
    waiting: HashMap<PeerIdx, HashSet<Family>>,
    /// Established sessions to send the tables to at the end.
    pending: Vec<(PeerIdx, GroupKey, Outbox)>,
}

impl Deferral {
    fn established(&mut self, peer: PeerIdx, info: &SessionInfo) {
        // Peers without graceful restart, or restarting themselves, are
        // not waited for (RFC 4724 4.1).
        match &info.negotiated.graceful_restart {
            Some(gr) if !gr.restarting => {
                self.waiting
                    .insert(peer, info.negotiated.families.iter().copied().collect());
            }
            _ => {
                self.expected.remove(&peer);
            }
        }
    }

    fn end_of_rib(&mut self, peer: PeerIdx, family: Family) {
        if let Some(w) = self.waiting.get_mut(&peer) {
            w.remove(&family);
            if w.is_empty() {
                self.waiting.remove(&peer);
                self.expected.remove(&peer);
            }
        }
    }

    fn down(&mut self, peer: PeerIdx) {
        self.pending.retain(|(p, _, _)| *p != peer);
        self.waiting.remove(&peer);
    }

    /// Whether every expected peer is done (and none is still sending).
    fn done(&self) -> bool {
        self.expected.is_empty() && self.waiting.is_empty()
    }
}

/// Ends the deferral if `force` or nothing is awaited any more: best
/// paths are in place (they were computed all along), the waiting
/// sessions get their tables and End-of-RIB.
fn end_deferral(rib: &mut Rib, sessions: &mut Sessions, force: bool) {
    let Some(d) = &sessions.deferral else {
        return;
    };
    if !force && !d.done() {
        return;
    }
    let Some(d) = sessions.deferral.take() else {
        return;
    };
    d.restart.finish();
    tracing::info!(
        sessions = d.pending.len(),
        timer = force,
        "graceful restart: selection deferral over, sending tables and End-of-RIB"
    );
    rib.peers_up(d.pending);
}

impl Sessions {
    /// Logs what a peer's counts breached and closes its session where a
    /// limit says so.
    fn act(&self, rib: &Rib, peer: PeerIdx, events: Vec<LimitEvent>) {
        for e in events {
            let address = rib.peer(peer).map(|p| p.address);
            let which = if e.received {
                "prefix-limit-received"
            } else {
                "prefix-limit"
            };
            match e.breach {
                Breach::Warning => tracing::warn!(
                    peer = ?address, family = %e.family, limit = e.limit.max, count = e.count, which,
                    "prefix count reached the warning threshold"
                ),
                Breach::Exceeded => {
                    tracing::warn!(
                        peer = ?address, family = %e.family, limit = e.limit.max, count = e.count, which,
                        teardown = !e.limit.prevent_teardown, "prefix limit exceeded"
                    );
                    if !e.limit.prevent_teardown {
                        if let Some(h) = self.limited.get(&peer) {
                            let _ = h.prefix_limit_exceeded(e.family, e.limit.max);
                        }
                    }
                }
            }
        }
    }
}

fn command(rib: &mut Rib, sessions: &mut Sessions, cmd: RibCommand) {
    match cmd {
        RibCommand::RemovePeer(peer) => {
            sessions.limited.remove(&peer);
            rib.remove_peer(peer)
        }
        RibCommand::SetClientToClient(on) => rib.set_client_to_client(on),
        RibCommand::SetLimits(peer, limits, handle) => {
            if limits == [FamilyLimits::default(); 2] {
                sessions.limited.remove(&peer);
            } else {
                sessions.limited.insert(peer, handle);
            }
            let events = rib.set_limits(peer, limits);
            sessions.act(rib, peer, events);
        }
        RibCommand::SetPeer(peer, info) => rib.set_peer(peer, info),
        RibCommand::FibInstalled(nets) => rib.fib_installed(&nets),
        RibCommand::SetSelection(opts) => rib.set_selection(opts),
        RibCommand::SetPolicies(peer, p) => {
            rib.set_import(peer, p.import, p.import_within.as_deref());
            rib.set_export_policies(peer, p.export, p.add_path_eligible);
        }
        RibCommand::Reimport(peers) => {
            for p in peers {
                rib.reimport(p);
            }
        }
        RibCommand::Originate(prefix, attrs) => rib.originate(prefix, *attrs),
        RibCommand::WithdrawOriginated(prefix) => rib.withdraw_originated(prefix),
        RibCommand::Run(f) => f(rib),
        RibCommand::ExpectEndOfRib(peer) => {
            if let Some(d) = &mut sessions.deferral {
                d.expected.insert(peer);
            }
        }
        RibCommand::EndDeferral => end_deferral(rib, sessions, true),
        RibCommand::NextHops(unreachable, reachable) => rib.set_next_hops(&unreachable, &reachable),
        RibCommand::Vrps(added, removed) => rib.set_vrps(&added, &removed),
    }
}

fn event(rib: &mut Rib, sessions: &mut Sessions, ev: RibEvent) {
    match ev {
        RibEvent::Established { peer, info, out } => {
            let Some(known) = rib.peer(peer).cloned() else {
                return;
            };
            let key = group_key(&known, &info);
            let asn = known.asn;
            // The peer's identifier is known now.
            rib.set_peer(
                peer,
                PeerInfo {
                    router_id: info.remote_router_id,
                    ..known
                },
            );
            if info.negotiated.enhanced_route_refresh {
                sessions.enhanced_refresh.insert(peer);
            } else {
                sessions.enhanced_refresh.remove(&peer);
            }
            // Stale routes of a restarted peer that its new OPEN no longer
            // covers go now (RFC 4724 4.2).
            rib.resume_stale(peer, info.negotiated.graceful_restart.as_ref());
            if let Some(d) = &mut sessions.deferral {
                d.established(peer, &info);
            }
            rib.session_up(SessionUp {
                peer,
                asn,
                info: *info,
                since: std::time::SystemTime::now(),
            });
            match &mut sessions.deferral {
                Some(d) => d.pending.push((peer, key, out)),
                None => return rib.peer_up(peer, key, out),
            }
            end_deferral(rib, sessions, false);
        }
        RibEvent::Update { peer, update, .. } => {
            let end_of_rib = update.end_of_rib();
            rib.take_update(peer, update);
            if let Some(family) = end_of_rib {
                rib.end_of_rib(peer, family);
                if let Some(d) = &mut sessions.deferral {
                    d.end_of_rib(peer, family);
                }
                end_deferral(rib, sessions, false);
            }
            if sessions.limited.contains_key(&peer) {
                let events = rib.check_limits(peer);
                sessions.act(rib, peer, events);
            }
        }
        RibEvent::RouteRefresh { peer, family } => {
            rib.refresh(peer, family, sessions.enhanced_refresh.contains(&peer))
        }
        RibEvent::RefreshBoundary {
            peer,
            family,
            begin,
        } => rib.refresh_boundary(peer, family, begin),
        RibEvent::Down {
            peer,
            reason,
            retain,
        } => {
            sessions.enhanced_refresh.remove(&peer);
            if let Some(d) = &mut sessions.deferral {
                d.down(peer);
            }
            rib.session_down(peer, reason);
            rib.peer_down(peer, &retain)
        }
        RibEvent::StaleExpired { peer, families } => rib.sweep_stale(peer, families.as_deref()),
        RibEvent::LongLivedStale { peer, families } => rib.long_lived_stale(peer, &families),
    }
}

/// The update group a session belongs to.
fn group_key(peer: &PeerInfo, info: &SessionInfo) -> GroupKey {
    let n = &info.negotiated;
    let kind = if peer.kind == SourceKind::Internal {
        PeerKind::Internal
    } else {
        PeerKind::External
    };
    let codec: CodecConfig = n.codec_config(kind);
    let (local_v4, local_v6) = match info.local.ip() {
        IpAddr::V4(a) => (Some(a), None),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (Some(v4), None),
            None => (None::<Ipv4Addr>, Some::<Ipv6Addr>(a)),
        },
    };
    GroupKey {
        kind: peer.kind,
        rr_client: peer.rr_client,
        local_asn: peer.inbound.local_asn,
        local_v4,
        local_v6,
        codec,
        families: n
            .families
            .iter()
            .copied()
            .filter(|f| f.afi == Afi::IPV4 || f.afi == Afi::IPV6)
            .collect(),
        ipv4_over_ipv6: n
            .extended_next_hop
            .iter()
            .any(|e| e.family == Family::IPV4_UNICAST),
        // Filled in by the RIB from the peer's export policy.
        policy: None,
        add_path_eligible: Default::default(),
        target: None,
        rs_member: None,
        // Filled in by the RIB from what it knows of the peer.
        cluster_id: None,
        client_to_client: true,
        outbound: Default::default(),
        llgr: n.long_lived_graceful_restart.is_some(),
    }
}
