//! The part of the configuration a transaction's edits reach: where it
//! lies, what it held before and which rules can see it. With it a commit
//! edits running in place, validates and diffs only what the change can
//! affect, and costs what the change costs rather than what the
//! configuration weighs.
//!
//! A region is the node an edit names or, when that node is new, the
//! highest node on its path that is new. An edit takes the scoped path
//! only when everything libyang may do about it stays inside its region
//! (see [`Deps::contained`]); the region's module and those whose rules
//! read it are validated whole, or nothing at all when every edit only
//! sets or removes a leaf no rule reads ([`Deps::leaf_independent`]).

use yang2::data::{Data, DataDiff, DataDiffFlags, DataNodeRef, DataTree, DataValidationFlags};
use yang2::ffi;
use yang2::iter::NodeIterable;
use yang2::schema::SchemaNodeKind;
use yang2::utils::Binding;

use crate::deps::Deps;
use crate::edit::{Edit, Operation};
use crate::path::DataPath;
use crate::{schema, ModelError};

/// What a scoped transaction touches.
pub(super) struct Scope {
    regions: Vec<DataPath>,
    /// Copies of the regions as they were, with their ancestors (keys
    /// only), or of a new region's parent alone.
    before: DataTree<'static>,
    /// The modules to validate; none when every edit is a leaf no rule
    /// reads or lies in an entry that stands alone.
    validate: Vec<*const ffi::lys_module>,
    /// List entries validated on their own ([`Deps::self_contained`]).
    alone: Vec<DataPath>,
}

impl Scope {
    /// The scope of `edits` on `tree`, or `None` when they need the whole
    /// tree (a top-level node or the root, an ordered insert at the top, a
    /// region some rule outside it reads with a `when`, a choice).
    pub(super) fn plan(tree: &DataTree<'static>, edits: &[Edit]) -> Option<Scope> {
        let deps = Deps::get();
        let ctx = schema::context();
        let mut regions: Vec<DataPath> = Vec::new();
        let mut alone = Vec::new();
        let mut wide = Vec::new();
        for edit in edits {
            let mut target = DataPath::parse(&edit.path).ok()?;
            let mut node = ctx.find_path(&target.schema_path()).ok()?;
            if edit.insert.is_some() || node.kind() == SchemaNodeKind::LeafList {
                // The region holds every entry, for an order change or a
                // whole leaf-list.
                target = target.parent();
                node = ctx.find_path(&target.schema_path()).ok()?;
            }
            let existing = (1..=target.segments.len())
                .take_while(|&k| tree.find_path(&prefix(&target, k).to_string()).is_ok())
                .count();
            let region = prefix(&target, (existing + 1).min(target.segments.len()));
            if region.segments.len() < 2 {
                return None;
            }
            let region_node = ctx.find_path(&region.schema_path()).ok()?;
            if !deps.contained(&region_node) {
                return None;
            }
            let delete = matches!(edit.op, Operation::Delete | Operation::Remove);
            let independent = region == target && deps.leaf_independent(&node, delete);
            if !independent {
                // The entry around the region that stands alone, if any.
                let entry = (2..=region.segments.len()).rev().find_map(|k| {
                    let p = prefix(&region, k);
                    let n = ctx.find_path(&p.schema_path()).ok()?;
                    deps.self_contained(&n).then_some(p)
                });
                match entry {
                    Some(e) => alone.push(e),
                    None => wide.push(region_node),
                }
            }
            regions.push(region);
        }
        // A region inside another is covered by it.
        let all = regions.clone();
        regions.retain(|r| {
            !all.iter()
                .any(|o| o.segments.len() < r.segments.len() && r.segments.starts_with(&o.segments))
        });
        regions.dedup();
        let validate = deps.to_validate(&wide.iter().collect::<Vec<_>>());
        alone.sort_by_key(|p| p.to_string());
        alone.dedup();
        let before = capture(tree, &regions).ok()?;
        Some(Scope {
            regions,
            before,
            validate,
            alone,
        })
    }

    /// Validates what the edits can affect (see the module comment).
    pub(super) fn validate(&self, tree: &mut DataTree<'static>) -> Result<(), ModelError> {
        let mut modules = self.validate.clone();
        for entry in &self.alone {
            let Ok(node) = tree.find_path(&entry.to_string()) else {
                // Removed: nothing else can miss it.
                continue;
            };
            let raw = node.as_raw();
            if skeleton(&node)
                .and_then(|mut t| Ok(t.validate(DataValidationFlags::NO_STATE)?))
                .is_err()
            {
                // Not valid alone (or its ancestors' own rules need more
                // than the skeleton): libyang on the whole module says
                // exactly what is wrong.
                let schema = ctx_node(entry);
                modules.extend(Deps::get().to_validate(&schema.iter().collect::<Vec<_>>()));
                tracing::debug!(entry = %entry, "entry not valid alone: validating its module");
                continue;
            }
            // SAFETY: a live node of `tree`; libyang adds the defaults
            // and implicit containers under it, as validation would.
            let ret = unsafe {
                ffi::lyd_new_implicit_tree(raw, ffi::LYD_IMPLICIT_NO_STATE, std::ptr::null_mut())
            };
            if ret != ffi::LY_ERR::LY_SUCCESS {
                return Err(yang2::Error::new(schema::context()).into());
            }
        }
        modules.sort();
        modules.dedup();
        for &module in &modules {
            let mut first = tree.raw();
            // SAFETY: the tree and module belong to the context; libyang
            // may replace the first top-level node, which a contained
            // region never does (checked below all the same).
            let ret = unsafe {
                ffi::lyd_validate_module(
                    &mut first,
                    module,
                    ffi::LYD_VALIDATE_NO_STATE,
                    std::ptr::null_mut(),
                )
            };
            if ret != ffi::LY_ERR::LY_SUCCESS {
                return Err(yang2::Error::new(schema::context()).into());
            }
            if first != tree.raw() {
                return Err(ModelError::general(
                    "internal: validation replaced the first top-level node",
                ));
            }
        }
        Ok(())
    }

    /// What the edits changed: libyang's diff of the regions before and
    /// now (with defaults, as a whole-tree commit diffs).
    pub(super) fn diff(&self, tree: &DataTree<'static>) -> Result<DataDiff<'static>, ModelError> {
        let after = capture(tree, &self.regions)?;
        Ok(self.before.diff(&after, DataDiffFlags::DEFAULTS)?)
    }

    /// Whether the regions print the same as before (a leaf set to its
    /// default value explicitly changes no value, but a print).
    pub(super) fn same_print(&self, tree: &DataTree<'static>) -> bool {
        let print = |t: &DataTree<'static>| {
            crate::ly::print_tree(
                t,
                yang2::data::DataFormat::JSON,
                yang2::data::DataPrinterFlags::WITH_SIBLINGS,
            )
            .ok()
        };
        capture(tree, &self.regions)
            .map(|after| print(&after) == print(&self.before))
            .unwrap_or(false)
    }

    /// Puts the regions back as they were.
    pub(super) fn revert(&self, tree: &mut DataTree<'static>) -> Result<(), ModelError> {
        let diff = self.diff(tree)?;
        tree.diff_apply(&diff.reverse()?)?;
        Ok(())
    }
}

/// The schema node of a data path (one element, or none).
fn ctx_node(path: &DataPath) -> Option<yang2::schema::SchemaNode<'static>> {
    schema::context().find_path(&path.schema_path()).ok()
}

/// A copy of the list entry `entry` with its ancestors, each ancestor
/// with its contents except lists (what an ancestor's own rules read, a
/// key's leafref for one), for validating the entry on its own.
fn skeleton(entry: &DataNodeRef<'_, 'static>) -> Result<DataTree<'static>, ModelError> {
    let tree = entry.duplicate(true)?;
    let mut on_path = entry.as_raw();
    let mut ancestor = entry.parent();
    while let Some(a) = ancestor {
        let copy = tree.find_path(&crate::ly::node_path(&a))?;
        for child in a.children() {
            let kind = child.schema().kind();
            if child.as_raw() == on_path
                || kind == SchemaNodeKind::List
                || child.schema().is_list_key()
            {
                continue;
            }
            // SAFETY: `copy` is a live inner node of `tree`.
            unsafe { copy_without_lists(&child, copy.as_raw())? };
        }
        on_path = a.as_raw();
        ancestor = a.parent();
    }
    Ok(tree)
}

/// Copies `node` under `parent` (in another tree), with its descendants
/// except lists.
///
/// # Safety
/// `parent` is a live inner node.
unsafe fn copy_without_lists(
    node: &DataNodeRef<'_, 'static>,
    parent: *mut ffi::lyd_node,
) -> Result<(), ModelError> {
    let mut copy = std::ptr::null_mut();
    let ret = ffi::lyd_dup_single(
        node.as_raw(),
        parent as *mut ffi::lyd_node_inner,
        ffi::LYD_DUP_WITH_FLAGS,
        &mut copy,
    );
    if ret != ffi::LY_ERR::LY_SUCCESS {
        return Err(yang2::Error::new(schema::context()).into());
    }
    for child in node.children() {
        if child.schema().kind() != SchemaNodeKind::List && !child.schema().is_list_key() {
            copy_without_lists(&child, copy)?;
        }
    }
    Ok(())
}

/// The first `k` segments of `path`.
fn prefix(path: &DataPath, k: usize) -> DataPath {
    DataPath {
        segments: path.segments[..k].to_vec(),
    }
}

/// One tree holding a copy of each region with its ancestors, or of the
/// region's parent alone (keys only) where the region does not exist: both
/// sides of a diff then share the ancestors, and the diff is the regions'.
fn capture(
    tree: &DataTree<'static>,
    regions: &[DataPath],
) -> Result<DataTree<'static>, ModelError> {
    let ctx = schema::context();
    let mut out = DataTree::new(ctx);
    for region in regions {
        let copy = match tree.find_path(&region.to_string()) {
            Ok(node) => node.duplicate(true)?,
            Err(_) => match tree.find_path(&region.parent().to_string()) {
                Ok(parent) => dup_alone(&parent)?,
                Err(_) => continue,
            },
        };
        out.merge(&copy)?;
    }
    Ok(out)
}

/// A copy of `node` with its ancestors, without its children (a list
/// entry keeps its keys).
fn dup_alone(node: &DataNodeRef<'_, 'static>) -> Result<DataTree<'static>, ModelError> {
    let ctx = schema::context();
    let mut dup = std::ptr::null_mut();
    // SAFETY: the node is live; libyang allocates the copy and its
    // parents, which the returned tree owns from its top node.
    unsafe {
        let ret = ffi::lyd_dup_single(
            node.as_raw(),
            std::ptr::null_mut(),
            ffi::LYD_DUP_WITH_PARENTS | ffi::LYD_DUP_WITH_FLAGS,
            &mut dup,
        );
        if ret != ffi::LY_ERR::LY_SUCCESS {
            return Err(yang2::Error::new(ctx).into());
        }
        let mut top = dup;
        while !(*top).parent.is_null() {
            top = (*top).parent as *mut ffi::lyd_node;
        }
        Ok(DataTree::from_raw(ctx, top))
    }
}
