//! Runtime support for the generated code: the [`FromNode`] and
//! [`YangValue`] traits, reading and writing leaf values, and data paths
//! with key predicates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use yang2::data::{Data, DataNodeRef, DataTree};
use yang2::schema::DataValue;

use crate::ModelError;

/// A typed struct read from a container or list entry of a data tree.
pub trait FromNode: Sized {
    /// Reads the struct from `node`; `None` stands for an absent container
    /// and gives its defaults (an error if it has mandatory leaves).
    fn read(node: Option<&DataNodeRef<'_, '_>>) -> Result<Self, ModelError>;

    /// Reads the struct from a container or list-entry node.
    fn from_node(node: &DataNodeRef<'_, '_>) -> Result<Self, ModelError> {
        Self::read(Some(node))
    }

    /// Reads the struct at data path `path` of `tree`, such as one list
    /// entry: `…/neighbor[neighbor-address='192.0.2.1']`. Costs a hashed
    /// lookup per list on the path plus the size of that one subtree.
    fn from_tree(tree: &DataTree<'_>, path: &str) -> Result<Self, ModelError> {
        let node = tree
            .find_path(path)
            .map_err(|_| ModelError::at(path, "no such node in the tree"))?;
        Self::from_node(&node)
    }
}

/// A leaf value type: read from a leaf node, written as canonical text.
pub trait YangValue: Sized {
    /// Reads the value of a leaf or leaf-list node.
    fn from_leaf(node: &DataNodeRef<'_, '_>) -> Result<Self, ModelError>;

    /// The value as libyang takes it in paths and edits.
    fn to_text(&self) -> String;
}

macro_rules! numbers {
    ($($t:ty => $variant:ident,)*) => {$(
        impl YangValue for $t {
            fn from_leaf(node: &DataNodeRef<'_, '_>) -> Result<Self, ModelError> {
                match node.value() {
                    Some(DataValue::$variant(v)) => Ok(v),
                    _ => parse(node, stringify!($t)),
                }
            }

            fn to_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

numbers! {
    u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64,
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    bool => Bool,
}

macro_rules! parsed {
    ($($t:ty => $what:literal,)*) => {$(
        impl YangValue for $t {
            fn from_leaf(node: &DataNodeRef<'_, '_>) -> Result<Self, ModelError> {
                parse(node, $what)
            }

            fn to_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

parsed! {
    f64 => "decimal64",
    IpAddr => "IP address",
    Ipv4Addr => "IPv4 address",
    Ipv6Addr => "IPv6 address",
    IpNet => "IP prefix",
    Ipv4Net => "IPv4 prefix",
    Ipv6Net => "IPv6 prefix",
}

impl YangValue for String {
    fn from_leaf(node: &DataNodeRef<'_, '_>) -> Result<Self, ModelError> {
        Ok(node.value_canonical().unwrap_or_default())
    }

    fn to_text(&self) -> String {
        self.clone()
    }
}

/// Parses the canonical text of a leaf; `what` names the type in errors.
pub fn parse<T: FromStr>(node: &DataNodeRef<'_, '_>, what: &str) -> Result<T, ModelError> {
    let text = node.value_canonical().unwrap_or_default();
    text.parse().map_err(|_| {
        ModelError::at(
            crate::ly::node_path(node),
            format!("{text:?} is not a valid {what}"),
        )
    })
}

/// The error for text that names no value of the YANG type `what`.
pub fn unknown(what: &str, text: &str) -> ModelError {
    ModelError::general(format!("{text:?} is not a value of {what}"))
}

/// Reads one leaf value.
pub fn leaf<T: YangValue>(node: &DataNodeRef<'_, '_>) -> Result<T, ModelError> {
    T::from_leaf(node)
}

/// A key or mandatory leaf's value, or the error saying it is missing.
pub fn required<T>(
    value: Option<T>,
    node: Option<&DataNodeRef<'_, '_>>,
    name: &str,
) -> Result<T, ModelError> {
    value.ok_or_else(|| match node {
        Some(node) => ModelError::at(crate::ly::node_path(node), format!("{name} is missing")),
        None => ModelError::general(format!("{name} is missing")),
    })
}

/// A container read from the tree, or the value of the absent container.
pub fn or_absent<T: FromNode>(value: Option<T>) -> Result<T, ModelError> {
    match value {
        Some(v) => Ok(v),
        None => T::read(None),
    }
}

/// Reads the `name` entries inside the wrapper container `wrapper`.
pub fn entries<T: FromNode>(
    wrapper: &DataNodeRef<'_, '_>,
    name: &str,
    out: &mut Vec<T>,
) -> Result<(), ModelError> {
    for child in wrapper.children() {
        if child.schema().name() == name {
            out.push(T::from_node(&child)?);
        }
    }
    Ok(())
}

/// A YANG default of a parsed type; libyang has checked it when the schema
/// loaded, so it parses.
pub fn default_value<T: FromStr>(text: &str) -> T {
    match text.parse() {
        Ok(v) => v,
        Err(_) => panic!("YANG default {text:?} does not parse"),
    }
}

/// Sets leaf `step` below data path `path` to `value`, if there is one.
pub fn put<T: YangValue>(
    tree: &mut DataTree<'_>,
    path: &str,
    step: &str,
    value: Option<&T>,
) -> Result<(), ModelError> {
    if let Some(value) = value {
        tree.new_path(&format!("{path}/{step}"), Some(&value.to_text()), false)?;
    }
    Ok(())
}

/// Creates the `empty`-type leaf `step` below data path `path`.
pub fn put_empty(tree: &mut DataTree<'_>, path: &str, step: &str) -> Result<(), ModelError> {
    tree.new_path(&format!("{path}/{step}"), None, false)?;
    Ok(())
}

/// Quotes a value for a path predicate: `'value'`, or `"value"` when the
/// value holds a `'`. (A value holding both cannot be written in a path.)
pub fn quote(value: &str) -> String {
    if value.contains('\'') {
        format!("\"{value}\"")
    } else {
        format!("'{value}'")
    }
}

/// `parent` + `rel` + one `[key='value']` predicate per key: the data path
/// of one list entry.
pub fn entry_path(parent: &str, rel: &str, keys: &[&str], values: &[&str]) -> String {
    let mut path = String::with_capacity(parent.len() + rel.len() + 32);
    path.push_str(parent);
    path.push_str(rel);
    for (key, value) in keys.iter().zip(values) {
        path.push('[');
        path.push_str(key);
        path.push('=');
        path.push_str(&quote(value));
        path.push(']');
    }
    path
}
