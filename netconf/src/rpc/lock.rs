//! lock and unlock (RFC 6241 7.5, 7.6): the datastore's locks, shared with
//! the other management doors.

use super::{check_params, datastore, Body, RpcContext};
use crate::error::RpcError;
use crate::xml::{Element, NC_NS};

fn target(op: &Element) -> Result<ocbgp_models::datastore::Target, RpcError> {
    check_params(op, &[(NC_NS, "target")])?;
    datastore(op, "target", false)?
        .target()
        .ok_or_else(|| RpcError::invalid_parameter("the target must be a datastore"))
}

/// `<lock>`.
pub fn lock(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    let target = target(op)?;
    ctx.shared.store.lock(target, ctx.session.id)?;
    ctx.shared.locked(target, ctx.session.id);
    Ok(Body::Ok)
}

/// `<unlock>`.
pub fn unlock(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    let target = target(op)?;
    ctx.shared.store.unlock(target, ctx.session.id)?;
    ctx.shared.unlocked(target, ctx.session.id);
    Ok(Body::Ok)
}
