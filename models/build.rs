//! Build script of `ocbgp-models`: the schema in `yang/` is the one source
//! of everything below.
//!
//! 1. Embeds every module of `yang/` (`build/embed.rs` → `modules.rs`).
//! 2. Loads them into libyang through yang2, walks the compiled schema into
//!    a small model (`build/model.rs`) and generates from it, into
//!    `$OUT_DIR/gen/`:
//!    * `paths.rs`: schema path constants for every data node (`build/paths.rs`);
//!    * `types.rs`: enumerations and identities as Rust enums (`build/enums.rs`);
//!    * `config.rs`, `state.rs`: typed structs (`build/structs.rs`);
//!    * `changes.rs`: change-classification tables (`build/changes.rs`).
//!
//! `src/gen/` includes the generated files and holds the small runtime they
//! need. Set `OCBGP_GEN_DUMP=dir` to also copy the generated files there.

#[path = "build/changes.rs"]
mod changes;
#[path = "build/embed.rs"]
mod embed;
#[path = "build/enums.rs"]
mod enums;
#[path = "build/model.rs"]
mod model;
#[path = "build/names.rs"]
mod names;
#[path = "build/paths.rs"]
mod paths;
#[path = "build/structs.rs"]
mod structs;

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let yang_dir = manifest
        .join("../yang")
        .canonicalize()
        .expect("yang/ folder");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", yang_dir.display());
    println!("cargo:rerun-if-env-changed=OCBGP_GEN_DUMP");

    let modules = embed::run(&yang_dir, &out_dir);
    // The generated code comes from the schema without the deviation
    // modules: a not-supported node keeps its path constant and struct
    // field (always absent, or its default), so code that refuses or
    // ignores it still compiles, while the datastore's context, which
    // loads every module, refuses to hold it.
    let generated: Vec<String> = modules
        .all
        .iter()
        .filter(|m| !modules.deviations.contains(m))
        .cloned()
        .collect();

    let ctx = model::load_context(&yang_dir, &generated);
    let mut schema = model::walk(&ctx, &generated);
    enums::assign_names(&mut schema);
    let paths = paths::emit(&schema);
    let files = [
        ("types.rs", enums::emit(&schema)),
        ("config.rs", structs::emit(&schema, structs::View::Config)),
        ("state.rs", structs::emit(&schema, structs::View::State)),
        ("changes.rs", changes::emit(&schema, &paths.modules)),
        ("paths.rs", paths.source),
    ];

    let gen_dir = out_dir.join("gen");
    fs::create_dir_all(&gen_dir).unwrap();
    let dump = env::var_os("OCBGP_GEN_DUMP").map(PathBuf::from);
    for (name, source) in &files {
        fs::write(gen_dir.join(name), source).unwrap();
        if let Some(dir) = &dump {
            fs::create_dir_all(dir).unwrap();
            fs::write(dir.join(name), source).unwrap();
        }
    }
}
