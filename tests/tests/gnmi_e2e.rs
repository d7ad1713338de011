//! ocbgpd managed over gNMI with pygnmi as the client, against a real
//! gobgpd peer in network namespaces: Capabilities; a neighbor added by Set
//! and its session-state followed by a STREAM ON_CHANGE subscription (up,
//! then down when the peer stops); an import policy set by gNMI that removes
//! one route from the Loc-RIB without resetting the session; a bad Set
//! refused with an error status and nothing changed (and a second real
//! gobgpd peer stops receiving the rejected route); ONCE, POLL and SAMPLE
//! subscriptions deliver their values with sync_response.
//!
//! pygnmi runs in ocbgpd's namespace (gNMI on its default 127.0.0.1:9339),
//! every script under `timeout`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

const OC_AS: u32 = 65001;
const PEER_AS: u32 = 65002;
const SINK_AS: u32 = 65003;
const KEEP: &str = "198.51.100.0/24";
const BLOCK: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn neighbor_path(addr: IpAddr) -> String {
    format!("{BGP}/neighbors/neighbor[neighbor-address={addr}]")
}

/// Runs a python3 script in ocbgpd's namespace, bounded by `timeout`;
/// Ok(stdout) or Err(stdout + stderr).
fn python(d: &Ocbgpd, code: &str) -> Result<String, String> {
    let out = d.host().try_run("timeout", &["30", "python3", "-c", code]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The pygnmi prologue: `gc` a connected client.
fn client_prologue(d: &Ocbgpd) -> String {
    let g = d.config().gnmi_addr();
    format!(
        "import json, sys\nfrom pygnmi.client import gNMIclient\ngc = gNMIclient(target=({:?}, {}), insecure=True, timeout=5)\ngc.connect()\n",
        g.ip().to_string(),
        g.port()
    )
}

/// gNMI Set with `update` (path, JSON value) pairs: Ok, or Err(gRPC code name, message).
fn gnmi_set(d: &Ocbgpd, updates: &[(String, Value)]) -> Result<(), (String, String)> {
    gnmi_set_ops(d, &[], &[], updates)
}

/// The first scalar under `key` in `v` (or `v` itself when scalar), as text.
fn leaf(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => {
            for (k, val) in m {
                if (k == key || k.ends_with(&format!(":{key}")))
                    && !val.is_object()
                    && !val.is_array()
                {
                    return leaf(val, key);
                }
            }
            m.values().find_map(|val| {
                if val.is_object() || val.is_array() {
                    leaf(val, key)
                } else {
                    None
                }
            })
        }
        Value::Array(a) => a.iter().find_map(|val| leaf(val, key)),
        Value::Null => None,
    }
}

/// Get of one leaf path: its value as text.
fn get_leaf(d: &Ocbgpd, path: &str) -> Result<String, String> {
    let key = path.rsplit('/').next().unwrap().to_string();
    let vals = d.try_gnmi_get(path)?;
    vals.iter()
        .find_map(|v| leaf(v, &key))
        .ok_or_else(|| format!("no {key} in {vals:?}"))
}

/// Every `prefix` string in a tree.
fn prefixes(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if k == "prefix" {
                    if let Some(s) = val.as_str() {
                        out.push(s.to_string());
                    }
                }
                prefixes(val, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| prefixes(x, out)),
        _ => {}
    }
}

/// The prefixes of ocbgpd's IPv4 Loc-RIB, by gNMI Get of the loc-rib.
fn loc_rib(d: &Ocbgpd) -> Result<Vec<String>, String> {
    let vals = d.try_gnmi_get(&format!(
        "{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib"
    ))?;
    let mut out = Vec::new();
    vals.iter().for_each(|v| prefixes(v, &mut out));
    out.sort();
    out.dedup();
    Ok(out)
}

fn wait_loc_rib(d: &Ocbgpd, what: &str, cond: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut last = Err(String::new());
    let ok = wait_until(ROUTE, || {
        last = loc_rib(d);
        last.as_ref().is_ok_and(|r| cond(r))
    });
    if !ok {
        d.fail(&format!(
            "ocbgpd's loc-rib: {what} not seen within {ROUTE:?}; last {last:?}"
        ));
    }
    last.unwrap()
}

/// Waits until the prefixes `sink` has from `from` satisfy `cond`.
fn wait_sink(
    sink: &Gobgp,
    from: IpAddr,
    what: &str,
    cond: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut last = Err(String::new());
    let ok = wait_until(ROUTE, || {
        last = sink
            .try_adj_in(from, Family::Ipv4Unicast)
            .map(|r| r.into_iter().map(|r| r.prefix).collect::<Vec<_>>());
        last.as_ref().is_ok_and(|r| cond(r))
    });
    assert!(
        ok,
        "the second gobgpd peer: {what} not seen within {ROUTE:?}; last {last:?}"
    );
    last.unwrap()
}

/// ocbgpd in r1 with no neighbor (one originated route so IPv4 unicast is
/// enabled globally), gobgpd in r2 peering with it and originating KEEP and
/// BLOCK.
fn setup(lab: &Lab) -> (Host, Host, Ocbgpd, Gobgp) {
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r1.ipv4()).route(Originated::new("192.0.2.128/25")),
        ),
    );
    let g = Gobgp::start(
        &r2,
        &BgpConfig::new(PEER_AS, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), OC_AS).families(&[Family::Ipv4Unicast]))
            .route(Originated::new(KEEP))
            .route(Originated::new(BLOCK)),
    );
    (r1, r2, d, g)
}

/// The neighbor entry for `addr` as gNMI Set JSON.
fn neighbor_json(addr: IpAddr, peer_as: u32) -> Value {
    json!({
        "neighbor-address": addr.to_string(),
        "config": {"neighbor-address": addr.to_string(), "peer-as": peer_as},
        "timers": {"config": {"connect-retry": 1}},
        "afi-safis": {"afi-safi": [{
            "afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
            "config": {"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}
        }]}
    })
}

fn add_neighbor(d: &Ocbgpd, addr: IpAddr) {
    if let Err(e) = gnmi_set(d, &[(neighbor_path(addr), neighbor_json(addr, PEER_AS))]) {
        d.fail(&format!("gNMI Set of neighbor {addr} refused: {e:?}"));
    }
}

/// pygnmi's Capabilities answer, as JSON.
fn capabilities(d: &Ocbgpd) -> Value {
    let code = format!(
        "{}print(json.dumps(gc.capabilities(), default=str))\n",
        client_prologue(d)
    );
    let out = python(d, &code).unwrap_or_else(|e| panic!("pygnmi capabilities: {e}"));
    serde_json::from_str(out.trim()).expect("capabilities JSON")
}

/// The names of the supported models in a Capabilities answer.
fn model_names(caps: &Value) -> Vec<&str> {
    caps["supported_models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .collect()
}

#[test]
fn capabilities_list_the_openconfig_models() {
    let lab = Lab::new("gnmi_caps");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4())));
    let caps = capabilities(&d);
    let models = model_names(&caps);
    for m in [
        "openconfig-bgp",
        "openconfig-network-instance",
        "openconfig-routing-policy",
        "ocbgp",
    ] {
        assert!(
            models.contains(&m),
            "{m} missing from supported models {models:?}"
        );
    }
    let encodings = caps["supported_encodings"].to_string().to_lowercase();
    assert!(encodings.contains("json_ietf"), "{encodings}");
    assert!(
        caps["gnmi_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("0.")),
        "{caps}"
    );
}

#[test]
fn set_neighbor_and_stream_its_session_state() {
    let lab = Lab::new("gnmi_sub");
    let (_r1, r2, d, g) = setup(&lab);
    let peer = r2.ipv4();
    let path = format!("{}/state/session-state", neighbor_path(peer));

    // Subscribe before the neighbor exists: the path stays subscribed.
    let sub = d.on_change_subscriber("subscriber", &path);
    let responses = || subscriber_responses(&sub);
    let synced = wait_until(Duration::from_secs(15), || {
        responses().iter().any(|r| r.contains("sync_response"))
    });
    assert!(
        synced,
        "no sync_response on the subscription; subscriber log:\n{}",
        sub.log()
    );

    let t0 = Instant::now();
    add_neighbor(&d, peer);
    let up_at = wait_until(UP, || responses().iter().any(|r| r.contains("ESTABLISHED")));
    assert!(
        up_at,
        "no ESTABLISHED update within {UP:?}; subscriber log:\n{}\nocbgpd:\n{}",
        sub.log(),
        d.log()
    );
    eprintln!("ESTABLISHED streamed {:?} after the Set", t0.elapsed());
    // Before it, the neighbor's first state (it did not exist at subscribe time).
    let first = responses()
        .into_iter()
        .find(|r| r.contains("session-state"))
        .unwrap_or_default();
    eprintln!("first session-state update: {first}");
    // The subscription agrees with Get.
    assert_eq!(d.session_state(peer), SessionState::Established);
    let seen = responses().len();

    g.process().kill();
    let t1 = Instant::now();
    let is_down = |r: &String| {
        r.contains("\"delete\"")
            || ["IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM"]
                .iter()
                .any(|s| r.contains(&format!("\"{s}\"")))
    };
    let down = wait_until(Duration::from_secs(20), || {
        responses().iter().skip(seen).any(is_down)
    });
    assert!(
        down,
        "no update leaving ESTABLISHED within 20 s of gobgpd's stop; subscriber log:\n{}\nocbgpd:\n{}",
        sub.log(),
        d.log()
    );
    let line = responses()
        .into_iter()
        .skip(seen)
        .find(|r| is_down(r))
        .unwrap_or_default();
    eprintln!(
        "drop streamed {:?} after gobgpd was killed: {line}",
        t1.elapsed()
    );
    assert!(sub.running(), "the subscription ended: {}", sub.log());
    assert_ne!(d.session_state(peer), SessionState::Established);
}

#[test]
fn import_policy_set_by_gnmi_filters_without_reset() {
    let lab = Lab::new("gnmi_pol");
    let (r1, r2, d, _g) = setup(&lab);
    let peer = r2.ipv4();
    add_neighbor(&d, peer);
    // A second real peer that receives what ocbgpd advertises.
    let r3 = lab.host("r3");
    let sink = Gobgp::start(
        &r3,
        &BgpConfig::new(SINK_AS, r3.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), OC_AS).families(&[Family::Ipv4Unicast])),
    );
    if let Err(e) = gnmi_set(
        &d,
        &[(neighbor_path(r3.ipv4()), neighbor_json(r3.ipv4(), SINK_AS))],
    ) {
        d.fail(&format!(
            "gNMI Set of neighbor {} refused: {e:?}",
            r3.ipv4()
        ));
    }
    d.wait_established(peer, UP);
    d.wait_established(r3.ipv4(), UP);
    wait_loc_rib(&d, "both gobgpd routes", |r| {
        r.iter().any(|p| p == KEEP) && r.iter().any(|p| p == BLOCK)
    });
    wait_sink(&sink, r1.ipv4(), "both routes", |r| {
        r.iter().any(|p| p == KEEP) && r.iter().any(|p| p == BLOCK)
    });
    let transitions_path = format!("{}/state/established-transitions", neighbor_path(peer));
    let before = get_leaf(&d, &transitions_path).unwrap_or_else(|e| d.fail(&e));

    let policy = json!({
        "defined-sets": {"prefix-sets": {"prefix-set": [{
            "name": "BLOCKED",
            "config": {"name": "BLOCKED", "mode": "IPV4"},
            "prefixes": {"prefix": [{
                "ip-prefix": BLOCK, "masklength-range": "exact",
                "config": {"ip-prefix": BLOCK, "masklength-range": "exact"}
            }]}
        }]}},
        "policy-definitions": {"policy-definition": [{
            "name": "DROP-BLOCKED",
            "config": {"name": "DROP-BLOCKED"},
            "statements": {"statement": [{
                "name": "10",
                "config": {"name": "10"},
                "conditions": {"match-prefix-set": {"config": {"prefix-set": "BLOCKED", "match-set-options": "ANY"}}},
                "actions": {"config": {"policy-result": "REJECT_ROUTE"}}
            }]}
        }]}
    });
    let apply = json!({"import-policy": ["DROP-BLOCKED"], "default-import-policy": "ACCEPT_ROUTE"});
    if let Err(e) = gnmi_set(
        &d,
        &[
            ("/routing-policy".to_string(), policy),
            (
                format!("{}/apply-policy/config", neighbor_path(peer)),
                apply,
            ),
        ],
    ) {
        d.fail(&format!("gNMI Set of the import policy refused: {e:?}"));
    }
    let rib = wait_loc_rib(&d, "BLOCK gone", |r| !r.iter().any(|p| p == BLOCK));
    // The second peer no longer receives it either; KEEP stays.
    let got = wait_sink(&sink, r1.ipv4(), "BLOCK withdrawn, KEEP kept", |r| {
        r.iter().any(|p| p == KEEP) && !r.iter().any(|p| p == BLOCK)
    });
    eprintln!("second peer after the policy: {got:?}");
    assert!(
        rib.iter().any(|p| p == KEEP),
        "{KEEP} left the loc-rib too: {rib:?}"
    );
    assert_eq!(d.session_state(peer), SessionState::Established);
    let after = get_leaf(&d, &transitions_path).unwrap_or_else(|e| d.fail(&e));
    assert_eq!(
        before, after,
        "established-transitions changed: the session was reset"
    );
    // The applied policy reads back.
    let applied = d
        .try_gnmi_get(&format!(
            "{}/apply-policy/config/import-policy",
            neighbor_path(peer)
        ))
        .unwrap_or_else(|e| d.fail(&e));
    assert!(
        Value::Array(applied.clone())
            .to_string()
            .contains("DROP-BLOCKED"),
        "{applied:?}"
    );
}

#[test]
fn bad_set_is_refused_and_changes_nothing() {
    let lab = Lab::new("gnmi_bad");
    let (_r1, r2, d, _g) = setup(&lab);
    let peer = r2.ipv4();
    add_neighbor(&d, peer);
    let peer_as = format!("{}/config/peer-as", neighbor_path(peer));
    assert_eq!(
        get_leaf(&d, &peer_as).unwrap_or_else(|e| d.fail(&e)),
        PEER_AS.to_string()
    );

    let bad_value = gnmi_set(&d, &[(peer_as.clone(), json!("abc"))]);
    match &bad_value {
        Err((code, _)) => assert_eq!(code, "INVALID_ARGUMENT", "{bad_value:?}"),
        Ok(()) => panic!("peer-as \"abc\" accepted"),
    }
    let unknown = gnmi_set(
        &d,
        &[(
            format!("{}/config/no-such-leaf", neighbor_path(peer)),
            json!(1),
        )],
    );
    // A path the schema lacks is an invalid argument of a Set
    // (gnmi/README.md, Errors).
    match &unknown {
        Err((code, _)) => assert_eq!(code, "INVALID_ARGUMENT", "{unknown:?}"),
        Ok(()) => panic!("unknown leaf accepted"),
    }
    // A good and a bad update in one Set: all or nothing.
    let mixed = gnmi_set(
        &d,
        &[
            (
                format!("{}/config/description", neighbor_path(peer)),
                json!("changed"),
            ),
            (peer_as.clone(), json!("abc")),
        ],
    );
    assert!(mixed.is_err(), "mixed Set accepted");
    assert_eq!(
        get_leaf(&d, &peer_as).unwrap_or_else(|e| d.fail(&e)),
        PEER_AS.to_string()
    );
    let desc = d.try_gnmi_get(&format!("{}/config/description", neighbor_path(peer)));
    assert!(
        !format!("{desc:?}").contains("changed"),
        "description changed by a refused Set: {desc:?}"
    );
    d.process().assert_running();
}

#[test]
fn once_poll_and_sample_deliver_with_sync_response() {
    let lab = Lab::new("gnmi_modes");
    let (_r1, r2, d, _g) = setup(&lab);
    let peer = r2.ipv4();
    let routes = peer_with_both_routes(&d, peer);
    let state = format!("{}/state/session-state", neighbor_path(peer));
    let code = format!(
        r#"{prologue}
import time
out = {{}}
# ONCE over the Loc-RIB (a streamed table): every route, sync_response, end.
once = gc.subscribe2(subscribe={{"subscription": [{{"path": {routes:?}}}], "mode": "once", "encoding": "json_ietf"}})
out["once"] = [m for m in once]
# POLL: the values and sync_response at the start and after each Poll.
poll = gc.subscribe2(subscribe={{"subscription": [{{"path": {state:?}}}], "mode": "poll", "encoding": "json_ietf"}})
out["poll"] = [poll.get_update(10), poll.get_update(10)]
poll.close()
# SAMPLE every second: the values, sync_response, then a sample a second.
sample = gc.subscribe2(subscribe={{"subscription": [{{"path": {state:?}, "mode": "sample", "sample_interval": 1000000000}}], "mode": "stream", "encoding": "json_ietf"}})
out["sample_first"] = sample.get_update(10)
t0 = time.time()
out["samples"] = [sample.get_update(10), sample.get_update(10)]
out["sample_secs"] = time.time() - t0
sample.close()
print(json.dumps(out, default=str), flush=True)
# pygnmi's subscription threads outlive close(): end here.
import os
os._exit(0)
"#,
        prologue = client_prologue(&d),
    );
    let out = python(&d, &code).unwrap_or_else(|e| d.fail(&format!("pygnmi script failed: {e}")));
    let v: Value = serde_json::from_str(out.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("pygnmi output {out:?}: {e}"));

    // ONCE: updates with both routes, then sync_response as the last message.
    let once = v["once"].as_array().expect("ONCE messages");
    let (last, updates) = once.split_last().expect("ONCE sent something");
    assert_eq!(
        last["sync_response"], true,
        "ONCE did not end with sync_response: {once:?}"
    );
    let text = Value::Array(updates.to_vec()).to_string();
    for p in [KEEP, BLOCK] {
        assert!(text.contains(p), "ONCE lacks {p}: {text}");
    }
    assert!(
        updates.iter().all(|m| m.get("sync_response").is_none()),
        "{once:?}"
    );

    // POLL: each round has the value and a sync_response.
    for (i, round) in v["poll"]
        .as_array()
        .expect("POLL rounds")
        .iter()
        .enumerate()
    {
        assert_eq!(round["sync_response"], true, "POLL round {i}: {round}");
        assert!(
            round.to_string().contains("ESTABLISHED"),
            "POLL round {i}: {round}"
        );
    }

    // SAMPLE: value and sync_response first, then samples about a second apart.
    let first = &v["sample_first"];
    assert_eq!(first["sync_response"], true, "{first}");
    assert!(first.to_string().contains("ESTABLISHED"), "{first}");
    for s in v["samples"].as_array().expect("samples") {
        assert!(
            s.to_string().contains("ESTABLISHED"),
            "sample without the value: {s}"
        );
        assert!(
            s.get("sync_response").is_none(),
            "a second sync_response: {s}"
        );
    }
    let secs = v["sample_secs"].as_f64().unwrap();
    assert!(
        (0.9..6.0).contains(&secs),
        "two samples at 1 s took {secs} s"
    );
}

#[test]
fn loc_rib_on_change_streams_new_and_withdrawn_routes() {
    let lab = Lab::new("gnmi_ribsub");
    let (_r1, r2, d, g) = setup(&lab);
    let peer = r2.ipv4();
    let routes = peer_with_both_routes(&d, peer);
    let sub = d.on_change_subscriber("rib-subscriber", &routes);
    let responses = || subscriber_responses(&sub);
    let synced = wait_until(Duration::from_secs(15), || {
        responses().iter().any(|r| r.contains("sync_response"))
    });
    assert!(synced, "no sync_response; subscriber log:\n{}", sub.log());
    let first = responses().join("\n");
    assert!(
        first.contains(KEEP) && first.contains(BLOCK),
        "initial routes missing: {first}"
    );
    let seen = responses().len();

    const NEW: &str = "192.0.2.64/26";
    g.add_route(&Originated::new(NEW));
    let added = wait_until(ROUTE, || {
        responses()
            .iter()
            .skip(seen)
            .any(|r| r.contains(NEW) && r.contains("\"val\""))
    });
    assert!(added, "no update for {NEW}; subscriber log:\n{}", sub.log());
    let seen = responses().len();
    g.delete_route(NEW);
    let deleted = wait_until(ROUTE, || {
        responses()
            .iter()
            .skip(seen)
            .any(|r| r.contains("\"delete\"") && r.contains(NEW))
    });
    assert!(
        deleted,
        "no delete for {NEW}; subscriber log:\n{}",
        sub.log()
    );
    assert!(sub.running(), "the subscription ended: {}", sub.log());
}

/// Configures `peer` (gobgpd) on `d`, waits for the session and for both
/// of its routes in the Loc-RIB; returns the IPv4 Loc-RIB routes path.
fn peer_with_both_routes(d: &Ocbgpd, peer: IpAddr) -> String {
    add_neighbor(d, peer);
    d.wait_established(peer, UP);
    wait_loc_rib(d, "both gobgpd routes", |r| {
        r.iter().any(|p| p == KEEP) && r.iter().any(|p| p == BLOCK)
    });
    format!("{BGP}/rib/afi-safis/afi-safi[afi-safi-name=IPV4_UNICAST]/ipv4-unicast/loc-rib/routes")
}

/// A leaf ocbgpd does not implement (deviated in ocbgp-deviations) is
/// refused by the schema: INVALID_ARGUMENT naming the leaf, and nothing of
/// the Set is applied (a supported leaf in the same Set stays unset).
/// Capabilities list the deviation module.
#[test]
fn deviated_leaf_is_refused_with_its_path_and_nothing_changes() {
    let lab = Lab::new("gnmi_dev");
    let (_r1, r2, d, _g) = setup(&lab);
    add_neighbor(&d, r2.ipv4());
    let n = neighbor_path(r2.ipv4());
    let e = gnmi_set(
        &d,
        &[
            (format!("{n}/config/description"), json!("changed")),
            (format!("{n}/config/route-flap-damping"), json!(true)),
        ],
    )
    .expect_err("a deviated leaf is refused");
    assert_eq!(e.0, "INVALID_ARGUMENT", "{e:?}");
    assert!(
        e.1.contains("route-flap-damping"),
        "the error names the leaf: {e:?}"
    );
    assert!(e.1.contains("neighbor"), "the error names where: {e:?}");
    let desc = get_leaf(&d, &format!("{n}/config/description"));
    assert!(
        desc.as_deref() != Ok("changed"),
        "nothing of the Set applied: {desc:?}"
    );

    let caps = capabilities(&d);
    let models = model_names(&caps);
    assert!(models.contains(&"ocbgp-deviations"), "{models:?}");
}

/// The commits of `/ocbgp:commit-history` in the values of a Get.
fn commits_in(vals: &[Value]) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                for (k, val) in m {
                    match val {
                        Value::Array(a) if k == "commit" || k.ends_with(":commit") => {
                            out.extend(a.iter().cloned())
                        }
                        _ => walk(val, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    vals.iter().for_each(|v| walk(v, &mut out));
    out.sort_by_key(|c| c["id"].as_u64().or_else(|| c["id"].as_str()?.parse().ok()));
    out
}

/// The commit history read by a gNMI Get (pygnmi).
fn commit_history(d: &Ocbgpd) -> Vec<Value> {
    commits_in(
        &d.try_gnmi_get("/ocbgp:commit-history")
            .unwrap_or_else(|e| d.fail(&format!("Get commit-history: {e}"))),
    )
}

fn field(c: &Value, name: &str) -> Option<String> {
    leaf(&c[name], name)
}

/// pygnmi Sets, then a pygnmi Get of `/ocbgp:commit-history` (state):
/// the start-up commit (FILE) and one GNMI commit per Set, with ids,
/// RFC 3339 times and the number of changes each made.
#[test]
fn commit_history_lists_gnmi_sets_with_their_changes() {
    let lab = Lab::new("gnmi_history");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4())));
    let peer: IpAddr = "192.0.2.7".parse().unwrap();
    add_neighbor(&d, peer);
    gnmi_set(
        &d,
        &[(
            format!("{}/config/description", neighbor_path(peer)),
            json!("history"),
        )],
    )
    .unwrap_or_else(|e| d.fail(&format!("Set description: {e:?}")));

    let code = format!(
        "{}r = gc.get(path=['/ocbgp:commit-history'], datatype='state', encoding='json_ietf')\nprint(json.dumps(r, default=str))\n",
        client_prologue(&d)
    );
    let out = python(&d, &code).unwrap_or_else(|e| d.fail(&format!("pygnmi Get: {e}")));
    let reply: Value = serde_json::from_str(out.trim()).expect("pygnmi JSON");
    let vals: Vec<Value> = reply["notification"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["update"].as_array().into_iter().flatten())
        .map(|u| u["val"].clone())
        .collect();
    let commits = commits_in(&vals);
    let origins: Vec<String> = commits
        .iter()
        .map(|c| field(c, "origin").unwrap_or_default())
        .collect();
    assert_eq!(origins, ["FILE", "GNMI", "GNMI"], "history: {commits:?}");
    // The audit trail: each Set's client address (pygnmi's, on the host).
    for c in &commits[1..] {
        let source = field(c, "source-address").unwrap_or_default();
        assert!(
            source.parse::<IpAddr>().is_ok(),
            "source-address {source:?}: {c}"
        );
    }
    let ids: Vec<String> = commits.iter().filter_map(|c| field(c, "id")).collect();
    assert_eq!(ids, ["1", "2", "3"], "history: {commits:?}");
    for c in &commits {
        let time = field(c, "time").unwrap_or_default();
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "time {time:?} is not RFC 3339 UTC"
        );
    }
    let changes = |c: &Value| {
        field(c, "number-of-changes")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(
        changes(&commits[1]) > 1,
        "the neighbor Set: {:?}",
        commits[1]
    );
    assert_eq!(
        changes(&commits[2]),
        1,
        "the description Set: {:?}",
        commits[2]
    );
}

/// A SetRequest built with pygnmi's gnmi_pb2 plus hand-encoded extensions
/// (pygnmi's gnmi_ext lacks the Commit extension), sent with grpcio.
fn raw_set_prologue(d: &Ocbgpd) -> String {
    let g = d.config().gnmi_addr();
    format!(
        r#"
import json, grpc
from pygnmi.spec.v080 import gnmi_pb2
ch = grpc.insecure_channel("{ip}:{port}")
call = ch.unary_unary("/gnmi.gNMI/Set", request_serializer=lambda b: b,
                      response_deserializer=gnmi_pb2.SetResponse.FromString)
def varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | 0x80]) if n else bytes([b])
        if not n:
            return out
def ld(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload
def commit_ext(cid, action, payload=b""):
    return ld(5, ld(4, ld(1, cid.encode()) + ld(action, payload)))
def duration(secs):
    return ld(1, varint(1 << 3) + varint(secs))
COMMIT, CONFIRM, CANCEL, SET_DURATION = 2, 3, 4, 5
def path(elems):
    p = gnmi_pb2.Path()
    for e in elems:
        name, _, keys = e.partition("[")
        pe = p.elem.add(name=name)
        if keys:
            k, _, v = keys.rstrip("]").partition("=")
            pe.key[k] = v
    return p
def set_raw(updates, ext=b""):
    req = gnmi_pb2.SetRequest()
    for elems, value in updates:
        u = req.update.add()
        u.path.CopyFrom(path(elems))
        u.val.json_ietf_val = json.dumps(value).encode()
    try:
        # gNMI requires a login once a user exists (the test keeps "ops").
        call(req.SerializeToString() + ext, timeout=10,
             metadata=[("username", "ops"), ("password", "ops")])
        return {{"ok": True}}
    except grpc.RpcError as e:
        return {{"ok": False, "code": e.code().name, "details": e.details()}}
"#,
        ip = g.ip(),
        port = g.port()
    )
}

/// Runs `body` after [`raw_set_prologue`]; the last line it prints, as JSON.
fn raw_set(d: &Ocbgpd, body: &str) -> Value {
    let code = format!("{}{body}", raw_set_prologue(d));
    let out = python(d, &code).unwrap_or_else(|e| d.fail(&format!("raw Set script: {e}")));
    serde_json::from_str(out.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| d.fail(&format!("raw Set output {out:?}: {e}")))
}

/// The gNMI Commit extension: a confirmed commit not confirmed in time is
/// undone (history: TIMEOUT with a comment); confirmed, it stays; cancelled,
/// it is undone at once; a second commit, a plain Set and a wrong id are
/// refused while one is pending; NETCONF sees the same pending commit (the
/// Commit id is its persist-id).
#[test]
fn gnmi_confirmed_commit_extension() {
    let lab = Lab::new("gnmi_commit_ext");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4())));
    // A user of its own first: with users configured, gNMI needs a login
    // (and a rule letting it write).
    d.gnmi_update(NACM, administrators(&["ops"]));
    d.gnmi_update(
        "/ocbgp:management/users/user[name=ops]",
        json!({"name": "ops", "config": {"name": "ops", "password": "$0$ops"}}),
    );
    d.set_gnmi_login("ops", "ops");
    // A Set adding user `n`, with the extension `ext` (Python bytes).
    let add = |n: &str, ext: &str| {
        format!(
            "print(json.dumps(set_raw([(['ocbgp:management', 'users', 'user[name={n}]'], \
             {{'name': '{n}', 'config': {{'name': '{n}', 'password': '$0$x'}}}})], {ext})))\n"
        )
    };
    let user_path = |n: &str| format!("/ocbgp:management/users/user[name={n}]/config/name");
    let has_user = |n: &str| d.try_gnmi_get(&user_path(n)).is_ok_and(|v| !v.is_empty());
    let last = |d: &Ocbgpd| commit_history(d).last().cloned().unwrap_or_default();

    // 1. Commit with a 12 s rollback duration, never confirmed (long
    // enough for the checks below on a loaded machine: each runs a
    // Python client).
    let v = raw_set(&d, &add("a", "commit_ext('c1', COMMIT, duration(12))"));
    assert_eq!(v["ok"], true, "confirmed commit: {v}");
    assert!(has_user("a"), "the confirmed commit was not applied");
    // While pending: a plain Set, a second commit and a wrong id are refused.
    let v = raw_set(&d, &add("b", "b''"));
    assert_eq!(
        v["code"], "FAILED_PRECONDITION",
        "plain Set while pending: {v}"
    );
    let v = raw_set(&d, &add("b", "commit_ext('c9', COMMIT, duration(60))"));
    assert_eq!(v["code"], "FAILED_PRECONDITION", "second commit: {v}");
    let v = raw_set(
        &d,
        "print(json.dumps(set_raw([], commit_ext('nope', CONFIRM))))\n",
    );
    assert_eq!(v["code"], "INVALID_ARGUMENT", "wrong id: {v}");
    assert!(!has_user("b"), "a refused Set changed running");
    // No confirm: undone once the duration passes (bounded wait).
    let t0 = Instant::now();
    let undone = wait_until(Duration::from_secs(30), || !has_user("a"));
    assert!(undone, "not rolled back after {:?}", t0.elapsed());
    let c = last(&d);
    assert_eq!(field(&c, "origin").as_deref(), Some("TIMEOUT"), "{c:?}");
    assert!(field(&c, "comment").is_some_and(|s| !s.is_empty()), "{c:?}");
    let v = raw_set(
        &d,
        "print(json.dumps(set_raw([], commit_ext('c1', CONFIRM))))\n",
    );
    assert_eq!(
        v["code"], "FAILED_PRECONDITION",
        "confirm after timeout: {v}"
    );

    // 2. Commit, then confirm: kept past the duration.
    let t0 = Instant::now();
    let v = raw_set(&d, &add("c", "commit_ext('c2', COMMIT, duration(5))"));
    assert_eq!(v["ok"], true, "confirmed commit: {v}");
    let v = raw_set(
        &d,
        "print(json.dumps(set_raw([], commit_ext('c2', CONFIRM))))\n",
    );
    assert_eq!(v["ok"], true, "confirm (after {:?}): {v}", t0.elapsed());
    let past = Duration::from_secs(7).saturating_sub(t0.elapsed());
    let gone = wait_until(past, || !has_user("c"));
    assert!(!gone, "a confirmed commit was rolled back");
    assert_eq!(field(&last(&d), "origin").as_deref(), Some("GNMI"));

    // 3. Commit, then cancel: undone at once.
    let v = raw_set(&d, &add("e", "commit_ext('c3', COMMIT, duration(600))"));
    assert_eq!(v["ok"], true, "confirmed commit: {v}");
    assert!(has_user("e"));
    let v = raw_set(
        &d,
        "print(json.dumps(set_raw([], commit_ext('c3', CANCEL))))\n",
    );
    assert_eq!(v["ok"], true, "cancel: {v}");
    assert!(!has_user("e"), "cancel did not undo at once");
    assert!(has_user("c"), "cancel undid more than its commit");

    // 4. The same mechanism as NETCONF's: a gNMI confirmed commit is
    // confirmed over NETCONF by its id as persist-id; a plain NETCONF
    // commit is refused meanwhile.
    let v = raw_set(
        &d,
        &add("admin", "commit_ext('shared', COMMIT, duration(600))"),
    );
    assert_eq!(v["ok"], true, "confirmed commit: {v}");
    let nc = r#"
import json
from ncclient import manager
from ncclient.operations import RPCError
m = manager.connect(host="127.0.0.1", port=830, username="admin", password="x",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=20)
try:
    m.commit()
    plain = "accepted"
except RPCError as e:
    plain = e.message
m.commit(persist_id="shared")
m.close_session()
print(json.dumps({"plain": plain}))
"#;
    let out = python(&d, nc).unwrap_or_else(|e| d.fail(&format!("ncclient: {e}")));
    let v: Value = serde_json::from_str(out.trim().lines().last().unwrap_or("")).unwrap();
    assert!(
        v["plain"]
            .as_str()
            .is_some_and(|m| m.contains("persist-id")),
        "plain NETCONF commit while a gNMI one is pending: {v}"
    );
    let v = raw_set(
        &d,
        "print(json.dumps(set_raw([], commit_ext('shared', CONFIRM))))\n",
    );
    assert_eq!(
        v["code"], "FAILED_PRECONDITION",
        "already confirmed over NETCONF: {v}"
    );
    assert!(has_user("admin"));
}

/// gNMI Set with deletes, replaces and updates (pygnmi, JSON_IETF): Ok, or
/// Err(gRPC code name, message).
fn gnmi_set_ops(
    d: &Ocbgpd,
    delete: &[String],
    replace: &[(String, Value)],
    update: &[(String, Value)],
) -> Result<(), (String, String)> {
    let pairs = |ops: &[(String, Value)]| {
        serde_json::to_string(&ops.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>()).unwrap()
    };
    gnmi_set_python(
        d,
        &format!(
            "dels = json.loads({:?})\nreps = [tuple(u) for u in json.loads({:?})]\nups = [tuple(u) for u in json.loads({:?})]\n",
            serde_json::to_string(delete).unwrap(),
            pairs(replace),
            pairs(update)
        ),
    )
}

/// gNMI Set of the lists `dels`, `reps` and `ups` that the Python code
/// `ops` makes (for values too large for a command line).
fn gnmi_set_python(d: &Ocbgpd, ops: &str) -> Result<(), (String, String)> {
    let code = format!(
        r#"{prologue}
{ops}
try:
    gc.set(delete=dels or None, replace=reps or None, update=ups or None, encoding="json_ietf")
    print(json.dumps({{"ok": True}}))
except Exception as e:
    err = getattr(e, "orig_exc", None)
    code = err.code().name if hasattr(err, "code") else "UNKNOWN"
    det = err.details() if hasattr(err, "details") else str(e)
    print(json.dumps({{"ok": False, "code": code, "details": det}}))
"#,
        prologue = client_prologue(d),
    );
    let out = python(d, &code).unwrap_or_else(|e| panic!("pygnmi Set script failed: {e}"));
    let v: Value = serde_json::from_str(out.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("pygnmi Set output {out:?}: {e}"));
    if v["ok"] == true {
        Ok(())
    } else {
        Err((
            v["code"].as_str().unwrap_or("").to_string(),
            v["details"].as_str().unwrap_or("").to_string(),
        ))
    }
}

/// The values of a leaf-list `name` under the container at `path`, in
/// order, by gNMI Get of the container.
fn leaf_list_values(d: &Ocbgpd, path: &str, name: &str) -> Vec<String> {
    let vals = d.try_gnmi_get(path).unwrap_or_else(|e| d.fail(&e));
    fn find(v: &Value, name: &str) -> Option<Vec<String>> {
        match v {
            Value::Object(m) => m.iter().find_map(|(k, val)| {
                if k == name || k.ends_with(&format!(":{name}")) {
                    val.as_array().map(|a| {
                        a.iter()
                            .map(|x| x.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                } else {
                    find(val, name)
                }
            }),
            Value::Array(a) => a.iter().find_map(|x| find(x, name)),
            _ => None,
        }
    }
    vals.iter().find_map(|v| find(v, name)).unwrap_or_default()
}

/// Policies for the chains: DROP-BLOCKED rejects BLOCK (and decides
/// nothing else), ACCEPT-ALL accepts everything. [DROP-BLOCKED,
/// ACCEPT-ALL] drops BLOCK; [ACCEPT-ALL, DROP-BLOCKED] keeps it.
fn chain_policies() -> Value {
    json!({
        "defined-sets": {"prefix-sets": {"prefix-set": [{
            "name": "BLOCKED",
            "config": {"name": "BLOCKED", "mode": "IPV4"},
            "prefixes": {"prefix": [{
                "ip-prefix": BLOCK, "masklength-range": "exact",
                "config": {"ip-prefix": BLOCK, "masklength-range": "exact"}
            }]}
        }]}},
        "policy-definitions": {"policy-definition": [
            {"name": "DROP-BLOCKED", "config": {"name": "DROP-BLOCKED"},
             "statements": {"statement": [{
                "name": "10", "config": {"name": "10"},
                "conditions": {"match-prefix-set": {"config": {"prefix-set": "BLOCKED", "match-set-options": "ANY"}}},
                "actions": {"config": {"policy-result": "REJECT_ROUTE"}}}]}},
            {"name": "ACCEPT-ALL", "config": {"name": "ACCEPT-ALL"},
             "statements": {"statement": [{
                "name": "10", "config": {"name": "10"},
                "actions": {"config": {"policy-result": "ACCEPT_ROUTE"}}}]}}
        ]}
    })
}

#[test]
fn import_policy_chain_replace_and_delete_over_gnmi() {
    let lab = Lab::new("gnmi_chain");
    let (_r1, r2, d, _g) = setup(&lab);
    let peer = r2.ipv4();
    add_neighbor(&d, peer);
    d.wait_established(peer, UP);
    wait_loc_rib(&d, "both gobgpd routes", |r| {
        r.iter().any(|p| p == KEEP) && r.iter().any(|p| p == BLOCK)
    });
    let transitions_path = format!("{}/state/established-transitions", neighbor_path(peer));
    let before = get_leaf(&d, &transitions_path).unwrap_or_else(|e| d.fail(&e));
    let config = format!("{}/apply-policy/config", neighbor_path(peer));
    let chain = format!("{config}/import-policy");
    let set = |delete: &[String], replace: &[(String, Value)], update: &[(String, Value)]| {
        if let Err(e) = gnmi_set_ops(&d, delete, replace, update) {
            d.fail(&format!("gNMI Set refused: {e:?}"));
        }
    };

    set(
        &[],
        &[],
        &[
            ("/routing-policy".to_string(), chain_policies()),
            (
                config.clone(),
                json!({"import-policy": ["ACCEPT-ALL"], "default-import-policy": "REJECT_ROUTE"}),
            ),
        ],
    );
    assert_eq!(
        leaf_list_values(&d, &config, "import-policy"),
        ["ACCEPT-ALL"]
    );
    // Replace: exactly these, in this order (a merge would give
    // [ACCEPT-ALL, DROP-BLOCKED], which keeps BLOCK).
    set(
        &[],
        &[(chain.clone(), json!(["DROP-BLOCKED", "ACCEPT-ALL"]))],
        &[],
    );
    assert_eq!(
        leaf_list_values(&d, &config, "import-policy"),
        ["DROP-BLOCKED", "ACCEPT-ALL"]
    );
    wait_loc_rib(&d, "BLOCK dropped by the chain", |r| {
        r.iter().any(|p| p == KEEP) && !r.iter().any(|p| p == BLOCK)
    });
    // The other order: ACCEPT-ALL decides first, BLOCK comes back.
    set(
        &[],
        &[(chain.clone(), json!(["ACCEPT-ALL", "DROP-BLOCKED"]))],
        &[],
    );
    assert_eq!(
        leaf_list_values(&d, &config, "import-policy"),
        ["ACCEPT-ALL", "DROP-BLOCKED"]
    );
    wait_loc_rib(&d, "BLOCK back", |r| {
        r.iter().any(|p| p == KEEP) && r.iter().any(|p| p == BLOCK)
    });
    // Delete of one value.
    set(&[format!("{chain}[.=ACCEPT-ALL]")], &[], &[]);
    assert_eq!(
        leaf_list_values(&d, &config, "import-policy"),
        ["DROP-BLOCKED"]
    );
    // Delete of the leaf-list: every value goes.
    set(std::slice::from_ref(&chain), &[], &[]);
    assert!(
        leaf_list_values(&d, &config, "import-policy").is_empty(),
        "import-policy still set"
    );
    // send-community-type, a leaf-list of the neighbor's config.
    let communities = format!("{}/config/send-community-type", neighbor_path(peer));
    set(
        &[],
        &[],
        &[(communities.clone(), json!(["STANDARD", "EXTENDED"]))],
    );
    set(&[], &[(communities.clone(), json!(["LARGE"]))], &[]);
    let config_path = format!("{}/config", neighbor_path(peer));
    assert_eq!(
        leaf_list_values(&d, &config_path, "send-community-type"),
        ["LARGE"]
    );
    set(&[communities], &[], &[]);
    assert!(leaf_list_values(&d, &config_path, "send-community-type").is_empty());

    assert_eq!(d.session_state(peer), SessionState::Established);
    let after = get_leaf(&d, &transitions_path).unwrap_or_else(|e| d.fail(&e));
    assert_eq!(
        before, after,
        "established-transitions changed: the session was reset"
    );
}

#[test]
fn bad_and_oversized_sets_report_their_real_error() {
    let lab = Lab::new("gnmi_errs");
    let (_r1, r2, d, _g) = setup(&lab);
    let peer = r2.ipv4();
    add_neighbor(&d, peer);
    let description = format!("{}/config/description", neighbor_path(peer));
    gnmi_set(&d, &[(description.clone(), json!("kept"))])
        .unwrap_or_else(|e| d.fail(&format!("{e:?}")));

    // 45 good updates and a bad one: the per-operation results of all 46
    // would not fit in the trailers grpcio accepts (it would report
    // RESOURCE_EXHAUSTED); the real code arrives.
    let mut updates: Vec<(String, Value)> = (0..45)
        .map(|i| {
            (
                format!(
                    "{}/config/description",
                    neighbor_path(format!("2001:db8::{i:x}").parse().unwrap())
                ),
                json!("x"),
            )
        })
        .collect();
    updates.push((
        format!("{}/config/peer-as", neighbor_path(peer)),
        json!("abc"),
    ));
    match gnmi_set(&d, &updates) {
        Err((code, message)) => {
            assert_eq!(code, "INVALID_ARGUMENT", "{message}");
            assert!(message.contains("peer-as"), "{message}");
        }
        Ok(()) => d.fail("a Set with a bad peer-as accepted"),
    }
    // A 1 MB key.
    let big_key = format!(
        "dels = []\nreps = []\nups = [({:?} % ('k' * (1 << 20)), 'x')]\n",
        format!("{BGP}/neighbors/neighbor[neighbor-address=%s]/config/description")
    );
    match gnmi_set_python(&d, &big_key) {
        Err((code, message)) => {
            assert_eq!(
                code,
                "INVALID_ARGUMENT",
                "{}",
                &message[..message.len().min(2000)]
            );
            assert!(message.len() < 4096, "{} bytes", message.len());
        }
        Ok(()) => d.fail("a neighbor address of 1 MB accepted"),
    }
    // 20 MB of '[' (pygnmi sends a str as is): not JSON, not a string.
    let deep = format!("dels = []\nreps = []\nups = [({description:?}, '[' * (20 << 20))]\n");
    match gnmi_set_python(&d, &deep) {
        Err((code, message)) => {
            assert_eq!(
                code,
                "INVALID_ARGUMENT",
                "{}",
                &message[..message.len().min(2000)]
            );
            assert!(message.contains("not JSON"), "{message}");
        }
        Ok(()) => d.fail("20 MB of '[' accepted as a description"),
    }
    assert_eq!(
        get_leaf(&d, &description).unwrap_or_else(|e| d.fail(&e)),
        "kept"
    );
}
