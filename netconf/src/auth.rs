//! Who may open a NETCONF session: the users of the running configuration,
//! `/ocbgp:management/users/user[name]/config`, by password or by SSH
//! public key.
//!
//! A password is a crypt(3) SHA-256 (`$5$`) or SHA-512 (`$6$`) hash. A
//! value `$0$` followed by clear text is compared as clear text: that is
//! for tests and labs only (anyone who can read the configuration can
//! read the password). Public keys are the `authorized-key` entries, in
//! OpenSSH one-line form (`ssh-ed25519 AAAA... comment`).

use ocbgp_models::config::Config;
use russh::keys::PublicKey;
use sha_crypt::{PasswordVerifier, ShaCrypt};

/// Whether a user name can be a configured one (the schema's pattern); it
/// also keeps quotes and NUL out of the data paths built from it.
pub fn plausible_name(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn user_path(user: &str) -> String {
    format!("/ocbgp:management/users/user[name='{user}']/config")
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

/// Whether `user` is configured with `password`. Runs a password hash, so
/// callers keep it off the async runtime's threads.
pub fn password_ok(running: &Config, user: &str, password: &str) -> bool {
    if !plausible_name(user) || password.contains('\0') {
        return false;
    }
    match running.value(&format!("{}/password", user_path(user))) {
        Some(stored) => verify_password(password, &stored),
        None => false,
    }
}

/// Whether `key` is one of `user`'s authorized keys.
pub fn key_ok(running: &Config, user: &str, key: &PublicKey) -> bool {
    if !plausible_name(user) {
        return false;
    }
    let tree = running.tree();
    if tree.reference().is_none() {
        return false;
    }
    let Ok(set) = ocbgp_models::ly::find(tree, &format!("{}/authorized-key", user_path(user)))
    else {
        return false;
    };
    set.iter()
        .filter_map(|n| n.value_canonical())
        .filter_map(|line| PublicKey::from_openssh(line.trim()).ok())
        .any(|k| k.key_data() == key.key_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        // From `openssl passwd -5 -salt saltsalt secret` and `-6`.
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
    }
}
