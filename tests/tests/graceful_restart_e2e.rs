//! Graceful restart with real peers in network namespaces (RFC 4724,
//! RFC 8538, RFC 9494): a restarting gobgpd's routes stay at ocbgpd
//! (stale, still passed on to a BIRD sink that sees no withdraw) until its
//! End-of-RIB removes the one it lost; a peer that does not come back
//! loses its routes after its restart time; ocbgpd killed and started
//! again keeps its routes at BIRD, gobgpd and FRR (a sink behind them
//! sees no withdraw), and after its End-of-RIB they drop only the route it
//! no longer has; long-lived stale routes reach the LLGR peer with
//! LLGR_STALE and are withdrawn from the other; BIRD and FRR restarting
//! keep their routes at ocbgpd until their End-of-RIB.

use std::net::IpAddr;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::Value;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(20);

const KEPT: &str = "198.51.100.0/24";
const LOST: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn gr(restart_time: u16) -> GracefulRestart {
    GracefulRestart::new(restart_time)
}

/// A leaf of a neighbor's state, by gNMI (`at` below the neighbor).
fn neighbor_leaf(d: &Ocbgpd, peer: IpAddr, at: &str, leaf: &str) -> Option<Value> {
    d.try_gnmi_leaf(
        &format!("{BGP}/neighbors/neighbor[neighbor-address={peer}]/{at}"),
        leaf,
    )
    .unwrap_or_else(|e| d.fail(&e))
}

/// The neighbor's IPv4 unicast routes kept stale (`prefixes/ocbgp:stale`).
fn stale_count(d: &Ocbgpd, peer: IpAddr) -> u64 {
    neighbor_leaf(
        d,
        peer,
        "afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/state/prefixes",
        "stale",
    )
    .and_then(|v| v.as_u64())
    .unwrap_or(0)
}

fn peer_restarting(d: &Ocbgpd, peer: IpAddr) -> bool {
    neighbor_leaf(d, peer, "graceful-restart/state", "peer-restarting") == Some(Value::Bool(true))
}

/// A restarting gobgpd: ocbgpd keeps its routes stale and still passes
/// them on (the BIRD sink counts no withdraw), shows the restart in its
/// state, and once gobgpd is back and sends End-of-RIB drops exactly the
/// route gobgpd did not announce again.
#[test]
fn a_restarting_peer_keeps_its_routes_until_end_of_rib() {
    let lab = Lab::new("gr_helper");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let mut g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(30)))
            .route(Originated::new(KEPT))
            .route(Originated::new(LOST)),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(
                    Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(30).stale_routes_time(60)),
                )
                .neighbor(Neighbor::new(r3.ipv4(), 65003)),
        ),
    );
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    b.wait_established(r2.ipv4(), UP);
    b.wait_route(KEPT, ROUTE);
    b.wait_route(LOST, ROUTE);
    let before = b.received_counts(r2.ipv4());
    assert_eq!(stale_count(&d, r1.ipv4()), 0);
    let gr_state = |leaf: &str| neighbor_leaf(&d, r1.ipv4(), "graceful-restart/state", leaf);
    assert_eq!(gr_state("mode"), Some(Value::String("BILATERAL".into())));
    assert_eq!(gr_state("peer-restart-time"), Some(Value::from(30)));
    assert_eq!(gr_state("stale-routes-time"), Some(Value::from(60)));
    assert_eq!(gr_state("local-restarting"), Some(Value::Bool(false)));
    let af = "afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/graceful-restart/state";
    for leaf in ["advertised", "received", "enabled"] {
        assert_eq!(
            neighbor_leaf(&d, r1.ipv4(), af, leaf),
            Some(Value::Bool(true)),
            "{af}/{leaf}"
        );
    }

    // A telemetry subscriber to the Loc-RIB sees the routes turn stale.
    let loc_rib = format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes"
    );
    let sub = d.synced_subscriber("rib-subscriber", &loc_rib, UP);

    // gobgpd dies and comes back without LOST.
    g.forget_route(LOST);
    let seen = d
        .log_events_for(
            "graceful restart: peer restarting, its routes kept as stale",
            None,
        )
        .len();
    g.crash();
    d.wait_log_event(
        "graceful restart: peer restarting, its routes kept as stale",
        Some(r1.ipv4()),
        seen,
        UP,
    );
    assert_eq!(stale_count(&d, r1.ipv4()), 2);
    assert!(peer_restarting(&d, r1.ipv4()));
    assert!(
        wait_until(ROUTE, || subscriber_responses(&sub)
            .iter()
            .any(|r| r.contains("ocbgp:stale") && r.contains(KEPT))),
        "the subscriber saw no stale update: {}",
        sub.log()
    );
    let kept = d
        .try_adj_rib(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPre)
        .unwrap_or_else(|e| d.fail(&e));
    assert!(
        kept.len() == 2 && kept.iter().all(|r| r.stale),
        "stale in adj-rib-in-pre: {}",
        describe(&kept)
    );
    // Stale in the Adj-RIB-In post-policy and the Loc-RIB too.
    let rib = format!("{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast");
    for table in [
        format!(
            "neighbors/neighbor[neighbor-address={}]/adj-rib-in-post",
            r1.ipv4()
        ),
        "loc-rib".to_string(),
    ] {
        let path = format!("{rib}/{table}/routes/route[prefix={KEPT}]");
        let stale = d
            .try_gnmi_leaf(&path, "stale")
            .unwrap_or_else(|e| d.fail(&e));
        assert_eq!(stale, Some(Value::Bool(true)), "{path}");
    }
    assert!(b.route(KEPT).is_some() && b.route(LOST).is_some());

    let seen = d
        .log_events_for(
            "graceful restart: End-of-RIB received, stale routes removed",
            None,
        )
        .len();
    g.start_again(true);
    d.wait_log_event(
        "graceful restart: End-of-RIB received, stale routes removed",
        Some(r1.ipv4()),
        seen,
        UP,
    );
    b.wait_no_route(LOST, ROUTE);
    assert!(b.route(KEPT).is_some(), "KEPT must stay at the sink");
    let after = b.received_counts(r2.ipv4());
    assert_eq!(
        after.withdraws,
        before.withdraws + 1,
        "the sink saw only LOST withdrawn: {before:?} -> {after:?}"
    );
    assert_eq!(stale_count(&d, r1.ipv4()), 0);
    assert!(!peer_restarting(&d, r1.ipv4()));
}

/// A peer that does not come back within its restart time loses its
/// routes then, not before.
#[test]
fn stale_routes_go_when_the_restart_time_runs_out() {
    let lab = Lab::new("gr_expiry");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(4)))
            .route(Originated::new(KEPT)),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(30).helper_only()))
                .neighbor(Neighbor::new(r3.ipv4(), 65003)),
        ),
    );
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    b.wait_established(r2.ipv4(), UP);
    b.wait_route(KEPT, ROUTE);
    // Helper only: we keep gobgpd's routes, our capability lists no family.
    assert_eq!(
        neighbor_leaf(&d, r1.ipv4(), "graceful-restart/state", "mode"),
        Some(Value::String("HELPER_ONLY".into()))
    );
    assert_eq!(
        neighbor_leaf(
            &d,
            r1.ipv4(),
            "afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/graceful-restart/state",
            "advertised"
        ),
        Some(Value::Bool(false))
    );
    let seen = d
        .log_events_for(
            "graceful restart: restart time over, stale routes removed",
            None,
        )
        .len();
    g.crash();
    let t = std::time::Instant::now();
    d.wait_log_event(
        "graceful restart: restart time over, stale routes removed",
        Some(r1.ipv4()),
        seen,
        UP,
    );
    // gobgpd announced 4 s: not removed before that.
    assert!(
        t.elapsed() >= Duration::from_secs(3),
        "removed after {:?}",
        t.elapsed()
    );
    b.wait_no_route(KEPT, ROUTE);
    assert_eq!(stale_count(&d, r1.ipv4()), 0);
}

/// ocbgpd killed and started again: BIRD, gobgpd and FRR keep its routes
/// meanwhile (a gobgpd sink behind each counts no withdraw), ocbgpd comes
/// up restarting, sends its tables after End-of-RIB from all of them, and
/// the peers then drop only the route it lost; then the same over a
/// SIGTERM restart, with nothing withdrawn.
#[test]
fn ocbgpd_restarted_keeps_its_routes_at_every_peer() {
    let lab = Lab::new("gr_restart");
    let (r1, r2, r3, r4, r5) = (
        lab.host("r1"),
        lab.host("r2"),
        lab.host("r3"),
        lab.host("r4"),
        lab.host("r5"),
    );
    let bgp = |routes: &[&str]| {
        let mut c = BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(90)))
            .neighbor(Neighbor::new(r3.ipv4(), 65003).graceful_restart(gr(90)))
            // Graceful restart from the instance's settings only.
            .neighbor(Neighbor::new(r4.ipv4(), 65004));
        for r in routes {
            c = c.route(Originated::new(r).next_hop(r1.ipv4()));
        }
        OcbgpdConfig::new(c)
            .graceful_restart(90)
            .selection_deferral_time(60)
    };
    let mut d = Ocbgpd::start(&r1, &bgp(&[KEPT, LOST]));
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(90)))
            .neighbor(Neighbor::new(r5.ipv4(), 65005)),
    );
    let g = Gobgp::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(90)))
            .neighbor(Neighbor::new(r5.ipv4(), 65005)),
    );
    let f = Frr::start(
        &r4,
        &BgpConfig::new(65004, r4.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(90)))
            .neighbor(Neighbor::new(r5.ipv4(), 65005)),
    );
    let sink = Gobgp::start(
        &r5,
        &BgpConfig::new(65005, r5.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .neighbor(Neighbor::new(r3.ipv4(), 65003))
            .neighbor(Neighbor::new(r4.ipv4(), 65004)),
    );
    let peers = [r2.ipv4(), r3.ipv4(), r4.ipv4()];
    for p in peers {
        d.wait_established(p, UP);
        sink.wait_established(p, UP);
    }
    let sink_has = |prefix: &str, from: IpAddr| {
        sink.adj_in(from, Family::Ipv4Unicast)
            .iter()
            .any(|r| r.prefix == prefix)
    };
    for p in peers {
        for prefix in [KEPT, LOST] {
            assert!(
                wait_until(ROUTE, || sink_has(prefix, p)),
                "{prefix} from {p} never reached the sink"
            );
        }
    }
    let before: Vec<ReceivedCounts> = peers.iter().map(|p| sink.received_counts(*p)).collect();

    // Killed: the peers keep its routes.
    d.crash();
    b.wait_not_established(r1.ipv4(), UP);
    g.wait_not_established(r1.ipv4(), UP);
    f.wait_not_established(r1.ipv4(), UP);
    assert!(b.graceful_restart_status(r1.ipv4()).helping);
    for p in peers {
        assert!(
            sink_has(KEPT, p) && sink_has(LOST, p),
            "{p} let go during the restart"
        );
    }

    // Back without LOST: restarting, tables after the peers' End-of-RIB.
    d.start_again_with(&bgp(&[KEPT]));
    let restarted = d.log_events_for(
        "graceful restart: ocbgpd ran within the restart time, starting as a restarting speaker",
        None,
    );
    assert_eq!(restarted.len(), 1, "{}", d.current_log());
    for p in peers {
        d.wait_established(p, UP);
    }
    d.wait_log_event(
        "graceful restart: selection deferral over, sending tables and End-of-RIB",
        None,
        0,
        UP,
    );
    for p in peers {
        assert!(
            wait_until(ROUTE, || !sink_has(LOST, p)),
            "{p} kept LOST after ocbgpd's End-of-RIB"
        );
        assert!(sink_has(KEPT, p), "{p} lost KEPT");
    }
    for (i, p) in peers.iter().enumerate() {
        let now = sink.received_counts(*p);
        assert_eq!(
            now.withdraws,
            before[i].withdraws + 1,
            "the sink saw only LOST withdrawn by {p}: {:?} -> {now:?}",
            before[i]
        );
    }
    assert_eq!(
        neighbor_leaf(&d, r2.ipv4(), "graceful-restart/state", "local-restarting"),
        Some(Value::Bool(false))
    );
    assert_eq!(
        neighbor_leaf(&d, r4.ipv4(), "graceful-restart/state", "restart-time"),
        Some(Value::from(90)),
        "FRR's neighbor takes the instance's graceful restart"
    );

    // A service restart (SIGTERM, as systemd does): the same, no withdraw.
    let deferrals = d
        .log_events_for(
            "graceful restart: selection deferral over, sending tables and End-of-RIB",
            None,
        )
        .len();
    let status = d.stop_and_restart(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM exit: {status:?}"
    );
    for p in peers {
        d.wait_established(p, UP);
    }
    d.wait_log_event(
        "graceful restart: selection deferral over, sending tables and End-of-RIB",
        None,
        deferrals,
        UP,
    );
    for (i, p) in peers.iter().enumerate() {
        assert!(sink_has(KEPT, *p), "{p} lost KEPT over the SIGTERM restart");
        let now = sink.received_counts(*p);
        assert_eq!(
            now.withdraws,
            before[i].withdraws + 1,
            "no new withdraw from {p} over the SIGTERM restart: {now:?}"
        );
    }
}

/// Long-lived graceful restart: past gobgpd's restart time its route stays
/// at ocbgpd for the long-lived stale time, reaches BIRD (which has LLGR)
/// with LLGR_STALE, and is withdrawn from a gobgpd without LLGR.
#[test]
fn long_lived_stale_routes_reach_only_llgr_peers() {
    let lab = Lab::new("llgr");
    let (r1, r2, r3, r4) = (
        lab.host("r1"),
        lab.host("r2"),
        lab.host("r3"),
        lab.host("r4"),
    );
    let llgr = || gr(2).long_lived(120);
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(llgr()))
            .route(Originated::new(KEPT).community("65000:1")),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(llgr()))
                .neighbor(Neighbor::new(r3.ipv4(), 65003).graceful_restart(llgr()))
                .neighbor(Neighbor::new(r4.ipv4(), 65004)),
        ),
    );
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(llgr())),
    );
    let plain = Gobgp::start(
        &r4,
        &BgpConfig::new(65004, r4.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    b.wait_established(r2.ipv4(), UP);
    plain.wait_established(r2.ipv4(), UP);
    let fresh = b.wait_route(KEPT, ROUTE);
    assert!(!fresh.llgr_stale(), "{fresh}");
    plain.wait_route(KEPT, ROUTE);

    let seen = d
        .log_events_for(
            "long-lived graceful restart: stale routes kept, marked LLGR_STALE",
            None,
        )
        .len();
    g.crash();
    d.wait_log_event(
        "long-lived graceful restart: stale routes kept, marked LLGR_STALE",
        Some(r1.ipv4()),
        seen,
        UP,
    );
    let stale = b.wait_route_matching(KEPT, ROUTE, &|r: &Route| r.llgr_stale());
    assert!(stale.has_community("65000:1"), "{stale}");
    plain.wait_no_route(KEPT, ROUTE);
    assert_eq!(stale_count(&d, r1.ipv4()), 1);
}

/// BIRD restarting as a graceful restart speaker (`birdc graceful
/// restart`, then `bird -R`): ocbgpd keeps its routes over the restart (a
/// gobgpd sink counts no withdraw) and ends it at BIRD's End-of-RIB.
#[test]
fn bird_restart_keeps_its_routes() {
    let lab = Lab::new("gr_bird");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    const BIRDS: &str = "192.0.2.128/25";
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(65001, r1.ipv4())
                .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(60)))
                .neighbor(Neighbor::new(r3.ipv4(), 65004)),
        ),
    );
    let mut b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(60)))
            .route(Originated::new(BIRDS).next_hop(r2.ipv4())),
    );
    let sink = Gobgp::start(
        &r3,
        &BgpConfig::new(65004, r3.ipv4()).neighbor(Neighbor::new(r1.ipv4(), 65001)),
    );
    sink.wait_route(BIRDS, ROUTE);
    let before = sink.received_counts(r1.ipv4());
    let message = "graceful restart: End-of-RIB received, stale routes removed";
    let ended = d.log_events_for(message, Some(r2.ipv4())).len();
    let kept = "graceful restart: peer restarting, its routes kept as stale";
    let restarts = d.log_events_for(kept, Some(r2.ipv4())).len();
    b.graceful_restart();
    d.wait_log_event(kept, Some(r2.ipv4()), restarts, UP);
    d.wait_established(r2.ipv4(), UP);
    d.wait_log_event(message, Some(r2.ipv4()), ended, UP);
    assert!(sink.route(BIRDS).is_some(), "the sink lost BIRD's route");
    let now = sink.received_counts(r1.ipv4());
    assert_eq!(
        now.withdraws, before.withdraws,
        "the sink saw a withdraw over BIRD's restart: {now:?}"
    );
    assert_eq!(stale_count(&d, r2.ipv4()), 0);
}

/// FRR 8.4 restarting (bgpd killed and started again with `bgp
/// graceful-restart`) with a route it learns from a gobgpd upstream:
/// ocbgpd keeps the route, stale, while FRR is away (the sink behind
/// ocbgpd keeps it and sees no withdraw) and, at FRR's End-of-RIB, removes
/// exactly what FRR has not sent again (RFC 4724 4.2); the route is back
/// once FRR has it again. FRR 8.4 sends End-of-RIB as soon as the first
/// graceful restart peer's End-of-RIB is in, whether or not its upstream
/// is back (FRRouting/frr issues 20165 and 22623), so the route may leave
/// for that moment: both outcomes are accepted and the sink's withdrawals
/// must match the stale routes ocbgpd removed. (FRR 8.4 does not
/// originate its own `network` routes again after such a restart at all,
/// hence the upstream.)
#[test]
fn frr_restart_keeps_its_routes() {
    let lab = Lab::new("gr_frr");
    let (r1, r2, r3, r4) = (
        lab.host("r1"),
        lab.host("r2"),
        lab.host("r3"),
        lab.host("r4"),
    );
    const LEARNED: &str = "192.0.2.128/25";
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(65001, r1.ipv4())
                .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(60)))
                .neighbor(Neighbor::new(r3.ipv4(), 65004)),
        ),
    );
    let _upstream = Gobgp::start(
        &r4,
        &BgpConfig::new(65003, r4.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).graceful_restart(gr(60)))
            .route(Originated::new(LEARNED).next_hop(r4.ipv4())),
    );
    let mut f = Frr::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).graceful_restart(gr(60)))
            .neighbor(Neighbor::new(r4.ipv4(), 65003).graceful_restart(gr(60))),
    );
    let sink = Gobgp::start(
        &r3,
        &BgpConfig::new(65004, r3.ipv4()).neighbor(Neighbor::new(r1.ipv4(), 65001)),
    );
    sink.wait_route(LEARNED, ROUTE);
    let before = sink.received_counts(r1.ipv4());
    let eor = "graceful restart: End-of-RIB received, stale routes removed";
    let ended = d.log_events_for(eor, Some(r2.ipv4())).len();
    let kept = "graceful restart: peer restarting, its routes kept as stale";
    let restarts = d.log_events_for(kept, Some(r2.ipv4())).len();

    f.crash_bgpd();
    d.wait_log_event(kept, Some(r2.ipv4()), restarts, UP);
    assert_eq!(stale_count(&d, r2.ipv4()), 1, "FRR's route is kept, stale");
    assert!(
        sink.route(LEARNED).is_some(),
        "the sink lost the route while FRR was away"
    );
    assert_eq!(sink.received_counts(r1.ipv4()).withdraws, before.withdraws);

    f.start_bgpd_again();
    d.wait_established(r2.ipv4(), UP);
    // One End-of-RIB event per family.
    assert!(
        wait_until(UP, || d.log_events_for(eor, Some(r2.ipv4())).len()
            >= ended + 2),
        "no End-of-RIB from FRR"
    );
    let swept: u64 = d.log_events_for(eor, Some(r2.ipv4()))[ended..]
        .iter()
        .filter(|e| e["fields"]["family"] == "ipv4-unicast")
        .map(|e| e["fields"]["stale"].as_u64().unwrap_or(0))
        .sum();
    assert!(swept <= 1, "ocbgpd swept {swept} stale routes, FRR had one");
    // The route is back (FRR has its upstream again), and the sink saw a
    // withdrawal only for a route swept.
    let settled = wait_until(ROUTE, || {
        sink.route(LEARNED).is_some()
            && sink.received_counts(r1.ipv4()).withdraws == before.withdraws + swept
    });
    let now = sink.received_counts(r1.ipv4());
    assert!(
        settled,
        "after FRR's restart the sink should hold the route and have seen {swept} withdrawal(s): {now:?}, route {:?}",
        sink.route(LEARNED)
    );
    assert_eq!(stale_count(&d, r2.ipv4()), 0);
}
