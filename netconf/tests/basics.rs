//! The server driven by a small russh client: hello and framing,
//! authentication, malformed input, locks, edits and commits.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_announces_capabilities_and_chunked_framing_works() {
    let server = Server::start("hello").await;
    let mut c = Client::open(server.addr, Login::Password("admin", "admin"))
        .await
        .unwrap();
    for cap in [
        BASE_1_0,
        BASE_1_1,
        "urn:ietf:params:netconf:capability:candidate:1.0",
        "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
        "urn:ietf:params:netconf:capability:validate:1.1",
        "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
        "urn:ietf:params:netconf:capability:writable-running:1.0",
        "urn:ietf:params:netconf:capability:xpath:1.0",
        "urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&amp;also-supported=report-all,trim",
        "http://openconfig.net/yang/network-instance?module=openconfig-network-instance&amp;revision=",
        "urn:ocbgp:yang:ocbgp?module=ocbgp&amp;revision=2026-11-26",
    ] {
        assert!(c.server_hello.contains(cap), "hello lacks {cap}: {}", c.server_hello);
    }
    assert!(c.session_id > 0);
    // yang-library 1.1 (RFC 8525) with the module set's content-id.
    let yl_cap =
        "urn:ietf:params:netconf:capability:yang-library:1.1?revision=2019-01-04&amp;content-id=";
    let at = c
        .server_hello
        .find(yl_cap)
        .unwrap_or_else(|| panic!("hello lacks yang-library:1.1: {}", c.server_hello));
    let rest = &c.server_hello[at + yl_cap.len()..];
    let content_id = rest[..rest.find('<').unwrap()].to_string();
    assert!(!content_id.is_empty(), "{}", c.server_hello);
    c.hello(&[BASE_1_0, BASE_1_1]).await;

    // The yang-library data under a subtree filter.
    let reply = c
        .rpc("<get><filter type=\"subtree\"><yang-library xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\"/>\
              </filter></get>")
        .await;
    assert!(
        reply.contains("<yang-library xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\">")
            && reply.contains("<module-set><name>ocbgp</name>")
            && reply.contains(&format!("<content-id>{content_id}</content-id>"))
            && !reply.contains("netconf-state")
            && !reply.contains("192.0.2.2"),
        "{reply}"
    );
    let bgp = ocbgp_models::schema::module("openconfig-bgp").unwrap();
    let entry = format!(
        "<module><name>openconfig-bgp</name><revision>{}</revision><namespace>{}</namespace>",
        bgp.revision.unwrap(),
        bgp.namespace.unwrap()
    );
    assert!(reply.contains(&entry), "lacks {entry}: {reply}");
    assert!(reply.contains("<submodule><name>"), "{reply}");
    // A content match on one module keeps only it (with its keys).
    let reply = c
        .rpc("<get><filter type=\"subtree\"><yang-library xmlns=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\">\
              <module-set><module><name>openconfig-bgp</name><revision/></module></module-set></yang-library>\
              </filter></get>")
        .await;
    assert!(
        reply.contains(
            "<module-set><name>ocbgp</name><module><name>openconfig-bgp</name><revision>"
        ) && !reply.contains("<name>ocbgp</name><module><name>ocbgp</name>")
            && !reply.contains("<namespace>"),
        "{reply}"
    );
    // The XPath of the whole yang-library.
    let reply = c
        .rpc("<get><filter xmlns:yl=\"urn:ietf:params:xml:ns:yang:ietf-yang-library\" type=\"xpath\" \
              select=\"/yl:yang-library\"/></get>")
        .await;
    assert!(
        reply.contains(&entry) && !reply.contains("192.0.2.2"),
        "{reply}"
    );

    let reply = c
        .rpc("<get-config><source><running/></source></get-config>")
        .await;
    assert!(
        reply.contains("<data>") && reply.contains("192.0.2.2"),
        "{reply}"
    );

    // A message in several chunks, as RFC 6242 allows.
    let rpc = format!("<rpc xmlns=\"{NC}\" message-id=\"m7\"><get-config><source><running/></source></get-config></rpc>");
    let (a, b) = rpc.split_at(10);
    let framed = format!("\n#{}\n{a}\n#{}\n{b}\n##\n", a.len(), b.len());
    c.send_raw(framed.as_bytes()).await;
    let reply = c.recv().await.unwrap();
    assert!(
        reply.contains("message-id=\"m7\"") && reply.contains("192.0.2.3"),
        "{reply}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_1_0_clients_keep_end_of_message_framing() {
    let server = Server::start("base10").await;
    let mut c = Client::open(server.addr, Login::Password("admin", "admin"))
        .await
        .unwrap();
    c.hello(&[BASE_1_0]).await;
    let reply = c
        .rpc("<get-config><source><candidate/></source></get-config>")
        .await;
    assert!(reply.contains("192.0.2.2"), "{reply}");
    // The raw end-of-message marker ends a message.
    c.send_raw(
        format!("<rpc xmlns=\"{NC}\" message-id=\"x\"><discard-changes/></rpc>]]>]]>").as_bytes(),
    )
    .await;
    assert!(c.recv().await.unwrap().contains("<ok/>"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hellos_end_the_session() {
    let server = Server::start("badhello").await;
    // Neither base version.
    let mut c = Client::open(server.addr, Login::Password("admin", "admin"))
        .await
        .unwrap();
    c.hello(&["urn:example:nothing"]).await;
    assert_eq!(c.recv().await, None);
    // A hello with a session-id.
    let mut c = Client::open(server.addr, Login::Password("admin", "admin"))
        .await
        .unwrap();
    c.send(&format!(
        "<hello xmlns=\"{NC}\"><capabilities><capability>{BASE_1_0}</capability></capabilities>\
         <session-id>5</session-id></hello>"
    ))
    .await;
    assert_eq!(c.recv().await, None);
    // A second hello later.
    let mut c = Client::connect(server.addr).await;
    c.send(&format!("<hello xmlns=\"{NC}\"><capabilities><capability>{BASE_1_1}</capability></capabilities></hello>"))
        .await;
    assert_eq!(c.recv().await, None);
    // Broken chunked framing.
    let mut c = Client::connect(server.addr).await;
    c.send_raw(b"\n#abc\n").await;
    assert_eq!(c.recv().await, None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_by_password_hash_and_key() {
    let server = Server::start("auth").await;
    assert!(Client::open(server.addr, Login::Password("admin", "wrong"))
        .await
        .is_err());
    assert!(
        Client::open(server.addr, Login::Password("nobody", "admin"))
            .await
            .is_err()
    );
    assert!(
        Client::open(server.addr, Login::Password("ad'min", "admin"))
            .await
            .is_err()
    );
    let mut c = Client::open(server.addr, Login::Password("ops", "secret"))
        .await
        .unwrap();
    c.hello(&[BASE_1_1]).await;
    c.ok("<discard-changes/>").await;
    let mut c = Client::open(server.addr, Login::Key("keyuser", Box::new(user_key())))
        .await
        .unwrap();
    c.hello(&[BASE_1_1]).await;
    c.ok("<discard-changes/>").await;
    // The key is keyuser's, not admin's.
    assert!(
        Client::open(server.addr, Login::Key("admin", Box::new(user_key())))
            .await
            .is_err()
    );
    // The host key was generated with mode 0600 and is reused.
    let key_path = server.dir.0.join("state/host_key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(&key_path).unwrap();
    let again = ocbgp_netconf::load_or_create_host_key(&key_path).unwrap();
    assert_eq!(
        again
            .to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .unwrap()
            .as_bytes(),
        &before[..]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_errors_and_the_session_goes_on() {
    let server = Server::start("malformed").await;
    let mut c = Client::connect(server.addr).await;
    c.send("<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"1\"><get>")
        .await;
    let reply = c.recv().await.unwrap();
    assert!(
        reply.contains("<error-tag>malformed-message</error-tag>"),
        "{reply}"
    );
    c.send(&format!("<rpc xmlns=\"{NC}\"><get/></rpc>")).await;
    let reply = c.recv().await.unwrap();
    assert!(
        reply.contains("<error-tag>missing-attribute</error-tag>"),
        "{reply}"
    );
    c.send("<rpc xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\" message-id=\"2\">&#0;</rpc>")
        .await;
    assert!(c.recv().await.unwrap().contains("malformed-message"));
    c.error("<frobnicate/>", "operation-not-supported").await;
    c.error(
        "<get-config><source><startup/></source></get-config>",
        "invalid-value",
    )
    .await;
    c.error("<get-config/>", "missing-element").await;
    c.error(
        "<get-config><source><running/></source><colour/></get-config>",
        "unknown-element",
    )
    .await;
    c.error("<get><filter type=\"magic\"/></get>", "bad-attribute")
        .await;
    c.error(
        "<get><filter type=\"xpath\" select=\"/zz:x\"/></get>",
        "invalid-value",
    )
    .await;
    c.error(
        "<delete-config><target><running/></target></delete-config>",
        "operation-not-supported",
    )
    .await;
    c.error(
        "<get><with-defaults xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults\">report-all-tagged</with-defaults></get>",
        "invalid-value",
    )
    .await;
    c.error(
        "<get-schema xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring\"/>",
        "missing-element",
    )
    .await;
    c.error(
        "<edit-config><target><running/></target></edit-config>",
        "missing-element",
    )
    .await;
    c.error(
        "<commit><confirm-timeout>0</confirm-timeout><confirmed/></commit>",
        "invalid-value",
    )
    .await;
    // Attributes of the rpc come back on the reply.
    c.send(&format!("<rpc xmlns=\"{NC}\" xmlns:ex=\"urn:ex\" message-id=\"9\" ex:trace=\"abc\"><discard-changes/></rpc>"))
        .await;
    let reply = c.recv().await.unwrap();
    assert!(
        reply.contains("ex:trace=\"abc\"") && reply.contains("xmlns:ex=\"urn:ex\""),
        "{reply}"
    );
    c.ok("<discard-changes/>").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_commit_and_locks() {
    let server = Server::start("lock").await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    let edit = |target: &str, asn: u32| {
        format!(
            "<edit-config><target><{target}/></target><config>{}</config></edit-config>",
            neighbors(&format!(
                "<neighbor><neighbor-address>192.0.2.2</neighbor-address><config><peer-as>{asn}</peer-as></config></neighbor>"
            ))
        )
    };
    // Candidate, validate, commit.
    a.ok(&edit("candidate", 65100)).await;
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65002")
    );
    a.ok("<validate><source><candidate/></source></validate>")
        .await;
    a.ok("<commit/>").await;
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65100")
    );

    // A holds running: B cannot lock it nor write it.
    a.ok("<lock><target><running/></target></lock>").await;
    let reply = b
        .error("<lock><target><running/></target></lock>", "lock-denied")
        .await;
    assert!(
        reply.contains(&format!("<session-id>{}</session-id>", a.session_id)),
        "{reply}"
    );
    b.error(&edit("running", 65200), "in-use").await;
    b.ok(&edit("candidate", 65200)).await;
    b.error("<commit/>", "in-use").await;
    b.error(
        "<unlock><target><running/></target></unlock>",
        "operation-failed",
    )
    .await;
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65100")
    );
    // A may; then A's close releases the lock.
    a.ok(&edit("running", 65101)).await;
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65101")
    );
    let reply = a.rpc("<close-session/>").await;
    assert!(reply.contains("<ok/>"));
    assert_eq!(a.recv().await, None);
    // B's commit of its candidate (65200) now goes through.
    tokio::time::timeout(WAIT, async {
        loop {
            let reply = b.rpc("<commit/>").await;
            if reply.contains("<ok/>") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("lock released");
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65200")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_session_releases_locks_and_shutdown_ends_sessions() {
    let server = Server::start("kill").await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    a.ok("<lock><target><candidate/></target></lock>").await;
    b.error("<lock><target><candidate/></target></lock>", "lock-denied")
        .await;
    b.error(
        &format!(
            "<kill-session><session-id>{}</session-id></kill-session>",
            b.session_id
        ),
        "invalid-value",
    )
    .await;
    b.error(
        "<kill-session><session-id>999999</session-id></kill-session>",
        "invalid-value",
    )
    .await;
    b.ok(&format!(
        "<kill-session><session-id>{}</session-id></kill-session>",
        a.session_id
    ))
    .await;
    b.ok("<lock><target><candidate/></target></lock>").await;
    assert_eq!(a.recv().await, None);
    // The monitoring data shows B's lock and session.
    let reply = b
        .rpc("<get><filter type=\"subtree\"><netconf-state xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring\">\
              <datastores/><sessions/></netconf-state></filter></get>")
        .await;
    assert!(
        reply.contains(&format!(
            "<locked-by-session>{}</locked-by-session>",
            b.session_id
        )),
        "{reply}"
    );
    assert!(
        !reply.contains(&format!("<session-id>{}</session-id>", a.session_id)),
        "{reply}"
    );
    assert!(!reply.contains("<capabilities>"), "{reply}");
    server.stop().await;
    assert_eq!(b.recv().await, None);
}

/// A state provider writing each configured neighbor's session-state, and
/// recording the paths it is asked for.
struct FakeState {
    asked: std::sync::Mutex<Vec<String>>,
}

const BGP: &str = "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']\
                   /protocols/protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp";

impl ocbgp_models::datastore::StateProvider for FakeState {
    fn write_state(
        &self,
        tree: &mut yang2::data::DataTree<'static>,
        path: &str,
    ) -> Result<(), ocbgp_models::ModelError> {
        self.asked.lock().unwrap().push(path.to_string());
        for (addr, state) in [("192.0.2.2", "ESTABLISHED"), ("192.0.2.3", "ACTIVE")] {
            let at = format!("{BGP}/neighbors/neighbor[neighbor-address='{addr}']");
            if path == "/" || at.starts_with(path) || path.starts_with(&at) {
                tree.new_path(&format!("{at}/state/session-state"), Some(state), false)?;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reads_state_within_the_filter() {
    let server = Server::start("state").await;
    let state = std::sync::Arc::new(FakeState {
        asked: Default::default(),
    });
    server.store.set_state_provider(state.clone());
    let mut c = Client::connect(server.addr).await;
    let filter = neighbors(
        "<neighbor><neighbor-address>192.0.2.3</neighbor-address><state><session-state/></state></neighbor>",
    );
    let reply = c
        .rpc(&format!(
            "<get><filter type=\"subtree\">{filter}</filter></get>"
        ))
        .await;
    assert!(
        reply.contains("<session-state>ACTIVE</session-state>"),
        "{reply}"
    );
    assert!(
        !reply.contains("ESTABLISHED") && !reply.contains("<peer-as>"),
        "{reply}"
    );
    assert_eq!(
        state.asked.lock().unwrap().last().map(String::as_str),
        Some(format!("{BGP}/neighbors/neighbor[neighbor-address='192.0.2.3']/state").as_str())
    );
    // XPath over state.
    let reply = c
        .rpc(&format!(
            "<get><filter xmlns:n=\"{NI}\" type=\"xpath\" select=\"//n:neighbor[n:state/n:session-state='ESTABLISHED']/n:config/n:peer-as\"/></get>"
        ))
        .await;
    assert!(
        reply.contains("<peer-as>65002</peer-as>") && !reply.contains("65003"),
        "{reply}"
    );
    // get-config never shows state.
    let reply = c
        .rpc("<get-config><source><running/></source></get-config>")
        .await;
    assert!(!reply.contains("session-state"), "{reply}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_commit_is_undone_by_the_timer() {
    use ocbgp_models::datastore::Origin;
    let server = Server::start("timer").await;
    let mut c = Client::connect(server.addr).await;
    c.ok(&format!(
        "<edit-config><target><candidate/></target><config>{}</config></edit-config>",
        neighbors("<neighbor><neighbor-address>192.0.2.2</neighbor-address><config><peer-as>65111</peer-as></config></neighbor>")
    ))
    .await;
    c.ok("<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>")
        .await;
    assert_eq!(
        peer_as(&server.store, "192.0.2.2").as_deref(),
        Some("65111")
    );
    tokio::time::timeout(WAIT, async {
        while peer_as(&server.store, "192.0.2.2").as_deref() != Some("65002") {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("rolled back");
    let last = server.store.history().pop().unwrap();
    assert_eq!(last.origin, Origin::Timeout);
    // Nothing is pending any more.
    c.error("<cancel-commit/>", "operation-failed").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_client_with_sshpass() {
    use tokio::io::AsyncWriteExt;
    let server = Server::start("openssh").await;
    let mut child = tokio::process::Command::new("sshpass")
        .args([
            "-p",
            "admin",
            "ssh",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "LogLevel=ERROR",
            "-p",
            &server.addr.port().to_string(),
        ])
        .args(["-s", "admin@127.0.0.1", "netconf"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sshpass and ssh run");
    let mut stdin = child.stdin.take().unwrap();
    let input = format!(
        "<hello xmlns=\"{NC}\"><capabilities><capability>{BASE_1_0}</capability></capabilities></hello>]]>]]>\
         <rpc xmlns=\"{NC}\" message-id=\"1\"><get-config><source><running/></source></get-config></rpc>]]>]]>\
         <rpc xmlns=\"{NC}\" message-id=\"2\"><close-session/></rpc>]]>]]>"
    );
    stdin.write_all(input.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("ssh ends")
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("<session-id>"), "{out}");
    assert!(
        out.contains("message-id=\"1\"") && out.contains("192.0.2.2"),
        "{out}"
    );
    assert!(out.contains("message-id=\"2\"><ok/>"), "{out}");
    drop(stdin);
    server.stop().await;
}
