//! Dynamic neighbors (OpenConfig `global/dynamic-neighbor-prefixes`) with
//! real gobgpd peers in network namespaces. ocbgpd has no configured
//! neighbor, only two ranges: 192.0.2.0/25 with peer group "wide" (peer-as
//! 65099, which would fail the OPEN) and the longer 192.0.2.0/29 with peer
//! group "near" (peer-as 65102):
//!
//! - gobgpd A (192.0.2.n, n < 8, AS 65102) connects: the longest range wins,
//!   the session gets ESTABLISHED, routes go both ways, and ocbgpd shows
//!   the neighbor with `state/dynamically-configured` true;
//! - gobgpd B connects from 192.0.2.200, outside both ranges: refused, no
//!   neighbor made;
//! - A stops: ocbgpd removes the dynamic neighbor and its routes.

use std::net::IpAddr;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::json;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

const OC_AS: u32 = 65001;
const A_AS: u32 = 65102;
const B_AS: u32 = 65103;

const OC_ROUTE: &str = "198.51.100.0/24";
const A_ROUTE: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn neighbor_state(oc: &Ocbgpd, addr: IpAddr) -> Vec<serde_json::Value> {
    oc.try_gnmi_get(&format!(
        "{BGP}/neighbors/neighbor[neighbor-address={addr}]/state"
    ))
    .unwrap_or_default()
}

#[test]
fn dynamic_neighbors_from_the_longest_range_come_and_go() {
    let lab = Lab::new("dyn");
    let (oc_host, a_host, b_host) = (lab.host("oc"), lab.host("a"), lab.host("b"));
    let oc_addr = oc_host.ipv4();
    let a_addr = a_host.ipv4();
    assert!(
        matches!(a_addr, IpAddr::V4(v4) if v4.octets()[3] < 8),
        "A must be in 192.0.2.0/29: {a_addr}"
    );
    let b_addr = b_host.add_address("192.0.2.200".parse::<IpAddr>().unwrap());

    let groups = json!({"peer-group": [
        {"peer-group-name": "wide", "config": {"peer-group-name": "wide", "peer-as": 65099}},
        {"peer-group-name": "near", "config": {"peer-group-name": "near", "peer-as": A_AS}},
    ]});
    let ranges = json!({"dynamic-neighbor-prefix": [
        {"prefix": "192.0.2.0/25", "config": {"prefix": "192.0.2.0/25", "peer-group": "wide"}},
        {"prefix": "192.0.2.0/29", "config": {"prefix": "192.0.2.0/29", "peer-group": "near"}},
    ]});
    let config = OcbgpdConfig::new(BgpConfig::new(OC_AS, oc_addr).route(Originated::new(OC_ROUTE)))
        .no_netconf()
        .bgp_extra(&["peer-groups"], groups)
        .bgp_extra(&["global", "dynamic-neighbor-prefixes"], ranges);
    let oc = Ocbgpd::start(&oc_host, &config);

    let a = Gobgp::start(
        &a_host,
        &BgpConfig::new(A_AS, a_addr)
            .neighbor(
                Neighbor::new(oc_addr, OC_AS)
                    .families(&[Family::Ipv4Unicast])
                    .connect_retry(1),
            )
            .route(Originated::new(A_ROUTE)),
    );
    let b = Gobgp::start(
        &b_host,
        &BgpConfig::new(B_AS, b_addr).neighbor(
            Neighbor::new(oc_addr, OC_AS)
                .families(&[Family::Ipv4Unicast])
                .local_address(b_addr)
                .connect_retry(1),
        ),
    );

    // A: ESTABLISHED as ocbgpd and A see it, routes both ways.
    a.wait_established(oc_addr, UP);
    oc.wait_established(a_addr, UP);
    let state = neighbor_state(&oc, a_addr);
    let text = serde_json::to_string(&state).unwrap();
    assert!(
        text.contains(r#"dynamically-configured":true"#),
        "neighbor state: {text}"
    );
    assert!(
        text.contains(&format!(r#"peer-as":{A_AS}"#)),
        "the /29's peer group: {text}"
    );
    let r = a.wait_route(OC_ROUTE, ROUTE);
    assert_eq!(r.as_path, vec![OC_AS], "{r}");
    let r = oc.wait_route(A_ROUTE, ROUTE);
    assert_eq!(r.from, Some(a_addr), "{r}");

    // B: refused, no neighbor made.
    oc.wait_log_event(
        "connection from an address that is no neighbor and in no dynamic range refused",
        Some(b_addr),
        0,
        UP,
    );
    assert!(!b.established(oc_addr), "B got a session");
    assert!(
        neighbor_state(&oc, b_addr).is_empty(),
        "ocbgpd made a neighbor for B"
    );

    // A goes: so do its neighbor entry and its route.
    let seen = oc
        .log_events_for("dynamic neighbor removed", Some(a_addr))
        .len();
    a.process().kill();
    oc.wait_log_event(
        "dynamic neighbor removed",
        Some(a_addr),
        seen,
        Duration::from_secs(100),
    );
    assert!(
        wait_until(ROUTE, || neighbor_state(&oc, a_addr).is_empty()),
        "A's neighbor entry is still there"
    );
    oc.wait_no_route(A_ROUTE, ROUTE);
}
