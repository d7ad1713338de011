//! The daemon's operator side, end to end with a real gobgpd peer in
//! network namespaces: SIGHUP reload of the configuration file (applied as
//! one transaction without resetting untouched sessions; a bad file refused
//! and logged, running untouched), the Prometheus metrics endpoint (enabled,
//! moved and disabled by gNMI Set, scraped with a plain HTTP client inside
//! ocbgpd's namespace), the structured JSON logs (peer up/down, commits),
//! and the systemd unit in `dist/` (checked by `systemd-analyze` when the
//! machine has it).
//!
//! Topology: r1 runs gobgpd (AS 65010), r2 runs ocbgpd (AS 65001), peered
//! over IPv4 on the lab segment.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use ocbgp_tests::lab::*;
use ocbgp_tests::wait_until;
use serde_json::{json, Value};

const UP: Duration = Duration::from_secs(30);
const STEP: Duration = Duration::from_secs(15);
const GOBGP_AS: u32 = 65010;
const OC_AS: u32 = 65001;

const BGP: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

fn neighbor_path(addr: IpAddr) -> String {
    format!("{BGP}/neighbors/neighbor[neighbor-address={addr}]")
}

/// The first scalar in a gNMI reply (pygnmi gives leaves either bare or
/// wrapped in their parents), as text.
fn scalar(vals: &[Value]) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Object(m) => m.values().find_map(find),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    vals.iter().find_map(find)
}

/// A leaf of ocbgpd's operational datastore, as text (None if absent).
fn leaf(d: &Ocbgpd, path: &str) -> Option<String> {
    scalar(&d.try_gnmi_get(path).unwrap_or_else(|e| d.fail(&e)))
}

/// gNMI Set update of `path` with `value` (pygnmi in ocbgpd's namespace).
fn gnmi_update(d: &Ocbgpd, path: &str, value: Value) {
    let g = d.config().gnmi_addr();
    let code = format!(
        r#"
import json
from pygnmi.client import gNMIclient
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5) as gc:
    gc.set(update=[({path:?}, json.loads({value:?}))], encoding="json_ietf")
print("OK")
"#,
        host = g.ip().to_string(),
        port = g.port(),
        path = path,
        value = value.to_string(),
    );
    let out = d.host().try_run("timeout", &["30", "python3", "-c", &code]);
    if !out.status.success() {
        d.fail(&format!(
            "gNMI Set {path} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

/// GET /metrics with Python's plain HTTP client inside `host`'s namespace:
/// Ok(body) on 200, Err otherwise.
fn scrape(host: &Host, addr: SocketAddr) -> Result<String, String> {
    let code = format!(
        r#"
import http.client
c = http.client.HTTPConnection({ip:?}, {port}, timeout=5)
c.request("GET", "/metrics")
r = c.getresponse()
body = r.read().decode()
if r.status != 200 or "openmetrics-text" not in r.getheader("content-type", ""):
    raise SystemExit(f"status {{r.status}} {{r.getheader('content-type')}}")
print(body, end="")
"#,
        ip = addr.ip().to_string(),
        port = addr.port()
    );
    let out = host.try_run("python3", &["-c", &code]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The value of the sample `name` whose labels include `labels`, from an
/// OpenMetrics text exposition.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let have: Vec<(&str, &str)> = label_text
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.split_once('=').map(|(k, v)| (k, v.trim_matches('"'))))
                .collect();
            labels
                .iter()
                .all(|l| have.contains(l))
                .then(|| value.parse().ok())?
        })
}

/// Scrapes until `ok` holds for the text (bounded by `limit`); returns the
/// last text, failing with it otherwise.
fn scrape_until(
    d: &Ocbgpd,
    addr: SocketAddr,
    limit: Duration,
    what: &str,
    ok: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    if wait_until(limit, || {
        last = scrape(d.host(), addr).unwrap_or_else(|e| e);
        ok(&last)
    }) {
        return last;
    }
    d.fail(&format!(
        "metrics never showed {what} within {limit:?}; last scrape:\n{last}"
    ))
}

/// Every line ocbgpd logged is a JSON object with a timestamp, a level and
/// a message.
fn assert_json_log(d: &Ocbgpd) {
    let log = d.process().log();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "log line lacks timestamp/level: {line}"
        );
        assert!(
            v["fields"]["message"].is_string(),
            "log line lacks a message: {line}"
        );
    }
}

fn count(d: &Ocbgpd, message: &str) -> usize {
    d.log_events_for(message, None).len()
}

const RELOADED: &str = "configuration reloaded";
const REFUSED: &str = "configuration reload refused; running configuration unchanged";

#[test]
fn sighup_reloads_the_file_and_refuses_a_bad_one() {
    let lab = Lab::new("ops_reload");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let v4 = &[Family::Ipv4Unicast];
    let mut config = OcbgpdConfig::new(
        BgpConfig::new(OC_AS, r2.ipv4()).neighbor(
            Neighbor::new(r1.ipv4(), GOBGP_AS)
                .families(v4)
                .description("first"),
        ),
    );
    let d = Ocbgpd::start(&r2, &config);
    let _peer = Gobgp::start(
        &r1,
        &BgpConfig::new(GOBGP_AS, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4)),
    );
    d.wait_established(r1.ipv4(), UP);
    let transitions = format!("{}/state/established-transitions", neighbor_path(r1.ipv4()));
    let before = leaf(&d, &transitions);

    // A new description for the live neighbor and one more neighbor.
    let extra: IpAddr = "192.0.2.200".parse().unwrap();
    config.bgp.neighbors[0].description = Some("second".into());
    config.bgp = config
        .bgp
        .clone()
        .neighbor(Neighbor::new(extra, 65099).families(v4));
    config.write(d.config_file());
    let (seen_reload, seen_commit) = (count(&d, RELOADED), count(&d, "commit"));
    d.process().signal("HUP");
    let reloaded = d.wait_log_event(RELOADED, None, seen_reload, STEP);
    let id = reloaded["fields"]["commit"]
        .as_u64()
        .unwrap_or_else(|| d.fail(&format!("no commit id in {reloaded}")));
    assert_eq!(
        leaf(
            &d,
            &format!("{}/config/description", neighbor_path(r1.ipv4()))
        )
        .as_deref(),
        Some("second")
    );
    assert_eq!(
        leaf(&d, &format!("{}/config/peer-as", neighbor_path(extra))).as_deref(),
        Some("65099")
    );
    // The session the change only described was not reset.
    assert_eq!(d.session_state(r1.ipv4()), SessionState::Established);
    assert_eq!(
        leaf(&d, &transitions),
        before,
        "reload reset the untouched session"
    );

    // The commit is logged with its fields.
    let commit = d.wait_log_event("commit", None, seen_commit, STEP);
    let f = &commit["fields"];
    assert_eq!(f["commit"].as_u64(), Some(id), "{commit}");
    assert_eq!(f["origin"], "FILE", "{commit}");
    assert!(
        f["changes"].as_u64().is_some_and(|n| n >= 3),
        "a description and a neighbor changed: {commit}"
    );
    assert!(f["duration_us"].as_u64().is_some(), "{commit}");
    assert!(f.get("user").is_some(), "{commit}");

    // Broken files: not JSON, then JSON the schema refuses (an import
    // policy that does not exist). Each is refused with the reason, and
    // running stays as it was.
    let mut bad = config.to_json();
    bad["openconfig-network-instance:network-instances"]["network-instance"][0]["protocols"]
        ["protocol"][0]["bgp"]["neighbors"]["neighbor"][0]["config"]["description"] =
        json!("third");
    bad["openconfig-network-instance:network-instances"]["network-instance"][0]["protocols"]
        ["protocol"][0]["bgp"]["neighbors"]["neighbor"][0]["apply-policy"] =
        json!({"config": {"import-policy": ["NO-SUCH-POLICY"]}});
    let cases = [
        ("{ this is not json".to_string(), "invalid configuration"),
        (bad.to_string(), "NO-SUCH-POLICY"),
    ];
    for (text, reason) in cases {
        std::fs::write(d.config_file(), text).unwrap();
        let (seen, seen_reload) = (count(&d, REFUSED), count(&d, RELOADED));
        d.process().signal("HUP");
        let refused = d.wait_log_event(REFUSED, None, seen, STEP);
        assert_eq!(refused["level"], "ERROR", "{refused}");
        let error = refused["fields"]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "the refusal should say {reason:?}: {refused}"
        );
        assert_eq!(
            leaf(
                &d,
                &format!("{}/config/description", neighbor_path(r1.ipv4()))
            )
            .as_deref(),
            Some("second")
        );
        assert_eq!(count(&d, RELOADED), seen_reload);
    }
    d.process().assert_running();
    assert_eq!(d.session_state(r1.ipv4()), SessionState::Established);
    assert_json_log(&d);
}

#[test]
fn metrics_endpoint_and_structured_logs() {
    let lab = Lab::new("ops_metrics");
    let (r1, r2) = (lab.host("r1"), lab.host("r2"));
    let v4 = &[Family::Ipv4Unicast];
    let d = Ocbgpd::start(
        &r2,
        &OcbgpdConfig::new(
            BgpConfig::new(OC_AS, r2.ipv4())
                .neighbor(Neighbor::new(r1.ipv4(), GOBGP_AS).families(v4)),
        ),
    );
    let announced = ["10.10.1.0/24", "10.10.2.0/24", "10.10.3.0/24"];
    let mut peer_config =
        BgpConfig::new(GOBGP_AS, r1.ipv4()).neighbor(Neighbor::new(r2.ipv4(), OC_AS).families(v4));
    for p in announced {
        peer_config = peer_config.route(Originated::new(p));
    }
    let seen_up = d
        .log_events_for("session established", Some(r1.ipv4()))
        .len();
    let peer = Gobgp::start(&r1, &peer_config);
    d.wait_established(r1.ipv4(), UP);

    // Peer up, logged with its fields.
    let up = d.wait_log_event("session established", Some(r1.ipv4()), seen_up, STEP);
    assert_eq!(
        up["fields"]["asn"].as_u64(),
        Some(u64::from(GOBGP_AS)),
        "{up}"
    );

    // Off by default; enabled by a gNMI Set.
    let addr: SocketAddr = "127.0.0.1:9179".parse().unwrap();
    assert!(!r2.tcp_reachable(addr), "metrics must be off by default");
    let seen_commit = count(&d, "commit");
    gnmi_update(
        &d,
        "/ocbgp:management/metrics/config",
        json!({"enabled": true}),
    );
    let commit = d.wait_log_event("commit", None, seen_commit, STEP);
    assert_eq!(commit["fields"]["origin"], "GNMI", "{commit}");
    assert!(
        commit["fields"]["changes"].as_u64().is_some_and(|n| n >= 1),
        "{commit}"
    );
    r2.wait_tcp_reachable(addr, STEP);

    let peer_labels = [("neighbor", "192.0.2.1")];
    assert_eq!(r1.ipv4().to_string(), "192.0.2.1");
    let fam = [("neighbor", "192.0.2.1"), ("afi_safi", "ipv4-unicast")];
    let text = scrape_until(&d, addr, UP, "3 prefixes received from the peer", |t| {
        sample(t, "ocbgp_bgp_prefixes_received", &fam) == Some(3.0)
    });
    assert_eq!(
        sample(&text, "ocbgp_bgp_session_up", &peer_labels),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ocbgp_bgp_session_state",
            &[("neighbor", "192.0.2.1"), ("state", "ESTABLISHED")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "ocbgp_bgp_session_state",
            &[("neighbor", "192.0.2.1"), ("state", "IDLE")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "ocbgp_bgp_sessions_established", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ocbgp_bgp_neighbors", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ocbgp_bgp_prefixes_accepted", &fam),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ocbgp_bgp_rib_prefixes",
            &[("afi_safi", "ipv4-unicast")]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ocbgp_bgp_rib_paths", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "ocbgp_bgp_session_established_transitions_total",
            &peer_labels
        ),
        Some(1.0),
        "{text}"
    );
    let msgs = |dir: &str, kind: &str| {
        sample(
            &text,
            &format!("ocbgp_bgp_messages_{dir}_total"),
            &[("neighbor", "192.0.2.1"), ("type", kind)],
        )
    };
    // At least one each way (a connection collision sends more).
    assert!(msgs("received", "open").is_some_and(|n| n >= 1.0), "{text}");
    assert!(msgs("sent", "open").is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        msgs("received", "keepalive").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(msgs("sent", "route_refresh"), Some(0.0), "{text}");
    assert!(
        msgs("received", "update").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ocbgp_config_commits_total", &[("origin", "GNMI")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ocbgp_config_commit_duration_seconds_count", &[]),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "ocbgp_config_commit_duration_seconds_sum", &[]).is_some_and(|s| s > 0.0),
        "{text}"
    );

    // Peer down: logged with the reason; the metrics follow.
    let seen_down = d.log_events_for("session down", Some(r1.ipv4())).len();
    peer.process().stop(STEP);
    let down = d.wait_log_event("session down", Some(r1.ipv4()), seen_down, UP);
    assert_eq!(
        down["fields"]["asn"].as_u64(),
        Some(u64::from(GOBGP_AS)),
        "{down}"
    );
    assert!(
        down["fields"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{down}"
    );
    scrape_until(
        &d,
        addr,
        STEP,
        "the session down and its prefixes gone",
        |t| {
            sample(t, "ocbgp_bgp_session_up", &peer_labels) == Some(0.0)
                && sample(t, "ocbgp_bgp_prefixes_received", &fam) == Some(0.0)
                && sample(t, "ocbgp_bgp_rib_paths", &[]) == Some(0.0)
        },
    );

    // Moved to another port, then disabled: the endpoint follows.
    let moved: SocketAddr = "127.0.0.1:9180".parse().unwrap();
    gnmi_update(
        &d,
        "/ocbgp:management/metrics/config",
        json!({"port": 9180}),
    );
    r2.wait_tcp_reachable(moved, STEP);
    assert!(
        wait_until(STEP, || !r2.tcp_reachable(addr)),
        "the old port still answers"
    );
    let text = scrape(&r2, moved).unwrap_or_else(|e| d.fail(&e));
    assert_eq!(
        sample(&text, "ocbgp_config_commits_total", &[("origin", "GNMI")]),
        Some(2.0),
        "{text}"
    );
    gnmi_update(
        &d,
        "/ocbgp:management/metrics/config",
        json!({"enabled": false}),
    );
    assert!(
        wait_until(STEP, || !r2.tcp_reachable(moved)),
        "metrics still served after being disabled"
    );
    d.process().assert_running();
    assert_json_log(&d);
}

/// The systemd unit: runs ocbgpd with the production file and state
/// directory, reloads by SIGHUP, binds port 179 with the one capability it
/// needs; `systemd-analyze verify` (when present) finds nothing to say
/// and `systemd-analyze security` rates its exposure low.
#[test]
fn systemd_unit_is_valid_and_hardened() {
    let unit =
        std::fs::read_to_string(ocbgp_tests::repo_root().join("dist/ocbgpd.service")).unwrap();
    let directives: Vec<(&str, &str)> = unit
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let has = |k: &str, v: &str| directives.iter().any(|(dk, dv)| *dk == k && *dv == v);
    assert!(
        has("ExecStart", "/usr/local/sbin/ocbgpd --config /etc/ocbgp/ocbgpd.json --state-dir /var/lib/ocbgp --log-format json"),
        "{unit}"
    );
    assert!(has("ExecReload", "/bin/kill -HUP $MAINPID"));
    assert!(has("StateDirectory", "ocbgp"));
    assert!(has("AmbientCapabilities", "CAP_NET_BIND_SERVICE"));
    assert!(has("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"));
    assert!(has("NoNewPrivileges", "yes"));
    assert!(has("ProtectSystem", "strict"));

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed; the unit's syntax is not verified");
        return;
    };
    assert!(version.status.success());
    // verify checks that the binaries exist: point it at the built ones.
    let dir = std::env::temp_dir().join(format!("ocbgp-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ocbgpd.service");
    let ocbgpd = ocbgp_tests::bin_path("ocbgpd");
    std::fs::write(
        &file,
        unit.replace("/usr/local/sbin/ocbgpd", &ocbgpd.to_string_lossy()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Only what concerns this unit (the host's own units may have issues).
    let about_us: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("ocbgpd.service"))
        .collect();
    assert!(
        out.status.success() && about_us.is_empty(),
        "systemd-analyze verify:\n{said}"
    );

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(level) = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for ocbgpd.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
    {
        assert!(level <= 3.0, "exposure {level} is too high:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--config` there is nothing to reload: SIGHUP (whose default
/// action would end the process) is logged and the daemon keeps running.
#[test]
fn sighup_without_a_config_file_is_logged_and_survived() {
    let lab = Lab::new("ops_hup");
    let h = lab.host("r1");
    let mut cmd = h.command(ocbgp_tests::bin_path("ocbgpd"));
    cmd.arg("--state-dir")
        .arg(h.dir().join("state"))
        .args(["--log-format", "json"]);
    let p = h.spawn_command("ocbgpd", cmd);
    // The embedded default: gNMI on 127.0.0.1:9339 in the namespace.
    h.wait_tcp_reachable("127.0.0.1:9339".parse().unwrap(), UP);
    p.signal("HUP");
    let logged = wait_until(STEP, || {
        p.log().contains("nothing to reload") || !p.running()
    });
    p.assert_running();
    assert!(logged, "no log line for the SIGHUP:\n{}", p.log_tail(20));
    assert!(h.tcp_reachable("127.0.0.1:9339".parse().unwrap()));
}
