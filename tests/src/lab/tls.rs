//! Test certificates made with openssl.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs openssl; panics with what it said when it fails.
fn openssl(command: &mut Command) {
    let made = command.output().expect("run openssl");
    assert!(
        made.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// `NAME.pem` and `NAME.key` in `dir`.
fn files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// A new EC P-256 key and a certificate request (or, with `-x509`
/// among `args`, a self-signed certificate) for subject `/CN=cn`.
fn request(cn: &str, key: &Path, out: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("openssl");
    c.arg("req")
        .args(args)
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={cn}")])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(out);
    c
}

/// A certificate authority for client certificates in `dir`: `NAME.pem`
/// and its key `NAME.key`.
pub fn client_ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = files(dir, name);
    openssl(request(name, &key, &cert, &["-x509"]).args([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]));
    (cert, key)
}

/// A client certificate whose subject common name is `user`, signed by
/// `ca` (from [`client_ca`]), in `dir`: `NAME.pem` and `NAME.key`.
pub fn client_cert(
    dir: &Path,
    ca: &(PathBuf, PathBuf),
    name: &str,
    user: &str,
) -> (PathBuf, PathBuf) {
    let (cert, key) = files(dir, name);
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write extensions");
    openssl(&mut request(user, &key, &csr, &[]));
    openssl(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-set_serial", "2", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&ca.0)
            .arg("-CAkey")
            .arg(&ca.1)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// A self-signed EC certificate for `localhost` and 127.0.0.1 in `dir`:
/// `NAME.pem` and its key `NAME.key`.
pub fn self_signed_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = files(dir, name);
    openssl(request("localhost", &key, &cert, &["-x509"]).args([
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
    ]));
    (cert, key)
}

/// The SHA-256 fingerprint of the certificate file, as openssl prints it.
pub fn cert_fingerprint(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
