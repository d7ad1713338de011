//! SIGHUP: read the configuration file again and make it running, as one
//! transaction through the datastore. A file that does not read, parse or
//! validate, or that a consumer refuses, changes nothing; the reason is
//! logged. What the change does not concern keeps running (the engine
//! applies only the diff), so sessions of untouched neighbors stay up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ocbgp_models::datastore::{CommitOutcome, Datastore, Origin, Requester};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read, or is not a valid configuration.
    #[error("{0:#}")]
    Load(anyhow::Error),
    /// The datastore refused the transaction (a consumer refused it, or it
    /// could not be saved, or running is locked).
    #[error("{0}")]
    Commit(#[from] ocbgp_models::datastore::CommitError),
    /// The blocking task doing the reload did not finish.
    #[error("reload task failed: {0}")]
    Task(String),
}

/// Reads `file` and replaces running with it as one transaction.
pub fn reload(store: &Datastore, file: &Path) -> Result<CommitOutcome, ReloadError> {
    let config = crate::startup::load_file(file).map_err(ReloadError::Load)?;
    let who = Requester {
        source: None,
        authenticated: false,
        comment: Some(format!("reload of {}", file.display())),
        ..Requester::internal(Origin::File)
    };
    Ok(store.replace_running(config, &who)?)
}

/// Takes SIGHUP over from its default action (ending the process). Call
/// it first thing at start-up, so a reload asked for early does not kill
/// the daemon; None if the handler cannot be installed.
pub fn hangup() -> Option<Signal> {
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; reload by signal unavailable");
            None
        }
    }
}

/// Reloads `file` on every SIGHUP until the task is dropped. Without a file
/// a SIGHUP is logged and ignored.
pub async fn watch(mut hup: Signal, store: Arc<Datastore>, file: Option<PathBuf>) {
    while hup.recv().await.is_some() {
        let Some(file) = file.clone() else {
            tracing::warn!(
                "SIGHUP received but ocbgpd was started without --config: nothing to reload"
            );
            continue;
        };
        let path = file.display().to_string();
        tracing::info!(file = %path, "SIGHUP received, reloading the configuration");
        let store = store.clone();
        let outcome = tokio::task::spawn_blocking(move || reload(&store, &file))
            .await
            .unwrap_or_else(|e| Err(ReloadError::Task(e.to_string())));
        match outcome {
            Ok(CommitOutcome::Committed(id)) => {
                tracing::info!(file = %path, commit = id, "configuration reloaded")
            }
            Ok(CommitOutcome::Unchanged) => {
                tracing::info!(file = %path, "configuration reloaded: no change")
            }
            Err(error) => {
                tracing::error!(file = %path, %error, "configuration reload refused; running configuration unchanged")
            }
        }
    }
}
