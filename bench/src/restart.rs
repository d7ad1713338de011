//! `run --restart-daemon kill|term` (ocbgpd only): graceful restart under
//! a full table.
//!
//! The injector and the sinks offer graceful restart (RFC 4724, restart
//! time [`RESTART_TIME`]) and ocbgpd has it enabled towards both. Once the
//! sinks hold the whole table, ocbgpd is stopped (SIGKILL, or SIGTERM and
//! a wait for its exit) and started again on the same state directory and
//! configuration. The sinks keep their tables, connect again, count every
//! withdrawal and, at ocbgpd's End-of-RIB, drop the prefixes it did not
//! send again (stale ones); the injector connects again and sends its
//! table and End-of-RIB, which the restarted ocbgpd waits for before it
//! selects and advertises.
//!
//! Measured from the start of the new process: when the injector's and
//! the sinks' sessions are back, when the injector has resent its table,
//! and when every sink has End-of-RIB (its table in sync again); the
//! withdrawals the sinks received and the stale prefixes they dropped
//! (goal for both: 0), their table sizes after; the new process's peak RSS
//! and CPU time until then.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::measure::{self, mono_ns, seconds_between, RssSampler};
use crate::run::{next_event, Proc};

/// Restart time the injector, the sinks and ocbgpd announce, seconds.
pub const RESTART_TIME: u16 = 120;

/// How ocbgpd is stopped before it is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RestartKind {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a planned restart (`systemctl restart`, an upgrade).
    Term,
}

/// Adds graceful restart towards every neighbor of an ocbgpd configuration.
pub fn enable_in_config(config: &mut Value) -> Result<()> {
    let neighbors = config["openconfig-network-instance:network-instances"]["network-instance"][0]
        ["protocols"]["protocol"][0]["bgp"]["neighbors"]["neighbor"]
        .as_array_mut()
        .ok_or_else(|| anyhow!("no neighbor list in the ocbgpd configuration"))?;
    for n in neighbors {
        n["graceful-restart"] = json!({"config": {"enabled": true, "restart-time": RESTART_TIME}});
    }
    Ok(())
}

/// Stops the daemon (`procs[0]`) the `kind` way, starts `command` in its
/// place and follows the injector's and sinks' events until every sink
/// has had End-of-RIB from the new process. Returns the measurements and
/// the new daemon's pid.
pub async fn restart(
    kind: RestartKind,
    command: tokio::process::Command,
    sinks: usize,
    dir: &Path,
    rx: &mut mpsc::UnboundedReceiver<(String, Value)>,
    procs: &mut [Proc],
    timeout: Duration,
) -> Result<(Value, u32)> {
    let old_pid = procs[0].pid()?;
    let old_rss = measure::usage(old_pid).map(|u| u.rss).unwrap_or(0);
    let signal = match kind {
        RestartKind::Kill => libc::SIGKILL,
        RestartKind::Term => libc::SIGTERM,
    };
    let stop_ns = mono_ns();
    // SAFETY: kill has no memory-safety preconditions; the pid is our own
    // child's, not yet reaped.
    unsafe { libc::kill(old_pid as i32, signal) };
    let status = tokio::time::timeout(Duration::from_secs(60), procs[0].child.wait())
        .await
        .map_err(|_| anyhow!("the daemon did not exit within 60 s of the signal"))??;
    let exited_ns = mono_ns();
    eprintln!(
        "bgpbench: daemon stopped ({status}) {:.3} s after the signal; starting it again",
        seconds_between(stop_ns, exited_ns)
    );
    let start_ns = mono_ns();
    procs[0] = Proc::spawn(&format!("{}-restarted", procs[0].name), command, dir, None)?;
    let pid = procs[0].pid()?;
    let sampler = RssSampler::start(pid, Duration::from_millis(100));

    let at = |t: Option<u64>| t.map(|t| (seconds_between(start_ns, t) * 1000.0).round() / 1000.0);
    let mut sink_lost: Vec<Option<u64>> = vec![None; sinks];
    let mut sink_up: Vec<Option<u64>> = vec![None; sinks];
    let mut sink_restarting: Vec<Option<bool>> = vec![None; sinks];
    let mut sink_eor: Vec<Option<Value>> = vec![None; sinks];
    let mut incomplete_events = 0u64;
    let (mut inject_up, mut inject_first, mut inject_sent) = (None, None, None);
    let mut inject_restarting = None;
    let deadline = Instant::now() + timeout;
    while sink_eor.iter().any(Option::is_none) {
        let (who, event) = next_event(rx, deadline, procs).await?;
        let sink = event["sink"].as_u64().unwrap_or(0) as usize;
        let session = event["session"].as_u64().unwrap_or(0);
        let t = event["t_ns"].as_u64();
        match (who.as_str(), event["event"].as_str()) {
            ("sinks", Some("session_lost")) => {
                if let Some(s) = sink_lost.get_mut(sink) {
                    *s = t;
                }
            }
            ("sinks", Some("established")) if session >= 2 => {
                if let Some(s) = sink_up.get_mut(sink) {
                    *s = t;
                }
                if let Some(s) = sink_restarting.get_mut(sink) {
                    *s = event["restarting"].as_bool();
                }
            }
            ("sinks", Some("end_of_rib")) if session >= 2 => {
                if let Some(s) = sink_eor.get_mut(sink) {
                    *s = Some(event.clone());
                }
            }
            ("sinks", Some("incomplete")) => incomplete_events += 1,
            ("sinks", Some("failed")) => {
                bail!("sink {sink} failed: {}", event["error"])
            }
            ("inject", Some("established")) if session >= 2 => {
                inject_up = t;
                inject_restarting = event["restarting"].as_bool();
            }
            ("inject", Some("first_update")) if session >= 2 => inject_first = t,
            ("inject", Some("sent")) if session >= 2 => inject_sent = t,
            _ => {}
        }
    }
    let usage = measure::usage(pid).unwrap_or_default();
    let peak = usage.peak_rss.max(sampler.max());
    drop(sampler);
    let eor_ns: Vec<u64> = sink_eor
        .iter()
        .flatten()
        .filter_map(|e| e["t_ns"].as_u64())
        .collect();
    let sum = |key: &str| -> u64 {
        sink_eor
            .iter()
            .flatten()
            .filter_map(|e| e[key].as_u64())
            .sum()
    };
    let result = json!({
        "kind": match kind { RestartKind::Kill => "kill", RestartKind::Term => "term" },
        "old_rss_mb": (old_rss as f64 / 1e5).round() / 10.0,
        "exit_s": seconds_between(stop_ns, exited_ns),
        "exit_status": status.to_string(),
        "sink_session_lost_s_after_signal": sink_lost.iter().map(|t| t.map(|t| seconds_between(stop_ns, t))).collect::<Vec<_>>(),
        "injector_established_s": at(inject_up),
        "injector_saw_restart_bit": inject_restarting,
        "injector_first_update_s": at(inject_first),
        "injector_sent_s": at(inject_sent),
        "sinks_established_s": sink_up.iter().map(|t| at(*t)).collect::<Vec<_>>(),
        "sinks_saw_restart_bit": sink_restarting,
        "sinks_end_of_rib_s": sink_eor.iter().map(|e| at(e.as_ref().and_then(|e| e["t_ns"].as_u64()))).collect::<Vec<_>>(),
        "seconds": at(eor_ns.iter().copied().max()),
        "withdrawn": sum("withdrawn"),
        "stale_dropped": sum("swept"),
        "sink_counts_after": sink_eor.iter().map(|e| e.as_ref().map(|e| e["count"].clone())).collect::<Vec<_>>(),
        "incomplete_events": incomplete_events,
        "peak_rss_mb": (peak as f64 / 1e5).round() / 10.0,
        "cpu_s": (usage.cpu_seconds * 100.0).round() / 100.0,
    });
    Ok((result, pid))
}
