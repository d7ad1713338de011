//! `state` containers that mirror their `config` sibling.
//!
//! OpenConfig's routing policy keeps the definition in effect of every
//! defined set, policy and statement in `state` beside `config`. In ocbgp
//! what is in effect is running (a commit the engine refuses never reaches
//! running), so an operational read fills those `state` containers from
//! the configuration it holds. Nothing else is mirrored: BGP state comes
//! from the engine.

use yang2::data::{DataNodeRef, DataTree};
use yang2::schema::{SchemaNode, SchemaNodeKind};

use crate::ly;
use crate::ModelError;

/// Subtrees whose `config` containers are mirrored into `state`.
const MIRRORED: &[&str] = &["/openconfig-routing-policy:routing-policy"];

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

/// Fills, in `tree`, the `state` sibling of every `config` container under
/// the mirrored subtrees with the same leaves and values.
pub(super) fn mirror_config(tree: &mut DataTree<'static>) -> Result<(), ModelError> {
    let mut leaves: Vec<(String, Option<String>)> = Vec::new();
    for root in MIRRORED {
        let found = ly::find(tree, root).map_err(ModelError::general)?;
        for top in found {
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
                    leaves.push((format!("{state}/{}", ls.name()), leaf.value_canonical()));
                }
            }
        }
    }
    for (path, value) in leaves {
        tree.new_path(&path, value.as_deref(), false)?;
    }
    Ok(())
}
