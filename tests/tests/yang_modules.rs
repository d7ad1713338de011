//! Our YANG modules pass the independent checkers: pyang, yanglint (libyang
//! as shipped by Debian) and the OpenConfig parity tool.

use std::process::Command;

use ocbgp_tests::repo_root;

fn yang_files() -> Vec<String> {
    let dir = repo_root().join("yang");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yang"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() > 10, "yang/ holds only {} modules", files.len());
    files
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn pyang_compiles_every_module_cleanly() {
    let yang = repo_root().join("yang");
    let (ok, text) = run(Command::new("pyang")
        .arg("-p")
        .arg(&yang)
        .args(yang_files()));
    assert!(ok && !text.contains("error"), "pyang:\n{text}");
}

/// yanglint parses submodules through their module only, and like ocbgpd
/// implements every imported module (`-ii`), which the `when` conditions
/// on identities such as `oc-bgp-types:IPV4_UNICAST` need.
#[test]
fn yanglint_loads_every_module() {
    let yang = repo_root().join("yang");
    let modules: Vec<String> = yang_files()
        .into_iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("submodule")
        })
        .collect();
    let (ok, text) = run(Command::new("yanglint")
        .arg("-ii")
        .arg("-p")
        .arg(&yang)
        .args(modules));
    assert!(
        ok && !text.to_lowercase().contains("err"),
        "yanglint:\n{text}"
    );
}

/// The workplace's parity tool lives beside the repository, not in it; where
/// it is absent (a clone elsewhere) this check cannot run and says so.
#[test]
fn openconfig_parity() {
    let tool = repo_root().join("../shared/tools/yang-parity");
    if !tool.exists() {
        eprintln!("SKIP: {} not present", tool.display());
        return;
    }
    let (ok, text) = run(Command::new(&tool).arg(repo_root().join("yang")));
    assert!(ok, "parity tool reports differences:\n{text}");
    for line in text.lines() {
        let Some((area, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        if ![
            "bgp/global",
            "bgp/neighbors",
            "bgp/peer-groups",
            "bgp/rib",
            "routing-policy",
            "defined-sets",
        ]
        .contains(&area)
        {
            continue;
        }
        // "present" coverage, the first figure (the second, "supported",
        // is what remains after ocbgp-deviations: see yang/SUPPORT.md).
        let pct: f64 = rest
            .split_whitespace()
            .find(|w| w.ends_with('%'))
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        assert!(pct >= 90.0, "{area} coverage {pct}% < 90%:\n{text}");
    }
    assert!(text.contains(", 0 differences"), "{text}");
}
