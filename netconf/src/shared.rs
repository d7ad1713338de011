//! What every session of one server shares: the datastore, the confirmed
//! commit, the session registry (for kill-session and
//! ietf-netconf-monitoring) and the counters.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ocbgp_models::datastore::{Datastore, SessionId, Target};
use tokio::sync::watch;

use crate::confirm::ConfirmedCommits;

/// Limits of a server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message accepted, in bytes.
    pub max_message: usize,
    /// Most NETCONF sessions at once.
    pub max_sessions: usize,
    /// How long a new session may take to send its hello.
    pub hello_timeout: Duration,
    /// A session that sends nothing for this long is closed.
    pub idle_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 16 << 20,
            max_sessions: 32,
            hello_timeout: Duration::from_secs(60),
            idle_timeout: Some(Duration::from_secs(3600)),
        }
    }
}

/// One NETCONF session, as others see it.
#[derive(Debug)]
pub struct SessionInfo {
    /// Session id: the datastore's management session id.
    pub id: SessionId,
    /// The authenticated user.
    pub user: String,
    /// Where the client connects from.
    pub source: Option<IpAddr>,
    /// When the session started.
    pub login: SystemTime,
    /// RPCs received.
    pub in_rpcs: AtomicU64,
    /// Malformed RPCs received.
    pub in_bad_rpcs: AtomicU64,
    /// Replies with an rpc-error.
    pub out_rpc_errors: AtomicU64,
    kill: watch::Sender<bool>,
}

impl SessionInfo {
    /// A session's entry, with the receiver that tells it it was killed.
    pub fn new(
        id: SessionId,
        user: String,
        source: Option<IpAddr>,
    ) -> (Arc<SessionInfo>, watch::Receiver<bool>) {
        let (kill, killed) = watch::channel(false);
        let info = SessionInfo {
            id,
            user,
            source,
            login: SystemTime::now(),
            in_rpcs: AtomicU64::new(0),
            in_bad_rpcs: AtomicU64::new(0),
            out_rpc_errors: AtomicU64::new(0),
            kill,
        };
        (Arc::new(info), killed)
    }
}

/// Server-wide counters of ietf-netconf-monitoring's statistics.
#[derive(Debug, Default)]
pub struct Statistics {
    /// Hellos that were not acceptable.
    pub in_bad_hellos: AtomicU64,
    /// Sessions started.
    pub in_sessions: AtomicU64,
    /// Sessions ended other than by close-session.
    pub dropped_sessions: AtomicU64,
    /// RPCs received.
    pub in_rpcs: AtomicU64,
    /// Malformed RPCs.
    pub in_bad_rpcs: AtomicU64,
    /// rpc-error replies.
    pub out_rpc_errors: AtomicU64,
}

/// The shared state of one server.
pub struct Shared {
    /// The datastore.
    pub store: Arc<Datastore>,
    /// The confirmed commit.
    pub confirm: Arc<ConfirmedCommits>,
    /// Limits.
    pub limits: Limits,
    /// When the server started.
    pub started: SystemTime,
    /// Counters.
    pub stats: Statistics,
    sessions: Mutex<BTreeMap<u64, Arc<SessionInfo>>>,
    /// Locks held by NETCONF sessions, with when they were taken (for
    /// ietf-netconf-monitoring; the datastore enforces them).
    locks: Mutex<HashMap<Target, (SessionId, SystemTime)>>,
}

impl Shared {
    /// Shared state for a server on `store`; confirmed-commit timers run
    /// on the current tokio runtime.
    pub fn new(store: Arc<Datastore>, limits: Limits) -> Arc<Shared> {
        let confirm = ConfirmedCommits::new(store.clone(), tokio::runtime::Handle::current());
        Arc::new(Shared {
            store,
            confirm,
            limits,
            started: SystemTime::now(),
            stats: Statistics::default(),
            sessions: Mutex::new(BTreeMap::new()),
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn sessions(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<SessionInfo>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_table(&self) -> MutexGuard<'_, HashMap<Target, (SessionId, SystemTime)>> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session; false when the server has as many as it takes.
    pub fn register(&self, info: Arc<SessionInfo>) -> bool {
        let mut sessions = self.sessions();
        if sessions.len() >= self.limits.max_sessions {
            return false;
        }
        sessions.insert(info.id.0, info);
        self.stats.in_sessions.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A live session by id.
    pub fn session(&self, id: u64) -> Option<Arc<SessionInfo>> {
        self.sessions().get(&id).cloned()
    }

    /// The live sessions, by id.
    pub fn session_list(&self) -> Vec<Arc<SessionInfo>> {
        self.sessions().values().cloned().collect()
    }

    /// Tells a session to end; false if there is no such session.
    pub fn kill(&self, id: u64) -> bool {
        match self.session(id) {
            Some(s) => {
                let _ = s.kill.send(true);
                true
            }
            None => false,
        }
    }

    /// Tells every session whose user is no longer configured to end (after
    /// a commit that removed users); returns how many were told.
    pub fn kill_removed_users(&self) -> usize {
        let running = self.store.running();
        let mut killed = 0;
        for s in self.session_list() {
            if !ocbgp_models::users::exists(&running, &s.user) {
                tracing::info!(session = s.id.0, user = %s.user, "NETCONF session closed: its user was removed");
                let _ = s.kill.send(true);
                killed += 1;
            }
        }
        killed
    }

    /// Tells every session to end (server shutdown).
    pub fn kill_all(&self) {
        for s in self.session_list() {
            let _ = s.kill.send(true);
        }
    }

    /// Records a lock taken.
    pub fn locked(&self, target: Target, session: SessionId) {
        self.lock_table()
            .insert(target, (session, SystemTime::now()));
    }

    /// Records a lock released.
    pub fn unlocked(&self, target: Target, session: SessionId) {
        let mut locks = self.lock_table();
        if locks.get(&target).is_some_and(|(s, _)| *s == session) {
            locks.remove(&target);
        }
    }

    /// Who holds a datastore's lock (NETCONF sessions only), since when.
    pub fn lock_holder(&self, target: Target) -> Option<(SessionId, SystemTime)> {
        self.lock_table().get(&target).copied()
    }

    /// Ends a session's hold on everything: its locks (and with the
    /// candidate's lock, the candidate's changes), and its confirmed
    /// commit without persist. Blocks; idempotent.
    pub fn release(&self, session: SessionId) {
        self.store.end_session(session);
        {
            let mut locks = self.lock_table();
            locks.retain(|_, (s, _)| *s != session);
        }
        self.confirm.session_ended(session);
    }

    /// Removes a session that ended, releasing what it held. Blocks.
    pub fn unregister(&self, session: SessionId) {
        self.sessions().remove(&session.0);
        self.release(session);
    }
}
