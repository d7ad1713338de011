//! commit (with confirmed commits), cancel-commit, discard-changes and
//! validate.

use std::time::Duration;

use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::Target;

use super::{check_params, datastore, param, Body, Datastore, RpcContext};
use crate::confirm::{CommitParams, DEFAULT_TIMEOUT};
use crate::error::{invalid, ErrorInfo, ErrorTag, RpcError};
use crate::xml::{Element, NC_NS};

fn text_param(op: &Element, name: &str) -> Option<String> {
    param(op, name).map(|p| p.value().to_string())
}

/// `<commit>`: the candidate becomes running; with `<confirmed/>` it must
/// be confirmed within `<confirm-timeout>` seconds (600 by default).
pub fn commit(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(
        op,
        &[
            (NC_NS, "confirmed"),
            (NC_NS, "confirm-timeout"),
            (NC_NS, "persist"),
            (NC_NS, "persist-id"),
        ],
    )?;
    let confirmed = param(op, "confirmed").is_some();
    let timeout = match param(op, "confirm-timeout").map(Element::value) {
        None => DEFAULT_TIMEOUT,
        Some(text) => match text.parse::<u32>() {
            Ok(secs) if secs > 0 => Duration::from_secs(secs.into()),
            _ => {
                return Err(RpcError::invalid_parameter(format!(
                    "confirm-timeout {text:?} is not 1..4294967295"
                ))
                .with_info(ErrorInfo::BadElement("confirm-timeout".into())))
            }
        },
    };
    let persist = text_param(op, "persist");
    if !confirmed && (param(op, "confirm-timeout").is_some() || persist.is_some()) {
        return Err(RpcError::invalid_parameter(
            "confirm-timeout and persist need confirmed",
        ));
    }
    let params = CommitParams {
        confirmed: confirmed.then_some(timeout),
        persist,
        persist_id: text_param(op, "persist-id"),
    };
    ctx.shared.confirm.commit(&ctx.requester(), &params)?;
    Ok(Body::Ok)
}

/// `<cancel-commit>`: undoes the pending confirmed commit.
pub fn cancel_commit(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[(NC_NS, "persist-id")])?;
    ctx.shared
        .confirm
        .cancel(&ctx.requester(), text_param(op, "persist-id").as_deref())?;
    Ok(Body::Ok)
}

/// `<discard-changes>`: the candidate becomes running again.
pub fn discard_changes(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[])?;
    if let Some((holder, _)) = ctx.shared.lock_holder(Target::Candidate) {
        if holder != ctx.session.id {
            return Err(RpcError::protocol(
                ErrorTag::InUse,
                format!("the candidate datastore is locked by session {}", holder.0),
            )
            .with_info(ErrorInfo::SessionId(holder.0)));
        }
    }
    ctx.shared.store.discard_candidate();
    Ok(Body::Ok)
}

/// `<validate>` (:validate:1.1) of the candidate, running or an inline
/// configuration.
pub fn validate(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[(NC_NS, "source")])?;
    match datastore(op, "source", true)? {
        // Running is valid by construction: every write of it validates.
        Datastore::Running => {}
        Datastore::Candidate => ctx.shared.store.validate_candidate()?,
        Datastore::Config(c) => {
            Config::parse(&super::edit::inline_config(c)?, Encoding::Xml).map_err(invalid)?;
        }
    }
    Ok(Body::Ok)
}
