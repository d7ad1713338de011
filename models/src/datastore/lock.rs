//! Datastore locks (RFC 6241 7.5), shared by every management door.

use std::collections::HashMap;

/// A management session (a NETCONF session, a gNMI client, the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl SessionId {
    /// The daemon itself (file loads, timeouts): it holds no locks but is
    /// subject to them like everyone else.
    pub const INTERNAL: SessionId = SessionId(0);
}

/// A lockable datastore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// The running configuration.
    Running,
    /// The candidate configuration.
    Candidate,
}

/// Why a lock operation or a locked write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Another session holds the lock.
    #[error("the {target:?} datastore is locked by session {holder}", holder = .holder.0)]
    Held {
        /// The datastore.
        target: Target,
        /// The session that holds it.
        holder: SessionId,
    },
    /// Unlock by a session that does not hold the lock.
    #[error("the {0:?} datastore is not locked by this session")]
    NotHeld(Target),
    /// RFC 6241: the candidate cannot be locked while it has changes.
    #[error("the candidate has uncommitted changes; commit or discard them first")]
    CandidateModified,
}

/// Who holds which lock.
#[derive(Debug, Default)]
pub(super) struct Locks {
    held: HashMap<Target, SessionId>,
}

impl Locks {
    pub(super) fn lock(&mut self, target: Target, session: SessionId) -> Result<(), LockError> {
        match self.held.get(&target) {
            Some(&holder) => Err(LockError::Held { target, holder }),
            None => {
                self.held.insert(target, session);
                Ok(())
            }
        }
    }

    pub(super) fn unlock(&mut self, target: Target, session: SessionId) -> Result<(), LockError> {
        match self.held.get(&target) {
            Some(&holder) if holder == session => {
                self.held.remove(&target);
                Ok(())
            }
            _ => Err(LockError::NotHeld(target)),
        }
    }

    /// Whether `session` may write `target`.
    pub(super) fn check(&self, target: Target, session: SessionId) -> Result<(), LockError> {
        match self.held.get(&target) {
            Some(&holder) if holder != session => Err(LockError::Held { target, holder }),
            _ => Ok(()),
        }
    }

    /// Drops every lock of `session`, returning which.
    pub(super) fn release(&mut self, session: SessionId) -> Vec<Target> {
        let targets: Vec<Target> = self
            .held
            .iter()
            .filter(|(_, &s)| s == session)
            .map(|(&t, _)| t)
            .collect();
        for t in &targets {
            self.held.remove(t);
        }
        targets
    }
}
