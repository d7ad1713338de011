//! The engine as a library against gobgpd: `engine/examples/embed.rs`,
//! GoBGP's embedding example on ocbgp's `server::BgpServer`, runs in lab
//! host r1 (AS 65003, not listening) and peers with gobgpd in r2 (AS
//! 65002). gobgpd must receive the example's IPv4 route with its AS path
//! and its IPv6 route with its communities; the example's peer watch must
//! report the session Established, its listing show its own routes, and
//! its route watch show gobgpd's route coming and going.
//!
//! Needs root and gobgpd, and the example built
//! (`cargo build --workspace --bins --examples`).

use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::{example_path, wait_until};

/// Session establishment bound.
const UP: Duration = Duration::from_secs(30);
/// Route propagation bound.
const ROUTE: Duration = Duration::from_secs(15);

/// gobgpd's route.
const GOBGP_ROUTE: &str = "198.51.100.0/24";

#[test]
fn embedded_engine_peers_with_gobgpd() {
    let lab = Lab::new("library");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let gobgp = Gobgp::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(
                Neighbor::new(r1.ipv4(), 65003)
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]),
            )
            .route(
                Originated::new(GOBGP_ROUTE)
                    .next_hop(r2.ipv4())
                    .community("65002:7"),
            ),
    );
    let example = example_path("embed");
    let (r1_v4, r1_v6, r2_v4) = (
        r1.ipv4().to_string(),
        r1.ipv6().to_string(),
        r2.ipv4().to_string(),
    );
    let embed = r1.spawn(
        "embed",
        example.to_str().expect("UTF-8 path"),
        &[
            "--router-id",
            &r1_v4,
            "--neighbor",
            &r2_v4,
            "--next-hop",
            &r1_v4,
            "--next-hop6",
            &r1_v6,
            "--seconds",
            "300",
        ],
    );
    let shows = |line: &str, limit: Duration| {
        let seen = wait_until(limit, || embed.log().lines().any(|l| l == line));
        assert!(
            seen,
            "the example did not print {line:?}; its output:\n{}",
            embed.log()
        );
    };

    gobgp.wait_established(r1.ipv4(), UP);
    // The IPv4 route with its AS path behind the example's AS.
    let v4 = gobgp.wait_route("10.0.0.0/24", ROUTE);
    assert_eq!(v4.as_path, [65003, 6762, 39919, 65000, 35753, 65000]);
    assert_eq!(v4.next_hop, Some(r1.ipv4()));
    assert_eq!(v4.origin, Some(Origin::Igp));
    assert_eq!(v4.from, Some(r1.ipv4()));
    // The IPv6 route with its communities and next hop.
    let v6 = gobgp.wait_route("2001:db8:1::/64", ROUTE);
    assert_eq!(v6.communities, ["0:100", "0:200"]);
    assert_eq!(v6.next_hop, Some(r1.ipv6()));
    assert_eq!(v6.as_path, [65003]);
    assert_eq!(v6.origin, Some(Origin::Igp));

    // The peer watch (MonitorPeer) saw the session come up, and the
    // listing then (ListPath) showed the example's own routes.
    shows(&format!("peer {r2_v4} OPENCONFIRM -> ESTABLISHED"), UP);
    shows(
        &format!(
            "list ipv4-unicast 10.0.0.0/24 from local best next-hop {r1_v4} origin Igp \
             as-path [6762 39919 65000 35753 65000]"
        ),
        ROUTE,
    );
    shows(
        &format!(
            "list ipv6-unicast 2001:db8:1::/64 from local best next-hop {r1_v6} origin Igp \
             as-path [] communities 0:100 0:200"
        ),
        ROUTE,
    );
    // The route watch: gobgpd's route arrives, then goes.
    shows(
        &format!(
            "route + {GOBGP_ROUTE} from {r2_v4} best next-hop {r2_v4} origin Igp \
             as-path [65002] communities 65002:7"
        ),
        ROUTE,
    );
    gobgp.delete_route(GOBGP_ROUTE);
    shows(&format!("route - {GOBGP_ROUTE} from {r2_v4}"), ROUTE);
    embed.assert_running();
}
