//! edit-config, copy-config and delete-config.

use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::edit::{self as model_edit, Edit, Operation};
use yang2::data::DataTree;

use super::{check_params, datastore, param, Body, Datastore, RpcContext};
use crate::edit::{edits_from_config, DefaultOperation};
use crate::error::{invalid, ErrorInfo, RpcError};
use crate::xml::{self, Element, WriteOptions, NC_NS, WITH_DEFAULTS_NS};

/// edit-config's `<test-option>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestOption {
    /// Not given: running is validated (every write of running is a
    /// transaction), the candidate is validated at validate and commit.
    Default,
    /// Validate the result first.
    TestThenSet,
    /// Apply; the candidate is validated later.
    Set,
    /// Validate only.
    TestOnly,
}

fn test_option(op: &Element) -> Result<TestOption, RpcError> {
    match param(op, "test-option").map(Element::value) {
        None => Ok(TestOption::Default),
        Some("test-then-set") => Ok(TestOption::TestThenSet),
        Some("set") => Ok(TestOption::Set),
        Some("test-only") => Ok(TestOption::TestOnly),
        Some(other) => Err(
            RpcError::invalid_parameter(format!("unknown test-option {other}"))
                .with_info(ErrorInfo::BadElement("test-option".into())),
        ),
    }
}

fn error_option(op: &Element) -> Result<(), RpcError> {
    match param(op, "error-option").map(Element::value) {
        // Edits are one transaction: on any error nothing changes, which
        // satisfies both.
        None | Some("stop-on-error") | Some("rollback-on-error") => Ok(()),
        Some("continue-on-error") => Err(RpcError::not_supported(
            "continue-on-error is not supported: an edit-config is applied as a whole or not at all",
        )
        .with_info(ErrorInfo::BadElement("error-option".into()))),
        Some(other) => Err(RpcError::invalid_parameter(format!("unknown error-option {other}"))
            .with_info(ErrorInfo::BadElement("error-option".into()))),
    }
}

/// Applies edits to a copy and validates the result.
fn test(mut tree: DataTree<'static>, edits: &[Edit]) -> Result<(), RpcError> {
    for e in edits {
        model_edit::apply(&mut tree, e)?;
    }
    Config::from_tree(tree).map(|_| ()).map_err(invalid)
}

/// `<edit-config>` of running or the candidate.
pub fn edit_config(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[
            (NC_NS, "target"),
            (NC_NS, "default-operation"),
            (NC_NS, "test-option"),
            (NC_NS, "error-option"),
            (NC_NS, "config"),
            (NC_NS, "url"),
        ],
    )?;
    let target = datastore(op, "target", false)?;
    let default = match param(op, "default-operation").map(Element::value) {
        None => DefaultOperation::Merge,
        Some(text) => DefaultOperation::parse(text).ok_or_else(|| {
            RpcError::invalid_parameter(format!("unknown default-operation {text}"))
                .with_info(ErrorInfo::BadElement("default-operation".into()))
        })?,
    };
    let test_option = test_option(op)?;
    error_option(op)?;
    if param(op, "url").is_some() {
        return Err(
            RpcError::not_supported("the :url capability is not supported")
                .with_info(ErrorInfo::BadElement("url".into())),
        );
    }
    let config = param(op, "config").ok_or_else(|| RpcError::missing_parameter("config"))?;
    let edits = edits_from_config(config, default)?;
    let store = &ctx.shared.store;
    let who = ctx.requester();
    match (target, test_option) {
        (Datastore::Running, TestOption::TestOnly) => test(store.running().to_tree(), &edits)?,
        (Datastore::Running, _) => {
            store.edit_running(&edits, &who)?;
        }
        (_, TestOption::TestOnly) => test(store.candidate(), &edits)?,
        (_, TestOption::TestThenSet) => {
            test(store.candidate(), &edits)?;
            store.edit_candidate(&edits, &who)?;
        }
        (_, TestOption::Set | TestOption::Default) => store.edit_candidate(&edits, &who)?,
    }
    Ok(Body::Ok)
}

/// The content of an inline `<config>`, checked against the schema.
pub(super) fn inline_config(config: &Element) -> Result<String, RpcError> {
    // The walk reports unknown elements as edit-config does.
    edits_from_config(config, DefaultOperation::None)?;
    let options = WriteOptions {
        declare_scope: true,
        strip_attrs: true,
        skip: &|_| false,
    };
    let mut text = String::new();
    for c in &config.children {
        xml::write(&mut text, c, &options);
    }
    Ok(text)
}

/// An edit that makes the candidate `text` (XML), or empty.
fn replace_all(text: String) -> Edit {
    if text.trim().is_empty() {
        Edit::delete(Operation::Remove, "/")
    } else {
        Edit {
            op: Operation::Replace,
            path: "/".into(),
            value: Some((text, Encoding::Xml)),
            insert: None,
        }
    }
}

/// `<copy-config>` between running, the candidate and an inline config.
pub fn copy_config(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[
            (NC_NS, "target"),
            (NC_NS, "source"),
            (WITH_DEFAULTS_NS, "with-defaults"),
        ],
    )?;
    let target = datastore(op, "target", false)?;
    let source = datastore(op, "source", true)?;
    let store = &ctx.shared.store;
    let who = ctx.requester();
    match (target, source) {
        (Datastore::Running, Datastore::Running) | (Datastore::Candidate, Datastore::Candidate) => {
            return Err(RpcError::invalid_parameter(
                "source and target are the same datastore",
            ));
        }
        (Datastore::Running, Datastore::Candidate) => {
            let config = Config::from_tree(store.candidate()).map_err(invalid)?;
            store.replace_running(config, &who)?;
        }
        (Datastore::Running, Datastore::Config(c)) => {
            let config = Config::parse(&inline_config(c)?, Encoding::Xml).map_err(invalid)?;
            store.replace_running(config, &who)?;
        }
        (Datastore::Candidate, Datastore::Running) => {
            let text = store.running().print(Encoding::Xml).map_err(invalid)?;
            store.edit_candidate(&[replace_all(text)], &who)?;
        }
        (Datastore::Candidate, Datastore::Config(c)) => {
            store.edit_candidate(&[replace_all(inline_config(c)?)], &who)?;
        }
        (Datastore::Config(_), _) => unreachable_target()?,
    }
    Ok(Body::Ok)
}

fn unreachable_target() -> Result<(), RpcError> {
    // datastore(.., false) never returns Config.
    Err(RpcError::invalid_parameter(
        "the target must be a datastore",
    ))
}

/// `<delete-config>`: the candidate is emptied; running cannot be deleted.
pub fn delete_config(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[(NC_NS, "target")])?;
    match datastore(op, "target", false)? {
        Datastore::Candidate => {
            ctx.shared
                .store
                .edit_candidate(&[Edit::delete(Operation::Remove, "/")], &ctx.requester())?;
            Ok(Body::Ok)
        }
        _ => Err(
            RpcError::not_supported("the running datastore cannot be deleted")
                .with_info(ErrorInfo::BadElement("running".into())),
        ),
    }
}
