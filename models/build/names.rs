//! Rust names from YANG names: case conversion, keyword escaping, and the
//! one naming rule every emitter shares (shortest unique suffix of a chain of
//! name segments).

use std::collections::{HashMap, HashSet};

/// Splits a YANG name into words at `-`, `_`, `.` and spaces.
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(['-', '_', '.', ' ', ':'])
        .filter(|w| !w.is_empty())
}

/// `IPV4_UNICAST` → `Ipv4Unicast`, `afi-safi` → `AfiSafi`. A leading digit
/// gets a `V` in front, since identifiers cannot start with one.
pub fn upper_camel(name: &str) -> String {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `peer-as` → `peer_as`.
pub fn snake(name: &str) -> String {
    let out = words(name)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{out}")
    } else {
        out
    }
}

/// `peer-as` → `PEER_AS`.
pub fn screaming(name: &str) -> String {
    snake(name).to_uppercase()
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof",
    "unsized", "virtual", "yield", "gen",
];

/// Makes a snake-case name usable as a field or module name: keywords become
/// raw identifiers (`r#type`); the few that cannot be raw get a trailing `_`.
pub fn ident(name: String) -> String {
    match name.as_str() {
        "self" | "super" | "crate" | "Self" => format!("{name}_"),
        n if KEYWORDS.contains(&n) => format!("r#{name}"),
        _ => name,
    }
}

/// Type names the generated modules must not define, because generated code
/// uses them unqualified.
pub const RESERVED_TYPES: &[&str] = &[
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Self",
    "Root",
    "FromNode",
    "ModelError",
    "DataNodeRef",
    "DataTree",
];

/// Names each item by the shortest suffix of its chain of segments (outermost
/// first) that is unique among all items and not in `taken`, using at least
/// `min` segments. Items whose whole chain still collides get a number.
///
/// This is the single naming rule of the generator: `timers/config` is
/// `TimersConfig` as long as only one structure has that name, and grows a
/// parent segment (`GlobalGracefulRestartConfig`) only on a collision.
pub fn shortest_unique(chains: &[Vec<String>], min: usize, taken: &HashSet<String>) -> Vec<String> {
    let mut depth: Vec<usize> = chains
        .iter()
        .map(|c| min.clamp(1, c.len().max(1)))
        .collect();
    let name = |i: usize, d: usize| chains[i][chains[i].len() - d..].concat();
    loop {
        let names: Vec<String> = (0..chains.len()).map(|i| name(i, depth[i])).collect();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for n in &names {
            *count.entry(n).or_default() += 1;
        }
        let clash: Vec<usize> = (0..chains.len())
            .filter(|&i| count[names[i].as_str()] > 1 || taken.contains(&names[i]))
            .collect();
        if clash.is_empty() {
            return names;
        }
        let mut grew = false;
        for &i in &clash {
            if depth[i] < chains[i].len() {
                depth[i] += 1;
                grew = true;
            }
        }
        if !grew {
            // Whole chains collide: number them in order.
            let mut seen: HashMap<String, usize> = HashMap::new();
            let mut out = names.clone();
            for &i in &clash {
                let n = seen.entry(names[i].clone()).or_default();
                *n += 1;
                if *n > 1 || taken.contains(&names[i]) {
                    out[i] = format!("{}{}", names[i], n);
                }
            }
            return out;
        }
    }
}

/// Quotes a string as a Rust string literal.
pub fn lit(s: &str) -> String {
    format!("{s:?}")
}
