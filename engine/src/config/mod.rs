//! Configuration: the engine's side of a datastore transaction. `prepare`
//! reads only what the transaction's change set touched, resolves it into
//! engine settings and may refuse; `apply` hands the result to the
//! [`Engine`].

mod resolve;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;
use ocbgp_models::config::Config;
use ocbgp_models::datastore::{ConfigConsumer, Refusal, Transaction};
use ocbgp_models::gen::types::AfiSafiType;
use ocbgp_models::gen::{ChangeSet, ListKind, Op};

pub use resolve::{
    bgp_path, graceful_restart_window, AsPathOptions, DynamicRange, GlobalSettings, ListenSettings,
    PolicySpec, ResolvedNeighbor,
};

use crate::bmp::{StationKey, StationSettings};
use crate::engine::{Engine, ListenChange};
use crate::mrt::DumpSettings;
use crate::policy::{DefaultPolicy, Policies, ROUTING_POLICY_PATH};
use crate::rib::PathAttrs;

/// A reason the configuration cannot run, with the path at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The data path at fault, when there is one.
    pub path: Option<String>,
    /// Why.
    pub reason: String,
}

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Refusal {
        Refusal {
            path: p.path,
            reason: p.reason,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// What a transaction does to the engine, worked out in prepare.
#[derive(Default)]
struct Plan {
    /// Recompiled routing policy, when it changed.
    policies: Option<Policies>,
    /// New global settings; `Some(None)` stops BGP.
    global: Option<Option<GlobalSettings>>,
    /// Neighbors to remove.
    removed: Vec<IpAddr>,
    /// Neighbors to add or change.
    neighbors: Vec<ResolvedNeighbor>,
    /// Originated routes to withdraw.
    withdrawn: Vec<IpNet>,
    /// Originated routes to announce.
    originated: Vec<(IpNet, PathAttrs)>,
    /// New dynamic-neighbor ranges, when they (or their peer groups) changed.
    dynamic: Option<Vec<DynamicRange>>,
    /// The listener's new sockets, bound in prepare (with `global`).
    listen: Option<ListenChange>,
    /// BMP stations to start or change.
    stations: Vec<StationSettings>,
    /// BMP stations to stop.
    stations_removed: Vec<StationKey>,
    /// MRT dumps to start or change.
    dumps: Vec<DumpSettings>,
    /// MRT dumps to stop, by name.
    dumps_removed: Vec<String>,
}

/// Connects the datastore to the engine.
pub struct Northbound {
    engine: Engine,
    pending: Mutex<Option<(u64, Plan)>>,
}

impl Northbound {
    /// A consumer driving `engine`.
    pub fn new(engine: Engine) -> Northbound {
        Northbound {
            engine,
            pending: Mutex::new(None),
        }
    }

    /// Brings the engine in line with a whole configuration (at start-up).
    pub fn sync(&self, config: &Config) -> Result<(), Problem> {
        let mut plan = plan_all(config)?;
        self.acquire(&mut plan)?;
        self.execute(plan);
        Ok(())
    }

    /// Acquires from the host what the plan needs (the listener's
    /// sockets), so that [`Northbound::execute`] cannot fail. Dropping the
    /// plan releases it.
    fn acquire(&self, plan: &mut Plan) -> Result<(), Problem> {
        for d in &plan.dumps {
            resolve::dump_folder(d)?;
        }
        if let Some(Some(g)) = &plan.global {
            let change = self.engine.prepare_listen(&g.listen).map_err(|e| {
                let addresses = if g.listen.addresses.is_empty() {
                    "every address".to_string()
                } else {
                    let list: Vec<String> =
                        g.listen.addresses.iter().map(|a| a.to_string()).collect();
                    list.join(", ")
                };
                Problem {
                    path: Some(listen_path(&g.listen)),
                    reason: format!("cannot listen on {addresses} port {}: {e}", g.listen.port),
                }
            })?;
            plan.listen = Some(change);
        }
        Ok(())
    }

    /// Carries a plan out. Nothing here can fail: the sockets were bound
    /// in prepare, the settings resolved and checked there.
    fn execute(&self, plan: Plan) {
        if let Some(p) = plan.policies {
            self.engine.set_policies(p);
        }
        if let Some(global) = plan.global {
            match global {
                Some(g) => {
                    let listen = plan.listen.unwrap_or(ListenChange::Keep);
                    self.engine.set_global_prepared(g, listen);
                }
                None => self.engine.stop(),
            }
        }
        for addr in plan.removed {
            self.engine.remove_neighbor(addr);
        }
        // The engine refuses these only when BGP is not running, and a plan
        // holds neighbors and routes only with BGP running (started above,
        // or running already: `plan_bgp_change` plans them from the
        // engine's current global settings).
        for n in plan.neighbors {
            let _ = self.engine.set_neighbor(n);
        }
        for prefix in plan.withdrawn {
            let _ = self.engine.delete_path(prefix);
        }
        for (prefix, attrs) in plan.originated {
            let _ = self.engine.add_path(prefix, attrs);
        }
        if let Some(ranges) = plan.dynamic {
            self.engine.set_dynamic_ranges(ranges);
        }
        // Stations are the engine's whether BGP runs or not; each is
        // started, changed or stopped alone.
        for key in plan.stations_removed {
            self.engine.remove_bmp_station(key);
        }
        for s in plan.stations {
            self.engine.set_bmp_station(s);
        }
        for name in plan.dumps_removed {
            self.engine.remove_mrt_dump(&name);
        }
        for d in plan.dumps {
            self.engine.set_mrt_dump(d);
        }
    }
}

/// The leaf a listener failure is reported at: the addresses when some
/// are listed, else the port.
fn listen_path(listen: &ListenSettings) -> String {
    let leaf = if listen.addresses.is_empty() {
        "port"
    } else {
        "address"
    };
    format!("{}/global/ocbgp:listen/config/{leaf}", bgp_path())
}

/// Checks a whole configuration as far as it can be without running it:
/// everything [`Northbound::sync`] resolves (global settings, neighbors,
/// policies, routes), and that every BGP listen address is one the host
/// has (by binding it on a free port: the configured port may be held by
/// a running ocbgpd). Whether the configured port is free is only known
/// to the live daemon. For `ocbgpd --check`; `host` false leaves the
/// addresses out (a file meant for another machine).
pub fn check(config: &Config, host: bool) -> Result<(), Problem> {
    let plan = plan_all(config)?;
    if !host {
        return Ok(());
    }
    for d in &plan.dumps {
        resolve::dump_folder(d)?;
    }
    if let Some(Some(g)) = &plan.global {
        if g.listen.enabled {
            for &ip in &g.listen.addresses {
                crate::transport::address_present(ip).map_err(|e| Problem {
                    path: Some(listen_path(&g.listen)),
                    reason: format!("cannot listen on {ip}: {e}"),
                })?;
            }
        }
    }
    Ok(())
}

/// Checks that every neighbor's chains, and the import policies of
/// redistributed routes, can be built from `policies`.
fn check_chains(plan: &Plan, policies: &Policies) -> Result<(), Problem> {
    use crate::fib::{FibBackend, FibSettings};
    if let Some(Some(GlobalSettings {
        fib: Some(FibSettings {
            backend: FibBackend::Zebra(z),
            ..
        }),
        ..
    })) = &plan.global
    {
        for r in &z.redistribute {
            let Some(name) = &r.import_policy else {
                continue;
            };
            policies
                .chain(std::slice::from_ref(name), DefaultPolicy::Reject)
                .map_err(|mut p| {
                    p.path = Some(format!(
                        "{}/global/ocbgp:fib/redistribute[protocol='{}']/config/import-policy",
                        bgp_path(),
                        r.protocol.name()
                    ));
                    p
                })?;
        }
    }
    for n in &plan.neighbors {
        let at = |leaf: &str| {
            format!(
                "{}/neighbors/neighbor[neighbor-address='{}']/{leaf}",
                bgp_path(),
                n.session.remote
            )
        };
        let families = [AfiSafiType::Ipv4Unicast, AfiSafiType::Ipv6Unicast];
        let eligible = n
            .add_path_eligible
            .iter()
            .zip(families)
            .map(|(spec, family)| {
                let af = format!("afi-safis/afi-safi[afi-safi-name='{}']", family.as_str());
                (
                    spec,
                    at(&format!("{af}/add-paths/config/eligible-prefix-policy")),
                )
            });
        let specs = [
            (&n.import, at("apply-policy")),
            (&n.export, at("apply-policy")),
        ]
        .into_iter()
        .chain(eligible);
        for (spec, path) in specs {
            let Some(spec) = spec else { continue };
            policies.chain(&spec.names, spec.default).map_err(|mut p| {
                p.path = Some(path);
                p
            })?;
        }
    }
    Ok(())
}

/// The plan that builds everything in `config` from nothing.
fn plan_all(config: &Config) -> Result<Plan, Problem> {
    let tree = config.tree();
    let policies = Policies::compile(tree)?;
    let mut plan = plan_bgp(config)?;
    check_chains(&plan, &policies)?;
    plan.policies = Some(policies);
    Ok(plan)
}

/// Global settings, neighbors and routes of `config`, from nothing.
fn plan_bgp(config: &Config) -> Result<Plan, Problem> {
    let tree = config.tree();
    let stations = resolve::bmp_stations(tree)?;
    let dumps = resolve::mrt_dumps(tree)?;
    let Some(global) = resolve::global(tree)? else {
        return Ok(Plan {
            global: Some(None),
            stations,
            dumps,
            ..Plan::default()
        });
    };
    let neighbors = resolve::neighbor_addresses(tree)
        .into_iter()
        .map(|a| resolve::neighbor(tree, &global, a))
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        stations,
        dumps,
        originated: resolve::originated(tree)?,
        dynamic: Some(resolve::dynamic_ranges(tree, &global)?),
        global: Some(Some(global)),
        neighbors,
        ..Plan::default()
    })
}

/// The plan for one transaction: only what its change set touched (its
/// cost follows the change, not the configuration's size). `current` is
/// the global settings the engine runs with; `old` gives running before
/// the transaction, which may cost a copy of the configuration (see
/// `Transaction::old`): it is asked for only where the change set cannot
/// tell (a removed peer group's members, a whole BGP instance replaced).
fn plan_change<'a>(
    old: &dyn Fn() -> &'a Config,
    new: &Config,
    changes: &ChangeSet,
    current: Option<GlobalSettings>,
    policies: &Policies,
) -> Result<Plan, Problem> {
    let policy_changed = changes
        .lists
        .iter()
        .any(|c| c.path.starts_with(ROUTING_POLICY_PATH))
        || changes
            .containers
            .iter()
            .any(|c| c.path.starts_with(ROUTING_POLICY_PATH));
    let new_policies = if policy_changed {
        Some(policies.update(new.tree(), changes)?)
    } else {
        None
    };
    let mut plan = plan_bgp_change(old, new, changes, current)?;
    check_chains(&plan, new_policies.as_ref().unwrap_or(policies))?;
    plan.policies = new_policies;
    Ok(plan)
}

fn plan_bgp_change<'a>(
    old: &dyn Fn() -> &'a Config,
    new: &Config,
    changes: &ChangeSet,
    current: Option<GlobalSettings>,
) -> Result<Plan, Problem> {
    let bgp = bgp_path();
    let global_path = format!("{bgp}/global");
    check_single_instance(changes, &bgp)?;
    let instance_changed = changes.lists.iter().any(|c| {
        matches!(
            c.kind,
            ListKind::NetworkInstance | ListKind::NetworkInstanceProtocol
        ) && c.op != Op::Modified
    });
    let global_changed = instance_changed
        || changes
            .containers
            .iter()
            .any(|c| c.path.starts_with(&global_path))
        || changes
            .lists
            .iter()
            .any(|c| c.path.starts_with(&global_path) && c.kind != ListKind::BgpGlobalRoute);
    if global_changed {
        // Identity, listener or selection changed: resolve everything again.
        let mut plan = plan_bgp(new)?;
        let keep: BTreeSet<IpAddr> = plan.neighbors.iter().map(|n| n.session.remote).collect();
        plan.removed = resolve::neighbor_addresses(old().tree())
            .into_iter()
            .filter(|a| !keep.contains(a))
            .collect();
        let routes: BTreeSet<IpNet> = plan.originated.iter().map(|(p, _)| *p).collect();
        plan.withdrawn = resolve::originated(old().tree())
            .unwrap_or_default()
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| !routes.contains(p))
            .collect();
        let keep: BTreeSet<StationKey> = plan.stations.iter().map(|s| s.key()).collect();
        plan.stations_removed = resolve::bmp_stations(old().tree())
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.key())
            .filter(|k| !keep.contains(k))
            .collect();
        let keep: BTreeSet<&str> = plan.dumps.iter().map(|d| d.name.as_str()).collect();
        plan.dumps_removed = resolve::mrt_dumps(old().tree())
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.name)
            .filter(|n| !keep.contains(n.as_str()))
            .collect();
        return Ok(plan);
    }
    let (stations, stations_removed) = plan_stations(new, changes)?;
    let (dumps, dumps_removed) = plan_dumps(new, changes)?;
    // The global settings did not change: the engine's are current.
    let Some(global) = current else {
        return Ok(Plan {
            stations,
            stations_removed,
            dumps,
            dumps_removed,
            ..Plan::default()
        });
    };
    let mut touched: BTreeSet<IpAddr> = BTreeSet::new();
    for c in changes.list(ListKind::BgpNeighbor) {
        if let Some(addr) = c.keys.first().and_then(|k| k.parse().ok()) {
            touched.insert(addr);
        }
    }
    for c in changes.list(ListKind::BgpPeerGroup) {
        if let Some(name) = c.keys.first() {
            touched.extend(resolve::members_of(old().tree(), name));
            touched.extend(resolve::members_of(new.tree(), name));
        }
    }
    let mut plan = Plan {
        stations,
        stations_removed,
        dumps,
        dumps_removed,
        ..Plan::default()
    };
    if changes.list(ListKind::BgpPeerGroup).next().is_some() {
        plan.dynamic = Some(resolve::dynamic_ranges(new.tree(), &global)?);
    }
    for addr in touched {
        if resolve::has_neighbor(new.tree(), addr) {
            plan.neighbors
                .push(resolve::neighbor(new.tree(), &global, addr)?);
        } else {
            plan.removed.push(addr);
        }
    }
    let routes: Vec<_> = changes.list(ListKind::BgpGlobalRoute).collect();
    if !routes.is_empty() {
        for c in routes {
            let Some(prefix) = c.keys.first().and_then(|k| k.parse::<IpNet>().ok()) else {
                continue;
            };
            match resolve::originated_one(new.tree(), &c.path)? {
                Some(route) if c.op != Op::Deleted => plan.originated.push(route),
                _ => plan.withdrawn.push(prefix.trunc()),
            }
        }
    }
    Ok(plan)
}

/// The BMP stations a transaction adds, changes or removes.
fn plan_stations(
    new: &Config,
    changes: &ChangeSet,
) -> Result<(Vec<StationSettings>, Vec<StationKey>), Problem> {
    let (mut set, mut removed) = (Vec::new(), Vec::new());
    for c in changes.list(ListKind::BgpStation) {
        match resolve::bmp_station(new.tree(), &c.path)? {
            Some(s) if c.op != Op::Deleted => set.push(s),
            _ => {
                let addr = c.keys.first().and_then(|k| k.parse::<IpAddr>().ok());
                let port = c.keys.get(1).and_then(|k| k.parse::<u16>().ok());
                if let (Some(a), Some(p)) = (addr, port) {
                    removed.push((a, p));
                }
            }
        }
    }
    Ok((set, removed))
}

/// The MRT dumps a transaction adds, changes or removes.
fn plan_dumps(
    new: &Config,
    changes: &ChangeSet,
) -> Result<(Vec<DumpSettings>, Vec<String>), Problem> {
    let (mut set, mut removed) = (Vec::new(), Vec::new());
    for c in changes.list(ListKind::BgpDump) {
        match resolve::mrt_dump(new.tree(), &c.path)? {
            Some(d) if c.op != Op::Deleted => set.push(d),
            _ => removed.extend(c.keys.first().cloned()),
        }
    }
    Ok((set, removed))
}

/// ocbgpd runs one BGP instance, the DEFAULT instance's protocol BGP "BGP".
fn check_single_instance(changes: &ChangeSet, bgp: &str) -> Result<(), Problem> {
    for c in changes.list(ListKind::NetworkInstanceProtocol) {
        let is_bgp = c.keys.first().is_some_and(|k| k.ends_with(":BGP"));
        if is_bgp && c.op != Op::Deleted && !bgp.starts_with(&c.path) {
            return Err(Problem {
                path: Some(c.path.clone()),
                reason: "ocbgpd runs one BGP instance: protocol BGP named \"BGP\" in network instance DEFAULT".into(),
            });
        }
    }
    Ok(())
}

impl ConfigConsumer for Northbound {
    fn prepare(&self, tx: &Transaction<'_>) -> Result<(), Refusal> {
        let mut plan = plan_change(
            &|| tx.old(),
            tx.new,
            tx.changes,
            self.engine.global(),
            &self.engine.policies(),
        )
        .map_err(Refusal::from)?;
        self.acquire(&mut plan).map_err(Refusal::from)?;
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((tx.id, plan));
        Ok(())
    }

    fn apply(&self, tx: &Transaction<'_>) {
        let plan = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((id, plan)) = plan {
            if id == tx.id {
                self.execute(plan);
            }
        }
    }

    fn abort(&self, _tx: &Transaction<'_>) {
        // Dropping the plan closes the sockets it bound.
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}
