//! Interned path attributes: every distinct attribute set is stored once
//! and shared by every route that carries it (a full table has about seven
//! routes per set).

use std::collections::HashSet;
use std::sync::Arc;

use crate::wire::{Attributes, NextHop};

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

/// A shared, interned attribute set.
pub type Attrs = Arc<PathAttrs>;

/// The set of live attribute sets.
#[derive(Debug, Default)]
pub struct Interner {
    sets: HashSet<Attrs>,
    /// Size at which the next sweep of unused sets happens.
    sweep_at: usize,
}

impl Interner {
    /// The shared copy of `attrs`.
    pub fn intern(&mut self, attrs: PathAttrs) -> Attrs {
        if let Some(shared) = self.sets.get(&attrs) {
            return shared.clone();
        }
        let shared = Arc::new(attrs);
        self.sets.insert(shared.clone());
        if self.sets.len() >= self.sweep_at {
            self.sweep();
        }
        shared
    }

    /// Drops sets no route uses any more. Amortised: runs when the set has
    /// doubled since the last sweep.
    pub fn sweep(&mut self) {
        self.sets.retain(|a| Arc::strong_count(a) > 1);
        self.sweep_at = (self.sets.len() * 2).max(1024);
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
}
