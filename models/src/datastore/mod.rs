//! The datastore: running and candidate configuration, the one transaction
//! path every management door uses, locks, persistence, commit history and
//! change notifications.
//!
//! A transaction runs in four steps, all under one lock so transactions
//! serialize: edits are applied to a copy; the copy is validated by libyang
//! (types, ranges, patterns, keys, leafrefs, must/when, mandatory); every
//! [`ConfigConsumer`] prepares it and may refuse; then the new running is
//! saved to disk and applied, or every consumer that prepared is told to
//! abort and running stays untouched.
//!
//! Calls block while a transaction runs; async callers use
//! `spawn_blocking`.

mod candidate;
mod confirm;
mod consumer;
mod events;
mod history;
mod lock;
mod mirror;
mod persist;
mod scope;
mod stream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;
use yang2::data::{Data, DataDiff, DataDiffFlags, DataTree};

pub use confirm::{
    CommitParams, ConfirmError, ConfirmRefusal, PendingConfirmInfo, DEFAULT_CONFIRM_TIMEOUT,
};
pub use consumer::{ConfigConsumer, Refusal, Transaction};
pub use events::{CommitEvent, LeafChange};
pub use history::{date_and_time, CommitRecord};
pub use lock::{LockError, SessionId, Target};
pub use stream::{
    entry_keys, object_json, Scalar, StateStream, StreamChange, StreamElem, StreamEntry, StreamNode,
};

use crate::config::Config;
use crate::edit::{self, Edit, EditError};
use crate::nacm::{Access, Nacm};
use crate::ModelError;
use candidate::Candidate;
use confirm::{PendingConfirm, Timer};
use consumer::Before;
use history::History;
use lock::Locks;
use persist::Disk;
use scope::Scope;

/// Which door a change came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A gNMI Set.
    Gnmi,
    /// A NETCONF edit or commit.
    Netconf,
    /// The command-line client.
    Cli,
    /// The configuration file, at start-up or reload.
    File,
    /// A rollback to an earlier commit.
    Rollback,
    /// A confirmed commit that was not confirmed in time, undone.
    Timeout,
}

impl Origin {
    /// The name used in `ocbgp:commit-history` (its enumeration).
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Gnmi => "GNMI",
            Origin::Netconf => "NETCONF",
            Origin::Cli => "CLI",
            Origin::File => "FILE",
            Origin::Rollback => "ROLLBACK",
            Origin::Timeout => "TIMEOUT",
        }
    }
}

/// Who asks for a change, recorded with the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The door.
    pub origin: Origin,
    /// The management session, for locks.
    pub session: SessionId,
    /// The authenticated user, when known.
    pub user: Option<String>,
    /// The client's address, when the change came over the network.
    pub source: Option<std::net::IpAddr>,
    /// Whether `user` authenticated: access control (NACM) judges the
    /// requests of authenticated users only (the others are the
    /// configuration file, internal undo, a door while no user is
    /// configured).
    pub authenticated: bool,
    /// Free text kept with the commit.
    pub comment: Option<String>,
}

impl Requester {
    /// A requester from a door with no session or user (files, internal).
    pub fn internal(origin: Origin) -> Requester {
        Requester {
            origin,
            session: SessionId::INTERNAL,
            user: None,
            source: None,
            authenticated: false,
            comment: None,
        }
    }

    /// The user access control judges this requester as (`None`: not
    /// judged).
    pub fn judged_user(&self) -> Option<&str> {
        self.user.as_deref().filter(|_| self.authenticated)
    }
}

/// Why a transaction did not commit. Running is untouched in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// An edit could not be applied.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The result of the edits is not a valid configuration.
    #[error("invalid configuration: {0}")]
    Invalid(ModelError),
    /// A consumer (the BGP engine, a server) refused the change.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The datastore is locked by another session.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// No commit with that id is kept.
    #[error("no commit {0} in the kept history")]
    UnknownCommit(u64),
    /// No confirmed commit is waiting.
    #[error("no confirmed commit is pending")]
    NoPendingConfirm,
    /// A confirmed commit is waiting and this edit may not go past it.
    #[error(
        "{}; a Set without the Commit extension is refused until it is confirmed or cancelled",
        ConfirmRefusal::AlreadyPending(.0.clone())
    )]
    ConfirmPending(PendingConfirmInfo),
    /// The new running configuration could not be saved.
    #[error("cannot save the configuration: {0}")]
    Persist(String),
    /// Access control refused a change the requester may not make.
    #[error(transparent)]
    Denied(#[from] crate::nacm::Denied),
}

/// What a successful commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Running changed; the commit got this id.
    Committed(u64),
    /// The edits left running as it was; nothing was committed.
    Unchanged,
}

/// Whether a commit of the candidate waits for confirmation
/// (RFC 6241 confirmed commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// An ordinary commit: saved at once.
    No,
    /// Applied now, saved only when confirmed; a restart meanwhile comes
    /// back with the configuration from before.
    Pending,
}

/// How to open a datastore.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory where running is saved (`running.json`).
    pub state_dir: PathBuf,
    /// How many commits the history keeps.
    pub history_len: usize,
    /// Capacity of the change-notification channel; a subscriber that falls
    /// further behind is told it lagged and must resynchronise.
    pub event_capacity: usize,
}

impl Options {
    /// Defaults for a state directory.
    pub fn new(state_dir: impl Into<PathBuf>) -> Options {
        Options {
            state_dir: state_dir.into(),
            history_len: 50,
            event_capacity: 4096,
        }
    }
}

/// Whether a read of `path` reaches the subtree at `root` (one holds the
/// other), for the state the datastore writes itself.
pub(crate) fn reaches(path: &str, root: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty() || root.starts_with(path) || path.starts_with(root)
}

/// The configuration saved in a state directory (its snapshot with the
/// journal's commits applied), read without changing anything; `None`
/// when nothing is saved there.
pub fn saved(state_dir: &std::path::Path) -> Result<Option<Config>, ModelError> {
    Ok(persist::load(state_dir)?.map(|(config, _)| config))
}

/// Where the configuration at start-up came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// The saved running configuration.
    Saved(PathBuf),
    /// The configuration given by the caller (no saved one, or the caller
    /// asked to replace it).
    Given,
}

/// The configuration at and above `path`: the deepest configured node on
/// the path with its ancestors (not the whole tree, for a read of one
/// neighbor in a large configuration).
fn config_under(running: &Config, path: &str) -> Result<DataTree<'static>, ModelError> {
    let parsed = crate::path::DataPath::parse(path)?;
    let mut segments = parsed.segments;
    while !segments.is_empty() {
        let prefix = crate::path::DataPath {
            segments: segments.clone(),
        }
        .to_string();
        if let Ok(node) = running.tree().find_path(&prefix) {
            return Ok(node.duplicate(true)?);
        }
        segments.pop();
    }
    Ok(running.to_tree())
}

/// Serves the state (`config false`) half of the operational datastore:
/// the engine's sessions, counters and tables.
pub trait StateProvider: Send + Sync {
    /// Writes the state nodes at and below `path` (a data path, `/` for
    /// everything) into `tree`, which holds the running configuration.
    /// Large tables (the RIB) may be left to streaming readers: a provider
    /// says which subtrees it leaves out in its documentation.
    fn write_state(&self, tree: &mut DataTree<'static>, path: &str) -> Result<(), ModelError>;

    /// The entries of a large table at or below `path` (a data path) as a
    /// stream, when the provider streams the table `path` lies in; `None`
    /// otherwise (read through [`StateProvider::write_state`]). The stream
    /// may hold entries outside `path` (the caller filters); each entry is
    /// consistent in itself, the table as a whole is read in batches.
    fn stream_state(&self, path: &str) -> Option<StateStream> {
        let _ = path;
        None
    }

    /// [`StateProvider::stream_state`] in document order, for readers that
    /// nest entries into one document (NETCONF's XML): every container and
    /// list entry comes once, with everything below it contiguous. It may
    /// cost more passes over the table than the batched order.
    fn stream_state_nested(&self, path: &str) -> Option<StateStream> {
        self.stream_state(path)
    }

    /// [`StateProvider::stream_state`] for many paths read together (one
    /// Get): a provider can answer many small reads (entries by key) in
    /// one go. One answer per path, in order.
    fn stream_states(&self, paths: &[String]) -> Vec<Option<StateStream>> {
        paths.iter().map(|p| self.stream_state(p)).collect()
    }

    /// Changes to the streamed table at or below `path` from now on, for
    /// on-change readers; `None` if the provider has no change feed there.
    /// The feed is bounded: a reader that falls behind gets
    /// [`StreamChange::Lagged`] and reads the table again.
    fn stream_changes(&self, path: &str) -> Option<tokio::sync::mpsc::Receiver<StreamChange>> {
        let _ = path;
        None
    }
}

/// The mutable part of the datastore, behind the transaction lock.
struct State {
    candidate: Option<Candidate>,
    locks: Locks,
    consumers: Vec<Arc<dyn ConfigConsumer>>,
    history: History,
    pending: Option<PendingConfirm>,
    next_session: u64,
    /// The files running is saved in.
    disk: Disk,
    /// The files hold an older configuration than running (a confirmed
    /// commit is pending): the next save writes it whole.
    lagging: bool,
}

/// Running and candidate configuration with their transaction path.
pub struct Datastore {
    state: Mutex<State>,
    provider: RwLock<Option<Arc<dyn StateProvider>>>,
    running: RwLock<Arc<Config>>,
    events: broadcast::Sender<Arc<CommitEvent>>,
    /// Transactions that did not commit, for metrics.
    failed: AtomicU64,
    /// Wakes the confirmed-commit timer (see `confirm.rs`).
    timer: Arc<Timer>,
    /// Running's access control rules, compiled (see `nacm.rs`).
    nacm: RwLock<Arc<Nacm>>,
}

impl Drop for Datastore {
    fn drop(&mut self) {
        // Ends a waiting confirmed-commit timer thread.
        self.timer.bump();
    }
}

impl Datastore {
    /// Opens the datastore. With `replace` false, the saved running
    /// configuration is used when there is one, else `given`; with `replace`
    /// true, `given` is used and saved. A saved file that does not parse
    /// or validate is an error naming the file: it is never replaced
    /// silently.
    pub fn open(
        options: Options,
        given: Config,
        replace: bool,
    ) -> Result<(Datastore, Startup), ModelError> {
        std::fs::create_dir_all(&options.state_dir).map_err(|e| {
            ModelError::general(format!(
                "cannot create state directory {}: {e}",
                options.state_dir.display()
            ))
        })?;
        // Clear-text passwords in a given file are hashed before anything
        // is saved.
        let mut tree = given.into_tree();
        crate::users::hash_clear_passwords(&mut tree)?;
        let given = Config::from_tree(tree)?;
        let mut disk = Disk::new(&options.state_dir);
        let saved = if replace { None } else { disk.load()? };
        let (running, startup) = match saved {
            Some(config) => (config, Startup::Saved(persist::paths(&options.state_dir).0)),
            None => {
                disk.save(&given).map_err(ModelError::general)?;
                (given, Startup::Given)
            }
        };
        let nacm = Nacm::from_tree(running.tree())?;
        let (events, _) = broadcast::channel(options.event_capacity.max(1));
        // The start-up configuration is commit 1, so it can be rolled back to.
        let mut history = History::new(options.history_len);
        let who = Requester::internal(Origin::File);
        let empty = running
            .tree()
            .diff(running.tree(), DataDiffFlags::empty())?;
        let event = CommitEvent {
            id: 1,
            time: SystemTime::now(),
            origin: Origin::File,
            user: None,
            changes: Vec::new(),
            duration: Duration::ZERO,
        };
        history.push(&event, &who, empty);
        let store = Datastore {
            state: Mutex::new(State {
                candidate: None,
                locks: Locks::default(),
                consumers: Vec::new(),
                history,
                pending: None,
                next_session: 1,
                disk,
                lagging: false,
            }),
            running: RwLock::new(Arc::new(running)),
            provider: RwLock::new(None),
            events,
            failed: AtomicU64::new(0),
            timer: Arc::default(),
            nacm: RwLock::new(Arc::new(nacm)),
        };
        Ok((store, startup))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves no half-made change: running
        // is only swapped after every step succeeded.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running configuration now. Cheap: a shared snapshot.
    pub fn running(&self) -> Arc<Config> {
        self.running
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A copy of the candidate configuration (running, if nobody edited it).
    /// It is valid only once validated or committed.
    pub fn candidate(&self) -> DataTree<'static> {
        let state = self.state();
        let running = self.running();
        match &state.candidate {
            Some(c) => c.to_tree(&running).unwrap_or_else(|e| {
                // The edits applied when they were made, to this running.
                tracing::error!(%e, "the candidate's edits no longer apply");
                running.to_tree()
            }),
            None => running.to_tree(),
        }
    }

    /// Folds the journal into the snapshot: the state directory then holds
    /// running as one file, `running.json` (a clean stop does this).
    /// Nothing is written while a confirmed commit is pending (the files
    /// keep the configuration from before it).
    pub fn compact(&self) -> Result<(), CommitError> {
        let mut state = self.state();
        if state.lagging {
            return Ok(());
        }
        let running = self.running();
        state.disk.save(&running).map_err(CommitError::Persist)
    }

    /// What `user` may do by running's access control rules; `None` is a
    /// requester that did not authenticate, which is not judged.
    pub fn access(&self, user: Option<&str>) -> Access {
        self.nacm
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .access(user)
    }

    /// Judges a transaction's diff for its requester; compiles the access
    /// control rules it brings, to be installed once it commits.
    fn judge(
        &self,
        who: &Requester,
        diff: &DataDiff<'static>,
        new: &DataTree<'static>,
    ) -> Result<Option<Nacm>, CommitError> {
        self.access(who.judged_user()).check_diff(diff)?;
        if !crate::nacm::touches(diff) {
            return Ok(None);
        }
        Nacm::from_tree(new).map(Some).map_err(CommitError::Invalid)
    }

    /// Sets who serves the state half of the operational datastore.
    pub fn set_state_provider(&self, provider: Arc<dyn StateProvider>) {
        *self.provider.write().unwrap_or_else(|e| e.into_inner()) = Some(provider);
    }

    /// The operational datastore at `path`: running configuration with the
    /// state the engine serves. The tree is a snapshot; it is not
    /// validated (state is what it is).
    pub fn operational(&self, path: &str) -> Result<DataTree<'static>, ModelError> {
        let running = self.running();
        let mut tree = config_under(&running, path)?;
        let provider = self
            .provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(p) = provider {
            p.write_state(&mut tree, path)?;
        }
        mirror::mirror_config(&mut tree, running.tree())?;
        self.state().history.write_state(&mut tree, path)?;
        crate::users::write_lockouts(&mut tree, path)?;
        crate::nacm::write_state(&mut tree, path)?;
        crate::audit::write_state(&mut tree, path)?;
        Ok(tree)
    }

    /// The streamed entries of the table holding `path`, if the state
    /// provider streams it (see [`StateProvider::stream_state`]).
    pub fn stream_state(&self, path: &str) -> Option<StateStream> {
        let provider = self
            .provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        provider.and_then(|p| p.stream_state(path))
    }

    /// [`Datastore::stream_state`] in document order (see
    /// [`StateProvider::stream_state_nested`]).
    pub fn stream_state_nested(&self, path: &str) -> Option<StateStream> {
        let provider = self
            .provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        provider.and_then(|p| p.stream_state_nested(path))
    }

    /// [`Datastore::stream_state`] for many paths read together (see
    /// [`StateProvider::stream_states`]).
    pub fn stream_states(&self, paths: &[String]) -> Vec<Option<StateStream>> {
        let provider = self
            .provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match provider {
            Some(p) => p.stream_states(paths),
            None => paths.iter().map(|_| None).collect(),
        }
    }

    /// The change feed of the streamed table holding `path` (see
    /// [`StateProvider::stream_changes`]).
    pub fn stream_changes(&self, path: &str) -> Option<tokio::sync::mpsc::Receiver<StreamChange>> {
        let provider = self
            .provider
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        provider.and_then(|p| p.stream_changes(path))
    }

    /// Registers a consumer; it sees every transaction from now on. The
    /// caller brings it up to date with [`Datastore::running`] first.
    pub fn add_consumer(&self, consumer: Arc<dyn ConfigConsumer>) {
        self.state().consumers.push(consumer);
    }

    /// Change notifications, one event per commit, in commit order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEvent>> {
        self.events.subscribe()
    }

    /// How many transactions failed (refused, invalid, locked, ...) since
    /// the datastore opened; running was left untouched by each.
    pub fn failed_commits(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The kept commits, oldest first.
    pub fn history(&self) -> Vec<CommitRecord> {
        self.state().history.records()
    }

    /// The diff a kept commit made, as JSON with `yang:operation`
    /// annotations.
    pub fn commit_diff(&self, id: u64) -> Option<String> {
        self.state().history.diff_text(id)
    }

    /// A new management session id, for locks.
    pub fn new_session(&self) -> SessionId {
        let mut state = self.state();
        let id = SessionId(state.next_session);
        state.next_session += 1;
        id
    }

    /// Locks a datastore for a session (RFC 6241 lock). Locking the
    /// candidate is refused while it holds changes not committed.
    pub fn lock(&self, target: Target, session: SessionId) -> Result<(), LockError> {
        let mut state = self.state();
        if target == Target::Candidate && state.candidate.is_some() {
            return Err(LockError::CandidateModified);
        }
        state.locks.lock(target, session)
    }

    /// Unlocks a datastore the session holds.
    pub fn unlock(&self, target: Target, session: SessionId) -> Result<(), LockError> {
        self.state().locks.unlock(target, session)
    }

    /// Releases every lock of a session that ended (close or kill-session).
    pub fn end_session(&self, session: SessionId) {
        let mut state = self.state();
        let released = state.locks.release(session);
        // RFC 6241 7.5: the candidate's changes go with the lock holder.
        if released.contains(&Target::Candidate) {
            state.candidate = None;
        }
    }

    /// Applies edits to running as one transaction.
    pub fn edit_running(
        &self,
        edits: &[Edit],
        who: &Requester,
    ) -> Result<CommitOutcome, CommitError> {
        let mut state = self.state();
        state.locks.check(Target::Running, who.session)?;
        self.edit_locked(&mut state, edits.to_vec(), who)
            .map_err(|(_, e)| e)
    }

    /// [`Datastore::edit_running`] taking the edits: each edit (its value
    /// with it) is freed as soon as it is applied, so a large value is not
    /// held by the caller while the transaction validates and commits. On
    /// an error, the index of the edit that failed to apply, when one did.
    /// Refused while a confirmed commit is pending (gNMI's plain Set): the
    /// check is made under the transaction lock, so no confirmed commit
    /// slips in between.
    pub fn edit_running_owned(
        &self,
        edits: Vec<Edit>,
        who: &Requester,
    ) -> Result<CommitOutcome, (Option<usize>, CommitError)> {
        let mut state = self.state();
        state
            .locks
            .check(Target::Running, who.session)
            .map_err(|e| (None, e.into()))?;
        if let Some(p) = &state.pending {
            return Err((None, CommitError::ConfirmPending(p.info())));
        }
        self.edit_locked(&mut state, edits, who)
    }

    /// Edits running as one transaction: in place when the edits' scope
    /// allows (see `scope.rs`) and nobody holds a snapshot of running,
    /// else on a copy of the whole tree.
    fn edit_locked(
        &self,
        state: &mut State,
        edits: Vec<Edit>,
        who: &Requester,
    ) -> Result<CommitOutcome, (Option<usize>, CommitError)> {
        self.freeze_candidate(state);
        let start = Instant::now();
        let mut guard = self.running.write().unwrap_or_else(|e| e.into_inner());
        let scope = match Arc::get_mut(&mut guard) {
            Some(c) => Scope::plan(c.tree(), &edits),
            None => {
                tracing::debug!("a snapshot of running is held: this commit edits a copy");
                None
            }
        };
        if let Some(scope) = scope {
            let result = self.scoped(state, guard, scope, edits, who, start);
            self.log_outcome(state, who, start, result.as_ref().map_err(|(_, e)| e));
            return result;
        }
        drop(guard);
        let mut tree = self.running().to_tree();
        for (i, e) in edits.into_iter().enumerate() {
            edit::apply(&mut tree, &e).map_err(|err| (Some(i), err.into()))?;
        }
        self.commit_tree(state, tree, who, Confirm::No)
            .map_err(|e| (None, e))
    }

    /// A transaction on running itself, under the write lock (readers
    /// wait; no snapshot of running is held elsewhere). Every failure puts
    /// the edited regions back as they were.
    fn scoped(
        &self,
        state: &mut State,
        mut guard: RwLockWriteGuard<'_, Arc<Config>>,
        scope: Scope,
        edits: Vec<Edit>,
        who: &Requester,
        start: Instant,
    ) -> Result<CommitOutcome, (Option<usize>, CommitError)> {
        let Some(config) = Arc::get_mut(&mut guard) else {
            return Err((
                None,
                CommitError::Persist("internal: running is shared".into()),
            ));
        };
        let undo = |config: &mut Config| {
            if let Err(e) = scope.revert(config.tree_mut()) {
                tracing::error!(%e, "cannot put running back after a failed commit");
            }
        };
        // Each edit (its value with it) is freed once applied.
        for (i, e) in edits.into_iter().enumerate() {
            if let Err(err) = edit::apply(config.tree_mut(), &e) {
                undo(config);
                return Err((Some(i), err.into()));
            }
        }
        let checked = crate::users::hash_clear_passwords(config.tree_mut())
            .and_then(|_| scope.validate(config.tree_mut()))
            .and_then(|()| scope.diff(config.tree()));
        let diff = match checked {
            Ok(diff) => diff,
            Err(e) => {
                undo(config);
                return Err((None, CommitError::Invalid(e)));
            }
        };
        let changes = crate::gen::changes(&diff);
        let empty = diff.iter().next().is_none();
        if changes.is_empty() && empty && scope.same_print(config.tree()) {
            return Ok(CommitOutcome::Unchanged);
        }
        let rules = match self.judge(who, &diff, config.tree()) {
            Ok(rules) => rules,
            Err(e) => {
                undo(config);
                return Err((None, e));
            }
        };
        let id = state.history.next_id();
        let before = Before::Derived(OnceLock::new());
        let consumers = state.consumers.clone();
        let tx = Transaction {
            id,
            origin: who.origin,
            old: &before,
            new: config,
            diff: &diff,
            changes: &changes,
        };
        let mut failure = None;
        let mut prepared = Vec::new();
        for consumer in &consumers {
            if let Err(refusal) = consumer.prepare(&tx) {
                failure = Some(CommitError::Refused(refusal));
                break;
            }
            prepared.push(consumer.as_ref());
        }
        if failure.is_none() {
            let diff = (!empty).then_some(&diff);
            if let Err(e) = Self::persist(state, Confirm::No, id, diff, tx.new) {
                failure = Some(CommitError::Persist(e));
            }
        }
        if let Some(error) = failure {
            for c in prepared {
                c.abort(&tx);
            }
            undo(config);
            return Err((None, error));
        }
        // Saved: readers may see it now; consumers carry it out.
        let new = Arc::clone(&guard);
        drop(guard);
        let tx = Transaction {
            id,
            origin: who.origin,
            old: &before,
            new: &new,
            diff: &diff,
            changes: &changes,
        };
        for c in &consumers {
            c.apply(&tx);
        }
        self.install(rules);
        self.record(state, id, who, diff, start);
        Ok(CommitOutcome::Committed(id))
    }

    /// Puts a commit's new access control rules in force.
    fn install(&self, rules: Option<Nacm>) {
        if let Some(rules) = rules {
            *self.nacm.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
        }
    }

    /// Keeps a commit that went through: history, change notification.
    fn record(
        &self,
        state: &mut State,
        id: u64,
        who: &Requester,
        diff: DataDiff<'static>,
        start: Instant,
    ) {
        let event = Arc::new(CommitEvent::from_diff(
            id,
            SystemTime::now(),
            who,
            &diff,
            start.elapsed(),
        ));
        state.history.push(&event, who, diff);
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    /// Saves a commit's result: its diff appended to the journal, or the
    /// whole configuration (`diff` is `None`, or the files hold an older
    /// configuration than running); nothing while it awaits confirmation.
    fn persist(
        state: &mut State,
        confirm: Confirm,
        id: u64,
        diff: Option<&DataDiff<'static>>,
        config: &Config,
    ) -> Result<(), String> {
        match (confirm, diff) {
            (Confirm::Pending, _) => {
                state.lagging = true;
                Ok(())
            }
            // A plain edit while a confirmed commit waits (NETCONF may
            // edit running then) is undone with it if it is not confirmed,
            // so it is saved with it, at confirmation: until then the
            // files keep the configuration from before both.
            (Confirm::No, _) if state.pending.is_some() => {
                state.lagging = true;
                Ok(())
            }
            (Confirm::No, Some(diff)) if !state.lagging => state.disk.append(id, diff, config),
            (Confirm::No, _) => {
                state.disk.save(config)?;
                state.lagging = false;
                Ok(())
            }
        }
    }

    /// Replaces running with a whole configuration (a file load or reload,
    /// copy-config) as one transaction.
    pub fn replace_running(
        &self,
        config: Config,
        who: &Requester,
    ) -> Result<CommitOutcome, CommitError> {
        let mut state = self.state();
        state.locks.check(Target::Running, who.session)?;
        self.commit_tree(&mut state, config.into_tree(), who, Confirm::No)
    }

    /// Applies edits to the candidate. Values are checked as they are
    /// parsed; the whole candidate is validated at validate or commit.
    /// On error the candidate is as before.
    pub fn edit_candidate(&self, edits: &[Edit], who: &Requester) -> Result<(), CommitError> {
        let mut state = self.state();
        state.locks.check(Target::Candidate, who.session)?;
        self.judge_candidate_edit(&state, edits, who)?;
        let next = match &state.candidate {
            Some(Candidate::Tree(tree)) => {
                let mut tree = tree.duplicate().expect("duplicate candidate");
                for e in edits {
                    edit::apply(&mut tree, e)?;
                }
                Candidate::Tree(tree)
            }
            Some(Candidate::Edits(before)) => {
                let all: Vec<Edit> = before.iter().chain(edits).cloned().collect();
                self.checked_edits(all)?
            }
            None => self.checked_edits(edits.to_vec())?,
        };
        state.candidate = Some(next);
        Ok(())
    }

    /// Judges an edit of the candidate on what it changes there (RFC 8341:
    /// the candidate is shared, so an edit the user may not make must not
    /// wait there for someone else's commit). Free for a user who may
    /// write everything.
    fn judge_candidate_edit(
        &self,
        state: &State,
        edits: &[Edit],
        who: &Requester,
    ) -> Result<(), CommitError> {
        let access = self.access(who.judged_user());
        if access.writes_everything() {
            return Ok(());
        }
        let running = self.running();
        let before = match &state.candidate {
            Some(c) => c.to_tree(&running)?,
            None => running.to_tree(),
        };
        let mut after = before
            .duplicate()
            .map_err(|e| CommitError::Invalid(e.into()))?;
        for e in edits {
            edit::apply(&mut after, e)?;
        }
        let diff = before
            .diff(&after, DataDiffFlags::DEFAULTS)
            .map_err(|e| CommitError::Invalid(e.into()))?;
        access.check_diff(&diff).map_err(|denied| {
            let user = who.user.as_deref().unwrap_or("");
            tracing::warn!(origin = who.origin.as_str(), user, error = %denied, "candidate edit refused");
            crate::audit::record(
                crate::audit::Kind::CommitRefused,
                who.origin.as_str(),
                user,
                who.source,
                &format!("edit of the candidate: {denied}"),
            );
            CommitError::Denied(denied)
        })
    }

    /// The candidate made of `edits` on running: kept as the edits when
    /// they apply in place (tried on running and undone), else as a tree.
    fn checked_edits(&self, edits: Vec<Edit>) -> Result<Candidate, CommitError> {
        let mut guard = self.running.write().unwrap_or_else(|e| e.into_inner());
        let config = Arc::get_mut(&mut guard);
        if let Some((config, scope)) =
            config.and_then(|c| Scope::plan(c.tree(), &edits).map(|s| (c, s)))
        {
            let applied = edits
                .iter()
                .try_for_each(|e| edit::apply(config.tree_mut(), e));
            if let Err(e) = scope.revert(config.tree_mut()) {
                tracing::error!(%e, "cannot put running back after trying candidate edits");
            }
            applied?;
            return Ok(Candidate::Edits(edits));
        }
        drop(guard);
        Ok(Candidate::Tree(candidate::applied(
            &self.running(),
            &edits,
        )?))
    }

    /// Before running changes under a candidate kept as edits, the
    /// candidate becomes the whole tree it stands for (its edits were made
    /// to running as it is now).
    fn freeze_candidate(&self, state: &mut State) {
        if let Some(Candidate::Edits(edits)) = &state.candidate {
            let running = self.running();
            let tree = candidate::applied(&running, edits).unwrap_or_else(|e| {
                tracing::error!(%e, "the candidate's edits no longer apply");
                running.to_tree()
            });
            state.candidate = Some(Candidate::Tree(tree));
        }
    }

    /// Validates the candidate as a commit would, without committing.
    pub fn validate_candidate(&self) -> Result<(), CommitError> {
        Config::from_tree(self.candidate())
            .map(|_| ())
            .map_err(CommitError::Invalid)
    }

    /// Throws the candidate's changes away (RFC 6241 discard-changes).
    pub fn discard_candidate(&self) {
        self.state().candidate = None;
    }

    /// Commits the candidate to running.
    pub fn commit_candidate(
        &self,
        who: &Requester,
        confirm: Confirm,
    ) -> Result<CommitOutcome, CommitError> {
        let mut state = self.state();
        // Only a confirmed commit keeps running from before (a snapshot
        // held makes the commit copy running).
        let before = (confirm == Confirm::Pending).then(|| self.running());
        let outcome = self.commit_candidate_locked(&mut state, who, confirm)?;
        if confirm == Confirm::Pending && state.pending.is_none() {
            // No timer here: see `commit_candidate_with` for one.
            state.pending = Some(PendingConfirm {
                before: before.filter(|_| matches!(outcome, CommitOutcome::Committed(_))),
                origin: who.origin,
                session: who.session,
                user: who.user.clone(),
                id: None,
                deadline: None,
            });
        }
        Ok(outcome)
    }

    fn commit_candidate_locked(
        &self,
        state: &mut State,
        who: &Requester,
        confirm: Confirm,
    ) -> Result<CommitOutcome, CommitError> {
        state.locks.check(Target::Running, who.session)?;
        state.locks.check(Target::Candidate, who.session)?;
        let tree = match state.candidate.take() {
            Some(Candidate::Edits(edits)) if confirm == Confirm::No => {
                // Running is what the edits were made to: one scoped
                // transaction, as a Set.
                let result = self
                    .edit_locked(state, edits.clone(), who)
                    .map_err(|(_, e)| e);
                if result.is_err() {
                    state.candidate = Some(Candidate::Edits(edits));
                }
                return result;
            }
            Some(Candidate::Edits(edits)) => {
                let tree = candidate::applied(&self.running(), &edits)?;
                let result = self.commit_tree(state, tree, who, confirm);
                if result.is_err() {
                    state.candidate = Some(Candidate::Edits(edits));
                }
                return result;
            }
            Some(Candidate::Tree(tree)) => tree,
            None if confirm == Confirm::No && state.pending.is_some() => {
                // A plain commit with nothing new confirms a pending one.
                return self.confirm_locked(state).map(|_| CommitOutcome::Unchanged);
            }
            None => self.running().to_tree(),
        };
        let keep = tree.duplicate().expect("duplicate candidate");
        let result = self.commit_tree(state, tree, who, confirm);
        if result.is_err() {
            state.candidate = Some(Candidate::Tree(keep));
        }
        result
    }

    /// Confirms a pending confirmed commit, whoever made it: running is
    /// saved as it is. Doors use [`Datastore::confirm_commit`], which
    /// checks the caller may.
    pub fn confirm(&self, _who: &Requester) -> Result<(), CommitError> {
        let mut state = self.state();
        if state.pending.is_none() {
            return Err(CommitError::NoPendingConfirm);
        }
        self.confirm_locked(&mut state)
    }

    /// Undoes a pending confirmed commit, whoever made it: running returns
    /// to what it was before, as a commit of its own. Doors use
    /// [`Datastore::cancel_commit`], which checks the caller may.
    pub fn cancel_confirmed(&self, who: &Requester) -> Result<CommitOutcome, CommitError> {
        let mut state = self.state();
        self.undo_locked(&mut state, who)
    }

    /// Whether a confirmed commit is waiting for confirmation.
    pub fn confirm_pending(&self) -> bool {
        self.state().pending.is_some()
    }

    /// Makes running what it was right after commit `id`, as a new commit.
    pub fn rollback(&self, id: u64, who: &Requester) -> Result<CommitOutcome, CommitError> {
        let mut state = self.state();
        state.locks.check(Target::Running, who.session)?;
        let mut tree = self.running().to_tree();
        state.history.undo_after(id, &mut tree)?;
        self.commit_tree(&mut state, tree, who, Confirm::No)
    }

    /// One transaction, logged: what committed (id, origin, user, number
    /// of changes, duration) or why it did not.
    fn commit_tree(
        &self,
        state: &mut State,
        tree: DataTree<'static>,
        who: &Requester,
        confirm: Confirm,
    ) -> Result<CommitOutcome, CommitError> {
        self.freeze_candidate(state);
        let start = Instant::now();
        let result = self.transaction(state, tree, who, confirm, start);
        self.log_outcome(state, who, start, result.as_ref());
        result
    }

    /// Logs what a transaction did: what committed (id, origin, user,
    /// number of changes, duration) or why it did not.
    fn log_outcome(
        &self,
        state: &State,
        who: &Requester,
        start: Instant,
        result: Result<&CommitOutcome, &CommitError>,
    ) {
        let user = who.user.as_deref().unwrap_or("");
        let source = who.source.map(|a| a.to_string()).unwrap_or_default();
        match result {
            Ok(CommitOutcome::Committed(id)) => {
                let changes = state
                    .history
                    .records()
                    .last()
                    .map(|r| r.changes)
                    .unwrap_or(0);
                tracing::info!(
                    commit = id,
                    origin = who.origin.as_str(),
                    user,
                    source,
                    changes,
                    duration_us = start.elapsed().as_micros() as u64,
                    "commit"
                );
            }
            Ok(CommitOutcome::Unchanged) => {
                tracing::debug!(
                    origin = who.origin.as_str(),
                    user,
                    "commit: nothing changed"
                );
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(origin = who.origin.as_str(), user, source, %error, "commit refused");
                crate::audit::record(
                    crate::audit::Kind::CommitRefused,
                    who.origin.as_str(),
                    user,
                    who.source,
                    &error.to_string(),
                );
            }
        }
    }

    /// The transaction proper: validate, prepare, save, apply, record,
    /// notify. Running is swapped only when every step before succeeded.
    fn transaction(
        &self,
        state: &mut State,
        tree: DataTree<'static>,
        who: &Requester,
        confirm: Confirm,
        start: Instant,
    ) -> Result<CommitOutcome, CommitError> {
        let mut tree = tree;
        // Clear-text passwords are never stored.
        crate::users::hash_clear_passwords(&mut tree).map_err(CommitError::Invalid)?;
        let new = Config::from_tree(tree).map_err(CommitError::Invalid)?;
        let old = self.running();
        // DEFAULTS: without it libyang misses a leaf set explicitly where
        // its implicit default was (its parents stay marked default).
        let diff = old
            .tree()
            .diff(new.tree(), DataDiffFlags::DEFAULTS)
            .map_err(|e| CommitError::Invalid(e.into()))?;
        let changes = crate::gen::changes(&diff);
        if changes.is_empty() && diff.iter().next().is_none() {
            // Values equal; but a leaf may have gone from its implicit
            // default to explicitly set (or back), which no libyang diff
            // shows. The explicit prints tell (only in this no-change case).
            let print = |c: &Config| c.print(crate::config::Encoding::Json).ok();
            if print(&old) == print(&new) {
                return Ok(CommitOutcome::Unchanged);
            }
        }
        let rules = self.judge(who, &diff, new.tree())?;
        let id = state.history.next_id();
        let kept = Before::Kept(&old);
        let tx = Transaction {
            id,
            origin: who.origin,
            old: &kept,
            new: &new,
            diff: &diff,
            changes: &changes,
        };

        let consumers = state.consumers.clone();
        let mut prepared = Vec::new();
        for consumer in &consumers {
            if let Err(refusal) = consumer.prepare(&tx) {
                for c in prepared {
                    ConfigConsumer::abort(c, &tx);
                }
                return Err(CommitError::Refused(refusal));
            }
            prepared.push(consumer.as_ref());
        }
        // While confirmation is pending the files keep the old
        // configuration. A whole tree is saved whole (as big a diff would
        // cost more to append).
        if let Err(e) = Self::persist(state, confirm, id, None, &new) {
            for c in prepared {
                c.abort(&tx);
            }
            return Err(CommitError::Persist(e));
        }
        for c in &consumers {
            c.apply(&tx);
        }
        *self.running.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
        self.install(rules);
        self.record(state, id, who, diff, start);
        Ok(CommitOutcome::Committed(id))
    }
}
