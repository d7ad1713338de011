//! Who may open a NETCONF session: the users of the running configuration,
//! `/ocbgp:management/users/user[name]/config`, by password or by SSH
//! public key. The user store itself is [`ocbgp_models::users`], shared
//! with gNMI.
//!
//! A password is a crypt(3) SHA-256 (`$5$`) or SHA-512 (`$6$`) hash (a
//! `$0$` clear text is hashed when committed). Public keys are the `authorized-key` entries, in
//! OpenSSH one-line form (`ssh-ed25519 AAAA... comment`).

use ocbgp_models::config::Config;
use russh::keys::PublicKey;

pub use ocbgp_models::users::{password_ok, plausible_name, verify_password};

/// Whether `key` is one of `user`'s authorized keys.
pub fn key_ok(running: &Config, user: &str, key: &PublicKey) -> bool {
    ocbgp_models::users::authorized_keys(running, user)
        .iter()
        .filter_map(|line| PublicKey::from_openssh(line).ok())
        .any(|k| k.key_data() == key.key_data())
}

/// The first configured `authorized-key` that does not parse as an
/// OpenSSH public key, as its user's data path and the reason.
pub fn check_keys(running: &Config) -> Result<(), (String, String)> {
    for user in ocbgp_models::users::names(running) {
        for line in ocbgp_models::users::authorized_keys(running, &user) {
            if let Err(e) = PublicKey::from_openssh(&line) {
                return Err((
                    format!(
                        "{}[name='{user}']/config/authorized-key",
                        ocbgp_models::users::USERS_PATH
                    ),
                    format!("not an OpenSSH public key ({e}): {line}"),
                ));
            }
        }
    }
    Ok(())
}
