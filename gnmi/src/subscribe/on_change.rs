//! Change detection: which commits concern a subscribed path, and what
//! changed between two readings of it.
//!
//! Configuration changes come from the datastore's commit events; a commit
//! that touches a subscribed path (wildcards included, or an ancestor of
//! it) makes that path be read again at once. State has no events: paths
//! whose subtree holds state are read every
//! [`super::SubscribeOptions::state_poll_interval`] (1 s by default). Either
//! way the new reading is compared with what the client was last sent: new
//! or changed leaves become updates, leaves that went become deletes (of the
//! highest node that went entirely, not above the subscribed path).

use ocbgp_models::datastore::CommitEvent;

use crate::encode::{Leaf, Leaves};
use crate::path::{self, format_elems, ANY_DEPTH, ANY_NAME};
use crate::proto::gnmi::{Path, PathElem};

/// A name without its module.
fn bare(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, n)| n)
}

/// Whether two key values are the same, allowing one to carry an
/// identity's module and the other not (a false match only costs a read).
fn same_key(a: &str, b: &str) -> bool {
    a == b || bare(a) == bare(b)
}

fn elem_matches(pattern: &PathElem, concrete: &PathElem) -> bool {
    if pattern.name != ANY_NAME && bare(&pattern.name) != bare(&concrete.name) {
        return false;
    }
    pattern
        .key
        .iter()
        .all(|(k, v)| v == ANY_NAME || concrete.key.get(k).is_none_or(|c| same_key(v, c)))
}

/// Whether a concrete path and a subscription pattern overlap: the concrete
/// node is in a subscribed subtree, or is an ancestor of one.
pub(crate) fn overlaps(pattern: &[PathElem], concrete: &[PathElem]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((p, rest)) if p.name == ANY_DEPTH => {
            (0..=concrete.len()).any(|i| overlaps(rest, &concrete[i..]))
        }
        Some((p, rest)) => match concrete.split_first() {
            None => true,
            Some((c, crest)) => elem_matches(p, c) && overlaps(rest, crest),
        },
    }
}

/// Whether a commit changed anything a subscription to `pattern` covers.
pub(crate) fn concerns(event: &CommitEvent, pattern: &[PathElem]) -> bool {
    let ctx = ocbgp_models::schema::context();
    event.changes.iter().any(|change| {
        // A leaf-list entry's path ends in a value predicate gNMI paths do
        // not have: the leaf-list itself is what changed.
        let data_path = match change.path.rfind("[.=") {
            Some(i) if change.path.ends_with(']') => &change.path[..i],
            _ => change.path.as_str(),
        };
        match path::from_data_path(ctx, data_path) {
            Ok(p) => overlaps(pattern, &p.elem),
            // Cannot tell: read again rather than miss a change.
            Err(_) => true,
        }
    })
}

/// The depth above which deletes are not reported: the fixed part of the
/// pattern (elements before any `...`), at least one element.
pub(crate) fn delete_floor(pattern: &[PathElem]) -> usize {
    pattern
        .iter()
        .take_while(|e| e.name != ANY_DEPTH)
        .count()
        .max(1)
}

/// Whether any path in `now` is `prefix` or lies below it.
fn occupied(now: &Leaves, prefix: &str) -> bool {
    if now.contains_key(prefix) {
        return true;
    }
    let below = format!("{prefix}/");
    now.range(below.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&below))
        || {
            // List entries: `/a/b[k=v]` lies below `/a/b` with no slash.
            let entry = format!("{prefix}[");
            now.range(entry.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&entry))
        }
}

/// The paths to report deleted for leaves of `last` that `now` lacks: for
/// each, the highest node on its path (at depth `floor` or below) with
/// nothing left in `now`, each reported once.
pub(crate) fn deletes(last: &Leaves, now: &Leaves, floor: usize) -> Vec<Path> {
    let mut out: Vec<Vec<PathElem>> = Vec::new();
    for (text, leaf) in last {
        if now.contains_key(text) {
            continue;
        }
        let elems = &leaf.path.elem;
        let depth = (floor.min(elems.len())..=elems.len())
            .find(|&k| k > 0 && !occupied(now, &format_elems(&elems[..k])))
            .unwrap_or(elems.len());
        let gone = elems[..depth].to_vec();
        if !out.iter().any(|o| gone.starts_with(o)) {
            out.retain(|o| !o.starts_with(&gone));
            out.push(gone);
        }
    }
    out.into_iter()
        .map(|elem| Path {
            elem,
            ..Default::default()
        })
        .collect()
}

/// Leaves of `now` that `last` does not have with the same value.
pub(crate) fn changed<'n>(last: &Leaves, now: &'n Leaves) -> Vec<&'n Leaf> {
    now.iter()
        .filter(|(k, leaf)| last.get(*k).is_none_or(|old| old.json != leaf.json))
        .map(|(_, leaf)| leaf)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::path::parse_text;
    use crate::proto::gnmi::typed_value::Value as Typed;

    fn elems(text: &str) -> Vec<PathElem> {
        parse_text(text).unwrap().elem
    }

    fn leaves(paths: &[(&str, &str)]) -> Leaves {
        paths
            .iter()
            .map(|(p, v)| {
                let path = parse_text(p).unwrap();
                (
                    path::to_text(&path),
                    Leaf {
                        path,
                        json: v.to_string(),
                        typed: Typed::StringVal(v.to_string()),
                        config: true,
                        counter: false,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>()
    }

    #[test]
    fn patterns_overlap_subtrees_and_ancestors() {
        let pattern = elems("/a/b[k=*]/c");
        assert!(overlaps(&pattern, &elems("/a/b[k=1]/c/d")));
        assert!(overlaps(&pattern, &elems("/a/b[k=1]")));
        assert!(overlaps(&pattern, &elems("/a")));
        assert!(!overlaps(&pattern, &elems("/a/b[k=1]/e")));
        assert!(!overlaps(&elems("/a/b[k=2]"), &elems("/a/b[k=1]/c")));
        assert!(overlaps(&elems("/a/.../d"), &elems("/a/b[k=1]/c/d")));
        assert!(overlaps(&elems("/*/b"), &elems("/x/b/c")));
        assert!(overlaps(&elems("/m:a/b"), &elems("/a/b")));
        assert!(overlaps(&elems("/a/p[id=BGP]"), &elems("/a/p[id=mod:BGP]")));
    }

    #[test]
    fn deletes_report_the_highest_node_gone() {
        let last = leaves(&[
            ("/a/n[k=1]/x", "1"),
            ("/a/n[k=1]/y", "2"),
            ("/a/n[k=2]/x", "3"),
            ("/a/n[k=2]/y", "4"),
        ]);
        let now = leaves(&[("/a/n[k=2]/x", "3")]);
        let gone: Vec<String> = deletes(&last, &now, 1).iter().map(path::to_text).collect();
        assert_eq!(gone, ["/a/n[k=1]", "/a/n[k=2]/y"]);
        // Not above the subscribed path.
        let gone: Vec<String> = deletes(&last, &leaves(&[]), 3)
            .iter()
            .map(path::to_text)
            .collect();
        assert_eq!(
            gone,
            ["/a/n[k=1]/x", "/a/n[k=1]/y", "/a/n[k=2]/x", "/a/n[k=2]/y"]
        );
        let gone: Vec<String> = deletes(&last, &leaves(&[]), 2)
            .iter()
            .map(path::to_text)
            .collect();
        assert_eq!(gone, ["/a/n[k=1]", "/a/n[k=2]"]);
    }

    #[test]
    fn changes_are_new_or_different_values() {
        let last = leaves(&[("/a/x", "1"), ("/a/y", "2")]);
        let now = leaves(&[("/a/x", "1"), ("/a/y", "3"), ("/a/z", "4")]);
        let got: Vec<String> = changed(&last, &now)
            .iter()
            .map(|l| path::to_text(&l.path))
            .collect();
        assert_eq!(got, ["/a/y", "/a/z"]);
        assert_eq!(delete_floor(&elems("/a/b/.../c")), 2);
        assert_eq!(delete_floor(&elems("/")), 1);
    }
}
