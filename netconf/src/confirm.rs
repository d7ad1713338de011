//! Confirmed commits (RFC 6241 section 8.4, :confirmed-commit:1.1).
//!
//! The mechanism is the datastore's, shared with the gNMI door (see
//! `ocbgp_models::datastore` confirmed commits): one pending confirmed
//! commit at most, its timer, its undo (recorded with [`Origin::Timeout`]
//! when it times out). This module maps NETCONF's `<commit>`,
//! `<cancel-commit>` and session ends onto it, and its refusals onto
//! NETCONF errors. Without `persist`, only the session that made the
//! confirmed commit can confirm or cancel it, and its end cancels it; with
//! `persist`, any session giving the same `persist-id` can (a gNMI client
//! too, with the id as its Commit id), and it outlives the session.
//!
//! Every method blocks (datastore transactions): call them off the async
//! runtime's threads.
//!
//! [`Origin::Timeout`]: ocbgp_models::datastore::Origin::Timeout

use std::sync::Arc;
use std::time::Duration;

pub use ocbgp_models::datastore::CommitParams;
use ocbgp_models::datastore::{
    ConfirmError, ConfirmRefusal, Datastore, Requester, SessionId, DEFAULT_CONFIRM_TIMEOUT,
};
use tokio::runtime::Handle;

use crate::error::{ErrorTag, RpcError};

/// The default confirm-timeout (RFC 6241: 600 seconds).
pub const DEFAULT_TIMEOUT: Duration = DEFAULT_CONFIRM_TIMEOUT;

/// NETCONF's view of the datastore's confirmed commit.
pub struct ConfirmedCommits {
    store: Arc<Datastore>,
}

impl ConfirmedCommits {
    /// Confirmed commits of `store`. The runtime is not used any more (the
    /// datastore runs the timer); kept for callers.
    pub fn new(store: Arc<Datastore>, _runtime: Handle) -> Arc<ConfirmedCommits> {
        Arc::new(ConfirmedCommits { store })
    }

    /// Whether a confirmed commit waits for its confirmation.
    pub fn pending(&self) -> bool {
        self.store.pending_confirm().is_some()
    }

    /// A `<commit>`: plain, confirmed, follow-up confirmed or confirming.
    pub fn commit(
        self: &Arc<Self>,
        who: &Requester,
        params: &CommitParams,
    ) -> Result<(), RpcError> {
        self.store
            .commit_candidate_with(who, params)
            .map(|_| ())
            .map_err(|e| match e {
                // A persist-id with nothing pending is a bad parameter.
                ConfirmError::Refused(ConfirmRefusal::NothingPending) => {
                    RpcError::protocol(ErrorTag::InvalidValue, "no confirmed commit is pending")
                }
                e => rpc_error(e),
            })
    }

    /// A `<cancel-commit>`: running goes back to what it was before the
    /// confirmed commit.
    pub fn cancel(&self, who: &Requester, persist_id: Option<&str>) -> Result<(), RpcError> {
        self.store
            .cancel_commit(who, persist_id)
            .map(|_| ())
            .map_err(rpc_error)
    }

    /// A session ended: its confirmed commit without persist is undone
    /// (RFC 6241 8.4.1).
    pub fn session_ended(&self, session: SessionId) {
        self.store.end_session_confirm(session);
    }
}

/// NETCONF's error for a refused confirmed-commit action.
fn rpc_error(e: ConfirmError) -> RpcError {
    let refusal = match e {
        ConfirmError::Commit(e) => return e.into(),
        ConfirmError::Refused(r) => r,
    };
    let tag = match &refusal {
        ConfirmRefusal::OtherSession(_) | ConfirmRefusal::AlreadyPending(_) => ErrorTag::InUse,
        // cancel-commit with nothing pending.
        ConfirmRefusal::NothingPending => ErrorTag::OperationFailed,
        ConfirmRefusal::IdMismatch
        | ConfirmRefusal::NoId(_)
        | ConfirmRefusal::IdNeeded
        | ConfirmRefusal::ZeroTimeout => ErrorTag::InvalidValue,
    };
    RpcError::protocol(tag, refusal.to_string())
}
