//! Confirmed commits, one mechanism for every door.
//!
//! A confirmed commit is applied at once and saved only when confirmed;
//! unless confirmed before its deadline, a timer thread undoes it (a commit
//! with origin [`Origin::Timeout`]). There is at most one pending confirmed
//! commit in the datastore, whichever door made it:
//!
//! * NETCONF (RFC 6241 8.4): `<commit><confirmed/>` from a session; without
//!   `persist` only that session may confirm, follow up or cancel it (and
//!   its end cancels it), with `persist` whoever gives the `persist-id`.
//! * gNMI (the `Commit` extension of `gnmi_ext.proto`): a Set with
//!   `commit` and a client-chosen id; confirm, cancel and a new rollback
//!   duration give the same id. The id plays the part of NETCONF's
//!   `persist-id`: a gNMI confirmed commit can be confirmed or cancelled
//!   over NETCONF with `<persist-id>` equal to the id, and a NETCONF one
//!   made with `persist` over gNMI with that id.
//!
//! The timer holds no reference to the datastore while it waits: it wakes
//! at the deadline, or when the pending commit is confirmed, cancelled or
//! re-armed (each bumps a generation number), and the datastore dropping
//! wakes it to end.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::{
    CommitError, CommitOutcome, Confirm, Datastore, Origin, Requester, SessionId, State, Target,
};
use crate::config::Config;
use crate::edit::{self, Edit};

/// The rollback timeout when the request gives none (RFC 6241 and the
/// gNMI commit-confirmed specification: ten minutes).
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(600);

/// The parameters of a NETCONF-style commit of the candidate.
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

/// A confirmed commit waiting for its confirmation, as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConfirmInfo {
    /// The door that made it.
    pub origin: Origin,
    /// The session that made it.
    pub session: SessionId,
    /// Who made it, when known.
    pub user: Option<String>,
    /// Its id (NETCONF `persist`, the gNMI Commit id); `None`: owned by
    /// its session.
    pub id: Option<String>,
    /// Time left before it is undone (`None`: no timer, see
    /// [`Datastore::commit_candidate`] with [`Confirm::Pending`]).
    pub remaining: Option<Duration>,
}

/// Why an action on a confirmed commit was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmRefusal {
    /// An id was given, or a confirm or cancel asked, but nothing waits.
    #[error("no confirmed commit is pending")]
    NothingPending,
    /// A new confirmed commit (gNMI) while one is pending.
    #[error("a confirmed commit {} of {} is pending: confirm or cancel it first", describe_id(.0), .0.origin.as_str())]
    AlreadyPending(PendingConfirmInfo),
    /// The id given is not the pending commit's.
    #[error("the id does not match the pending confirmed commit")]
    IdMismatch,
    /// An id was given, but the pending commit has none (NETCONF without
    /// `persist`): only its session can act on it.
    #[error("the pending confirmed commit was made without persist; persist-id does not apply")]
    NoId(PendingConfirmInfo),
    /// The pending commit has an id and none was given.
    #[error("a persistent confirmed commit is pending: give its persist-id")]
    IdNeeded,
    /// The pending commit belongs to another session (no id).
    #[error("a confirmed commit of session {} is pending; only that session can confirm or cancel it", .0.session.0)]
    OtherSession(PendingConfirmInfo),
    /// A rollback duration of zero.
    #[error("the rollback duration must be greater than zero")]
    ZeroTimeout,
}

fn describe_id(info: &PendingConfirmInfo) -> String {
    match &info.id {
        Some(id) => format!("with id {id:?}"),
        None => format!("of session {}", info.session.0),
    }
}

/// Why a confirmed-commit action failed. Running is untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// The confirmed-commit rules refused it.
    #[error(transparent)]
    Refused(#[from] ConfirmRefusal),
    /// The commit (or the undo) itself failed.
    #[error(transparent)]
    Commit(#[from] CommitError),
}

/// The pending confirmed commit, behind the datastore's state lock.
pub(super) struct PendingConfirm {
    /// Running as it was before the confirmed commit: restored on cancel
    /// or timeout, and what stays saved meanwhile. `None` when the
    /// confirmed commit changed nothing (there is nothing to undo).
    pub(super) before: Option<Arc<Config>>,
    pub(super) origin: Origin,
    pub(super) session: SessionId,
    pub(super) user: Option<String>,
    pub(super) id: Option<String>,
    pub(super) deadline: Option<Instant>,
}

impl PendingConfirm {
    pub(super) fn info(&self) -> PendingConfirmInfo {
        PendingConfirmInfo {
            origin: self.origin,
            session: self.session,
            user: self.user.clone(),
            id: self.id.clone(),
            remaining: self
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now())),
        }
    }

    /// Whether `who` may confirm, follow up or cancel it, naming it by
    /// `id` or by being its session.
    fn authorize(&self, who: &Requester, id: Option<&str>) -> Result<(), ConfirmRefusal> {
        match (&self.id, id) {
            (Some(expected), Some(given)) if expected == given => Ok(()),
            (Some(_), Some(_)) => Err(ConfirmRefusal::IdMismatch),
            (None, Some(_)) => Err(ConfirmRefusal::NoId(self.info())),
            (_, None) if self.session == who.session => Ok(()),
            (Some(_), None) => Err(ConfirmRefusal::IdNeeded),
            (None, None) => Err(ConfirmRefusal::OtherSession(self.info())),
        }
    }
}

/// Wakes the timer thread: the generation changes whenever the pending
/// commit is confirmed, cancelled, re-armed or the datastore goes.
#[derive(Default)]
pub(super) struct Timer {
    generation: Mutex<u64>,
    wake: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops any running timer; returns the new generation.
    pub(super) fn bump(&self) -> u64 {
        let mut g = self.lock();
        *g += 1;
        self.wake.notify_all();
        *g
    }
}

impl Datastore {
    /// The confirmed commit waiting for its confirmation, if any.
    pub fn pending_confirm(&self) -> Option<PendingConfirmInfo> {
        self.state().pending.as_ref().map(PendingConfirm::info)
    }

    /// A NETCONF `<commit>` of the candidate: plain, confirmed, follow-up
    /// confirmed, or confirming (a plain commit, or one with the
    /// `persist-id`, while one is pending). A confirmed commit is undone
    /// when its timeout passes unconfirmed.
    pub fn commit_candidate_with(
        self: &Arc<Self>,
        who: &Requester,
        params: &CommitParams,
    ) -> Result<CommitOutcome, ConfirmError> {
        let mut state = self.state();
        match &state.pending {
            Some(p) => p.authorize(who, params.persist_id.as_deref())?,
            None if params.persist_id.is_some() => Err(ConfirmRefusal::NothingPending)?,
            None => {}
        }
        match params.confirmed {
            Some(timeout) => {
                if timeout.is_zero() {
                    Err(ConfirmRefusal::ZeroTimeout)?;
                }
                let before = self.running();
                let outcome = self.commit_candidate_locked(&mut state, who, Confirm::Pending)?;
                let previous = state.pending.take();
                let id = params
                    .persist
                    .clone()
                    .or_else(|| previous.as_ref().and_then(|p| p.id.clone()));
                // Undo goes back to before the first confirmed commit that
                // changed something.
                let before = match (previous.and_then(|p| p.before), &outcome) {
                    (Some(first), _) => Some(first),
                    (None, CommitOutcome::Committed(_)) => Some(before),
                    (None, CommitOutcome::Unchanged) => None,
                };
                self.start_pending(&mut state, who, before, id, timeout);
                tracing::info!(
                    session = who.session.0,
                    origin = who.origin.as_str(),
                    ?timeout,
                    "confirmed commit"
                );
                Ok(outcome)
            }
            None => {
                let outcome = self.commit_candidate_locked(&mut state, who, Confirm::No)?;
                if state.pending.is_some() {
                    self.confirm_locked(&mut state)?;
                    tracing::info!(
                        session = who.session.0,
                        origin = who.origin.as_str(),
                        "confirmed commit confirmed"
                    );
                }
                Ok(outcome)
            }
        }
    }

    /// A confirmed commit of edits to running (the gNMI Commit
    /// extension's `commit` action): applied at once, undone unless
    /// confirmed with `id` within `timeout`. Refused while another
    /// confirmed commit is pending.
    pub fn edit_running_confirmed(
        self: &Arc<Self>,
        edits: &[Edit],
        who: &Requester,
        id: &str,
        timeout: Duration,
    ) -> Result<CommitOutcome, ConfirmError> {
        if timeout.is_zero() {
            Err(ConfirmRefusal::ZeroTimeout)?;
        }
        let mut state = self.state();
        if let Some(p) = &state.pending {
            Err(ConfirmRefusal::AlreadyPending(p.info()))?;
        }
        state
            .locks
            .check(Target::Running, who.session)
            .map_err(CommitError::from)?;
        let before = self.running();
        let mut tree = before.to_tree();
        for e in edits {
            edit::apply(&mut tree, e).map_err(CommitError::from)?;
        }
        let outcome = self.commit_tree(&mut state, tree, who, Confirm::Pending)?;
        let before = match &outcome {
            CommitOutcome::Committed(_) => Some(before),
            CommitOutcome::Unchanged => None,
        };
        self.start_pending(&mut state, who, before, Some(id.to_string()), timeout);
        tracing::info!(
            id,
            origin = who.origin.as_str(),
            ?timeout,
            "confirmed commit"
        );
        Ok(outcome)
    }

    /// Confirms the pending confirmed commit, named by `id` or by being
    /// its session: running is saved as it is.
    pub fn confirm_commit(&self, who: &Requester, id: Option<&str>) -> Result<(), ConfirmError> {
        let mut state = self.state();
        let Some(p) = &state.pending else {
            return Err(ConfirmRefusal::NothingPending.into());
        };
        p.authorize(who, id)?;
        self.confirm_locked(&mut state)?;
        tracing::info!(origin = who.origin.as_str(), "confirmed commit confirmed");
        Ok(())
    }

    /// Cancels the pending confirmed commit, named by `id` or by being its
    /// session: running goes back to what it was before it, as a commit of
    /// its own (`Unchanged` when it had changed nothing).
    pub fn cancel_commit(
        &self,
        who: &Requester,
        id: Option<&str>,
    ) -> Result<CommitOutcome, ConfirmError> {
        let mut state = self.state();
        let Some(p) = &state.pending else {
            return Err(ConfirmRefusal::NothingPending.into());
        };
        p.authorize(who, id)?;
        Ok(self.undo_locked(&mut state, who)?)
    }

    /// Gives the pending confirmed commit named by `id` a new timeout,
    /// counted from now (the gNMI `set_rollback_duration` action).
    pub fn set_confirm_timeout(
        self: &Arc<Self>,
        who: &Requester,
        id: &str,
        timeout: Duration,
    ) -> Result<(), ConfirmError> {
        if timeout.is_zero() {
            Err(ConfirmRefusal::ZeroTimeout)?;
        }
        let mut state = self.state();
        let Some(p) = &mut state.pending else {
            return Err(ConfirmRefusal::NothingPending.into());
        };
        p.authorize(who, Some(id))?;
        let deadline = Instant::now() + timeout;
        p.deadline = Some(deadline);
        let generation = self.timer.bump();
        self.arm(deadline, generation);
        Ok(())
    }

    /// A management session ended: its confirmed commit without an id is
    /// undone (RFC 6241 8.4.1). Returns whether one was.
    pub fn end_session_confirm(&self, session: SessionId) -> bool {
        let mut state = self.state();
        let ours = state
            .pending
            .as_ref()
            .is_some_and(|p| p.session == session && p.id.is_none());
        if !ours {
            return false;
        }
        let origin = state
            .pending
            .as_ref()
            .map(|p| p.origin)
            .unwrap_or(Origin::Netconf);
        let who = Requester {
            origin,
            session,
            user: None,
            source: None,
            authenticated: false,
            comment: Some(format!(
                "session {} ended before confirming its commit",
                session.0
            )),
        };
        match self.undo_locked(&mut state, &who) {
            Ok(_) => {
                tracing::info!(
                    session = session.0,
                    "confirmed commit undone: its session ended"
                );
                true
            }
            Err(e) => {
                tracing::warn!(
                    session = session.0,
                    "undoing a confirmed commit failed: {e}"
                );
                false
            }
        }
    }

    /// Records the pending confirmed commit and arms its timer.
    fn start_pending(
        self: &Arc<Self>,
        state: &mut State,
        who: &Requester,
        before: Option<Arc<Config>>,
        id: Option<String>,
        timeout: Duration,
    ) {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX as u64));
        state.pending = Some(PendingConfirm {
            before,
            origin: who.origin,
            session: who.session,
            user: who.user.clone(),
            id,
            deadline: Some(deadline),
        });
        let generation = self.timer.bump();
        self.arm(deadline, generation);
    }

    /// Saves running as it is and forgets the pending commit.
    pub(super) fn confirm_locked(&self, state: &mut State) -> Result<(), CommitError> {
        state
            .disk
            .save(&self.running())
            .map_err(CommitError::Persist)?;
        state.lagging = false;
        state.pending = None;
        self.timer.bump();
        Ok(())
    }

    /// Undoes the pending commit; on failure it stays pending (a later
    /// cancel or confirm may resolve it).
    pub(super) fn undo_locked(
        &self,
        state: &mut State,
        who: &Requester,
    ) -> Result<CommitOutcome, CommitError> {
        let Some(pending) = state.pending.take() else {
            return Err(CommitError::NoPendingConfirm);
        };
        let Some(before) = &pending.before else {
            // It changed nothing: nothing to undo.
            self.timer.bump();
            return Ok(CommitOutcome::Unchanged);
        };
        match self.commit_tree(state, before.to_tree(), who, Confirm::No) {
            Ok(outcome) => {
                self.timer.bump();
                Ok(outcome)
            }
            Err(e) => {
                state.pending = Some(pending);
                Err(e)
            }
        }
    }

    /// Starts the timer thread for `generation`: at `deadline` it undoes
    /// the pending commit if the generation is still current.
    fn arm(self: &Arc<Self>, deadline: Instant, generation: u64) {
        let timer = self.timer.clone();
        let store: Weak<Datastore> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("confirm-timer".into())
            .spawn(move || {
                let mut g = timer.lock();
                loop {
                    if *g != generation {
                        return;
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    g = timer
                        .wake
                        .wait_timeout(g, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                drop(g);
                if let Some(store) = store.upgrade() {
                    store.expire(generation);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the confirmed-commit timer: {e}");
        }
    }

    /// The timer of `generation` ran out: undo the pending commit.
    fn expire(&self, generation: u64) {
        let mut state = self.state();
        if *self.timer.lock() != generation || state.pending.is_none() {
            return;
        }
        let who = Requester {
            origin: Origin::Timeout,
            session: SessionId::INTERNAL,
            user: None,
            source: None,
            authenticated: false,
            comment: Some("confirmed commit not confirmed in time".into()),
        };
        match self.undo_locked(&mut state, &who) {
            Ok(_) => tracing::info!("confirmed commit timed out and was undone"),
            Err(e) => tracing::warn!("undoing a timed-out confirmed commit failed: {e}"),
        }
    }
}
