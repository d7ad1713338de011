//! The `ocbgp` command-line client end to end: the real binary against a
//! running ocbgpd r2 (AS 65001) peered with a real gobgpd r1 (AS 65010)
//! that announces three routes, all in network namespaces. One lab serves
//! every check, in order:
//!
//! - `neighbor` (summary) shows r1 ESTABLISHED with 3 routes received and
//!   accepted; `neighbor ADDR` the detail (capabilities, timers, counters);
//! - `global rib` lists gobgpd's routes; an address picks the longest
//!   match, a prefix the exact one; `adj-in` shows what r1 sent;
//! - `global rib add` makes gobgpd receive the route with its attributes
//!   (and `adj-out` shows it), `del` withdraws it; `monitor rib` prints both
//!   changes as they happen;
//! - `softreset` (in, out, both) keeps the session up (same
//!   established-transitions), `reset` bumps the transitions (gNOI BGP);
//!   `shutdown` takes the session down and `enable` brings it back, which
//!   `monitor neighbor` reports; a hand-encoded gNOI call from Python's
//!   grpcio (no generated code) reaches the engine too;
//! - `set` / `get` / `delete` round-trip, `policy` shows a set made by
//!   `set`; bad paths, bad values, unknown neighbors and a daemon that is
//!   not running give clear errors and a failure exit status;
//! - `completion` and `--help` of every verb.
//!
//! Every `ocbgp` run is bounded by `timeout`; waits are bounded polls.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::{bin_path, wait_until};
use serde_json::Value;

const UP: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(20);

const OC_AS: u32 = 65001;
const PEER_AS: u32 = 65010;
const WIDE: &str = "10.1.0.0/16";
const NARROW: &str = "10.1.1.0/24";
const OTHER: &str = "10.2.0.0/24";
const OURS: &str = "10.9.0.0/24";

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// Runs `ocbgp ARGS` in ocbgpd's namespace: (success, stdout, stderr).
fn ocbgp(d: &Ocbgpd, args: &[&str]) -> (bool, String, String) {
    let bin = bin_path("ocbgp");
    let mut full = vec!["30", bin.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let out = d.host().try_run("timeout", &full);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ocbgp ARGS --json`, parsed; panics with the output on failure.
fn json(d: &Ocbgpd, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (ok, out, err) = ocbgp(d, &a);
    if !ok {
        d.fail(&format!("`ocbgp {}` failed: {out}{err}", a.join(" ")));
    }
    serde_json::from_str(&out).unwrap_or_else(|e| {
        d.fail(&format!(
            "`ocbgp {}` printed bad JSON ({e}): {out}",
            a.join(" ")
        ))
    })
}

/// `ocbgp ARGS` expected to fail: its stderr.
fn fails(d: &Ocbgpd, args: &[&str]) -> String {
    let (ok, out, err) = ocbgp(d, args);
    assert!(!ok, "`ocbgp {}` should fail, printed {out}", args.join(" "));
    err
}

/// The summary row of `peer`.
fn summary_of(d: &Ocbgpd, peer: IpAddr) -> Value {
    let all = json(d, &["neighbor"]);
    all.as_array()
        .and_then(|a| {
            a.iter()
                .find(|n| n["neighbor"] == peer.to_string())
                .cloned()
        })
        .unwrap_or_else(|| d.fail(&format!("{peer} not in `ocbgp neighbor`: {all}")))
}

/// Waits until `peer`'s summary row satisfies `cond`; returns it.
fn wait_summary(d: &Ocbgpd, peer: IpAddr, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(STEP, || {
        last = summary_of(d, peer);
        cond(&last)
    });
    if !ok {
        d.fail(&format!("neighbor {peer}: {what} not reached; last {last}"));
    }
    last
}

fn prefixes(rows: &Value) -> Vec<String> {
    let mut out: Vec<String> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["prefix"].as_str().map(String::from))
        .collect();
    out.sort();
    out
}

/// `ocbgp monitor ...` running in the background; its stdout lines arrive
/// on a channel.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Monitor {
    fn start(d: &Ocbgpd, args: &[&str]) -> Monitor {
        let bin = bin_path("ocbgp");
        let mut child = d
            .host()
            .command("timeout")
            .arg("120")
            .arg(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start ocbgp monitor");
        let out = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Monitor { child, lines }
    }

    /// Waits (bounded) for a JSON line that satisfies `cond`.
    fn wait(&self, d: &Ocbgpd, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + STEP;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&l) {
                        if cond(&v) {
                            return v;
                        }
                    }
                    seen.push(l);
                }
                Err(_) => break,
            }
        }
        d.fail(&format!("monitor: no {what}; saw {seen:?}"))
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// UPDATEs gobgpd has received from ocbgpd (`gobgp -j neighbor`).
fn gobgp_updates_received(g: &Gobgp) -> u64 {
    let all = g.neighbors_json().unwrap_or_else(|e| g.fail(&e));
    all.as_array()
        .and_then(|a| a.first())
        .and_then(|n| n["state"]["messages"]["received"]["update"].as_u64())
        .unwrap_or_else(|| g.fail(&format!("no received update count in {all}")))
}

#[test]
fn ocbgp_cli_against_ocbgpd_and_gobgpd() {
    let lab = Lab::new("cli_e2e");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let v4 = &[Family::Ipv4Unicast];
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), PEER_AS).families(v4)),
        ),
    );
    let g = Gobgp::start(
        &r1,
        &BgpConfig::new(PEER_AS, r1.ipv4())
            .neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4))
            .route(Originated::new(WIDE).med(10))
            .route(Originated::new(NARROW).community("65010:2"))
            .route(Originated::new(OTHER)),
    );
    let peer = r1.ipv4();
    let p = peer.to_string();

    // Summary: established, three routes received and accepted.
    d.wait_established(peer, UP);
    let s = wait_summary(&d, peer, "ESTABLISHED with 3 routes", |s| {
        s["state"] == "ESTABLISHED" && s["received"] == 3 && s["accepted"] == 3
    });
    assert_eq!(s["peer_as"], PEER_AS);
    assert!(
        s["uptime"].is_u64(),
        "uptime of an established session: {s}"
    );
    let (ok, table, _) = ocbgp(&d, &["neighbor"]);
    assert!(
        ok && table.contains(&p) && table.contains("ESTABLISHED"),
        "summary table:\n{table}"
    );

    // Detail.
    let n = json(&d, &["neighbor", &p]);
    assert_eq!(n["state"], "ESTABLISHED");
    assert_eq!(n["local_as"], OC_AS);
    let caps: Vec<&str> = n["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        caps.contains(&"ROUTE_REFRESH") && caps.contains(&"MPBGP"),
        "capabilities {caps:?}"
    );
    assert!(
        n["messages"]["received"]["update"].as_u64().unwrap() >= 1,
        "{n}"
    );
    assert_eq!(n["families"]["IPV4_UNICAST"]["received"], 3);
    assert_eq!(n["timers"]["hold_time"], 90);
    assert_eq!(n["transport"]["remote_address"], p);
    let (ok, text, _) = ocbgp(&d, &["neighbor", &p]);
    assert!(
        ok && text.contains("Capabilities") && text.contains("IPV4_UNICAST"),
        "detail:\n{text}"
    );

    // The Loc-RIB, lookups, Adj-RIB-In.
    let rib = json(&d, &["global", "rib"]);
    assert_eq!(
        prefixes(&rib),
        [WIDE, NARROW, OTHER].map(String::from).to_vec(),
        "{rib}"
    );
    for r in rib.as_array().unwrap() {
        assert_eq!(r["source"], p, "{r}");
        assert_eq!(r["next_hop"], p, "{r}");
        assert_eq!(r["as_path"], PEER_AS.to_string(), "{r}");
    }
    let wide = rib
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prefix"] == WIDE)
        .unwrap();
    assert_eq!(wide["med"], 10);
    let narrow = rib
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prefix"] == NARROW)
        .unwrap();
    assert_eq!(narrow["communities"], serde_json::json!(["65010:2"]));
    assert_eq!(
        prefixes(&json(&d, &["global", "rib", "10.1.1.7"])),
        [NARROW]
    );
    assert_eq!(
        prefixes(&json(&d, &["global", "rib", "10.1.200.1"])),
        [WIDE]
    );
    assert_eq!(prefixes(&json(&d, &["global", "rib", WIDE])), [WIDE]);
    assert_eq!(
        prefixes(&json(&d, &["global", "rib", "10.3.0.1"])),
        Vec::<String>::new()
    );
    assert_eq!(
        prefixes(&json(&d, &["global", "rib", "-a", "ipv6"])),
        Vec::<String>::new()
    );
    let (ok, table, _) = ocbgp(&d, &["global", "rib"]);
    assert!(
        ok && table.contains(NARROW) && table.contains("65010:2"),
        "rib table:\n{table}"
    );
    assert_eq!(prefixes(&json(&d, &["neighbor", &p, "adj-in"])).len(), 3);
    assert_eq!(
        prefixes(&json(&d, &["neighbor", &p, "adj-in", "10.1.1.1"])),
        [NARROW]
    );

    // Originate a route; gobgpd gets it; monitor rib sees it come and go.
    let mon = Monitor::start(&d, &["monitor", "rib", "-a", "ipv4", "--json"]);
    mon.wait(&d, "sync", |v| v["event"] == "sync");
    json(
        &d,
        &[
            "global",
            "rib",
            "add",
            OURS,
            "med",
            "7",
            "community",
            "65001:9",
            "origin",
            "egp",
        ],
    );
    let got = g.wait_route(OURS, STEP);
    assert_eq!(got.med, Some(7), "{got}");
    assert_eq!(got.communities, vec!["65001:9".to_string()], "{got}");
    assert_eq!(got.origin, Some(Origin::Egp), "{got}");
    assert_eq!(got.as_path, vec![OC_AS], "{got}");
    mon.wait(&d, "update of the added route", |v| {
        v["event"] == "update" && v["prefix"] == OURS
    });
    let out = json(&d, &["neighbor", &p, "adj-out"]);
    assert!(prefixes(&out).contains(&OURS.to_string()), "adj-out {out}");
    assert_eq!(prefixes(&json(&d, &["global", "rib", "10.9.0.1"])), [OURS]);
    json(&d, &["global", "rib", "del", OURS]);
    g.wait_no_route(OURS, STEP);
    mon.wait(&d, "withdraw of the route", |v| {
        v["event"] == "withdraw" && v["prefix"] == OURS
    });
    drop(mon);
    assert!(fails(&d, &["global", "rib", "del", OURS]).contains("not an originated route"));
    assert!(fails(&d, &["global", "rib", "add", "10.9.0.1/24"]).contains("host bits"));
    assert!(fails(&d, &["global", "rib", "add", OURS, "med", "lots"]).contains("not a number"));

    // Soft resets keep the session; `softreset out` sends our routes
    // again (gobgpd counts more UPDATEs); a hard reset bumps the
    // transitions.
    json(&d, &["global", "rib", "add", OURS]);
    g.wait_route(OURS, STEP);
    let t0 = summary_of(&d, peer)["established_transitions"]
        .as_u64()
        .unwrap();
    let cleared = d.log_events_for("neighbor cleared", Some(peer)).len();
    let u0 = gobgp_updates_received(&g);
    json(&d, &["neighbor", &p, "softreset", "out"]);
    assert!(
        wait_until(STEP, || gobgp_updates_received(&g) > u0),
        "softreset out sent nothing to gobgpd"
    );
    json(&d, &["neighbor", &p, "softreset", "in"]);
    json(&d, &["neighbor", &p, "softreset"]);
    // One clear for out, one for in, two for both.
    d.wait_log_event("neighbor cleared", Some(peer), cleared + 3, STEP);
    let s = summary_of(&d, peer);
    assert_eq!(s["state"], "ESTABLISHED");
    assert_eq!(
        s["established_transitions"], t0,
        "a soft reset reset the session: {s}"
    );
    assert_eq!(s["accepted"], 3);
    json(&d, &["global", "rib", "del", OURS]);
    g.wait_no_route(OURS, STEP);

    // Any gNOI client: the method and field numbers of the gNOI BGP
    // specification, encoded by hand (address = 1, mode = 3: SOFTIN = 1).
    let cleared = d.log_events_for("neighbor cleared", Some(peer)).len();
    let code = format!(
        "import grpc\n\
         call = grpc.insecure_channel('127.0.0.1:9339').unary_unary('/gnoi.bgp.BGP/ClearBGPNeighbor')\n\
         a = {p:?}.encode()\n\
         print(repr(call(b'\\x0a' + bytes([len(a)]) + a + b'\\x18\\x01', timeout=10)))\n"
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    assert!(
        out.status.success(),
        "raw gNOI call: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "b''",
        "empty ClearBGPNeighborResponse"
    );
    let e = d.wait_log_event("neighbor cleared", Some(peer), cleared, STEP);
    assert_eq!(e["fields"]["mode"], "SoftIn", "{e}");

    json(&d, &["neighbor", &p, "reset"]);
    wait_summary(&d, peer, "established again after reset", |s| {
        s["state"] == "ESTABLISHED"
            && s["established_transitions"].as_u64() == Some(t0 + 1)
            && s["accepted"] == 3
    });
    let n = json(&d, &["neighbor", &p]);
    assert_eq!(
        n["messages"]["sent"]["last_notification_error_code"], "CEASE",
        "{n}"
    );
    assert_eq!(
        n["messages"]["sent"]["last_notification_error_subcode"], "ADMINISTRATIVE_RESET",
        "{n}"
    );
    assert!(fails(&d, &["neighbor", "192.0.2.200", "reset"]).contains("192.0.2.200"));

    // Shutdown and enable, followed by monitor neighbor.
    let mon = Monitor::start(&d, &["monitor", "neighbor", &p, "--json"]);
    mon.wait(&d, "sync", |v| v["event"] == "sync");
    json(&d, &["neighbor", &p, "shutdown"]);
    wait_summary(&d, peer, "down after shutdown", |s| {
        s["state"] != "ESTABLISHED" && s["enabled"] == false
    });
    g.wait_not_established(r2.ipv4(), STEP);
    let n = json(&d, &["neighbor", &p]);
    assert_eq!(
        n["messages"]["sent"]["last_notification_error_subcode"], "ADMINISTRATIVE_SHUTDOWN",
        "{n}"
    );
    mon.wait(&d, "session down", |v| {
        v["leaf"] == "session-state" && v["value"] != "ESTABLISHED"
    });
    json(&d, &["neighbor", &p, "enable"]);
    wait_summary(&d, peer, "up after enable", |s| {
        s["state"] == "ESTABLISHED" && s["enabled"] == true
    });
    mon.wait(&d, "session up", |v| {
        v["leaf"] == "session-state" && v["value"] == "ESTABLISHED"
    });
    drop(mon);
    assert!(fails(&d, &["neighbor", "192.0.2.201", "shutdown"]).contains("no neighbor 192.0.2.201"));
    assert!(fails(&d, &["neighbor", "192.0.2.201"]).contains("no neighbor 192.0.2.201"));

    // get / set / delete.
    let desc = format!("{BGP}/neighbors/neighbor[neighbor-address={p}]/config/description");
    json(&d, &["set", &desc, "gobgp r1"]);
    let got = json(&d, &["get", &desc]);
    assert_eq!(
        got.as_object().unwrap().values().next().unwrap(),
        "gobgp r1",
        "{got}"
    );
    let (ok, out, _) = ocbgp(&d, &["get", &desc]);
    assert!(
        ok && out.trim() == "\"gobgp r1\"",
        "get prints the value: {out}"
    );
    assert_eq!(summary_of(&d, peer)["description"], "gobgp r1");
    json(&d, &["delete", &desc]);
    assert!(fails(&d, &["get", &desc]).contains("not found"));
    let as_path = format!("{BGP}/global/config/as");
    assert_eq!(
        json(&d, &["get", &as_path, "--type", "config"])
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap(),
        OC_AS
    );

    // policy, with a set made by `set`.
    let ps = "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]";
    let value = serde_json::json!({"name": "PS", "config": {"name": "PS", "mode": "IPV4"},
        "prefixes": {"prefix": [{"ip-prefix": "10.1.0.0/16", "masklength-range": "16..24",
            "config": {"ip-prefix": "10.1.0.0/16", "masklength-range": "16..24"}}]}});
    json(&d, &["set", ps, &value.to_string(), "--replace"]);
    let sets = json(&d, &["policy", "prefix"]);
    assert_eq!(sets[0]["name"], "PS", "{sets}");
    assert_eq!(sets[0]["prefixes"][0]["prefix"], "10.1.0.0/16", "{sets}");
    assert_eq!(
        sets[0]["prefixes"][0]["masklength_range"], "16..24",
        "{sets}"
    );
    let all = json(&d, &["policy"]);
    assert!(
        all["statements"].is_array() && all["large_community_sets"].is_array(),
        "{all}"
    );
    let (ok, out, _) = ocbgp(&d, &["policy"]);
    assert!(
        ok && out.contains("PS") && out.contains("16..24"),
        "policy table:\n{out}"
    );
    json(&d, &["delete", ps]);
    assert_eq!(json(&d, &["policy", "prefix"]), serde_json::json!([]));

    // Errors.
    assert!(fails(&d, &["get", &format!("{BGP}/no-such-node")]).contains("not found"));
    assert!(fails(&d, &["get", "/routing-policy["]).contains("invalid request"));
    let err = fails(&d, &["set", &as_path, "\"many\""]);
    assert!(
        err.contains("invalid request") && err.contains("as"),
        "{err}"
    );
    assert_eq!(
        json(&d, &["get", &as_path])
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap(),
        OC_AS
    );
    let err = fails(&d, &["-t", "127.0.0.1:1", "neighbor"]);
    assert!(
        err.contains("cannot reach ocbgpd at 127.0.0.1:1: is it running?"),
        "{err}"
    );
    assert!(fails(&d, &["neighbor", "not-an-address", "reset"]).contains("not-an-address"));

    let caps = json(&d, &["capabilities"]);
    assert_eq!(caps["gnmi_version"], "0.10.0", "{caps}");
    assert!(
        caps["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "openconfig-bgp"),
        "{caps}"
    );

    // Completion and help.
    let (ok, out, _) = ocbgp(&d, &["completion", "bash"]);
    assert!(ok && out.contains("_ocbgp"), "bash completion");
    for verb in [
        vec!["neighbor"],
        vec!["neighbor", "x", "adj-in"],
        vec!["neighbor", "x", "softreset"],
        vec!["global"],
        vec!["global", "rib"],
        vec!["global", "rib", "del"],
        vec!["monitor"],
        vec!["monitor", "neighbor"],
        vec!["neighbor", "x", "adj-out"],
        vec!["neighbor", "x", "reset"],
        vec!["neighbor", "x", "shutdown"],
        vec!["neighbor", "x", "enable"],
        vec!["capabilities"],
        vec!["global", "rib", "add"],
        vec!["policy"],
        vec!["monitor", "rib"],
        vec!["get"],
        vec!["set"],
        vec!["delete"],
        vec!["completion"],
    ] {
        let mut a = verb.clone();
        a.push("--help");
        let (ok, out, _) = ocbgp(&d, &a);
        assert!(
            ok && out.contains("Example"),
            "`ocbgp {}` has no examples:\n{out}",
            a.join(" ")
        );
    }
}

/// crypt(3) SHA-512 of "secret" (`openssl passwd -6 -salt saltsalt secret`).
const SECRET_HASH: &str =
    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

/// `--tls-ca`, `--tls-domain` and credentials (options and environment)
/// against ocbgpd serving gNMI over TLS with a configured user; gNOI BGP
/// shares the authentication.
#[test]
fn ocbgp_cli_over_tls_with_a_login() {
    let lab = Lab::new("cli_tls");
    let r1 = lab.host("r1");
    let dir = r1.dir().to_path_buf();
    let (cert, key) = self_signed_cert(&dir, "cert");

    let mut config = OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4()))
        .no_netconf()
        .to_json();
    config["ocbgp:management"]["gnmi"] = serde_json::json!({"config": {
        "tls-certificate": cert.to_str().unwrap(), "tls-key": key.to_str().unwrap()}});
    config["ocbgp:management"]["users"] = serde_json::json!({"user": [{"name": "ops", "config": {"name": "ops", "password": SECRET_HASH}}]});
    let daemon = spawn_ocbgpd_json(&r1, "ocbgpd-tls", &config);

    let ca = cert.to_str().unwrap();
    let run = |args: &[String], env: &[(&str, &str)]| {
        let mut c = r1.command("timeout");
        c.arg("30")
            .arg(bin_path("ocbgp"))
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run ocbgp");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let tls = ["--tls-ca", ca, "--tls-domain", "localhost"];
    let with = |extra: &[&'static str]| -> Vec<String> {
        tls.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let own = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };

    let a = with(&["-u", "ops", "-p", "secret", "neighbor", "--json"]);
    let (ok, out, err) = run(&a, &[]);
    assert!(ok, "TLS + login failed: {err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!([])
    );
    let a = with(&["neighbor", "--json"]);
    let (ok, _, err) = run(
        &a,
        &[("OCBGP_USERNAME", "ops"), ("OCBGP_PASSWORD", "secret")],
    );
    assert!(ok, "credentials from the environment: {err}");
    let (ok, _, err) = run(&a, &[]);
    assert!(
        !ok && err.contains("authentication failed"),
        "no credentials: {err}"
    );
    let a = with(&["-u", "ops", "-p", "wrong", "neighbor"]);
    let (ok, _, err) = run(&a, &[]);
    assert!(
        !ok && err.contains("authentication failed"),
        "wrong password: {err}"
    );
    // gNOI shares the login.
    let a = with(&[
        "-u",
        "ops",
        "-p",
        "secret",
        "neighbor",
        "192.0.2.77",
        "reset",
    ]);
    let (ok, _, err) = run(&a, &[]);
    assert!(
        !ok && err.contains("192.0.2.77") && !err.contains("authentication"),
        "gNOI with login: {err}"
    );
    let (ok, _, err) = run(
        &own(&[
            "--tls-ca",
            ca,
            "--tls-domain",
            "localhost",
            "-u",
            "ops",
            "-p",
            "x",
            "neighbor",
            "192.0.2.77",
            "reset",
        ]),
        &[],
    );
    assert!(
        !ok && err.contains("authentication failed"),
        "gNOI without a good login: {err}"
    );
    // Plain text to a TLS server fails; so does a certificate for another name.
    let (ok, _, _) = run(&own(&["-u", "ops", "-p", "secret", "neighbor"]), &[]);
    assert!(!ok, "plain text to a TLS server succeeded");
    let (ok, _, _) = run(
        &own(&[
            "--tls-ca",
            ca,
            "--tls-domain",
            "other.example",
            "-u",
            "ops",
            "-p",
            "secret",
            "neighbor",
        ]),
        &[],
    );
    assert!(!ok, "a certificate for another name was accepted");
    let (ok, _, err) = run(&own(&["--tls-ca", "/nonexistent.pem", "neighbor"]), &[]);
    assert!(!ok && err.contains("/nonexistent.pem"), "{err}");
    drop(daemon);
}

/// `ocbgp commit history` (table and --json) lists the commits of `set`
/// and `delete`; `ocbgp rollback 1` makes the configuration exactly what
/// it was at start-up, as a commit with origin ROLLBACK; bad ids fail
/// clearly and change nothing.
#[test]
fn commit_history_and_rollback() {
    let lab = Lab::new("cli_history");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(OC_AS, r1.ipv4())));
    let config = || json(&d, &["get", "/", "--type", "config"]);
    let before = config();
    let set = "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]/config";
    json(&d, &["set", set, r#"{"name": "PS", "mode": "IPV4"}"#]);
    json(
        &d,
        &[
            "set",
            "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS2]/config",
            r#"{"name": "PS2", "mode": "IPV6"}"#,
        ],
    );
    json(
        &d,
        &[
            "delete",
            "/routing-policy/defined-sets/prefix-sets/prefix-set[name=PS]",
        ],
    );
    assert_ne!(config(), before);

    let history = json(&d, &["commit", "history"]);
    let rows = history.as_array().expect("an array");
    let origins: Vec<&str> = rows.iter().filter_map(|r| r["origin"].as_str()).collect();
    assert_eq!(origins, ["FILE", "GNMI", "GNMI", "GNMI"], "{history}");
    let ids: Vec<u64> = rows.iter().filter_map(|r| r["id"].as_u64()).collect();
    assert_eq!(ids, [1, 2, 3, 4], "{history}");
    assert!(
        rows[1..].iter().all(|r| r["changes"].as_u64() > Some(0)),
        "{history}"
    );
    assert!(
        rows.iter().all(|r| r["time"].as_str().is_some()),
        "{history}"
    );
    // The audit trail: the CLI's own address for its Sets, none for the
    // file.
    assert!(rows[0]["source"].is_null(), "{history}");
    assert!(
        rows[1..].iter().all(|r| r["source"]
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok())),
        "{history}"
    );
    let (ok, table, err) = ocbgp(&d, &["commit", "history"]);
    assert!(ok, "commit history: {err}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("ID")
            && lines[0].contains("ORIGIN")
            && lines[0].contains("SOURCE")
            && lines[0].contains("CHANGES"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[4].contains("GNMI") && lines[1].contains("FILE"),
        "{table}"
    );

    // Bad ids: clear errors, nothing changes.
    let now = config();
    let err = fails(&d, &["rollback", "99"]);
    assert!(err.contains("no commit 99"), "{err}");
    let err = fails(&d, &["rollback", "x"]);
    assert!(err.contains("invalid value"), "{err}");
    assert_eq!(config(), now);
    assert_eq!(
        json(&d, &["commit", "history"]).as_array().unwrap().len(),
        4
    );

    // Back to the start-up configuration, exactly.
    let out = json(&d, &["rollback", "1"]);
    assert_eq!(out["commit"], 5, "{out}");
    assert_eq!(config(), before, "rollback 1 is not the start-up config");
    let history = json(&d, &["commit", "history"]);
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["origin"], "ROLLBACK", "{history}");
    assert_eq!(last["id"], 5, "{history}");
    // And forward again to commit 3 (PS and PS2 both there).
    json(&d, &["rollback", "3"]);
    let policy = json(
        &d,
        &["get", "/routing-policy/defined-sets", "--type", "config"],
    );
    let text = policy.to_string();
    assert!(
        text.contains("\"PS\"") && text.contains("\"PS2\""),
        "{text}"
    );
    // Nothing to do: said so, no new commit.
    let (ok, out, _) = ocbgp(&d, &["rollback", "3"]);
    assert!(ok && out.contains("nothing to roll back"), "{out}");
    assert_eq!(
        json(&d, &["commit", "history"]).as_array().unwrap().len(),
        6
    );
}
