//! The resolved parameters of one neighbor.
//!
//! The daemon fills a [`PeerConfig`] from the OpenConfig tree, each leaf
//! taken from the neighbor, else its peer group, else the global settings,
//! else the model default. Field docs name the OpenConfig leaf (relative to
//! `neighbor/`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::wire::{Family, GracefulRestartFamily, PeerKind};

/// BGP's TCP port.
pub const BGP_PORT: u16 = 179;

/// Per-family settings (`afi-safis/afi-safi`, enabled ones only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyConfig {
    /// The family (`afi-safi-name`).
    pub family: Family,
    /// Offer to send several paths per prefix (`add-paths/config/send`,
    /// RFC 7911).
    pub add_path_send: bool,
    /// Offer to receive several paths per prefix (`add-paths/config/receive`).
    pub add_path_receive: bool,
}

impl FamilyConfig {
    /// The family without add-path.
    pub fn new(family: Family) -> FamilyConfig {
        FamilyConfig {
            family,
            add_path_send: false,
            add_path_receive: false,
        }
    }
}

/// Graceful restart with a peer (`graceful-restart/config`, RFC 4724,
/// RFC 8538, RFC 9494): what our OPEN advertises and how long we keep the
/// peer's routes over its restarts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GracefulRestartConfig {
    /// Seconds the peer should keep our routes while we restart, at most
    /// 4095 (`restart-time`).
    pub restart_time: u16,
    /// The families whose routes the peer should keep over our restarts,
    /// each with its Forwarding State bit; none when we only help
    /// (`helper-only`).
    pub families: Vec<GracefulRestartFamily>,
    /// Longest time a restarted peer's stale routes are kept once its
    /// session is back, waiting for its End-of-RIB (`stale-routes-time`).
    pub stale_routes_time: u16,
    /// Long-lived stale time to advertise, and most we keep a peer's
    /// routes as long-lived stale (`ocbgp:long-lived-stale-time`); 0: no
    /// long-lived graceful restart.
    pub long_lived_stale_time: u32,
}

impl GracefulRestartConfig {
    /// What of it goes into our OPEN (a change resets the session).
    fn advertised(&self) -> (u16, &[GracefulRestartFamily], u32) {
        (
            self.restart_time,
            &self.families,
            self.long_lived_stale_time,
        )
    }
}

/// Session timers in seconds (`timers/config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Hold time proposed in OPEN: 0 (no keepalives) or at least 3
    /// (`hold-time`, default 90).
    pub hold_time: u16,
    /// Most time between KEEPALIVEs; the session uses the smaller of this
    /// and a third of the negotiated hold time, 0 meaning the latter
    /// (`keepalive-interval`, default 30).
    pub keepalive: u16,
    /// Time between connection attempts, the base of the back-off
    /// (`connect-retry`, default 30).
    pub connect_retry: u16,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            hold_time: 90,
            keepalive: 30,
            connect_retry: 30,
        }
    }
}

/// Everything the session of one neighbor needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's address (`neighbor-address`).
    pub remote: IpAddr,
    /// The peer's TCP port (`transport/config/remote-port`, default 179).
    pub remote_port: u16,
    /// Our source address for outgoing connections
    /// (`transport/config/local-address`, once resolved to an address).
    pub local_address: Option<IpAddr>,
    /// Our AS (`bgp/global/config/as`).
    pub local_as: u32,
    /// The AS we present to this peer instead (`config/local-as`).
    pub local_as_override: Option<u32>,
    /// The peer's AS (`config/peer-as`).
    pub peer_as: u32,
    /// Our BGP identifier (`bgp/global/config/router-id`).
    pub router_id: Ipv4Addr,
    /// Free text (`config/description`); never resets the session.
    pub description: String,
    /// Timers.
    pub timers: Timers,
    /// Never connect; wait for the peer (`transport/config/passive-mode`).
    pub passive: bool,
    /// A dynamic neighbor (OpenConfig `dynamic-neighbor-prefixes`): the
    /// session task never connects and ends when the connection it was
    /// created for is gone, at whatever stage.
    pub dynamic: bool,
    /// TTL of outgoing packets to a multihop eBGP peer
    /// (`ebgp-multihop/config/multihop-ttl` when `enabled`). `None`: 1 for
    /// external peers, 255 for internal ones.
    pub multihop_ttl: Option<u8>,
    /// GTSM (RFC 5082, `ocbgp:ttl-security`): hops to the peer, 1 for a
    /// directly connected one. We send TTL 255 and the kernel drops packets
    /// that arrive with a TTL below 256 minus this (IP_MINTTL /
    /// IPV6_MINHOPCOUNT). Takes precedence over `multihop_ttl`.
    pub ttl_security: Option<u8>,
    /// TCP maximum segment size (`transport/config/tcp-mss`).
    pub tcp_mss: Option<u16>,
    /// TCP MD5 key, RFC 2385 (`config/auth-password`), at most 80 octets.
    pub password: Option<String>,
    /// The families to advertise, in order (`afi-safis`). Empty: no
    /// multiprotocol capability, which means IPv4 unicast alone (RFC 4760 8).
    pub families: Vec<FamilyConfig>,
    /// Graceful restart capability, when enabled.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Advertise route refresh (RFC 2918).
    pub route_refresh: bool,
    /// Advertise enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
    /// Advertise extended messages (RFC 8654).
    pub extended_message: bool,
    /// Advertise IPv4 unicast NLRI with IPv6 next hops (RFC 8950,
    /// `afi-safi/ipv4-unicast/config/extended-next-hop-encoding`).
    pub extended_next_hop: bool,
    /// Administratively enabled (`config/enabled`).
    pub enabled: bool,
    /// How long the session stays down after a prefix limit closed it
    /// (`ocbgp:prefix-limit-restart-timer`); `None`: until an operator
    /// reset or a configuration change.
    pub prefix_limit_restart: Option<Duration>,
}

/// A configuration the session cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// AS 0 is reserved (RFC 7607).
    #[error("AS 0 is not a valid {0}")]
    ZeroAs(&'static str),
    /// The BGP identifier is 0.0.0.0 (RFC 6286).
    #[error("router id 0.0.0.0 is not a valid BGP identifier")]
    ZeroRouterId,
    /// Hold time 1 or 2 (RFC 4271 4.2).
    #[error("hold time {0} is neither 0 nor at least 3 seconds")]
    HoldTime(u16),
    /// The MD5 key is too long for the kernel.
    #[error("TCP MD5 password longer than 80 octets")]
    PasswordTooLong,
    /// The restart time has 12 bits (RFC 4724 3).
    #[error("graceful restart time {0} exceeds 4095 seconds")]
    RestartTime(u16),
    /// Port 0 cannot be connected to.
    #[error("remote port 0")]
    RemotePort,
    /// The local address is of another IP version than the peer's.
    #[error("local address {0} and remote address {1} are of different IP versions")]
    AddressFamilies(IpAddr, IpAddr),
}

impl PeerConfig {
    /// A neighbor with the model defaults: port 179, hold time 90,
    /// keepalive 30, connect retry 30, active, enabled, route refresh and
    /// enhanced route refresh and extended messages advertised, and the
    /// unicast family of the peer's address.
    pub fn new(remote: IpAddr, local_as: u32, peer_as: u32, router_id: Ipv4Addr) -> PeerConfig {
        let family = match remote {
            IpAddr::V4(_) => Family::IPV4_UNICAST,
            IpAddr::V6(_) => Family::IPV6_UNICAST,
        };
        PeerConfig {
            remote,
            remote_port: BGP_PORT,
            local_address: None,
            local_as,
            local_as_override: None,
            peer_as,
            router_id,
            description: String::new(),
            timers: Timers::default(),
            passive: false,
            dynamic: false,
            multihop_ttl: None,
            ttl_security: None,
            tcp_mss: None,
            password: None,
            families: vec![FamilyConfig::new(family)],
            graceful_restart: None,
            route_refresh: true,
            enhanced_route_refresh: true,
            extended_message: true,
            extended_next_hop: false,
            enabled: true,
            prefix_limit_restart: None,
        }
    }

    /// The AS this peer sees us as.
    pub fn local_asn(&self) -> u32 {
        self.local_as_override.unwrap_or(self.local_as)
    }

    /// Whether the peer is internal: its AS is the one we present to it.
    pub fn is_internal(&self) -> bool {
        self.peer_as == self.local_asn()
    }

    /// The peer's kind, for the codec.
    pub fn peer_kind(&self) -> PeerKind {
        if self.is_internal() {
            PeerKind::Internal
        } else {
            PeerKind::External
        }
    }

    /// The connect-retry time, also the bound on one connection attempt.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timers.connect_retry.max(1)))
    }

    /// Checks what the session cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.local_as == 0 {
            return Err(ConfigError::ZeroAs("local AS"));
        }
        if self.local_as_override == Some(0) {
            return Err(ConfigError::ZeroAs("local-as override"));
        }
        if self.peer_as == 0 {
            return Err(ConfigError::ZeroAs("peer AS"));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::ZeroRouterId);
        }
        if matches!(self.timers.hold_time, 1 | 2) {
            return Err(ConfigError::HoldTime(self.timers.hold_time));
        }
        if self
            .password
            .as_ref()
            .is_some_and(|p| p.len() > crate::transport::md5::MAX_KEY_LEN)
        {
            return Err(ConfigError::PasswordTooLong);
        }
        if let Some(gr) = &self.graceful_restart {
            if gr.restart_time > 0x0fff {
                return Err(ConfigError::RestartTime(gr.restart_time));
            }
        }
        if self.remote_port == 0 {
            return Err(ConfigError::RemotePort);
        }
        if let Some(local) = self.local_address {
            if local.is_ipv4() != self.remote.is_ipv4() {
                return Err(ConfigError::AddressFamilies(local, self.remote));
            }
        }
        Ok(())
    }

    /// Whether going from `self` to `new` needs the session reset.
    ///
    /// Resets: anything in our OPEN (ASes, router id, hold time, families,
    /// add-path, capabilities), the connection's endpoints and socket
    /// options (addresses, port, password, TTL, GTSM, MSS), and the peer AS.
    /// Applied in place: description, keepalive (from the next session),
    /// connect retry (from the next attempt), minimum advertisement
    /// interval, passive mode (an established session stays), and enabled,
    /// which shuts down or enables instead.
    pub fn needs_reset(&self, new: &PeerConfig) -> bool {
        let relevant = |c: &PeerConfig| {
            (
                c.remote,
                c.remote_port,
                c.local_address,
                c.local_asn(),
                c.peer_as,
                c.router_id,
                c.timers.hold_time,
                c.multihop_ttl,
                c.ttl_security,
                c.tcp_mss,
                c.password.clone(),
            )
        };
        let capabilities = |c: &PeerConfig| {
            (
                c.families.clone(),
                c.graceful_restart
                    .as_ref()
                    .map(|gr| gr.advertised())
                    .map(|(t, f, l)| (t, f.to_vec(), l)),
                c.route_refresh,
                c.enhanced_route_refresh,
                c.extended_message,
                c.extended_next_hop,
            )
        };
        relevant(self) != relevant(new) || capabilities(self) != capabilities(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PeerConfig {
        PeerConfig::new(
            "192.0.2.2".parse().unwrap(),
            65001,
            65002,
            Ipv4Addr::new(192, 0, 2, 1),
        )
    }

    #[test]
    fn what_resets() {
        let old = config();
        let mut new = old.clone();
        new.description = "core router".into();
        new.timers.keepalive = 10;
        new.timers.connect_retry = 5;
        new.passive = true;
        new.enabled = false;
        assert!(!old.needs_reset(&new));
        for change in [
            |c: &mut PeerConfig| c.peer_as = 65003,
            |c: &mut PeerConfig| c.local_as_override = Some(65010),
            |c: &mut PeerConfig| c.timers.hold_time = 30,
            |c: &mut PeerConfig| c.password = Some("x".into()),
            |c: &mut PeerConfig| c.families.push(FamilyConfig::new(Family::IPV6_UNICAST)),
            |c: &mut PeerConfig| c.ttl_security = Some(1),
            |c: &mut PeerConfig| c.remote_port = 1179,
        ] {
            let mut new = old.clone();
            change(&mut new);
            assert!(old.needs_reset(&new), "{new:?}");
        }
    }

    #[test]
    fn validation() {
        assert_eq!(config().validate(), Ok(()));
        let mut c = config();
        c.timers.hold_time = 2;
        assert_eq!(c.validate(), Err(ConfigError::HoldTime(2)));
        let mut c = config();
        c.router_id = Ipv4Addr::UNSPECIFIED;
        assert_eq!(c.validate(), Err(ConfigError::ZeroRouterId));
        let mut c = config();
        c.local_address = Some("2001:db8::1".parse().unwrap());
        assert!(c.validate().is_err());
        let mut c = config();
        c.password = Some("k".repeat(81));
        assert_eq!(c.validate(), Err(ConfigError::PasswordTooLong));
    }

    #[test]
    fn kinds_and_ttl() {
        let mut c = config();
        assert!(!c.is_internal());
        assert_eq!(crate::transport::outgoing_ttl(&c), 1);
        c.local_as_override = Some(65002);
        assert!(c.is_internal());
        assert_eq!(crate::transport::outgoing_ttl(&c), 255);
        c.multihop_ttl = Some(5);
        assert_eq!(crate::transport::outgoing_ttl(&c), 5);
        c.ttl_security = Some(1);
        assert_eq!(crate::transport::outgoing_ttl(&c), 255);
        assert_eq!(crate::transport::min_ttl(&c), Some(255));
    }
}
