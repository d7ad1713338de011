//! The route change feed: what changed in the tables, for on-change
//! readers (gNMI subscriptions to the RIB).
//!
//! While someone listens, the tables note every path a change touches;
//! after each batch the RIB task publishes the touched paths as they are
//! now (or as gone). Each listener has a bounded queue that the RIB task
//! fills with `try_send` only: a slow listener never slows the RIB. When
//! its queue is full it misses changes and is marked lagged; as soon as
//! its queue has room again it gets [`RouteChange::Lagged`] and is
//! expected to read the tables again.

use std::sync::Arc;
use std::time::SystemTime;

use ipnet::IpNet;
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::event::{DownReason, SessionInfo};

use super::attrs::Attrs;
use super::path::PeerIdx;
use crate::wire::Family;

/// Changes queued per listener before it counts as lagged.
pub const FEED_CAPACITY: usize = 65536;

/// An established session as the feed reports it (BMP Peer Up).
#[derive(Debug)]
pub struct SessionUp {
    /// The peer.
    pub peer: PeerIdx,
    /// The session's addresses and OPENs.
    pub info: SessionInfo,
    /// The peer's AS.
    pub asn: u32,
    /// When it came up.
    pub since: SystemTime,
}

/// One path as it is after a batch, or gone; or a session that came up or
/// went down (in order with the paths: changes published before it
/// happened come first).
#[derive(Debug, Clone)]
pub enum RouteChange {
    /// A session reached Established.
    PeerUp(Arc<SessionUp>),
    /// A session left Established (its paths go after this).
    PeerDown {
        /// The peer.
        peer: PeerIdx,
        /// Why.
        reason: DownReason,
    },
    /// The path from `peer` with `path_id` to `net` exists (new or changed).
    Set {
        /// Address family.
        family: Family,
        /// The prefix.
        net: IpNet,
        /// Source.
        peer: PeerIdx,
        /// Add-path identifier.
        path_id: u32,
        /// Attributes as received.
        received: Attrs,
        /// Attributes after import policy (`None`: rejected).
        accepted: Option<Attrs>,
        /// Whether it is the best path.
        best: bool,
        /// Part of the prefix's multipath set (the best path is).
        multipath: bool,
        /// Kept stale over its peer's restart.
        stale: bool,
        /// Its origin validation (of the received attributes), while RPKI
        /// gives VRPs.
        validation: Option<crate::rpki::Validation>,
    },
    /// The path went.
    Gone {
        /// Address family.
        family: Family,
        /// The prefix.
        net: IpNet,
        /// Source.
        peer: PeerIdx,
        /// Add-path identifier.
        path_id: u32,
    },
    /// Messages sent to a peer (UPDATEs, End-of-RIB markers, refresh
    /// markers), exactly as written: the post-policy Adj-RIB-Out for
    /// listeners that asked for it (BMP, RFC 8671).
    Sent {
        /// The peer.
        peer: PeerIdx,
        /// BGP messages, back to back.
        bytes: bytes::Bytes,
    },
    /// The forwarding table looked at `net`: whether it is installed, and
    /// the prefix's accepted paths with whether each forwards it (the best
    /// path and its multipath set), for listeners that asked
    /// ([`Feed::listen_fib`]).
    Installed {
        /// Address family.
        family: Family,
        /// The prefix.
        net: IpNet,
        /// (source, add-path identifier, forwards).
        paths: Vec<(PeerIdx, u32, bool)>,
        /// Installed now.
        installed: bool,
    },
    /// What the Loc-RIB forwards for `net` now: the next hops of its best
    /// path and multipath set (none: it forwards nothing), once a batch
    /// for each prefix it touched. Only to listeners that asked
    /// ([`Feed::listen_forwarding`]), instead of the paths' changes: the
    /// forwarding table needs no copy of the paths.
    Forwarding {
        /// The prefix.
        net: IpNet,
        /// The forwarding paths' next hops, sorted, without repeats.
        next_hops: NextHops,
    },
    /// Changes were lost: read the tables again.
    Lagged,
}

/// The next hops a prefix is forwarded by: one, or an ECMP set.
pub type NextHops = smallvec::SmallVec<[std::net::IpAddr; 1]>;

struct Listener {
    tx: mpsc::Sender<RouteChange>,
    lagged: bool,
    /// Wants [`RouteChange::Sent`].
    sent: bool,
    /// Wants [`RouteChange::Installed`].
    fib: bool,
    /// Wants [`RouteChange::Forwarding`] instead of the paths' changes.
    forwarding: bool,
}

/// The listeners of the change feed.
#[derive(Default)]
pub struct Feed {
    listeners: Vec<Listener>,
}

impl Feed {
    /// A new listener.
    pub fn listen(&mut self) -> mpsc::Receiver<RouteChange> {
        self.listen_with(FEED_CAPACITY)
    }

    /// A new listener with a queue of `capacity` changes.
    pub fn listen_with(&mut self, capacity: usize) -> mpsc::Receiver<RouteChange> {
        self.listen_for(capacity, false)
    }

    /// A new listener with a queue of `capacity` changes that, with
    /// `sent`, also gets what peers are sent.
    pub fn listen_for(&mut self, capacity: usize, sent: bool) -> mpsc::Receiver<RouteChange> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.listeners.push(Listener {
            tx,
            lagged: false,
            sent,
            fib: false,
            forwarding: false,
        });
        rx
    }

    /// A new listener that also gets what the forwarding table installs.
    pub fn listen_fib(&mut self, capacity: usize) -> mpsc::Receiver<RouteChange> {
        let rx = self.listen_for(capacity, false);
        if let Some(l) = self.listeners.last_mut() {
            l.fib = true;
        }
        rx
    }

    /// Whether a listener wants what the forwarding table installs.
    pub fn wants_fib(&self) -> bool {
        self.listeners.iter().any(|l| l.fib && !l.tx.is_closed())
    }

    /// A new listener of what the Loc-RIB forwards
    /// ([`RouteChange::Forwarding`]) and of sessions, not of paths.
    pub fn listen_forwarding(&mut self, capacity: usize) -> mpsc::Receiver<RouteChange> {
        let rx = self.listen_for(capacity, false);
        if let Some(l) = self.listeners.last_mut() {
            l.forwarding = true;
        }
        rx
    }

    /// Whether a listener wants [`RouteChange::Forwarding`].
    pub fn wants_forwarding(&self) -> bool {
        self.listeners
            .iter()
            .any(|l| l.forwarding && !l.tx.is_closed())
    }

    /// Whether a listener wants what peers are sent.
    pub fn wants_sent(&self) -> bool {
        self.listeners.iter().any(|l| l.sent && !l.tx.is_closed())
    }

    /// Whether anyone listens (listeners that went are dropped here).
    pub fn active(&mut self) -> bool {
        self.listeners.retain(|l| !l.tx.is_closed());
        !self.listeners.is_empty()
    }

    /// Sends the lag notice to lagged listeners whose queue has room again
    /// (otherwise sent with the next change published).
    pub fn flush_lagged(&mut self) {
        if self.listeners.iter().any(|l| l.lagged) {
            self.publish(&[], false);
        }
    }

    /// Queues `changes` (or, with `all`, a lag notice: everything may have
    /// changed) to every listener, never waiting.
    pub fn publish(&mut self, changes: &[RouteChange], all: bool) {
        self.listeners.retain_mut(|l| {
            if all {
                l.lagged = true;
            }
            if l.lagged {
                match l.tx.try_send(RouteChange::Lagged) {
                    Ok(()) => l.lagged = false,
                    Err(TrySendError::Full(_)) => return true,
                    Err(TrySendError::Closed(_)) => return false,
                }
                // A resync reads everything; these changes are in it.
                return true;
            }
            for c in changes {
                let unwanted = match c {
                    RouteChange::Sent { .. } => !l.sent,
                    RouteChange::Installed { .. } => !l.fib,
                    RouteChange::Forwarding { .. } => !l.forwarding,
                    RouteChange::Set { .. } | RouteChange::Gone { .. } => l.forwarding,
                    _ => false,
                };
                if unwanted {
                    continue;
                }
                match l.tx.try_send(c.clone()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        l.lagged = true;
                        break;
                    }
                    Err(TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone(n: u32) -> RouteChange {
        RouteChange::Gone {
            family: Family::IPV4_UNICAST,
            net: "10.0.0.0/8".parse().unwrap(),
            peer: PeerIdx(1),
            path_id: n,
        }
    }

    #[test]
    fn only_listeners_that_asked_get_what_peers_are_sent() {
        let mut feed = Feed::default();
        let mut plain = feed.listen_with(10);
        assert!(!feed.wants_sent());
        let mut bmp = feed.listen_for(10, true);
        assert!(feed.wants_sent());
        let sent = RouteChange::Sent {
            peer: PeerIdx(1),
            bytes: bytes::Bytes::from_static(&[0xff; 19]),
        };
        feed.publish(&[sent, gone(1)], false);
        assert!(matches!(plain.try_recv(), Ok(RouteChange::Gone { .. })));
        assert!(plain.try_recv().is_err());
        assert!(matches!(bmp.try_recv(), Ok(RouteChange::Sent { .. })));
        assert!(matches!(bmp.try_recv(), Ok(RouteChange::Gone { .. })));
        drop(bmp);
        assert!(!feed.wants_sent());
    }

    #[test]
    fn a_lag_notice_needs_no_later_change() {
        let mut feed = Feed::default();
        let mut slow = feed.listen_with(1);
        feed.publish(&[gone(1), gone(2)], false);
        feed.flush_lagged();
        assert!(matches!(
            slow.try_recv(),
            Ok(RouteChange::Gone { path_id: 1, .. })
        ));
        assert!(slow.try_recv().is_err());
        // The queue has room, nothing else changed: the notice comes.
        feed.flush_lagged();
        assert!(matches!(slow.try_recv(), Ok(RouteChange::Lagged)));
        feed.flush_lagged();
        assert!(slow.try_recv().is_err());
    }

    #[test]
    fn a_full_listener_is_lagged_then_told_so() {
        let mut feed = Feed::default();
        let mut slow = feed.listen_with(2);
        let mut fast = feed.listen_with(100);
        feed.publish(&[gone(1), gone(2), gone(3)], false);
        // The fast one has everything; the slow one what fit.
        for n in 1..=3 {
            assert!(
                matches!(fast.try_recv(), Ok(RouteChange::Gone { path_id, .. }) if path_id == n)
            );
        }
        assert!(matches!(
            slow.try_recv(),
            Ok(RouteChange::Gone { path_id: 1, .. })
        ));
        assert!(matches!(
            slow.try_recv(),
            Ok(RouteChange::Gone { path_id: 2, .. })
        ));
        assert!(slow.try_recv().is_err());
        // Once there is room: the lag notice, not the changes in between.
        feed.publish(&[gone(4)], false);
        assert!(matches!(slow.try_recv(), Ok(RouteChange::Lagged)));
        assert!(slow.try_recv().is_err());
        feed.publish(&[gone(5)], false);
        assert!(matches!(
            slow.try_recv(),
            Ok(RouteChange::Gone { path_id: 5, .. })
        ));
        // A listener that went is dropped.
        drop(fast);
        assert!(feed.active());
        drop(slow);
        assert!(!feed.active());
    }
}
