//! Set values into the RFC 7951 JSON that the models crate's edits take.
//!
//! JSON_IETF and JSON values are both read as RFC 7951 and made to conform
//! where a client wrote them loosely (as OpenConfig tools often do): member
//! names get their module where it changes, identities without a module get
//! the module defining them, numbers written as strings (or 64-bit numbers
//! written as numbers) take the form RFC 7951 gives their type. Anything
//! else is left to libyang, which reports what is wrong. A leaf's value
//! that is not JSON at all is taken as a string (clients such as pygnmi
//! send string values unquoted). Scalar
//! `TypedValue`s are accepted for leaves (and `leaflist_val` for
//! leaf-lists), converted by the leaf's type.

use serde_json::{Map, Number, Value};
use yang2::schema::{DataValueType, SchemaNode, SchemaNodeKind};

use crate::path::schema::{children, identity_module};
use crate::proto::gnmi::typed_value::Value as Typed;
use crate::proto::gnmi::TypedValue;

/// Why a value cannot be used; the caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// The value is not valid (`InvalidArgument`).
    Invalid(String),
    /// The value's encoding is not supported (`Unimplemented`).
    Unsupported(String),
}

/// The JSON text for the node `schema` (`None`: the whole configuration)
/// that a Set update's value gives.
///
/// The value is taken, not borrowed: a large JSON value's bytes become the
/// parsed value's input without a copy and are freed before the result is
/// printed (so one Set holds at most two copies of it here).
pub(crate) fn value_json(
    schema: Option<&SchemaNode<'_>>,
    val: Option<TypedValue>,
) -> Result<String, ValueError> {
    let Some(value) = val.and_then(|v| v.value) else {
        return Err(ValueError::Invalid("the update has no value".to_string()));
    };
    let json = match value {
        Typed::JsonVal(bytes) | Typed::JsonIetfVal(bytes) if bytes.is_empty() => {
            return Err(ValueError::Invalid("the JSON value is empty".to_string()))
        }
        Typed::JsonVal(bytes) | Typed::JsonIetfVal(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| ValueError::Invalid("JSON value is not UTF-8".to_string()))?;
            let parsed: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                // Some clients (pygnmi among them) send a string leaf's
                // text without JSON quotes: for a leaf of a string-like
                // type, text that cannot start a JSON value can only mean
                // that string. Anything else that does not parse is an
                // error (gNMI 2.2.3: the value is JSON).
                Err(_) if schema.is_some_and(unquoted_string_ok) && unquoted_string(&text) => {
                    Value::String(text)
                }
                Err(e) => return Err(ValueError::Invalid(format!("value is not JSON: {e}"))),
            };
            match schema {
                None => normalize_root(parsed),
                Some(node) => normalize_content(node, parsed),
            }
        }
        Typed::AsciiVal(_) | Typed::AnyVal(_) | Typed::ProtoBytes(_) => {
            return Err(ValueError::Unsupported(
                "ascii_val, any_val and proto_bytes values are not supported: use json_ietf_val, json_val or a scalar value"
                    .to_string(),
            ))
        }
        scalar => {
            let Some(node) = schema.filter(|n| {
                matches!(n.kind(), SchemaNodeKind::Leaf | SchemaNodeKind::LeafList)
            }) else {
                return Err(ValueError::Invalid(
                    "a scalar value needs a leaf or leaf-list path; use json_ietf_val for other nodes".to_string(),
                ));
            };
            match (node.kind(), &scalar) {
                (SchemaNodeKind::LeafList, Typed::LeaflistVal(array)) => Value::Array(
                    array
                        .element
                        .iter()
                        .map(|e| match &e.value {
                            Some(v) => scalar_json(node, v),
                            None => Err(ValueError::Invalid("empty leaf-list element".to_string())),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                (SchemaNodeKind::LeafList, other) => Value::Array(vec![scalar_json(node, other)?]),
                (_, Typed::LeaflistVal(_)) => {
                    return Err(ValueError::Invalid("leaflist_val is for leaf-lists".to_string()))
                }
                (_, other) => scalar_json(node, other)?,
            }
        }
    };
    Ok(json.to_string())
}

/// Whether a leaf takes text sent without JSON quotes: a leaf (not a
/// leaf-list) whose type is a string, an enumeration, an identity, bits,
/// an instance-identifier or a union.
fn unquoted_string_ok(node: &SchemaNode<'_>) -> bool {
    node.kind() == SchemaNodeKind::Leaf
        && matches!(
            base_type(node),
            Some(
                DataValueType::String
                    | DataValueType::Enum
                    | DataValueType::IdentityRef
                    | DataValueType::Bits
                    | DataValueType::InstanceId
                    | DataValueType::Union
            )
        )
}

/// Text that is not JSON and could not be meant as JSON: not empty, not
/// starting like an array, object or string, not a literal.
fn unquoted_string(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty() && !t.starts_with(['[', '{', '"']) && !matches!(t, "true" | "false" | "null")
}

/// The name of a scalar `TypedValue` field.
fn typed_name(value: &Typed) -> &'static str {
    match value {
        Typed::StringVal(_) => "string_val",
        Typed::IntVal(_) => "int_val",
        Typed::UintVal(_) => "uint_val",
        Typed::BoolVal(_) => "bool_val",
        Typed::BytesVal(_) => "bytes_val",
        Typed::DoubleVal(_) => "double_val",
        #[allow(deprecated)]
        Typed::FloatVal(_) => "float_val",
        #[allow(deprecated)]
        Typed::DecimalVal(_) => "decimal_val",
        Typed::LeaflistVal(_) => "leaflist_val",
        Typed::AnyVal(_) => "any_val",
        Typed::JsonVal(_) => "json_val",
        Typed::JsonIetfVal(_) => "json_ietf_val",
        Typed::AsciiVal(_) => "ascii_val",
        Typed::ProtoBytes(_) => "proto_bytes",
    }
}

/// Checks a scalar `TypedValue` against the leaf's type (gNMI 2.2.3 with
/// the OpenConfig mapping of YANG types): integers take `int_val` or
/// `uint_val` (the range is libyang's to check), decimal64 `double_val`,
/// `decimal_val`, `float_val` or an integer, boolean `bool_val`, empty
/// `bool_val` true, binary `bytes_val`; string, enumeration, identityref,
/// bits and instance-identifier `string_val`. A union takes any scalar
/// (libyang tries its member types).
fn check_scalar(node: &SchemaNode<'_>, value: &Typed) -> Result<(), ValueError> {
    #[allow(deprecated)]
    let (ok, want) = match base_type(node) {
        None | Some(DataValueType::Union | DataValueType::Unknown) => (true, ""),
        Some(
            DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Int64
            | DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32
            | DataValueType::Uint64,
        ) => (
            matches!(value, Typed::IntVal(_) | Typed::UintVal(_)),
            "int_val or uint_val",
        ),
        Some(DataValueType::Dec64) => (
            matches!(
                value,
                Typed::DoubleVal(_)
                    | Typed::DecimalVal(_)
                    | Typed::FloatVal(_)
                    | Typed::IntVal(_)
                    | Typed::UintVal(_)
            ),
            "double_val (or decimal_val)",
        ),
        Some(DataValueType::Bool) => (matches!(value, Typed::BoolVal(_)), "bool_val"),
        Some(DataValueType::Empty) => (matches!(value, Typed::BoolVal(true)), "bool_val true"),
        Some(DataValueType::Binary) => (matches!(value, Typed::BytesVal(_)), "bytes_val"),
        Some(_) => (matches!(value, Typed::StringVal(_)), "string_val"),
    };
    if ok {
        return Ok(());
    }
    let ty = base_type(node)
        .map(|t| format!("{t:?}").to_lowercase())
        .unwrap_or_default();
    Err(ValueError::Invalid(format!(
        "{} is not a value for {} {} of type {ty}: use {want}",
        typed_name(value),
        if node.kind() == SchemaNodeKind::LeafList {
            "leaf-list"
        } else {
            "leaf"
        },
        node.name(),
    )))
}

/// A scalar `TypedValue` as the JSON of leaf `node`'s type.
fn scalar_json(node: &SchemaNode<'_>, value: &Typed) -> Result<Value, ValueError> {
    check_scalar(node, value)?;
    if base_type(node) == Some(DataValueType::Empty) {
        return Ok(Value::Array(vec![Value::Null]));
    }
    let json = match value {
        Typed::StringVal(s) => Value::String(s.clone()),
        Typed::IntVal(i) => Value::from(*i),
        Typed::UintVal(u) => Value::from(*u),
        Typed::BoolVal(b) => Value::Bool(*b),
        Typed::DoubleVal(d) => Number::from_f64(*d)
            .map(Value::Number)
            .ok_or_else(|| ValueError::Invalid(format!("{d} is not a number")))?,
        #[allow(deprecated)]
        Typed::FloatVal(f) => Number::from_f64(f64::from(*f))
            .map(Value::Number)
            .ok_or_else(|| ValueError::Invalid(format!("{f} is not a number")))?,
        #[allow(deprecated)]
        Typed::DecimalVal(d) => Value::String(decimal_text(d.digits, d.precision)),
        Typed::BytesVal(b) => Value::String(base64(b)),
        _ => return Err(ValueError::Invalid("not a scalar value".to_string())),
    };
    Ok(coerce(node, json))
}

/// `digits * 10^-precision` as decimal text.
fn decimal_text(digits: i64, precision: u32) -> String {
    let negative = digits < 0;
    let mut text = digits.unsigned_abs().to_string();
    let p = precision as usize;
    if p > 0 {
        if text.len() <= p {
            text = format!("{}{text}", "0".repeat(p + 1 - text.len()));
        }
        text.insert(text.len() - p, '.');
    }
    if negative {
        text.insert(0, '-');
    }
    text
}

/// Standard base64 with padding (YANG `binary`).
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A whole-configuration value: every top-level member qualified.
fn normalize_root(value: Value) -> Value {
    let ctx = ocbgp_models::schema::context();
    match value {
        Value::Object(members) => {
            Value::Object(normalize_members(&children(ctx, None), None, members))
        }
        other => other,
    }
}

/// The value for the node at a Set path: a leaf's scalar, a leaf-list's
/// array, a container's object, a list entry's object.
fn normalize_content(node: &SchemaNode<'_>, value: Value) -> Value {
    match node.kind() {
        SchemaNodeKind::Leaf => coerce(node, value),
        SchemaNodeKind::LeafList => match value {
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| coerce(node, v)).collect())
            }
            other => other,
        },
        SchemaNodeKind::Container | SchemaNodeKind::List => match value {
            Value::Object(members) => {
                let ctx = ocbgp_models::schema::context();
                let module = node.module().name().to_string();
                Value::Object(normalize_members(
                    &children(ctx, Some(node)),
                    Some(&module),
                    members,
                ))
            }
            other => other,
        },
        _ => value,
    }
}

/// The value of a member named by its parent: like [`normalize_content`],
/// except that a list's value is the array of its entries.
pub(crate) fn normalize_member(node: &SchemaNode<'_>, value: Value) -> Value {
    match (node.kind(), value) {
        (SchemaNodeKind::List, Value::Array(entries)) => Value::Array(
            entries
                .into_iter()
                .map(|e| normalize_content(node, e))
                .collect(),
        ),
        (_, value) => normalize_content(node, value),
    }
}

/// Qualifies member names (module where it differs from the parent's,
/// `parent_module` `None` at the top level) and normalizes their values.
fn normalize_members(
    kids: &[SchemaNode<'_>],
    parent_module: Option<&str>,
    members: Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::with_capacity(members.len());
    for (name, value) in members {
        let (module, bare) = match name.split_once(':') {
            Some((m, b)) => (Some(m), b),
            None => (None, name.as_str()),
        };
        let matches: Vec<&SchemaNode<'_>> = kids
            .iter()
            .filter(|k| k.name() == bare && module.is_none_or(|m| k.module().name() == m))
            .collect();
        // Unknown or ambiguous names stay as written: libyang reports them.
        let [child] = matches.as_slice() else {
            out.insert(name, value);
            continue;
        };
        let child_module = child.module().name().to_string();
        let key = if parent_module == Some(child_module.as_str()) {
            bare.to_string()
        } else {
            format!("{child_module}:{bare}")
        };
        out.insert(key, normalize_member(child, value));
    }
    out
}

/// The base type of a leaf, through leafrefs.
fn base_type(node: &SchemaNode<'_>) -> Option<DataValueType> {
    let ltype = node.leaf_type()?;
    Some(match ltype.base_type() {
        DataValueType::LeafRef => ltype.leafref_real_type()?.base_type(),
        other => other,
    })
}

/// A scalar in the JSON form RFC 7951 gives the leaf's type, where the
/// client's form can be converted without doubt.
fn coerce(node: &SchemaNode<'_>, value: Value) -> Value {
    let Some(base) = base_type(node) else {
        return value;
    };
    match (base, value) {
        (
            DataValueType::Int8
            | DataValueType::Int16
            | DataValueType::Int32
            | DataValueType::Uint8
            | DataValueType::Uint16
            | DataValueType::Uint32,
            Value::String(s),
        ) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(s),
        },
        (DataValueType::Int64 | DataValueType::Uint64 | DataValueType::Dec64, Value::Number(n)) => {
            Value::String(n.to_string())
        }
        (DataValueType::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (DataValueType::IdentityRef, Value::String(s)) if !s.contains(':') => {
            match identity_module(node, &s) {
                Some(m) => Value::String(format!("{m}:{s}")),
                None => Value::String(s),
            }
        }
        (DataValueType::String | DataValueType::Enum, Value::Number(n)) => {
            Value::String(n.to_string())
        }
        (_, value) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_base64() {
        assert_eq!(decimal_text(12345, 2), "123.45");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(7, 0), "7");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b""), "");
    }
}
