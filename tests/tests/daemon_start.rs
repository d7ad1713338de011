//! `ocbgpd` starts with its embedded default configuration and answers a
//! real gNMI client (pygnmi) on the default port; it checks config files.

use std::net::SocketAddr;
use std::time::Duration;

use ocbgp_tests::{accepts, bin_path, python, wait_until, Daemon};

#[test]
fn starts_with_default_config_and_answers_capabilities() {
    // The default config listens on 127.0.0.1:9339; use a config with
    // another port so a daemon the developer runs does not interfere.
    let dir = std::env::temp_dir().join(format!("ocbgp-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(bin_path("ocbgpd"))
        .arg("--print-default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let default = String::from_utf8(out.stdout).unwrap();
    assert!(
        default.contains("\"port\": 9339"),
        "default gNMI port is 9339"
    );
    let port = 19339 + (std::process::id() % 1000) as u16;
    let config = default
        .replace("\"port\": 9339", &format!("\"port\": {port}"))
        .replace("\"port\": 830", &format!("\"port\": {}", port + 1000))
        .replace("\"port\": 179", &format!("\"port\": {}", port + 2000));
    let file = dir.join("config.json");
    std::fs::write(&file, config).unwrap();

    let state = dir.join("state");
    let state = state.to_str().unwrap();
    let mut daemon = Daemon::start(&["--config", file.to_str().unwrap(), "--state-dir", state]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(wait_until(Duration::from_secs(20), || accepts(addr)
        || !daemon.running()));
    assert!(daemon.running(), "ocbgpd exited at start-up");

    let reply = python(&format!(
        r#"
import json
from pygnmi.client import gNMIclient
with gNMIclient(target=("127.0.0.1", {port}), insecure=True, timeout=10) as gc:
    print(json.dumps(gc.capabilities()))
"#
    ));
    let caps: serde_json::Value = serde_json::from_str(reply.trim()).expect("pygnmi printed JSON");
    let models = caps["supported_models"].as_array().expect("models");
    let has = |name: &str, version: &str| {
        models
            .iter()
            .any(|m| m["name"] == name && m["version"] == version)
    };
    assert!(has("openconfig-bgp", "9.9.1"), "{caps}");
    assert!(has("openconfig-network-instance", "4.7.0"), "{caps}");
    assert!(has("openconfig-routing-policy", "3.5.0"), "{caps}");
    let encodings = caps["supported_encodings"].to_string();
    assert!(
        encodings.contains("json_ietf") && encodings.contains("json"),
        "{caps}"
    );
    assert_eq!(caps["gnmi_version"], "0.10.0");

    // NETCONF listens too (sessions are tested in the netconf crate).
    let netconf: SocketAddr = format!("127.0.0.1:{}", port + 1000).parse().unwrap();
    assert!(accepts(netconf), "NETCONF not listening on {netconf}");

    // A gNMI Get through pygnmi reads the configuration back.
    let got = python(&format!(
        r#"
import json
from pygnmi.client import gNMIclient
with gNMIclient(target=("127.0.0.1", {port}), insecure=True, timeout=10) as gc:
    r = gc.get(path=["/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/as"], datatype="config")
    print(json.dumps(r["notification"][0]["update"][0]["val"]))
"#
    ));
    assert_eq!(got.trim(), "64512");

    // Our own client agrees.
    let out = std::process::Command::new(bin_path("ocbgp"))
        .args([
            "--target",
            &format!("127.0.0.1:{port}"),
            "capabilities",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["gnmi_version"], "0.10.0");
    assert!(cli["models"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "openconfig-bgp"));

    // A Set is journalled; `--print-saved` shows it while the daemon runs,
    // and a clean stop folds it into running.json.
    python(&format!(
        r#"
from pygnmi.client import gNMIclient
with gNMIclient(target=("127.0.0.1", {port}), insecure=True, timeout=10) as gc:
    gc.set(update=[("/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp/global/config/router-id", "192.0.2.77")])
"#
    ));
    let saved = || {
        let out = std::process::Command::new(bin_path("ocbgpd"))
            .args(["--print-saved", "--state-dir", state])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(saved().contains("192.0.2.77"), "{}", saved());
    let snapshot = || std::fs::read_to_string(dir.join("state/running.json")).unwrap();
    assert!(
        !snapshot().contains("192.0.2.77"),
        "a small commit rewrote running.json"
    );

    let status = daemon
        .stop(Duration::from_secs(10))
        .expect("ocbgpd stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(
        snapshot().contains("192.0.2.77"),
        "the stop did not fold the journal"
    );

    // Restarted without --config, it comes back with the saved running
    // configuration (gNMI on the same non-default port), not the default.
    let mut daemon = Daemon::start(&["--state-dir", state]);
    assert!(wait_until(Duration::from_secs(20), || accepts(addr)
        || !daemon.running()));
    assert!(
        daemon.running() && accepts(addr),
        "did not come back on port {port}"
    );
    daemon.stop(Duration::from_secs(10)).expect("stops");

    // The CLI says clearly when no daemon answers.
    let out = std::process::Command::new(bin_path("ocbgp"))
        .args(["--target", &format!("127.0.0.1:{port}"), "capabilities"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach ocbgpd at"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_accepts_the_default_and_refuses_a_broken_file() {
    let dir = std::env::temp_dir().join(format!("ocbgp-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(bin_path("ocbgpd"))
        .arg("--print-default-config")
        .output()
        .unwrap();
    let good = dir.join("good.json");
    std::fs::write(&good, &out.stdout).unwrap();
    let status = std::process::Command::new(bin_path("ocbgpd"))
        .arg("--check")
        .arg(&good)
        .status()
        .unwrap();
    assert!(status.success());

    let bad = dir.join("bad.json");
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace("\"as\": 64512", "\"as\": \"sixty-four\"");
    std::fs::write(&bad, text).unwrap();
    let out = std::process::Command::new(bin_path("ocbgpd"))
        .arg("--check")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("as"),
        "error names file and leaf: {err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
