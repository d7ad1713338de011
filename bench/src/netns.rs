//! The benchmark's network: two network namespaces joined by a veth pair,
//! on the documentation subnet 192.0.2.0/24.
//!
//! - `bgb-<pid>-<n>-d` holds the daemon, `eth0` = 192.0.2.1/24;
//! - `bgb-<pid>-<n>-p` holds the injector (192.0.2.2/24) and the sinks
//!   (192.0.2.10/24 and up, all on its `eth0`).
//!
//! Nothing is created in the machine's own namespace, and no address
//! outside the documentation range is used. [`Lab`] removes both
//! namespaces, and kills whatever still runs in them, when dropped;
//! [`sweep_stale`] removes those of benchmark runs that died without
//! cleaning up.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// First characters of every namespace the benchmark creates.
pub const PREFIX: &str = "bgb-";
/// The daemon's address.
pub const DAEMON_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The injector's address, also the NEXT_HOP of every injected route.
pub const INJECTOR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// Injectors at most: they take the addresses up to the first sink's.
pub const MAX_INJECTORS: usize = 8;
/// The first sink's address; sink i has this plus i.
pub const FIRST_SINK_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The most sinks the subnet has addresses for (192.0.2.10 to .249).
pub const MAX_SINKS: usize = 240;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Injector `i`'s address (the first is [`INJECTOR_ADDR`]).
pub fn injector_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(INJECTOR_ADDR) + i as u32)
}

/// Sink `i`'s address.
pub fn sink_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(FIRST_SINK_ADDR) + i as u32)
}

/// Runs `ip ARGS`, failing with its output.
fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The two namespaces of one benchmark run.
#[derive(Debug)]
pub struct Lab {
    /// The daemon's namespace.
    pub daemon_ns: String,
    /// The injector's and sinks' namespace.
    pub peers_ns: String,
    removed: bool,
}

impl Lab {
    /// Creates both namespaces, the link and the addresses of the daemon,
    /// `injectors` injectors and `sinks` sinks. On error, removes what it
    /// made.
    pub fn create(injectors: usize, sinks: usize) -> Result<Lab> {
        if sinks > MAX_SINKS {
            bail!("at most {MAX_SINKS} sinks");
        }
        if !(1..=MAX_INJECTORS).contains(&injectors) {
            bail!("1 to {MAX_INJECTORS} injectors");
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let mut lab = Lab {
            daemon_ns: format!("{base}-d"),
            peers_ns: format!("{base}-p"),
            removed: false,
        };
        // `lab` is dropped, and so cleaned up, if a step fails.
        ip(&["netns", "add", &lab.daemon_ns])?;
        if let Err(e) = ip(&["netns", "add", &lab.peers_ns]) {
            let _ = ip(&["netns", "delete", &lab.daemon_ns]);
            lab.removed = true;
            return Err(e);
        }
        lab.configure(injectors, sinks)?;
        Ok(lab)
    }

    /// Creates the veth pair and sets the addresses.
    fn configure(&self, injectors: usize, sinks: usize) -> Result<()> {
        let (d, p) = (self.daemon_ns.as_str(), self.peers_ns.as_str());
        ip(&[
            "link", "add", "eth0", "netns", d, "type", "veth", "peer", "name", "eth0", "netns", p,
        ])?;
        for ns in [d, p] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        ip(&[
            "-n",
            d,
            "addr",
            "add",
            &format!("{DAEMON_ADDR}/24"),
            "dev",
            "eth0",
        ])?;
        let peers = (0..injectors).map(injector_addr);
        for addr in peers.chain((0..sinks).map(sink_addr)) {
            let addr = format!("{addr}/24");
            ip(&["-n", p, "addr", "add", &addr, "dev", "eth0"])?;
        }
        for ns in [d, p] {
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// A command that runs `program` inside namespace `ns` (through
    /// `ip netns exec`, which execs it: the child's pid is the program's).
    pub fn command(ns: &str, program: &str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command.args(["netns", "exec", ns, program]);
        command
    }

    /// Kills what runs in the namespaces and deletes them. Idempotent.
    pub fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        for ns in [&self.daemon_ns, &self.peers_ns] {
            remove_namespace(ns);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The pids of the processes inside namespace `ns`.
fn pids_in(ns: &str) -> Vec<i32> {
    ip(&["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Kills every process inside `ns` (waiting up to 5 s for them to go),
/// then deletes it.
fn remove_namespace(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = pids_in(ns);
        if pids.is_empty() || Instant::now() > deadline {
            break;
        }
        for pid in pids {
            // SAFETY: kill has no memory-safety preconditions; these pids
            // were listed as members of our own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Err(e) = ip(&["netns", "delete", ns]) {
        eprintln!("bgpbench: could not delete namespace {ns}: {e:#}");
    }
}

/// Removes the namespaces of earlier runs whose process is gone.
pub fn sweep_stale() {
    let list = ip(&["netns", "list"]).unwrap_or_default();
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("bgpbench: removing stale namespace {name}");
            remove_namespace(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_the_documentation_subnet() {
        assert_eq!(sink_addr(0), FIRST_SINK_ADDR);
        assert_eq!(sink_addr(MAX_SINKS - 1), Ipv4Addr::new(192, 0, 2, 249));
        assert!(injector_addr(MAX_INJECTORS - 1) < FIRST_SINK_ADDR);
        for addr in [DAEMON_ADDR, INJECTOR_ADDR, sink_addr(MAX_SINKS - 1)] {
            assert_eq!(addr.octets()[..3], [192, 0, 2]);
        }
    }
}
