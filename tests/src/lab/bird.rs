//! BIRD 2 as a lab peer, queried through `birdc`.
//!
//! Started as `bird -c <dir>/bird.conf -s <dir>/bird.ctl -P <dir>/bird.pid -f`
//! inside the host's namespace (logging to stderr, which the log file
//! collects). `birdc -s <dir>/bird.ctl` works from anywhere: the control
//! socket is a file.
//!
//! How the common configuration maps:
//! - each neighbor is `protocol bgp n_<address with _>` with
//!   `connect delay time 1`, `connect retry time <connect_retry>` and
//!   `error wait time 1, 5`, so sessions come up and recover quickly;
//!   internal neighbors without multihop are made `direct` (BIRD takes
//!   iBGP as multihop with recursive next hops, and the lab has no IGP);
//! - originated routes are `blackhole` routes of `protocol static` and get
//!   their attributes in the export filter `ocl_export`. BIRD drops a MED
//!   towards eBGP peers unless it was set by the export filter (and treats a
//!   route whose static definition sets `bgp_origin` as learned), so the
//!   attributes cannot live in the static protocol. As a consequence BIRD's
//!   own table shows its originated routes without those attributes;
//! - `bgp_next_hop` set in the export filter is honoured on eBGP sessions.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::config::{community_parts, BgpConfig, Neighbor};
use super::netns::Host;
use super::process::{run_check, Process, ScratchDir};
use super::route::{normalize_community, normalize_large_community, Family, Origin, Route};
use super::speaker::{BgpSpeaker, ReceivedCounts, SessionState};
use crate::wait_until;

/// A BIRD 2 daemon running in a lab host.
pub struct Bird {
    host: Host,
    config: BgpConfig,
    socket: PathBuf,
    /// Protocol name per neighbor address.
    protocols: BTreeMap<IpAddr, String>,
    process: Process,
}

/// BIRD's protocol name for a neighbor.
pub fn protocol_name(neighbor: IpAddr) -> String {
    let mut name = String::from("n_");
    name.extend(
        neighbor
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    name
}

impl Bird {
    /// Starts bird with `config` and waits (10 s at most) until `birdc`
    /// answers.
    pub fn start(host: &Host, config: &BgpConfig) -> Bird {
        Bird::start_with(host, config, "")
    }

    /// Like [`Bird::start`], appending `extra` to the generated bird.conf.
    pub fn start_with(host: &Host, config: &BgpConfig, extra: &str) -> Bird {
        let dir = host.dir().join("bird");
        std::fs::create_dir_all(&dir).expect("create bird folder");
        let conf = dir.join("bird.conf");
        let mut text = bird_conf(config);
        text.push_str(extra);
        std::fs::write(&conf, text).expect("write bird.conf");
        let socket = dir.join("bird.ctl");
        let process = spawn_bird(host, &dir, false);
        let protocols = config
            .neighbors
            .iter()
            .map(|n| (n.address, protocol_name(n.address)))
            .collect();
        let bird = Bird {
            host: host.clone(),
            config: config.clone(),
            socket,
            protocols,
            process,
        };
        bird.wait_up();
        bird
    }

    fn wait_up(&self) {
        let up = wait_until(Duration::from_secs(10), || {
            !self.process.running() || self.try_birdc("show status").is_ok()
        });
        if !up || !self.process.running() {
            self.fail("bird did not come up (birdc not answering)");
        }
    }

    /// Kills bird with SIGKILL and reaps it (no NOTIFICATION: peers with
    /// graceful restart keep its routes). Start it again with
    /// [`Bird::start_again`].
    pub fn crash(&self) {
        self.process.kill();
    }

    /// `birdc graceful restart` (BIRD 2.0.11 and later): BIRD closes its
    /// sessions without NOTIFICATION, so graceful restart peers keep its
    /// routes, and exits; waits up to `limit` for the exit (then kills it).
    pub fn graceful_shutdown(&self, limit: Duration) {
        let _ = self.try_birdc("graceful restart");
        if !wait_until(limit, || !self.process.running()) {
            self.process.kill();
        }
    }

    /// Starts bird again with the same bird.conf, socket and log (appended)
    /// after [`Bird::crash`] or [`Bird::graceful_shutdown`]; `recovering`
    /// adds `-R` (graceful restart recovery: the R bit in its OPENs, route
    /// selection deferred until its peers' End-of-RIB). Waits until birdc
    /// answers. Panics if bird still runs.
    pub fn start_again(&mut self, recovering: bool) {
        if self.process.running() {
            self.fail("start_again: bird is still running; crash or shut it down first");
        }
        super::gobgp::append_marker(&self.process, "bird started again");
        let dir = self.socket.parent().expect("bird folder").to_path_buf();
        self.process = spawn_bird(&self.host, &dir, recovering);
        self.wait_up();
    }

    /// [`Bird::graceful_shutdown`] then [`Bird::start_again`] with `-R`:
    /// BIRD's own graceful restart.
    pub fn graceful_restart(&mut self) {
        self.graceful_shutdown(Duration::from_secs(10));
        self.start_again(true);
    }

    /// Route change statistics of the session with `neighbor`, summed over
    /// its channels (`birdc show protocols all NAME`, "Route change stats",
    /// column "received" of "Import updates" and "Import withdraws").
    /// BIRD resets them when the session comes up again.
    pub fn try_received_counts(&self, neighbor: IpAddr) -> Result<ReceivedCounts, String> {
        let proto = self
            .protocols
            .get(&neighbor)
            .ok_or_else(|| format!("bird has no neighbor {neighbor}"))?;
        let text = self.try_birdc(&format!("show protocols all {proto}"))?;
        Ok(parse_route_change_stats(&text))
    }

    /// Graceful restart with `neighbor` as `birdc show protocols all NAME`
    /// shows it.
    pub fn try_graceful_restart_status(
        &self,
        neighbor: IpAddr,
    ) -> Result<BirdGracefulRestart, String> {
        let proto = self
            .protocols
            .get(&neighbor)
            .ok_or_else(|| format!("bird has no neighbor {neighbor}"))?;
        let text = self.try_birdc(&format!("show protocols all {proto}"))?;
        Ok(parse_graceful_restart_status(&text))
    }

    /// [`Bird::try_graceful_restart_status`], panicking on failure.
    pub fn graceful_restart_status(&self, neighbor: IpAddr) -> BirdGracefulRestart {
        self.try_graceful_restart_status(neighbor)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// [`Bird::try_received_counts`], panicking on failure.
    pub fn received_counts(&self, neighbor: IpAddr) -> ReceivedCounts {
        self.try_received_counts(neighbor)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// Checks the bird.conf generated for `config` (plus `extra`) with
    /// `bird -p`, without starting anything.
    pub fn check(config: &BgpConfig, extra: &str) -> Result<(), String> {
        let dir = ScratchDir::new("bird");
        let file = dir.0.join("bird.conf");
        std::fs::write(&file, bird_conf(config) + extra).expect("write bird.conf");
        let mut cmd = Command::new("bird");
        cmd.arg("-p").arg("-c").arg(&file);
        run_check(cmd)
            .map(drop)
            .map_err(|e| format!("bird rejects its config: {e}"))
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

    /// Path of the control socket, for `birdc -s`.
    pub fn socket(&self) -> &PathBuf {
        &self.socket
    }

    /// Runs one birdc command; Err on failure or when BIRD answers with an
    /// error (lines starting with `syntax error` or code 8xxx/9xxx).
    pub fn try_birdc(&self, command: &str) -> Result<String, String> {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(&self.socket)
            .args(command.split_whitespace())
            .output()
            .map_err(|e| format!("cannot run birdc: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success()
            || text.contains("Unable to connect")
            || text.lines().any(|l| l.starts_with("syntax error"))
        {
            return Err(format!(
                "`birdc {command}` failed ({}): {}{}",
                out.status,
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(text)
    }

    /// Runs one birdc command; panics with BIRD's log on failure.
    pub fn birdc(&self, command: &str) -> String {
        self.try_birdc(command).unwrap_or_else(|e| self.fail(&e))
    }
}

impl BgpSpeaker for Bird {
    fn process(&self) -> &Process {
        &self.process
    }

    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String> {
        let proto = self
            .protocols
            .get(&neighbor)
            .ok_or_else(|| format!("bird has no neighbor {neighbor}"))?;
        let text = self.try_birdc(&format!("show protocols {proto}"))?;
        // Name Proto Table State Since Info: "n_192_0_2_1 BGP --- up 17:01:07.718 Established"
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.first() == Some(&proto.as_str()) {
                return Ok(fields
                    .get(5)
                    .map_or(SessionState::Idle, |s| SessionState::from_name(s)));
            }
        }
        Err(format!("birdc show protocols has no {proto}: {text}"))
    }

    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String> {
        let table = match family {
            Family::Ipv4Unicast => "master4",
            Family::Ipv6Unicast => "master6",
        };
        let text = self.try_birdc(&format!("show route all table {table}"))?;
        let by_proto: BTreeMap<&str, IpAddr> = self
            .protocols
            .iter()
            .map(|(a, p)| (p.as_str(), *a))
            .collect();
        Ok(parse_show_route(&text, &|p| by_proto.get(p).copied()))
    }
}

/// Starts `bird -c DIR/bird.conf -s DIR/bird.ctl -P DIR/bird.pid -f`
/// (and `-R` when `recovering`) in `host`.
fn spawn_bird(host: &Host, dir: &std::path::Path, recovering: bool) -> Process {
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (conf, socket, pid) = (d("bird.conf"), d("bird.ctl"), d("bird.pid"));
    let mut args = vec!["-c", &conf, "-s", &socket, "-P", &pid, "-f"];
    if recovering {
        args.push("-R");
    }
    host.spawn("bird", "bird", &args)
}

/// Graceful restart with one neighbor, as BIRD shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BirdGracefulRestart {
    /// BIRD keeps the neighbor's routes over its restart now ("Neighbor
    /// graceful restart active"): the session is down or back but its
    /// End-of-RIB has not come yet.
    pub helping: bool,
    /// The neighbor's last OPEN had the graceful restart capability.
    pub peer_graceful_restart: bool,
    /// ... with the Restart State (R) bit ("Restart recovery").
    pub peer_restarting: bool,
    /// The neighbor's last OPEN had the long-lived graceful restart
    /// capability.
    pub peer_long_lived: bool,
}

/// Reads [`BirdGracefulRestart`] from `birdc show protocols all NAME`.
pub fn parse_graceful_restart_status(text: &str) -> BirdGracefulRestart {
    let mut st = BirdGracefulRestart::default();
    let mut in_neighbor_caps = false;
    for line in text.lines() {
        let l = line.trim();
        if l == "Neighbor graceful restart active" {
            st.helping = true;
        }
        if l == "Neighbor capabilities" {
            in_neighbor_caps = true;
            continue;
        }
        if in_neighbor_caps {
            // The capability list is indented deeper than its heading.
            if !line.starts_with("      ") {
                in_neighbor_caps = false;
                continue;
            }
            match l {
                "Graceful restart" => st.peer_graceful_restart = true,
                "Restart recovery" => st.peer_restarting = true,
                "Long-lived graceful restart" => st.peer_long_lived = true,
                _ => {}
            }
        }
    }
    st
}

/// Sums the "received" column of "Import updates" and "Import withdraws"
/// over the channels of `birdc show protocols all NAME` output.
pub fn parse_route_change_stats(text: &str) -> ReceivedCounts {
    let mut counts = ReceivedCounts::default();
    for line in text.lines() {
        let line = line.trim();
        let (field, rest) = if let Some(rest) = line.strip_prefix("Import updates:") {
            (&mut counts.updates, rest)
        } else if let Some(rest) = line.strip_prefix("Import withdraws:") {
            (&mut counts.withdraws, rest)
        } else {
            continue;
        };
        *field += rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    counts
}

/// bird.conf for a config.
pub fn bird_conf(config: &BgpConfig) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "log stderr all;\nrouter id {};\nprotocol device {{}}",
        config.router_id
    );
    for (family, channel, name) in [
        (Family::Ipv4Unicast, "ipv4", "ocl_static4"),
        (Family::Ipv6Unicast, "ipv6", "ocl_static6"),
    ] {
        let routes: Vec<_> = config
            .routes
            .iter()
            .filter(|r| r.family() == family)
            .collect();
        if routes.is_empty() {
            continue;
        }
        let _ = writeln!(t, "protocol static {name} {{\n  {channel};");
        for r in routes {
            let _ = writeln!(t, "  route {} blackhole;", r.prefix);
        }
        let _ = writeln!(t, "}}");
    }
    let _ = writeln!(t, "filter ocl_export {{");
    for r in &config.routes {
        let mut sets = String::new();
        if let Some(o) = r.origin {
            let o = match o {
                Origin::Igp => "ORIGIN_IGP",
                Origin::Egp => "ORIGIN_EGP",
                Origin::Incomplete => "ORIGIN_INCOMPLETE",
            };
            let _ = write!(sets, " bgp_origin = {o};");
        }
        if let Some(nh) = r.next_hop {
            let _ = write!(sets, " bgp_next_hop = {nh};");
        }
        if let Some(m) = r.med {
            let _ = write!(sets, " bgp_med = {m};");
        }
        if let Some(lp) = r.local_pref {
            let _ = write!(sets, " bgp_local_pref = {lp};");
        }
        for c in &r.communities {
            let (hi, lo) = community_parts(c);
            let _ = write!(sets, " bgp_community.add(({hi},{lo}));");
        }
        for c in &r.large_communities {
            let _ = write!(sets, " bgp_large_community.add(({}));", c.replace(':', ","));
        }
        if !sets.is_empty() {
            let _ = writeln!(t, "  if net = {} then {{{sets} }}", r.prefix);
        }
    }
    let _ = writeln!(t, "  accept;\n}}");
    for n in &config.neighbors {
        t.push_str(&bird_protocol(config, n));
    }
    t
}

fn bird_protocol(config: &BgpConfig, n: &Neighbor) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "protocol bgp {} {{", protocol_name(n.address));
    if let Some(d) = &n.description {
        let _ = writeln!(t, "  description {};", serde_json::to_string(d).unwrap());
    }
    match n.local_address {
        Some(a) => {
            let _ = writeln!(t, "  local {a} as {};", config.asn);
        }
        None => {
            let _ = writeln!(t, "  local as {};", config.asn);
        }
    }
    let _ = writeln!(t, "  neighbor {} as {};", n.address, n.peer_as);
    if n.passive {
        let _ = writeln!(t, "  passive on;");
    }
    if let Some(p) = &n.password {
        let _ = writeln!(t, "  password {};", serde_json::to_string(p).unwrap());
    }
    if let Some(ttl) = n.multihop {
        let _ = writeln!(t, "  multihop {ttl};");
    }
    if let Some((hold, keepalive)) = n.timers {
        let _ = writeln!(t, "  hold time {hold};\n  keepalive time {keepalive};");
    }
    let _ = writeln!(
        t,
        "  connect delay time 1;\n  connect retry time {};\n  error wait time 1, 5;",
        n.connect_retry.max(1)
    );
    if let Some(gr) = &n.graceful_restart {
        let mode = if gr.helper_only { "aware" } else { "on" };
        let _ = writeln!(
            t,
            "  graceful restart {mode};\n  graceful restart time {};",
            gr.restart_time
        );
        if let Some(stale) = gr.long_lived_stale_time {
            let _ = writeln!(
                t,
                "  long lived graceful restart {mode};\n  long lived stale time {stale};"
            );
        }
    }
    // BIRD treats internal sessions as multihop, resolving next hops
    // recursively through an IGP the lab does not have: make them direct.
    if config.is_ibgp(n) && n.multihop.is_none() {
        let _ = writeln!(t, "  direct;");
    }
    // BIRD sends every path or the best only: no per-neighbor maximum.
    let add_paths = match &n.add_paths {
        None => "",
        Some(ap) => match (ap.receive, ap.send) {
            (true, true) => " add paths on;",
            (true, false) => " add paths rx;",
            (false, true) => " add paths tx;",
            (false, false) => "",
        },
    };
    for f in &n.families {
        let channel = match f {
            Family::Ipv4Unicast => "ipv4",
            Family::Ipv6Unicast => "ipv6",
        };
        let _ = writeln!(
            t,
            "  {channel} {{ import all; export filter ocl_export;{add_paths} }};"
        );
    }
    let _ = writeln!(t, "}}");
    t
}

/// Parses `birdc show route all` output. `neighbor_of` maps a protocol name
/// to the neighbor address (None for static and other local protocols).
pub fn parse_show_route(text: &str, neighbor_of: &dyn Fn(&str) -> Option<IpAddr>) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    let mut prefix = String::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("BIRD ") || line.starts_with("Table ") {
            continue;
        }
        if let Some(attr) = line.strip_prefix('\t') {
            let Some(r) = routes.last_mut() else { continue };
            let (key, value) = attr.split_once(':').unwrap_or((attr, ""));
            let value = value.trim();
            match key.trim() {
                "BGP.origin" => r.origin = Origin::from_name(value),
                "BGP.as_path" => {
                    r.as_path = value
                        .split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ',')
                        .filter_map(|a| a.parse().ok())
                        .collect()
                }
                "BGP.next_hop" => {
                    r.next_hop = value.split_whitespace().next().and_then(|a| a.parse().ok())
                }
                "BGP.med" => r.med = value.parse().ok(),
                "BGP.local_pref" => r.local_pref = value.parse().ok(),
                "BGP.community" => {
                    r.communities = split_tuples(value)
                        .iter()
                        .map(|c| normalize_community(c))
                        .collect()
                }
                "BGP.large_community" => {
                    r.large_communities = split_tuples(value)
                        .iter()
                        .map(|c| normalize_large_community(c))
                        .collect()
                }
                _ => {}
            }
            continue;
        }
        // A route line: "<prefix>  <type> [<proto> <since> (from <addr>)] * (pref) …",
        // or the same without the prefix for a further path to it.
        if !line.starts_with(char::is_whitespace) {
            prefix = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        let Some(open) = line.find('[') else { continue };
        let inside = &line[open + 1..line[open..].find(']').map_or(line.len(), |c| open + c)];
        let proto = inside.split_whitespace().next().unwrap_or_default();
        let after = &line[open..];
        let rest = after.split_once(']').map_or("", |(_, r)| r);
        let best = rest.trim_start().starts_with('*');
        // "* (100s) [AS65001i]": the preference, `s` when LLGR-stale.
        let stale = rest
            .split_once('(')
            .and_then(|(_, p)| p.split_once(')'))
            .is_some_and(|(pref, _)| pref.ends_with('s'));
        routes.push(Route {
            prefix: prefix.clone(),
            best,
            stale,
            from: neighbor_of(proto),
            ..Route::default()
        });
    }
    routes
}

/// "(65000,1) (65535,65281)" → ["(65000,1)", "(65535,65281)"].
fn split_tuples(value: &str) -> Vec<String> {
    value
        .split(')')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| format!("{s})"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_show_route_all() {
        let text = "BIRD 2.0.12 ready.\nTable master4:\n198.51.100.0/24      unicast [n_192_0_2_1 17:01:12.130] * (100) [AS65001?]\n\tvia 192.0.2.1 on eth0\n\tType: BGP univ\n\tBGP.origin: Incomplete\n\tBGP.as_path: 65001 {65010 65011}\n\tBGP.next_hop: 192.0.2.1\n\tBGP.med: 10\n\tBGP.local_pref: 100\n\tBGP.community: (65000,1) (65535,65281)\n\tBGP.large_community: (65002, 3, 4)\n                     unicast [n_192_0_2_3 17:01:12.130] (100) [AS65003i]\n\tBGP.origin: IGP\n203.0.113.0/24       blackhole [ocl_static4 17:01:06.857] * (200)\n\tType: static univ\n";
        let n1: IpAddr = "192.0.2.1".parse().unwrap();
        let routes = parse_show_route(text, &|p| (p == "n_192_0_2_1").then_some(n1));
        assert_eq!(routes.len(), 3);
        let r = &routes[0];
        assert_eq!(r.prefix, "198.51.100.0/24");
        assert!(r.best);
        assert_eq!(r.from, Some(n1));
        assert_eq!(r.as_path, vec![65001, 65010, 65011]);
        assert_eq!(r.origin, Some(Origin::Incomplete));
        assert_eq!(r.next_hop, Some(n1));
        assert_eq!((r.med, r.local_pref), (Some(10), Some(100)));
        assert_eq!(r.communities, vec!["65000:1", "65535:65281"]);
        assert_eq!(r.large_communities, vec!["65002:3:4"]);
        assert_eq!(routes[1].prefix, "198.51.100.0/24");
        assert!(!routes[1].best);
        assert_eq!(routes[1].origin, Some(Origin::Igp));
        assert_eq!(routes[2].prefix, "203.0.113.0/24");
        assert_eq!(routes[2].from, None);
    }
}
