//! close-session and kill-session.

use ocbgp_models::datastore::SessionId;

use super::{check_params, param, Body, RpcContext};
use crate::error::{ErrorInfo, RpcError};
use crate::xml::{Element, NC_NS};

/// `<close-session>`: the reply is sent, then the session ends.
pub fn close_session(_ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[])?;
    Ok(Body::Close)
}

/// `<kill-session>`: ends another session and releases its locks (and its
/// confirmed commit without persist) at once.
pub fn kill_session(ctx: &RpcContext<'_>, op: &Element) -> Result<Body, RpcError> {
    check_params(op, &[(NC_NS, "session-id")])?;
    let text = param(op, "session-id")
        .ok_or_else(|| RpcError::missing_parameter("session-id"))?
        .value();
    let bad = |why: String| {
        RpcError::invalid_parameter(why).with_info(ErrorInfo::BadElement("session-id".into()))
    };
    let id: u64 = text
        .parse()
        .map_err(|_| bad(format!("{text:?} is not a session id")))?;
    if id == ctx.session.id.0 {
        return Err(bad("a session cannot kill itself; use close-session".into()));
    }
    if !ctx.shared.kill(id) {
        return Err(bad(format!("there is no NETCONF session {id}")));
    }
    ctx.shared.release(SessionId(id));
    tracing::info!(
        killer = ctx.session.id.0,
        killed = id,
        "NETCONF kill-session"
    );
    Ok(Body::Ok)
}
