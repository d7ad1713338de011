//! Routes as the table holds them, and the route sources they come from.

use std::net::{IpAddr, Ipv4Addr};

use super::attrs::Attrs;
use super::rules::{Inbound, Outbound};

/// Index of a route source in the RIB's peer table. Index 0 is this
/// speaker itself (originated routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerIdx(pub u32);

impl PeerIdx {
    /// Routes this speaker originates.
    pub const LOCAL: PeerIdx = PeerIdx(0);
}

/// How a route source relates to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// This speaker.
    Local,
    /// A peer in our AS.
    Internal,
    /// A peer in another AS.
    External,
}

/// What best-path selection and export need to know about a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Internal, external or local.
    pub kind: SourceKind,
    /// The peer's address (session remote address); unspecified for local.
    pub address: IpAddr,
    /// The peer's BGP identifier.
    pub router_id: Ipv4Addr,
    /// The peer's AS.
    pub asn: u32,
    /// Whether the peer is a route-reflector client of ours (RFC 4456).
    pub rr_client: bool,
    /// Whether the peer is a route-server client of ours (RFC 7947).
    pub rs_client: bool,
    /// Cluster id for reflection to and from the peer (RFC 4456); `None`:
    /// the speaker's.
    pub cluster_id: Option<Ipv4Addr>,
    /// Loop checks on the peer's routes.
    pub inbound: Inbound,
    /// What export does to routes for the peer.
    pub outbound: Outbound,
}

impl PeerInfo {
    /// The entry for this speaker's own routes.
    pub fn local(asn: u32, router_id: Ipv4Addr) -> PeerInfo {
        PeerInfo {
            kind: SourceKind::Local,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            router_id,
            asn,
            rr_client: false,
            rs_client: false,
            cluster_id: None,
            inbound: Inbound::new(asn),
            outbound: Outbound::default(),
        }
    }

    /// A peer of `kind` with default rules (no reflection, every community
    /// sent, no own AS allowed); `local_asn` is our AS toward it.
    pub fn peer(kind: SourceKind, address: IpAddr, asn: u32, local_asn: u32) -> PeerInfo {
        PeerInfo {
            kind,
            address,
            router_id: Ipv4Addr::UNSPECIFIED,
            asn,
            inbound: Inbound::new(local_asn),
            ..PeerInfo::local(asn, Ipv4Addr::UNSPECIFIED)
        }
    }
}

/// One path to a prefix: who sent it, what they sent, and what import
/// policy made of it. The RIB keeps rejected paths too (Adj-RIB-In
/// pre-policy), so a policy change can be re-run without asking the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The source.
    pub peer: PeerIdx,
    /// The add-path identifier the peer gave it (0 without add-path).
    pub path_id: u32,
    /// The attributes as received (pre-policy).
    pub received: Attrs,
    /// The attributes after import policy; `None` if policy rejected it.
    pub accepted: Option<Attrs>,
    /// Engine time (seconds) when it last changed.
    pub since: u32,
}

impl Path {
    /// Whether two paths are the same announcement with the same outcome:
    /// the test for "did the best path change".
    pub fn same_as(&self, other: &Path) -> bool {
        self.peer == other.peer
            && self.path_id == other.path_id
            && match (&self.accepted, &other.accepted) {
                (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}
