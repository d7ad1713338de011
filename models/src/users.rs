//! The management users, `/ocbgp:management/users/user[name]/config`: the
//! one place that knows how a user name, password or key is checked. gNMI
//! and NETCONF both authenticate through it, against the running
//! configuration at each login, so a commit that adds, changes or removes
//! a user takes effect at the next login on both doors.
//!
//! A password is a crypt(3) SHA-256 (`$5$`) or SHA-512 (`$6$`) hash. A
//! value `$0$` followed by clear text is hashed (SHA-512 crypt, a random
//! salt) when it is committed ([`hash_clear_passwords`]): the clear text is
//! never stored, saved or read back.

use sha_crypt::password_hash::PasswordHasher;
use sha_crypt::{PasswordVerifier, ShaCrypt};
use yang2::data::DataTree;

use crate::config::Config;

/// The users list.
pub const USERS_PATH: &str = "/ocbgp:management/users/user";

/// Whether a user name can be a configured one (the schema's pattern); it
/// also keeps quotes and NUL out of the data paths built from it.
pub fn plausible_name(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The configuration container of `user` (a plausible name).
fn user_path(user: &str) -> String {
    format!("{USERS_PATH}[name='{user}']/config")
}

/// Whether `password` matches `stored`: a `$5$`/`$6$` crypt(3) hash, or
/// `$0$` and clear text. Anything else matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    if let Some(clear) = stored.strip_prefix("$0$") {
        return constant_time_eq(clear.as_bytes(), password.as_bytes());
    }
    if !(stored.starts_with("$5$") || stored.starts_with("$6$")) {
        return false;
    }
    ShaCrypt::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `user` is configured in `running` with `password`. Runs a
/// password hash, so callers keep it off the async runtime's threads.
pub fn password_ok(running: &Config, user: &str, password: &str) -> bool {
    if !plausible_name(user) || password.contains('\0') {
        return false;
    }
    match running.value(&format!("{}/password", user_path(user))) {
        Some(stored) => verify_password(password, &stored),
        None => false,
    }
}

/// The user a client certificate (DER) logs in as: its subject's common
/// name, when that can be a user name. The certificate's signature and
/// dates are checked by TLS before this is asked; whether the user is
/// configured is the caller's question.
pub fn certificate_user(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the client certificate does not parse: {e}"))?;
    let name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or("the client certificate's subject has no common name")?;
    if !plausible_name(name) {
        return Err(format!(
            "the client certificate's common name {name:?} cannot be a user name"
        ));
    }
    Ok(name.to_string())
}

/// `user`'s authorized SSH keys, as configured (OpenSSH one-line form).
pub fn authorized_keys(running: &Config, user: &str) -> Vec<String> {
    if !plausible_name(user) {
        return Vec::new();
    }
    let tree = running.tree();
    if tree.reference().is_none() {
        return Vec::new();
    }
    let Ok(set) = crate::ly::find(tree, &format!("{}/authorized-key", user_path(user))) else {
        return Vec::new();
    };
    set.iter()
        .filter_map(|n| n.value_canonical())
        .map(|line| line.trim().to_string())
        .collect()
}

/// The names of the configured users.
pub fn names(running: &Config) -> Vec<String> {
    let tree = running.tree();
    if tree.reference().is_none() {
        return Vec::new();
    }
    let Ok(set) = crate::ly::find(tree, &format!("{USERS_PATH}/name")) else {
        return Vec::new();
    };
    set.iter().filter_map(|n| n.value_canonical()).collect()
}

/// The first configured password no login can match (not `$5$`, `$6$` or
/// `$0$`), as its data path and the reason: a configuration that has one
/// is refused rather than locking the user out silently.
pub fn check_passwords(running: &Config) -> Result<(), (String, String)> {
    for user in names(running) {
        let path = format!("{}/password", user_path(&user));
        let Some(stored) = running.value(&path) else {
            continue;
        };
        if !(stored.starts_with("$5$") || stored.starts_with("$6$") || stored.starts_with("$0$")) {
            return Err((
                path,
                "a password is a crypt(3) SHA-256 ($5$...) or SHA-512 ($6$...) hash, or $0$ and clear text (labs only)".into(),
            ));
        }
    }
    Ok(())
}

/// Replaces every `$0$` clear-text password in `tree` by its SHA-512
/// crypt(3) hash; how many it replaced.
pub fn hash_clear_passwords(tree: &mut DataTree<'static>) -> Result<usize, crate::ModelError> {
    let xpath = format!("{USERS_PATH}/config/password");
    let clear: Vec<(String, String)> = crate::ly::find(tree, &xpath)
        .map_err(crate::ModelError::general)?
        .iter()
        .filter_map(|n| {
            let v = n.value_canonical()?;
            let text = v.strip_prefix("$0$")?.to_string();
            Some((crate::ly::node_path(n), text))
        })
        .collect();
    for (path, text) in &clear {
        let hash = ShaCrypt::default()
            .hash_password(text.as_bytes())
            .map_err(|e| crate::ModelError::general(format!("cannot hash a password: {e}")))?
            .to_string();
        tree.remove(path)?;
        tree.new_path(path, Some(&hash), false)?;
    }
    Ok(clear.len())
}

/// Failed logins per user name and per source address, for the delay
/// before the next refusal and the lockout of a source.
static FAILURES: std::sync::Mutex<
    Option<std::collections::HashMap<FailureKey, (u32, std::time::Instant)>>,
> = std::sync::Mutex::new(None);

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FailureKey {
    /// A user name ("" for every name that cannot be a user).
    User(String),
    /// A source address (`None` for sources beyond [`MAX_TRACKED`]).
    Source(Option<std::net::IpAddr>),
}

/// Failures are forgotten after this long without one.
const FAILURE_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

/// Failures from one address within [`FAILURE_MEMORY`] that lock it out.
pub const LOCKOUT_AFTER: u32 = 10;

/// Distinct names and addresses counted; beyond, they share an entry.
const MAX_TRACKED: usize = 4096;

/// The keys a login attempt counts against.
fn failure_keys(
    map: &std::collections::HashMap<FailureKey, (u32, std::time::Instant)>,
    user: &str,
    from: Option<std::net::IpAddr>,
) -> [FailureKey; 2] {
    let user = FailureKey::User(if plausible_name(user) { user } else { "" }.to_string());
    let source = FailureKey::Source(from);
    let full = map.len() >= MAX_TRACKED;
    [
        if full && !map.contains_key(&user) {
            FailureKey::User(String::new())
        } else {
            user
        },
        if full && !map.contains_key(&source) {
            FailureKey::Source(None)
        } else {
            source
        },
    ]
}

/// A login of `user` from `from` failed: how long to wait before
/// answering, so that guessing passwords is slow on every door alike
/// (gNMI, NETCONF). It doubles with each failure in a row of the user
/// name or of the source, whichever has more, from 250 ms up to 8 s; a
/// success ([`login_succeeded`]) or ten minutes without a failure start
/// over. The [`LOCKOUT_AFTER`]th failure from one address locks it out
/// ([`locked_out`]). Every failure is logged with the door (`gNMI`,
/// `NETCONF`), the user name tried and the source address, and kept in
/// the audit trail ([`crate::audit`]).
pub fn login_failed(door: &str, user: &str, from: Option<std::net::IpAddr>) -> std::time::Duration {
    let source = from.map(|a| a.to_string()).unwrap_or_default();
    tracing::warn!(door, %user, source, "login failed");
    crate::audit::record(
        crate::audit::Kind::LoginFailed,
        door,
        user,
        from,
        "authentication failed",
    );
    let mut guard = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(Default::default);
    let now = std::time::Instant::now();
    map.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_MEMORY);
    let mut most = 0;
    for key in failure_keys(map, user, from) {
        let e = map.entry(key.clone()).or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = now;
        most = most.max(e.0);
        if let (FailureKey::Source(Some(source)), LOCKOUT_AFTER) = (&key, e.0) {
            tracing::warn!(%source, failures = LOCKOUT_AFTER, minutes = FAILURE_MEMORY.as_secs() / 60, "login: source locked out after failed logins");
        }
    }
    std::time::Duration::from_millis(250u64 << (most - 1).min(5))
}

/// Whether `from` is locked out: [`LOCKOUT_AFTER`] failed logins from it
/// within the last ten minutes. Its logins are refused, right password or
/// not, until ten minutes pass without a failure.
pub fn locked_out(from: Option<std::net::IpAddr>) -> bool {
    let Some(from) = from else { return false };
    let guard = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .and_then(|m| m.get(&FailureKey::Source(Some(from))))
        .is_some_and(|(n, at)| *n >= LOCKOUT_AFTER && at.elapsed() < FAILURE_MEMORY)
}

/// A source address locked out ([`locked_out`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// The address.
    pub address: std::net::IpAddr,
    /// Failed logins from it that count.
    pub failures: u32,
    /// When the last one was.
    pub last: std::time::SystemTime,
    /// When the lockout ends without another failure.
    pub until: std::time::SystemTime,
}

/// The sources locked out now, by address.
pub fn lockouts() -> Vec<Lockout> {
    let guard = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let now = std::time::SystemTime::now();
    let mut out: Vec<Lockout> = guard
        .iter()
        .flatten()
        .filter_map(|(key, (n, at))| match key {
            FailureKey::Source(Some(address))
                if *n >= LOCKOUT_AFTER && at.elapsed() < FAILURE_MEMORY =>
            {
                let last = now - at.elapsed();
                Some(Lockout {
                    address: *address,
                    failures: *n,
                    last,
                    until: last + FAILURE_MEMORY,
                })
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|l| l.address);
    out
}

/// Writes [`lockouts`] into `tree` as
/// `/ocbgp:management/login-lockouts` (when a read of `path` reaches it).
pub fn write_lockouts(tree: &mut DataTree<'static>, path: &str) -> Result<(), crate::ModelError> {
    const ROOT: &str = "/ocbgp:management/login-lockouts";
    if !crate::datastore::reaches(path, ROOT) {
        return Ok(());
    }
    for l in lockouts() {
        let entry = format!("{ROOT}/source[address='{}']", l.address);
        tree.new_path(&entry, None, false)?;
        let time = crate::datastore::date_and_time;
        for (leaf, value) in [
            ("failed-logins", l.failures.to_string()),
            ("last-failure", time(l.last)),
            ("locked-until", time(l.until)),
        ] {
            tree.new_path(&format!("{entry}/{leaf}"), Some(&value), false)?;
        }
    }
    Ok(())
}

/// How long a locked-out attempt waits before its refusal.
pub const LOCKED_OUT_DELAY: std::time::Duration = std::time::Duration::from_secs(8);

/// A login of `user` from `from` succeeded: the failures of both are
/// forgotten.
pub fn login_succeeded(user: &str, from: Option<std::net::IpAddr>) {
    if let Some(map) = FAILURES.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        map.remove(&FailureKey::User(user.to_string()));
        map.remove(&FailureKey::Source(from));
    }
}

/// Whether `user` is configured.
pub fn exists(running: &Config, user: &str) -> bool {
    plausible_name(user)
        && running
            .value(&format!("{USERS_PATH}[name='{user}']/name"))
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_locked_out_after_failed_logins_and_freed_by_a_success() {
        let (a, b) = (
            Some("192.0.2.201".parse().unwrap()),
            Some("192.0.2.202".parse().unwrap()),
        );
        let mut last = std::time::Duration::ZERO;
        for i in 1..=LOCKOUT_AFTER {
            assert!(!locked_out(a), "locked after {} failures", i - 1);
            // Each try under another name: the source's count decides.
            last = login_failed("gNMI", &format!("lockout-test-{i}"), a);
        }
        assert_eq!(last, std::time::Duration::from_secs(8));
        assert!(locked_out(a));
        let listed = lockouts();
        let mine = listed
            .iter()
            .find(|l| Some(l.address) == a)
            .expect("listed");
        assert_eq!(mine.failures, LOCKOUT_AFTER);
        assert!(mine.until > mine.last);
        assert!(!listed.iter().any(|l| Some(l.address) == b));
        assert!(!locked_out(b), "another source is not");
        assert!(!locked_out(None));
        login_succeeded("lockout-test-1", a);
        assert!(!locked_out(a));
    }

    #[test]
    fn passwords() {
        // From `openssl passwd -5 -salt saltsalt secret` and `-6`.
        let mut tree = Config::parse(
            r#"{"ocbgp:management": {"users": {"user": [{"name": "a",
               "config": {"name": "a", "password": "$0$clear text"}}]}}}"#,
            crate::config::Encoding::Json,
        )
        .unwrap()
        .into_tree();
        assert_eq!(hash_clear_passwords(&mut tree).unwrap(), 1);
        let config = Config::from_tree(tree).unwrap();
        let stored = config
            .value(&format!("{}/password", user_path("a")))
            .unwrap();
        assert!(stored.starts_with("$6$"), "{stored}");
        assert!(verify_password("clear text", &stored));
        let sha256 = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        let sha512 = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        assert!(verify_password("secret", sha256));
        assert!(verify_password("secret", sha512));
        assert!(!verify_password("Secret", sha512));
        assert!(verify_password("lab", "$0$lab"));
        assert!(!verify_password("la", "$0$lab"));
        assert!(!verify_password("secret", "secret"));
        assert!(!verify_password("secret", "$1$saltsalt$abc"));
        assert!(plausible_name("admin.ops-1"));
        assert!(!plausible_name("a'b"));
        assert!(!plausible_name("a\0b"));
    }
}
