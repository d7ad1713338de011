//! Neighbor state: session, timers, transport, capabilities, message
//! counters and per-family prefix counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use ocbgp_models::gen::state::{
    BgpApplyPolicyState, ListenState, Messages, NeighborAfiSafiState, NeighborState,
    NeighborTimersState, NeighborTransportState, Prefixes, Queues, Received, RouteServerState,
    Sent,
};
use ocbgp_models::gen::types::{
    AfiSafiType, BgpCapability, BgpErrorCode, BgpErrorSubcode, DefaultPolicyType,
    NeighborSessionState,
};
use ocbgp_models::ModelError;
use yang2::data::DataTree;

use super::{wants, RIB_WAIT};
use crate::config::bgp_path;
use crate::engine::{Engine, Neighbor};
use crate::rib::{PeerIdx, PrefixCounts};
use crate::rib_task::RibHandle;
use crate::stats::{MessageCounters, NotificationCode, SessionState};
use crate::wire::{Capabilities, Family, MessageType};

/// Writes the state of every neighbor under `path`'s interest.
pub(super) fn write_all(
    engine: &Engine,
    rib: Option<&RibHandle>,
    tree: &mut DataTree<'static>,
    path: &str,
) -> Result<(), ModelError> {
    let bgp = bgp_path();
    let neighbors: Vec<(IpAddr, Neighbor)> = engine
        .neighbors()
        .into_iter()
        .filter(|(a, _)| {
            wants(
                path,
                &format!("{bgp}/neighbors/neighbor[neighbor-address='{a}']"),
            )
        })
        .collect();
    let idxs: Vec<PeerIdx> = neighbors.iter().map(|(_, n)| n.idx).collect();
    let rib_facts: RibFacts = rib
        .and_then(|r| {
            r.query_blocking(RIB_WAIT, move |rib| {
                let mut out = RibFacts::default();
                for idx in idxs {
                    for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
                        out.counts.insert((idx, f), rib.counts(idx, f));
                        out.stale.insert((idx, f), rib.stale_count(idx, f));
                        out.exceeded.insert(
                            (idx, f),
                            [
                                rib.limit_exceeded(idx, f, false),
                                rib.limit_exceeded(idx, f, true),
                            ],
                        );
                    }
                    if let Some(at) = rib.last_limit_exceeded(idx) {
                        out.last_exceeded.insert(idx, at);
                    }
                }
                out
            })
        })
        .unwrap_or_default();
    for (addr, n) in &neighbors {
        let at = format!("{bgp}/neighbors/neighbor[neighbor-address='{addr}']");
        write_one(tree, &at, n, &rib_facts)?;
        write_graceful_restart(tree, &at, n, &rib_facts, engine.restarting())?;
    }
    let listen = format!("{bgp}/global/ocbgp:listen/state");
    if let Some(g) = engine.global() {
        if wants(path, &listen) {
            ListenState {
                enabled: Some(g.listen.enabled),
                address: g.listen.addresses.clone(),
                port: Some(g.listen.port),
                bound: engine.listening().iter().map(|a| a.to_string()).collect(),
            }
            .write(tree, &listen)?;
        }
    }
    Ok(())
}

fn session_state(s: SessionState) -> NeighborSessionState {
    match s {
        SessionState::Idle => NeighborSessionState::Idle,
        SessionState::Connect => NeighborSessionState::Connect,
        SessionState::Active => NeighborSessionState::Active,
        SessionState::OpenSent => NeighborSessionState::Opensent,
        SessionState::OpenConfirm => NeighborSessionState::Openconfirm,
        SessionState::Established => NeighborSessionState::Established,
    }
}

fn capabilities(c: &Capabilities) -> Vec<BgpCapability> {
    let mut out = Vec::new();
    if !c.multiprotocol.is_empty() {
        out.push(BgpCapability::Mpbgp);
    }
    if c.route_refresh {
        out.push(BgpCapability::RouteRefresh);
    }
    if c.four_octet_as.is_some() {
        out.push(BgpCapability::Asn32);
    }
    if c.graceful_restart.is_some() {
        out.push(BgpCapability::GracefulRestart);
    }
    if !c.add_path.is_empty() {
        out.push(BgpCapability::AddPaths);
    }
    if !c.extended_next_hop.is_empty() {
        out.push(BgpCapability::ExtendedNexthopEncoding);
    }
    out
}

/// OpenConfig's identities for an error code and subcode (RFC 4271 4.5).
fn error_identities(n: NotificationCode) -> (Option<BgpErrorCode>, Option<BgpErrorSubcode>) {
    use BgpErrorSubcode as S;
    let code = match n.code {
        1 => BgpErrorCode::MessageHeaderError,
        2 => BgpErrorCode::OpenMessageError,
        3 => BgpErrorCode::UpdateMessageError,
        4 => BgpErrorCode::HoldTimerExpired,
        5 => BgpErrorCode::FiniteStateMachineError,
        6 => BgpErrorCode::Cease,
        7 => BgpErrorCode::RouteRefreshMessageError,
        _ => return (None, None),
    };
    let sub = match (n.code, n.subcode) {
        (_, 0) => Some(S::Unspecific),
        (1, 1) => Some(S::ConnectionNotSynchronized),
        (1, 2) => Some(S::BadMessageLength),
        (1, 3) => Some(S::BadMessageType),
        (2, 1) => Some(S::UnsupportedVersionNumber),
        (2, 2) => Some(S::BadPeerAs),
        (2, 3) => Some(S::BadBgpIdentifier),
        (2, 4) => Some(S::UnsupportedOptionalParameter),
        (2, 6) => Some(S::UnacceptableHoldTime),
        (2, 7) => Some(S::UnsupportedCapability),
        (3, 1) => Some(S::MalformedAttributeList),
        (3, 2) => Some(S::UnrecognizedWellKnownAttribute),
        (3, 3) => Some(S::MissingWellKnownAttribute),
        (3, 4) => Some(S::AttributeFlagsError),
        (3, 5) => Some(S::AttributeLengthError),
        (3, 6) => Some(S::InvalidOriginAttribute),
        (3, 8) => Some(S::InvalidNextHopAttribute),
        (3, 9) => Some(S::OptionalAttributeError),
        (3, 10) => Some(S::InvalidNetworkField),
        (3, 11) => Some(S::MalformedAsPath),
        (5, 1) => Some(S::ReceiveUnexpectedMessageOpensent),
        (5, 2) => Some(S::ReceiveUnexpectedMessageOpenconfirm),
        (5, 3) => Some(S::ReceiveUnexpectedMessageEstablished),
        (6, 1) => Some(S::MaxNumPrefixesReached),
        (6, 2) => Some(S::AdministrativeShutdown),
        (6, 3) => Some(S::PeerDeConfigured),
        (6, 4) => Some(S::AdministrativeReset),
        (6, 5) => Some(S::ConnectionRejected),
        (6, 6) => Some(S::OtherConfigChange),
        (6, 7) => Some(S::ConnCollisionResolution),
        (6, 8) => Some(S::OutOfResources),
        (7, 1) => Some(S::InvalidMessageLength),
        _ => None,
    };
    (Some(code), sub)
}

fn afi_safi_name(f: Family) -> Option<AfiSafiType> {
    match f {
        Family::IPV4_UNICAST => Some(AfiSafiType::Ipv4Unicast),
        Family::IPV6_UNICAST => Some(AfiSafiType::Ipv6Unicast),
        _ => None,
    }
}

fn u32_of(v: u64) -> Option<u32> {
    Some(v.min(u64::from(u32::MAX)) as u32)
}

/// What the RIB knows of the neighbors read.
#[derive(Default)]
struct RibFacts {
    counts: HashMap<(PeerIdx, Family), PrefixCounts>,
    /// prefix-limit and prefix-limit-received exceeded.
    exceeded: HashMap<(PeerIdx, Family), [bool; 2]>,
    last_exceeded: HashMap<PeerIdx, u64>,
    /// Routes kept stale over the neighbor's restart.
    stale: HashMap<(PeerIdx, Family), usize>,
}

fn write_one(
    tree: &mut DataTree<'static>,
    at: &str,
    n: &Neighbor,
    rib: &RibFacts,
) -> Result<(), ModelError> {
    let counts = &rib.counts;
    let stats = &n.stats;
    let facts = stats.facts();
    let c = &n.config;
    let established = stats.state() == SessionState::Established;
    let direction = |m: &MessageCounters, last: Option<NotificationCode>| {
        let (code, sub) = last.map(error_identities).unwrap_or((None, None));
        (
            m.get(MessageType::Update),
            m.get(MessageType::Notification),
            code,
            sub,
        )
    };
    let (su, sn, scode, ssub) = direction(&stats.sent, facts.last_sent_notification);
    let (ru, rn, rcode, rsub) = direction(&stats.received, facts.last_received_notification);
    let last_established = stats.last_established.load(Ordering::Relaxed);
    NeighborState {
        neighbor_address: Some(c.remote),
        neighbor_port: Some(c.remote_port),
        enabled: Some(c.enabled),
        peer_as: Some(c.peer_as),
        local_as: Some(c.local_asn()),
        peer_type: Some(if c.is_internal() {
            ocbgp_models::gen::types::PeerType::Internal
        } else {
            ocbgp_models::gen::types::PeerType::External
        }),
        description: (!c.description.is_empty()).then(|| c.description.clone()),
        dynamically_configured: Some(c.dynamic),
        session_state: Some(session_state(stats.state())),
        // OpenConfig: nanoseconds since the Unix epoch.
        last_established: (last_established > 0)
            .then(|| last_established.saturating_mul(1_000_000_000)),
        established_transitions: Some(stats.established_transitions.load(Ordering::Relaxed)),
        supported_capabilities: facts
            .remote_capabilities
            .as_ref()
            .map(capabilities)
            .unwrap_or_default(),
        messages: Messages {
            sent: Sent {
                update: Some(su),
                notification: Some(sn),
                last_notification_error_code: scode,
                last_notification_error_subcode: ssub,
                ..Sent::default()
            },
            received: Received {
                update: Some(ru),
                notification: Some(rn),
                last_notification_error_code: rcode,
                last_notification_error_subcode: rsub,
                ..Received::default()
            },
        },
        queues: Queues {
            input: Some(0),
            output: u32_of(stats.output_queue.load(Ordering::Relaxed)),
        },
        last_prefix_limit_exceeded: rib.last_exceeded.get(&n.idx).copied(),
        ..NeighborState::default()
    }
    .write(tree, &format!("{at}/state"))?;

    NeighborTimersState {
        connect_retry: Some(c.timers.connect_retry),
        hold_time: Some(c.timers.hold_time),
        keepalive_interval: Some(c.timers.keepalive),
        negotiated_hold_time: facts
            .negotiated
            .as_ref()
            .filter(|_| established)
            .map(|n| n.hold_time),
        ..NeighborTimersState::default()
    }
    .write(tree, &format!("{at}/timers/state"))?;

    NeighborTransportState {
        passive_mode: Some(c.passive),
        tcp_mss: c.tcp_mss,
        ttl_security: c.ttl_security,
        local_address: facts
            .local_address
            .map(|a| a.ip().to_string())
            .or(c.local_address.map(|a| a.to_string())),
        local_port: facts.local_address.map(|a| a.port()),
        remote_address: Some(facts.remote_address.map(|a| a.ip()).unwrap_or(c.remote)),
        remote_port: facts.remote_address.map(|a| a.port()),
        ..NeighborTransportState::default()
    }
    .write(tree, &format!("{at}/transport/state"))?;

    RouteServerState {
        route_server_client: Some(n.rs_client),
    }
    .write(tree, &format!("{at}/ocbgp:route-server/state"))?;

    // The policy in effect; no chain configured shows as ACCEPT_ROUTE
    // defaults with no policies (everything passes, see yang/README.md).
    let default_of = |spec: &Option<crate::config::PolicySpec>| {
        Some(match spec.as_ref().map(|s| s.default) {
            Some(crate::policy::DefaultPolicy::Reject) => DefaultPolicyType::RejectRoute,
            _ => DefaultPolicyType::AcceptRoute,
        })
    };
    BgpApplyPolicyState {
        import_policy: n
            .import
            .as_ref()
            .map(|s| s.names.clone())
            .unwrap_or_default(),
        export_policy: n
            .export
            .as_ref()
            .map(|s| s.names.clone())
            .unwrap_or_default(),
        default_import_policy: default_of(&n.import),
        default_export_policy: default_of(&n.export),
    }
    .write(tree, &format!("{at}/apply-policy/state"))?;

    let negotiated: Vec<Family> = facts
        .negotiated
        .as_ref()
        .map(|n| n.families.clone())
        .unwrap_or_default();
    for fam in &c.families {
        let Some(name) = afi_safi_name(fam.family) else {
            continue;
        };
        let pc = counts
            .get(&(n.idx, fam.family))
            .copied()
            .unwrap_or_default();
        NeighborAfiSafiState {
            afi_safi_name: Some(name),
            enabled: Some(true),
            active: Some(established && negotiated.contains(&fam.family)),
            prefixes: Prefixes {
                received: u32_of(pc.accepted),
                received_pre_policy: u32_of(pc.received),
                installed: u32_of(pc.installed),
                sent: u32_of(pc.sent),
                stale: rib
                    .stale
                    .get(&(n.idx, fam.family))
                    .and_then(|&s| u32_of(s as u64)),
            },
            ..NeighborAfiSafiState::default()
        }
        .write(
            tree,
            &format!(
                "{at}/afi-safis/afi-safi[afi-safi-name='{}']/state",
                name.as_str()
            ),
        )?;
        // The limits themselves are mirrored from the configuration.
        let unicast = if fam.family == Family::IPV4_UNICAST {
            "ipv4-unicast"
        } else {
            "ipv6-unicast"
        };
        let limits = n.limits[usize::from(fam.family == Family::IPV6_UNICAST)];
        let [accepted, received] = rib
            .exceeded
            .get(&(n.idx, fam.family))
            .copied()
            .unwrap_or_default();
        for (container, limit, exceeded) in [
            ("prefix-limit", limits.accepted, accepted),
            ("prefix-limit-received", limits.received, received),
        ] {
            if limit.is_some() {
                let leaf = format!(
                    "{at}/afi-safis/afi-safi[afi-safi-name='{}']/{unicast}/{container}/state/prefix-limit-exceeded",
                    name.as_str()
                );
                tree.new_path(&leaf, Some(if exceeded { "true" } else { "false" }), false)?;
            }
        }
    }
    Ok(())
}

/// The graceful restart state of a neighbor with graceful restart
/// configured (the configured leaves are mirrored from the configuration):
/// what the peer announced, whether either side is restarting, the roles,
/// and per family what each side's capability covers.
fn write_graceful_restart(
    tree: &mut DataTree<'static>,
    at: &str,
    n: &Neighbor,
    rib: &RibFacts,
    local_restarting: bool,
) -> Result<(), ModelError> {
    let Some(ours) = &n.config.graceful_restart else {
        return Ok(());
    };
    let facts = n.stats.facts();
    let theirs = facts
        .remote_capabilities
        .as_ref()
        .and_then(|c| c.graceful_restart.as_ref());
    let state = format!("{at}/graceful-restart/state");
    let mut leaf =
        |path: String, value: String| tree.new_path(&path, Some(&value), false).map(|_| ());
    if let Some(gr) = theirs {
        leaf(
            format!("{state}/peer-restart-time"),
            gr.restart_time.to_string(),
        )?;
    }
    let stale = [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        .iter()
        .any(|f| rib.stale.get(&(n.idx, *f)).is_some_and(|&s| s > 0));
    leaf(format!("{state}/peer-restarting"), stale.to_string())?;
    leaf(
        format!("{state}/local-restarting"),
        local_restarting.to_string(),
    )?;
    let mode = match theirs {
        _ if ours.families.is_empty() => "HELPER_ONLY",
        Some(gr) if !gr.families.is_empty() => "BILATERAL",
        _ => "REMOTE_HELPER",
    };
    leaf(format!("{state}/mode"), mode.to_string())?;
    for fam in &n.config.families {
        let Some(name) = afi_safi_name(fam.family) else {
            continue;
        };
        let af = format!(
            "{at}/afi-safis/afi-safi[afi-safi-name='{}']/graceful-restart/state",
            name.as_str()
        );
        let advertised = ours.families.iter().any(|f| f.family == fam.family);
        let received = theirs.is_some_and(|gr| gr.families.iter().any(|f| f.family == fam.family));
        leaf(format!("{af}/advertised"), advertised.to_string())?;
        leaf(format!("{af}/received"), received.to_string())?;
    }
    Ok(())
}
