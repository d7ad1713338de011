//! The forwarding table with the netlink backend, in network namespaces:
//! ocbgpd learns IPv4 and IPv6 routes from gobgpd and BIRD and installs
//! its best paths into its namespace's kernel (`ip route show proto bgp`),
//! with the configured metric; a route whose next hop the kernel cannot
//! reach is counted as failed, not installed; a withdraw removes the route;
//! over a graceful restart (SIGTERM) the routes stay and the next run
//! adopts them; turning the backend off by a commit takes them out.

use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(20);

const FROM_GOBGP: &str = "198.51.100.0/24";
const FROM_GOBGP_V6: &str = "2001:db8:100::/48";
const FROM_BIRD: &str = "198.18.0.0/24";
const UNREACHABLE: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// The kernel table ocbgpd installs into.
const TABLE: &str = "100";

/// `ip [-6] route show table TABLE proto bgp` in `host`.
fn kernel_routes(host: &Host, v6: bool) -> String {
    let mut args = vec![];
    if v6 {
        args.push("-6");
    }
    args.extend(["route", "show", "table", TABLE, "proto", "bgp"]);
    // A table with no route yet does not exist: nothing installed.
    let out = host.try_run("ip", &args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fib_counter(d: &Ocbgpd, leaf: &str) -> Option<u64> {
    d.try_gnmi_leaf(&format!("{BGP}/global/ocbgp:fib/state"), leaf)
        .unwrap_or_else(|e| d.fail(&e))
        .and_then(|v: Value| v.as_u64())
}

#[test]
fn best_paths_go_into_the_kernel_and_leave_it() {
    let lab = Lab::new("fib");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(
                Neighbor::new(r2.ipv4(), 65002)
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]),
            )
            .route(Originated::new(FROM_GOBGP).next_hop(r1.ipv4()))
            .route(Originated::new(FROM_GOBGP_V6).next_hop(r1.ipv6()))
            .route(
                Originated::new(UNREACHABLE)
                    .next_hop("10.99.99.1".parse::<std::net::IpAddr>().unwrap()),
            ),
    );
    let fib = |backend: &str| json!({"config": {"backend": backend, "metric": 33, "table": 100}});
    let config = OcbgpdConfig::new(
        BgpConfig::new(65002, r2.ipv4())
            .neighbor(
                Neighbor::new(r1.ipv4(), 65001)
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast])
                    .graceful_restart(GracefulRestart::new(60)),
            )
            .neighbor(Neighbor::new(r3.ipv4(), 65003)),
    )
    .bgp_extra(&["global", "ocbgp:fib"], fib("NETLINK"));
    let mut d = Ocbgpd::start(&r2, &config);
    let _b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(Originated::new(FROM_BIRD).next_hop(r3.ipv4())),
    );
    d.wait_established(r1.ipv4(), UP);
    d.wait_established(r3.ipv4(), UP);

    let has = |v6: bool, want: &str| kernel_routes(&r2, v6).contains(want);
    for (v6, want) in [
        (false, format!("{FROM_GOBGP} via {} ", r1.ipv4())),
        (false, format!("{FROM_BIRD} via {} ", r3.ipv4())),
        (true, format!("{FROM_GOBGP_V6} via {} ", r1.ipv6())),
    ] {
        assert!(
            wait_until(ROUTE, || has(v6, &want)),
            "{want:?} not in the kernel:\n{}",
            kernel_routes(&r2, v6)
        );
    }
    assert!(
        kernel_routes(&r2, false).contains("metric 33"),
        "{}",
        kernel_routes(&r2, false)
    );
    // The next hop the kernel cannot reach: the path is not eligible
    // (next-hop tracking), so neither installed nor in the Loc-RIB.
    assert!(
        wait_until(ROUTE, || !d
            .adj_rib_prefixes(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPost)
            .contains(&UNREACHABLE.to_string())),
        "{UNREACHABLE} accepted with an unreachable next hop"
    );
    assert!(!has(false, UNREACHABLE));
    assert!(d
        .adj_rib_prefixes(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPre)
        .contains(&UNREACHABLE.to_string()));
    assert_eq!(fib_counter(&d, "installed"), Some(3));
    assert_eq!(fib_counter(&d, "failed"), Some(0));

    // The Loc-RIB says which routes are in the kernel: a Get and the CLI's
    // status column (ON_CHANGE telemetry: when the backend goes, below).
    let loc_rib = format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes"
    );
    let route = format!(
        "{loc_rib}/route[prefix={FROM_BIRD}][origin={}][path-id=0]/state",
        r3.ipv4()
    );
    assert_eq!(
        d.try_gnmi_leaf(&route, "ocbgp:fib-installed")
            .unwrap_or_else(|e| d.fail(&e)),
        Some(Value::Bool(true)),
        "{route}"
    );
    let bin = ocbgp_tests::bin_path("ocbgp");
    let table = r2.try_run("timeout", &["30", bin.to_str().unwrap(), "global", "rib"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|l| l.get(..5).is_some_and(|s| s.ends_with('F')) && l.contains(FROM_BIRD)),
        "{table}"
    );

    // A withdraw takes the route out.
    g.delete_route(FROM_GOBGP);
    assert!(
        wait_until(ROUTE, || !has(false, FROM_GOBGP)),
        "{FROM_GOBGP} still in the kernel:\n{}",
        kernel_routes(&r2, false)
    );

    // Over a graceful restart (SIGTERM) forwarding stays as it was; the
    // next run adopts the routes and keeps what it still wants.
    let status = d.stop_and_restart(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(has(false, FROM_BIRD), "{}", kernel_routes(&r2, false));
    d.wait_established(r3.ipv4(), UP);
    d.wait_log_event(
        "forwarding table: adopting routes of a previous run",
        None,
        0,
        UP,
    );
    assert!(
        wait_until(ROUTE, || fib_counter(&d, "installed") == Some(2)),
        "installed after the restart: {:?}\n{}",
        fib_counter(&d, "installed"),
        kernel_routes(&r2, false)
    );
    assert!(has(false, FROM_BIRD) && has(true, FROM_GOBGP_V6));

    // Turned off by a commit: the routes leave the kernel.
    let backend = format!("{BGP}/global/ocbgp:fib/config/backend");
    // Installed again by this run (adopted routes are counted at once; the
    // Loc-RIB has them once the restart's selection deferral is over).
    let installed = || {
        d.try_gnmi_leaf(&route, "ocbgp:fib-installed")
            .ok()
            .flatten()
    };
    assert!(
        wait_until(UP, || installed() == Some(Value::Bool(true))),
        "{route}: {:?}",
        installed()
    );
    let sub = d.synced_subscriber("rib-subscriber", &loc_rib, UP);
    d.gnmi_update(&backend, json!("NONE"));
    assert!(
        wait_until(ROUTE, || !has(false, FROM_BIRD)
            && !has(true, FROM_GOBGP_V6)),
        "routes left after the backend was turned off:\n{}\n{}",
        kernel_routes(&r2, false),
        kernel_routes(&r2, true)
    );
    // Next hops are judged no more: the unreachable one's path is usable.
    assert!(
        wait_until(ROUTE, || d
            .adj_rib_prefixes(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPost)
            .contains(&UNREACHABLE.to_string())),
        "{UNREACHABLE} still not eligible without a forwarding table"
    );
    // ON_CHANGE readers hear the routes left the forwarding table.
    assert!(
        wait_until(ROUTE, || subscriber_saw(
            &sub,
            FROM_BIRD,
            "ocbgp:fib-installed",
            &json!(false)
        )),
        "no fib-installed false update: {}",
        sub.log()
    );

    // Back on, kept on shutdown: a hard stop (SIGINT) leaves them.
    d.gnmi_update(
        &format!("{BGP}/global/ocbgp:fib/config/keep-on-shutdown"),
        json!(true),
    );
    d.gnmi_update(&backend, json!("NETLINK"));
    assert!(
        wait_until(ROUTE, || has(false, FROM_BIRD)),
        "{}",
        kernel_routes(&r2, false)
    );
    d.process().signal("INT");
    assert!(
        wait_until(Duration::from_secs(10), || !d.process().running()),
        "ocbgpd did not stop on SIGINT"
    );
    assert!(
        has(false, FROM_BIRD),
        "keep-on-shutdown: {}",
        kernel_routes(&r2, false)
    );
}

/// `use-multiple-paths`: two eBGP peers in different ASes offer equal
/// paths; with allow-multiple-as the kernel gets one route with both next
/// hops, and when one withdraws, a route via the other.
#[test]
fn equal_paths_make_an_ecmp_route() {
    let lab = Lab::new("fib_ecmp");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let g1 = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(Originated::new(FROM_GOBGP).next_hop(r1.ipv4())),
    );
    let _g3 = Gobgp::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(Originated::new(FROM_GOBGP).next_hop(r3.ipv4())),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), 65001))
                .neighbor(Neighbor::new(r3.ipv4(), 65003)),
        )
        .bgp_extra(
            &["global", "ocbgp:fib"],
            json!({"config": {"backend": "NETLINK", "table": 100}}),
        )
        .bgp_extra(
            &["global", "use-multiple-paths"],
            json!({"config": {"enabled": true},
                   "ebgp": {"config": {"maximum-paths": 4, "allow-multiple-as": true}}}),
        ),
    );
    d.wait_established(r1.ipv4(), UP);
    d.wait_established(r3.ipv4(), UP);
    let both = |t: &str| {
        t.contains(&format!("nexthop via {} ", r1.ipv4()))
            && t.contains(&format!("nexthop via {} ", r3.ipv4()))
    };
    assert!(
        wait_until(ROUTE, || both(&kernel_routes(&r2, false))),
        "no ECMP route:\n{}",
        kernel_routes(&r2, false)
    );
    g1.delete_route(FROM_GOBGP);
    let single = format!("{FROM_GOBGP} via {} ", r3.ipv4());
    assert!(
        wait_until(ROUTE, || kernel_routes(&r2, false).contains(&single)),
        "not down to one next hop:\n{}",
        kernel_routes(&r2, false)
    );
}

/// Next-hop tracking: a route whose next hop is on no connected network
/// is ineligible until a kernel route covers the next hop; then it is
/// installed through that route's gateway (recursive) and advertised to a
/// BIRD peer; when the kernel route goes, so does the route, at BIRD too.
#[test]
fn routes_follow_their_next_hops_reachability() {
    let lab = Lab::new("fib_nht");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let far: std::net::IpAddr = "10.7.7.1".parse().unwrap();
    let _g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(Originated::new(UNREACHABLE).next_hop(far)),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), 65001))
                .neighbor(Neighbor::new(r3.ipv4(), 65003)),
        )
        .bgp_extra(
            &["global", "ocbgp:fib"],
            json!({"config": {"backend": "NETLINK", "table": 100}}),
        ),
    );
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    d.wait_established(r1.ipv4(), UP);
    b.wait_established(r2.ipv4(), UP);
    assert!(
        wait_until(ROUTE, || d
            .adj_rib_prefixes(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPre)
            .contains(&UNREACHABLE.to_string())),
        "gobgpd's route never arrived"
    );
    assert!(
        b.route(UNREACHABLE).is_none(),
        "advertised while unreachable"
    );

    // A kernel route makes the next hop reachable through r1.
    r2.run(
        "ip",
        &["route", "add", "10.7.7.0/24", "via", &r1.ipv4().to_string()],
    );
    let via = format!("{UNREACHABLE} via {} ", r1.ipv4());
    assert!(
        wait_until(ROUTE, || kernel_routes(&r2, false).contains(&via)),
        "not installed through the covering route:\n{}",
        kernel_routes(&r2, false)
    );
    b.wait_route(UNREACHABLE, ROUTE);

    // It goes: the route leaves the kernel and BIRD.
    r2.run("ip", &["route", "del", "10.7.7.0/24"]);
    assert!(
        wait_until(ROUTE, || !kernel_routes(&r2, false).contains(UNREACHABLE)),
        "still installed:\n{}",
        kernel_routes(&r2, false)
    );
    b.wait_no_route(UNREACHABLE, ROUTE);
}
