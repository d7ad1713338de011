//! GoBGP (`gobgpd` 3.x) as a lab peer, driven through its `gobgp` CLI.
//!
//! Started as `gobgpd -f <host dir>/gobgpd.toml -t toml
//! --api-hosts 127.0.0.1:50051 --pprof-disable` inside the host's namespace
//! (every namespace has its own loopback, so the API port never collides).
//! Queries run `gobgp -u 127.0.0.1 -p 50051 -j …` in the same namespace.
//!
//! GoBGP quirks worth knowing:
//! - its first outgoing connection attempt comes 5–10 s after start (a
//!   random wait of one to two times `max(connect-retry, 5 s)`), so a
//!   gobgpd↔gobgpd session takes up to 10 s; peers that connect to it
//!   (BIRD, FRR, ocbgpd) are faster;
//! - after a session goes down it refuses connections for
//!   `idle-hold-time-after-reset` (30 s by default; this helper sets 1 s);
//! - it has no static routes in its config file: originated routes are
//!   added with `gobgp global rib add` after start;
//! - next hops in 127.0.0.0/8 are treated as withdrawn (RFC 7606), hence the
//!   namespaces.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::Value;

use super::config::{BgpConfig, Originated};
use super::netns::Host;
use super::process::{run_check, Process, ScratchDir};
use super::route::{community_string, Family, Origin, Route};
use super::speaker::{BgpSpeaker, ReceivedCounts, SessionState};
use crate::wait_until;

/// Where gobgpd's gRPC API listens inside the host's namespace.
pub const GOBGP_API: (&str, u16) = ("127.0.0.1", 50051);

/// A gobgpd running in a lab host.
pub struct Gobgp {
    host: Host,
    config: BgpConfig,
    /// The TOML written at start (extra included).
    toml: String,
    process: Process,
}

/// One change seen by a [`RibMonitor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RibEvent {
    /// The path (for a withdrawal: as it was).
    pub route: Route,
    /// Whether the path was withdrawn.
    pub withdrawal: bool,
}

/// `gobgp -j monitor global rib` running in the background
/// ([`Gobgp::monitor_rib`]); killed when dropped.
pub struct RibMonitor {
    process: Process,
}

impl RibMonitor {
    /// Every change seen so far, in order.
    pub fn events(&self) -> Vec<RibEvent> {
        let mut out = Vec::new();
        for line in self.process.log().lines() {
            let Ok(Value::Array(paths)) = serde_json::from_str::<Value>(line.trim()) else {
                continue;
            };
            for p in &paths {
                let prefix = p["nlri"]["prefix"].as_str().unwrap_or_default();
                out.push(RibEvent {
                    route: parse_path(prefix, p),
                    withdrawal: p["withdrawal"].as_bool().unwrap_or(false),
                });
            }
        }
        out
    }

    /// The withdrawals seen so far.
    pub fn withdrawals(&self) -> Vec<Route> {
        self.events()
            .into_iter()
            .filter(|e| e.withdrawal)
            .map(|e| e.route)
            .collect()
    }

    /// The monitor process (its log is the raw output).
    pub fn process(&self) -> &Process {
        &self.process
    }
}

/// Starts gobgpd in `host` with the TOML `file` (`--graceful-restart`
/// when `restarting`).
fn spawn_gobgpd(host: &Host, file: &std::path::Path, restarting: bool) -> Process {
    let api = format!("{}:{}", GOBGP_API.0, GOBGP_API.1);
    let file = file.to_string_lossy().into_owned();
    let mut args = vec![
        "-f",
        &file,
        "-t",
        "toml",
        "--api-hosts",
        &api,
        "--pprof-disable",
        "-l",
        "info",
    ];
    if restarting {
        args.push("--graceful-restart");
    }
    host.spawn("gobgpd", "gobgpd", &args)
}

/// Appends a marker line to a (stopped) process's log before it is started
/// again on the same log.
pub(crate) fn append_marker(process: &Process, what: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .open(process.log_path())
    {
        let _ = std::io::Write::write_all(&mut f, format!("--- lab: {what} ---\n").as_bytes());
    }
}

/// The `neighbor-address` values of a gobgpd TOML.
fn toml_neighbor_addresses(toml: &str) -> Vec<String> {
    toml.lines()
        .filter_map(|l| l.trim().strip_prefix("neighbor-address"))
        .filter_map(|rest| rest.split('"').nth(1))
        .map(str::to_string)
        .collect()
}

impl Gobgp {
    /// Starts gobgpd with `config`, waits (10 s at most) until its API
    /// answers, then adds the originated routes.
    pub fn start(host: &Host, config: &BgpConfig) -> Gobgp {
        Gobgp::start_with(host, config, "")
    }

    /// Like [`Gobgp::start`], appending `extra_toml` to the generated
    /// configuration (policies, more neighbors with options not covered by
    /// the builder, …).
    pub fn start_with(host: &Host, config: &BgpConfig, extra_toml: &str) -> Gobgp {
        let mut toml = gobgp_toml(config);
        toml.push_str(extra_toml);
        let file = host.dir().join("gobgpd.toml");
        std::fs::write(&file, &toml).expect("write gobgpd.toml");
        let process = spawn_gobgpd(host, &file, false);
        let gobgp = Gobgp {
            host: host.clone(),
            config: config.clone(),
            toml,
            process,
        };
        gobgp.wait_up();
        for route in &config.routes {
            gobgp.add_route(route);
        }
        gobgp
    }

    fn wait_up(&self) {
        let up = wait_until(Duration::from_secs(10), || {
            !self.process.running() || self.try_cli(&["global"]).is_ok()
        });
        if !up || !self.process.running() {
            self.fail("gobgpd did not come up (API not answering)");
        }
    }

    /// Kills gobgpd with SIGKILL and reaps it: no NOTIFICATION is sent, so
    /// peers that negotiated graceful restart keep its routes (helper
    /// mode). Start it again with [`Gobgp::start_again`].
    pub fn crash(&self) {
        self.process.kill();
    }

    /// Stops gobgpd with SIGTERM, waiting up to `limit` (then SIGKILL).
    /// gobgpd sends its peers a Cease NOTIFICATION first, which ends
    /// graceful restart at peers unless RFC 8538 (N bit) was negotiated.
    pub fn shutdown(&self, limit: Duration) -> Option<ExitStatus> {
        self.process.stop(limit)
    }

    /// Starts gobgpd again in the same host with the same configuration
    /// (its output appended to the same log) after [`Gobgp::crash`] or
    /// [`Gobgp::shutdown`], and adds the originated routes again.
    ///
    /// `restarting`: start as a graceful restart's restarting speaker
    /// (`gobgpd --graceful-restart`: R bit set towards neighbors with
    /// graceful restart enabled, selection deferred until their
    /// End-of-RIB). Then every neighbor is held administratively down
    /// (`admin-down = true` in the restart's `gobgpd-restart.toml`) until
    /// the originated routes are back, and enabled afterwards: otherwise
    /// gobgpd could send its End-of-RIB before the routes are added and
    /// the helper would drop them. Panics if gobgpd still runs.
    pub fn start_again(&mut self, restarting: bool) {
        if self.process.running() {
            self.fail("start_again: gobgpd is still running; crash or shut it down first");
        }
        let hold_down = restarting && !self.config.routes.is_empty();
        let file = if hold_down {
            let file = self.host.dir().join("gobgpd-restart.toml");
            let toml = self.toml.replace(
                "  [neighbors.config]\n",
                "  [neighbors.config]\n    admin-down = true\n",
            );
            std::fs::write(&file, toml).expect("write gobgpd-restart.toml");
            file
        } else {
            self.host.dir().join("gobgpd.toml")
        };
        append_marker(&self.process, "gobgpd started again");
        self.process = spawn_gobgpd(&self.host, &file, restarting);
        self.wait_up();
        for route in &self.config.routes.clone() {
            self.add_route(route);
        }
        if hold_down {
            for addr in toml_neighbor_addresses(&self.toml) {
                self.cli(&["neighbor", &addr, "enable"]);
            }
        }
    }

    /// Leaves `prefix` out of the routes gobgpd originates from its next
    /// [`Gobgp::start_again`] on (a restarted peer that lost a route).
    pub fn forget_route(&mut self, prefix: &str) {
        self.config.routes.retain(|r| r.prefix != prefix);
    }

    /// [`Gobgp::crash`] (kill -9) then [`Gobgp::start_again`] as the
    /// restarting speaker (`--graceful-restart`).
    pub fn graceful_restart(&mut self) {
        self.crash();
        self.start_again(true);
    }

    /// What gobgpd counted on the session with `neighbor`
    /// (`gobgp -j neighbor ADDR`, `state.messages.received`): UPDATE
    /// messages, and withdrawn prefixes. gobgpd resets them when the
    /// session is established again.
    pub fn try_received_counts(&self, neighbor: IpAddr) -> Result<ReceivedCounts, String> {
        let text = self.try_cli(&["-j", "neighbor", &neighbor.to_string()])?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("gobgp neighbor JSON: {e}: {text}"))?;
        let rx = &json["state"]["messages"]["received"];
        Ok(ReceivedCounts {
            updates: rx["update"].as_u64().unwrap_or(0),
            withdraws: rx["withdraw_prefix"].as_u64().unwrap_or(0),
        })
    }

    /// [`Gobgp::try_received_counts`], panicking on failure.
    pub fn received_counts(&self, neighbor: IpAddr) -> ReceivedCounts {
        self.try_received_counts(neighbor)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// Starts `gobgp -j monitor global rib` in the background: every change
    /// of the best paths from now on, withdrawals included, until the
    /// returned handle is dropped.
    pub fn monitor_rib(&self, family: Family) -> RibMonitor {
        let port = GOBGP_API.1.to_string();
        let name = format!("gobgp-monitor-{}", family_arg(family));
        let process = self.host.spawn(
            &name,
            "gobgp",
            &[
                "-u",
                GOBGP_API.0,
                "-p",
                &port,
                "-j",
                "monitor",
                "global",
                "rib",
                "-a",
                family_arg(family),
            ],
        );
        RibMonitor { process }
    }

    /// Checks the configuration generated for `config` (plus `extra_toml`)
    /// with `gobgpd --dry-run`, without starting anything.
    pub fn check(config: &BgpConfig, extra_toml: &str) -> Result<(), String> {
        let dir = ScratchDir::new("gobgp");
        let file = dir.0.join("gobgpd.toml");
        std::fs::write(&file, gobgp_toml(config) + extra_toml).expect("write gobgpd.toml");
        let mut cmd = Command::new("gobgpd");
        cmd.arg("-d").arg("-f").arg(&file).args(["-t", "toml"]);
        run_check(cmd)
            .map(drop)
            .map_err(|e| format!("gobgpd rejects its config: {e}"))
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &BgpConfig {
        &self.config
    }

    /// The daemon process.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Runs `gobgp ARGS` against this daemon; Err with its output if it fails.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let port = GOBGP_API.1.to_string();
        let mut full = vec!["-u", GOBGP_API.0, "-p", &port];
        full.extend_from_slice(args);
        let out = self.host.try_run("gobgp", &full);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "`gobgp {}` failed ({}): {}{}",
                args.join(" "),
                out.status,
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Runs `gobgp ARGS`; panics with its output and gobgpd's log on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| self.fail(&e))
    }

    /// `gobgp -j neighbor` parsed.
    pub fn neighbors_json(&self) -> Result<Value, String> {
        let text = self.try_cli(&["-j", "neighbor"])?;
        serde_json::from_str(&text).map_err(|e| format!("gobgp neighbor JSON: {e}: {text}"))
    }

    /// The Adj-RIB-In from `neighbor` for `family` (paths as received, after
    /// no policy); Err when the session is not established.
    pub fn try_adj_in(&self, neighbor: IpAddr, family: Family) -> Result<Vec<Route>, String> {
        let n = neighbor.to_string();
        let text = self.try_cli(&["-j", "neighbor", &n, "adj-in", "-a", family_arg(family)])?;
        parse_rib(&text)
    }

    /// [`Gobgp::try_adj_in`], panicking on failure.
    pub fn adj_in(&self, neighbor: IpAddr, family: Family) -> Vec<Route> {
        self.try_adj_in(neighbor, family)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// Announces a route (`gobgp global rib add`).
    pub fn add_route(&self, route: &Originated) {
        let args = rib_add_args(route);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.cli(&args);
    }

    /// Withdraws a route added before (`gobgp global rib del`).
    pub fn delete_route(&self, prefix: &str) {
        self.cli(&[
            "global",
            "rib",
            "del",
            prefix,
            "-a",
            family_arg(Family::of(prefix)),
        ]);
    }
}

impl BgpSpeaker for Gobgp {
    fn process(&self) -> &Process {
        &self.process
    }

    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String> {
        let all = self.neighbors_json()?;
        for n in all.as_array().into_iter().flatten() {
            let addr = n["state"]["neighbor_address"]
                .as_str()
                .or_else(|| n["conf"]["neighbor_address"].as_str())
                .and_then(|a| a.parse::<IpAddr>().ok());
            if addr == Some(neighbor) {
                // Absent means 0 (UNKNOWN) in the protobuf JSON.
                let code = n["state"]["session_state"].as_u64().unwrap_or(0);
                return Ok(match code {
                    1 => SessionState::Idle,
                    2 => SessionState::Connect,
                    3 => SessionState::Active,
                    4 => SessionState::OpenSent,
                    5 => SessionState::OpenConfirm,
                    6 => SessionState::Established,
                    other => SessionState::Other(format!("session_state {other}")),
                });
            }
        }
        Err(format!("gobgpd has no neighbor {neighbor}"))
    }

    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String> {
        let text = self.try_cli(&["-j", "global", "rib", "-a", family_arg(family)])?;
        parse_rib(&text)
    }
}

fn family_arg(family: Family) -> &'static str {
    match family {
        Family::Ipv4Unicast => "ipv4",
        Family::Ipv6Unicast => "ipv6",
    }
}

/// Arguments of `gobgp global rib add` for a route.
fn rib_add_args(route: &Originated) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "global".into(),
        "rib".into(),
        "add".into(),
        route.prefix.clone(),
    ];
    let origin = match route.origin.unwrap_or(Origin::Igp) {
        Origin::Igp => "igp",
        Origin::Egp => "egp",
        Origin::Incomplete => "incomplete",
    };
    args.extend(["origin".into(), origin.into()]);
    if let Some(nh) = route.next_hop {
        args.extend(["nexthop".into(), nh.to_string()]);
    }
    if let Some(med) = route.med {
        args.extend(["med".into(), med.to_string()]);
    }
    if let Some(lp) = route.local_pref {
        args.extend(["local-pref".into(), lp.to_string()]);
    }
    if !route.communities.is_empty() {
        args.extend(["community".into(), route.communities.join(",")]);
    }
    if !route.large_communities.is_empty() {
        args.extend(["large-community".into(), route.large_communities.join(",")]);
    }
    args.extend(["-a".into(), family_arg(route.family()).into()]);
    args
}

/// gobgpd's TOML for a config.
pub fn gobgp_toml(config: &BgpConfig) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "[global.config]\n  as = {}\n  router-id = \"{}\"",
        config.asn, config.router_id
    );
    for n in &config.neighbors {
        let _ = writeln!(t, "\n[[neighbors]]\n  [neighbors.config]");
        let _ = writeln!(
            t,
            "    neighbor-address = \"{}\"\n    peer-as = {}",
            n.address, n.peer_as
        );
        if let Some(d) = &n.description {
            let _ = writeln!(t, "    description = {}", toml_string(d));
        }
        if let Some(p) = &n.password {
            let _ = writeln!(t, "    auth-password = {}", toml_string(p));
        }
        let _ = writeln!(t, "  [neighbors.timers.config]");
        let _ = writeln!(t, "    connect-retry = {}", n.connect_retry);
        let _ = writeln!(t, "    idle-hold-time-after-reset = 1");
        if let Some((hold, keepalive)) = n.timers {
            let _ = writeln!(
                t,
                "    hold-time = {hold}\n    keepalive-interval = {keepalive}"
            );
        }
        if n.passive || n.local_address.is_some() {
            let _ = writeln!(t, "  [neighbors.transport.config]");
            if n.passive {
                let _ = writeln!(t, "    passive-mode = true");
            }
            if let Some(a) = n.local_address {
                let _ = writeln!(t, "    local-address = \"{a}\"");
            }
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(
                t,
                "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = {ttl}"
            );
        }
        if let Some(gr) = &n.graceful_restart {
            let _ = writeln!(
                t,
                "  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {}",
                gr.restart_time
            );
            if gr.notification {
                let _ = writeln!(t, "    notification-enabled = true");
            }
            if gr.helper_only {
                let _ = writeln!(t, "    helper-only = true");
            }
            if gr.long_lived_stale_time.is_some() {
                let _ = writeln!(t, "    long-lived-enabled = true");
            }
        }
        for f in &n.families {
            let name = match f {
                Family::Ipv4Unicast => "ipv4-unicast",
                Family::Ipv6Unicast => "ipv6-unicast",
            };
            let _ = writeln!(
                t,
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{name}\""
            );
            if let Some(ap) = &n.add_paths {
                let _ = writeln!(
                    t,
                    "    [neighbors.afi-safis.add-paths.config]\n      receive = {}\n      send-max = {}",
                    ap.receive,
                    if ap.send { ap.send_max.unwrap_or(u8::MAX) } else { 0 }
                );
            }
            if let Some(gr) = &n.graceful_restart {
                let _ = writeln!(
                    t,
                    "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true"
                );
                if let Some(stale) = gr.long_lived_stale_time {
                    let _ = writeln!(
                        t,
                        "    [neighbors.afi-safis.long-lived-graceful-restart.config]\n      enabled = true\n      restart-time = {stale}"
                    );
                }
            }
        }
    }
    t
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// Parses `gobgp -j global rib` / `adj-in` output: an object from prefix to
/// a list of paths, `{}` when empty.
pub fn parse_rib(text: &str) -> Result<Vec<Route>, String> {
    let text = text.trim();
    if text.is_empty() || text.contains("not in table") {
        return Ok(Vec::new());
    }
    let json: Value =
        serde_json::from_str(text).map_err(|e| format!("gobgp rib JSON: {e}: {text}"))?;
    let mut routes = Vec::new();
    for (prefix, paths) in json
        .as_object()
        .ok_or_else(|| format!("gobgp rib: not an object: {text}"))?
    {
        for path in paths.as_array().into_iter().flatten() {
            routes.push(parse_path(prefix, path));
        }
    }
    routes.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    Ok(routes)
}

fn parse_path(prefix: &str, path: &Value) -> Route {
    let mut r = Route {
        prefix: path["nlri"]["prefix"]
            .as_str()
            .unwrap_or(prefix)
            .to_string(),
        best: path["best"].as_bool().unwrap_or(false),
        from: path["neighbor-ip"].as_str().and_then(|a| a.parse().ok()),
        stale: path["stale"].as_bool().unwrap_or(false),
        ..Route::default()
    };
    for attr in path["attrs"].as_array().into_iter().flatten() {
        match attr["type"].as_u64() {
            Some(1) => r.origin = attr["value"].as_u64().and_then(Origin::from_code),
            Some(2) => {
                for seg in attr["as_paths"].as_array().into_iter().flatten() {
                    r.as_path.extend(
                        seg["asns"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_u64())
                            .map(|a| a as u32),
                    );
                }
            }
            Some(3) => r.next_hop = attr["nexthop"].as_str().and_then(|a| a.parse().ok()),
            Some(4) => r.med = attr["metric"].as_u64().map(|m| m as u32),
            Some(5) => r.local_pref = attr["value"].as_u64().map(|m| m as u32),
            Some(8) => {
                r.communities = attr["communities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_u64())
                    .map(|c| community_string(c as u32))
                    .collect()
            }
            Some(14) => {
                if let Some(nh) = attr["nexthop"].as_str().and_then(|a| a.parse().ok()) {
                    r.next_hop = Some(nh);
                }
            }
            Some(32) => {
                r.large_communities = attr["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| format!("{}:{}:{}", c["ASN"], c["LocalData1"], c["LocalData2"]))
                    .collect()
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rib_json() {
        let text = r#"{"2001:db8:100::/48":[{"nlri":{"prefix":"2001:db8:100::/48"},"best":true,"attrs":[{"type":1,"value":2},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65001]}]},{"type":4,"metric":20},{"type":8,"communities":[4259840002,4294967041]},{"type":32,"value":[{"ASN":65001,"LocalData1":1,"LocalData2":2}]},{"type":14,"nexthop":"2001:db8::1","afi":2,"safi":1}],"neighbor-ip":"192.0.2.1"}]}"#;
        let routes = parse_rib(text).unwrap();
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(r.prefix, "2001:db8:100::/48");
        assert_eq!(r.next_hop, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(r.as_path, vec![65001]);
        assert_eq!(r.origin, Some(Origin::Incomplete));
        assert_eq!(r.med, Some(20));
        assert_eq!(r.communities, vec!["65000:2", "65535:65281"]);
        assert_eq!(r.large_communities, vec!["65001:1:2"]);
        assert_eq!(r.from, Some("192.0.2.1".parse().unwrap()));
        assert!(parse_rib("{}").unwrap().is_empty());
    }
}
