//! `state` containers that mirror their `config` sibling.
//!
//! OpenConfig keeps the settings in effect in `state` beside `config`: for
//! every defined set, policy and statement of routing policy, and for BGP
//! peer groups and neighbors. In ocbgp what is in effect is running (a
//! commit the engine refuses never reaches running), so an operational
//! read fills those `state` leaves from the configuration it holds; a
//! neighbor's from its effective configuration (with what it inherits from
//! its peer group, see [`crate::inherit`]). Leaves the engine already wrote
//! (session state, counters, values resolved at run time) are kept.

use yang2::data::{Data, DataNodeRef, DataTree};
use yang2::schema::{SchemaNode, SchemaNodeKind};

use crate::ly;
use crate::ModelError;

/// The BGP instances.
const BGP: &str =
    "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp";

/// Subtrees whose `config` containers are mirrored into `state` as they
/// are.
fn mirrored() -> [String; 2] {
    [
        "/openconfig-routing-policy:routing-policy".to_owned(),
        format!("{BGP}/peer-groups/peer-group"),
    ]
}

/// Whether `schema` (a `config` container) has a `state` sibling with a
/// child named `leaf`.
fn state_has(schema: &SchemaNode<'_>, leaf: &str) -> bool {
    let Some(parent) = schema.ancestors().next() else {
        return false;
    };
    parent
        .children()
        .filter(|c| c.name() == "state" && !c.is_config())
        .any(|state| state.children().any(|c| c.name() == leaf))
}

/// The data path of `node`'s `state` sibling, from the `config` node's
/// path (`.../config` or `.../module:config`).
fn state_path(config: &DataNodeRef<'_, '_>) -> String {
    let path = ly::node_path(config);
    match path.rsplit_once('/') {
        Some((parent, step)) => format!("{parent}/{}", step.replace("config", "state")),
        None => path,
    }
}

/// The `state` leaves that mirror the `config` containers at and below
/// `top`, with their values.
fn config_leaves(top: &DataNodeRef<'_, '_>, out: &mut Vec<(String, Option<String>)>) {
    for node in top.traverse() {
        let schema = node.schema();
        if schema.name() != "config" || schema.kind() != SchemaNodeKind::Container {
            continue;
        }
        let state = state_path(&node);
        for leaf in node.children() {
            let ls = leaf.schema();
            if !matches!(ls.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList)
                || !state_has(&schema, ls.name())
            {
                continue;
            }
            // A leaf of another module (an augment) is named with it.
            let name = if ls.module().name() == schema.module().name() {
                ls.name().to_owned()
            } else {
                format!("{}:{}", ls.module().name(), ls.name())
            };
            out.push((format!("{state}/{name}"), leaf.value_canonical()));
        }
    }
}

/// Fills, in `tree`, the `state` sibling of every `config` container under
/// the mirrored subtrees and the BGP neighbors with the same leaves and
/// values, where the engine has not written them; `running` is the whole
/// configuration (peer groups a neighbor inherits from).
pub(super) fn mirror_config(
    tree: &mut DataTree<'static>,
    running: &DataTree<'static>,
) -> Result<(), ModelError> {
    let mut leaves: Vec<(String, Option<String>)> = Vec::new();
    for root in mirrored() {
        for top in ly::find(tree, &root).map_err(ModelError::general)? {
            config_leaves(&top, &mut leaves);
        }
    }
    let neighbors: Vec<String> = ly::find(tree, &format!("{BGP}/neighbors/neighbor"))
        .map_err(ModelError::general)?
        .iter()
        .map(|n| ly::node_path(&n))
        .collect();
    for path in neighbors {
        if running.find_path(&path).is_err() {
            // A dynamic neighbor: no configuration of its own.
            continue;
        }
        let eff = crate::inherit::effective_neighbor(running, &path)?;
        if let Ok(top) = eff.find_path(&path) {
            config_leaves(&top, &mut leaves);
        }
    }
    // What the engine wrote stays: a leaf (or any entry of a leaf-list)
    // already there is skipped.
    let mut written = std::collections::HashSet::new();
    for (path, value) in leaves {
        let fresh = written.contains(&path) || tree.find_path(&path).is_err();
        if fresh {
            tree.new_path(&path, value.as_deref(), false)?;
            written.insert(path);
        }
    }
    Ok(())
}
