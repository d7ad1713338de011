//! Shared helpers for ocbgp's end-to-end tests: where things are, running
//! the project's binaries, and waiting for them without sleeping blindly.

pub mod lab;

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Path of one of the workspace's binaries (`ocbgpd`, `ocbgp`), built next to
/// the test executable. `scripts/test` builds them before the tests run.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// Path of one of the workspace's example programs (`embed` of the
/// engine), built in the `examples` folder next to the binaries:
/// `cargo build --workspace --bins --examples` (scripts/test does).
pub fn example_path(name: &str) -> PathBuf {
    let bin = bin_path("ocbgpd");
    let path = bin
        .parent()
        .expect("target dir")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --examples` first (scripts/test does)",
        path.display()
    );
    path
}

/// Waits until `cond` holds, checking every 20 ms, for at most `limit`.
/// Returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Starts `ocbgpd` with the given arguments, logs to the test's stderr.
    pub fn start(args: &[&str]) -> Daemon {
        let child = Command::new(bin_path("ocbgpd"))
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start ocbgpd");
        Daemon { child }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits up to `limit` for a clean exit; returns the
    /// exit status, or None if it had to be killed.
    pub fn stop(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python snippet with `python3`, returning stdout; panics with its
/// stderr if it fails.
pub fn python(code: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
