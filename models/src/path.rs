//! Data paths in libyang's form, `/module:node/list[key='value']/leaf`:
//! parsing them into segments and printing them back.
//!
//! The module prefix appears on the first segment and wherever the module
//! changes (RFC 7951 style qualification), which is what libyang prints and
//! what the gNMI and NETCONF doors produce.

use std::fmt;

use crate::ModelError;

/// One step of a data path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Module name, where the path names it.
    pub module: Option<String>,
    /// Node name.
    pub name: String,
    /// Key predicates in path order: (key name, value).
    pub keys: Vec<(String, String)>,
}

/// A parsed data path (absolute). The empty path is the root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataPath {
    /// The steps from the root.
    pub segments: Vec<Segment>,
}

impl DataPath {
    /// Parses an absolute data path. `/` alone is the root.
    pub fn parse(text: &str) -> Result<DataPath, ModelError> {
        let bad = |why: &str| ModelError::at(text, format!("malformed path: {why}"));
        // libyang takes C strings: a NUL would cut the path short.
        if text.contains('\0') {
            return Err(bad("contains a NUL character"));
        }
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| bad("must start with '/'"))?;
        let mut segments = Vec::new();
        let mut chars = rest.chars().peekable();
        while chars.peek().is_some() {
            let mut ident = String::new();
            while let Some(&c) = chars.peek() {
                if c == '/' || c == '[' {
                    break;
                }
                ident.push(c);
                chars.next();
            }
            if ident.is_empty() {
                return Err(bad("empty node name"));
            }
            let (module, name) = match ident.split_once(':') {
                Some((m, n)) if !m.is_empty() && !n.is_empty() => {
                    (Some(m.to_string()), n.to_string())
                }
                Some(_) => return Err(bad("empty module or node name")),
                None => (None, ident),
            };
            let mut keys = Vec::new();
            while chars.peek() == Some(&'[') {
                chars.next();
                let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                let key = key.trim().to_string();
                if key.is_empty() {
                    return Err(bad("empty key name"));
                }
                let quote = match chars.next() {
                    Some(q @ ('\'' | '"')) => q,
                    _ => return Err(bad("key value must be quoted")),
                };
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some(c) if c == quote => break,
                        Some(c) => value.push(c),
                        None => return Err(bad("unterminated key value")),
                    }
                }
                if chars.next() != Some(']') {
                    return Err(bad("expected ']' after key value"));
                }
                keys.push((key, value));
            }
            segments.push(Segment { module, name, keys });
            match chars.next() {
                None => break,
                Some('/') if chars.peek().is_some() => {}
                Some(_) => return Err(bad("expected '/' between nodes")),
            }
        }
        Ok(DataPath { segments })
    }

    /// Whether this is the root path.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The schema path: the same steps without key predicates.
    pub fn schema_path(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            if let Some(m) = &s.module {
                out.push_str(m);
                out.push(':');
            }
            out.push_str(&s.name);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    /// The path of the parent node; the root's parent is the root.
    pub fn parent(&self) -> DataPath {
        let mut segments = self.segments.clone();
        segments.pop();
        DataPath { segments }
    }
}

/// Writes a key value as a libyang predicate literal.
pub fn quote(value: &str) -> String {
    if value.contains('\'') {
        format!("\"{value}\"")
    } else {
        format!("'{value}'")
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segments {
            f.write_str("/")?;
            if let Some(m) = &s.module {
                write!(f, "{m}:")?;
            }
            f.write_str(&s.name)?;
            for (k, v) in &s.keys {
                write!(f, "[{k}={}]", quote(v))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for p in [
            "/",
            "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/protocols\
             /protocol[identifier='openconfig-policy-types:BGP'][name='BGP']/bgp/global/config/as",
            "/a:b/c[k=\"it's\"]/ocbgp:d",
        ] {
            assert_eq!(DataPath::parse(p).unwrap().to_string(), p);
        }
    }

    #[test]
    fn segments_and_schema_path() {
        let p = DataPath::parse("/m:a/b[k='1'][j='x/y]']/n:c").unwrap();
        assert_eq!(p.segments.len(), 3);
        assert_eq!(
            p.segments[1].keys,
            vec![("k".into(), "1".into()), ("j".into(), "x/y]".into())]
        );
        assert_eq!(p.schema_path(), "/m:a/b/n:c");
        assert_eq!(p.parent().to_string(), "/m:a/b[k='1'][j='x/y]']");
    }

    #[test]
    fn malformed() {
        for p in [
            "",
            "a/b",
            "/a//b",
            "/a/",
            "/a[k=1]",
            "/a[k='1'",
            "/a[k='1'x",
            "/:a",
            "/m:",
        ] {
            assert!(DataPath::parse(p).is_err(), "accepted {p:?}");
        }
    }
}
