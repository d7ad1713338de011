//! What every daemon helper answers, and the bounded waits built on it.

use super::process::Process;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::route::{describe, pick, Family, Route};

/// The BGP FSM state of one session (RFC 4271 section 8.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Idle.
    Idle,
    /// Connect.
    Connect,
    /// Active.
    Active,
    /// OpenSent.
    OpenSent,
    /// OpenConfirm.
    OpenConfirm,
    /// Established.
    Established,
    /// A state the helper could not map (text as the daemon printed it).
    Other(String),
}

impl SessionState {
    /// From a state name in any spelling ("Established", "ESTABLISHED",
    /// "BGP_FSM_ESTABLISHED", "OpenSent", "OPEN_SENT").
    pub fn from_name(name: &str) -> SessionState {
        let key: String = name
            .trim_start_matches("BGP_FSM_")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "idle" => SessionState::Idle,
            "connect" => SessionState::Connect,
            "active" => SessionState::Active,
            "opensent" => SessionState::OpenSent,
            "openconfirm" => SessionState::OpenConfirm,
            "established" => SessionState::Established,
            _ => SessionState::Other(name.to_string()),
        }
    }
}

/// What a speaker counted as received from one neighbor on the current
/// session, for "no withdraw during the restart" checks at a sink whose own
/// session stays up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivedCounts {
    /// Announcements: UPDATE messages (gobgpd) or imported route updates
    /// received, per prefix (BIRD, all channels summed).
    pub updates: u64,
    /// Withdrawn prefixes received (gobgpd: `withdraw_prefix`; BIRD: import
    /// withdraws received, all channels summed).
    pub withdraws: u64,
}

/// A running BGP speaker in the lab, queried through its own tools.
///
/// The `try_` methods report failures as text (daemon not answering yet,
/// neighbor unknown); the others panic with the daemon's log attached, and
/// every wait is bounded by the timeout given.
pub trait BgpSpeaker {
    /// The daemon's (main) process.
    fn process(&self) -> &Process;

    /// "gobgpd in r1", for messages.
    fn describe(&self) -> String {
        self.process().name().to_string()
    }

    /// The daemon's log (all of it that the helper collects).
    fn log(&self) -> String {
        self.process().log()
    }

    /// Whether the daemon's process(es) still run.
    fn running(&self) -> bool {
        self.process().running()
    }

    /// The session state with `neighbor`.
    fn try_session_state(&self, neighbor: IpAddr) -> Result<SessionState, String>;

    /// The speaker's routing table (Loc-RIB) for `family`: every path it
    /// holds, its own originated routes included.
    fn try_routes(&self, family: Family) -> Result<Vec<Route>, String>;

    /// Panics with `message`, the log's tail attached.
    fn fail(&self, message: &str) -> ! {
        panic!(
            "{}: {message}\n--- log of {} (last 80 lines) ---\n{}\n--- end of log ---",
            self.describe(),
            self.describe(),
            super::process::tail(&self.log(), 80)
        )
    }

    /// The session state with `neighbor`; panics if it cannot be read.
    fn session_state(&self, neighbor: IpAddr) -> SessionState {
        self.try_session_state(neighbor)
            .unwrap_or_else(|e| self.fail(&e))
    }

    /// Whether the session with `neighbor` is established now.
    fn established(&self, neighbor: IpAddr) -> bool {
        matches!(
            self.try_session_state(neighbor),
            Ok(SessionState::Established)
        )
    }

    /// The routing table for `family`; panics if it cannot be read.
    fn routes(&self, family: Family) -> Vec<Route> {
        self.try_routes(family).unwrap_or_else(|e| self.fail(&e))
    }

    /// The best (or only) path to `prefix`, if any.
    fn route(&self, prefix: &str) -> Option<Route> {
        pick(&self.routes(Family::of(prefix)), prefix).cloned()
    }

    /// Waits until the session with `neighbor` is established.
    fn wait_established(&self, neighbor: IpAddr, timeout: Duration) {
        let mut last = Err("not asked yet".to_string());
        poll(
            timeout,
            || self.running(),
            &format!("session with {neighbor} to be established"),
            || {
                last = self.try_session_state(neighbor);
                matches!(last, Ok(SessionState::Established))
            },
        )
        .unwrap_or_else(|e| self.fail(&format!("{e}; last state: {last:?}")));
    }

    /// Waits until the best path to `prefix` has exactly `want` as its
    /// AS_PATH (`None`: until there is no path to it); `what` names the
    /// step in the panic message.
    fn wait_as_path(&self, prefix: &str, want: Option<&[u32]>, timeout: Duration, what: &str) {
        let mut got = None;
        poll(
            timeout,
            || self.running(),
            &format!("{what}: AS_PATH of {prefix} to be {want:?}"),
            || {
                got = self
                    .try_routes(Family::of(prefix))
                    .ok()
                    .map(|r| pick(&r, prefix).map(|r| r.as_path.clone()));
                matches!(&got, Some(p) if p.as_deref() == want)
            },
        )
        .unwrap_or_else(|e| self.fail(&format!("{e}; last seen: {got:?}")));
    }

    /// Waits until the session with `neighbor` is anything but established.
    fn wait_not_established(&self, neighbor: IpAddr, timeout: Duration) {
        poll(
            timeout,
            || self.running(),
            &format!("session with {neighbor} to go down"),
            || matches!(self.try_session_state(neighbor), Ok(s) if s != SessionState::Established),
        )
        .unwrap_or_else(|e| self.fail(&e));
    }

    /// Waits until a path to `prefix` is in the table and returns the best.
    fn wait_route(&self, prefix: &str, timeout: Duration) -> Route {
        let family = Family::of(prefix);
        let mut last = Err("not asked yet".to_string());
        let mut found = None;
        poll(
            timeout,
            || self.running(),
            &format!("a route to {prefix}"),
            || {
                last = self.try_routes(family);
                found = last.as_ref().ok().and_then(|r| pick(r, prefix).cloned());
                found.is_some()
            },
        )
        .unwrap_or_else(|e| self.fail(&format!("{e}; table now:\n{}", table_text(&last))));
        found.expect("route found")
    }

    /// Waits until the best path to `prefix` satisfies `check` and returns it.
    fn wait_route_matching(
        &self,
        prefix: &str,
        timeout: Duration,
        check: &dyn Fn(&Route) -> bool,
    ) -> Route {
        let family = Family::of(prefix);
        let mut last = Err("not asked yet".to_string());
        let mut found = None;
        poll(
            timeout,
            || self.running(),
            &format!("a matching route to {prefix}"),
            || {
                last = self.try_routes(family);
                found = last
                    .as_ref()
                    .ok()
                    .and_then(|r| pick(r, prefix).cloned())
                    .filter(|r| check(r));
                found.is_some()
            },
        )
        .unwrap_or_else(|e| self.fail(&format!("{e}; table now:\n{}", table_text(&last))));
        found.expect("route found")
    }

    /// Waits until no path to `prefix` is left.
    fn wait_no_route(&self, prefix: &str, timeout: Duration) {
        let family = Family::of(prefix);
        let mut last = Err("not asked yet".to_string());
        poll(
            timeout,
            || self.running(),
            &format!("the route to {prefix} to go"),
            || {
                last = self.try_routes(family);
                matches!(&last, Ok(r) if pick(r, prefix).is_none())
            },
        )
        .unwrap_or_else(|e| self.fail(&format!("{e}; table now:\n{}", table_text(&last))));
    }
}

/// Polls `cond` every 50 ms until it holds; Err (with what was awaited) on
/// timeout, or at once when `running` says the daemon has exited.
fn poll(
    timeout: Duration,
    running: impl Fn() -> bool,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(());
        }
        if !running() {
            return Err(format!("exited while waiting for {what}"));
        }
        if start.elapsed() >= timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn table_text(last: &Result<Vec<Route>, String>) -> String {
    match last {
        Ok(routes) => describe(routes),
        Err(e) => format!("  (query failed: {e})"),
    }
}
