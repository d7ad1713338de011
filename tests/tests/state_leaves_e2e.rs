//! Every supported state leaf has a value: ocbgpd with a neighbor (gobgpd,
//! in a peer group, with an import policy) that exchanges routes both
//! ways, then gNMI Gets (pygnmi) of the whole tree and of the RIB. Every state leaf
//! `yang/support/supported.tsv` lists (not `conditional`) must show a value
//! wherever its list entry or conditional container (`when`) exists;
//! leaves under lists or `when` containers with no instance are skipped.
//! State leaves ocbgpd does not fill are deviated
//! (`yang/ocbgp-deviations.yang`), so they are not in the table.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use ocbgp_tests::lab::*;
use serde_json::{json, Value};
use yang2::schema::SchemaNodeKind;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);
const OC_AS: u32 = 65001;
const PEER_AS: u32 = 65002;
const FROM_PEER: &str = "198.51.100.0/24";
const FROM_OC: &str = "192.0.2.128/25";
const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// Runs a pygnmi script in ocbgpd's namespace; its standard output.
fn python(d: &Ocbgpd, body: &str) -> String {
    let g = d.config().gnmi_addr();
    let code = format!(
        "import json\nfrom pygnmi.client import gNMIclient\n\
         with gNMIclient(target=({:?}, {}), insecure=True, timeout=20) as gc:\n{body}",
        g.ip().to_string(),
        g.port()
    );
    let out = d.host().try_run("timeout", &["60", "python3", "-c", &code]);
    if !out.status.success() {
        d.fail(&format!(
            "pygnmi script failed:\n{code}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path with list keys and module prefixes taken away: `a/b/c`.
fn names(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for ch in path.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if depth > 0 => quote = Some(ch),
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            (None, c) if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit(':').next().unwrap())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every leaf with a value under `v` (at names-path `at`), and every node.
fn collect(v: &Value, at: &str, leaves: &mut BTreeSet<String>, nodes: &mut BTreeSet<String>) {
    nodes.insert(at.to_string());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let name = k.rsplit(':').next().unwrap();
                let p = if at.is_empty() {
                    name.to_string()
                } else {
                    format!("{at}/{name}")
                };
                collect(child, &p, leaves, nodes);
            }
        }
        Value::Array(a) if a.iter().all(|e| e.is_object()) && !a.is_empty() => {
            for e in a {
                collect(e, at, leaves, nodes);
            }
        }
        Value::Null => {}
        _ => {
            leaves.insert(at.to_string());
        }
    }
}

#[test]
fn every_supported_state_leaf_has_a_value() {
    let lab = Lab::new("state_leaves");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r1.ipv4())
                .neighbor(
                    Neighbor::new(r2.ipv4(), PEER_AS)
                        .families(&[Family::Ipv4Unicast])
                        .connect_retry(1),
                )
                .route(
                    Originated::new(FROM_OC)
                        .next_hop(r1.ipv4())
                        .community("65001:1"),
                ),
        ),
    );
    let g = Gobgp::start(
        &r2,
        &BgpConfig::new(PEER_AS, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), OC_AS).families(&[Family::Ipv4Unicast]))
            .route(Originated::new(FROM_PEER)),
    );

    // A policy, a peer group, and the neighbor in it with the policy.
    let policy = json!({
        "defined-sets": {"prefix-sets": {"prefix-set": [{"name": "PEER", "config": {"name": "PEER", "mode": "IPV4"},
            "prefixes": {"prefix": [{"ip-prefix": FROM_PEER, "masklength-range": "exact",
                "config": {"ip-prefix": FROM_PEER, "masklength-range": "exact"}}]}}]}},
        "policy-definitions": {"policy-definition": [{"name": "IMPORT", "config": {"name": "IMPORT"},
            "statements": {"statement": [{"name": "10", "config": {"name": "10"},
                "conditions": {"match-prefix-set": {"config": {"prefix-set": "PEER", "match-set-options": "ANY"}}},
                "actions": {"config": {"policy-result": "ACCEPT_ROUTE"},
                    "openconfig-bgp-policy:bgp-actions": {"config": {"set-local-pref": 200}}}}]}}]}
    });
    let n = format!("{BGP}/neighbors/neighbor[neighbor-address={}]", r2.ipv4());
    let updates = json!([
        ["/routing-policy", policy],
        [format!("{BGP}/peer-groups/peer-group[peer-group-name=PEERS]"),
            {"peer-group-name": "PEERS", "config": {"peer-group-name": "PEERS", "peer-as": PEER_AS}}],
        [format!("{n}/config/peer-group"), "PEERS"],
        [format!("{n}/apply-policy/config/import-policy"), ["IMPORT"]],
        // A BMP station nobody listens for: its state leaves still show.
        [format!("{BGP}/ocbgp:bmp/station[address=127.0.0.1][port=11019]"),
            {"address": "127.0.0.1", "port": 11019, "config": {"address": "127.0.0.1", "port": 11019}}],
    ]);
    python(
        &d,
        &format!(
            "    gc.set(update=[tuple(u) for u in json.loads({:?})], encoding=\"json_ietf\")\n",
            updates.to_string()
        ),
    );
    d.wait_established(r2.ipv4(), UP);
    g.wait_established(r1.ipv4(), UP);
    d.wait_route(FROM_PEER, ROUTE);
    g.wait_route(FROM_OC, ROUTE);

    // The whole tree, then the RIB (a read above bgp/rib leaves it out):
    // one update per line, notification prefix + path TAB JSON value.
    let out = python(
        &d,
        &format!(
            "    for p in [\"/\", \"{BGP}/rib\"]:\n\
             \x20       r = gc.get(path=[p], encoding=\"json_ietf\")\n\
             \x20       for n in r.get(\"notification\", []):\n\
             \x20           for u in n.get(\"update\", []):\n\
             \x20               print(str(n.get(\"prefix\") or \"\") + \"/\" + u.get(\"path\", \"\") + \"\\t\" + json.dumps(u.get(\"val\"), default=str))\n"
        ),
    );
    let (mut leaves, mut nodes) = (BTreeSet::new(), BTreeSet::new());
    for line in out.lines() {
        let Some((path, val)) = line.split_once('\t') else {
            continue;
        };
        let val: Value = serde_json::from_str(val).unwrap_or(Value::Null);
        collect(&val, &names(path), &mut leaves, &mut nodes);
    }
    assert!(leaves.len() > 50, "the Get returned little: {out}");

    // The supported state leaves and where each may be absent.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let table = std::fs::read_to_string(root.join("yang/support/supported.tsv")).unwrap();
    let ctx = ocbgp_models::schema::context();
    let mut missing = Vec::new();
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let path = cols[0];
        if cols.len() > 2 {
            continue; // conditional
        }
        let Ok(node) = ctx.find_path(path) else {
            continue;
        };
        if node.is_config() {
            continue;
        }
        // The innermost list or `when` container above the leaf: the leaf
        // is due only where it has an instance.
        let scope = node
            .ancestors()
            .find(|a| {
                a.kind() == SchemaNodeKind::List
                    || a.whens().count() > 0
                    || !a.is_np_container() && a.kind() == SchemaNodeKind::Container
            })
            .map(|a| names(&a.path(yang2::schema::SchemaPathFormat::DATA)));
        if let Some(scope) = &scope {
            if !nodes.contains(scope) {
                continue;
            }
        }
        checked += 1;
        let leaf = names(path);
        if !leaves.contains(&leaf) {
            missing.push(leaf);
        }
    }
    assert!(checked > 80, "only {checked} state leaves checked");
    assert!(
        missing.is_empty(),
        "{} supported state leaves without a value:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
