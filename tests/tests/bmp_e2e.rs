//! BMP end to end: gobgpd r1 (AS 65010) peers with ocbgpd r2 (AS 65001),
//! which reports to pmacct's `pmbmpd` on r3. An import policy on r1 sets
//! MED 77 on prefix A, so the pre- and post-policy views of A differ; an
//! export policy toward r1 sets MED 55 on our route OURS and rejects
//! OURS2, so the pre- and post-policy Adj-RIB-Out views differ too.
//!
//! Stations are configured by gNMI Set; the test reads pmbmpd's JSON
//! message log (one object per BMP message) and checks Initiation, Peer
//! Up, Route Monitoring of the pre-policy, post-policy, Loc-RIB and both
//! Adj-RIB-Out views (several prefixes per message when they share
//! attributes),
//! Statistics Reports, Peer Down with the reason after gobgpd resets the
//! session with a NOTIFICATION, the station's state and `ocbgp bmp`, that
//! adding a second station leaves the first connected, and Termination
//! when the station is removed. tshark decodes the captured stream with
//! no malformed packet.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::{bin_path, wait_until};
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(20);

const SRC_AS: u32 = 65010;
const OC_AS: u32 = 65001;
const BMP_PORT: u16 = 11019;
const BMP_PORT2: u16 = 11020;
const BMP_PORT_DEAD: u16 = 11021;

const A: &str = "10.1.0.0/16";
const B: &str = "10.2.0.0/24";
/// Our own route, sent to r1: the Adj-RIB-Out.
const OURS: &str = "192.0.2.128/25";
/// Our own route that export policy keeps from r1.
const OURS2: &str = "198.51.100.0/24";
/// Our own route added after the initial dump.
const OURS3: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn station_path(addr: IpAddr, port: u16) -> String {
    format!("{BGP}/ocbgp:bmp/station[address={addr}][port={port}]")
}

fn station(addr: IpAddr, port: u16) -> Value {
    json!({"address": addr.to_string(), "port": port, "config": {
        "address": addr.to_string(), "port": port,
        "adj-rib-in-pre-policy": true, "adj-rib-in-post-policy": true,
        "loc-rib": true, "adj-rib-out-pre-policy": true, "adj-rib-out-post-policy": true,
        "statistics-interval": 1,
    }})
}

/// pmbmpd listening on `port`, logging every message as JSON to `log`.
fn pmbmpd(host: &Host, port: u16, log: &Path) -> Process {
    let conf = host.dir().join(format!("pmbmpd-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "bmp_daemon_ip: {}\nbmp_daemon_port: {port}\nbmp_daemon_msglog_file: {}\n\
             bmp_daemon_msglog_output: json\n",
            host.ipv4(),
            log.display()
        ),
    )
    .expect("pmbmpd config");
    let p = host.spawn(
        &format!("pmbmpd-{port}"),
        "pmbmpd",
        &["-f", conf.to_str().expect("utf-8 path")],
    );
    host.wait_tcp_reachable((host.ipv4(), port).into(), Duration::from_secs(10));
    p
}

/// Every message pmbmpd logged so far.
fn messages(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn of_type<'a>(msgs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    msgs.iter().filter(|m| m["bmp_msg_type"] == kind).collect()
}

/// Route Monitoring announcements of `prefix` from `peer` in one view.
fn routes<'a>(msgs: &'a [Value], prefix: &str, peer: &str, post: bool) -> Vec<&'a Value> {
    msgs.iter()
        .filter(|m| {
            m["bmp_msg_type"] == "route_monitor"
                && m["ip_prefix"] == prefix
                && m["peer_ip"] == peer
                && m["is_post"].as_u64().unwrap_or(0) == u64::from(post)
                && m["log_type"] != "withdraw"
        })
        .collect()
}

fn is_out(m: &Value) -> bool {
    m["is_out"].as_u64() == Some(1)
}

/// Adj-RIB-Out announcements of `prefix` to `peer`, pre- or post-policy.
fn out_routes<'a>(msgs: &'a [Value], prefix: &str, peer: &str, post: bool) -> Vec<&'a Value> {
    routes(msgs, prefix, peer, post)
        .into_iter()
        .filter(|m| is_out(m))
        .collect()
}

fn prefix_set(name: &str, prefix: &str) -> Value {
    json!({"name": name, "config": {"name": name, "mode": "IPV4"},
        "prefixes": {"prefix": [{"ip-prefix": prefix, "masklength-range": "exact",
                                  "config": {"ip-prefix": prefix, "masklength-range": "exact"}}]}})
}

/// A policy statement on a prefix set: `med` set and accepted, or rejected.
fn statement(name: &str, set: &str, med: Option<u32>) -> Value {
    let actions = match med {
        Some(m) => json!({"config": {"policy-result": "ACCEPT_ROUTE"},
            "openconfig-bgp-policy:bgp-actions": {"config": {"set-med": m, "set-med-action": "SET"}}}),
        None => json!({"config": {"policy-result": "REJECT_ROUTE"}}),
    };
    json!({"name": name, "config": {"name": name},
        "conditions": {"match-prefix-set": {"config": {"prefix-set": set, "match-set-options": "ANY"}}},
        "actions": actions})
}

fn is_loc(m: &Value) -> bool {
    m["is_loc"].as_u64() == Some(1) || m["peer_type"].as_u64() == Some(3)
}

#[test]
fn bmp_station_sees_peers_routes_views_stats_and_termination() {
    let lab = Lab::new("bmp_e2e");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let v4 = &[Family::Ipv4Unicast];
    let log = r3.dir().join("bmp.json");
    let log2 = r3.dir().join("bmp2.json");
    let pcap = r3.dir().join("bmp.pcap");
    let _ = std::fs::remove_file(&pcap);
    let capture = r3.spawn(
        "tshark-capture",
        "tshark",
        &[
            "-i",
            "any",
            "-f",
            &format!("tcp port {BMP_PORT}"),
            "-w",
            pcap.to_str().expect("utf-8"),
        ],
    );
    let station1 = pmbmpd(&r3, BMP_PORT, &log);
    // tshark is capturing once it has written its file header.
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::metadata(&pcap)
            .is_ok_and(|m| m.len() > 0)),
        "tshark did not start: {}",
        capture.log_tail(20)
    );

    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), SRC_AS).families(v4))
                .route(Originated::new(OURS).next_hop(r2.ipv4()))
                .route(Originated::new(OURS2).next_hop(r2.ipv4())),
        ),
    );
    let src = Gobgp::start(
        &r1,
        &BgpConfig::new(SRC_AS, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    src.add_route(&Originated::new(A).med(10));
    src.add_route(&Originated::new(B).med(20));
    // Import policy: MED 77 on A, the rest as received. Export policy:
    // MED 55 on OURS, OURS2 rejected, the rest as the rules make it.
    let imp = json!({"name": "IMP", "config": {"name": "IMP"},
        "statements": {"statement": [statement("10", "PS", Some(77))]}});
    let exp = json!({"name": "EXP", "config": {"name": "EXP"}, "statements": {"statement": [
        statement("10", "OUT_MED", Some(55)),
        statement("20", "OUT_REJ", None),
    ]}});
    let sets = [
        prefix_set("PS", A),
        prefix_set("OUT_MED", OURS),
        prefix_set("OUT_REJ", OURS2),
    ];
    d.try_gnmi_set(
        &[],
        &[],
        &[
            (
                "/routing-policy".into(),
                json!({"defined-sets": {"prefix-sets": {"prefix-set": sets}},
                       "policy-definitions": {"policy-definition": [imp, exp]}}),
            ),
            (
                format!(
                    "{BGP}/neighbors/neighbor[neighbor-address={}]/apply-policy/config",
                    r1.ipv4()
                ),
                json!({"import-policy": ["IMP"], "default-import-policy": "ACCEPT_ROUTE",
                       "export-policy": ["EXP"], "default-export-policy": "ACCEPT_ROUTE"}),
            ),
        ],
    )
    .unwrap_or_else(|e| d.fail(&e));
    d.wait_established(r1.ipv4(), UP);

    // A malformed station is refused at commit.
    let bad = d.try_gnmi_set(
        &[],
        &[],
        &[(station_path(r3.ipv4(), 0), station(r3.ipv4(), 0))],
    );
    assert!(bad.is_err(), "a station on port 0 was accepted");

    // The station is added by a commit; routes already there come in its
    // initial dump.
    d.gnmi_update(
        &station_path(r3.ipv4(), BMP_PORT),
        station(r3.ipv4(), BMP_PORT),
    );
    let peer = r1.ipv4().to_string();
    let have_all = |m: &[Value]| {
        !of_type(m, "init").is_empty()
            && of_type(m, "peer_up")
                .iter()
                .any(|p| p["peer_ip"] == peer.as_str())
            && routes(m, A, &peer, false)
                .iter()
                .any(|r| r["med"].as_u64() == Some(10))
            && routes(m, A, &peer, true)
                .iter()
                .any(|r| r["med"].as_u64() == Some(77))
            && routes(m, B, &peer, true)
                .iter()
                .any(|r| r["med"].as_u64() == Some(20))
            && m.iter()
                .any(|r| r["bmp_msg_type"] == "route_monitor" && is_loc(r) && r["ip_prefix"] == A)
            && of_type(m, "stats")
                .iter()
                .any(|s| s["peer_ip"] == peer.as_str())
            && !out_routes(m, OURS, &peer, true).is_empty()
            && !out_routes(m, OURS, &peer, false).is_empty()
            && !out_routes(m, OURS2, &peer, false).is_empty()
    };
    if !wait_until(STEP, || have_all(&messages(&log))) {
        let msgs = messages(&log);
        panic!(
            "pmbmpd did not see init, peer up, pre/post-policy and Loc-RIB routes and stats; \
             it logged {} messages: {:#?}\nocbgpd: {}\npmbmpd: {}",
            msgs.len(),
            msgs.iter().take(40).collect::<Vec<_>>(),
            d.process().log_tail(30),
            station1.log_tail(30)
        );
    }
    let msgs = messages(&log);
    // Pre-policy A is as received, never with the policy's MED.
    assert!(routes(&msgs, A, &peer, false)
        .iter()
        .all(|r| r["med"].as_u64() == Some(10)));
    // Adj-RIB-Out: before export policy OURS has no MED and OURS2 is
    // there; after it OURS has MED 55 and OURS2 is not sent. Both views
    // went through the RFC 4271 5.1 rules: our AS leads the path, our
    // next hop.
    let pre = out_routes(&msgs, OURS, &peer, false);
    let post = out_routes(&msgs, OURS, &peer, true);
    assert!(
        pre.iter().all(|r| r["med"].is_null()),
        "pre-policy OURS: {pre:?}"
    );
    assert!(
        post.iter().all(|r| r["med"].as_u64() == Some(55)),
        "post-policy OURS: {post:?}"
    );
    for r in pre.iter().chain(&post) {
        assert_eq!(r["as_path"], OC_AS.to_string(), "{r}");
        assert_eq!(r["bgp_nexthop"], r2.ipv4().to_string(), "{r}");
    }
    assert!(
        out_routes(&msgs, OURS2, &peer, true).is_empty(),
        "OURS2 reported as sent"
    );
    let init = &of_type(&msgs, "init")[0];
    assert!(
        init.to_string().contains("ocbgpd"),
        "Initiation without sysDescr: {init}"
    );

    // A route announced now reaches the station as a change.
    src.add_route(&Originated::new("10.3.0.0/24").med(30));
    assert!(
        wait_until(STEP, || !routes(
            &messages(&log),
            "10.3.0.0/24",
            &peer,
            false
        )
        .is_empty()),
        "no Route Monitoring for a route announced after the dump"
    );

    // A route of ours added now: both Adj-RIB-Out views follow.
    d.gnmi_update(
        &format!("{BGP}/global/ocbgp:originated-routes/route[prefix={OURS3}]"),
        json!({"prefix": OURS3, "config": {"prefix": OURS3, "next-hop": r2.ipv4().to_string()}}),
    );
    let both = |m: &[Value]| {
        !out_routes(m, OURS3, &peer, false).is_empty()
            && !out_routes(m, OURS3, &peer, true).is_empty()
    };
    assert!(
        wait_until(STEP, || both(&messages(&log))),
        "no pre- and post-policy Adj-RIB-Out report of a route added after the dump"
    );

    // State and CLI.
    let state = format!("{}/state", station_path(r3.ipv4(), BMP_PORT));
    let up = || {
        d.try_gnmi_leaf(&state, "session-state")
            .ok()
            .flatten()
            .is_some_and(|v| v == "UP")
    };
    assert!(wait_until(STEP, up), "station state not UP");
    let sent = d
        .try_gnmi_leaf(&state, "messages-sent")
        .unwrap_or_else(|e| d.fail(&e))
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(0);
    assert!(sent >= 5, "messages-sent is {sent}");
    let cli = d.host().try_run(
        bin_path("ocbgp").to_str().expect("utf-8"),
        &["--target", &d.config().gnmi_addr().to_string(), "bmp"],
    );
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success() && text.contains(&r3.ipv4().to_string()) && text.contains("UP"),
        "ocbgp bmp: {text} {}",
        String::from_utf8_lossy(&cli.stderr)
    );

    // A station nobody listens for is no commit failure: it is down and
    // says why, and retries.
    let dead = station_path(r3.ipv4(), BMP_PORT_DEAD);
    d.gnmi_update(&dead, station(r3.ipv4(), BMP_PORT_DEAD));
    let refused = || {
        d.try_gnmi_leaf(&format!("{dead}/state"), "last-error")
            .ok()
            .flatten()
            .is_some_and(|v| v.to_string().contains("refused"))
    };
    assert!(wait_until(STEP, refused), "dead station shows no error");
    assert_eq!(
        d.try_gnmi_leaf(&format!("{dead}/state"), "session-state")
            .unwrap_or_else(|e| d.fail(&e)),
        Some(json!("DOWN"))
    );
    d.try_gnmi_delete(&dead).unwrap_or_else(|e| d.fail(&e));
    // The station kept up with every change: no overflow.
    assert_eq!(
        d.try_gnmi_leaf(&state, "drops")
            .unwrap_or_else(|e| d.fail(&e))
            .map(|v| v.to_string().trim_matches('"').to_string()),
        Some("0".to_string())
    );

    // A second station by another commit: the first stays connected.
    let connections = || {
        d.try_gnmi_leaf(&state, "connections")
            .ok()
            .flatten()
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    };
    let before = connections();
    let station2 = pmbmpd(&r3, BMP_PORT2, &log2);
    d.gnmi_update(
        &station_path(r3.ipv4(), BMP_PORT2),
        station(r3.ipv4(), BMP_PORT2),
    );
    assert!(
        wait_until(STEP, || !of_type(&messages(&log2), "peer_up").is_empty()),
        "second station got no Peer Up: {}",
        station2.log_tail(20)
    );
    assert_eq!(
        connections(),
        before,
        "adding a station reconnected the other"
    );

    // gobgpd shuts the session down: a NOTIFICATION (Cease) from the peer
    // is reason 3 with the PDU.
    src.cli(&["neighbor", &r2.ipv4().to_string(), "shutdown"]);
    let down = || {
        of_type(&messages(&log), "peer_down")
            .iter()
            .any(|m| m["peer_ip"] == peer.as_str() && m["reason_type"].as_u64() == Some(3))
    };
    assert!(
        wait_until(STEP, down),
        "no Peer Down with reason 3: {:#?}",
        of_type(&messages(&log), "peer_down")
    );
    src.cli(&["neighbor", &r2.ipv4().to_string(), "enable"]);
    d.wait_established(r1.ipv4(), UP);
    assert!(
        wait_until(STEP, || of_type(&messages(&log), "peer_up").len() >= 3),
        "no Peer Up after the reset"
    );

    // Removing the station sends Termination.
    d.try_gnmi_delete(&station_path(r3.ipv4(), BMP_PORT))
        .unwrap_or_else(|e| d.fail(&e));
    assert!(
        wait_until(STEP, || !of_type(&messages(&log), "term").is_empty()),
        "no Termination on removal"
    );
    // The other station is still served.
    assert!(of_type(&messages(&log2), "term").is_empty());

    // ocbgpd stopping sends Termination to the stations it still has.
    d.process().stop(Duration::from_secs(10));
    assert!(
        wait_until(STEP, || !of_type(&messages(&log2), "term").is_empty()),
        "no Termination when ocbgpd stops"
    );

    // tshark decodes the captured stream with no malformed packet.
    capture.stop(Duration::from_secs(5));
    let decoded = r3.try_run(
        "tshark",
        &[
            "-r",
            pcap.to_str().expect("utf-8"),
            "-d",
            &format!("tcp.port=={BMP_PORT},bmp"),
            "-Y",
            "bmp",
            "-T",
            "fields",
            "-e",
            "bmp.type",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
        ],
    );
    let out = String::from_utf8_lossy(&decoded.stdout).to_string();
    assert!(decoded.status.success(), "tshark failed: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 5, "tshark saw {} BMP packets", lines.len());
    let malformed = check_malformed(&pcap);
    if malformed > 0 {
        let keep = std::env::temp_dir().join("bmp_e2e-malformed.pcap");
        let _ = std::fs::copy(&pcap, &keep);
        panic!(
            "tshark found {malformed} malformed packets (capture kept in {})",
            keep.display()
        );
    }
    drop(station1);
}

/// Malformed packets in the capture, by tshark's own flag.
fn check_malformed(pcap: &Path) -> usize {
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().expect("utf-8"),
            "-d",
            &format!("tcp.port=={BMP_PORT},bmp"),
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 8388608",
        ])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).lines().count()
}
