//! The kept commits and how to go back to one.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use yang2::data::{Data, DataDiff, DataFormat, DataPrinterFlags, DataTree};

use crate::ModelError;

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
    /// The client's address, when it came over the network.
    pub source: Option<std::net::IpAddr>,
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
            source: who.source,
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

    /// Writes the kept commits into `tree` as `/ocbgp:commit-history`
    /// (when a read of `path` reaches it).
    pub(super) fn write_state(
        &self,
        tree: &mut DataTree<'static>,
        path: &str,
    ) -> Result<(), ModelError> {
        const ROOT: &str = "/ocbgp:commit-history";
        if !super::reaches(path, ROOT) {
            return Ok(());
        }
        for kept in &self.kept {
            let r = &kept.record;
            let entry = format!("{ROOT}/commit[id='{}']", r.id);
            tree.new_path(&entry, None, false)?;
            let mut leaf = |name: &str, value: &str| {
                tree.new_path(&format!("{entry}/{name}"), Some(value), false)
                    .map(|_| ())
            };
            leaf("time", &date_and_time(r.time))?;
            leaf("origin", r.origin.as_str())?;
            if let Some(user) = r.user.as_deref().filter(|u| !u.is_empty()) {
                leaf("user", user)?;
            }
            if let Some(source) = r.source {
                leaf("source-address", &source.to_string())?;
            }
            if let Some(comment) = &r.comment {
                leaf("comment", comment)?;
            }
            let changes = u32::try_from(r.changes).unwrap_or(u32::MAX);
            leaf("number-of-changes", &changes.to_string())?;
        }
        Ok(())
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

/// A time as YANG's date-and-time, in UTC (`2026-11-26T16:40:00Z`).
pub fn date_and_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn date_and_time_is_rfc3339_utc() {
        assert_eq!(date_and_time(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            date_and_time(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "2024-02-29T12:34:56Z"
        );
    }
}
