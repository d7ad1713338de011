//! Embeds every module of `yang/` into the crate (`modules.rs`), so the
//! daemon needs no YANG files at run time and the schema has exactly one
//! source.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Header facts of one module file, read without a YANG parser: each fact
/// sits in a top-level statement of the module header.
struct Header {
    name: String,
    belongs_to: Option<String>,
    namespace: Option<String>,
    prefix: Option<String>,
    revision: Option<String>,
    version: Option<String>,
    organization: Option<String>,
    /// Whether the module holds `deviation` statements (a deviation module).
    deviations: bool,
}

/// Returns the argument of the first `keyword` statement in `text`, unquoted;
/// the argument may follow on the next line.
fn argument(text: &str, keyword: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix(keyword) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue;
        }
        let mut rest = rest.trim();
        if rest.is_empty() {
            rest = lines.next()?.trim();
        }
        let arg = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.split('"').next()?.to_string()
        } else {
            rest.trim_end_matches(['{', ';']).trim().to_string()
        };
        return Some(arg);
    }
    None
}

fn header(path: &Path, text: &str) -> Header {
    let (name, belongs_to) = match argument(text, "module") {
        Some(name) => (name, None),
        None => (
            argument(text, "submodule")
                .unwrap_or_else(|| panic!("{}: neither module nor submodule", path.display())),
            argument(text, "belongs-to"),
        ),
    };
    Header {
        name,
        belongs_to,
        namespace: argument(text, "namespace"),
        prefix: argument(text, "prefix"),
        revision: argument(text, "revision"),
        version: argument(text, "oc-ext:openconfig-version"),
        organization: argument(text, "organization"),
        deviations: argument(text, "deviation").is_some(),
    }
}

fn opt(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("Some({v:?})"),
        None => "None".to_string(),
    }
}

/// The top-level modules (not submodules) of `yang/`, in file order.
pub struct Modules {
    /// Every module.
    pub all: Vec<String>,
    /// The deviation modules among them.
    pub deviations: Vec<String>,
}

/// Writes `modules.rs` into `out_dir` and returns the top-level modules.
pub fn run(yang_dir: &Path, out_dir: &Path) -> Modules {
    let mut files: Vec<PathBuf> = fs::read_dir(yang_dir)
        .expect("read yang/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yang"))
        .collect();
    files.sort();

    let mut modules = Modules {
        all: Vec::new(),
        deviations: Vec::new(),
    };
    let mut out = String::from("/// Every YANG module and submodule of `yang/`, embedded.\n");
    out.push_str("pub static MODULES: &[YangModule] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(path).unwrap();
        let h = header(path, &text);
        writeln!(
            out,
            "    YangModule {{ name: {:?}, belongs_to: {}, namespace: {}, prefix: {}, revision: {}, \
             openconfig_version: {}, organization: {}, deviations: {}, text: include_str!({:?}) }},",
            h.name,
            opt(&h.belongs_to),
            opt(&h.namespace),
            opt(&h.prefix),
            opt(&h.revision),
            opt(&h.version),
            opt(&h.organization),
            h.deviations,
            path.display().to_string(),
        )
        .unwrap();
        if h.belongs_to.is_none() {
            if h.deviations {
                modules.deviations.push(h.name.clone());
            }
            modules.all.push(h.name);
        }
    }
    out.push_str("];\n");
    fs::write(out_dir.join("modules.rs"), out).unwrap();
    modules
}
