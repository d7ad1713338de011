//! Schema look-ups for path conversion: data children, descendants, list
//! keys and identity names.

use std::collections::HashSet;
use std::ffi::CStr;

use yang2::context::Context;
use yang2::ffi;
use yang2::iter::IterSchemaFlags;
use yang2::schema::{DataValueType, SchemaNode, SchemaNodeKind};

/// Whether a schema node is a data node: one that appears in data paths.
/// Choice and case are skipped by the iterators; RPCs and notifications are
/// not configuration or state.
fn is_data_node(node: &SchemaNode<'_>) -> bool {
    matches!(
        node.kind(),
        SchemaNodeKind::Container
            | SchemaNodeKind::Leaf
            | SchemaNodeKind::LeafList
            | SchemaNodeKind::List
            | SchemaNodeKind::AnyData
    ) && !node.is_within_input()
        && !node.is_within_output()
        && !node.is_within_notification()
}

/// The data children of `parent`, or the top-level data nodes of every
/// implemented module when `parent` is `None`. Looks through choice/case.
pub(crate) fn children<'c>(
    ctx: &'c Context,
    parent: Option<&SchemaNode<'c>>,
) -> Vec<SchemaNode<'c>> {
    match parent {
        Some(p) => p
            .children2(IterSchemaFlags::empty())
            .filter(is_data_node)
            .collect(),
        None => ctx
            .modules(true)
            .filter(|m| m.is_implemented())
            .flat_map(|m| {
                m.top_level_nodes(IterSchemaFlags::empty())
                    .collect::<Vec<_>>()
            })
            .filter(is_data_node)
            .collect(),
    }
}

/// All data nodes strictly below the nodes of `set` (below the root when
/// `set` is `None`), each once.
pub(crate) fn descendants<'c>(
    ctx: &'c Context,
    set: Option<&[SchemaNode<'c>]>,
) -> Vec<SchemaNode<'c>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack: Vec<SchemaNode<'c>> = match set {
        None => children(ctx, None),
        Some(nodes) => nodes.iter().flat_map(|n| children(ctx, Some(n))).collect(),
    };
    while let Some(node) = stack.pop() {
        if !seen.insert(node.as_raw() as usize) {
            continue;
        }
        stack.extend(children(ctx, Some(&node)));
        out.push(node);
    }
    out
}

/// The key leaves of a list, in schema order (the order libyang wants in
/// data path predicates).
pub(super) fn list_keys<'c>(list: &SchemaNode<'c>) -> Vec<SchemaNode<'c>> {
    list.list_keys().collect()
}

/// Name of the module defining `node`.
pub(super) fn module_name(node: &SchemaNode<'_>) -> String {
    node.module().name().to_string()
}

/// The identityref type behind a leaf, following leafrefs, as the raw
/// libyang type (owned by the context, like the node).
fn identityref_type(leaf: &SchemaNode<'_>) -> Option<*const ffi::lysc_type_identityref> {
    let ltype = leaf.leaf_type()?;
    let real = match ltype.base_type() {
        DataValueType::LeafRef => ltype.leafref_real_type()?.as_raw(),
        _ => ltype.as_raw(),
    };
    // SAFETY: `real` is a live lysc_type of the context; basetype is its
    // common header field.
    let base = unsafe { (*real).basetype };
    (base == ffi::LY_DATA_TYPE::LY_TYPE_IDENT).then_some(real as *const ffi::lysc_type_identityref)
}

/// Whether values of `leaf` are identities (directly or through a leafref).
pub(crate) fn is_identityref(leaf: &SchemaNode<'_>) -> bool {
    identityref_type(leaf).is_some()
}

/// For an identityref `leaf`, the module defining the identity `name` among
/// those the leaf accepts (its bases and everything derived from them).
pub(crate) fn identity_module(leaf: &SchemaNode<'_>, name: &str) -> Option<String> {
    let raw = identityref_type(leaf)?;
    // SAFETY: `raw` is an identityref type (checked by its basetype).
    // `bases` and every `derived` are libyang sized arrays of identity
    // pointers owned by the context, which outlives this call.
    unsafe {
        let mut stack: Vec<*mut ffi::lysc_ident> = sized_array((*raw).bases).to_vec();
        let mut seen = HashSet::new();
        while let Some(ident) = stack.pop() {
            if ident.is_null() || !seen.insert(ident as usize) {
                continue;
            }
            if c_str((*ident).name) == Some(name) {
                let module = (*ident).module;
                return (!module.is_null())
                    .then(|| c_str((*module).name))
                    .flatten()
                    .map(str::to_string);
            }
            stack.extend_from_slice(sized_array((*ident).derived));
        }
    }
    None
}

/// Views a libyang sized array (count stored in the 8 bytes before element 0).
///
/// # Safety
/// `array` must be null or a live libyang sized array of pointers.
unsafe fn sized_array<'a, T>(array: *mut *mut T) -> &'a [*mut T] {
    if array.is_null() {
        return &[];
    }
    let count = *(array as *const u64).sub(1);
    std::slice::from_raw_parts(array, count as usize)
}

/// Borrows a C string from libyang, if non-null and UTF-8.
///
/// # Safety
/// `ptr` must be null or a NUL-terminated string that outlives `'a`.
unsafe fn c_str<'a>(ptr: *const std::os::raw::c_char) -> Option<&'a str> {
    if ptr.is_null() {
        None
    } else {
        CStr::from_ptr(ptr).to_str().ok()
    }
}
