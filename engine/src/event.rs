//! What sessions tell the RIB task. Sessions decode and check messages on
//! their own tasks; the RIB task owns the tables and applies these events
//! in batches.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::rib::{Outbox, PeerIdx};
use crate::wire::{DecodedUpdate, Family, Negotiated, Notification, Open};

/// A session's facts once it is established.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// What the OPEN exchange agreed.
    pub negotiated: Negotiated,
    /// Our end of the TCP connection.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// The peer's BGP identifier.
    pub remote_router_id: Ipv4Addr,
    /// The OPEN we sent (for BMP Peer Up).
    pub sent_open: Open,
    /// The OPEN the peer sent.
    pub received_open: Open,
}

/// Why a session left Established, as BMP reports it (RFC 7854 4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// We closed it with this NOTIFICATION (reason 1).
    LocalNotification(Notification),
    /// We closed it without a NOTIFICATION (reason 2).
    LocalNoNotification,
    /// The peer closed it with this NOTIFICATION (reason 3).
    RemoteNotification(Notification),
    /// The connection ended without a NOTIFICATION (reason 4).
    RemoteNoNotification,
}

/// An event from a session to the RIB task.
#[derive(Debug)]
pub enum RibEvent {
    /// The session reached Established. Messages for the peer go to `out`
    /// (the session's writer) from now on.
    Established {
        /// The peer.
        peer: PeerIdx,
        /// The session's facts.
        info: Box<SessionInfo>,
        /// The session's writer.
        out: Outbox,
    },
    /// A received UPDATE whose verdict is not a session reset.
    Update {
        /// The peer.
        peer: PeerIdx,
        /// The message with its RFC 7606 diagnosis.
        update: Box<DecodedUpdate>,
        /// The session's credit for this message, returned when the RIB
        /// task drops the event (see [`InFlight`]).
        credit: InFlight,
    },
    /// The peer asked for our routes of a family again (RFC 2918).
    RouteRefresh {
        /// The peer.
        peer: PeerIdx,
        /// The family.
        family: Family,
    },
    /// Enhanced route refresh (RFC 7313): the peer begins (BoRR) or ends
    /// (EoRR) re-sending a family.
    RefreshBoundary {
        /// The peer.
        peer: PeerIdx,
        /// The family.
        family: Family,
        /// BoRR (true) or EoRR.
        begin: bool,
    },
    /// The session left Established: the peer's routes go, but those of
    /// `retain` (graceful restart, RFC 4724 4.2), which are kept as stale.
    Down {
        /// The peer.
        peer: PeerIdx,
        /// Why.
        reason: DownReason,
        /// Families whose routes are kept stale while the peer restarts.
        retain: Vec<Family>,
    },
    /// A restarting peer's stale routes of these families (all when
    /// `None`) go: its restart time, long-lived stale time or our stale
    /// routes time ran out.
    StaleExpired {
        /// The peer.
        peer: PeerIdx,
        /// The families.
        families: Option<Vec<Family>>,
    },
    /// A restarting peer's restart time ran out; its stale routes of these
    /// families stay for the long-lived stale time (RFC 9494 4.2), marked
    /// LLGR_STALE and least preferred.
    LongLivedStale {
        /// The peer.
        peer: PeerIdx,
        /// The families.
        families: Vec<Family>,
    },
}

/// A session's bound on the UPDATEs it has handed to the RIB task and the
/// task has not applied yet. A session waits for credit before it reads
/// on, so a peer that sends faster than the RIB applies is held back by
/// TCP flow control instead of queueing its whole table, decoded, in
/// memory.
#[derive(Debug)]
pub struct InFlight(Option<Arc<Credit>>);

/// The queue behind [`InFlight`]: how many UPDATEs are queued, and the
/// session waiting for room.
#[derive(Debug, Default)]
pub struct Credit {
    queued: AtomicUsize,
    room: Notify,
}

impl InFlight {
    /// UPDATEs a session may have queued for the RIB task: a few of the
    /// task's batches, so it never waits for a busy session.
    pub const LIMIT: usize = 4096;

    /// No credit: for what is not an UPDATE.
    pub const NONE: InFlight = InFlight(None);

    /// A session's queue.
    pub fn queue() -> Arc<Credit> {
        Arc::default()
    }

    /// One place in `queue`. A full queue is waited on until half of it
    /// is applied, so the session and the RIB task each work in runs
    /// instead of waking each other for every message.
    pub async fn take(queue: &Arc<Credit>) -> InFlight {
        loop {
            let room = queue.room.notified();
            if queue.queued.load(Ordering::Acquire) < Self::LIMIT {
                break;
            }
            room.await;
        }
        queue.queued.fetch_add(1, Ordering::AcqRel);
        InFlight(Some(queue.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(q) = &self.0 {
            // `notify_one` keeps the wake-up for a session not yet waiting.
            if q.queued.fetch_sub(1, Ordering::AcqRel) == Self::LIMIT / 2 + 1 {
                q.room.notify_one();
            }
        }
    }
}

/// Where sessions send their events.
pub type RibSender = tokio::sync::mpsc::UnboundedSender<RibEvent>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_waits_until_half_of_it_is_applied() {
        let queue = InFlight::queue();
        let mut held: Vec<InFlight> = Vec::new();
        for _ in 0..InFlight::LIMIT {
            held.push(InFlight::take(&queue).await);
        }
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { InFlight::take(&queue).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // Once waiting, room for one is not enough: it waits for half.
        held.truncate(InFlight::LIMIT - 1);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        held.truncate(InFlight::LIMIT / 2);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(
            queue.queued.load(Ordering::Acquire),
            InFlight::LIMIT / 2 + 1
        );
        drop((got, held));
        assert_eq!(queue.queued.load(Ordering::Acquire), 0);
    }
}
