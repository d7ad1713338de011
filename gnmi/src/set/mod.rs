//! Set: deletes, replaces and updates (or union_replaces) as one
//! transaction through the datastore.
//!
//! Operations run in the order the specification gives: every delete, then
//! every replace, then every update, each in request order. All become
//! edits of one `Datastore::edit_running` call: either all apply or running
//! stays untouched.
//!
//! Errors follow gNMI 3.4.7: the RPC status carries the code for the
//! failing operation's cause (`InvalidArgument` for a malformed path or bad
//! value, `InvalidArgument` also for a path the schema lacks, such as a node
//! ocbgpd does not implement (deviated), `NotFound` for deleting data that
//! is not there, `Unimplemented` for an
//! unsupported value encoding, `FailedPrecondition` when the BGP engine
//! refuses the configuration or another session holds the lock), and its
//! message names the operation and path. The status details hold a
//! `google.rpc.Status` whose details hold a `gnmi.SetResponse` with one
//! `UpdateResult` per operation: the failing one with its code, the others
//! `Aborted`, as 3.4.7 asks (a gRPC error cannot carry the response body
//! itself).

mod commit;
mod plan;
mod status;
mod union;

use ocbgp_models::datastore::{CommitError, Datastore, Requester};
use ocbgp_models::edit::{Edit, EditError};
use ocbgp_models::path::DataPath;
use tonic::{Code, Status};
use yang2::schema::SchemaNode;

use crate::data::now_ns;
use crate::decode::ValueError;
use crate::path::PathError;
use crate::proto::gnmi::update_result::Operation as Op;
use crate::proto::gnmi::{Path, SetRequest, SetResponse, TypedValue, Update};
use plan::{plan_delete, plan_write};
pub use status::failure_details;
use status::{failure_status, result_of};
use union::plan_union;

/// One operation of the request, in processing order.
pub(super) struct Step<'r> {
    pub(super) op: Op,
    /// The path as the request gives it (relative to the prefix).
    pub(super) path: &'r Path,
    /// The value, for replace, update and union_replace.
    pub(super) update: Option<&'r Update>,
}

/// A failure of one operation (`None`: of the whole transaction).
pub(super) struct Failure {
    pub(super) step: Option<usize>,
    pub(super) code: Code,
    pub(super) message: String,
}

impl Failure {
    pub(super) fn at(step: usize, code: Code, message: impl Into<String>) -> Failure {
        Failure {
            step: Some(step),
            code,
            message: message.into(),
        }
    }
}

/// Answers a Set (blocking: run it in `spawn_blocking`).
///
/// The request is taken: the values of replaces and updates are moved out
/// of it before planning, so a large value is not held twice (the request's
/// copy and the edits') while the transaction runs.
pub(crate) fn set(
    store: &std::sync::Arc<Datastore>,
    who: &Requester,
    mut request: SetRequest,
) -> Result<SetResponse, Status> {
    // Extensions (confirmed commit, rollback): see commit.rs.
    let mode = match commit::handle(store, who, &request)? {
        commit::Handled::Done(response) => return Ok(response),
        commit::Handled::Run(mode) => mode,
    };
    let mut values: Vec<Option<TypedValue>> = std::iter::repeat_with(|| None)
        .take(request.delete.len())
        .chain(
            request
                .replace
                .iter_mut()
                .chain(request.update.iter_mut())
                .map(|u| u.val.take()),
        )
        .collect();
    let steps = steps(&request);
    let prefix = request.prefix.as_ref();
    let result = if request.union_replace.is_empty() {
        plan_steps(store, prefix, &steps, &mut values)
    } else if steps.iter().any(|s| s.op != Op::UnionReplace) {
        Err(Failure {
            step: None,
            code: Code::InvalidArgument,
            message:
                "union_replace cannot be combined with delete, replace or update in one SetRequest"
                    .to_string(),
        })
    } else {
        plan_union(prefix, &steps)
    }
    .and_then(|(edits, owners)| commit(store, who, edits, &owners, &mode));
    match result {
        Ok(()) => Ok(SetResponse {
            prefix: request.prefix.clone(),
            response: steps.iter().map(|s| result_of(s, None)).collect(),
            timestamp: now_ns(),
            ..Default::default()
        }),
        Err(f) => Err(failure_status(&request, &steps, f)),
    }
}

/// The operations in processing order: deletes, replaces, updates, then
/// union_replaces.
fn steps(request: &SetRequest) -> Vec<Step<'_>> {
    let mut out: Vec<Step<'_>> = request
        .delete
        .iter()
        .map(|p| Step {
            op: Op::Delete,
            path: p,
            update: None,
        })
        .collect();
    let empty = empty_path();
    for (op, updates) in [
        (Op::Replace, &request.replace),
        (Op::Update, &request.update),
        (Op::UnionReplace, &request.union_replace),
    ] {
        for u in updates {
            out.push(Step {
                op,
                path: u.path.as_ref().unwrap_or(empty),
                update: Some(u),
            });
        }
    }
    out
}

/// The root path, for updates without a path.
fn empty_path() -> &'static Path {
    static EMPTY: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Path::default)
}

/// Edits, and for each edit the step it comes from.
pub(super) type Plan = (Vec<Edit>, Vec<usize>);

/// Plans deletes, replaces and updates; `values[i]` is the value of step
/// `i` (taken out of the request).
fn plan_steps(
    store: &Datastore,
    prefix: Option<&Path>,
    steps: &[Step<'_>],
    values: &mut [Option<TypedValue>],
) -> Result<Plan, Failure> {
    let mut edits = Vec::new();
    let mut owners = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let planned = match step.op {
            Op::Delete => plan_delete(store, prefix, step.path),
            _ => plan_write(
                store,
                prefix,
                step,
                values.get_mut(i).and_then(Option::take),
            ),
        }
        .map_err(|(code, message)| Failure::at(i, code, message))?;
        owners.extend(std::iter::repeat_n(i, planned.len()));
        edits.extend(planned);
    }
    Ok((edits, owners))
}

pub(super) type StepResult = Result<Vec<Edit>, (Code, String)>;

/// A path the schema does not have is an invalid argument of a Set (the
/// client asks to write what the daemon cannot hold: a typo, or a node
/// ocbgpd does not implement, which `ocbgp-deviations` removes from the
/// schema); Get and Subscribe answer `NotFound` for it.
pub(super) fn path_failure(e: PathError) -> (Code, String) {
    let code = match e.code() {
        Code::NotFound => Code::InvalidArgument,
        code => code,
    };
    (code, e.to_string())
}

pub(super) fn value_failure(e: ValueError) -> (Code, String) {
    match e {
        ValueError::Invalid(m) => (Code::InvalidArgument, m),
        ValueError::Unsupported(m) => (Code::Unimplemented, m),
    }
}

/// The schema node of a data path (`None` for the root).
pub(super) fn schema_of(data_path: &str) -> Result<Option<SchemaNode<'static>>, (Code, String)> {
    let parsed = DataPath::parse(data_path).map_err(|e| (Code::InvalidArgument, e.to_string()))?;
    if parsed.is_root() {
        return Ok(None);
    }
    ocbgp_models::schema::context()
        .find_path(&parsed.schema_path())
        .map(Some)
        .map_err(|_| {
            (
                Code::InvalidArgument,
                format!("{data_path}: no such node in the schema"),
            )
        })
}

/// The code and text of an edit error.
pub(super) fn edit_failure(e: &EditError) -> (Code, String) {
    let code = match e {
        EditError::MalformedPath(_)
        | EditError::NotConfig(_)
        | EditError::BadValue(_)
        | EditError::UnknownPath(_) => Code::InvalidArgument,
        EditError::DataMissing(_) => Code::NotFound,
        EditError::DataExists(_) => Code::AlreadyExists,
    };
    (code, e.to_string())
}

/// The data path an edit error is about.
fn edit_error_path(e: &EditError) -> Option<String> {
    match e {
        EditError::MalformedPath(m) | EditError::UnknownPath(m) | EditError::BadValue(m) => {
            m.path.clone()
        }
        EditError::NotConfig(p) | EditError::DataExists(p) | EditError::DataMissing(p) => {
            Some(p.clone())
        }
    }
}

/// The step whose edit a data path is about: the edit at exactly that
/// path, else the one with the longest path containing it.
fn owner_of(at: Option<&str>, paths: &[String], owners: &[usize]) -> Option<usize> {
    let at = at?;
    if let Some(k) = paths.iter().position(|p| p == at) {
        return Some(owners[k]);
    }
    paths
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.as_str() == "/"
                || at.starts_with(&format!("{p}/"))
                || at.starts_with(&format!("{p}["))
        })
        .max_by_key(|(_, p)| p.len())
        .map(|(k, _)| owners[k])
}

/// Runs the transaction. The edits are handed over (each is freed once
/// applied): only their paths are kept, to name the failing operation.
fn commit(
    store: &std::sync::Arc<Datastore>,
    who: &Requester,
    edits: Vec<Edit>,
    owners: &[usize],
    mode: &commit::Mode,
) -> Result<(), Failure> {
    if edits.is_empty() {
        // Nothing to change (say, deletes of what does not exist).
        return Ok(());
    }
    let paths: Vec<String> = edits.iter().map(|e| e.path.clone()).collect();
    let (failing, err) = match commit::run(store, who, edits, mode) {
        Ok(()) => return Ok(()),
        Err(commit::RunError::Commit(failing, e)) => (failing, e),
        Err(commit::RunError::Refused(f)) => return Err(f),
    };
    if let (Some(k), CommitError::Edit(e)) = (failing, &err) {
        return Err(Failure {
            step: owners.get(k).copied(),
            code: edit_failure(e).0,
            message: err.to_string(),
        });
    }
    let (code, at) = match &err {
        CommitError::Edit(e) => (edit_failure(e).0, edit_error_path(e)),
        CommitError::Invalid(m) => (Code::InvalidArgument, m.path.clone()),
        CommitError::Refused(r) => (Code::FailedPrecondition, r.path.clone()),
        CommitError::Denied(d) => (Code::PermissionDenied, Some(d.path.clone())),
        CommitError::Locked(_) | CommitError::ConfirmPending(_) => (Code::FailedPrecondition, None),
        CommitError::Persist(_) | CommitError::UnknownCommit(_) | CommitError::NoPendingConfirm => {
            (Code::Internal, None)
        }
    };
    Err(Failure {
        step: owner_of(at.as_deref(), &paths, owners),
        code,
        message: err.to_string(),
    })
}
