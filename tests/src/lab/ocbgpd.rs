//! The project's daemon in the lab: an OpenConfig JSON (RFC 7951)
//! configuration builder, `ocbgpd --check`, and `ocbgpd` started inside a
//! host's namespace.
//!
//! Node names are those of `yang/openconfig-bgp.yang` and `yang/ocbgp.yang`:
//! under `network-instances/network-instance[DEFAULT]/protocols/
//! protocol[BGP]/bgp`, `global/config` (as, router-id), `global/afi-safis`,
//! `global/ocbgp:listen/config` (address, port),
//! `global/ocbgp:originated-routes/route[prefix]/config` (prefix, next-hop,
//! origin, med, local-pref, community, large-community), and
//! `neighbors/neighbor[neighbor-address]` with `config` (peer-as,
//! description, auth-password, send-community-type: all three kinds unless
//! [`OcbgpdConfig::no_send_community`]), `transport/config` (passive-mode,
//! local-address), `ebgp-multihop/config` (enabled, multihop-ttl),
//! `timers/config` (hold-time, keepalive-interval, connect-retry) and
//! `afi-safis/afi-safi[afi-safi-name]/config` (enabled); at the top level
//! `ocbgp:management` (gnmi/netconf config address, port, enabled).
//!
//! Queries of a running ocbgpd go through gNMI Get (pygnmi, run in the
//! host's namespace) on the OpenConfig state paths: neighbor
//! `state/session-state`, and `bgp/rib` (loc-rib routes, or a neighbor's
//! adj-rib-in/out-pre/post routes, joined with attr-sets and communities).
//! They are written against the model and wait for the daemon to serve
//! state. Changes go through gNMI Set ([`Ocbgpd::try_gnmi_set`]).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::config::{BgpConfig, IntoIp};
use super::netns::Host;
use super::process::Process;
use super::route::{normalize_community, Family, Origin, Route};
use super::speaker::{BgpSpeaker, SessionState};
use crate::{bin_path, wait_until};

/// Module prefix of OpenConfig BGP identities.
const BGP_TYPES: &str = "openconfig-bgp-types";

/// ocbgpd's configuration: the common BGP part plus what only ocbgpd has.
#[derive(Clone, Debug)]
pub struct OcbgpdConfig {
    /// Speaker, neighbors, originated routes.
    pub bgp: BgpConfig,
    /// BGP listener addresses (empty: all addresses).
    pub listen: Vec<IpAddr>,
    /// BGP listener port (None: the model's default, 179).
    pub listen_port: Option<u16>,
    /// Whether the BGP listener is enabled (None: the default, true).
    pub listen_enabled: Option<bool>,
    /// gNMI server address and port (None: the model's defaults,
    /// 127.0.0.1:9339).
    pub gnmi: Option<SocketAddr>,
    /// NETCONF server address and port; None leaves the defaults.
    pub netconf: Option<SocketAddr>,
    /// Whether the NETCONF server runs (None: the default, true).
    pub netconf_enabled: Option<bool>,
    /// Extra JSON in the generated `bgp` node: (path of object keys and
    /// list indexes under `bgp`, value); see [`OcbgpdConfig::bgp_extra`].
    pub bgp_extra: Vec<(Vec<String>, Value)>,
    /// Whether every neighbor gets `send-community-type [STANDARD,
    /// EXTENDED, LARGE]` (default true). OpenConfig's default, which
    /// ocbgpd honours, is to send no communities at all; the lab's peers
    /// are expected to see them unless a test says otherwise
    /// ([`OcbgpdConfig::no_send_community`]).
    pub send_community: bool,
    /// Instance-wide graceful restart (`bgp/global/graceful-restart`);
    /// None writes nothing.
    pub graceful_restart: Option<GlobalGracefulRestart>,
}

/// ocbgpd's instance-wide graceful restart settings
/// (`bgp/global/graceful-restart/config`: `enabled` is written true,
/// the others only when set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalGracefulRestart {
    /// `restart-time` (seconds).
    pub restart_time: Option<u16>,
    /// `ocbgp:selection-deferral-time` (seconds, 1..=3600).
    pub selection_deferral_time: Option<u16>,
    /// `ocbgp:long-lived-stale-time` (seconds; 0 = no LLGR).
    pub long_lived_stale_time: Option<u32>,
}

impl OcbgpdConfig {
    /// ocbgpd's configuration for the speaker `bgp`, management on defaults.
    pub fn new(bgp: BgpConfig) -> OcbgpdConfig {
        OcbgpdConfig {
            bgp,
            listen: Vec::new(),
            listen_port: None,
            listen_enabled: None,
            gnmi: None,
            netconf: None,
            netconf_enabled: None,
            bgp_extra: Vec::new(),
            send_community: true,
            graceful_restart: None,
        }
    }

    /// Enables graceful restart instance-wide
    /// (`bgp/global/graceful-restart/config`: `enabled`, `restart-time`).
    /// Neighbors get theirs from [`crate::lab::Neighbor::graceful_restart`].
    pub fn graceful_restart(mut self, restart_time: u16) -> OcbgpdConfig {
        self.graceful_restart
            .get_or_insert_with(GlobalGracefulRestart::default)
            .restart_time = Some(restart_time);
        self
    }

    /// Sets `ocbgp:selection-deferral-time` of the instance's graceful
    /// restart (enabling it).
    pub fn selection_deferral_time(mut self, seconds: u16) -> OcbgpdConfig {
        self.graceful_restart
            .get_or_insert_with(GlobalGracefulRestart::default)
            .selection_deferral_time = Some(seconds);
        self
    }

    /// Sets `ocbgp:long-lived-stale-time` of the instance's graceful
    /// restart (enabling it).
    pub fn long_lived_stale_time(mut self, seconds: u32) -> OcbgpdConfig {
        self.graceful_restart
            .get_or_insert_with(GlobalGracefulRestart::default)
            .long_lived_stale_time = Some(seconds);
        self
    }

    /// Leaves `send-community-type` out of the neighbors' configuration:
    /// ocbgpd then sends them no communities (OpenConfig's default).
    pub fn no_send_community(mut self) -> OcbgpdConfig {
        self.send_community = false;
        self
    }

    /// Puts `value` at `path` in the generated `bgp` node, objects created
    /// on the way; a number steps into a list (neighbors are listed in the
    /// order of [`BgpConfig::neighbors`]). E.g.
    /// `["neighbors", "neighbor", "0", "ocbgp:route-server"]`.
    pub fn bgp_extra(mut self, path: &[&str], value: Value) -> OcbgpdConfig {
        self.bgp_extra
            .push((path.iter().map(|s| s.to_string()).collect(), value));
        self
    }

    /// Sets the BGP listener's addresses and port.
    pub fn listen(mut self, addresses: &[IpAddr], port: u16) -> OcbgpdConfig {
        self.listen = addresses.to_vec();
        self.listen_port = Some(port);
        self
    }

    /// Turns the BGP listener off (outgoing sessions only).
    pub fn no_listen(mut self) -> OcbgpdConfig {
        self.listen_enabled = Some(false);
        self
    }

    /// Sets the gNMI server's address and port.
    pub fn gnmi(mut self, address: impl IntoIp, port: u16) -> OcbgpdConfig {
        self.gnmi = Some(SocketAddr::new(address.into_ip(), port));
        self
    }

    /// Sets the NETCONF server's address and port.
    pub fn netconf(mut self, address: impl IntoIp, port: u16) -> OcbgpdConfig {
        self.netconf = Some(SocketAddr::new(address.into_ip(), port));
        self
    }

    /// Turns the NETCONF server off.
    pub fn no_netconf(mut self) -> OcbgpdConfig {
        self.netconf_enabled = Some(false);
        self
    }

    /// Where gNMI listens with this configuration.
    pub fn gnmi_addr(&self) -> SocketAddr {
        self.gnmi
            .unwrap_or_else(|| "127.0.0.1:9339".parse().unwrap())
    }

    /// The configuration as OpenConfig JSON (RFC 7951).
    pub fn to_json(&self) -> Value {
        let bgp = &self.bgp;
        let afi_name = |f: Family| match f {
            Family::Ipv4Unicast => format!("{BGP_TYPES}:IPV4_UNICAST"),
            Family::Ipv6Unicast => format!("{BGP_TYPES}:IPV6_UNICAST"),
        };
        let afi_list = |families: &[Family]| -> Value {
            let list: Vec<Value> = families
                .iter()
                .map(|f| json!({"afi-safi-name": afi_name(*f), "config": {"afi-safi-name": afi_name(*f), "enabled": true}}))
                .collect();
            json!({ "afi-safi": list })
        };

        let mut global_families: Vec<Family> = Vec::new();
        for f in bgp.neighbors.iter().flat_map(|n| n.families.iter()).chain(
            bgp.routes
                .iter()
                .map(|r| r.family())
                .collect::<Vec<_>>()
                .iter(),
        ) {
            if !global_families.contains(f) {
                global_families.push(*f);
            }
        }
        global_families.sort_by_key(|f| *f != Family::Ipv4Unicast);

        let mut global = Map::new();
        global.insert(
            "config".into(),
            json!({"as": bgp.asn, "router-id": bgp.router_id.to_string()}),
        );
        if !global_families.is_empty() {
            global.insert("afi-safis".into(), afi_list(&global_families));
        }
        let mut listen = Map::new();
        if let Some(enabled) = self.listen_enabled {
            listen.insert("enabled".into(), json!(enabled));
        }
        if !self.listen.is_empty() {
            listen.insert(
                "address".into(),
                json!(self
                    .listen
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()),
            );
        }
        if let Some(port) = self.listen_port {
            listen.insert("port".into(), json!(port));
        }
        if !listen.is_empty() {
            global.insert("ocbgp:listen".into(), json!({ "config": listen }));
        }
        if let Some(gr) = &self.graceful_restart {
            let mut c = Map::new();
            c.insert("enabled".into(), json!(true));
            if let Some(t) = gr.restart_time {
                c.insert("restart-time".into(), json!(t));
            }
            if let Some(t) = gr.selection_deferral_time {
                c.insert("ocbgp:selection-deferral-time".into(), json!(t));
            }
            if let Some(t) = gr.long_lived_stale_time {
                c.insert("ocbgp:long-lived-stale-time".into(), json!(t));
            }
            global.insert("graceful-restart".into(), json!({ "config": c }));
        }
        if !bgp.routes.is_empty() {
            let routes: Vec<Value> = bgp
                .routes
                .iter()
                .map(|r| {
                    let mut c = Map::new();
                    c.insert("prefix".into(), json!(r.prefix));
                    if let Some(nh) = r.next_hop {
                        c.insert("next-hop".into(), json!(nh.to_string()));
                    }
                    if let Some(o) = r.origin {
                        c.insert("origin".into(), json!(o.openconfig()));
                    }
                    if let Some(m) = r.med {
                        c.insert("med".into(), json!(m));
                    }
                    if let Some(lp) = r.local_pref {
                        c.insert("local-pref".into(), json!(lp));
                    }
                    if !r.communities.is_empty() {
                        c.insert(
                            "community".into(),
                            json!(r
                                .communities
                                .iter()
                                .map(|c| community_json(c))
                                .collect::<Vec<_>>()),
                        );
                    }
                    if !r.large_communities.is_empty() {
                        c.insert("large-community".into(), json!(r.large_communities));
                    }
                    json!({"prefix": r.prefix, "config": c})
                })
                .collect();
            global.insert("ocbgp:originated-routes".into(), json!({ "route": routes }));
        }

        let neighbors: Vec<Value> = bgp
            .neighbors
            .iter()
            .map(|n| {
                let mut config = Map::new();
                config.insert("neighbor-address".into(), json!(n.address.to_string()));
                config.insert("peer-as".into(), json!(n.peer_as));
                if let Some(d) = &n.description {
                    config.insert("description".into(), json!(d));
                }
                if let Some(p) = &n.password {
                    config.insert("auth-password".into(), json!(p));
                }
                if self.send_community {
                    config.insert(
                        "send-community-type".into(),
                        json!(["STANDARD", "EXTENDED", "LARGE"]),
                    );
                }
                let mut neighbor = Map::new();
                neighbor.insert("neighbor-address".into(), json!(n.address.to_string()));
                neighbor.insert("config".into(), Value::Object(config));
                let mut transport = Map::new();
                if n.passive {
                    transport.insert("passive-mode".into(), json!(true));
                }
                if let Some(a) = n.local_address {
                    transport.insert("local-address".into(), json!(a.to_string()));
                }
                if !transport.is_empty() {
                    neighbor.insert("transport".into(), json!({ "config": transport }));
                }
                if let Some(ttl) = n.multihop {
                    neighbor.insert(
                        "ebgp-multihop".into(),
                        json!({"config": {"enabled": true, "multihop-ttl": ttl}}),
                    );
                }
                let mut timers = Map::new();
                timers.insert("connect-retry".into(), json!(n.connect_retry));
                if let Some((hold, keepalive)) = n.timers {
                    timers.insert("hold-time".into(), json!(hold));
                    timers.insert("keepalive-interval".into(), json!(keepalive));
                }
                neighbor.insert("timers".into(), json!({ "config": timers }));
                let mut afi_safis = afi_list(&n.families);
                if let Some(gr) = &n.graceful_restart {
                    let mut c = Map::new();
                    c.insert("enabled".into(), json!(true));
                    c.insert("restart-time".into(), json!(gr.restart_time));
                    if let Some(stale) = gr.stale_routes_time {
                        c.insert("stale-routes-time".into(), json!(stale));
                    }
                    if gr.helper_only {
                        c.insert("helper-only".into(), json!(true));
                    }
                    if let Some(stale) = gr.long_lived_stale_time {
                        c.insert("ocbgp:long-lived-stale-time".into(), json!(stale));
                    }
                    neighbor.insert("graceful-restart".into(), json!({ "config": c }));
                    for afi in afi_safis["afi-safi"].as_array_mut().into_iter().flatten() {
                        afi["graceful-restart"] = json!({"config": {"enabled": true}});
                    }
                }
                if let Some(ap) = &n.add_paths {
                    let mut c = Map::new();
                    c.insert("receive".into(), json!(ap.receive));
                    c.insert("send".into(), json!(ap.send));
                    if let Some(max) = ap.send_max {
                        c.insert("send-max".into(), json!(max));
                    }
                    for afi in afi_safis["afi-safi"].as_array_mut().into_iter().flatten() {
                        afi["add-paths"] = json!({ "config": c });
                    }
                }
                neighbor.insert("afi-safis".into(), afi_safis);
                Value::Object(neighbor)
            })
            .collect();

        let mut bgp_node = Map::new();
        bgp_node.insert("global".into(), Value::Object(global));
        if !neighbors.is_empty() {
            bgp_node.insert("neighbors".into(), json!({ "neighbor": neighbors }));
        }

        let mut management = Map::new();
        if let Some(g) = self.gnmi {
            management.insert(
                "gnmi".into(),
                json!({"config": {"address": g.ip().to_string(), "port": g.port()}}),
            );
        }
        let mut netconf = Map::new();
        if let Some(n) = self.netconf {
            netconf.insert("address".into(), json!(n.ip().to_string()));
            netconf.insert("port".into(), json!(n.port()));
        }
        if let Some(enabled) = self.netconf_enabled {
            netconf.insert("enabled".into(), json!(enabled));
        }
        if !netconf.is_empty() {
            management.insert("netconf".into(), json!({ "config": netconf }));
        }

        let mut bgp_node = Value::Object(bgp_node);
        for (path, value) in &self.bgp_extra {
            let mut at = &mut bgp_node;
            for step in path {
                at = match (step.parse::<usize>(), at) {
                    (Ok(i), Value::Array(list)) => &mut list[i],
                    (_, node) => {
                        if !node.is_object() {
                            *node = json!({});
                        }
                        node.as_object_mut()
                            .expect("object")
                            .entry(step.clone())
                            .or_insert(json!({}))
                    }
                };
            }
            *at = value.clone();
        }
        let mut root = json!({
            "openconfig-network-instance:network-instances": {
                "network-instance": [{
                    "name": "DEFAULT",
                    "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
                    "protocols": {"protocol": [{
                        "identifier": "openconfig-policy-types:BGP",
                        "name": "BGP",
                        "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP", "enabled": true},
                        "bgp": bgp_node,
                    }]}
                }]
            }
        });
        if !management.is_empty() {
            root["ocbgp:management"] = Value::Object(management);
        }
        root
    }

    /// Writes the JSON (pretty) to `path`.
    pub fn write(&self, path: &Path) {
        let text = serde_json::to_string_pretty(&self.to_json()).expect("serialise config");
        std::fs::write(path, text + "\n")
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// A community as the model's union takes it: "high:low", or the
/// well-known identity for the reserved values.
fn community_json(c: &str) -> String {
    let well_known = [
        ("65535:65281", "NO_EXPORT"),
        ("65535:65282", "NO_ADVERTISE"),
        ("65535:65283", "NO_EXPORT_SUBCONFED"),
        ("65535:65284", "NOPEER"),
    ];
    let c = normalize_community(c);
    match well_known.iter().find(|(v, _)| *v == c) {
        Some((_, name)) => format!("{BGP_TYPES}:{name}"),
        None => c,
    }
}

/// Path of the access control (NACM) configuration.
pub const NACM: &str = "/ietf-netconf-acm:nacm";

/// NACM configuration making `users` administrators: group `admin` with
/// one rule permitting everything (RFC 8341's defaults deny every write
/// to a user no rule permits). Set it at [`NACM`] before the first user,
/// while the daemon takes requests without a login, or put it in a file.
pub fn administrators(users: &[&str]) -> Value {
    json!({
        "groups": {"group": [{"name": "admin", "user-name": users}]},
        "rule-list": [{"name": "admin", "group": ["admin"],
                       "rule": [{"name": "everything", "action": "permit"}]}]
    })
}

/// Starts ocbgpd in `host` on the configuration `config` (JSON: for what
/// [`OcbgpdConfig`] does not set, such as TLS), written to
/// `<host dir>/NAME.json`, with its state in `<host dir>/state`; waits
/// until gNMI at 127.0.0.1:9339 takes connections. Panics with the
/// daemon's log when it exits first.
pub fn spawn_ocbgpd_json(host: &Host, name: &str, config: &Value) -> Process {
    let file = host.dir().join(format!("{name}.json"));
    std::fs::write(&file, config.to_string()).expect("write the configuration");
    let mut cmd = host.command(bin_path("ocbgpd"));
    cmd.arg("--config")
        .arg(&file)
        .arg("--state-dir")
        .arg(host.dir().join("state"));
    let daemon = host.spawn_command("ocbgpd", cmd);
    let gnmi: SocketAddr = "127.0.0.1:9339".parse().expect("address");
    assert!(
        wait_until(Duration::from_secs(20), || !daemon.running()
            || host.tcp_reachable(gnmi)),
        "ocbgpd did not start:\n{}",
        daemon.log()
    );
    daemon.assert_running();
    daemon
}

/// Runs `ocbgpd --check FILE` here (addresses checked against this
/// host): Ok, or Err with what it printed.
pub fn check_config_file(path: &Path) -> Result<(), String> {
    run_check(path, &[])
}

/// Runs `ocbgpd --check FILE --no-host`, for a file meant for another host
/// (a lab host, a converted GoBGP configuration).
pub fn check_config_file_elsewhere(path: &Path) -> Result<(), String> {
    run_check(path, &["--no-host"])
}

fn run_check(path: &Path, extra: &[&str]) -> Result<(), String> {
    let out = Command::new(bin_path("ocbgpd"))
        .arg("--check")
        .arg(path)
        .args(extra)
        .output()
        .map_err(|e| format!("cannot run ocbgpd: {e}"))?;
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

/// Starts `ocbgpd --config FILE --state-dir DIR --log-format json` in the
/// host's namespace (output appended to `<host dir>/ocbgpd.log`).
fn spawn_ocbgpd(host: &Host, config_file: &Path, state_dir: &Path) -> Process {
    let mut cmd = host.command(bin_path("ocbgpd"));
    cmd.arg("--config")
        .arg(config_file)
        .arg("--state-dir")
        .arg(state_dir)
        .args(["--log-format", "json"]);
    host.spawn_command("ocbgpd", cmd)
}

/// ocbgpd running in a lab host.
pub struct Ocbgpd {
    host: Host,
    config: OcbgpdConfig,
    config_file: PathBuf,
    state_dir: PathBuf,
    process: Process,
    /// The gNMI user the lab's own requests log in as, once users exist.
    login: std::sync::Mutex<Option<(String, String)>>,
}

impl Ocbgpd {
    /// Makes the lab's own gNMI requests (Get, delete) log in as `user`:
    /// once a user is configured, gNMI requires a login.
    pub fn set_gnmi_login(&self, user: &str, password: &str) {
        *self.login.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((user.to_string(), password.to_string()));
    }

    fn login(&self) -> Option<(String, String)> {
        self.login.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Writes the config to `<host dir>/ocbgpd.json`, checks it with
    /// `ocbgpd --check` (panicking with the error), starts
    /// `ocbgpd --config FILE --state-dir DIR --log-format json` in the
    /// namespace and waits (20 s at most) until gNMI accepts connections.
    pub fn start(host: &Host, config: &OcbgpdConfig) -> Ocbgpd {
        let config_file = host.dir().join("ocbgpd.json");
        config.write(&config_file);
        if let Err(e) = check_config_file(&config_file) {
            panic!(
                "the lab's ocbgpd config {} is invalid: {e}",
                config_file.display()
            );
        }
        let state_dir = host.dir().join("ocbgpd-state");
        let process = spawn_ocbgpd(host, &config_file, &state_dir);
        let d = Ocbgpd {
            host: host.clone(),
            config: config.clone(),
            config_file,
            state_dir,
            process,
            login: std::sync::Mutex::new(None),
        };
        d.wait_up();
        d
    }

    /// Waits (20 s at most) until gNMI accepts connections; panics with
    /// the log if it does not or the process exits.
    fn wait_up(&self) {
        let gnmi = self.config.gnmi_addr();
        let up = wait_until(Duration::from_secs(20), || {
            !self.process.running() || self.host.tcp_reachable(gnmi)
        });
        if !up || !self.process.running() {
            self.fail(&format!(
                "ocbgpd did not come up (gNMI at {gnmi} not accepting)"
            ));
        }
    }

    /// Kills ocbgpd with SIGKILL (a crash: no NOTIFICATION, no cleanup;
    /// peers see the TCP connections reset) and reaps it. Start it again
    /// with [`Ocbgpd::start_again`].
    pub fn crash(&self) {
        self.process.kill();
    }

    /// Stops ocbgpd with SIGTERM (what `systemctl stop` or an upgrade
    /// does) and waits up to `limit` for it to exit; kills it if it does
    /// not go. Returns the exit status when it exited by itself.
    pub fn shutdown(&self, limit: Duration) -> Option<ExitStatus> {
        self.process.stop(limit)
    }

    /// Starts ocbgpd again after [`Ocbgpd::crash`] or
    /// [`Ocbgpd::shutdown`] (or its own exit): the same namespace, config
    /// file and state directory, hence the same ports, waited for as
    /// [`Ocbgpd::start`] does. Its output is appended to the same log
    /// after a line `--- lab: ocbgpd started again ---` (not JSON, so
    /// [`Ocbgpd::log_events`] skips it and still sees the old run's
    /// events). The config file is not rewritten. Panics if ocbgpd still
    /// runs.
    pub fn start_again(&mut self) {
        if self.process.running() {
            self.fail("start_again: ocbgpd is still running; crash or shut it down first");
        }
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.process.log_path())
            .expect("open ocbgpd log");
        let _ = std::io::Write::write_all(&mut log, b"--- lab: ocbgpd started again ---\n");
        self.process = spawn_ocbgpd(&self.host, &self.config_file, &self.state_dir);
        self.wait_up();
    }

    /// A pygnmi STREAM ON_CHANGE subscription (JSON_IETF) to `path`, run
    /// in the background for at most 50 s; each response is a `RESP` line
    /// of its log ([`subscriber_responses`]).
    pub fn on_change_subscriber(&self, name: &str, path: &str) -> Process {
        let gaddr = self.config().gnmi_addr();
        let script = format!(
            r#"
import json, os, threading
from pygnmi.client import gNMIclient
threading.Timer(50, lambda: os._exit(3)).start()
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5) as gc:
    sub = {{"subscription": [{{"path": {path:?}, "mode": "on_change"}}], "mode": "stream", "encoding": "json_ietf"}}
    for r in gc.subscribe2(subscribe=sub):
        print("RESP " + json.dumps(r, default=str), flush=True)
"#,
            host = gaddr.ip().to_string(),
            port = gaddr.port(),
        );
        let mut cmd = self.host().command("python3");
        cmd.args(["-u", "-c", &script]);
        self.host().spawn_command(name, cmd)
    }

    /// [`Ocbgpd::on_change_subscriber`], once it has the initial state
    /// (its `sync_response`, within `limit`).
    pub fn synced_subscriber(&self, name: &str, path: &str, limit: Duration) -> Process {
        let sub = self.on_change_subscriber(name, path);
        let synced = crate::wait_until(limit, || {
            subscriber_responses(&sub)
                .iter()
                .any(|r| r.contains("sync_response"))
        });
        if !synced {
            self.fail(&format!("{path}: no sync_response: {}", sub.log()));
        }
        sub
    }

    /// [`Ocbgpd::start_again`] with `config` written to the config file
    /// first (what an operator's edit plus a restart does).
    pub fn start_again_with(&mut self, config: &OcbgpdConfig) {
        config.write(&self.config_file);
        self.config = config.clone();
        self.start_again();
    }

    /// [`Ocbgpd::crash`] then [`Ocbgpd::start_again`]: kill -9 and start
    /// on the same state directory.
    pub fn kill_and_restart(&mut self) {
        self.crash();
        self.start_again();
    }

    /// [`Ocbgpd::shutdown`] (SIGTERM, `limit` to exit) then
    /// [`Ocbgpd::start_again`]; returns the exit status of the first run
    /// (None when it had to be killed).
    pub fn stop_and_restart(&mut self, limit: Duration) -> Option<ExitStatus> {
        let status = self.shutdown(limit);
        self.start_again();
        status
    }

    /// The log of the current run only (after the last restart marker).
    pub fn current_log(&self) -> String {
        let log = self.process.log();
        match log.rfind("--- lab: ocbgpd started again ---\n") {
            Some(i) => log[i..]
                .split_once('\n')
                .map_or("", |(_, rest)| rest)
                .to_string(),
            None => log,
        }
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &OcbgpdConfig {
        &self.config
    }

    /// The configuration file.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The daemon process.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// gNMI Get of `path` (gNMI path syntax, as pygnmi takes it) with
    /// JSON_IETF encoding, run with pygnmi in the host's namespace; returns
    /// the `val` of every update in the reply.
    pub fn try_gnmi_get(&self, path: &str) -> Result<Vec<Value>, String> {
        gnmi_get_as(
            &self.host,
            self.config.gnmi_addr(),
            path,
            self.login().as_ref(),
        )
    }
}

impl Ocbgpd {
    /// The daemon's log events (it runs with `--log-format json`: one JSON
    /// object per line, the event's fields under `fields`), in order; lines
    /// that are not JSON are skipped.
    pub fn log_events(&self) -> Vec<Value> {
        self.process
            .log()
            .lines()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect()
    }

    /// The log events whose message is `message` and whose `peer` field is
    /// `peer` (when given).
    pub fn log_events_for(&self, message: &str, peer: Option<IpAddr>) -> Vec<Value> {
        let peer = peer.map(|p| p.to_string());
        self.log_events()
            .into_iter()
            .filter(|e| e["fields"]["message"] == message)
            .filter(|e| peer.as_deref().is_none_or(|p| e["fields"]["peer"] == p))
            .collect()
    }

    /// Waits until the number of log events with `message` (about `peer`,
    /// when given) exceeds `seen`, and returns the newest; panics with the
    /// log after `timeout`. Pass the count taken before the action that
    /// should cause the event.
    pub fn wait_log_event(
        &self,
        message: &str,
        peer: Option<IpAddr>,
        seen: usize,
        timeout: Duration,
    ) -> Value {
        let mut found = None;
        let ok = wait_until(timeout, || {
            let events = self.log_events_for(message, peer);
            if events.len() > seen {
                found = events.last().cloned();
            }
            found.is_some() || !self.process.running()
        });
        match found {
            Some(e) if ok => e,
            _ => self.fail(&format!(
                "no new log event {message:?}{} within {timeout:?}",
                peer.map(|p| format!(" for peer {p}")).unwrap_or_default()
            )),
        }
    }

    /// Whether the daemon answers gNMI Get for its state (false while Get
    /// is not implemented or the state is not served).
    pub fn gnmi_get_available(&self) -> bool {
        self.try_gnmi_get(&format!("{BGP_PATH}/global/state/as"))
            .is_ok_and(|vals| !vals.is_empty())
    }

    /// gNMI Set (pygnmi, JSON_IETF, in the host's namespace) of `delete`
    /// paths, then `replace` and `update` lists of (path, JSON value), in
    /// one transaction; Err with the gRPC status (code and details) when
    /// it is refused.
    pub fn try_gnmi_set(
        &self,
        delete: &[String],
        replace: &[(String, Value)],
        update: &[(String, Value)],
    ) -> Result<(), String> {
        let enc = |l: &[(String, Value)]| {
            serde_json::to_string(&l.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>())
                .expect("json")
        };
        let g = self.config.gnmi_addr();
        let code = format!(
            r#"
import json
from pygnmi.client import gNMIclient
dele = json.loads({dele:?})
rep = [tuple(u) for u in json.loads({rep:?})]
upd = [tuple(u) for u in json.loads({upd:?})]
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5) as gc:
    try:
        gc.set(delete=dele or None, replace=rep or None, update=upd or None, encoding="json_ietf")
        print("OK")
    except Exception as e:
        err = getattr(e, "orig_exc", None)
        print("ERR", err.code().name if hasattr(err, "code") else "", err.details() if hasattr(err, "details") else e)
"#,
            dele = serde_json::to_string(delete).expect("json"),
            rep = enc(replace),
            upd = enc(update),
            host = g.ip().to_string(),
            port = g.port(),
        );
        let out = self
            .host
            .try_run("timeout", &["30", "python3", "-c", &code]);
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && stdout.ends_with("OK") {
            Ok(())
        } else {
            Err(format!(
                "gNMI Set refused: {stdout} {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Runs a python3 script (a gNMI or NETCONF client) in the daemon's
    /// namespace under `timeout SECONDS`; its standard output. Panics with
    /// the script's output and the daemon's log when it fails.
    pub fn python(&self, seconds: u32, code: &str) -> String {
        let limit = seconds.to_string();
        let out = self
            .host
            .try_run("timeout", &[&limit, "python3", "-c", code]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            self.fail(&format!(
                "python script failed ({}):\n{code}\n--- output ---\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        stdout
    }

    /// gNMI Set update of one `path` with `value`; panics with the log when
    /// refused.
    pub fn gnmi_update(&self, path: &str, value: Value) {
        if let Err(e) = self.try_gnmi_set(&[], &[], &[(path.to_string(), value)]) {
            self.fail(&format!("update of {path}: {e}"));
        }
    }

    /// The first scalar at or under `path` whose key is `leaf` (any module
    /// prefix), read by gNMI Get; None when absent.
    pub fn try_gnmi_leaf(&self, path: &str, leaf: &str) -> Result<Option<Value>, String> {
        let vals = match self.try_gnmi_get(path) {
            Ok(v) => v,
            Err(e) if e.contains("NOT_FOUND") => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(vals.iter().find_map(|v| match v {
            Value::Object(_) | Value::Array(_) => find_key(v, leaf).cloned(),
            scalar => Some(scalar.clone()),
        }))
    }

    /// One of the neighbor's Adj-RIBs for `family`, by gNMI Get of
    /// `bgp/rib/afi-safis/afi-safi/<family>/neighbors/neighbor/<table>/routes`
    /// joined with the attribute and community sets. `from` is the
    /// neighbor.
    pub fn try_adj_rib(
        &self,
        neighbor: IpAddr,
        family: Family,
        table: AdjRib,
    ) -> Result<Vec<Route>, String> {
        let (afi, container) = afi_names(family);
        let routes = list_or_empty(self.try_gnmi_get(&format!(
            "{BGP_PATH}/rib/afi-safis/afi-safi[afi-safi-name={afi}]/{container}/neighbors\
                 /neighbor[neighbor-address={neighbor}]/{}/routes",
            table.name()
        )))?;
        let attr_sets = list_or_empty(self.try_gnmi_get(&format!("{BGP_PATH}/rib/attr-sets")))?;
        let communities = list_or_empty(self.try_gnmi_get(&format!("{BGP_PATH}/rib/communities")))?;
        let mut out = join_routes(&routes, &attr_sets, &communities);
        for r in &mut out {
            r.from = Some(neighbor);
        }
        Ok(out)
    }

    /// The prefixes of [`Ocbgpd::try_adj_rib`], sorted; panics with the
    /// log when it cannot be read.
    pub fn adj_rib_prefixes(&self, neighbor: IpAddr, family: Family, table: AdjRib) -> Vec<String> {
        let mut p: Vec<String> = self
            .try_adj_rib(neighbor, family, table)
            .unwrap_or_else(|e| self.fail(&e))
            .into_iter()
            .map(|r| r.prefix)
            .collect();
        p.sort();
        p.dedup();
        p
    }

    /// gNMI Set deleting `path`, with pygnmi in the host's namespace.
    pub fn try_gnmi_delete(&self, path: &str) -> Result<(), String> {
        let g = self.config.gnmi_addr();
        let code = format!(
            r#"
from pygnmi.client import gNMIclient
with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=5{login}) as gc:
    gc.set(delete=[{path:?}])
"#,
            host = g.ip().to_string(),
            port = g.port(),
            path = path,
            login = login_args(self.login().as_ref()),
        );
        let out = self.host.try_run("python3", &["-c", &code]);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "gNMI Set delete {path} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// gNMI path of the BGP instance.
const BGP_PATH: &str =
    "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp";

/// One of a neighbor's Adj-RIBs in `bgp/rib` (openconfig-rib-bgp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjRib {
    /// `adj-rib-in-pre`: as received, before import policy.
    InPre,
    /// `adj-rib-in-post`: eligible and accepted by import policy.
    InPost,
    /// `adj-rib-out-pre`: candidates for the neighbor, before export policy.
    OutPre,
    /// `adj-rib-out-post`: as sent, after export policy.
    OutPost,
}

impl AdjRib {
    /// The container's name.
    pub fn name(self) -> &'static str {
        match self {
            AdjRib::InPre => "adj-rib-in-pre",
            AdjRib::InPost => "adj-rib-in-post",
            AdjRib::OutPre => "adj-rib-out-pre",
            AdjRib::OutPost => "adj-rib-out-post",
        }
    }
}

fn afi_names(family: Family) -> (&'static str, &'static str) {
    match family {
        Family::Ipv4Unicast => ("IPV4_UNICAST", "ipv4-unicast"),
        Family::Ipv6Unicast => ("IPV6_UNICAST", "ipv6-unicast"),
    }
}

/// A gNMI Get's values, an empty table (NotFound) as no values.
fn list_or_empty(got: Result<Vec<Value>, String>) -> Result<Vec<Value>, String> {
    match got {
        Ok(v) => Ok(v),
        Err(e) if e.contains("NOT_FOUND") || e.contains("no data at") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

impl BgpSpeaker for Ocbgpd {
    fn process(&self) -> &Process {
        &self.process
    }

    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String> {
        let path = format!(
            "{BGP_PATH}/neighbors/neighbor[neighbor-address={neighbor}]/state/session-state"
        );
        let vals = self.try_gnmi_get(&path)?;
        vals.iter()
            .find_map(|v| find_string(v, "session-state"))
            .map(|s| SessionState::from_name(&s))
            .ok_or_else(|| format!("no session-state for {neighbor} in {vals:?}"))
    }

    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String> {
        loc_rib_via(|path| self.try_gnmi_get(path), family)
    }
}

/// The values of a gNMI Get (JSON_IETF, pygnmi) of `path` from the gNMI
/// server at `addr`, run inside `host`: one per update, in order.
pub fn gnmi_get_at(host: &Host, addr: SocketAddr, path: &str) -> Result<Vec<Value>, String> {
    gnmi_get_as(host, addr, path, None)
}

/// [`gnmi_get_at`] with a user name and password (gNMI metadata), when
/// given.
pub fn gnmi_get_as(
    host: &Host,
    addr: SocketAddr,
    path: &str,
    login: Option<&(String, String)>,
) -> Result<Vec<Value>, String> {
    let code = format!(
        r#"
import json, sys
from pygnmi.client import gNMIclient
with gNMIclient(target=({ip:?}, {port}), insecure=True, timeout=5{login}) as gc:
    r = gc.get(path=[{path:?}], encoding="json_ietf")
print(json.dumps(r, default=str))
"#,
        ip = addr.ip().to_string(),
        port = addr.port(),
        login = login_args(login),
    );
    let out = host.try_run("python3", &["-c", &code]);
    if !out.status.success() {
        return Err(format!(
            "gNMI Get {path} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let reply: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("pygnmi output: {e}"))?;
    let mut vals = Vec::new();
    for n in reply["notification"].as_array().into_iter().flatten() {
        for u in n["update"].as_array().into_iter().flatten() {
            vals.push(u["val"].clone());
        }
    }
    Ok(vals)
}

/// pygnmi's keyword arguments for a login (empty without one).
fn login_args(login: Option<&(String, String)>) -> String {
    match login {
        Some((user, password)) => format!(", username={user:?}, password={password:?}"),
        None => String::new(),
    }
}

/// ocbgpd's Loc-RIB of `family`, read with `get` (a gNMI Get returning
/// update values). RIB reads stream one update per entry (route,
/// attribute set): the three lists are read and put in the tree's shape.
pub fn loc_rib_via(
    get: impl Fn(&str) -> Result<Vec<Value>, String>,
    family: Family,
) -> Result<Vec<Route>, String> {
    let (afi, container) = match family {
        Family::Ipv4Unicast => ("IPV4_UNICAST", "ipv4-unicast"),
        Family::Ipv6Unicast => ("IPV6_UNICAST", "ipv6-unicast"),
    };
    let list = |path: String| -> Result<Vec<Value>, String> {
        match get(&path) {
            Ok(v) => Ok(v),
            // An empty table is NotFound.
            Err(e) if e.contains("NOT_FOUND") || e.contains("no data at") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    };
    let routes = list(format!(
        "{BGP_PATH}/rib/afi-safis/afi-safi[afi-safi-name={afi}]/{container}/loc-rib/routes"
    ))?;
    let attr_sets = list(format!("{BGP_PATH}/rib/attr-sets"))?;
    let communities = list(format!("{BGP_PATH}/rib/communities"))?;
    let rib = serde_json::json!({
        "attr-sets": {"attr-set": attr_sets},
        "communities": {"community": communities},
        "afi-safis": {"afi-safi": [{"afi-safi-name": afi, container: {"loc-rib": {"routes": {"route": routes}}}}]},
    });
    Ok(parse_oc_rib(&rib, family))
}

/// The first value under a key named `key` (any module prefix) in a tree.
fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if k == key || k.ends_with(&format!(":{key}")) {
                    return Some(val);
                }
            }
            m.values().find_map(|val| find_key(val, key))
        }
        Value::Array(a) => a.iter().find_map(|val| find_key(val, key)),
        _ => None,
    }
}

fn find_string(v: &Value, key: &str) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    find_key(v, key)
        .and_then(|s| s.as_str())
        .map(str::to_string)
}

/// Joins an OpenConfig `bgp/rib` tree into routes of `family`.
pub fn parse_oc_rib(rib: &Value, family: Family) -> Vec<Route> {
    let list = |v: Option<&Value>, name: &str| -> Vec<Value> {
        v.and_then(|v| find_key(v, name))
            .and_then(|l| l.as_array().cloned())
            .unwrap_or_default()
    };
    let attr_sets = list(find_key(rib, "attr-sets"), "attr-set");
    let communities = list(find_key(rib, "communities"), "community");
    let (afi, container) = match family {
        Family::Ipv4Unicast => ("IPV4_UNICAST", "ipv4-unicast"),
        Family::Ipv6Unicast => ("IPV6_UNICAST", "ipv6-unicast"),
    };
    let afis = list(find_key(rib, "afi-safis"), "afi-safi");
    let Some(afi_node) = afis.iter().find(|a| {
        a["afi-safi-name"]
            .as_str()
            .is_some_and(|n| n.ends_with(afi))
    }) else {
        return Vec::new();
    };
    let routes = list(
        find_key(afi_node, container).and_then(|c| find_key(c, "loc-rib")),
        "route",
    );
    join_routes(&routes, &attr_sets, &communities)
}

/// Routes of an OpenConfig RIB table (`route` list entries) joined with
/// their attribute and community sets (`attr-set`, `community` entries).
/// `from` is the route's `origin` leaf when it is an address.
fn join_routes(routes: &[Value], attr_sets: &[Value], communities: &[Value]) -> Vec<Route> {
    let index_of = |v: &Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let by_index = |sets: &[Value], idx: Option<u64>| -> Option<Value> {
        sets.iter()
            .find(|s| idx.is_some() && index_of(&s["index"]) == idx)
            .cloned()
    };
    let mut out = Vec::new();
    for r in routes {
        let st = &r["state"];
        let mut route = Route {
            prefix: r["prefix"].as_str().unwrap_or_default().to_string(),
            best: true,
            from: r["origin"].as_str().and_then(|o| o.parse().ok()),
            stale: st["ocbgp:stale"]
                .as_bool()
                .or_else(|| st["stale"].as_bool())
                .unwrap_or(false),
            ..Route::default()
        };
        if let Some(set) = by_index(attr_sets, index_of(&st["attr-index"])) {
            let a = &set["state"];
            route.origin = a["origin"].as_str().and_then(Origin::from_name);
            route.next_hop = a["next-hop"].as_str().and_then(|n| n.parse().ok());
            route.med = index_of(&a["med"]).map(|m| m as u32);
            route.local_pref = index_of(&a["local-pref"]).map(|m| m as u32);
            for seg in set["as-path"]["as-segment"]
                .as_array()
                .into_iter()
                .flatten()
            {
                route.as_path.extend(
                    seg["state"]["member"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(index_of)
                        .map(|a| a as u32),
                );
            }
        }
        if let Some(c) = by_index(communities, index_of(&st["community-index"])) {
            route.communities = c["state"]["community"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    c.as_str().map(|s| {
                        normalize_community(
                            s.rsplit(':')
                                .next()
                                .filter(|_| s.contains("openconfig"))
                                .unwrap_or(s),
                        )
                    })
                })
                .collect();
        }
        out.push(route);
    }
    out
}

/// The responses a subscriber from [`Ocbgpd::on_change_subscriber`]
/// printed so far.
pub fn subscriber_responses(sub: &Process) -> Vec<String> {
    sub.log()
        .lines()
        .filter_map(|l| l.strip_prefix("RESP ").map(str::to_string))
        .collect()
}

/// Whether an ON_CHANGE subscriber to a table's `routes` got an update of
/// route `prefix` whose state has `leaf` = `value` (each update looked at
/// alone: a response can carry several routes).
pub fn subscriber_saw(sub: &Process, prefix: &str, leaf: &str, value: &Value) -> bool {
    let key = format!("prefix={prefix}]");
    subscriber_responses(sub).iter().any(|r| {
        let Ok(r) = serde_json::from_str::<Value>(r) else {
            return false;
        };
        r["update"]["update"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| {
                u["path"].as_str().is_some_and(|p| p.contains(&key))
                    && u["val"]["state"][leaf] == *value
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_communities_become_identities() {
        assert_eq!(community_json("65000:1"), "65000:1");
        assert_eq!(
            community_json("65535:65281"),
            "openconfig-bgp-types:NO_EXPORT"
        );
    }
}
