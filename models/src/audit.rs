//! The audit trail beside the commits: management events that change
//! nothing in the configuration but matter to whoever reviews access
//! (failed logins, refused commits and operations, session resets), kept
//! in `/ocbgp:commit-history/event` with their user, source address and
//! door, and logged. The commits themselves are `commit-history/commit`.
//!
//! The last [`KEPT`] events since the daemon started are kept, in memory:
//! a burst of failed logins cannot grow it.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;

use yang2::data::DataTree;

use crate::ModelError;

/// Events kept.
pub const KEPT: usize = 1000;

/// What happened (`commit-history/event/kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A login was refused.
    LoginFailed,
    /// A commit was refused (invalid, refused by the engine, access
    /// control, a lock).
    CommitRefused,
    /// Access control refused a protocol operation.
    OperationDenied,
    /// A BGP session was reset on request (gNOI ClearBGPNeighbor).
    NeighborReset,
}

impl Kind {
    /// The enumeration's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LoginFailed => "LOGIN_FAILED",
            Kind::CommitRefused => "COMMIT_REFUSED",
            Kind::OperationDenied => "OPERATION_DENIED",
            Kind::NeighborReset => "NEIGHBOR_RESET",
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increasing by one per event since the daemon started.
    pub sequence: u64,
    /// When.
    pub time: SystemTime,
    /// What.
    pub kind: Kind,
    /// The door: `GNMI`, `GNOI`, `NETCONF`, or a commit's origin.
    pub door: String,
    /// The user name given or authenticated ("" when none).
    pub user: String,
    /// The client's address.
    pub source: Option<IpAddr>,
    /// Why, or what, in words.
    pub detail: String,
}

static EVENTS: Mutex<(u64, VecDeque<Event>)> = Mutex::new((0, VecDeque::new()));

/// Keeps an event (the caller logs it in its own words).
pub fn record(kind: Kind, door: &str, user: &str, source: Option<IpAddr>, detail: &str) {
    let mut guard = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    let (next, events) = &mut *guard;
    *next += 1;
    if events.len() == KEPT {
        events.pop_front();
    }
    events.push_back(Event {
        sequence: *next,
        time: SystemTime::now(),
        kind,
        door: door.to_ascii_uppercase(),
        user: user.to_string(),
        source,
        detail: detail.to_string(),
    });
}

/// The events kept, oldest first.
pub fn events() -> Vec<Event> {
    let guard = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    guard.1.iter().cloned().collect()
}

/// Writes the events into `tree` when a read of `path` reaches them.
pub fn write_state(tree: &mut DataTree<'static>, path: &str) -> Result<(), ModelError> {
    const ROOT: &str = "/ocbgp:commit-history";
    if !crate::datastore::reaches(path, ROOT) {
        return Ok(());
    }
    for e in events() {
        let entry = format!("{ROOT}/event[sequence='{}']", e.sequence);
        tree.new_path(&entry, None, false)?;
        let mut leaf = |name: &str, value: &str| {
            tree.new_path(&format!("{entry}/{name}"), Some(value), false)
                .map(|_| ())
        };
        leaf("time", &crate::datastore::date_and_time(e.time))?;
        leaf("kind", e.kind.as_str())?;
        leaf("door", &e.door)?;
        if !e.user.is_empty() {
            leaf("user", &e.user)?;
        }
        if let Some(source) = e.source {
            leaf("source-address", &source.to_string())?;
        }
        leaf("detail", &e.detail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_in_order_and_bounded() {
        let source = Some("192.0.2.77".parse().unwrap());
        for i in 0..KEPT + 5 {
            record(
                Kind::LoginFailed,
                "GNMI",
                "audit-test",
                source,
                &format!("try {i}"),
            );
        }
        let mine: Vec<Event> = events()
            .into_iter()
            .filter(|e| e.user == "audit-test")
            .collect();
        assert!(mine.len() <= KEPT);
        assert_eq!(mine.last().map(|e| e.detail.as_str()), Some("try 1004"));
        assert!(mine.windows(2).all(|w| w[0].sequence < w[1].sequence));
        let mut tree = DataTree::new(crate::schema::context());
        write_state(&mut tree, "/ocbgp:commit-history").unwrap();
        let last = mine.last().unwrap().sequence;
        let at = format!("/ocbgp:commit-history/event[sequence='{last}']");
        let kind = crate::ly::find(&tree, &format!("{at}/kind")).unwrap();
        assert_eq!(kind[0].value_canonical().as_deref(), Some("LOGIN_FAILED"));
        let user = crate::ly::find(&tree, &format!("{at}/source-address")).unwrap();
        assert_eq!(user[0].value_canonical().as_deref(), Some("192.0.2.77"));
    }
}
