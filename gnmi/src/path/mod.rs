//! gNMI paths: their text form, and conversion to and from the libyang data
//! paths of the models crate.
//!
//! * [`parse_text`] / [`to_text`]: `origin:/a/b[k=v]/c` and back.
//! * [`join`]: prefix + path as one path.
//! * [`to_data_path`]: one node, e.g.
//!   `/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']`.
//!   Wildcards are refused with [`PathError::Wildcard`].
//! * [`to_xpath`]: a query for Get and Subscribe. A `*` name becomes `*`, a
//!   `*` or missing key value drops that key's predicate (selecting every
//!   entry), `...` becomes `//`, and a trailing `...` is dropped (the subtree
//!   is selected anyway).
//! * [`from_data_path`]: libyang data path to an OpenConfig gNMI path.
//!
//! The schema decides each element's module: elements are qualified where
//! their module differs from their parent's (augments such as
//! openconfig-bgp-policy under routing-policy, or ocbgp's own nodes).
//! Elements the client qualified as `module:name` are accepted. Identity key
//! values (`protocol[identifier=BGP]`) get their module added for libyang
//! and removed for gNMI.
//!
//! Accepted origins are `""`, `"openconfig"`, `"rfc7951"` and the name of an
//! implemented module (which then qualifies the first element).

mod convert;
mod error;
pub(crate) mod schema;
#[cfg(test)]
mod tests;
mod text;

use yang2::context::Context;

use crate::proto::gnmi::{Path, PathElem};
use convert::Mode;
pub use error::PathError;
pub use text::{format as to_text, format_elem, format_elems, parse as parse_text, parse_elem};

/// The origin of OpenConfig models (equivalent to the empty origin).
pub const ORIGIN_OPENCONFIG: &str = "openconfig";
/// The origin for module-qualified (RFC 7951 style) element names.
pub const ORIGIN_RFC7951: &str = "rfc7951";
/// Wildcard element name or key value: any single name or value.
pub const ANY_NAME: &str = "*";
/// Wildcard element: any number of levels, including none.
pub const ANY_DEPTH: &str = "...";

/// Whether `name` can be a path element: `*`, `...`, or a YANG identifier,
/// optionally qualified as `module:identifier`.
pub(crate) fn is_element_name(name: &str) -> bool {
    name == ANY_DEPTH || split_qualified(name).is_some()
}

/// Splits `module:name` (or `name`) after checking both are identifiers;
/// an unqualified `*` passes as a name.
pub(crate) fn split_qualified(name: &str) -> Option<(Option<&str>, &str)> {
    match name.split_once(':') {
        Some((m, l)) => (is_identifier(m) && is_identifier(l)).then_some((Some(m), l)),
        None => (name == ANY_NAME || is_identifier(name)).then_some((None, name)),
    }
}

/// Whether `s` is a YANG identifier.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The elements of a path, reading the deprecated string `element` field
/// when `elem` is empty.
fn elems_of(path: &Path) -> Result<Vec<PathElem>, PathError> {
    #[allow(deprecated)]
    let old = &path.element;
    if path.elem.is_empty() && !old.is_empty() {
        old.iter().map(|e| parse_elem(e)).collect()
    } else {
        Ok(path.elem.clone())
    }
}

/// Prefix and path as one path: the prefix's elements, then the path's.
///
/// The origin is whichever of the two is set; two different non-empty
/// origins are an error. The target comes from the prefix.
pub fn join(prefix: Option<&Path>, path: &Path) -> Result<Path, PathError> {
    let empty = Path::default();
    let prefix = prefix.unwrap_or(&empty);
    let origin = match (prefix.origin.as_str(), path.origin.as_str()) {
        (p, q) if !p.is_empty() && !q.is_empty() && p != q => {
            return Err(PathError::OriginMismatch {
                prefix: p.to_string(),
                path: q.to_string(),
            })
        }
        ("", q) => q,
        (p, _) => p,
    };
    let mut elem = elems_of(prefix)?;
    elem.extend(elems_of(path)?);
    Ok(Path {
        origin: origin.to_string(),
        elem,
        target: prefix.target.clone(),
        ..Default::default()
    })
}

/// Whether a path has wildcards: a `*` or `...` element, or a `*` key value.
/// (Missing list keys are wildcards too, but finding them needs the schema:
/// [`to_data_path`] reports them.)
pub fn has_wildcards(path: &Path) -> bool {
    path.elem
        .iter()
        .any(|e| e.name == ANY_NAME || e.name == ANY_DEPTH || e.key.values().any(|v| v == ANY_NAME))
}

/// The libyang data path of the one node that prefix + path names.
///
/// The root converts to `/`. Wildcards, missing keys and keyless lists give
/// [`PathError::Wildcard`].
pub fn to_data_path(
    ctx: &Context,
    prefix: Option<&Path>,
    path: &Path,
) -> Result<String, PathError> {
    convert::to_libyang(ctx, &join(prefix, path)?, Mode::Exact)
}

/// An XPath query (libyang syntax) for every node that prefix + path selects.
///
/// The root converts to `/*`. See the module documentation for wildcards.
pub fn to_xpath(ctx: &Context, prefix: Option<&Path>, path: &Path) -> Result<String, PathError> {
    convert::to_libyang(ctx, &join(prefix, path)?, Mode::Query)
}

/// [`to_xpath`], with the schema nodes the path's last element may denote
/// (`None` for the root): what a reader needs to know whether the selected
/// subtrees hold configuration, state or both.
pub fn to_xpath_nodes<'c>(
    ctx: &'c Context,
    prefix: Option<&Path>,
    path: &Path,
) -> Result<(String, Option<Vec<yang2::schema::SchemaNode<'c>>>), PathError> {
    convert::to_libyang_nodes(ctx, &join(prefix, path)?, Mode::Query)
}

/// The OpenConfig-style gNMI path (empty origin, unqualified names unless a
/// bare name would be ambiguous, identity keys without module) of a libyang
/// data path such as `lyd_path` prints.
///
/// Positional and leaf-list value predicates have no gNMI form and give
/// [`PathError::Unrepresentable`].
pub fn from_data_path(ctx: &Context, data_path: &str) -> Result<Path, PathError> {
    convert::from_libyang(ctx, data_path)
}
