//! The forwarding table: best paths of the Loc-RIB installed into the
//! kernel (`ocbgp:fib`, off by default so route servers and reflectors stay
//! pure control plane).
//!
//! A task follows what the Loc-RIB forwards ([`RouteChange::Forwarding`]:
//! for each prefix that changed, the next hops of its best path, or of
//! its multipath set with `use-multiple-paths`; bounded: when it falls
//! behind it reads the Loc-RIB again) and hands the differences from what
//! is installed to the backend. It keeps no copy of the paths: what is
//! installed ([`Installed`]) is all it holds per prefix. The kernel
//! never holds up BGP: a slow kernel only makes the feed lag, which costs
//! a resync. Routes of ours left from a
//! previous run (protocol `bgp` in the table) are adopted at start and
//! swept once the speaker has converged (its own graceful restart over);
//! on a clean stop they are removed unless `keep-on-shutdown` is set.
//!
//! The zebra backend ([`zebra`]) follows the same feed into FRR's zebra
//! instead, which resolves next hops and installs the routes itself.

mod netlink;
pub mod zebra;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::watch;

use crate::restart::RestartState;
use crate::rib::{RouteChange, RouteKey, V4Key, V6Key};
use crate::rib_task::{RibCommand, RibHandle};

pub use netlink::Netlink;
pub use zebra::{Protocol, Redistribute, ZebraSettings};

/// What redistributed routes' import policies need: the routing policy in
/// force and who "we" are (the policies' view of a local route).
#[derive(Debug, Clone)]
pub struct RedistributionPolicy {
    /// The compiled routing policy.
    pub policies: crate::policy::Policies,
    /// Our AS.
    pub asn: u32,
    /// Our router id.
    pub router_id: std::net::Ipv4Addr,
}

/// Where best paths go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibBackend {
    /// The kernel, over netlink.
    Netlink,
    /// FRR's zebra, over ZAPI.
    Zebra(ZebraSettings),
}

/// How the forwarding table is kept (`bgp/global/ocbgp:fib/config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibSettings {
    /// The backend.
    pub backend: FibBackend,
    /// The kernel routing table (254: main).
    pub table: u32,
    /// The routes' metric (priority).
    pub metric: u32,
    /// Leave the routes in the kernel when the daemon stops.
    pub keep_on_shutdown: bool,
}

/// Why a forwarding table stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FibStop {
    /// Its settings changed or it was turned off: its routes go.
    Reconfigured,
    /// The daemon stops: its routes go unless `keep-on-shutdown`.
    Shutdown,
    /// The daemon stops to restart gracefully: forwarding stays as it is
    /// and the next run adopts the routes.
    GracefulRestart,
}

/// Counters of the forwarding table, for the model's state.
#[derive(Debug, Default)]
pub struct FibStats {
    /// Routes in the kernel (or in zebra's FIB), with their next hops.
    pub installed: Installed,
    /// Routes the kernel refused (next hop unreachable, ...), retried.
    pub failed: AtomicU64,
    /// Zebra backend: connected to zebra.
    pub connected: AtomicBool,
    /// Zebra backend: why the last connection failed or ended.
    pub last_error: Mutex<Option<String>>,
}

/// The routes a backend has installed, as it last heard, by prefix with
/// the next hops it installed them with; shared with the state readers
/// (the Loc-RIB's `ocbgp:fib-installed`) under a lock the backend takes
/// only to write.
#[derive(Debug, Default)]
pub struct Installed(RwLock<InstalledMap>);

impl Installed {
    /// Whether `net` is installed.
    pub fn contains(&self, net: &IpNet) -> bool {
        self.read().contains(net)
    }

    /// How many routes are.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, InstalledMap> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, InstalledMap> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, net: &IpNet) -> Option<Gateways> {
        self.read().get(net).cloned()
    }

    fn insert(&self, net: IpNet, gateways: Gateways) {
        self.write().insert(net, gateways);
    }

    fn remove(&self, net: &IpNet) {
        self.write().remove(net);
    }

    pub(crate) fn prefixes(&self) -> Vec<IpNet> {
        self.read().prefixes()
    }

    pub(crate) fn clear(&self) {
        self.write().clear();
    }
}

/// Installed routes in compact form: the RIB's keys, and for next hops
/// the number of their set (a full table has a handful of distinct sets):
/// 16 octets a route, not the 56 of a prefix and its next hops.
#[derive(Debug, Default)]
struct InstalledMap {
    v4: HashMap<V4Key, u32>,
    v6: HashMap<V6Key, u32>,
    sets: GatewaySets,
}

impl InstalledMap {
    fn contains(&self, net: &IpNet) -> bool {
        match *net {
            IpNet::V4(n) => self.v4.contains_key(&V4Key::new(n)),
            IpNet::V6(n) => self.v6.contains_key(&V6Key::new(n)),
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    fn get(&self, net: &IpNet) -> Option<&Gateways> {
        let id = match *net {
            IpNet::V4(n) => self.v4.get(&V4Key::new(n)),
            IpNet::V6(n) => self.v6.get(&V6Key::new(n)),
        }?;
        Some(self.sets.get(*id))
    }

    fn insert(&mut self, net: IpNet, gateways: Gateways) {
        let id = self.sets.acquire(gateways);
        let old = match net {
            IpNet::V4(n) => self.v4.insert(V4Key::new(n), id),
            IpNet::V6(n) => self.v6.insert(V6Key::new(n), id),
        };
        if let Some(old) = old {
            self.sets.release(old);
        }
    }

    fn remove(&mut self, net: &IpNet) {
        let old = match *net {
            IpNet::V4(n) => self.v4.remove(&V4Key::new(n)),
            IpNet::V6(n) => self.v6.remove(&V6Key::new(n)),
        };
        if let Some(old) = old {
            self.sets.release(old);
        }
    }

    fn prefixes(&self) -> Vec<IpNet> {
        let v4 = self.v4.keys().map(|k| k.to_net());
        let v6 = self.v6.keys().map(|k| k.to_net());
        v4.chain(v6).collect()
    }

    fn clear(&mut self) {
        *self = InstalledMap::default();
    }
}

/// Distinct next-hop sets, numbered, each with the count of routes using
/// it; a set no route uses is forgotten and its number reused.
#[derive(Debug, Default)]
struct GatewaySets {
    numbers: HashMap<Gateways, u32>,
    sets: Vec<(Gateways, usize)>,
    free: Vec<u32>,
}

impl GatewaySets {
    /// The number of `gateways`, counted once more.
    fn acquire(&mut self, gateways: Gateways) -> u32 {
        if let Some(&id) = self.numbers.get(&gateways) {
            self.sets[id as usize].1 += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[id as usize] = (gateways.clone(), 1);
                id
            }
            None => {
                self.sets.push((gateways.clone(), 1));
                (self.sets.len() - 1) as u32
            }
        };
        self.numbers.insert(gateways, id);
        id
    }

    /// One route less uses set `id`.
    fn release(&mut self, id: u32) {
        let (gateways, users) = &mut self.sets[id as usize];
        *users -= 1;
        if *users == 0 {
            self.numbers.remove(gateways);
            *gateways = Gateways::new();
            self.free.push(id);
        }
    }

    fn get(&self, id: u32) -> &Gateways {
        &self.sets[id as usize].0
    }
}

impl FibStats {
    /// Tells the RIB whether each of `nets` is installed now.
    pub(crate) fn tell(&self, rib: &RibHandle, nets: Vec<IpNet>) {
        if nets.is_empty() {
            return;
        }
        let installed = self.installed.read();
        let nets = nets
            .into_iter()
            .map(|n| (n, installed.contains(&n)))
            .collect();
        drop(installed);
        rib.send(RibCommand::FibInstalled(nets));
    }
}

/// A backend opened in the prepare step of a commit, with the thread the
/// table will run on.
pub enum Prepared {
    /// The netlink socket.
    Netlink(Netlink, FibThread),
    /// Zebra: connected by the task (zebra absent is no commit failure).
    Zebra(FibThread),
}

/// The thread a forwarding table runs on: a runtime of its own, with one
/// worker. On the shared runtime the table's task, woken by the RIB task,
/// waits in that worker's own slot (which no other worker takes) until the
/// RIB task gives the worker up, which it does not while a table arrives:
/// the kernel got its first route seconds late. On a thread of its own
/// the table runs as soon as it has work, and BGP never waits for it.
pub struct FibThread(Option<tokio::runtime::Runtime>);

impl FibThread {
    fn new() -> std::io::Result<FibThread> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ocbgp-fib")
            .enable_all()
            .build()?;
        Ok(FibThread(Some(runtime)))
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(|r| r.handle())
    }

    fn spawn(
        &self,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        match self.handle() {
            Some(h) => h.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// Lets `task` finish (removing its routes if told to), then ends the
    /// thread; from a plain thread, since a runtime may not be dropped
    /// where it would block an async one.
    fn finish(mut self, task: tokio::task::JoinHandle<()>) {
        if let Some(runtime) = self.0.take() {
            std::thread::spawn(move || {
                let _ = runtime.block_on(task);
            });
        }
    }
}

impl Drop for FibThread {
    fn drop(&mut self) {
        // Unused (a commit refused after the prepare step): ends at once,
        // without blocking whoever drops it.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// How often refused routes are tried again (their next hop may have
/// become reachable).
const RETRY: Duration = Duration::from_secs(5);
/// How long the kernel's route changes may settle before next hops are
/// looked up again.
const SETTLE: Duration = Duration::from_millis(200);

/// The next kernel notification, or never without a monitor.
async fn next_event(
    events: &mut Option<netlink::RouteEvents>,
) -> Option<<netlink::RouteEvents as futures::Stream>::Item> {
    match events {
        Some(e) => futures::StreamExt::next(e).await,
        None => std::future::pending().await,
    }
}

/// Changes a forwarding table's feed queues before it counts as lagged:
/// room for a full table, so that taking one in costs no re-reads of the
/// whole RIB (each a pass over every prefix); the queue only fills while
/// the kernel (or zebra) is behind.
const FIB_FEED_CAPACITY: usize = 1 << 20;

/// A previous run's routes nobody claimed are swept no earlier than this
/// after start (and once the speaker's own restart is over): the peers
/// have had time to send their tables.
const SWEEP_AFTER: Duration = Duration::from_secs(60);

/// A running forwarding table.
pub struct Fib {
    settings: FibSettings,
    stats: Arc<FibStats>,
    stop: watch::Sender<bool>,
    policy: watch::Sender<RedistributionPolicy>,
    task: tokio::task::JoinHandle<()>,
    thread: FibThread,
}

impl Fib {
    /// Opens the kernel side (fails without the permission to change
    /// routes, in the prepare step of a commit).
    pub fn prepare(settings: &FibSettings) -> std::io::Result<Prepared> {
        let thread = FibThread::new()?;
        match settings.backend {
            FibBackend::Netlink => {
                // Its sockets and tasks belong to the table's runtime.
                let kernel = match thread.handle() {
                    Some(h) => {
                        let _on = h.enter();
                        Netlink::open(settings)?
                    }
                    None => Netlink::open(settings)?,
                };
                Ok(Prepared::Netlink(kernel, thread))
            }
            FibBackend::Zebra(_) => Ok(Prepared::Zebra(thread)),
        }
    }

    /// Starts following `rib` into the backend.
    pub fn start(
        settings: FibSettings,
        prepared: Prepared,
        rib: RibHandle,
        restart: Arc<RestartState>,
        policy: RedistributionPolicy,
    ) -> Fib {
        let stats = Arc::new(FibStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let (policy, policy_rx) = watch::channel(policy);
        let (task, thread) = match (prepared, &settings.backend) {
            (Prepared::Zebra(thread), FibBackend::Zebra(z)) => {
                tracing::info!(
                    socket = %z.socket.display(),
                    "forwarding table: handing best paths to zebra"
                );
                let task = thread.spawn(zebra::run(
                    z.clone(),
                    settings.metric,
                    rib,
                    stats.clone(),
                    stop_rx,
                    policy_rx,
                ));
                (task, thread)
            }
            (Prepared::Netlink(kernel, thread), _) => {
                tracing::info!(
                    table = settings.table,
                    metric = settings.metric,
                    "forwarding table: installing best paths into the kernel"
                );
                let task = thread.spawn(run(kernel, rib, restart, stats.clone(), stop_rx));
                (task, thread)
            }
            // `prepare` opened what the settings name.
            (Prepared::Zebra(thread), FibBackend::Netlink) => (thread.spawn(async {}), thread),
        };
        Fib {
            settings,
            stats,
            stop,
            policy,
            task,
            thread,
        }
    }

    /// New routing policy (or AS): redistributed routes go through their
    /// import policies again.
    pub fn set_policy(&self, policy: RedistributionPolicy) {
        self.policy.send_replace(policy);
    }

    /// Its settings.
    pub fn settings(&self) -> &FibSettings {
        &self.settings
    }

    /// Its counters.
    pub fn stats(&self) -> &Arc<FibStats> {
        &self.stats
    }

    /// Stops following the RIB; whether the routes leave the kernel
    /// depends on why.
    pub fn stop(self, why: FibStop) {
        let remove = match why {
            FibStop::Reconfigured => true,
            FibStop::Shutdown => !self.settings.keep_on_shutdown,
            FibStop::GracefulRestart => false,
        };
        let _ = self.stop.send(remove);
        // The task removes what it installed, then ends, and its thread.
        self.thread.finish(self.task);
    }
}

/// Next hops as the kernel gets them: one, or an ECMP set in a stable
/// order (so an unchanged set is not replaced).
type Gateways = crate::rib::NextHops;

/// How many prefixes one look at the RIB covers: the RIB task stays
/// responsive while a full table is synced, and the answer stays small.
const LOOKUP_CHUNK: usize = 4096;

/// What the Loc-RIB forwards now for each of `nets`: its forwarding next
/// hops (empty: nothing). For a resync; in between, the feed's
/// [`RouteChange::Forwarding`] says the same of each prefix that changed,
/// so the tables keep no copy of the RIB.
async fn next_hops_of(rib: &RibHandle, nets: Vec<IpNet>) -> Option<Vec<(IpNet, Gateways)>> {
    rib.query(move |rib| {
        nets.into_iter()
            .map(|net| {
                let dest = match net {
                    IpNet::V4(v4) => rib.v4().get(crate::rib::V4Key::new(v4)),
                    IpNet::V6(v6) => rib.v6().get(crate::rib::V6Key::new(v6)),
                };
                let hops = dest
                    .map(|d| rib.forwarding_next_hops(d))
                    .unwrap_or_default();
                (net, hops)
            })
            .collect()
    })
    .await
}

/// Every prefix the Loc-RIB forwards (start, lag, the kernel's routes
/// changed).
async fn forwarded(rib: &RibHandle) -> Option<Vec<IpNet>> {
    rib.query(|rib| {
        let v4 = rib
            .v4()
            .range_from(None)
            .filter(|(_, d)| !rib.forwarding_next_hops(d).is_empty())
            .map(|(k, _)| crate::rib::RouteKey::to_net(*k));
        let v6 = rib
            .v6()
            .range_from(None)
            .filter(|(_, d)| !rib.forwarding_next_hops(d).is_empty())
            .map(|(k, _)| crate::rib::RouteKey::to_net(*k));
        v4.chain(v6).collect()
    })
    .await
}

/// A batch of the feed: what the touched prefixes are forwarded by now
/// (the last word on each), and whether changes were lost.
fn forwarding_changes(batch: &mut Vec<RouteChange>) -> (Vec<(IpNet, Gateways)>, bool) {
    let mut now: HashMap<IpNet, Gateways> = HashMap::new();
    let mut lagged = false;
    for change in batch.drain(..) {
        match change {
            RouteChange::Forwarding { net, next_hops } => {
                now.insert(net, next_hops);
            }
            RouteChange::Lagged => lagged = true,
            _ => {}
        }
    }
    (now.into_iter().collect(), lagged)
}

/// The table's state and its reconciliation with the kernel.
struct Table {
    kernel: Netlink,
    /// Routes the kernel refused, tried again later.
    failed: HashSet<IpNet>,
    /// Routes of a previous run not claimed yet.
    adopted: HashSet<IpNet>,
    /// Next-hop tracking: how the kernel reaches each next hop in use
    /// (`None`: it does not), told to the RIB when it changes.
    resolved: HashMap<IpAddr, Option<IpAddr>>,
    rib: RibHandle,
    stats: Arc<FibStats>,
}

impl Table {
    /// How the kernel reaches `next_hop`, looked up once and then kept
    /// until the kernel's routes change; a next hop found unreachable is
    /// told to the RIB (its paths become ineligible).
    async fn resolve(&mut self, next_hop: IpAddr) -> Option<IpAddr> {
        if let Some(r) = self.resolved.get(&next_hop) {
            return *r;
        }
        let r = self.kernel.resolve(next_hop).await.ok().flatten();
        self.resolved.insert(next_hop, r);
        if r.is_none() {
            tracing::info!(%next_hop, "next-hop tracking: next hop unreachable, its paths are not eligible");
            self.rib
                .send(RibCommand::NextHops(vec![next_hop], Vec::new()));
        }
        r
    }

    /// The kernel's routes changed: every next hop is looked up again; the
    /// RIB hears which changed reachability, and the installed routes
    /// follow their next hops' new gateways.
    async fn reresolve(&mut self) {
        let mut lost = Vec::new();
        let mut back = Vec::new();
        let next_hops: Vec<IpAddr> = self.resolved.keys().copied().collect();
        for nh in next_hops {
            let now = self.kernel.resolve(nh).await.ok().flatten();
            let before = self.resolved.insert(nh, now).flatten();
            match (before.is_some(), now.is_some()) {
                (true, false) => lost.push(nh),
                (false, true) => back.push(nh),
                _ => {}
            }
        }
        if !lost.is_empty() || !back.is_empty() {
            tracing::info!(unreachable = ?lost, reachable = ?back, "next-hop tracking: next hops changed");
            self.rib.send(RibCommand::NextHops(lost, back));
        }
        self.resync().await;
    }

    /// What the kernel should hold for a prefix whose forwarding paths
    /// have these next hops: the gateways the kernel reaches them by.
    async fn desired(&mut self, next_hops: Gateways) -> Option<Gateways> {
        let mut out = Gateways::new();
        for nh in next_hops {
            if let Some(gw) = self.resolve(nh).await {
                out.push(gw);
            }
        }
        out.sort();
        out.dedup();
        (!out.is_empty()).then_some(out)
    }

    /// Brings the kernel in line for `nets`; the RIB hears where each
    /// stands (the Loc-RIB's `ocbgp:fib-installed` for ON_CHANGE readers).
    /// The changes go to the kernel in batches ([`netlink::BATCH`] requests
    /// a write), not one request and its ack at a time.
    async fn sync(&mut self, nets: impl IntoIterator<Item = IpNet>) {
        let nets: Vec<IpNet> = nets.into_iter().collect();
        for chunk in nets.chunks(LOOKUP_CHUNK) {
            let Some(looked) = next_hops_of(&self.rib, chunk.to_vec()).await else {
                return;
            };
            self.sync_chunk(looked).await;
        }
    }

    /// [`Table::sync`] for prefixes looked up in the RIB.
    async fn sync_chunk(&mut self, looked: Vec<(IpNet, Gateways)>) {
        let mut seen = Vec::new();
        // What to change: the prefix, the route it should have (`None`:
        // none), whether one is installed now.
        let mut changes: Vec<(IpNet, Option<Gateways>, bool)> = Vec::new();
        for (net, next_hops) in looked {
            seen.push(net);
            let want = self.desired(next_hops).await;
            let have = self.stats.installed.get(&net);
            if want == have {
                self.failed.remove(&net);
                continue;
            }
            // A previous run's route stays until the sweep: the RIB may
            // not have converged yet.
            if want.is_none() && self.adopted.contains(&net) {
                continue;
            }
            changes.push((net, want, have.is_some()));
        }
        for chunk in changes.chunks(netlink::BATCH) {
            let request: Vec<netlink::Change<'_>> = chunk
                .iter()
                .map(|(net, want, _)| (*net, want.as_deref()))
                .collect();
            let results = self.kernel.apply(&request).await;
            // Installed routes whose new next hops the kernel refused: the
            // old next hops are wrong now, they are taken out.
            let mut wrong = Vec::new();
            {
                let mut installed = self.stats.installed.write();
                for ((net, want, had), result) in chunk.iter().zip(results) {
                    match (want, result) {
                        (Some(gws), Ok(())) => {
                            installed.insert(*net, gws.clone());
                            self.failed.remove(net);
                            self.adopted.remove(net);
                        }
                        (Some(gws), Err(e)) => {
                            if self.failed.insert(*net) {
                                tracing::debug!(%net, gateways = ?gws, error = %e, "forwarding table: route refused by the kernel");
                            }
                            if *had {
                                wrong.push(*net);
                                installed.remove(net);
                            }
                        }
                        (None, result) => {
                            self.failed.remove(net);
                            if result.is_ok() || *had {
                                installed.remove(net);
                            }
                        }
                    }
                }
            }
            if !wrong.is_empty() {
                let request: Vec<netlink::Change<'_>> =
                    wrong.iter().map(|net| (*net, None)).collect();
                let _ = self.kernel.apply(&request).await;
            }
        }
        self.publish();
        self.stats.tell(&self.rib, seen);
    }

    fn publish(&self) {
        self.stats
            .failed
            .store(self.failed.len() as u64, Ordering::Relaxed);
    }

    /// Everything again (start, lag).
    async fn resync(&mut self) {
        let Some(forwarded) = forwarded(&self.rib).await else {
            return;
        };
        let mut nets: HashSet<IpNet> = forwarded.into_iter().collect();
        nets.extend(self.stats.installed.prefixes());
        self.sync(nets).await;
    }

    /// Removes what a previous run left and nobody claimed.
    async fn sweep_adopted(&mut self) {
        let adopted: Vec<IpNet> = self.adopted.drain().collect();
        let mut left = Vec::new();
        for chunk in adopted.chunks(LOOKUP_CHUNK) {
            let Some(looked) = next_hops_of(&self.rib, chunk.to_vec()).await else {
                return;
            };
            left.extend(
                looked
                    .into_iter()
                    .filter(|(_, hops)| hops.is_empty())
                    .map(|(net, _)| net),
            );
        }
        if !left.is_empty() {
            tracing::info!(
                routes = left.len(),
                "forwarding table: removing routes of a previous run"
            );
        }
        let request: Vec<netlink::Change<'_>> = left.iter().map(|net| (*net, None)).collect();
        let _ = self.kernel.apply(&request).await;
        for net in &left {
            self.stats.installed.remove(net);
        }
        self.publish();
    }

    /// The table stops: next hops are judged no more, so those found
    /// unreachable no longer make their paths ineligible.
    fn forget_next_hops(&mut self) {
        let lost: Vec<IpAddr> = self
            .resolved
            .drain()
            .filter(|(_, r)| r.is_none())
            .map(|(nh, _)| nh)
            .collect();
        if !lost.is_empty() {
            self.rib.send(RibCommand::NextHops(Vec::new(), lost));
        }
    }

    async fn remove_all(&mut self) {
        let all = self.stats.installed.prefixes();
        let request: Vec<netlink::Change<'_>> = all.iter().map(|net| (*net, None)).collect();
        let _ = self.kernel.apply(&request).await;
        self.stats.installed.clear();
        self.publish();
        self.stats.tell(&self.rib, all);
    }
}

async fn run(
    mut kernel: Netlink,
    rib: RibHandle,
    restart: Arc<RestartState>,
    stats: Arc<FibStats>,
    mut stop: watch::Receiver<bool>,
) {
    let adopted = kernel.ours().await.unwrap_or_default();
    if !adopted.is_empty() {
        tracing::info!(
            routes = adopted.len(),
            "forwarding table: adopting routes of a previous run"
        );
    }
    let mut events = kernel.take_events();
    for (net, gateways) in &adopted {
        stats.installed.insert(*net, gateways.clone());
    }
    let mut table = Table {
        adopted: adopted.iter().map(|(n, _)| *n).collect(),
        kernel,
        failed: HashSet::new(),
        resolved: HashMap::new(),
        rib: rib.clone(),
        stats,
    };
    let Some(mut feed) = rib
        .query(|rib| rib.listen_forwarding(FIB_FEED_CAPACITY))
        .await
    else {
        return;
    };
    table.resync().await;
    let started = tokio::time::Instant::now();
    let mut retry = tokio::time::interval(RETRY);
    let mut batch: Vec<RouteChange> = Vec::with_capacity(1024);
    loop {
        tokio::select! {
            // A stop first: what the RIB does after it (sessions closing
            // as the daemon stops) must not reach the kernel.
            biased;
            _ = stop.changed() => {
                if *stop.borrow() {
                    table.remove_all().await;
                }
                table.forget_next_hops();
                return;
            }
            n = feed.recv_many(&mut batch, 1024) => {
                if n == 0 {
                    return;
                }
                let (now, lagged) = forwarding_changes(&mut batch);
                if lagged {
                    tracing::info!("forwarding table: fell behind the RIB, reading it again");
                    table.resync().await;
                } else {
                    table.sync_chunk(now).await;
                }
            }
            Some(first) = next_event(&mut events) => {
                // A burst of changes is one look: wait for it to settle.
                let mut relevant = !netlink::is_ours(&first.0);
                let settle = tokio::time::sleep(SETTLE);
                tokio::pin!(settle);
                loop {
                    tokio::select! {
                        _ = &mut settle => break,
                        Some(more) = next_event(&mut events) => {
                            relevant |= !netlink::is_ours(&more.0);
                        }
                    }
                }
                if relevant {
                    table.reresolve().await;
                }
            }
            _ = retry.tick() => {
                if !table.failed.is_empty() {
                    let again: Vec<IpNet> = table.failed.iter().copied().collect();
                    table.sync(again).await;
                }
                if !table.adopted.is_empty()
                    && !restart.restarting()
                    && started.elapsed() >= SWEEP_AFTER
                {
                    table.sweep_adopted().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hops(list: &[&str]) -> Gateways {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn installed_routes_share_their_next_hop_sets_and_forget_unused_ones() {
        let mut map = InstalledMap::default();
        let a = hops(&["192.0.2.1"]);
        let ecmp = hops(&["192.0.2.1", "192.0.2.2"]);
        let v6 = hops(&["2001:db8::1"]);
        map.insert("10.0.0.0/8".parse().unwrap(), a.clone());
        map.insert("10.1.0.0/16".parse().unwrap(), a.clone());
        map.insert("2001:db8:1::/48".parse().unwrap(), v6.clone());
        assert_eq!(map.len(), 3);
        assert_eq!(map.sets.numbers.len(), 2, "one set per distinct next hops");
        assert_eq!(map.get(&"10.1.0.0/16".parse().unwrap()), Some(&a));
        assert_eq!(map.get(&"2001:db8:1::/48".parse().unwrap()), Some(&v6));
        assert!(!map.contains(&"10.2.0.0/16".parse().unwrap()));

        // Replaced: the old set is still used by the other route.
        map.insert("10.1.0.0/16".parse().unwrap(), ecmp.clone());
        assert_eq!(map.get(&"10.1.0.0/16".parse().unwrap()), Some(&ecmp));
        assert_eq!(map.sets.numbers.len(), 3);
        // Its last user gone, a set is forgotten and its number reused.
        map.remove(&"10.0.0.0/8".parse().unwrap());
        assert_eq!(map.sets.numbers.len(), 2);
        map.insert("10.3.0.0/16".parse().unwrap(), hops(&["192.0.2.3"]));
        assert_eq!(map.sets.sets.len(), 3, "the freed number was reused");
        let mut prefixes = map.prefixes();
        prefixes.sort();
        assert_eq!(
            prefixes,
            ["10.1.0.0/16", "10.3.0.0/16", "2001:db8:1::/48"].map(|p| p.parse::<IpNet>().unwrap())
        );
        map.clear();
        assert_eq!(map.len(), 0);
    }
}
