//! Authentication: the `username` and `password` metadata of every RPC
//! (gNMI 3.1), checked by an [`Authenticator`] the daemon supplies.
//!
//! [`ConfigUsers`] checks against the users of the running configuration,
//! `/ocbgp:management/users/user[name]/config/password`, through the user
//! store NETCONF uses too ([`ocbgp_models::users`]), at every RPC: a user
//! added, changed or removed by a commit counts from the next RPC. While
//! no user is configured it does not enforce authentication (the server is
//! then on loopback only: see [`crate::server`] and the daemon's commit
//! checks). A server without an authenticator accepts every RPC.

use std::sync::Arc;

use ocbgp_models::datastore::Datastore;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// Metadata key of the user name.
pub const USERNAME: &str = "username";
/// Metadata key of the password.
pub const PASSWORD: &str = "password";

/// Checks user names and passwords.
pub trait Authenticator: Send + Sync + 'static {
    /// Whether `password` is `user`'s password. Runs off the async runtime,
    /// so it may take time (password hashing does).
    fn verify(&self, user: &str, password: &str) -> bool;

    /// Whether RPCs must authenticate now; when not, the user name, if
    /// any, is taken as given.
    fn enforced(&self) -> bool {
        true
    }

    /// Whether `user` is a user: asked after every commit of users who
    /// opened something (a subscription ends once its user is removed),
    /// and at a login by client certificate (whose common name must be a
    /// user).
    fn still_valid(&self, user: &str) -> bool {
        let _ = user;
        true
    }
}

/// Whether `password` matches a crypt(3) hash of the SHA-crypt family
/// (`$5$...` or `$6$...`, with or without `rounds=`). Other hash forms do
/// not match.
pub fn verify_crypt(password: &str, hash: &str) -> bool {
    (hash.starts_with("$5$") || hash.starts_with("$6$"))
        && ocbgp_models::users::verify_password(password, hash)
}

/// The users of the running configuration.
pub struct ConfigUsers {
    store: Arc<Datastore>,
}

impl ConfigUsers {
    /// Users as the datastore's running configuration has them, at each
    /// check (a commit that changes a password takes effect at once).
    pub fn new(store: Arc<Datastore>) -> ConfigUsers {
        ConfigUsers { store }
    }
}

impl Authenticator for ConfigUsers {
    fn verify(&self, user: &str, password: &str) -> bool {
        ocbgp_models::users::password_ok(&self.store.running(), user, password)
    }

    fn enforced(&self) -> bool {
        !ocbgp_models::users::names(&self.store.running()).is_empty()
    }

    fn still_valid(&self, user: &str) -> bool {
        ocbgp_models::users::exists(&self.store.running(), user)
    }
}

impl<F> Authenticator for F
where
    F: Fn(&str, &str) -> bool + Send + Sync + 'static,
{
    fn verify(&self, user: &str, password: &str) -> bool {
        self(user, password)
    }
}

fn metadata_text<'m>(metadata: &'m MetadataMap, key: &str) -> Result<Option<&'m str>, Status> {
    match metadata.get(key) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| Status::unauthenticated(format!("metadata {key} is not text"))),
    }
}

/// Who sent an RPC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// The user name: authenticated, or as given when authentication is
    /// not enforced (kept in the commit record).
    pub user: Option<String>,
    /// Whether `user` authenticated; access control judges only those.
    pub authenticated: bool,
    /// The client's address.
    pub source: Option<std::net::IpAddr>,
}

impl Login {
    /// The user access control judges (`None`: not judged).
    pub fn judged(&self) -> Option<&str> {
        self.user.as_deref().filter(|_| self.authenticated)
    }

    /// Whether the user may run the `module` RPC `rpc` (NACM `exec`;
    /// gNMI's RPCs are module `gnmi`, gNOI's their service's package):
    /// `PermissionDenied` when not.
    pub fn may_run(&self, store: &Datastore, module: &str, rpc: &str) -> Result<(), Status> {
        store.access(self.judged()).exec(module, rpc).map_err(|d| {
            let door = if module == "gnmi" { "GNMI" } else { "GNOI" };
            let user = self.user.as_deref().unwrap_or("");
            tracing::warn!(door, user, source = ?self.source, error = %d, "operation refused");
            ocbgp_models::audit::record(
                ocbgp_models::audit::Kind::OperationDenied,
                door,
                user,
                self.source,
                &d.to_string(),
            );
            Status::permission_denied(d.to_string())
        })
    }
}

/// Authenticates an RPC: by its client certificate (mutual TLS, when the
/// server asks for one) or by its `username` and `password` metadata.
pub(crate) async fn authenticate_request<T>(
    authenticator: Option<&Arc<dyn Authenticator>>,
    request: &tonic::Request<T>,
) -> Result<Login, Status> {
    let certs = request.peer_certs();
    let certificate = certs.as_ref().and_then(|c| c.first()).map(|c| c.as_ref());
    let from = request.remote_addr().map(|a| a.ip());
    let login = authenticate(authenticator, request.metadata(), certificate, from).await?;
    crate::admission::logged_in(request.local_addr(), request.remote_addr());
    Ok(login)
}

/// Authenticates an RPC. With an authenticator, a client certificate
/// (DER, verified by TLS) logs in as the user its common name names, which
/// must be a user (and the `username` metadata, if any, the same);
/// without a certificate, `username` and `password` must be present and
/// match (`Unauthenticated` otherwise, the same for an unknown user and a
/// wrong password). Without an authenticator the user name, if any, is
/// taken as given, unauthenticated.
pub(crate) async fn authenticate(
    authenticator: Option<&Arc<dyn Authenticator>>,
    metadata: &MetadataMap,
    certificate: Option<&[u8]>,
    from: Option<std::net::IpAddr>,
) -> Result<Login, Status> {
    let user = metadata_text(metadata, USERNAME)?.map(str::to_string);
    let Some(authenticator) = authenticator.filter(|a| a.enforced()) else {
        return Ok(Login {
            user,
            authenticated: false,
            source: from,
        });
    };
    if let Some(der) = certificate {
        return by_certificate(authenticator, der, user, from).await;
    }
    let password = metadata_text(metadata, PASSWORD)?.map(str::to_string);
    let (Some(user), Some(password)) = (user, password) else {
        return Err(Status::unauthenticated(
            "this gNMI server requires username and password metadata",
        ));
    };
    refuse_locked_out(&user, from).await?;
    let check = authenticator.clone();
    let name = user.clone();
    let ok = tokio::task::spawn_blocking(move || check.verify(&name, &password))
        .await
        .unwrap_or(false);
    if ok {
        ocbgp_models::users::login_succeeded(&user, from);
        Ok(Login {
            user: Some(user),
            authenticated: true,
            source: from,
        })
    } else {
        // Logged there; guessing is slow (the same delay as NETCONF's).
        tokio::time::sleep(ocbgp_models::users::login_failed("gNMI", &user, from)).await;
        Err(Status::unauthenticated("authentication failed"))
    }
}

/// Refuses (after the lockout delay) a login from a locked-out source.
async fn refuse_locked_out(user: &str, from: Option<std::net::IpAddr>) -> Result<(), Status> {
    if !ocbgp_models::users::locked_out(from) {
        return Ok(());
    }
    tracing::info!(%user, from = ?from, "gNMI login refused: source locked out");
    tokio::time::sleep(ocbgp_models::users::LOCKED_OUT_DELAY).await;
    Err(Status::unauthenticated(
        "too many failed logins from this address: try again in ten minutes",
    ))
}

/// A login by client certificate: the user is its common name, which
/// must be a user; a `username` given as well must be the same.
async fn by_certificate(
    authenticator: &Arc<dyn Authenticator>,
    der: &[u8],
    claimed: Option<String>,
    from: Option<std::net::IpAddr>,
) -> Result<Login, Status> {
    let user = ocbgp_models::users::certificate_user(der).map_err(Status::unauthenticated)?;
    refuse_locked_out(&user, from).await?;
    // (Some clients send an empty username with a certificate.)
    let claimed = claimed.filter(|c| !c.is_empty());
    let refusal = if claimed.as_ref().is_some_and(|c| *c != user) {
        Some("the username metadata is not the client certificate's user")
    } else if !authenticator.still_valid(&user) {
        Some("the client certificate's user is not configured")
    } else {
        None
    };
    if let Some(reason) = refusal {
        tokio::time::sleep(ocbgp_models::users::login_failed("gNMI", &user, from)).await;
        return Err(Status::unauthenticated(reason));
    }
    ocbgp_models::users::login_succeeded(&user, from);
    Ok(Login {
        user: Some(user),
        authenticated: true,
        source: from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_hashes_verify() {
        // From `openssl passwd -5 -salt saltsalt secret` and `-6`.
        let sha256 = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        let sha512 = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        assert!(verify_crypt("secret", sha256));
        assert!(verify_crypt("secret", sha512));
        assert!(!verify_crypt("Secret", sha512));
        assert!(!verify_crypt("secret", "secret"));
        assert!(!verify_crypt("secret", "$1$saltsalt$abc"));
    }
}
