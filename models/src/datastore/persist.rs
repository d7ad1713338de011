//! Running on disk: a snapshot (`running.json`, the whole configuration)
//! and a journal (`running.journal`) of the commits since, each an fsync'd
//! record of the commit's diff. A small commit costs one append; the
//! journal is folded into a new snapshot once it outgrows the snapshot.
//!
//! The journal starts with a header naming the snapshot it follows (its
//! length and CRC-32): after a crash between writing a new snapshot and
//! starting its journal, the old journal is recognised as folded in
//! already and ignored. Each record is `length, CRC-32, commit id, diff`;
//! a last record cut short by a crash fails its length or CRC and is
//! dropped (it was never acknowledged: a commit is acknowledged only once
//! its record is synced). A complete record that does not apply is an
//! error naming the file: committed changes are never dropped silently.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use yang2::data::{
    Data, DataDiff, DataFormat, DataParserFlags, DataPrinterFlags, DataTree, DataValidationFlags,
};

use crate::config::{Config, Encoding};
use crate::{schema, ModelError};

const MAGIC: &[u8; 8] = b"ocbgpJ1\n";
const HEADER: usize = 8 + 8 + 4;
/// The journal is folded into the snapshot once larger than the snapshot
/// and this.
const MIN_FOLD: u64 = 4 << 20;

/// The files running is kept in.
pub(super) struct Disk {
    snapshot: PathBuf,
    journal: PathBuf,
    /// The journal, open for appending; `None` after a failed append left
    /// it in doubt (the next commit writes a snapshot).
    file: Option<File>,
    journal_len: u64,
    snapshot_len: u64,
}

/// Where the files of a state directory are.
pub(super) fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("running.json"), dir.join("running.journal"))
}

impl Disk {
    /// The files of the state directory `dir`; nothing is read or
    /// written yet.
    pub(super) fn new(dir: &Path) -> Disk {
        let (snapshot, journal) = paths(dir);
        Disk {
            snapshot,
            journal,
            file: None,
            journal_len: 0,
            snapshot_len: 0,
        }
    }

    /// Loads what the files hold: the snapshot with the journal's commits
    /// applied, `None` when there is no snapshot. When the journal held
    /// anything, the result is saved as a new snapshot so the journal
    /// starts empty.
    pub(super) fn load(&mut self) -> Result<Option<Config>, ModelError> {
        let dir = self
            .snapshot
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let Some((config, rewrite)) = load(&dir)? else {
            return Ok(None);
        };
        let appendable = (!rewrite)
            .then(|| OpenOptions::new().append(true).open(&self.journal).ok())
            .flatten();
        match appendable {
            Some(f) => {
                self.snapshot_len = fs::metadata(&self.snapshot).map(|m| m.len()).unwrap_or(0);
                self.journal_len = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(f);
            }
            None => self.save(&config).map_err(ModelError::general)?,
        }
        Ok(Some(config))
    }

    /// Saves a whole configuration: a new snapshot, then an empty journal
    /// that names it. Either step may be cut by a crash: the files then
    /// hold the configuration before or after, never a mix.
    pub(super) fn save(&mut self, config: &Config) -> Result<(), String> {
        self.file = None;
        let dir = self.snapshot.parent().unwrap_or(Path::new("."));
        let failed = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
        let tmp = self.snapshot.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let f = File::create(&tmp)?;
            // libyang prints straight into the file: the text is never in
            // memory whole.
            crate::ly::print_tree_to_file(
                config.tree(),
                DataFormat::JSON,
                DataPrinterFlags::WITH_SIBLINGS,
                &f,
            )
            .map_err(std::io::Error::other)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.snapshot)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| failed(&self.snapshot, e))?;
        let text = fs::read(&self.snapshot).map_err(|e| failed(&self.snapshot, e))?;
        self.snapshot_len = text.len() as u64;
        let tmp = self.journal.with_extension("journal.tmp");
        let start = || -> std::io::Result<File> {
            let mut f = File::create(&tmp)?;
            f.write_all(&header(&text))?;
            f.sync_all()?;
            fs::rename(&tmp, &self.journal)?;
            File::open(dir)?.sync_all()?;
            OpenOptions::new().append(true).open(&self.journal)
        };
        let file = start().map_err(|e| failed(&self.journal, e))?;
        self.journal_len = HEADER as u64;
        self.file = Some(file);
        Ok(())
    }

    /// Records one commit: its diff appended to the journal and synced,
    /// or a whole snapshot when the journal is in doubt or has grown past
    /// the snapshot. `config` is running after the commit.
    pub(super) fn append(
        &mut self,
        id: u64,
        diff: &DataDiff<'static>,
        config: &Config,
    ) -> Result<(), String> {
        let fold = self.journal_len > self.snapshot_len.max(MIN_FOLD);
        let Some(file) = self.file.as_mut().filter(|_| !fold) else {
            return self.save(config);
        };
        let record = record(id, &encode(diff)?);
        let written = file.write_all(&record).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Cut off whatever part of the record got out, or leave the
            // journal to the next commit's snapshot.
            if file.set_len(self.journal_len).is_err() {
                self.file = None;
            }
            return Err(format!("{}: {e}", self.journal.display()));
        }
        self.journal_len += record.len() as u64;
        Ok(())
    }
}

/// A diff as a journal payload: libyang's JSON of it, with every node
/// (implicit containers and default values included, which a plain print
/// leaves out), then one line per node that is a default rather than set
/// (JSON cannot tell, and a commit that puts a leaf back to its default
/// must come back so).
fn encode(diff: &DataDiff<'static>) -> Result<Vec<u8>, String> {
    let mut out = crate::ly::print_tree(
        diff.tree(),
        DataFormat::JSON,
        DataPrinterFlags::WITH_SIBLINGS
            | DataPrinterFlags::SHRINK
            | DataPrinterFlags::WD_ALL
            | DataPrinterFlags::KEEP_EMPTY_CONT,
    )?
    .into_bytes();
    for node in diff.tree().traverse() {
        // SAFETY: a live node of the diff tree.
        let default = unsafe { (*node.as_raw()).flags } & yang2::ffi::LYD_DEFAULT != 0;
        let deleted = node
            .inclusive_ancestors()
            .find_map(|n| {
                n.meta()
                    .find(|m| m.name() == "operation")
                    .map(|m| m.value() == "delete")
            })
            .unwrap_or(false);
        if default && !deleted {
            out.push(b'\n');
            out.extend_from_slice(crate::ly::node_path(&node).as_bytes());
        }
    }
    Ok(out)
}

/// Applies a journal payload (see [`encode`]) to `tree`.
fn apply(tree: &mut DataTree<'static>, payload: &[u8]) -> Result<(), String> {
    let mut lines = payload.split(|&b| b == b'\n');
    let mut input = lines.next().unwrap_or_default().to_vec();
    input.push(0);
    let diff = DataDiff::parse_string(
        schema::context(),
        input,
        DataFormat::JSON,
        DataParserFlags::NO_VALIDATION | DataParserFlags::STRICT,
        DataValidationFlags::empty(),
    )
    .map_err(|e| e.to_string())?;
    tree.diff_apply(&diff).map_err(|e| e.to_string())?;
    for path in lines {
        let path = std::str::from_utf8(path).map_err(|e| e.to_string())?;
        let node = tree
            .find_path(path)
            .map_err(|_| format!("{path}: not in the data"))?;
        // SAFETY: a live node of `tree`; marking a node libyang itself
        // had marked default (its value is the schema's default).
        unsafe { (*node.as_raw()).flags |= yang2::ffi::LYD_DEFAULT };
    }
    Ok(())
}

/// A journal header naming the snapshot `text`.
fn header(text: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&(text.len() as u64).to_le_bytes());
    h.extend_from_slice(&crc32fast::hash(text).to_le_bytes());
    h
}

/// One journal record.
fn record(id: u64, diff: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8 + diff.len());
    payload.extend_from_slice(&id.to_le_bytes());
    payload.extend_from_slice(diff);
    let mut r = Vec::with_capacity(8 + payload.len());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    r.extend_from_slice(&payload);
    r
}

/// Journal records: (commit id, payload) each.
type Records<'j> = Vec<(u64, &'j [u8])>;

/// The complete records of a journal that follows `snapshot`: (commit id,
/// diff text) each, and whether a torn record was dropped at the end;
/// `None` for another snapshot's journal (folded in already, or never
/// begun).
fn records<'j>(journal: &'j [u8], snapshot: &[u8]) -> Option<(Records<'j>, bool)> {
    if journal.len() < HEADER || journal[..HEADER] != header(snapshot)[..] {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = &journal[HEADER..];
    while !rest.is_empty() {
        let Some((len, crc)) = rest
            .get(..8)
            .map(|h| (u32::from_le_bytes(h[..4].try_into().unwrap()), &h[4..8]))
        else {
            return Some((out, true));
        };
        let Some(payload) = rest.get(8..8 + len as usize).filter(|p| p.len() >= 8) else {
            return Some((out, true));
        };
        if crc32fast::hash(payload).to_le_bytes() != crc {
            return Some((out, true));
        }
        let id = u64::from_le_bytes(payload[..8].try_into().unwrap());
        out.push((id, &payload[8..]));
        rest = &rest[8 + len as usize..];
    }
    Some((out, false))
}

/// Loads what a state directory holds, without changing it: the snapshot
/// with the journal's commits applied, and whether the journal must be
/// written anew (it held commits or a torn record, belongs to another
/// snapshot or is missing). `None` without a snapshot.
pub(super) fn load(dir: &Path) -> Result<Option<(Config, bool)>, ModelError> {
    let (snapshot, journal) = paths(dir);
    let cannot = |p: &Path, e: std::io::Error| {
        ModelError::general(format!("cannot read {}: {e}", p.display()))
    };
    let text = match fs::read(&snapshot) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(&snapshot, e)),
    };
    let invalid = |p: &Path, e: &dyn std::fmt::Display| {
        ModelError::general(format!(
            "saved configuration {} is invalid ({e}); fix or remove the file, it is not replaced automatically",
            p.display()
        ))
    };
    let utf8 = std::str::from_utf8(&text).map_err(|e| invalid(&snapshot, &e))?;
    let config = Config::parse(utf8, Encoding::Json).map_err(|e| invalid(&snapshot, &e))?;
    let journal_bytes = match fs::read(&journal) {
        Ok(j) => j,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some((config, true))),
        Err(e) => return Err(cannot(&journal, e)),
    };
    let Some((records, torn)) = records(&journal_bytes, &text) else {
        return Ok(Some((config, true)));
    };
    if torn {
        tracing::warn!(
            journal = %journal.display(),
            "dropped a partly written last record (a commit never acknowledged)"
        );
    }
    if records.is_empty() {
        return Ok(Some((config, torn)));
    }
    let mut tree = config.into_tree();
    for (id, payload) in records {
        apply(&mut tree, payload).map_err(|e| invalid(&journal, &format!("commit {id}: {e}")))?;
    }
    let config = Config::from_tree(tree).map_err(|e| invalid(&journal, &e))?;
    Ok(Some((config, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stop_at_a_torn_one() {
        let snapshot = b"{}";
        let mut j = header(snapshot);
        j.extend(record(2, b"first"));
        let whole = j.len();
        j.extend(record(3, b"second"));
        let (all, torn) = records(&j, snapshot).unwrap();
        assert!(!torn);
        assert_eq!(all, [(2, &b"first"[..]), (3, &b"second"[..])]);
        // Cut anywhere in the last record: the first one alone survives.
        for cut in whole..j.len() {
            let (some, torn) = records(&j[..cut], snapshot).unwrap();
            assert_eq!(some, [(2, &b"first"[..])], "cut at {cut}");
            assert_eq!(torn, cut > whole, "cut at {cut}");
        }
        // A flipped bit fails the CRC.
        let mut bad = j.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            records(&bad, snapshot).unwrap(),
            (vec![(2, &b"first"[..])], true)
        );
        // Another snapshot's journal is not this one's.
        assert!(records(&j, b"{ }").is_none());
    }

    /// Arbitrary bytes after a good header: no panic, and only records
    /// whose CRC holds come out.
    #[test]
    fn records_survive_garbage() {
        let snapshot = b"{}";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let mut j = header(snapshot);
            if round % 3 == 0 {
                j.extend(record(1, b"ok"));
            }
            let len = (next() % 64) as usize;
            j.extend((0..len).map(|_| next() as u8));
            if round % 5 == 0 {
                // A length field claiming almost 4 GiB.
                j.extend([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
            }
            let (found, _) = records(&j, snapshot).unwrap();
            for (_, payload) in found {
                assert!(payload.len() < j.len());
            }
        }
    }

    /// A payload whose CRC holds but whose diff does not parse or apply
    /// is an error, not a panic.
    #[test]
    fn a_bad_payload_is_an_error() {
        let mut tree = DataTree::new(schema::context());
        for payload in [
            &b""[..],
            b"{",
            b"{\"openconfig-network-instance:network-instances\": 5}",
            b"{}\n/no/such/node",
            b"\xff\xfe",
        ] {
            assert!(apply(&mut tree, payload).is_err(), "{payload:?}");
        }
    }
}
