//! What the interop tests with gobgpd, BIRD and FRR share: the topology
//! (ocbgpd, the peer under test, and a gobgpd "observer" that sees what
//! ocbgpd re-advertises), the routes, and the scenarios, written once over
//! the [`Peer`] trait.
//!
//! Addressing: ocbgpd is host 1 (AS 65001), the peer host 2 (AS 65002),
//! the observer host 3 (AS 65003). Each pair has two sessions: one between
//! IPv4 addresses carrying IPv4 unicast, one between IPv6 addresses
//! carrying IPv6 unicast.
//!
//! ocbgpd's own view is checked through the observer and its JSON log, and
//! over gNMI (session state, Loc-RIB) when it answers Get; its withdrawal
//! of an originated route goes through gNMI Set (skipped, with a note, when
//! Set answers UNIMPLEMENTED).

#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;

/// Session establishment bound (gobgpd's first attempt alone may take 10 s).
pub const UP: Duration = Duration::from_secs(30);
/// Route propagation bound.
pub const ROUTE: Duration = Duration::from_secs(15);

pub const OC_AS: u32 = 65001;
pub const PEER_AS: u32 = 65002;
pub const OBS_AS: u32 = 65003;

/// ocbgpd's originated routes.
pub const OC4: &str = "198.51.100.0/24";
pub const OC6: &str = "2001:db8:100::/48";
/// The peer's originated routes.
pub const PEER4: &str = "203.0.113.0/24";
pub const PEER6: &str = "2001:db8:200::/48";

/// gNMI path of ocbgpd's BGP instance.
pub const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// A peer daemon kind under test.
pub trait Peer: BgpSpeaker + Sized {
    /// Starts the daemon in `host`.
    fn start(host: &Host, config: &BgpConfig) -> Self;
    /// Stops announcing the route it originated for `prefix` (of
    /// `config`), keeping the session up.
    fn withdraw(&self, config: &BgpConfig, prefix: &str);
}

impl Peer for Gobgp {
    fn start(host: &Host, config: &BgpConfig) -> Self {
        Gobgp::start(host, config)
    }
    fn withdraw(&self, _config: &BgpConfig, prefix: &str) {
        self.delete_route(prefix);
    }
}

impl Peer for Bird {
    fn start(host: &Host, config: &BgpConfig) -> Self {
        Bird::start(host, config)
    }
    /// BIRD's originated routes are its static protocols' routes, one
    /// protocol per family: disabling it withdraws the family's routes.
    fn withdraw(&self, config: &BgpConfig, prefix: &str) {
        let family = Family::of(prefix);
        let others = config
            .routes
            .iter()
            .filter(|r| r.family() == family && r.prefix != prefix)
            .count();
        assert_eq!(
            others, 0,
            "BIRD withdraws a family's originated routes all at once"
        );
        let proto = match family {
            Family::Ipv4Unicast => "ocl_static4",
            Family::Ipv6Unicast => "ocl_static6",
        };
        self.birdc(&format!("disable {proto}"));
    }
}

impl Peer for Frr {
    fn start(host: &Host, config: &BgpConfig) -> Self {
        Frr::start(host, config)
    }
    fn withdraw(&self, config: &BgpConfig, prefix: &str) {
        let afi = match Family::of(prefix) {
            Family::Ipv4Unicast => "address-family ipv4 unicast",
            Family::Ipv6Unicast => "address-family ipv6 unicast",
        };
        let router = format!("router bgp {}", config.asn);
        let no = format!("no network {prefix}");
        self.configure(&[&router, afi, &no]);
    }
}

/// The three hosts.
pub struct Hosts {
    pub oc: Host,
    pub peer: Host,
    pub obs: Host,
}

impl Hosts {
    pub fn new(lab: &Lab) -> Hosts {
        Hosts {
            oc: lab.host("oc"),
            peer: lab.host("peer"),
            obs: lab.host("obs"),
        }
    }
}

fn v4_only() -> [Family; 1] {
    [Family::Ipv4Unicast]
}
fn v6_only() -> [Family; 1] {
    [Family::Ipv6Unicast]
}

/// A neighbor over IPv4 carrying IPv4 unicast and one over IPv6 carrying
/// IPv6 unicast, for a host.
fn dual(config: BgpConfig, host: &Host, asn: u32, timers: Option<(u16, u16)>) -> BgpConfig {
    let mut n4 = Neighbor::new(host.ipv4(), asn).families(&v4_only());
    let mut n6 = Neighbor::new(host.ipv6(), asn).families(&v6_only());
    if let Some((h, k)) = timers {
        n4 = n4.timers(h, k);
        n6 = n6.timers(h, k);
    }
    config.neighbor(n4).neighbor(n6)
}

/// ocbgpd's configuration: the peer and the observer on both families,
/// and the two originated routes.
pub fn ocbgpd_config(h: &Hosts, peer_timers: Option<(u16, u16)>) -> OcbgpdConfig {
    let bgp = BgpConfig::new(OC_AS, h.oc.ipv4());
    let bgp = dual(bgp, &h.peer, PEER_AS, peer_timers);
    let bgp = dual(bgp, &h.obs, OBS_AS, None)
        .route(
            Originated::new(OC4)
                .med(10)
                .community("65001:10")
                .large_community("65001:1:10"),
        )
        .route(
            Originated::new(OC6)
                .med(20)
                .community("65001:20")
                .large_community("65001:1:20"),
        );
    OcbgpdConfig::new(bgp).no_netconf()
}

/// The peer's configuration: ocbgpd on both families, two originated
/// routes with attributes.
pub fn peer_config(h: &Hosts, timers: Option<(u16, u16)>) -> BgpConfig {
    dual(BgpConfig::new(PEER_AS, h.peer.ipv4()), &h.oc, OC_AS, timers)
        .route(
            Originated::new(PEER4)
                .origin(Origin::Egp)
                .med(30)
                .community("65002:30")
                .large_community("65002:1:30"),
        )
        .route(
            Originated::new(PEER6)
                .med(40)
                .community("65002:40")
                .large_community("65002:1:40"),
        )
}

/// The observer's configuration: ocbgpd on both families, nothing more.
pub fn observer_config(h: &Hosts) -> BgpConfig {
    dual(BgpConfig::new(OBS_AS, h.obs.ipv4()), &h.oc, OC_AS, None)
}

/// The address of `host` in the family of `prefix`.
pub fn addr_for(host: &Host, prefix: &str) -> IpAddr {
    match Family::of(prefix) {
        Family::Ipv4Unicast => host.ipv4(),
        Family::Ipv6Unicast => host.ipv6(),
    }
}

/// Asserts the attributes of a route as one speaker holds it.
#[allow(clippy::too_many_arguments)]
pub fn assert_route(
    who: &str,
    r: &Route,
    next_hop: IpAddr,
    as_path: &[u32],
    origin: Origin,
    med: Option<u32>,
    communities: &[&str],
    large: &[&str],
) {
    let ctx = format!("{who}: {r}");
    assert_eq!(r.next_hop, Some(next_hop), "next hop; {ctx}");
    assert_eq!(r.as_path, as_path, "AS path; {ctx}");
    assert_eq!(r.origin, Some(origin), "origin; {ctx}");
    assert_eq!(r.med, med, "MED; {ctx}");
    assert_eq!(r.communities, communities, "communities; {ctx}");
    assert_eq!(r.large_communities, large, "large communities; {ctx}");
}

/// Asserts that a route as gobgpd received it has no LOCAL_PREF (BIRD and
/// FRR show their own default on eBGP routes, so only gobgpd tells).
pub fn assert_no_local_pref(r: &Route) {
    assert_eq!(r.local_pref, None, "LOCAL_PREF must not cross eBGP: {r}");
}

/// ocbgpd's routes as the peer (`who`) receives them: ocbgpd's AS, its
/// address as next hop, MED and communities as configured.
pub fn check_ocbgpd_routes_at(who: &str, s: &dyn BgpSpeaker, h: &Hosts) -> [Route; 2] {
    let r4 = s.wait_route(OC4, ROUTE);
    assert_route(
        who,
        &r4,
        h.oc.ipv4(),
        &[OC_AS],
        Origin::Igp,
        Some(10),
        &["65001:10"],
        &["65001:1:10"],
    );
    let r6 = s.wait_route(OC6, ROUTE);
    assert_route(
        who,
        &r6,
        h.oc.ipv6(),
        &[OC_AS],
        Origin::Igp,
        Some(20),
        &["65001:20"],
        &["65001:1:20"],
    );
    [r4, r6]
}

/// The peer's routes as the observer receives them through ocbgpd: AS
/// path [ocbgpd, peer], next hop ocbgpd, communities intact, and no MED
/// (RFC 4271 5.1.4: a neighbor AS's MED is not passed on to other ASes).
pub fn check_peer_routes_at_observer(obs: &Gobgp, h: &Hosts) {
    let path = [OC_AS, PEER_AS];
    let r4 = obs.wait_route(PEER4, ROUTE);
    assert_route(
        "observer",
        &r4,
        h.oc.ipv4(),
        &path,
        Origin::Egp,
        None,
        &["65002:30"],
        &["65002:1:30"],
    );
    let r6 = obs.wait_route(PEER6, ROUTE);
    assert_route(
        "observer",
        &r6,
        h.oc.ipv6(),
        &path,
        Origin::Igp,
        None,
        &["65002:40"],
        &["65002:1:40"],
    );
    assert_no_local_pref(&r4);
    assert_no_local_pref(&r6);
}

/// Whether ocbgpd answers gNMI Get; says so on stderr when it does not.
pub fn gnmi_state(oc: &Ocbgpd) -> bool {
    let ok = oc.gnmi_get_available();
    if !ok {
        eprintln!(
            "NOTE: ocbgpd does not answer gNMI Get yet: its session state and Loc-RIB are checked \
             through the observer and its log only"
        );
    }
    ok
}

/// The peer's routes in ocbgpd's Loc-RIB (over gNMI): AS path [peer],
/// next hop as received, communities intact.
pub fn check_peer_routes_in_ocbgpd(oc: &Ocbgpd, h: &Hosts) {
    for (prefix, comm) in [(PEER4, "65002:30"), (PEER6, "65002:40")] {
        let r = oc.wait_route(prefix, ROUTE);
        assert_eq!(r.as_path, vec![PEER_AS], "ocbgpd Loc-RIB: {r}");
        assert_eq!(r.communities, vec![comm.to_string()], "ocbgpd Loc-RIB: {r}");
        assert_eq!(
            r.from,
            Some(addr_for(&h.peer, prefix)),
            "ocbgpd Loc-RIB: {r}"
        );
        assert_eq!(
            r.next_hop,
            Some(addr_for(&h.peer, prefix)),
            "ocbgpd Loc-RIB: {r}"
        );
    }
}

/// Starts observer, peer and ocbgpd, in that order (ocbgpd connects to
/// both at once, so gobgpd's slow first attempt does not matter).
pub fn start_all<P: Peer>(h: &Hosts, peer_timers: Option<(u16, u16)>) -> (Gobgp, P, Ocbgpd) {
    let obs = Gobgp::start(&h.obs, &observer_config(h));
    let peer = P::start(&h.peer, &peer_config(h, peer_timers));
    let oc = Ocbgpd::start(&h.oc, &ocbgpd_config(h, peer_timers));
    (obs, peer, oc)
}

/// Waits until every session of the topology is established (as the
/// peer and the observer see it, and as ocbgpd reports it over gNMI when
/// it can).
pub fn wait_all_up(h: &Hosts, peer: &dyn BgpSpeaker, obs: &Gobgp, oc: &Ocbgpd, gnmi: bool) {
    for a in [h.oc.ipv4(), h.oc.ipv6()] {
        peer.wait_established(a, UP);
        obs.wait_established(a, UP);
    }
    if gnmi {
        for a in [h.peer.ipv4(), h.peer.ipv6(), h.obs.ipv4(), h.obs.ipv6()] {
            oc.wait_established(a, UP);
        }
    }
}

/// Sessions over IPv4 and IPv6, routes both ways with their attributes,
/// the peer restarting, withdrawals from the peer and from ocbgpd.
pub fn sessions_routes_restart_withdraw<P: Peer>(name: &str) {
    let t0 = Instant::now();
    let lab = Lab::new(name);
    let h = Hosts::new(&lab);
    let (obs, peer, oc) = start_all::<P>(&h, None);
    let pcfg = peer_config(&h, None);
    let gnmi = {
        obs.wait_established(h.oc.ipv4(), UP);
        gnmi_state(&oc)
    };

    // 1. Sessions over IPv4 and over IPv6.
    wait_all_up(&h, &peer, &obs, &oc, gnmi);
    for a in [h.peer.ipv4(), h.peer.ipv6()] {
        let up = oc.log_events_for("session established", Some(a));
        assert!(
            !up.is_empty(),
            "ocbgpd logs no established session with {a}"
        );
    }
    eprintln!("{name}: sessions up after {:?}", t0.elapsed());

    // 2. Routes both ways with attributes intact.
    check_ocbgpd_routes_at(&peer.describe(), &peer, &h);
    eprintln!(
        "{name}: ocbgpd's routes at the peer after {:?}",
        t0.elapsed()
    );
    check_peer_routes_at_observer(&obs, &h);
    for r in check_ocbgpd_routes_at("observer", &obs, &h) {
        assert_no_local_pref(&r);
    }
    if gnmi {
        check_peer_routes_in_ocbgpd(&oc, &h);
        eprintln!("{name}: sessions and the peer's routes checked in ocbgpd's state over gNMI");
    }
    eprintln!("{name}: routes checked after {:?}", t0.elapsed());

    // 4. The peer restarts: ocbgpd's sessions with it go down (its routes
    // are withdrawn from the observer), then come back with the routes.
    let downs: Vec<usize> = [h.peer.ipv4(), h.peer.ipv6()]
        .iter()
        .map(|a| oc.log_events_for("session down", Some(*a)).len())
        .collect();
    let ups: Vec<usize> = [h.peer.ipv4(), h.peer.ipv6()]
        .iter()
        .map(|a| oc.log_events_for("session established", Some(*a)).len())
        .collect();
    let peer_name = peer.describe();
    drop(peer);
    obs.wait_no_route(PEER4, ROUTE);
    obs.wait_no_route(PEER6, ROUTE);
    for (i, a) in [h.peer.ipv4(), h.peer.ipv6()].into_iter().enumerate() {
        oc.wait_log_event("session down", Some(a), downs[i], ROUTE);
        if gnmi {
            oc.wait_not_established(a, ROUTE);
        }
    }
    assert!(
        obs.route(OC4).is_some() && obs.route(OC6).is_some(),
        "ocbgpd's own routes stay at the observer"
    );
    let peer = P::start(&h.peer, &pcfg);
    for a in [h.oc.ipv4(), h.oc.ipv6()] {
        peer.wait_established(a, UP);
    }
    for (i, a) in [h.peer.ipv4(), h.peer.ipv6()].into_iter().enumerate() {
        oc.wait_log_event("session established", Some(a), ups[i], UP);
    }
    check_peer_routes_at_observer(&obs, &h);
    check_ocbgpd_routes_at(&format!("{peer_name} (restarted)"), &peer, &h);
    eprintln!("{name}: peer restart checked after {:?}", t0.elapsed());

    // 3a. The peer withdraws its routes: gone at the observer, the
    // sessions stay up.
    peer.withdraw(&pcfg, PEER4);
    obs.wait_no_route(PEER4, ROUTE);
    assert!(
        obs.route(PEER6).is_some(),
        "withdrawing {PEER4} took {PEER6} along"
    );
    peer.withdraw(&pcfg, PEER6);
    obs.wait_no_route(PEER6, ROUTE);
    if gnmi {
        oc.wait_no_route(PEER4, ROUTE);
        oc.wait_no_route(PEER6, ROUTE);
    }
    for a in [h.oc.ipv4(), h.oc.ipv6()] {
        assert!(
            peer.established(a),
            "session with {a} went down on a withdrawal"
        );
    }

    // 3b. ocbgpd withdraws its route (configuration change over gNMI Set).
    let path = format!("{BGP}/global/ocbgp:originated-routes/route[prefix={OC4}]");
    match oc.try_gnmi_delete(&path) {
        Ok(()) => {
            peer.wait_no_route(OC4, ROUTE);
            obs.wait_no_route(OC4, ROUTE);
            assert!(peer.route(OC6).is_some(), "deleting {OC4} took {OC6} along");
            if gnmi {
                oc.wait_no_route(OC4, ROUTE);
            }
            eprintln!(
                "{name}: ocbgpd's withdrawal (gNMI Set delete) reached the peer and the observer"
            );
        }
        Err(e) if e.to_ascii_lowercase().contains("unimplemented") => {
            let why = e.lines().last().unwrap_or_default();
            eprintln!(
                "NOTE: ocbgpd does not implement gNMI Set yet, its own withdrawal is not tested: {why}"
            );
        }
        Err(e) => oc.fail(&e),
    }
    assert!(oc.running());
    eprintln!("{name}: done after {:?}", t0.elapsed());
}

/// Hold-timer expiry: hold 3 s / keepalive 1 s on both sides of the
/// IPv4 and IPv6 sessions, the peer's link cut silently; both ends drop
/// the sessions within the hold time, the observer loses the peer's
/// routes; after the link is back, everything returns.
pub fn hold_timer_expiry<P: Peer>(name: &str) {
    let t0 = Instant::now();
    let lab = Lab::new(name);
    let h = Hosts::new(&lab);
    let timers = Some((3, 1));
    let (obs, peer, oc) = start_all::<P>(&h, timers);
    let gnmi = oc.gnmi_get_available();
    wait_all_up(&h, &peer, &obs, &oc, gnmi);
    obs.wait_route(PEER4, ROUTE);
    obs.wait_route(PEER6, ROUTE);
    for a in [h.peer.ipv4(), h.peer.ipv6()] {
        let up = oc.log_events_for("session established", Some(a));
        let hold = up.last().map(|e| e["fields"]["hold_time"].clone());
        assert_eq!(
            hold,
            Some(serde_json::json!(3)),
            "negotiated hold time with {a}: {up:?}"
        );
    }
    let downs: Vec<usize> = [h.peer.ipv4(), h.peer.ipv6()]
        .iter()
        .map(|a| oc.log_events_for("session down", Some(*a)).len())
        .collect();

    let cut = Instant::now();
    h.peer.cut();
    obs.wait_no_route(PEER4, Duration::from_secs(8));
    obs.wait_no_route(PEER6, Duration::from_secs(8));
    let gone = cut.elapsed();
    for a in [h.oc.ipv4(), h.oc.ipv6()] {
        peer.wait_not_established(a, Duration::from_secs(6));
    }
    let peer_down = cut.elapsed();
    assert!(
        peer_down <= Duration::from_secs(8),
        "{} took {peer_down:?} to drop its sessions",
        peer.describe()
    );
    for (i, a) in [h.peer.ipv4(), h.peer.ipv6()].into_iter().enumerate() {
        let e = oc.wait_log_event("session down", Some(a), downs[i], Duration::from_secs(2));
        let reason = e["fields"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("hold timer expired"),
            "ocbgpd's session with {a} went down for {reason:?}: {e}"
        );
        if gnmi {
            let state = oc.session_state(a);
            assert_ne!(
                state,
                SessionState::Established,
                "ocbgpd's gNMI state for {a} after the hold timer expired"
            );
        }
    }
    assert!(
        gone >= Duration::from_millis(1500),
        "routes went {gone:?} after the cut: not by hold timer"
    );
    assert!(
        gone <= Duration::from_secs(6),
        "hold time is 3 s, the routes went after {gone:?}"
    );
    assert!(
        obs.route(OC4).is_some(),
        "ocbgpd's own route left the observer"
    );
    eprintln!("{name}: hold timer expiry: observer lost the routes {gone:?} after the cut, peer down by {peer_down:?}");

    h.peer.restore();
    for a in [h.oc.ipv4(), h.oc.ipv6()] {
        peer.wait_established(a, UP);
    }
    check_peer_routes_at_observer(&obs, &h);
    check_ocbgpd_routes_at(&peer.describe(), &peer, &h);
    assert!(oc.running());
    eprintln!("{name}: done after {:?}", t0.elapsed());
}
