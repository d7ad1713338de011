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

/// The VRPs of every cache: each cache's set as its session last sent it
/// (shared with the session, not copied); a VRP is in force while some
/// cache gives it.
#[derive(Default)]
struct Union {
    per_cache: HashMap<SocketAddr, Arc<HashSet<Vrp>>>,
}

impl Union {
    /// Takes `cache`'s new set; the VRPs that appeared and went overall.
    fn update(&mut self, cache: SocketAddr, vrps: Arc<HashSet<Vrp>>) -> (Vec<Vrp>, Vec<Vrp>) {
        let old = match vrps.is_empty() {
            true => self.per_cache.remove(&cache),
            false => self.per_cache.insert(cache, vrps.clone()),
        }
        .unwrap_or_default();
        let elsewhere = |v: &Vrp| {
            self.per_cache
                .iter()
                .any(|(c, set)| *c != cache && set.contains(v))
        };
        let added = vrps
            .difference(&old)
            .filter(|v| !elsewhere(v))
            .copied()
            .collect();
        let removed = old
            .difference(&vrps)
            .filter(|v| !elsewhere(v))
            .copied()
            .collect();
        (added, removed)
    }

    /// Every VRP in force, once.
    fn all(&self) -> Vec<Vrp> {
        let mut sets = self.per_cache.values();
        match (sets.next(), self.per_cache.len()) {
            (None, _) => Vec::new(),
            (Some(only), 1) => only.iter().copied().collect(),
            _ => self
                .per_cache
                .values()
                .flat_map(|s| s.iter().copied())
                .collect::<HashSet<Vrp>>()
                .into_iter()
                .collect(),
        }
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
        let all = self.union.lock().unwrap_or_else(|e| e.into_inner()).all();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vrp(prefix: &str, asn: u32) -> Vrp {
        let prefix: ipnet::IpNet = prefix.parse().unwrap();
        Vrp {
            prefix,
            max_len: prefix.prefix_len(),
            asn,
        }
    }

    fn set(vrps: &[Vrp]) -> Arc<HashSet<Vrp>> {
        Arc::new(vrps.iter().copied().collect())
    }

    fn sorted(mut v: Vec<Vrp>) -> Vec<Vrp> {
        v.sort();
        v
    }

    #[test]
    fn the_union_changes_only_with_what_no_other_cache_gives() {
        let (a, b) = (
            "127.0.0.1:8282".parse().unwrap(),
            "127.0.0.2:8282".parse().unwrap(),
        );
        let (x, y, z) = (
            vrp("192.0.2.0/24", 1),
            vrp("198.51.100.0/24", 2),
            vrp("2001:db8::/32", 3),
        );
        let mut u = Union::default();
        let (added, removed) = u.update(a, set(&[x, y]));
        assert_eq!((sorted(added), removed), (vec![x, y], vec![]));
        // y from both caches: nothing new overall.
        let (added, removed) = u.update(b, set(&[y, z]));
        assert_eq!((added, removed), (vec![z], vec![]));
        assert_eq!(sorted(u.all()), vec![x, y, z]);
        // Cache a drops y: b still gives it.
        let (added, removed) = u.update(a, set(&[x]));
        assert_eq!((added, removed), (vec![], vec![]));
        // Cache b goes: its VRPs go, but for those a gives.
        let (added, removed) = u.update(b, Arc::default());
        assert_eq!((added, sorted(removed)), (vec![], vec![y, z]));
        assert_eq!(u.all(), vec![x]);
        let (_, removed) = u.update(a, Arc::default());
        assert_eq!(removed, vec![x]);
        assert!(u.all().is_empty());
    }
}
