//! RPKI origin validation (RFC 6811): sessions with RPKI-to-Router caches
//! (RFC 8210, `rtr`) give validated ROA payloads; their union goes to the
//! RIB, which validates every route against it ([`Vrps`]), offers the
//! result to routing policy and shows it in the RIB state. A change of the
//! VRPs makes the RIB judge again only the routes it covers.

mod rtr;
mod vrp;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

pub use rtr::{decode, CacheSettings, CacheState, Pdu, RtrError};
pub use vrp::{origin_as, Validation, Vrp, Vrps};

use crate::bmp::RibSource;
use crate::rib_task::RibCommand;

/// One cache's session.
struct Cache {
    settings: CacheSettings,
    state: Arc<CacheState>,
    stop: watch::Sender<bool>,
}

/// The VRPs of every cache and how many caches give each.
#[derive(Default)]
struct Union {
    per_cache: HashMap<SocketAddr, Arc<HashSet<Vrp>>>,
    counts: HashMap<Vrp, u32>,
}

impl Union {
    /// Takes `cache`'s new set; the VRPs that appeared and went overall.
    fn update(&mut self, cache: SocketAddr, vrps: Arc<HashSet<Vrp>>) -> (Vec<Vrp>, Vec<Vrp>) {
        let old = self
            .per_cache
            .insert(cache, vrps.clone())
            .unwrap_or_default();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for v in old.difference(&vrps) {
            if let Some(c) = self.counts.get_mut(v) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(v);
                    removed.push(*v);
                }
            }
        }
        for v in vrps.difference(&old) {
            let c = self.counts.entry(*v).or_insert(0);
            *c += 1;
            if *c == 1 {
                added.push(*v);
            }
        }
        if vrps.is_empty() {
            self.per_cache.remove(&cache);
        }
        (added, removed)
    }
}

/// The caches and the VRPs they give.
pub struct Rpki {
    caches: Mutex<HashMap<SocketAddr, Cache>>,
    union: Arc<Mutex<Union>>,
    updates: mpsc::UnboundedSender<rtr::CacheUpdate>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<rtr::CacheUpdate>>>,
    rib: RibSource,
}

impl Rpki {
    /// No cache yet; VRPs go to the RIB `rib` gives.
    pub(crate) fn new(rib: RibSource) -> Rpki {
        let (updates, receiver) = mpsc::unbounded_channel();
        Rpki {
            caches: Mutex::new(HashMap::new()),
            union: Arc::default(),
            updates,
            receiver: Mutex::new(Some(receiver)),
            rib,
        }
    }

    /// Runs exactly `caches` (on the current tokio runtime): new ones
    /// connect, changed ones reconnect, removed ones go with their VRPs.
    pub fn set_caches(&self, caches: &[CacheSettings]) {
        if let Some(mut rx) = self
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let union = self.union.clone();
            let rib = self.rib.clone();
            tokio::spawn(async move {
                while let Some(u) = rx.recv().await {
                    let (added, removed) = union
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .update(u.cache, u.vrps);
                    if added.is_empty() && removed.is_empty() {
                        continue;
                    }
                    if let Some(r) = rib() {
                        r.send(RibCommand::Vrps(added, removed));
                    }
                }
            });
        }
        let mut running = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let wanted: HashMap<SocketAddr, CacheSettings> =
            caches.iter().map(|c| (c.address, *c)).collect();
        running.retain(|addr, c| {
            let keep = wanted.get(addr) == Some(&c.settings);
            if !keep {
                let _ = c.stop.send(true);
                let _ = self.updates.send(rtr::CacheUpdate {
                    cache: *addr,
                    vrps: Arc::default(),
                });
            }
            keep
        });
        for (addr, settings) in wanted {
            if running.contains_key(&addr) {
                continue;
            }
            let state = Arc::new(CacheState::default());
            let (stop, stop_rx) = watch::channel(false);
            tokio::spawn(rtr::run(
                settings,
                state.clone(),
                self.updates.clone(),
                stop_rx,
            ));
            running.insert(
                addr,
                Cache {
                    settings,
                    state,
                    stop,
                },
            );
        }
    }

    /// Sends every VRP to the RIB again (a new RIB after the speaker's
    /// identity changed).
    pub fn resync(&self) {
        let all: Vec<Vrp> = self
            .union
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .counts
            .keys()
            .copied()
            .collect();
        if let (false, Some(r)) = (all.is_empty(), (self.rib)()) {
            r.send(RibCommand::Vrps(all, Vec::new()));
        }
    }

    /// The caches with their sessions' state.
    pub fn caches(&self) -> Vec<(CacheSettings, Arc<CacheState>)> {
        let running = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = running
            .values()
            .map(|c| (c.settings, c.state.clone()))
            .collect();
        out.sort_by_key(|(s, _)| s.address);
        out
    }
}
