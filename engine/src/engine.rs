//! The running speaker: the RIB task, the listener and one session per
//! neighbor, driven by settings resolved from the configuration, and the
//! Rust API a library user embeds (add and delete paths, read state).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;

mod dynamic;

use crate::bmp::{RibSource, StationKey, StationSettings, StationView, Stations};
use crate::config::{DynamicRange, GlobalSettings, ListenSettings, PolicySpec, ResolvedNeighbor};
use crate::fib::{Fib, FibSettings, FibStats, FibStop, RedistributionPolicy};
use crate::mrt::{DumpSettings, DumpView, Dumps};
use crate::policy::{Chain, DefaultPolicy, Policies};
use crate::restart::RestartState;
use crate::rib::{
    FamilyLimits, Inbound, LocalSettings, Outbound, PathAttrs, PeerIdx, PeerInfo, PeerPolicies,
    SharedPolicy, SourceKind,
};
use crate::rib_task::{RibCommand, RibHandle};
use crate::rpki::{CacheSettings, CacheState, Rpki};
use crate::session::{self, PeerConfig, PeerHandle};
use crate::stats::{PeerStats, StateChange};
use crate::transport::{Listener, PreparedBind};

/// One configured neighbor as the engine runs it.
#[derive(Clone)]
pub struct Neighbor {
    /// Its index in the RIB.
    pub idx: PeerIdx,
    /// Its session.
    pub handle: PeerHandle,
    /// Its counters and session facts.
    pub stats: Arc<PeerStats>,
    /// The settings it runs with.
    pub config: PeerConfig,
    /// Whether it is a route-reflector client of ours.
    pub rr_client: bool,
    /// Whether it is a route-server client of ours (RFC 7947).
    pub rs_client: bool,
    /// Its import policy by name, and the chain in force.
    pub import: Option<PolicySpec>,
    /// Its export policy by name.
    pub export: Option<PolicySpec>,
    /// Its add-path eligible-prefix policies by name, IPv4 and IPv6.
    pub add_path_eligible: [Option<PolicySpec>; 2],
    /// Cluster id for reflection to and from it.
    pub cluster_id: Option<Ipv4Addr>,
    /// Loop checks on its routes.
    pub inbound: Inbound,
    /// What export does to routes for it.
    pub outbound: Outbound,
    /// Its prefix limits, IPv4 and IPv6 unicast.
    pub limits: [FamilyLimits; 2],
    chains: Chains,
}

/// The chains in force for a neighbor: import, export, and add-path
/// eligibility (IPv4, IPv6).
type Chains = (Option<Chain>, Option<Chain>, [Option<Chain>; 2]);

impl Neighbor {
    /// The settings it was resolved from.
    fn resolved(&self) -> ResolvedNeighbor {
        ResolvedNeighbor {
            session: self.config.clone(),
            rr_client: self.rr_client,
            rs_client: self.rs_client,
            import: self.import.clone(),
            export: self.export.clone(),
            add_path_eligible: self.add_path_eligible.clone(),
            cluster_id: self.cluster_id,
            inbound: self.inbound,
            outbound: self.outbound,
            limits: self.limits,
        }
    }

    /// Takes `n`'s settings (but not its session's: the caller hands those
    /// to the session).
    fn take(&mut self, n: ResolvedNeighbor) {
        self.config = n.session;
        self.rr_client = n.rr_client;
        self.rs_client = n.rs_client;
        self.import = n.import;
        self.export = n.export;
        self.add_path_eligible = n.add_path_eligible;
        self.cluster_id = n.cluster_id;
        self.inbound = n.inbound;
        self.outbound = n.outbound;
        self.limits = n.limits;
    }
}

/// The speaker while BGP is configured.
struct Running {
    global: GlobalSettings,
    rib: RibHandle,
    /// Boxed: a table of a thousand neighbors is half empty slots.
    neighbors: HashMap<IpAddr, Box<Neighbor>>,
    /// One shared object per distinct chain: neighbors with equal policy
    /// share it, so they share an update group.
    chains: Vec<(Chain, SharedPolicy)>,
    next_idx: u32,
    free: Vec<PeerIdx>,
    /// The speaker's own restart.
    restart: Arc<RestartState>,
    /// The forwarding table, when configured.
    fib: Option<Fib>,
}

struct Inner {
    runtime: tokio::runtime::Handle,
    listener: Listener,
    running: Mutex<Option<Running>>,
    /// The compiled routing policy.
    policies: Mutex<Policies>,
    /// Dynamic-neighbor ranges, longest prefix first.
    dynamic: Mutex<Vec<DynamicRange>>,
    /// The speaker's own graceful restart.
    restart: Arc<RestartState>,
    /// BMP stations.
    bmp: Stations,
    /// MRT dumps.
    mrt: Dumps,
    /// RPKI caches.
    rpki: Rpki,
    /// Every session's state changes, to whoever watches.
    states: tokio::sync::broadcast::Sender<StateChange>,
}

/// State changes kept for a watcher that has not read them yet; one that
/// falls further behind is told how many it missed.
pub const STATE_CHANGES_QUEUED: usize = 1024;

/// The BGP speaker. Cheap to clone; every call returns at once (work goes
/// to the engine's tasks), so it can be driven from a configuration
/// transaction.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No BGP instance is configured.
    #[error("BGP is not configured")]
    NotRunning,
    /// The listener could not bind.
    #[error("BGP listener: {0}")]
    Listen(String),
    /// No neighbor with this address is configured.
    #[error("no BGP neighbor {0} is configured")]
    UnknownNeighbor(IpAddr),
}

/// A change of the BGP listener, prepared by [`Engine::prepare_listen`].
pub enum ListenChange {
    /// The sockets bound now are the ones wanted.
    Keep,
    /// Listening is switched off: every socket closes.
    Disable,
    /// New sockets bound (and some reused), to be put in force.
    Bind(PreparedBind),
}

/// How [`Engine::clear_neighbor`] clears a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearMode {
    /// Outbound soft reset: the session stays up; export runs again and
    /// every route we announce to the neighbor is sent again.
    SoftOut,
    /// Inbound soft reset: the session stays up; import policy runs again
    /// over the routes stored from the neighbor (the Adj-RIB-In is always
    /// kept, so no ROUTE-REFRESH is needed).
    SoftIn,
    /// Hard reset: the session closes with Cease/Administrative Reset and
    /// is set up again.
    Hard,
}

impl Engine {
    /// An engine whose tasks run on `runtime`; it does nothing until it is
    /// given global settings.
    pub fn new(runtime: tokio::runtime::Handle) -> Engine {
        let engine = Engine {
            inner: Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
                let weak = weak.clone();
                // Stations find the RIB in force when they (re)connect.
                let source: RibSource = Arc::new(move || {
                    let inner = weak.upgrade()?;
                    let running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
                    running.as_ref().map(|r| r.rib.clone())
                });
                Inner {
                    runtime,
                    listener: Listener::new(),
                    running: Mutex::new(None),
                    policies: Mutex::new(Policies::empty()),
                    dynamic: Mutex::new(Vec::new()),
                    restart: RestartState::new(),
                    bmp: Stations::new(source.clone()),
                    mrt: Dumps::new(source.clone()),
                    rpki: Rpki::new(source),
                    states: tokio::sync::broadcast::channel(STATE_CHANGES_QUEUED).0,
                }
            }),
        };
        let weak = Arc::downgrade(&engine.inner);
        engine
            .inner
            .listener
            .set_unknown_peer(Some(Arc::new(move |addr| dynamic::accept(&weak, addr))));
        engine
    }

    /// The speaker comes up after a restart of itself (the daemon knows):
    /// its OPENs carry the Restart State bit and it defers best-path
    /// selection and advertisements (RFC 4724 4.1) until its graceful
    /// restart peers sent End-of-RIB or the global selection deferral time
    /// passes. Call before the first [`Engine::set_global`].
    pub fn restarted(&self) {
        self.inner.restart.begin();
    }

    /// The forwarding table's settings and counters, when one runs.
    pub fn fib(&self) -> Option<(FibSettings, Arc<FibStats>)> {
        let running = self.running();
        let fib = running.as_ref()?.fib.as_ref()?;
        Some((fib.settings().clone(), fib.stats().clone()))
    }

    /// Whether the speaker is still in its own restart (see
    /// [`Engine::restarted`]).
    pub fn restarting(&self) -> bool {
        self.inner.restart.restarting()
    }

    fn running(&self) -> MutexGuard<'_, Option<Running>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts BGP with these settings, or applies changed ones. A new AS or
    /// router id restarts every session (the peers must see new OPENs).
    /// The listener is prepared first: if it cannot bind, nothing changes.
    pub fn set_global(&self, global: GlobalSettings) -> Result<(), EngineError> {
        let listen = self.prepare_listen(&global.listen)?;
        self.set_global_prepared(global, listen);
        Ok(())
    }

    /// [`Engine::set_global`] with the listener prepared beforehand by
    /// [`Engine::prepare_listen`] (a configuration transaction prepares it
    /// in its prepare step). Cannot fail.
    pub fn set_global_prepared(&self, global: GlobalSettings, listen: ListenChange) {
        let _rt = self.inner.runtime.enter();
        let mut running = self.running();
        let restart = match running.as_ref() {
            Some(r) => r.global.asn != global.asn || r.global.router_id != global.router_id,
            None => true,
        };
        if restart {
            let mut old = running.take();
            let old_fib = old.as_mut().and_then(|o| o.fib.take());
            let restart = self.inner.restart.clone();
            let deferral = restart
                .restarting()
                .then(|| std::time::Duration::from_secs(u64::from(global.selection_deferral)));
            let rib = RibHandle::spawn(
                LocalSettings {
                    client_to_client: global.client_to_client,
                    ..LocalSettings::new(global.asn, global.router_id)
                },
                global.selection,
                restart.clone(),
                deferral,
            );
            let mut new = Running {
                global: global.clone(),
                rib,
                neighbors: HashMap::new(),
                chains: Vec::new(),
                next_idx: 1,
                free: Vec::new(),
                restart,
                fib: None,
            };
            if let Some(old) = old {
                // Same neighbors, new identity: fresh sessions.
                let policies = self.policies();
                for (addr, n) in old.neighbors {
                    let _ = n.handle.stop();
                    if n.config.dynamic {
                        // It comes back when the peer connects again.
                        self.inner.listener.remove_peer(addr);
                        continue;
                    }
                    let mut resolved = n.resolved();
                    resolved.session.local_as = global.asn;
                    resolved.session.router_id = global.router_id;
                    resolved.inbound.local_asn = resolved.session.local_asn();
                    self.inner.listener.remove_peer(addr);
                    start_neighbor(&mut new, &self.inner, resolved, &policies);
                }
            }
            if let Some(old) = old_fib {
                old.stop(FibStop::Reconfigured);
            }
            let policy = redistribution(&global, self.policies());
            new.fib = start_fib(global.fib.clone(), &new.rib, &new.restart, policy);
            *running = Some(new);
        } else if let Some(r) = running.as_mut() {
            if r.fib.as_ref().map(Fib::settings) != global.fib.as_ref() {
                if let Some(old) = r.fib.take() {
                    old.stop(FibStop::Reconfigured);
                }
                let policy = redistribution(&global, self.policies());
                r.fib = start_fib(global.fib.clone(), &r.rib, &r.restart, policy);
            }
            if r.global.selection != global.selection {
                r.rib.send(RibCommand::SetSelection(global.selection));
            }
            if r.global.client_to_client != global.client_to_client {
                r.rib
                    .send(RibCommand::SetClientToClient(global.client_to_client));
            }
            r.global = global.clone();
        }
        drop(running);
        self.inner.rpki.set_caches(&global.rpki);
        if restart {
            // A new RIB: it gets every VRP.
            self.inner.rpki.resync();
        }
        self.install_listen(listen);
    }

    /// The RPKI caches with their sessions' state.
    pub fn rpki_caches(&self) -> Vec<(CacheSettings, Arc<CacheState>)> {
        self.inner.rpki.caches()
    }

    /// The first half of a change of the listener: binds what `listen`
    /// needs and is not bound yet (see [`Listener::prepare`] for which
    /// sockets are reused). An error leaves the listener as it was; the
    /// result is put in force by [`Engine::set_global_prepared`] or
    /// [`Engine::install_listen`], or released by dropping it.
    pub fn prepare_listen(&self, listen: &ListenSettings) -> Result<ListenChange, EngineError> {
        let _rt = self.inner.runtime.enter();
        if !listen.enabled {
            return Ok(ListenChange::Disable);
        }
        let prepared = self
            .inner
            .listener
            .prepare(&listen.addresses, listen.port)
            .map_err(|e| EngineError::Listen(e.to_string()))?;
        if prepared.all_reused()
            && prepared.addrs().len() == self.inner.listener.local_addrs().len()
        {
            return Ok(ListenChange::Keep);
        }
        Ok(ListenChange::Bind(prepared))
    }

    /// Puts a prepared listener change in force. Cannot fail.
    pub fn install_listen(&self, change: ListenChange) {
        let _rt = self.inner.runtime.enter();
        match change {
            ListenChange::Keep => {}
            ListenChange::Disable => self.inner.listener.disable(),
            ListenChange::Bind(prepared) => {
                self.inner.listener.install(prepared);
            }
        }
    }

    /// Stops BGP: every session ends with a Cease, the RIB goes.
    pub fn stop(&self) {
        self.stop_with(false);
    }

    /// Stops BGP to restart (an upgrade, a service restart): sessions with
    /// graceful restart close without a NOTIFICATION, so their peers keep
    /// our routes for our restart time; others end with a Cease.
    pub fn stop_graceful(&self) {
        self.stop_with(true);
    }

    fn stop_with(&self, graceful: bool) {
        let _rt = self.inner.runtime.enter();
        self.inner.rpki.set_caches(&[]);
        let running = self.running().take();
        self.inner.listener.disable();
        if let Some(mut r) = running {
            if let Some(fib) = r.fib.take() {
                // Over a graceful restart forwarding goes on as it was.
                fib.stop(if graceful {
                    FibStop::GracefulRestart
                } else {
                    FibStop::Shutdown
                });
            }
            for (addr, n) in r.neighbors {
                let _ = if graceful {
                    n.handle.stop_graceful()
                } else {
                    n.handle.stop()
                };
                self.inner.listener.remove_peer(addr);
            }
        }
    }

    /// Adds a neighbor or applies its changed settings (the session decides
    /// whether the change needs a reset).
    pub fn set_neighbor(&self, neighbor: ResolvedNeighbor) -> Result<(), EngineError> {
        let _rt = self.inner.runtime.enter();
        let policies = self.policies();
        let mut guard = self.running();
        let r = guard.as_mut().ok_or(EngineError::NotRunning)?;
        let addr = neighbor.session.remote;
        match r.neighbors.get_mut(&addr) {
            Some(n) => {
                if n.config.password != neighbor.session.password {
                    let _ = self.inner.listener.add_peer(
                        addr,
                        n.handle.clone(),
                        neighbor.session.password.clone(),
                    );
                }
                if peer_info(&n.resolved()) != peer_info(&neighbor) {
                    // Export rules move an established peer to another
                    // update group with only the difference sent.
                    r.rib.send(RibCommand::SetPeer(n.idx, peer_info(&neighbor)));
                }
                if n.rs_client != neighbor.rs_client {
                    // Another update group and export rules: a new session.
                    let _ = n.handle.reset();
                }
                if n.limits != neighbor.limits {
                    r.rib.send(RibCommand::SetLimits(
                        n.idx,
                        neighbor.limits,
                        n.handle.clone(),
                    ));
                }
                let _ = n.handle.set_config(neighbor.session.clone());
                n.take(neighbor);
                apply_chains(&r.rib, &mut r.chains, n, &policies, None);
            }
            None => start_neighbor(r, &self.inner, neighbor, &policies),
        }
        Ok(())
    }

    /// The compiled routing policy in force.
    pub fn policies(&self) -> Policies {
        self.inner
            .policies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts new routing policy in force: every neighbor whose chains now
    /// behave differently has them re-run over its routes (soft
    /// reconfiguration in and out); the others are not touched.
    pub fn set_policies(&self, policies: Policies) {
        let within = {
            let mut in_force = self
                .inner
                .policies
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let within = policies.changed_within(&in_force);
            *in_force = policies.clone();
            within
        };
        let mut guard = self.running();
        let Some(r) = guard.as_mut() else { return };
        if let Some(fib) = &r.fib {
            fib.set_policy(redistribution(&r.global, policies.clone()));
        }
        r.chains.clear();
        for n in r.neighbors.values_mut() {
            apply_chains(&r.rib, &mut r.chains, n, &policies, within.clone());
        }
    }

    /// Removes a neighbor: its session ends with Cease/Peer De-configured
    /// and its routes are withdrawn.
    pub fn remove_neighbor(&self, addr: IpAddr) {
        let mut guard = self.running();
        let Some(r) = guard.as_mut() else { return };
        if let Some(n) = r.neighbors.remove(&addr) {
            let _ = n.handle.stop();
            self.inner.listener.remove_peer(addr);
            r.rib.send(RibCommand::RemovePeer(n.idx));
            r.free.push(n.idx);
        }
    }

    /// Announces a route of our own (GoBGP's AddPath): `next_hop` None in
    /// `attrs` means next hop self.
    pub fn add_path(&self, prefix: IpNet, attrs: PathAttrs) -> Result<(), EngineError> {
        let guard = self.running();
        let r = guard.as_ref().ok_or(EngineError::NotRunning)?;
        r.rib
            .send(RibCommand::Originate(prefix.trunc(), Box::new(attrs)));
        Ok(())
    }

    /// Withdraws a route of our own (GoBGP's DeletePath).
    pub fn delete_path(&self, prefix: IpNet) -> Result<(), EngineError> {
        let guard = self.running();
        let r = guard.as_ref().ok_or(EngineError::NotRunning)?;
        r.rib.send(RibCommand::WithdrawOriginated(prefix.trunc()));
        Ok(())
    }

    /// Clears a neighbor's session (the operator's `clear bgp neighbor`).
    /// Returns once the work is queued to the session or RIB task.
    pub fn clear_neighbor(&self, addr: IpAddr, mode: ClearMode) -> Result<(), EngineError> {
        let guard = self.running();
        let r = guard.as_ref().ok_or(EngineError::NotRunning)?;
        let n = r
            .neighbors
            .get(&addr)
            .ok_or(EngineError::UnknownNeighbor(addr))?;
        match mode {
            ClearMode::Hard => {
                let _ = n.handle.reset();
            }
            ClearMode::SoftIn => {
                r.rib.send(RibCommand::Reimport(vec![n.idx]));
            }
            ClearMode::SoftOut => {
                let idx = n.idx;
                let families: Vec<_> = n.config.families.iter().map(|f| f.family).collect();
                r.rib.send(RibCommand::Run(Box::new(move |rib| {
                    for family in families {
                        rib.refresh(idx, family, false);
                    }
                })));
            }
        }
        tracing::info!(peer = %addr, ?mode, "neighbor cleared");
        Ok(())
    }

    /// The configured neighbors.
    pub fn neighbors(&self) -> Vec<(IpAddr, Neighbor)> {
        let guard = self.running();
        let mut out: Vec<_> = guard
            .as_ref()
            .map(|r| {
                r.neighbors
                    .iter()
                    .map(|(a, n)| (*a, Neighbor::clone(n)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|(a, _)| *a);
        out
    }

    /// One neighbor.
    pub fn neighbor(&self, addr: IpAddr) -> Option<Neighbor> {
        self.running()
            .as_ref()?
            .neighbors
            .get(&addr)
            .map(|n| Neighbor::clone(n))
    }

    /// The RIB task, for reads; None while BGP is not configured.
    pub fn rib(&self) -> Option<RibHandle> {
        self.running().as_ref().map(|r| r.rib.clone())
    }

    /// The global settings in effect.
    pub fn global(&self) -> Option<GlobalSettings> {
        self.running().as_ref().map(|r| r.global.clone())
    }

    /// Starts a BMP station or applies its changed settings (the others
    /// are not touched).
    pub fn set_bmp_station(&self, settings: StationSettings) {
        let _rt = self.inner.runtime.enter();
        self.inner.bmp.set(settings);
    }

    /// Stops a BMP station: it is sent Termination.
    pub fn remove_bmp_station(&self, key: StationKey) {
        self.inner.bmp.remove(key);
    }

    /// The BMP stations with their counters.
    pub fn bmp_stations(&self) -> Vec<StationView> {
        self.inner.bmp.list()
    }

    /// Stops every BMP station, waiting at most `limit` for their
    /// Termination messages to go out (the daemon's shutdown).
    pub async fn stop_bmp(&self, limit: std::time::Duration) {
        self.inner.bmp.stop_all(limit).await;
    }

    /// Starts an MRT dump or applies its changed settings.
    pub fn set_mrt_dump(&self, settings: DumpSettings) {
        let _rt = self.inner.runtime.enter();
        self.inner.mrt.set(settings);
    }

    /// Stops an MRT dump.
    pub fn remove_mrt_dump(&self, name: &str) {
        self.inner.mrt.remove(name);
    }

    /// The MRT dumps with their counters.
    pub fn mrt_dumps(&self) -> Vec<DumpView> {
        self.inner.mrt.list()
    }

    /// Stops every MRT dump, waiting at most `limit` for files to be
    /// flushed (the daemon's shutdown).
    pub async fn stop_mrt(&self, limit: std::time::Duration) {
        self.inner.mrt.stop_all(limit).await;
    }

    /// Every neighbor's session state changes from now on, as they happen.
    /// The receiver holds the last [`STATE_CHANGES_QUEUED`] changes it has
    /// not read; past that it reports `Lagged` with the number missed and
    /// goes on with the newest (read [`Engine::neighbors`] for the states
    /// then).
    pub fn watch_states(&self) -> tokio::sync::broadcast::Receiver<StateChange> {
        self.inner.states.subscribe()
    }

    /// The socket addresses the BGP listener has bound.
    pub fn listening(&self) -> Vec<std::net::SocketAddr> {
        self.inner.listener.local_addrs()
    }
}

fn peer_info(n: &ResolvedNeighbor) -> PeerInfo {
    PeerInfo {
        kind: if n.session.is_internal() {
            SourceKind::Internal
        } else {
            SourceKind::External
        },
        address: n.session.remote,
        // Learned from the OPEN; the RIB updates it then.
        router_id: Ipv4Addr::UNSPECIFIED,
        asn: n.session.peer_as,
        rr_client: n.rr_client,
        rs_client: n.rs_client,
        cluster_id: n.cluster_id,
        inbound: Inbound {
            local_asn: n.session.local_asn(),
            ..n.inbound
        },
        outbound: n.outbound,
    }
}

/// Builds a neighbor's chains from its specs; tells the RIB when they
/// differ from the ones in force. `within`: where routes can be judged
/// differently now (see [`Policies::changed_within`]), `None` anywhere.
fn apply_chains(
    rib: &RibHandle,
    cache: &mut Vec<(Chain, SharedPolicy)>,
    n: &mut Neighbor,
    policies: &Policies,
    within: Option<Arc<[IpNet]>>,
) {
    let build = |spec: &Option<PolicySpec>| -> Option<Chain> {
        let spec = spec.as_ref()?;
        match policies.chain(&spec.names, spec.default) {
            Ok(c) => Some(c),
            Err(e) => {
                // Prepare checked the names; a chain that still fails
                // rejects everything rather than accepting by mistake.
                tracing::error!(error = %e, "policy chain unusable, rejecting");
                Some(Chain::only_default(DefaultPolicy::Reject))
            }
        }
    };
    let chains = (
        build(&n.import),
        build(&n.export),
        n.add_path_eligible.each_ref().map(build),
    );
    if chains != n.chains {
        let mut shared = |c: &Option<Chain>| {
            let c = c.as_ref()?;
            if let Some((_, p)) = cache.iter().find(|(k, _)| k == c) {
                return Some(p.clone());
            }
            let p = SharedPolicy(Arc::new(c.clone()));
            cache.push((c.clone(), p.clone()));
            Some(p)
        };
        let policies = PeerPolicies {
            import: shared(&chains.0),
            export: shared(&chains.1),
            add_path_eligible: [shared(&chains.2[0]), shared(&chains.2[1])],
            // An import chain that behaves as before is not run again.
            import_within: if chains.0 == n.chains.0 {
                Some(Arc::from([]))
            } else {
                within
            },
        };
        rib.send(RibCommand::SetPolicies(n.idx, policies));
        n.chains = chains;
    }
}

/// What redistributed routes' import policies run with.
fn redistribution(global: &GlobalSettings, policies: Policies) -> RedistributionPolicy {
    RedistributionPolicy {
        policies,
        asn: global.asn,
        router_id: global.router_id,
    }
}

/// Starts the forwarding table `settings` asks for, following `rib`.
fn start_fib(
    settings: Option<FibSettings>,
    rib: &RibHandle,
    restart: &Arc<RestartState>,
    policy: RedistributionPolicy,
) -> Option<Fib> {
    let settings = settings?;
    match Fib::prepare(&settings) {
        Ok(prepared) => Some(Fib::start(
            settings,
            prepared,
            rib.clone(),
            restart.clone(),
            policy,
        )),
        Err(e) => {
            tracing::error!(error = %e, "forwarding table: cannot open netlink; nothing is installed");
            None
        }
    }
}

fn start_neighbor(r: &mut Running, inner: &Inner, neighbor: ResolvedNeighbor, policies: &Policies) {
    let listener = &inner.listener;
    let idx = r.free.pop().unwrap_or_else(|| {
        let idx = PeerIdx(r.next_idx);
        r.next_idx += 1;
        idx
    });
    r.rib.send(RibCommand::SetPeer(idx, peer_info(&neighbor)));
    if r.restart.restarting()
        && !neighbor.session.dynamic
        && neighbor.session.graceful_restart.is_some()
    {
        // Our restart waits for its End-of-RIB (RFC 4724 4.1).
        r.rib.send(RibCommand::ExpectEndOfRib(idx));
    }
    let addr = neighbor.session.remote;
    let stats = Arc::new(PeerStats::watched(addr, inner.states.clone()));
    let handle = session::spawn(
        idx,
        neighbor.session.clone(),
        r.rib.events(),
        stats.clone(),
        r.restart.clone(),
    );
    if let Err(e) = listener.add_peer(addr, handle.clone(), neighbor.session.password.clone()) {
        tracing::warn!(peer = %addr, error = %e, "cannot set the TCP MD5 key on the listener");
    }
    if neighbor.limits != [FamilyLimits::default(); 2] {
        r.rib
            .send(RibCommand::SetLimits(idx, neighbor.limits, handle.clone()));
    }
    let mut n = Neighbor {
        idx,
        handle,
        stats,
        config: neighbor.session.clone(),
        rr_client: false,
        rs_client: false,
        import: None,
        export: None,
        add_path_eligible: Default::default(),
        cluster_id: None,
        inbound: neighbor.inbound,
        outbound: neighbor.outbound,
        limits: neighbor.limits,
        chains: Default::default(),
    };
    n.take(neighbor);
    apply_chains(&r.rib, &mut r.chains, &mut n, policies, None);
    r.neighbors.insert(addr, Box::new(n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::SelectionOptions;

    #[tokio::test]
    async fn clearing_needs_bgp_and_a_configured_neighbor() {
        let engine = Engine::new(tokio::runtime::Handle::current());
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(matches!(
            engine.clear_neighbor(peer, ClearMode::Hard),
            Err(EngineError::NotRunning)
        ));
        let listen = ListenSettings {
            enabled: false,
            addresses: Vec::new(),
            port: 179,
        };
        let global = GlobalSettings {
            asn: 65001,
            router_id: Ipv4Addr::new(192, 0, 2, 9),
            listen,
            selection: SelectionOptions::default(),
            client_to_client: true,
            selection_deferral: 120,
            fib: None,
            rpki: Vec::new(),
        };
        engine.set_global(global).unwrap();
        for mode in [ClearMode::Hard, ClearMode::SoftIn, ClearMode::SoftOut] {
            assert!(
                matches!(engine.clear_neighbor(peer, mode), Err(EngineError::UnknownNeighbor(a)) if a == peer)
            );
        }
        engine.stop();
    }
}
