//! Filters of get and get-config: subtree filters (RFC 6241 section 6)
//! and XPath filters (the :xpath capability, section 8.9).
//!
//! A subtree filter is applied to the reply's XML: containment nodes
//! descend, selection nodes (empty elements) take a whole subtree, content
//! match nodes (leaves with text) keep only the entries whose leaf has
//! that value. A node whose selection and containment nodes select
//! nothing is left out, even when its content match nodes match. Where the data is YANG data, a list entry that is output
//! always carries its keys. A filter element without a namespace matches
//! elements of any namespace; attribute matching is not supported (YANG
//! data has no attributes).
//!
//! An XPath filter is evaluated by libyang on the data tree; its prefixes
//! are those declared in the request and are mapped to module names first.

use std::collections::BTreeMap;

use ocbgp_models::path::{DataPath, Segment};
use ocbgp_models::schema;
use yang2::data::DataTree;
use yang2::schema::{SchemaNode, SchemaNodeKind};

use crate::error::{ErrorInfo, ErrorTag, RpcError};
use crate::xml::{Element, Scope, MONITORING_NS};
use crate::yang;
use crate::yang_library::YANG_LIBRARY_NS;

/// The XPath (module-name form) selecting the whole `yang-library`.
const YANG_LIBRARY_XPATH: &str = "/ietf-yang-library:yang-library";

/// A parsed `<filter>` parameter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// A subtree filter: the `<filter>` element (its children are the
    /// filter's top-level nodes).
    Subtree(Element),
    /// An XPath filter, prefixes already mapped to module names.
    XPath(String),
}

impl Filter {
    /// Reads a `<filter>` element: `type` is `subtree` (the default) or
    /// `xpath` with a `select` attribute.
    pub fn parse(e: &Element) -> Result<Filter, RpcError> {
        match e.attr("type").unwrap_or("subtree") {
            "subtree" => Ok(Filter::Subtree(e.clone())),
            "xpath" => {
                let select = e.attr("select").ok_or_else(|| {
                    RpcError::protocol(
                        ErrorTag::MissingAttribute,
                        "an xpath filter needs a select attribute",
                    )
                    .with_info(ErrorInfo::BadAttribute("select".into()))
                    .with_info(ErrorInfo::BadElement("filter".into()))
                })?;
                Ok(Filter::XPath(rewrite_xpath(select, &e.scope)?))
            }
            other => Err(RpcError::protocol(
                ErrorTag::BadAttribute,
                format!("unknown filter type \"{other}\""),
            )
            .with_info(ErrorInfo::BadAttribute("type".into()))
            .with_info(ErrorInfo::BadElement("filter".into()))),
        }
    }

    /// Whether the filter can select ietf-netconf-monitoring's
    /// `netconf-state` (XPath filters only see YANG data of the schema).
    pub fn wants_monitoring(&self) -> bool {
        match self {
            Filter::Subtree(f) => f.children.iter().any(|c| {
                c.name == "netconf-state" && c.ns.as_deref().is_none_or(|ns| ns == MONITORING_NS)
            }),
            Filter::XPath(_) => false,
        }
    }

    /// Whether the filter can select ietf-yang-library's `yang-library`:
    /// a subtree filter with a `yang-library` top node, or the XPath
    /// `/ietf-yang-library:yang-library` (the whole of it; other XPaths
    /// into it are not supported).
    pub fn wants_yang_library(&self) -> bool {
        match self {
            Filter::Subtree(f) => f.children.iter().any(|c| {
                c.name == "yang-library" && c.ns.as_deref().is_none_or(|ns| ns == YANG_LIBRARY_NS)
            }),
            Filter::XPath(x) => x.trim() == YANG_LIBRARY_XPATH,
        }
    }

    /// Whether the filter can select anything of the YANG schema.
    pub fn wants_data(&self) -> bool {
        match self {
            Filter::Subtree(f) => f.children.iter().any(|c| {
                c.ns.as_deref() != Some(MONITORING_NS) && c.ns.as_deref() != Some(YANG_LIBRARY_NS)
            }),
            Filter::XPath(x) => x.trim() != YANG_LIBRARY_XPATH,
        }
    }

    /// The deepest data path the filter stays within, for reading only
    /// that part of the operational datastore; `/` when it spans more.
    pub fn narrow_path(&self) -> String {
        match self {
            Filter::Subtree(f) => narrow(f).unwrap_or_else(|| "/".into()),
            Filter::XPath(_) => "/".into(),
        }
    }
}

// ---- subtree filters ----

/// What is selected of one element: all of it, or some children.
#[derive(Debug, Default)]
struct Selection {
    all: bool,
    children: BTreeMap<usize, Selection>,
}

impl Selection {
    fn all() -> Selection {
        Selection {
            all: true,
            children: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: Selection) {
        if other.all {
            self.all = true;
        }
        for (i, s) in other.children {
            self.children.entry(i).or_default().merge(s);
        }
    }
}

fn name_matches(f: &Element, d: &Element) -> bool {
    f.name == d.name && (f.ns.is_none() || f.ns == d.ns)
}

/// Content match: the same text, or the same identity when both are
/// prefixed names (prefixes may differ).
fn value_matches(d: &Element, f: &Element) -> bool {
    if d.value() == f.value() {
        return true;
    }
    match (d.qname_value(), f.qname_value()) {
        (Some(a), Some(b)) => a == b,
        (Some((ns, local)), None) => {
            // An unprefixed identity in the filter, of the leaf's module.
            f.value() == local && d.ns.as_deref() == Some(ns)
        }
        _ => false,
    }
}

/// Whether content match node `f` matches data element `d`.
pub(crate) fn matches(f: &Element, d: &Element) -> bool {
    name_matches(f, d) && value_matches(d, f)
}

pub(crate) fn is_content_match(f: &Element) -> bool {
    f.children.is_empty() && !f.value().is_empty()
}

/// Applies filter node `f` to data element `d` (which matches it by name).
fn apply(d: &Element, f: &Element, node: Option<&SchemaNode<'static>>) -> Option<Selection> {
    if f.children.is_empty() {
        return if f.value().is_empty() || value_matches(d, f) {
            Some(Selection::all())
        } else {
            None
        };
    }
    let mut sel = Selection::default();
    let mut has_other = false;
    let mut selected_other = false;
    for c in f.children.iter().filter(|c| is_content_match(c)) {
        let mut matched = false;
        for (i, dc) in d.children.iter().enumerate() {
            if name_matches(c, dc) && value_matches(dc, c) {
                sel.children.insert(i, Selection::all());
                matched = true;
            }
        }
        if !matched {
            return None;
        }
    }
    for c in f.children.iter().filter(|c| !is_content_match(c)) {
        has_other = true;
        for (i, dc) in d.children.iter().enumerate() {
            if !name_matches(c, dc) {
                continue;
            }
            let child_node = node.and_then(|n| yang::node_for(Some(n), dc));
            if let Some(s) = apply(dc, c, child_node.as_ref()) {
                sel.children.entry(i).or_default().merge(s);
                selected_other = true;
            }
        }
    }
    if !has_other {
        return Some(Selection::all());
    }
    // Selection and containment nodes that select nothing here leave the
    // node out, whatever its content match nodes matched.
    if !selected_other {
        return None;
    }
    for key in list_keys(d, node) {
        for (i, dc) in d.children.iter().enumerate() {
            if dc.name == key && dc.ns == d.ns {
                sel.children.insert(i, Selection::all());
            }
        }
    }
    Some(sel)
}

/// The key names of list entry `d`: from the schema for YANG data, and
/// for ietf-netconf-monitoring's and ietf-yang-library's lists, which are
/// not in the schema.
fn list_keys(d: &Element, node: Option<&SchemaNode<'static>>) -> Vec<String> {
    if let Some(n) = node {
        return yang::key_names(n);
    }
    let keys: &[&str] = match (d.ns.as_deref(), d.name.as_str()) {
        (Some(MONITORING_NS), "session") => &["session-id"],
        (Some(MONITORING_NS), "schema") => &["identifier", "version", "format"],
        (Some(MONITORING_NS), "datastore") => &["name"],
        (Some(YANG_LIBRARY_NS), "module-set" | "module" | "submodule" | "schema") => &["name"],
        _ => &[],
    };
    keys.iter().map(|k| k.to_string()).collect()
}

fn build(d: &Element, sel: &Selection) -> Element {
    if sel.all {
        return d.clone();
    }
    let mut out = d.clone_shallow();
    for (&i, s) in &sel.children {
        if let Some(c) = d.children.get(i) {
            out.children.push(build(c, s));
        }
    }
    out
}

/// Applies a subtree filter to top-level data elements, returning what is
/// selected, in document order. An empty filter selects nothing.
pub fn subtree(data: &[Element], filter: &Element) -> Vec<Element> {
    let mut top: BTreeMap<usize, Selection> = BTreeMap::new();
    for f in &filter.children {
        for (i, d) in data.iter().enumerate() {
            if !name_matches(f, d) {
                continue;
            }
            let node = yang::node_for(None, d);
            if let Some(s) = apply(d, f, node.as_ref()) {
                top.entry(i).or_default().merge(s);
            }
        }
    }
    top.iter().map(|(&i, s)| build(&data[i], s)).collect()
}

/// The data path a subtree filter stays within: down its chain of single
/// containment nodes, through list entries whose keys it all matches.
pub(crate) fn narrow(filter: &Element) -> Option<String> {
    let [top] = filter.children.as_slice() else {
        return None;
    };
    let mut node = yang::node_for(None, top)?;
    let mut path = DataPath::default();
    let mut f = top;
    let mut parent_module: Option<String> = None;
    loop {
        let module = node.module().name().to_string();
        let mut seg = Segment {
            module: (parent_module.as_deref() != Some(module.as_str())).then(|| module.clone()),
            name: node.name().to_string(),
            keys: Vec::new(),
        };
        if node.kind() == SchemaNodeKind::List {
            for k in yang::key_names(&node) {
                let matched = f
                    .children
                    .iter()
                    .find(|c| c.name == k && is_content_match(c));
                let key_node = yang::child_node(&node, node.module().namespace(), &k)?;
                match matched {
                    Some(c) if !(c.value().contains('\'') && c.value().contains('"')) => {
                        seg.keys.push((k, yang::path_value(&key_node, c)));
                    }
                    _ => return Some(path.to_string()),
                }
            }
        }
        parent_module = Some(module);
        path.segments.push(seg);
        let others: Vec<&Element> = f.children.iter().filter(|c| !is_content_match(c)).collect();
        let [next] = others.as_slice() else {
            return Some(path.to_string());
        };
        if next.children.is_empty() {
            return Some(path.to_string());
        }
        let Some(child) = yang::node_for(Some(&node), next) else {
            return Some(path.to_string());
        };
        if !matches!(
            child.kind(),
            SchemaNodeKind::Container | SchemaNodeKind::List
        ) {
            return Some(path.to_string());
        }
        node = child;
        f = next;
    }
}

// ---- XPath filters ----

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.') || (!c.is_ascii() && !c.is_whitespace())
}

/// Maps the XML prefixes of an XPath expression (declared in `scope`) to
/// the module names libyang expects. String literals are left alone.
pub fn rewrite_xpath(select: &str, scope: &Scope) -> Result<String, RpcError> {
    let chars: Vec<char> = select.chars().collect();
    let mut out = String::with_capacity(select.len() + 32);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or_else(|| bad_xpath(select, "unterminated string literal"))?;
            out.extend(&chars[i..=i + 1 + end]);
            i += end + 2;
        } else if is_name_start(c) {
            let start = i;
            while i < chars.len() && is_name_char(chars[i]) {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let prefixed = i + 1 < chars.len()
                && chars[i] == ':'
                && chars[i + 1] != ':'
                && (is_name_start(chars[i + 1]) || chars[i + 1] == '*');
            if prefixed {
                let ns = scope
                    .resolve(Some(&name))
                    .ok_or_else(|| bad_xpath(select, &format!("prefix {name} is not declared")))?;
                let module = if ns == YANG_LIBRARY_NS {
                    "ietf-yang-library"
                } else {
                    yang::module_by_ns(ns)
                        .ok_or_else(|| {
                            bad_xpath(select, &format!("no YANG module has the namespace {ns}"))
                        })?
                        .name
                };
                out.push_str(module);
                out.push(':');
                i += 1;
            } else {
                out.push_str(&name);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn bad_xpath(select: &str, why: &str) -> RpcError {
    RpcError::protocol(
        ErrorTag::InvalidValue,
        format!("bad XPath filter {select:?}: {why}"),
    )
    .with_info(ErrorInfo::BadAttribute("select".into()))
}

/// The nodes of `tree` that `xpath` (in libyang's module-name form)
/// selects, each with its ancestors and their keys and its whole subtree.
pub fn xpath_select(tree: &DataTree<'static>, xpath: &str) -> Result<DataTree<'static>, RpcError> {
    let mut out = DataTree::new(schema::context());
    if tree.reference().is_none() {
        return Ok(out);
    }
    // ly::find frees libyang's result set (yang2's find_xpath leaks it).
    let set = ocbgp_models::ly::find(tree, xpath).map_err(|e| {
        RpcError::protocol(
            ErrorTag::InvalidValue,
            format!("XPath filter {xpath:?}: {e}"),
        )
    })?;
    for node in set {
        let copy = node.duplicate(true).map_err(|e| {
            RpcError::application(ErrorTag::OperationFailed, format!("XPath result: {e}"))
        })?;
        out.merge(&copy).map_err(|e| {
            RpcError::application(ErrorTag::OperationFailed, format!("XPath result: {e}"))
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    const NI: &str = "http://openconfig.net/yang/network-instance";

    fn data() -> Vec<Element> {
        let doc = format!(
            r#"<data><network-instances xmlns="{NI}"><network-instance><name>A</name>
               <config><name>A</name><description>a</description></config></network-instance>
               <network-instance><name>B</name><config><name>B</name><description>b</description></config>
               </network-instance></network-instances></data>"#
        );
        xml::parse(&doc).unwrap().children
    }

    fn filter(inner: &str) -> Element {
        xml::parse(&format!("<filter type=\"subtree\">{inner}</filter>")).unwrap()
    }

    fn names(out: &[Element]) -> String {
        out.iter().map(xml::to_string).collect::<Vec<_>>().join("")
    }

    #[test]
    fn selection_containment_and_content_match() {
        let d = data();
        let all = subtree(&d, &filter(&format!("<network-instances xmlns=\"{NI}\"/>")));
        assert_eq!(all[0].children.len(), 2);

        let f = filter(&format!(
            "<network-instances xmlns=\"{NI}\"><network-instance><name>B</name><config><description/></config>\
             </network-instance></network-instances>"
        ));
        let out = names(&subtree(&d, &f));
        assert!(
            out.contains("<name>B</name>") && out.contains("<description>b</description>"),
            "{out}"
        );
        assert!(
            !out.contains(">A<") && !out.contains("<config><name>"),
            "{out}"
        );

        // Selection without content match: keys come along.
        let f = filter(&format!(
            "<network-instances xmlns=\"{NI}\"><network-instance><config><description/></config>\
             </network-instance></network-instances>"
        ));
        let out = names(&subtree(&d, &f));
        assert!(
            out.contains("<name>A</name>") && out.contains("<description>a</description>"),
            "{out}"
        );

        // No match: nothing.
        let f = filter(&format!(
            "<network-instances xmlns=\"{NI}\"><network-instance><name>C</name></network-instance></network-instances>"
        ));
        assert!(subtree(&d, &f).is_empty());
        assert!(subtree(&d, &filter("<other xmlns=\"urn:x\"/>")).is_empty());
    }

    #[test]
    fn narrows_to_a_path() {
        let f = filter(&format!(
            "<network-instances xmlns=\"{NI}\"><network-instance><name>B</name><config/></network-instance></network-instances>"
        ));
        assert_eq!(
            Filter::Subtree(f).narrow_path(),
            "/openconfig-network-instance:network-instances/network-instance[name='B']"
        );
    }

    #[test]
    fn xpath_prefixes_become_module_names() {
        let e = xml::parse(&format!("<filter xmlns:n=\"{NI}\" type=\"xpath\" select=\"/n:network-instances/n:network-instance[n:name='x:y']\"/>"))
            .unwrap();
        let Filter::XPath(x) = Filter::parse(&e).unwrap() else {
            panic!()
        };
        assert_eq!(
            x,
            "/openconfig-network-instance:network-instances/openconfig-network-instance:network-instance\
             [openconfig-network-instance:name='x:y']"
        );
        let e = xml::parse("<filter type=\"xpath\" select=\"/q:a\"/>").unwrap();
        assert!(Filter::parse(&e).is_err());
        let e =
            xml::parse("<filter type=\"xpath\" select=\"/descendant::*[count(a)=1]\"/>").unwrap();
        assert!(Filter::parse(&e).is_ok());
    }
}
