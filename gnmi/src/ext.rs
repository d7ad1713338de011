//! Building and reading the Set extensions ocbgp serves, for clients (the
//! `ocbgp` CLI, tests): the gNMI `Commit` extension and ocbgp's rollback
//! (`ocbgp_ext.OcbgpExtension` in a `RegisteredExtension` with id
//! `EID_EXPERIMENTAL`). The server side is `set/commit.rs`.

use std::time::Duration;

use prost::Message;

use crate::proto::gnmi::SetResponse;
use crate::proto::gnmi_ext::commit::Action;
use crate::proto::gnmi_ext::extension::Ext;
use crate::proto::gnmi_ext::{
    Commit, CommitCancel, CommitConfirm, CommitRequest, CommitSetRollbackDuration, Extension,
    ExtensionId, RegisteredExtension,
};
use crate::proto::ocbgp_ext::ocbgp_extension::Ext as OcbgpExt;
use crate::proto::ocbgp_ext::{OcbgpExtension, Rollback};

fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

fn commit(id: &str, action: Action) -> Extension {
    Extension {
        ext: Some(Ext::Commit(Commit {
            id: id.to_string(),
            action: Some(action),
        })),
    }
}

/// `Commit { id, commit { rollback_duration } }`: the Set's operations
/// are a confirmed commit (`None`: the server's default, 10 minutes).
pub fn commit_confirmed(id: &str, rollback: Option<Duration>) -> Extension {
    commit(
        id,
        Action::Commit(CommitRequest {
            rollback_duration: rollback.map(proto_duration),
        }),
    )
}

/// `Commit { id, confirm {} }`.
pub fn commit_confirm(id: &str) -> Extension {
    commit(id, Action::Confirm(CommitConfirm {}))
}

/// `Commit { id, cancel {} }`.
pub fn commit_cancel(id: &str) -> Extension {
    commit(id, Action::Cancel(CommitCancel {}))
}

/// `Commit { id, set_rollback_duration { rollback_duration } }`.
pub fn commit_set_rollback_duration(id: &str, rollback: Duration) -> Extension {
    commit(
        id,
        Action::SetRollbackDuration(CommitSetRollbackDuration {
            rollback_duration: Some(proto_duration(rollback)),
        }),
    )
}

/// ocbgp's rollback to right after commit `commit_id`, for a SetRequest
/// with no operations.
pub fn rollback(commit_id: u64) -> Extension {
    let msg = OcbgpExtension {
        ext: Some(OcbgpExt::Rollback(Rollback { commit_id })),
    };
    Extension {
        ext: Some(Ext::RegisteredExt(RegisteredExtension {
            id: ExtensionId::EidExperimental as i32,
            msg: msg.encode_to_vec(),
        })),
    }
}

/// The new commit id a rollback's SetResponse carries: `Some(0)` when
/// running was already as asked, `None` when the response has no rollback
/// result.
pub fn rollback_result(response: &SetResponse) -> Option<u64> {
    response.extension.iter().find_map(|e| match &e.ext {
        Some(Ext::RegisteredExt(r)) if r.id == ExtensionId::EidExperimental as i32 => {
            match OcbgpExtension::decode(r.msg.as_slice()).ok()?.ext {
                Some(OcbgpExt::RollbackResult(r)) => Some(r.commit_id),
                _ => None,
            }
        }
        _ => None,
    })
}
