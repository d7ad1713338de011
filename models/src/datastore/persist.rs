//! Saving running to disk atomically, and loading it back.

use std::fs::{self, File};
use std::path::Path;
use yang2::data::{DataFormat, DataPrinterFlags};

use crate::config::{Config, Encoding};
use crate::ModelError;

/// Writes `config` to `path` so that a crash leaves either the old file or
/// the new one: write a temporary file, fsync it, rename it over, fsync the
/// directory.
///
/// libyang prints straight into the file: the text is never in memory
/// whole (a configuration with a 64 MB value would otherwise cost two
/// more copies of it at each commit).
pub(super) fn save(path: &Path, config: &Config) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let f = File::create(&tmp)?;
        crate::ly::print_tree_to_file(
            config.tree(),
            DataFormat::JSON,
            DataPrinterFlags::WITH_SIBLINGS,
            &f,
        )
        .map_err(std::io::Error::other)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads a saved configuration; `None` when there is none. A file that does
/// not parse or validate is an error that names it.
pub(super) fn load(path: &Path) -> Result<Option<Config>, ModelError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ModelError::general(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    Config::parse(&text, Encoding::Json).map(Some).map_err(|e| {
        ModelError::general(format!(
            "saved configuration {} is invalid ({e}); fix or remove the file, it is not replaced automatically",
            path.display()
        ))
    })
}
