//! get, get-config and get-schema.

use ocbgp_models::schema;
use yang2::data::{DataFormat, DataImplicitFlags, DataPrinterFlags, DataTree};
use yang2::schema::SchemaNodeKind;

use super::{check_params, datastore, param, Body, Datastore, RpcContext};
use crate::error::{ErrorInfo, ErrorTag, RpcError};
use crate::filter::{self, Filter};
use crate::monitoring;
use crate::rib;
use crate::xml::{self, escape, Element, WriteOptions, MONITORING_NS, NC_NS, WITH_DEFAULTS_NS};
use crate::yang_library;

/// The with-defaults retrieval modes served (RFC 6243).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithDefaults {
    /// Nodes set explicitly (the basic mode).
    Explicit,
    /// Without nodes whose value is the default.
    Trim,
    /// With every default node.
    ReportAll,
}

impl WithDefaults {
    fn flags(self) -> DataPrinterFlags {
        match self {
            WithDefaults::Explicit => DataPrinterFlags::WD_EXPLICIT,
            WithDefaults::Trim => DataPrinterFlags::WD_TRIM,
            WithDefaults::ReportAll => DataPrinterFlags::WD_ALL,
        }
    }
}

fn with_defaults(op: &Element) -> Result<WithDefaults, RpcError> {
    let Some(p) = op.child(WITH_DEFAULTS_NS, "with-defaults") else {
        return Ok(WithDefaults::Explicit);
    };
    match p.value() {
        "explicit" => Ok(WithDefaults::Explicit),
        "trim" => Ok(WithDefaults::Trim),
        "report-all" => Ok(WithDefaults::ReportAll),
        other => Err(RpcError::invalid_parameter(format!(
            "with-defaults mode \"{other}\" is not supported"
        ))
        .with_info(ErrorInfo::BadElement("with-defaults".into()))),
    }
}

fn filter(op: &Element) -> Result<Option<Filter>, RpcError> {
    param(op, "filter").map(Filter::parse).transpose()
}

fn internal(what: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::application(ErrorTag::OperationFailed, format!("{what}: {e}"))
}

/// Prints a tree as XML (its top-level elements).
fn print(tree: &DataTree<'static>, wd: WithDefaults) -> Result<String, RpcError> {
    if tree.reference().is_none() {
        return Ok(String::new());
    }
    if wd == WithDefaults::Trim {
        return print(&trimmed(tree)?, WithDefaults::Explicit);
    }
    // ly::print_tree frees libyang's buffer (yang2's print_string leaks it).
    ocbgp_models::ly::print_tree(tree, DataFormat::XML, DataPrinterFlags::SHRINK | wd.flags())
        .map_err(|e| internal("printing data", e))
}

/// A copy of `tree` without the leaves whose value is their default.
///
/// libyang's own trim printing leaves out a whole container when the
/// container still carries the default flag of its implicit creation,
/// which happens after a merge into it; removing the leaves first and
/// printing explicitly avoids that.
fn trimmed(tree: &DataTree<'static>) -> Result<DataTree<'static>, RpcError> {
    let mut copy = tree.duplicate().map_err(|e| internal("copying data", e))?;
    let defaults: Vec<String> = copy
        .traverse()
        .filter(|n| {
            n.schema().kind() == SchemaNodeKind::Leaf && !n.schema().is_list_key() && n.is_default()
        })
        .map(|n| n.path())
        .collect();
    for path in defaults {
        let _ = copy.remove(&path);
    }
    Ok(copy)
}

/// Applies a subtree filter to XML text holding top-level elements.
fn subtree_text(text: &str, f: &Element) -> Result<String, RpcError> {
    let doc =
        xml::parse(&format!("<data>{text}</data>")).map_err(|e| internal("reading data", e))?;
    let mut out = String::new();
    for e in filter::subtree(&doc.children, f) {
        xml::write(&mut out, &e, &WriteOptions::default());
    }
    Ok(out)
}

/// The `<data>` content for a tree under a filter.
fn render(
    tree: &DataTree<'static>,
    filter: Option<&Filter>,
    wd: WithDefaults,
) -> Result<String, RpcError> {
    match filter {
        None => print(tree, wd),
        Some(Filter::Subtree(f)) => subtree_text(&print(tree, wd)?, f),
        Some(Filter::XPath(x)) => print(&filter::xpath_select(tree, x)?, wd),
    }
}

/// `<get-config>`: running or candidate, filtered.
pub fn get_config(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[
            (NC_NS, "source"),
            (NC_NS, "filter"),
            (WITH_DEFAULTS_NS, "with-defaults"),
        ],
    )?;
    let source = datastore(op, "source", false)?;
    let filter = filter(op)?;
    let wd = with_defaults(op)?;
    let store = &ctx.shared.store;
    let access = ctx.access();
    let content = match source {
        Datastore::Running => {
            let running = store.running();
            match access
                .readable(running.tree())
                .map_err(|e| internal("access rules", e))?
            {
                Some(readable) => render(&readable, filter.as_ref(), wd)?,
                None => render(running.tree(), filter.as_ref(), wd)?,
            }
        }
        _ => {
            let mut tree = store.candidate();
            if wd == WithDefaults::ReportAll {
                tree.add_implicit(DataImplicitFlags::NO_STATE)
                    .map_err(|e| internal("defaults", e))?;
            }
            access.filter(&mut tree);
            render(&tree, filter.as_ref(), wd)?
        }
    };
    Ok(Body::Data(content))
}

/// `<get>`: the operational datastore (running configuration and the
/// engine's state), ietf-netconf-monitoring's `netconf-state` and
/// ietf-yang-library's `yang-library`, filtered. The RIB, when the filter
/// asks for it, is streamed ([`rib`]).
pub fn get(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[(NC_NS, "filter"), (WITH_DEFAULTS_NS, "with-defaults")],
    )?;
    let filter = filter(op)?;
    let wd = with_defaults(op)?;
    let rib = filter.as_ref().and_then(rib::request);
    let access = ctx.access();
    let mut content = String::new();
    if filter.as_ref().is_none_or(Filter::wants_data) {
        let path = filter
            .as_ref()
            .map(Filter::narrow_path)
            .unwrap_or_else(|| "/".into());
        let mut tree = ctx
            .shared
            .store
            .operational(&path)
            .map_err(|e| internal("reading state", e))?;
        access.filter(&mut tree);
        content.push_str(&render(&tree, filter.as_ref(), wd)?);
    }
    let readable = |module: &str| access.reads_module(module);
    if filter.as_ref().is_none_or(Filter::wants_monitoring) && readable("ietf-netconf-monitoring") {
        let state = monitoring::netconf_state(ctx.shared);
        match &filter {
            Some(Filter::Subtree(f)) => content.push_str(&subtree_text(&state, f)?),
            _ => content.push_str(&state),
        }
    }
    if filter.as_ref().is_none_or(Filter::wants_yang_library) && readable("ietf-yang-library") {
        let library = yang_library::yang_library();
        match &filter {
            Some(Filter::Subtree(f)) => content.push_str(&subtree_text(&library, f)?),
            _ => content.push_str(&library),
        }
    }
    if let Some(req) = rib {
        if let Some((first, rest)) = rib::open(&ctx.shared.store, &req, &access)? {
            let streamed = rib::Streamed::new(&content, first, rest, req)?;
            return Ok(Body::Streamed(Box::new(streamed)));
        }
    }
    Ok(Body::Data(content))
}

/// `<get-schema>` (RFC 6022): the YANG text of an embedded module or
/// submodule.
pub fn get_schema(_ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[
            (MONITORING_NS, "identifier"),
            (MONITORING_NS, "version"),
            (MONITORING_NS, "format"),
        ],
    )?;
    let id = op
        .child(MONITORING_NS, "identifier")
        .ok_or_else(|| RpcError::missing_parameter("identifier"))?
        .value();
    let no_schema = || {
        RpcError::application(
            ErrorTag::InvalidValue,
            format!("no schema {id} with that version and format"),
        )
        .with_info(ErrorInfo::BadElement("identifier".into()))
    };
    let module = schema::module(id).ok_or_else(no_schema)?;
    if let Some(v) = op.child(MONITORING_NS, "version").map(Element::value) {
        if !v.is_empty() && Some(v) != module.revision && v != module.version() {
            return Err(no_schema());
        }
    }
    if let Some(f) = op.child(MONITORING_NS, "format") {
        let yang = f.value() == "yang" || f.qname_value() == Some((MONITORING_NS, "yang"));
        if !yang {
            return Err(no_schema());
        }
    }
    Ok(Body::Raw(format!(
        "<data xmlns=\"{MONITORING_NS}\">{}</data>",
        escape(module.text)
    )))
}
