//! Path errors, each with the gRPC status code a gNMI client should see.

use tonic::{Code, Status};

/// Why a path could not be parsed, resolved or converted.
///
/// Every variant carries the path (in gNMI text form, up to the offending
/// element where that is known) so the client can see where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The text or message is not a well-formed path.
    #[error("malformed path {path:?}: {reason}")]
    Malformed {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The origin names no schema tree this target serves.
    #[error("unsupported origin {0:?}: use \"\", \"openconfig\", \"rfc7951\" or a module name")]
    UnsupportedOrigin(String),
    /// Prefix and path carry different, non-empty origins.
    #[error("origin {path:?} of the path differs from origin {prefix:?} of the prefix")]
    OriginMismatch {
        /// Origin of the prefix.
        prefix: String,
        /// Origin of the path.
        path: String,
    },
    /// An element names no schema node at its place.
    #[error("{path}: no schema node {name:?} here")]
    NotFound {
        /// The path up to the parent of the element.
        path: String,
        /// The element name as given.
        name: String,
    },
    /// An unqualified element matches nodes of several modules.
    #[error("{path}: {name:?} is ambiguous, qualify it as one of {}", .modules.iter().map(|m| format!("{m}:{name}")).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// The path up to the parent of the element.
        path: String,
        /// The element name as given.
        name: String,
        /// Modules that define a node of that name there.
        modules: Vec<String>,
    },
    /// Keys that do not fit the element: keys on a non-list, an unknown key.
    #[error("{path}: {reason}")]
    BadKey {
        /// The path up to and including the element.
        path: String,
        /// What does not fit.
        reason: String,
    },
    /// The path has a wildcard (`*`, `...`, a `*` or missing key) where it
    /// must denote exactly one node.
    #[error("{path}: the path must name one node, without wildcards or missing keys")]
    Wildcard {
        /// The whole path.
        path: String,
    },
    /// The path is valid but cannot be written in the other syntax, such as
    /// a key value with both quote characters in XPath, or a positional
    /// predicate in gNMI.
    #[error("{path}: {reason}")]
    Unrepresentable {
        /// The path as far as it was converted.
        path: String,
        /// What cannot be expressed.
        reason: String,
    },
}

impl PathError {
    /// The gRPC status code for this error: `NotFound` for names the schema
    /// does not have, `InvalidArgument` for everything else.
    pub fn code(&self) -> Code {
        match self {
            PathError::NotFound { .. } => Code::NotFound,
            _ => Code::InvalidArgument,
        }
    }
}

impl From<PathError> for Status {
    fn from(e: PathError) -> Status {
        Status::new(e.code(), e.to_string())
    }
}
