//! Saving running to disk atomically, and loading it back.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::config::{Config, Encoding};
use crate::ModelError;

/// Writes `config` to `path` so that a crash leaves either the old file or
/// the new one: write a temporary file, fsync it, rename it over, fsync the
/// directory.
pub(super) fn save(path: &Path, config: &Config) -> Result<(), String> {
    let text = config.print(Encoding::Json).map_err(|e| e.to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
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
