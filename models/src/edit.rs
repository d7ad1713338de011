//! Edits: what a management door asks to change, and how one edit is
//! applied to a working copy of a configuration tree.
//!
//! Values come in two shapes, one per door:
//! - JSON (RFC 7951) holds the node the path names, as gNMI carries it;
//! - XML is a document from the root that holds the node at the path with
//!   its ancestors and their keys, as NETCONF's edit-config carries it.
//!
//! An edit never validates: the transaction validates the result of all
//! its edits at once.

use serde_json::{Map, Value};
use yang2::data::{
    Data, DataFormat, DataParserFlags, DataPrinterFlags, DataTree, DataValidationFlags,
};
use yang2::schema::{SchemaNode, SchemaNodeKind};

use crate::config::{parse_tree, Encoding};
use crate::path::DataPath;
use crate::{schema, ModelError};

/// What an edit does at its path (the operations of RFC 6241 section 7.2,
/// which gNMI's update / replace / delete map onto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Merge the value into what is there (gNMI update).
    Merge,
    /// Put the value in place of what is there (gNMI replace).
    Replace,
    /// Add the value; an error if the node exists.
    Create,
    /// Delete the node; an error if it does not exist.
    Delete,
    /// Delete the node if it exists (gNMI delete).
    Remove,
}

/// One requested change.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// What to do.
    pub op: Operation,
    /// The data path, in libyang form (`/` for the whole configuration).
    pub path: String,
    /// The value for merge, replace and create.
    pub value: Option<(String, Encoding)>,
    /// Where the entry goes, for an entry of an ordered-by user list or
    /// leaf-list (NETCONF's `yang:insert`); `None`: a new entry goes last,
    /// an existing one stays where it is.
    pub insert: Option<Insert>,
}

/// The position of an entry of an ordered-by user list or leaf-list
/// (RFC 7950 sections 7.7.9 and 7.8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// Before every other entry.
    First,
    /// After every other entry.
    Last,
    /// Just before the entry at this data path (a sibling of the same list
    /// or leaf-list).
    Before(String),
    /// Just after the entry at this data path.
    After(String),
}

impl Edit {
    /// An edit with a JSON value.
    pub fn json(op: Operation, path: impl Into<String>, value: impl Into<String>) -> Edit {
        Edit {
            op,
            path: path.into(),
            value: Some((value.into(), Encoding::Json)),
            insert: None,
        }
    }

    /// A delete (`Delete`) or remove (`Remove`) edit.
    pub fn delete(op: Operation, path: impl Into<String>) -> Edit {
        Edit {
            op,
            path: path.into(),
            value: None,
            insert: None,
        }
    }
}

/// Why an edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The path does not parse.
    #[error("{0}")]
    MalformedPath(ModelError),
    /// The path names no node of the schema.
    #[error("{0}")]
    UnknownPath(ModelError),
    /// The path names a state (read-only) node.
    #[error("{0}: not configuration, cannot be changed")]
    NotConfig(String),
    /// The value is not valid for the node.
    #[error("{0}")]
    BadValue(ModelError),
    /// Create on a node that exists.
    #[error("{0}: already exists")]
    DataExists(String),
    /// Delete on a node that does not exist.
    #[error("{0}: does not exist")]
    DataMissing(String),
}

/// Applies one edit to `tree`.
///
/// A path to a leaf-list without a value predicate names all its values:
/// delete and remove take every value, replace puts exactly the given
/// values in their order, merge adds the values that are not there (at the
/// end). A path with a value predicate (`.../import-policy[.='P1']`) names
/// that value alone; replace of it is a merge (the value is all there is).
pub fn apply(tree: &mut DataTree<'static>, edit: &Edit) -> Result<(), EditError> {
    let path = DataPath::parse(&edit.path).map_err(EditError::MalformedPath)?;
    let node = if path.is_root() {
        None
    } else {
        let node = schema::context()
            .find_path(&path.schema_path())
            .map_err(|_| {
                EditError::UnknownPath(ModelError::at(&edit.path, "no such node in the schema"))
            })?;
        if !node.is_config() {
            return Err(EditError::NotConfig(edit.path.clone()));
        }
        Some(node)
    };
    let leaf_list = node
        .as_ref()
        .filter(|n| n.kind() == SchemaNodeKind::LeafList);
    let whole_leaf_list =
        leaf_list.is_some() && path.segments.last().is_some_and(|s| s.keys.is_empty());
    if let (Some(node), true) = (leaf_list, whole_leaf_list) {
        let values = leaf_list_values(tree, &path, node);
        match edit.op {
            Operation::Delete if values.is_empty() => {
                return Err(EditError::DataMissing(edit.path.clone()))
            }
            Operation::Create if !values.is_empty() => {
                return Err(EditError::DataExists(edit.path.clone()))
            }
            Operation::Delete | Operation::Remove | Operation::Replace => {
                for value in values {
                    let _ = tree.remove(&value);
                }
            }
            _ => {}
        }
    } else {
        let exists = exists(tree, &path);
        match edit.op {
            Operation::Delete if !exists => return Err(EditError::DataMissing(edit.path.clone())),
            Operation::Create if exists => return Err(EditError::DataExists(edit.path.clone())),
            // A leaf-list value is its own content: replacing it keeps it
            // (and its place).
            Operation::Replace if leaf_list.is_some() => {}
            Operation::Delete | Operation::Remove | Operation::Replace if exists => {
                remove(tree, &path)
            }
            _ => {}
        }
    }
    if matches!(edit.op, Operation::Delete | Operation::Remove) {
        return Ok(());
    }
    let Some((text, encoding)) = &edit.value else {
        return Err(EditError::BadValue(ModelError::at(
            &edit.path,
            "a value is required",
        )));
    };
    if text.contains('\0') {
        return Err(EditError::BadValue(ModelError::at(
            &edit.path,
            "value contains a NUL character",
        )));
    }
    let subtree = match (node, encoding) {
        (None, _) => parse(text, *encoding),
        (Some(node), Encoding::Json) => {
            wrap_json(&path, &node, text).and_then(|doc| parse(&doc, Encoding::Json))
        }
        (Some(_), Encoding::Xml) => parse(text, Encoding::Xml).and_then(|doc| {
            // The document must hold the node the path names.
            match doc.find_path(&edit.path) {
                Ok(_) => Ok(doc),
                Err(_) => Err(ModelError::at(
                    &edit.path,
                    "the XML value does not contain this node",
                )),
            }
        }),
    }
    .map_err(EditError::BadValue)?;
    tree.merge(&subtree)
        .map_err(|e| EditError::BadValue(e.into()))?;
    match &edit.insert {
        Some(insert) => place(tree, &edit.path, insert),
        None => Ok(()),
    }
}

/// The data paths of the values of the leaf-list `node` under the parent
/// of `path`, in order.
fn leaf_list_values(
    tree: &DataTree<'static>,
    path: &DataPath,
    node: &SchemaNode<'_>,
) -> Vec<String> {
    let parent = path.parent();
    let first = if parent.is_root() {
        tree.reference()
    } else {
        tree.find_path(&parent.to_string())
            .ok()
            .and_then(|p| p.children().next())
    };
    first
        .into_iter()
        .flat_map(|f| f.inclusive_siblings())
        .filter(|n| n.schema().as_raw() == node.as_raw())
        .map(|n| crate::ly::node_path(&n))
        .collect()
}

/// Moves the entry at `path` (an entry of an ordered-by user list or
/// leaf-list, just merged) to the position `insert` gives.
fn place(tree: &mut DataTree<'static>, path: &str, insert: &Insert) -> Result<(), EditError> {
    let bad = |m: String| EditError::BadValue(ModelError::at(path, m));
    let node = tree
        .find_path(path)
        .map_err(|_| bad("insert: the entry is not there".to_string()))?;
    let schema = node.schema();
    if !schema.is_user_ordered() {
        return Err(bad(format!(
            "insert: {} is not an ordered-by user list or leaf-list",
            schema.name()
        )));
    }
    let same = |n: &yang2::data::DataNodeRef<'_, '_>| n.schema().as_raw() == schema.as_raw();
    // (No top-level list or leaf-list is ordered-by user: moving the node
    // the tree handle points at is not supported.)
    let Some(parent) = node.ancestors().next() else {
        return Err(bad("insert: not supported at the top level".to_string()));
    };
    let entries: Vec<_> = parent.children().filter(same).collect();
    let (anchor, before) = match insert {
        Insert::First => (entries.first().cloned(), true),
        Insert::Last => (entries.last().cloned(), false),
        Insert::Before(at) | Insert::After(at) => {
            let anchor = tree.find_path(at).ok().filter(same).ok_or_else(|| {
                bad(format!(
                    "insert: the entry {at} to insert next to does not exist (missing-instance)"
                ))
            })?;
            (Some(anchor), matches!(insert, Insert::Before(_)))
        }
    };
    let Some(anchor) = anchor else {
        return Ok(());
    };
    if anchor.as_raw() == node.as_raw() {
        return Ok(());
    }
    // SAFETY: both nodes belong to `tree`, are siblings of one
    // ordered-by user list or leaf-list (checked above); libyang unlinks
    // `node` and links it next to `anchor` under the same parent (not at
    // the top level); nothing is freed.
    let ret = unsafe {
        if before {
            yang2::ffi::lyd_insert_before(anchor.as_raw(), node.as_raw())
        } else {
            yang2::ffi::lyd_insert_after(anchor.as_raw(), node.as_raw())
        }
    };
    if ret != yang2::ffi::LY_ERR::LY_SUCCESS {
        return Err(bad("insert: libyang could not move the entry".to_string()));
    }
    Ok(())
}

fn exists(tree: &DataTree<'static>, path: &DataPath) -> bool {
    if path.is_root() {
        tree.reference().is_some()
    } else {
        tree.find_path(&path.to_string()).is_ok()
    }
}

/// Removes the node at `path` (which exists). A top-level node is removed by
/// rebuilding the tree from its other top-level nodes: freeing the node
/// the tree handle points at would leave the handle dangling.
fn remove(tree: &mut DataTree<'static>, path: &DataPath) {
    if path.is_root() {
        *tree = DataTree::new(schema::context());
        return;
    }
    if path.segments.len() > 1 {
        let _ = tree.remove(&path.to_string());
        return;
    }
    let target = tree
        .find_path(&path.to_string())
        .map(|n| crate::ly::node_path(&n))
        .ok();
    let mut rebuilt = DataTree::new(schema::context());
    if let Some(top) = tree.reference() {
        for node in top.inclusive_siblings() {
            if Some(crate::ly::node_path(&node)) == target {
                continue;
            }
            if let Ok(copy) = node.duplicate(false) {
                let _ = rebuilt.merge(&copy);
            }
        }
    }
    *tree = rebuilt;
}

/// Parses configuration text without validating it (the transaction
/// validates the whole result).
pub(crate) fn parse(text: &str, encoding: Encoding) -> Result<DataTree<'static>, ModelError> {
    parse_tree(
        text,
        encoding,
        DataParserFlags::NO_VALIDATION | DataParserFlags::STRICT | DataParserFlags::NO_STATE,
        DataValidationFlags::empty(),
    )
}

/// Builds a whole JSON document that holds `value` at `path`.
///
/// libyang creates the ancestors (with correctly typed keys) and prints them;
/// the value is then placed into that skeleton, so no type knowledge is
/// needed here.
fn wrap_json(path: &DataPath, node: &SchemaNode<'_>, value: &str) -> Result<String, ModelError> {
    let at = path.to_string();
    // The value is checked and looked at (its top level only), not copied:
    // its text goes into the document as it is.
    let probe: Probe = serde_json::from_str(value)
        .map_err(|e| ModelError::at(&at, format!("value is not JSON: {e}")))?;
    let entry = node.kind() == SchemaNodeKind::LeafList
        && path.segments.last().is_some_and(|s| !s.keys.is_empty());
    if entry {
        // One value of a leaf-list, at its `[.='v']` path: the value is
        // that one (alone or in an array).
        let want = Value::String(path.segments.last().map_or(String::new(), |s| {
            s.keys.first().map(|k| k.1.clone()).unwrap_or_default()
        }));
        let ok = match &probe {
            Probe::Array(items) => {
                matches!(items.as_slice(), [Some(v)] if json_scalar_eq(v, &want))
            }
            Probe::Scalar(Some(v)) => json_scalar_eq(v, &want),
            _ => false,
        };
        if !ok {
            return Err(ModelError::at(
                &at,
                format!("the value must be the one the path names ({want})"),
            ));
        }
    }
    let bracket = entry && matches!(probe, Probe::Scalar(_));
    let is_leaf = matches!(node.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList);
    let holder = if is_leaf { path.parent() } else { path.clone() };

    let mut skeleton = DataTree::new(schema::context());
    if !holder.is_root() {
        skeleton.new_path(&holder.to_string(), None, false)?;
    }
    let printed = crate::ly::print_tree(
        &skeleton,
        DataFormat::JSON,
        DataPrinterFlags::KEEP_EMPTY_CONT,
    )
    .map_err(ModelError::general)?;
    let printed = if printed.trim().is_empty() {
        "{}".to_string()
    } else {
        printed
    };
    let mut doc: Value = serde_json::from_str(&printed)
        .map_err(|e| ModelError::at(&at, format!("internal: skeleton is not JSON: {e}")))?;

    let target = descend(&mut doc, &holder)
        .ok_or_else(|| ModelError::at(&at, "internal: skeleton lacks the path"))?;
    let (member_value, inner) = if is_leaf {
        let parent_module = node
            .ancestors()
            .next()
            .map(|p| p.module().name().to_string());
        let module = node.module().name().to_string();
        let member = if parent_module.as_deref() == Some(module.as_str()) {
            node.name().to_string()
        } else {
            format!("{module}:{}", node.name())
        };
        target.insert(member, Value::String(SPLICE.to_string()));
        (true, value.trim())
    } else {
        let Probe::Object(members) = probe else {
            return Err(ModelError::at(
                &at,
                "value must be a JSON object for this node",
            ));
        };
        for (name, v) in members {
            if let Some(existing) = target.remove(&name) {
                // A key given both in the path and in the value must agree
                // (the value's member stays).
                if !v.as_ref().is_some_and(|v| json_scalar_eq(&existing, v)) {
                    let given = v
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "not a scalar".into());
                    return Err(ModelError::at(
                        &at,
                        format!("key {name} is {existing} in the path but {given} in the value"),
                    ));
                }
            }
        }
        target.insert(SPLICE.to_string(), Value::Null);
        let t = value.trim();
        (false, t[1..t.len() - 1].trim())
    };
    let text = doc.to_string();
    let mark = if member_value {
        format!("\"{}\"", SPLICE.replace('\0', "\\u0000"))
    } else {
        format!("\"{}\":null", SPLICE.replace('\0', "\\u0000"))
    };
    let Some(pos) = text.find(&mark) else {
        return Err(ModelError::at(&at, "internal: no place for the value"));
    };
    let (mut before, mut after) = (&text[..pos], &text[pos + mark.len()..]);
    if !member_value && inner.is_empty() {
        // An empty object: drop the place and a comma next to it.
        if let Some(b) = before.strip_suffix(',') {
            before = b;
        } else if let Some(a) = after.strip_prefix(',') {
            after = a;
        }
    }
    let mut out = String::with_capacity(text.len() + inner.len() + 2);
    out.push_str(before);
    if bracket {
        out.push('[');
    }
    out.push_str(inner);
    if bracket {
        out.push(']');
    }
    out.push_str(after);
    Ok(out)
}

/// The placeholder member (or value) a JSON value is put in place of (NUL
/// cannot be in a path or value: it is refused before).
const SPLICE: &str = "\0ocbgp-splice";

/// The top level of a JSON value, parsed without keeping anything large:
/// scalars (strings up to 4 KiB) with their value, objects with their
/// members' names and scalar values, arrays with their scalar elements.
enum Probe {
    Scalar(Option<Value>),
    Object(Vec<(String, Option<Value>)>),
    Array(Vec<Option<Value>>),
}

/// A nested value: a short scalar, or `None` (skipped).
struct Inner(Option<Value>);

const PROBE_STRING: usize = 4096;

impl<'de> serde::Deserialize<'de> for Probe {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Probe;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Probe, E> {
                Ok(Probe::Scalar(Some(Value::Bool(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Probe, E> {
                Ok(Probe::Scalar(Some(Value::from(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Probe, E> {
                Ok(Probe::Scalar(Some(Value::from(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Probe, E> {
                Ok(Probe::Scalar(
                    serde_json::Number::from_f64(v).map(Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Probe, E> {
                Ok(Probe::Scalar(
                    (v.len() <= PROBE_STRING).then(|| Value::String(v.to_string())),
                ))
            }
            fn visit_unit<E>(self) -> Result<Probe, E> {
                Ok(Probe::Scalar(Some(Value::Null)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Probe, A::Error> {
                let mut out = Vec::new();
                while let Some(Inner(v)) = a.next_element()? {
                    out.push(v);
                }
                Ok(Probe::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Probe, A::Error> {
                let mut out = Vec::new();
                while let Some((k, Inner(v))) = a.next_entry::<String, Inner>()? {
                    out.push((k, v));
                }
                Ok(Probe::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for Inner {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Inner;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Inner, E> {
                Ok(Inner(Some(Value::Bool(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Inner, E> {
                Ok(Inner(Some(Value::from(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Inner, E> {
                Ok(Inner(Some(Value::from(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Inner, E> {
                Ok(Inner(serde_json::Number::from_f64(v).map(Value::Number)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Inner, E> {
                Ok(Inner(
                    (v.len() <= PROBE_STRING).then(|| Value::String(v.to_string())),
                ))
            }
            fn visit_unit<E>(self) -> Result<Inner, E> {
                Ok(Inner(Some(Value::Null)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Inner, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Inner(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Inner, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Inner(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Walks the printed skeleton down `path`, returning the object of its last
/// node (for a list, the one entry the skeleton has).
fn descend<'v>(doc: &'v mut Value, path: &DataPath) -> Option<&'v mut Map<String, Value>> {
    let mut cur = doc;
    for seg in &path.segments {
        let obj = cur.as_object_mut()?;
        let key = obj
            .keys()
            .find(|k| k.rsplit(':').next() == Some(seg.name.as_str()))?
            .clone();
        cur = obj.get_mut(&key)?;
        if let Value::Array(entries) = cur {
            cur = entries.first_mut()?;
        }
    }
    cur.as_object_mut()
}

/// Key values compare by their text: the path carries `65001` where the
/// skeleton prints the number 65001.
fn json_scalar_eq(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text(a) == text(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const BASE: &str =
        "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']";

    fn tree() -> DataTree<'static> {
        let text = r#"{"openconfig-network-instance:network-instances": {"network-instance": [
            {"name": "DEFAULT", "config": {"name": "DEFAULT",
             "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}}]}}"#;
        Config::parse(text, Encoding::Json).unwrap().into_tree()
    }

    fn value(tree: &DataTree<'static>, path: &str) -> Option<String> {
        tree.find_path(path).ok()?.value_canonical()
    }

    #[test]
    fn merge_leaf_container_and_list_entry() {
        let mut t = tree();
        apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                format!("{BASE}/config/description"),
                "\"main\"",
            ),
        )
        .unwrap();
        assert_eq!(
            value(&t, &format!("{BASE}/config/description")).as_deref(),
            Some("main")
        );

        apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                format!("{BASE}/config"),
                r#"{"type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            value(&t, &format!("{BASE}/config/type")).as_deref(),
            Some("openconfig-network-instance-types:DEFAULT_INSTANCE")
        );
        assert_eq!(
            value(&t, &format!("{BASE}/config/description")).as_deref(),
            Some("main")
        );

        // A list entry whose key path holds a typed (identityref) key.
        let proto = format!(
            "{BASE}/protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']"
        );
        apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                &proto,
                r#"{"config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP"},
                    "bgp": {"global": {"config": {"as": 65001}}}}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            value(&t, &format!("{proto}/bgp/global/config/as")).as_deref(),
            Some("65001")
        );
    }

    #[test]
    fn replace_drops_what_the_value_lacks() {
        let mut t = tree();
        apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                format!("{BASE}/config/description"),
                "\"x\"",
            ),
        )
        .unwrap();
        apply(
            &mut t,
            &Edit::json(
                Operation::Replace,
                format!("{BASE}/config"),
                r#"{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}"#,
            ),
        )
        .unwrap();
        assert_eq!(value(&t, &format!("{BASE}/config/description")), None);
        assert_eq!(
            value(&t, &format!("{BASE}/config/name")).as_deref(),
            Some("DEFAULT")
        );
    }

    #[test]
    fn create_delete_remove_semantics() {
        let mut t = tree();
        let desc = format!("{BASE}/config/description");
        assert!(matches!(
            apply(&mut t, &Edit::delete(Operation::Delete, &desc)),
            Err(EditError::DataMissing(_))
        ));
        apply(&mut t, &Edit::delete(Operation::Remove, &desc)).unwrap();
        apply(&mut t, &Edit::json(Operation::Create, &desc, "\"a\"")).unwrap();
        assert!(matches!(
            apply(&mut t, &Edit::json(Operation::Create, &desc, "\"b\"")),
            Err(EditError::DataExists(_))
        ));
        apply(&mut t, &Edit::delete(Operation::Delete, &desc)).unwrap();
        assert_eq!(value(&t, &desc), None);
        // Removing a top-level node leaves the others (here the implicit
        // defaults of other modules) and a usable tree.
        let top = "/openconfig-network-instance:network-instances";
        apply(&mut t, &Edit::delete(Operation::Delete, top)).unwrap();
        assert!(t.find_path(top).is_err());
        apply(&mut t, &Edit::json(Operation::Create, &desc, "\"again\"")).unwrap();
        assert!(t.find_path(top).is_ok());
    }

    #[test]
    fn xml_values_are_documents_from_the_root() {
        let mut t = tree();
        let xml = r#"<network-instances xmlns="http://openconfig.net/yang/network-instance">
            <network-instance><name>DEFAULT</name><config><description>via xml</description></config>
            </network-instance></network-instances>"#;
        let path = format!("{BASE}/config/description");
        apply(
            &mut t,
            &Edit {
                op: Operation::Merge,
                path: path.clone(),
                value: Some((xml.into(), Encoding::Xml)),
                insert: None,
            },
        )
        .unwrap();
        assert_eq!(value(&t, &path).as_deref(), Some("via xml"));
        let other = format!("{BASE}/config/type");
        let e = apply(
            &mut t,
            &Edit {
                op: Operation::Merge,
                path: other,
                value: Some((xml.into(), Encoding::Xml)),
                insert: None,
            },
        );
        assert!(matches!(e, Err(EditError::BadValue(_))), "{e:?}");
    }

    #[test]
    fn errors_are_specific() {
        let mut t = tree();
        let e = apply(
            &mut t,
            &Edit::json(Operation::Merge, format!("{BASE}/config/colour"), "\"red\""),
        );
        assert!(matches!(e, Err(EditError::UnknownPath(_))), "{e:?}");
        let bgp = format!(
            "{BASE}/protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/global"
        );
        let e = apply(
            &mut t,
            &Edit::json(Operation::Merge, format!("{bgp}/state/as"), "1"),
        );
        assert!(matches!(e, Err(EditError::NotConfig(_))), "{e:?}");
        let e = apply(&mut t, &Edit::json(Operation::Merge, "no-slash", "1"));
        assert!(matches!(e, Err(EditError::MalformedPath(_))), "{e:?}");
        let e = apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                format!("{bgp}/config/router-id"),
                "\"1.2.3\"",
            ),
        );
        assert!(matches!(e, Err(EditError::BadValue(_))), "{e:?}");
        let e = apply(
            &mut t,
            &Edit::json(Operation::Merge, format!("{BASE}/config"), "[1]"),
        );
        assert!(matches!(e, Err(EditError::BadValue(_))), "{e:?}");
    }

    fn import_policy() -> String {
        format!(
            "{BASE}/protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']\
             /bgp/neighbors/neighbor[neighbor-address='192.0.2.1']/apply-policy/config/import-policy"
        )
    }

    fn values(tree: &DataTree<'static>, path: &str) -> Vec<String> {
        crate::ly::find(tree, path)
            .unwrap()
            .iter()
            .filter_map(|n| n.value_canonical())
            .collect()
    }

    #[test]
    fn leaf_list_whole_replace_merge_delete() {
        let mut t = tree();
        let p = import_policy();
        apply(&mut t, &Edit::json(Operation::Merge, &p, r#"["P1"]"#)).unwrap();
        apply(
            &mut t,
            &Edit::json(Operation::Replace, &p, r#"["P3", "P2"]"#),
        )
        .unwrap();
        assert_eq!(values(&t, &p), ["P3", "P2"]);
        // Merge adds what is missing, at the end; existing values stay put.
        apply(&mut t, &Edit::json(Operation::Merge, &p, r#"["P1", "P3"]"#)).unwrap();
        assert_eq!(values(&t, &p), ["P3", "P2", "P1"]);
        // One value by its predicate.
        apply(
            &mut t,
            &Edit::delete(Operation::Delete, format!("{p}[.='P2']")),
        )
        .unwrap();
        assert_eq!(values(&t, &p), ["P3", "P1"]);
        // The whole leaf-list.
        apply(&mut t, &Edit::delete(Operation::Remove, &p)).unwrap();
        assert!(values(&t, &p).is_empty());
        assert!(matches!(
            apply(&mut t, &Edit::delete(Operation::Delete, &p)),
            Err(EditError::DataMissing(_))
        ));
        apply(&mut t, &Edit::delete(Operation::Remove, &p)).unwrap();
        apply(&mut t, &Edit::json(Operation::Create, &p, r#"["A"]"#)).unwrap();
        assert!(matches!(
            apply(&mut t, &Edit::json(Operation::Create, &p, r#"["B"]"#)),
            Err(EditError::DataExists(_))
        ));
        apply(&mut t, &Edit::json(Operation::Replace, &p, "[]")).unwrap();
        assert!(values(&t, &p).is_empty());
    }

    #[test]
    fn leaf_list_insert_positions() {
        let mut t = tree();
        let p = import_policy();
        apply(
            &mut t,
            &Edit::json(Operation::Replace, &p, r#"["A", "B", "C"]"#),
        )
        .unwrap();
        let entry = |v: &str| format!("{p}[.='{v}']");
        let mut put = |v: &str, insert: Insert| {
            let mut edit = Edit::json(Operation::Merge, entry(v), format!("{v:?}"));
            edit.insert = Some(insert);
            apply(&mut t, &edit)
        };
        put("D", Insert::First).unwrap();
        put("A", Insert::Last).unwrap();
        put("E", Insert::Before(entry("C"))).unwrap();
        put("D", Insert::After(entry("C"))).unwrap();
        let e = put("F", Insert::After(entry("nope")));
        assert!(matches!(e, Err(EditError::BadValue(_))), "{e:?}");
        assert_eq!(values(&t, &p), ["B", "E", "C", "D", "A", "F"]);
        // Replace of one value keeps its place.
        apply(&mut t, &Edit::json(Operation::Replace, entry("E"), "\"E\"")).unwrap();
        assert_eq!(values(&t, &p), ["B", "E", "C", "D", "A", "F"]);
    }

    #[test]
    fn list_insert_positions_statements() {
        let mut t = tree();
        let defs = "/openconfig-routing-policy:routing-policy/policy-definitions/policy-definition[name='P']";
        apply(
            &mut t,
            &Edit::json(
                Operation::Merge,
                defs,
                r#"{"name": "P", "config": {"name": "P"}, "statements": {"statement": [
                    {"name": "a", "config": {"name": "a"}},
                    {"name": "b", "config": {"name": "b"}},
                    {"name": "c", "config": {"name": "c"}}]}}"#,
            ),
        )
        .unwrap();
        let st = |n: &str| format!("{defs}/statements/statement[name='{n}']");
        let mut edit = Edit::json(Operation::Merge, st("c"), r#"{"name": "c"}"#);
        edit.insert = Some(Insert::Before(st("a")));
        apply(&mut t, &edit).unwrap();
        let mut edit = Edit::json(Operation::Merge, st("a"), r#"{"name": "a"}"#);
        edit.insert = Some(Insert::Last);
        apply(&mut t, &edit).unwrap();
        assert_eq!(
            values(&t, &format!("{defs}/statements/statement/name")),
            ["c", "b", "a"]
        );
    }
}
