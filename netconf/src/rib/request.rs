//! What part of the RIB a `<get>` asks for: the branch of its filter
//! into `bgp/rib`, and the path below `rib` that branch stays within.

use ocbgp_models::path::{DataPath, Segment};
use ocbgp_models::schema;

use super::{in_ni, TO_RIB};
use crate::filter::{self, Filter};
use crate::xml::Element;

/// What part of the RIB a `<get>` asks for.
pub struct RibRequest {
    /// A subtree filter (the `<filter>` element) cut down to its branch
    /// into the RIB.
    pub(super) filter: Element,
    /// The path below `bgp/rib` the branch stays within (empty: all of
    /// the RIB): what is read of the state provider.
    pub(super) below: String,
}

/// The part of the RIB `filter` selects; `None` when it selects none of
/// it (no filter at all reads everything but the RIB).
pub fn request(filter: &Filter) -> Option<RibRequest> {
    let filter = match filter {
        Filter::Subtree(f) => branch(f)?,
        Filter::XPath(x) => xpath_filter(x)?,
    };
    let below = below_rib(&filter);
    Some(RibRequest { filter, below })
}

/// The path below `rib` that the branch `filter` (one chain down to
/// `rib`) stays within: down its single containment or selection nodes,
/// with their content match nodes as keys. Only the tables (and sets)
/// on it are read: a filter for the Loc-RIB does not read the Adj-RIBs
/// too. It may hold more than the filter selects (content matches on
/// leaves that are not keys, a selection node on a leaf); every entry
/// goes through the filter anyway.
fn below_rib(filter: &Element) -> String {
    let mut f = filter;
    for name in TO_RIB {
        match f.children.iter().find(|c| c.name == name && in_ni(c)) {
            Some(c) => f = c,
            None => return String::new(),
        }
    }
    let mut path = DataPath::default();
    loop {
        let mut down = f.children.iter().filter(|c| !filter::is_content_match(c));
        let (Some(next), None) = (down.next(), down.next()) else {
            break;
        };
        let keys: Vec<(String, String)> = next
            .children
            .iter()
            .filter(|c| filter::is_content_match(c))
            .map(|c| (c.name.clone(), c.value().to_string()))
            .collect();
        if !in_ni(next)
            || keys
                .iter()
                .any(|(_, v)| v.contains('\'') && v.contains('"'))
        {
            break;
        }
        path.segments.push(Segment {
            module: None,
            name: next.name.clone(),
            keys,
        });
        f = next;
    }
    let below = path.to_string();
    // Names a path cannot hold select nothing of the RIB: read all of it.
    match DataPath::parse(&format!("/rib{below}")) {
        Ok(_) if !path.segments.is_empty() => below,
        _ => String::new(),
    }
}

/// The branch of subtree filter `f` that reaches the `rib` element: at
/// each level its content match nodes (the keys) and the way down.
fn branch(f: &Element) -> Option<Element> {
    fn down(f: &Element, depth: usize) -> Option<Element> {
        if depth + 1 == TO_RIB.len() {
            return Some(f.clone());
        }
        let next = f
            .children
            .iter()
            .filter(|c| c.name == TO_RIB[depth + 1] && in_ni(c))
            .find_map(|c| down(c, depth + 1))?;
        let mut out = f.clone_shallow();
        out.children.extend(
            f.children
                .iter()
                .filter(|c| filter::is_content_match(c))
                .cloned(),
        );
        out.children.push(next);
        Some(out)
    }
    let top = f
        .children
        .iter()
        .filter(|c| c.name == TO_RIB[0] && in_ni(c))
        .find_map(|c| down(c, 0))?;
    let mut out = f.clone_shallow();
    out.children.push(top);
    Some(out)
}

/// An XPath (module-name prefixes) that is a plain path through
/// `bgp/rib`, as a subtree filter.
fn xpath_filter(xpath: &str) -> Option<Element> {
    let path = DataPath::parse(xpath.trim()).ok()?;
    let names: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
    if !names.starts_with(&TO_RIB) {
        return None;
    }
    let mut ns = String::new();
    let mut chain = Vec::new();
    for seg in &path.segments {
        if let Some(m) = &seg.module {
            ns = schema::module(m)?.namespace?.to_string();
        }
        let mut e = Element::new(&seg.name, Some(&ns));
        for (k, v) in &seg.keys {
            // Key names may carry their module, as the rest of the path.
            let k = k.rsplit_once(':').map_or(k.as_str(), |(_, name)| name);
            let mut key = Element::new(k, Some(&ns));
            key.text = v.clone();
            if let Some((prefix, _)) = v.split_once(':') {
                if let Some(module_ns) = schema::module(prefix).and_then(|m| m.namespace) {
                    key.bind(prefix, module_ns);
                }
            }
            e.children.push(key);
        }
        chain.push(e);
    }
    let mut inner = chain.pop()?;
    while let Some(mut parent) = chain.pop() {
        parent.children.push(inner);
        inner = parent;
    }
    let mut f = Element::new("filter", None);
    f.children.push(inner);
    Some(f)
}
