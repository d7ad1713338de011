//! BMP (RFC 7854, RFC 8671, RFC 9069): monitoring stations ocbgpd
//! reports to. Each configured station is one task (`station`) that
//! connects to it, reconnecting with backoff, and follows the RIB's route
//! change feed; [`Stations`] starts, changes and stops them as commits
//! say, one station at a time.

pub mod encode;
mod pack;
mod station;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::rib_task::RibHandle;

pub use station::QUEUE;
pub(crate) use station::{read_batch, DumpPath};

/// A station's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationSettings {
    /// Its address.
    pub address: IpAddr,
    /// Its TCP port.
    pub port: u16,
    /// Report the Adj-RIBs-In before import policy.
    pub pre_policy: bool,
    /// Report the Adj-RIBs-In after import policy.
    pub post_policy: bool,
    /// Report the Loc-RIB (RFC 9069).
    pub loc_rib: bool,
    /// Report what each neighbor would be sent before export policy
    /// (RFC 8671; see [`crate::rib::Rib::advertised_pre_policy`]).
    pub out_pre_policy: bool,
    /// Report what each neighbor is sent, after export policy (RFC 8671).
    pub out_post_policy: bool,
    /// Seconds between Statistics Reports; 0 sends none.
    pub statistics_interval: u16,
}

impl StationSettings {
    /// The station's key: address and port.
    pub fn key(&self) -> StationKey {
        (self.address, self.port)
    }
}

/// A station's key in the model: address and port.
pub type StationKey = (IpAddr, u16);

/// What management reads about a station.
#[derive(Debug, Default)]
pub struct StationStats {
    /// Connected.
    pub up: AtomicBool,
    /// BMP messages written.
    pub messages_sent: AtomicU64,
    /// Queue overflows (each closed the connection).
    pub drops: AtomicU64,
    /// Connections established.
    pub connections: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl StationStats {
    /// Why the last connection failed or ended.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_error(&self, e: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
    }
}

/// Where a station (or an MRT dump) finds the RIB (None while BGP is not
/// running).
pub(crate) type RibSource = Arc<dyn Fn() -> Option<RibHandle> + Send + Sync>;

/// One running station.
struct Running {
    settings: StationSettings,
    stats: Arc<StationStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The configured stations.
pub struct Stations {
    source: RibSource,
    running: Mutex<BTreeMap<StationKey, Running>>,
}

/// A station as management sees it.
#[derive(Debug, Clone)]
pub struct StationView {
    /// Its configuration.
    pub settings: StationSettings,
    /// Its counters.
    pub stats: Arc<StationStats>,
}

impl Stations {
    pub(crate) fn new(source: RibSource) -> Stations {
        Stations {
            source,
            running: Mutex::new(BTreeMap::new()),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<StationKey, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a station, or restarts it with changed settings; a station
    /// whose settings did not change is not touched. Must run within a
    /// tokio runtime.
    pub fn set(&self, settings: StationSettings) {
        let key = settings.key();
        let mut running = self.running();
        if running.get(&key).is_some_and(|r| r.settings == settings) {
            return;
        }
        // Counters carry over a change of settings.
        let stats = match running.remove(&key) {
            Some(old) => {
                let _ = old.stop.send(true);
                old.stats
            }
            None => Arc::new(StationStats::default()),
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(station::run(
            settings.clone(),
            stats.clone(),
            self.source.clone(),
            stop_rx,
        ));
        running.insert(
            key,
            Running {
                settings,
                stats,
                stop,
                task,
            },
        );
    }

    /// Stops a station (Termination is sent if it is connected).
    pub fn remove(&self, key: StationKey) {
        if let Some(r) = self.running().remove(&key) {
            let _ = r.stop.send(true);
        }
    }

    /// Every station, in key order.
    pub fn list(&self) -> Vec<StationView> {
        self.running()
            .values()
            .map(|r| StationView {
                settings: r.settings.clone(),
                stats: r.stats.clone(),
            })
            .collect()
    }

    /// Stops every station and waits, at most `limit`, for them to send
    /// Termination (the daemon's shutdown).
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

/// Reads a station's counters.
pub fn counter(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
