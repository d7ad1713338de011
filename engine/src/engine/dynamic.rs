//! Dynamic neighbors (OpenConfig `global/dynamic-neighbor-prefixes`): a
//! connection from an address that is no configured neighbor but lies in
//! a range gets a neighbor with the range's peer group settings (the
//! longest range wins), passive and marked dynamic. It is shown with the
//! configured ones (`state/dynamically-configured` true) and removed, its
//! routes withdrawn, when its connection is gone.

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use super::{start_neighbor, Engine, Inner};
use crate::config::{DynamicRange, ResolvedNeighbor};
use crate::session::PeerHandle;

impl Engine {
    /// Puts dynamic-neighbor ranges in force (longest prefix first).
    /// Dynamic neighbors no range covers any more are removed; the others
    /// take their range's current settings.
    pub fn set_dynamic_ranges(&self, ranges: Vec<DynamicRange>) {
        *self.inner.dynamic.lock().unwrap_or_else(|e| e.into_inner()) = ranges.clone();
        let dynamic: Vec<IpAddr> = self
            .neighbors()
            .into_iter()
            .filter(|(_, n)| n.config.dynamic)
            .map(|(a, _)| a)
            .collect();
        for addr in dynamic {
            match range_for(&ranges, addr) {
                None => self.remove_neighbor(addr),
                Some(range) => {
                    let _ = self.set_neighbor(instantiate(range, addr));
                }
            }
        }
    }
}

/// The range `addr` falls in: the first, so the longest, that holds it.
fn range_for(ranges: &[DynamicRange], addr: IpAddr) -> Option<&DynamicRange> {
    ranges.iter().find(|r| r.prefix.contains(&addr))
}

/// The neighbor a range makes for `addr`.
fn instantiate(range: &DynamicRange, addr: IpAddr) -> ResolvedNeighbor {
    let mut n = range.template.clone();
    n.session.remote = addr;
    n.session.dynamic = true;
    n.session.passive = true;
    n
}

/// The listener's decider: a session for a connection from `addr`, or
/// `None` (refused) when no range holds it or BGP is not running.
pub(super) fn accept(inner: &Weak<Inner>, addr: IpAddr) -> Option<PeerHandle> {
    let engine = Engine {
        inner: inner.upgrade()?,
    };
    let range = {
        let ranges = engine
            .inner
            .dynamic
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        range_for(&ranges, addr).cloned()
    };
    let Some(range) = range else {
        tracing::info!(peer = %addr, "connection from an address that is no neighbor and in no dynamic range refused");
        return None;
    };
    let _rt = engine.inner.runtime.enter();
    let policies = engine.policies();
    let (handle, idx) = {
        let mut guard = engine.running();
        let r = guard.as_mut()?;
        if let Some(n) = r.neighbors.get(&addr) {
            // Created by a connection a moment ago.
            return Some(n.handle.clone());
        }
        start_neighbor(r, &engine.inner, instantiate(&range, addr), &policies);
        let n = r.neighbors.get(&addr)?;
        (n.handle.clone(), n.idx)
    };
    tracing::info!(peer = %addr, range = %range.prefix, peer_group = %range.group, "dynamic neighbor created");
    let watch = handle.clone();
    let weak = Arc::downgrade(&engine.inner);
    engine.inner.runtime.spawn(async move {
        watch.closed().await;
        let Some(inner) = weak.upgrade() else { return };
        let engine = Engine { inner };
        // Still the same dynamic neighbor (not replaced by configuration).
        if engine
            .neighbor(addr)
            .is_some_and(|n| n.config.dynamic && n.idx == idx)
        {
            engine.remove_neighbor(addr);
            tracing::info!(peer = %addr, "dynamic neighbor removed");
        }
    });
    Some(handle)
}
