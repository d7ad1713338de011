//! ocbgp's own operation: `rollback` of the `ocbgp` module.

use ocbgp_models::datastore::CommitOutcome;

use super::{check_params, Body, RpcContext, OCBGP_NS};
use crate::error::{ErrorInfo, RpcError};
use crate::xml::Element;

/// `<rollback xmlns="urn:ocbgp:yang:ocbgp"><commit-id>N</commit-id>`:
/// running becomes what it was right after commit N, as a new commit,
/// whose id is answered (none when nothing changed).
pub fn rollback(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[(OCBGP_NS, "commit-id")])?;
    let text = op
        .child(OCBGP_NS, "commit-id")
        .ok_or_else(|| RpcError::missing_parameter("commit-id"))?
        .value();
    let id: u64 = text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!("{text:?} is not a commit id"))
            .with_info(ErrorInfo::BadElement("commit-id".into()))
    })?;
    let mut who = ctx.requester();
    who.origin = ocbgp_models::datastore::Origin::Rollback;
    match ctx.shared.store.rollback(id, &who)? {
        CommitOutcome::Committed(new) => Ok(Body::Raw(format!(
            "<commit-id xmlns=\"{OCBGP_NS}\">{new}</commit-id>"
        ))),
        CommitOutcome::Unchanged => Ok(Body::Ok),
    }
}
