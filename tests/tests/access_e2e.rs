//! Who may do what (RFC 8341 access control), as clients meet it on every
//! door: pygnmi (Get, Set, Subscribe), ncclient (get-config, edit-config,
//! kill-session) and the `ocbgp` CLI, with three users: `admin` (a rule
//! permitting everything), `reader` (RFC 8341's defaults: read, no write;
//! plus a rule refusing gNOI resets) and `policy` (may write
//! `/routing-policy` and nothing else).

use std::net::IpAddr;

use ocbgp_tests::bin_path;
use ocbgp_tests::lab::*;
use serde_json::{json, Value};

const PEER: &str = "192.0.2.9";
const NEIGHBOR: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.9]/config";
const DESCRIPTION: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/neighbors/neighbor[neighbor-address=192.0.2.9]/config/description";
const RIB: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/rib";
const ROUTE: &str = "198.51.100.0/24";
const PREFIX_SET: &str = "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]";

/// The access rules of the test (also the example of docs/operations.md).
fn rules() -> Value {
    json!({
        "groups": {"group": [
            {"name": "admin", "user-name": ["admin"]},
            {"name": "operators", "user-name": ["reader"]},
            {"name": "policy-editors", "user-name": ["policy"]}]},
        "rule-list": [
            {"name": "admin", "group": ["admin"],
             "rule": [{"name": "everything", "action": "permit"}]},
            {"name": "operators", "group": ["operators"],
             "rule": [{"name": "no-resets", "module-name": "gnoi.bgp", "rpc-name": "*",
                       "access-operations": "exec", "action": "deny",
                       "comment": "gNOI resets are for administrators"}]},
            {"name": "policy-editors", "group": ["policy-editors"],
             "rule": [{"name": "edit-policy", "path": "/openconfig-routing-policy:routing-policy",
                       "access-operations": "create update delete", "action": "permit"}]}]
    })
}

fn users() -> Value {
    let user =
        |n: &str| json!({"name": n, "config": {"name": n, "password": format!("$0${n}-pw")}});
    json!({"user": [user("admin"), user("reader"), user("policy")]})
}

/// A python3 script in `d`'s namespace; its output, one JSON value.
fn python(d: &Ocbgpd, code: &str) -> Value {
    let text = d.python(90, code);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| d.fail(&format!("{e}: {text}")))
}

/// pygnmi helpers: `get(user, path)`, `set_(user, **kw)` return
/// `{"ok": ...}` or `{"err": "CODE details"}`.
fn gnmi(d: &Ocbgpd, body: &str) -> Value {
    let g = d.config().gnmi_addr();
    python(
        d,
        &format!(
            r#"
import json, time
from pygnmi.client import gNMIclient
def err_of(e):
    o = getattr(e, "orig_exc", None)
    if o is not None and hasattr(o, "code"):
        return "%s %s" % (o.code().name, o.details())
    return repr(e)
def client(u, password=None):
    return gNMIclient(target=({host:?}, {port}), insecure=True, timeout=10, username=u,
                      password=password or u + "-pw")
def get(u, path):
    try:
        with client(u) as gc:
            return {{"ok": gc.get(path=[path], encoding="json_ietf")}}
    except Exception as e:
        return {{"err": err_of(e)}}
def set_(u, **kw):
    try:
        with client(u) as gc:
            gc.set(encoding="json_ietf", **kw)
            return {{"ok": True}}
    except Exception as e:
        return {{"err": err_of(e)}}
{body}
"#,
            host = g.ip().to_string(),
            port = g.port()
        ),
    )
}

/// Every entry of every list named `name` (any module prefix) in `v`.
fn find_all(v: &Value, name: &str) -> Vec<Value> {
    let mut out = Vec::new();
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k.rsplit(':').next() == Some(name) {
                    if let Value::Array(entries) = child {
                        out.extend(entries.iter().cloned());
                    }
                }
                out.extend(find_all(child, name));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(find_all(i, name))),
        _ => {}
    }
    out
}

fn err(v: &Value) -> String {
    v["err"].as_str().unwrap_or_default().to_string()
}

fn start(lab: &Lab) -> Ocbgpd {
    let r1 = lab.host("r1");
    let peer: IpAddr = PEER.parse().unwrap();
    let bgp = BgpConfig::new(65001, r1.ipv4())
        .neighbor(Neighbor::new(peer, 65002).passive())
        .route(Originated::new(ROUTE));
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(bgp));
    // While no user exists the daemon takes requests without a login
    // (loopback only) and judges none: rules and users go in then.
    d.gnmi_update(NACM, rules());
    d.gnmi_update("/ocbgp:management/users", users());
    d.set_gnmi_login("admin", "admin-pw");
    d
}

#[test]
fn every_door_enforces_the_same_rules() {
    let lab = Lab::new("access");
    let d = start(&lab);
    let commits = |d: &Ocbgpd| {
        Value::from(
            d.try_gnmi_get("/ocbgp:commit-history")
                .unwrap_or_else(|e| d.fail(&e)),
        )
        .to_string()
        .matches("\"id\"")
        .count()
    };
    let before = commits(&d);

    // gNMI: the reader reads users but no password hash, and no rules;
    // its writes are refused naming the path; the policy editor writes
    // policy and nothing else.
    let v = gnmi(
        &d,
        &format!(
            r#"
out = {{}}
out["admin_users"] = get("admin", "/ocbgp:management/users")
out["reader_users"] = get("reader", "/ocbgp:management/users")
out["reader_nacm"] = get("reader", "/ietf-netconf-acm:nacm")
out["reader_set"] = set_("reader", update=[({DESCRIPTION:?}, "changed")])
out["policy_set"] = set_("policy", update=[({PREFIX_SET:?}, {{"name": "PS", "config": {{"name": "PS", "mode": "IPV4"}}}})])
out["policy_other"] = set_("policy", update=[({DESCRIPTION:?}, "changed")])
out["reader_rib"] = get("reader", {RIB:?})
out["reader_all"] = get("reader", "/")
out["admin_all"] = get("admin", "/")
try:
    with client("reader", "wrong") as gc:
        out["wrong"] = gc.get(path=["/ocbgp:management"])
except Exception as e:
    out["wrong"] = err_of(e)
out["reader_password"] = set_("reader", update=[("/ocbgp:management/users/user[name=admin]/config/password", "$0$mine")])
sub = client("reader")
sub.connect()
s = sub.subscribe2(subscribe={{"subscription": [{{"path": {NEIGHBOR:?}, "mode": "on_change"}}],
                             "mode": "stream", "encoding": "json_ietf"}})
out["reader_subscribe"] = s.get_update(timeout=10)
s2 = sub.subscribe2(subscribe={{"subscription": [{{"path": "/ocbgp:management/users", "mode": "on_change"}}],
                              "mode": "stream", "encoding": "json_ietf"}})
out["reader_subscribe_users"] = s2.get_update(timeout=10)
print(json.dumps(out, default=str), flush=True)
import os
os._exit(0)
"#
        ),
    );
    let admin = v["admin_users"].to_string();
    assert!(admin.contains("$6$"), "administrators read hashes: {admin}");
    let reader = v["reader_users"].to_string();
    assert!(
        reader.contains("reader") && reader.contains("policy"),
        "{reader}"
    );
    assert!(
        !reader.contains("password") && !reader.contains("$6$"),
        "{reader}"
    );
    assert!(
        !v["reader_nacm"].to_string().contains("rule-list"),
        "{}",
        v["reader_nacm"]
    );
    // The RIB (streamed) reads as a whole, alone or with everything else.
    assert!(
        v["reader_rib"].to_string().contains(ROUTE),
        "{}",
        v["reader_rib"]
    );
    let all = v["reader_all"].to_string();
    assert!(all.contains(ROUTE) && all.contains("peer-as"), "{all}");
    assert!(!all.contains("$6$") && !all.contains("rule-list"), "{all}");
    let all = v["admin_all"].to_string();
    assert!(
        all.contains(ROUTE) && all.contains("$6$") && all.contains("rule-list"),
        "{all}"
    );
    let e = err(&v["reader_set"]);
    assert!(e.starts_with("PERMISSION_DENIED"), "{v}");
    assert!(
        e.contains("user reader may not create") && e.contains("description"),
        "{e}"
    );
    assert_eq!(v["policy_set"]["ok"], true, "{v}");
    let e = err(&v["policy_other"]);
    assert!(
        e.starts_with("PERMISSION_DENIED") && e.contains("neighbor"),
        "{e}"
    );
    let e = err(&v["reader_password"]);
    assert!(
        e.starts_with("PERMISSION_DENIED") && e.contains("password"),
        "{e}"
    );
    assert!(v["reader_subscribe"].to_string().contains("peer-as"), "{v}");
    // Subscribe leaves out what Get does.
    let users = v["reader_subscribe_users"].to_string();
    assert!(
        users.contains("policy") && !users.contains("$6$"),
        "{users}"
    );
    // Only the policy editor's Set committed; nothing else changed.
    assert_eq!(commits(&d), before + 1);
    let neighbor = d.try_gnmi_get(NEIGHBOR).unwrap_or_else(|e| d.fail(&e));
    assert!(
        !neighbor.iter().any(|v| v.to_string().contains("changed")),
        "{neighbor:?}"
    );

    // NETCONF: the same rules.
    let v = python(
        &d,
        r#"
import json
from ncclient import manager
from ncclient.operations.rpc import RPCError
NI = "http://openconfig.net/yang/network-instance"
RP = "http://openconfig.net/yang/routing-policy"
def connect(u):
    return manager.connect(host="127.0.0.1", port=830, username=u, password=u + "-pw",
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=20)
def cfg(inner):
    return '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">%s</config>' % inner
DESC = cfg('<network-instances xmlns="%s"><network-instance><name>DEFAULT</name><protocols><protocol>'
           '<identifier xmlns:oc-pol-types="http://openconfig.net/yang/policy-types">oc-pol-types:BGP</identifier>'
           '<name>BGP</name><bgp><neighbors><neighbor><neighbor-address>192.0.2.9</neighbor-address>'
           '<config><description>by netconf</description></config></neighbor></neighbors></bgp>'
           '</protocol></protocols></network-instance></network-instances>' % NI)
SET = cfg('<routing-policy xmlns="%s"><defined-sets><prefix-sets><prefix-set><name>NC</name>'
          '<config><name>NC</name><mode>IPV4</mode></config></prefix-set></prefix-sets></defined-sets>'
          '</routing-policy>' % RP)
def edit(m, config):
    try:
        m.edit_config(target="candidate", config=config)
        m.commit()
        return "ok"
    except RPCError as e:
        try:
            m.discard_changes()
        except RPCError:
            pass
        return "%s %s %s" % (e.tag, e.path, e.message)
out = {}
r = connect("reader")
text = r.get_config(source="running").data_xml
out["reader_sees_hash"] = "$6$" in text
out["reader_sees_users"] = "<name>policy</name>" in text
out["reader_sees_rules"] = "rule-list" in text
out["reader_edit"] = edit(r, DESC)
try:
    r.kill_session(session_id="999")
    out["reader_kill"] = "ok"
except RPCError as e:
    out["reader_kill"] = "%s %s" % (e.tag, e.message)
p = connect("policy")
out["policy_edit"] = edit(p, SET)
out["policy_other"] = edit(p, DESC)
a = connect("admin")
out["admin_sees_hash"] = "$6$" in a.get_config(source="running").data_xml
print(json.dumps(out))
"#,
    );
    assert_eq!(v["reader_sees_hash"], false, "{v}");
    assert_eq!(v["reader_sees_users"], true, "{v}");
    assert_eq!(v["reader_sees_rules"], false, "{v}");
    assert_eq!(v["admin_sees_hash"], true, "{v}");
    let e = v["reader_edit"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("access-denied") && e.contains("description"),
        "{e}"
    );
    let e = v["reader_kill"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("access-denied") && e.contains("kill-session"),
        "{e}"
    );
    assert_eq!(v["policy_edit"], "ok", "{v}");
    let e = v["policy_other"].as_str().unwrap_or_default();
    assert!(e.starts_with("access-denied"), "{e}");
    assert_eq!(commits(&d), before + 2);

    // The CLI speaks gNMI: the same refusals, and gNOI's reset by rule.
    let g = d.config().gnmi_addr().to_string();
    let ocbgp = bin_path("ocbgp");
    let cli = |user: &str, args: &[&str]| {
        let pw = format!("{user}-pw");
        let mut all = vec![
            "30",
            ocbgp.to_str().unwrap(),
            "-t",
            &g,
            "-u",
            user,
            "-p",
            &pw,
        ];
        all.extend_from_slice(args);
        let out = d.host().try_run("timeout", &all);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, said) = cli("reader", &["set", DESCRIPTION, "by cli"]);
    assert!(!ok && said.contains("access denied"), "{said}");
    let (ok, said) = cli("reader", &["neighbor", PEER, "reset"]);
    assert!(!ok && said.contains("gnoi.bgp:ClearBGPNeighbor"), "{said}");
    let (ok, said) = cli("reader", &["neighbor", "--json"]);
    assert!(ok && said.contains(PEER), "{said}");
    let (ok, said) = cli("policy", &["delete", PREFIX_SET]);
    assert!(ok, "{said}");
    // A rollback is a commit like any other: judged on what it changes.
    let (ok, said) = cli("policy", &["rollback", "1"]);
    assert!(!ok && said.contains("access denied: user policy"), "{said}");

    // Refusals are in the audit trail beside the commits: user, door,
    // source address, why.
    let history = Value::from(
        d.try_gnmi_get("/ocbgp:commit-history")
            .unwrap_or_else(|e| d.fail(&e)),
    );
    let events: Vec<Value> = find_all(&history, "event");
    let has = |kind: &str, door: &str, user: &str, detail: &str| {
        events.iter().any(|e| {
            e["kind"] == kind
                && e["door"] == door
                && e["user"] == user
                && e["source-address"] == "127.0.0.1"
                && e["detail"].as_str().is_some_and(|d| d.contains(detail))
        })
    };
    for (kind, door, detail) in [
        ("LOGIN_FAILED", "GNMI", "authentication failed"),
        ("COMMIT_REFUSED", "GNMI", "may not create"),
        ("COMMIT_REFUSED", "NETCONF", "may not create"),
        ("OPERATION_DENIED", "NETCONF", "kill-session"),
        ("OPERATION_DENIED", "GNOI", "ClearBGPNeighbor"),
    ] {
        assert!(
            has(kind, door, "reader", detail),
            "{kind} {door}: {events:?}"
        );
    }

    // Refusals are counted, for administrators to see.
    let nacm = Value::from(d.try_gnmi_get(NACM).unwrap_or_else(|e| d.fail(&e))).to_string();
    let count = |leaf: &str| -> u64 {
        let at = nacm
            .find(leaf)
            .unwrap_or_else(|| d.fail(&format!("no {leaf}: {nacm}")));
        nacm[at + leaf.len()..]
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("denied-data-writes") >= 6, "{nacm}");
    assert!(count("denied-operations") >= 2, "{nacm}");
}

#[test]
fn a_subscription_ends_when_its_users_rules_change() {
    let lab = Lab::new("access_sub");
    let d = start(&lab);
    let deny = json!({"rule-list": [{"name": "no-neighbors", "group": ["operators"], "rule": [
        {"name": "hide", "path": "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/neighbors",
         "access-operations": "read", "action": "deny"}]}]});
    let v = gnmi(
        &d,
        &format!(
            r#"
out = {{}}
sub = client("reader")
sub.connect()
s = sub.subscribe2(subscribe={{"subscription": [{{"path": {NEIGHBOR:?}, "mode": "on_change"}}],
                             "mode": "stream", "encoding": "json_ietf"}})
out["before"] = s.get_update(timeout=10)
out["rules"] = set_("admin", update=[("/ietf-netconf-acm:nacm", json.loads({deny:?}))])
deadline = time.monotonic() + 10
while s._subscribe_thread.is_alive() and time.monotonic() < deadline:
    time.sleep(0.05)
out["ended"] = not s._subscribe_thread.is_alive()
out["status"] = "%s %s" % (s.error.code().name, s.error.details()) if out["ended"] and s.error else ""
out["after"] = get("reader", {NEIGHBOR:?})
print(json.dumps(out, default=str), flush=True)
import os
os._exit(0)
"#,
            deny = deny.to_string()
        ),
    );
    assert!(v["before"].to_string().contains("peer-as"), "{v}");
    assert_eq!(v["rules"]["ok"], true, "{v}");
    assert_eq!(v["ended"], true, "{v}");
    let status = v["status"].as_str().unwrap_or_default();
    assert!(
        status.starts_with("PERMISSION_DENIED") && status.contains("rules"),
        "{status}"
    );
    // Now the neighbor is left out of the reader's reads.
    assert!(err(&v["after"]).starts_with("NOT_FOUND"), "{v}");
    d.process().assert_running();
}

#[test]
fn the_defaults_and_the_switch_decide_what_no_rule_matches() {
    let lab = Lab::new("access_defaults");
    let d = start(&lab);
    let nacm_leaf = |leaf: &str, value: &str| {
        format!(
            r#"out[{leaf:?}] = set_("admin", update=[("/ietf-netconf-acm:nacm/{leaf}", {value:?})])"#
        )
    };
    let v = gnmi(
        &d,
        &[
            "out = {}".to_string(),
            // write-default permit: the reader may write what no rule covers.
            nacm_leaf("write-default", "permit"),
            format!(
                r#"out["reader_set"] = set_("reader", update=[({DESCRIPTION:?}, "by reader")])"#
            ),
            nacm_leaf("write-default", "deny"),
            // read-default deny: nothing to read without a rule.
            nacm_leaf("read-default", "deny"),
            format!(r#"out["reader_get"] = get("reader", {NEIGHBOR:?})"#),
            nacm_leaf("read-default", "permit"),
            // exec-default deny: no gNMI RPC without a rule.
            nacm_leaf("exec-default", "deny"),
            format!(r#"out["reader_exec"] = get("reader", {NEIGHBOR:?})"#),
            nacm_leaf("exec-default", "permit"),
            // enable-nacm false: nothing is judged.
            nacm_leaf("enable-nacm", "false"),
            r#"out["reader_users"] = get("reader", "/ocbgp:management/users")"#.to_string(),
            nacm_leaf("enable-nacm", "true"),
            // No transport gives groups.
            nacm_leaf("enable-external-groups", "true"),
            r#"out["comment"] = get("admin", "/ietf-netconf-acm:nacm/rule-list[name=operators]")"#
                .to_string(),
            "print(json.dumps(out, default=str))".to_string(),
        ]
        .join("\n"),
    );
    for leaf in [
        "write-default",
        "read-default",
        "exec-default",
        "enable-nacm",
    ] {
        assert_eq!(v[leaf]["ok"], true, "{leaf}: {v}");
    }
    assert_eq!(v["reader_set"]["ok"], true, "{v}");
    assert!(err(&v["reader_get"]).starts_with("NOT_FOUND"), "{v}");
    let e = err(&v["reader_exec"]);
    // (pygnmi asks for Capabilities first.)
    assert!(
        e.starts_with("PERMISSION_DENIED") && e.contains("may not run gnmi:"),
        "{e}"
    );
    assert!(v["reader_users"].to_string().contains("$6$"), "{v}");
    let e = err(&v["enable-external-groups"]);
    assert!(
        e.starts_with("INVALID_ARGUMENT") && e.contains("no external groups"),
        "{e}"
    );
    assert!(
        v["comment"]
            .to_string()
            .contains("gNOI resets are for administrators"),
        "{v}"
    );
}
