//! The lab's network: a private layer-2 segment built from network
//! namespaces. One "switch" namespace holds a Linux bridge; every host is a
//! namespace of its own whose `eth0` is one end of a veth pair, the other
//! end being a port of the bridge. Nothing is created in the machine's own
//! namespace, so interface names only need to be unique per namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use super::process::Process;
use crate::wait_until;

/// First characters of every namespace a lab creates: `ocl<pid>-<n>-`.
pub const NETNS_PREFIX: &str = "ocl";

/// Prefix length of the lab segment's IPv4 network (192.0.2.0/24).
pub const IPV4_PREFIX_LEN: u8 = 24;
/// Prefix length of the lab segment's IPv6 network (2001:db8::/64).
pub const IPV6_PREFIX_LEN: u8 = 64;

static COUNTER: AtomicU32 = AtomicU32::new(0);
static STALE_SWEEP: Once = Once::new();

/// Runs `ip ARGS` (or any program), panicking with its output on failure.
fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if !out.status.success() {
        panic!(
            "`{program} {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and ignores its outcome (cleanup paths).
fn quiet(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names of all network namespaces on the machine.
pub fn netns_list() -> Vec<String> {
    quiet("ip", &["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Kills every process inside namespace `ns` and waits (bounded) until none
/// is left.
fn kill_all_in(ns: &str) {
    let pids = || -> Vec<String> {
        quiet("ip", &["netns", "pids", ns])
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    wait_until(Duration::from_secs(5), || {
        let list = pids();
        if list.is_empty() {
            return true;
        }
        let mut args = vec!["-KILL".to_string()];
        args.extend(list);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        quiet("kill", &args);
        false
    });
}

/// Removes namespaces and work folders left by lab processes that no longer
/// exist (a test binary killed before its labs were dropped).
fn sweep_stale() {
    let alive = |pid: &str| Path::new("/proc").join(pid).exists();
    let owner = |name: &str| -> Option<String> {
        let rest = name.strip_prefix(NETNS_PREFIX)?;
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!pid.is_empty() && rest[pid.len()..].starts_with('-')).then_some(pid)
    };
    for ns in netns_list() {
        if let Some(pid) = owner(&ns) {
            if !alive(&pid) {
                kill_all_in(&ns);
                quiet("ip", &["netns", "delete", &ns]);
            }
        }
    }
    if let Ok(dirs) = std::fs::read_dir(lab_root()) {
        for dir in dirs.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            if owner(&name).is_some_and(|pid| !alive(&pid)) {
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
    }
}

/// Folder under which every lab keeps its files.
fn lab_root() -> PathBuf {
    std::env::temp_dir().join("ocbgp-lab")
}

pub(crate) struct LabInner {
    name: String,
    prefix: String,
    dir: PathBuf,
    switch: String,
    /// Host namespaces created so far, in creation order.
    hosts: Mutex<Vec<String>>,
    next_index: Mutex<u8>,
    closed: std::sync::atomic::AtomicBool,
}

/// A private layer-2 segment of network namespaces; see the module docs.
///
/// Everything it creates is named `ocl<pid>-<counter>-…`, so concurrent
/// tests and test processes never collide. Dropping the lab kills every
/// process running in its namespaces, deletes the namespaces and removes its
/// work folder (kept, and its path printed, when the thread is panicking).
pub struct Lab {
    inner: Arc<LabInner>,
}

impl Lab {
    /// Creates the switch namespace with its bridge. `name` (the test's
    /// name, say) only labels the work folder and messages. Needs root.
    pub fn new(name: &str) -> Lab {
        STALE_SWEEP.call_once(sweep_stale);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("{NETNS_PREFIX}{}-{n}-", std::process::id());
        let label: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(24)
            .collect();
        let dir = lab_root().join(format!("{prefix}{label}"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create lab folder {}: {e}", dir.display()));
        let switch = format!("{prefix}sw");
        let lab = Lab {
            inner: Arc::new(LabInner {
                name: name.to_string(),
                prefix,
                dir,
                switch: switch.clone(),
                hosts: Mutex::new(Vec::new()),
                next_index: Mutex::new(1),
                closed: false.into(),
            }),
        };
        // From here on, Drop cleans up whatever was made if a step fails.
        sh("ip", &["netns", "add", &switch]);
        sh(
            "ip",
            &[
                "-n",
                &switch,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
            ],
        );
        sh("ip", &["-n", &switch, "link", "set", "br0", "up"]);
        lab
    }

    /// The lab's name as given to [`Lab::new`].
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Prefix shared by all of this lab's namespace names (`ocl<pid>-<n>-`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The lab's work folder (configs, logs, sockets).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Name of the switch namespace (holding bridge `br0`).
    pub fn switch_netns(&self) -> &str {
        &self.inner.switch
    }

    /// Adds a host with the next free index n (1, 2, …): namespace
    /// `<prefix><name>`, interface `eth0` on the segment with 192.0.2.n/24
    /// and 2001:db8::n/64 (no duplicate address detection, so both are
    /// usable at once), and loopback up. `name`: 1–8 lowercase letters or
    /// digits, unique in the lab.
    pub fn host(&self, name: &str) -> Host {
        assert!(
            (1..=8).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name != "sw",
            "host name {name:?}: use 1-8 lowercase letters or digits (not \"sw\")"
        );
        let index = {
            let mut next = self.inner.next_index.lock().unwrap();
            assert!(*next < 200, "too many hosts in lab {}", self.inner.name);
            let index = *next;
            *next += 1;
            index
        };
        let ns = format!("{}{name}", self.inner.prefix);
        {
            let mut hosts = self.inner.hosts.lock().unwrap();
            assert!(
                !hosts.contains(&ns),
                "lab {} already has a host {name}",
                self.inner.name
            );
            sh("ip", &["netns", "add", &ns]);
            hosts.push(ns.clone());
        }
        let dir = self.inner.dir.join(name);
        std::fs::create_dir_all(&dir).expect("create host folder");
        let port = format!("h{index}");
        // DAD off before eth0 exists, so it inherits the setting
        // (/proc/sys/net shows the namespace of the process reading it).
        let dad = "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && \
                   echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad";
        sh("ip", &["netns", "exec", &ns, "sh", "-c", dad]);
        let sw = self.inner.switch.as_str();
        sh(
            "ip",
            &[
                "link", "add", "name", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", sw,
            ],
        );
        sh(
            "ip",
            &["-n", sw, "link", "set", &port, "master", "br0", "up"],
        );
        sh("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        sh("ip", &["-n", &ns, "link", "set", "eth0", "up"]);
        let host = Host {
            lab: self.inner.clone(),
            name: name.to_string(),
            index,
            ns,
            port,
            dir,
        };
        host.add_address(host.ipv4());
        host.add_address(host.ipv6());
        host
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        let mut all: Vec<String> = inner.hosts.lock().unwrap().clone();
        all.push(inner.switch.clone());
        for ns in &all {
            kill_all_in(ns);
        }
        for ns in &all {
            quiet("ip", &["netns", "delete", ns]);
        }
        if std::thread::panicking() {
            eprintln!("lab {}: files kept in {}", inner.name, inner.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&inner.dir);
        }
    }
}

/// One host of a lab: a network namespace on the lab's segment. Cheap to
/// clone; all clones stand for the same namespace, which lives as long as
/// the [`Lab`].
#[derive(Clone)]
pub struct Host {
    lab: Arc<LabInner>,
    name: String,
    index: u8,
    ns: String,
    port: String,
    dir: PathBuf,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Host({} in {})", self.name, self.ns)
    }
}

impl Host {
    /// The host's name in the lab ("r1").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's index n in its lab (addresses 192.0.2.n, 2001:db8::n).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The namespace's name, for `ip netns exec`.
    pub fn netns(&self) -> &str {
        &self.ns
    }

    /// A work folder of this host (configs, logs, sockets).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The host's IPv4 address, 192.0.2.n.
    pub fn ipv4(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, self.index))
    }

    /// The host's IPv6 address, 2001:db8::n (n written in decimal digits,
    /// so host 12 is 2001:db8::12).
    pub fn ipv6(&self) -> IpAddr {
        let text = format!("2001:db8::{}", self.index);
        IpAddr::V6(text.parse::<Ipv6Addr>().expect("lab IPv6 address"))
    }

    /// Adds another address on `eth0` (/24 for IPv4, /64 without DAD for
    /// IPv6) and returns it; for a second session source, TCP-MD5 tests
    /// and the like. Pick addresses in 192.0.2.0/24 or 2001:db8::/64 that
    /// no host index uses (e.g. 192.0.2.100 + n).
    pub fn add_address(&self, addr: IpAddr) -> IpAddr {
        let cidr = match addr {
            IpAddr::V4(_) => format!("{addr}/{IPV4_PREFIX_LEN}"),
            IpAddr::V6(_) => format!("{addr}/{IPV6_PREFIX_LEN}"),
        };
        let mut args = vec!["-n", &self.ns, "addr", "add", &cidr, "dev", "eth0"];
        if addr.is_ipv6() {
            args.push("nodad");
        }
        sh("ip", &args);
        addr
    }

    /// A `Command` running `program` inside the host's namespace; add
    /// arguments and environment as usual.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.check_open();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]).arg(program);
        cmd
    }

    /// Runs a program in the namespace and returns its output, whatever the
    /// exit status.
    pub fn try_run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// Runs a program in the namespace and returns its stdout; panics with
    /// its output if it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.try_run(program, args);
        if !out.status.success() {
            panic!(
                "`{program} {}` in {} failed ({}):\n{}{}",
                args.join(" "),
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a program in the background in the namespace; its output goes
    /// to `<host dir>/<name>.log`. Killed when the returned handle or the
    /// lab is dropped.
    pub fn spawn(&self, name: &str, program: &str, args: &[&str]) -> Process {
        let mut cmd = self.command(program);
        cmd.args(args);
        self.spawn_command(name, cmd)
    }

    /// Like [`Host::spawn`] for a command made with [`Host::command`]
    /// (to set environment variables, say).
    pub fn spawn_command(&self, name: &str, command: Command) -> Process {
        let log = self.dir.join(format!("{name}.log"));
        Process::spawn(&format!("{name} in {}", self.name), command, &log)
    }

    /// Whether a TCP connection to `addr` can be opened from inside the
    /// namespace within one second.
    pub fn tcp_reachable(&self, addr: SocketAddr) -> bool {
        let script = format!("exec 3<>/dev/tcp/{}/{}", addr.ip(), addr.port());
        self.command("timeout")
            .args(["1", "bash", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Waits until [`Host::tcp_reachable`] holds; panics after `limit`.
    pub fn wait_tcp_reachable(&self, addr: SocketAddr, limit: Duration) {
        if !wait_until(limit, || self.tcp_reachable(addr)) {
            panic!(
                "{addr} not reachable over TCP from {} within {limit:?}",
                self.name
            );
        }
    }

    /// Cuts the host off the segment silently: its bridge port leaves the
    /// bridge, so frames are dropped in both directions while both ends keep
    /// carrier. Sessions then die only by hold-timer expiry. Undo with
    /// [`Host::restore`].
    pub fn cut(&self) {
        sh(
            "ip",
            &[
                "-n",
                &self.lab.switch,
                "link",
                "set",
                &self.port,
                "nomaster",
            ],
        );
    }

    /// Puts the host back on the segment after [`Host::cut`].
    pub fn restore(&self) {
        sh(
            "ip",
            &[
                "-n",
                &self.lab.switch,
                "link",
                "set",
                &self.port,
                "master",
                "br0",
            ],
        );
    }

    /// Sets the switch side of the host's link administratively up or down;
    /// down makes the host's `eth0` lose carrier (NO-CARRIER), which some
    /// daemons notice at once.
    pub fn set_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        sh(
            "ip",
            &["-n", &self.lab.switch, "link", "set", &self.port, state],
        );
    }

    fn check_open(&self) {
        assert!(
            !self.lab.closed.load(Ordering::SeqCst),
            "host {} used after its lab {} was dropped",
            self.name,
            self.lab.name
        );
    }
}
