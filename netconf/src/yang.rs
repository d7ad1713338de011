//! Schema look-ups for XML elements: which schema node an element is, which
//! children are a list's keys, and how a value is written in a libyang
//! path.

use ocbgp_models::schema::{self, YangModule};
use yang2::iter::IterSchemaFlags;
use yang2::schema::{DataValueType, SchemaNode, SchemaNodeKind};

use crate::xml::Element;

/// The embedded module whose namespace is `ns`.
pub fn module_by_ns(ns: &str) -> Option<&'static YangModule> {
    schema::modules().find(|m| m.namespace == Some(ns))
}

/// The top-level schema node for an element of namespace `ns` named `name`.
pub fn top_node(ns: &str, name: &str) -> Option<SchemaNode<'static>> {
    let module = schema::context().get_module_implemented_ns(ns)?;
    let found = module
        .top_level_nodes(IterSchemaFlags::empty())
        .find(|n| n.name() == name);
    found
}

/// The data child of `parent` (choice and case are transparent) for an
/// element of namespace `ns` named `name`.
pub fn child_node(
    parent: &SchemaNode<'static>,
    ns: &str,
    name: &str,
) -> Option<SchemaNode<'static>> {
    let found = parent
        .children2(IterSchemaFlags::empty())
        .find(|c| c.name() == name && c.module().namespace() == ns);
    found
}

/// The schema node for `e` under `parent` (`None`: at the top).
pub fn node_for(parent: Option<&SchemaNode<'static>>, e: &Element) -> Option<SchemaNode<'static>> {
    let ns = e.ns.as_deref()?;
    match parent {
        None => top_node(ns, &e.name),
        Some(p) => child_node(p, ns, &e.name),
    }
}

/// The names of a list's keys, in schema order; empty for other nodes.
pub fn key_names(node: &SchemaNode<'static>) -> Vec<String> {
    if node.kind() != SchemaNodeKind::List {
        return Vec::new();
    }
    node.list_keys().map(|k| k.name().to_string()).collect()
}

/// Whether a leaf's type (through leafrefs) is an identityref.
pub fn is_identityref(node: &SchemaNode<'static>) -> bool {
    let Some(t) = node.leaf_type() else {
        return false;
    };
    match t.base_type() {
        DataValueType::IdentityRef => true,
        DataValueType::LeafRef => t
            .leafref_real_type()
            .map(|r| r.base_type() == DataValueType::IdentityRef)
            .unwrap_or(false),
        _ => false,
    }
}

/// The value of leaf element `e` as a libyang (JSON-style) path predicate
/// wants it: identityrefs carry the module name instead of the XML prefix.
pub fn path_value(node: &SchemaNode<'static>, e: &Element) -> String {
    let value = e.value();
    if is_identityref(node) {
        if let Some((ns, ident)) = e.qname_value() {
            if let Some(m) = module_by_ns(ns) {
                return format!("{}:{ident}", m.name);
            }
        } else if !value.contains(':') {
            // An identity of the leaf's own module may go without prefix.
            if let Some(ns) = e.ns.as_deref().and_then(module_by_ns) {
                return format!("{}:{value}", ns.name);
            }
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nodes_and_keys() {
        let ni = "http://openconfig.net/yang/network-instance";
        let top = top_node(ni, "network-instances").unwrap();
        let list = child_node(&top, ni, "network-instance").unwrap();
        assert_eq!(key_names(&list), vec!["name".to_string()]);
        let protocols = child_node(&list, ni, "protocols").unwrap();
        let protocol = child_node(&protocols, ni, "protocol").unwrap();
        assert_eq!(
            key_names(&protocol),
            vec!["identifier".to_string(), "name".to_string()]
        );
        let ident = child_node(&protocol, ni, "identifier").unwrap();
        assert!(is_identityref(&ident));
        assert!(top_node("urn:nothing", "x").is_none());
        assert!(child_node(&top, "urn:nothing", "network-instance").is_none());
        assert!(module_by_ns("urn:ocbgp:yang:ocbgp").is_some());
    }
}
