//! Walking a GoBGP configuration tree while keeping track of what was read:
//! every key a section reader did not take is reported as not mapped, with
//! its GoBGP name, when the reader is dropped. So nothing in the input is
//! dropped silently, whatever the converter knows about.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One setting the conversion could not carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// Where it is in the GoBGP configuration, dotted (`neighbors[0].config.vrf`).
    pub path: String,
    /// Why it is not carried over.
    pub why: String,
}

/// The settings not carried over, in the order they were met.
#[derive(Debug, Default)]
pub struct Report {
    items: RefCell<Vec<Unmapped>>,
}

impl Report {
    /// Records a setting that is not carried over.
    pub fn unmapped(&self, path: impl Into<String>, why: impl Into<String>) {
        self.items.borrow_mut().push(Unmapped {
            path: path.into(),
            why: why.into(),
        });
    }

    /// Everything recorded.
    pub fn into_items(self) -> Vec<Unmapped> {
        self.items.into_inner()
    }
}

/// Why a key nobody read is reported.
const NO_EQUIVALENT: &str = "no equivalent in ocbgp's OpenConfig model";

/// A GoBGP table (TOML table, YAML mapping) being read.
pub struct Obj<'a> {
    path: String,
    map: Option<&'a Map<String, Value>>,
    used: RefCell<BTreeSet<String>>,
    report: &'a Report,
}

impl<'a> Obj<'a> {
    /// Reads `value` found at `path`; anything but a table is reported.
    pub fn new(value: &'a Value, path: impl Into<String>, report: &'a Report) -> Obj<'a> {
        let path = path.into();
        let map = value.as_object();
        if map.is_none() {
            report.unmapped(
                path.clone(),
                format!("expected a table, found {}", kind(value)),
            );
        }
        Obj {
            path,
            map,
            used: RefCell::new(BTreeSet::new()),
            report,
        }
    }

    /// Its GoBGP path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Renames it (a list entry is easier to find by its key than its index).
    pub fn rename(&mut self, path: impl Into<String>) {
        self.path = path.into();
    }

    /// The dotted path of a key inside it.
    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The report it writes to.
    pub fn report(&self) -> &'a Report {
        self.report
    }

    /// The raw value of `key`, marking it read.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        let v = self.map?.get(key)?;
        self.used.borrow_mut().insert(key.to_string());
        Some(v)
    }

    /// Whether `key` is present (without reading it).
    pub fn has(&self, key: &str) -> bool {
        self.map.is_some_and(|m| m.contains_key(key))
    }

    /// A sub-table.
    pub fn obj(&self, key: &str) -> Option<Obj<'a>> {
        self.get(key)
            .map(|v| Obj::new(v, self.at(key), self.report))
    }

    /// A list of tables (`[[key]]` in TOML, a sequence in YAML).
    pub fn list(&self, key: &str) -> Vec<Obj<'a>> {
        match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| Obj::new(v, format!("{}[{i}]", self.at(key)), self.report))
                .collect(),
            // A single table where a list is expected: YAML users do that.
            Some(v @ Value::Object(_)) => vec![Obj::new(v, self.at(key), self.report)],
            Some(v) => {
                self.report
                    .unmapped(self.at(key), format!("expected a list, found {}", kind(v)));
                Vec::new()
            }
        }
    }

    /// A string (numbers and booleans as their text).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            v => {
                self.report.unmapped(
                    self.at(key),
                    format!("expected a string, found {}", kind(v)),
                );
                None
            }
        }
    }

    /// A non-empty string.
    pub fn nonempty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// An integer (also from a numeric string).
    pub fn int(&self, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if n.is_none() {
            self.report
                .unmapped(self.at(key), format!("expected an integer, found {v}"));
        }
        n
    }

    /// An integer in `T`'s range; out of range is reported.
    pub fn uint<T: TryFrom<i64>>(&self, key: &str) -> Option<T> {
        let n = self.int(key)?;
        let v = T::try_from(n).ok();
        if v.is_none() {
            self.report
                .unmapped(self.at(key), format!("{n} is out of range"));
        }
        v
    }

    /// A boolean (also from "true"/"false" text).
    pub fn bool(&self, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        let b = match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        if b.is_none() {
            self.report
                .unmapped(self.at(key), format!("expected true or false, found {v}"));
        }
        b
    }

    /// A list of strings (a single string counts as a list of one).
    pub fn strs(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    other => {
                        self.report.unmapped(
                            self.at(key),
                            format!("expected strings, found {}", kind(other)),
                        );
                        None
                    }
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(v) => {
                self.report.unmapped(
                    self.at(key),
                    format!("expected a list of strings, found {}", kind(v)),
                );
                Vec::new()
            }
        }
    }

    /// Reports `key`, if present, as not carried over for `why`.
    pub fn skip(&self, key: &str, why: &str) {
        if let Some(v) = self.get(key) {
            if !is_off(v) {
                self.report.unmapped(self.at(key), why);
            }
        }
    }

    /// Marks `key` read without using it (handled elsewhere, or a value
    /// that changes nothing).
    pub fn ignore(&self, key: &str) {
        let _ = self.get(key);
    }
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        let Some(map) = self.map else { return };
        let used = self.used.borrow();
        for (key, value) in map {
            if !used.contains(key) && !is_off(value) {
                self.report.unmapped(self.at(key), NO_EQUIVALENT);
            }
        }
    }
}

/// Values that configure nothing: false, empty, zero-length. A GoBGP file
/// often spells out defaults; those are not worth a warning.
fn is_off(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_off),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}
