//! A NETCONF server on a datastore in a temporary directory, with users
//! (administrators all: the tests are about NETCONF, not access control)
//! and a small OpenConfig BGP configuration; a small russh client; and a
//! runner for the Python (ncclient, netconf-console2) tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ocbgp_models::config::{Config, Encoding};
use ocbgp_models::datastore::{Datastore, Options};
use ocbgp_netconf::framing::{self, Decoder, Framing};
use ocbgp_netconf::{serve_listener, NetconfConfig};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::ChannelStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const NC: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";
pub const NI: &str = "http://openconfig.net/yang/network-instance";
pub const BASE_1_0: &str = "urn:ietf:params:netconf:base:1.0";
pub const BASE_1_1: &str = "urn:ietf:params:netconf:base:1.1";

/// Bound on every wait of a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// The `$5$` hash of "secret".
pub const SECRET_HASH: &str = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";

/// The key of user "keyuser".
pub fn user_key() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[7u8; 32]))
}

pub fn start_config() -> String {
    let key = user_key().public_key().to_openssh().unwrap();
    format!(
        r#"{{
  "openconfig-network-instance:network-instances": {{"network-instance": [{{
    "name": "DEFAULT",
    "config": {{"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"}},
    "protocols": {{"protocol": [{{
      "identifier": "openconfig-policy-types:BGP", "name": "BGP",
      "config": {{"identifier": "openconfig-policy-types:BGP", "name": "BGP"}},
      "bgp": {{"global": {{"config": {{"as": 65001, "router-id": "192.0.2.1"}}}},
              "neighbors": {{"neighbor": [
                 {{"neighbor-address": "192.0.2.2",
                  "config": {{"neighbor-address": "192.0.2.2", "peer-as": 65002, "description": "first"}}}},
                 {{"neighbor-address": "192.0.2.3",
                  "config": {{"neighbor-address": "192.0.2.3", "peer-as": 65003}}}}]}}}}
    }}]}}
  }}]}},
  "ocbgp:management": {{"users": {{"user": [
    {{"name": "admin", "config": {{"name": "admin", "password": "$0$admin"}}}},
    {{"name": "ops", "config": {{"name": "ops", "password": "{SECRET_HASH}"}}}},
    {{"name": "keyuser", "config": {{"name": "keyuser", "authorized-key": ["{key}"]}}}}
  ]}}}},
  "ietf-netconf-acm:nacm": {{
    "groups": {{"group": [{{"name": "admin", "user-name": ["admin", "ops", "keyuser"]}}]}},
    "rule-list": [{{"name": "admin", "group": ["admin"], "rule": [{{"name": "all", "action": "permit"}}]}}]
  }}
}}"#
    )
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ocbgp-netconf-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<Datastore>,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    pub async fn start(name: &str) -> Server {
        let dir = TempDir::new(name);
        let config = Config::parse(&start_config(), Encoding::Json).expect("start config");
        let (store, _) =
            Datastore::open(Options::new(dir.0.join("state")), config, true).expect("datastore");
        let store = Arc::new(store);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = NetconfConfig::new(addr, dir.0.join("state/host_key"));
        config.auth_rejection_time = Duration::from_millis(50);
        let (stop, stopped) = oneshot::channel::<()>();
        let s = store.clone();
        let task = tokio::spawn(async move {
            serve_listener(s, listener, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        Server {
            addr,
            store,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server stops")
                .expect("server task");
        }
    }

    /// Runs a Python script (with the ncclient helpers of common.py
    /// before it) against this server; panics with its output unless it
    /// exits 0.
    pub async fn python(&self, script: &str) -> String {
        let program = format!("{}\n{}", include_str!("../python/common.py"), script);
        let mut cmd = tokio::process::Command::new("python3");
        cmd.arg("-c")
            .arg(program)
            .env("NC_HOST", self.addr.ip().to_string())
            .env("NC_PORT", self.addr.port().to_string())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
            .await
            .expect("python test finishes in time")
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let offset = include_str!("../python/common.py").lines().count() + 1;
        assert!(
            out.status.success(),
            "python test failed ({}; the script's line 1 is line {} of the program):\n{stdout}\n{stderr}",
            out.status,
            offset + 1
        );
        stdout
    }
}

pub struct AcceptAll;

impl russh::client::Handler for AcceptAll {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// How a client logs in.
pub enum Login<'a> {
    Password(&'a str, &'a str),
    Key(&'a str, Box<PrivateKey>),
}

/// A NETCONF client over russh.
pub struct Client {
    stream: ChannelStream<russh::client::Msg>,
    decoder: Decoder,
    buf: BytesMut,
    pub server_hello: String,
    pub session_id: u64,
    next_id: u64,
    _handle: russh::client::Handle<AcceptAll>,
}

/// Opens SSH with a login; the error is the login failure.
pub async fn ssh(
    addr: SocketAddr,
    login: Login<'_>,
) -> Result<russh::client::Handle<AcceptAll>, String> {
    let config = Arc::new(russh::client::Config::default());
    let mut handle = tokio::time::timeout(WAIT, russh::client::connect(config, addr, AcceptAll))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let result = match login {
        Login::Password(user, password) => handle.authenticate_password(user, password).await,
        Login::Key(user, key) => {
            handle
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(*key), None))
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    if !result.success() {
        return Err("authentication refused".into());
    }
    Ok(handle)
}

impl Client {
    /// Logs in, opens the netconf subsystem and reads the server's hello
    /// (not yet answering it).
    pub async fn open(addr: SocketAddr, login: Login<'_>) -> Result<Client, String> {
        let handle = ssh(addr, login).await?;
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| e.to_string())?;
        channel
            .request_subsystem(true, "netconf")
            .await
            .map_err(|e| e.to_string())?;
        let mut client = Client {
            stream: channel.into_stream(),
            decoder: Decoder::new(64 << 20),
            buf: BytesMut::new(),
            server_hello: String::new(),
            session_id: 0,
            next_id: 1,
            _handle: handle,
        };
        let hello = client.recv().await.ok_or("no server hello")?;
        let start = hello
            .find("<session-id>")
            .ok_or("hello without session-id")?
            + "<session-id>".len();
        let end = hello[start..].find('<').ok_or("bad session-id")? + start;
        client.session_id = hello[start..end].parse().map_err(|_| "bad session-id")?;
        client.server_hello = hello;
        Ok(client)
    }

    /// Logs in as admin and says hello with base:1.1 (chunked framing).
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::connect_as(addr, "admin", "admin").await
    }

    pub async fn connect_as(addr: SocketAddr, user: &str, password: &str) -> Client {
        let mut c = Client::open(addr, Login::Password(user, password))
            .await
            .expect("login");
        c.hello(&[BASE_1_0, BASE_1_1]).await;
        c
    }

    /// Sends a client hello with these capabilities; switches to chunked
    /// framing when base:1.1 is among them.
    pub async fn hello(&mut self, caps: &[&str]) {
        let caps: String = caps
            .iter()
            .map(|c| format!("<capability>{c}</capability>"))
            .collect();
        self.send(&format!(
            "<hello xmlns=\"{NC}\"><capabilities>{caps}</capabilities></hello>"
        ))
        .await;
        if caps.contains(BASE_1_1) {
            self.decoder.set_framing(Framing::Chunked);
        }
    }

    /// Sends one framed message.
    pub async fn send(&mut self, message: &str) {
        let mut out = BytesMut::new();
        framing::encode(self.decoder.framing(), message.as_bytes(), &mut out);
        self.send_raw(&out).await;
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        tokio::time::timeout(WAIT, async {
            self.stream.write_all(bytes).await.expect("write");
            self.stream.flush().await.expect("flush");
        })
        .await
        .expect("write in time");
    }

    /// The next message, or `None` when the server closed the session.
    pub async fn recv(&mut self) -> Option<String> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(m) = self.decoder.decode(&mut self.buf).expect("framing") {
                    return Some(String::from_utf8(m.to_vec()).expect("utf-8"));
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("reply in time")
    }

    /// Sends an rpc holding `operation` and returns the reply.
    pub async fn rpc(&mut self, operation: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&format!(
            "<rpc xmlns=\"{NC}\" message-id=\"{id}\">{operation}</rpc>"
        ))
        .await;
        let reply = self.recv().await.expect("a reply");
        assert!(
            reply.contains(&format!("message-id=\"{id}\"")),
            "reply to another message: {reply}"
        );
        reply
    }

    /// An rpc that must answer `<ok/>`.
    pub async fn ok(&mut self, operation: &str) {
        let reply = self.rpc(operation).await;
        assert!(
            reply.contains("<ok/>"),
            "expected ok for {operation}: {reply}"
        );
    }

    /// An rpc that must fail with `tag`; returns the reply.
    pub async fn error(&mut self, operation: &str, tag: &str) -> String {
        let reply = self.rpc(operation).await;
        assert!(
            reply.contains(&format!("<error-tag>{tag}</error-tag>")),
            "expected {tag} for {operation}: {reply}"
        );
        reply
    }
}

/// The BGP neighbors subtree of the test configuration around `inner`.
pub fn neighbors(inner: &str) -> String {
    format!(
        "<network-instances xmlns=\"{NI}\"><network-instance><name>DEFAULT</name><protocols>\
         <protocol xmlns:pt=\"http://openconfig.net/yang/policy-types\"><identifier>pt:BGP</identifier>\
         <name>BGP</name><bgp><neighbors>{inner}</neighbors></bgp></protocol></protocols>\
         </network-instance></network-instances>"
    )
}

/// The peer-as of a neighbor in running, if configured.
pub fn peer_as(store: &Datastore, neighbor: &str) -> Option<String> {
    store.running().value(&format!(
        "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols\
         /protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/neighbors\
         /neighbor[neighbor-address='{neighbor}']/config/peer-as"
    ))
}
