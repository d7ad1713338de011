//! From the OpenConfig tree to the engine's settings: a neighbor's
//! effective configuration (its own leaves over its peer group's over the
//! model's defaults), the global settings, and the originated routes.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use ocbgp_models::gen::config::{Dump, Global, Neighbor, Route, Station};
use ocbgp_models::gen::types::{
    AfiSafiType, BgpOriginAttrType, CommunityType, DefaultPolicyType, DumpType,
    RemovePrivateAsOption,
};
use ocbgp_models::gen::{paths, FromNode};
use ocbgp_models::ModelError;
use yang2::data::{Data, DataTree};

use super::Problem;
use crate::bmp::StationSettings;
use crate::mrt::{DumpKind, DumpSettings};
use crate::policy::sets::community::{parse_large, parse_std};
use crate::policy::DefaultPolicy;
use crate::rib::{
    CommunityKinds, FamilyLimits, Inbound, Limit, MultipathOptions, Outbound, PathAttrs, PrivateAs,
    SelectionOptions,
};
use crate::session::{FamilyConfig, GracefulRestartConfig, PeerConfig, Timers};
use crate::wire::{Family, GracefulRestartFamily, NextHop, Origin};

/// The one BGP instance ocbgpd runs: protocol BGP "BGP" of instance DEFAULT.
pub fn bgp_path() -> String {
    use paths::network_instances::network_instance as ni;
    let instance = ni::entry(["DEFAULT"]);
    let protocol =
        ni::protocols::protocol::entry(&instance, ["openconfig-policy-types:BGP", "BGP"]);
    format!("{protocol}/bgp")
}

fn neighbor_path(addr: IpAddr) -> String {
    format!(
        "{}/neighbors/neighbor[neighbor-address='{addr}']",
        bgp_path()
    )
}

/// Where the BGP listener binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSettings {
    /// Whether to accept incoming sessions.
    pub enabled: bool,
    /// Addresses; empty means every address.
    pub addresses: Vec<IpAddr>,
    /// TCP port.
    pub port: u16,
}

/// The instance-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalSettings {
    /// Our AS.
    pub asn: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// The listener.
    pub listen: ListenSettings,
    /// Best-path options.
    pub selection: SelectionOptions,
    /// Reflect routes between route-reflector clients
    /// (`ocbgp:client-to-client-reflection`).
    pub client_to_client: bool,
    /// After a restart of the speaker, the longest wait for its graceful
    /// restart peers' End-of-RIB, in seconds
    /// (`graceful-restart/config/ocbgp:selection-deferral-time`).
    pub selection_deferral: u16,
    /// The forwarding table, when best paths are installed
    /// (`ocbgp:fib/config`).
    pub fib: Option<crate::fib::FibSettings>,
    /// The RPKI caches (`ocbgp:rpki/caches`).
    pub rpki: Vec<crate::rpki::CacheSettings>,
}

impl ListenSettings {
    /// Listening on `port` of every address.
    pub fn port(port: u16) -> ListenSettings {
        ListenSettings {
            enabled: true,
            addresses: Vec::new(),
            port,
        }
    }

    /// Not listening: sessions are only set up by connecting out (GoBGP's
    /// `ListenPort: -1`).
    pub fn disabled() -> ListenSettings {
        ListenSettings {
            enabled: false,
            ..ListenSettings::port(crate::session::BGP_PORT)
        }
    }
}

impl GlobalSettings {
    /// AS `asn` and BGP identifier `router_id` with the model's defaults:
    /// listening on port 179 of every address, default best-path options,
    /// client-to-client reflection, a 120 s selection deferral, no
    /// forwarding table and no RPKI.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> GlobalSettings {
        GlobalSettings {
            asn,
            router_id,
            listen: ListenSettings::port(crate::session::BGP_PORT),
            selection: SelectionOptions::default(),
            client_to_client: true,
            selection_deferral: DEFAULT_SELECTION_DEFERRAL,
            fib: None,
            rpki: Vec::new(),
        }
    }
}

/// `selection-deferral-time`'s default, in seconds.
const DEFAULT_SELECTION_DEFERRAL: u16 = 120;

/// The restart time we announce when `restart-time` is not set.
const DEFAULT_RESTART_TIME: u16 = 120;

/// How long a restarted peer's stale routes wait for its End-of-RIB when
/// `stale-routes-time` is not set (as FRR).
const DEFAULT_STALE_ROUTES_TIME: u16 = 360;

fn model(e: ModelError) -> Problem {
    Problem {
        path: e.path.clone(),
        reason: e.message,
    }
}

/// Reads the global settings; `None` when no BGP instance is configured.
pub fn global(tree: &DataTree<'static>) -> Result<Option<GlobalSettings>, Problem> {
    let path = format!("{}/global", bgp_path());
    if tree.find_path(&path).is_err() {
        return Ok(None);
    }
    let g = Global::from_tree(tree, &path).map_err(model)?;
    let router_id = g.config.router_id.ok_or_else(|| Problem {
        path: Some(format!("{path}/config/router-id")),
        reason: "BGP needs a router-id".into(),
    })?;
    if router_id.is_unspecified() {
        return Err(Problem {
            path: Some(format!("{path}/config/router-id")),
            reason: "0.0.0.0 is not a BGP identifier".into(),
        });
    }
    let rs = &g.route_selection_options.config;
    Ok(Some(GlobalSettings {
        asn: g.config.r#as,
        router_id,
        listen: ListenSettings {
            enabled: g.listen.config.enabled,
            addresses: g.listen.config.address.clone(),
            port: g.listen.config.port,
        },
        selection: SelectionOptions {
            always_compare_med: rs.always_compare_med,
            ignore_as_path_length: rs.ignore_as_path_length,
            external_compare_router_id: rs.external_compare_router_id,
            multipath: {
                let mp = &g.use_multiple_paths;
                match mp.config.enabled {
                    true => MultipathOptions {
                        ebgp: mp.ebgp.config.maximum_paths.max(1),
                        ibgp: mp.ibgp.config.maximum_paths.max(1),
                        allow_multiple_as: mp.ebgp.config.allow_multiple_as,
                    },
                    false => MultipathOptions::default(),
                }
            },
        },
        client_to_client: g.config.client_to_client_reflection,
        selection_deferral: g.graceful_restart.config.selection_deferral_time,
        rpki: g
            .rpki
            .caches
            .iter()
            .map(|c| crate::rpki::CacheSettings {
                address: std::net::SocketAddr::new(c.address, c.port),
                preference: c.config.preference,
                refresh: c.config.refresh_interval,
                retry: c.config.retry_interval,
                expire: c.config.expire_interval,
            })
            .collect(),
        fib: fib(&path, &g)?,
    }))
}

/// The forwarding table `ocbgp:fib` asks for, if any.
fn fib(global: &str, g: &Global) -> Result<Option<crate::fib::FibSettings>, Problem> {
    use crate::fib::{FibBackend, FibSettings, Protocol, Redistribute, ZebraSettings};
    use ocbgp_models::gen::types::{Backend, Protocol as P};
    let f = &g.fib.config;
    if f.backend != Backend::Zebra {
        if let Some(r) = g.fib.redistribute.first() {
            return Err(Problem {
                path: Some(format!(
                    "{global}/ocbgp:fib/redistribute[protocol='{}']",
                    r.protocol
                )),
                reason: "redistribution takes routes from zebra: it needs backend ZEBRA".into(),
            });
        }
    }
    let backend = match f.backend {
        Backend::None => return Ok(None),
        Backend::Netlink => FibBackend::Netlink,
        Backend::Zebra => {
            let socket = std::path::PathBuf::from(&f.zebra_socket);
            if !socket.is_absolute() {
                return Err(Problem {
                    path: Some(format!("{global}/ocbgp:fib/config/zebra-socket")),
                    reason: format!("{:?} is not an absolute path", f.zebra_socket),
                });
            }
            let redistribute = g
                .fib
                .redistribute
                .iter()
                .map(|r| Redistribute {
                    protocol: match r.protocol {
                        P::Connected => Protocol::Connected,
                        P::Static => Protocol::Static,
                        P::Kernel => Protocol::Kernel,
                        P::Ospf => Protocol::Ospf,
                    },
                    import_policy: r.config.import_policy.clone(),
                })
                .collect();
            FibBackend::Zebra(ZebraSettings {
                socket,
                redistribute,
            })
        }
    };
    Ok(Some(FibSettings {
        backend,
        table: f.table,
        metric: f.metric,
        keep_on_shutdown: f.keep_on_shutdown,
    }))
}

/// How recently this speaker must have run for a start to be a restart
/// (RFC 4724 4.1): the longest restart time the configuration announces
/// to any peer with graceful restart enabled; `None` when no peer has it.
pub fn graceful_restart_window(tree: &DataTree<'static>) -> Option<std::time::Duration> {
    let bgp = bgp_path();
    let neighbors =
        ocbgp_models::ly::find(tree, &format!("{bgp}/neighbors/neighbor/neighbor-address")).ok()?;
    neighbors
        .iter()
        .filter_map(|n| n.value_canonical()?.parse::<IpAddr>().ok())
        .filter_map(|addr| {
            let path = neighbor_path(addr);
            let eff = ocbgp_models::inherit::effective_neighbor(tree, &path).ok()?;
            let n = Neighbor::from_tree(&eff, &path).ok()?;
            let gr = &n.graceful_restart.config;
            gr.enabled
                .unwrap_or(false)
                .then(|| gr.restart_time.unwrap_or(DEFAULT_RESTART_TIME).min(4095))
        })
        .max()
        .map(|secs| std::time::Duration::from_secs(u64::from(secs)))
}

/// Addresses of every configured neighbor.
pub fn neighbor_addresses(tree: &DataTree<'static>) -> Vec<IpAddr> {
    let xpath = format!("{}/neighbors/neighbor/neighbor-address", bgp_path());
    let Ok(set) = ocbgp_models::ly::find(tree, &xpath) else {
        return Vec::new();
    };
    set.iter()
        .filter_map(|n| n.value_canonical()?.parse().ok())
        .collect()
}

/// Whether a neighbor with this address is configured.
pub fn has_neighbor(tree: &DataTree<'static>, addr: IpAddr) -> bool {
    tree.find_path(&neighbor_path(addr)).is_ok()
}

/// Addresses of the neighbors in a peer group.
pub fn members_of(tree: &DataTree<'static>, group: &str) -> Vec<IpAddr> {
    let xpath = format!(
        "{}/neighbors/neighbor[config/peer-group={}]/neighbor-address",
        bgp_path(),
        ocbgp_models::path::quote(group)
    );
    let Ok(set) = ocbgp_models::ly::find(tree, &xpath) else {
        return Vec::new();
    };
    set.iter()
        .filter_map(|n| n.value_canonical()?.parse().ok())
        .collect()
}

fn family_of(name: AfiSafiType) -> Option<Family> {
    match name {
        AfiSafiType::Ipv4Unicast => Some(Family::IPV4_UNICAST),
        AfiSafiType::Ipv6Unicast => Some(Family::IPV6_UNICAST),
        _ => None,
    }
}

/// A policy chain by name, as apply-policy configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// Policy definitions, in order.
    pub names: Vec<String>,
    /// What happens to a route the chain neither accepts nor rejects.
    pub default: DefaultPolicy,
}

/// A neighbor's session settings, route-reflector role and policies.
#[derive(Clone)]
pub struct ResolvedNeighbor {
    /// The session's parameters.
    pub session: PeerConfig,
    /// The peer is a route-reflector client of ours.
    pub rr_client: bool,
    /// The peer is a route-server client of ours (RFC 7947).
    pub rs_client: bool,
    /// Import policy; `None`: every route is accepted as received.
    pub import: Option<PolicySpec>,
    /// Export policy; `None`: every route is sent.
    pub export: Option<PolicySpec>,
    /// Add-path `eligible-prefix-policy`, IPv4 and IPv6 unicast: the
    /// prefixes it accepts get several paths, the others the best alone.
    pub add_path_eligible: [Option<PolicySpec>; 2],
    /// Cluster id for reflection to and from the peer.
    pub cluster_id: Option<Ipv4Addr>,
    /// Loop checks on the peer's routes.
    pub inbound: Inbound,
    /// What export does to routes for the peer.
    pub outbound: Outbound,
    /// Prefix limits, IPv4 and IPv6 unicast.
    pub limits: [FamilyLimits; 2],
}

impl ResolvedNeighbor {
    /// A neighbor running `session` with nothing else configured: no
    /// routing policy (every route accepted and sent, every community
    /// kind), no reflection or route-server role, no prefix limits, the
    /// model's AS-path options.
    pub fn new(session: PeerConfig) -> ResolvedNeighbor {
        let (inbound, outbound) = AsPathOptions::default().rules(&session);
        ResolvedNeighbor {
            session,
            rr_client: false,
            rs_client: false,
            import: None,
            export: None,
            add_path_eligible: Default::default(),
            cluster_id: None,
            inbound,
            outbound,
            limits: [FamilyLimits::default(); 2],
        }
    }
}

/// How a neighbor's AS_PATHs are checked on receipt and built on export,
/// beyond RFC 4271 (`as-path-options` and our `local-as` leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsPathOptions {
    /// How often our AS may appear in a received AS_PATH
    /// (`allow-own-as`, default 0).
    pub allow_own_as: u8,
    /// An external peer's paths must begin with its AS
    /// (`ocbgp:enforce-first-as`, default true).
    pub enforce_first_as: bool,
    /// With a `local-as`, received paths do not get it in front
    /// (`ocbgp:local-as-no-prepend`).
    pub local_as_no_prepend: bool,
    /// With a `local-as`, sent paths carry it alone, not in front of the
    /// global AS (`ocbgp:local-as-replace-as`).
    pub local_as_replace_as: bool,
}

impl Default for AsPathOptions {
    /// The model's defaults.
    fn default() -> AsPathOptions {
        AsPathOptions {
            allow_own_as: 0,
            enforce_first_as: true,
            local_as_no_prepend: false,
            local_as_replace_as: false,
        }
    }
}

impl AsPathOptions {
    /// The loop checks on `session`'s received paths, and export's rules
    /// for it with these options (the others as [`Outbound::default`]).
    pub fn rules(self, session: &PeerConfig) -> (Inbound, Outbound) {
        let external = !session.is_internal();
        // local-as toward an external peer: received paths get it in
        // front, sent ones get it in front of the global AS (unless told
        // otherwise).
        let local_as = session.local_as_override.filter(|_| external);
        let inbound = Inbound {
            local_asn: session.local_asn(),
            allow_own_as: self.allow_own_as,
            prepend: local_as.filter(|_| !self.local_as_no_prepend),
            first_as: (self.enforce_first_as && external).then_some(session.peer_as),
        };
        let outbound = Outbound {
            global_behind: local_as
                .filter(|_| !self.local_as_replace_as)
                .map(|_| session.local_as),
            ..Outbound::default()
        };
        (inbound, outbound)
    }
}

/// The chain a neighbor runs in one direction.
///
/// OpenConfig's default decision is REJECT_ROUTE. ocbgp applies it when a
/// chain or a default is configured (on the neighbor, its peer group, or
/// the global apply-policy); a neighbor with no policy at all is accepted
/// whole, as GoBGP does (see yang/README.md).
fn policy_spec(
    eff: &DataTree<'static>,
    tree: &DataTree<'static>,
    neighbor: &str,
    names: &[String],
    default: DefaultPolicyType,
    leaf: &str,
) -> Option<PolicySpec> {
    let explicit =
        |t: &DataTree<'static>, p: String| t.find_path(&p).is_ok_and(|n| !n.is_default());
    let default = if explicit(eff, format!("{neighbor}/apply-policy/config/{leaf}")) {
        Some(default)
    } else {
        let global = format!("{}/global/apply-policy/config/{leaf}", bgp_path());
        if explicit(tree, global.clone()) {
            tree.find_path(&global)
                .ok()
                .and_then(|n| n.value_canonical())
                .and_then(|v| v.parse().ok())
        } else {
            None
        }
    };
    match (names.is_empty(), default) {
        (true, None) => None,
        (_, d) => Some(PolicySpec {
            names: names.to_vec(),
            default: DefaultPolicy::from(d.unwrap_or(DefaultPolicyType::RejectRoute)),
        }),
    }
}

/// Resolves one neighbor.
pub fn neighbor(
    tree: &DataTree<'static>,
    global: &GlobalSettings,
    addr: IpAddr,
) -> Result<ResolvedNeighbor, Problem> {
    let path = neighbor_path(addr);
    let eff = ocbgp_models::inherit::effective_neighbor(tree, &path).map_err(model)?;
    let n = Neighbor::from_tree(&eff, &path).map_err(model)?;
    let at = |leaf: &str| Some(format!("{path}/{leaf}"));
    let c = &n.config;
    let peer_as = match (c.peer_as, c.peer_type) {
        (Some(asn), _) => asn,
        (None, Some(ocbgp_models::gen::types::PeerType::Internal)) => {
            c.local_as.unwrap_or(global.asn)
        }
        _ => {
            return Err(Problem {
                path: at("config/peer-as"),
                reason: "peer-as is set neither on the neighbor nor on its peer group".into(),
            })
        }
    };
    let local_address = match &n.transport.config.local_address {
        None => None,
        Some(text) => Some(text.parse::<IpAddr>().map_err(|_| Problem {
            path: at("transport/config/local-address"),
            reason: format!("{text:?} is not an IP address (interface names are not supported)"),
        })?),
    };
    let mut families = Vec::new();
    for af in n
        .afi_safis
        .iter()
        .filter(|af| af.config.enabled == Some(true))
    {
        let family = family_of(af.afi_safi_name).ok_or_else(|| Problem {
            path: at(&format!(
                "afi-safis/afi-safi[afi-safi-name='{}']",
                af.afi_safi_name.as_str()
            )),
            reason: format!(
                "address family {} is not supported",
                af.afi_safi_name.as_str()
            ),
        })?;
        families.push(FamilyConfig {
            family,
            add_path_send: af.add_paths.config.send,
            add_path_receive: af.add_paths.config.receive,
        });
    }
    if families.is_empty() {
        // No family enabled: the unicast family of the neighbor's address,
        // as GoBGP does.
        families.push(FamilyConfig::new(match addr {
            IpAddr::V4(_) => Family::IPV4_UNICAST,
            IpAddr::V6(_) => Family::IPV6_UNICAST,
        }));
    }
    // Graceful restart covers the families whose afi-safi enables it, or
    // every family of the session when no afi-safi says (RFC 4724's
    // capability lists the families we keep over a restart).
    let gr_on: Vec<Family> = n
        .afi_safis
        .iter()
        .filter(|af| af.graceful_restart.config.enabled)
        .filter_map(|af| family_of(af.afi_safi_name))
        .collect();
    let gr = &n.graceful_restart.config;
    // Whether our restart leaves forwarding as it was (the F bit): without
    // a forwarding table we install nothing; the kernel keeps the netlink
    // table's routes over a graceful restart (the next run adopts them);
    // zebra removes a client's routes when its connection goes (we do not
    // ask it to keep them), so with zebra forwarding is not preserved.
    let forwarding_preserved = !matches!(
        global.fib.as_ref().map(|f| &f.backend),
        Some(crate::fib::FibBackend::Zebra(_))
    );
    let graceful_restart = gr.enabled.unwrap_or(false).then(|| GracefulRestartConfig {
        restart_time: gr.restart_time.unwrap_or(DEFAULT_RESTART_TIME).min(4095),
        families: families
            .iter()
            .filter(|f| gr_on.is_empty() || gr_on.contains(&f.family))
            .filter(|_| gr.helper_only != Some(true))
            .map(|f| GracefulRestartFamily {
                family: f.family,
                forwarding_preserved,
            })
            .collect(),
        stale_routes_time: gr.stale_routes_time.unwrap_or(DEFAULT_STALE_ROUTES_TIME),
        long_lived_stale_time: gr.long_lived_stale_time,
    });
    let t = &n.timers.config;
    let mut session = PeerConfig::new(addr, global.asn, peer_as, global.router_id);
    session.remote_port = c.neighbor_port;
    session.local_address = local_address;
    session.local_as_override = c.local_as.filter(|&a| a != global.asn);
    session.description = c.description.clone().unwrap_or_default();
    session.timers = Timers {
        hold_time: t.hold_time,
        keepalive: t.keepalive_interval,
        connect_retry: t.connect_retry,
    };
    session.passive = n.transport.config.passive_mode;
    session.tcp_mss = n.transport.config.tcp_mss;
    session.ttl_security = n.transport.config.ttl_security;
    session.multihop_ttl = n
        .ebgp_multihop
        .config
        .enabled
        .then(|| n.ebgp_multihop.config.multihop_ttl.unwrap_or(255));
    session.password = c.auth_password.clone().filter(|p| !p.is_empty());
    session.families = families;
    session.graceful_restart = graceful_restart;
    session.enabled = c.enabled;
    session.prefix_limit_restart = c
        .prefix_limit_restart_timer
        .map(|s| std::time::Duration::from_secs(u64::from(s)));
    session.validate().map_err(|e| Problem {
        path: Some(path.clone()),
        reason: e.to_string(),
    })?;
    let ap = &n.apply_policy.config;
    let import = policy_spec(
        &eff,
        tree,
        &path,
        &ap.import_policy,
        ap.default_import_policy,
        "default-import-policy",
    );
    let export = policy_spec(
        &eff,
        tree,
        &path,
        &ap.export_policy,
        ap.default_export_policy,
        "default-export-policy",
    );
    let rr = &n.route_reflector.config;
    let cluster_id = match &rr.route_reflector_cluster_id {
        None => None,
        Some(text) => Some(cluster_id(text).ok_or_else(|| Problem {
            path: at("route-reflector/config/route-reflector-cluster-id"),
            reason: format!("{text:?} is neither a dotted quad nor a 32-bit number"),
        })?),
    };
    let asp = &n.as_path_options.config;
    let (inbound, mut outbound) = AsPathOptions {
        allow_own_as: asp.allow_own_as,
        enforce_first_as: c.enforce_first_as,
        local_as_no_prepend: c.local_as_no_prepend,
        local_as_replace_as: c.local_as_replace_as,
    }
    .rules(&session);
    outbound.private_as = c.remove_private_as.map(|o| match o {
        RemovePrivateAsOption::PrivateAsRemoveAll => PrivateAs::RemoveAll,
        RemovePrivateAsOption::PrivateAsReplaceAll => PrivateAs::ReplaceAll,
    });
    outbound.replace_as = asp.replace_peer_as.then_some(peer_as);
    let neighbor_kinds = community_kinds(&c.send_community_type).map_err(|r| Problem {
        path: at("config/send-community-type"),
        reason: r,
    })?;
    let mut limits = [FamilyLimits::default(); 2];
    let mut add_path_eligible: [Option<PolicySpec>; 2] = Default::default();
    for (i, family) in [AfiSafiType::Ipv4Unicast, AfiSafiType::Ipv6Unicast]
        .into_iter()
        .enumerate()
    {
        let af = n.afi_safis.iter().find(|af| af.afi_safi_name == family);
        let af_path = format!("afi-safis/afi-safi[afi-safi-name='{}']", family.as_str());
        // Several paths per prefix only where add-path send is offered:
        // send-max of them, or every accepted path (as BIRD's `add paths
        // tx` and GoBGP do) when send-max is not set.
        outbound.send_max[i] = match af.filter(|af| af.add_paths.config.send) {
            None => 1,
            Some(af) => af.add_paths.config.send_max.unwrap_or(u8::MAX).max(1),
        };
        // A prefix the policy does not accept gets the best path alone.
        add_path_eligible[i] = af
            .filter(|af| af.add_paths.config.send)
            .and_then(|af| af.add_paths.config.eligible_prefix_policy.clone())
            .map(|name| PolicySpec {
                names: vec![name],
                default: DefaultPolicy::Reject,
            });
        outbound.communities[i] = match af.filter(|af| !af.config.send_community_type.is_empty()) {
            Some(af) => community_kinds(&af.config.send_community_type).map_err(|r| Problem {
                path: at(&format!("{af_path}/config/send-community-type")),
                reason: r,
            })?,
            None => neighbor_kinds,
        };
        // The two unicast containers have the same limits, of distinct types.
        macro_rules! limits_of {
            ($u:expr) => {{
                let (a, r) = (&$u.prefix_limit.config, &$u.prefix_limit_received.config);
                FamilyLimits {
                    accepted: a.max_prefixes.map(|max| Limit {
                        max,
                        warning_pct: a.warning_threshold_pct,
                        prevent_teardown: a.prevent_teardown,
                    }),
                    received: r.max_prefixes.map(|max| Limit {
                        max,
                        warning_pct: r.warning_threshold_pct,
                        prevent_teardown: r.prevent_teardown,
                    }),
                }
            }};
        }
        limits[i] = match af {
            Some(af) if i == 0 => af.ipv4_unicast.as_ref().map(|u| limits_of!(u)),
            Some(af) => af.ipv6_unicast.as_ref().map(|u| limits_of!(u)),
            None => None,
        }
        .unwrap_or_default();
    }
    Ok(ResolvedNeighbor {
        session,
        rr_client: rr.route_reflector_client,
        rs_client: n.route_server.config.route_server_client,
        import,
        export,
        add_path_eligible,
        cluster_id,
        inbound,
        outbound,
        limits,
    })
}

/// A cluster id as OpenConfig's `rr-cluster-id-type` writes it: a dotted
/// quad or a 32-bit number.
fn cluster_id(text: &str) -> Option<Ipv4Addr> {
    text.parse::<Ipv4Addr>()
        .ok()
        .or_else(|| text.parse::<u32>().ok().map(Ipv4Addr::from))
}

/// The community kinds of a `send-community-type` list: none when empty
/// (OpenConfig's default), NONE alone or not at all.
fn community_kinds(types: &[CommunityType]) -> Result<CommunityKinds, String> {
    let mut k = CommunityKinds::default();
    if types.contains(&CommunityType::None) {
        if types.len() > 1 {
            return Err("NONE cannot be combined with other community types".into());
        }
        return Ok(k);
    }
    for t in types {
        match t {
            CommunityType::Standard => k.standard = true,
            CommunityType::Extended => k.extended = true,
            CommunityType::Large => k.large = true,
            CommunityType::Both => {
                k.standard = true;
                k.extended = true;
            }
            CommunityType::None => {}
        }
    }
    Ok(k)
}

/// A range of `global/dynamic-neighbor-prefixes`: a connection from an
/// address in it that is no configured neighbor gets a session with the
/// peer group's settings.
#[derive(Clone)]
pub struct DynamicRange {
    /// The addresses.
    pub prefix: IpNet,
    /// The peer group.
    pub group: String,
    /// The peer group's settings as a neighbor's, resolved for the
    /// range's first address: the engine puts in the real one.
    pub template: ResolvedNeighbor,
}

/// The dynamic-neighbor ranges, longest prefix first (the one that wins
/// when ranges overlap). A range whose peer group cannot make a neighbor
/// (no `peer-as` nor `peer-type INTERNAL`: ocbgpd does not accept any AS)
/// is refused with the range's path.
pub fn dynamic_ranges(
    tree: &DataTree<'static>,
    global: &GlobalSettings,
) -> Result<Vec<DynamicRange>, Problem> {
    let base = format!(
        "{}/global/dynamic-neighbor-prefixes/dynamic-neighbor-prefix",
        bgp_path()
    );
    let Ok(set) = ocbgp_models::ly::find(tree, &format!("{base}/prefix")) else {
        return Ok(Vec::new());
    };
    let prefixes: Vec<String> = set.iter().filter_map(|n| n.value_canonical()).collect();
    let mut out = Vec::new();
    for text in prefixes {
        let at = format!("{base}[prefix='{text}']");
        let problem = |reason: String| Problem {
            path: Some(at.clone()),
            reason,
        };
        let prefix: IpNet = text
            .parse()
            .map_err(|_| problem(format!("{text:?} is not an IP prefix")))?;
        let prefix = prefix.trunc();
        let group = tree
            .find_path(&format!("{at}/config/peer-group"))
            .ok()
            .and_then(|n| n.value_canonical())
            .ok_or_else(|| problem("a dynamic neighbor prefix needs a peer-group".into()))?;
        let mut scratch = tree.duplicate().map_err(|e| problem(e.to_string()))?;
        let addr = prefix.network();
        if has_neighbor(tree, addr) {
            // Resolve from the group alone, not the neighbor configured there.
            let _ = scratch.remove(&neighbor_path(addr));
        }
        scratch
            .new_path(
                &format!("{}/config/peer-group", neighbor_path(addr)),
                Some(&group),
                false,
            )
            .map_err(|e| problem(e.to_string()))?;
        let template = neighbor(&scratch, global, addr)
            .map_err(|p| problem(format!("peer group {group:?}: {}", p.reason)))?;
        out.push(DynamicRange {
            prefix,
            group,
            template,
        });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.prefix.prefix_len()));
    Ok(out)
}

/// The routes configured under `ocbgp:originated-routes`.
pub fn originated(tree: &DataTree<'static>) -> Result<Vec<(IpNet, PathAttrs)>, Problem> {
    let path = format!("{}/global", bgp_path());
    if tree.find_path(&path).is_err() {
        return Ok(Vec::new());
    }
    let g = Global::from_tree(tree, &path).map_err(model)?;
    g.originated_routes
        .iter()
        .map(|r| originated_route(&path, r))
        .collect()
}

/// One originated route by its data path; `None` if it is not configured.
pub fn originated_one(
    tree: &DataTree<'static>,
    path: &str,
) -> Result<Option<(IpNet, PathAttrs)>, Problem> {
    if tree.find_path(path).is_err() {
        return Ok(None);
    }
    let r = Route::from_tree(tree, path).map_err(model)?;
    originated_route(&format!("{}/global", bgp_path()), &r).map(Some)
}

fn originated_route(global: &str, r: &Route) -> Result<(IpNet, PathAttrs), Problem> {
    let at = || {
        Some(format!(
            "{global}/ocbgp:originated-routes/route[prefix='{}']",
            r.prefix
        ))
    };
    let c = &r.config;
    let mut route = PathAttrs::originated(match c.origin {
        BgpOriginAttrType::Igp => Origin::Igp,
        BgpOriginAttrType::Egp => Origin::Egp,
        BgpOriginAttrType::Incomplete => Origin::Incomplete,
    });
    route.next_hop = c.next_hop.map(NextHop::from);
    let attrs = &mut route.attrs;
    attrs.med = c.med;
    attrs.local_pref = c.local_pref;
    for text in &c.community {
        attrs
            .communities
            .push(parse_std(text).ok_or_else(|| Problem {
                path: at(),
                reason: format!("community {text:?} is neither AS:VALUE nor a well-known name"),
            })?);
    }
    for text in &c.large_community {
        attrs
            .large_communities
            .push(parse_large(text).ok_or_else(|| Problem {
                path: at(),
                reason: format!("large community {text:?} is not GA:LD1:LD2 of 32-bit numbers"),
            })?);
    }
    Ok((r.prefix.trunc(), route))
}

fn station_path(addr: IpAddr, port: u16) -> String {
    format!(
        "{}/ocbgp:bmp/station[address='{addr}'][port='{port}']",
        bgp_path()
    )
}

/// Every configured BMP station.
pub fn bmp_stations(tree: &DataTree<'static>) -> Result<Vec<StationSettings>, Problem> {
    let xpath = format!("{}/ocbgp:bmp/station", bgp_path());
    let Ok(set) = ocbgp_models::ly::find(tree, &xpath) else {
        return Ok(Vec::new());
    };
    set.iter()
        .map(|n| station(&Station::from_node(n).map_err(model)?))
        .collect()
}

/// One BMP station by its data path; `None` if it is not configured.
pub fn bmp_station(
    tree: &DataTree<'static>,
    path: &str,
) -> Result<Option<StationSettings>, Problem> {
    if tree.find_path(path).is_err() {
        return Ok(None);
    }
    station(&Station::from_tree(tree, path).map_err(model)?).map(Some)
}

fn station(s: &Station) -> Result<StationSettings, Problem> {
    let at = Some(station_path(s.address, s.port));
    if s.port == 0 {
        return Err(Problem {
            path: at,
            reason: "a BMP station needs a TCP port other than 0".into(),
        });
    }
    if s.address.is_unspecified() || s.address.is_multicast() {
        return Err(Problem {
            path: at,
            reason: format!("{} cannot be a BMP station's address", s.address),
        });
    }
    let c = &s.config;
    Ok(StationSettings {
        address: s.address,
        port: s.port,
        pre_policy: c.adj_rib_in_pre_policy,
        post_policy: c.adj_rib_in_post_policy,
        loc_rib: c.loc_rib,
        out_pre_policy: c.adj_rib_out_pre_policy,
        out_post_policy: c.adj_rib_out_post_policy,
        statistics_interval: c.statistics_interval,
    })
}

/// Checks that a dump's folder exists on this host: a dump that cannot
/// write is refused at commit rather than failing later.
pub fn dump_folder(d: &DumpSettings) -> Result<(), Problem> {
    let expanded = crate::mrt::expand(&d.file_name, std::time::SystemTime::now());
    let dir = std::path::Path::new(&expanded)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if dir.is_dir() {
        return Ok(());
    }
    Err(Problem {
        path: Some(format!("{}/config/file-name", dump_path(&d.name))),
        reason: format!("folder {} does not exist", dir.display()),
    })
}

fn dump_path(name: &str) -> String {
    format!(
        "{}/ocbgp:mrt/dump[name={}]",
        bgp_path(),
        ocbgp_models::path::quote(name)
    )
}

/// Every configured MRT dump.
pub fn mrt_dumps(tree: &DataTree<'static>) -> Result<Vec<DumpSettings>, Problem> {
    let xpath = format!("{}/ocbgp:mrt/dump", bgp_path());
    let Ok(set) = ocbgp_models::ly::find(tree, &xpath) else {
        return Ok(Vec::new());
    };
    set.iter()
        .map(|n| dump(&Dump::from_node(n).map_err(model)?))
        .collect()
}

/// One MRT dump by its data path; `None` if it is not configured.
pub fn mrt_dump(tree: &DataTree<'static>, path: &str) -> Result<Option<DumpSettings>, Problem> {
    if tree.find_path(path).is_err() {
        return Ok(None);
    }
    dump(&Dump::from_tree(tree, path).map_err(model)?).map(Some)
}

fn dump(d: &Dump) -> Result<DumpSettings, Problem> {
    let at = |leaf: &str| Some(format!("{}/config/{leaf}", dump_path(&d.name)));
    let c = &d.config;
    let kind = match c.r#type {
        Some(DumpType::Updates) => DumpKind::Updates,
        Some(DumpType::Table) => DumpKind::Table,
        None => {
            return Err(Problem {
                path: at("type"),
                reason: "an MRT dump needs a type, UPDATES or TABLE".into(),
            })
        }
    };
    let Some(file_name) = c.file_name.clone().filter(|f| !f.trim().is_empty()) else {
        return Err(Problem {
            path: at("file-name"),
            reason: "an MRT dump needs a file-name".into(),
        });
    };
    Ok(DumpSettings {
        name: d.name.clone(),
        kind,
        file_name,
        rotation_interval: c.rotation_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocbgp_models::config::{Config, Encoding};

    /// A configuration whose bgp container holds a global with AS 65000
    /// and `members` (JSON members of the bgp container, each with a
    /// leading comma), plus `global_extra` in global (same).
    fn config(global_extra: &str, members: &str) -> Config {
        let text = r#"{"openconfig-network-instance:network-instances": {"network-instance": [{"name": "DEFAULT",
  "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
  "protocols": {"protocol": [{"identifier": "openconfig-policy-types:BGP", "name": "BGP",
    "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
    "bgp": {"global": {"config": {"as": 65000, "router-id": "192.0.2.1"} GLOBAL} MEMBERS}}]}}]}}"#
            .replace("GLOBAL", global_extra)
            .replace("MEMBERS", members);
        Config::parse(&text, Encoding::Json).expect("valid config")
    }

    const GROUPS: &str = r#", "peer-groups": {"peer-group": [
        {"peer-group-name": "rs", "config": {"peer-group-name": "rs", "peer-as": 65010},
         "ocbgp:route-server": {"config": {"route-server-client": true}}},
        {"peer-group-name": "ibgp", "config": {"peer-group-name": "ibgp", "peer-type": "INTERNAL"}},
        {"peer-group-name": "noas", "config": {"peer-group-name": "noas"}}]}"#;

    #[test]
    fn route_server_client_comes_from_the_neighbor_or_its_peer_group() {
        let neighbors = r#", "neighbors": {"neighbor": [
              {"neighbor-address": "192.0.2.2", "config": {"neighbor-address": "192.0.2.2", "peer-group": "rs"}},
              {"neighbor-address": "192.0.2.3", "config": {"neighbor-address": "192.0.2.3", "peer-as": 65003},
               "ocbgp:route-server": {"config": {"route-server-client": true}}},
              {"neighbor-address": "192.0.2.4", "config": {"neighbor-address": "192.0.2.4", "peer-as": 65004}}]}"#;
        let c = config("", &format!("{GROUPS}{neighbors}"));
        let g = global(c.tree()).unwrap().unwrap();
        let rs = |a: &str| {
            neighbor(c.tree(), &g, a.parse().unwrap())
                .unwrap()
                .rs_client
        };
        assert!(rs("192.0.2.2"), "inherited from the peer group");
        assert!(rs("192.0.2.3"), "set on the neighbor");
        assert!(!rs("192.0.2.4"), "default");
    }

    #[test]
    fn the_forwarding_state_bit_says_whether_our_routes_outlive_a_restart() {
        let neighbors = r#", "neighbors": {"neighbor": [
              {"neighbor-address": "192.0.2.2", "config": {"neighbor-address": "192.0.2.2", "peer-as": 65002},
               "graceful-restart": {"config": {"enabled": true}}}]}"#;
        let preserved = |fib: &str| {
            let c = config(fib, neighbors);
            let g = global(c.tree()).unwrap().unwrap();
            let n = neighbor(c.tree(), &g, "192.0.2.2".parse().unwrap()).unwrap();
            let gr = n.session.graceful_restart.expect("graceful restart on");
            assert!(!gr.families.is_empty());
            gr.families.iter().all(|f| f.forwarding_preserved)
        };
        assert!(preserved(""), "nothing installed: nothing lost");
        assert!(
            preserved(r#", "ocbgp:fib": {"config": {"backend": "NETLINK"}}"#),
            "the kernel keeps the netlink table's routes"
        );
        assert!(
            !preserved(r#", "ocbgp:fib": {"config": {"backend": "ZEBRA"}}"#),
            "zebra drops our routes when we go"
        );
    }

    fn ranges(list: &str) -> String {
        format!(r#", "dynamic-neighbor-prefixes": {{"dynamic-neighbor-prefix": [{list}]}}"#)
    }

    fn range(prefix: &str, group: &str) -> String {
        format!(
            r#"{{"prefix": "{prefix}", "config": {{"prefix": "{prefix}", "peer-group": "{group}"}}}}"#
        )
    }

    #[test]
    fn dynamic_ranges_come_longest_first_with_the_peer_group_settings() {
        let list = format!(
            "{},{}",
            range("10.0.0.0/8", "ibgp"),
            range("10.1.0.0/16", "rs")
        );
        let c = config(&ranges(&list), GROUPS);
        let g = global(c.tree()).unwrap().unwrap();
        let got: Vec<(String, String, u32, bool)> = dynamic_ranges(c.tree(), &g)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.prefix.to_string(),
                    r.group.clone(),
                    r.template.session.peer_as,
                    r.template.rs_client,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10.1.0.0/16".into(), "rs".into(), 65010, true),
                ("10.0.0.0/8".into(), "ibgp".into(), 65000, false)
            ]
        );

        // A peer group that does not say the AS cannot make a neighbor.
        let c = config(&ranges(&range("10.0.0.0/8", "noas")), GROUPS);
        let e = dynamic_ranges(c.tree(), &g).err().expect("refused");
        assert!(
            e.path
                .as_deref()
                .is_some_and(|p| p.contains("dynamic-neighbor-prefix[prefix='10.0.0.0/8']")),
            "{e}"
        );
        assert!(
            e.reason.contains("noas") && e.reason.contains("peer-as"),
            "{e}"
        );
    }
}
