//! ocbgpd as a route server (RFC 7947) for three gobgpd clients, each in
//! its own AS, in network namespaces on one lab segment:
//!
//! - a route from client A reaches B and C transparently: AS_PATH is A's AS
//!   alone (ocbgpd's is not prepended), NEXT_HOP is A's address, MED and
//!   communities are A's;
//! - path hiding (RFC 7947 2.3.2.1): A and B both announce one prefix;
//!   whichever of the two ocbgpd picks as best, its own client still gets
//!   the other one's path (a plain eBGP speaker would send it nothing);
//! - a withdrawal by A reaches B and C, and A then gets B's path.

use std::net::IpAddr;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::json;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

const RS_AS: u32 = 65000;
const A_AS: u32 = 65101;
const B_AS: u32 = 65102;
const C_AS: u32 = 65103;

/// A's alone.
const ONLY_A: &str = "203.0.113.0/24";
/// Announced by A and by B.
const BOTH: &str = "198.51.100.0/24";

/// The paths `client` was sent by `rs` for `prefix` (its Adj-RIB-In).
fn from_rs(client: &Gobgp, rs: IpAddr, prefix: &str) -> Vec<Route> {
    client
        .try_adj_in(rs, Family::Ipv4Unicast)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.prefix == prefix)
        .collect()
}

/// Waits until what `client` has from `rs` for `prefix` satisfies `check`.
fn wait_from_rs(
    client: &Gobgp,
    rs: IpAddr,
    prefix: &str,
    what: &str,
    check: impl Fn(&[Route]) -> bool,
) {
    let ok = wait_until(ROUTE, || check(&from_rs(client, rs, prefix)));
    assert!(
        ok,
        "{}: {what}; it has from the route server: {:?}",
        client.describe(),
        from_rs(client, rs, prefix)
    );
}

#[test]
fn route_server_clients_get_transparent_routes_and_hidden_paths() {
    let lab = Lab::new("rs");
    let (rs_host, a_host, b_host, c_host) =
        (lab.host("rs"), lab.host("a"), lab.host("b"), lab.host("c"));
    let rs = rs_host.ipv4();
    let client = |host: &Host, asn: u32| {
        BgpConfig::new(asn, host.ipv4())
            .neighbor(Neighbor::new(rs, RS_AS).families(&[Family::Ipv4Unicast]))
    };
    let a_cfg = client(&a_host, A_AS)
        .route(Originated::new(ONLY_A).med(7).community("65101:7"))
        .route(Originated::new(BOTH));
    let b_cfg = client(&b_host, B_AS).route(Originated::new(BOTH));
    let c_cfg = client(&c_host, C_AS);
    let a = Gobgp::start(&a_host, &a_cfg);
    let b = Gobgp::start(&b_host, &b_cfg);
    let c = Gobgp::start(&c_host, &c_cfg);

    let mut bgp = BgpConfig::new(RS_AS, rs);
    for (host, asn) in [(&a_host, A_AS), (&b_host, B_AS), (&c_host, C_AS)] {
        bgp = bgp.neighbor(Neighbor::new(host.ipv4(), asn).families(&[Family::Ipv4Unicast]));
    }
    let mut config = OcbgpdConfig::new(bgp).no_netconf();
    for i in ["0", "1", "2"] {
        config = config.bgp_extra(
            &["neighbors", "neighbor", i, "ocbgp:route-server"],
            json!({"config": {"route-server-client": true}}),
        );
    }
    let oc = Ocbgpd::start(&rs_host, &config);
    for peer in [&a, &b, &c] {
        peer.wait_established(rs, UP);
    }

    // Transparency: C and B get A's route as A sent it.
    for peer in [&b, &c] {
        let r = peer.wait_route(ONLY_A, ROUTE);
        assert_eq!(
            r.as_path,
            vec![A_AS],
            "{}: AS_PATH without the route server's AS: {r}",
            peer.describe()
        );
        assert_eq!(
            r.next_hop,
            Some(a_host.ipv4()),
            "{}: NEXT_HOP unchanged: {r}",
            peer.describe()
        );
        assert_eq!(r.med, Some(7), "{}: MED passes: {r}", peer.describe());
        assert_eq!(
            r.communities,
            vec!["65101:7".to_string()],
            "{}: communities pass: {r}",
            peer.describe()
        );
    }
    // The role shows in ocbgpd's state.
    let path = format!(
        "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp\
         /neighbors/neighbor[neighbor-address={}]/ocbgp:route-server/state",
        a_host.ipv4()
    );
    let state = serde_json::to_string(&oc.try_gnmi_get(&path).expect("gNMI Get")).unwrap();
    assert!(
        state.contains(r#"route-server-client":true"#),
        "{path}: {state}"
    );
    // Nothing of A's own goes back to A.
    assert!(
        from_rs(&a, rs, ONLY_A).is_empty(),
        "A was sent its own route"
    );

    // Path hiding: A and B each get the other's path for BOTH, though only
    // one of the two is ocbgpd's best.
    wait_from_rs(&a, rs, BOTH, "B's path", |r| {
        r.len() == 1 && r[0].as_path == [B_AS] && r[0].next_hop == Some(b_host.ipv4())
    });
    wait_from_rs(&b, rs, BOTH, "A's path", |r| {
        r.len() == 1 && r[0].as_path == [A_AS] && r[0].next_hop == Some(a_host.ipv4())
    });
    wait_from_rs(&c, rs, BOTH, "one path", |r| {
        r.len() == 1 && (r[0].as_path == [A_AS] || r[0].as_path == [B_AS])
    });

    // A withdraws BOTH: B has nothing left from the route server, C and A
    // get B's path.
    a.delete_route(BOTH);
    wait_from_rs(&b, rs, BOTH, "no path", |r| r.is_empty());
    wait_from_rs(&c, rs, BOTH, "B's path", |r| {
        r.len() == 1 && r[0].as_path == [B_AS]
    });
    wait_from_rs(&a, rs, BOTH, "B's path", |r| {
        r.len() == 1 && r[0].as_path == [B_AS]
    });
    assert!(oc.process().running(), "ocbgpd exited");
}
