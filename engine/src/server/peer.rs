//! A peer's settings as a library user gives them, and its status.

use std::net::IpAddr;
use std::sync::Arc;

use super::ServerError;
use crate::config::{GlobalSettings, ResolvedNeighbor};
use crate::engine::Neighbor;
use crate::rib::CommunityKinds;
use crate::session::{FamilyConfig, PeerConfig, Timers, BGP_PORT};
use crate::stats::{PeerStats, SessionFacts, SessionState};
use crate::wire::Family;

/// One peer's settings (GoBGP's `PeerConf`, `Timers`, `Transport` and
/// `AfiSafis` in one). Start from [`PeerSettings::new`] and change what
/// differs from the defaults, with the fields or the builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS; ours makes it an internal peer.
    pub peer_as: u32,
    /// The AS we present to this peer instead of the global one.
    pub local_as: Option<u32>,
    /// The peer's TCP port (179).
    pub port: u16,
    /// Our source address for connections to it.
    pub local_address: Option<IpAddr>,
    /// The families to negotiate, IPv4 and/or IPv6 unicast (the one of
    /// the peer's address).
    pub families: Vec<Family>,
    /// Hold time, keepalive and connect retry (90, 30, 30 s).
    pub timers: Timers,
    /// Never connect; wait for the peer to (false).
    pub passive: bool,
    /// Administratively up (true); false shuts the session down.
    pub enabled: bool,
    /// TTL of our packets to a multihop external peer (1 when `None`).
    pub multihop_ttl: Option<u8>,
    /// TCP MD5 key (RFC 2385), at most 80 octets.
    pub password: Option<String>,
    /// Free text.
    pub description: String,
    /// The peer is a route-reflector client of ours (RFC 4456).
    pub route_reflector_client: bool,
    /// The peer is a route-server client of ours (RFC 7947).
    pub route_server_client: bool,
    /// Which community attributes it is sent (all).
    pub send_communities: CommunityKinds,
}

impl PeerSettings {
    /// A peer at `address` in AS `peer_as` with the defaults above.
    pub fn new(address: IpAddr, peer_as: u32) -> PeerSettings {
        PeerSettings {
            address,
            peer_as,
            local_as: None,
            port: BGP_PORT,
            local_address: None,
            families: vec![match address {
                IpAddr::V4(_) => Family::IPV4_UNICAST,
                IpAddr::V6(_) => Family::IPV6_UNICAST,
            }],
            timers: Timers::default(),
            passive: false,
            enabled: true,
            multihop_ttl: None,
            password: None,
            description: String::new(),
            route_reflector_client: false,
            route_server_client: false,
            send_communities: CommunityKinds::ALL,
        }
    }

    /// Negotiates these families.
    #[must_use]
    pub fn families(mut self, families: impl IntoIterator<Item = Family>) -> PeerSettings {
        self.families = families.into_iter().collect();
        self
    }

    /// Waits for the peer to connect.
    #[must_use]
    pub fn passive(mut self) -> PeerSettings {
        self.passive = true;
        self
    }

    /// Hold time and keepalive interval, in seconds.
    #[must_use]
    pub fn hold_time(mut self, hold_time: u16, keepalive: u16) -> PeerSettings {
        self.timers.hold_time = hold_time;
        self.timers.keepalive = keepalive;
        self
    }

    /// Seconds between connection attempts.
    #[must_use]
    pub fn connect_retry(mut self, seconds: u16) -> PeerSettings {
        self.timers.connect_retry = seconds;
        self
    }

    /// Connects from this address.
    #[must_use]
    pub fn local_address(mut self, address: IpAddr) -> PeerSettings {
        self.local_address = Some(address);
        self
    }

    /// Connects to this TCP port.
    #[must_use]
    pub fn port(mut self, port: u16) -> PeerSettings {
        self.port = port;
        self
    }

    /// Presents this AS to the peer.
    #[must_use]
    pub fn local_as(mut self, asn: u32) -> PeerSettings {
        self.local_as = Some(asn);
        self
    }

    /// Signs the TCP segments with this MD5 key.
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> PeerSettings {
        self.password = Some(password.into());
        self
    }

    /// A multihop external peer, `ttl` hops away at most.
    #[must_use]
    pub fn multihop(mut self, ttl: u8) -> PeerSettings {
        self.multihop_ttl = Some(ttl);
        self
    }

    /// Describes the peer.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> PeerSettings {
        self.description = text.into();
        self
    }

    /// Makes the peer a route-reflector client.
    #[must_use]
    pub fn route_reflector_client(mut self) -> PeerSettings {
        self.route_reflector_client = true;
        self
    }

    /// Makes the peer a route-server client.
    #[must_use]
    pub fn route_server_client(mut self) -> PeerSettings {
        self.route_server_client = true;
        self
    }

    /// The neighbor the engine runs for these settings under `global`:
    /// no routing policy (every route accepted and sent), the model's
    /// defaults for the rest.
    pub(super) fn resolve(&self, global: &GlobalSettings) -> Result<ResolvedNeighbor, ServerError> {
        let mut families = Vec::with_capacity(self.families.len());
        for &f in &self.families {
            super::list::check_family(f)?;
            families.push(FamilyConfig::new(f));
        }
        let mut s = PeerConfig::new(self.address, global.asn, self.peer_as, global.router_id);
        s.remote_port = self.port;
        s.local_address = self.local_address;
        s.local_as_override = self.local_as.filter(|&a| a != global.asn);
        s.description = self.description.clone();
        s.timers = self.timers;
        s.passive = self.passive;
        s.enabled = self.enabled;
        s.multihop_ttl = self.multihop_ttl;
        s.password = self.password.clone().filter(|p| !p.is_empty());
        if !families.is_empty() {
            s.families = families;
        }
        s.validate()?;
        let mut n = ResolvedNeighbor::new(s);
        n.rr_client = self.route_reflector_client;
        n.rs_client = self.route_server_client;
        n.outbound.communities = [self.send_communities; 2];
        Ok(n)
    }
}

/// A peer as [`BgpServer::peers`](super::BgpServer::peers) lists it
/// (GoBGP's `ListPeer`).
#[derive(Debug, Clone)]
pub struct PeerStatus {
    /// The peer's address.
    pub address: IpAddr,
    /// Its AS.
    pub peer_as: u32,
    /// Our AS toward it.
    pub local_as: u32,
    /// Its description.
    pub description: String,
    /// Its session's state.
    pub state: SessionState,
    /// Created by a connection from a dynamic-neighbor range, not
    /// configured.
    pub dynamic: bool,
    /// What the current (or last) session agreed and why the last one
    /// ended.
    pub session: SessionFacts,
    /// Its live counters (messages, transitions to Established).
    pub stats: Arc<PeerStats>,
}

impl PeerStatus {
    pub(super) fn of(n: &Neighbor) -> PeerStatus {
        PeerStatus {
            address: n.config.remote,
            peer_as: n.config.peer_as,
            local_as: n.config.local_asn(),
            description: n.config.description.clone(),
            state: n.stats.state(),
            dynamic: n.config.dynamic,
            session: n.stats.facts(),
            stats: n.stats.clone(),
        }
    }
}
