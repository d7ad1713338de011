//! Thin wrappers over the few libyang calls whose yang2 bindings do not fit
//! a long-running daemon (every crate uses these instead): yang2 0.18's `find_xpath` keeps the result set and
//! `print_string` the printed text (both leak), and `DataNodeRef::path`
//! panics on paths over 4 KiB.

use std::ffi::{CStr, CString};
use std::os::raw::c_void;

use yang2::data::{Data, DataFormat, DataNodeRef, DataPrinterFlags, DataTree};
use yang2::ffi;
use yang2::utils::Binding;

/// Every node of `tree` that `xpath` selects, in document order. An empty
/// tree selects nothing.
///
/// A NUL byte in `xpath` is reported as an error rather than a panic.
pub fn find<'t>(
    tree: &'t DataTree<'static>,
    xpath: &str,
) -> Result<Vec<DataNodeRef<'t, 'static>>, String> {
    if tree.reference().is_none() {
        return Ok(Vec::new());
    }
    let query = CString::new(xpath).map_err(|_| format!("query {xpath:?} contains NUL"))?;
    let mut set: *mut ffi::ly_set = std::ptr::null_mut();
    // SAFETY: the tree is live for 't; libyang allocates `set`, which is
    // freed below after its node pointers are copied (the nodes belong to
    // the tree, not to the set).
    unsafe {
        let ret = ffi::lyd_find_xpath(tree.raw(), query.as_ptr(), &mut set);
        if ret != ffi::LY_ERR::LY_SUCCESS {
            if !set.is_null() {
                ffi::ly_set_free(set, None);
            }
            return Err(last_error(xpath));
        }
        if set.is_null() {
            return Ok(Vec::new());
        }
        let count = (*set).count as usize;
        let nodes = if count == 0 {
            Vec::new()
        } else {
            let raw = (*set).__bindgen_anon_1.dnodes;
            std::slice::from_raw_parts(raw, count)
                .iter()
                .map(|&n| DataNodeRef::from_raw(tree, n))
                .collect()
        };
        ffi::ly_set_free(set, None);
        Ok(nodes)
    }
}

/// The libyang error message for a failed query.
fn last_error(xpath: &str) -> String {
    // SAFETY: ly_last_logmsg returns the calling thread's last message or
    // NULL.
    let msg = unsafe {
        let m = ffi::ly_last_logmsg();
        if m.is_null() {
            None
        } else {
            Some(CStr::from_ptr(m).to_string_lossy().into_owned())
        }
    };
    match msg {
        Some(m) => format!("query {xpath}: {m}"),
        None => format!("query {xpath} failed"),
    }
}

/// Prints one node and its subtree as JSON (RFC 7951); its following
/// siblings too when `flags` has `WITH_SIBLINGS`.
pub fn print_json(node: &DataNodeRef<'_, '_>, flags: DataPrinterFlags) -> Result<String, String> {
    print(node, DataFormat::JSON, flags)
}

/// Prints a whole tree (every top-level node); empty text for an empty tree.
pub fn print_tree(
    tree: &DataTree<'_>,
    format: DataFormat,
    flags: DataPrinterFlags,
) -> Result<String, String> {
    match tree.reference() {
        Some(first) => print(&first, format, flags | DataPrinterFlags::WITH_SIBLINGS),
        None => Ok(String::new()),
    }
}

/// Prints a whole tree into `file` (through a buffered stdio stream on a
/// duplicate of its descriptor), without the text ever being in memory
/// whole; nothing for an empty tree.
pub fn print_tree_to_file(
    tree: &DataTree<'_>,
    format: DataFormat,
    flags: DataPrinterFlags,
    file: &std::fs::File,
) -> Result<(), String> {
    use std::os::fd::IntoRawFd;
    let Some(first) = tree.reference() else {
        return Ok(());
    };
    let fd = file
        .try_clone()
        .map_err(|e| format!("cannot print data: {e}"))?
        .into_raw_fd();
    // SAFETY: `fd` is a descriptor of our own (a duplicate), handed to
    // fdopen; fclose closes it (on fdopen's failure it is closed by
    // wrapping it again). `first` is live for the call.
    unsafe {
        let stream = ffi::fdopen(fd, c"w".as_ptr());
        if stream.is_null() {
            drop(<std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd));
            return Err("cannot print data: fdopen failed".to_string());
        }
        let ret = ffi::lyd_print_file(
            stream,
            first.as_raw(),
            format as u32,
            (flags | DataPrinterFlags::WITH_SIBLINGS).bits(),
        );
        let closed = ffi::fclose(stream);
        if ret != ffi::LY_ERR::LY_SUCCESS || closed != 0 {
            return Err("cannot print data".to_string());
        }
    }
    Ok(())
}

/// Prints a node (and its siblings with `WITH_SIBLINGS`) in `format`.
pub fn print(
    node: &DataNodeRef<'_, '_>,
    format: DataFormat,
    flags: DataPrinterFlags,
) -> Result<String, String> {
    let mut out: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `node` is live; libyang mallocs `out`, copied then freed.
    unsafe {
        let ret = ffi::lyd_print_mem(&mut out, node.as_raw(), format as u32, flags.bits());
        if ret != ffi::LY_ERR::LY_SUCCESS {
            if !out.is_null() {
                ffi::free(out as *mut c_void);
            }
            return Err("cannot print data".to_string());
        }
        if out.is_null() {
            return Ok(String::new());
        }
        let text = CStr::from_ptr(out).to_string_lossy().into_owned();
        ffi::free(out as *mut c_void);
        Ok(text)
    }
}

/// The data path of a node as libyang writes it
/// (`/module:a/b[k='v']/c`), of any length.
pub fn node_path(node: &DataNodeRef<'_, '_>) -> String {
    // SAFETY: with a NULL buffer lyd_path mallocs the result, freed here.
    unsafe {
        let p = ffi::lyd_path(
            node.as_raw(),
            ffi::LYD_PATH_TYPE::LYD_PATH_STD,
            std::ptr::null_mut(),
            0,
        );
        if p.is_null() {
            return String::new();
        }
        let text = CStr::from_ptr(p).to_string_lossy().into_owned();
        ffi::free(p as *mut c_void);
        text
    }
}

/// The base type libyang resolved for a term node's value (for a union,
/// the member type that matched; for a leafref, the target's type).
pub fn value_type(node: &DataNodeRef<'_, '_>) -> Option<yang2::schema::DataValueType> {
    use yang2::schema::{DataValueType, SchemaNodeKind};
    if !matches!(
        node.schema().kind(),
        SchemaNodeKind::Leaf | SchemaNodeKind::LeafList
    ) {
        return None;
    }
    // SAFETY: the node is a term node (checked by its schema kind), so it is
    // an lyd_node_term whose value has a realtype set by libyang. A union
    // value keeps the value of its matching member type in `subvalue`.
    let base = unsafe {
        let term = node.as_raw() as *const ffi::lyd_node_term;
        let mut value: *const ffi::lyd_value = &(*term).value;
        loop {
            let realtype = (*value).realtype;
            if realtype.is_null() {
                return None;
            }
            let base = (*realtype).basetype;
            if base != ffi::LY_DATA_TYPE::LY_TYPE_UNION {
                break base;
            }
            let sub = (*value).__bindgen_anon_1.subvalue;
            if sub.is_null() {
                break base;
            }
            value = &(*sub).value;
        }
    };
    Some(match base {
        ffi::LY_DATA_TYPE::LY_TYPE_BINARY => DataValueType::Binary,
        ffi::LY_DATA_TYPE::LY_TYPE_UINT8 => DataValueType::Uint8,
        ffi::LY_DATA_TYPE::LY_TYPE_UINT16 => DataValueType::Uint16,
        ffi::LY_DATA_TYPE::LY_TYPE_UINT32 => DataValueType::Uint32,
        ffi::LY_DATA_TYPE::LY_TYPE_UINT64 => DataValueType::Uint64,
        ffi::LY_DATA_TYPE::LY_TYPE_STRING => DataValueType::String,
        ffi::LY_DATA_TYPE::LY_TYPE_BITS => DataValueType::Bits,
        ffi::LY_DATA_TYPE::LY_TYPE_BOOL => DataValueType::Bool,
        ffi::LY_DATA_TYPE::LY_TYPE_DEC64 => DataValueType::Dec64,
        ffi::LY_DATA_TYPE::LY_TYPE_EMPTY => DataValueType::Empty,
        ffi::LY_DATA_TYPE::LY_TYPE_ENUM => DataValueType::Enum,
        ffi::LY_DATA_TYPE::LY_TYPE_IDENT => DataValueType::IdentityRef,
        ffi::LY_DATA_TYPE::LY_TYPE_INST => DataValueType::InstanceId,
        ffi::LY_DATA_TYPE::LY_TYPE_LEAFREF => DataValueType::LeafRef,
        ffi::LY_DATA_TYPE::LY_TYPE_UNION => DataValueType::Union,
        ffi::LY_DATA_TYPE::LY_TYPE_INT8 => DataValueType::Int8,
        ffi::LY_DATA_TYPE::LY_TYPE_INT16 => DataValueType::Int16,
        ffi::LY_DATA_TYPE::LY_TYPE_INT32 => DataValueType::Int32,
        ffi::LY_DATA_TYPE::LY_TYPE_INT64 => DataValueType::Int64,
        _ => DataValueType::Unknown,
    })
}

/// Frees a node and its subtree. The node must not be the tree's first
/// top-level node (the tree handle points at it) and must not be used again.
pub fn free_subtree(node: DataNodeRef<'_, '_>) {
    // SAFETY: the caller gives up the node; lyd_free_tree unlinks it from
    // its parent first, so the rest of the tree stays consistent.
    unsafe { ffi::lyd_free_tree(node.as_raw()) }
}

/// Removes the node at the data path `path`, with its subtree, from
/// `tree`. Unlike yang2's `remove`, the tree's first top-level node may be
/// the one: the tree then starts at the next one.
pub fn remove(tree: &mut DataTree<'static>, path: &str) -> Result<(), crate::ModelError> {
    let node = tree.find_path(path)?.as_raw();
    // SAFETY: `node` belongs to `tree`. When it is the tree's handle, the
    // handle moves to the next top-level node (NULL: empty) before the node
    // is freed, and the old handle is given up without freeing anything.
    unsafe {
        if node == tree.raw() {
            let next = (*node).next;
            let old = std::mem::replace(tree, DataTree::from_raw(crate::schema::context(), next));
            let _ = old.into_raw();
        }
        ffi::lyd_free_tree(node);
    }
    Ok(())
}
