//! MRT dumps (RFC 6396, RFC 8050): BGP4MP logs of route changes and
//! session state changes, and TABLE_DUMP_V2 snapshots of the RIB, written
//! to files by one task per configured dump. Like BMP stations they read
//! the RIB's change feed and tables from their own task: a slow disk never
//! slows the RIB task.

pub mod encode;
mod task;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bmp::RibSource;

/// What a dump writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// BGP4MP_ET: every route change as an UPDATE, and state changes.
    Updates,
    /// TABLE_DUMP_V2 snapshots.
    Table,
}

/// A dump's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSettings {
    /// Its name (the list key).
    pub name: String,
    /// What it writes.
    pub kind: DumpKind,
    /// File name template (strftime fields, UTC).
    pub file_name: String,
    /// Updates: seconds between new files; table: between snapshots. 0:
    /// one file / one snapshot.
    pub rotation_interval: u32,
}

/// What management reads about a dump.
#[derive(Debug, Default)]
pub struct DumpStats {
    current: Mutex<Option<String>>,
    /// Records written.
    pub records: AtomicU64,
    /// Times changes were lost (the dump fell behind the RIB).
    pub lost: AtomicU64,
}

impl DumpStats {
    /// The file being written (or last written).
    pub fn current_file(&self) -> Option<String> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_current(&self, f: String) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }
}

/// A dump as management sees it.
#[derive(Debug, Clone)]
pub struct DumpView {
    /// Its configuration.
    pub settings: DumpSettings,
    /// Its counters.
    pub stats: Arc<DumpStats>,
}

struct Running {
    settings: DumpSettings,
    stats: Arc<DumpStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The configured dumps.
pub struct Dumps {
    source: RibSource,
    running: Mutex<BTreeMap<String, Running>>,
}

impl Dumps {
    pub(crate) fn new(source: RibSource) -> Dumps {
        Dumps {
            source,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a dump or restarts it with changed settings (an unchanged
    /// one is not touched). Must run within a tokio runtime.
    pub fn set(&self, settings: DumpSettings) {
        let mut running = self.running();
        if running
            .get(&settings.name)
            .is_some_and(|r| r.settings == settings)
        {
            return;
        }
        if let Some(old) = running.remove(&settings.name) {
            let _ = old.stop.send(true);
        }
        let stats = Arc::new(DumpStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(task::run(
            settings.clone(),
            stats.clone(),
            self.source.clone(),
            stop_rx,
        ));
        running.insert(
            settings.name.clone(),
            Running {
                settings,
                stats,
                stop,
                task,
            },
        );
    }

    /// Stops a dump (its file is flushed and closed).
    pub fn remove(&self, name: &str) {
        if let Some(r) = self.running().remove(name) {
            let _ = r.stop.send(true);
        }
    }

    /// Every dump, by name.
    pub fn list(&self) -> Vec<DumpView> {
        self.running()
            .values()
            .map(|r| DumpView {
                settings: r.settings.clone(),
                stats: r.stats.clone(),
            })
            .collect()
    }

    /// Stops every dump, waiting at most `limit` for files to be flushed.
    pub async fn stop_all(&self, limit: Duration) {
        let all: Vec<Running> = std::mem::take(&mut *self.running()).into_values().collect();
        for r in &all {
            let _ = r.stop.send(true);
        }
        let _ = tokio::time::timeout(limit, async {
            for r in all {
                let _ = r.task.await;
            }
        })
        .await;
    }
}

/// Expands a file name template at `time` (UTC): `%Y %m %d %H %M %S`,
/// `%s` (Unix seconds) and `%%`; anything else is kept as written.
pub fn expand(template: &str, time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('s') => out.push_str(&secs.to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_expand_in_utc() {
        // 2024-02-29 13:05:09 UTC.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_211_909);
        assert_eq!(
            expand("/var/mrt/%Y/%m/%d/updates.%H%M%S.%s.%%.%q", t),
            "/var/mrt/2024/02/29/updates.130509.1709211909.%.%q"
        );
        assert_eq!(expand("x%", UNIX_EPOCH), "x%");
    }
}
