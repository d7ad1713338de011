//! The forwarding table with the zebra backend, in network namespaces:
//! ocbgpd starts before FRR's zebra (the state says it is connecting and
//! why it cannot), connects once zebra is up, and hands zebra the routes
//! it learns from gobgpd (IPv4 and IPv6), which zebra installs as BGP
//! routes; FRR's static routes (staticd) are redistributed into BGP and
//! advertised to BIRD, through an import policy once one is set (its
//! prefix set edited later lets the other one in); a withdraw at gobgpd takes the route out of zebra,
//! removing the static route withdraws it from BIRD, and a restarted
//! zebra gets the whole table again. Next hops are tracked through zebra:
//! a route whose next hop zebra cannot resolve is not eligible until a
//! static route in FRR makes it reachable.

use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(20);

const FROM_GOBGP: &str = "198.51.100.0/24";
const FROM_GOBGP_V6: &str = "2001:db8:100::/48";
const STATIC: &str = "203.0.113.0/24";
/// Another static route, kept out by the import policy at first.
const STATIC_2: &str = "203.0.113.128/25";
/// gobgpd's route through a next hop nothing reaches at first.
const FAR: &str = "192.0.2.128/25";
const FAR_NEXT_HOP: &str = "10.99.99.1";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn fib_state(d: &Ocbgpd, leaf: &str) -> Option<Value> {
    d.try_gnmi_leaf(&format!("{BGP}/global/ocbgp:fib/state"), leaf)
        .unwrap_or_else(|e| d.fail(&e))
}

#[test]
fn best_paths_go_into_zebra_and_static_routes_come_out() {
    let lab = Lab::new("zebra");
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
                Originated::new(FAR).next_hop(FAR_NEXT_HOP.parse::<std::net::IpAddr>().unwrap()),
            ),
    );
    let socket = FrrZebra::dir_of(&r2).join("zserv.api");
    let fib = json!({
        "config": {
            "backend": "ZEBRA",
            "zebra-socket": socket.to_string_lossy(),
            "metric": 33,
        },
        "redistribute": [
            {"protocol": "STATIC", "config": {"protocol": "STATIC"}},
        ],
    });
    let config = OcbgpdConfig::new(
        BgpConfig::new(65002, r2.ipv4())
            .neighbor(
                Neighbor::new(r1.ipv4(), 65001)
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]),
            )
            .neighbor(Neighbor::new(r3.ipv4(), 65003)),
    )
    .bgp_extra(&["global", "ocbgp:fib"], fib);
    // zebra is not there yet: the commit is fine, the state says so.
    let d = Ocbgpd::start(&r2, &config);
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    d.wait_established(r1.ipv4(), UP);
    d.wait_established(r3.ipv4(), UP);
    assert_eq!(fib_state(&d, "connection-state"), Some(json!("CONNECTING")));
    assert!(
        wait_until(ROUTE, || fib_state(&d, "last-error").is_some()),
        "no last-error while zebra is absent"
    );

    let mut z = FrrZebra::start(
        &r2,
        &[
            &format!("ip route {STATIC} blackhole"),
            &format!("ip route {STATIC_2} blackhole"),
        ],
    );
    assert!(
        wait_until(UP, || fib_state(&d, "connection-state")
            == Some(json!("CONNECTED"))),
        "not connected to zebra: {:?}",
        fib_state(&d, "last-error")
    );

    // Best paths become zebra's BGP routes, installed.
    for (prefix, gw) in [(FROM_GOBGP, r1.ipv4()), (FROM_GOBGP_V6, r1.ipv6())] {
        assert!(
            wait_until(ROUTE, || z.installed(prefix, "bgp") == Some(vec![gw])),
            "{prefix} via {gw} not installed by zebra: {:?}",
            z.routes(prefix)
        );
        assert_eq!(z.routes(prefix)[0]["metric"], json!(33));
    }
    assert!(
        wait_until(ROUTE, || fib_state(&d, "installed") == Some(json!(2))),
        "installed: {:?}",
        fib_state(&d, "installed")
    );
    assert_eq!(fib_state(&d, "failed"), Some(json!(0)));

    // FRR's static route is redistributed into BGP and reaches BIRD.
    assert!(
        wait_until(ROUTE, || b.route(STATIC).is_some()),
        "{STATIC} not at BIRD; zebra has {:?}; ocbgpd has {:?}",
        z.routes(STATIC),
        d.routes(Family::Ipv4Unicast)
    );
    let r = b.wait_route(STATIC, ROUTE);
    assert_eq!(r.as_path, vec![65002]);
    assert_eq!(r.origin, Some(Origin::Incomplete));
    b.wait_route(STATIC_2, ROUTE);

    // An import policy for the static routes: STATIC only, with a
    // community; STATIC_2 is withdrawn.
    let prefix_set = |prefixes: &[&str]| {
        let p: Vec<Value> = prefixes
            .iter()
            .map(|p| {
                json!({"ip-prefix": p, "masklength-range": "exact",
                            "config": {"ip-prefix": p, "masklength-range": "exact"}})
            })
            .collect();
        json!({"name": "STATICS", "config": {"name": "STATICS", "mode": "IPV4"},
               "prefixes": {"prefix": p}})
    };
    let policy = json!({"name": "REDIST", "config": {"name": "REDIST"}, "statements": {"statement": [
        {"name": "10", "config": {"name": "10"},
         "conditions": {"match-prefix-set": {"config": {"prefix-set": "STATICS", "match-set-options": "ANY"}}},
         "actions": {"config": {"policy-result": "ACCEPT_ROUTE"},
                     "openconfig-bgp-policy:bgp-actions": {"set-community": {"config": {"method": "INLINE", "options": "ADD"},
                         "inline": {"config": {"communities": ["65002:77"]}}}}}},
    ]}});
    let import =
        format!("{BGP}/global/ocbgp:fib/redistribute[protocol=STATIC]/config/import-policy");
    d.try_gnmi_set(
        &[],
        &[],
        &[
            (
                "/routing-policy".into(),
                json!({"defined-sets": {"prefix-sets": {"prefix-set": [prefix_set(&[STATIC])]}},
                       "policy-definitions": {"policy-definition": [policy]}}),
            ),
            (import, json!("REDIST")),
        ],
    )
    .unwrap_or_else(|e| d.fail(&e));
    assert!(
        wait_until(ROUTE, || b.route(STATIC_2).is_none()),
        "{STATIC_2} still at BIRD though the import policy rejects it"
    );
    assert!(
        wait_until(ROUTE, || b
            .route(STATIC)
            .is_some_and(|r| r.communities.contains(&"65002:77".to_string()))),
        "{STATIC} at BIRD without the policy's community: {:?}",
        b.route(STATIC)
    );
    // The policy's prefix set edited: STATIC_2 comes in too.
    d.try_gnmi_set(
        &[],
        &[(
            "/routing-policy/defined-sets/prefix-sets/prefix-set[name=STATICS]".into(),
            prefix_set(&[STATIC, STATIC_2]),
        )],
        &[],
    )
    .unwrap_or_else(|e| d.fail(&e));
    assert!(
        wait_until(ROUTE, || b
            .route(STATIC_2)
            .is_some_and(|r| r.communities.contains(&"65002:77".to_string()))),
        "{STATIC_2} not at BIRD with the community after the set grew: {:?}",
        b.route(STATIC_2)
    );

    // Next-hop tracking through zebra: FAR's next hop resolves through
    // nothing, so the path is not eligible (not advertised to BIRD);
    // a static route to it in FRR makes it eligible.
    let far_in_post = || {
        d.adj_rib_prefixes(r1.ipv4(), Family::Ipv4Unicast, AdjRib::InPost)
            .contains(&FAR.to_string())
    };
    assert!(
        wait_until(ROUTE, || !far_in_post()),
        "{FAR} eligible though zebra cannot resolve {FAR_NEXT_HOP}"
    );
    assert!(b.route(FAR).is_none(), "{FAR} advertised to BIRD");
    z.try_vtysh(
        "staticd",
        &[
            "configure terminal",
            &format!("ip route 10.99.99.0/24 {}", r1.ipv4()),
        ],
    )
    .unwrap_or_else(|e| z.fail(&e));
    assert!(
        wait_until(ROUTE, || far_in_post() && b.route(FAR).is_some()),
        "{FAR} not eligible after {FAR_NEXT_HOP} became reachable in zebra; zebra has {:?}",
        z.routes(FAR)
    );

    // A withdraw at gobgpd takes the route out of zebra.
    g.delete_route(FROM_GOBGP);
    assert!(
        wait_until(ROUTE, || z.routes(FROM_GOBGP).is_empty()),
        "{FROM_GOBGP} still in zebra: {:?}",
        z.routes(FROM_GOBGP)
    );

    // The static route goes: BGP withdraws it.
    z.try_vtysh(
        "staticd",
        &[
            "configure terminal",
            &format!("no ip route {STATIC} blackhole"),
        ],
    )
    .unwrap_or_else(|e| z.fail(&e));
    assert!(
        wait_until(ROUTE, || b.route(STATIC).is_none()),
        "{STATIC} still at BIRD; zebra has {:?}",
        z.routes(STATIC)
    );

    // A restarted zebra gets the whole table again (it drops a
    // client's routes when the client goes).
    z.restart_zebra();
    assert!(
        wait_until(UP, || z.installed(FROM_GOBGP_V6, "bgp")
            == Some(vec![r1.ipv6()])),
        "{FROM_GOBGP_V6} not back in zebra after its restart: {:?}",
        z.routes(FROM_GOBGP_V6)
    );
    assert_eq!(fib_state(&d, "connection-state"), Some(json!("CONNECTED")));
}
