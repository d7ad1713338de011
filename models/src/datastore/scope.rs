//! The part of the configuration a transaction's edits reach: where it
//! lies, what it held before and which rules can see it. With it a commit
//! edits running in place, validates and diffs only what the change can
//! affect, and costs what the change costs rather than what the
//! configuration weighs.
//!
//! A region is the node an edit names or, when that node is new, the
//! highest node on its path that is new (the whole list for an entry of a
//! user-ordered one, so that the diff keeps the order). An edit takes the
//! scoped path only when everything libyang may do about it stays inside
//! its region (see [`Deps::contained`]). Each region is then checked as
//! little as is exact: not at all for a leaf no rule reads
//! ([`Deps::leaf_independent`]; its type was checked when the edit was
//! parsed); on its own for a list entry that stands alone
//! ([`Deps::self_contained`]); else its module and the modules whose rules
//! read it are validated whole.

use yang2::data::{Data, DataDiff, DataDiffFlags, DataNodeRef, DataTree, DataValidationFlags};
use yang2::ffi;
use yang2::iter::NodeIterable;
use yang2::schema::{SchemaNode, SchemaNodeKind};
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
        let mut plan = Plan::default();
        for edit in edits {
            let path = DataPath::parse(&edit.path).ok()?;
            if !path.is_root() {
                let delete = matches!(edit.op, Operation::Delete | Operation::Remove);
                plan.target(tree, path, delete, edit.insert.is_some())?;
                continue;
            }
            // A merge of a document at the root (NETCONF's edit-config):
            // its nodes are the targets.
            let (text, encoding) = edit.value.as_ref()?;
            if edit.op != Operation::Merge || edit.insert.is_some() || text.len() > MAX_MERGE {
                return None;
            }
            let doc = crate::edit::parse(text, *encoding).ok()?;
            for target in merge_targets(&doc, tree) {
                plan.target(tree, DataPath::parse(&target).ok()?, false, false)?;
            }
        }
        let Plan {
            mut regions,
            mut alone,
            wide,
        } = plan;
        // A region inside another is covered by it.
        let all = regions.clone();
        regions.retain(|r| {
            !all.iter()
                .any(|o| o.segments.len() < r.segments.len() && r.segments.starts_with(&o.segments))
        });
        regions.sort_by_key(|p| p.to_string());
        regions.dedup();
        let validate = Deps::get().to_validate(&wide.iter().collect::<Vec<_>>());
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

/// A root merge document larger than this is not scoped (its targets
/// would cost more to find than a whole-tree commit).
const MAX_MERGE: usize = 1 << 20;

/// The regions of a transaction being planned, and how each is checked.
#[derive(Default)]
struct Plan {
    regions: Vec<DataPath>,
    /// Entries validated on their own.
    alone: Vec<DataPath>,
    /// Regions whose modules are validated.
    wide: Vec<SchemaNode<'static>>,
}

impl Plan {
    /// Adds the region of an edit of `target` (a removal with `delete`, a
    /// move with `insert`); `None` when it cannot be scoped.
    fn target(
        &mut self,
        tree: &DataTree<'static>,
        mut target: DataPath,
        delete: bool,
        insert: bool,
    ) -> Option<()> {
        let deps = Deps::get();
        let ctx = schema::context();
        let mut node = ctx.find_path(&target.schema_path()).ok()?;
        // An entry of a user-ordered list or leaf-list, a whole leaf-list,
        // a move: the region holds every entry, so that the diff keeps
        // their order.
        if insert || node.kind() == SchemaNodeKind::LeafList || node.is_user_ordered() {
            target = target.parent();
            node = ctx.find_path(&target.schema_path()).ok()?;
        }
        let existing = (1..=target.segments.len())
            .take_while(|&k| tree.find_path(&prefix(&target, k).to_string()).is_ok())
            .count();
        let mut region = prefix(&target, (existing + 1).min(target.segments.len()));
        let mut region_node = ctx.find_path(&region.schema_path()).ok()?;
        if region_node.is_user_ordered() {
            // A new entry of a user-ordered list: the same, one up.
            region = region.parent();
            region_node = ctx.find_path(&region.schema_path()).ok()?;
        }
        let top = region.segments.len() < 2;
        if region.segments.is_empty()
            || !deps.contained(&region_node)
            || (top && !small(tree, &region))
        {
            return None;
        }
        if !(region == target && deps.leaf_independent(&node, delete)) {
            // The entry around the region that stands alone, if any.
            let entry = (2..=region.segments.len()).rev().find_map(|k| {
                let p = prefix(&region, k);
                let n = ctx.find_path(&p.schema_path()).ok()?;
                deps.self_contained(&n).then_some(p)
            });
            match entry {
                Some(e) => self.alone.push(e),
                None => self.wide.push(region_node),
            }
        }
        self.regions.push(region);
        Some(())
    }
}

/// Most nodes a region at the top level may hold. Such a region (a
/// top-level container: where a user-ordered list's new entry lands when
/// the list sits right under one, like NACM's rule lists) is copied whole
/// to diff it, so only a small one is worth scoping; a large one (all of
/// `/routing-policy`) makes the commit a whole-tree one.
const MAX_TOP_REGION: usize = 10_000;

/// Whether the region at `region` holds at most [`MAX_TOP_REGION`] nodes
/// (counting stops there); a region not in `tree` yet holds none.
fn small(tree: &DataTree<'static>, region: &DataPath) -> bool {
    tree.find_path(&region.to_string())
        .map(|node| node.traverse().take(MAX_TOP_REGION + 1).count() <= MAX_TOP_REGION)
        .unwrap_or(true)
}

/// The nodes a merge of `doc` into `tree` creates or sets: each node of
/// `doc` that `tree` lacks (its subtree comes with it), and each leaf.
fn merge_targets(doc: &DataTree<'static>, tree: &DataTree<'static>) -> Vec<String> {
    fn visit(node: DataNodeRef<'_, 'static>, tree: &DataTree<'static>, out: &mut Vec<String>) {
        let path = crate::ly::node_path(&node);
        let mut children = node
            .children()
            .filter(|c| !c.schema().is_list_key())
            .peekable();
        if tree.find_path(&path).is_err() || children.peek().is_none() {
            out.push(path);
            return;
        }
        for child in children {
            visit(child, tree, out);
        }
    }
    let mut out = Vec::new();
    for top in doc
        .reference()
        .into_iter()
        .flat_map(|t| t.inclusive_siblings())
    {
        visit(top, tree, &mut out);
    }
    out
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
