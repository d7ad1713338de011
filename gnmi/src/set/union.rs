//! union_replace.

use std::collections::BTreeMap;

use ocbgp_models::edit::{self, Edit, Operation};
use tonic::Code;
use yang2::data::{Data, DataPrinterFlags, DataTree};
use yang2::schema::SchemaNodeKind;

use super::{edit_failure, path_failure, schema_of, value_failure, Failure, Plan, Step};
use crate::decode::value_json;
use crate::encode::subtree_json;
use crate::path;
use crate::proto::gnmi::Path;
use ocbgp_models::ly;

/// union_replace (gNMI union_replace specification, 5.3.2 for path-based
/// origins): the values of all union_replace operations are joined; every
/// subtree they name is replaced by the union. ocbgp has one schema tree,
/// so overlapping operations must agree: a leaf given two different values
/// is `InvalidArgument`.
pub(super) fn plan_union(prefix: Option<&Path>, steps: &[Step<'_>]) -> Result<Plan, Failure> {
    let ctx = ocbgp_models::schema::context();
    let mut union = DataTree::new(ctx);
    let mut values: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut targets: Vec<(String, usize)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let fail = |(code, message): (Code, String)| Failure::at(i, code, message);
        let dp = path::to_data_path(ctx, prefix, step.path).map_err(|e| fail(path_failure(e)))?;
        let node = schema_of(&dp).map_err(fail)?;
        let json = value_json(node.as_ref(), step.update.and_then(|u| u.val.clone()))
            .map_err(|e| fail(value_failure(e)))?;
        let mut part = DataTree::new(ctx);
        edit::apply(&mut part, &Edit::json(Operation::Merge, &dp, json))
            .map_err(|e| fail(edit_failure(&e)))?;
        for n in part.traverse() {
            if !matches!(
                n.schema().kind(),
                SchemaNodeKind::Leaf | SchemaNodeKind::LeafList
            ) {
                continue;
            }
            let at = ly::node_path(&n);
            let value = n.value_canonical().unwrap_or_default();
            match values.get(&at) {
                Some((other, j)) if *other != value => {
                    return Err(fail((
                        Code::InvalidArgument,
                        format!(
                        "union_replace: {at} is {value:?} here but {other:?} in union_replace #{}",
                        j + 1
                    ),
                    )))
                }
                Some(_) => {}
                None => {
                    values.insert(at, (value, i));
                }
            }
        }
        union
            .merge(&part)
            .map_err(|e| fail((Code::InvalidArgument, e.to_string())))?;
        targets.push((dp, i));
    }
    // Replace each named subtree once: paths inside another named one are
    // covered by it.
    let covered = |inner: &str, outer: &str| {
        outer == "/"
            || inner.starts_with(&format!("{outer}/"))
            || inner.starts_with(&format!("{outer}["))
    };
    let mut edits = Vec::new();
    let mut owners = Vec::new();
    for (k, (dp, i)) in targets.iter().enumerate() {
        let inside_other = targets
            .iter()
            .enumerate()
            .any(|(m, (other, _))| (m < k && other == dp) || (other != dp && covered(dp, other)));
        if inside_other {
            continue;
        }
        let value = if dp == "/" {
            match union.reference() {
                Some(first) => ly::print_json(
                    &first,
                    DataPrinterFlags::WITH_SIBLINGS | DataPrinterFlags::SHRINK,
                )
                .map_err(|e| Failure::at(*i, Code::Internal, e))?,
                None => "{}".to_string(),
            }
        } else {
            match union.find_path(dp) {
                Ok(node) => subtree_json(&node).map_err(|e| Failure::at(*i, Code::Internal, e))?,
                // The value was empty: the node alone.
                Err(_) => "{}".to_string(),
            }
        };
        edits.push(Edit::json(Operation::Replace, dp.clone(), value));
        owners.push(*i);
    }
    Ok((edits, owners))
}
