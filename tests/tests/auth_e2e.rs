//! Logins, as a client meets them: a clear-text (`$0$`) password given
//! over gNMI is stored and read back as a SHA-512 crypt hash (never in
//! clear, in the running configuration nor in its file) and still logs in
//! over gNMI and NETCONF; wrong passwords are answered ever slower (the
//! same for both doors) without locking the right one out; a TCP
//! connection to NETCONF that never logs in is closed, and idle ones
//! cannot keep a real login out; ten failures from one address lock that
//! address out (and only it); a client certificate logs in as its user
//! (mutual TLS).

use std::time::{Duration, Instant};

use ocbgp_tests::bin_path;
use ocbgp_tests::lab::*;
use serde_json::{json, Value};

const USER: &str = "/ocbgp:management/users/user[name=admin]";

/// A python3 script in `d`'s namespace under `timeout 90`; its output.
fn python(d: &Ocbgpd, code: &str) -> String {
    d.python(90, code)
}

#[test]
fn clear_passwords_are_hashed_and_guessing_is_slow() {
    let lab = Lab::new("auth");
    let r1 = lab.host("r1");
    let d = Ocbgpd::start(&r1, &OcbgpdConfig::new(BgpConfig::new(65001, r1.ipv4())));
    d.gnmi_update(NACM, administrators(&["admin"]));
    d.gnmi_update(
        USER,
        json!({"name": "admin", "config": {"name": "admin", "password": "$0$s3cret pass"}}),
    );
    d.set_gnmi_login("admin", "s3cret pass");
    // Read back: a hash, in the datastore and in its file.
    let stored = d
        .try_gnmi_leaf(&format!("{USER}/config/password"), "password")
        .unwrap_or_else(|e| d.fail(&e));
    let stored = stored.and_then(|v: Value| v.as_str().map(str::to_string));
    assert!(
        stored.as_deref().is_some_and(|s| s.starts_with("$6$")),
        "stored as {stored:?}"
    );
    for name in ["running.json", "running.journal"] {
        let file = std::fs::read(d.state_dir().join(name)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&file).contains("s3cret"),
            "clear text in {name}"
        );
    }

    // NETCONF logs in with the clear text.
    let g = d.config().gnmi_addr();
    let netconf_login = |password: &str| {
        format!(
            r#"
from ncclient import manager
try:
    m = manager.connect(host="127.0.0.1", port=830, username="admin", password={password:?},
                        hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)
    m.close_session()
    print("OK")
except Exception as e:
    print("REFUSED", type(e).__name__)
"#
        )
    };
    assert!(python(&d, &netconf_login("s3cret pass")).contains("OK"));

    // Four wrong gNMI passwords: refused, ever slower (250 ms doubling).
    let code = format!(
        r#"
import time
from pygnmi.client import gNMIclient
start = time.monotonic()
refused = 0
for i in range(4):
    try:
        with gNMIclient(target=({host:?}, {port}), insecure=True, timeout=20,
                        username="admin", password="wrong%d" % i) as gc:
            gc.get(path=["/ocbgp:management"])
    except Exception:
        refused += 1
print("REFUSED", refused, "SECONDS", time.monotonic() - start)
"#,
        host = g.ip().to_string(),
        port = g.port()
    );
    let out = python(&d, &code);
    let line = out
        .lines()
        .find(|l| l.starts_with("REFUSED"))
        .unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.get(1), Some(&"4"), "{out}");
    let seconds: f64 = words.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    assert!(
        seconds >= 3.5,
        "four failures answered in {seconds} s: no delay"
    );
    // The right password still works on both doors.
    assert!(d.try_gnmi_get(&format!("{USER}/config/name")).is_ok());
    assert!(python(&d, &netconf_login("s3cret pass")).contains("OK"));

    // A connection that never logs in is closed by the server.
    let t = Instant::now();
    let out = python(
        &d,
        r#"
import socket
s = socket.create_connection(("127.0.0.1", 830), timeout=60)
s.settimeout(60)
data = s.recv(100)
while data:
    data = s.recv(100)
print("CLOSED")
"#,
    );
    assert!(out.contains("CLOSED"), "{out}");
    assert!(t.elapsed() < Duration::from_secs(60));

    // 80 idle connections (more than the 32 sessions allowed) do not keep
    // a real login out: the oldest not logged in are pushed out.
    let code = format!(
        r#"
import socket, time
idle = [socket.create_connection(("127.0.0.1", 830), timeout=10) for _ in range(80)]
start = time.monotonic()
{login}
print("SECONDS", time.monotonic() - start)
for s in idle:
    s.close()
"#,
        login = netconf_login("s3cret pass")
    );
    let out = python(&d, &code);
    assert!(
        out.contains("OK"),
        "login refused behind 80 idle connections: {out}"
    );

    // Ten wrong passwords from one address (in parallel: the delays add
    // up per address, not per connection) lock it out: even the right
    // password is refused from there, not from elsewhere.
    let from = |source: &str, then: &str| {
        format!(
            r#"
import socket
from ncclient import manager
def login(password):
    s = socket.socket()
    s.bind(({source:?}, 0))
    s.connect(("127.0.0.1", 830))
    try:
        m = manager.connect(host="127.0.0.1", port=830, sock=s, username="admin", password=password,
                            hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=60)
        m.close_session()
        return "OK"
    except Exception as e:
        return "REFUSED"
{then}
"#
        )
    };
    let guesses = from(
        "127.0.0.2",
        r#"
import concurrent.futures
with concurrent.futures.ThreadPoolExecutor(10) as pool:
    print(list(pool.map(login, ["wrong%d" % i for i in range(10)])))
print("RIGHT", login("s3cret pass"))
"#,
    );
    let out = python(&d, &guesses);
    assert!(out.contains("RIGHT REFUSED"), "not locked out: {out}");
    let elsewhere = from("127.0.0.1", r#"print("RIGHT", login("s3cret pass"))"#);
    let out = python(&d, &elsewhere);
    assert!(
        out.contains("RIGHT OK"),
        "another address locked out too: {out}"
    );
    d.wait_log_event(
        "login: source locked out after failed logins",
        None,
        0,
        Duration::from_secs(5),
    );
    // The lockout is state: /ocbgp:management/login-lockouts lists the
    // address (read from the one not locked out).
    let state = from(
        "127.0.0.1",
        r#"
m = manager.connect(host="127.0.0.1", port=830, username="admin", password="s3cret pass",
                    hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=60)
print(m.get(filter=("subtree", '<management xmlns="urn:ocbgp:yang:ocbgp"><login-lockouts/></management>')).data_xml)
"#,
    );
    let out = python(&d, &state);
    let lockout = out
        .split("<source>")
        .nth(1)
        .unwrap_or_else(|| panic!("no locked-out source listed: {out}"));
    assert!(lockout.contains("<address>127.0.0.2</address>"), "{out}");
    let failures: u32 = lockout
        .split("<failed-logins>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(failures >= 10, "failed-logins {failures}: {out}");
    assert!(
        lockout.contains("<locked-until>") && lockout.contains("<last-failure>"),
        "{out}"
    );
    d.crash();
}

/// Mutual TLS: with `tls-client-ca`, a client certificate that authority
/// signed logs in as the user its common name names, without a password
/// (pygnmi, the CLI), and access control judges that user; a certificate
/// of no configured user, or with a username naming someone else, is
/// refused; a client without a certificate still logs in by password.
#[test]
fn a_client_certificate_logs_in_as_its_user() {
    let lab = Lab::new("mtls");
    let r1 = lab.host("r1");
    let dir = r1.dir().to_path_buf();
    let (server_cert, server_key) = self_signed_cert(&dir, "server");
    let ca = client_ca(&dir, "clients");
    for (file, user) in [
        ("admin", "admin"),
        ("reader", "reader"),
        ("stranger", "stranger"),
    ] {
        client_cert(&dir, &ca, file, user);
    }
    let mut config = OcbgpdConfig::new(BgpConfig::new(65001, r1.ipv4()))
        .no_netconf()
        .to_json();
    config["ocbgp:management"]["gnmi"] = json!({"config": {
        "tls-certificate": server_cert, "tls-key": server_key, "tls-client-ca": ca.0}});
    config["ocbgp:management"]["users"] = json!({"user": [
        {"name": "admin", "config": {"name": "admin", "password": "$0$admin-pw"}},
        {"name": "reader", "config": {"name": "reader"}}]});
    config["ietf-netconf-acm:nacm"] = administrators(&["admin"]);
    let daemon = spawn_ocbgpd_json(&r1, "ocbgpd-mtls", &config);

    let code = format!(
        r#"
import json
from pygnmi.client import gNMIclient
DIR = {dir:?}
def client(cert=None, **login):
    if cert:
        tls = dict(path_root=DIR + "/server.pem", path_cert=DIR + "/" + cert + ".pem",
                   path_key=DIR + "/" + cert + ".key")
    else:
        tls = dict(path_cert=DIR + "/server.pem")
    return gNMIclient(target=("127.0.0.1", 9339), timeout=10, **tls, **login)
def try_(f):
    try:
        return {{"ok": f()}}
    except Exception as e:
        o = getattr(e, "orig_exc", None)
        return {{"err": "%s %s" % (o.code().name, o.details()) if o is not None and hasattr(o, "code") else repr(e)}}
def get(cert=None, **login):
    def f():
        with client(cert, **login) as gc:
            return gc.get(path=["/ocbgp:management/users"], encoding="json_ietf")
    return try_(f)
def set_(cert):
    def f():
        with client(cert) as gc:
            gc.set(update=[("/routing-policy/defined-sets/prefix-sets/prefix-set[name=" + cert + "]",
                            {{"name": cert, "config": {{"name": cert, "mode": "IPV4"}}}})],
                   encoding="json_ietf")
            return True
    return try_(f)
out = {{}}
out["admin"] = get("admin")
out["reader"] = get("reader")
out["reader_set"] = set_("reader")
out["admin_set"] = set_("admin")
out["stranger"] = get("stranger")
out["mismatch"] = get("admin", username="reader", password="x")
out["password"] = get(username="admin", password="admin-pw")
def bad_ca():
    with client("admin") as gc:
        gc.set(update=[("/ocbgp:management/gnmi/config/tls-client-ca", "/nonexistent/ca.pem")],
               encoding="json_ietf")
        return True
out["bad_ca"] = try_(bad_ca)
out["nothing"] = get()
print(json.dumps(out, default=str))
"#,
        dir = dir.to_str().unwrap()
    );
    let out = r1.try_run("timeout", &["90", "python3", "-c", &code]);
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
            panic!(
                "{e}: {text}{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                daemon.log()
            )
        });
    let err = |k: &str| v[k]["err"].as_str().unwrap_or_default().to_string();
    // The administrator (by certificate) reads password hashes; the
    // reader (by certificate, no password configured) reads the users
    // but not the hashes, and may not write.
    assert!(v["admin"]["ok"].to_string().contains("$6$"), "{v}");
    let reader = v["reader"]["ok"].to_string();
    assert!(reader.contains("admin") && !reader.contains("$6$"), "{v}");
    assert!(
        err("reader_set").starts_with("PERMISSION_DENIED")
            && err("reader_set").contains("user reader"),
        "{v}"
    );
    assert_eq!(v["admin_set"]["ok"], true, "{v}");
    assert!(
        err("stranger").starts_with("UNAUTHENTICATED")
            && err("stranger").contains("not configured"),
        "{v}"
    );
    assert!(err("mismatch").starts_with("UNAUTHENTICATED"), "{v}");
    assert!(v["password"]["ok"].to_string().contains("$6$"), "{v}");
    assert!(err("nothing").starts_with("UNAUTHENTICATED"), "{v}");
    // A CA file the server cannot read is refused at commit, naming it.
    assert!(
        err("bad_ca").starts_with("FAILED_PRECONDITION")
            && err("bad_ca").contains("tls-client-ca")
            && err("bad_ca").contains("/nonexistent/ca.pem"),
        "{v}"
    );

    // The CLI logs in with --tls-cert and --tls-key.
    let cli = |cert: &str| {
        let (pem, key) = (
            dir.join(format!("{cert}.pem")),
            dir.join(format!("{cert}.key")),
        );
        let server = dir.join("server.pem");
        let args = [
            "30",
            bin_path("ocbgp").to_str().unwrap(),
            "--tls-ca",
            server.to_str().unwrap(),
            "--tls-domain",
            "localhost",
            "--tls-cert",
            pem.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "get",
            "/ocbgp:management/users",
        ]
        .map(str::to_string);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = r1.try_run("timeout", &args);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, said) = cli("admin");
    assert!(ok && said.contains("$6$"), "{said}");
    let (ok, said) = cli("stranger");
    assert!(!ok && said.contains("not configured"), "{said}");
    daemon.assert_running();
}
