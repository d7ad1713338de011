//! RPKI origin validation with a real RTR cache: `stayrtr` (in ocbgpd's
//! namespace, serving VRPs from a JSON file) feeds ocbgpd; gobgpd sends a
//! valid route, two invalid ones (wrong origin, too specific) and one no
//! VRP covers; an import policy rejecting INVALID lets exactly the valid
//! and not-found ones through to BIRD, the RIB state shows each route's
//! validation state and the cache's session; a changed JSON file (stayrtr
//! reads it again and tells the router) turns one invalid route valid and
//! it reaches BIRD without any session reset.

use std::path::Path;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::{bin_path, wait_until};
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(20);

const VALID: &str = "198.51.100.0/24";
const TOO_SPECIFIC: &str = "198.51.100.128/25";
const WRONG_ORIGIN: &str = "203.0.113.0/24";
const NOT_FOUND: &str = "198.18.0.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// Writes the cache's JSON (atomically: stayrtr may read at any time).
fn write_vrps(path: &Path, roas: &[(&str, u8, u32)]) {
    let roas: Vec<Value> = roas
        .iter()
        .map(|(p, max, asn)| json!({"prefix": p, "maxLength": max, "asn": format!("AS{asn}"), "ta": "lab"}))
        .collect();
    let doc = json!({"metadata": {"buildtime": "2026-12-07T00:00:00Z"}, "roas": roas});
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, doc.to_string()).expect("write VRPs");
    std::fs::rename(&tmp, path).expect("rename VRPs");
}

fn validation(d: &Ocbgpd, table: &str, prefix: &str) -> Option<String> {
    let path = format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/{table}/routes/route[prefix={prefix}]"
    );
    d.try_gnmi_leaf(&path, "rpki-validation")
        .unwrap_or_else(|e| d.fail(&e))
        .and_then(|v| v.as_str().map(str::to_string))
}

#[test]
fn invalid_routes_are_dropped_and_vrp_changes_apply_without_reset() {
    let lab = Lab::new("rpki");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let vrps = r2.dir().join("vrps.json");
    write_vrps(&vrps, &[(VALID, 24, 65001), (WRONG_ORIGIN, 24, 65999)]);
    let vrps_arg = vrps.to_string_lossy().into_owned();
    let cache = r2.spawn(
        "stayrtr",
        "stayrtr",
        &[
            "-bind",
            "127.0.0.1:8282",
            "-cache",
            &vrps_arg,
            "-checktime=false",
            "-refresh",
            "1",
        ],
    );
    let _g = Gobgp::start(
        &r1,
        &BgpConfig::new(65001, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), 65002))
            .route(Originated::new(VALID))
            .route(Originated::new(TOO_SPECIFIC))
            .route(Originated::new(WRONG_ORIGIN))
            .route(Originated::new(NOT_FOUND)),
    );
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(65002, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), 65001))
                .neighbor(Neighbor::new(r3.ipv4(), 65003)),
        )
        .bgp_extra(
            &["global", "ocbgp:rpki"],
            json!({"caches": {"cache": [{"address": "127.0.0.1", "port": 8282,
                "config": {"address": "127.0.0.1", "port": 8282, "retry-interval": 1}}]}}),
        ),
    );
    // Import policy: INVALID is rejected, everything else accepted.
    let policy = json!({"policy-definition": [{"name": "ROV", "config": {"name": "ROV"},
        "statements": {"statement": [{"name": "invalid", "config": {"name": "invalid"},
            "conditions": {"openconfig-bgp-policy:bgp-conditions": {"config": {"ocbgp:rpki-validation-result": "INVALID"}}},
            "actions": {"config": {"policy-result": "REJECT_ROUTE"}}}]}}]});
    d.try_gnmi_set(
        &[],
        &[],
        &[
            ("/routing-policy/policy-definitions".into(), policy),
            (
                format!(
                    "{BGP}/neighbors/neighbor[neighbor-address={}]/apply-policy/config",
                    r1.ipv4()
                ),
                json!({"import-policy": ["ROV"], "default-import-policy": "ACCEPT_ROUTE"}),
            ),
        ],
    )
    .unwrap_or_else(|e| d.fail(&e));
    let b = Bird::start(
        &r3,
        &BgpConfig::new(65003, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), 65002)),
    );
    d.wait_established(r1.ipv4(), UP);
    b.wait_established(r2.ipv4(), UP);

    // The cache's session and VRPs.
    let cache_state =
        format!("{BGP}/global/ocbgp:rpki/caches/cache[address=127.0.0.1][port=8282]/state");
    assert!(
        wait_until(UP, || d
            .try_gnmi_leaf(&cache_state, "session-state")
            .ok()
            .flatten()
            == Some(json!("ESTABLISHED"))),
        "the RTR session never came up; stayrtr:\n{}",
        cache.log()
    );
    assert!(
        wait_until(ROUTE, || d
            .try_gnmi_leaf(&cache_state, "ipv4-vrps")
            .ok()
            .flatten()
            == Some(json!(2))),
        "VRPs: {:?}",
        d.try_gnmi_leaf(&cache_state, "ipv4-vrps")
    );

    b.wait_route(VALID, ROUTE);
    b.wait_route(NOT_FOUND, ROUTE);
    for invalid in [TOO_SPECIFIC, WRONG_ORIGIN] {
        assert!(b.route(invalid).is_none(), "{invalid} reached BIRD");
    }
    assert_eq!(validation(&d, "loc-rib", VALID).as_deref(), Some("VALID"));
    assert_eq!(
        validation(&d, "loc-rib", NOT_FOUND).as_deref(),
        Some("NOT_FOUND")
    );
    let pre = format!(
        "neighbors/neighbor[neighbor-address={}]/adj-rib-in-pre",
        r1.ipv4()
    );
    assert_eq!(
        validation(&d, &pre, TOO_SPECIFIC).as_deref(),
        Some("INVALID")
    );
    assert_eq!(
        validation(&d, &pre, WRONG_ORIGIN).as_deref(),
        Some("INVALID")
    );

    // The CLI shows the states (JSON and the table's status column).
    let bin = bin_path("ocbgp");
    let out = r2.try_run(
        "timeout",
        &["30", bin.to_str().unwrap(), "global", "rib", "--json"],
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        d.fail(&format!(
            "ocbgp global rib --json: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        ))
    });
    let state_of = |p: &str| {
        rows.as_array()
            .into_iter()
            .flatten()
            .find(|r| r["prefix"] == p)
            .map(|r| r["rpki_validation"].clone())
    };
    assert_eq!(state_of(VALID), Some(json!("VALID")), "{rows}");
    assert_eq!(state_of(NOT_FOUND), Some(json!("NOT_FOUND")), "{rows}");
    let table = r2.try_run("timeout", &["30", bin.to_str().unwrap(), "global", "rib"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("V *") && l.contains(VALID)),
        "{table}"
    );

    // The ROA for WRONG_ORIGIN now names AS 65001: valid, without a reset.
    // A telemetry subscriber to the Loc-RIB follows the validation states.
    let loc_rib = format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes"
    );
    let sub = d.synced_subscriber("rib-subscriber", &loc_rib, UP);
    let told = |prefix: &str, state: &str| {
        subscriber_saw(&sub, prefix, "ocbgp:rpki-validation", &json!(state))
    };
    let sessions_before = b.received_counts(r2.ipv4());
    write_vrps(&vrps, &[(VALID, 24, 65001), (WRONG_ORIGIN, 24, 65001)]);
    b.wait_route(WRONG_ORIGIN, ROUTE);
    assert_eq!(
        validation(&d, "loc-rib", WRONG_ORIGIN).as_deref(),
        Some("VALID")
    );
    assert!(b.route(TOO_SPECIFIC).is_none());
    assert!(
        wait_until(ROUTE, || told(WRONG_ORIGIN, "VALID")),
        "the subscriber was not told {WRONG_ORIGIN} is valid: {}",
        sub.log()
    );
    // VALID's ROA goes: still accepted (only INVALID is rejected), and
    // readers hear it is NOT_FOUND now.
    write_vrps(&vrps, &[(WRONG_ORIGIN, 24, 65001)]);
    assert!(
        wait_until(ROUTE, || told(VALID, "NOT_FOUND")),
        "the subscriber was not told {VALID} is not found: {}",
        sub.log()
    );
    assert_eq!(
        validation(&d, "loc-rib", VALID).as_deref(),
        Some("NOT_FOUND")
    );
    let now = b.received_counts(r2.ipv4());
    assert!(
        now.updates > sessions_before.updates,
        "BIRD's session was reset (its counters restarted): {sessions_before:?} -> {now:?}"
    );
}
