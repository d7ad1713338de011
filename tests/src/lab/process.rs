//! Background processes started inside a lab host: output goes to a log
//! file, and the process is killed when its handle is dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::wait_until;

/// A process running in a lab host's namespace, with stdout and stderr in
/// one log file. Dropping it kills the process (SIGKILL) and reaps it.
pub struct Process {
    name: String,
    child: Mutex<Child>,
    pid: u32,
    log: PathBuf,
    status: Mutex<Option<ExitStatus>>,
}

impl Process {
    /// Spawns `command` with stdout and stderr appended to `log` and stdin
    /// closed. `name` appears in messages ("gobgpd in r1").
    pub(crate) fn spawn(name: &str, mut command: Command, log: &Path) -> Process {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open log file {}: {e}", log.display()));
        let err = out.try_clone().expect("duplicate log file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Process {
            name: name.to_string(),
            pid: child.id(),
            child: Mutex::new(child),
            log: log.to_path_buf(),
            status: Mutex::new(None),
        }
    }

    /// The name given at start ("gobgpd in r1").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (of the program itself: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Path of the log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut status = self.status.lock().unwrap();
        if status.is_none() {
            *status = self.child.lock().unwrap().try_wait().ok().flatten();
        }
        *status
    }

    /// Whether the process is still running.
    pub fn running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Sends a signal by name ("TERM", "HUP", "KILL", "STOP", "CONT").
    pub fn signal(&self, signal: &str) {
        if self.running() {
            let _ = Command::new("kill")
                .args([format!("-{signal}"), self.pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; kills it if it
    /// does not go. Returns the exit status when it exited by itself.
    pub fn stop(&self, limit: Duration) -> Option<ExitStatus> {
        self.signal("TERM");
        if wait_until(limit, || !self.running()) {
            return self.exit_status();
        }
        self.kill();
        None
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        if let Ok(status) = child.wait() {
            self.status.lock().unwrap().get_or_insert(status);
        }
    }

    /// Panics unless the process is running, with the log's tail.
    pub fn assert_running(&self) {
        if let Some(status) = self.exit_status() {
            panic!(
                "{} exited ({status}); its log ends with:\n{}",
                self.name,
                self.log_tail(60)
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[... {start} earlier lines]\n"));
    }
    out.push_str(&all[start..].join("\n"));
    out
}

/// A fresh scratch folder for a config check (removed by [`ScratchDir`]'s
/// Drop).
pub(crate) struct ScratchDir(pub std::path::PathBuf);

impl ScratchDir {
    pub(crate) fn new(tag: &str) -> ScratchDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ocbgp-lab-check-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create scratch folder");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command; Ok(stdout+stderr) if it exits 0, Err(the same) if not.
pub(crate) fn run_check(mut command: Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}
