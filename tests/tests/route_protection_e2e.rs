//! Route protection and per-neighbor route handling end to end, with real
//! peers in network namespaces (issue #13):
//!
//! - AS loop detection on receipt (RFC 4271 9.1.2) and `allow-own-as`,
//!   enforce-first-AS (`ocbgp:enforce-first-as`), AS_SET treat-as-withdraw
//!   (RFC 9774): gobgpd and ExaBGP peers, ocbgpd's Adj-RIB-In and Loc-RIB
//!   read by gNMI ([`own_as_routes_are_refused`]);
//! - route reflection (RFC 4456) with BIRD and FRR as iBGP clients:
//!   ORIGINATOR_ID and CLUSTER_LIST as the clients see them, loop drops of
//!   routes an ExaBGP sends with our cluster id or router id, and
//!   `ocbgp:client-to-client-reflection` ([`route_reflection_with_bird_and_frr_clients`]);
//! - prefix limits: the Cease NOTIFICATION gobgpd gets, the state flag,
//!   the restart timer, `prevent-teardown` ([`prefix_limit_tears_down_gobgpd`]);
//! - `remove-private-as` and `replace-peer-as` as BIRD sees the AS_PATH
//!   ([`replace_peer_as_and_remove_private_as_at_bird`]);
//! - `send-community-type` at neighbor and address-family level, with
//!   OpenConfig's default of sending no communities ([`send_community_type_at_bird`]);
//! - enhanced route refresh (RFC 7313) answered to FRR
//!   ([`enhanced_route_refresh_with_frr`]).
//!
//! ocbgpd is AS 64512 everywhere; configuration changes go through gNMI Set
//! (pygnmi in ocbgpd's namespace, gNMI on its default 127.0.0.1:9339).
//! Every wait is bounded.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

/// Session establishment bound (gobgpd's first attempt alone may take 10 s).
const UP: Duration = Duration::from_secs(30);
/// Route propagation bound (FRR's and BIRD's update timers included).
const ROUTE: Duration = Duration::from_secs(20);

const OC_AS: u32 = 64512;

const BGP: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
const BGP_TYPES: &str = "openconfig-bgp-types";

fn neighbor_path(addr: IpAddr) -> String {
    format!("{BGP}/neighbors/neighbor[neighbor-address={addr}]")
}

fn ipv4_afi_path(addr: IpAddr) -> String {
    format!(
        "{}/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]",
        neighbor_path(addr)
    )
}

/// A number read from a leaf that may come as a JSON number or string.
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The neighbor's `state/established-transitions`.
fn transitions(d: &Ocbgpd, peer: IpAddr) -> u64 {
    let path = format!("{}/state/established-transitions", neighbor_path(peer));
    d.try_gnmi_leaf(&path, "established-transitions")
        .unwrap_or_else(|e| d.fail(&e))
        .as_ref()
        .and_then(as_u64)
        .unwrap_or_else(|| d.fail(&format!("no established-transitions at {path}")))
}

/// Whether ocbgpd's Loc-RIB has `prefix` (None when it cannot be read).
fn in_loc_rib(d: &Ocbgpd, prefix: &str) -> Option<Route> {
    d.try_routes(Family::of(prefix))
        .ok()
        .and_then(|r| pick(&r, prefix).cloned())
}

/// Waits until ocbgpd's Loc-RIB has `prefix` (`present`) or not; the
/// route when present.
fn wait_loc_rib_state(d: &Ocbgpd, prefix: &str, present: bool, what: &str) -> Option<Route> {
    let mut last: Vec<Route> = Vec::new();
    let ok = wait_until(ROUTE, || {
        last = d.try_routes(Family::of(prefix)).unwrap_or_default();
        pick(&last, prefix).is_some() == present
    });
    if !ok {
        d.fail(&format!(
            "{what}: {prefix} {} ocbgpd's Loc-RIB after {ROUTE:?}; it holds:\n{}",
            if present {
                "never arrived in"
            } else {
                "is still in"
            },
            describe(&last)
        ));
    }
    pick(&last, prefix).cloned()
}

/// Waits until ocbgpd's Loc-RIB has `prefix` and returns its route.
fn wait_loc_rib(d: &Ocbgpd, prefix: &str, what: &str) -> Route {
    wait_loc_rib_state(d, prefix, true, what).expect("present")
}

/// Waits until ocbgpd's Loc-RIB has no `prefix`.
fn wait_no_loc_rib(d: &Ocbgpd, prefix: &str, what: &str) {
    wait_loc_rib_state(d, prefix, false, what);
}

/// Waits until the neighbor's Adj-RIB `table` has `prefix` (`present`) or not.
fn wait_adj(d: &Ocbgpd, peer: IpAddr, table: AdjRib, prefix: &str, present: bool, what: &str) {
    let mut last = Vec::new();
    let ok = wait_until(ROUTE, || {
        last = d
            .try_adj_rib(peer, Family::of(prefix), table)
            .unwrap_or_default();
        last.iter().any(|r| r.prefix == prefix) == present
    });
    if !ok {
        d.fail(&format!(
            "{what}: {prefix} {} {} of {peer} after {ROUTE:?}; it holds:\n{}",
            if present {
                "never arrived in"
            } else {
                "is still in"
            },
            table.name(),
            describe(&last)
        ));
    }
}

/// gobgpd TOML making the last neighbor of the generated configuration a
/// route server client: gobgpd then sends it routes without its own AS.
/// gobgpd sends a route server client only what it learned from its other
/// route server clients (not its own `global rib`), so a second client
/// (`[[neighbors]]` at `addr` in `asn`) is added.
fn rs_clients_toml(addr: IpAddr, asn: u32) -> String {
    format!(
        "  [neighbors.route-server.config]\n    route-server-client = true\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    peer-as = {asn}\n\
         \x20 [neighbors.timers.config]\n    connect-retry = 1\n    idle-hold-time-after-reset = 1\n\
         \x20 [neighbors.route-server.config]\n    route-server-client = true\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n"
    )
}

/// The neighbor's `state/messages/received/UPDATE` (0 when unread).
fn received_updates(d: &Ocbgpd, peer: IpAddr) -> u64 {
    let path = format!("{}/state/messages/received/UPDATE", neighbor_path(peer));
    d.try_gnmi_leaf(&path, "UPDATE")
        .ok()
        .flatten()
        .as_ref()
        .and_then(as_u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------
// AS loops, enforce-first-AS, AS_SET
// ---------------------------------------------------------------------

/// From gobgpd 1: a plain route, and one whose AS_PATH has our AS.
const G1_PLAIN: &str = "10.50.1.0/24";
const G1_OWN_AS: &str = "10.50.0.0/24";
/// From gobgpd 3 through gobgpd 2, a route server towards us (its AS is
/// not prepended): AS_PATH [65020] from peer AS 65002.
const G2_NO_FIRST_AS: &str = "10.51.0.0/24";
/// From ExaBGP: re-announced with an AS_SET; and a control route.
const EXA_SET: &str = "10.52.0.0/24";
const EXA_PLAIN: &str = "10.52.1.0/24";

#[test]
fn own_as_routes_are_refused() {
    let lab = Lab::new("rp_own_as");
    let (oc, g1h, g2h, exh, g3h) = (
        lab.host("oc"),
        lab.host("g1"),
        lab.host("g2"),
        lab.host("exa"),
        lab.host("g3"),
    );
    let v4 = &[Family::Ipv4Unicast];
    let (g1a, g2a, exa_a) = (g1h.ipv4(), g2h.ipv4(), exh.ipv4());
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc.ipv4())
                .neighbor(Neighbor::new(g1a, 65001).families(v4))
                .neighbor(Neighbor::new(g2a, 65002).families(v4))
                .neighbor(Neighbor::new(exa_a, 65003).families(v4)),
        )
        .no_netconf(),
    );
    let g1 = Gobgp::start(
        &g1h,
        &BgpConfig::new(65001, g1a)
            .neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4))
            .route(Originated::new(G1_PLAIN)),
    );
    let g2 = Gobgp::start_with(
        &g2h,
        &BgpConfig::new(65002, g2a).neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4)),
        &rs_clients_toml(g3h.ipv4(), 65020),
    );
    let exa = Exabgp::start_with(
        &exh,
        &BgpConfig::new(65003, exa_a).neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4)),
        &ExabgpOptions {
            static_lines: vec![
                format!("route {EXA_SET} next-hop {exa_a} as-path [ 65003 65010 ];"),
                format!("route {EXA_PLAIN} next-hop {exa_a} as-path [ 65003 65011 ];"),
            ],
        },
    );
    for peer in [g1a, g2a, exa_a] {
        d.wait_established(peer, UP);
    }

    // (1) AS loop: gobgpd announces a path with our AS in it. It is
    // received (adj-rib-in-pre) but not eligible: neither in
    // adj-rib-in-post nor in the Loc-RIB, nor sent on to gobgpd 2.
    g1.cli(&[
        "global",
        "rib",
        "add",
        G1_OWN_AS,
        "origin",
        "igp",
        "aspath",
        "64512 100",
        "-a",
        "ipv4",
    ]);
    let plain = wait_loc_rib(&d, G1_PLAIN, "gobgpd 1's plain route");
    assert_eq!(plain.as_path, vec![65001], "{plain}");
    wait_adj(
        &d,
        g1a,
        AdjRib::InPre,
        G1_OWN_AS,
        true,
        "route with our AS, as received",
    );
    let post = d.adj_rib_prefixes(g1a, Family::Ipv4Unicast, AdjRib::InPost);
    assert!(
        post.contains(&G1_PLAIN.to_string()) && !post.contains(&G1_OWN_AS.to_string()),
        "adj-rib-in-post of gobgpd 1 should hold {G1_PLAIN} only of the two: {post:?}"
    );
    assert!(
        in_loc_rib(&d, G1_OWN_AS).is_none(),
        "a route whose AS_PATH has our AS is in the Loc-RIB: {:?}",
        in_loc_rib(&d, G1_OWN_AS)
    );
    let g2_sent = || {
        g2.try_adj_in(oc.ipv4(), Family::Ipv4Unicast)
            .unwrap_or_default()
    };
    assert!(
        wait_until(ROUTE, || g2_sent().iter().any(|r| r.prefix == G1_PLAIN)),
        "gobgpd 2 never got {G1_PLAIN}: {}",
        describe(&g2_sent())
    );
    assert!(
        !g2_sent().iter().any(|r| r.prefix == G1_OWN_AS),
        "the looped route was advertised to gobgpd 2: {}",
        describe(&g2_sent())
    );

    // allow-own-as 1, by gNMI Set, without a session reset: accepted.
    let before = transitions(&d, g1a);
    d.gnmi_update(
        &format!("{}/as-path-options/config", neighbor_path(g1a)),
        json!({"allow-own-as": 1}),
    );
    let own = wait_loc_rib(&d, G1_OWN_AS, "allow-own-as 1");
    assert_eq!(own.as_path, vec![65001, OC_AS, 100], "{own}");
    wait_adj(&d, g1a, AdjRib::InPost, G1_OWN_AS, true, "allow-own-as 1");
    assert_eq!(
        transitions(&d, g1a),
        before,
        "allow-own-as reset the session with gobgpd 1"
    );
    assert!(
        d.established(g1a),
        "session with gobgpd 1 down after allow-own-as"
    );
    // Back to 0: refused again.
    d.gnmi_update(
        &format!("{}/as-path-options/config", neighbor_path(g1a)),
        json!({"allow-own-as": 0}),
    );
    wait_no_loc_rib(&d, G1_OWN_AS, "allow-own-as back to 0");

    // (2) enforce-first-AS: gobgpd 2 is a route server towards us and
    // passes gobgpd 3's route with AS_PATH [65020], not starting with its
    // own AS 65002. Treated as withdrawn by default; accepted with
    // enforce-first-as false; withdrawn again when set back to true.
    let updates = received_updates(&d, g2a);
    let _g3 = Gobgp::start(
        &g3h,
        &BgpConfig::new(65020, g3h.ipv4())
            .neighbor(Neighbor::new(g2a, 65002).families(v4))
            .route(Originated::new(G2_NO_FIRST_AS)),
    );
    // gobgpd 2 sent it (its Adj-RIB-Out towards us), and ocbgpd received
    // an UPDATE since: its absence from the Loc-RIB is a decision.
    let sent = || {
        g2.try_cli(&["neighbor", &oc.ipv4().to_string(), "adj-out", "-a", "ipv4"])
            .unwrap_or_default()
    };
    assert!(
        wait_until(UP, || sent().contains(G2_NO_FIRST_AS)),
        "gobgpd 2 never sent {G2_NO_FIRST_AS}: {}",
        sent()
    );
    assert!(
        wait_until(ROUTE, || received_updates(&d, g2a) > updates),
        "ocbgpd counted no UPDATE from gobgpd 2 after it sent {G2_NO_FIRST_AS}"
    );
    wait_adj(
        &d,
        g2a,
        AdjRib::InPost,
        G2_NO_FIRST_AS,
        false,
        "first AS not the peer's",
    );
    assert!(
        in_loc_rib(&d, G2_NO_FIRST_AS).is_none(),
        "a route from eBGP peer AS 65002 whose AS_PATH starts with 65020 is in the Loc-RIB: {:?}",
        in_loc_rib(&d, G2_NO_FIRST_AS)
    );
    let enforce = |on: bool| {
        d.gnmi_update(
            &format!("{}/config", neighbor_path(g2a)),
            json!({"ocbgp:enforce-first-as": on}),
        );
    };
    enforce(false);
    let r = wait_loc_rib(&d, G2_NO_FIRST_AS, "enforce-first-as false");
    assert_eq!(
        (r.as_path.clone(), r.next_hop),
        (vec![65020], Some(g3h.ipv4())),
        "{r}"
    );
    enforce(true);
    wait_no_loc_rib(&d, G2_NO_FIRST_AS, "enforce-first-as true again");

    // (3) AS_SET: ExaBGP re-announces a prefix with an AS_SET in its
    // AS_PATH: treat-as-withdraw; the session and the other prefix stay.
    wait_loc_rib(&d, EXA_SET, "ExaBGP's route without AS_SET");
    wait_loc_rib(&d, EXA_PLAIN, "ExaBGP's control route");
    let exa_before = transitions(&d, exa_a);
    exa.command(&format!(
        "announce route {EXA_SET} next-hop {exa_a} as-path [ 65003 ( 65010 65011 ) ]"
    ));
    wait_no_loc_rib(&d, EXA_SET, "AS_SET in the AS_PATH");
    assert!(
        in_loc_rib(&d, EXA_PLAIN).is_some(),
        "the AS_SET treat-as-withdraw took {EXA_PLAIN} along"
    );
    // The session is still usable: the prefix comes back well-formed.
    exa.command(&format!(
        "announce route {EXA_SET} next-hop {exa_a} as-path [ 65003 65012 ]"
    ));
    let back = wait_loc_rib(&d, EXA_SET, "ExaBGP's route again without AS_SET");
    assert_eq!(back.as_path, vec![65003, 65012], "{back}");
    assert_eq!(
        transitions(&d, exa_a),
        exa_before,
        "the AS_SET reset ExaBGP's session"
    );
    assert!(exa.established(oc.ipv4()), "ExaBGP's session went down");
    d.process().assert_running();
}

// ---------------------------------------------------------------------
// Route reflection
// ---------------------------------------------------------------------

const CLUSTER: &str = "192.0.2.100";
const FROM_BIRD: &str = "10.60.1.0/24";
const FROM_FRR: &str = "10.60.2.0/24";
/// From ExaBGP (a non-client iBGP peer): carrying our cluster id, carrying
/// our router id as ORIGINATOR_ID, and a plain control route.
const EXA_CLUSTER_LOOP: &str = "10.60.3.0/24";
const EXA_ORIGINATOR_LOOP: &str = "10.60.4.0/24";
const EXA_CONTROL: &str = "10.60.5.0/24";

/// FRR's path to `prefix` as `show bgp ipv4 unicast PREFIX json` prints it
/// (its first path), None when FRR has none.
fn frr_path(f: &Frr, prefix: &str) -> Option<Value> {
    let text = f
        .try_vtysh(&[&format!("show bgp ipv4 unicast {prefix} json")])
        .ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    doc["paths"].as_array().and_then(|p| p.first()).cloned()
}

/// BIRD's `show route for PREFIX all` text, empty when it has no route.
fn bird_route_text(b: &Bird, prefix: &str) -> String {
    let text = b
        .try_birdc(&format!("show route for {prefix} all"))
        .unwrap_or_default();
    if text.contains(prefix) {
        text
    } else {
        String::new()
    }
}

/// The value of BIRD attribute `name` (`BGP.originator_id`) in a `show
/// route all` text.
fn bird_attr(text: &str, name: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(name))
        .find_map(|rest| rest.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

#[test]
fn route_reflection_with_bird_and_frr_clients() {
    let lab = Lab::new("rp_rr");
    let (oc, bh, fh, exh) = (
        lab.host("oc"),
        lab.host("bird"),
        lab.host("frr"),
        lab.host("exa"),
    );
    let v4 = &[Family::Ipv4Unicast];
    let (oc_a, bird_a, frr_a, exa_a) = (oc.ipv4(), bh.ipv4(), fh.ipv4(), exh.ipv4());
    let rr = |client: bool| json!({"config": {"route-reflector-client": client, "route-reflector-cluster-id": CLUSTER}});
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc_a)
                .neighbor(Neighbor::new(bird_a, OC_AS).families(v4))
                .neighbor(Neighbor::new(frr_a, OC_AS).families(v4))
                .neighbor(Neighbor::new(exa_a, OC_AS).families(v4)),
        )
        .no_netconf()
        .bgp_extra(&["neighbors", "neighbor", "0", "route-reflector"], rr(true))
        .bgp_extra(&["neighbors", "neighbor", "1", "route-reflector"], rr(true))
        .bgp_extra(
            &["neighbors", "neighbor", "2", "route-reflector"],
            rr(false),
        ),
    );
    let b = Bird::start(
        &bh,
        &BgpConfig::new(OC_AS, bird_a)
            .neighbor(Neighbor::new(oc_a, OC_AS).families(v4))
            .route(Originated::new(FROM_BIRD)),
    );
    let f = Frr::start(
        &fh,
        &BgpConfig::new(OC_AS, frr_a)
            .neighbor(Neighbor::new(oc_a, OC_AS).families(v4))
            .route(Originated::new(FROM_FRR)),
    );
    let exa = Exabgp::start_with(
        &exh,
        &BgpConfig::new(OC_AS, exa_a).neighbor(Neighbor::new(oc_a, OC_AS).families(v4)),
        &ExabgpOptions {
            static_lines: vec![
                format!("route {EXA_CLUSTER_LOOP} next-hop {exa_a} local-preference 100 cluster-list [ 192.0.2.201 {CLUSTER} ];"),
                format!("route {EXA_ORIGINATOR_LOOP} next-hop {exa_a} local-preference 100 originator-id {oc_a};"),
                format!("route {EXA_CONTROL} next-hop {exa_a} local-preference 100;"),
            ],
        },
    );
    for peer in [bird_a, frr_a, exa_a] {
        d.wait_established(peer, UP);
    }

    // BIRD's route reaches FRR reflected: ORIGINATOR_ID BIRD's router id,
    // CLUSTER_LIST [cluster id], next hop BIRD's.
    let mut path = None;
    let ok = wait_until(ROUTE, || {
        path = frr_path(&f, FROM_BIRD);
        path.is_some()
    });
    assert!(
        ok,
        "FRR never got BIRD's {FROM_BIRD} reflected; FRR's table:\n{}",
        describe(&f.routes(Family::Ipv4Unicast))
    );
    let p = path.unwrap();
    assert_eq!(
        p["originatorId"].as_str(),
        Some(bird_a.to_string().as_str()),
        "ORIGINATOR_ID at FRR: {p}"
    );
    assert_eq!(
        p["clusterList"]["list"],
        json!([CLUSTER]),
        "CLUSTER_LIST at FRR: {p}"
    );
    let at_frr = f.wait_route(FROM_BIRD, ROUTE);
    assert_eq!(
        at_frr.next_hop,
        Some(bird_a),
        "next hop unchanged by the reflector: {at_frr}"
    );
    assert!(
        at_frr.as_path.is_empty(),
        "iBGP reflection adds no AS: {at_frr}"
    );

    // FRR's route reaches BIRD with the same.
    let mut text = String::new();
    let ok = wait_until(ROUTE, || {
        text = bird_route_text(&b, FROM_FRR);
        !text.is_empty()
    });
    assert!(
        ok,
        "BIRD never got FRR's {FROM_FRR} reflected; BIRD's table:\n{}",
        describe(&b.routes(Family::Ipv4Unicast))
    );
    assert_eq!(
        bird_attr(&text, "BGP.originator_id").as_deref(),
        Some(frr_a.to_string().as_str()),
        "{text}"
    );
    assert_eq!(
        bird_attr(&text, "BGP.cluster_list").as_deref(),
        Some(CLUSTER),
        "{text}"
    );

    // Loop drops: ExaBGP's routes carrying our cluster id or our router id
    // as ORIGINATOR_ID are received but not eligible; its plain route is,
    // and is reflected to the clients (non-client to client).
    wait_loc_rib(&d, EXA_CONTROL, "ExaBGP's control route");
    for p in [EXA_CLUSTER_LOOP, EXA_ORIGINATOR_LOOP] {
        wait_adj(
            &d,
            exa_a,
            AdjRib::InPre,
            p,
            true,
            "ExaBGP's looped route, as received",
        );
        assert!(
            in_loc_rib(&d, p).is_none(),
            "looped route {p} is in the Loc-RIB: {:?}",
            in_loc_rib(&d, p)
        );
    }
    let control = f.wait_route(EXA_CONTROL, ROUTE);
    assert_eq!(control.next_hop, Some(exa_a), "{control}");
    for p in [EXA_CLUSTER_LOOP, EXA_ORIGINATOR_LOOP] {
        assert!(f.route(p).is_none(), "FRR got the looped route {p}");
    }
    // ExaBGP (a non-client) gets the clients' routes, not the loops back.
    let mut got = Vec::new();
    let ok = wait_until(ROUTE, || {
        got = exa.try_routes(Family::Ipv4Unicast).unwrap_or_default();
        [FROM_BIRD, FROM_FRR]
            .iter()
            .all(|p| got.iter().any(|r| r.prefix == *p))
    });
    assert!(
        ok,
        "ExaBGP (non-client) did not get both clients' routes:\n{}",
        describe(&got)
    );

    // Client-to-client reflection off: BIRD's route is withdrawn from FRR;
    // the non-client's route still reaches FRR, and ExaBGP still has BIRD's.
    d.gnmi_update(
        &format!("{BGP}/global/config"),
        json!({"ocbgp:client-to-client-reflection": false}),
    );
    f.wait_no_route(FROM_BIRD, ROUTE);
    b.wait_no_route(FROM_FRR, ROUTE);
    assert!(
        f.route(EXA_CONTROL).is_some(),
        "the non-client's route left FRR too"
    );
    let exa_now = exa.try_routes(Family::Ipv4Unicast).unwrap_or_default();
    assert!(
        exa_now.iter().any(|r| r.prefix == FROM_BIRD),
        "ExaBGP lost BIRD's route:\n{}",
        describe(&exa_now)
    );
    // And back on.
    d.gnmi_update(
        &format!("{BGP}/global/config"),
        json!({"ocbgp:client-to-client-reflection": true}),
    );
    f.wait_route(FROM_BIRD, ROUTE);
    d.process().assert_running();
}

// ---------------------------------------------------------------------
// Prefix limit
// ---------------------------------------------------------------------

const LIMITED: [&str; 3] = ["10.90.1.0/24", "10.90.2.0/24", "10.90.3.0/24"];
/// `ocbgp:prefix-limit-restart-timer` of the neighbor, seconds.
const RESTART: u64 = 8;

/// The NOTIFICATIONs gobgpd logged receiving, as its JSON log events
/// (`{"msg":"received notification","Code":6,"Subcode":1,"Data":"<base64>",…}`).
fn gobgp_notifications(g: &Gobgp) -> Vec<Value> {
    g.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(|e| e["msg"] == "received notification")
        .collect()
}

/// Whether a notification event is Cease (6) / Maximum Number of Prefixes
/// Reached (1).
fn is_max_prefix_cease(e: &Value) -> bool {
    e["Code"] == 6 && e["Subcode"] == 1
}

fn max_prefix_ceases(g: &Gobgp) -> Vec<Value> {
    gobgp_notifications(g)
        .into_iter()
        .filter(is_max_prefix_cease)
        .collect()
}

fn limit_exceeded(d: &Ocbgpd, peer: IpAddr) -> Option<bool> {
    let path = format!(
        "{}/ipv4-unicast/prefix-limit/state/prefix-limit-exceeded",
        ipv4_afi_path(peer)
    );
    d.try_gnmi_leaf(&path, "prefix-limit-exceeded")
        .ok()
        .flatten()
        .and_then(|v| v.as_bool())
}

/// Waits until gobgpd has logged more than `seen` max-prefix Ceases and
/// returns the new count.
fn wait_cease(g: &Gobgp, seen: usize, what: &str) -> usize {
    let mut n = 0;
    let ok = wait_until(Duration::from_secs(RESTART + 25), || {
        n = max_prefix_ceases(g).len();
        n > seen
    });
    if !ok {
        g.fail(&format!(
            "{what}: gobgpd got no (new) Cease/Maximum Number of Prefixes Reached; notifications it logged:\n{:?}",
            gobgp_notifications(g)
        ));
    }
    n
}

#[test]
fn prefix_limit_tears_down_gobgpd() {
    let lab = Lab::new("rp_limit");
    let (oc, gh) = (lab.host("oc"), lab.host("g"));
    let v4 = &[Family::Ipv4Unicast];
    let ga = gh.ipv4();
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc.ipv4()).neighbor(Neighbor::new(ga, 65001).families(v4)),
        )
        .no_netconf()
        .bgp_extra(
            &[
                "neighbors",
                "neighbor",
                "0",
                "afi-safis",
                "afi-safi",
                "0",
                "ipv4-unicast",
            ],
            json!({"prefix-limit": {"config": {"max-prefixes": 2}}}),
        )
        .bgp_extra(
            &[
                "neighbors",
                "neighbor",
                "0",
                "config",
                "ocbgp:prefix-limit-restart-timer",
            ],
            json!(RESTART),
        ),
    );
    let mut cfg = BgpConfig::new(65001, ga).neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4));
    for p in LIMITED {
        cfg = cfg.route(Originated::new(p));
    }
    let g = Gobgp::start(&gh, &cfg);

    // Three prefixes against a limit of two: Cease/1 to gobgpd.
    let n1 = wait_cease(&g, 0, "3 prefixes, limit 2");
    let t_down = Instant::now();
    let cease = max_prefix_ceases(&g).remove(0);
    eprintln!("gobgpd: {cease}");
    // RFC 4486: data AFI (2 octets), SAFI (1), the limit (4): 0 1 1 0 0 0 2,
    // base64 in gobgpd's JSON log.
    assert_eq!(
        cease["Data"], "AAEBAAAAAg==",
        "NOTIFICATION data is not AFI 1 / SAFI 1 / limit 2: {cease}"
    );
    let mut flag = None;
    assert!(
        wait_until(ROUTE, || {
            flag = limit_exceeded(&d, ga);
            flag == Some(true)
        }),
        "prefix-limit-exceeded is {flag:?}, expected true"
    );
    assert!(
        !d.established(ga),
        "ocbgpd still has the session up after the limit"
    );
    for p in LIMITED {
        assert!(
            in_loc_rib(&d, p).is_none(),
            "{p} stayed in the Loc-RIB after the teardown"
        );
    }
    // Down (Idle, no reconnect, gobgpd's attempts refused) for the restart
    // timer: nothing established in the first half of it.
    let half = Duration::from_secs(RESTART / 2).saturating_sub(t_down.elapsed());
    assert!(
        !wait_until(half, || d.established(ga) || g.established(oc.ipv4())),
        "the session came back before the restart timer ({RESTART} s) ran out"
    );
    // Then it comes back, and hits the limit again.
    let n2 = wait_cease(&g, n1, "after the restart timer");
    let between = t_down.elapsed();
    assert!(
        between >= Duration::from_secs(RESTART - 1),
        "the session came back {between:?} after the teardown, before the restart timer of {RESTART} s"
    );
    eprintln!("prefix limit: second teardown {between:?} after the first");

    // gobgpd withdraws one prefix while the session is down: after the
    // timer the session comes back with 2 prefixes and stays up.
    g.delete_route(LIMITED[2]);
    d.wait_established(ga, Duration::from_secs(RESTART + 25));
    for p in &LIMITED[..2] {
        wait_loc_rib(&d, p, "two prefixes, at the limit");
    }
    assert!(
        wait_until(ROUTE, || limit_exceeded(&d, ga) == Some(false)),
        "prefix-limit-exceeded not cleared once the session is back: {:?}",
        limit_exceeded(&d, ga)
    );
    let transitions_up = transitions(&d, ga);
    assert!(
        !wait_until(Duration::from_secs(3), || !d.established(ga)),
        "the session at the limit (2 of 2) went down"
    );
    assert_eq!(max_prefix_ceases(&g).len(), n2);

    // prevent-teardown: a third prefix only sets the flag (and a log line).
    let limit_path = format!("{}/ipv4-unicast/prefix-limit/config", ipv4_afi_path(ga));
    d.gnmi_update(&limit_path, json!({"prevent-teardown": true}));
    d.wait_established(ga, UP);
    let after_set = transitions(&d, ga);
    g.add_route(&Originated::new(LIMITED[2]));
    let mut flag = None;
    assert!(
        wait_until(ROUTE, || {
            flag = limit_exceeded(&d, ga);
            flag == Some(true)
        }),
        "prevent-teardown: prefix-limit-exceeded is {flag:?} with 3 prefixes, expected true"
    );
    assert!(
        !wait_until(Duration::from_secs(3), || !d.established(ga)),
        "prevent-teardown: the session went down"
    );
    assert_eq!(
        transitions(&d, ga),
        after_set,
        "prevent-teardown: the session was reset"
    );
    assert_eq!(
        max_prefix_ceases(&g).len(),
        n2,
        "prevent-teardown: gobgpd got a Cease"
    );
    eprintln!("prefix limit: transitions at the limit {transitions_up}, after prevent-teardown {after_set}");

    // prefix-limit-received counts before import policy: with every route
    // rejected by import policy (none accepted, so prefix-limit cannot
    // fire, and it only warns now) and 3 received, a received limit of 2
    // closes the session.
    let reject_all = json!({"name": "REJECT-ALL", "config": {"name": "REJECT-ALL"},
        "statements": {"statement": [{"name": "10", "config": {"name": "10"},
            "actions": {"config": {"policy-result": "REJECT_ROUTE"}}}]}});
    d.try_gnmi_set(
        &[],
        &[],
        &[
            (
                "/routing-policy/policy-definitions".into(),
                json!({"policy-definition": [reject_all]}),
            ),
            (
                format!("{}/apply-policy/config", neighbor_path(ga)),
                json!({"import-policy": ["REJECT-ALL"], "default-import-policy": "REJECT_ROUTE"}),
            ),
        ],
    )
    .unwrap_or_else(|e| d.fail(&e));
    for p in LIMITED {
        wait_no_loc_rib(&d, p, "import policy rejecting everything");
    }
    assert!(
        d.established(ga),
        "the import policy change took the session down"
    );
    assert_eq!(
        max_prefix_ceases(&g).len(),
        n2,
        "a Cease before prefix-limit-received was set"
    );
    d.gnmi_update(
        &format!(
            "{}/ipv4-unicast/prefix-limit-received/config",
            ipv4_afi_path(ga)
        ),
        json!({"max-prefixes": 2}),
    );
    wait_cease(
        &g,
        n2,
        "prefix-limit-received 2 with 3 received, 0 accepted",
    );
    let cease = max_prefix_ceases(&g).pop().expect("a Cease");
    assert_eq!(
        cease["Data"], "AAEBAAAAAg==",
        "NOTIFICATION data is not AFI 1 / SAFI 1 / limit 2: {cease}"
    );
    let path = format!(
        "{}/ipv4-unicast/prefix-limit-received/state/prefix-limit-exceeded",
        ipv4_afi_path(ga)
    );
    let mut flag = None;
    assert!(
        wait_until(ROUTE, || {
            flag = d
                .try_gnmi_leaf(&path, "prefix-limit-exceeded")
                .ok()
                .flatten();
            flag == Some(json!(true))
        }),
        "prefix-limit-received: prefix-limit-exceeded is {flag:?}, expected true"
    );
    d.process().assert_running();
}

// ---------------------------------------------------------------------
// remove-private-as, replace-peer-as
// ---------------------------------------------------------------------

const BIRD_AS: u32 = 64499;
/// At ocbgpd: [65001 65010 64496 65020] (private, private, public, private).
const PRIVATE_PATH: &str = "10.70.1.0/24";
/// At ocbgpd: [65001 64499 64496]: BIRD's own AS inside.
const PEER_AS_PATH: &str = "10.70.2.0/24";

/// Waits until BIRD's path to `prefix` has AS_PATH `want` (None: no route).
fn wait_bird_path(b: &Bird, prefix: &str, want: Option<&[u32]>, what: &str) {
    b.wait_as_path(prefix, want, ROUTE, what);
}

/// gobgpd (AS 65001) → ocbgpd → BIRD, both sessions up.
struct GobgpOcBird {
    d: Ocbgpd,
    g: Gobgp,
    b: Bird,
    /// BIRD's address.
    ba: IpAddr,
}

/// Starts [`GobgpOcBird`] in `lab`; `tune` adjusts ocbgpd's configuration.
fn gobgp_oc_bird(lab: &Lab, tune: impl FnOnce(OcbgpdConfig) -> OcbgpdConfig) -> GobgpOcBird {
    let (oc, gh, bh) = (lab.host("oc"), lab.host("g"), lab.host("bird"));
    let v4 = &[Family::Ipv4Unicast];
    let (ga, ba) = (gh.ipv4(), bh.ipv4());
    let config = OcbgpdConfig::new(
        BgpConfig::new(OC_AS, oc.ipv4())
            .neighbor(Neighbor::new(ga, 65001).families(v4))
            .neighbor(Neighbor::new(ba, BIRD_AS).families(v4)),
    )
    .no_netconf();
    let d = Ocbgpd::start(&oc, &tune(config));
    let g = Gobgp::start(
        &gh,
        &BgpConfig::new(65001, ga).neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4)),
    );
    let b = Bird::start(
        &bh,
        &BgpConfig::new(BIRD_AS, ba).neighbor(Neighbor::new(oc.ipv4(), OC_AS).families(v4)),
    );
    d.wait_established(ga, UP);
    d.wait_established(ba, UP);
    GobgpOcBird { d, g, b, ba }
}

#[test]
fn replace_peer_as_and_remove_private_as_at_bird() {
    let lab = Lab::new("rp_aspath");
    let GobgpOcBird { d, g, b, ba } = gobgp_oc_bird(&lab, |c| c);
    g.cli(&[
        "global",
        "rib",
        "add",
        PRIVATE_PATH,
        "origin",
        "igp",
        "aspath",
        "65010 64496 65020",
        "-a",
        "ipv4",
    ]);
    g.cli(&[
        "global",
        "rib",
        "add",
        PEER_AS_PATH,
        "origin",
        "igp",
        "aspath",
        "64499 64496",
        "-a",
        "ipv4",
    ]);
    let r = wait_loc_rib(&d, PRIVATE_PATH, "gobgpd's route with private ASes");
    assert_eq!(r.as_path, vec![65001, 65010, 64496, 65020], "{r}");
    let r = wait_loc_rib(&d, PEER_AS_PATH, "gobgpd's route with BIRD's AS");
    assert_eq!(r.as_path, vec![65001, BIRD_AS, 64496], "{r}");

    // Nothing configured: BIRD gets the path as is (ours prepended), and
    // drops the one with its own AS.
    wait_bird_path(
        &b,
        PRIVATE_PATH,
        Some(&[OC_AS, 65001, 65010, 64496, 65020]),
        "no option",
    );
    wait_adj(&d, ba, AdjRib::OutPost, PEER_AS_PATH, true, "sent to BIRD");
    assert!(
        b.route(PEER_AS_PATH).is_none(),
        "BIRD accepted a path with its own AS"
    );

    let config = format!("{}/config", neighbor_path(ba));
    let remove_private = |option: &str| {
        d.gnmi_update(
            &config,
            json!({"remove-private-as": format!("{BGP_TYPES}:{option}")}),
        );
    };
    // REMOVE_ALL: every private AS of the received path goes; ours is
    // prepended after.
    remove_private("PRIVATE_AS_REMOVE_ALL");
    wait_bird_path(
        &b,
        PRIVATE_PATH,
        Some(&[OC_AS, 64496]),
        "PRIVATE_AS_REMOVE_ALL",
    );
    // REPLACE_ALL: each private AS becomes ours.
    remove_private("PRIVATE_AS_REPLACE_ALL");
    wait_bird_path(
        &b,
        PRIVATE_PATH,
        Some(&[OC_AS, OC_AS, OC_AS, 64496, OC_AS]),
        "PRIVATE_AS_REPLACE_ALL",
    );
    // Unset: as received again.
    d.try_gnmi_set(&[format!("{config}/remove-private-as")], &[], &[])
        .unwrap_or_else(|e| d.fail(&e));
    wait_bird_path(
        &b,
        PRIVATE_PATH,
        Some(&[OC_AS, 65001, 65010, 64496, 65020]),
        "remove-private-as deleted",
    );

    // replace-peer-as (AS override): BIRD's AS in the path becomes ours,
    // and BIRD accepts the route.
    let options = format!("{}/as-path-options/config", neighbor_path(ba));
    d.gnmi_update(&options, json!({"replace-peer-as": true}));
    wait_bird_path(
        &b,
        PEER_AS_PATH,
        Some(&[OC_AS, 65001, OC_AS, 64496]),
        "replace-peer-as",
    );
    wait_bird_path(
        &b,
        PRIVATE_PATH,
        Some(&[OC_AS, 65001, 65010, 64496, 65020]),
        "replace-peer-as, no peer AS in path",
    );
    d.gnmi_update(&options, json!({"replace-peer-as": false}));
    wait_bird_path(&b, PEER_AS_PATH, None, "replace-peer-as false");
    d.process().assert_running();
}

// ---------------------------------------------------------------------
// send-community-type
// ---------------------------------------------------------------------

const TAGGED: &str = "10.80.0.0/24";

/// The community kinds BIRD holds on `prefix`, or None without a route.
fn bird_kinds(b: &Bird, prefix: &str) -> Option<BTreeSet<&'static str>> {
    let text = bird_route_text(b, prefix);
    if text.is_empty() {
        return None;
    }
    let mut kinds = BTreeSet::new();
    for (attr, kind) in [
        ("BGP.community", "STANDARD"),
        ("BGP.ext_community", "EXTENDED"),
        ("BGP.large_community", "LARGE"),
    ] {
        if bird_attr(&text, attr).is_some_and(|v| !v.is_empty()) {
            kinds.insert(kind);
        }
    }
    Some(kinds)
}

#[test]
fn send_community_type_at_bird() {
    let lab = Lab::new("rp_sendcomm");
    let GobgpOcBird { d, g, b, ba } = gobgp_oc_bird(&lab, OcbgpdConfig::no_send_community);
    g.cli(&[
        "global",
        "rib",
        "add",
        TAGGED,
        "origin",
        "igp",
        "community",
        "65001:1",
        "rt",
        "65001:100",
        "large-community",
        "65001:1:1",
        "-a",
        "ipv4",
    ]);
    let r = wait_loc_rib(&d, TAGGED, "gobgpd's tagged route");
    assert_eq!(
        r.communities,
        vec!["65001:1".to_string()],
        "ocbgpd received the communities: {r}"
    );

    let neighbor = neighbor_path(ba);
    let afi = ipv4_afi_path(ba);
    // Sets the leaf-list at `base` (neighbor or address family) by a Set
    // replace of its `config` container (the leaf-list alone cannot be
    // replaced or deleted: see the report of issue #13); no kinds: none
    // configured there.
    let set_types = |base: &str, kinds: &[&str]| -> Result<(), String> {
        let mut config = if base == afi {
            json!({"afi-safi-name": format!("{BGP_TYPES}:IPV4_UNICAST"), "enabled": true})
        } else {
            json!({"neighbor-address": ba.to_string(), "peer-as": BIRD_AS})
        };
        if !kinds.is_empty() {
            config["send-community-type"] = json!(kinds);
        }
        d.try_gnmi_set(&[], &[(format!("{base}/config"), config)], &[])
    };
    let expect = |want: &[&str], what: &str| {
        let want: BTreeSet<&str> = want.iter().copied().collect();
        let mut got = None;
        let ok = wait_until(ROUTE, || {
            got = bird_kinds(&b, TAGGED);
            got.as_ref() == Some(&want)
        });
        if !ok {
            let config = |base: &str| {
                d.try_gnmi_get(&format!("{base}/config/send-community-type"))
                    .map(|v| serde_json::to_string(&v).unwrap_or_default())
                    .unwrap_or_else(|e| e)
            };
            d.fail(&format!(
                "{what}: BIRD has community kinds {got:?}, expected {want:?}; send-community-type \
                 neighbor {}, address family {}; BIRD's route:\n{}",
                config(&neighbor),
                config(&afi),
                bird_route_text(&b, TAGGED)
            ));
        }
    };

    // OpenConfig's default: no send-community-type, no communities at all.
    expect(&[], "default");
    set_types(&neighbor, &["STANDARD"]).unwrap_or_else(|e| d.fail(&e));
    expect(&["STANDARD"], "[STANDARD]");
    let text = bird_route_text(&b, TAGGED);
    assert_eq!(
        bird_attr(&text, "BGP.community").as_deref(),
        Some("(65001,1)"),
        "{text}"
    );
    set_types(&neighbor, &["LARGE"]).unwrap_or_else(|e| d.fail(&e));
    expect(&["LARGE"], "[LARGE]");
    set_types(&neighbor, &["STANDARD", "EXTENDED", "LARGE"]).unwrap_or_else(|e| d.fail(&e));
    expect(
        &["STANDARD", "EXTENDED", "LARGE"],
        "[STANDARD, EXTENDED, LARGE]",
    );
    let text = bird_route_text(&b, TAGGED);
    assert_eq!(
        bird_attr(&text, "BGP.ext_community").as_deref(),
        Some("(rt, 65001, 100)"),
        "{text}"
    );
    assert_eq!(
        bird_attr(&text, "BGP.large_community").as_deref(),
        Some("(65001, 1, 1)"),
        "{text}"
    );
    // The address family's setting wins over the neighbor's.
    set_types(&afi, &["EXTENDED"]).unwrap_or_else(|e| d.fail(&e));
    expect(
        &["EXTENDED"],
        "address family [EXTENDED] under neighbor [all three]",
    );
    set_types(&afi, &[]).unwrap_or_else(|e| d.fail(&e));
    expect(
        &["STANDARD", "EXTENDED", "LARGE"],
        "address-family setting deleted",
    );
    // NONE with another kind is refused, and changes nothing.
    let refused = set_types(&neighbor, &["NONE", "STANDARD"]);
    assert!(
        refused.is_err(),
        "send-community-type [NONE, STANDARD] was accepted"
    );
    eprintln!("[NONE, STANDARD] refused: {}", refused.unwrap_err());
    let now = d
        .try_gnmi_get(&format!("{neighbor}/config/send-community-type"))
        .map(|v| serde_json::to_string(&v).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        now.contains("LARGE") && !now.contains("NONE"),
        "the refused Set changed the config: {now}"
    );
    expect(&["STANDARD", "EXTENDED", "LARGE"], "after the refused Set");
    // NONE alone: none.
    set_types(&neighbor, &["NONE"]).unwrap_or_else(|e| d.fail(&e));
    expect(&[], "[NONE]");
    d.process().assert_running();
}

// ---------------------------------------------------------------------
// Enhanced route refresh
// ---------------------------------------------------------------------

const OURS: &str = "198.51.100.0/24";
const FRRS: &str = "10.95.0.0/24";

#[test]
fn enhanced_route_refresh_with_frr() {
    let lab = Lab::new("rp_err");
    let (oc, fh) = (lab.host("oc"), lab.host("frr"));
    let v4 = &[Family::Ipv4Unicast];
    let (oc_a, fa) = (oc.ipv4(), fh.ipv4());
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc_a)
                .neighbor(Neighbor::new(fa, 65002).families(v4))
                .route(Originated::new(OURS)),
        )
        .no_netconf(),
    );
    let f = Frr::start(
        &fh,
        &BgpConfig::new(65002, fa)
            .neighbor(Neighbor::new(oc_a, OC_AS).families(v4))
            .route(Originated::new(FRRS)),
    );
    // BoRR/EoRR are logged at debug level (`debug bgp neighbor-events`).
    f.configure(&["log stdout debugging"]);
    d.wait_established(fa, UP);
    f.wait_route(OURS, ROUTE);
    wait_loc_rib(&d, FRRS, "FRR's route");

    // Both ends advertise the capability.
    let text = f.vtysh(&[&format!("show bgp neighbors {oc_a} json")]);
    let n: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| f.fail(&format!("vtysh JSON: {e}")));
    let caps = &n[oc_a.to_string()]["neighborCapabilities"];
    assert_eq!(
        caps["enhancedRouteRefresh"], "advertisedAndReceived",
        "FRR's view of the capabilities: {caps}"
    );
    let before = transitions(&d, fa);

    // FRR asks for a refresh: ocbgpd answers BoRR, the routes, EoRR. FRR
    // marks our routes stale at BoRR and purges those not re-sent by EoRR,
    // so our route still being there after EoRR shows it was re-sent.
    // FRR logs both with `debug bgp neighbor-events` (the lab's bgpd.conf).
    let count = |needle: &str| {
        f.bgpd()
            .log()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    };
    let (borr, eorr) = ("rcvd route-refresh (BoRR)", "rcvd route-refresh (EoRR)");
    let (borr_before, eorr_before) = (count(borr), count(eorr));
    f.vtysh(&[&format!("clear bgp ipv4 unicast {oc_a} soft in")]);
    let ok = wait_until(ROUTE, || {
        count(borr) > borr_before && count(eorr) > eorr_before
    });
    if !ok {
        f.fail(&format!(
            "FRR logged no {borr:?} and {eorr:?} from ocbgpd after `clear bgp ... soft in`"
        ));
    }
    let bad: Vec<String> = f
        .bgpd()
        .log()
        .lines()
        .filter(|l| l.contains("whereas") || l.contains("timer expired"))
        .map(str::to_string)
        .collect();
    assert!(
        bad.is_empty(),
        "FRR found the BoRR/EoRR sequence wrong:\n{}",
        bad.join("\n")
    );
    let r = f.wait_route(OURS, ROUTE);
    assert_eq!(r.as_path, vec![OC_AS], "{r}");
    assert!(
        !wait_until(Duration::from_secs(2), || f.route(OURS).is_none()),
        "FRR purged our route after the EoRR: it was not re-sent in the refresh"
    );
    assert_eq!(transitions(&d, fa), before, "the refresh reset the session");
    assert!(in_loc_rib(&d, FRRS).is_some(), "ocbgpd lost FRR's route");
    d.process().assert_running();
}
