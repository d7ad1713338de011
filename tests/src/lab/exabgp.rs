//! ExaBGP 4.2 as a lab peer: the tool for sending crafted UPDATEs.
//!
//! Started as `exabgp <host dir>/exabgp/exabgp.conf` inside the host's
//! namespace, with the environment `exabgp.daemon.user=root`,
//! `exabgp.daemon.drop=false`, `exabgp.api.cli=false` (no named pipes) and
//! `exabgp.log.destination=stdout`.
//!
//! The configuration has one API process, a shell script that appends what
//! ExaBGP reports (JSON: neighbor state changes and parsed received
//! UPDATEs) to `events.jsonl` and feeds ExaBGP the lines appended to
//! `commands` (`tail -F`). So a test can, while it runs:
//! - announce or withdraw: [`Exabgp::command`] with
//!   `announce route 203.0.113.0/24 next-hop 192.0.2.3 med 5`, or
//!   `withdraw route …`;
//! - send attributes ExaBGP does not know, or malformed ones, as raw
//!   bytes: `attribute [ <type code> <flags> <value as hex> ]` on a route,
//!   e.g. `announce route 203.0.113.32/27 next-hop self attribute [0x63 0xc0 0x01020304]`
//!   (an optional transitive attribute 99 with value 01020304), either in
//!   [`ExabgpOptions::static_lines`] or through [`Exabgp::command`];
//! - see what the peer sent: [`BgpSpeaker::routes`] replays the received
//!   announcements and withdrawals.
//!
//! Messages that are malformed beyond one attribute (bad lengths, bad
//! markers, broken NLRI) are out of ExaBGP's reach; send them from a raw TCP
//! socket in the peer's namespace (`Host::command("python3")`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use super::config::BgpConfig;
use super::netns::Host;
use super::process::{run_check, Process, ScratchDir};
use super::route::{community_string, normalize_large_community, Family, Origin, Route};
use super::speaker::{BgpSpeaker, SessionState};

/// Extras for ExaBGP's configuration.
#[derive(Clone, Debug, Default)]
pub struct ExabgpOptions {
    /// Lines added to every neighbor's `static { }` block, e.g.
    /// `route 203.0.113.32/27 next-hop 192.0.2.3 attribute [0x63 0xc0 0x01020304];`.
    pub static_lines: Vec<String>,
}

/// An ExaBGP running in a lab host.
pub struct Exabgp {
    host: Host,
    config: BgpConfig,
    events: PathBuf,
    commands: PathBuf,
    process: Process,
}

impl Exabgp {
    /// Starts ExaBGP with `config` (routes become `static` routes).
    pub fn start(host: &Host, config: &BgpConfig) -> Exabgp {
        Exabgp::start_with(host, config, &ExabgpOptions::default())
    }

    /// Starts ExaBGP with `config` and extras.
    pub fn start_with(host: &Host, config: &BgpConfig, options: &ExabgpOptions) -> Exabgp {
        let dir = host.dir().join("exabgp");
        std::fs::create_dir_all(&dir).expect("create exabgp folder");
        let events = dir.join("events.jsonl");
        let commands = dir.join("commands");
        std::fs::write(&commands, "").expect("create commands file");
        let script = dir.join("api.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ntail -n +1 -F '{}' &\nexec cat >> '{}'\n",
                commands.display(),
                events.display()
            ),
        )
        .expect("write api.sh");
        let chmod = std::process::Command::new("chmod")
            .arg("+x")
            .arg(&script)
            .status();
        assert!(chmod.is_ok_and(|s| s.success()), "chmod api.sh");
        let conf = dir.join("exabgp.conf");
        std::fs::write(
            &conf,
            exabgp_conf(host, config, options, &script.to_string_lossy()),
        )
        .expect("write exabgp.conf");
        let mut cmd = host.command("env");
        cmd.args([
            "exabgp.daemon.user=root",
            "exabgp.daemon.drop=false",
            "exabgp.api.cli=false",
            "exabgp.log.destination=stdout",
            "exabgp",
        ])
        .arg(&conf);
        let process = host.spawn_command("exabgp", cmd);
        Exabgp {
            host: host.clone(),
            config: config.clone(),
            events,
            commands,
            process,
        }
    }

    /// Checks the exabgp.conf generated for `config` on `host` with
    /// `exabgp --validate`, without starting anything.
    pub fn check(host: &Host, config: &BgpConfig, options: &ExabgpOptions) -> Result<(), String> {
        let dir = ScratchDir::new("exabgp");
        let file = dir.0.join("exabgp.conf");
        std::fs::write(&file, exabgp_conf(host, config, options, "/bin/cat"))
            .expect("write exabgp.conf");
        let mut cmd = std::process::Command::new("env");
        cmd.args([
            "exabgp.daemon.user=root",
            "exabgp.api.cli=false",
            "exabgp",
            "--validate",
        ])
        .arg(&file);
        run_check(cmd).map(drop).map_err(|e| {
            format!(
                "exabgp rejects its config: {}",
                super::process::tail(&e, 30)
            )
        })
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &BgpConfig {
        &self.config
    }

    /// The ExaBGP process.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// Sends an API command ("announce route …", "withdraw route …",
    /// "neighbor 192.0.2.1 announce route …").
    pub fn command(&self, line: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.commands)
            .expect("open commands");
        writeln!(f, "{line}").expect("write command");
    }

    /// Every JSON event ExaBGP reported so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl BgpSpeaker for Exabgp {
    fn process(&self) -> &Process {
        &self.process
    }

    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String> {
        if self.config.find_neighbor(neighbor).is_none() {
            return Err(format!("exabgp has no neighbor {neighbor}"));
        }
        let mut state = SessionState::Idle;
        for e in self.events() {
            if e["type"] == "state" && peer_of(&e) == Some(neighbor) {
                state = match e["neighbor"]["state"].as_str() {
                    Some("up") => SessionState::Established,
                    Some("connected") => SessionState::OpenSent,
                    _ => SessionState::Idle,
                };
            }
        }
        Ok(state)
    }

    /// Routes received (not the ones ExaBGP announces), replayed from the
    /// UPDATE events; a session going down drops that neighbor's routes.
    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String> {
        let key = match family {
            Family::Ipv4Unicast => "ipv4 unicast",
            Family::Ipv6Unicast => "ipv6 unicast",
        };
        let mut table: BTreeMap<(String, IpAddr), Route> = BTreeMap::new();
        for e in self.events() {
            let Some(peer) = peer_of(&e) else { continue };
            if e["type"] == "state" && e["neighbor"]["state"] == "down" {
                table.retain(|(_, from), _| *from != peer);
                continue;
            }
            if e["type"] != "update" {
                continue;
            }
            let update = &e["neighbor"]["message"]["update"];
            for w in update["withdraw"][key].as_array().into_iter().flatten() {
                if let Some(p) = w["nlri"].as_str() {
                    table.remove(&(p.to_string(), peer));
                }
            }
            let attrs = &update["attribute"];
            for (nh, nlris) in update["announce"][key].as_object().into_iter().flatten() {
                for n in nlris.as_array().into_iter().flatten() {
                    let Some(p) = n["nlri"].as_str() else {
                        continue;
                    };
                    let mut r = route_from_attributes(p, attrs);
                    r.next_hop = nh.parse().ok();
                    r.from = Some(peer);
                    table.insert((p.to_string(), peer), r);
                }
            }
        }
        Ok(table.into_values().collect())
    }
}

fn peer_of(event: &Value) -> Option<IpAddr> {
    event["neighbor"]["address"]["peer"]
        .as_str()
        .and_then(|a| a.parse().ok())
}

fn route_from_attributes(prefix: &str, a: &Value) -> Route {
    let num = |v: &Value| v.as_u64().map(|n| n as u32);
    Route {
        prefix: prefix.to_string(),
        origin: a["origin"].as_str().and_then(Origin::from_name),
        as_path: a["as-path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(num)
            .collect(),
        med: num(&a["med"]),
        local_pref: num(&a["local-preference"]),
        communities: a["community"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some(community_string((num(&c[0])? << 16) | num(&c[1])?)))
            .collect(),
        large_communities: a["large-community"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| normalize_large_community(&format!("{}:{}:{}", c[0], c[1], c[2])))
            .collect(),
        best: true,
        ..Route::default()
    }
}

/// exabgp.conf for a config; `api_script` is the API process.
fn exabgp_conf(
    host: &Host,
    config: &BgpConfig,
    options: &ExabgpOptions,
    api_script: &str,
) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "process ocl {{\n  run {api_script};\n  encoder json;\n}}"
    );
    for n in &config.neighbors {
        let local = n.local_address.unwrap_or(match n.address {
            IpAddr::V4(_) => host.ipv4(),
            IpAddr::V6(_) => host.ipv6(),
        });
        let _ = writeln!(t, "neighbor {} {{", n.address);
        let _ = writeln!(
            t,
            "  router-id {};\n  local-address {local};",
            config.router_id
        );
        let _ = writeln!(t, "  local-as {};\n  peer-as {};", config.asn, n.peer_as);
        if let Some(d) = &n.description {
            let _ = writeln!(t, "  description {};", serde_json::to_string(d).unwrap());
        }
        if let Some((hold, _)) = n.timers {
            let _ = writeln!(t, "  hold-time {hold};");
        }
        if n.passive {
            let _ = writeln!(t, "  passive true;");
        }
        if let Some(p) = &n.password {
            let _ = writeln!(t, "  md5-password {};", serde_json::to_string(p).unwrap());
        }
        if let Some(ttl) = n.multihop {
            let _ = writeln!(t, "  outgoing-ttl {ttl};");
        }
        let _ = write!(t, "  family {{");
        for f in &n.families {
            t.push_str(match f {
                Family::Ipv4Unicast => " ipv4 unicast;",
                Family::Ipv6Unicast => " ipv6 unicast;",
            });
        }
        let _ = writeln!(t, " }}");
        let _ = writeln!(t, "  api {{\n    processes [ ocl ];\n    neighbor-changes;\n    receive {{ parsed; update; }}\n  }}");
        let _ = writeln!(t, "  static {{");
        for r in config.routes.iter().filter(|r| n.has(r.family())) {
            let mut line = format!("    route {} next-hop ", r.prefix);
            match r.next_hop {
                Some(nh) => line.push_str(&nh.to_string()),
                None => line.push_str("self"),
            }
            if let Some(o) = r.origin {
                let _ = write!(line, " origin {}", o.openconfig().to_ascii_lowercase());
            }
            if let Some(m) = r.med {
                let _ = write!(line, " med {m}");
            }
            if let Some(lp) = r.local_pref {
                let _ = write!(line, " local-preference {lp}");
            }
            if !r.communities.is_empty() {
                let _ = write!(line, " community [{}]", r.communities.join(" "));
            }
            if !r.large_communities.is_empty() {
                let _ = write!(line, " large-community [{}]", r.large_communities.join(" "));
            }
            let _ = writeln!(t, "{line};");
        }
        for l in &options.static_lines {
            let _ = writeln!(t, "    {l}");
        }
        let _ = writeln!(t, "  }}\n}}");
    }
    t
}
