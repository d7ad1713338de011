//! The other side of a transaction: whoever turns configuration into
//! behaviour (the BGP engine, the management servers).

use std::fmt;
use std::sync::OnceLock;

use yang2::data::DataDiff;

use super::Origin;
use crate::config::Config;
use crate::gen::ChangeSet;

/// One transaction, as consumers see it: the configuration before and
/// after, and libyang's diff between them (only what changed).
pub struct Transaction<'a> {
    /// The id the commit gets if it goes through.
    pub id: u64,
    /// Which door it came through.
    pub origin: Origin,
    /// Running before (see [`Transaction::old`]).
    pub(super) old: &'a Before<'a>,
    /// Running after (validated).
    pub new: &'a Config,
    /// What changed, node by node (libyang's diff).
    pub diff: &'a DataDiff<'static>,
    /// What changed, by list entry and container (generated
    /// classification of the diff): what a consumer reads to find the
    /// neighbors, peer groups, sets and policies it must revisit.
    pub changes: &'a ChangeSet,
}

impl Transaction<'_> {
    /// Running before the transaction. A commit that edited running in
    /// place rebuilds it from running after and the diff on first use
    /// (it costs a copy of the configuration: consumers read it only for
    /// what the diff cannot tell, such as a removed group's members).
    pub fn old(&self) -> &Config {
        match self.old {
            Before::Kept(config) => config,
            Before::Derived(cell) => cell.get_or_init(|| {
                let mut tree = self.new.to_tree();
                let undone = self
                    .diff
                    .reverse()
                    .and_then(|reverse| tree.diff_apply(&reverse));
                if let Err(e) = undone {
                    // libyang undoing its own fresh diff does not fail;
                    // if it ever did, the new configuration is the best
                    // guess left.
                    tracing::error!(%e, "cannot rebuild the configuration before a commit");
                }
                Config::trusted(tree)
            }),
        }
    }
}

/// How a transaction holds running before it.
pub(super) enum Before<'a> {
    /// Kept as it was (the transaction edited a copy).
    Kept(&'a Config),
    /// Rebuilt when asked for (the transaction edited running in place).
    Derived(OnceLock<Config>),
}

/// A consumer's reason to refuse a configuration that is valid by the
/// schema but cannot be run (say, a local address the machine lacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The data path at fault, when there is one.
    pub path: Option<String>,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{p}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Something that acts on configuration: it may refuse a transaction in
/// [`prepare`](ConfigConsumer::prepare), and must carry out one it
/// prepared in [`apply`](ConfigConsumer::apply) or forget it in
/// [`abort`](ConfigConsumer::abort). Calls come one transaction at a time.
pub trait ConfigConsumer: Send + Sync {
    /// Checks the change; no effect may be visible yet.
    fn prepare(&self, tx: &Transaction<'_>) -> Result<(), Refusal>;
    /// Carries the change out. Must not fail: everything that can fail is
    /// checked in prepare.
    fn apply(&self, tx: &Transaction<'_>);
    /// The transaction will not happen (another consumer refused it, or it
    /// could not be saved).
    fn abort(&self, tx: &Transaction<'_>) {
        let _ = tx;
    }
}
