//! The lab harness proves itself against real peers: sessions come up
//! between gobgpd, BIRD, FRR and ExaBGP in network namespaces, routes cross
//! with their attributes, a cut link ends a session by hold-timer expiry,
//! labs leave nothing behind, and the ocbgpd config builder writes
//! configurations `ocbgpd --check` accepts.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn prefixed_netns(prefix: &str) -> Vec<String> {
    netns_list()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn two_gobgpd_exchange_ipv4_and_ipv6_routes_with_attributes() {
    let lab = Lab::new("gobgp_pair");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let a = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).description("r2"))
            .route(
                Originated::new("198.51.100.0/24")
                    .next_hop(r1.ipv4())
                    .origin(Origin::Egp)
                    .med(10)
                    .community("65000:1")
                    .community("no-export")
                    .large_community("65001:1:2"),
            )
            .route(
                Originated::new("2001:db8:100::/48")
                    .next_hop(r1.ipv6())
                    .med(20)
                    .community("65000:2"),
            ),
    );
    let b = Gobgp::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001))
            .route(Originated::new("203.0.113.0/24")),
    );
    b.wait_established(r1.ipv4(), UP);
    a.wait_established(r2.ipv4(), UP);

    let v4 = b.wait_route("198.51.100.0/24", ROUTE);
    assert_eq!(v4.next_hop, Some(r1.ipv4()), "{v4}");
    assert_eq!(v4.as_path, vec![65001], "{v4}");
    assert_eq!(v4.origin, Some(Origin::Egp), "{v4}");
    assert_eq!(v4.med, Some(10), "{v4}");
    assert_eq!(v4.communities, vec!["65000:1", "65535:65281"], "{v4}");
    assert_eq!(v4.large_communities, vec!["65001:1:2"], "{v4}");
    assert_eq!(v4.from, Some(r1.ipv4()), "{v4}");
    assert!(v4.best, "{v4}");

    let v6 = b.wait_route("2001:db8:100::/48", ROUTE);
    assert_eq!(v6.next_hop, Some(r1.ipv6()), "{v6}");
    assert_eq!(v6.as_path, vec![65001], "{v6}");
    assert_eq!(v6.origin, Some(Origin::Igp), "{v6}");
    assert_eq!(v6.med, Some(20), "{v6}");
    assert_eq!(v6.communities, vec!["65000:2"], "{v6}");

    // The other direction, the Adj-RIB-In view, and a withdrawal.
    let back = a.wait_route("203.0.113.0/24", ROUTE);
    assert_eq!(
        (back.as_path.clone(), back.next_hop),
        (vec![65002], Some(r2.ipv4())),
        "{back}"
    );
    let adj = b.adj_in(r1.ipv4(), Family::Ipv6Unicast);
    assert_eq!(adj.len(), 1, "{}", describe(&adj));
    a.delete_route("198.51.100.0/24");
    b.wait_no_route("198.51.100.0/24", ROUTE);
    assert!(b.route("2001:db8:100::/48").is_some());
}

#[test]
fn gobgpd_and_bird_exchange_routes() {
    let lab = Lab::new("gobgp_bird");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(
                Originated::new("198.51.100.0/24")
                    .med(10)
                    .community("65000:1"),
            ),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001))
            .route(
                Originated::new("203.0.113.0/24")
                    .next_hop("192.0.2.99")
                    .origin(Origin::Incomplete)
                    .med(30)
                    .community("65000:3")
                    .large_community("65002:3:4"),
            )
            .route(Originated::new("2001:db8:200::/48").med(40)),
    );
    b.wait_established(r1.ipv4(), UP);
    g.wait_established(r2.ipv4(), UP);

    let at_bird = b.wait_route("198.51.100.0/24", ROUTE);
    assert_eq!(
        (at_bird.med, at_bird.as_path.clone()),
        (Some(10), vec![65001]),
        "{at_bird}"
    );
    assert_eq!(at_bird.communities, vec!["65000:1"], "{at_bird}");
    assert_eq!(at_bird.next_hop, Some(r1.ipv4()), "{at_bird}");
    assert_eq!(at_bird.from, Some(r1.ipv4()), "{at_bird}");

    let at_gobgp = g.wait_route("203.0.113.0/24", ROUTE);
    assert_eq!(at_gobgp.next_hop, Some(ip("192.0.2.99")), "{at_gobgp}");
    assert_eq!(at_gobgp.origin, Some(Origin::Incomplete), "{at_gobgp}");
    assert_eq!(at_gobgp.med, Some(30), "{at_gobgp}");
    assert_eq!(at_gobgp.communities, vec!["65000:3"], "{at_gobgp}");
    assert_eq!(at_gobgp.large_communities, vec!["65002:3:4"], "{at_gobgp}");
    let v6 = g.wait_route("2001:db8:200::/48", ROUTE);
    assert_eq!((v6.med, v6.next_hop), (Some(40), Some(r2.ipv6())), "{v6}");
}

#[test]
fn gobgpd_and_frr_exchange_routes_over_ipv6() {
    let lab = Lab::new("gobgp_frr");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv6(), 65002))
            .route(
                Originated::new("198.51.100.0/24")
                    .next_hop(r1.ipv4())
                    .med(10),
            )
            .route(
                Originated::new("2001:db8:100::/48")
                    .next_hop(r1.ipv6())
                    .community("65000:2"),
            ),
    );
    let f = Frr::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv6(), 65001))
            .route(
                Originated::new("203.0.113.0/24")
                    .med(30)
                    .community("65000:3")
                    .origin(Origin::Egp),
            )
            .route(Originated::new("2001:db8:200::/48").large_community("65002:1:1")),
    );
    f.wait_established(r1.ipv6(), UP);
    g.wait_established(r2.ipv6(), UP);

    let at_frr = f.wait_route("2001:db8:100::/48", ROUTE);
    assert_eq!(
        (at_frr.next_hop, at_frr.as_path.clone()),
        (Some(r1.ipv6()), vec![65001]),
        "{at_frr}"
    );
    assert_eq!(at_frr.communities, vec!["65000:2"], "{at_frr}");
    assert_eq!(at_frr.from, Some(r1.ipv6()), "{at_frr}");
    let at_frr4 = f.wait_route("198.51.100.0/24", ROUTE);
    assert_eq!(
        (at_frr4.next_hop, at_frr4.med),
        (Some(r1.ipv4()), Some(10)),
        "{at_frr4}"
    );

    let at_gobgp = g.wait_route("203.0.113.0/24", ROUTE);
    assert_eq!(at_gobgp.next_hop, Some(r2.ipv4()), "{at_gobgp}");
    assert_eq!(
        (at_gobgp.med, at_gobgp.origin),
        (Some(30), Some(Origin::Egp)),
        "{at_gobgp}"
    );
    assert_eq!(at_gobgp.communities, vec!["65000:3"], "{at_gobgp}");
    let v6 = g.wait_route("2001:db8:200::/48", ROUTE);
    assert_eq!(
        (v6.next_hop, v6.as_path.clone()),
        (Some(r2.ipv6()), vec![65002]),
        "{v6}"
    );
    assert_eq!(v6.large_communities, vec!["65002:1:1"], "{v6}");
    // FRR's own table lists its originated routes as local.
    let own = f.route("203.0.113.0/24").expect("FRR holds its own route");
    assert_eq!(own.from, None, "{own}");
}

#[test]
fn ibgp_carries_local_pref_between_gobgpd_bird_and_frr() {
    let lab = Lab::new("ibgp");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65001))
            .neighbor(Neighbor::new(r3.ipv6(), 65001))
            .route(
                Originated::new("198.51.100.0/24")
                    .next_hop(r1.ipv4())
                    .local_pref(250),
            ),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65001, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001))
            .route(
                Originated::new("203.0.113.0/24")
                    .next_hop(r2.ipv4())
                    .local_pref(300)
                    .med(3),
            ),
    );
    let f = Frr::start(
        &r3,
        &BgpConfig::new(65001, r3.ipv4())
            .neighbor(Neighbor::new(r1.ipv6(), 65001))
            .route(
                Originated::new("2001:db8:300::/48")
                    .local_pref(350)
                    .community("65001:3"),
            ),
    );
    b.wait_established(r1.ipv4(), UP);
    f.wait_established(r1.ipv6(), UP);

    for (who, r) in [
        ("bird", b.wait_route("198.51.100.0/24", ROUTE)),
        ("frr", f.wait_route("198.51.100.0/24", ROUTE)),
    ] {
        assert_eq!(
            (r.local_pref, r.next_hop),
            (Some(250), Some(r1.ipv4())),
            "{who}: {r}"
        );
        assert!(r.as_path.is_empty(), "{who}: {r}");
    }
    let from_bird = g.wait_route("203.0.113.0/24", ROUTE);
    assert_eq!(
        (from_bird.local_pref, from_bird.med),
        (Some(300), Some(3)),
        "{from_bird}"
    );
    assert_eq!(from_bird.next_hop, Some(r2.ipv4()), "{from_bird}");
    let from_frr = g.wait_route("2001:db8:300::/48", ROUTE);
    assert_eq!(
        (from_frr.local_pref, from_frr.next_hop),
        (Some(350), Some(r3.ipv6())),
        "{from_frr}"
    );
    assert_eq!(from_frr.communities, vec!["65001:3"], "{from_frr}");
}

#[test]
fn exabgp_sends_a_raw_attribute_and_sees_updates() {
    let lab = Lab::new("gobgp_exabgp");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002).passive())
            .route(
                Originated::new("198.51.100.0/24")
                    .med(10)
                    .community("65000:1"),
            ),
    );
    let e = Exabgp::start_with(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001))
            .route(
                Originated::new("203.0.113.64/26")
                    .med(50)
                    .community("65000:5"),
            ),
        &ExabgpOptions {
            static_lines: vec![format!(
                "route 203.0.113.32/27 next-hop {} attribute [0x63 0xc0 0x01020304];",
                r2.ipv4()
            )],
        },
    );
    e.wait_established(r1.ipv4(), UP);
    g.wait_established(r2.ipv4(), UP);
    let got = e.wait_route("198.51.100.0/24", ROUTE);
    assert_eq!(
        (got.med, got.communities.clone()),
        (Some(10), vec!["65000:1".to_string()]),
        "{got}"
    );
    let r = g.wait_route("203.0.113.64/26", ROUTE);
    assert_eq!((r.med, r.as_path.clone()), (Some(50), vec![65002]), "{r}");
    g.wait_route("203.0.113.32/27", ROUTE);
    let raw = g.cli(&["-j", "global", "rib", "-a", "ipv4", "203.0.113.32/27"]);
    assert!(
        raw.contains("\"type\":99") && raw.contains("AQIDBA=="),
        "attribute 99 not seen by gobgpd: {raw}"
    );
    // Announcing at run time through the API.
    e.command(&format!(
        "announce route 203.0.113.128/25 next-hop {} med 7",
        r2.ipv4()
    ));
    let late = g.wait_route("203.0.113.128/25", ROUTE);
    assert_eq!(late.med, Some(7), "{late}");
}

#[test]
fn cut_link_ends_the_session_within_hold_time() {
    let lab = Lab::new("link_cut");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002).timers(3, 1)),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), 65001).timers(3, 1))
            .route(Originated::new("203.0.113.0/24")),
    );
    g.wait_established(r2.ipv4(), UP);
    b.wait_established(r1.ipv4(), UP);
    g.wait_route("203.0.113.0/24", ROUTE);

    let cut = Instant::now();
    r2.cut();
    // Silence: both ends still have carrier, only the hold timer notices.
    g.wait_not_established(r2.ipv4(), Duration::from_secs(5));
    b.wait_not_established(r1.ipv4(), Duration::from_secs(5));
    let took = cut.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "session dropped too early ({took:?}): not by hold timer"
    );
    assert!(
        took <= Duration::from_secs(5),
        "hold time is 3 s, the sessions took {took:?} to drop"
    );
    assert!(
        g.log().contains("hold-timer-expired"),
        "gobgpd does not report hold-timer expiry:\n{}",
        g.log()
    );
    g.wait_no_route("203.0.113.0/24", ROUTE);

    r2.restore();
    g.wait_established(r2.ipv4(), UP);
    g.wait_route("203.0.113.0/24", ROUTE);
}

#[test]
fn labs_clean_up_after_themselves_even_on_panic() {
    let lab = Lab::new("cleanup");
    let prefix = lab.prefix().to_string();
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    assert_eq!(prefixed_netns(&prefix).len(), 3, "switch + 2 hosts");
    assert_eq!((r1.ipv4(), r2.ipv6()), (ip("192.0.2.1"), ip("2001:db8::2")));

    // A second address, usable at once (no DAD), and TCP checks from inside.
    let extra = r1.add_address(ip("192.0.2.101"));
    let extra6 = r1.add_address(ip("2001:db8::101"));
    let g = Gobgp::start(&r1, &BgpConfig::new(65001, r1.ipv4()));
    for addr in [r1.ipv4(), extra, extra6] {
        r2.wait_tcp_reachable(SocketAddr::new(addr, 179), Duration::from_secs(5));
    }
    assert!(
        !r2.tcp_reachable(SocketAddr::new(extra, 180)),
        "nothing listens on port 180"
    );
    assert!(
        !r2.tcp_reachable(SocketAddr::new(r1.ipv4(), 50051)),
        "the API is on r1's loopback only"
    );
    assert!(r1.tcp_reachable(SocketAddr::new(ip("127.0.0.1"), 50051)));
    let stray = r2.spawn("sleeper", "sleep", &["600"]);
    let pids = [g.process().pid(), stray.pid()];
    let dir = lab.dir().to_path_buf();
    std::mem::forget(stray); // Even a leaked handle's process must die with the lab.
    drop(lab);
    assert!(
        prefixed_netns(&prefix).is_empty(),
        "namespaces left: {:?}",
        prefixed_netns(&prefix)
    );
    for pid in pids {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for its handle to reap it.
        assert!(
            state.is_empty() || state.contains(") Z "),
            "process {pid} still running: {state}"
        );
    }
    assert!(!dir.exists(), "lab folder {} left", dir.display());
    drop(g);

    // A test that panics half-way still removes its lab.
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let lab = Lab::new("panicking");
        tx.send(lab.prefix().to_string()).unwrap();
        let h = lab.host("r1");
        let _sleeper = h.spawn("sleeper", "sleep", &["600"]);
        panic!("deliberate panic inside a lab");
    })
    .join();
    assert!(result.is_err());
    let prefix = rx.recv().unwrap();
    assert!(
        prefixed_netns(&prefix).is_empty(),
        "namespaces left after panic: {:?}",
        prefixed_netns(&prefix)
    );
    let kept = std::env::temp_dir().join("ocbgp-lab");
    if let Ok(dirs) = std::fs::read_dir(&kept) {
        for d in dirs
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().starts_with(&prefix))
        {
            let _ = std::fs::remove_dir_all(d.path()); // kept for debugging; not needed here
        }
    }
}

#[test]
fn peer_configs_with_every_option_are_accepted() {
    let lab = Lab::new("config_checks");
    let r1 = lab.host("r1");
    let config = BgpConfig::new(65001, r1.ipv4())
        .neighbor(
            Neighbor::new("192.0.2.2", 65002)
                .description("r2")
                .password("s3cret")
                .passive()
                .local_address(r1.ipv4())
                .multihop(2)
                .timers(3, 1)
                .connect_retry(2),
        )
        .neighbor(Neighbor::new("2001:db8::3", 65001).families(&[Family::Ipv6Unicast]))
        .route(
            Originated::new("198.51.100.0/24")
                .next_hop("192.0.2.99")
                .origin(Origin::Egp)
                .med(10)
                .local_pref(200)
                .community("65000:1")
                .community("no-export")
                .large_community("65001:1:2"),
        )
        .route(
            Originated::new("2001:db8:100::/48")
                .next_hop("2001:db8::99")
                .local_pref(300),
        );
    Gobgp::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{}", gobgp_toml(&config)));
    Bird::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{}", bird_conf(&config)));
    Frr::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{}", bgpd_conf("r1", &config)));
    Exabgp::check(&r1, &config, &ExabgpOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    // The checks do reject bad input.
    assert!(Gobgp::check(&config, "[global.config]\n  bogus = 1\n").is_err());
    assert!(Bird::check(&config, "protocol bgp { bogus; }\n").is_err());
    assert!(Frr::check(&config, "router bgp 65001\n neighbor bogus\n").is_err());
    let bad = ExabgpOptions {
        static_lines: vec!["route bogus;".into()],
    };
    assert!(Exabgp::check(&r1, &config, &bad).is_err());
}

fn full_ocbgpd_config() -> OcbgpdConfig {
    OcbgpdConfig::new(
        BgpConfig::new(65001, "192.0.2.1")
            .neighbor(
                Neighbor::new("192.0.2.2", 65002)
                    .description("r2")
                    .password("s3cret")
                    .passive()
                    .local_address("192.0.2.1")
                    .timers(3, 1),
            )
            .neighbor(Neighbor::new("2001:db8::3", 65001).families(&[Family::Ipv6Unicast]))
            .neighbor(
                Neighbor::new("198.51.100.7", 65007)
                    .multihop(2)
                    .families(&[Family::Ipv4Unicast]),
            )
            .route(
                Originated::new("198.51.100.0/24")
                    .next_hop("192.0.2.1")
                    .origin(Origin::Egp)
                    .med(10)
                    .local_pref(200)
                    .community("65000:1")
                    .community("no-export")
                    .large_community("65001:1:2"),
            )
            .route(Originated::new("2001:db8:100::/48").origin(Origin::Incomplete)),
    )
    .listen(&[ip("192.0.2.1"), ip("2001:db8::1")], 179)
    .gnmi("127.0.0.1", 19339)
    .netconf("127.0.0.1", 10830)
}

#[test]
fn ocbgpd_config_builder_output_passes_check() {
    let dir = std::env::temp_dir().join(format!("ocbgp-labcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("full.json");
    let config = full_ocbgpd_config();
    config.write(&file);
    check_config_file_elsewhere(&file)
        .unwrap_or_else(|e| panic!("builder output rejected:\n{e}\n{}", read(&file)));

    let json = config.to_json();
    let bgp = &json["openconfig-network-instance:network-instances"]["network-instance"][0]
        ["protocols"]["protocol"][0]["bgp"];
    let n = &bgp["neighbors"]["neighbor"][0];
    assert_eq!(n["transport"]["config"]["passive-mode"], true);
    assert_eq!(n["timers"]["config"]["hold-time"], 3);
    assert_eq!(
        bgp["neighbors"]["neighbor"][2]["ebgp-multihop"]["config"]["multihop-ttl"],
        2
    );
    let route = &bgp["global"]["ocbgp:originated-routes"]["route"][0]["config"];
    assert_eq!(route["community"][1], "openconfig-bgp-types:NO_EXPORT");
    assert_eq!(bgp["global"]["ocbgp:listen"]["config"]["port"], 179);

    // Minimal configs pass too, and the check is a real one.
    let minimal = dir.join("minimal.json");
    OcbgpdConfig::new(BgpConfig::new(64512, "192.0.2.9"))
        .no_listen()
        .no_netconf()
        .write(&minimal);
    check_config_file_elsewhere(&minimal)
        .unwrap_or_else(|e| panic!("minimal config rejected:\n{e}\n{}", read(&minimal)));
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        read(&file).replace("\"peer-as\": 65002", "\"peer-as\": 65002, \"bogus\": 1"),
    )
    .unwrap();
    let err = check_config_file_elsewhere(&bad)
        .expect_err("a config with an unknown leaf must fail the check");
    assert!(err.contains("bogus"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn ocbgpd_runs_inside_a_lab_host() {
    let lab = Lab::new("ocbgpd_start");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    // Plain-text gNMI is for loopback only: inside the host's namespace.
    let config = OcbgpdConfig::new(
        BgpConfig::new(65001, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    )
    .gnmi(std::net::Ipv4Addr::LOCALHOST, 9339);
    let d = Ocbgpd::start(&r1, &config);
    r1.wait_tcp_reachable(
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 9339),
        Duration::from_secs(5),
    );
    // BGP on the lab address answers from the other host.
    r2.wait_tcp_reachable(SocketAddr::new(r1.ipv4(), 179), Duration::from_secs(5));
    assert!(d.running());
    let log = d.log();
    assert!(
        log.lines().any(|l| l.trim_start().starts_with('{')),
        "expected JSON logs:\n{log}"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A neighbor with graceful restart (and LLGR when `llgr` is given).
fn gr_neighbor(addr: IpAddr, asn: u32, restart: u16, llgr: Option<u32>) -> Neighbor {
    let mut gr = GracefulRestart::new(restart).notification();
    if let Some(stale) = llgr {
        gr = gr.long_lived(stale);
    }
    Neighbor::new(addr, asn).graceful_restart(gr)
}

#[test]
fn graceful_restart_knobs_are_accepted_by_every_peer() {
    let config = BgpConfig::new(65001, "192.0.2.1")
        .neighbor(gr_neighbor(ip("192.0.2.2"), 65002, 90, Some(600)))
        .neighbor(
            Neighbor::new("192.0.2.3", 65003).graceful_restart(
                GracefulRestart::new(30)
                    .helper_only()
                    .stale_routes_time(200),
            ),
        )
        .neighbor(Neighbor::new("2001:db8::4", 65004))
        .route(Originated::new("198.51.100.0/24"));
    let toml = gobgp_toml(&config);
    for line in [
        "[neighbors.graceful-restart.config]",
        "restart-time = 90",
        "notification-enabled = true",
        "long-lived-enabled = true",
        "helper-only = true",
        "[neighbors.afi-safis.mp-graceful-restart.config]",
        "[neighbors.afi-safis.long-lived-graceful-restart.config]",
        "restart-time = 600",
    ] {
        assert!(toml.contains(line), "{line:?} missing:\n{toml}");
    }
    Gobgp::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let bird = bird_conf(&config);
    for line in [
        "graceful restart on;",
        "graceful restart time 90;",
        "long lived graceful restart on;",
        "long lived stale time 600;",
        "graceful restart aware;",
    ] {
        assert!(bird.contains(line), "{line:?} missing:\n{bird}");
    }
    Bird::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{bird}"));
    let frr = bgpd_conf("r1", &config);
    for line in [
        " bgp graceful-restart\n",
        " bgp graceful-restart restart-time 90\n",
        " bgp graceful-restart stalepath-time 200\n",
        " bgp graceful-restart notification\n",
        " bgp long-lived-graceful-restart stale-time 600\n",
        " neighbor 192.0.2.3 graceful-restart-helper\n",
        " neighbor 2001:db8::4 graceful-restart-helper\n",
    ] {
        assert!(frr.contains(line), "{line:?} missing:\n{frr}");
    }
    Frr::check(&config, "").unwrap_or_else(|e| panic!("{e}\n{frr}"));

    // ocbgpd: neighbor and instance-wide leaves, only when set.
    let oc = OcbgpdConfig::new(config)
        .graceful_restart(120)
        .selection_deferral_time(45)
        .to_json();
    let bgp = &oc["openconfig-network-instance:network-instances"]["network-instance"][0]
        ["protocols"]["protocol"][0]["bgp"];
    assert_eq!(
        bgp["global"]["graceful-restart"]["config"],
        serde_json::json!({"enabled": true, "restart-time": 120, "ocbgp:selection-deferral-time": 45})
    );
    let n = &bgp["neighbors"]["neighbor"];
    assert_eq!(
        n[0]["graceful-restart"]["config"],
        serde_json::json!({"enabled": true, "restart-time": 90, "ocbgp:long-lived-stale-time": 600})
    );
    assert_eq!(
        n[1]["graceful-restart"]["config"],
        serde_json::json!({"enabled": true, "restart-time": 30, "helper-only": true, "stale-routes-time": 200})
    );
    assert_eq!(
        n[0]["afi-safis"]["afi-safi"][1]["graceful-restart"]["config"]["enabled"],
        true
    );
    assert!(n[2].get("graceful-restart").is_none(), "{}", n[2]);
    assert!(full_ocbgpd_config()
        .to_json()
        .to_string()
        .find("graceful")
        .is_none());
    let dir = std::env::temp_dir().join(format!("ocbgp-labgr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gr.json");
    std::fs::write(&file, serde_json::to_string_pretty(&oc).unwrap()).unwrap();
    let checked = check_config_file_elsewhere(&file);
    let _ = std::fs::remove_dir_all(&dir);
    checked.unwrap_or_else(|e| panic!("ocbgpd --check rejects the GR leaves:\n{e}\n{oc:#}"));
}

/// gobgpd (r1) restarts as a graceful restart's restarting speaker; BIRD
/// (r2) helps and keeps its routes; gobgpd r3 behind BIRD sees no
/// withdraw.
#[test]
fn bird_keeps_routes_over_a_gobgpd_graceful_restart() {
    let lab = Lab::new("gr_gobgp_bird");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let mut g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(gr_neighbor(r2.ipv4(), 65002, 30, None))
            .route(Originated::new("198.51.100.0/24").med(10))
            .route(Originated::new("2001:db8:100::/48").next_hop(r1.ipv6())),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4())
            .neighbor(gr_neighbor(r1.ipv4(), 65001, 30, None))
            .neighbor(Neighbor::new(r3.ipv4(), 65003)),
    );
    let sink = Gobgp::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    b.wait_established(r1.ipv4(), UP);
    b.wait_established(r3.ipv4(), UP);
    sink.wait_route("198.51.100.0/24", ROUTE);
    b.wait_route("2001:db8:100::/48", ROUTE);
    let before = sink.received_counts(r2.ipv4());
    assert_eq!(before.withdraws, 0, "{before:?}");
    assert!(before.updates >= 1, "{before:?}");
    let monitor = sink.monitor_rib(Family::Ipv4Unicast);
    let bird_before = b.received_counts(r1.ipv4());
    assert!(bird_before.updates >= 2, "{bird_before:?}");
    assert!(
        b.birdc(&format!(
            "show protocols all {}",
            bird_protocol_name(r1.ipv4())
        ))
        .contains("Graceful restart"),
        "GR not negotiated"
    );

    g.crash();
    b.wait_not_established(r1.ipv4(), Duration::from_secs(10));
    // BIRD helps: the routes stay while gobgpd is away.
    assert!(b.route("198.51.100.0/24").is_some());
    assert!(b.graceful_restart_status(r1.ipv4()).helping);
    g.start_again(true);
    b.wait_established(r1.ipv4(), UP);
    let status = b.graceful_restart_status(r1.ipv4());
    assert!(
        status.peer_graceful_restart && status.peer_restarting,
        "gobgpd --graceful-restart must set the R bit: {status:?}"
    );
    // gobgpd's End-of-RIB ends the helper's graceful restart.
    assert!(
        ocbgp_tests::wait_until(Duration::from_secs(15), || !b
            .graceful_restart_status(r1.ipv4())
            .helping),
        "BIRD's graceful restart for gobgpd did not end"
    );
    assert!(b.route("198.51.100.0/24").is_some());
    assert!(b.route("2001:db8:100::/48").is_some());
    let now = sink.received_counts(r2.ipv4());
    assert_eq!(now.withdraws, 0, "sink saw withdraws: {now:?}");
    assert!(
        monitor.withdrawals().is_empty(),
        "{:?}",
        monitor.withdrawals()
    );
    assert!(monitor.process().running());
}

/// LLGR between gobgpd and BIRD: after gobgpd's restart time runs out
/// BIRD keeps its routes as long-lived stale (LLGR_STALE, shown stale).
#[test]
fn bird_marks_routes_llgr_stale_after_the_restart_time() {
    let lab = Lab::new("llgr_gobgp_bird");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(gr_neighbor(r2.ipv4(), 65002, 2, Some(60)))
            .route(Originated::new("198.51.100.0/24").community("65000:1")),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(65002, r2.ipv4()).neighbor(gr_neighbor(r1.ipv4(), 65001, 2, Some(60))),
    );
    b.wait_established(r1.ipv4(), UP);
    let fresh = b.wait_route("198.51.100.0/24", ROUTE);
    assert!(!fresh.stale && !fresh.llgr_stale(), "{fresh}");
    assert!(b.graceful_restart_status(r1.ipv4()).peer_long_lived);
    g.crash();
    let stale = b.wait_route_matching("198.51.100.0/24", Duration::from_secs(10), &|r| {
        r.llgr_stale()
    });
    assert!(stale.stale, "{stale}");
    assert!(stale.has_community("65000:1"), "{stale}");
    assert!(stale.has_community("llgr-stale"), "{stale}");
}

/// ocbgpd is killed and started again on the same state directory, then
/// stopped with SIGTERM and started again; each run is waited for.
#[test]
fn ocbgpd_restarts_in_place() {
    let lab = Lab::new("ocbgpd_restart");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let config = OcbgpdConfig::new(
        BgpConfig::new(65001, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    )
    .gnmi(std::net::Ipv4Addr::LOCALHOST, 9339);
    let mut d = Ocbgpd::start(&r1, &config);
    let first = d.process().pid();
    d.kill_and_restart();
    assert_ne!(d.process().pid(), first);
    assert!(d.running());
    r2.wait_tcp_reachable(SocketAddr::new(r1.ipv4(), 179), Duration::from_secs(5));
    let status = d.stop_and_restart(Duration::from_secs(10));
    assert!(status.is_some(), "ocbgpd did not exit on SIGTERM");
    assert!(d.running());
    let log = d.log();
    assert_eq!(
        log.matches("--- lab: ocbgpd started again ---").count(),
        2,
        "{log}"
    );
    assert!(!d.current_log().contains("--- lab:"));
    assert_eq!(d.state_dir(), r1.dir().join("ocbgpd-state"));
}
