//! The session parameters that follow from both sides' OPEN messages.

use super::capability::{Capabilities, ExtendedNextHop, GracefulRestart, LongLivedFamily};
use super::config::{CodecConfig, PeerKind};
use super::family::Family;
use super::open::Open;

/// What two speakers agreed on by exchanging OPEN messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS (RFC 6793 4.2.1).
    pub peer_asn: u32,
    /// The hold time: the smaller proposal (RFC 4271 4.2); 0 for none.
    pub hold_time: u16,
    /// Families both sides advertised (RFC 4760 8), in our order.
    pub families: Vec<Family>,
    /// Both sides use 4-octet AS numbers (RFC 6793).
    pub four_octet_as: bool,
    /// Both sides handle ROUTE-REFRESH (RFC 2918).
    pub route_refresh: bool,
    /// Both sides handle enhanced route refresh (RFC 7313 4: which needs
    /// route refresh too).
    pub enhanced_route_refresh: bool,
    /// Both sides accept messages up to 65535 octets (RFC 8654).
    pub extended_message: bool,
    /// Next hop encodings both sides advertised, for common families
    /// (RFC 8950).
    pub extended_next_hop: Vec<ExtendedNextHop>,
    /// Families whose NLRI we send with path identifiers (RFC 7911 5: we
    /// can send and the peer can receive).
    pub add_path_send: Vec<Family>,
    /// Families whose NLRI we receive with path identifiers.
    pub add_path_receive: Vec<Family>,
    /// The peer's graceful restart capability, when both sides sent one
    /// (RFC 4724 3).
    pub graceful_restart: Option<GracefulRestart>,
    /// The peer's long-lived graceful restart families, when both sides
    /// sent the capability along with graceful restart (RFC 9494 4.1).
    pub long_lived_graceful_restart: Option<Vec<LongLivedFamily>>,
}

/// Computes the session parameters from our OPEN and the peer's.
pub fn negotiate(local: &Open, remote: &Open) -> Negotiated {
    let (ours, theirs): (&Capabilities, &Capabilities) =
        (&local.capabilities, &remote.capabilities);
    let their_families = theirs.families();
    let families: Vec<Family> = ours
        .families()
        .into_iter()
        .filter(|f| their_families.contains(f))
        .collect();
    let add_path = |we: fn(&Capabilities, Family) -> bool,
                    they: fn(&Capabilities, Family) -> bool| {
        families
            .iter()
            .copied()
            .filter(|&f| we(ours, f) && they(theirs, f))
            .collect::<Vec<_>>()
    };
    let sends = |c: &Capabilities, f: Family| c.add_path_for(f).is_some_and(|d| d.sends());
    let receives = |c: &Capabilities, f: Family| c.add_path_for(f).is_some_and(|d| d.receives());
    let route_refresh = ours.route_refresh && theirs.route_refresh;
    Negotiated {
        peer_asn: remote.asn(),
        hold_time: local.hold_time.min(remote.hold_time),
        four_octet_as: ours.four_octet_as.is_some() && theirs.four_octet_as.is_some(),
        route_refresh,
        enhanced_route_refresh: route_refresh
            && ours.enhanced_route_refresh
            && theirs.enhanced_route_refresh,
        extended_message: ours.extended_message && theirs.extended_message,
        extended_next_hop: ours
            .extended_next_hop
            .iter()
            .filter(|e| families.contains(&e.family) && theirs.extended_next_hop.contains(e))
            .copied()
            .collect(),
        add_path_send: add_path(sends, receives),
        add_path_receive: add_path(receives, sends),
        graceful_restart: ours
            .graceful_restart
            .as_ref()
            .and(theirs.graceful_restart.clone()),
        long_lived_graceful_restart: ours
            .long_lived_graceful_restart
            .as_ref()
            .and(ours.graceful_restart.as_ref())
            .and(theirs.graceful_restart.as_ref())
            .and(theirs.long_lived_graceful_restart.clone()),
        families,
    }
}

impl Negotiated {
    /// Seconds between KEEPALIVEs: a third of the hold time (RFC 4271 10),
    /// or 0 for none.
    pub fn keepalive_interval(&self) -> u16 {
        self.hold_time / 3
    }

    /// The codec settings of this session with a peer of the given kind.
    pub fn codec_config(&self, peer: PeerKind) -> CodecConfig {
        CodecConfig {
            four_octet_as: self.four_octet_as,
            extended_message: self.extended_message,
            add_path_receive: self.add_path_receive.clone(),
            add_path_send: self.add_path_send.clone(),
            peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::capability::{AddPath, AddPathDirection, GracefulRestartFamily};
    use crate::wire::family::Afi;

    fn open(asn: u32, hold: u16, caps: Capabilities) -> Open {
        Open::new(asn, hold, Ipv4Addr::new(10, 0, 0, 1), caps)
    }

    fn add_path(family: Family, direction: AddPathDirection) -> AddPath {
        AddPath { family, direction }
    }

    #[test]
    fn full_negotiation() {
        let enhe = ExtendedNextHop {
            family: Family::IPV4_UNICAST,
            next_hop_afi: Afi::IPV6,
        };
        let gr = GracefulRestart {
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                family: Family::IPV4_UNICAST,
                forwarding_preserved: true,
            }],
            ..GracefulRestart::default()
        };
        let local = open(
            65001,
            90,
            Capabilities {
                multiprotocol: vec![
                    Family::IPV4_UNICAST,
                    Family::IPV6_UNICAST,
                    Family::IPV4_MULTICAST,
                ],
                route_refresh: true,
                enhanced_route_refresh: true,
                four_octet_as: Some(65001),
                extended_next_hop: vec![enhe],
                extended_message: true,
                add_path: vec![
                    add_path(Family::IPV4_UNICAST, AddPathDirection::Both),
                    add_path(Family::IPV6_UNICAST, AddPathDirection::Send),
                ],
                graceful_restart: Some(GracefulRestart::default()),
                long_lived_graceful_restart: None,
                unknown: vec![],
            },
        );
        let remote = open(
            4_200_000_000,
            30,
            Capabilities {
                multiprotocol: vec![Family::IPV6_UNICAST, Family::IPV4_UNICAST],
                route_refresh: true,
                enhanced_route_refresh: false,
                four_octet_as: Some(4_200_000_000),
                extended_next_hop: vec![enhe],
                extended_message: true,
                add_path: vec![
                    add_path(Family::IPV4_UNICAST, AddPathDirection::Send),
                    add_path(Family::IPV6_UNICAST, AddPathDirection::Both),
                ],
                graceful_restart: Some(gr.clone()),
                long_lived_graceful_restart: None,
                unknown: vec![],
            },
        );
        let n = negotiate(&local, &remote);
        assert_eq!(n.peer_asn, 4_200_000_000);
        assert_eq!(n.hold_time, 30);
        assert_eq!(n.keepalive_interval(), 10);
        assert_eq!(n.families, [Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
        assert!(n.four_octet_as && n.route_refresh && n.extended_message);
        assert!(!n.enhanced_route_refresh);
        assert_eq!(n.extended_next_hop, [enhe]);
        assert_eq!(n.add_path_send, [Family::IPV6_UNICAST]);
        assert_eq!(n.add_path_receive, [Family::IPV4_UNICAST]);
        assert_eq!(n.graceful_restart, Some(gr));

        let config = n.codec_config(PeerKind::Internal);
        assert!(config.four_octet_as && config.extended_message);
        assert!(config.receives_path_ids(Family::IPV4_UNICAST));
        assert!(config.sends_path_ids(Family::IPV6_UNICAST));
        assert_eq!(config.max_message_len(), 65535);
    }

    #[test]
    fn minimal_peers_default_to_ipv4_unicast() {
        let local = open(
            65001,
            180,
            Capabilities {
                four_octet_as: Some(65001),
                ..Default::default()
            },
        );
        let remote = open(65002, 0, Capabilities::default());
        let n = negotiate(&local, &remote);
        assert_eq!(n.peer_asn, 65002);
        assert_eq!(n.hold_time, 0);
        assert_eq!(n.keepalive_interval(), 0);
        assert_eq!(n.families, [Family::IPV4_UNICAST]);
        assert!(!n.four_octet_as && !n.route_refresh && !n.extended_message);
        assert!(n.add_path_send.is_empty() && n.add_path_receive.is_empty());
        assert_eq!(n.graceful_restart, None);
        assert_eq!(n.codec_config(PeerKind::External), CodecConfig::default());
    }

    #[test]
    fn add_path_needs_a_common_family() {
        let caps = |families: Vec<Family>| Capabilities {
            multiprotocol: families,
            add_path: vec![add_path(Family::IPV6_UNICAST, AddPathDirection::Both)],
            ..Default::default()
        };
        let n = negotiate(
            &open(1, 90, caps(vec![Family::IPV4_UNICAST])),
            &open(2, 90, caps(vec![Family::IPV6_UNICAST])),
        );
        assert!(n.families.is_empty());
        assert!(n.add_path_send.is_empty());
    }
}
