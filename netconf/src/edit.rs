//! edit-config's `<config>` content turned into datastore edits.
//!
//! Every element carrying an `nc:operation` attribute becomes one
//! [`Edit`] at its libyang data path, whose XML value is a document from
//! the root holding the element's subtree under its ancestors (with their
//! keys), operation attributes stripped and nested elements that carry an
//! operation of their own left out (they are edits of their own, applied
//! after). The rest of the content, under the default operation merge or
//! replace, is one edit of the whole configuration (`/`), applied first.
//! Edits apply in document order, as one transaction.
//!
//! Every element is checked against the schema on the way, so an unknown
//! element is reported as `unknown-element` with its parent's path.

use ocbgp_models::config::Encoding;
use ocbgp_models::edit::{Edit, Insert, Operation};
use ocbgp_models::path::{DataPath, Segment};
use yang2::schema::{SchemaNode, SchemaNodeKind};

use crate::error::{ErrorInfo, ErrorTag, ErrorType, RpcError};
use crate::xml::{self, Element, WriteOptions, NC_NS};
use crate::yang;

/// edit-config's `<default-operation>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultOperation {
    /// Merge content without an operation attribute (the default).
    Merge,
    /// Content without an operation attribute replaces the configuration.
    Replace,
    /// Content without an operation attribute only locates nested
    /// operations.
    None,
}

impl DefaultOperation {
    /// Parses the parameter's value.
    pub fn parse(text: &str) -> Option<DefaultOperation> {
        match text {
            "merge" => Some(DefaultOperation::Merge),
            "replace" => Some(DefaultOperation::Replace),
            "none" => Some(DefaultOperation::None),
            _ => None,
        }
    }
}

fn parse_operation(text: &str) -> Option<Operation> {
    match text {
        "merge" => Some(Operation::Merge),
        "replace" => Some(Operation::Replace),
        "create" => Some(Operation::Create),
        "delete" => Some(Operation::Delete),
        "remove" => Some(Operation::Remove),
        _ => None,
    }
}

/// The operation attribute of an element, if it has one.
fn operation_attr(e: &Element) -> Option<&str> {
    e.attr_ns(NC_NS, "operation")
}

/// YANG's XML namespace, of the `insert`, `value` and `key` attributes
/// (RFC 7950 sections 7.7.9 and 7.8.6).
const YANG_NS: &str = "urn:ietf:params:xml:ns:yang:1";

fn attribute_error(tag: ErrorTag, e: &Element, attr: &str, message: String) -> RpcError {
    RpcError::new(ErrorType::Protocol, tag, message)
        .with_info(ErrorInfo::BadAttribute(attr.into()))
        .with_info(ErrorInfo::BadElement(e.name.clone()))
}

/// The `yang:insert` of an entry of the list or leaf-list `node` whose
/// siblings are at `parent` (their anchors' data paths are built there).
fn insert_attr(
    e: &Element,
    node: &SchemaNode<'static>,
    parent: &DataPath,
    segment: &Segment,
) -> Result<Option<Insert>, RpcError> {
    let Some(text) = e.attr_ns(YANG_NS, "insert") else {
        return Ok(None);
    };
    if !node.is_user_ordered() {
        return Err(attribute_error(
            ErrorTag::BadAttribute,
            e,
            "insert",
            format!("{} is not an ordered-by user list or leaf-list", e.name),
        ));
    }
    let before = match text {
        "first" => return Ok(Some(Insert::First)),
        "last" => return Ok(Some(Insert::Last)),
        "before" => true,
        "after" => false,
        other => {
            return Err(attribute_error(
                ErrorTag::BadAttribute,
                e,
                "insert",
                format!("bad insert \"{other}\": first, last, before or after"),
            ))
        }
    };
    let leaf_list = node.kind() == SchemaNodeKind::LeafList;
    let attr = if leaf_list { "value" } else { "key" };
    let Some(anchor) = e.attr_ns(YANG_NS, attr) else {
        return Err(attribute_error(
            ErrorTag::MissingAttribute,
            e,
            attr,
            format!("insert=\"{text}\" needs the {attr} attribute"),
        ));
    };
    let keys = if leaf_list {
        vec![(".".to_string(), anchor.to_string())]
    } else {
        parse_key_predicates(anchor).ok_or_else(|| {
            attribute_error(
                ErrorTag::BadAttribute,
                e,
                "key",
                format!("key {anchor:?} is not [name='value'] predicates"),
            )
        })?
    };
    if keys
        .iter()
        .any(|(_, v)| v.contains('\'') && v.contains('"'))
    {
        return Err(attribute_error(
            ErrorTag::BadAttribute,
            e,
            attr,
            "a value holding both kinds of quote is not supported".to_string(),
        ));
    }
    let mut at = parent.clone();
    at.segments.push(Segment {
        module: segment.module.clone(),
        name: segment.name.clone(),
        keys,
    });
    let at = at.to_string();
    Ok(Some(if before {
        Insert::Before(at)
    } else {
        Insert::After(at)
    }))
}

/// `[name='value'][prefix:other="value"]` (a `yang:key` attribute) as
/// pairs of unqualified names and values.
fn parse_key_predicates(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[')?;
        let (name, after) = rest.split_once('=')?;
        let name = name.trim();
        let name = name.rsplit(':').next()?.to_string();
        let after = after.trim_start();
        let quote = after.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let (value, after) = after[1..].split_once(quote)?;
        rest = after.trim_start().strip_prefix(']')?.trim_start();
        if name.is_empty() {
            return None;
        }
        out.push((name, value.to_string()));
    }
    (!out.is_empty()).then_some(out)
}

/// An ancestor on the way down: its element and its key names.
struct Ancestor<'e> {
    element: &'e Element,
    keys: Vec<String>,
}

/// Builds the edits of an edit-config `<config>` element.
pub fn edits_from_config(
    config: &Element,
    default: DefaultOperation,
) -> Result<Vec<Edit>, RpcError> {
    let mut edits = Vec::new();
    let mut ancestors = Vec::new();
    for top in &config.children {
        walk(
            top,
            None,
            &DataPath::default(),
            None,
            &mut ancestors,
            &mut edits,
        )?;
    }
    let root = match default {
        DefaultOperation::None => None,
        DefaultOperation::Merge => Some(Operation::Merge),
        DefaultOperation::Replace => Some(Operation::Replace),
    };
    if let Some(op) = root {
        let doc = whole_without_operations(config);
        if op == Operation::Replace || !doc.is_empty() {
            edits.insert(
                0,
                Edit {
                    op,
                    path: "/".into(),
                    value: Some((doc, Encoding::Xml)),
                    insert: None,
                },
            );
        }
    }
    Ok(edits)
}

/// The top-level elements of `config` with every element that carries an
/// operation (and its subtree) left out.
fn whole_without_operations(config: &Element) -> String {
    let skip = |e: &Element| operation_attr(e).is_some();
    let options = WriteOptions {
        declare_scope: true,
        strip_attrs: true,
        skip: &skip,
    };
    let mut out = String::new();
    for top in config.children.iter().filter(|e| !skip(e)) {
        xml::write(&mut out, top, &options);
    }
    out
}

fn unknown_element(e: &Element, parent: &DataPath) -> RpcError {
    let mut err = match &e.ns {
        None => RpcError::application(
            ErrorTag::UnknownElement,
            format!("{} has no namespace", e.name),
        ),
        Some(ns) if parent.is_root() && yang::module_by_ns(ns).is_none() => {
            return RpcError::application(
                ErrorTag::UnknownNamespace,
                format!("unknown namespace {ns}"),
            )
            .with_info(ErrorInfo::BadElement(e.name.clone()))
            .with_info(ErrorInfo::BadNamespace(ns.clone()));
        }
        Some(_) => RpcError::application(
            ErrorTag::UnknownElement,
            format!("unknown element {}", e.name),
        ),
    };
    if !parent.is_root() {
        err.path = Some(parent.to_string());
    }
    err.with_info(ErrorInfo::BadElement(e.name.clone()))
}

fn walk<'e>(
    e: &'e Element,
    parent: Option<&SchemaNode<'static>>,
    parent_path: &DataPath,
    inherited: Option<Operation>,
    ancestors: &mut Vec<Ancestor<'e>>,
    edits: &mut Vec<Edit>,
) -> Result<(), RpcError> {
    let node = yang::node_for(parent, e).ok_or_else(|| unknown_element(e, parent_path))?;
    let module = node.module().name().to_string();
    let parent_module = parent.map(|p| p.module().name().to_string());
    let mut segment = Segment {
        module: (parent_module.as_deref() != Some(module.as_str())).then_some(module),
        name: e.name.clone(),
        keys: Vec::new(),
    };
    let op = match operation_attr(e) {
        None => None,
        Some(text) => Some(parse_operation(text).ok_or_else(|| {
            RpcError::new(
                ErrorType::Protocol,
                ErrorTag::BadAttribute,
                format!("bad operation \"{text}\""),
            )
            .with_info(ErrorInfo::BadAttribute("operation".into()))
            .with_info(ErrorInfo::BadElement(e.name.clone()))
        })?),
    };
    let has_insert = e.attr_ns(YANG_NS, "insert").is_some();
    let mut path = parent_path.clone();
    let keys = yang::key_names(&node);
    match node.kind() {
        SchemaNodeKind::List => {
            for k in &keys {
                let key_el = e.children.iter().find(|c| &c.name == k && c.ns == e.ns);
                let key_node = yang::child_node(&node, e.ns.as_deref().unwrap_or_default(), k);
                let (Some(key_el), Some(key_node)) = (key_el, key_node) else {
                    let mut at = path.clone();
                    at.segments.push(segment.clone());
                    return Err(RpcError::application(
                        ErrorTag::MissingElement,
                        format!("list entry {} lacks its key {k}", e.name),
                    )
                    .with_path(at.to_string())
                    .with_info(ErrorInfo::BadElement(k.clone())));
                };
                segment
                    .keys
                    .push((k.clone(), yang::path_value(&key_node, key_el)));
            }
        }
        SchemaNodeKind::LeafList if op.is_some() || has_insert => {
            segment.keys.push((".".into(), yang::path_value(&node, e)));
        }
        _ => {}
    }
    if segment
        .keys
        .iter()
        .any(|(_, v)| v.contains('\'') && v.contains('"'))
    {
        return Err(RpcError::application(
            ErrorTag::InvalidValue,
            "a key value holding both kinds of quote is not supported",
        )
        .with_path(path.to_string()));
    }
    let insert = match op {
        Some(Operation::Delete | Operation::Remove) => None,
        _ => insert_attr(e, &node, &path, &segment)?,
    };
    path.segments.push(segment);
    if !node.is_config() {
        return Err(RpcError::application(
            ErrorTag::InvalidValue,
            format!(
                "{} is state (config false) and cannot be configured",
                e.name
            ),
        )
        .with_path(path.to_string()));
    }
    // An entry with an insert attribute but no operation is an edit of its
    // own too (merged, then moved where the attribute says).
    let edit_op = op.or(insert.as_ref().map(|_| Operation::Merge));
    if let Some(op) = edit_op {
        if ancestors.last().is_some_and(|a| a.keys.contains(&e.name)) {
            return Err(RpcError::new(
                ErrorType::Protocol,
                ErrorTag::BadAttribute,
                format!("an operation on the list key {} is not allowed", e.name),
            )
            .with_info(ErrorInfo::BadAttribute("operation".into()))
            .with_info(ErrorInfo::BadElement(e.name.clone())));
        }
        let value = match op {
            Operation::Delete | Operation::Remove => None,
            _ => Some((value_document(ancestors, e), Encoding::Xml)),
        };
        edits.push(Edit {
            op,
            path: path.to_string(),
            value,
            insert,
        });
    }
    let effective = op.or(inherited);
    if matches!(effective, Some(Operation::Delete | Operation::Remove)) {
        // Whatever is below a deleted node goes with it.
        return Ok(());
    }
    if matches!(
        node.kind(),
        SchemaNodeKind::Container | SchemaNodeKind::List
    ) {
        ancestors.push(Ancestor { element: e, keys });
        for child in &e.children {
            walk(child, Some(&node), &path, effective, ancestors, edits)?;
        }
        ancestors.pop();
    } else if !e.children.is_empty() {
        return Err(RpcError::application(
            ErrorTag::BadElement,
            format!("{} cannot have child elements", e.name),
        )
        .with_path(path.to_string())
        .with_info(ErrorInfo::BadElement(e.name.clone())));
    }
    Ok(())
}

/// The value document of an edit at `e`: its ancestors with their keys,
/// then `e`'s subtree without operation attributes and without nested
/// elements that have operations of their own.
fn value_document(ancestors: &[Ancestor<'_>], e: &Element) -> String {
    let skip = |c: &Element| operation_attr(c).is_some();
    let mut out = String::new();
    for (i, a) in ancestors.iter().enumerate() {
        xml::write_start(&mut out, a.element, i == 0, true);
        for key in a
            .element
            .children
            .iter()
            .filter(|c| a.keys.contains(&c.name) && c.ns == a.element.ns)
        {
            xml::write(
                &mut out,
                key,
                &WriteOptions {
                    declare_scope: false,
                    strip_attrs: true,
                    skip: &skip,
                },
            );
        }
    }
    let options = WriteOptions {
        declare_scope: ancestors.is_empty(),
        strip_attrs: true,
        skip: &skip,
    };
    xml::write(&mut out, e, &options);
    for a in ancestors.iter().rev() {
        xml::write_end(&mut out, a.element);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NI: &str = "http://openconfig.net/yang/network-instance";

    fn config(inner: &str) -> Element {
        let doc = format!(
            r#"<config xmlns="{NC_NS}" xmlns:nc="{NC_NS}"><network-instances xmlns="{NI}">{inner}</network-instances></config>"#
        );
        xml::parse(&doc).unwrap()
    }

    #[test]
    fn operations_become_edits_at_their_paths() {
        let c = config(
            r#"<network-instance><name>DEFAULT</name>
                 <config nc:operation="replace"><name>DEFAULT</name><type xmlns:nt="http://openconfig.net/yang/network-instance-types">nt:DEFAULT_INSTANCE</type></config>
                 <protocols><protocol xmlns:pt="http://openconfig.net/yang/policy-types">
                   <identifier>pt:BGP</identifier><name>BGP</name>
                   <bgp><neighbors><neighbor nc:operation="delete"><neighbor-address>192.0.2.9</neighbor-address></neighbor></neighbors></bgp>
                 </protocol></protocols>
               </network-instance>"#,
        );
        let edits = edits_from_config(&c, DefaultOperation::Merge).unwrap();
        assert_eq!(edits.len(), 3, "{edits:#?}");
        assert_eq!(edits[0].path, "/");
        let root = &edits[0].value.as_ref().unwrap().0;
        assert!(
            !root.contains("DEFAULT_INSTANCE") && !root.contains("192.0.2.9"),
            "{root}"
        );
        assert_eq!(edits[1].op, Operation::Replace);
        assert_eq!(
            edits[1].path,
            "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/config"
        );
        let value = &edits[1].value.as_ref().unwrap().0;
        assert!(
            value.contains("DEFAULT_INSTANCE</type>") && !value.contains("operation"),
            "{value}"
        );
        assert!(value.contains("<name>DEFAULT</name><config"), "{value}");
        assert_eq!(edits[2].op, Operation::Delete);
        assert_eq!(
            edits[2].path,
            "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols\
             /protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/neighbors/neighbor[neighbor-address='192.0.2.9']"
        );
        assert!(edits[2].value.is_none());
        // The value documents parse as data with the node at the path.
        let mut tree = ocbgp_models::config::Config::empty().into_tree();
        ocbgp_models::edit::apply(&mut tree, &edits[1]).unwrap();
    }

    #[test]
    fn errors_name_the_element() {
        let c = config("<network-instance><name>A</name><colour>red</colour></network-instance>");
        let e = edits_from_config(&c, DefaultOperation::Merge).unwrap_err();
        assert_eq!(e.tag, ErrorTag::UnknownElement);
        assert_eq!(e.info, vec![ErrorInfo::BadElement("colour".into())]);
        assert!(e
            .path
            .as_deref()
            .unwrap()
            .ends_with("network-instance[name='A']"));

        let c = config("<network-instance nc:operation=\"create\"><config/></network-instance>");
        let e = edits_from_config(&c, DefaultOperation::Merge).unwrap_err();
        assert_eq!(e.tag, ErrorTag::MissingElement);

        let c = config("<network-instance nc:operation=\"frob\"><name>A</name></network-instance>");
        let e = edits_from_config(&c, DefaultOperation::Merge).unwrap_err();
        assert_eq!(e.tag, ErrorTag::BadAttribute);

        let c = config(
            "<network-instance><name>A</name><state><name>A</name></state></network-instance>",
        );
        let e = edits_from_config(&c, DefaultOperation::Merge).unwrap_err();
        assert_eq!(e.tag, ErrorTag::InvalidValue);

        let doc = format!(r#"<config xmlns="{NC_NS}"><x xmlns="urn:unknown"/></config>"#);
        let e = edits_from_config(&xml::parse(&doc).unwrap(), DefaultOperation::Merge).unwrap_err();
        assert_eq!(e.tag, ErrorTag::UnknownNamespace);
    }

    #[test]
    fn leaf_list_entries_are_addressed_by_value() {
        let doc = format!(
            r#"<config xmlns="{NC_NS}" xmlns:nc="{NC_NS}"><management xmlns="urn:ocbgp:yang:ocbgp"><users><user>
               <name>a</name><config><authorized-key nc:operation="delete">ssh-ed25519 AAAA x</authorized-key>
               </config></user></users></management></config>"#
        );
        let edits = edits_from_config(&xml::parse(&doc).unwrap(), DefaultOperation::None).unwrap();
        assert_eq!(
            edits[0].path,
            "/ocbgp:management/users/user[name='a']/config/authorized-key[.='ssh-ed25519 AAAA x']"
        );
    }

    #[test]
    fn default_none_and_replace() {
        let c = config("<network-instance><name>A</name></network-instance>");
        assert!(edits_from_config(&c, DefaultOperation::None)
            .unwrap()
            .is_empty());
        let edits = edits_from_config(&c, DefaultOperation::Replace).unwrap();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].op, Operation::Replace);
    }

    #[test]
    fn insert_attributes_position_ordered_entries() {
        let ap = r#"<network-instance><name>DEFAULT</name><protocols><protocol xmlns:pt="http://openconfig.net/yang/policy-types">
            <identifier>pt:BGP</identifier><name>BGP</name><bgp><neighbors><neighbor><neighbor-address>192.0.2.1</neighbor-address>
            <apply-policy><config>"#;
        let end = "</config></apply-policy></neighbor></neighbors></bgp></protocol></protocols></network-instance>";
        let doc = |inner: &str| {
            xml::parse(&format!(
                r#"<config xmlns="{NC_NS}" xmlns:nc="{NC_NS}" xmlns:yang="{YANG_NS}"><network-instances xmlns="{NI}">{ap}{inner}{end}</network-instances></config>"#
            ))
            .unwrap()
        };
        let edits = edits_from_config(
            &doc(
                r#"<import-policy yang:insert="before" yang:value="B">A</import-policy>
                    <import-policy yang:insert="first" nc:operation="create">Z</import-policy>"#,
            ),
            DefaultOperation::None,
        )
        .unwrap();
        assert_eq!(edits.len(), 2, "{edits:#?}");
        assert_eq!(edits[0].op, Operation::Merge);
        assert!(
            edits[0].path.ends_with("import-policy[.='A']"),
            "{}",
            edits[0].path
        );
        match &edits[0].insert {
            Some(Insert::Before(at)) => assert!(at.ends_with("import-policy[.='B']"), "{at}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(edits[1].op, Operation::Create);
        assert_eq!(edits[1].insert, Some(Insert::First));

        let e = edits_from_config(
            &doc(r#"<import-policy yang:insert="after">A</import-policy>"#),
            DefaultOperation::None,
        )
        .unwrap_err();
        assert_eq!(e.tag, ErrorTag::MissingAttribute);
        let e = edits_from_config(
            &doc(r#"<import-policy yang:insert="middle">A</import-policy>"#),
            DefaultOperation::None,
        )
        .unwrap_err();
        assert_eq!(e.tag, ErrorTag::BadAttribute);
        // default-import-policy is a leaf, not ordered-by user.
        let e = edits_from_config(
            &doc(r#"<default-import-policy yang:insert="first">ACCEPT_ROUTE</default-import-policy>"#),
            DefaultOperation::None,
        )
        .unwrap_err();
        assert_eq!(e.tag, ErrorTag::BadAttribute);
        assert_eq!(
            parse_key_predicates("[name='a'] [p:seq=\"10\"]"),
            Some(vec![
                ("name".into(), "a".into()),
                ("seq".into(), "10".into())
            ])
        );
        assert_eq!(parse_key_predicates("name='a'"), None);
    }
}
