//! `bgpbench commit`: how long small gNMI Sets take on a large
//! configuration, as an automation system sees them (client to response,
//! one kept connection).
//!
//! ocbgpd runs on loopback (127.0.0.1, ports of its own) with, in turn, a
//! small configuration (one neighbor) and a large one (`--neighbors`
//! passive neighbors and a `--prefixes`-entry prefix-set referenced by
//! their import policy, about 13 MB of JSON at the defaults). For each it
//! reports the daemon's RSS once started, `--sets` one-leaf Sets (a
//! neighbor's description) one after the other, and, on the large one, a
//! sustained load: one Set every 1/`--rate` s for `--seconds` seconds.
//! The neighbors are passive (no connection is ever attempted). Then it
//! turns NETCONF on and times `--sets` edit-configs of the candidate, each
//! with its commit, over one session.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use ocbgp_gnmi::proto::gnmi::{typed_value, SetRequest, TypedValue, Update};
use serde_json::json;
use tokio::time::Instant;

use crate::event::emit;
use crate::measure::{mono_ns, usage};
use std::sync::atomic::{AtomicU64, Ordering};

/// Options of `bgpbench commit`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommitArgs {
    /// ocbgpd binary (default: next to bgpbench).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Neighbors in the large configuration.
    #[arg(long, default_value_t = 1000)]
    pub neighbors: usize,
    /// Entries of the prefix-set in the large configuration.
    #[arg(long, default_value_t = 100_000)]
    pub prefixes: usize,
    /// Sequential one-leaf Sets per configuration.
    #[arg(long, default_value_t = 100)]
    pub sets: usize,
    /// Sustained load on the large configuration: Sets per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// Sustained load: for how long (0: none).
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// The gNMI port ocbgpd listens on, on 127.0.0.1.
    #[arg(long, default_value_t = 19339)]
    pub port: u16,
}

/// The address and AS of the bench's own BGP session with ocbgpd.
const SESSION_PEER: &str = "127.0.0.2";
const SESSION_AS: u32 = 65001;

const NEIGHBORS: &str = "/network-instances/network-instance[name=DEFAULT]/protocols\
                         /protocol[identifier=BGP][name=BGP]/bgp/neighbors";

/// The configuration: `neighbors` passive neighbors on 127.100/16 and a
/// `prefixes`-entry prefix-set their import policy matches.
fn config(neighbors: usize, prefixes: usize, port: u16) -> String {
    // The bench's own BGP session (see `watch_session`).
    let mut n = format!(
        r#"{{"neighbor-address": "{SESSION_PEER}", "config": {{"neighbor-address": "{SESSION_PEER}", "peer-as": {SESSION_AS}}},
           "timers": {{"config": {{"hold-time": 9, "keepalive-interval": 3}}}},
           "transport": {{"config": {{"passive-mode": true}}}}}},"#
    );
    for i in 0..neighbors {
        let addr = format!("127.100.{}.{}", i / 250, i % 250 + 1);
        if i > 0 {
            n.push(',');
        }
        let _ = write!(
            n,
            r#"{{"neighbor-address": "{addr}", "config": {{"neighbor-address": "{addr}", "peer-as": {}, "description": "peer {i}"}},
               "transport": {{"config": {{"passive-mode": true}}}},
               "apply-policy": {{"config": {{"import-policy": ["in"]}}}},
               "afi-safis": {{"afi-safi": [{{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST",
                 "config": {{"afi-safi-name": "openconfig-bgp-types:IPV4_UNICAST", "enabled": true}}}}]}}}}"#,
            64512 + (i % 1000)
        );
    }
    let mut p = String::new();
    for i in 0..prefixes {
        let prefix = format!("{}.{}.{}.0/24", 1 + i / 65536, (i / 256) % 256, i % 256);
        if i > 0 {
            p.push(',');
        }
        let _ = write!(
            p,
            r#"{{"ip-prefix": "{prefix}", "masklength-range": "24..32", "config": {{"ip-prefix": "{prefix}", "masklength-range": "24..32"}}}}"#
        );
    }
    format!(
        r#"{{
  "ocbgp:management": {{"gnmi": {{"config": {{"address": "127.0.0.1", "port": {port}}}}}}},
  "openconfig-network-instance:network-instances": {{"network-instance": [{{
    "name": "DEFAULT",
    "config": {{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}},
    "protocols": {{"protocol": [{{
      "identifier": "openconfig-policy-types:BGP", "name": "BGP",
      "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
      "bgp": {{"global": {{"config": {{"as": 65000, "router-id": "192.0.2.1"}},
                         "ocbgp:listen": {{"config": {{"address": ["127.0.0.1"], "port": {}}}}}}},
              "neighbors": {{"neighbor": [{n}]}}}}
    }}]}}
  }}]}},
  "openconfig-routing-policy:routing-policy": {{
    "defined-sets": {{"prefix-sets": {{"prefix-set": [{{"name": "big", "config": {{"name": "big", "mode": "IPV4"}},
      "prefixes": {{"prefix": [{p}]}}}}]}}}},
    "policy-definitions": {{"policy-definition": [{{"name": "in", "config": {{"name": "in"}},
      "statements": {{"statement": [{{"name": "1", "config": {{"name": "1"}},
        "conditions": {{"match-prefix-set": {{"config": {{"prefix-set": "big"}}}}}},
        "actions": {{"config": {{"policy-result": "REJECT_ROUTE"}}}}}}]}}}}]}}
  }}
}}"#,
        port + 1
    )
}

/// Latencies in milliseconds: (median, 99th percentile, max).
fn spread(mut ms: Vec<f64>) -> (f64, f64, f64) {
    if ms.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), ms[ms.len() - 1])
}

/// The gNMI client the bench keeps.
type Client = ocbgp_gnmi::proto::gnmi::gnmi_client::GnmiClient<tonic::transport::Channel>;

/// Sends one Set; returns how long its answer took, in milliseconds.
async fn timed_set(client: &mut Client, request: SetRequest) -> Result<f64> {
    let t = Instant::now();
    client
        .set(request)
        .await
        .map_err(|s| anyhow!("Set refused: {} {}", s.code(), s.message()))?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// One Set of the first neighbor's description.
fn description_set(text: &str) -> Result<SetRequest> {
    let path = format!("{NEIGHBORS}/neighbor[neighbor-address=127.100.0.1]/config/description");
    let path = ocbgp_gnmi::path::parse_text(&path).map_err(|e| anyhow!("{path}: {e}"))?;
    Ok(SetRequest {
        update: vec![Update {
            path: Some(path),
            val: Some(TypedValue {
                value: Some(typed_value::Value::JsonIetfVal(
                    json!(text).to_string().into_bytes(),
                )),
            }),
            ..Update::default()
        }],
        ..SetRequest::default()
    })
}

/// Turns NETCONF on (port `port`, a user) through gNMI, then times `sets`
/// edit-configs of the candidate, each followed by a commit, over one
/// session: (median, p99, max) in milliseconds.
async fn netconf(gnmi: &mut Client, port: u16, sets: usize) -> Result<(f64, f64, f64)> {
    use crate::nc_load::{nc_rpc, nc_session, NC_PASSWORD, NC_USER};
    let update = |path: &str, value: serde_json::Value| -> Result<Update> {
        Ok(Update {
            path: Some(ocbgp_gnmi::path::parse_text(path).map_err(|e| anyhow!("{path}: {e}"))?),
            val: Some(TypedValue {
                value: Some(typed_value::Value::JsonIetfVal(
                    value.to_string().into_bytes(),
                )),
            }),
            ..Update::default()
        })
    };
    // The NETCONF user may write (RFC 8341's write-default is deny): one
    // rule permitting everything, set with the user while none exists.
    let rules = json!({
        "groups": {"group": [{"name": "admin", "user-name": [NC_USER]}]},
        "rule-list": [{"name": "admin", "group": ["admin"],
                       "rule": [{"name": "everything", "action": "permit"}]}]
    });
    let request = SetRequest {
        update: vec![
            update("/ietf-netconf-acm:nacm", rules)?,
            update(
                &format!("/ocbgp:management/users/user[name={NC_USER}]"),
                json!({"name": NC_USER, "config": {"name": NC_USER, "password": format!("$0${NC_PASSWORD}")}}),
            )?,
            update(
                "/ocbgp:management/netconf/config",
                json!({"address": "127.0.0.1", "port": port}),
            )?,
        ],
        ..SetRequest::default()
    };
    timed_set(gnmi, request).await?;
    let mut stream = nc_session(([127, 0, 0, 1], port).into(), NC_USER, NC_PASSWORD).await?;
    let mut ms = Vec::new();
    for i in 0..sets {
        let edit = format!(
            r#"<edit-config><target><candidate/></target><config><network-instances xmlns="http://openconfig.net/yang/network-instance"><network-instance><name>DEFAULT</name><protocols><protocol><identifier xmlns:pt="http://openconfig.net/yang/policy-types">pt:BGP</identifier><name>BGP</name><bgp><neighbors><neighbor><neighbor-address>127.100.0.1</neighbor-address><config><description>netconf {i}</description></config></neighbor></neighbors></bgp></protocol></protocols></network-instance></network-instances></config></edit-config>"#
        );
        let t = Instant::now();
        nc_rpc(&mut stream, 2 * i as u64 + 1, &edit).await?;
        nc_rpc(&mut stream, 2 * i as u64 + 2, "<commit/>").await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(spread(ms))
}

/// The longest wait for a message on the watched session, milliseconds.
static SESSION_GAP: AtomicU64 = AtomicU64::new(0);
/// When the watched session's last message came (or it was established),
/// [`mono_ns`] nanoseconds.
static SESSION_LAST: AtomicU64 = AtomicU64::new(0);

/// The longest wait for a message so far, counting the current one, in
/// seconds; starts over.
fn session_gap() -> f64 {
    let since = mono_ns().saturating_sub(SESSION_LAST.load(Ordering::Relaxed)) / 1_000_000;
    SESSION_GAP.swap(0, Ordering::Relaxed).max(since) as f64 / 1e3
}

/// Opens a BGP session with ocbgpd (hold time 9 s).
async fn open_session(port: u16) -> Result<crate::speaker::Session> {
    use crate::speaker::{connect, establish, SpeakerConfig};
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = connect(
        ([127, 0, 0, 1], port).into(),
        Some(SESSION_PEER.parse()?),
        deadline,
    )
    .await?;
    let config = SpeakerConfig {
        local_as: SESSION_AS,
        peer_as: None,
        router_id: None,
        hold_time: 9,
        extended_message: false,
        graceful_restart: None,
    };
    establish(stream, &config, deadline).await
}

/// Keeps the session up until aborted, noting the longest wait between
/// ocbgpd's messages in [`SESSION_GAP`]; an error if the session fails.
async fn watch_session(session: crate::speaker::Session) -> Result<()> {
    use crate::speaker::keepalives;
    let (mut reader, mut writer, codec) = (session.reader, session.writer, session.codec);
    let interval = crate::speaker::keepalive_interval(&session.negotiated);
    let sending = async { keepalives(&mut writer, interval, &codec).await };
    let reading = async {
        SESSION_LAST.store(mono_ns(), Ordering::Relaxed);
        loop {
            let Some(frame) = reader.next().await? else {
                bail!("ocbgpd closed the session");
            };
            if frame.kind() == ocbgp_engine::wire::MessageType::Notification {
                bail!("ocbgpd sent a NOTIFICATION");
            }
            let now = mono_ns();
            let gap = now.saturating_sub(SESSION_LAST.swap(now, Ordering::Relaxed)) / 1_000_000;
            SESSION_GAP.fetch_max(gap, Ordering::Relaxed);
        }
    };
    tokio::select! {
        r = sending => r,
        r = reading => r,
    }
}

/// ocbgpd running one configuration.
struct Daemon {
    child: tokio::process::Child,
    pid: u32,
    dir: PathBuf,
}

impl Daemon {
    async fn start(binary: &Path, text: &str, port: u16, name: &str) -> Result<Daemon> {
        let dir =
            std::env::temp_dir().join(format!("bgpbench-commit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("config.json");
        std::fs::write(&file, text)?;
        let log = std::fs::File::create(dir.join("ocbgpd.log"))?;
        let child = tokio::process::Command::new(binary)
            .arg("--config")
            .arg(&file)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("ocbgpd exited at once")?;
        let mut daemon = Daemon { child, pid, dir };
        // Ready once gNMI answers (bounded: a large configuration takes
        // seconds to load).
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                bail!(
                    "ocbgpd exited ({status}); see {}",
                    daemon.dir.join("ocbgpd.log").display()
                );
            }
            if ocbgp_gnmi::connect(&format!("127.0.0.1:{port}"))
                .await
                .is_ok()
            {
                return Ok(daemon);
            }
            if Instant::now() > deadline {
                bail!("ocbgpd's gNMI did not come up within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `bgpbench commit`.
pub async fn run(args: CommitArgs) -> Result<()> {
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(|| crate::daemons::Daemon::Ocbgpd.default_binary());
    let target = format!("127.0.0.1:{}", args.port);
    let mut result = json!({"event": "commit", "date": crate::run::today(),
                            "neighbors": args.neighbors, "prefixes": args.prefixes});
    for (name, neighbors, prefixes) in [("small", 1, 0), ("large", args.neighbors, args.prefixes)] {
        let text = config(neighbors, prefixes, args.port);
        let started = Instant::now();
        let daemon = Daemon::start(&binary, &text, args.port, name).await?;
        let start_s = started.elapsed().as_secs_f64();
        let before = usage(daemon.pid)?;
        let mut client = ocbgp_gnmi::connect(&target).await?;
        // A BGP session kept up all along: commits must not disturb it.
        let session = tokio::spawn(watch_session(open_session(args.port + 1).await?));
        let mut ms = Vec::new();
        for i in 0..args.sets {
            let request = description_set(&format!("bench {i}"))?;
            ms.push(timed_set(&mut client, request).await?);
        }
        let (median, p99, max) = spread(ms);
        eprintln!(
            "bgpbench: {name}: {} bytes of configuration, ready in {start_s:.1} s, RSS {:.0} MB; \
             {} one-leaf Sets: median {median:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
            text.len(),
            before.rss as f64 / 1e6,
            args.sets
        );
        result[name] = json!({"config_bytes": text.len(), "ready_s": start_s,
                              "rss_mb": before.rss as f64 / 1e6, "peak_rss_mb": before.peak_rss as f64 / 1e6,
                              "set_median_ms": median, "set_p99_ms": p99, "set_max_ms": max});
        if name == "large" && args.seconds > 0 {
            let period = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
            let end = Instant::now() + Duration::from_secs(args.seconds);
            let mut next = Instant::now();
            let mut ms = Vec::new();
            while Instant::now() < end {
                tokio::time::sleep_until(next).await;
                next += period;
                let request = description_set(&format!("load {}", ms.len()))?;
                ms.push(timed_set(&mut client, request).await?);
            }
            let count = ms.len();
            let (median, p99, max) = spread(ms);
            let after = usage(daemon.pid)?;
            eprintln!(
                "bgpbench: {name}: sustained {count} Sets in {} s: median {median:.2} ms, \
                 p99 {p99:.2} ms, max {max:.2} ms; RSS {:.0} MB after",
                args.seconds,
                after.rss as f64 / 1e6
            );
            result["sustained"] = json!({"rate": args.rate, "seconds": args.seconds, "sets": count,
                                         "median_ms": median, "p99_ms": p99, "max_ms": max,
                                         "rss_after_mb": after.rss as f64 / 1e6});
        }
        if name == "large" {
            // The whole configuration again, with one description changed.
            let whole = text.replacen("\"peer 0\"", "\"replaced\"", 1);
            let request = SetRequest {
                replace: vec![Update {
                    path: Some(ocbgp_gnmi::path::parse_text("/").map_err(|e| anyhow!("/: {e}"))?),
                    val: Some(TypedValue {
                        value: Some(typed_value::Value::JsonIetfVal(whole.into_bytes())),
                    }),
                    ..Update::default()
                }],
                ..SetRequest::default()
            };
            let seconds = timed_set(&mut client, request).await? / 1e3;
            let after = usage(daemon.pid)?;
            eprintln!(
                "bgpbench: {name}: replace of the whole configuration: {seconds:.2} s; \
                 peak RSS {:.0} MB",
                after.peak_rss as f64 / 1e6
            );
            result[name]["replace_s"] = json!(seconds);
            result[name]["replace_peak_rss_mb"] = json!(after.peak_rss as f64 / 1e6);
        }
        let (up, gap) = match session.is_finished() {
            true => match session.await {
                Ok(Err(e)) => (false, format!("{e:#}")),
                _ => (false, "ended".to_string()),
            },
            false => {
                session.abort();
                (true, String::new())
            }
        };
        let gap_s = session_gap();
        eprintln!(
            "bgpbench: {name}: BGP session {} throughout; longest wait for a message from ocbgpd {gap_s:.2} s (keepalive every 3 s){gap}",
            if up { "up" } else { "NOT up" }
        );
        result[name]["session_up"] = json!(up);
        result[name]["session_longest_gap_s"] = json!(gap_s);
        let (median, p99, max) = netconf(&mut client, args.port + 2, args.sets).await?;
        eprintln!(
            "bgpbench: {name}: {} NETCONF edit-config (candidate) + commit: median {median:.2} ms, \
             p99 {p99:.2} ms, max {max:.2} ms",
            args.sets
        );
        result[name]["netconf_median_ms"] = json!(median);
        result[name]["netconf_p99_ms"] = json!(p99);
        result[name]["netconf_max_ms"] = json!(max);
        daemon.stop().await;
    }
    emit(result);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_json_with_every_neighbor_and_prefix() {
        let text = config(300, 1000, 19339);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let n = v.pointer("/openconfig-network-instance:network-instances/network-instance/0/protocols/protocol/0/bgp/neighbors/neighbor").unwrap();
        // With the bench's own session.
        assert_eq!(n.as_array().unwrap().len(), 301);
        assert!(text.contains("127.100.1.50"));
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (2.0, 3.0, 3.0));
    }
}
