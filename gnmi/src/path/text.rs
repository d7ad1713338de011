//! The text form of gNMI paths, as in the OpenConfig "gNMI path strings"
//! convention: `/a/b[k=v][k2=v2]/c`, with an optional `origin:` in front.
//!
//! In key values `\` escapes the next character (`\]`, `\\`), and `\n`, `\r`
//! stand for newline and carriage return. A `/` inside `[...]` is part of the
//! value, so `/interfaces/interface[name=Ethernet1/2]` has two elements.

use std::collections::BTreeMap;

use super::{is_element_name, PathError};
use crate::proto::gnmi::{Path, PathElem};

/// Parses the text form of a path.
///
/// `origin:/a/b` sets the origin (the origin is what precedes `:/`). A
/// leading `/` is optional: gNMI paths are relative to their prefix, and the
/// prefix is the root by default. `""` and `"/"` are the root. The wildcards
/// `*` (any name or key value) and `...` (any depth) are kept as elements.
pub fn parse(text: &str) -> Result<Path, PathError> {
    let malformed = |reason: &str| PathError::Malformed {
        path: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let (origin, rest) = split_origin(trimmed);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let mut elem = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while chars.peek().is_some() {
        let start = chars.peek().map(|&(i, _)| i).unwrap_or(rest.len());
        let mut end = rest.len();
        while let Some(&(i, c)) = chars.peek() {
            if c == '[' || c == '/' {
                end = i;
                break;
            }
            chars.next();
        }
        let name = &rest[start..end];
        if name.is_empty() {
            return Err(malformed("empty element name"));
        }
        if !is_element_name(name) {
            return Err(malformed(&format!("{name:?} is not a node name")));
        }
        let mut key = BTreeMap::new();
        while chars.peek().is_some_and(|&(_, c)| c == '[') {
            chars.next();
            let (k, v) = parse_key(&mut chars).map_err(|r| malformed(&r))?;
            if key.insert(k.clone(), v).is_some() {
                return Err(malformed(&format!("key {k:?} given twice")));
            }
        }
        match chars.next() {
            // End, or '/' before the next element (a trailing '/' is fine).
            None | Some((_, '/')) => {}
            Some((_, c)) => return Err(malformed(&format!("unexpected {c:?} after {name:?}"))),
        }
        elem.push(PathElem {
            name: name.to_string(),
            key,
        });
    }
    Ok(Path {
        origin: origin.to_string(),
        elem,
        ..Default::default()
    })
}

/// Splits `origin:/rest` into origin and rest; text without one has origin "".
fn split_origin(text: &str) -> (&str, &str) {
    if text.starts_with('/') {
        return ("", text);
    }
    let head_end = text.find('/').unwrap_or(text.len());
    let head = &text[..head_end];
    match head.strip_suffix(':') {
        Some(origin) if !origin.contains(['[', ':']) => (origin, &text[head_end..]),
        _ => ("", text),
    }
}

/// Parses `name=value]` after a `[`, unescaping the value.
fn parse_key(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<(String, String), String> {
    let mut name = String::new();
    loop {
        match chars.next() {
            Some((_, '=')) => break,
            Some((_, c)) if c == ']' || c == '[' || c == '/' => {
                return Err(format!("key {name:?} has no '='"));
            }
            Some((_, c)) => name.push(c),
            None => return Err("unterminated key".to_string()),
        }
    }
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err("empty key name".to_string());
    }
    let mut value = String::new();
    loop {
        match chars.next() {
            Some((_, ']')) => return Ok((name, value)),
            Some((_, '\\')) => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, c)) => value.push(c),
                None => return Err(format!("value of key {name:?} ends in '\\'")),
            },
            Some((_, c)) => value.push(c),
            None => return Err(format!("value of key {name:?} has no closing ']'")),
        }
    }
}

/// Formats a path as text: `origin:/a/b[k=v]`, or `/a/b[k=v]` without origin.
///
/// Keys come out sorted by name, as the convention requires. A path that
/// only has the deprecated string `element` field shows those strings.
pub fn format(path: &Path) -> String {
    let mut out = String::new();
    if !path.origin.is_empty() {
        out.push_str(&path.origin);
        out.push(':');
    }
    #[allow(deprecated)]
    let old = &path.element;
    if path.elem.is_empty() && !old.is_empty() {
        for e in old {
            out.push('/');
            out.push_str(e);
        }
    } else {
        out.push_str(&format_elems(&path.elem));
    }
    if out.is_empty() || out.ends_with(':') {
        out.push('/');
    }
    out
}

/// Formats elements as an absolute path (`""` for no elements).
pub fn format_elems(elems: &[PathElem]) -> String {
    let mut out = String::new();
    for e in elems {
        out.push('/');
        out.push_str(&format_elem(e));
    }
    out
}

/// Formats one element: `name[k=v]...`, escaping `\`, `]`, newline and CR.
pub fn format_elem(elem: &PathElem) -> String {
    let mut out = elem.name.clone();
    for (k, v) in &elem.key {
        out.push('[');
        out.push_str(k);
        out.push('=');
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                ']' => out.push_str("\\]"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push(']');
    }
    out
}

/// Parses one element in text form, `name[k=v]...`: the form of the
/// deprecated string `element` field of a path.
pub fn parse_elem(text: &str) -> Result<PathElem, PathError> {
    let malformed = || PathError::Malformed {
        path: text.to_string(),
        reason: "not a single path element".to_string(),
    };
    // A leading '/' would make parse() accept it as an absolute path.
    if text.starts_with('/') {
        return Err(malformed());
    }
    let mut path = parse(text)?;
    if path.elem.len() != 1 || !path.origin.is_empty() {
        return Err(malformed());
    }
    Ok(path.elem.remove(0))
}
