//! Interned path attributes: every distinct attribute set is stored once
//! and shared by every route that carries it (a full table has about seven
//! routes per set).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use crate::wire::{AsPath, Attributes, NextHop, Origin};

/// The attributes of a route: the UPDATE's path attributes and the next hop
/// it was announced with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PathAttrs {
    /// Path attributes.
    pub attrs: Attributes,
    /// Next hop; `None` for routes we originate without one (next-hop self
    /// on export).
    pub next_hop: Option<NextHop>,
}

impl PathAttrs {
    /// A route of our own: `origin`, an empty AS_PATH (export puts our AS
    /// in front toward external peers), no other attribute, next hop self.
    pub fn originated(origin: Origin) -> PathAttrs {
        PathAttrs {
            attrs: Attributes {
                origin: Some(origin),
                as_path: Some(AsPath::default()),
                ..Attributes::default()
            },
            next_hop: None,
        }
    }
}

/// A shared, interned attribute set.
pub type Attrs = Arc<PathAttrs>;

/// The index the state tree gives a value (an attribute set, a list of
/// communities): a hash of its content, so the same content gets the same
/// index on every read and in every table.
pub fn state_index<T: Hash + ?Sized>(value: &T) -> u64 {
    // SipHash with fixed keys: stable across reads and restarts.
    let mut h = std::hash::DefaultHasher::new();
    value.hash(&mut h);
    // Within 63 bits, so JSON readers that parse numbers as i64 cope.
    h.finish() >> 1
}

/// Which kind of indexed set a lookup names (`bgp/rib/attr-sets`,
/// `communities`, `ext-communities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// A whole attribute set, by [`state_index`] of the [`PathAttrs`].
    Attributes,
    /// A set's communities, by [`state_index`] of the list.
    Communities,
    /// A set's extended communities, by [`state_index`] of the list.
    ExtCommunities,
}

impl SetKind {
    /// The index of `attrs`'s set of this kind; `None` when the kind's list
    /// is empty (routes without communities point to no community set).
    pub fn index_of(self, attrs: &PathAttrs) -> Option<u64> {
        match self {
            SetKind::Attributes => Some(state_index(attrs)),
            SetKind::Communities => {
                (!attrs.attrs.communities.is_empty()).then(|| state_index(&attrs.attrs.communities))
            }
            SetKind::ExtCommunities => (!attrs.attrs.extended_communities.is_empty())
                .then(|| state_index(&attrs.attrs.extended_communities)),
        }
    }
}

/// Attribute sets by state index, for reads of one set: built on the
/// first lookup (a daemon nobody reads never hashes a set twice), then kept
/// up to date as sets are interned, and dropped at each sweep.
#[derive(Debug, Default)]
struct SetIndex(HashMap<(SetKind, u64), Weak<PathAttrs>>);

impl SetIndex {
    fn add(&mut self, attrs: &Attrs) {
        for kind in [
            SetKind::Attributes,
            SetKind::Communities,
            SetKind::ExtCommunities,
        ] {
            if let Some(i) = kind.index_of(attrs) {
                self.0
                    .entry((kind, i))
                    .or_insert_with(|| Arc::downgrade(attrs));
            }
        }
    }
}

/// The set of live attribute sets.
#[derive(Debug, Default)]
pub struct Interner {
    /// foldhash, seeded per process: peers choose the attributes, so the
    /// hash is keyed, and it is several times faster than SipHash here.
    sets: HashSet<Attrs, foldhash::fast::RandomState>,
    /// Size at which the next sweep of unused sets happens.
    sweep_at: usize,
    /// Sets made since the last [`Interner::sweep_fresh`]: export makes
    /// one per outgoing attribute set that lives only until its UPDATE is
    /// encoded.
    fresh: Vec<Attrs>,
    index: Option<SetIndex>,
}

impl Interner {
    /// The shared copy of `attrs`.
    pub fn intern(&mut self, mut attrs: PathAttrs) -> Attrs {
        if let Some(shared) = self.sets.get(&attrs) {
            return shared.clone();
        }
        // Kept for as long as a route uses it: no spare capacity, no
        // share of a receive buffer.
        attrs.attrs.shrink_to_fit();
        let shared = Arc::new(attrs);
        self.sets.insert(shared.clone());
        self.fresh.push(shared.clone());
        if let Some(index) = &mut self.index {
            index.add(&shared);
        }
        if self.sets.len() >= self.sweep_at {
            self.sweep();
        }
        shared
    }

    /// Drops the sets made since the last call that nothing uses any more
    /// (those export made for a flush, those replaced within a batch): in
    /// proportion to what was made, so it runs after every flush and the
    /// memory of a flush's outgoing sets is free for the next.
    pub fn sweep_fresh(&mut self) {
        let mut dropped = false;
        for a in std::mem::take(&mut self.fresh) {
            // Held by `sets` and by `a` only.
            if Arc::strong_count(&a) == 2 {
                self.sets.remove(&a);
                dropped = true;
            }
        }
        if dropped {
            // As in `sweep`: an entry may point to a set just dropped.
            self.index = None;
        }
    }

    /// Drops sets no route uses any more. Amortised: runs when the set has
    /// doubled since the last sweep.
    pub fn sweep(&mut self) {
        self.fresh.clear();
        self.sets.retain(|a| Arc::strong_count(a) > 1);
        self.sweep_at = (self.sets.len() * 2).max(1024);
        // A community entry may point to a set just dropped while another
        // live set has the same list: rebuilt on the next lookup.
        self.index = None;
    }

    /// The attribute set whose `kind` index is `index` (for a community
    /// kind: any set with that list). The first lookup after a sweep
    /// hashes every set once.
    pub fn lookup(&mut self, kind: SetKind, index: u64) -> Option<Attrs> {
        let sets = &self.sets;
        let built = self.index.get_or_insert_with(|| {
            let mut built = SetIndex::default();
            for a in sets {
                built.add(a);
            }
            built
        });
        built.0.get(&(kind, index)).and_then(Weak::upgrade)
    }

    /// Number of distinct sets held.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether no set is held.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sets_share_one_copy() {
        let mut i = Interner::default();
        let mut a = PathAttrs::default();
        a.attrs.med = Some(5);
        let x = i.intern(a.clone());
        let y = i.intern(a);
        assert!(Arc::ptr_eq(&x, &y));
        drop((x, y));
        i.sweep();
        assert!(i.is_empty());
    }

    #[test]
    fn fresh_sets_nothing_holds_go_at_once() {
        let mut i = Interner::default();
        let set = |med| {
            let mut a = PathAttrs::default();
            a.attrs.med = Some(med);
            a
        };
        let kept = i.intern(set(1));
        drop(i.intern(set(2)));
        i.sweep_fresh();
        assert_eq!(i.len(), 1);
        assert!(Arc::ptr_eq(&i.intern(set(1)), &kept));
        // Interned before the last call: left to the amortised sweep.
        drop(kept);
        i.sweep_fresh();
        assert_eq!(i.len(), 1);
        i.sweep();
        assert!(i.is_empty());
    }

    #[test]
    fn sets_are_found_by_state_index() {
        let mut i = Interner::default();
        let mut a = PathAttrs::default();
        a.attrs.med = Some(5);
        a.attrs.communities = vec![crate::wire::Community(0x0001_0002)];
        let x = i.intern(a.clone());
        let attrs_index = state_index(&*x);
        assert!(Arc::ptr_eq(
            &i.lookup(SetKind::Attributes, attrs_index).unwrap(),
            &x
        ));
        // Interned after the index was built: found too.
        let mut b = a.clone();
        b.attrs.med = Some(6);
        let y = i.intern(b);
        assert!(Arc::ptr_eq(
            &i.lookup(SetKind::Attributes, state_index(&*y)).unwrap(),
            &y
        ));
        let c = i
            .lookup(SetKind::Communities, state_index(&a.attrs.communities))
            .unwrap();
        assert_eq!(c.attrs.communities, a.attrs.communities);
        assert_eq!(SetKind::ExtCommunities.index_of(&a), None);
        assert!(i.lookup(SetKind::Attributes, attrs_index ^ 1).is_none());
    }
}
