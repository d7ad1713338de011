//! Deletes, replaces and updates as edits of the datastore.

use ocbgp_models::datastore::Datastore;
use ocbgp_models::edit::{Edit, Operation};
use ocbgp_models::path::DataPath;
use tonic::Code;
use yang2::data::Data;
use yang2::schema::{SchemaNode, SchemaNodeKind};

use super::{path_failure, schema_of, value_failure, Step, StepResult};
use crate::decode::{normalize_member, value_json};
use crate::path::{self, PathError};
use crate::proto::gnmi::update_result::Operation as Op;
use crate::proto::gnmi::{Path, TypedValue};
use ocbgp_models::ly;

/// A delete: the node, or every node a wildcard path matches in running.
/// Deleting what does not exist is accepted, as the specification asks.
pub(super) fn plan_delete(store: &Datastore, prefix: Option<&Path>, path: &Path) -> StepResult {
    let ctx = ocbgp_models::schema::context();
    match path::to_data_path(ctx, prefix, path) {
        Ok(dp) => {
            if let Some(node) = schema_of(&dp)? {
                if node.is_list_key() {
                    return Err((
                        Code::InvalidArgument,
                        "a list key cannot be deleted alone: delete its list entry".to_string(),
                    ));
                }
            }
            Ok(vec![Edit::delete(Operation::Remove, dp)])
        }
        Err(PathError::Wildcard { .. }) => {
            let xpath = path::to_xpath(ctx, prefix, path).map_err(path_failure)?;
            let running = store.running();
            let nodes = ly::find(running.tree(), &xpath).map_err(|e| (Code::Internal, e))?;
            Ok(nodes
                .iter()
                .filter(|n| !n.schema().is_list_key())
                .map(|n| Edit::delete(Operation::Remove, ly::node_path(n)))
                .collect())
        }
        Err(e) => Err(path_failure(e)),
    }
}

/// A replace or update of one node, or of a whole list (a path to a list
/// without keys, with the array of entries as value: replace drops the
/// entries the value lacks, update adds or merges).
pub(super) fn plan_write(
    store: &Datastore,
    prefix: Option<&Path>,
    step: &Step<'_>,
    value: Option<TypedValue>,
) -> StepResult {
    let ctx = ocbgp_models::schema::context();
    let op = if step.op == Op::Replace {
        Operation::Replace
    } else {
        Operation::Merge
    };
    match path::to_data_path(ctx, prefix, step.path) {
        Ok(dp) => {
            let node = schema_of(&dp)?;
            let json = value_json(node.as_ref(), value).map_err(value_failure)?;
            Ok(vec![Edit::json(op, dp, json)])
        }
        Err(PathError::Wildcard { path: text }) => match whole_list(prefix, step.path) {
            Some((parent, list)) => plan_list(store, &parent, &list, op, value),
            None => Err((
                Code::InvalidArgument,
                format!("{text}: replace and update paths must name one node (no wildcards)"),
            )),
        },
        Err(e) => Err(path_failure(e)),
    }
}

/// For a path whose last element is a list without keys (and no wildcards
/// elsewhere): the parent's data path and the list's schema node.
fn whole_list(prefix: Option<&Path>, path: &Path) -> Option<(String, SchemaNode<'static>)> {
    let ctx = ocbgp_models::schema::context();
    let joined = path::join(prefix, path).ok()?;
    let (last, parent_elems) = joined.elem.split_last()?;
    if !last.key.is_empty() || path::has_wildcards(&joined) {
        return None;
    }
    let parent = Path {
        origin: joined.origin.clone(),
        elem: parent_elems.to_vec(),
        ..Default::default()
    };
    let parent_dp = path::to_data_path(ctx, None, &parent).ok()?;
    let (_, nodes) = path::to_xpath_nodes(ctx, None, &joined).ok()?;
    match nodes?.as_slice() {
        [list] if list.kind() == SchemaNodeKind::List => Some((parent_dp, list.clone())),
        _ => None,
    }
}

fn plan_list(
    store: &Datastore,
    parent: &str,
    list: &SchemaNode<'static>,
    op: Operation,
    value: Option<TypedValue>,
) -> StepResult {
    let json = value_json(Some(list), value).map_err(value_failure)?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| (Code::Internal, e.to_string()))?;
    if !value.is_array() {
        return Err((
            Code::InvalidArgument,
            "the value for a whole list must be the JSON array of its entries".to_string(),
        ));
    }
    let module = list.module().name().to_string();
    let parent_module = DataPath::parse(parent)
        .ok()
        .and_then(|p| p.segments.iter().rev().find_map(|s| s.module.clone()));
    let member = if parent_module.as_deref() == Some(module.as_str()) {
        list.name().to_string()
    } else {
        format!("{module}:{}", list.name())
    };
    let mut edits = Vec::new();
    if op == Operation::Replace {
        // Drop every entry now there; the value brings back the ones to keep.
        let running = store.running();
        if let Ok(parent_node) = running.tree().find_path(parent) {
            for child in parent_node.children() {
                if child.schema().as_raw() == list.as_raw() {
                    edits.push(Edit::delete(Operation::Remove, ly::node_path(&child)));
                }
            }
        }
    }
    let value = normalize_member(list, value);
    let body = serde_json::json!({ member: value }).to_string();
    if parent == "/" {
        edits.push(Edit::json(Operation::Merge, "/", body));
    } else {
        edits.push(Edit::json(Operation::Merge, parent, body));
    }
    Ok(edits)
}
