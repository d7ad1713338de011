//! Values and paths out of libyang data nodes: the gNMI path of a node,
//! RFC 7951 JSON of a subtree (JSON and JSON_IETF encodings), and per-leaf
//! values, as JSON or as scalar `TypedValue`s (PROTO encoding).
//!
//! Subtrees are printed by libyang's JSON printer, so member names are
//! qualified exactly where the module changes, 64-bit numbers and decimals
//! are strings and identities carry their module. Values include defaults
//! (libyang's report-all mode): a read shows the configuration in effect.

use std::collections::{BTreeMap, HashMap};

use yang2::data::{DataNodeRef, DataPrinterFlags};
use yang2::iter::NodeIterable;
use yang2::schema::{DataValueType, SchemaNode, SchemaNodeKind};

use crate::path::schema::{children, is_identityref};
use crate::proto::gnmi::typed_value::Value as Typed;
use crate::proto::gnmi::{Encoding, Path, PathElem, ScalarArray, TypedValue};
use ocbgp_models::ly;

/// How a read encodes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueEncoding {
    /// RFC 7951 text in `json_val`.
    Json,
    /// RFC 7951 text in `json_ietf_val`.
    JsonIetf,
    /// Scalar `TypedValue`s, one per leaf.
    Proto,
}

impl ValueEncoding {
    /// The encoding a request asks for, or `Unimplemented` (the code the
    /// specification gives for an unsupported encoding).
    pub(crate) fn from_request(encoding: i32) -> Result<ValueEncoding, tonic::Status> {
        match Encoding::try_from(encoding) {
            Ok(Encoding::Json) => Ok(ValueEncoding::Json),
            Ok(Encoding::JsonIetf) => Ok(ValueEncoding::JsonIetf),
            Ok(Encoding::Proto) => Ok(ValueEncoding::Proto),
            Ok(other) => Err(tonic::Status::unimplemented(format!(
                "encoding {} is not supported: use JSON_IETF, JSON or PROTO",
                other.as_str_name()
            ))),
            Err(_) => Err(tonic::Status::unimplemented(format!(
                "unknown encoding {encoding}: use JSON_IETF, JSON or PROTO"
            ))),
        }
    }

    /// A JSON text as this encoding's `TypedValue`.
    pub(crate) fn json_value(self, json: String) -> TypedValue {
        let value = match self {
            ValueEncoding::Json => Typed::JsonVal(json.into_bytes()),
            _ => Typed::JsonIetfVal(json.into_bytes()),
        };
        TypedValue { value: Some(value) }
    }
}

/// One leaf (or whole leaf-list) with its value in every encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    /// Its gNMI path.
    pub path: Path,
    /// The JSON value: a scalar, or an array for a leaf-list.
    pub json: String,
    /// The PROTO value: a scalar, or a `leaflist_val`.
    pub typed: Typed,
    /// Whether it is configuration (`config true`).
    pub config: bool,
    /// Whether it counts something (see [`is_counter`]).
    pub counter: bool,
}

impl Leaf {
    /// The value as `encoding` asks.
    pub(crate) fn value(&self, encoding: ValueEncoding) -> TypedValue {
        match encoding {
            ValueEncoding::Proto => TypedValue {
                value: Some(self.typed.clone()),
            },
            e => e.json_value(self.json.clone()),
        }
    }
}

/// Leaves by the text of their path (see [`crate::path::to_text`]).
pub(crate) type Leaves = BTreeMap<String, Leaf>;

/// What the namer remembers about a schema node.
#[derive(Debug, Clone)]
struct NodeFacts {
    /// Its name in gNMI paths: bare, or `module:name` where the bare name
    /// is ambiguous among its siblings.
    name: String,
    config: bool,
    counter: bool,
    identity_key: bool,
}

/// Builds gNMI paths of data nodes, remembering per schema node what it
/// learns (names, ambiguity, classification): one namer per read.
#[derive(Default)]
pub(crate) struct Namer {
    facts: HashMap<usize, NodeFacts>,
}

/// The nearest ancestor that appears in data (not a choice or case).
fn data_parent<'a>(node: &SchemaNode<'a>) -> Option<SchemaNode<'a>> {
    node.ancestors()
        .find(|a| !matches!(a.kind(), SchemaNodeKind::Choice | SchemaNodeKind::Case))
}

/// Whether a state leaf counts events or messages: a counter typedef, or a
/// number in a container of message, queue or prefix counts. Session
/// transitions and time stamps are events, not counters. TARGET_DEFINED
/// subscriptions sample counters and send everything else on change.
fn is_counter(node: &SchemaNode<'_>) -> bool {
    if node.is_config() || node.kind() != SchemaNodeKind::Leaf {
        return false;
    }
    if node.name() == "established-transitions" {
        return false;
    }
    let Some(ltype) = node.leaf_type() else {
        return false;
    };
    let typedef = ltype.typedef_name().unwrap_or_default();
    if typedef.contains("timeticks") {
        return false;
    }
    if typedef.contains("counter") {
        return true;
    }
    let numeric = matches!(
        ltype.base_type(),
        DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32
            | DataValueType::Uint64
            | DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Int64
    );
    let parent = data_parent(node)
        .map(|p| p.name().to_string())
        .unwrap_or_default();
    numeric
        && (matches!(
            parent.as_str(),
            "sent" | "received" | "queues" | "prefixes" | "counters" | "messages" | "statistics"
        ) || node.name().ends_with("-messages"))
}

impl Namer {
    fn facts(&mut self, schema: &SchemaNode<'_>) -> &NodeFacts {
        let key = schema.as_raw() as usize;
        self.facts.entry(key).or_insert_with(|| {
            let ctx = ocbgp_models::schema::context();
            let parent = data_parent(schema);
            let module = schema.module().name().to_string();
            let ambiguous = children(ctx, parent.as_ref())
                .iter()
                .filter(|n| n.name() == schema.name())
                .count()
                > 1;
            NodeFacts {
                name: if ambiguous {
                    format!("{module}:{}", schema.name())
                } else {
                    schema.name().to_string()
                },
                config: schema.is_config(),
                counter: is_counter(schema),
                identity_key: schema.is_list_key() && is_identityref(schema),
            }
        })
    }

    /// The path element of one data node: its name, and for a list entry
    /// its keys (identity values without their module, as OpenConfig
    /// paths write them).
    pub(crate) fn elem(&mut self, node: &DataNodeRef<'_, '_>) -> PathElem {
        let name = self.facts(&node.schema()).name.clone();
        let mut key = BTreeMap::new();
        if node.schema().kind() == SchemaNodeKind::List {
            for k in node.list_keys() {
                let mut value = k.value_canonical().unwrap_or_default();
                if self.facts(&k.schema()).identity_key {
                    if let Some((_, bare)) = value.split_once(':') {
                        value = bare.to_string();
                    }
                }
                key.insert(k.schema().name().to_string(), value);
            }
        }
        PathElem { name, key }
    }

    /// The elements from the root down to `node`, inclusive.
    pub(crate) fn elems(&mut self, node: &DataNodeRef<'_, '_>) -> Vec<PathElem> {
        let mut chain: Vec<DataNodeRef<'_, '_>> = node.inclusive_ancestors().collect();
        chain.reverse();
        chain.iter().map(|n| self.elem(n)).collect()
    }

    /// Every leaf at or below `node`, added to `out` (a leaf-list once, with
    /// all its values, however many of its entries were matched).
    pub(crate) fn leaves(&mut self, node: &DataNodeRef<'_, '_>, out: &mut Leaves) {
        let mut elems = self.elems(node);
        self.walk(node, &mut elems, out);
    }

    /// Every leaf at or below `node`, which stands at `elems` (for a copy
    /// of a node taken out of its tree).
    pub(crate) fn leaves_at(
        &mut self,
        node: &DataNodeRef<'_, '_>,
        mut elems: Vec<PathElem>,
        out: &mut Leaves,
    ) {
        self.walk(node, &mut elems, out);
    }

    fn walk(&mut self, node: &DataNodeRef<'_, '_>, elems: &mut Vec<PathElem>, out: &mut Leaves) {
        let schema = node.schema();
        match schema.kind() {
            SchemaNodeKind::Leaf | SchemaNodeKind::LeafList => {
                let path = Path {
                    elem: elems.clone(),
                    ..Default::default()
                };
                let text = crate::path::to_text(&path);
                if out.contains_key(&text) {
                    return;
                }
                let facts = self.facts(&schema).clone();
                let (json, typed) = if schema.kind() == SchemaNodeKind::LeafList {
                    let entries = leaf_list_entries(node);
                    let json = format!(
                        "[{}]",
                        entries
                            .iter()
                            .map(scalar_json)
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    let element = entries
                        .iter()
                        .map(|e| TypedValue {
                            value: Some(scalar_typed(e)),
                        })
                        .collect();
                    (json, Typed::LeaflistVal(ScalarArray { element }))
                } else {
                    (scalar_json(node), scalar_typed(node))
                };
                out.insert(
                    text,
                    Leaf {
                        path,
                        json,
                        typed,
                        config: facts.config,
                        counter: facts.counter,
                    },
                );
            }
            SchemaNodeKind::Container | SchemaNodeKind::List => {
                for child in node.children() {
                    elems.push(self.elem(&child));
                    self.walk(&child, elems, out);
                    elems.pop();
                }
            }
            _ => {}
        }
    }
}

/// Every entry of the leaf-list `node` belongs to: its siblings with the
/// same schema node, in order.
fn leaf_list_entries<'a, 'b>(node: &DataNodeRef<'a, 'b>) -> Vec<DataNodeRef<'a, 'b>> {
    let schema = node.schema().as_raw();
    let first = match node.parent() {
        Some(p) => p.children().next(),
        // A top-level leaf-list (none in ocbgp's schema): from this entry on.
        None => Some(node.clone()),
    };
    first
        .map(|f| {
            f.inclusive_siblings()
                .filter(|s| s.schema().as_raw() == schema)
                .collect()
        })
        .unwrap_or_else(|| vec![node.clone()])
}

/// The RFC 7951 JSON of one leaf or leaf-list entry.
pub(crate) fn scalar_json(node: &DataNodeRef<'_, '_>) -> String {
    let canonical = node.value_canonical().unwrap_or_default();
    match ly::value_type(node) {
        Some(
            DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32,
        ) => canonical,
        Some(DataValueType::Bool) => canonical,
        Some(DataValueType::Empty) => "[null]".to_string(),
        _ => serde_json::Value::String(canonical).to_string(),
    }
}

/// The PROTO value of one leaf or leaf-list entry: integers in `int_val` or
/// `uint_val`, booleans in `bool_val`, decimals in `double_val`, an empty
/// leaf as `bool_val` true, identities by bare name in `string_val` (as
/// OpenConfig paths write them), everything else as its canonical text.
pub(crate) fn scalar_typed(node: &DataNodeRef<'_, '_>) -> Typed {
    let canonical = node.value_canonical().unwrap_or_default();
    let text = || Typed::StringVal(canonical.clone());
    match ly::value_type(node) {
        Some(
            DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Int64,
        ) => canonical
            .parse()
            .map(Typed::IntVal)
            .unwrap_or_else(|_| text()),
        Some(
            DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32
            | DataValueType::Uint64,
        ) => canonical
            .parse()
            .map(Typed::UintVal)
            .unwrap_or_else(|_| text()),
        Some(DataValueType::Bool) => Typed::BoolVal(canonical == "true"),
        Some(DataValueType::Dec64) => canonical
            .parse()
            .map(Typed::DoubleVal)
            .unwrap_or_else(|_| text()),
        Some(DataValueType::Empty) => Typed::BoolVal(true),
        Some(DataValueType::IdentityRef) => Typed::StringVal(match canonical.split_once(':') {
            Some((_, bare)) => bare.to_string(),
            None => canonical.clone(),
        }),
        _ => text(),
    }
}

/// The RFC 7951 JSON value of a node's subtree, as a gNMI update carries it
/// for the node's path: a bare value for a leaf, an array for a leaf-list,
/// the entry object for a list entry, the object for a container.
pub(crate) fn subtree_json(node: &DataNodeRef<'_, '_>) -> Result<String, String> {
    match node.schema().kind() {
        SchemaNodeKind::Leaf => Ok(scalar_json(node)),
        SchemaNodeKind::LeafList => Ok(format!(
            "[{}]",
            leaf_list_entries(node)
                .iter()
                .map(scalar_json)
                .collect::<Vec<_>>()
                .join(",")
        )),
        kind => {
            let printed =
                ly::print_json(node, DataPrinterFlags::SHRINK | DataPrinterFlags::WD_ALL)?;
            if printed.trim().is_empty() || printed.trim() == "{}" {
                // An empty container: libyang prints nothing for it.
                return Ok("{}".to_string());
            }
            unwrap_member(&printed, kind == SchemaNodeKind::List)
                .ok_or_else(|| format!("unexpected JSON from libyang: {printed}"))
        }
    }
}

/// Takes the value out of `{"module:name":VALUE}` (libyang's compact form
/// of one printed node); for a list entry, out of its one-element array.
fn unwrap_member(printed: &str, list: bool) -> Option<String> {
    let printed = printed.trim();
    let body = printed.strip_prefix("{\"")?.strip_suffix('}')?;
    // Member names are identifiers: the first `":` ends the name.
    let (_, value) = body.split_once("\":")?;
    let value = if list {
        value.strip_prefix('[')?.strip_suffix(']')?
    } else {
        value
    };
    Some(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::unwrap_member;

    #[test]
    fn unwraps_printed_members() {
        assert_eq!(
            unwrap_member(r#"{"m:c":{"a":1}}"#, false).as_deref(),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(
            unwrap_member(r#"{"m:l":[{"k":"x]"}]}"#, true).as_deref(),
            Some(r#"{"k":"x]"}"#)
        );
        assert_eq!(unwrap_member("[]", false), None);
    }
}
