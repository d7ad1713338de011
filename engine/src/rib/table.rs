//! One family's table: every path to every prefix, in key order, and the
//! prefixes whose best path changed since the last export flush.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use super::bestpath::{self, SelectionOptions, Sources};
use super::key::RouteKey;
use super::path::{Path, PeerIdx};

/// The paths to one prefix: best first, then the other accepted ones, then
/// the rejected ones.
#[derive(Debug, Clone, Default)]
pub struct Dest {
    paths: Paths,
}

/// A prefix's paths. One path, the common case, is held inline, and the
/// whole is no bigger than one path (the list sits beside the inline
/// path's non-null pointer): a million prefixes cost 40 bytes each in the
/// table's nodes instead of the 56 a small vector would take.
#[derive(Debug, Clone)]
enum Paths {
    One(Path),
    Many(Vec<Path>),
}

impl Default for Paths {
    fn default() -> Self {
        Paths::Many(Vec::new())
    }
}

impl std::ops::Deref for Paths {
    type Target = [Path];

    fn deref(&self) -> &[Path] {
        match self {
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Paths {
    fn deref_mut(&mut self) -> &mut [Path] {
        match self {
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }
}

impl Paths {
    /// Adds `path` at the end.
    fn push(&mut self, path: Path) {
        *self = match std::mem::take(self) {
            Paths::Many(v) if v.is_empty() => Paths::One(path),
            Paths::Many(mut v) => {
                v.push(path);
                Paths::Many(v)
            }
            Paths::One(first) => Paths::Many(vec![first, path]),
        };
    }

    /// Removes and returns the path at `i` (which must be in range).
    fn remove(&mut self, i: usize) -> Path {
        match std::mem::take(self) {
            Paths::One(p) => p,
            Paths::Many(mut v) => {
                let p = v.remove(i);
                *self = match v.len() {
                    1 => Paths::One(v.remove(0)),
                    _ => Paths::Many(v),
                };
                p
            }
        }
    }
}

impl Dest {
    /// The best path, if any path is accepted.
    pub fn best(&self) -> Option<&Path> {
        self.paths.first().filter(|p| p.accepted.is_some())
    }

    /// Every path, best first.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// The path from `peer` with `path_id`.
    pub fn get(&self, peer: PeerIdx, path_id: u32) -> Option<&Path> {
        self.paths
            .iter()
            .find(|p| p.peer == peer && p.path_id == path_id)
    }
}

/// What a change did to a peer's routes, for the prefix counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    /// Change in received (pre-policy) paths.
    pub received: i64,
    /// Change in accepted (post-policy) paths.
    pub accepted: i64,
}

impl Delta {
    fn of(old: Option<&Path>, new: Option<&Path>) -> Delta {
        let count = |p: Option<&Path>| {
            (
                i64::from(p.is_some()),
                i64::from(p.is_some_and(|p| p.accepted.is_some())),
            )
        };
        let (r0, a0) = count(old);
        let (r1, a1) = count(new);
        Delta {
            received: r1 - r0,
            accepted: a1 - a0,
        }
    }
}

/// A prefix whose best path changed since the last flush.
#[derive(Debug, Clone)]
pub struct Change<K> {
    /// The prefix.
    pub key: K,
    /// Its best path before the first change since the last flush.
    pub before: Option<Path>,
    /// Its best path now.
    pub after: Option<Path>,
}

/// One family's routes.
#[derive(Debug)]
pub struct Table<K: RouteKey> {
    dests: BTreeMap<K, Dest>,
    /// Prefixes whose best path changed: (before, now). Export and the
    /// counters read both from here, so a flush looks nothing up.
    dirty: HashMap<K, (Option<Path>, Option<Path>), foldhash::fast::RandomState>,
    /// The buffer [`Table::take_dirty`] fills, kept between flushes
    /// ([`Table::give_back`]) so a flush allocates nothing new.
    spare: Vec<Change<K>>,
    /// When someone watches route changes (the change feed): the paths
    /// touched since the last take, before and after each change.
    touched: Option<Vec<(K, PeerIdx, u32)>>,
    /// Whether every path may have changed (best-path options changed).
    touched_all: bool,
    /// Whether a change to any accepted path notes its prefix, not only a
    /// change of the best: route-server clients need it (path hiding).
    note_accepted: bool,
}

impl<K: RouteKey> Default for Table<K> {
    fn default() -> Self {
        Table {
            dests: BTreeMap::new(),
            dirty: HashMap::default(),
            spare: Vec::new(),
            touched: None,
            touched_all: false,
            note_accepted: false,
        }
    }
}

impl<K: RouteKey> Table<K> {
    /// Number of prefixes with at least one path.
    pub fn len(&self) -> usize {
        self.dests.len()
    }

    /// Number of paths over all prefixes.
    pub fn paths(&self) -> usize {
        self.dests.values().map(|d| d.paths.len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// The paths to `key`.
    pub fn get(&self, key: K) -> Option<&Dest> {
        self.dests.get(&key)
    }

    /// The destinations within `net` (itself and its more-specifics).
    pub fn within(&self, net: K) -> impl Iterator<Item = (&K, &Dest)> {
        let covering = net.to_net();
        self.range_from(Some(net))
            .take_while(move |(k, _)| covering.contains(&k.to_net()))
    }

    /// Every prefix in key order, starting at `from` (inclusive), for
    /// streaming walks that resume where they stopped.
    pub fn range_from(&self, from: Option<K>) -> impl Iterator<Item = (&K, &Dest)> {
        use std::ops::Bound;
        let start = from.map_or(Bound::Unbounded, Bound::Included);
        self.dests.range((start, Bound::Unbounded))
    }

    /// Puts `path` in place of the path with the same source and id (or
    /// removes that path when `path` is `None` for (`peer`, `path_id`)),
    /// reselects the best path and notes the prefix when the best changed.
    pub fn set<S: Sources>(
        &mut self,
        key: K,
        peer: PeerIdx,
        path_id: u32,
        path: Option<Path>,
        sources: &S,
        opts: &SelectionOptions,
    ) -> Delta {
        let dest = self.dests.entry(key).or_default();
        if let Some(t) = &mut self.touched {
            // The best flag of every path of the prefix may change.
            t.extend(dest.paths.iter().map(|p| (key, p.peer, p.path_id)));
            t.push((key, peer, path_id));
        }
        let before = dest.best().cloned();
        let slot = dest
            .paths
            .iter()
            .position(|p| p.peer == peer && p.path_id == path_id);
        // Whether an accepted path came, went or changed.
        let mut touched_accepted = false;
        let old = match (slot, path) {
            (Some(i), Some(new)) => {
                let delta = Delta::of(Some(&dest.paths[i]), Some(&new));
                let was = &dest.paths[i];
                touched_accepted =
                    (was.accepted.is_some() || new.accepted.is_some()) && *was != new;
                dest.paths[i] = new;
                delta
            }
            (Some(i), None) => {
                let was = dest.paths.remove(i);
                touched_accepted = was.accepted.is_some();
                Delta::of(Some(&was), None)
            }
            (None, Some(new)) => {
                let delta = Delta::of(None, Some(&new));
                dest.paths.push(new);
                delta
            }
            (None, None) => Delta::default(),
        };
        bestpath::select(&mut dest.paths, sources, opts);
        let changed = match (&before, dest.best()) {
            (Some(a), Some(b)) => !a.same_as(b),
            (None, None) => false,
            _ => true,
        };
        // A change to another accepted path matters to route-server
        // clients (path hiding, RFC 7947 2.3.2.1): with some, the prefix is
        // noted too, with its unchanged best path, which other groups skip.
        let changed = changed || (self.note_accepted && (old.accepted != 0 || touched_accepted));
        // A prefix noted before keeps its best up to date even when this
        // change kept the same best path (its received attributes may
        // have changed).
        match self.dirty.entry(key) {
            Entry::Occupied(noted) => noted.into_mut().1 = dest.best().cloned(),
            Entry::Vacant(slot) if changed => {
                slot.insert((before, dest.best().cloned()));
            }
            Entry::Vacant(_) => {}
        }
        if dest.paths.is_empty() {
            self.dests.remove(&key);
        }
        old
    }

    /// Reselects the best path of every prefix (after a change of selection
    /// options or of a source's facts), noting those that changed.
    pub fn reselect_all<S: Sources>(&mut self, sources: &S, opts: &SelectionOptions) {
        if self.touched.is_some() {
            self.touched_all = true;
        }
        for (key, dest) in self.dests.iter_mut() {
            let before = dest.best().cloned();
            bestpath::select(&mut dest.paths, sources, opts);
            let changed = match (&before, dest.best()) {
                (Some(a), Some(b)) => !a.same_as(b),
                (None, None) => false,
                _ => true,
            };
            if changed {
                let after = dest.best().cloned();
                self.dirty.entry(*key).or_insert_with(|| (before, None)).1 = after;
            }
        }
    }

    /// The keys and path ids of every path from `peer` (for flushing a
    /// peer's routes or re-running its import policy). A full scan: the
    /// table is shared by all peers to keep per-route memory small.
    pub fn paths_of(&self, peer: PeerIdx) -> Vec<(K, u32)> {
        let mut out = Vec::new();
        for (key, dest) in &self.dests {
            for p in dest.paths.iter().filter(|p| p.peer == peer) {
                out.push((*key, p.path_id));
            }
        }
        out
    }

    /// Takes the prefixes whose best path changed since the last call.
    pub fn take_dirty(&mut self) -> Vec<Change<K>> {
        let mut out = std::mem::take(&mut self.spare);
        let changes = self.dirty.drain();
        out.extend(changes.map(|(key, (before, after))| Change { key, before, after }));
        // Key order packs neighbouring prefixes together, which is what
        // receivers' tries like best.
        out.sort_unstable_by_key(|c| c.key);
        out
    }

    /// Returns the buffer [`Table::take_dirty`] gave, once read.
    pub fn give_back(&mut self, mut changes: Vec<Change<K>>) {
        changes.clear();
        self.spare = changes;
    }

    /// Whether changes to non-best accepted paths note their prefix for
    /// export (only while route-server clients exist: it costs every
    /// other group a look at an unchanged best path).
    pub fn note_every_accepted(&mut self, on: bool) {
        self.note_accepted = on;
    }

    /// Starts or stops noting touched paths for the change feed.
    pub fn watch(&mut self, on: bool) {
        if on != self.touched.is_some() {
            self.touched = on.then(Vec::new);
            self.touched_all = false;
        }
    }

    /// Notes a prefix for export although its best path did not change
    /// (something export policies look at did).
    pub fn mark_dirty(&mut self, key: K) {
        let best = self.dests.get(&key).and_then(|d| d.best().cloned());
        self.dirty
            .entry(key)
            .or_insert_with(|| (best.clone(), best));
    }

    /// Notes a path as touched for the change feed although it did not
    /// change (its graceful restart state did).
    pub fn touch(&mut self, key: K, peer: PeerIdx, path_id: u32) {
        if let Some(t) = &mut self.touched {
            t.push((key, peer, path_id));
        }
    }

    /// Takes the paths touched since the last call (sorted, each once),
    /// and whether every path may have changed.
    pub fn take_touched(&mut self) -> (Vec<(K, PeerIdx, u32)>, bool) {
        let Some(t) = &mut self.touched else {
            return (Vec::new(), false);
        };
        let mut out = std::mem::take(t);
        out.sort_unstable();
        out.dedup();
        (out, std::mem::take(&mut self.touched_all))
    }

    /// Whether export has work to do.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Every prefix with a best path, in key order.
    pub fn best_paths(&self) -> impl Iterator<Item = (K, &Path)> {
        self.dests
            .iter()
            .filter_map(|(k, d)| d.best().map(|b| (*k, b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::PathAttrs;

    fn path(peer: u32) -> Path {
        Path {
            peer: PeerIdx(peer),
            path_id: 0,
            received: std::sync::Arc::new(PathAttrs::default()),
            accepted: None,
            since: 0,
        }
    }

    #[test]
    fn paths_hold_one_inline_and_more_in_a_list() {
        assert_eq!(std::mem::size_of::<Dest>(), std::mem::size_of::<Path>());
        let mut paths = Paths::default();
        assert!(paths.is_empty());
        for peer in 1..=3 {
            paths.push(path(peer));
        }
        let peers = |p: &Paths| p.iter().map(|p| p.peer.0).collect::<Vec<_>>();
        assert_eq!(peers(&paths), [1, 2, 3]);
        assert_eq!(paths.remove(1).peer, PeerIdx(2));
        assert_eq!(paths.remove(0).peer, PeerIdx(1));
        assert!(matches!(paths, Paths::One(_)));
        assert_eq!(peers(&paths), [3]);
        paths[0].since = 7;
        assert_eq!(paths.remove(0).since, 7);
        assert!(paths.is_empty());
        paths.push(path(4));
        assert_eq!(peers(&paths), [4]);
    }
}
