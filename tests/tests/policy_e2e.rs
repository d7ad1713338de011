//! Routing policy end to end, with real peers: gobgpd "source" r1 (AS
//! 65010) announces a few routes with different attributes to ocbgpd r2
//! (AS 65001), which passes them on to gobgpd "sink" r3 (AS 65020).
//!
//! A policy `P` is applied by gNMI Set as r3's export policy (default
//! ACCEPT_ROUTE), then replaced case by case (Set replace of
//! `policy-definition[name=P]`, or of a defined set); after each step the
//! test waits (bounded) until the sink's table is exactly what the case
//! expects, computed from the baseline the sink held under an accept-all
//! policy, and checks that the ocbgpd↔sink session was not reset
//! (`established-transitions` unchanged). The last steps put an import
//! policy on r1 (LOCAL_PREF by med-eq / next-hop-in, AS-path prepend) and
//! read the result back from ocbgpd's Loc-RIB.
//!
//! Export policy sees the route as the Loc-RIB holds it (`med-eq`,
//! `next-hop-in`, AS-path conditions), and its prepends land after our own
//! AS on the wire.
//!
//! Extended communities the sink holds are compared as part of
//! `Route::communities`, written `route-target:A:N` / `route-origin:A:N`
//! ([`sink_table`]); large communities are `Route::large_communities`.
//!
//! Tags: BGP routes carry none, so `match-tag-set` sees the tags an earlier
//! `set-tag` of the same evaluation gave (see engine/src/policy/README.md).
//!
//! pygnmi runs in ocbgpd's namespace (gNMI on its default 127.0.0.1:9339).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

/// What a sink should hold after a step, from what the source sent.
type Expect = Box<dyn Fn(&[Route]) -> Vec<Route>>;
/// A check of ocbgpd's Loc-RIB after a step.
type RouteCheck = Box<dyn Fn(&[Route]) -> bool>;
/// gNMI Set updates: (path, JSON value).
type Edits = Vec<(String, Value)>;

const UP: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);

const SRC_AS: u32 = 65010;
const OC_AS: u32 = 65001;
const SINK_AS: u32 = 65020;

const A: &str = "10.1.0.0/16";
const B: &str = "10.1.1.0/24";
const C: &str = "10.2.0.0/24";
/// C's third-party next hop (on the lab segment, no host there).
const C_NH: &str = "192.0.2.99";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";
const POLICY: &str = "/routing-policy/policy-definitions/policy-definition[name=P]";
const PREFIX_SET: &str = "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]";
const NEIGHBOR_SET: &str = "/routing-policy/defined-sets/neighbor-sets/neighbor-set[name=NS]";
const AS_PATH_SET: &str =
    "/routing-policy/defined-sets/bgp-defined-sets/as-path-sets/as-path-set[as-path-set-name=ASP]";
const BGP_SETS: &str = "/routing-policy/defined-sets/bgp-defined-sets";
const TAG_SET: &str = "/routing-policy/defined-sets/tag-sets/tag-set[name=TS]";
const POLICY_Q: &str = "/routing-policy/policy-definitions/policy-definition[name=Q]";

fn ext_set_path(name: &str) -> String {
    format!("{BGP_SETS}/ext-community-sets/ext-community-set[ext-community-set-name={name}]")
}

fn comm_set_path(name: &str) -> String {
    format!("{BGP_SETS}/community-sets/community-set[community-set-name={name}]")
}

fn large_set_path(name: &str) -> String {
    format!("{BGP_SETS}/ocbgp:large-community-sets/large-community-set[large-community-set-name={name}]")
}

fn ext_set(name: &str, members: &[&str]) -> Value {
    json!({"ext-community-set-name": name, "config": {"ext-community-set-name": name, "ext-community-member": members}})
}

fn comm_set(name: &str, members: &[&str]) -> Value {
    json!({"community-set-name": name, "config": {"community-set-name": name, "community-member": members}})
}

fn large_set(name: &str, members: &[&str]) -> Value {
    json!({"large-community-set-name": name, "config": {"large-community-set-name": name, "large-community-member": members}})
}

fn tag_set(tags: &[u32]) -> Value {
    json!({"name": "TS", "config": {"name": "TS", "tag-value": tags}})
}

/// The sink's IPv4 table, with its extended communities (route targets
/// and origins) added to `communities` as `route-target:A:N` text.
fn sink_table(sink: &Gobgp) -> Vec<Route> {
    let mut routes = sink.try_routes(Family::Ipv4Unicast).unwrap_or_default();
    let Ok(text) = sink.try_cli(&["-j", "global", "rib", "-a", "ipv4"]) else {
        return Vec::new();
    };
    let json: Value = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
    for r in &mut routes {
        for path in json[r.prefix.as_str()]
            .as_array()
            .into_iter()
            .flatten()
            .take(1)
        {
            for attr in path["attrs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"] == 16)
            {
                for e in attr["value"].as_array().into_iter().flatten() {
                    let kind = match e["subtype"].as_u64() {
                        Some(2) => "route-target",
                        Some(3) => "route-origin",
                        _ => "other",
                    };
                    r.communities
                        .push(format!("{kind}:{}", e["value"].as_str().unwrap_or("?")));
                }
            }
        }
    }
    routes
}

fn is_ext(c: &str) -> bool {
    c.contains('-')
}

fn neighbor_path(addr: IpAddr) -> String {
    format!("{BGP}/neighbors/neighbor[neighbor-address={addr}]")
}

/// gNMI Set (pygnmi, in ocbgpd's namespace) with `replace` then `update`
/// lists of (path, JSON value); Err with the status on refusal.
fn gnmi_set(
    d: &Ocbgpd,
    replace: &[(String, Value)],
    update: &[(String, Value)],
) -> Result<(), String> {
    let enc = |l: &[(String, Value)]| {
        serde_json::to_string(&l.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>()).unwrap()
    };
    let g = d.config().gnmi_addr();
    let code = format!(
        r#"
import json
from pygnmi.client import gNMIclient
rep = [tuple(u) for u in json.loads({rep:?})]
upd = [tuple(u) for u in json.loads({upd:?})]
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5) as gc:
    try:
        gc.set(replace=rep or None, update=upd or None, encoding="json_ietf")
        print("OK")
    except Exception as e:
        err = getattr(e, "orig_exc", None)
        print("ERR", err.code().name if hasattr(err, "code") else "", err.details() if hasattr(err, "details") else e)
"#,
        rep = enc(replace),
        upd = enc(update),
        host = g.ip().to_string(),
        port = g.port(),
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && stdout.ends_with("OK") {
        Ok(())
    } else {
        Err(format!(
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The neighbor's `state/established-transitions`, as text.
fn transitions(d: &Ocbgpd, peer: IpAddr) -> String {
    let path = format!("{}/state/established-transitions", neighbor_path(peer));
    let vals = d.try_gnmi_get(&path).unwrap_or_else(|e| d.fail(&e));
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Object(m) => m.values().find_map(find),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    vals.iter()
        .find_map(find)
        .unwrap_or_else(|| d.fail(&format!("no established-transitions in {vals:?}")))
}

/// A route as compared: no `best`/`from`, communities sorted.
fn norm(routes: &[Route]) -> Vec<Route> {
    let mut out: Vec<Route> = routes
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.best = false;
            r.from = None;
            r.communities.sort();
            r.large_communities.sort();
            r
        })
        .collect();
    out.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    out.dedup();
    out
}

fn comms(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

/// The policy definition `P` with these statements (each `(conditions,
/// actions)`, named 10, 20, …).
fn policy(statements: &[(Value, Value)]) -> Value {
    named_policy("P", statements)
}

fn named_policy(name: &str, statements: &[(Value, Value)]) -> Value {
    let st: Vec<Value> = statements
        .iter()
        .enumerate()
        .map(|(i, (c, a))| {
            let n = format!("{}", (i + 1) * 10);
            json!({"name": n, "config": {"name": n}, "conditions": c, "actions": a})
        })
        .collect();
    json!({"name": name, "config": {"name": name}, "statements": {"statement": st}})
}

fn result(r: &str) -> Value {
    json!({"config": {"policy-result": r}})
}

fn bgp_cond(v: Value) -> Value {
    json!({"openconfig-bgp-policy:bgp-conditions": v})
}

/// Actions: `bgp` under bgp-actions, then `r` as policy-result.
fn bgp_act(bgp: Value, r: &str) -> Value {
    json!({"config": {"policy-result": r}, "openconfig-bgp-policy:bgp-actions": bgp})
}

fn prefix_set(prefix: &str, range: &str) -> Value {
    json!({"name": "PS", "config": {"name": "PS", "mode": "IPV4"},
           "prefixes": {"prefix": [{"ip-prefix": prefix, "masklength-range": range,
                                    "config": {"ip-prefix": prefix, "masklength-range": range}}]}})
}

fn neighbor_set(addr: IpAddr) -> Value {
    json!({"name": "NS", "config": {"name": "NS", "address": [addr.to_string()]}})
}

fn as_path_set(regex: &str) -> Value {
    json!({"as-path-set-name": "ASP", "config": {"as-path-set-name": "ASP", "as-path-set-member": [regex]}})
}

fn cmp(op: &str, value: u32) -> Value {
    json!({"config": {"operator": format!("openconfig-policy-types:ATTRIBUTE_{op}"), "value": value}})
}

struct Step {
    name: &'static str,
    /// Set replace (path, value).
    replace: Vec<(String, Value)>,
    /// The sink's IPv4 table expected, from the baseline.
    expect: Expect,
}

fn step(
    name: &'static str,
    replace: Vec<(String, Value)>,
    f: impl Fn(&[Route]) -> Vec<Route> + 'static,
) -> Step {
    Step {
        name,
        replace,
        expect: Box::new(f),
    }
}

fn pol(v: Value) -> Vec<(String, Value)> {
    vec![(POLICY.to_string(), v)]
}

/// Baseline with routes kept only where `keep` holds.
fn only(base: &[Route], keep: impl Fn(&Route) -> bool) -> Vec<Route> {
    base.iter().filter(|r| keep(r)).cloned().collect()
}

fn is(p: &'static str) -> impl Fn(&Route) -> bool {
    move |r: &Route| r.prefix == p
}

fn isnt(p: &'static str) -> impl Fn(&Route) -> bool {
    move |r: &Route| r.prefix != p
}

fn map(base: &[Route], f: impl Fn(&mut Route)) -> Vec<Route> {
    base.iter()
        .cloned()
        .map(|mut r| {
            f(&mut r);
            r
        })
        .collect()
}

#[test]
fn policies_set_by_gnmi_shape_what_the_sink_gets() {
    let t0 = Instant::now();
    let lab = Lab::new("policy_e2e");
    let (r1, r2, r3) = (lab.host("r1"), lab.host("r2"), lab.host("r3"));
    let v4 = &[Family::Ipv4Unicast];
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), SRC_AS).families(v4))
                .neighbor(Neighbor::new(r3.ipv4(), SINK_AS).families(v4)),
        ),
    );
    let src = Gobgp::start(
        &r1,
        &BgpConfig::new(SRC_AS, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    let sink = Gobgp::start(
        &r3,
        &BgpConfig::new(SINK_AS, r3.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    src.cli(&[
        "global",
        "rib",
        "add",
        A,
        "origin",
        "igp",
        "med",
        "10",
        "community",
        "65010:1",
        "rt",
        "65010:100",
        "large-community",
        "65010:1:1",
        "-a",
        "ipv4",
    ]);
    src.cli(&[
        "global",
        "rib",
        "add",
        B,
        "origin",
        "egp",
        "aspath",
        "65099 65098",
        "med",
        "20",
        "community",
        "65010:2,65010:3",
        "rt",
        "65010:200",
        "large-community",
        "65010:2:2,65010:3:3",
        "-a",
        "ipv4",
    ]);
    src.add_route(
        &Originated::new(C)
            .med(30)
            .origin(Origin::Incomplete)
            .next_hop(C_NH),
    );

    // P starts as "accept everything" (one empty statement, chain default
    // ACCEPT_ROUTE); the sets the cases use exist from the start.
    let sets = json!({
        "prefix-sets": {"prefix-set": [prefix_set(A, "16..24")]},
        "neighbor-sets": {"neighbor-set": [neighbor_set(r3.ipv4())]},
        "tag-sets": {"tag-set": [tag_set(&[100])]},
        "openconfig-bgp-policy:bgp-defined-sets": {
            "community-sets": {"community-set": [comm_set("CS", &["65010:2"]), comm_set("CS2", &["65001:20"])]},
            "ext-community-sets": {"ext-community-set": [
                ext_set("ECS", &["route-target:65010:100"]),
                ext_set("ECS2", &["route-target:65001:2"]),
                ext_set("ECSRX", &["^route-target:65010:"]),
            ]},
            "as-path-sets": {"as-path-set": [as_path_set("_65099_")]},
            "ocbgp:large-community-sets": {"large-community-set": [
                large_set("LCS", &["65010:1:1"]),
                large_set("LCS2", &["65001:5:5"]),
            ]}
        }
    });
    let init = json!({"defined-sets": sets, "policy-definitions": {"policy-definition": [
        policy(&[(json!({}), json!({}))]),
    ]}});
    let apply_sink = json!({"export-policy": ["P"], "default-export-policy": "ACCEPT_ROUTE"});
    gnmi_set(
        &d,
        &[],
        &[
            ("/routing-policy".to_string(), init),
            (
                format!("{}/apply-policy/config", neighbor_path(r3.ipv4())),
                apply_sink,
            ),
        ],
    )
    .unwrap_or_else(|e| d.fail(&format!("initial policy Set refused: {e}")));

    d.wait_established(r1.ipv4(), UP);
    d.wait_established(r3.ipv4(), UP);
    // Baseline: the three routes as the sink gets them unchanged.
    let mut last = Vec::new();
    let ok = wait_until(UP, || {
        last = norm(&sink_table(&sink));
        last.len() == 3
    });
    assert!(
        ok,
        "sink did not get {A}, {B}, {C} within {UP:?}: {}\nocbgpd:\n{}",
        describe(&last),
        d.log()
    );
    let base = last;
    eprintln!(
        "[{:?}] baseline at the sink:\n{}",
        t0.elapsed(),
        describe(&base)
    );
    assert_eq!(
        base.iter().map(|r| r.prefix.as_str()).collect::<Vec<_>>(),
        [A, B, C],
        "{}",
        describe(&base)
    );
    for r in &base {
        assert_eq!(r.as_path.first(), Some(&OC_AS), "{r}");
        assert_eq!(r.as_path.get(1), Some(&SRC_AS), "{r}");
    }
    // What the source sent arrived: route targets and large communities.
    assert!(
        pick(&base, A).is_some_and(|r| r
            .communities
            .contains(&"route-target:65010:100".to_string())
            && r.large_communities == ["65010:1:1"]),
        "{}",
        describe(&base)
    );
    assert!(
        pick(&base, B).is_some_and(|r| r
            .communities
            .contains(&"route-target:65010:200".to_string())
            && r.large_communities.len() == 2),
        "{}",
        describe(&base)
    );
    eprintln!(
        "ocbgpd's Loc-RIB:\n{}",
        describe(&d.routes(Family::Ipv4Unicast))
    );
    let trans_sink = transitions(&d, r3.ipv4());
    let trans_src = transitions(&d, r1.ipv4());

    let reject = || result("REJECT_ROUTE");
    let prefix_cond = |opt: &str| json!({"match-prefix-set": {"config": {"prefix-set": "PS", "match-set-options": opt}}});
    let accept_all = || pol(policy(&[(json!({}), json!({}))]));

    let steps: Vec<Step> = vec![
        // match-prefix-set 10.1.0.0/16 16..24: A and B.
        step(
            "prefix-set ANY 16..24 REJECT",
            pol(policy(&[(prefix_cond("ANY"), reject())])),
            |b| only(b, is(C)),
        ),
        step(
            "prefix-set edited to exact",
            vec![(PREFIX_SET.into(), prefix_set(A, "exact"))],
            |b| only(b, isnt(A)),
        ),
        step(
            "prefix-set INVERT REJECT",
            pol(policy(&[(prefix_cond("INVERT"), reject())])),
            |b| only(b, is(A)),
        ),
        step("accept all", accept_all(), |b| b.to_vec()),
        step(
            "neighbor-set [sink] REJECT",
            pol(policy(&[(
                json!({"match-neighbor-set": {"config": {"neighbor-set": "NS"}}}),
                reject(),
            )])),
            |_| Vec::new(),
        ),
        step(
            "neighbor-set edited to [source]",
            vec![(NEIGHBOR_SET.into(), neighbor_set(r1.ipv4()))],
            |b| b.to_vec(),
        ),
        step(
            "community-set 65010:2 REJECT",
            pol(policy(&[(
                bgp_cond(
                    json!({"match-community-set": {"config": {"community-set": "CS", "match-set-options": "ANY"}}}),
                ),
                reject(),
            )])),
            |b| only(b, isnt(B)),
        ),
        step(
            "as-path-set _65099_ set-med 55",
            pol(policy(&[(
                bgp_cond(
                    json!({"match-as-path-set": {"config": {"as-path-set": "ASP", "match-set-options": "ANY"}}}),
                ),
                bgp_act(
                    json!({"config": {"set-med": 55, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    if r.prefix == B {
                        r.med = Some(55)
                    }
                })
            },
        ),
        step(
            "as-path-set edited to _65010$",
            vec![(AS_PATH_SET.into(), as_path_set("_65010$"))],
            |b| {
                map(b, |r| {
                    if r.prefix != B {
                        r.med = Some(55)
                    }
                })
            },
        ),
        step(
            "origin-eq INCOMPLETE REJECT",
            pol(policy(&[(
                bgp_cond(json!({"config": {"origin-eq": "INCOMPLETE"}})),
                reject(),
            )])),
            |b| only(b, isnt(C)),
        ),
        step("accept all", accept_all(), |b| b.to_vec()),
        step(
            "afi-safi-in IPV4_UNICAST set-med 44",
            pol(policy(&[(
                bgp_cond(json!({"config": {"afi-safi-in": ["openconfig-bgp-types:IPV4_UNICAST"]}})),
                bgp_act(
                    json!({"config": {"set-med": 44, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.med = Some(44)),
        ),
        step(
            "afi-safi-in IPV6_UNICAST set-med 44",
            pol(policy(&[(
                bgp_cond(json!({"config": {"afi-safi-in": ["openconfig-bgp-types:IPV6_UNICAST"]}})),
                bgp_act(
                    json!({"config": {"set-med": 44, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| b.to_vec(),
        ),
        step(
            "community-count >= 2 REJECT",
            pol(policy(&[(
                bgp_cond(json!({"community-count": cmp("GE", 2)})),
                reject(),
            )])),
            |b| only(b, isnt(B)),
        ),
        step(
            "route-type EXTERNAL set-med 12",
            pol(policy(&[(
                bgp_cond(json!({"config": {"route-type": "EXTERNAL"}})),
                bgp_act(
                    json!({"config": {"set-med": 12, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.med = Some(12)),
        ),
        step(
            "as-path-length >= 3 REJECT",
            pol(policy(&[(
                bgp_cond(json!({"as-path-length": cmp("GE", 3)})),
                reject(),
            )])),
            |b| only(b, isnt(B)),
        ),
        step("accept all", accept_all(), |b| b.to_vec()),
        step(
            "med-eq 20 REJECT (the Loc-RIB MED, before the eBGP rules)",
            pol(policy(&[(
                bgp_cond(json!({"config": {"med-eq": 20}})),
                reject(),
            )])),
            |b| only(b, isnt(B)),
        ),
        step(
            "next-hop-in [192.0.2.99] REJECT (the Loc-RIB next hop)",
            pol(policy(&[(
                bgp_cond(json!({"config": {"next-hop-in": ["192.0.2.99"]}})),
                reject(),
            )])),
            |b| only(b, isnt(C)),
        ),
        step(
            "set-as-path-prepend 65005 x2 goes after our own AS",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-as-path-prepend": {"config": {"asn": 65005, "repeat-n": 2}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.as_path.splice(1..1, [65005, 65005]).for_each(drop)),
        ),
        step(
            "NEXT_STATEMENT: set-med SET 100 then ADD 5",
            pol(policy(&[
                (
                    json!({}),
                    bgp_act(
                        json!({"config": {"set-med": 100, "set-med-action": "SET"}}),
                        "NEXT_STATEMENT",
                    ),
                ),
                (
                    json!({}),
                    bgp_act(
                        json!({"config": {"set-med": 5, "set-med-action": "ADD"}}),
                        "ACCEPT_ROUTE",
                    ),
                ),
            ])),
            |b| map(b, |r| r.med = Some(105)),
        ),
        step(
            "ACCEPT ends the chain: later REJECT not reached",
            pol(policy(&[
                (
                    prefix_cond("ANY"),
                    bgp_act(
                        json!({"config": {"set-med": 7, "set-med-action": "SET"}}),
                        "ACCEPT_ROUTE",
                    ),
                ),
                (json!({}), reject()),
            ])),
            |b| map(&only(b, is(A)), |r| r.med = Some(7)),
        ),
        step(
            "set-community INLINE ADD 65001:7",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-community": {"config": {"method": "INLINE", "options": "ADD"},
                           "inline": {"config": {"communities": ["65001:7"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities.push("65001:7".into());
                    r.communities.sort();
                })
            },
        ),
        step(
            "set-community INLINE REMOVE 65010:2",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-community": {"config": {"method": "INLINE", "options": "REMOVE"},
                           "inline": {"config": {"communities": ["65010:2"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.communities.retain(|c| c != "65010:2")),
        ),
        step(
            "set-community INLINE REPLACE 65001:8",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-community": {"config": {"method": "INLINE", "options": "REPLACE"},
                           "inline": {"config": {"communities": ["65001:8"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities.retain(|c| is_ext(c));
                    r.communities.push("65001:8".into());
                })
            },
        ),
        step(
            "set-next-hop 192.0.2.77",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"config": {"set-next-hop": "192.0.2.77"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.next_hop = Some("192.0.2.77".parse().unwrap())),
        ),
        step(
            "set-route-origin EGP",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"config": {"set-route-origin": "EGP"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.origin = Some(Origin::Egp)),
        ),
        // match-ext-community-set: route targets the source sent.
        step(
            "ext-community-set [rt 65010:100] REJECT",
            pol(policy(&[(
                bgp_cond(
                    json!({"match-ext-community-set": {"config": {"ext-community-set": "ECS", "match-set-options": "ANY"}}}),
                ),
                reject(),
            )])),
            |b| only(b, isnt(A)),
        ),
        step(
            "ext-community-set edited to [rt 65010:200]",
            vec![(
                ext_set_path("ECS"),
                ext_set("ECS", &["route-target:65010:200"]),
            )],
            |b| only(b, isnt(B)),
        ),
        step(
            "ext-community-set regex INVERT REJECT",
            pol(policy(&[(
                bgp_cond(
                    json!({"match-ext-community-set": {"config": {"ext-community-set": "ECSRX", "match-set-options": "INVERT"}}}),
                ),
                reject(),
            )])),
            |b| only(b, isnt(C)),
        ),
        // set-ext-community, inline and by reference.
        step(
            "set-ext-community INLINE ADD route-origin:65001:7",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-ext-community": {"config": {"method": "INLINE", "options": "ADD"},
                "inline": {"config": {"communities": ["route-origin:65001:7"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.communities.push("route-origin:65001:7".into())),
        ),
        step(
            "set-ext-community INLINE REMOVE route-target:65010:100",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-ext-community": {"config": {"method": "INLINE", "options": "REMOVE"},
                "inline": {"config": {"communities": ["route-target:65010:100"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities.retain(|c| c != "route-target:65010:100")
                })
            },
        ),
        step(
            "set-ext-community INLINE REPLACE route-target:65001:1",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-ext-community": {"config": {"method": "INLINE", "options": "REPLACE"},
                "inline": {"config": {"communities": ["route-target:65001:1"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities.retain(|c| !is_ext(c));
                    r.communities.push("route-target:65001:1".into());
                })
            },
        ),
        step(
            "set-ext-community REFERENCE ADD [rt 65001:2]",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-ext-community": {"config": {"method": "REFERENCE", "options": "ADD"},
                "reference": {"config": {"ext-community-set-refs": ["ECS2"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.communities.push("route-target:65001:2".into())),
        ),
        step(
            "ext-community-set of the reference edited to [rt 65001:3]",
            vec![(
                ext_set_path("ECS2"),
                ext_set("ECS2", &["route-target:65001:3"]),
            )],
            |b| map(b, |r| r.communities.push("route-target:65001:3".into())),
        ),
        step(
            "set-ext-community REFERENCE REMOVE by regex ^route-target:65010:",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-ext-community": {"config": {"method": "REFERENCE", "options": "REMOVE"},
                "reference": {"config": {"ext-community-set-refs": ["ECSRX"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities
                        .retain(|c| !c.starts_with("route-target:65010:"))
                })
            },
        ),
        // set-community by reference, the deprecated single community-set-ref.
        step(
            "set-community REFERENCE (community-set-ref) ADD [65001:20]",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-community": {"config": {"method": "REFERENCE", "options": "ADD"},
                "reference": {"config": {"community-set-ref": "CS2"}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.communities.push("65001:20".into())),
        ),
        step(
            "community-set of the reference edited to [65001:21]",
            vec![(comm_set_path("CS2"), comm_set("CS2", &["65001:21"]))],
            |b| map(b, |r| r.communities.push("65001:21".into())),
        ),
        step(
            "set-community REFERENCE (community-set-refs) REPLACE [65001:21]",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"set-community": {"config": {"method": "REFERENCE", "options": "REPLACE"},
                "reference": {"config": {"community-set-refs": ["CS2"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| {
                map(b, |r| {
                    r.communities.retain(|c| is_ext(c));
                    r.communities.push("65001:21".into());
                })
            },
        ),
        // match-tag-set: a tag set by an earlier statement of the same chain.
        step(
            "set-tag 100 on PS, match-tag-set [100] REJECT",
            pol(policy(&[
                (
                    prefix_cond("ANY"),
                    json!({"config": {"policy-result": "NEXT_STATEMENT"},
                    "set-tag": {"config": {"mode": "INLINE"}, "inline": {"config": {"tag": [100]}}}}),
                ),
                (
                    json!({"match-tag-set": {"config": {"tag-set": "TS", "match-set-options": "ANY"}}}),
                    reject(),
                ),
            ])),
            |b| only(b, isnt(A)),
        ),
        step(
            "tag-set edited to [200]",
            vec![(TAG_SET.into(), tag_set(&[200]))],
            |b| b.to_vec(),
        ),
        step(
            "match-tag-set [200] INVERT REJECT (untagged routes too)",
            pol(policy(&[
                (
                    prefix_cond("ANY"),
                    json!({"config": {"policy-result": "NEXT_STATEMENT"},
                    "set-tag": {"config": {"mode": "INLINE"}, "inline": {"config": {"tag": [200]}}}}),
                ),
                (
                    json!({"match-tag-set": {"config": {"tag-set": "TS", "match-set-options": "INVERT"}}}),
                    reject(),
                ),
            ])),
            |b| only(b, is(A)),
        ),
        // install-protocol-eq: learned routes are BGP.
        step(
            "install-protocol-eq BGP set-med 66",
            pol(policy(&[(
                json!({"config": {"install-protocol-eq": "openconfig-policy-types:BGP"}}),
                bgp_act(
                    json!({"config": {"set-med": 66, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.med = Some(66)),
        ),
        step(
            "install-protocol-eq STATIC set-med 66",
            pol(policy(&[(
                json!({"config": {"install-protocol-eq": "openconfig-policy-types:STATIC"}}),
                bgp_act(
                    json!({"config": {"set-med": 66, "set-med-action": "SET"}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| b.to_vec(),
        ),
        // call-policy: Q accepts PS (A, exact), rejects the rest.
        step(
            "call-policy Q (PS) set-med 77",
            vec![
                (
                    POLICY_Q.into(),
                    named_policy(
                        "Q",
                        &[
                            (prefix_cond("ANY"), result("ACCEPT_ROUTE")),
                            (json!({}), reject()),
                        ],
                    ),
                ),
                (
                    POLICY.into(),
                    policy(&[(
                        json!({"config": {"call-policy": "Q"}}),
                        bgp_act(
                            json!({"config": {"set-med": 77, "set-med-action": "SET"}}),
                            "ACCEPT_ROUTE",
                        ),
                    )]),
                ),
            ],
            |b| {
                map(b, |r| {
                    if r.prefix == A {
                        r.med = Some(77)
                    }
                })
            },
        ),
        step(
            "called policy Q edited to INVERT",
            vec![(
                POLICY_Q.into(),
                named_policy(
                    "Q",
                    &[
                        (prefix_cond("INVERT"), result("ACCEPT_ROUTE")),
                        (json!({}), reject()),
                    ],
                ),
            )],
            |b| {
                map(b, |r| {
                    if r.prefix != A {
                        r.med = Some(77)
                    }
                })
            },
        ),
        // Large communities (ocbgp.yang).
        step(
            "match-large-community-set [65010:1:1] REJECT",
            pol(policy(&[(
                bgp_cond(
                    json!({"ocbgp:match-large-community-set": {"config": {"large-community-set": "LCS", "match-set-options": "ANY"}}}),
                ),
                reject(),
            )])),
            |b| only(b, isnt(A)),
        ),
        step(
            "large-community-set edited to regex ^65010:[23]:",
            vec![(large_set_path("LCS"), large_set("LCS", &["^65010:[23]:"]))],
            |b| only(b, isnt(B)),
        ),
        step(
            "match-large-community-set INVERT REJECT",
            pol(policy(&[(
                bgp_cond(
                    json!({"ocbgp:match-large-community-set": {"config": {"large-community-set": "LCS", "match-set-options": "INVERT"}}}),
                ),
                reject(),
            )])),
            |b| only(b, is(B)),
        ),
        step(
            "set-large-community INLINE ADD 65001:0:7",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"ocbgp:set-large-community": {"config": {"method": "INLINE", "options": "ADD"},
                "inline": {"config": {"communities": ["65001:0:7"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.large_communities.push("65001:0:7".into())),
        ),
        step(
            "set-large-community INLINE REMOVE 65010:2:2",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"ocbgp:set-large-community": {"config": {"method": "INLINE", "options": "REMOVE"},
                "inline": {"config": {"communities": ["65010:2:2"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.large_communities.retain(|c| c != "65010:2:2")),
        ),
        step(
            "set-large-community INLINE REPLACE 65001:9:9",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"ocbgp:set-large-community": {"config": {"method": "INLINE", "options": "REPLACE"},
                "inline": {"config": {"communities": ["65001:9:9"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.large_communities = comms(&["65001:9:9"])),
        ),
        step(
            "set-large-community REFERENCE ADD [65001:5:5]",
            pol(policy(&[(
                json!({}),
                bgp_act(
                    json!({"ocbgp:set-large-community": {"config": {"method": "REFERENCE", "options": "ADD"},
                "reference": {"config": {"large-community-set-refs": ["LCS2"]}}}}),
                    "ACCEPT_ROUTE",
                ),
            )])),
            |b| map(b, |r| r.large_communities.push("65001:5:5".into())),
        ),
        step(
            "large-community-set of the reference edited to [65001:5:6]",
            vec![(large_set_path("LCS2"), large_set("LCS2", &["65001:5:6"]))],
            |b| map(b, |r| r.large_communities.push("65001:5:6".into())),
        ),
        step("accept all", accept_all(), |b| b.to_vec()),
    ];

    let mut failures = Vec::new();
    let mut prev: Option<Vec<Route>> = None;
    for s in &steps {
        let ts = Instant::now();
        if let Err(e) = gnmi_set(&d, &s.replace, &[]) {
            eprintln!("FAIL {}: Set refused: {e}", s.name);
            failures.push(format!("{}: Set refused: {e}", s.name));
            continue;
        }
        {
            {
                let want = norm(&(s.expect)(&base));
                if prev.as_ref() == Some(&want) {
                    panic!(
                        "step {:?} expects the same table as the step before it: reorder",
                        s.name
                    );
                }
                let mut got = Vec::new();
                let ok = wait_until(STEP, || {
                    got = norm(&sink_table(&sink));
                    got == want
                });
                if !ok {
                    eprintln!(
                        "FAIL {}: got\n{}\nwant\n{}",
                        s.name,
                        describe(&got),
                        describe(&want)
                    );
                    failures.push(format!(
                        "{}: sink table after {STEP:?}:\n{}\nexpected:\n{}",
                        s.name,
                        describe(&got),
                        describe(&want)
                    ));
                }
                prev = Some(if ok { want } else { got });
            }
        }
        let t = transitions(&d, r3.ipv4());
        if t != trans_sink {
            failures.push(format!(
                "{}: sink session reset (established-transitions {trans_sink} -> {t})",
                s.name
            ));
        }
        eprintln!(
            "[{:?}] step {:?} done in {:?}",
            t0.elapsed(),
            s.name,
            ts.elapsed()
        );
    }

    // Import policy on the source: LOCAL_PREF, seen in ocbgpd's Loc-RIB.
    let imp = |lp_a: u32, lp_all: Option<u32>| {
        let mut st = vec![(
            bgp_cond(json!({"config": {"med-eq": 10}})),
            bgp_act(json!({"config": {"set-local-pref": lp_a}}), "ACCEPT_ROUTE"),
        )];
        if let Some(lp) = lp_all {
            st.push((
                json!({}),
                bgp_act(json!({"config": {"set-local-pref": lp}}), "ACCEPT_ROUTE"),
            ));
        }
        named_policy("IMP", &st)
    };
    let loc_steps: Vec<(&str, Edits, Edits, RouteCheck)> = vec![
        (
            "import set-local-pref 222 on med-eq 10",
            vec![],
            vec![
                (
                    "/routing-policy/policy-definitions".into(),
                    json!({"policy-definition": [imp(222, None)]}),
                ),
                (
                    format!("{}/apply-policy/config", neighbor_path(r1.ipv4())),
                    json!({"import-policy": ["IMP"], "default-import-policy": "ACCEPT_ROUTE"}),
                ),
            ],
            Box::new(|rib: &[Route]| {
                pick(rib, A).is_some_and(|r| r.local_pref == Some(222))
                    && [B, C]
                        .iter()
                        .all(|p| pick(rib, p).is_some_and(|r| r.local_pref != Some(222)))
            }),
        ),
        (
            "import med-eq 20 set-local-pref 444",
            vec![(
                "/routing-policy/policy-definitions/policy-definition[name=IMP]".into(),
                named_policy(
                    "IMP",
                    &[(
                        bgp_cond(json!({"config": {"med-eq": 20}})),
                        bgp_act(json!({"config": {"set-local-pref": 444}}), "ACCEPT_ROUTE"),
                    )],
                ),
            )],
            vec![],
            Box::new(|rib: &[Route]| {
                pick(rib, B).is_some_and(|r| r.local_pref == Some(444))
                    && [A, C]
                        .iter()
                        .all(|p| pick(rib, p).is_some_and(|r| r.local_pref != Some(444)))
            }),
        ),
        (
            "import next-hop-in third-party set-local-pref 555",
            vec![(
                "/routing-policy/policy-definitions/policy-definition[name=IMP]".into(),
                named_policy(
                    "IMP",
                    &[(
                        bgp_cond(json!({"config": {"next-hop-in": [C_NH]}})),
                        bgp_act(json!({"config": {"set-local-pref": 555}}), "ACCEPT_ROUTE"),
                    )],
                ),
            )],
            vec![],
            Box::new(|rib: &[Route]| {
                pick(rib, C).is_some_and(|r| r.local_pref == Some(555))
                    && [A, B]
                        .iter()
                        .all(|p| pick(rib, p).is_some_and(|r| r.local_pref != Some(555)))
            }),
        ),
        (
            "import set-as-path-prepend 65005 x2",
            vec![(
                "/routing-policy/policy-definitions/policy-definition[name=IMP]".into(),
                named_policy(
                    "IMP",
                    &[(
                        json!({}),
                        bgp_act(
                            json!({"set-as-path-prepend": {"config": {"repeat-n": 2, "asn": 65005}}}),
                            "ACCEPT_ROUTE",
                        ),
                    )],
                ),
            )],
            vec![],
            Box::new(|rib: &[Route]| {
                [A, B, C].iter().all(|p| {
                    pick(rib, p).is_some_and(|r| r.as_path.starts_with(&[65005, 65005, SRC_AS]))
                })
            }),
        ),
        (
            "import local-pref-eq sees the LOCAL_PREF an earlier statement set",
            vec![(
                "/routing-policy/policy-definitions/policy-definition[name=IMP]".into(),
                named_policy(
                    "IMP",
                    &[
                        (
                            bgp_cond(json!({"config": {"med-eq": 20}})),
                            bgp_act(json!({"config": {"set-local-pref": 444}}), "NEXT_STATEMENT"),
                        ),
                        (
                            bgp_cond(json!({"config": {"local-pref-eq": 444}})),
                            bgp_act(json!({"config": {"set-local-pref": 445}}), "ACCEPT_ROUTE"),
                        ),
                    ],
                ),
            )],
            vec![],
            Box::new(|rib: &[Route]| {
                pick(rib, B).is_some_and(|r| r.local_pref == Some(445))
                    && [A, C].iter().all(|p| {
                        pick(rib, p).is_some_and(|r| !matches!(r.local_pref, Some(444 | 445)))
                    })
            }),
        ),
        (
            "import policy replaced: 333 for A, 150 for the rest",
            vec![(
                "/routing-policy/policy-definitions/policy-definition[name=IMP]".into(),
                imp(333, Some(150)),
            )],
            vec![],
            Box::new(|rib: &[Route]| {
                pick(rib, A).is_some_and(|r| r.local_pref == Some(333))
                    && [B, C]
                        .iter()
                        .all(|p| pick(rib, p).is_some_and(|r| r.local_pref == Some(150)))
            }),
        ),
    ];
    for (name, replace, update, check) in &loc_steps {
        let ts = Instant::now();
        if let Err(e) = gnmi_set(&d, replace, update) {
            failures.push(format!("{name}: Set refused: {e}"));
            continue;
        }
        let mut got = Vec::new();
        let ok = wait_until(STEP, || {
            got = d.try_routes(Family::Ipv4Unicast).unwrap_or_default();
            check(&got)
        });
        if !ok {
            failures.push(format!(
                "{name}: ocbgpd Loc-RIB after {STEP:?}:\n{}",
                describe(&got)
            ));
        }
        let t = transitions(&d, r1.ipv4());
        if t != trans_src {
            failures.push(format!(
                "{name}: source session reset (established-transitions {trans_src} -> {t})"
            ));
        }
        eprintln!(
            "[{:?}] step {name:?} done in {:?}",
            t0.elapsed(),
            ts.elapsed()
        );
    }
    // The sink still has everything, unchanged (LOCAL_PREF is not sent to eBGP).
    let mut got = Vec::new();
    let ok = wait_until(STEP, || {
        got = norm(&sink_table(&sink));
        got == base
    });
    if !ok {
        failures.push(format!(
            "sink after import policy:\n{}\nexpected:\n{}",
            describe(&got),
            describe(&base)
        ));
    }
    assert_eq!(transitions(&d, r3.ipv4()), trans_sink, "sink session reset");
    d.process().assert_running();
    eprintln!("[{:?}] all steps done", t0.elapsed());
    assert!(
        failures.is_empty(),
        "{} failing step(s):\n{}\nocbgpd log tail:\n{}",
        failures.len(),
        failures.join("\n\n"),
        {
            let log = d.log();
            log.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        }
    );
}
