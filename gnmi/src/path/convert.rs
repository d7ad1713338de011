//! gNMI paths to libyang data paths and XPath queries, and back.
//!
//! libyang's JSON-style paths qualify the first node with its module name and
//! then every node whose module differs from its parent's, e.g.
//! `/openconfig-routing-policy:routing-policy/defined-sets/openconfig-bgp-policy:bgp-defined-sets`.
//! OpenConfig gNMI paths are unqualified; the schema decides the modules.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use yang2::context::Context;
use yang2::schema::{SchemaNode, SchemaNodeKind};

use super::schema::{
    children, descendants, identity_module, is_identityref, list_keys, module_name,
};
use super::text::format_elems;
use super::{split_qualified, PathError, ANY_DEPTH, ANY_NAME, ORIGIN_OPENCONFIG, ORIGIN_RFC7951};
use crate::proto::gnmi::{Path, PathElem};

/// Whether a conversion must name exactly one node or may select many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A data path to one node: no wildcards, every list key given.
    Exact,
    /// An XPath query: wildcards and missing keys select every match.
    Query,
}

/// For a module-name origin, that module; `None` for the OpenConfig origins.
fn origin_module(ctx: &Context, origin: &str) -> Result<Option<String>, PathError> {
    match origin {
        "" | ORIGIN_OPENCONFIG | ORIGIN_RFC7951 => Ok(None),
        name => ctx
            .modules(true)
            .find(|m| m.is_implemented() && m.name() == name)
            .map(|m| Some(m.name().to_string()))
            .ok_or_else(|| PathError::UnsupportedOrigin(name.to_string())),
    }
}

/// Quotes a key value as an XPath literal. NUL cannot pass to libyang
/// (C strings), and XPath 1.0 literals have no escapes.
fn quote(path: &[PathElem], value: &str) -> Result<String, PathError> {
    if value.contains('\0') {
        return Err(PathError::Unrepresentable {
            path: format_elems(path),
            reason: "key value contains a NUL character".to_string(),
        });
    }
    match (value.contains('\''), value.contains('"')) {
        (false, _) => Ok(format!("'{value}'")),
        (true, false) => Ok(format!("\"{value}\"")),
        (true, true) => Err(PathError::Unrepresentable {
            path: format_elems(path),
            reason: format!("key value {value:?} has both quote characters"),
        }),
    }
}

/// Converts a joined gNMI path (see [`super::join`]) to a libyang path.
///
/// The root is `/` in [`Mode::Exact`] and `/*` in [`Mode::Query`].
pub(super) fn to_libyang(ctx: &Context, path: &Path, mode: Mode) -> Result<String, PathError> {
    to_libyang_nodes(ctx, path, mode).map(|(text, _)| text)
}

/// What one element's name resolves to: the schema nodes it may denote,
/// the module they are in (`None` for a wildcard) and, when they are
/// lists, their keys.
struct Resolved<'c> {
    module: Option<String>,
    nodes: Vec<SchemaNode<'c>>,
    keys: Option<Keys<'c>>,
}

/// The keys of the lists an element denotes.
struct Keys<'c> {
    /// Each list's key names (a path's keys must be keys of every list).
    names: Vec<Vec<String>>,
    /// The first list's keys, in schema order, and whether each holds
    /// identities (written without module in OpenConfig paths).
    first: Vec<(SchemaNode<'c>, bool)>,
}

impl<'c> Resolved<'c> {
    fn new(module: Option<String>, nodes: Vec<SchemaNode<'c>>) -> Resolved<'c> {
        let all_lists = !nodes.is_empty() && nodes.iter().all(|n| n.kind() == SchemaNodeKind::List);
        let keys = all_lists.then(|| Keys {
            names: nodes
                .iter()
                .map(|l| list_keys(l).iter().map(|k| k.name().to_string()).collect())
                .collect(),
            first: list_keys(&nodes[0])
                .into_iter()
                .map(|k| {
                    let identity = is_identityref(&k);
                    (k, identity)
                })
                .collect(),
        });
        Resolved {
            module,
            nodes,
            keys,
        }
    }
}

/// What the elements of a path resolve to, by the names leading to them
/// (origin and element names, no keys): the reads of one request share a
/// few shapes (thousands of `attr-set[index=N]`), so the schema is searched
/// once per shape. Kept per thread, for the shared schema context only.
#[derive(Default)]
struct Memo<'c> {
    nodes: HashMap<String, Rc<Resolved<'c>>>,
    /// Module of an identity key value, by key node and value.
    identities: HashMap<usize, HashMap<String, Option<String>>>,
}

impl Memo<'_> {
    fn size(&self) -> usize {
        self.nodes.len() + self.identities.values().map(HashMap::len).sum::<usize>()
    }
}

/// Entries remembered at most before the memo starts over.
const MEMO_MAX: usize = 4096;

thread_local! {
    static MEMO: RefCell<Memo<'static>> = RefCell::new(Memo::default());
}

/// [`to_libyang`], with the schema nodes the last element (before a
/// trailing `...`) may denote; `None` for the root.
pub(super) fn to_libyang_nodes<'c>(
    ctx: &'c Context,
    path: &Path,
    mode: Mode,
) -> Result<(String, Option<Vec<SchemaNode<'c>>>), PathError> {
    let shared = ocbgp_models::schema::context();
    if std::ptr::eq(ctx, shared) {
        return MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if m.size() > MEMO_MAX {
                *m = Memo::default();
            }
            convert(shared, path, mode, Some(&mut m))
        });
    }
    convert(ctx, path, mode, None)
}

fn convert<'c>(
    ctx: &'c Context,
    path: &Path,
    mode: Mode,
    mut memo: Option<&mut Memo<'c>>,
) -> Result<(String, Option<Vec<SchemaNode<'c>>>), PathError> {
    let first_module = origin_module(ctx, &path.origin)?;
    let elems = &path.elem;
    let wildcard = || PathError::Wildcard {
        path: super::text::format(path),
    };
    let mut out = String::new();
    // What the previous element resolved to; None is the schema root.
    let mut set: Option<Rc<Resolved<'c>>> = None;
    // Module of the previous element when known, for qualification.
    let mut prev_module: Option<&str> = None;
    let mut descend = false;
    // The memo key: origin and the names so far.
    let mut shape = path.origin.clone();
    for (i, elem) in elems.iter().enumerate() {
        let before = &elems[..i];
        shape.push('/');
        shape.push_str(&elem.name);
        if elem.name == ANY_DEPTH {
            if mode == Mode::Exact {
                return Err(wildcard());
            }
            no_keys(&elems[..=i], elem)?;
            descend = true;
            prev_module = None;
            continue;
        }
        out.push_str(if descend { "//" } else { "/" });
        if elem.name == ANY_NAME {
            if mode == Mode::Exact {
                return Err(wildcard());
            }
            no_keys(&elems[..=i], elem)?;
        }
        let known = memo.as_ref().and_then(|m| m.nodes.get(&shape)).cloned();
        let resolved = match known {
            Some(hit) => hit,
            None => {
                let parent = set.as_ref().map(|r| r.nodes.as_slice());
                let (module, nodes) =
                    resolve(ctx, before, elem, parent, descend, i, &first_module)?;
                let resolved = Rc::new(Resolved::new(module, nodes));
                if let Some(m) = memo.as_mut() {
                    m.nodes.insert(shape.clone(), resolved.clone());
                }
                resolved
            }
        };
        descend = false;
        match &resolved.module {
            None => out.push('*'),
            Some(m) => {
                if prev_module != Some(m.as_str()) {
                    out.push_str(m);
                    out.push(':');
                }
                out.push_str(split_qualified(&elem.name).map_or(elem.name.as_str(), |(_, n)| n));
            }
        }
        predicates(
            &elems[..=i],
            elem,
            &resolved,
            mode,
            memo.as_deref_mut(),
            &mut out,
        )
        .map_err(|e| match e {
            KeyError::Path(e) => e,
            KeyError::Wildcard => wildcard(),
        })?;
        set = Some(resolved);
        prev_module = set.as_ref().and_then(|r| r.module.as_deref());
    }
    let text = match (out.is_empty(), mode) {
        (true, Mode::Exact) => "/".to_string(),
        (true, Mode::Query) => "/*".to_string(),
        // A trailing `...` adds nothing: the subtree is selected already.
        (false, _) => out,
    };
    Ok((text, set.map(|r| r.nodes.clone())))
}

/// The schema nodes element `i` may denote below `set` (its parent's
/// nodes, or their descendants after `...`), and the module they are in
/// (`None` for a wildcard).
fn resolve<'c>(
    ctx: &'c Context,
    before: &[PathElem],
    elem: &PathElem,
    set: Option<&[SchemaNode<'c>]>,
    descend: bool,
    i: usize,
    first_module: &Option<String>,
) -> Result<(Option<String>, Vec<SchemaNode<'c>>), PathError> {
    let pool = if descend {
        descendants(ctx, set)
    } else {
        match set {
            None => children(ctx, None),
            Some(nodes) => nodes.iter().flat_map(|n| children(ctx, Some(n))).collect(),
        }
    };
    let not_found = || PathError::NotFound {
        path: format_elems(before),
        name: elem.name.clone(),
    };
    if elem.name == ANY_NAME {
        if pool.is_empty() {
            return Err(not_found());
        }
        return Ok((None, pool));
    }
    let (module, name) = split_qualified(&elem.name).ok_or_else(not_found)?;
    let module =
        module
            .map(str::to_string)
            .or_else(|| if i == 0 { first_module.clone() } else { None });
    let matches: Vec<_> = pool
        .into_iter()
        .filter(|n| n.name() == name && module.as_deref().is_none_or(|m| n.module().name() == m))
        .collect();
    let mut modules: Vec<String> = matches.iter().map(module_name).collect();
    modules.sort();
    modules.dedup();
    match modules.as_slice() {
        [] => Err(not_found()),
        [m] => Ok((Some(m.clone()), matches)),
        _ => Err(PathError::Ambiguous {
            path: format_elems(before),
            name: elem.name.clone(),
            modules,
        }),
    }
}

/// Rejects keys on a wildcard element.
fn no_keys(path: &[PathElem], elem: &PathElem) -> Result<(), PathError> {
    if elem.key.is_empty() {
        return Ok(());
    }
    Err(PathError::BadKey {
        path: format_elems(path),
        reason: format!("wildcard {:?} takes no keys", elem.name),
    })
}

/// A key problem, or a missing key where exactly one node is needed.
enum KeyError {
    Path(PathError),
    Wildcard,
}

impl From<PathError> for KeyError {
    fn from(e: PathError) -> Self {
        KeyError::Path(e)
    }
}

/// Writes the predicates of one element, in the schema's key order.
fn predicates(
    path: &[PathElem],
    elem: &PathElem,
    resolved: &Resolved<'_>,
    mode: Mode,
    mut memo: Option<&mut Memo<'_>>,
    out: &mut String,
) -> Result<(), KeyError> {
    let bad_key = |reason: String| {
        KeyError::Path(PathError::BadKey {
            path: format_elems(path),
            reason,
        })
    };
    let Some(keys) = &resolved.keys else {
        // One value of a leaf-list: `import-policy[.=P1]`.
        let leaf_list = !resolved.nodes.is_empty()
            && resolved
                .nodes
                .iter()
                .all(|n| n.kind() == SchemaNodeKind::LeafList);
        if let (true, Some(value), 1) = (leaf_list, elem.key.get("."), elem.key.len()) {
            if value == ANY_NAME {
                return match mode {
                    Mode::Exact => Err(KeyError::Wildcard),
                    _ => Ok(()),
                };
            }
            out.push_str("[.=");
            out.push_str(&quote(path, value)?);
            out.push(']');
            return Ok(());
        }
        if !elem.key.is_empty() {
            return Err(bad_key(format!(
                "{:?} is not a list and takes no keys",
                elem.name
            )));
        }
        return Ok(());
    };
    for (list, names) in resolved.nodes.iter().zip(&keys.names) {
        if let Some(unknown) = elem.key.keys().find(|k| !names.contains(k)) {
            return Err(bad_key(format!(
                "{unknown:?} is not a key of list {:?} (keys: {})",
                list.name(),
                names.join(", ")
            )));
        }
    }
    if keys.first.is_empty() && mode == Mode::Exact {
        // A keyless list has no addressable entries.
        return Err(KeyError::Wildcard);
    }
    for (key, identity) in &keys.first {
        let value = match elem.key.get(key.name()) {
            Some(v) if v != ANY_NAME => v,
            _ if mode == Mode::Exact => return Err(KeyError::Wildcard),
            _ => continue,
        };
        let module = match value.contains(':') || !identity {
            true => None,
            // OpenConfig paths give identities without module; libyang
            // needs the defining module.
            false => {
                let at = key.as_raw() as usize;
                match memo
                    .as_mut()
                    .and_then(|m| m.identities.get(&at)?.get(value.as_str()))
                {
                    Some(known) => known.clone(),
                    None => {
                        let found = identity_module(key, value);
                        if let Some(m) = memo.as_mut() {
                            m.identities
                                .entry(at)
                                .or_default()
                                .insert(value.clone(), found.clone());
                        }
                        found
                    }
                }
            }
        };
        let value = match module {
            Some(m) => format!("{m}:{value}"),
            None => value.clone(),
        };
        out.push('[');
        out.push_str(key.name());
        out.push('=');
        out.push_str(&quote(path, &value)?);
        out.push(']');
    }
    Ok(())
}

/// One node of a libyang data path: module, name and key predicates.
struct Segment {
    module: Option<String>,
    name: String,
    keys: Vec<(String, String)>,
}

/// Splits a libyang data path into segments.
fn parse_data_path(text: &str) -> Result<Vec<Segment>, PathError> {
    let malformed = |reason: &str| PathError::Malformed {
        path: text.to_string(),
        reason: reason.to_string(),
    };
    let unrepresentable = |reason: &str| PathError::Unrepresentable {
        path: text.to_string(),
        reason: reason.to_string(),
    };
    if !text.starts_with('/') {
        return Err(malformed("a data path starts with '/'"));
    }
    if text == "/" {
        return Ok(Vec::new());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut segments = Vec::new();
    while i < chars.len() {
        if chars[i] != '/' {
            return Err(malformed("expected '/'"));
        }
        i += 1;
        let start = i;
        while i < chars.len() && chars[i] != '/' && chars[i] != '[' {
            i += 1;
        }
        let qualified: String = chars[start..i].iter().collect();
        let (module, name) = split_qualified(&qualified)
            .ok_or_else(|| malformed(&format!("{qualified:?} is not a node name")))?;
        if name == ANY_NAME {
            return Err(malformed("wildcards are not data paths"));
        }
        let (module, name) = (module.map(str::to_string), name.to_string());
        let mut keys = Vec::new();
        while i < chars.len() && chars[i] == '[' {
            i += 1;
            let key_start = i;
            while i < chars.len() && chars[i] != '=' && chars[i] != ']' {
                i += 1;
            }
            let key: String = chars[key_start..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_string();
            if i >= chars.len() {
                return Err(malformed("unterminated predicate"));
            }
            if chars[i] == ']' {
                return Err(
                    if key.chars().all(|c| c.is_ascii_digit()) && !key.is_empty() {
                        unrepresentable("positional predicates have no gNMI form")
                    } else {
                        malformed(&format!("predicate {key:?} has no '='"))
                    },
                );
            }
            if key == "." {
                return Err(unrepresentable(
                    "leaf-list value predicates have no gNMI form",
                ));
            }
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let Some(&q) = chars.get(i).filter(|&&c| c == '\'' || c == '"') else {
                return Err(malformed(&format!("value of key {key:?} is not quoted")));
            };
            i += 1;
            let value_start = i;
            while i < chars.len() && chars[i] != q {
                i += 1;
            }
            if i >= chars.len() {
                return Err(malformed(&format!(
                    "value of key {key:?} has no closing quote"
                )));
            }
            let value: String = chars[value_start..i].iter().collect();
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if chars.get(i) != Some(&']') {
                return Err(malformed(&format!(
                    "predicate of key {key:?} has no closing ']'"
                )));
            }
            i += 1;
            // libyang may qualify key names; gNMI keys are plain leaf names.
            let key = key.rsplit(':').next().unwrap_or_default().to_string();
            keys.push((key, value));
        }
        segments.push(Segment { module, name, keys });
    }
    Ok(segments)
}

/// Converts a libyang data path to an OpenConfig-style gNMI path.
pub(super) fn from_libyang(ctx: &Context, data_path: &str) -> Result<Path, PathError> {
    let segments = parse_data_path(data_path)?;
    let mut elems: Vec<PathElem> = Vec::new();
    let mut parent: Option<SchemaNode<'_>> = None;
    let mut prev_module: Option<String> = None;
    for seg in segments {
        let module =
            seg.module
                .clone()
                .or(prev_module.clone())
                .ok_or_else(|| PathError::Malformed {
                    path: data_path.to_string(),
                    reason: "the first node must be module-qualified".to_string(),
                })?;
        let pool = children(ctx, parent.as_ref());
        let Some(node) = pool
            .iter()
            .find(|n| n.name() == seg.name && n.module().name() == module)
            .cloned()
        else {
            return Err(PathError::NotFound {
                path: format_elems(&elems),
                name: format!("{module}:{}", seg.name),
            });
        };
        // Keep the module only where the bare name would be ambiguous.
        let ambiguous = pool.iter().filter(|n| n.name() == seg.name).count() > 1;
        let name = if ambiguous {
            format!("{module}:{}", seg.name)
        } else {
            seg.name.clone()
        };
        let schema_keys = if node.kind() == SchemaNodeKind::List {
            list_keys(&node)
        } else {
            Vec::new()
        };
        let mut key = BTreeMap::new();
        for (k, v) in seg.keys {
            let Some(leaf) = schema_keys.iter().find(|leaf| leaf.name() == k) else {
                return Err(PathError::BadKey {
                    path: format!("{}/{name}", format_elems(&elems)),
                    reason: format!("{k:?} is not a key of {:?}", seg.name),
                });
            };
            // OpenConfig paths give identities without their module.
            let v = match (is_identityref(leaf), v.split_once(':')) {
                (true, Some((_, bare))) => bare.to_string(),
                _ => v,
            };
            key.insert(k, v);
        }
        elems.push(PathElem { name, key });
        prev_module = Some(module);
        parent = Some(node);
    }
    Ok(Path {
        elem: elems,
        ..Default::default()
    })
}
