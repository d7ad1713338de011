//! BGP sessions (RFC 4271 section 8): one task per neighbor runs the state
//! machine, its connections' OPEN exchanges and, once established, a reader
//! that feeds the RIB task and a writer that drains the session's Outbox.
//!
//! - [`PeerConfig`]: what the daemon resolves from the OpenConfig tree;
//! - [`spawn`] starts a neighbor's task and returns its [`PeerHandle`];
//! - the [`transport::Listener`](crate::transport::Listener) hands incoming
//!   connections to [`PeerHandle::accept`].
//!
//! State and counters go to the neighbor's [`PeerStats`]; routes and the
//! session's coming and going go to the RIB as [`RibEvent`](crate::event::RibEvent)s.

mod config;
mod conn;
mod fsm;
mod handshake;
mod open;
mod reader;
mod timers;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub use config::{ConfigError, FamilyConfig, GracefulRestartConfig, PeerConfig, Timers, BGP_PORT};
pub use open::{check_open, our_open, outgoing_wins};
pub use timers::{keepalive_interval, Backoff};

use crate::event::RibSender;
use crate::restart::RestartState;
use crate::rib::PeerIdx;
use crate::stats::PeerStats;
use crate::wire::Family;
use fsm::Command;

/// The neighbor's task has ended (it was stopped); the request was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer's session task has ended")]
pub struct SessionGone;

/// Starts the session task of one neighbor. It connects at once unless the
/// configuration is passive or disabled (or invalid: then it stays Idle
/// with the error in `last_error` until a valid configuration comes).
/// Must run inside a tokio runtime.
pub fn spawn(
    idx: PeerIdx,
    config: PeerConfig,
    rib: RibSender,
    stats: Arc<PeerStats>,
    restart: Arc<RestartState>,
) -> PeerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let peer = fsm::Peer::new(
        idx,
        config,
        rib,
        stats.clone(),
        rx,
        timers::FIRST_ATTEMPT_JITTER,
        restart,
    );
    tokio::spawn(peer.run());
    PeerHandle { tx, stats }
}

/// Controls one neighbor's session task. Cheap to clone; requests are
/// queued to the task and carried out in order.
#[derive(Debug, Clone)]
pub struct PeerHandle {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<PeerStats>,
}

impl PeerHandle {
    fn send(&self, c: Command) -> Result<(), SessionGone> {
        self.tx.send(c).map_err(|_| SessionGone)
    }

    /// Hands over a connection the listener accepted from the peer.
    pub fn accept(&self, stream: TcpStream) -> Result<(), SessionGone> {
        self.send(Command::Accept(stream))
    }

    /// Applies new configuration, resetting the session only when a
    /// parameter that needs it changed (see [`PeerConfig::needs_reset`]);
    /// the reset sends Cease/Other Configuration Change. A change of
    /// `enabled` shuts down or enables.
    pub fn set_config(&self, config: PeerConfig) -> Result<(), SessionGone> {
        self.send(Command::SetConfig(Box::new(config)))
    }

    /// Administrative shutdown: closes with Cease/Administrative Shutdown,
    /// carrying `message` as the shutdown communication (RFC 9003), and
    /// refuses connections until [`enable`](Self::enable).
    pub fn shutdown(&self, message: Option<String>) -> Result<(), SessionGone> {
        self.send(Command::Shutdown(message))
    }

    /// Brings an administratively shut down session back up.
    pub fn enable(&self) -> Result<(), SessionGone> {
        self.send(Command::Enable)
    }

    /// Hard reset: closes with Cease/Administrative Reset and reconnects.
    pub fn reset(&self) -> Result<(), SessionGone> {
        self.send(Command::Reset)
    }

    /// Asks the peer to resend its routes of `family` (ROUTE-REFRESH, a
    /// soft reset inbound). Ignored, with a log line, unless established
    /// with route refresh and the family negotiated.
    pub fn route_refresh(&self, family: Family) -> Result<(), SessionGone> {
        self.send(Command::RouteRefresh(family))
    }

    /// The peer exceeded a prefix limit of `family`: closes with
    /// Cease/Maximum Number of Prefixes Reached and holds the session down
    /// for its restart timer (without one, until reset or reconfigured).
    pub fn prefix_limit_exceeded(&self, family: Family, limit: u32) -> Result<(), SessionGone> {
        self.send(Command::PrefixLimit { family, limit })
    }

    /// Removes the peer: closes with Cease/Peer De-configured and ends the
    /// task. Wait for [`closed`](Self::closed) to know it has.
    pub fn stop(&self) -> Result<(), SessionGone> {
        self.send(Command::Stop)
    }

    /// The speaker stops to restart: a session that negotiated graceful
    /// restart closes without a NOTIFICATION, so the peer keeps our routes
    /// until we are back; others close as for [`stop`](Self::stop).
    pub fn stop_graceful(&self) -> Result<(), SessionGone> {
        self.send(Command::StopGraceful)
    }

    /// The peer's state and counters.
    pub fn stats(&self) -> &Arc<PeerStats> {
        &self.stats
    }

    /// Whether the task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the task has ended.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}
