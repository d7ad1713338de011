//! The support table against the compiled schema: every config and state
//! leaf of the daemon's schema is either deviated (`yang/ocbgp-deviations.yang`)
//! or named in `yang/support/supported.tsv` with the test that shows it at
//! work, and `yang/SUPPORT.md` is generated from the two.
//!
//! `OCBGP_REGEN=1 cargo test -p ocbgp-models --test support` rewrites
//! `yang/SUPPORT.md`; without it the test fails when the file is stale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use ocbgp_models::support::{area, Support, AREAS};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One row of the support table.
#[derive(Debug, Clone)]
struct Row {
    /// `file::function` of the test.
    test: String,
    /// For state leaves that exist only in some conditions: why.
    conditional: Option<String>,
    line: usize,
}

/// `yang/support/supported.tsv`: path TAB test [TAB conditional: reason];
/// `#` starts a comment line.
fn table() -> BTreeMap<String, Row> {
    let text = fs::read_to_string(root().join("yang/support/supported.tsv"))
        .expect("yang/support/supported.tsv");
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(path), Some(test)) = (cols.next(), cols.next()) else {
            panic!("supported.tsv:{}: want path TAB test", i + 1)
        };
        let conditional = cols.next().map(|c| {
            c.strip_prefix("conditional: ")
                .unwrap_or_else(|| {
                    panic!(
                        "supported.tsv:{}: third column must be `conditional: REASON`",
                        i + 1
                    )
                })
                .to_string()
        });
        let row = Row {
            test: test.to_string(),
            conditional,
            line: i + 1,
        };
        if out.insert(path.to_string(), row).is_some() {
            panic!("supported.tsv:{}: {path} listed twice", i + 1);
        }
    }
    out
}

/// Whether `file::name` names a function in that file (relative to the
/// workspace root).
fn test_exists(test: &str, cache: &mut BTreeMap<String, Option<String>>) -> bool {
    let Some((file, name)) = test.rsplit_once("::") else {
        return false;
    };
    let text = cache
        .entry(file.to_string())
        .or_insert_with(|| fs::read_to_string(root().join(file)).ok());
    let Some(text) = text else { return false };
    let needle = format!("fn {name}(");
    text.contains(&needle)
}

#[test]
fn every_leaf_is_deviated_or_shown_by_a_test() {
    let support = Support::load().expect("schema loads");
    let table = table();
    let mut problems = Vec::new();
    let mut cache = BTreeMap::new();

    for leaf in &support.all {
        let listed = table.get(&leaf.path);
        match (support.deviated.get(&leaf.path), listed) {
            (Some(dev), Some(row)) => problems.push(format!(
                "supported.tsv:{}: {} is deviated ({}) but listed as supported",
                row.line, leaf.path, dev.target
            )),
            (None, None) => problems.push(format!(
                "{} leaf {} is neither deviated nor in yang/support/supported.tsv",
                if leaf.config { "config" } else { "state" },
                leaf.path
            )),
            (Some(dev), None) if dev.module.is_empty() => problems.push(format!(
                "{} disappears with the deviations but no deviation names it",
                leaf.path
            )),
            _ => {}
        }
        if let Some(row) = listed {
            if !test_exists(&row.test, &mut cache) {
                problems.push(format!(
                    "supported.tsv:{}: no test {} (want FILE::FUNCTION)",
                    row.line, row.test
                ));
            }
            if leaf.config && row.conditional.is_some() {
                problems.push(format!(
                    "supported.tsv:{}: only state leaves can be conditional",
                    row.line
                ));
            }
        }
    }
    let known: BTreeSet<&str> = support.all.iter().map(|l| l.path.as_str()).collect();
    for (path, row) in &table {
        if !known.contains(path.as_str()) {
            problems.push(format!(
                "supported.tsv:{}: {path} is no leaf of the schema",
                row.line
            ));
        }
    }
    let generated = support_md(&support, &table);
    let file = root().join("yang/SUPPORT.md");
    let regen = std::env::var_os("OCBGP_REGEN").is_some_and(|v| v == "1");
    if regen {
        fs::write(&file, &generated).unwrap();
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    if !regen {
        let current = fs::read_to_string(&file).unwrap_or_default();
        assert!(
            current == generated,
            "yang/SUPPORT.md is stale: run OCBGP_REGEN=1 cargo test -p ocbgp-models --test support"
        );
    }
}

const BGP: &str =
    "/openconfig-network-instance:network-instances/network-instance/protocols/protocol/bgp";
const RP: &str = "/openconfig-routing-policy:routing-policy";

/// A path as SUPPORT.md prints it: the common prefixes shortened.
fn short(path: &str) -> String {
    if let Some(rest) = path.strip_prefix(BGP) {
        format!("BGP{rest}")
    } else if let Some(rest) = path.strip_prefix(RP) {
        format!("RP{rest}")
    } else {
        path.to_string()
    }
}

fn support_md(support: &Support, table: &BTreeMap<String, Row>) -> String {
    let mut areas: Vec<&str> = Vec::new();
    for (name, _) in AREAS {
        if !areas.contains(name) {
            areas.push(name);
        }
    }
    // area → [config supported, config deviated, state supported, state deviated]
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for leaf in &support.all {
        let i =
            usize::from(!leaf.config) * 2 + usize::from(support.deviated.contains_key(&leaf.path));
        counts.entry(area(&leaf.path)).or_default()[i] += 1;
    }
    let mut out = String::from(
        "# What ocbgpd supports\n\n\
         Generated by `models/tests/support.rs` from the compiled schema, \
         `yang/ocbgp-deviations.yang` and `yang/support/supported.tsv` \
         (`OCBGP_REGEN=1 cargo test -p ocbgp-models --test support`); do not edit.\n\n\
         Every leaf and leaf-list of the schema is either **supported**, with the \
         test that shows it at work, or **deviated** (`deviate not-supported` in \
         `ocbgp-deviations`, with the reason): the daemon refuses to set a deviated \
         node and never shows it. \"Conditional\" state leaves have a value only in \
         the condition given.\n\n",
    );
    let _ = writeln!(out, "`BGP` stands for `{BGP}`, `RP` for `{RP}`.\n");
    out.push_str(
        "| area | config supported | config deviated | state supported | state deviated |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|\n");
    let mut total = [0usize; 4];
    for a in &areas {
        let c = counts.get(a).copied().unwrap_or_default();
        let _ = writeln!(out, "| {a} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3]);
        for i in 0..4 {
            total[i] += c[i];
        }
    }
    let _ = writeln!(
        out,
        "| **total** | {} | {} | {} | {} |\n",
        total[0], total[1], total[2], total[3]
    );

    out.push_str(
        "## Deviated\n\nEach deviation with its reason and the number of leaves it removes.\n\n",
    );
    let mut by_target: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for dev in support.deviated.values() {
        by_target
            .entry(dev.target.as_str())
            .or_insert((dev.reason.as_str(), 0))
            .1 += 1;
    }
    for a in &areas {
        let rows: Vec<_> = by_target.iter().filter(|(t, _)| area(t) == *a).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {a}\n\n| node | leaves | reason |\n|---|---:|---|");
        for (target, (reason, n)) in rows {
            let _ = writeln!(out, "| `{}` | {n} | {reason} |", short(target));
        }
        out.push('\n');
    }

    out.push_str("## Supported\n\nEach supported leaf with the test that shows it.\n\n");
    for a in &areas {
        for config in [true, false] {
            let rows: Vec<_> = support
                .all
                .iter()
                .filter(|l| {
                    l.config == config
                        && area(&l.path) == *a
                        && !support.deviated.contains_key(&l.path)
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "### {a}, {}\n\n| leaf | test |\n|---|---|",
                if config { "config" } else { "state" }
            );
            for leaf in rows {
                let Some(row) = table.get(&leaf.path) else {
                    continue;
                };
                let cond = row
                    .conditional
                    .as_ref()
                    .map(|c| format!(" (conditional: {c})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "| `{}` | `{}`{cond} |", short(&leaf.path), row.test);
            }
            out.push('\n');
        }
    }
    out
}

/// `OCBGP_SUPPORT_DUMP=FILE`: writes every leaf the daemon's schema keeps
/// (path TAB config|state), to seed or review the table.
#[test]
fn dump_kept_leaves_on_request() {
    let Some(file) = std::env::var_os("OCBGP_SUPPORT_DUMP") else {
        return;
    };
    let support = Support::load().expect("schema loads");
    let mut out = String::new();
    for leaf in support
        .all
        .iter()
        .filter(|l| support.kept.contains(&l.path))
    {
        let _ = writeln!(
            out,
            "{}\t{}",
            leaf.path,
            if leaf.config { "config" } else { "state" }
        );
    }
    fs::write(file, out).unwrap();
}
