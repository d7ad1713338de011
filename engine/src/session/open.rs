//! Our OPEN, built from the peer's configuration, and the checks of the
//! peer's OPEN that need that configuration (RFC 4271 6.2; the codec did
//! the rest).

use std::net::Ipv4Addr;

use bytes::Bytes;

use super::config::PeerConfig;
use crate::wire::{
    AddPath, AddPathDirection, Afi, Capabilities, ErrorKind, ExtendedNextHop, Family,
    GracefulRestart, LongLivedFamily, Notification, Open, OpenSubcode,
};

/// The OPEN we send: our AS (AS_TRANS in the 2-octet field when it needs 4
/// octets), hold time, identifier and the configured capabilities. The
/// 4-octet AS capability is always sent (RFC 6793). `restarting`: this
/// speaker restarted and has not sent its tables yet (the graceful restart
/// capability's Restart State bit, RFC 4724 3).
pub fn our_open(config: &PeerConfig, restarting: bool) -> Open {
    let families: Vec<Family> = config.families.iter().map(|f| f.family).collect();
    let add_path = config
        .families
        .iter()
        .filter_map(|f| {
            let direction = match (f.add_path_send, f.add_path_receive) {
                (true, true) => AddPathDirection::Both,
                (true, false) => AddPathDirection::Send,
                (false, true) => AddPathDirection::Receive,
                (false, false) => return None,
            };
            Some(AddPath {
                family: f.family,
                direction,
            })
        })
        .collect();
    let extended_next_hop = if config.extended_next_hop && families.contains(&Family::IPV4_UNICAST)
    {
        vec![ExtendedNextHop {
            family: Family::IPV4_UNICAST,
            next_hop_afi: Afi::IPV6,
        }]
    } else {
        Vec::new()
    };
    let capabilities = Capabilities {
        multiprotocol: families,
        route_refresh: config.route_refresh,
        // RFC 7313 3: enhanced route refresh builds on route refresh.
        enhanced_route_refresh: config.route_refresh && config.enhanced_route_refresh,
        four_octet_as: Some(config.local_asn()),
        extended_next_hop,
        extended_message: config.extended_message,
        add_path,
        graceful_restart: config.graceful_restart.as_ref().map(|gr| GracefulRestart {
            restarting,
            // RFC 8538: a NOTIFICATION other than Hard Reset keeps the
            // routes too (the session handles both ways).
            notification: true,
            restart_time: gr.restart_time,
            families: gr.families.clone(),
        }),
        long_lived_graceful_restart: config
            .graceful_restart
            .as_ref()
            .filter(|gr| gr.long_lived_stale_time > 0)
            .map(|gr| {
                gr.families
                    .iter()
                    .map(|f| LongLivedFamily {
                        family: f.family,
                        forwarding_preserved: f.forwarding_preserved,
                        stale_time: gr.long_lived_stale_time,
                    })
                    .collect()
            }),
        unknown: Vec::new(),
    };
    Open::new(
        config.local_asn(),
        config.timers.hold_time,
        config.router_id,
        capabilities,
    )
}

/// Checks the peer's OPEN against its configuration: the AS it must have
/// and the identifier it must not share with us on an internal session
/// (RFC 6286 2.1 allows equal identifiers only between different ASes).
pub fn check_open(config: &PeerConfig, open: &Open) -> Result<(), Notification> {
    let asn = open.asn();
    if asn != config.peer_as {
        // RFC 4271 6.2 gives no data; the 2-octet field is what was wrong
        // when the 4-octet AS capability is missing.
        let data = Bytes::copy_from_slice(&open.my_as.to_be_bytes());
        return Err(Notification::new(
            ErrorKind::Open(OpenSubcode::BadPeerAs),
            data,
        ));
    }
    if open.bgp_id == config.router_id && config.is_internal() {
        return Err(Notification::new(
            ErrorKind::Open(OpenSubcode::BadBgpIdentifier),
            Bytes::new(),
        ));
    }
    Ok(())
}

/// Which side's connection survives a collision (RFC 4271 6.8): the one the
/// speaker with the higher BGP identifier opened; with equal identifiers
/// (external peers only), the one the speaker with the higher AS opened
/// (RFC 6286 2.3). `true` when ours (outgoing) survives.
pub fn outgoing_wins(
    local_id: Ipv4Addr,
    local_as: u32,
    remote_id: Ipv4Addr,
    remote_as: u32,
) -> bool {
    if local_id != remote_id {
        u32::from(local_id) > u32::from(remote_id)
    } else {
        local_as > remote_as
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::config::FamilyConfig;

    fn config() -> PeerConfig {
        PeerConfig::new(
            "192.0.2.2".parse().unwrap(),
            4_200_000_000,
            65002,
            Ipv4Addr::new(192, 0, 2, 1),
        )
    }

    #[test]
    fn open_from_config() {
        let mut c = config();
        c.families = vec![
            FamilyConfig {
                family: Family::IPV4_UNICAST,
                add_path_send: true,
                add_path_receive: true,
            },
            FamilyConfig {
                family: Family::IPV6_UNICAST,
                add_path_send: false,
                add_path_receive: true,
            },
        ];
        c.extended_next_hop = true;
        let open = our_open(&c, false);
        assert_eq!(open.my_as, 23456);
        assert_eq!(open.asn(), 4_200_000_000);
        assert_eq!(open.hold_time, 90);
        let caps = &open.capabilities;
        assert_eq!(
            caps.multiprotocol,
            [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        );
        assert_eq!(
            caps.add_path_for(Family::IPV4_UNICAST),
            Some(AddPathDirection::Both)
        );
        assert_eq!(
            caps.add_path_for(Family::IPV6_UNICAST),
            Some(AddPathDirection::Receive)
        );
        assert!(caps.route_refresh && caps.enhanced_route_refresh && caps.extended_message);
        assert_eq!(caps.extended_next_hop.len(), 1);
        assert!(caps.graceful_restart.is_none());
        c.route_refresh = false;
        assert!(!our_open(&c, false).capabilities.enhanced_route_refresh);
    }

    #[test]
    fn peer_checks() {
        let c = config();
        let good = Open::new(
            65002,
            90,
            Ipv4Addr::new(192, 0, 2, 2),
            Capabilities::default(),
        );
        assert_eq!(check_open(&c, &good), Ok(()));
        let wrong_as = Open::new(
            65003,
            90,
            Ipv4Addr::new(192, 0, 2, 2),
            Capabilities::default(),
        );
        assert_eq!(
            check_open(&c, &wrong_as).unwrap_err().kind,
            ErrorKind::Open(OpenSubcode::BadPeerAs)
        );
        // Same identifier: fine from an external peer, not an internal one.
        let same_id = Open::new(65002, 90, c.router_id, Capabilities::default());
        assert_eq!(check_open(&c, &same_id), Ok(()));
        let mut internal = c.clone();
        internal.local_as = 65002;
        assert_eq!(
            check_open(&internal, &same_id).unwrap_err().kind,
            ErrorKind::Open(OpenSubcode::BadBgpIdentifier)
        );
    }

    #[test]
    fn collision_winner() {
        let low = Ipv4Addr::new(10, 0, 0, 1);
        let high = Ipv4Addr::new(10, 0, 0, 2);
        assert!(outgoing_wins(high, 1, low, 2));
        assert!(!outgoing_wins(low, 1, high, 2));
        assert!(outgoing_wins(low, 3, low, 2));
        // Both sides agree: exactly one of the two directions wins.
        assert_ne!(
            outgoing_wins(high, 1, low, 2),
            outgoing_wins(low, 2, high, 1)
        );
    }
}
