//! FRR 8.4 (`bgpd` with its `zebra`) as a lab peer, queried through `vtysh`.
//!
//! Run directly, without systemd or watchfrr, from a folder of its own
//! (`<host dir>/frr`, owned by user `frr`, which both daemons run as):
//!
//! ```text
//! zebra -f DIR/zebra.conf -i DIR/zebra.pid --vty_socket DIR -z DIR/zserv.api -P 0
//! bgpd  -f DIR/bgpd.conf  -i DIR/bgpd.pid  --vty_socket DIR -z DIR/zserv.api -P 0 -n
//! vtysh --vty_socket DIR -d bgpd -c 'show bgp … json'
//! ```
//!
//! `-P 0` turns the TCP vty off, `-n` keeps bgpd from asking zebra to
//! install routes. bgpd can also run alone with `-Z` (`--no_zebra`, plus
//! `-S` to stay root), but then it knows no interface addresses: it rewrites
//! every next hop to itself on eBGP (third-party next hops are lost) and
//! sends IPv6 routes with an IPv4-mapped next hop. With zebra beside it
//! both behave as on a router, so this helper runs both.
//!
//! Configuration written for FRR: `frr defaults traditional`,
//! `no bgp ebgp-requires-policy` (else eBGP sends and accepts nothing),
//! `no bgp network import-check` (else `network` needs the prefix in the
//! RIB), `no bgp default ipv4-unicast` with explicit `activate` per family,
//! `timers connect`, `advertisement-interval 0`. Each originated route is a
//! `network` statement with a route-map setting its attributes.
//!
//! FRR quirks: it never sends a route carrying NO_EXPORT to an eBGP peer,
//! its own originated routes included (gobgpd and BIRD do); route-map edits
//! made at run time take effect after the route-map delay timer (5 s).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::Value;

use super::config::BgpConfig;
use super::netns::Host;
use super::process::{run_check, Process, ScratchDir};
use super::route::{normalize_community, normalize_large_community, Family, Origin, Route};
use super::speaker::{BgpSpeaker, SessionState};
use crate::wait_until;

/// Where FRR's daemons live.
pub const FRR_DIR: &str = "/usr/lib/frr";

/// FRR's zebra and bgpd running in a lab host.
pub struct Frr {
    host: Host,
    config: BgpConfig,
    dir: PathBuf,
    // Dropped in order: bgpd first.
    bgpd: Process,
    zebra: Process,
}

impl Frr {
    /// Starts zebra and bgpd with `config` and waits (15 s at most) until
    /// vtysh answers.
    pub fn start(host: &Host, config: &BgpConfig) -> Frr {
        Frr::start_with(host, config, "")
    }

    /// Like [`Frr::start`], appending `extra` to the generated bgpd.conf
    /// (route-maps, more `router bgp` lines in a new `router bgp` block, …).
    pub fn start_with(host: &Host, config: &BgpConfig, extra: &str) -> Frr {
        let dir = host.dir().join("frr");
        std::fs::create_dir_all(&dir).expect("create frr folder");
        let chown = Command::new("chown").arg("frr:frr").arg(&dir).status();
        assert!(
            chown.is_ok_and(|s| s.success()),
            "cannot chown {} to frr (is FRR installed?)",
            dir.display()
        );
        let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
        std::fs::write(
            dir.join("zebra.conf"),
            format!("hostname {}\nlog stdout informational\n", host.name()),
        )
        .expect("write zebra.conf");
        let mut conf = bgpd_conf(host.name(), config);
        conf.push_str(extra);
        std::fs::write(dir.join("bgpd.conf"), conf).expect("write bgpd.conf");
        let vty = dir.to_string_lossy().into_owned();
        let zebra = host.spawn(
            "zebra",
            &format!("{FRR_DIR}/zebra"),
            &[
                "-f",
                &d("zebra.conf"),
                "-i",
                &d("zebra.pid"),
                "--vty_socket",
                &vty,
                "-z",
                &d("zserv.api"),
                "-P",
                "0",
            ],
        );
        let zserv = dir.join("zserv.api");
        if !wait_until(Duration::from_secs(10), || {
            zserv.exists() || !zebra.running()
        }) || !zebra.running()
        {
            panic!(
                "zebra in {} did not come up; its log:\n{}",
                host.name(),
                zebra.log_tail(60)
            );
        }
        let bgpd = spawn_bgpd(host, &dir);
        let frr = Frr {
            host: host.clone(),
            config: config.clone(),
            dir,
            bgpd,
            zebra,
        };
        frr.wait_bgpd_up();
        frr
    }

    fn wait_bgpd_up(&self) {
        let up = wait_until(Duration::from_secs(15), || {
            !self.running() || self.try_vtysh(&["show bgp summary json"]).is_ok()
        });
        if !up || !self.running() {
            self.fail("bgpd did not come up (vtysh not answering)");
        }
        let log = self.bgpd.log();
        if let Some(line) = config_complaint(&log) {
            self.fail(&format!("bgpd rejected a line of bgpd.conf: {line}"));
        }
    }

    /// Kills bgpd with SIGKILL (zebra keeps running) and reaps it: no
    /// NOTIFICATION, so graceful restart peers keep its routes. Start it
    /// again with [`Frr::start_bgpd_again`].
    pub fn crash_bgpd(&self) {
        self.bgpd.kill();
    }

    /// Stops bgpd with SIGTERM (it sends its peers a Cease NOTIFICATION),
    /// waiting up to `limit` (then SIGKILL); zebra keeps running.
    pub fn shutdown_bgpd(&self, limit: Duration) -> Option<ExitStatus> {
        self.bgpd.stop(limit)
    }

    /// Starts bgpd again with the same bgpd.conf and log (appended), next
    /// to the running zebra, and waits until vtysh answers. With
    /// `bgp graceful-restart` configured, FRR 8.4 is a restarting speaker
    /// for its restart time after every start (R bit set in its OPENs,
    /// best-path selection deferred until End-of-RIB); it has no `-K`
    /// option. Panics if bgpd still runs.
    pub fn start_bgpd_again(&mut self) {
        if self.bgpd.running() {
            self.fail("start_bgpd_again: bgpd is still running; crash or shut it down first");
        }
        super::gobgp::append_marker(&self.bgpd, "bgpd started again");
        self.bgpd = spawn_bgpd(&self.host, &self.dir);
        self.wait_bgpd_up();
    }

    /// [`Frr::crash_bgpd`] then [`Frr::start_bgpd_again`]: FRR's graceful
    /// restart of bgpd.
    pub fn graceful_restart(&mut self) {
        self.crash_bgpd();
        self.start_bgpd_again();
    }

    /// Checks the bgpd.conf generated for `config` (plus `extra`) with
    /// `bgpd --dryrun` (which exits 0 even then, so its complaints are
    /// looked for), without starting anything.
    pub fn check(config: &BgpConfig, extra: &str) -> Result<(), String> {
        let dir = ScratchDir::new("frr");
        let file = dir.0.join("bgpd.conf");
        std::fs::write(&file, bgpd_conf("check", config) + extra).expect("write bgpd.conf");
        let mut cmd = Command::new(format!("{FRR_DIR}/bgpd"));
        cmd.arg("-C")
            .arg("-S")
            .arg("-f")
            .arg(&file)
            .arg("--vty_socket")
            .arg(&dir.0);
        let text = run_check(cmd).map_err(|e| format!("bgpd --dryrun failed: {e}"))?;
        match config_complaint(&text) {
            Some(line) => Err(format!("bgpd rejects a line of its config: {line}")),
            None => Ok(()),
        }
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &BgpConfig {
        &self.config
    }

    /// The bgpd process.
    pub fn bgpd(&self) -> &Process {
        &self.bgpd
    }

    /// The zebra process.
    pub fn zebra(&self) -> &Process {
        &self.zebra
    }

    /// The folder with configs, pid files and vty sockets.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Runs vtysh with one `-c` per command (connected to bgpd only);
    /// returns stdout, Err on failure or a `%` error line.
    pub fn try_vtysh(&self, commands: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket").arg(&self.dir).args(["-d", "bgpd"]);
        for c in commands {
            cmd.args(["-c", c]);
        }
        let out = cmd.output().map_err(|e| format!("cannot run vtysh: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || text.lines().any(|l| l.starts_with("% ")) {
            return Err(format!(
                "`vtysh -c {}` failed ({}): {}{}",
                commands.join(" -c "),
                out.status,
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(text)
    }

    /// Runs vtysh commands; panics with FRR's logs on failure.
    pub fn vtysh(&self, commands: &[&str]) -> String {
        self.try_vtysh(commands).unwrap_or_else(|e| self.fail(&e))
    }

    /// Runs configuration commands (`configure terminal` first, then each
    /// line as given, e.g. `["router bgp 65002", "neighbor 192.0.2.9 shutdown"]`).
    pub fn configure(&self, lines: &[&str]) {
        let mut all = vec!["configure terminal"];
        all.extend_from_slice(lines);
        self.vtysh(&all);
    }
}

impl BgpSpeaker for Frr {
    fn process(&self) -> &Process {
        &self.bgpd
    }

    fn log(&self) -> String {
        format!(
            "{}\n--- zebra ---\n{}",
            self.bgpd.log(),
            self.zebra.log_tail(30)
        )
    }

    fn running(&self) -> bool {
        self.bgpd.running() && self.zebra.running()
    }

    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String> {
        let text = self.try_vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("vtysh JSON: {e}: {text}"))?;
        let n = &json[neighbor.to_string()];
        n["bgpState"]
            .as_str()
            .map(SessionState::from_name)
            .ok_or_else(|| format!("bgpd has no neighbor {neighbor}: {text}"))
    }

    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String> {
        let afi = match family {
            Family::Ipv4Unicast => "ipv4",
            Family::Ipv6Unicast => "ipv6",
        };
        let text = self.try_vtysh(&[&format!("show bgp {afi} unicast json")])?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("vtysh JSON: {e}: {text}"))?;
        let prefixes: Vec<String> = json["routes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        // One vtysh run for the details of all prefixes; its output is the
        // JSON documents one after the other.
        let commands: Vec<String> = prefixes
            .iter()
            .map(|p| format!("show bgp {afi} unicast {p} json"))
            .collect();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        let text = self.try_vtysh(&commands)?;
        let mut routes = Vec::new();
        for doc in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let doc = doc.map_err(|e| format!("vtysh JSON: {e}: {text}"))?;
            routes.extend(parse_prefix_detail(&doc));
        }
        Ok(routes)
    }
}

/// The first line of bgpd output complaining about a config line, except
/// FRR 8.4's spurious "Warning Config Failed" for the per-neighbor
/// graceful restart modes (`neighbor X graceful-restart-helper`, …), which
/// it returns whenever the instance has more than one neighbor although it
/// applies them (`show bgp ipv4 neighbors X graceful-restart` shows them).
fn config_complaint(text: &str) -> Option<&str> {
    text.lines().find(|l| {
        l.contains("on config line")
            && !(l.contains("Warning Config Failed")
                && l.split_whitespace().rev().nth(2) == Some("neighbor")
                && l.split_whitespace().last().is_some_and(|w| {
                    [
                        "graceful-restart",
                        "graceful-restart-helper",
                        "graceful-restart-disable",
                    ]
                    .contains(&w)
                }))
    })
}

/// Starts bgpd from `dir` (config, pid file, vty socket, zserv socket
/// there) in `host`.
fn spawn_bgpd(host: &Host, dir: &std::path::Path) -> Process {
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let vty = dir.to_string_lossy().into_owned();
    host.spawn(
        "bgpd",
        &format!("{FRR_DIR}/bgpd"),
        &[
            "-f",
            &d("bgpd.conf"),
            "-i",
            &d("bgpd.pid"),
            "--vty_socket",
            &vty,
            "-z",
            &d("zserv.api"),
            "-P",
            "0",
            "-n",
        ],
    )
}

/// bgpd.conf for a config.
pub fn bgpd_conf(hostname: &str, config: &BgpConfig) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "frr defaults traditional\nhostname {hostname}\nlog stdout informational"
    );
    let _ = writeln!(t, "debug bgp neighbor-events\n!\nrouter bgp {}", config.asn);
    let _ = writeln!(t, " bgp router-id {}", config.router_id);
    let _ = writeln!(
        t,
        " no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast"
    );
    // FRR's graceful restart timers, N bit and LLGR are per instance: the
    // largest times and any N bit of the neighbors that enable it.
    let grs: Vec<_> = config
        .neighbors
        .iter()
        .filter_map(|n| n.graceful_restart.as_ref())
        .collect();
    if !grs.is_empty() {
        let restart = grs.iter().map(|g| g.restart_time).max().unwrap_or(120);
        let _ = writeln!(
            t,
            " bgp graceful-restart\n bgp graceful-restart restart-time {restart}"
        );
        // The lab's FRR installs nothing that a restart of bgpd loses
        // (zebra keeps running): it says forwarding state was kept, as a
        // router with -K / preserved FIB does, so helpers keep its routes.
        let _ = writeln!(t, " bgp graceful-restart preserve-fw-state");
        if let Some(stale) = grs.iter().filter_map(|g| g.stale_routes_time).max() {
            let _ = writeln!(t, " bgp graceful-restart stalepath-time {}", stale.max(1));
        }
        let no = if grs.iter().any(|g| g.notification) {
            ""
        } else {
            "no "
        };
        let _ = writeln!(t, " {no}bgp graceful-restart notification");
        if let Some(stale) = grs.iter().filter_map(|g| g.long_lived_stale_time).max() {
            let _ = writeln!(t, " bgp long-lived-graceful-restart stale-time {stale}");
        }
    }
    for n in &config.neighbors {
        let a = n.address;
        let _ = writeln!(t, " neighbor {a} remote-as {}", n.peer_as);
        match &n.graceful_restart {
            Some(gr) if gr.helper_only => {
                let _ = writeln!(t, " neighbor {a} graceful-restart-helper");
            }
            // Inherited from `bgp graceful-restart` (FRR refuses to set
            // a neighbor to the mode it already has).
            Some(_) => {}
            // FRR's default: helper only (kept when the instance enables it).
            None if !grs.is_empty() => {
                let _ = writeln!(t, " neighbor {a} graceful-restart-helper");
            }
            None => {}
        }
        if let Some(d) = &n.description {
            let _ = writeln!(t, " neighbor {a} description {d}");
        }
        if let Some(p) = &n.password {
            let _ = writeln!(t, " neighbor {a} password {p}");
        }
        if n.passive {
            let _ = writeln!(t, " neighbor {a} passive");
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(t, " neighbor {a} ebgp-multihop {ttl}");
        }
        if let Some(src) = n.local_address {
            let _ = writeln!(t, " neighbor {a} update-source {src}");
        }
        if let Some((hold, keepalive)) = n.timers {
            let _ = writeln!(t, " neighbor {a} timers {keepalive} {hold}");
        }
        let _ = writeln!(t, " neighbor {a} timers connect {}", n.connect_retry.max(1));
        let _ = writeln!(t, " neighbor {a} advertisement-interval 0");
    }
    for (family, afi) in [(Family::Ipv4Unicast, "ipv4"), (Family::Ipv6Unicast, "ipv6")] {
        let _ = writeln!(t, " !\n address-family {afi} unicast");
        for (i, r) in config.routes.iter().enumerate() {
            if r.family() == family {
                let _ = writeln!(t, "  network {} route-map ocl-net-{i}", r.prefix);
            }
        }
        for n in config.neighbors.iter().filter(|n| n.has(family)) {
            let _ = writeln!(t, "  neighbor {} activate", n.address);
            // FRR always offers to receive; it sends every path or the best
            // per neighbor AS, with no maximum.
            if n.add_paths.as_ref().is_some_and(|ap| ap.send) {
                let _ = writeln!(t, "  neighbor {} addpath-tx-all-paths", n.address);
            }
        }
        let _ = writeln!(t, " exit-address-family");
    }
    let _ = writeln!(t, "exit\n!");
    for (i, r) in config.routes.iter().enumerate() {
        let _ = writeln!(t, "route-map ocl-net-{i} permit 10");
        if let Some(o) = r.origin {
            let o = match o {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            };
            let _ = writeln!(t, " set origin {o}");
        }
        if let Some(m) = r.med {
            let _ = writeln!(t, " set metric {m}");
        }
        if let Some(lp) = r.local_pref {
            let _ = writeln!(t, " set local-preference {lp}");
        }
        if !r.communities.is_empty() {
            let _ = writeln!(t, " set community {}", r.communities.join(" "));
        }
        if !r.large_communities.is_empty() {
            let _ = writeln!(t, " set large-community {}", r.large_communities.join(" "));
        }
        match r.next_hop {
            Some(IpAddr::V4(nh)) => {
                let _ = writeln!(t, " set ip next-hop {nh}");
            }
            Some(IpAddr::V6(nh)) => {
                let _ = writeln!(t, " set ipv6 next-hop global {nh}");
            }
            None => {}
        }
        let _ = writeln!(t, "exit\n!");
    }
    t
}

/// Parses `show bgp <afi> unicast <prefix> json` into one route per path.
pub fn parse_prefix_detail(doc: &Value) -> Vec<Route> {
    let Some(prefix) = doc["prefix"].as_str() else {
        return Vec::new();
    };
    let mut routes = Vec::new();
    for p in doc["paths"].as_array().into_iter().flatten() {
        let mut r = Route {
            prefix: prefix.to_string(),
            ..Route::default()
        };
        for seg in p["aspath"]["segments"].as_array().into_iter().flatten() {
            r.as_path.extend(
                seg["list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_u64())
                    .map(|a| a as u32),
            );
        }
        r.origin = p["origin"].as_str().and_then(Origin::from_name);
        r.med = p["metric"].as_u64().map(|m| m as u32);
        r.local_pref = p["locPrf"]
            .as_u64()
            .or_else(|| p["localpref"].as_u64())
            .map(|m| m as u32);
        r.communities = p["community"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(normalize_community)
            .collect();
        r.large_communities = p["largeCommunity"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(normalize_large_community)
            .collect();
        let nexthops: Vec<&Value> = p["nexthops"].as_array().into_iter().flatten().collect();
        let global = nexthops
            .iter()
            .find(|n| n["scope"].as_str() != Some("link-local"))
            .or(nexthops.first());
        r.next_hop = global
            .and_then(|n| n["ip"].as_str())
            .and_then(|a| a.parse().ok());
        r.best = p["bestpath"]["overall"].as_bool().unwrap_or(false);
        let local =
            p["local"].as_bool().unwrap_or(false) || p["sourced"].as_bool().unwrap_or(false);
        r.from = if local {
            None
        } else {
            p["peer"]["peerId"].as_str().and_then(|a| a.parse().ok())
        };
        routes.push(r);
    }
    routes
}

/// FRR's zebra with staticd and no bgpd: the routing daemon ocbgpd's
/// zebra backend talks to (ZAPI socket `DIR/zserv.api`, where
/// [`FrrZebra::socket`] says), with static routes from `staticd.conf`.
///
/// ```text
/// zebra   -f DIR/zebra.conf   -i DIR/zebra.pid   --vty_socket DIR -z DIR/zserv.api -P 0
/// staticd -f DIR/staticd.conf -i DIR/staticd.pid --vty_socket DIR -z DIR/zserv.api -P 0
/// ```
pub struct FrrZebra {
    dir: PathBuf,
    // Dropped in order: staticd first.
    staticd: Option<Process>,
    zebra: Option<Process>,
    host: Host,
}

impl FrrZebra {
    /// The folder (`<host dir>/zebra`) a zebra of `host` runs from; its
    /// socket is `zserv.api` there, known before zebra starts.
    pub fn dir_of(host: &Host) -> PathBuf {
        host.dir().join("zebra")
    }

    /// Starts zebra, then staticd with `static_routes` (lines such as
    /// `ip route 192.0.2.0/24 blackhole`), and waits (10 s at most each)
    /// until zebra's socket exists and staticd answers vtysh.
    pub fn start(host: &Host, static_routes: &[&str]) -> FrrZebra {
        let dir = FrrZebra::dir_of(host);
        std::fs::create_dir_all(&dir).expect("create zebra folder");
        let chown = Command::new("chown").arg("frr:frr").arg(&dir).status();
        assert!(
            chown.is_ok_and(|s| s.success()),
            "cannot chown {} to frr (is FRR installed?)",
            dir.display()
        );
        let head = format!("hostname {}\nlog stdout informational\n", host.name());
        std::fs::write(dir.join("zebra.conf"), &head).expect("write zebra.conf");
        let mut conf = head;
        for r in static_routes {
            let _ = writeln!(conf, "{r}");
        }
        std::fs::write(dir.join("staticd.conf"), conf).expect("write staticd.conf");
        let mut z = FrrZebra {
            dir,
            staticd: None,
            zebra: None,
            host: host.clone(),
        };
        z.start_zebra();
        let staticd = z.spawn("staticd");
        z.staticd = Some(staticd);
        if !wait_until(Duration::from_secs(10), || {
            z.try_vtysh("staticd", &["show running-config"]).is_ok()
        }) {
            z.fail("staticd did not come up");
        }
        z
    }

    fn spawn(&self, daemon: &str) -> Process {
        let d = |f: &str| self.dir.join(f).to_string_lossy().into_owned();
        let vty = self.dir.to_string_lossy().into_owned();
        self.host.spawn(
            daemon,
            &format!("{FRR_DIR}/{daemon}"),
            &[
                "-f",
                &d(&format!("{daemon}.conf")),
                "-i",
                &d(&format!("{daemon}.pid")),
                "--vty_socket",
                &vty,
                "-z",
                &d("zserv.api"),
                "-P",
                "0",
            ],
        )
    }

    fn start_zebra(&mut self) {
        let zebra = self.spawn("zebra");
        let zserv = self.socket();
        let up = wait_until(Duration::from_secs(10), || {
            (zserv.exists() && self.try_vtysh("zebra", &["show version"]).is_ok())
                || !zebra.running()
        }) && zebra.running();
        self.zebra = Some(zebra);
        if !up {
            self.fail("zebra did not come up");
        }
    }

    /// Kills zebra with SIGKILL (staticd stays) and starts it again; waits
    /// until it answers.
    pub fn restart_zebra(&mut self) {
        if let Some(z) = self.zebra.take() {
            z.kill();
        }
        let _ = std::fs::remove_file(self.socket());
        self.start_zebra();
    }

    /// zebra's ZAPI socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("zserv.api")
    }

    /// Runs vtysh against one daemon (`zebra`, `staticd`).
    pub fn try_vtysh(&self, daemon: &str, commands: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket").arg(&self.dir).args(["-d", daemon]);
        for c in commands {
            cmd.arg("-c").arg(c);
        }
        let out = cmd.output().map_err(|e| format!("cannot run vtysh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`vtysh -d {daemon} -c {}` failed ({}): {}{}",
                commands.join(" -c "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// zebra's routes for `prefix` (`show ip[v6] route PREFIX json`): one
    /// object per route (protocol, selected, installed, nexthops); empty
    /// when it has none.
    pub fn routes(&self, prefix: &str) -> Vec<Value> {
        let ip = if prefix.contains(':') { "ipv6" } else { "ip" };
        let text = self
            .try_vtysh("zebra", &[&format!("show {ip} route {prefix} json")])
            .unwrap_or_else(|e| self.fail(&e));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| self.fail(&format!("vtysh JSON: {e}: {text}")));
        doc.get(prefix)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The gateways of `prefix`'s route of `protocol` that zebra installed
    /// in the kernel (`None`: no such installed route).
    pub fn installed(&self, prefix: &str, protocol: &str) -> Option<Vec<IpAddr>> {
        self.routes(prefix)
            .iter()
            .find(|r| r["protocol"] == protocol && r["installed"].as_bool() == Some(true))
            .map(|r| {
                r["nexthops"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n["ip"].as_str()?.parse().ok())
                    .collect()
            })
    }

    /// Panics with `message` and the daemons' logs.
    pub fn fail(&self, message: &str) -> ! {
        let tail = |p: &Option<Process>| p.as_ref().map(|p| p.log_tail(40)).unwrap_or_default();
        panic!(
            "{message}\n--- zebra ---\n{}\n--- staticd ---\n{}",
            tail(&self.zebra),
            tail(&self.staticd)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefix_detail() {
        let doc: Value = serde_json::from_str(
            r#"{"prefix":"2001:db8:100::/48","paths":[{"aspath":{"string":"65001","segments":[{"type":"as-sequence","list":[65001]}],"length":1},"origin":"incomplete","metric":20,"valid":true,"bestpath":{"overall":true},"community":{"string":"65000:2 no-export","list":["65000:2","noExport"]},"largeCommunity":{"list":["65001:1:2"]},"nexthops":[{"ip":"2001:db8::1","afi":"ipv6","scope":"global"},{"ip":"fe80::1","scope":"link-local"}],"peer":{"peerId":"192.0.2.1","type":"external"}}]}"#,
        )
        .unwrap();
        let r = &parse_prefix_detail(&doc)[0];
        assert_eq!(r.as_path, vec![65001]);
        assert_eq!(r.origin, Some(Origin::Incomplete));
        assert_eq!(r.med, Some(20));
        assert_eq!(r.communities, vec!["65000:2", "65535:65281"]);
        assert_eq!(r.large_communities, vec!["65001:1:2"]);
        assert_eq!(r.next_hop, Some("2001:db8::1".parse().unwrap()));
        assert!(r.best);
        assert_eq!(r.from, Some("192.0.2.1".parse().unwrap()));
    }
}
