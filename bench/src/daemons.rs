//! The daemons under test: where each one's binary is, the configuration
//! it gets for the benchmark and its command line.
//!
//! Every daemon gets the same eBGP topology ([`Topology`]): AS 65000 at
//! 192.0.2.1, the injector as a neighbor in AS 65001, and each sink as a
//! neighbor in AS 65100 + i. It accepts everything and re-advertises
//! everything to every sink, with its own address as next hop (the eBGP
//! default). Management interfaces are bound inside the daemon's own
//! namespace or switched off.
//!
//! Special settings, and why:
//! - BIRD needs `protocol device` to see 192.0.2.0/24 as directly
//!   connected, or it finds the injector's next hop unreachable.
//! - FRR's bgpd runs alone, without zebra (`-Z`): `no bgp
//!   ebgp-requires-policy` (eBGP routes are otherwise neither accepted nor
//!   sent without a policy), `no bgp network import-check`, and
//!   `disable-connected-check` on each neighbor, because without zebra
//!   bgpd knows no connected networks. Its log is limited to critical
//!   messages: without zebra it logs an error for every prefix
//!   ("sendmsg_nexthop: zclient_send_message() failed"), which cost about
//!   5 of 14 seconds with a million prefixes and one sink.
//! - gobgpd's gRPC API listens on the namespace's loopback, pprof is off.
//! - ocbgpd (OpenConfig JSON) needs `default-import-policy` and
//!   `default-export-policy` set to ACCEPT_ROUTE: OpenConfig's default is
//!   to reject.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::netns::{injector_addr, sink_addr, DAEMON_ADDR};

/// The daemon's AS.
pub const DAEMON_AS: u32 = 65000;
/// The (first) injector's AS; injector i is in this plus i.
pub const INJECTOR_AS: u32 = 65001;
/// The first sink's AS; sink i is in this plus i.
pub const FIRST_SINK_AS: u32 = 65100;

/// A daemon the benchmark can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Daemon {
    /// ocbgpd, this project's daemon.
    Ocbgpd,
    /// GoBGP's gobgpd.
    Gobgpd,
    /// BIRD 2.
    Bird,
    /// FRR's bgpd, without zebra.
    Frr,
}

/// Who peers with whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The daemon's address, also its router id.
    pub daemon: Ipv4Addr,
    /// Every injector's address and AS, the first one's first.
    pub injectors: Vec<(Ipv4Addr, u32)>,
    /// The sinks' addresses and AS numbers.
    pub sinks: Vec<(Ipv4Addr, u32)>,
}

impl Topology {
    /// The benchmark's topology with `injectors` injectors and `sinks`
    /// sinks.
    pub fn with_injectors(injectors: usize, sinks: usize) -> Self {
        Topology {
            daemon: DAEMON_ADDR,
            injectors: (0..injectors.max(1))
                .map(|i| (injector_addr(i), INJECTOR_AS + i as u32))
                .collect(),
            sinks: (0..sinks)
                .map(|i| (sink_addr(i), FIRST_SINK_AS + i as u32))
                .collect(),
        }
    }

    /// The first injector's address (the one `--policy` and `--rpki-vrps`
    /// configure).
    pub fn injector(&self) -> Ipv4Addr {
        self.injectors[0].0
    }

    /// Every neighbor of the daemon: the injectors first, then the sinks.
    pub fn neighbors(&self) -> Vec<(Ipv4Addr, u32)> {
        self.injectors
            .iter()
            .chain(self.sinks.iter())
            .copied()
            .collect()
    }
}

/// A daemon ready to start: its program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Daemon {
    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Ocbgpd => "ocbgpd",
            Daemon::Gobgpd => "gobgpd",
            Daemon::Bird => "bird",
            Daemon::Frr => "frr",
        }
    }

    /// Where the daemon's binary is by default (the Debian packages' paths;
    /// ocbgpd next to bgpbench, as cargo puts both in target/release).
    pub fn default_binary(self) -> PathBuf {
        match self {
            Daemon::Ocbgpd => std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join("ocbgpd")))
                .unwrap_or_else(|| PathBuf::from("target/release/ocbgpd")),
            Daemon::Gobgpd => PathBuf::from("/usr/bin/gobgpd"),
            Daemon::Bird => PathBuf::from("/usr/sbin/bird"),
            Daemon::Frr => PathBuf::from("/usr/lib/frr/bgpd"),
        }
    }

    /// Writes the configuration for `topology` into `dir` and returns the
    /// command line that runs `binary` with it in the foreground.
    pub fn prepare(self, topology: &Topology, dir: &Path, binary: &Path) -> Result<Prepared> {
        let Ok(binary) = std::fs::canonicalize(binary) else {
            bail!(
                "{} not found at {} (scripts/install-deps test installs the others)",
                self.name(),
                binary.display()
            );
        };
        let binary = binary.as_path();
        let dir_s = |name: &str| dir.join(name).display().to_string();
        let (file, text, args) = match self {
            Daemon::Ocbgpd => {
                let text = serde_json::to_string_pretty(&ocbgpd_config(topology))?;
                let state = dir.join("ocbgpd-state");
                std::fs::create_dir_all(&state)?;
                let args = vec![
                    "--config".into(),
                    dir_s("ocbgpd.json"),
                    "--state-dir".into(),
                    state.display().to_string(),
                ];
                ("ocbgpd.json", text, args)
            }
            Daemon::Gobgpd => {
                let args = vec![
                    "-f".into(),
                    dir_s("gobgpd.toml"),
                    "-t".into(),
                    "toml".into(),
                    "-p".into(),
                    "--api-hosts".into(),
                    "127.0.0.1:50051".into(),
                    "--pprof-disable".into(),
                ];
                ("gobgpd.toml", gobgpd_config(topology), args)
            }
            Daemon::Bird => {
                let args = vec![
                    "-c".into(),
                    dir_s("bird.conf"),
                    "-s".into(),
                    dir_s("bird.ctl"),
                    "-P".into(),
                    dir_s("bird.pid"),
                    "-f".into(),
                ];
                ("bird.conf", bird_config(topology), args)
            }
            Daemon::Frr => {
                let args = vec![
                    "-Z".into(),
                    "-S".into(),
                    "-f".into(),
                    dir_s("frr.conf"),
                    "-i".into(),
                    dir_s("bgpd.pid"),
                    "--vty_socket".into(),
                    dir.display().to_string(),
                    "-A".into(),
                    "127.0.0.1".into(),
                    "-P".into(),
                    "0".into(),
                    "-l".into(),
                    topology.daemon.to_string(),
                    "--log".into(),
                    "stdout".into(),
                    // Without zebra, bgpd logs a failed next-hop
                    // registration for every prefix: a million error lines
                    // that cost about 5 s. Only critical messages pass.
                    "--log-level".into(),
                    "critical".into(),
                ];
                ("frr.conf", frr_config(topology), args)
            }
        };
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        if self == Daemon::Ocbgpd {
            check_ocbgpd_config(binary, &path)?;
        }
        Ok(Prepared {
            program: binary.to_path_buf(),
            args,
        })
    }
}

/// A process that runs beside the daemon under test (FRR's zebra with
/// `--fib`), started before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    /// Its name in results and logs.
    pub name: &'static str,
    /// The program and its arguments.
    pub prepared: Prepared,
    /// A file that exists once it is ready (zebra's socket).
    pub ready_file: PathBuf,
}

impl Daemon {
    /// Turns `prepared` (from [`Daemon::prepare`] in `dir`) into a run that
    /// installs the table into the kernel (main table):
    /// - ocbgpd: `ocbgp:fib` with backend NETLINK, table 254, metric 20;
    /// - BIRD: a `kernel` protocol exporting everything (`learn off`, one
    ///   scan an hour: the benchmark's table is the only one);
    /// - FRR: bgpd talks to a zebra in the same namespace (no `-Z`), which
    ///   installs; zebra is returned as a helper to start first, with the
    ///   netlink receive buffer Debian's `/etc/frr/daemons` gives it
    ///   (`-s 90000000`) and its folder owned by `frr` (it drops to that
    ///   user).
    pub fn enable_fib(self, prepared: &mut Prepared, dir: &Path) -> Result<Option<Helper>> {
        match self {
            Daemon::Ocbgpd => {
                let file = dir.join("ocbgpd.json");
                let mut config: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
                *ocbgpd_global(&mut config)?
                    .as_object_mut()
                    .context("bgp/global is no object")?
                    .entry("ocbgp:fib")
                    .or_insert(json!({})) = json!({"config": {
                    "backend": "NETLINK",
                    "table": crate::fib::TABLE,
                    "metric": crate::fib::OCBGPD_METRIC
                }});
                std::fs::write(&file, serde_json::to_string_pretty(&config)?)?;
                check_ocbgpd_config(&prepared.program, &file)?;
                Ok(None)
            }
            Daemon::Bird => {
                let file = dir.join("bird.conf");
                let mut text = std::fs::read_to_string(&file)?;
                text.push_str(BIRD_KERNEL);
                std::fs::write(&file, text)?;
                Ok(None)
            }
            Daemon::Frr => {
                let zdir = dir.join("zebra");
                std::fs::create_dir_all(&zdir)?;
                let chown = std::process::Command::new("chown")
                    .arg("frr:frr")
                    .arg(&zdir)
                    .status();
                if !chown.is_ok_and(|s| s.success()) {
                    bail!("cannot chown {} to frr (is FRR installed?)", zdir.display());
                }
                std::fs::write(zdir.join("zebra.conf"), "hostname bench\n")?;
                let z = |f: &str| zdir.join(f).display().to_string();
                let socket = zdir.join("zserv.api");
                prepared.args.retain(|a| a != "-Z");
                prepared.args.extend(["-z".to_owned(), z("zserv.api")]);
                let program = prepared
                    .program
                    .parent()
                    .map(|d| d.join("zebra"))
                    .unwrap_or_else(|| PathBuf::from("/usr/lib/frr/zebra"));
                let args = [
                    "-f",
                    &z("zebra.conf"),
                    "-i",
                    &z("zebra.pid"),
                    "--vty_socket",
                    &zdir.display().to_string(),
                    "-z",
                    &z("zserv.api"),
                    "-A",
                    "127.0.0.1",
                    "-P",
                    "0",
                    "-s",
                    "90000000",
                    "--log",
                    "stdout",
                    "--log-level",
                    "warnings",
                ]
                .map(str::to_owned)
                .to_vec();
                Ok(Some(Helper {
                    name: "zebra",
                    prepared: Prepared { program, args },
                    ready_file: socket,
                }))
            }
            Daemon::Gobgpd => bail!("--fib: gobgpd installs no routes by itself"),
        }
    }
}

/// BIRD's kernel protocol for `--fib`.
pub const BIRD_KERNEL: &str = "\n# --fib: every route into the kernel's main table.\nprotocol kernel {\n  scan time 3600;\n  learn off;\n  ipv4 {\n    export all;\n  };\n}\n";

/// `bgp/global` of an ocbgpd configuration.
pub fn ocbgpd_global(config: &mut Value) -> Result<&mut Value> {
    config
        .pointer_mut("/openconfig-network-instance:network-instances/network-instance/0/protocols/protocol/0/bgp/global")
        .context("ocbgpd configuration without bgp/global")
}

/// Runs `ocbgpd --check FILE --no-host` (the file is for a lab host),
/// failing with its complaint.
pub fn check_ocbgpd_config(binary: &Path, file: &Path) -> Result<()> {
    let out = std::process::Command::new(binary)
        .arg("--check")
        .arg(file)
        .arg("--no-host")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {} --check", binary.display()))?;
    if !out.status.success() {
        bail!(
            "ocbgpd rejects {}: {}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// BIRD 2 configuration.
pub fn bird_config(t: &Topology) -> String {
    let mut out = format!(
        "log stderr {{ info, warning, error, fatal }};\nrouter id {};\n\n",
        t.daemon
    );
    out.push_str(
        "# Makes 192.0.2.0/24 directly connected, so the injector's next hop resolves.\nprotocol device {\n}\n",
    );
    let injectors = t.injectors.len();
    for (i, (addr, asn)) in t.neighbors().into_iter().enumerate() {
        let name = match i {
            0 if injectors == 1 => "injector".to_owned(),
            i if i < injectors => format!("injector{i}"),
            i => format!("sink{}", i - injectors),
        };
        let _ = write!(
            out,
            "\nprotocol bgp {name} {{\n  local {} as {DAEMON_AS};\n  neighbor {addr} as {asn};\n  ipv4 {{\n    import all;\n    export all;\n  }};\n}}\n",
            t.daemon
        );
    }
    out
}

/// FRR bgpd configuration (run without zebra).
pub fn frr_config(t: &Topology) -> String {
    let mut out = String::from("frr defaults traditional\nhostname bench\n!\n");
    let _ = write!(
        out,
        "router bgp {DAEMON_AS}\n bgp router-id {}\n no bgp ebgp-requires-policy\n no bgp network import-check\n",
        t.daemon
    );
    for (addr, asn) in t.neighbors() {
        let _ = write!(
            out,
            " neighbor {addr} remote-as {asn}\n neighbor {addr} disable-connected-check\n"
        );
    }
    out.push_str(" address-family ipv4 unicast\n");
    for (addr, _) in t.neighbors() {
        let _ = writeln!(out, "  neighbor {addr} activate");
    }
    out.push_str(" exit-address-family\n!\n");
    out
}

/// gobgpd TOML configuration.
pub fn gobgpd_config(t: &Topology) -> String {
    let mut out = format!(
        "[global.config]\n  as = {DAEMON_AS}\n  router-id = \"{0}\"\n  local-address-list = [\"{0}\"]\n  port = 179\n",
        t.daemon
    );
    for (addr, asn) in t.neighbors() {
        let _ = write!(
            out,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    peer-as = {asn}\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"ipv4-unicast\"\n"
        );
    }
    out
}

/// ocbgpd configuration, OpenConfig JSON (RFC 7951).
pub fn ocbgpd_config(t: &Topology) -> Value {
    let ipv4 = "openconfig-bgp-types:IPV4_UNICAST";
    let afi_safis = json!({"afi-safi": [{"afi-safi-name": ipv4, "config": {"afi-safi-name": ipv4, "enabled": true}}]});
    let neighbors: Vec<Value> = t
        .neighbors()
        .into_iter()
        .map(|(addr, asn)| {
            let addr = addr.to_string();
            json!({
                "neighbor-address": addr,
                // Every community kind goes on, as the other daemons send them.
                "config": {"neighbor-address": addr, "peer-as": asn,
                           "send-community-type": ["STANDARD", "EXTENDED", "LARGE"]},
                "afi-safis": afi_safis,
                "apply-policy": {"config": {
                    "default-import-policy": "ACCEPT_ROUTE",
                    "default-export-policy": "ACCEPT_ROUTE"
                }}
            })
        })
        .collect();
    json!({
        "openconfig-network-instance:network-instances": {"network-instance": [{
            "name": "DEFAULT",
            "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
            "protocols": {"protocol": [{
                "identifier": "openconfig-policy-types:BGP",
                "name": "BGP",
                "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP", "enabled": true},
                "bgp": {
                    "global": {
                        "config": {"as": DAEMON_AS, "router-id": t.daemon.to_string()},
                        "afi-safis": afi_safis,
                        "ocbgp:listen": {"config": {"address": [t.daemon.to_string()], "port": 179}}
                    },
                    "neighbors": {"neighbor": neighbors}
                }
            }]}
        }]},
        "ocbgp:management": {
            "gnmi": {"config": {"address": "127.0.0.1", "port": 9339}},
            "netconf": {"config": {"address": "127.0.0.1", "port": 830}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_names_every_neighbor() {
        let t = Topology::with_injectors(3, 10);
        assert_eq!(t.neighbors().len(), 13);
        assert_eq!(t.sinks[9], (Ipv4Addr::new(192, 0, 2, 19), 65109));
        assert_eq!(t.injectors[2], (Ipv4Addr::new(192, 0, 2, 4), 65003));
        let bird = bird_config(&t);
        let frr = frr_config(&t);
        let gobgp = gobgpd_config(&t);
        let oc = ocbgpd_config(&t).to_string();
        for (addr, asn) in t.neighbors() {
            assert!(bird.contains(&format!("neighbor {addr} as {asn};")));
            assert!(frr.contains(&format!("neighbor {addr} remote-as {asn}")));
            assert!(gobgp.contains(&format!(
                "neighbor-address = \"{addr}\"\n    peer-as = {asn}"
            )));
            assert!(oc.contains(&format!("\"peer-as\":{asn}")));
        }
        assert!(frr.contains("no bgp ebgp-requires-policy"));
    }
}
