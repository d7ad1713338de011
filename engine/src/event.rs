//! What sessions tell the RIB task. Sessions decode and check messages on
//! their own tasks; the RIB task owns the tables and applies these events
//! in batches.

use std::net::{Ipv4Addr, SocketAddr};

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

/// Where sessions send their events.
pub type RibSender = tokio::sync::mpsc::UnboundedSender<RibEvent>;
