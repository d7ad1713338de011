//! What ocbgpd implements, read from the compiled schema: every leaf and
//! leaf-list of the embedded modules, config or state, and whether a
//! deviation module (`yang/ocbgp-deviations.yang`) marks it
//! not-supported. The support table (`yang/support/supported.tsv`) names
//! the test showing each leaf that is not deviated; `models/tests/support.rs`
//! checks the two together and writes `yang/SUPPORT.md`.

use std::collections::{BTreeMap, BTreeSet};

use yang2::context::Context;
use yang2::schema::{SchemaNodeKind, SchemaPathFormat};

use crate::schema;
use crate::ModelError;

/// One leaf or leaf-list of the schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leaf {
    /// Schema path in libyang's data form (module name where it changes).
    pub path: String,
    /// Configuration (true) or state (false).
    pub config: bool,
}

/// The areas leaves are counted in (as `../shared/tools/yang-parity`
/// counts OpenConfig nodes, plus `ocbgp` for our own top-level trees and
/// `network-instance` for the instance and protocol skeleton).
pub const AREAS: &[(&str, &str)] = &[
    ("bgp/global", "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/global"),
    ("bgp/neighbors", "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/neighbors"),
    (
        "bgp/peer-groups",
        "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/peer-groups",
    ),
    ("bgp/rib", "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/rib"),
    ("routing-policy", "/openconfig-routing-policy:routing-policy/policy-definitions"),
    ("defined-sets", "/openconfig-routing-policy:routing-policy/defined-sets"),
    ("ocbgp", "/ocbgp:"),
    ("ocbgp", "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp/ocbgp:"),
    ("network-instance", "/openconfig-network-instance:network-instances"),
    ("access-control", "/ietf-netconf-acm:nacm"),
];

/// The area of a schema path (see [`AREAS`]).
pub fn area(path: &str) -> &'static str {
    AREAS
        .iter()
        .find(|(_, prefix)| {
            path.strip_prefix(prefix).is_some_and(|rest| {
                prefix.ends_with(':') || rest.is_empty() || rest.starts_with('/')
            })
        })
        .map_or("other", |(name, _)| name)
}

/// Every leaf and leaf-list of the data trees of `ctx` (RPCs and
/// notifications left out), in schema order.
pub fn leaves(ctx: &Context) -> Vec<Leaf> {
    let mut out = Vec::new();
    for module in ctx.modules(true) {
        if !module.is_implemented() {
            continue;
        }
        for top in module.data() {
            for node in top.traverse() {
                if matches!(node.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList) {
                    out.push(Leaf {
                        path: node.path(SchemaPathFormat::DATA),
                        config: node.is_config(),
                    });
                }
            }
        }
    }
    out
}

/// One `deviate not-supported` of a deviation module.
#[derive(Debug, Clone)]
pub struct Deviation {
    /// The deviation module.
    pub module: &'static str,
    /// The target in data-path form (module names, only where they change).
    pub target: String,
    /// The description: why ocbgpd does not implement it.
    pub reason: String,
}

/// The `deviate not-supported` statements of the embedded deviation
/// modules, read from their text.
pub fn deviations() -> Vec<Deviation> {
    let mut out = Vec::new();
    for m in schema::modules().filter(|m| m.deviations) {
        let prefixes = import_prefixes(m.text);
        let mut rest = m.text;
        while let Some(at) = rest.find("deviation ") {
            rest = &rest[at + "deviation ".len()..];
            let Some(target) = quoted(rest) else { break };
            let end = rest.find("deviation ").unwrap_or(rest.len());
            let body = &rest[..end];
            if !body.contains("not-supported") {
                continue;
            }
            let reason = body
                .find("description")
                .and_then(|d| quoted(&body[d + "description".len()..]))
                .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            out.push(Deviation {
                module: m.name,
                target: data_path(&target, &prefixes),
                reason,
            });
        }
    }
    out
}

/// The first double-quoted string of `text` (after whitespace only).
fn quoted(text: &str) -> Option<String> {
    let text = text.trim_start().strip_prefix('"')?;
    Some(text[..text.find('"')?].to_string())
}

/// Import prefix → module name, from a module's text.
fn import_prefixes(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("import ") else {
            continue;
        };
        let mut words = rest
            .split(|c: char| c.is_whitespace() || c == '{' || c == ';')
            .filter(|w| !w.is_empty());
        let (Some(module), Some("prefix"), Some(prefix)) =
            (words.next(), words.next(), words.next())
        else {
            continue;
        };
        out.insert(prefix.trim_matches('"').to_string(), module.to_string());
    }
    out
}

/// `/p:a/p:b/q:c` → `/module-p:a/b/module-q:c`, without the choice and
/// case steps a schema node identifier has and a data path has not.
fn data_path(target: &str, prefixes: &BTreeMap<String, String>) -> String {
    let ctx = schema::context();
    let steps: Vec<&str> = target.trim_start_matches('/').split('/').collect();
    let mut out = String::new();
    let mut current = "";
    for (i, step) in steps.iter().enumerate() {
        let (prefix, name) = step.split_once(':').unwrap_or(("", step));
        let module = prefixes.get(prefix).map_or(prefix, String::as_str);
        let mut next = out.clone();
        next.push('/');
        if module != current {
            next.push_str(module);
            next.push(':');
        }
        next.push_str(name);
        // A step above the target that names no data node is a choice or
        // a case.
        if i + 1 < steps.len() && ctx.find_path(&next).is_err() {
            continue;
        }
        out = next;
        current = module;
    }
    out
}

/// The schema with and without the deviation modules, leaf by leaf.
pub struct Support {
    /// Every leaf of the schema as written (no deviations).
    pub all: Vec<Leaf>,
    /// The leaves a deviation removes, with the deviation that does.
    pub deviated: BTreeMap<String, Deviation>,
    /// The leaves the daemon's schema keeps.
    pub kept: BTreeSet<String>,
}

impl Support {
    /// Compiles both schemas and compares them.
    pub fn load() -> Result<Support, ModelError> {
        let all = leaves(&schema::new_context_without_deviations()?);
        let kept: BTreeSet<String> = leaves(schema::context())
            .into_iter()
            .map(|l| l.path)
            .collect();
        let devs = deviations();
        let mut deviated = BTreeMap::new();
        for leaf in all.iter().filter(|l| !kept.contains(&l.path)) {
            let dev = devs
                .iter()
                .filter(|d| {
                    leaf.path == d.target || leaf.path.starts_with(&format!("{}/", d.target))
                })
                .max_by_key(|d| d.target.len())
                .cloned()
                .unwrap_or_else(|| Deviation {
                    module: "",
                    target: leaf.path.clone(),
                    reason: "(removed by no deviation statement found)".into(),
                });
            deviated.insert(leaf.path.clone(), dev);
        }
        Ok(Support {
            all,
            deviated,
            kept,
        })
    }
}
