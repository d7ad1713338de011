//! TCP MD5 (RFC 2385) between ocbgpd and real peers in network namespaces:
//! matching passwords establish (gobgpd over IPv4, BIRD over IPv6) and
//! routes flow; a wrong password on the peer's side (FRR) or none at all
//! (BIRD over IPv4, while ocbgpd has one) never establishes, and ocbgpd and
//! its other sessions carry on.

use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);
/// How long a session with mismatching keys is watched not coming up.
const NEVER: Duration = Duration::from_secs(10);

#[test]
fn md5_matching_passwords_establish_and_mismatches_never_do() {
    let t0 = Instant::now();
    let lab = Lab::new("md5");
    let (oc, gob, bird, frr) = (
        lab.host("oc"),
        lab.host("gob"),
        lab.host("bird"),
        lab.host("frr"),
    );
    let v4 = [Family::Ipv4Unicast];
    let v6 = [Family::Ipv6Unicast];

    let g = Gobgp::start(
        &gob,
        &BgpConfig::new(65002, gob.ipv4())
            .neighbor(
                Neighbor::new(oc.ipv4(), 65001)
                    .families(&v4)
                    .password("gobgp-key"),
            )
            .route(
                Originated::new("203.0.113.0/24")
                    .next_hop(gob.ipv4())
                    .community("65002:1"),
            ),
    );
    let b = Bird::start(
        &bird,
        &BgpConfig::new(65003, bird.ipv4())
            .neighbor(
                Neighbor::new(oc.ipv6(), 65001)
                    .families(&v6)
                    .password("bird-key"),
            )
            // No password here, while ocbgpd has one for this neighbor.
            .neighbor(Neighbor::new(oc.ipv4(), 65001).families(&v4))
            .route(Originated::new("2001:db8:300::/48").community("65003:1")),
    );
    let f = Frr::start(
        &frr,
        &BgpConfig::new(65004, frr.ipv4())
            .neighbor(
                Neighbor::new(oc.ipv4(), 65001)
                    .families(&v4)
                    .password("not-the-key"),
            )
            .route(Originated::new("198.18.0.0/24")),
    );
    let d = Ocbgpd::start(
        &oc,
        &OcbgpdConfig::new(
            BgpConfig::new(65001, oc.ipv4())
                .neighbor(
                    Neighbor::new(gob.ipv4(), 65002)
                        .families(&v4)
                        .password("gobgp-key"),
                )
                .neighbor(
                    Neighbor::new(bird.ipv6(), 65003)
                        .families(&v6)
                        .password("bird-key"),
                )
                .neighbor(
                    Neighbor::new(bird.ipv4(), 65003)
                        .families(&v4)
                        .password("bird-v4-key"),
                )
                .neighbor(
                    Neighbor::new(frr.ipv4(), 65004)
                        .families(&v4)
                        .password("frr-key"),
                )
                .route(Originated::new("198.51.100.0/24").community("65001:1"))
                .route(Originated::new("2001:db8:100::/48").community("65001:2")),
        )
        .no_netconf(),
    );

    // Matching keys: up, and ocbgpd's routes arrive (routes the other way
    // are the business of the interop_<peer> tests).
    g.wait_established(oc.ipv4(), UP);
    b.wait_established(oc.ipv6(), UP);
    let at_gobgp = g.wait_route("198.51.100.0/24", ROUTE);
    assert_eq!(
        (at_gobgp.as_path.clone(), at_gobgp.next_hop),
        (vec![65001], Some(oc.ipv4())),
        "{at_gobgp}"
    );
    let at_bird = b.wait_route("2001:db8:100::/48", ROUTE);
    assert_eq!(
        (at_bird.as_path.clone(), at_bird.next_hop),
        (vec![65001], Some(oc.ipv6())),
        "{at_bird}"
    );
    for peer in [gob.ipv4(), bird.ipv6()] {
        assert!(
            !d.log_events_for("session established", Some(peer))
                .is_empty(),
            "ocbgpd logs no established session with {peer}"
        );
    }
    eprintln!("md5: matching sessions up after {:?}", t0.elapsed());

    // Mismatching keys: never established, on either side.
    let came_up = wait_until(NEVER, || {
        f.established(oc.ipv4())
            || b.established(oc.ipv4())
            || !d
                .log_events_for("session established", Some(frr.ipv4()))
                .is_empty()
            || !d
                .log_events_for("session established", Some(bird.ipv4()))
                .is_empty()
    });
    assert!(
        !came_up,
        "a session with mismatching TCP MD5 keys came up: FRR {:?}, BIRD over IPv4 {:?}\n--- ocbgpd log ---\n{}",
        f.try_session_state(oc.ipv4()),
        b.try_session_state(oc.ipv4()),
        d.log()
    );
    assert!(
        f.route("198.51.100.0/24").is_none(),
        "FRR got a route over a session that is not up"
    );
    if d.gnmi_get_available() {
        for (peer, up) in [
            (gob.ipv4(), true),
            (bird.ipv6(), true),
            (bird.ipv4(), false),
            (frr.ipv4(), false),
        ] {
            let state = d.session_state(peer);
            assert_eq!(
                state == SessionState::Established,
                up,
                "ocbgpd's gNMI session state for {peer}: {state:?}"
            );
        }
    }
    assert!(d.running(), "ocbgpd died");
    assert!(
        g.established(oc.ipv4()) && b.established(oc.ipv6()),
        "the matching sessions went down"
    );
    eprintln!("md5: done after {:?}", t0.elapsed());
}
