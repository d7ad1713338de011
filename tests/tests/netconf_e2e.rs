//! ocbgpd managed over NETCONF with ncclient as the client, against a real
//! BIRD peer in network namespaces: a neighbor and an export policy built in
//! the candidate, validated and committed (BIRD then gets exactly the
//! allowed route); a confirmed commit that lets a second route out and rolls
//! back by itself when not confirmed (BIRD loses the route again, the session
//! stays up), and the same confirmed, which stays.
//!
//! ocbgpd starts without users; the test's user (clear-text `$0$` password)
//! is added by gNMI Set; both doors read users at each login, so from then
//! on the test's gNMI requests log in as that user too. ncclient
//! runs in ocbgpd's namespace (NETCONF on its default 127.0.0.1:830), every
//! script under `timeout`. The confirmed commits use `persist` so the
//! ncclient session may end between the steps: only the timer (or the
//! confirming commit) decides.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::Value;

const UP: Duration = Duration::from_secs(30);
const ROUTE: Duration = Duration::from_secs(15);

const OC_AS: u32 = 65001;
const PEER_AS: u32 = 65002;
/// ocbgpd's originated routes: the policy lets ALLOWED out, OTHER only in
/// the confirmed commits.
const ALLOWED: &str = "198.51.100.0/24";
const OTHER: &str = "203.0.113.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// Runs a python3 script in ocbgpd's namespace under `timeout 30`.
fn python(d: &Ocbgpd, code: &str) -> String {
    d.python(30, code)
}

/// Adds user admin/secret by gNMI Set (pygnmi).
fn add_user(d: &Ocbgpd) {
    let g = d.config().gnmi_addr();
    let code = format!(
        r#"
from pygnmi.client import gNMIclient
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5) as gc:
    gc.set(update=[("/ietf-netconf-acm:nacm", {nacm}),
                   ("/ocbgp:management/users/user[name=admin]",
                    {{"name": "admin", "config": {{"name": "admin", "password": "$0$secret"}}}})],
           encoding="json_ietf")
"#,
        host = g.ip().to_string(),
        port = g.port(),
        nacm = administrators(&["admin"]),
    );
    python(d, &code);
}

/// An ncclient script: `m` is a connected manager, `cfg(inner)` wraps
/// config XML, the constants the namespaces and XML pieces.
fn netconf(d: &Ocbgpd, body: &str) -> String {
    python(d, &netconf_script(body))
}

/// The ncclient script of [`netconf`].
fn netconf_script(body: &str) -> String {
    format!(
        r#"
import sys
from ncclient import manager
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NI = "http://openconfig.net/yang/network-instance"
RP = "http://openconfig.net/yang/routing-policy"
PT = "http://openconfig.net/yang/policy-types"
BT = "http://openconfig.net/yang/bgp-types"
def cfg(inner):
    return '<config xmlns="%s" xmlns:nc="%s">%s</config>' % (NC, NC, inner)
def prefix(p, op=None):
    attr = ' nc:operation="%s"' % op if op else ""
    return ('<prefix%s><ip-prefix>%s</ip-prefix><masklength-range>exact</masklength-range>'
            '<config><ip-prefix>%s</ip-prefix><masklength-range>exact</masklength-range></config></prefix>'
            % (attr, p, p))
def prefix_set(inner):
    return ('<routing-policy xmlns="%s"><defined-sets><prefix-sets><prefix-set><name>ALLOWED</name>'
            '<config><name>ALLOWED</name><mode>IPV4</mode></config><prefixes>%s</prefixes>'
            '</prefix-set></prefix-sets></defined-sets></routing-policy>' % (RP, inner))
m = manager.connect(host="127.0.0.1", port=830, username="admin", password="secret",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=20)
{body}
m.close_session()
print("DONE")
"#
    )
}

/// The XML adding the neighbor `peer` with export policy EXPORT (default
/// reject) and the policy EXPORT accepting prefix-set ALLOWED (= ALLOWED).
fn neighbor_and_policy_xml(peer: IpAddr) -> String {
    format!(
        r#"<routing-policy xmlns="http://openconfig.net/yang/routing-policy">
 <defined-sets><prefix-sets><prefix-set><name>ALLOWED</name><config><name>ALLOWED</name><mode>IPV4</mode></config>
  <prefixes><prefix><ip-prefix>{ALLOWED}</ip-prefix><masklength-range>exact</masklength-range>
   <config><ip-prefix>{ALLOWED}</ip-prefix><masklength-range>exact</masklength-range></config></prefix></prefixes>
 </prefix-set></prefix-sets></defined-sets>
 <policy-definitions><policy-definition><name>EXPORT</name><config><name>EXPORT</name></config>
  <statements><statement><name>10</name><config><name>10</name></config>
   <conditions><match-prefix-set><config><prefix-set>ALLOWED</prefix-set><match-set-options>ANY</match-set-options></config></match-prefix-set></conditions>
   <actions><config><policy-result>ACCEPT_ROUTE</policy-result></config></actions>
  </statement></statements>
 </policy-definition></policy-definitions>
</routing-policy>
<network-instances xmlns="http://openconfig.net/yang/network-instance"><network-instance><name>DEFAULT</name><protocols>
 <protocol xmlns:pt="http://openconfig.net/yang/policy-types"><identifier>pt:BGP</identifier><name>BGP</name><bgp><neighbors>
  <neighbor><neighbor-address>{peer}</neighbor-address>
   <config><neighbor-address>{peer}</neighbor-address><peer-as>{PEER_AS}</peer-as></config>
   <timers><config><connect-retry>1</connect-retry></config></timers>
   <afi-safis xmlns:bt="http://openconfig.net/yang/bgp-types"><afi-safi><afi-safi-name>bt:IPV4_UNICAST</afi-safi-name>
    <config><afi-safi-name>bt:IPV4_UNICAST</afi-safi-name><enabled>true</enabled></config></afi-safi></afi-safis>
   <apply-policy><config><export-policy>EXPORT</export-policy><default-export-policy>REJECT_ROUTE</default-export-policy></config></apply-policy>
  </neighbor>
 </neighbors></bgp></protocol>
</protocols></network-instance></network-instances>"#
    )
}

/// ocbgpd in r1 originating ALLOWED and OTHER, no neighbor, user admin;
/// BIRD in r2 peering with it over IPv4.
fn setup(lab: &Lab) -> (Host, Host, Ocbgpd, Bird) {
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r1.ipv4())
                .route(Originated::new(ALLOWED).next_hop(r1.ipv4()))
                .route(Originated::new(OTHER).next_hop(r1.ipv4())),
        ),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(PEER_AS, r2.ipv4())
            .neighbor(Neighbor::new(r1.ipv4(), OC_AS).families(&[Family::Ipv4Unicast])),
    );
    add_user(&d);
    // From now on gNMI wants a login too (users are read at each request).
    d.set_gnmi_login("admin", "secret");
    (r1, r2, d, b)
}

/// Edits the candidate (neighbor + policy), validates, commits; waits for
/// the session and for BIRD to hold exactly ALLOWED from ocbgpd.
fn commit_neighbor_and_policy(d: &Ocbgpd, b: &Bird, peer: IpAddr, oc: IpAddr) {
    let xml = neighbor_and_policy_xml(peer);
    let out = netconf(
        d,
        &format!(
            "m.edit_config(target='candidate', config=cfg({xml:?}))\nm.validate(source='candidate')\nm.commit()\n"
        ),
    );
    assert!(out.contains("DONE"), "{out}");
    d.wait_established(peer, UP);
    b.wait_established(oc, UP);
    b.wait_route(ALLOWED, ROUTE);
    assert_bird_has_only(b, ALLOWED);
}

fn assert_bird_has_only(b: &Bird, prefix: &str) {
    let routes = b.routes(Family::Ipv4Unicast);
    let prefixes: Vec<&str> = routes.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(
        prefixes,
        vec![prefix],
        "BIRD's table: {}",
        describe(&routes)
    );
}

fn established_transitions(d: &Ocbgpd, peer: IpAddr) -> String {
    let path =
        format!("{BGP}/neighbors/neighbor[neighbor-address={peer}]/state/established-transitions");
    let vals = d.try_gnmi_get(&path).unwrap_or_else(|e| d.fail(&e));
    vals.iter()
        .find_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k.ends_with("established-transitions"))
                .map(|(_, v)| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                }),
            _ => None,
        })
        .unwrap_or_else(|| d.fail(&format!("no established-transitions in {vals:?}")))
}

#[test]
fn candidate_commit_adds_neighbor_with_export_policy() {
    let lab = Lab::new("nc_cand");
    let (r1, r2, d, b) = setup(&lab);
    let t = Instant::now();
    commit_neighbor_and_policy(&d, &b, r2.ipv4(), r1.ipv4());
    eprintln!(
        "session up and ALLOWED at BIRD {:?} after the edit",
        t.elapsed()
    );
    // The committed configuration reads back over NETCONF.
    let out = netconf(
        &d,
        "r = m.get_config(source='running', filter=('subtree', '<routing-policy xmlns=\"%s\"/>' % RP))\nprint(r.data_xml)\n",
    );
    assert!(out.contains("EXPORT") && out.contains(ALLOWED), "{out}");
}

#[test]
fn confirmed_commit_rolls_back_unless_confirmed() {
    let lab = Lab::new("nc_confirm");
    let (r1, r2, d, b) = setup(&lab);
    let (peer, oc) = (r2.ipv4(), r1.ipv4());
    commit_neighbor_and_policy(&d, &b, peer, oc);
    let transitions = established_transitions(&d, peer);

    // Let OTHER out too, confirmed commit with a 4 s timeout, never confirmed.
    let allow_other = "m.edit_config(target='candidate', config=cfg(prefix_set(prefix(%r))))\n";
    let t0 = Instant::now();
    netconf(
        &d,
        &format!(
            "{}m.commit(confirmed=True, timeout='4', persist='e2e-1')\n",
            allow_other.replace("%r", &format!("{OTHER:?}"))
        ),
    );
    b.wait_route(OTHER, ROUTE);
    let got = t0.elapsed();
    b.wait_no_route(OTHER, ROUTE);
    let lost = t0.elapsed();
    eprintln!("unconfirmed: OTHER at BIRD after {got:?}, withdrawn after {lost:?}");
    assert!(
        lost >= Duration::from_secs(3),
        "OTHER withdrawn after {lost:?}, before the 4 s confirm-timeout"
    );
    assert_bird_has_only(&b, ALLOWED);
    assert!(b.established(oc), "BIRD's session went down");
    assert_eq!(
        established_transitions(&d, peer),
        transitions,
        "the rollback reset the session"
    );
    // Running no longer has OTHER in the prefix-set.
    let out = netconf(
        &d,
        "r = m.get_config(source='running', filter=('subtree', '<routing-policy xmlns=\"%s\"/>' % RP))\nprint(r.data_xml)\n",
    );
    assert!(
        !out.contains(OTHER),
        "running still has {OTHER} after the rollback: {out}"
    );

    // The same, confirmed (from another session, by persist-id): it stays.
    netconf(
        &d,
        &format!(
            "{}m.commit(confirmed=True, timeout='4', persist='e2e-2')\n",
            allow_other.replace("%r", &format!("{OTHER:?}"))
        ),
    );
    let t1 = Instant::now();
    b.wait_route(OTHER, ROUTE);
    netconf(&d, "m.commit(persist_id='e2e-2')\n");
    // Past the timeout and a margin, it is still there.
    let withdrawn = wait_until(Duration::from_secs(7), || b.route(OTHER).is_none());
    assert!(
        !withdrawn,
        "OTHER withdrawn after the confirming commit ({:?})",
        t1.elapsed()
    );
    let mut prefixes: Vec<String> = b
        .routes(Family::Ipv4Unicast)
        .into_iter()
        .map(|r| r.prefix)
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, vec![ALLOWED.to_string(), OTHER.to_string()]);
    assert!(b.established(oc), "BIRD's session went down");
    assert_eq!(
        established_transitions(&d, peer),
        transitions,
        "the commit reset the session"
    );
}

/// Without persist: the session that made the confirmed commit stays open
/// (a background ncclient script); the timer rolls it back; then a second
/// confirmed commit is confirmed by a plain commit in the same session.
#[test]
fn confirmed_commit_in_an_open_session() {
    let lab = Lab::new("nc_session");
    let (r1, r2, d, b) = setup(&lab);
    let (peer, oc) = (r2.ipv4(), r1.ipv4());
    commit_neighbor_and_policy(&d, &b, peer, oc);
    let transitions = established_transitions(&d, peer);
    let confirm_file = d.host().dir().join("nc-confirm");
    let stop_file = d.host().dir().join("nc-stop");
    let body = format!(
        r#"
import os, time
def step(confirm):
    m.edit_config(target='candidate', config=cfg(prefix_set(prefix({OTHER:?}))))
    m.commit(confirmed=True, timeout='4')
    print("COMMITTED", flush=True)
    deadline = time.time() + 40
    while time.time() < deadline and not os.path.exists({stop:?}):
        if confirm and os.path.exists({confirm:?}):
            m.commit()
            print("CONFIRMED", flush=True)
            break
        time.sleep(0.05)
step(False)
while not os.path.exists({stop:?}):
    time.sleep(0.05)
os.remove({stop:?})
print("SECOND", flush=True)
step(True)
while not os.path.exists({stop:?}):
    time.sleep(0.05)
"#,
        stop = stop_file.display().to_string(),
        confirm = confirm_file.display().to_string(),
    );
    let mut cmd = d.host().command("timeout");
    cmd.args(["60", "python3", "-u", "-c", &netconf_script(&body)]);
    let client = d.host().spawn_command("ncclient", cmd);
    let wait_line = |line: &str| {
        let ok = wait_until(ROUTE, || {
            client.log().lines().any(|l| l == line) || !client.running()
        });
        assert!(
            ok && client.log().lines().any(|l| l == line),
            "ncclient never printed {line}:\n{}",
            client.log()
        );
    };

    // Unconfirmed: the timer rolls back while the session is still open.
    wait_line("COMMITTED");
    let t0 = Instant::now();
    b.wait_route(OTHER, ROUTE);
    b.wait_no_route(OTHER, ROUTE);
    let lost = t0.elapsed();
    eprintln!("in-session unconfirmed: OTHER withdrawn {lost:?} after the commit");
    assert!(
        lost >= Duration::from_secs(3),
        "withdrawn after {lost:?}, before the 4 s timeout"
    );
    assert!(
        client.running(),
        "the ncclient session ended: {}",
        client.log()
    );
    assert_bird_has_only(&b, ALLOWED);

    // Confirmed in the same session: it stays.
    std::fs::write(&stop_file, "").unwrap();
    wait_line("SECOND");
    wait_line("COMMITTED");
    b.wait_route(OTHER, ROUTE);
    std::fs::write(&confirm_file, "").unwrap();
    wait_line("CONFIRMED");
    let withdrawn = wait_until(Duration::from_secs(6), || b.route(OTHER).is_none());
    assert!(!withdrawn, "OTHER withdrawn after the confirming commit");
    std::fs::write(&stop_file, "").unwrap();
    wait_line("DONE");
    assert_eq!(
        b.routes(Family::Ipv4Unicast).len(),
        2,
        "{}",
        describe(&b.routes(Family::Ipv4Unicast))
    );
    assert!(b.established(oc), "BIRD's session went down");
    assert_eq!(
        established_transitions(&d, peer),
        transitions,
        "a commit reset the session"
    );
}

/// The deviation module over NETCONF: the hello names it on the modules it
/// deviates, yang-library lists it as their `deviation`, get-schema returns
/// it, and an edit-config of a deviated leaf is refused with
/// unknown-element, the candidate left as it was.
#[test]
fn deviations_are_announced_and_deviated_leaves_refused() {
    let lab = Lab::new("nc_dev");
    let (_r1, r2, d, _b) = setup(&lab);
    let peer = r2.ipv4();
    let out = netconf(
        &d,
        &format!(
            r#"
caps = list(m.server_capabilities)
print("HELLO", [c for c in caps if "deviations=ocbgp-deviations" in c])
print("MODULE", any("urn:ocbgp:yang:ocbgp-deviations?module=ocbgp-deviations" in c for c in caps))
yl = m.get(filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>')).data_xml
print("YL", "<deviation>ocbgp-deviations</deviation>" in yl)
s = m.get_schema("ocbgp-deviations")
print("SCHEMA", "module ocbgp-deviations" in s.data and "not-supported" in s.data)
x = ('<network-instances xmlns="%s"><network-instance><name>DEFAULT</name><protocols>'
     '<protocol xmlns:pt="%s"><identifier>pt:BGP</identifier><name>BGP</name><bgp><neighbors><neighbor>'
     '<neighbor-address>{peer}</neighbor-address><config><neighbor-address>{peer}</neighbor-address>'
     '<peer-as>{PEER_AS}</peer-as><route-flap-damping>true</route-flap-damping></config>'
     '</neighbor></neighbors></bgp></protocol></protocols></network-instance></network-instances>') % (NI, PT)
try:
    m.edit_config(target="candidate", config=cfg(x))
    print("EDIT accepted")
except Exception as e:
    print("EDIT", getattr(e, "tag", ""), "|", str(e).replace("\n", " "))
c = m.get_config(source="candidate").data_xml
print("CANDIDATE", "{peer}" in c)
"#
        ),
    );
    let line = |tag: &str| {
        out.lines()
            .find(|l| l.starts_with(tag))
            .unwrap_or_else(|| panic!("no {tag} in {out}"))
            .to_string()
    };
    assert!(
        line("HELLO").contains("openconfig-network-instance"),
        "{out}"
    );
    assert_eq!(line("MODULE"), "MODULE True", "{out}");
    assert_eq!(line("YL"), "YL True", "{out}");
    assert_eq!(line("SCHEMA"), "SCHEMA True", "{out}");
    let edit = line("EDIT");
    assert!(
        edit.contains("unknown-element") && edit.contains("route-flap-damping"),
        "{edit}"
    );
    assert_eq!(
        line("CANDIDATE"),
        "CANDIDATE False",
        "nothing of the edit applied: {out}"
    );
}

/// ncclient edit-config of the candidate and commit, then a `<get>` of
/// `/ocbgp:commit-history`: the NETCONF commit is listed with its user
/// and number of changes, after the start-up (FILE) and gNMI ones.
#[test]
fn commit_history_after_edit_config_and_commit() {
    let lab = Lab::new("nc_history");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4())));
    add_user(&d);
    let out = netconf(
        &d,
        r#"
m.edit_config(target='candidate', config=cfg(prefix_set(prefix("192.0.2.0/24"))))
m.commit()
r = m.get(filter=('subtree', '<commit-history xmlns="urn:ocbgp:yang:ocbgp"/>'))
print(r.data_xml)
"#,
    );
    let commits: Vec<&str> = out.split("<commit>").skip(1).collect();
    assert_eq!(commits.len(), 3, "three commits expected: {out}");
    let leaf = |c: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = c.find(&open)? + open.len();
        let end = c[start..].find(&format!("</{name}>"))? + start;
        Some(c[start..end].to_string())
    };
    let origins: Vec<String> = commits.iter().filter_map(|c| leaf(c, "origin")).collect();
    assert_eq!(origins, ["FILE", "GNMI", "NETCONF"], "{out}");
    let nc = commits[2];
    assert_eq!(leaf(nc, "id").as_deref(), Some("3"), "{out}");
    assert_eq!(leaf(nc, "user").as_deref(), Some("admin"), "{out}");
    // The audit trail: the client's address (ncclient's, on the host).
    let source = leaf(nc, "source-address").unwrap_or_default();
    assert!(
        source.parse::<IpAddr>().is_ok(),
        "source-address {source:?}: {out}"
    );
    assert!(leaf(commits[0], "source-address").is_none(), "{out}");
    let changes: u64 = leaf(nc, "number-of-changes")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        changes >= 1,
        "number-of-changes of the NETCONF commit: {out}"
    );
    assert!(leaf(nc, "time").is_some_and(|t| t.ends_with('Z')), "{out}");
}

/// `inner` inside the apply-policy config of neighbor `peer`, and the
/// policies REJECT-ALL and ACCEPT-ALL.
fn apply_policy_xml(peer: IpAddr, inner: &str) -> String {
    format!(
        r#"<routing-policy xmlns="http://openconfig.net/yang/routing-policy"><policy-definitions>
 <policy-definition><name>REJECT-ALL</name><config><name>REJECT-ALL</name></config>
  <statements><statement><name>10</name><config><name>10</name></config>
   <actions><config><policy-result>REJECT_ROUTE</policy-result></config></actions></statement></statements></policy-definition>
 <policy-definition><name>ACCEPT-ALL</name><config><name>ACCEPT-ALL</name></config>
  <statements><statement><name>10</name><config><name>10</name></config>
   <actions><config><policy-result>ACCEPT_ROUTE</policy-result></config></actions></statement></statements></policy-definition>
</policy-definitions></routing-policy>
<network-instances xmlns="http://openconfig.net/yang/network-instance"><network-instance><name>DEFAULT</name><protocols>
 <protocol xmlns:pt="http://openconfig.net/yang/policy-types"><identifier>pt:BGP</identifier><name>BGP</name><bgp><neighbors>
  <neighbor><neighbor-address>{peer}</neighbor-address><apply-policy><config xmlns:yang="urn:ietf:params:xml:ns:yang:1">{inner}</config></apply-policy></neighbor>
 </neighbors></bgp></protocol>
</protocols></network-instance></network-instances>"#
    )
}

/// Edits running with `inner` in the neighbor's apply-policy config: "OK"
/// or the rpc-error's tag and message.
fn edit_apply_policy(d: &Ocbgpd, peer: IpAddr, inner: &str) -> String {
    let xml = apply_policy_xml(peer, inner);
    let out = netconf(
        d,
        &format!(
            r#"
from ncclient.operations.rpc import RPCError
try:
    m.edit_config(target='running', config=cfg({xml:?}))
    print("EDIT OK")
except RPCError as e:
    print("EDIT ERROR", e.tag, e.message)
"#
        ),
    );
    out.lines()
        .find_map(|l| l.strip_prefix("EDIT "))
        .unwrap_or_else(|| d.fail(&format!("no edit result in {out}")))
        .to_string()
}

/// The neighbor's export-policy chain in running, in order.
fn export_chain(d: &Ocbgpd, peer: IpAddr) -> Vec<String> {
    let out = netconf(
        d,
        &format!(
            "r = m.get_config(source='running', filter=('subtree', '<network-instances xmlns=\"%s\"><network-instance><name>DEFAULT</name><protocols><protocol><bgp><neighbors><neighbor><neighbor-address>{peer}</neighbor-address><apply-policy/></neighbor></neighbors></bgp></protocol></protocols></network-instance></network-instances>' % NI))\nprint(r.data_xml)\n"
        ),
    );
    out.split("<export-policy")
        .skip(1)
        .filter_map(|s| {
            let s = s.split_once('>')?.1;
            Some(s.split_once('<')?.0.trim().to_string())
        })
        .collect()
}

#[test]
fn export_policy_chain_ordered_by_insert() {
    let lab = Lab::new("nc_chain");
    let (r1, r2, d, b) = setup(&lab);
    let (peer, oc) = (r2.ipv4(), r1.ipv4());
    commit_neighbor_and_policy(&d, &b, peer, oc);
    let before = established_transitions(&d, peer);
    assert_eq!(export_chain(&d, peer), ["EXPORT"]);

    // REJECT-ALL first: nothing goes out (appended, it would come after
    // EXPORT, which lets ALLOWED out).
    assert_eq!(
        edit_apply_policy(
            &d,
            peer,
            r#"<export-policy yang:insert="first">REJECT-ALL</export-policy>"#
        ),
        "OK"
    );
    assert_eq!(export_chain(&d, peer), ["REJECT-ALL", "EXPORT"]);
    assert!(
        wait_until(ROUTE, || b.routes(Family::Ipv4Unicast).is_empty()),
        "BIRD still has {}",
        describe(&b.routes(Family::Ipv4Unicast))
    );
    // Moved after EXPORT: ALLOWED goes out again, OTHER does not.
    assert_eq!(
        edit_apply_policy(
            &d,
            peer,
            r#"<export-policy nc:operation="merge" yang:insert="after" yang:value="EXPORT">REJECT-ALL</export-policy>"#
        ),
        "OK"
    );
    assert_eq!(export_chain(&d, peer), ["EXPORT", "REJECT-ALL"]);
    b.wait_route(ALLOWED, ROUTE);
    assert_bird_has_only(&b, ALLOWED);
    // ACCEPT-ALL before REJECT-ALL: OTHER goes out too.
    assert_eq!(
        edit_apply_policy(
            &d,
            peer,
            r#"<export-policy nc:operation="create" yang:insert="before" yang:value="REJECT-ALL">ACCEPT-ALL</export-policy>"#
        ),
        "OK"
    );
    assert_eq!(
        export_chain(&d, peer),
        ["EXPORT", "ACCEPT-ALL", "REJECT-ALL"]
    );
    b.wait_route(OTHER, ROUTE);
    // Errors change nothing: create of a value that is there, an anchor
    // that is not there, insert on a leaf.
    let e = edit_apply_policy(
        &d,
        peer,
        r#"<export-policy nc:operation="create">EXPORT</export-policy>"#,
    );
    assert!(e.starts_with("ERROR data-exists"), "{e}");
    let e = edit_apply_policy(
        &d,
        peer,
        r#"<export-policy yang:insert="before" yang:value="NOPE">REJECT-ALL</export-policy>"#,
    );
    assert!(e.starts_with("ERROR"), "{e}");
    let e = edit_apply_policy(
        &d,
        peer,
        r#"<default-export-policy yang:insert="first">ACCEPT_ROUTE</default-export-policy>"#,
    );
    assert!(e.starts_with("ERROR bad-attribute"), "{e}");
    assert_eq!(
        export_chain(&d, peer),
        ["EXPORT", "ACCEPT-ALL", "REJECT-ALL"]
    );
    // Delete and remove of one value each.
    assert_eq!(
        edit_apply_policy(
            &d,
            peer,
            r#"<export-policy nc:operation="delete">ACCEPT-ALL</export-policy><export-policy nc:operation="remove">NOT-THERE</export-policy>"#
        ),
        "OK"
    );
    assert_eq!(export_chain(&d, peer), ["EXPORT", "REJECT-ALL"]);
    assert!(
        wait_until(ROUTE, || b.routes(Family::Ipv4Unicast).len() == 1),
        "BIRD still has {}",
        describe(&b.routes(Family::Ipv4Unicast))
    );
    assert_bird_has_only(&b, ALLOWED);
    assert_eq!(
        established_transitions(&d, peer),
        before,
        "the session was reset"
    );
}

/// Reads `<get>` data printed by ncclient (`data_xml`, one document per
/// marker line) and checks it is data of the model: libyang reads it in
/// strict mode and validates it (a list entry written twice, a namespace or
/// identity prefix wrong, keys out of order all fail).
fn model_data(d: &Ocbgpd, out: &str, marker: &str) -> String {
    use ocbgp_models::config::{parse_tree, Encoding};
    use yang2::data::{DataParserFlags, DataValidationFlags};
    let start = out
        .find(marker)
        .unwrap_or_else(|| d.fail(&format!("no {marker} in {out}")))
        + marker.len();
    let xml = out[start..].lines().nth(1).unwrap_or_default().to_string();
    // ncclient prints <data> with the NETCONF namespace: the content only.
    let inner = xml[xml.find("<data").unwrap_or(0)..]
        .split_once('>')
        .and_then(|(_, rest)| rest.rsplit_once("</"))
        .map(|(inner, _)| inner.to_string())
        .unwrap_or_default();
    if let Err(e) = parse_tree(
        &inner,
        Encoding::Xml,
        DataParserFlags::STRICT | DataParserFlags::NO_VALIDATION,
        DataValidationFlags::empty(),
    ) {
        d.fail(&format!("{marker}: not data of the model: {e}\n{inner}"));
    }
    inner
}

#[test]
fn rib_reads_stream_through_netconf_get() {
    let lab = Lab::new("nc_rib");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    const BIRDS: &str = "192.0.2.0/24";
    let d = Ocbgpd::start(
        &r1,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r1.ipv4())
                .route(Originated::new(ALLOWED).next_hop(r1.ipv4()))
                .route(Originated::new(OTHER).next_hop(r1.ipv4())),
        ),
    );
    let b = Bird::start(
        &r2,
        &BgpConfig::new(PEER_AS, r2.ipv4())
            .route(Originated::new(BIRDS).next_hop(r2.ipv4()))
            .neighbor(Neighbor::new(r1.ipv4(), OC_AS).families(&[Family::Ipv4Unicast])),
    );
    add_user(&d);
    d.set_gnmi_login("admin", "secret");
    let xml = neighbor_and_policy_xml(r2.ipv4());
    let out = netconf(
        &d,
        &format!("m.edit_config(target='candidate', config=cfg({xml:?}))\nm.commit()\n"),
    );
    assert!(out.contains("DONE"), "{out}");
    b.wait_established(r1.ipv4(), UP);
    b.wait_route(ALLOWED, ROUTE);
    assert!(
        wait_until(ROUTE, || d
            .adj_rib_prefixes(r2.ipv4(), Family::Ipv4Unicast, AdjRib::InPre)
            .iter()
            .any(|p| p == BIRDS)),
        "BIRD's route never reached ocbgpd"
    );
    let peer = r2.ipv4();
    let rib = r#"<network-instances xmlns="%s"><network-instance><name>DEFAULT</name><protocols><protocol><bgp>%s</bgp></protocol></protocols></network-instance></network-instances>"#;
    let out = netconf(
        &d,
        &format!(
            r#"
RIB = '{rib}'
def show(marker, f):
    r = m.get(filter=f)
    print(marker)
    print(r.data_xml.replace("\n", ""))
show("WHOLE", ('subtree', RIB % (NI, '<rib/>')))
show("ONE", ('subtree', RIB % (NI, '<rib><afi-safis><afi-safi><afi-safi-name xmlns:bt="%s">bt:IPV4_UNICAST</afi-safi-name><ipv4-unicast><loc-rib><routes><route><prefix>{ALLOWED}</prefix></route></routes></loc-rib></ipv4-unicast></afi-safi></afi-safis></rib>' % BT)))
show("PREFIXES", ('subtree', RIB % (NI, '<rib><afi-safis><afi-safi><ipv4-unicast><loc-rib><routes><route><prefix/></route></routes></loc-rib></ipv4-unicast></afi-safi></afi-safis></rib>')))
show("NEIGHBORS", ('subtree', RIB % (NI, '<neighbors/><rib><afi-safis><afi-safi><ipv4-unicast><neighbors><neighbor><neighbor-address>{peer}</neighbor-address><adj-rib-out-post/></neighbor></neighbors></ipv4-unicast></afi-safi></afi-safis></rib>')))
show("XPATH", ('xpath', ({{'ni': NI}}, "/ni:network-instances/ni:network-instance[ni:name='DEFAULT']/ni:protocols/ni:protocol/ni:bgp/ni:rib/ni:afi-safis/ni:afi-safi[ni:afi-safi-name='openconfig-bgp-types:IPV4_UNICAST']/ni:ipv4-unicast/ni:loc-rib/ni:routes/ni:route[ni:prefix='{BIRDS}']")))
show("ABOVE", ('subtree', RIB % (NI, '')))
"#
        ),
    );
    let whole = model_data(&d, &out, "WHOLE");
    // Every table: our two routes and BIRD's in the Loc-RIB, BIRD's in its
    // Adj-RIB-In, ALLOWED (only) in the Adj-RIB-Out, and the sets.
    for p in [ALLOWED, OTHER, BIRDS] {
        assert!(
            whole.contains(&format!("<prefix>{p}</prefix>")),
            "{p} not in {whole}"
        );
    }
    for table in [
        "loc-rib",
        "adj-rib-in-pre",
        "adj-rib-in-post",
        "adj-rib-out-pre",
        "adj-rib-out-post",
        "attr-sets",
    ] {
        assert!(whole.contains(&format!("<{table}>")), "no {table}: {whole}");
    }
    assert_eq!(whole.matches("<rib").count(), 1, "{whole}");

    let one = model_data(&d, &out, "ONE");
    assert_eq!(one.matches("<route>").count(), 1, "{one}");
    assert!(one.contains(&format!("<prefix>{ALLOWED}</prefix>")) && one.contains("attr-index"));
    assert!(
        !one.contains("adj-rib") && !one.contains("attr-sets"),
        "{one}"
    );

    let prefixes = model_data(&d, &out, "PREFIXES");
    assert_eq!(prefixes.matches("<route>").count(), 3, "{prefixes}");
    assert!(!prefixes.contains("attr-index"), "{prefixes}");

    // The neighbors' configuration and state from the tree, the table from
    // the stream, in one bgp element.
    let neighbors = model_data(&d, &out, "NEIGHBORS");
    assert!(neighbors.contains("session-state"), "{neighbors}");
    assert!(neighbors.contains("<adj-rib-out-post>"), "{neighbors}");
    assert_eq!(neighbors.matches("<route>").count(), 1, "{neighbors}");
    assert!(neighbors.contains(&format!("<prefix>{ALLOWED}</prefix>")));
    assert_eq!(neighbors.matches("<bgp").count(), 1, "{neighbors}");

    let xpath = model_data(&d, &out, "XPATH");
    assert_eq!(xpath.matches("<route>").count(), 1, "{xpath}");
    assert!(
        xpath.contains(&format!("<prefix>{BIRDS}</prefix>")),
        "{xpath}"
    );

    // A read above the RIB does not include it (as over gNMI).
    let above = model_data(&d, &out, "ABOVE");
    assert!(
        above.contains("<neighbors>") && !above.contains("<rib"),
        "{above}"
    );
}
