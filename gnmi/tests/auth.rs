//! Authentication from metadata, users from the configuration, TLS, and the
//! refusal to expose gNMI beyond loopback without both.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{json_ietf, path, Harness, TempDir};
use ocbgp_gnmi::proto::gnmi::{CapabilityRequest, GetRequest, SetRequest, Update};
use ocbgp_gnmi::{
    Authenticator, ConfigUsers, GnmiServerConfig, GnmiService, ServeError, SubscribeOptions,
};
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};

/// One user, `ops` with password `s3cret`.
fn ops() -> Arc<dyn Authenticator> {
    Arc::new(|user: &str, password: &str| user == "ops" && password == "s3cret")
}

fn with_login<T>(message: T, user: &str, password: &str) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut()
        .insert("username", MetadataValue::try_from(user).unwrap());
    r.metadata_mut()
        .insert("password", MetadataValue::try_from(password).unwrap());
    r
}

#[tokio::test]
async fn metadata_credentials_are_checked() {
    let h = Harness::start_with("auth-closure", SubscribeOptions::default(), Some(ops())).await;
    let mut client = h.client().await;
    let err = client
        .capabilities(CapabilityRequest::default())
        .await
        .expect_err("no credentials");
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .get(with_login(GetRequest::default(), "ops", "wrong"))
        .await
        .expect_err("wrong password");
    assert_eq!(err.code(), Code::Unauthenticated);
    client
        .capabilities(with_login(CapabilityRequest::default(), "ops", "s3cret"))
        .await
        .expect("right credentials");
    // The user is recorded with the commit.
    let set = SetRequest {
        update: vec![Update {
            path: Some(path(&format!(
                "{}/global/config/router-id",
                common::BGP_GNMI
            ))),
            val: Some(json_ietf(r#""192.0.2.33""#)),
            ..Default::default()
        }],
        ..Default::default()
    };
    // Access control: RFC 8341's write-default is deny.
    let err = client
        .set(with_login(set.clone(), "ops", "s3cret"))
        .await
        .expect_err("no rule lets ops write");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("user ops may not update") && err.message().contains("router-id"),
        "{}",
        err.message()
    );
    let commits = h.store.history().len();
    let rules = ocbgp_models::edit::Edit {
        op: ocbgp_models::edit::Operation::Merge,
        path: "/ietf-netconf-acm:nacm/write-default".into(),
        value: Some(("\"permit\"".into(), ocbgp_models::config::Encoding::Json)),
        insert: None,
    };
    let internal =
        ocbgp_models::datastore::Requester::internal(ocbgp_models::datastore::Origin::File);
    h.store.edit_running(&[rules], &internal).expect("rules");
    assert_eq!(h.store.history().len(), commits + 1);
    client
        .set(with_login(set, "ops", "s3cret"))
        .await
        .expect("Set");
    let last = h.store.history().pop().expect("a commit");
    assert_eq!(last.user.as_deref(), Some("ops"), "{last:?}");
    h.stop().await;
}

#[tokio::test]
async fn users_from_the_configuration() {
    let h = Harness::start("auth-config").await;
    // `openssl passwd -6 -salt saltsalt secret`
    let hash = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    let mut client = h.client().await;
    client
        .set(SetRequest {
            update: vec![Update {
                path: Some(path("/ocbgp:management/users/user[name=admin]")),
                val: Some(json_ietf(&format!(
                    r#"{{"config": {{"name": "admin", "password": "{hash}"}}}}"#
                ))),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("add a user");
    let users = ConfigUsers::new(h.store.clone());
    assert!(users.verify("admin", "secret"));
    assert!(!users.verify("admin", "Secret"));
    assert!(!users.verify("nobody", "secret"));
    assert!(!users.verify("admin'] | //*[name='x", "secret"));
    h.stop().await;
}

#[tokio::test]
async fn plain_text_only_on_loopback() {
    let dir = TempDir::new("auth-exposure");
    let config =
        ocbgp_models::config::Config::parse(common::START, ocbgp_models::config::Encoding::Json)
            .unwrap();
    let (store, _) = ocbgp_models::datastore::Datastore::open(
        ocbgp_models::datastore::Options::new(&dir.0),
        config,
        false,
    )
    .unwrap();
    let service = GnmiService::new(Arc::new(store));
    let addr: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = ocbgp_gnmi::serve(service.clone(), GnmiServerConfig::plain(addr), async {})
        .await
        .expect_err("refused");
    assert!(matches!(err, ServeError::Insecure { .. }), "{err}");
    // TLS alone is not enough either: users are required off loopback.
    let config = GnmiServerConfig {
        addr,
        tls: Some(("cert.pem".into(), "key.pem".into())),
        tls_client_ca: None,
        users: None,
    };
    let err = ocbgp_gnmi::serve(service, config, async {})
        .await
        .expect_err("refused");
    assert!(matches!(err, ServeError::Insecure { .. }), "{err}");
}

#[tokio::test]
async fn tls_with_a_certificate() {
    let dir = TempDir::new("auth-tls");
    std::fs::create_dir_all(&dir.0).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        other => {
            eprintln!("openssl cannot make a test certificate, skipping: {other:?}");
            return;
        }
    }
    let config =
        ocbgp_models::config::Config::parse(common::START, ocbgp_models::config::Encoding::Json)
            .unwrap();
    let state = dir.0.join("state");
    let (store, _) = ocbgp_models::datastore::Datastore::open(
        ocbgp_models::datastore::Options::new(&state),
        config,
        false,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let users: Arc<dyn Authenticator> = Arc::new(|u: &str, p: &str| u == "ops" && p == "pw");
    let config = GnmiServerConfig {
        addr,
        tls: Some((cert.clone(), key.clone())),
        tls_client_ca: None,
        users: Some(users),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ocbgp_gnmi::serve_listener(
        GnmiService::new(Arc::new(store)),
        listener,
        config,
        async {
            let _ = stopped.await;
        },
    ));
    let ca = std::fs::read(&cert).unwrap();
    let mut client =
        ocbgp_gnmi::connect_tls(&format!("localhost:{}", addr.port()), &ca, "localhost")
            .await
            .expect("TLS connect");
    let caps = client
        .capabilities(with_login(CapabilityRequest::default(), "ops", "pw"))
        .await
        .expect("Capabilities over TLS")
        .into_inner();
    assert_eq!(caps.g_nmi_version, "0.10.0");
    // Plain text to a TLS server fails.
    if let Ok(mut plain) = ocbgp_gnmi::connect(&addr.to_string()).await {
        assert!(plain
            .capabilities(with_login(CapabilityRequest::default(), "ops", "pw"))
            .await
            .is_err());
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Idle sockets (an attacker's, or clients stuck before their first RPC)
/// cannot keep a real client out: beyond 32 of them, each new connection
/// pushes out the oldest that has not logged in; a connection whose RPC
/// authenticated stays.
#[tokio::test]
async fn idle_connections_cannot_starve_logins() {
    use tokio::io::AsyncReadExt;
    let h = Harness::start_with("auth-idle", SubscribeOptions::default(), Some(ops())).await;
    let mut logged = h.client().await;
    logged
        .capabilities(with_login(CapabilityRequest::default(), "ops", "s3cret"))
        .await
        .expect("logs in");
    let waiting = ocbgp_gnmi::admission::Limits::default().waiting;
    let mut idle = Vec::new();
    for _ in 0..waiting + 8 {
        idle.push(
            tokio::net::TcpStream::connect(h.addr)
                .await
                .expect("connect"),
        );
    }
    // Whether the server closes `socket` within `limit` (it sends its
    // HTTP/2 settings first).
    async fn closed_within(socket: &mut tokio::net::TcpStream, limit: std::time::Duration) -> bool {
        let mut buf = [0u8; 256];
        let closed = async {
            while let Ok(n) = socket.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        };
        tokio::time::timeout(limit, closed).await.is_ok()
    }
    // The oldest eight are closed by the server; the newest stay open.
    for (i, socket) in idle.iter_mut().enumerate() {
        if i < 8 {
            let closed = closed_within(socket, std::time::Duration::from_secs(5)).await;
            assert!(closed, "idle connection {i} should be closed");
        } else {
            let closed = closed_within(socket, std::time::Duration::from_millis(100)).await;
            assert!(!closed, "idle connection {i} should still be open");
        }
    }
    // The logged-in connection was older than all of them and stays; a
    // new client logs in too.
    logged
        .capabilities(with_login(CapabilityRequest::default(), "ops", "s3cret"))
        .await
        .expect("the logged-in connection is kept");
    let mut fresh = h.client().await;
    fresh
        .get(with_login(GetRequest::default(), "ops", "s3cret"))
        .await
        .expect("a new client logs in");
    drop(idle);
    h.stop().await;
}
