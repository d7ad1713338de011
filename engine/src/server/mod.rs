//! The speaker as a library, as GoBGP's `server` package is: start it
//! with global settings, add, change and remove peers, announce and
//! withdraw routes, list any table, and watch session states and route
//! changes as streams.
//!
//! [`BgpServer`] is a small typed front of [`Engine`], the speaker ocbgpd
//! runs from its OpenConfig configuration; [`BgpServer::engine`] reaches
//! the rest of it (routing policy, BMP, MRT, RPKI). Every call returns at
//! once: the work goes to the engine's tasks on the tokio runtime the
//! server was started on.
//!
//! | GoBGP                  | here                                        |
//! |------------------------|---------------------------------------------|
//! | `NewBgpServer`+`StartBgp` | [`BgpServer::start`]                     |
//! | `AddPeer` / `UpdatePeer` / `DeletePeer` | [`BgpServer::add_peer`], [`BgpServer::update_peer`], [`BgpServer::delete_peer`] |
//! | `ListPeer`             | [`BgpServer::peers`]                        |
//! | `MonitorPeer`          | [`BgpServer::watch_peers`]                  |
//! | `AddPath` / `DeletePath` | [`BgpServer::add_path`], [`BgpServer::delete_path`] |
//! | `ListPath`             | [`BgpServer::list_paths`]                   |
//! | `WatchEvent` (table)   | [`BgpServer::watch_routes`]                 |
//! | `StopBgp`              | [`BgpServer::stop`], or dropping the server |

mod list;
mod peer;
mod route;
mod watch;

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

pub use list::{Destination, PathEntry, PathSource, Table};
pub use peer::{PeerSettings, PeerStatus};
pub use route::Route;
pub use watch::{PeerEvent, PeerWatch, RouteEvent, RouteUpdate, RouteWatch, Watch};

pub use crate::config::{GlobalSettings, ListenSettings};
pub use crate::engine::ClearMode;
pub use crate::rib::{Attrs, CommunityKinds, PathAttrs, PrefixCounts};
pub use crate::session::{ConfigError, Timers};
pub use crate::stats::{SessionState, StateChange};
pub use crate::wire::{AsPath, Community, Family, LargeCommunity, NextHop, Origin};

use crate::engine::{Engine, EngineError};

/// Why the server could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// [`BgpServer::start`] was called outside a tokio runtime.
    #[error("no tokio runtime: start the BGP server from within one")]
    NoRuntime,
    /// The engine refused (not running, listener cannot bind, unknown
    /// neighbor).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Settings a session cannot run with.
    #[error("invalid settings: {0}")]
    Config(#[from] ConfigError),
    /// [`BgpServer::add_peer`] for an address already configured.
    #[error("BGP neighbor {0} is already configured")]
    PeerExists(IpAddr),
    /// A family other than IPv4 and IPv6 unicast.
    #[error("address family {0} is not supported: IPv4 and IPv6 unicast are")]
    Family(Family),
    /// An IPv6 route with an IPv4 next hop.
    #[error("{prefix} cannot have next hop {next_hop}")]
    NextHop {
        /// The route's prefix.
        prefix: IpNet,
        /// The next hop given.
        next_hop: IpAddr,
    },
    /// The RIB task ended while a read was under way (the server stopped
    /// or restarted with a new AS or router id).
    #[error("the RIB went away during the read")]
    RibGone,
}

/// A running BGP speaker. Dropping it stops BGP (as [`BgpServer::stop`]);
/// share it between tasks behind an `Arc`.
///
/// ```no_run
/// use ocbgp_engine::server::*;
///
/// # async fn run() -> Result<(), ServerError> {
/// let mut global = GlobalSettings::new(65003, "192.0.2.1".parse().unwrap());
/// global.listen = ListenSettings::disabled();
/// let server = BgpServer::start(global)?;
/// let mut peers = server.watch_peers();
/// server.add_peer(&PeerSettings::new("192.0.2.2".parse().unwrap(), 65002))?;
/// server.add_path(
///     &Route::new("10.0.0.0/24".parse().unwrap())
///         .next_hop("192.0.2.1".parse().unwrap())
///         .as_path([65010, 65020]),
/// )?;
/// while let Some(PeerEvent::State(change)) = peers.recv().await {
///     if change.state == SessionState::Established {
///         break;
///     }
/// }
/// for dest in server.list_paths(Table::Global, Family::IPV4_UNICAST).await? {
///     println!("{} {} paths", dest.prefix, dest.paths.len());
/// }
/// # Ok(()) }
/// ```
pub struct BgpServer {
    engine: Engine,
}

impl BgpServer {
    /// Starts BGP with `global` on the current tokio runtime: the RIB
    /// task, and the listener when `global.listen` enables it (an address
    /// or port that cannot be bound is an error).
    pub fn start(global: GlobalSettings) -> Result<BgpServer, ServerError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ServerError::NoRuntime)?;
        check_global(&global)?;
        let engine = Engine::new(runtime);
        engine.set_global(global)?;
        Ok(BgpServer { engine })
    }

    /// Applies changed global settings. A new AS or router id restarts
    /// every session (peers must see new OPENs); a new listener is bound
    /// before anything changes.
    pub fn set_global(&self, global: GlobalSettings) -> Result<(), ServerError> {
        check_global(&global)?;
        Ok(self.engine.set_global(global)?)
    }

    /// The global settings in force; `None` once stopped.
    pub fn global(&self) -> Option<GlobalSettings> {
        self.engine.global()
    }

    /// The socket addresses the listener has bound.
    pub fn listening(&self) -> Vec<SocketAddr> {
        self.engine.listening()
    }

    /// Adds a peer: its session starts at once (connecting out unless
    /// passive).
    pub fn add_peer(&self, peer: &PeerSettings) -> Result<(), ServerError> {
        if self.engine.neighbor(peer.address).is_some() {
            return Err(ServerError::PeerExists(peer.address));
        }
        self.set_peer(peer)
    }

    /// Changes a peer's settings. The session is reset only when a setting
    /// in the OPEN or of the connection changed (AS, families, hold time,
    /// addresses, password, ...); `enabled` false shuts it down.
    pub fn update_peer(&self, peer: &PeerSettings) -> Result<(), ServerError> {
        self.known(peer.address)?;
        self.set_peer(peer)
    }

    fn set_peer(&self, peer: &PeerSettings) -> Result<(), ServerError> {
        let global = self.engine.global().ok_or(EngineError::NotRunning)?;
        Ok(self.engine.set_neighbor(peer.resolve(&global)?)?)
    }

    fn known(&self, address: IpAddr) -> Result<crate::engine::Neighbor, ServerError> {
        if self.engine.global().is_none() {
            return Err(EngineError::NotRunning.into());
        }
        self.engine
            .neighbor(address)
            .ok_or(ServerError::Engine(EngineError::UnknownNeighbor(address)))
    }

    /// Removes a peer: its session ends with Cease/Peer De-configured and
    /// its routes are withdrawn.
    pub fn delete_peer(&self, address: IpAddr) -> Result<(), ServerError> {
        self.known(address)?;
        self.engine.remove_neighbor(address);
        Ok(())
    }

    /// Resets a peer's session, hard or soft (GoBGP's `ResetPeer`).
    pub fn reset_peer(&self, address: IpAddr, mode: ClearMode) -> Result<(), ServerError> {
        Ok(self.engine.clear_neighbor(address, mode)?)
    }

    /// Every peer with its session's state, by address.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.engine
            .neighbors()
            .iter()
            .map(|(_, n)| PeerStatus::of(n))
            .collect()
    }

    /// One peer, if configured.
    pub fn peer(&self, address: IpAddr) -> Option<PeerStatus> {
        self.engine.neighbor(address).as_ref().map(PeerStatus::of)
    }

    /// A peer's route counts for `family`: received, accepted, best and
    /// sent.
    pub async fn prefix_counts(
        &self,
        address: IpAddr,
        family: Family,
    ) -> Result<PrefixCounts, ServerError> {
        list::check_family(family)?;
        let idx = self.known(address)?.idx;
        let rib = self.engine.rib().ok_or(EngineError::NotRunning)?;
        rib.query(move |rib| rib.counts(idx, family))
            .await
            .ok_or(ServerError::RibGone)
    }

    /// Announces a route of our own (GoBGP's `AddPath`), or replaces the
    /// one for the same prefix: one path per prefix is ours.
    pub fn add_path(&self, route: &Route) -> Result<(), ServerError> {
        route.check()?;
        Ok(self.engine.add_path(route.prefix, route.attrs.clone())?)
    }

    /// Withdraws our route for `prefix` (GoBGP's `DeletePath`); nothing
    /// happens if there is none.
    pub fn delete_path(&self, prefix: IpNet) -> Result<(), ServerError> {
        Ok(self.engine.delete_path(prefix)?)
    }

    /// The paths of one table for `family` (GoBGP's `ListPath`), prefix by
    /// prefix in address order. The table is read a batch of prefixes at
    /// a time, so a large one does not hold the RIB still; each prefix is
    /// consistent, the whole list is not one instant.
    pub async fn list_paths(
        &self,
        table: Table,
        family: Family,
    ) -> Result<Vec<Destination>, ServerError> {
        list::list(&self.engine, table, family).await
    }

    /// Every peer's session state changes from now on (GoBGP's
    /// `MonitorPeer`). Read [`BgpServer::peers`] after this for the states
    /// now. See [`PeerWatch`] for what happens to a watcher that falls
    /// behind.
    pub fn watch_peers(&self) -> PeerWatch {
        watch::peers(self.engine.watch_states())
    }

    /// Every change of the Loc-RIB and the Adj-RIBs-In from now on: paths
    /// added, changed (attributes, best or not) and withdrawn. List the
    /// tables after this for what is there now. See [`RouteWatch`] for
    /// what happens to a watcher that falls behind.
    pub async fn watch_routes(&self) -> Result<RouteWatch, ServerError> {
        watch::routes(self.engine.clone()).await
    }

    /// The engine behind the server, for what this API does not cover.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops BGP: every session ends with a Cease, the RIB goes, watches
    /// end. [`BgpServer::set_global`] starts it again.
    pub fn stop(&self) {
        self.engine.stop();
    }
}

impl Drop for BgpServer {
    fn drop(&mut self) {
        self.engine.stop();
    }
}

/// What the engine would accept but no session can run with.
fn check_global(global: &GlobalSettings) -> Result<(), ConfigError> {
    if global.asn == 0 {
        return Err(ConfigError::ZeroAs("local AS"));
    }
    if global.router_id.is_unspecified() {
        return Err(ConfigError::ZeroRouterId);
    }
    Ok(())
}
