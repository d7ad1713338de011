//! Clocks and process accounting.
//!
//! Times that cross process boundaries (the injector's first UPDATE, each
//! sink's completion) are read from `CLOCK_MONOTONIC`, which every process
//! on the machine shares (network namespaces do not change it), and are
//! passed around as nanoseconds.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Now on `CLOCK_MONOTONIC`, in nanoseconds.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id exists
    // on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Seconds between two [`mono_ns`] readings.
pub fn seconds_between(start_ns: u64, end_ns: u64) -> f64 {
    end_ns.saturating_sub(start_ns) as f64 / 1e9
}

/// Resource use of one process, from `/proc/PID`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Peak resident set size (VmHWM), bytes.
    pub peak_rss: u64,
    /// Resident set size now (VmRSS), bytes.
    pub rss: u64,
    /// User plus system CPU time of all its threads, seconds.
    pub cpu_seconds: f64,
}

/// Reads a process's memory and CPU counters.
pub fn usage(pid: u32) -> Result<Usage> {
    let status_path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&status_path)
        .with_context(|| format!("reading {}", status_path.display()))?;
    let stat_path = PathBuf::from(format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(&stat_path)
        .with_context(|| format!("reading {}", stat_path.display()))?;
    Ok(Usage {
        peak_rss: status_kib(&status, "VmHWM:").unwrap_or(0) * 1024,
        rss: status_kib(&status, "VmRSS:").unwrap_or(0) * 1024,
        cpu_seconds: cpu_ticks(&stat)? as f64 / clock_ticks_per_second(),
    })
}

/// A `VmXXX:   1234 kB` line of `/proc/PID/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        line.strip_prefix(key)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock
/// ticks. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from its closing parenthesis.
pub fn cpu_ticks(stat: &str) -> Result<u64> {
    let Some(close) = stat.rfind(')') else {
        bail!("no command name in /proc stat line")
    };
    // After ")": field 3 (state) is the first.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("stat field {n} missing"))
    };
    Ok(field(14)? + field(15)?)
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/PID/stat` times.
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Samples a process's RSS until stopped and keeps the maximum: the peak
/// for processes whose VmHWM is not enough (a daemon that forks).
#[derive(Debug)]
pub struct RssSampler {
    max: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Starts sampling `pid` every `period`.
    pub fn start(pid: u32, period: Duration) -> Self {
        let max = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = max.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                match usage(pid) {
                    Ok(u) => {
                        seen.fetch_max(u.rss.max(u.peak_rss), std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(_) => return,
                }
            }
        });
        RssSampler { max, task }
    }

    /// The largest RSS seen so far, bytes.
    pub fn max(&self) -> u64 {
        self.max.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_awkward_name() {
        let line = "1234 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 15 16 17";
        assert_eq!(cpu_ticks(line).unwrap(), 333);
    }

    #[test]
    fn own_usage_is_readable() {
        let u = usage(std::process::id()).unwrap();
        assert!(u.peak_rss >= u.rss && u.rss > 0);
        assert!(mono_ns() > 0);
    }
}
