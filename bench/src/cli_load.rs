//! `--cli-rib` (ocbgpd only): once every sink has the whole table, run the
//! release `ocbgp global rib` (once as a table, once with `--json`) in the
//! daemon's namespace and read its standard output line by line.
//!
//! Measured per run: seconds from the start of the client to its first
//! route row and to the end of its output, the number of route rows (it
//! must equal the table size), the client's peak RSS and CPU time (from
//! `wait4`'s resource usage), and how much the daemon's RSS rose meanwhile.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::measure::{mono_ns, seconds_between, RssSampler};

/// Options of `bgpbench run` for the command-line client.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CliArgs {
    /// After convergence, time `ocbgp global rib` (table and `--json`) over
    /// the whole IPv4 Loc-RIB: first row, end, rows, client peak RSS and
    /// the daemon's RSS rise (ocbgpd only; `ocbgp` must sit next to
    /// bgpbench).
    #[arg(long)]
    pub cli_rib: bool,
}

/// What one client run printed and used.
#[derive(Debug, Default)]
struct Reading {
    first_row_ns: Option<u64>,
    end_ns: u64,
    rows: u64,
    lines: u64,
    bytes: u64,
}

/// Whether an output line is a route row: in a table every line but the
/// header (and "no routes"); in JSON the array's elements, one a line
/// (`  {...}`).
fn is_row(line: &[u8], json: bool) -> bool {
    if json {
        line.starts_with(b"  {")
    } else {
        // The header's first column (the best-path mark) is blank.
        let line = line.trim_ascii_start();
        !line.is_empty() && !line.starts_with(b"Network ") && line != b"no routes"
    }
}

/// Reads `out` to its end, counting rows and noting when the first came.
fn read_rows(out: impl std::io::Read, json: bool) -> std::io::Result<Reading> {
    let mut reader = BufReader::with_capacity(1 << 16, out);
    let mut line = Vec::with_capacity(512);
    let mut r = Reading::default();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        r.bytes += n as u64;
        r.lines += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if is_row(text, json) {
            if r.first_row_ns.is_none() {
                r.first_row_ns = Some(mono_ns());
            }
            r.rows += 1;
        }
    }
    r.end_ns = mono_ns();
    Ok(r)
}

/// `ocbgp` beside the running bgpbench (cargo puts both in target/release).
pub(crate) fn ocbgp_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .map(|d| d.join("ocbgp"))
        .ok_or_else(|| anyhow!("no directory for {}", exe.display()))?;
    if !bin.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p ocbgp)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Resource use of a reaped child, from `wait4`.
struct Reaped {
    status: i32,
    peak_rss_kib: i64,
    cpu_seconds: f64,
}

/// Waits for `pid` (a child of this process not known to tokio) and returns
/// its exit status and resource usage.
fn wait4(pid: i32) -> std::io::Result<Reaped> {
    let mut status = 0;
    // SAFETY: rusage is plain data; zeroes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status and a rusage that outlive the call.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Reaped {
        status,
        peak_rss_kib: ru.ru_maxrss,
        cpu_seconds: secs(ru.ru_utime) + secs(ru.ru_stime),
    })
}

/// One `ocbgp global rib [--json]` run in namespace `ns`, bounded by
/// `limit`; the client is killed when the limit passes.
async fn one(
    ns: &str,
    bin: &Path,
    json_out: bool,
    daemon_pid: u32,
    dir: &Path,
    limit: Duration,
) -> Result<Value> {
    let name = if json_out { "cli-rib-json" } else { "cli-rib" };
    let before = crate::measure::usage(daemon_pid)
        .map(|u| u.rss)
        .unwrap_or(0);
    let sampler = RssSampler::start(daemon_pid, Duration::from_millis(50));
    // Through `ip netns exec`, which execs the client: the pid is ocbgp's.
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(bin)
        .args(["-t", crate::gnmi_load::TARGET, "global", "rib"]);
    if json_out {
        c.arg("--json");
    }
    c.stdin(Stdio::null()).stdout(Stdio::piped());
    c.stderr(std::fs::File::create(dir.join(format!("{name}.log")))?);
    let t0 = mono_ns();
    let mut child = c
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id() as i32;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    // The child is reaped by wait4 (for its rusage), never by `child`.
    let work = tokio::task::spawn_blocking(move || -> std::io::Result<(Reading, Reaped)> {
        let reading = read_rows(stdout, json_out)?;
        Ok((reading, wait4(pid)?))
    });
    let joined = match tokio::time::timeout(limit, work).await {
        Ok(joined) => joined,
        Err(_) => {
            // SAFETY: kill has no memory preconditions; the child is not yet
            // reaped (the blocking task reaps it after its output ends), so
            // the pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            bail!(
                "{name} did not finish within {} s (killed)",
                limit.as_secs()
            );
        }
    };
    let (reading, reaped) = joined.map_err(|e| anyhow!("{name} reader: {e}"))??;
    let peak = sampler.max();
    drop(sampler);
    if !libc::WIFEXITED(reaped.status) || libc::WEXITSTATUS(reaped.status) != 0 {
        bail!(
            "{name} failed (wait status {}); see {name}.log",
            reaped.status
        );
    }
    let mb = |b: u64| (b as f64 / 1e5).round() / 10.0;
    Ok(json!({
        "json": json_out,
        "first_row_seconds": reading.first_row_ns.map(|t| seconds_between(t0, t)),
        "seconds": seconds_between(t0, reading.end_ns),
        "rows": reading.rows,
        "lines": reading.lines,
        "bytes": reading.bytes,
        "client_peak_rss_mb": mb(reaped.peak_rss_kib.max(0) as u64 * 1024),
        "client_cpu_s": (reaped.cpu_seconds * 100.0).round() / 100.0,
        "daemon_rss_before_mb": mb(before),
        "daemon_rss_rise_mb": mb(peak.saturating_sub(before)),
    }))
}

/// Runs the table and the JSON read one after the other; each result also
/// says whether its rows match the table size `prefixes`.
pub async fn timed_rib(
    ns: &str,
    daemon_pid: u32,
    prefixes: usize,
    dir: &Path,
    limit: Duration,
) -> Value {
    let bin = match ocbgp_binary() {
        Ok(bin) => bin,
        Err(e) => return json!({"error": format!("{e:#}")}),
    };
    let mut runs = Vec::new();
    for json_out in [false, true] {
        let mut v = one(ns, &bin, json_out, daemon_pid, dir, limit)
            .await
            .unwrap_or_else(|e| json!({"json": json_out, "error": format!("{e:#}")}));
        if let Some(rows) = v["rows"].as_u64() {
            v["complete"] = json!(rows == prefixes as u64);
        }
        eprintln!(
            "bgpbench: ocbgp global rib{}: {v}",
            if json_out { " --json" } else { "" }
        );
        runs.push(v);
    }
    json!({"runs": runs})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_table_and_of_json() {
        // As `ocbgp global rib` prints it: the best-path mark's column first.
        let table = "   Network        Next Hop\n*> 10.0.0.0/24    192.0.2.1\n*> 10.0.1.0/24    192.0.2.1\n";
        let r = read_rows(table.as_bytes(), false).unwrap();
        assert_eq!((r.rows, r.lines), (2, 3));
        assert!(r.first_row_ns.is_some());
        let js = "[\n  {\"prefix\":\"10.0.0.0/24\"},\n  {\"prefix\":\"10.0.1.0/24\"}\n]\n";
        let r = read_rows(js.as_bytes(), true).unwrap();
        assert_eq!(r.rows, 2);
        assert_eq!(read_rows("no routes\n".as_bytes(), false).unwrap().rows, 0);
        assert_eq!(read_rows("[]\n".as_bytes(), true).unwrap().rows, 0);
    }
}
