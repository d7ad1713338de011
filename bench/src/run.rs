//! `bgpbench run`: the whole scenario for one daemon.
//!
//! 1. Creates the two namespaces ([`Lab`]) and a work directory for the
//!    configuration and logs.
//! 2. Writes the daemon's configuration and starts it in its namespace.
//! 3. Starts `bgpbench sink` (N sinks) and waits until every sink's
//!    session is established.
//! 4. Starts `bgpbench inject`, which generates and encodes the table,
//!    connects, and writes the first UPDATE: that instant is the start.
//! 5. Waits until every sink holds every prefix: that instant is the end.
//!    The daemon's peak RSS (the larger of VmHWM and the sampled RSS) and
//!    CPU time (utime + stime) are read then.
//! 6. Stops everything, deletes the namespaces and, unless `--keep` or a
//!    failure, the work directory; prints one result line and one JSON
//!    line.
//!
//! Optional phases after step 5 (ocbgpd): the policy edit, a restart
//! ([`crate::restart`]), the gNMI Get, `--hold`, the CLI client, then the
//! MRT, BMP and NETCONF reads ([`crate::nc_load`]; last, because NETCONF
//! adds a user and gNMI asks for credentials from then on).
//!
//! Every wait is bounded; on a timeout the result says so and gives the
//! counts the sinks had reached.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::daemons::{Daemon, Topology, DAEMON_AS, FIRST_SINK_AS, INJECTOR_AS};
use crate::event::{emit, parse};
use crate::gen::MAX_PREFIXES;
use crate::measure::{self, seconds_between, RssSampler};
use crate::netns::{self, injector_addr, Lab, DAEMON_ADDR, FIRST_SINK_ADDR, MAX_SINKS};

/// Options of `bgpbench run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The daemon to measure.
    #[arg(long, value_enum)]
    pub daemon: Daemon,
    /// Number of sinks the daemon re-advertises the table to.
    #[arg(long, default_value_t = 1)]
    pub sinks: usize,
    /// Number of injectors (1 to 8), each sending the same prefixes with
    /// attribute sets of its own, as transit providers or route-server
    /// members do; for each prefix one injector's AS_PATH is the shortest,
    /// and a sink is complete once every prefix it holds has that path.
    #[arg(long, default_value_t = 1)]
    pub injectors: usize,
    /// Number of prefixes in the table.
    #[arg(long, default_value_t = 1_000_000)]
    pub prefixes: usize,
    /// Seed of the generated table.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The daemon's binary (default: the Debian package's path; for
    /// ocbgpd, next to bgpbench).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Seconds allowed from the first UPDATE until every sink is complete.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Seconds allowed for the daemon to start and every sink's session to
    /// come up.
    #[arg(long, default_value_t = 120)]
    pub setup_timeout: u64,
    /// An extra argument for the daemon's command line (repeatable).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub daemon_arg: Vec<String>,
    /// Where to create the run's work directory.
    #[arg(long, default_value = "/tmp")]
    pub work_dir: PathBuf,
    /// Keep the work directory (configuration and logs) after a success.
    #[arg(long)]
    pub keep: bool,
    /// After convergence, keep the lab up for this many seconds (or until
    /// Ctrl-C) so a client can be run against the loaded daemon by hand
    /// (`ip netns exec <daemon namespace> ocbgp ...`).
    #[arg(long, value_name = "SECONDS")]
    pub hold: Option<u64>,
    /// ocbgpd only: import policy on the injector's session (a
    /// 100,000-entry prefix-set and AS-path regexes), then time the
    /// re-evaluation after one prefix-set entry changes (see `policy`).
    #[arg(long)]
    pub policy: bool,
    /// gNMI load (ocbgpd only).
    #[command(flatten)]
    pub gnmi: crate::gnmi_load::GnmiArgs,
    /// Command-line client load (ocbgpd only).
    #[command(flatten)]
    pub cli: crate::cli_load::CliArgs,
    /// ocbgpd only: once the sinks have the table, stop ocbgpd this way
    /// and start it again on the same state directory, with graceful
    /// restart between it, the injector and the sinks (see `restart`).
    #[arg(long, value_enum, value_name = "HOW")]
    pub restart_daemon: Option<crate::restart::RestartKind>,
    /// NETCONF and BMP/MRT load (ocbgpd only).
    #[command(flatten)]
    pub nc: crate::nc_load::NcArgs,
    /// Install the table into the kernel's main table in the daemon's
    /// namespace and time it until the kernel holds every route (issue
    /// #17): ocbgpd's netlink backend, BIRD's kernel protocol, FRR's bgpd
    /// with zebra (started beside it; peak RSS and CPU are bgpd's plus
    /// zebra's). Routes are counted by `bgpbench fib-count` from the
    /// kernel's notifications. With `--sinks 0` there are no sinks and the
    /// installation alone is timed.
    #[arg(long)]
    pub fib: bool,
    /// ocbgpd only: load N VRPs (made from the table: valid, invalid and
    /// not-found routes) from a stayrtr cache in the daemon's namespace
    /// before the table is sent, time the load, and validate the table
    /// (issue #20; see `rpki`).
    #[arg(long, value_name = "N")]
    pub rpki_vrps: Option<usize>,
    /// With --rpki-vrps: an import policy on the injector's session that
    /// rejects INVALID routes; the sinks then expect the others only.
    #[arg(long, requires = "rpki_vrps")]
    pub rpki_reject_invalid: bool,
}

/// A started child process whose standard output may carry events.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
}

impl Proc {
    /// Starts `command`; stderr (and stdout, when `events` is `None`) go to
    /// `dir/<name>.log`; otherwise stdout lines go to `dir/<name>.out` and
    /// events on them to `events`.
    pub(crate) fn spawn(
        name: &str,
        mut command: tokio::process::Command,
        dir: &Path,
        events: Option<mpsc::UnboundedSender<(String, Value)>>,
    ) -> Result<Proc> {
        let log = File::create(dir.join(format!("{name}.log")))?;
        command
            .stdin(Stdio::null())
            .stderr(log.try_clone()?)
            .kill_on_drop(true);
        command.stdout(if events.is_some() {
            Stdio::piped()
        } else {
            Stdio::from(log)
        });
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        if let (Some(tx), Some(stdout)) = (events, child.stdout.take()) {
            let mut out = File::create(dir.join(format!("{name}.out")))?;
            let name = name.to_owned();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = writeln!(out, "{line}");
                    if let Some(event) = parse(&line) {
                        let _ = tx.send((name.clone(), event));
                    }
                }
            });
        }
        Ok(Proc {
            name: name.to_owned(),
            child,
        })
    }

    /// The process id (the program's: `ip netns exec` execs it).
    pub(crate) fn pid(&self) -> Result<u32> {
        self.child
            .id()
            .ok_or_else(|| anyhow!("{} has already exited", self.name))
    }

    /// The exit status, if it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM, waits up to `grace`, then kills.
    async fn stop(&mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill has no memory-safety preconditions; the pid is
            // our own child's, not yet reaped.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            if tokio::time::timeout(grace, self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.kill().await;
            }
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
struct Outcome {
    status: String,
    seconds: Option<f64>,
    per_sink: Vec<Option<f64>>,
    inject_seconds: Option<f64>,
    updates_sent: Option<u64>,
    peak_rss: u64,
    cpu_seconds: f64,
    /// The daemon's CPU time when the first UPDATE left the injector
    /// (start-up: configuration load, policy compile).
    cpu_before_seconds: f64,
    /// The daemon's RSS then, bytes (with --rpki-vrps: the VRPs loaded).
    rss_before: u64,
    harness_cpu_seconds: f64,
    sink_counts: Vec<u64>,
    edit: Option<crate::policy::EditOutcome>,
    gnmi: Option<Value>,
    cli: Option<Value>,
    restart: Option<Value>,
    nc: Option<Value>,
    fib: Option<Value>,
    rpki: Option<Value>,
}

/// Runs `bgpbench run`.
pub async fn run(args: RunArgs) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("bgpbench run creates network namespaces: run it as root");
    }
    if (args.sinks == 0 && !args.fib) || args.sinks > MAX_SINKS {
        bail!("--sinks must be between 1 (0 with --fib) and {MAX_SINKS}");
    }
    if args.prefixes == 0 || args.prefixes > MAX_PREFIXES {
        bail!("--prefixes must be between 1 and {MAX_PREFIXES}");
    }
    netns::sweep_stale();
    let dir = args.work_dir.join(format!(
        "bgpbench-{}-{}-{}",
        args.daemon.name(),
        std::process::id(),
        measure::mono_ns()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut lab = Lab::create(args.injectors, args.sinks)?;
    let mut procs: Vec<Proc> = Vec::new();
    let outcome = scenario(&args, &lab, &dir, &mut procs).await;
    for proc in procs.iter_mut().rev() {
        proc.stop(Duration::from_secs(5)).await;
    }
    drop(procs);
    lab.remove();
    let outcome = outcome.unwrap_or_else(|e| Outcome {
        status: format!("error: {e:#}"),
        ..Outcome::default()
    });
    let ok = outcome.status == "ok";
    if ok && !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("bgpbench: configuration and logs kept in {}", dir.display());
    }
    report(&args, &outcome);
    if !ok {
        bail!(
            "{} with {} sinks: {}",
            args.daemon.name(),
            args.sinks,
            outcome.status
        );
    }
    Ok(())
}

/// Prints the result line and the JSON line.
fn report(args: &RunArgs, o: &Outcome) {
    let mb = o.peak_rss as f64 / 1e6;
    let seconds = o
        .seconds
        .map(|s| format!("{s:.2} s"))
        .unwrap_or_else(|| "-".into());
    println!(
        "{} sinks={} prefixes={}: {seconds}, peak RSS {mb:.0} MB, CPU {:.1} s [{}]",
        args.daemon.name(),
        args.sinks,
        args.prefixes,
        o.cpu_seconds,
        o.status
    );
    emit(json!({
        "event": "result",
        "daemon": args.daemon.name(),
        "sinks": args.sinks,
        "injectors": args.injectors,
        "prefixes": args.prefixes,
        "seed": args.seed,
        "status": o.status,
        "seconds": o.seconds,
        "per_sink_seconds": o.per_sink,
        "inject_seconds": o.inject_seconds,
        "updates_sent": o.updates_sent,
        "peak_rss_mb": (mb * 10.0).round() / 10.0,
        "cpu_s": (o.cpu_seconds * 100.0).round() / 100.0,
        "cpu_before_s": (o.cpu_before_seconds * 100.0).round() / 100.0,
        "rss_before_mb": (o.rss_before as f64 / 1e5).round() / 10.0,
        "harness_cpu_s": (o.harness_cpu_seconds * 100.0).round() / 100.0,
        "sink_counts": o.sink_counts,
        "policy": args.policy,
        "edit_prefixes": o.edit.as_ref().map(|e| e.prefixes),
        "edit_seconds": o.edit.as_ref().and_then(|e| e.seconds),
        "edit_set_seconds": o.edit.as_ref().and_then(|e| e.set_seconds),
        "gnmi": o.gnmi,
        "cli": o.cli,
        "restart": o.restart,
        "nc": o.nc,
        "mode": mode(args),
        "fib": o.fib,
        "rpki": o.rpki,
        "date": today(),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    }));
}

/// The scenario's variant, for `bgpbench table`: "fib", "rpki N",
/// "rpki N reject-invalid" or "" for the plain full table.
fn mode(args: &RunArgs) -> String {
    let mut parts = Vec::new();
    if args.injectors > 1 {
        parts.push(format!("{} injectors", args.injectors));
    }
    if args.fib {
        parts.push("fib".to_owned());
    }
    if let Some(n) = args.rpki_vrps {
        parts.push(format!("rpki {n}"));
        if args.rpki_reject_invalid {
            parts.push("reject-invalid".to_owned());
        }
    }
    parts.join(" ")
}

/// Today's date (UTC) as YYYY-MM-DD.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Howard Hinnant's civil_from_days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Steps 2 to 5; the processes it starts go in `procs` so that the caller
/// stops them whatever happens.
async fn scenario(args: &RunArgs, lab: &Lab, dir: &Path, procs: &mut Vec<Proc>) -> Result<Outcome> {
    if args.injectors > 1
        && (args.policy
            || args.rpki_vrps.is_some()
            || args.restart_daemon.is_some()
            || args.nc.any()
            || args.gnmi.gnmi_subscribers > 0)
    {
        bail!("--injectors above 1 goes with none of --policy, --rpki-vrps, --restart-daemon, --netconf-get, --mrt-dump, --bmp, --gnmi-subscribers");
    }
    let topology = Topology::with_injectors(args.injectors, args.sinks);
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(|| args.daemon.default_binary());
    let mut prepared = args.daemon.prepare(&topology, dir, &binary)?;
    let fib_protocol = if args.fib {
        if args.policy || args.restart_daemon.is_some() || args.nc.any() {
            bail!("--fib goes with none of --policy, --restart-daemon, --netconf-get, --mrt-dump, --bmp");
        }
        Some(crate::fib::protocol(args.daemon)?)
    } else {
        None
    };
    let helper = if args.fib {
        args.daemon.enable_fib(&mut prepared, dir)?
    } else {
        None
    };
    let mut expect = args.prefixes;
    let rpki = match args.rpki_vrps {
        Some(n) => {
            if args.daemon != Daemon::Ocbgpd {
                bail!("--rpki-vrps is for ocbgpd only");
            }
            if args.policy && args.rpki_reject_invalid {
                bail!("--policy and --rpki-reject-invalid both set the injector's import policy");
            }
            let spec = crate::gen::TableSpec::new(args.prefixes, args.seed, INJECTOR_AS);
            let table = crate::gen::Table::generate(&spec);
            let vrps = crate::rpki::make_vrps(&table, n)?;
            let (valid, invalid, not_found) = crate::rpki::expected(&table, &vrps);
            drop(table);
            let json_file = dir.join("vrps.json");
            crate::rpki::write_json(&json_file, &vrps)?;
            let file = dir.join("ocbgpd.json");
            let mut config: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
            crate::rpki::apply(&mut config, topology.injector(), args.rpki_reject_invalid)?;
            std::fs::write(&file, serde_json::to_string_pretty(&config)?)?;
            crate::daemons::check_ocbgpd_config(&binary, &file)?;
            if args.rpki_reject_invalid {
                expect = valid + not_found;
            }
            eprintln!(
                "bgpbench: {} VRPs; expected VALID {valid}, INVALID {invalid}, NOT_FOUND {not_found}",
                vrps.len()
            );
            Some((
                vrps.len(),
                json_file,
                json!({"vrps": vrps.len(), "expected_valid": valid,
                       "expected_invalid": invalid, "expected_not_found": not_found}),
            ))
        }
        None => None,
    };
    if args.cli.cli_rib && args.daemon != Daemon::Ocbgpd {
        bail!("--cli-rib is for ocbgpd only");
    }
    let policy = if args.policy {
        if args.daemon != Daemon::Ocbgpd {
            bail!("--policy is for ocbgpd only");
        }
        let pt = crate::policy::PolicyTable::for_table(args.prefixes, args.seed)?;
        let file = dir.join("ocbgpd.json");
        pt.apply_to_file(&file, topology.injector())?;
        crate::daemons::check_ocbgpd_config(&binary, &file)?;
        eprintln!(
            "bgpbench: import policy with {} prefix-set entries; the edit is {} ({} prefixes)",
            pt.entries.len(),
            pt.edited,
            pt.edited_covers
        );
        Some(pt)
    } else {
        None
    };
    let ocbgpd_only = args.restart_daemon.is_some() || args.nc.any();
    if ocbgpd_only && args.daemon != Daemon::Ocbgpd {
        bail!("--restart-daemon, --netconf-get, --mrt-dump and --bmp are for ocbgpd only");
    }
    if args.restart_daemon.is_some() {
        let file = dir.join("ocbgpd.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&file)?)?;
        crate::restart::enable_in_config(&mut config)?;
        std::fs::write(&file, serde_json::to_string_pretty(&config)?)?;
        crate::daemons::check_ocbgpd_config(&binary, &file)?;
    }
    // Started before the daemon: zebra (FRR with --fib), the RPKI cache.
    let mut helpers: Vec<Proc> = Vec::new();
    if let Some(h) = &helper {
        let mut command = Lab::command(&lab.daemon_ns, &h.prepared.program.display().to_string());
        command.args(&h.prepared.args).current_dir(dir);
        helpers.push(Proc::spawn(h.name, command, dir, None)?);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !h.ready_file.exists() {
            if Instant::now() > deadline {
                bail!(
                    "{} not ready after 30 s (no {})",
                    h.name,
                    h.ready_file.display()
                );
            }
            if let Some(status) = helpers.last_mut().and_then(Proc::exited) {
                bail!("{} exited ({status}); see its log", h.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("bgpbench: {} ready", h.name);
    }
    let mut rpki_out = None;
    if let Some((count, json_file, info)) = &rpki {
        let mut command = Lab::command(&lab.daemon_ns, "stayrtr");
        let bind = format!("{}:{}", crate::rpki::CACHE_ADDR, crate::rpki::CACHE_PORT);
        command
            .args(["-bind", &bind, "-cache"])
            .arg(json_file)
            .args(["-checktime=false", "-metrics.addr", "127.0.0.1:9847"])
            .args(["-refresh", "3600", "-log.verbose=false"]);
        let t0 = measure::mono_ns();
        helpers.push(Proc::spawn("stayrtr", command, dir, None)?);
        let log = dir.join("stayrtr.log");
        let deadline = Instant::now() + Duration::from_secs(args.setup_timeout);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Server started") {
                break;
            }
            if Instant::now() > deadline {
                bail!("stayrtr did not start within {} s", args.setup_timeout);
            }
            if let Some(status) = helpers.last_mut().and_then(Proc::exited) {
                bail!("stayrtr exited ({status}); see its log");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut info = info.clone();
        info["stayrtr_load_s"] = json!(seconds_between(t0, measure::mono_ns()));
        eprintln!("bgpbench: stayrtr serves {count} VRPs");
        rpki_out = Some(info);
    }
    let daemon_command = || {
        let mut command = Lab::command(&lab.daemon_ns, &prepared.program.display().to_string());
        command
            .args(&prepared.args)
            .args(&args.daemon_arg)
            .current_dir(dir);
        command
    };
    procs.push(Proc::spawn(
        args.daemon.name(),
        daemon_command(),
        dir,
        None,
    )?);
    let daemon_started = measure::mono_ns();
    let mut daemon_pid = procs[0].pid()?;
    let sampler = RssSampler::start(daemon_pid, Duration::from_millis(200));
    let helper_pids: Vec<(String, u32)> = helpers
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.child.id()?)))
        .collect();
    procs.extend(helpers);
    // zebra's memory and CPU count with FRR's (the cache's are apart).
    let zebra = helper_pids
        .iter()
        .find(|(n, _)| n == "zebra")
        .map(|(_, pid)| (*pid, RssSampler::start(*pid, Duration::from_millis(200))));
    eprintln!(
        "bgpbench: {} started (pid {daemon_pid}) in {}",
        args.daemon.name(),
        lab.daemon_ns
    );

    if let (Some((count, _, _)), Some(info)) = (&rpki, rpki_out.as_mut()) {
        let loaded = crate::rpki::wait_loaded(
            &lab.daemon_ns,
            *count,
            daemon_started,
            daemon_pid,
            args.setup_timeout,
        )
        .await?;
        if let (Some(info), Some(l)) = (info.as_object_mut(), loaded.as_object()) {
            info.extend(l.clone());
        }
        eprintln!("bgpbench: ocbgpd holds the VRPs: {loaded}");
    }
    let me = std::env::current_exe()?.display().to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sinks = Lab::command(&lab.peers_ns, &me);
    sinks.args([
        "sink",
        "--peer",
        &DAEMON_ADDR.to_string(),
        "--local",
        &FIRST_SINK_ADDR.to_string(),
    ]);
    sinks.args([
        "--count",
        &args.sinks.to_string(),
        "--local-as",
        &FIRST_SINK_AS.to_string(),
    ]);
    sinks.args([
        "--peer-as",
        &DAEMON_AS.to_string(),
        "--expect",
        &expect.to_string(),
    ]);
    if args.injectors > 1 {
        sinks.args(["--injectors", &args.injectors.to_string()]);
        sinks.args(["--seed", &args.seed.to_string()]);
        sinks.args(["--injector-as", &INJECTOR_AS.to_string()]);
    }
    sinks.args([
        "--connect-timeout",
        &args.setup_timeout.to_string(),
        "--progress",
        "10",
    ]);
    let graceful_restart = crate::restart::RESTART_TIME.to_string();
    if args.restart_daemon.is_some() {
        sinks.args(["--graceful-restart", &graceful_restart]);
    }
    if args.sinks > 0 {
        procs.push(Proc::spawn("sinks", sinks, dir, Some(tx.clone()))?);
    }

    let setup_deadline = Instant::now() + Duration::from_secs(args.setup_timeout);
    let mut established = 0;
    while established < args.sinks {
        let (_, event) = next_event(&mut rx, setup_deadline, procs)
            .await
            .context("waiting for the sinks' sessions")?;
        match event["event"].as_str() {
            Some("established") => established += 1,
            Some("failed") => bail!("sink {} failed: {}", event["sink"], event["error"]),
            _ => {}
        }
    }
    eprintln!("bgpbench: {} sink sessions established", args.sinks);
    if let Some(protocol) = fib_protocol {
        let mut c = Lab::command(&lab.daemon_ns, &me);
        c.args(["fib-count", "--table", &crate::fib::TABLE.to_string()]);
        c.args(["--protocol", &protocol.to_string(), "--expect"]);
        c.arg(args.prefixes.to_string());
        c.args([
            "--timeout",
            &(args.setup_timeout + args.timeout).to_string(),
        ]);
        procs.push(Proc::spawn("fib", c, dir, Some(tx.clone()))?);
        loop {
            let (who, event) = next_event(&mut rx, setup_deadline, procs)
                .await
                .context("waiting for fib-count")?;
            if who == "fib" && event["event"] == "listening" {
                if event["routes"].as_u64() != Some(0) {
                    bail!("the kernel already holds routes of protocol {protocol}: {event}");
                }
                break;
            }
        }
    }
    let mut gnmi = crate::gnmi_load::Load::new(args.gnmi.gnmi_subscribers);
    if args.gnmi.gnmi_subscribers > 0 {
        let cmd = crate::gnmi_load::sub_command(
            &lab.daemon_ns,
            &me,
            args.gnmi.gnmi_subscribers,
            args.prefixes,
        );
        procs.push(Proc::spawn("gnmi", cmd, dir, Some(tx.clone()))?);
        while !gnmi.synced() {
            let (who, event) = next_event(&mut rx, setup_deadline, procs)
                .await
                .context("waiting for the gNMI subscribers")?;
            if who == "gnmi" {
                gnmi.on_event(&event);
            }
        }
        eprintln!(
            "bgpbench: {} gNMI subscribers synced",
            args.gnmi.gnmi_subscribers
        );
    }

    for i in 0..args.injectors {
        let (addr, asn) = (injector_addr(i).to_string(), INJECTOR_AS + i as u32);
        let mut inject = Lab::command(&lab.peers_ns, &me);
        inject.args([
            "inject",
            "--peer",
            &DAEMON_ADDR.to_string(),
            "--local",
            &addr,
        ]);
        inject.args([
            "--local-as",
            &asn.to_string(),
            "--peer-as",
            &DAEMON_AS.to_string(),
        ]);
        inject.args(["--router-id", &addr, "--next-hop", &addr]);
        inject.args([
            "--prefixes",
            &args.prefixes.to_string(),
            "--seed",
            &args.seed.to_string(),
        ]);
        inject.args([
            "--injectors",
            &args.injectors.to_string(),
            "--index",
            &i.to_string(),
        ]);
        inject.args(["--connect-timeout", &args.setup_timeout.to_string()]);
        if args.restart_daemon.is_some() {
            inject.args(["--graceful-restart", &graceful_restart]);
        }
        procs.push(Proc::spawn("inject", inject, dir, Some(tx.clone()))?);
    }
    drop(tx);

    let mut dump_during: Option<tokio::task::JoinHandle<Result<Value>>> = None;
    let mut outcome = Outcome {
        per_sink: vec![None; args.sinks],
        ..Outcome::default()
    };
    let mut complete: Vec<Option<u64>> = vec![None; args.sinks];
    let mut first_ns = None;
    let (mut fib_first, mut fib_done): (Option<u64>, Option<u64>) = (None, None);
    let mut fib_info = json!({});
    // Generating the table takes a few seconds before the first UPDATE.
    let mut deadline = Instant::now() + Duration::from_secs(args.setup_timeout + args.timeout);
    let waited = loop {
        if let (Some(t0), true) = (
            first_ns,
            complete.iter().all(Option::is_some)
                && gnmi.done()
                && (fib_protocol.is_none() || fib_done.is_some()),
        ) {
            // Convergence is the sinks' (the subscribers may finish
            // later), and with --fib the kernel's too.
            let sinks_end = complete.iter().flatten().copied().max();
            let end = sinks_end.into_iter().chain(fib_done).max().unwrap_or(t0);
            outcome.seconds = Some(seconds_between(t0, end));
            if let Some(done) = fib_done {
                fib_info["seconds"] = json!(seconds_between(t0, done));
                fib_info["first_route_s"] = json!(fib_first.map(|f| seconds_between(t0, f)));
                fib_info["bgp_seconds"] = json!(sinks_end.map(|e| seconds_between(t0, e)));
            }
            outcome.per_sink = complete
                .iter()
                .map(|t| t.map(|t| seconds_between(t0, t)))
                .collect();
            break Ok(());
        }
        let (who, event) = match next_event(&mut rx, deadline, procs).await {
            Ok(next) => next,
            Err(e) => break Err(e),
        };
        match (who.as_str(), event["event"].as_str()) {
            // With several injectors: from the first one's first UPDATE.
            ("inject", Some("first_update")) if first_ns.is_none() => {
                let t0 = event["t_ns"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("first_update without t_ns"))?;
                first_ns = Some(t0);
                let before = measure::usage(daemon_pid).unwrap_or_default();
                outcome.cpu_before_seconds = before.cpu_seconds;
                outcome.rss_before = before.rss;
                deadline = Instant::now() + Duration::from_secs(args.timeout);
                eprintln!("bgpbench: injector sending");
                if let (Some(after), None) = (args.nc.mrt_dump_during, &dump_during) {
                    let (ns, dir) = (lab.daemon_ns.clone(), dir.to_path_buf());
                    dump_during = Some(tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs_f64(after)).await;
                        crate::nc_load::mrt_dump_during(&ns, &dir, t0).await
                    }));
                }
            }
            ("inject", Some("sent")) => {
                // The last injector's time, and every injector's UPDATEs.
                outcome.inject_seconds = match (outcome.inject_seconds, event["seconds"].as_f64()) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                outcome.updates_sent = Some(
                    outcome.updates_sent.unwrap_or(0) + event["updates"].as_u64().unwrap_or(0),
                );
                eprintln!(
                    "bgpbench: injector finished sending in {:.2} s",
                    event["seconds"].as_f64().unwrap_or(0.0)
                );
            }
            ("sinks", Some("complete")) => {
                let sink = event["sink"].as_u64().unwrap_or(0) as usize;
                if let (Some(slot), Some(t)) = (complete.get_mut(sink), event["t_ns"].as_u64()) {
                    *slot = Some(t);
                }
            }
            ("sinks", Some("incomplete")) => {
                let sink = event["sink"].as_u64().unwrap_or(0) as usize;
                if let Some(slot) = complete.get_mut(sink) {
                    *slot = None;
                }
            }
            ("sinks", Some("failed")) => {
                break Err(anyhow!("sink {} failed: {}", event["sink"], event["error"]))
            }
            ("gnmi", _) => gnmi.on_event(&event),
            ("fib", Some("fib_first")) => fib_first = event["t_ns"].as_u64(),
            ("fib", Some("fib_progress")) => {
                eprintln!("bgpbench: kernel holds {} routes", event["routes"]);
            }
            ("fib", Some("fib_complete")) => {
                fib_done = event["t_ns"].as_u64();
                fib_info["notifications"] = event["notifications"].clone();
                fib_info["overflows"] = event["overflows"].clone();
                eprintln!("bgpbench: the kernel holds every route");
            }
            _ => {}
        }
    };
    // Measure before anything is stopped.
    let usage = measure::usage(daemon_pid).unwrap_or_default();
    outcome.peak_rss = usage.peak_rss.max(sampler.max());
    outcome.cpu_seconds = usage.cpu_seconds;
    if let Some((pid, zsampler)) = &zebra {
        let z = measure::usage(*pid).unwrap_or_default();
        let z_peak = z.peak_rss.max(zsampler.max());
        fib_info["bgpd_peak_rss_mb"] = json!((outcome.peak_rss as f64 / 1e5).round() / 10.0);
        fib_info["bgpd_cpu_s"] = json!((outcome.cpu_seconds * 100.0).round() / 100.0);
        fib_info["zebra_peak_rss_mb"] = json!((z_peak as f64 / 1e5).round() / 10.0);
        fib_info["zebra_cpu_s"] = json!((z.cpu_seconds * 100.0).round() / 100.0);
        // The sum of the two peaks (they need not peak together).
        outcome.peak_rss += z_peak;
        outcome.cpu_seconds += z.cpu_seconds;
    }
    if let Some(info) = rpki_out.as_mut() {
        if let Some((_, pid)) = helper_pids.iter().find(|(n, _)| n == "stayrtr") {
            let u = measure::usage(*pid).unwrap_or_default();
            info["stayrtr_peak_rss_mb"] = json!((u.peak_rss as f64 / 1e5).round() / 10.0);
            info["stayrtr_cpu_s"] = json!((u.cpu_seconds * 100.0).round() / 100.0);
        }
    }
    // What the injector and sinks took from the same two cores.
    outcome.harness_cpu_seconds = procs
        .iter()
        .filter(|p| p.name != args.daemon.name() && p.name != "zebra" && p.name != "stayrtr")
        .filter_map(|p| p.child.id())
        .filter_map(|pid| measure::usage(pid).ok())
        .map(|u| u.cpu_seconds)
        .sum();
    drop(sampler);
    drop(zebra);
    if fib_protocol.is_some() {
        // fib-count checks its count with one dump of the table, then ends.
        if waited.is_ok() {
            let limit = Instant::now() + Duration::from_secs(60);
            while let Ok(Some((who, event))) = tokio::time::timeout_at(limit, rx.recv()).await {
                if who == "fib" && event["event"] == "fib_dump" {
                    fib_info["dump_routes"] = event["routes"].clone();
                    fib_info["dump_seconds"] = event["seconds"].clone();
                    break;
                }
            }
        }
        procs.retain(|p| p.name != "fib");
        outcome.fib = Some(fib_info);
    }
    outcome.rpki = rpki_out;
    // A dump started during convergence ends before anything else runs.
    if let Some(task) = dump_during {
        let r = match task.await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => json!({"error": format!("{e:#}")}),
            Err(e) => json!({"error": e.to_string()}),
        };
        eprintln!("bgpbench: MRT dump during convergence: {r}");
        outcome.nc.get_or_insert_with(|| json!({}))["mrt_dump_during"] = r;
    }
    if let (Some(pt), Ok(())) = (&policy, &waited) {
        let timeout = Duration::from_secs(args.timeout);
        match crate::policy::edit(pt, &lab.daemon_ns, args.sinks, dir, &mut rx, procs, timeout)
            .await
        {
            Ok(edit) => outcome.edit = Some(edit),
            Err(e) => outcome.status = format!("policy edit: {e:#}"),
        }
    }
    if let (Some(kind), Ok(())) = (args.restart_daemon, &waited) {
        let timeout = Duration::from_secs(args.timeout);
        match crate::restart::restart(
            kind,
            daemon_command(),
            args.sinks,
            dir,
            &mut rx,
            procs,
            timeout,
        )
        .await
        {
            Ok((r, pid)) => {
                eprintln!("bgpbench: restart: {r}");
                outcome.restart = Some(r);
                daemon_pid = pid;
            }
            Err(e) => outcome.status = format!("restart: {e:#}"),
        }
    }
    // After the run's own peak is taken: the Get's memory is reported apart.
    if args.gnmi.gnmi_subscribers > 0 || args.gnmi.gnmi_get {
        let mut g = gnmi.result(first_ns);
        if args.gnmi.gnmi_get && waited.is_ok() {
            g["get"] = crate::gnmi_load::timed_get(&lab.daemon_ns, &me, daemon_pid, dir)
                .await
                .unwrap_or_else(|e| json!({"error": format!("{e:#}")}));
        }
        eprintln!("bgpbench: gNMI: {g}");
        outcome.gnmi = Some(g);
    }
    if let (Some(hold), Ok(())) = (args.hold, &waited) {
        eprintln!("bgpbench: holding the lab for {hold} s (Ctrl-C ends it): daemon namespace {}, pid {daemon_pid}", lab.daemon_ns);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(hold)) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    if args.cli.cli_rib && waited.is_ok() {
        let limit = Duration::from_secs(args.timeout);
        outcome.cli = Some(
            crate::cli_load::timed_rib(&lab.daemon_ns, daemon_pid, args.prefixes, dir, limit).await,
        );
    }
    // Last: NETCONF adds a user, and gNMI (the Get, `ocbgp`) asks for
    // credentials from then on.
    if args.nc.any() && waited.is_ok() {
        let r = crate::nc_load::run_all(
            &args.nc,
            &lab.daemon_ns,
            &me,
            daemon_pid,
            args.prefixes,
            dir,
        )
        .await;
        let nc = outcome.nc.get_or_insert_with(|| json!({}));
        if let (Some(nc), Some(r)) = (nc.as_object_mut(), r.as_object()) {
            nc.extend(r.clone());
        }
    }
    // Ask the sinks for their counts (they print a summary on SIGTERM).
    if let Some(sinks) = procs.iter_mut().find(|p| p.name == "sinks") {
        sinks.stop(Duration::from_secs(5)).await;
    }
    let summary_deadline = Instant::now() + Duration::from_secs(if args.sinks > 0 { 2 } else { 0 });
    while let Ok(Some((who, event))) = tokio::time::timeout_at(summary_deadline, rx.recv()).await {
        if who == "sinks" && event["event"] == "summary" {
            outcome.sink_counts = event["sinks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["count"].as_u64())
                .collect();
            break;
        }
    }
    if outcome.status.is_empty() {
        outcome.status = match waited {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("{e:#}"),
        };
    }
    Ok(outcome)
}

/// The next event, failing at `deadline` or when a process exits.
pub(crate) async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    deadline: Instant,
    procs: &mut [Proc],
) -> Result<(String, Value)> {
    let mut check = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            event = rx.recv() => return event.ok_or_else(|| anyhow!("the injector and sinks closed their output")),
            _ = tokio::time::sleep_until(deadline) => bail!("timed out"),
            _ = check.tick() => {
                for proc in procs.iter_mut() {
                    if let Some(status) = proc.exited() {
                        bail!("{} exited ({status}); see its log", proc.name);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
        assert_eq!(&d[4..5], "-");
    }
}
