//! The subtree filter decided once per shape of entry: entries of one
//! table share the path above them, so what the filter asks of that path
//! (its containment nodes, content matches on the keys above) is the same
//! for all of them. What remains per entry is at most a few content
//! matches on the entry's own leaves; filters that select part of an
//! entry are applied to each one as a tree ([`Plan::PerEntry`]).
//!
//! The rules are those of [`filter::subtree`] for an entry wrapped in its
//! path, the elements above holding only their keys and the way down.

use ocbgp_models::datastore::{StreamElem, StreamEntry, StreamNode};

use super::{in_ni, leaf, KeyKinds};
use crate::filter;
use crate::xml::Element;

/// What a filter selects of the entries of one shape.
#[derive(Debug)]
pub(super) enum Plan {
    /// None of them.
    Nothing,
    /// Each whole, if its leaves match these content match nodes.
    Whole(Vec<Element>),
    /// Part of each, or it depends on more than its leaves: the filter is
    /// applied to the entry's tree.
    PerEntry,
}

/// The plan for entries below `parent` named `name`; `base` elements at
/// the top must be `open`'s (the `bgp` element of the reply).
pub(super) fn plan(
    filter: &Element,
    parent: &[StreamElem],
    name: &str,
    base: &[StreamElem],
    keys: &mut KeyKinds,
) -> Plan {
    if outside(parent, base) {
        return Plan::Nothing;
    }
    // The top level of a subtree filter has no content match nodes.
    let mut f = match way_down(filter, name_at(parent, name, 0), true) {
        Down::One(f) => f,
        Down::None => return Plan::Nothing,
        Down::Many => return Plan::PerEntry,
    };
    for (depth, elem) in parent.iter().enumerate() {
        if f.children.is_empty() {
            return selection_node(f);
        }
        // Content match nodes can only match the keys here.
        let mut matched = Vec::new();
        for c in f.children.iter().filter(|c| filter::is_content_match(c)) {
            match elem.keys.iter().find(|(k, _)| *k == c.name && in_ni(c)) {
                Some(_) => matched.push(c),
                None => return Plan::Nothing,
            }
        }
        if !matched.is_empty() {
            let with_keys = keys.element(&parent[..depth], elem, Vec::new());
            if !matched
                .iter()
                .all(|c| with_keys.children.iter().any(|k| filter::matches(c, k)))
            {
                return Plan::Nothing;
            }
        }
        if f.children.iter().all(filter::is_content_match) {
            // Only content match nodes: all of the element.
            return Plan::Whole(Vec::new());
        }
        f = match way_down(f, name_at(parent, name, depth + 1), false) {
            Down::One(next) => next,
            Down::None => return Plan::Nothing,
            Down::Many => return Plan::PerEntry,
        };
    }
    if f.children.is_empty() {
        return selection_node(f);
    }
    if f.children.iter().all(filter::is_content_match) {
        Plan::Whole(f.children.clone())
    } else {
        Plan::PerEntry
    }
}

/// Whether entries below `parent` are outside the element `base` leads
/// to (the reply's `bgp`).
pub(super) fn outside(parent: &[StreamElem], base: &[StreamElem]) -> bool {
    parent.len() < base.len() || parent[..base.len()] != *base
}

/// A filter node without children: a selection node takes all, a
/// content match on an element with children none.
fn selection_node(f: &Element) -> Plan {
    if f.value().is_empty() {
        Plan::Whole(Vec::new())
    } else {
        Plan::Nothing
    }
}

fn name_at<'a>(parent: &'a [StreamElem], name: &'a str, depth: usize) -> &'a str {
    parent.get(depth).map_or(name, |e| e.name.as_str())
}

enum Down<'a> {
    None,
    One(&'a Element),
    Many,
}

/// The containment or selection node of `f` for the element `name` below.
fn way_down<'a>(f: &'a Element, name: &str, top: bool) -> Down<'a> {
    let mut found = f
        .children
        .iter()
        .filter(|c| c.name == name && in_ni(c) && (top || !filter::is_content_match(c)));
    match (found.next(), found.next()) {
        (None, _) => Down::None,
        (Some(one), None) => Down::One(one),
        (Some(_), Some(_)) => Down::Many,
    }
}

/// Whether `entry`'s own leaves match every content match node `checks`.
pub(super) fn leaves_match(checks: &[Element], entry: &StreamEntry) -> bool {
    checks.iter().all(|c| {
        entry.children.iter().any(|n| match n {
            StreamNode::Leaf(name, v) => filter::matches(c, &leaf(name, v)),
            StreamNode::LeafList(name, values) => {
                values.iter().any(|v| filter::matches(c, &leaf(name, v)))
            }
            StreamNode::Container(..) | StreamNode::List(..) => false,
        })
    })
}
