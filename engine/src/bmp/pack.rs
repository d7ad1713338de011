//! Route Monitoring reports waiting to be written, packed: per view (a
//! peer's table, or the Loc-RIB) the latest state of each route, written
//! out as few UPDATEs as possible, one per attribute set (RFC 7854 4.6: an
//! UPDATE may carry several NLRI). A table has far fewer attribute sets
//! than routes, so this is several times smaller than one message per
//! route.

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;

use crate::rib::{Attrs, PeerIdx};
use crate::wire::Family;

/// Which table a report is of: a peer's (with the per-peer header's L and
/// O flags saying which of its RIBs), or the Loc-RIB (`peer` None).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct View {
    /// The peer, or None for the Loc-RIB.
    pub peer: Option<PeerIdx>,
    /// Flags for the per-peer header (L, O).
    pub flags: u8,
}

/// A route of a view: prefix and path id.
pub(super) type Route = (IpNet, u32);

/// What one view reports of one family: withdrawn routes, and announced
/// ones grouped by attribute set.
pub(super) struct Packed {
    /// The view.
    pub view: View,
    /// The family.
    pub family: Family,
    /// Routes withdrawn.
    pub withdrawn: Vec<Route>,
    /// Routes announced, by attribute set.
    pub announced: Vec<(Attrs, Vec<Route>)>,
}

/// The reports of one view and family.
#[derive(Default)]
struct Waiting {
    /// Changes: the last state of each route.
    changed: HashMap<Route, Option<Attrs>>,
    /// Dumps (each route once): announcements by attribute set, kept
    /// lean, since a dump may hold a whole table.
    dumped: HashMap<usize, (Attrs, Vec<Route>)>,
}

/// Reports not yet written.
#[derive(Default)]
pub(super) struct Pending {
    /// Views and families in the order they were first reported.
    order: Vec<(View, Family)>,
    waiting: HashMap<(View, Family), Waiting>,
    /// Routes waiting, all views.
    len: usize,
}

impl Pending {
    fn of(&mut self, view: View, family: Family) -> &mut Waiting {
        self.waiting.entry((view, family)).or_insert_with(|| {
            self.order.push((view, family));
            Waiting::default()
        })
    }

    /// Notes the state of a route: announced with `attrs`, or withdrawn.
    /// A route reported twice keeps its last state, which is what a
    /// station must end up with.
    pub fn put(&mut self, view: View, family: Family, route: Route, attrs: Option<Attrs>) {
        if self.of(view, family).changed.insert(route, attrs).is_none() {
            self.len += 1;
        }
    }

    /// Notes a route of a dump, announced: each route at most once per
    /// view between two [`Pending::take`]s (a later [`Pending::put`] of
    /// it wins).
    pub fn put_dumped(&mut self, view: View, family: Family, route: Route, attrs: &Attrs) {
        self.of(view, family)
            .dumped
            .entry(Arc::as_ptr(attrs) as usize)
            .or_insert_with(|| (attrs.clone(), Vec::new()))
            .1
            .push(route);
        self.len += 1;
    }

    /// Routes waiting, all views together.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Everything that waits, packed, views in the order first reported;
    /// routes sorted within each group.
    pub fn take(&mut self) -> Vec<Packed> {
        self.len = 0;
        let mut waiting = std::mem::take(&mut self.waiting);
        std::mem::take(&mut self.order)
            .into_iter()
            .filter_map(|(view, family)| {
                let Waiting {
                    changed,
                    mut dumped,
                } = waiting.remove(&(view, family))?;
                if !changed.is_empty() && !dumped.is_empty() {
                    for (_, routes) in dumped.values_mut() {
                        routes.retain(|r| !changed.contains_key(r));
                    }
                }
                let mut withdrawn = Vec::new();
                for (route, attrs) in changed {
                    match attrs {
                        None => withdrawn.push(route),
                        Some(a) => dumped
                            .entry(Arc::as_ptr(&a) as usize)
                            .or_insert_with(|| (a, Vec::new()))
                            .1
                            .push(route),
                    }
                }
                withdrawn.sort_unstable();
                let mut announced: Vec<(Attrs, Vec<Route>)> = dumped
                    .into_values()
                    .filter(|(_, r)| !r.is_empty())
                    .collect();
                for (_, r) in &mut announced {
                    r.sort_unstable();
                }
                // Deterministic order: by first route.
                announced.sort_unstable_by(|a, b| a.1.first().cmp(&b.1.first()));
                Some(Packed {
                    view,
                    family,
                    withdrawn,
                    announced,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::PathAttrs;

    fn set(med: u32) -> Attrs {
        let mut a = PathAttrs::default();
        a.attrs.med = Some(med);
        Arc::new(a)
    }

    fn net(s: &str) -> Route {
        (s.parse::<IpNet>().unwrap(), 0)
    }

    #[test]
    fn routes_sharing_a_set_go_together_and_the_last_state_wins() {
        let mut p = Pending::default();
        let view = View {
            peer: Some(PeerIdx(1)),
            flags: 0,
        };
        let (a, b) = (set(1), set(2));
        p.put(
            view,
            Family::IPV4_UNICAST,
            net("10.0.0.0/8"),
            Some(a.clone()),
        );
        p.put(
            view,
            Family::IPV4_UNICAST,
            net("11.0.0.0/8"),
            Some(b.clone()),
        );
        p.put(
            view,
            Family::IPV4_UNICAST,
            net("12.0.0.0/8"),
            Some(a.clone()),
        );
        // Announced, then withdrawn: withdrawn.
        p.put(
            view,
            Family::IPV4_UNICAST,
            net("13.0.0.0/8"),
            Some(a.clone()),
        );
        p.put(view, Family::IPV4_UNICAST, net("13.0.0.0/8"), None);
        let loc = View {
            peer: None,
            flags: 0,
        };
        p.put(loc, Family::IPV4_UNICAST, net("10.0.0.0/8"), Some(b));
        assert_eq!(p.len(), 5);
        let out = p.take();
        assert!(p.is_empty());
        assert_eq!(p.len(), 0);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].view, view);
        assert_eq!(out[0].withdrawn, vec![net("13.0.0.0/8")]);
        assert_eq!(out[0].announced.len(), 2);
        assert!(Arc::ptr_eq(&out[0].announced[0].0, &a));
        assert_eq!(
            out[0].announced[0].1,
            vec![net("10.0.0.0/8"), net("12.0.0.0/8")]
        );
        assert_eq!(out[1].view, loc);
    }

    #[test]
    fn dumped_routes_pack_with_changes_and_yield_to_them() {
        let mut p = Pending::default();
        let view = View {
            peer: None,
            flags: 0,
        };
        let (a, b) = (set(1), set(2));
        p.put_dumped(view, Family::IPV4_UNICAST, net("10.0.0.0/8"), &a);
        p.put_dumped(view, Family::IPV4_UNICAST, net("11.0.0.0/8"), &a);
        p.put_dumped(view, Family::IPV4_UNICAST, net("12.0.0.0/8"), &b);
        // A change after the dump wins: 11 withdrawn, 12 now with `a`.
        p.put(view, Family::IPV4_UNICAST, net("11.0.0.0/8"), None);
        p.put(
            view,
            Family::IPV4_UNICAST,
            net("12.0.0.0/8"),
            Some(a.clone()),
        );
        let out = p.take();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].withdrawn, vec![net("11.0.0.0/8")]);
        assert_eq!(out[0].announced.len(), 1);
        assert_eq!(
            out[0].announced[0].1,
            vec![net("10.0.0.0/8"), net("12.0.0.0/8")]
        );
    }
}
