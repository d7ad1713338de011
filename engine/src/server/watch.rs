//! Session states and route changes as streams (GoBGP's `MonitorPeer`
//! and `WatchEvent`).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{BoxStream, Stream, StreamExt};
use ipnet::IpNet;
use tokio::sync::broadcast;

use super::list::{Names, PathSource};
use super::ServerError;
use crate::engine::{Engine, EngineError};
use crate::rib::{Attrs, RouteChange, FEED_CAPACITY};
use crate::stats::StateChange;
use crate::wire::Family;

/// What a [`PeerWatch`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A session changed state.
    State(StateChange),
    /// The watcher fell behind and this many changes were lost; the next
    /// ones follow. Read [`BgpServer::peers`](super::BgpServer::peers)
    /// for the states now.
    Lagged(u64),
}

/// A stream of events from the speaker, read with [`Watch::recv`] or as a
/// [`Stream`]: [`PeerWatch`] or [`RouteWatch`].
pub struct Watch<T> {
    inner: BoxStream<'static, T>,
}

impl<T> Watch<T> {
    /// The next event; `None` once there will be none.
    pub async fn recv(&mut self) -> Option<T> {
        self.inner.next().await
    }
}

impl<T> Stream for Watch<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Every peer's session state changes, in the order each session made
/// them.
///
/// Bounded: the speaker never waits for a watcher. One that has not read
/// [`STATE_CHANGES_QUEUED`](crate::engine::STATE_CHANGES_QUEUED) changes
/// loses the oldest and is told how many with [`PeerEvent::Lagged`].
/// Ends when the engine is gone (the server and its route watches
/// dropped).
pub type PeerWatch = Watch<PeerEvent>;

/// The watch of `rx`'s state changes.
pub(super) fn peers(rx: broadcast::Receiver<StateChange>) -> PeerWatch {
    let inner = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(change) => PeerEvent::State(change),
            Err(broadcast::error::RecvError::Lagged(n)) => PeerEvent::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((event, rx))
    });
    Watch {
        inner: inner.boxed(),
    }
}

/// A path as it is now, from a [`RouteWatch`].
#[derive(Debug, Clone)]
pub struct RouteUpdate {
    /// Its family.
    pub family: Family,
    /// Its prefix.
    pub prefix: IpNet,
    /// Where it came from.
    pub source: PathSource,
    /// Its add-path identifier from the source (0 without add-path).
    pub path_id: u32,
    /// Its attributes as received (Adj-RIB-In pre-policy).
    pub received: Attrs,
    /// Its attributes after import policy (Adj-RIB-In post-policy and
    /// Loc-RIB); `None` if policy rejected it.
    pub accepted: Option<Attrs>,
    /// Whether it is the prefix's best path.
    pub best: bool,
    /// Kept stale over its peer's graceful restart.
    pub stale: bool,
    /// Its origin validation, while RPKI gives VRPs (a change of VRPs is
    /// an update too).
    pub validation: Option<crate::rpki::Validation>,
}

/// What a [`RouteWatch`] yields.
#[derive(Debug, Clone)]
pub enum RouteEvent {
    /// A path is new, or changed (attributes, best or not, stale or not).
    Updated(RouteUpdate),
    /// A path went.
    Withdrawn {
        /// Its family.
        family: Family,
        /// Its prefix.
        prefix: IpNet,
        /// Where it came from.
        source: PathSource,
        /// Its add-path identifier.
        path_id: u32,
    },
    /// The watcher fell behind and changes were lost: list the tables
    /// again ([`BgpServer::list_paths`](super::BgpServer::list_paths));
    /// the changes after this one follow.
    Lagged,
}

/// The changes of the Loc-RIB and the Adj-RIBs-In, after each batch of
/// work of the RIB task, in order. It is the route change feed gNMI's
/// on-change subscriptions read.
///
/// Bounded: the RIB never waits for a watcher. One that has
/// [`FEED_CAPACITY`] changes unread misses the following ones and, as
/// soon as it has read some, gets [`RouteEvent::Lagged`]. Ends when BGP
/// stops or restarts (a new AS or router id: a new RIB).
pub type RouteWatch = Watch<RouteEvent>;

/// A watch of `engine`'s route changes from now on.
pub(super) async fn routes(engine: Engine) -> Result<RouteWatch, ServerError> {
    let rib = engine.rib().ok_or(EngineError::NotRunning)?;
    let rx = rib
        .query(|rib| rib.listen_routes_with(FEED_CAPACITY, false))
        .await
        .ok_or(ServerError::RibGone)?;
    let names = Names::new(engine);
    let inner = futures::stream::unfold((rx, names), |(mut rx, mut names)| async move {
        loop {
            let change = rx.recv().await?;
            if let Some(event) = convert(change, &mut names) {
                return Some((event, (rx, names)));
            }
        }
    });
    Ok(Watch {
        inner: inner.boxed(),
    })
}

/// The event a feed change makes, if any: session events are the peer
/// watch's, but tell us a neighbor's index is in use.
fn convert(change: RouteChange, names: &mut Names) -> Option<RouteEvent> {
    Some(match change {
        RouteChange::Lagged => RouteEvent::Lagged,
        RouteChange::PeerUp(_) => {
            names.refresh();
            return None;
        }
        // Sent, Installed and Forwarding come only to listeners that ask
        // for them.
        RouteChange::PeerDown { .. }
        | RouteChange::Sent { .. }
        | RouteChange::Installed { .. }
        | RouteChange::Forwarding { .. } => return None,
        RouteChange::Set {
            family,
            net,
            peer,
            path_id,
            received,
            accepted,
            best,
            stale,
            validation,
            ..
        } => RouteEvent::Updated(RouteUpdate {
            family,
            prefix: net,
            source: names.source(peer)?,
            path_id,
            received,
            accepted,
            best,
            stale,
            validation,
        }),
        RouteChange::Gone {
            family,
            net,
            peer,
            path_id,
        } => RouteEvent::Withdrawn {
            family,
            prefix: net,
            source: names.source(peer)?,
            path_id,
        },
    })
}
