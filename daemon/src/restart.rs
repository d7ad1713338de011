//! Whether ocbgpd comes up after a restart of itself (graceful restart,
//! RFC 4724 4.1). While it runs it touches a file in its state directory
//! every few seconds; at start, a file touched within the longest restart
//! time it announces means its peers still hold its routes: it starts as
//! a restarting speaker. This works for a crash (kill -9) as for a
//! restart by SIGTERM; a stop by SIGINT removes the file (a hard stop).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

/// The heartbeat file in the state directory.
const FILE: &str = "bgp-alive";
/// How often the file is touched.
const BEAT: Duration = Duration::from_secs(2);

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Whether the daemon ran within `window` (its longest announced restart
/// time) before now.
pub fn restarted(state_dir: &Path, window: Duration) -> bool {
    let Ok(modified) = std::fs::metadata(file(state_dir)).and_then(|m| m.modified()) else {
        return false;
    };
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age <= window)
}

/// Touches the file now and every few seconds until `stop` turns true.
pub async fn heartbeat(state_dir: PathBuf, mut stop: watch::Receiver<bool>) {
    let path = file(&state_dir);
    let mut warned = false;
    loop {
        if let Err(e) = std::fs::write(&path, b"") {
            if !warned {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the graceful restart heartbeat; a restart will not be announced as one");
                warned = true;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(BEAT) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// A hard stop: the next start is not a restart.
pub fn forget(state_dir: &Path) {
    let _ = std::fs::remove_file(file(state_dir));
}
