//! The operations: parameters read from the `<rpc>`'s operation element,
//! datastore calls, reply bodies. One file per group of operations.
//!
//! Handlers block (datastore transactions); the session runs them off
//! the async runtime's threads.

mod commit;
mod edit;
mod get;
mod lock;
mod ocbgp;
mod session;

use std::sync::Arc;

use ocbgp_models::datastore::{Origin, Requester, Target};
use ocbgp_models::nacm::Access;

use crate::error::{ErrorInfo, ErrorTag, RpcError};
use crate::shared::{SessionInfo, Shared};
use crate::xml::{Element, MONITORING_NS, NC_NS};

/// The namespace of ocbgp's own module (its `rollback` operation).
pub const OCBGP_NS: &str = "urn:ocbgp:yang:ocbgp";

/// What a successful operation answers.
pub enum Body {
    /// `<ok/>`.
    Ok,
    /// `<data>` with this content.
    Data(String),
    /// `<data>` whose RIB part is written as it is read.
    Streamed(Box<crate::rib::Streamed>),
    /// This content as the reply's body.
    Raw(String),
    /// `<ok/>`, then the session ends (close-session).
    Close,
}

/// Who runs an operation.
pub struct RpcContext<'a> {
    /// The server's shared state.
    pub shared: &'a Arc<Shared>,
    /// The session.
    pub session: &'a Arc<SessionInfo>,
}

impl RpcContext<'_> {
    /// The requester the datastore records.
    pub fn requester(&self) -> Requester {
        Requester {
            origin: Origin::Netconf,
            session: self.session.id,
            user: Some(self.session.user.clone()),
            source: self.session.source,
            // Every NETCONF session logged in as a configured user.
            authenticated: true,
            comment: None,
        }
    }

    /// What the session's user may do, by the rules in force now.
    pub fn access(&self) -> Access {
        self.shared.store.access(Some(&self.session.user))
    }
}

/// The module that defines an operation of namespace `ns`, for access
/// control's `exec` rules.
fn operation_module(ns: Option<&str>) -> Option<&'static str> {
    match ns? {
        NC_NS => Some("ietf-netconf"),
        MONITORING_NS => Some("ietf-netconf-monitoring"),
        OCBGP_NS => Some("ocbgp"),
        _ => None,
    }
}

/// Runs the operation `op` (the `<rpc>`'s child), if the user may.
pub fn dispatch(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    if let Some(module) = operation_module(op.ns.as_deref()) {
        ctx.access().exec(module, &op.name).inspect_err(|denied| {
            let user = ctx.session.user.as_str();
            tracing::warn!(door = "NETCONF", user, source = ?ctx.session.source, error = %denied, "operation refused");
            ocbgp_models::audit::record(
                ocbgp_models::audit::Kind::OperationDenied,
                "NETCONF",
                user,
                ctx.session.source,
                &denied.to_string(),
            );
        })?;
    }
    match (op.ns.as_deref(), op.name.as_str()) {
        (Some(NC_NS), "get") => get::get(ctx, op),
        (Some(NC_NS), "get-config") => get::get_config(ctx, op),
        (Some(NC_NS), "edit-config") => edit::edit_config(ctx, op),
        (Some(NC_NS), "copy-config") => edit::copy_config(ctx, op),
        (Some(NC_NS), "delete-config") => edit::delete_config(ctx, op),
        (Some(NC_NS), "lock") => lock::lock(ctx, op),
        (Some(NC_NS), "unlock") => lock::unlock(ctx, op),
        (Some(NC_NS), "close-session") => session::close_session(ctx, op),
        (Some(NC_NS), "kill-session") => session::kill_session(ctx, op),
        (Some(NC_NS), "commit") => commit::commit(ctx, op),
        (Some(NC_NS), "cancel-commit") => commit::cancel_commit(ctx, op),
        (Some(NC_NS), "discard-changes") => commit::discard_changes(ctx, op),
        (Some(NC_NS), "validate") => commit::validate(ctx, op),
        (Some(MONITORING_NS), "get-schema") => get::get_schema(ctx, op),
        (Some(OCBGP_NS), "rollback") => ocbgp::rollback(ctx, op),
        _ => Err(
            RpcError::not_supported(format!("operation {} is not supported", op.name))
                .with_info(ErrorInfo::BadElement(op.name.clone())),
        ),
    }
}

/// Checks that every parameter of `op` is one of `allowed` (namespace,
/// name) and none repeats.
pub(crate) fn check_params(op: &Element, allowed: &[(&str, &str)]) -> Result<(), RpcError> {
    for (i, p) in op.children.iter().enumerate() {
        let known = allowed.iter().any(|(ns, name)| p.is(ns, name));
        if !known {
            return Err(RpcError::unknown_parameter(&p.name));
        }
        if op.children[..i]
            .iter()
            .any(|q| q.name == p.name && q.ns == p.ns)
        {
            return Err(RpcError::protocol(
                ErrorTag::BadElement,
                format!("parameter {} given twice", p.name),
            )
            .with_info(ErrorInfo::BadElement(p.name.clone())));
        }
    }
    Ok(())
}

/// A base-namespace parameter.
pub(crate) fn param<'e>(op: &'e Element, name: &str) -> Option<&'e Element> {
    op.child(NC_NS, name)
}

/// A datastore named by a `<target>` or `<source>` parameter.
#[derive(Debug)]
pub(crate) enum Datastore<'e> {
    /// `<running/>`.
    Running,
    /// `<candidate/>`.
    Candidate,
    /// `<config>...</config>` (sources only).
    Config(&'e Element),
}

impl Datastore<'_> {
    pub(crate) fn target(&self) -> Option<Target> {
        match self {
            Datastore::Running => Some(Target::Running),
            Datastore::Candidate => Some(Target::Candidate),
            Datastore::Config(_) => None,
        }
    }
}

/// Reads the `<target>` or `<source>` parameter `name`; `inline` allows a
/// `<config>` element.
pub(crate) fn datastore<'e>(
    op: &'e Element,
    name: &str,
    inline: bool,
) -> Result<Datastore<'e>, RpcError> {
    let p = param(op, name).ok_or_else(|| RpcError::missing_parameter(name))?;
    let [which] = p.children.as_slice() else {
        return Err(RpcError::protocol(
            ErrorTag::MissingElement,
            format!("{name} must name one datastore"),
        )
        .with_info(ErrorInfo::BadElement(name.to_string())));
    };
    if which.ns.as_deref() != Some(NC_NS) {
        return Err(RpcError::unknown_parameter(&which.name));
    }
    match which.name.as_str() {
        "running" => Ok(Datastore::Running),
        "candidate" => Ok(Datastore::Candidate),
        "config" if inline => Ok(Datastore::Config(which)),
        "startup" => Err(RpcError::invalid_parameter(
            "there is no startup datastore: running is saved on every commit",
        )
        .with_info(ErrorInfo::BadElement("startup".into()))),
        "url" => Err(
            RpcError::not_supported("the :url capability is not supported")
                .with_info(ErrorInfo::BadElement("url".into())),
        ),
        other => Err(
            RpcError::invalid_parameter(format!("{other} is not a datastore here"))
                .with_info(ErrorInfo::BadElement(other.to_string())),
        ),
    }
}
