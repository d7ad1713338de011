//! Set extensions: the gNMI `Commit` extension (confirmed commit, gNMI
//! commit-confirmed specification 0.1.0) and ocbgp's rollback extension.
//!
//! Confirmed commits are the datastore's (one mechanism for gNMI and
//! NETCONF, at most one pending, see `ocbgp_models::datastore`):
//!
//! * `commit` with `id` (required) and `rollback_duration` (10 minutes when
//!   absent): the Set's operations are applied at once and undone unless a
//!   `confirm` with the same id comes in time. While any confirmed commit is
//!   pending (this door's or NETCONF's), a new `commit` is
//!   `FailedPrecondition`.
//! * `confirm`, `cancel` (undo now), `set_rollback_duration` (a new timer
//!   from now): the id must be the pending commit's (`InvalidArgument`
//!   otherwise); nothing pending is `FailedPrecondition`. These Sets carry
//!   no operations.
//! * A Set without the extension while a confirmed commit is pending is
//!   `FailedPrecondition` (specification 3.2.1).
//!
//! The id is NETCONF's `persist-id`: a NETCONF confirmed commit made with
//! `persist X` is confirmed or cancelled here with id `X`, and a gNMI one
//! over NETCONF with `<persist-id>X</persist-id>`. A NETCONF confirmed
//! commit without `persist` belongs to its session: gNMI cannot act on it
//! (`FailedPrecondition`).
//!
//! Rollback: a `RegisteredExtension` with id `EID_EXPERIMENTAL` whose `msg`
//! is an `ocbgp_ext.OcbgpExtension` holding `rollback { commit_id }` makes
//! running what it was right after that commit, as a new commit with origin
//! `ROLLBACK`; the response carries `rollback_result { commit_id }` the same
//! way (0: nothing changed).

use std::sync::Arc;
use std::time::Duration;

use ocbgp_models::datastore::{
    CommitError, CommitOutcome, ConfirmError, ConfirmRefusal, Datastore, Origin, Requester,
    DEFAULT_CONFIRM_TIMEOUT,
};
use ocbgp_models::edit::Edit;
use prost::Message;
use tonic::{Code, Status};

use super::Failure;
use crate::data::now_ns;
use crate::proto::gnmi::{SetRequest, SetResponse};
use crate::proto::gnmi_ext::commit::Action;
use crate::proto::gnmi_ext::extension::Ext;
use crate::proto::gnmi_ext::{Commit, Extension, ExtensionId, RegisteredExtension};
use crate::proto::ocbgp_ext::ocbgp_extension::Ext as OcbgpExt;
use crate::proto::ocbgp_ext::{OcbgpExtension, RollbackResult};

/// How the Set's operations are committed.
pub(crate) enum Mode {
    /// An ordinary commit.
    Plain,
    /// A confirmed commit (the Commit extension's `commit` action).
    Confirmed { id: String, timeout: Duration },
}

/// What the extensions make of a Set.
pub(crate) enum Handled {
    /// Run the Set's operations, committed this way.
    Run(Mode),
    /// The extension was the whole request; this is the answer.
    Done(SetResponse),
}

/// Reads the request's extensions; answers the Sets that are only an
/// extension (confirm, cancel, set_rollback_duration, rollback).
pub(crate) fn handle(
    store: &Arc<Datastore>,
    who: &Requester,
    request: &SetRequest,
) -> Result<Handled, Status> {
    let mut commit = None;
    let mut ours = None;
    for e in &request.extension {
        match &e.ext {
            Some(Ext::Commit(c)) if commit.is_none() => commit = Some(c),
            Some(Ext::Commit(_)) => {
                return Err(invalid("more than one Commit extension in the SetRequest"))
            }
            Some(Ext::RegisteredExt(r)) if r.id == ExtensionId::EidExperimental as i32 => {
                if ours.is_some() {
                    return Err(invalid("more than one ocbgp extension in the SetRequest"));
                }
                let decoded = OcbgpExtension::decode(r.msg.as_slice()).map_err(|e| {
                    invalid(format!(
                        "the EID_EXPERIMENTAL extension is not an ocbgp_ext.OcbgpExtension: {e}"
                    ))
                })?;
                ours = Some(decoded);
            }
            Some(Ext::RegisteredExt(r)) => {
                return Err(Status::unimplemented(format!(
                    "registered extension {} is not supported (ocbgp knows EID_EXPERIMENTAL \
                     carrying ocbgp_ext.OcbgpExtension)",
                    r.id
                )))
            }
            // Master arbitration, history, depth... do not apply to a Set.
            Some(_) | None => {}
        }
    }
    let has_ops = !(request.delete.is_empty()
        && request.replace.is_empty()
        && request.update.is_empty()
        && request.union_replace.is_empty());
    match (commit, ours) {
        (Some(_), Some(_)) => Err(invalid(
            "a SetRequest cannot carry both the Commit extension and an ocbgp rollback",
        )),
        (None, Some(ext)) => {
            if has_ops {
                return Err(invalid(
                    "a rollback SetRequest carries no delete, replace or update",
                ));
            }
            rollback(store, who, request, ext).map(Handled::Done)
        }
        (Some(c), None) => commit_action(store, who, request, c, has_ops),
        // A pending confirmed commit refuses it in the transaction
        // (`CommitError::ConfirmPending`).
        (None, None) => Ok(Handled::Run(Mode::Plain)),
    }
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

/// An empty SetResponse for a request that was only an extension.
fn done(request: &SetRequest, extension: Vec<Extension>) -> SetResponse {
    SetResponse {
        prefix: request.prefix.clone(),
        timestamp: now_ns(),
        extension,
        ..Default::default()
    }
}

fn duration(d: Option<&prost_types::Duration>, what: &str) -> Result<Option<Duration>, Status> {
    let Some(d) = d else { return Ok(None) };
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(invalid(format!(
            "{what} must be a positive duration (got {}s {}ns)",
            d.seconds, d.nanos
        )));
    }
    let d = Duration::new(d.seconds as u64, d.nanos as u32);
    if d.is_zero() {
        return Err(invalid(format!("{what} must be greater than zero")));
    }
    Ok(Some(d))
}

fn commit_action(
    store: &Arc<Datastore>,
    who: &Requester,
    request: &SetRequest,
    c: &Commit,
    has_ops: bool,
) -> Result<Handled, Status> {
    if c.id.is_empty() {
        return Err(invalid("the Commit extension needs an id"));
    }
    let Some(action) = &c.action else {
        return Err(invalid(
            "the Commit extension needs an action: commit, confirm, cancel or set_rollback_duration",
        ));
    };
    if has_ops && !matches!(action, Action::Commit(_)) {
        return Err(invalid(
            "a Commit confirm, cancel or set_rollback_duration carries no delete, replace or update",
        ));
    }
    let result = match action {
        Action::Commit(r) => {
            let timeout = duration(r.rollback_duration.as_ref(), "rollback_duration")?
                .unwrap_or(DEFAULT_CONFIRM_TIMEOUT);
            // Checked here for a clear answer before planning; the
            // datastore checks again atomically.
            if let Some(p) = store.pending_confirm() {
                return Err(refusal_status(ConfirmRefusal::AlreadyPending(p)));
            }
            if !has_ops {
                // Nothing to apply: pending all the same, to confirm.
                store
                    .edit_running_confirmed(&[], who, &c.id, timeout)
                    .map_err(confirm_status)?;
                return Ok(Handled::Done(done(request, Vec::new())));
            }
            return Ok(Handled::Run(Mode::Confirmed {
                id: c.id.clone(),
                timeout,
            }));
        }
        Action::Confirm(_) => store.confirm_commit(who, Some(&c.id)),
        Action::Cancel(_) => store.cancel_commit(who, Some(&c.id)).map(|_| ()),
        Action::SetRollbackDuration(r) => {
            let Some(timeout) = duration(r.rollback_duration.as_ref(), "rollback_duration")? else {
                return Err(invalid("set_rollback_duration needs a rollback_duration"));
            };
            store.set_confirm_timeout(who, &c.id, timeout)
        }
    };
    result.map_err(confirm_status)?;
    Ok(Handled::Done(done(request, Vec::new())))
}

/// The status of a refused confirmed-commit action.
fn refusal_status(r: ConfirmRefusal) -> Status {
    let code = match &r {
        ConfirmRefusal::IdMismatch | ConfirmRefusal::ZeroTimeout => Code::InvalidArgument,
        ConfirmRefusal::NothingPending
        | ConfirmRefusal::AlreadyPending(_)
        | ConfirmRefusal::IdNeeded
        | ConfirmRefusal::NoId(_)
        | ConfirmRefusal::OtherSession(_) => Code::FailedPrecondition,
    };
    let message = match &r {
        ConfirmRefusal::IdMismatch => {
            "the Commit id does not match the pending confirmed commit".to_string()
        }
        ConfirmRefusal::NoId(p) | ConfirmRefusal::OtherSession(p) => format!(
            "the pending confirmed commit is {} session {}'s, made without persist: only that \
             session can confirm or cancel it",
            p.origin.as_str(),
            p.session.0
        ),
        r => r.to_string(),
    };
    Status::new(code, message)
}

fn confirm_status(e: ConfirmError) -> Status {
    match e {
        ConfirmError::Refused(r) => refusal_status(r),
        ConfirmError::Commit(e) => commit_status(&e),
    }
}

fn commit_status(e: &CommitError) -> Status {
    let code = match e {
        CommitError::Edit(_) | CommitError::Invalid(_) | CommitError::UnknownCommit(_) => {
            Code::InvalidArgument
        }
        CommitError::Refused(_)
        | CommitError::Locked(_)
        | CommitError::NoPendingConfirm
        | CommitError::ConfirmPending(_) => Code::FailedPrecondition,
        CommitError::Persist(_) => Code::Internal,
        CommitError::Denied(_) => Code::PermissionDenied,
    };
    Status::new(code, e.to_string())
}

fn rollback(
    store: &Arc<Datastore>,
    who: &Requester,
    request: &SetRequest,
    ext: OcbgpExtension,
) -> Result<SetResponse, Status> {
    let Some(OcbgpExt::Rollback(r)) = ext.ext else {
        return Err(invalid(
            "the ocbgp extension of a SetRequest must be a rollback",
        ));
    };
    if let Some(p) = store.pending_confirm() {
        return Err(Status::failed_precondition(format!(
            "{}; a rollback is refused until it is confirmed or cancelled",
            ConfirmRefusal::AlreadyPending(p)
        )));
    }
    let mut who = who.clone();
    who.origin = Origin::Rollback;
    let new = match store.rollback(r.commit_id, &who) {
        Ok(CommitOutcome::Committed(id)) => id,
        Ok(CommitOutcome::Unchanged) => 0,
        Err(e) => return Err(commit_status(&e)),
    };
    let result = OcbgpExtension {
        ext: Some(OcbgpExt::RollbackResult(RollbackResult { commit_id: new })),
    };
    let extension = Extension {
        ext: Some(Ext::RegisteredExt(RegisteredExtension {
            id: ExtensionId::EidExperimental as i32,
            msg: result.encode_to_vec(),
        })),
    };
    Ok(done(request, vec![extension]))
}

/// Why running the Set's edits failed.
pub(crate) enum RunError {
    /// The transaction failed, at the edit of this index if known: mapped
    /// to a failing operation by the caller.
    Commit(Option<usize>, CommitError),
    /// The confirmed-commit rules refused it (the whole request).
    Refused(Failure),
}

/// Commits the Set's edits as `mode` says.
pub(crate) fn run(
    store: &Arc<Datastore>,
    who: &Requester,
    edits: Vec<Edit>,
    mode: &Mode,
) -> Result<(), RunError> {
    match mode {
        // The edits are handed over: each is freed once applied.
        Mode::Plain => store
            .edit_running_owned(edits, who)
            .map(|_| ())
            .map_err(|(failing, e)| RunError::Commit(failing, e)),
        Mode::Confirmed { id, timeout } => store
            .edit_running_confirmed(&edits, who, id, *timeout)
            .map(|_| ())
            .map_err(|e| match e {
                ConfirmError::Commit(e) => RunError::Commit(None, e),
                ConfirmError::Refused(r) => {
                    let status = refusal_status(r);
                    RunError::Refused(Failure {
                        step: None,
                        code: status.code(),
                        message: status.message().to_string(),
                    })
                }
            }),
    }
}
