//! Two-phase apply, end to end: a commit is acknowledged only once
//! everything it needs from the host is in hand. A BGP listen address the
//! host lacks is refused (gNMI Set with pygnmi, SIGHUP reload, and
//! `ocbgpd --check`) and nothing changes; an address removed from the
//! listener is unbound; gNMI on a non-loopback address without TLS is
//! refused. The management servers follow every commit: a gNMI user added
//! at run time is required at the next request, gNMI and NETCONF move to a
//! new port, and the NETCONF session (ncclient) and gNMI subscription
//! (pygnmi) of a removed user are closed.
//!
//! Every address used is loopback inside the lab's namespace, except
//! 198.51.100.7 (TEST-NET-2), which no host of the lab has: binding it
//! fails with EADDRNOTAVAIL, nothing is sent to it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

const STEP: Duration = Duration::from_secs(15);
const OC_AS: u32 = 65001;
const LISTEN: &str = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/ocbgp:listen/config";
const ABSENT: &str = "198.51.100.7";
const RELOADED: &str = "configuration reloaded";
const REFUSED: &str = "configuration reload refused; running configuration unchanged";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A gNMI Set (pygnmi, json_ietf) of `op` ("update" or "replace") with
/// `path` and `value` at `addr` in ocbgpd's namespace, logged in when
/// `login` is given: Ok, or Err with what pygnmi said.
fn gnmi_set(
    d: &Ocbgpd,
    addr: SocketAddr,
    login: Option<(&str, &str)>,
    op: &str,
    path: &str,
    value: Value,
) -> Result<(), String> {
    let login = login
        .map(|(u, p)| format!(", username={u:?}, password={p:?}"))
        .unwrap_or_default();
    let code = format!(
        r#"
import json
from pygnmi.client import gNMIclient
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5{login}) as gc:
    gc.set({op}=[({path:?}, json.loads({value:?}))], encoding="json_ietf")
print("OK")
"#,
        host = addr.ip().to_string(),
        port = addr.port(),
        value = value.to_string(),
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A gNMI Get of `path` at `addr`, logged in when `login` is given.
fn gnmi_get(
    d: &Ocbgpd,
    addr: SocketAddr,
    login: Option<(&str, &str)>,
    path: &str,
) -> Result<Vec<Value>, String> {
    let login = login.map(|(u, p)| (u.to_string(), p.to_string()));
    gnmi_get_as(d.host(), addr, path, login.as_ref())
}

fn count(d: &Ocbgpd, message: &str) -> usize {
    d.log_events_for(message, None).len()
}

/// The lab config with the BGP listener on `addresses`, port 1790.
fn config(h: &Host, addresses: &[IpAddr]) -> OcbgpdConfig {
    OcbgpdConfig::new(BgpConfig::new(OC_AS, h.ipv4())).listen(addresses, 1790)
}

#[test]
fn bgp_listen_address_the_host_lacks_is_refused_and_removed_addresses_unbind() {
    let lab = Lab::new("apply_listen");
    let h = lab.host("r1");
    let (lo1, lo2) = (ip("127.0.0.1"), ip("127.0.0.2"));
    let d = Ocbgpd::start(&h, &config(&h, &[lo1, lo2]));
    let gnmi = d.config().gnmi_addr();
    let (bgp1, bgp2) = (SocketAddr::new(lo1, 1790), SocketAddr::new(lo2, 1790));
    h.wait_tcp_reachable(bgp1, STEP);
    h.wait_tcp_reachable(bgp2, STEP);

    // gNMI Set: an address the host lacks is refused with the path and
    // the reason; the listener keeps both addresses.
    let err = gnmi_set(
        &d,
        gnmi,
        None,
        "replace",
        LISTEN,
        json!({"address": ["127.0.0.1", ABSENT], "port": 1790}),
    )
    .expect_err("a listen address the host lacks must be refused");
    assert!(err.contains("FAILED_PRECONDITION"), "{err}");
    assert!(err.contains("ocbgp:listen/config/address"), "{err}");
    assert!(
        err.contains("not available") || err.contains("Cannot assign"),
        "{err}"
    );
    assert!(h.tcp_reachable(bgp1) && h.tcp_reachable(bgp2));
    let running = d
        .try_gnmi_get(&format!("{LISTEN}/address"))
        .unwrap_or_else(|e| d.fail(&e));
    assert!(!format!("{running:?}").contains(ABSENT), "{running:?}");

    // Removing an address unbinds it; the other keeps serving.
    gnmi_set(
        &d,
        gnmi,
        None,
        "replace",
        LISTEN,
        json!({"address": ["127.0.0.1"], "port": 1790}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    assert!(
        wait_until(STEP, || !h.tcp_reachable(bgp2)),
        "127.0.0.2 still bound after its removal"
    );
    assert!(h.tcp_reachable(bgp1));

    // SIGHUP: the same refusal, logged; nothing changes.
    let bad = config(&h, &[lo1, ip(ABSENT)]);
    bad.write(d.config_file());
    let (seen, seen_ok) = (count(&d, REFUSED), count(&d, RELOADED));
    d.process().signal("HUP");
    let refused = d.wait_log_event(REFUSED, None, seen, STEP);
    let error = refused["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(ABSENT) && error.contains("ocbgp:listen/config/address"),
        "{refused}"
    );
    assert_eq!(count(&d, RELOADED), seen_ok);
    assert!(h.tcp_reachable(bgp1));

    // --check says so too.
    let checked = check_config_file(d.config_file()).expect_err("--check must refuse it");
    assert!(checked.contains(ABSENT), "{checked}");

    // A good file moves the listener (new port bound before the old
    // closes); --check passes it, naming what it cannot check.
    let good = config(&h, &[lo2]);
    good.write(d.config_file());
    let out = std::process::Command::new(ocbgp_tests::bin_path("ocbgpd"))
        .arg("--check")
        .arg(d.config_file())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("valid") && said.contains("note: not checked without the live daemon"),
        "--check should say what it could not check: {said}"
    );
    let seen_ok = count(&d, RELOADED);
    d.process().signal("HUP");
    d.wait_log_event(RELOADED, None, seen_ok, STEP);
    h.wait_tcp_reachable(bgp2, STEP);
    assert!(
        wait_until(STEP, || !h.tcp_reachable(bgp1)),
        "127.0.0.1 still bound after the reload removed it"
    );
    d.process().assert_running();
}

#[test]
fn gnmi_off_loopback_without_tls_is_refused() {
    let lab = Lab::new("apply_gnmi_tls");
    let h = lab.host("r1");
    let d = Ocbgpd::start(&h, &config(&h, &[ip("127.0.0.1")]));
    let gnmi = d.config().gnmi_addr();
    let err = gnmi_set(
        &d,
        gnmi,
        None,
        "update",
        "/ocbgp:management/gnmi/config",
        json!({"address": h.ipv4().to_string()}),
    )
    .expect_err("gNMI off loopback without TLS must be refused");
    assert!(err.contains("FAILED_PRECONDITION"), "{err}");
    assert!(
        err.contains("/ocbgp:management/gnmi/config/address"),
        "{err}"
    );
    assert!(err.contains("TLS"), "{err}");
    // Running and the server are as before.
    let addr = d
        .try_gnmi_get("/ocbgp:management/gnmi/config/address")
        .unwrap_or_else(|e| d.fail(&e));
    assert!(format!("{addr:?}").contains("127.0.0.1"), "{addr:?}");
    assert!(!h.tcp_reachable(SocketAddr::new(h.ipv4(), gnmi.port())));

    // Users no login could match are refused with the leaf at fault: a
    // password that is no crypt(3) hash (nor $0$), a key that does not
    // parse.
    for (user, leaf) in [
        (
            json!({"name": "eve", "password": "plain"}),
            "config/password",
        ),
        (
            json!({"name": "eve", "password": "$0$x", "authorized-key": ["ssh-ed25519 not-a-key"]}),
            "config/authorized-key",
        ),
    ] {
        let err = gnmi_set(
            &d,
            gnmi,
            None,
            "update",
            "/ocbgp:management/users/user[name=eve]",
            json!({"name": "eve", "config": user}),
        )
        .expect_err("a user no login can match must be refused");
        assert!(err.contains("FAILED_PRECONDITION"), "{err}");
        assert!(err.contains(leaf), "{err}");
    }

    // --check refuses such a file, and one whose TLS files do not exist.
    let mut file = config(&h, &[ip("127.0.0.1")]).to_json();
    file["ocbgp:management"]["gnmi"] =
        json!({"config": {"address": h.ipv4().to_string(), "port": 9339}});
    let path = h.dir().join("exposed.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let checked = check_config_file(&path).expect_err("--check must refuse it");
    assert!(checked.contains("TLS"), "{checked}");
    file["ocbgp:management"]["gnmi"]["config"]["tls-certificate"] = json!("/nonexistent/cert.pem");
    file["ocbgp:management"]["gnmi"]["config"]["tls-key"] = json!("/nonexistent/key.pem");
    std::fs::write(&path, file.to_string()).unwrap();
    let checked = check_config_file(&path).expect_err("--check must refuse it");
    assert!(checked.contains("/nonexistent/cert.pem"), "{checked}");
    d.process().assert_running();
}

#[test]
fn management_servers_follow_commits() {
    let lab = Lab::new("apply_mgmt");
    let h = lab.host("r1");
    let d = Ocbgpd::start(&h, &config(&h, &[ip("127.0.0.1")]));
    let gnmi = d.config().gnmi_addr();
    let alice = Some(("alice", "wonder"));

    // No user: gNMI takes requests without a login. A user added at run
    // time is required from the next request on. Access control lets
    // alice write.
    gnmi_set(&d, gnmi, None, "update", NACM, administrators(&["alice"]))
        .unwrap_or_else(|e| d.fail(&e));
    gnmi_set(
        &d,
        gnmi,
        None,
        "update",
        "/ocbgp:management/users/user[name=alice]",
        json!({"name": "alice", "config": {"name": "alice", "password": "$0$wonder"}}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    let path = "/ocbgp:management/gnmi/config/port";
    let err = gnmi_get(&d, gnmi, None, path).expect_err("a login is required now");
    assert!(err.contains("UNAUTHENTICATED"), "{err}");
    let err = gnmi_get(&d, gnmi, Some(("alice", "wrong")), path).expect_err("wrong password");
    assert!(err.contains("UNAUTHENTICATED"), "{err}");
    gnmi_get(&d, gnmi, alice, path).unwrap_or_else(|e| d.fail(&e));

    // gNMI moves to another port with the commit.
    let moved: SocketAddr = "127.0.0.1:9340".parse().unwrap();
    gnmi_set(
        &d,
        gnmi,
        alice,
        "update",
        "/ocbgp:management/gnmi/config",
        json!({"port": 9340}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    h.wait_tcp_reachable(moved, STEP);
    assert!(
        wait_until(STEP, || !h.tcp_reachable(gnmi)),
        "the old gNMI port still answers"
    );
    gnmi_get(&d, moved, alice, path).unwrap_or_else(|e| d.fail(&e));

    // NETCONF moves too; then the NETCONF session and the gNMI
    // subscription of a user removed by a commit are closed (ncclient sees
    // its session end, pygnmi its subscription).
    let netconf: SocketAddr = "127.0.0.1:8300".parse().unwrap();
    gnmi_set(
        &d,
        moved,
        alice,
        "update",
        "/ocbgp:management/netconf/config",
        json!({"port": 8300}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    h.wait_tcp_reachable(netconf, STEP);
    assert!(
        wait_until(STEP, || !h.tcp_reachable("127.0.0.1:830".parse().unwrap())),
        "the old NETCONF port still answers"
    );
    // A NETCONF commit the engine cannot carry out is refused with
    // operation-failed and the path; nothing changes.
    let code = format!(
        r#"
from ncclient import manager
from ncclient.operations import RPCError
m = manager.connect(host="127.0.0.1", port={nport}, username="alice", password="wonder",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=10)
m.edit_config(target="candidate", config="""
<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
 <network-instances xmlns="http://openconfig.net/yang/network-instance"><network-instance><name>DEFAULT</name>
  <protocols><protocol xmlns:pt="http://openconfig.net/yang/policy-types"><identifier>pt:BGP</identifier><name>BGP</name>
   <bgp><global><listen xmlns="urn:ocbgp:yang:ocbgp"><config><address>{ABSENT}</address></config></listen></global></bgp>
  </protocol></protocols></network-instance></network-instances>
</config>""")
try:
    m.commit()
    print("COMMITTED")
except RPCError as e:
    print("REFUSED", e.tag, e.message)
m.discard_changes()
m.close_session()
"#,
        nport = netconf.port(),
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("REFUSED operation-failed"), "{said}");
    assert!(said.contains("ocbgp:listen/config/address"), "{said}");
    assert!(said.contains(ABSENT), "{said}");
    assert!(h.tcp_reachable("127.0.0.1:1790".parse().unwrap()));

    gnmi_set(
        &d,
        moved,
        alice,
        "update",
        "/ocbgp:management/users/user[name=bob]",
        json!({"name": "bob", "config": {"name": "bob", "password": "$0$builder"}}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    let code = format!(
        r#"
import time
from ncclient import manager
from pygnmi.client import gNMIclient
m = manager.connect(host="127.0.0.1", port={nport}, username="bob", password="builder",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=10)
m.get_config(source="running")
print("CONNECTED", flush=True)
gb = gNMIclient(target=("127.0.0.1", {gport}), insecure=True, timeout=5,
                username="bob", password="builder")
gb.connect()
sub = gb.subscribe2(subscribe={{"subscription": [{{"path": "/ocbgp:management/gnmi/config", "mode": "on_change"}}],
                               "mode": "stream", "encoding": "json_ietf"}})
sub.get_update(timeout=5)
print("SUBSCRIBED", flush=True)
with gNMIclient(target=("127.0.0.1", {gport}), insecure=True, timeout=5,
                username="alice", password="wonder") as gc:
    gc.set(delete=["/ocbgp:management/users/user[name=bob]"])
deadline = time.monotonic() + 10
while (m.connected or sub._subscribe_thread.is_alive()) and time.monotonic() < deadline:
    time.sleep(0.05)
print("CLOSED" if not m.connected else "NETCONF-STILL-OPEN")
print("SUBSCRIPTION-ENDED %s" % sub.error.code() if not sub._subscribe_thread.is_alive() else "SUBSCRIPTION-STILL-OPEN")
import os
os._exit(0)
"#,
        nport = netconf.port(),
        gport = moved.port(),
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("CONNECTED"), "{said}");
    assert!(said.contains("SUBSCRIBED"), "{said}");
    assert!(said.contains("CLOSED"), "{said}");
    assert!(said.contains("SUBSCRIPTION-ENDED"), "{said}");
    // Metrics: an address the host lacks, or a port another socket holds
    // (the BGP listener's), is refused; a free one is served at once.
    for (value, reason) in [
        (json!({"enabled": true, "address": ABSENT}), "198.51.100.7"),
        (json!({"enabled": true, "port": 1790}), "in use"),
    ] {
        let err = gnmi_set(
            &d,
            moved,
            alice,
            "update",
            "/ocbgp:management/metrics/config",
            value,
        )
        .expect_err("the metrics endpoint cannot listen there");
        assert!(err.contains("FAILED_PRECONDITION"), "{err}");
        assert!(
            err.contains("/ocbgp:management/metrics/config/address"),
            "{err}"
        );
        assert!(err.contains(reason), "{err}");
    }
    let metrics: SocketAddr = "127.0.0.1:9179".parse().unwrap();
    assert!(!h.tcp_reachable(metrics));
    gnmi_set(
        &d,
        moved,
        alice,
        "update",
        "/ocbgp:management/metrics/config",
        json!({"enabled": true}),
    )
    .unwrap_or_else(|e| d.fail(&e));
    assert!(
        h.tcp_reachable(metrics),
        "metrics not listening once the commit is acknowledged"
    );

    assert!(
        !d.log_events_for("NETCONF session closed: its user was removed", None)
            .is_empty(),
        "{}",
        d.process().log_tail(20)
    );
    d.process().assert_running();
}

/// A self-signed certificate for 127.0.0.1 in `dir` (openssl): its file,
/// its key's file and its SHA-256 fingerprint as openssl prints it.
fn make_cert(dir: &std::path::Path, name: &str) -> (String, String, String) {
    let (cert, key) = self_signed_cert(dir, name);
    let fp = cert_fingerprint(&cert);
    (cert.display().to_string(), key.display().to_string(), fp)
}

/// The fingerprint of the certificate the TLS server at `addr` presents
/// (openssl s_client in `h`'s namespace).
fn served_fingerprint(h: &Host, addr: SocketAddr) -> String {
    let script = format!(
        "openssl s_client -connect {addr} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    );
    let out = h.try_run("timeout", &["10", "bash", "-c", &script]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn gnmi_tls_files_follow_commits() {
    let lab = Lab::new("apply_tls");
    let h = lab.host("r1");
    let (cert_a, key_a, fp_a) = make_cert(h.dir(), "a");
    let (cert_b, key_b, fp_b) = make_cert(h.dir(), "b");
    assert_ne!(fp_a, fp_b);
    let mut file = config(&h, &[ip("127.0.0.1")]).no_netconf().to_json();
    file["ocbgp:management"]["gnmi"] = json!({"config": {
        "address": "127.0.0.1", "port": 9339, "tls-certificate": cert_a, "tls-key": key_a}});
    file["ocbgp:management"]["users"] =
        json!({"user": [{"name": "ops", "config": {"name": "ops", "password": "$0$pw"}}]});
    file["ietf-netconf-acm:nacm"] = administrators(&["ops"]);
    let path = h.dir().join("tls-checked.json");
    std::fs::write(&path, file.to_string()).unwrap();
    check_config_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let p = spawn_ocbgpd_json(&h, "tls", &file);
    let gnmi: SocketAddr = "127.0.0.1:9339".parse().unwrap();
    assert_eq!(served_fingerprint(&h, gnmi), fp_a);

    // pygnmi over TLS: a Set naming a key file that does not exist is
    // refused with its path; one naming certificate B switches the server
    // to it by the time the commit is acknowledged.
    let set = |ca: &str, cert: &str, key: &str| {
        let code = format!(
            r#"
from pygnmi.client import gNMIclient
with gNMIclient(target=("127.0.0.1", 9339), path_cert={ca:?}, username="ops", password="pw",
                timeout=5) as gc:
    gc.set(update=[("/ocbgp:management/gnmi/config", {{"tls-certificate": {cert:?}, "tls-key": {key:?}}})],
           encoding="json_ietf")
print("OK")
"#
        );
        let out = h.try_run("timeout", &["30", "python3", "-c", &code]);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    };
    let (ok, said) = set(&cert_a, &cert_b, "/nonexistent/b.key");
    assert!(!ok, "{said}");
    assert!(said.contains("FAILED_PRECONDITION"), "{said}");
    assert!(
        said.contains("/ocbgp:management/gnmi/config/tls-key"),
        "{said}"
    );
    assert_eq!(served_fingerprint(&h, gnmi), fp_a);
    let (ok, said) = set(&cert_a, &cert_b, &key_b);
    assert!(ok, "{said}\n{}", p.log_tail(20));
    assert!(
        wait_until(STEP, || served_fingerprint(&h, gnmi) == fp_b),
        "the server still presents the old certificate"
    );
    p.assert_running();
}
