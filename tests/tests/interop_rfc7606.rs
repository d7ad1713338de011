//! Malformed UPDATEs (RFC 7606) sent to ocbgpd by a raw speaker
//! ([`RawSpeaker`]: a Python program doing the OPEN exchange, then sending
//! bytes as crafted by the test), with a gobgpd observer that sees what
//! ocbgpd installs and re-advertises:
//! - treat-as-withdraw (COMMUNITIES of a length not a multiple of 4,
//!   ORIGIN with an undefined value): the session stays up, the route is
//!   not installed and the one announced before for the prefix is withdrawn;
//! - attribute discard (ATOMIC_AGGREGATE with a value, AGGREGATOR of a
//!   wrong length): the route is installed without the attribute;
//! - session reset (MP_REACH_NLRI with an unreadable NLRI): ocbgpd sends a
//!   NOTIFICATION UPDATE Message Error and closes; the speaker's routes go.

use std::net::IpAddr;
use std::time::Duration;

use ocbgp_tests::lab::raw::msg;
use ocbgp_tests::lab::*;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);
const OC_AS: u32 = 65001;
const OBS_AS: u32 = 65003;
const RAW_AS: u32 = 65004;

/// ocbgpd (passive towards the raw speaker), the observer and the raw
/// speaker, all up.
struct Setup {
    _lab: Lab,
    raw_host: Host,
    oc: Ocbgpd,
    obs: Gobgp,
    raw: RawSpeaker,
}

fn setup(name: &str) -> Setup {
    let lab = Lab::new(name);
    let (oc_host, raw_host, obs_host) = (lab.host("oc"), lab.host("raw"), lab.host("obs"));
    let v4 = [Family::Ipv4Unicast];
    let obs = Gobgp::start(
        &obs_host,
        &BgpConfig::new(OBS_AS, obs_host.ipv4())
            .neighbor(Neighbor::new(oc_host.ipv4(), OC_AS).families(&v4)),
    );
    let oc = Ocbgpd::start(
        &oc_host,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, oc_host.ipv4())
                .neighbor(
                    Neighbor::new(raw_host.ipv4(), RAW_AS)
                        .families(&v4)
                        .passive(),
                )
                .neighbor(Neighbor::new(obs_host.ipv4(), OBS_AS).families(&v4))
                .route(Originated::new("198.51.100.0/24")),
        )
        .no_netconf(),
    );
    obs.wait_established(oc_host.ipv4(), UP);
    obs.wait_route("198.51.100.0/24", ROUTE);
    let raw = RawSpeaker::connect(&raw_host, oc_host.ipv4(), RAW_AS, raw_host.ipv4(), 30, &v4);
    raw.wait_established(UP);
    Setup {
        _lab: lab,
        raw_host,
        oc,
        obs,
        raw,
    }
}

/// ORIGIN IGP, AS_PATH [RAW_AS], NEXT_HOP `nh`, then `extra`.
fn attrs(nh: IpAddr, extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut a = vec![msg::origin(0), msg::as_path(&[RAW_AS]), msg::next_hop(nh)];
    a.extend_from_slice(extra);
    a
}

/// gobgpd's JSON for one prefix, with the attribute type codes it holds.
fn attr_types(obs: &Gobgp, prefix: &str) -> Vec<u64> {
    let text = obs.cli(&["-j", "global", "rib", "-a", "ipv4", prefix]);
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let paths = json
        .as_object()
        .and_then(|m| m.values().next())
        .cloned()
        .unwrap_or_default();
    paths[0]["attrs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["type"].as_u64())
        .collect()
}

/// The "malformed UPDATE" log events of ocbgpd with this action.
fn malformed(oc: &Ocbgpd, action: &str) -> Vec<serde_json::Value> {
    oc.log_events_for("malformed UPDATE", None)
        .into_iter()
        .filter(|e| e["fields"]["action"] == action)
        .collect()
}

fn assert_session_alive(s: &Setup) {
    assert!(
        s.raw.notifications().is_empty(),
        "ocbgpd sent a NOTIFICATION:\n{}",
        s.raw.describe_log()
    );
    assert!(
        !s.raw.closed(),
        "ocbgpd closed the session:\n{}",
        s.raw.describe_log()
    );
    assert!(s.oc.running(), "ocbgpd died");
}

#[test]
fn treat_as_withdraw_and_attribute_discard_keep_the_session() {
    let s = setup("rfc7606_keep");
    let (raw, obs, oc) = (&s.raw, &s.obs, &s.oc);
    let nh = s.raw_host.ipv4();
    let path = vec![OC_AS, RAW_AS];

    // Well-formed announcements first.
    let comm = msg::communities(&["65004:1"]);
    raw.send_update(&msg::update(
        &[],
        &attrs(nh, std::slice::from_ref(&comm)),
        &["203.0.113.0/24", "203.0.113.128/25"],
    ));
    raw.send_update(&msg::update(&[], &attrs(nh, &[]), &["198.18.0.0/24"]));
    for p in ["203.0.113.0/24", "203.0.113.128/25", "198.18.0.0/24"] {
        let r = obs.wait_route(p, ROUTE);
        assert_eq!(
            (r.as_path.clone(), r.next_hop),
            (path.clone(), Some(s.oc.host().ipv4())),
            "{r}"
        );
    }
    assert_eq!(
        obs.route("203.0.113.0/24").unwrap().communities,
        vec!["65004:1"]
    );

    // (a) Treat-as-withdraw: COMMUNITIES of 3 octets (RFC 7606 7.8). The
    // prefix announced before is withdrawn; the other one stays.
    let bad_comm = msg::attr(msg::OPTIONAL | msg::TRANSITIVE, 8, &[0xfd, 0xe8, 0x00]);
    raw.send_update(&msg::update(
        &[],
        &attrs(nh, &[bad_comm]),
        &["203.0.113.0/24"],
    ));
    obs.wait_no_route("203.0.113.0/24", ROUTE);
    assert!(
        obs.route("203.0.113.128/25").is_some(),
        "treat-as-withdraw took another prefix along"
    );
    // ORIGIN 5 (RFC 7606 7.1).
    let bad_origin = vec![msg::origin(5), msg::as_path(&[RAW_AS]), msg::next_hop(nh)];
    raw.send_update(&msg::update(&[], &bad_origin, &["198.18.0.0/24"]));
    obs.wait_no_route("198.18.0.0/24", ROUTE);
    assert_session_alive(&s);
    let taw = malformed(oc, "TreatAsWithdraw");
    assert!(
        taw.len() >= 2,
        "ocbgpd logs {} treat-as-withdraw problems, expected 2:\n{}",
        taw.len(),
        oc.log()
    );

    // The session is still usable: the prefix comes back when well-formed.
    raw.send_update(&msg::update(&[], &attrs(nh, &[comm]), &["203.0.113.0/24"]));
    obs.wait_route("203.0.113.0/24", ROUTE);

    // (c) Attribute discard: ATOMIC_AGGREGATE with one octet (RFC 7606
    // 7.6) and AGGREGATOR of 5 octets (7.7). The route is installed
    // without both; a control route with them well-formed keeps them.
    let bad_atomic = msg::attr(msg::TRANSITIVE, 6, &[0]);
    let bad_aggregator = msg::attr(msg::OPTIONAL | msg::TRANSITIVE, 7, &[0, 0, 0xfd, 0xec, 192]);
    let tag = msg::communities(&["65004:64"]);
    raw.send_update(&msg::update(
        &[],
        &attrs(nh, &[bad_atomic, bad_aggregator, tag]),
        &["203.0.113.64/26"],
    ));
    let good_aggregator = msg::aggregator(RAW_AS, "192.0.2.200".parse().unwrap());
    raw.send_update(&msg::update(
        &[],
        &attrs(nh, &[msg::atomic_aggregate(), good_aggregator]),
        &["203.0.113.32/27"],
    ));
    let r = obs.wait_route("203.0.113.64/26", ROUTE);
    assert_eq!(
        (r.as_path.clone(), r.communities.clone()),
        (path.clone(), vec!["65004:64".to_string()]),
        "{r}"
    );
    obs.wait_route("203.0.113.32/27", ROUTE);
    let control = attr_types(obs, "203.0.113.32/27");
    assert!(
        control.contains(&6) && control.contains(&7),
        "well-formed ATOMIC_AGGREGATE and AGGREGATOR did not pass through ocbgpd: types {control:?}"
    );
    let discarded = attr_types(obs, "203.0.113.64/26");
    assert!(
        !discarded.contains(&6) && !discarded.contains(&7),
        "malformed ATOMIC_AGGREGATE/AGGREGATOR were not discarded: types {discarded:?}"
    );
    assert_session_alive(&s);
    let discards = malformed(oc, "AttributeDiscard");
    assert!(
        discards.len() >= 2,
        "ocbgpd logs {} attribute discards, expected 2:\n{}",
        discards.len(),
        oc.log()
    );
    assert!(obs.route("203.0.113.128/25").is_some());
}

#[test]
fn malformed_mp_reach_resets_the_session() {
    let s = setup("rfc7606_reset");
    let (raw, obs, oc) = (&s.raw, &s.obs, &s.oc);
    let nh = s.raw_host.ipv4();
    raw.send_update(&msg::update(&[], &attrs(nh, &[]), &["203.0.113.0/24"]));
    obs.wait_route("203.0.113.0/24", ROUTE);

    // (b) MP_REACH_NLRI for IPv4 unicast whose NLRI has a prefix length
    // of 33 (RFC 7606 5.3: session reset).
    let IpAddr::V4(nh4) = nh else { unreachable!() };
    let mut value = vec![0, 1, 1, 4];
    value.extend(nh4.octets());
    value.extend([0, 33, 198, 51, 100, 0, 1]);
    let update = msg::update(
        &[],
        &[
            msg::origin(0),
            msg::as_path(&[RAW_AS]),
            msg::mp_reach_raw(&value),
        ],
        &[],
    );
    raw.send_update(&update);
    let (code, subcode) = raw.wait_notification(ROUTE);
    assert_eq!(
        code,
        3,
        "NOTIFICATION {code}/{subcode} is not an UPDATE Message Error:\n{}",
        raw.describe_log()
    );
    eprintln!("rfc7606: malformed MP_REACH_NLRI answered with NOTIFICATION {code}/{subcode}");
    raw.wait_closed(ROUTE);
    // The speaker's routes go; ocbgpd and its other sessions carry on.
    obs.wait_no_route("203.0.113.0/24", ROUTE);
    assert!(oc.running(), "ocbgpd died");
    assert!(
        obs.established(oc.host().ipv4()),
        "the observer's session went down"
    );
    assert!(obs.route("198.51.100.0/24").is_some());
    let down = oc.log_events_for("session down", Some(s.raw_host.ipv4()));
    assert!(
        !down.is_empty(),
        "ocbgpd logs no session down for the raw speaker:\n{}",
        oc.log()
    );
}
