//! This speaker's own graceful restart (RFC 4724 4.1). After a restart it
//! says so in its OPENs (the Restart State bit) and defers best-path
//! selection and its advertisements until every graceful restart peer has
//! sent End-of-RIB or the selection deferral time has passed (the RIB task
//! does the waiting); then it sends its tables and clears the bit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether the speaker is restarting; shared by its sessions (for their
/// OPENs) and the RIB task (which ends it).
#[derive(Debug, Default)]
pub struct RestartState {
    restarting: AtomicBool,
}

impl RestartState {
    /// Not restarting.
    pub fn new() -> Arc<RestartState> {
        Arc::new(RestartState::default())
    }

    /// Whether the speaker restarted and has not sent its tables yet.
    pub fn restarting(&self) -> bool {
        self.restarting.load(Ordering::Relaxed)
    }

    /// The speaker comes up after a restart.
    pub(crate) fn begin(&self) {
        self.restarting.store(true, Ordering::Relaxed);
    }

    /// The tables went out: OPENs from now on are ordinary. Whether it
    /// was restarting.
    pub(crate) fn finish(&self) -> bool {
        self.restarting.swap(false, Ordering::Relaxed)
    }
}
