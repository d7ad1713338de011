//! Confirmed commits (RFC 6241 section 8.4, :confirmed-commit:1.1).
//!
//! A confirmed commit applies the candidate at once; unless a confirming
//! commit follows within the timeout, a timer run here undoes it through
//! [`Datastore::cancel_confirmed`] (recorded with [`Origin::Timeout`]).
//! Without `persist`, only the session that made the confirmed commit can
//! confirm or cancel it, and its end cancels it; with `persist`, any
//! session giving the same `persist-id` can, and it outlives the session.
//!
//! Every method blocks (datastore transactions): call them off the async
//! runtime's threads.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ocbgp_models::datastore::{CommitError, Confirm, Datastore, Origin, Requester, SessionId};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::{ErrorTag, RpcError};

/// The default confirm-timeout (RFC 6241: 600 seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The parameters of a `<commit>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitParams {
    /// `<confirmed/>` with its `<confirm-timeout>`.
    pub confirmed: Option<Duration>,
    /// `<persist>`: the confirmed commit outlives the session and is
    /// confirmed by this id.
    pub persist: Option<String>,
    /// `<persist-id>`: confirms (or follows up) a persistent confirmed
    /// commit.
    pub persist_id: Option<String>,
}

struct Pending {
    session: SessionId,
    persist: Option<String>,
    timer: JoinHandle<()>,
    generation: u64,
}

#[derive(Default)]
struct Inner {
    pending: Option<Pending>,
    generation: u64,
}

/// The confirmed commit in progress, if any, and its timer.
pub struct ConfirmedCommits {
    inner: Mutex<Inner>,
    runtime: Handle,
    store: Arc<Datastore>,
}

impl ConfirmedCommits {
    /// Confirmed commits of `store`, their timers run on `runtime`.
    pub fn new(store: Arc<Datastore>, runtime: Handle) -> Arc<ConfirmedCommits> {
        Arc::new(ConfirmedCommits {
            inner: Mutex::new(Inner::default()),
            runtime,
            store,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a confirmed commit waits for its confirmation.
    pub fn pending(&self) -> bool {
        self.lock().pending.is_some()
    }

    /// Checks that `who` may confirm, follow up or cancel the pending
    /// confirmed commit.
    fn authorize(
        pending: &Pending,
        who: &Requester,
        persist_id: Option<&str>,
    ) -> Result<(), RpcError> {
        match (&pending.persist, persist_id) {
            (Some(expected), Some(given)) if expected == given => Ok(()),
            (Some(_), Some(_)) => {
                Err(RpcError::protocol(ErrorTag::InvalidValue, "persist-id does not match the pending confirmed commit"))
            }
            (None, Some(_)) => Err(RpcError::protocol(
                ErrorTag::InvalidValue,
                "the pending confirmed commit was made without persist; persist-id does not apply",
            )),
            (_, None) if pending.session == who.session => Ok(()),
            (Some(_), None) => Err(RpcError::protocol(
                ErrorTag::InvalidValue,
                "a persistent confirmed commit is pending: give its persist-id",
            )),
            (None, None) => Err(RpcError::protocol(
                ErrorTag::InUse,
                format!(
                    "a confirmed commit of session {} is pending; only that session can confirm or cancel it",
                    pending.session.0
                ),
            )),
        }
    }

    /// A `<commit>`: plain, confirmed, follow-up confirmed or confirming.
    pub fn commit(
        self: &Arc<Self>,
        who: &Requester,
        params: &CommitParams,
    ) -> Result<(), RpcError> {
        let mut inner = self.lock();
        match &inner.pending {
            Some(p) => Self::authorize(p, who, params.persist_id.as_deref())?,
            None if params.persist_id.is_some() => {
                return Err(RpcError::protocol(
                    ErrorTag::InvalidValue,
                    "no confirmed commit is pending",
                ));
            }
            None => {}
        }
        match params.confirmed {
            Some(timeout) => {
                self.store.commit_candidate(who, Confirm::Pending)?;
                let persist = params
                    .persist
                    .clone()
                    .or_else(|| inner.pending.as_ref().and_then(|p| p.persist.clone()));
                if let Some(old) = inner.pending.take() {
                    old.timer.abort();
                }
                inner.generation += 1;
                let generation = inner.generation;
                let timer = self.arm(timeout, generation);
                inner.pending = Some(Pending {
                    session: who.session,
                    persist,
                    timer,
                    generation,
                });
                tracing::info!(
                    session = who.session.0,
                    ?timeout,
                    "NETCONF confirmed commit"
                );
            }
            None => {
                self.store.commit_candidate(who, Confirm::No)?;
                if let Some(old) = inner.pending.take() {
                    old.timer.abort();
                    match self.store.confirm(who) {
                        Ok(()) | Err(CommitError::NoPendingConfirm) => {}
                        Err(e) => return Err(e.into()),
                    }
                    tracing::info!(
                        session = who.session.0,
                        "NETCONF confirmed commit confirmed"
                    );
                }
            }
        }
        Ok(())
    }

    /// A `<cancel-commit>`: running goes back to what it was before the
    /// confirmed commit.
    pub fn cancel(&self, who: &Requester, persist_id: Option<&str>) -> Result<(), RpcError> {
        let mut inner = self.lock();
        let Some(p) = &inner.pending else {
            return Err(RpcError::protocol(
                ErrorTag::OperationFailed,
                "no confirmed commit is pending",
            ));
        };
        Self::authorize(p, who, persist_id)?;
        self.undo(who)?;
        if let Some(p) = inner.pending.take() {
            p.timer.abort();
        }
        Ok(())
    }

    /// A session ended: its confirmed commit without persist is undone
    /// (RFC 6241 8.4.1).
    pub fn session_ended(&self, session: SessionId) {
        let mut inner = self.lock();
        let ours = inner
            .pending
            .as_ref()
            .is_some_and(|p| p.session == session && p.persist.is_none());
        if !ours {
            return;
        }
        let who = Requester {
            origin: Origin::Netconf,
            session,
            user: None,
            comment: Some(format!(
                "NETCONF session {} ended before confirming its commit",
                session.0
            )),
        };
        match self.undo(&who) {
            Ok(()) => tracing::info!(
                session = session.0,
                "confirmed commit undone: its session ended"
            ),
            Err(e) => tracing::warn!(
                session = session.0,
                "undoing a confirmed commit failed: {e}"
            ),
        }
        if let Some(p) = inner.pending.take() {
            p.timer.abort();
        }
    }

    fn undo(&self, who: &Requester) -> Result<(), RpcError> {
        match self.store.cancel_confirmed(who) {
            // A confirmed commit that changed nothing left nothing to undo.
            Ok(_) | Err(CommitError::NoPendingConfirm) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn arm(self: &Arc<Self>, timeout: Duration, generation: u64) -> JoinHandle<()> {
        let this = Arc::downgrade(self);
        self.runtime.spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(this) = this.upgrade() else { return };
            let _ = tokio::task::spawn_blocking(move || this.expire(generation)).await;
        })
    }

    fn expire(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.pending.as_ref().map(|p| p.generation) != Some(generation) {
            return;
        }
        let who = Requester {
            origin: Origin::Timeout,
            session: SessionId::INTERNAL,
            user: None,
            comment: Some("confirmed commit not confirmed in time".into()),
        };
        match self.undo(&who) {
            Ok(()) => {
                tracing::info!("NETCONF confirmed commit timed out and was undone");
                inner.pending = None;
            }
            Err(e) => {
                // Kept pending: a later cancel-commit or commit may resolve it.
                tracing::warn!("undoing a timed-out confirmed commit failed: {e}");
            }
        }
    }
}

impl Drop for ConfirmedCommits {
    fn drop(&mut self) {
        if let Some(p) = self.lock().pending.take() {
            p.timer.abort();
        }
    }
}
