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

/// Failed logins per user name, for the delay before the next refusal.
static FAILURES: std::sync::Mutex<
    Option<std::collections::HashMap<String, (u32, std::time::Instant)>>,
> = std::sync::Mutex::new(None);

/// Failures are forgotten after this long without one.
const FAILURE_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

/// A login of `user` failed: how long to wait before answering, so that
/// guessing passwords is slow on every door alike (gNMI, NETCONF). It
/// doubles with each failure in a row, from 250 ms up to 8 s; a success
/// ([`login_succeeded`]) or ten minutes without a failure start over.
pub fn login_failed(user: &str) -> std::time::Duration {
    let mut guard = FAILURES.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(Default::default);
    let now = std::time::Instant::now();
    map.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_MEMORY);
    // Bounded: names that are not users share one entry.
    let key = if plausible_name(user) { user } else { "" };
    let e = map.entry(key.to_string()).or_insert((0, now));
    e.0 = e.0.saturating_add(1);
    e.1 = now;
    std::time::Duration::from_millis(250u64 << (e.0 - 1).min(5))
}

/// A login of `user` succeeded: its failures are forgotten.
pub fn login_succeeded(user: &str) {
    if let Some(map) = FAILURES.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        map.remove(user);
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
