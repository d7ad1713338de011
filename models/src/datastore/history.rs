//! The kept commits and how to go back to one.

use std::collections::VecDeque;
use std::time::SystemTime;

use yang2::data::{Data, DataDiff, DataFormat, DataPrinterFlags, DataTree};

use super::{CommitError, CommitEvent, Origin, Requester};

/// What is kept about one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// Commit id, increasing by one per commit.
    pub id: u64,
    /// When it was applied.
    pub time: SystemTime,
    /// Which door it came through.
    pub origin: Origin,
    /// Who made it, when known.
    pub user: Option<String>,
    /// Free text given with it.
    pub comment: Option<String>,
    /// How many nodes it changed.
    pub changes: usize,
}

struct Kept {
    record: CommitRecord,
    diff: DataDiff<'static>,
}

/// The last `capacity` commits with their diffs; rolling back undoes diffs
/// newest first, so the cost is that of the changes undone, not of the
/// configuration's size.
pub(super) struct History {
    kept: VecDeque<Kept>,
    capacity: usize,
    next_id: u64,
}

impl History {
    pub(super) fn new(capacity: usize) -> History {
        History {
            kept: VecDeque::new(),
            capacity: capacity.max(1),
            next_id: 1,
        }
    }

    /// The id the next commit gets.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    pub(super) fn push(&mut self, event: &CommitEvent, who: &Requester, diff: DataDiff<'static>) {
        let record = CommitRecord {
            id: event.id,
            time: event.time,
            origin: event.origin,
            user: who.user.clone(),
            comment: who.comment.clone(),
            changes: event.changes.len(),
        };
        self.next_id = event.id + 1;
        if self.kept.len() == self.capacity {
            self.kept.pop_front();
        }
        self.kept.push_back(Kept { record, diff });
    }

    /// The diff of a kept commit as JSON with `yang:operation` annotations;
    /// printed on request, as a whole-configuration commit's diff is as big
    /// as the configuration.
    pub(super) fn diff_text(&self, id: u64) -> Option<String> {
        let kept = self.kept.iter().find(|k| k.record.id == id)?;
        crate::ly::print_tree(
            kept.diff.tree(),
            DataFormat::JSON,
            DataPrinterFlags::WITH_SIBLINGS,
        )
        .ok()
    }

    pub(super) fn records(&self) -> Vec<CommitRecord> {
        self.kept.iter().map(|k| k.record.clone()).collect()
    }

    /// Turns `tree` (running now) into running as it was right after
    /// commit `id`, which must still be kept: going back needs every diff
    /// since.
    pub(super) fn undo_after(
        &self,
        id: u64,
        tree: &mut DataTree<'static>,
    ) -> Result<(), CommitError> {
        if !self.kept.iter().any(|k| k.record.id == id) {
            return Err(CommitError::UnknownCommit(id));
        }
        for kept in self.kept.iter().rev().take_while(|k| k.record.id > id) {
            let reverse = kept
                .diff
                .reverse()
                .map_err(|e| CommitError::Invalid(e.into()))?;
            tree.diff_apply(&reverse)
                .map_err(|e| CommitError::Invalid(e.into()))?;
        }
        Ok(())
    }
}
