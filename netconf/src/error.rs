//! `<rpc-error>` (RFC 6241 section 4.3 and appendix A), and how the
//! datastore's errors map onto it.

use std::fmt::Write as _;

use ocbgp_models::datastore::{CommitError, LockError, Target};
use ocbgp_models::edit::EditError;
use ocbgp_models::path::DataPath;
use ocbgp_models::{schema, ModelError};

use crate::xml::escape;

/// The layer an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Secure transport.
    Transport,
    /// Messages (framing, XML, the `<rpc>` element).
    Rpc,
    /// The operation's own parameters and the protocol.
    Protocol,
    /// The content: configuration data and its validation.
    Application,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::Transport => "transport",
            ErrorType::Rpc => "rpc",
            ErrorType::Protocol => "protocol",
            ErrorType::Application => "application",
        }
    }
}

/// The error tags of RFC 6241 appendix A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ErrorTag {
    InUse,
    InvalidValue,
    TooBig,
    MissingAttribute,
    BadAttribute,
    UnknownAttribute,
    MissingElement,
    BadElement,
    UnknownElement,
    UnknownNamespace,
    AccessDenied,
    LockDenied,
    ResourceDenied,
    RollbackFailed,
    DataExists,
    DataMissing,
    OperationNotSupported,
    OperationFailed,
    MalformedMessage,
}

impl ErrorTag {
    /// The tag as it appears in `<error-tag>`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorTag::InUse => "in-use",
            ErrorTag::InvalidValue => "invalid-value",
            ErrorTag::TooBig => "too-big",
            ErrorTag::MissingAttribute => "missing-attribute",
            ErrorTag::BadAttribute => "bad-attribute",
            ErrorTag::UnknownAttribute => "unknown-attribute",
            ErrorTag::MissingElement => "missing-element",
            ErrorTag::BadElement => "bad-element",
            ErrorTag::UnknownElement => "unknown-element",
            ErrorTag::UnknownNamespace => "unknown-namespace",
            ErrorTag::AccessDenied => "access-denied",
            ErrorTag::LockDenied => "lock-denied",
            ErrorTag::ResourceDenied => "resource-denied",
            ErrorTag::RollbackFailed => "rollback-failed",
            ErrorTag::DataExists => "data-exists",
            ErrorTag::DataMissing => "data-missing",
            ErrorTag::OperationNotSupported => "operation-not-supported",
            ErrorTag::OperationFailed => "operation-failed",
            ErrorTag::MalformedMessage => "malformed-message",
        }
    }
}

/// One item of `<error-info>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorInfo {
    /// The session holding a lock (0: not a NETCONF session).
    SessionId(u64),
    /// The offending element's name.
    BadElement(String),
    /// The offending attribute's name.
    BadAttribute(String),
    /// The namespace that is not known.
    BadNamespace(String),
}

/// An `<rpc-error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// `<error-type>`.
    pub error_type: ErrorType,
    /// `<error-tag>`.
    pub tag: ErrorTag,
    /// `<error-app-tag>`, such as YANG's `must-violation`.
    pub app_tag: Option<String>,
    /// The failing node, as a libyang data path; written as an XPath with
    /// namespace prefixes.
    pub path: Option<String>,
    /// `<error-message>`, in English.
    pub message: Option<String>,
    /// `<error-info>`.
    pub info: Vec<ErrorInfo>,
}

impl RpcError {
    /// An error of a type and tag with a message.
    pub fn new(error_type: ErrorType, tag: ErrorTag, message: impl Into<String>) -> RpcError {
        RpcError {
            error_type,
            tag,
            app_tag: None,
            path: None,
            message: Some(message.into()),
            info: Vec::new(),
        }
    }

    /// A protocol error.
    pub fn protocol(tag: ErrorTag, message: impl Into<String>) -> RpcError {
        RpcError::new(ErrorType::Protocol, tag, message)
    }

    /// An application error.
    pub fn application(tag: ErrorTag, message: impl Into<String>) -> RpcError {
        RpcError::new(ErrorType::Application, tag, message)
    }

    /// `malformed-message` (the XML did not parse or is not an rpc).
    pub fn malformed(message: impl Into<String>) -> RpcError {
        RpcError::new(ErrorType::Rpc, ErrorTag::MalformedMessage, message)
    }

    /// `operation-not-supported`.
    pub fn not_supported(message: impl Into<String>) -> RpcError {
        RpcError::protocol(ErrorTag::OperationNotSupported, message)
    }

    /// `invalid-value` in a parameter of the operation.
    pub fn invalid_parameter(message: impl Into<String>) -> RpcError {
        RpcError::protocol(ErrorTag::InvalidValue, message)
    }

    /// `missing-element` for a required parameter.
    pub fn missing_parameter(name: &str) -> RpcError {
        RpcError::protocol(
            ErrorTag::MissingElement,
            format!("the {name} parameter is required"),
        )
        .with_info(ErrorInfo::BadElement(name.to_string()))
    }

    /// `unknown-element` for an unexpected parameter.
    pub fn unknown_parameter(name: &str) -> RpcError {
        RpcError::protocol(
            ErrorTag::UnknownElement,
            format!("unknown parameter {name}"),
        )
        .with_info(ErrorInfo::BadElement(name.to_string()))
    }

    /// Adds an error-info item.
    pub fn with_info(mut self, info: ErrorInfo) -> RpcError {
        self.info.push(info);
        self
    }

    /// Sets the error path (a libyang data path).
    pub fn with_path(mut self, path: impl Into<String>) -> RpcError {
        self.path = Some(path.into());
        self
    }

    /// Writes the `<rpc-error>` element (in the default namespace of the
    /// enclosing `<rpc-reply>`).
    pub fn write(&self, out: &mut String) {
        out.push_str("<rpc-error>");
        let _ = write!(out, "<error-type>{}</error-type>", self.error_type.as_str());
        let _ = write!(out, "<error-tag>{}</error-tag>", self.tag.as_str());
        out.push_str("<error-severity>error</error-severity>");
        if let Some(tag) = &self.app_tag {
            let _ = write!(out, "<error-app-tag>{}</error-app-tag>", escape(tag));
        }
        if let Some(path) = &self.path {
            let (xpath, decls) = xpath_of(path);
            out.push_str("<error-path");
            for (prefix, ns) in decls {
                let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape(ns));
            }
            let _ = write!(out, ">{}</error-path>", escape(&xpath));
        }
        if let Some(message) = &self.message {
            let _ = write!(
                out,
                "<error-message xml:lang=\"en\">{}</error-message>",
                escape(message)
            );
        }
        if !self.info.is_empty() {
            out.push_str("<error-info>");
            for info in &self.info {
                match info {
                    ErrorInfo::SessionId(id) => {
                        let _ = write!(out, "<session-id>{id}</session-id>");
                    }
                    ErrorInfo::BadElement(e) => {
                        let _ = write!(out, "<bad-element>{}</bad-element>", escape(e));
                    }
                    ErrorInfo::BadAttribute(a) => {
                        let _ = write!(out, "<bad-attribute>{}</bad-attribute>", escape(a));
                    }
                    ErrorInfo::BadNamespace(n) => {
                        let _ = write!(out, "<bad-namespace>{}</bad-namespace>", escape(n));
                    }
                }
            }
            out.push_str("</error-info>");
        }
        out.push_str("</rpc-error>");
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.error_type.as_str(), self.tag.as_str())?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Turns a libyang data path (`/module:a/b[k='v']`) into an XPath whose
/// every step carries the module's XML prefix, with the declarations those
/// prefixes need. A path that does not parse is given as it is.
pub fn xpath_of(path: &str) -> (String, Vec<(&'static str, &'static str)>) {
    let Ok(parsed) = DataPath::parse(path) else {
        return (path.to_string(), Vec::new());
    };
    if parsed.is_root() {
        return ("/".to_string(), Vec::new());
    }
    let mut out = String::new();
    let mut decls: Vec<(&'static str, &'static str)> = Vec::new();
    let mut current: Option<&'static schema::YangModule> = None;
    for seg in &parsed.segments {
        if let Some(m) = &seg.module {
            match schema::module(m) {
                Some(module) => current = Some(module),
                None => return (path.to_string(), Vec::new()),
            }
        }
        let Some(module) = current else {
            return (path.to_string(), Vec::new());
        };
        let (Some(prefix), Some(ns)) = (module.prefix, module.namespace) else {
            return (path.to_string(), Vec::new());
        };
        if !decls.iter().any(|(p, _)| *p == prefix) {
            decls.push((prefix, ns));
        }
        let _ = write!(out, "/{prefix}:{}", seg.name);
        for (k, v) in &seg.keys {
            let quoted = ocbgp_models::path::quote(v);
            if k == "." {
                let _ = write!(out, "[.={quoted}]");
            } else {
                let _ = write!(out, "[{prefix}:{k}={quoted}]");
            }
        }
    }
    (out, decls)
}

fn target_name(t: Target) -> &'static str {
    match t {
        Target::Running => "running",
        Target::Candidate => "candidate",
    }
}

impl From<LockError> for RpcError {
    /// Errors of lock and unlock; a write refused by another session's
    /// lock is [`CommitError::Locked`] and maps to `in-use`.
    fn from(e: LockError) -> RpcError {
        match e {
            LockError::Held { target, holder } => RpcError::protocol(
                ErrorTag::LockDenied,
                format!(
                    "the {} datastore is locked by session {}",
                    target_name(target),
                    holder.0
                ),
            )
            .with_info(ErrorInfo::SessionId(holder.0)),
            LockError::CandidateModified => RpcError::protocol(ErrorTag::LockDenied, e.to_string())
                .with_info(ErrorInfo::SessionId(0)),
            LockError::NotHeld(_) => RpcError::protocol(ErrorTag::OperationFailed, e.to_string()),
        }
    }
}

/// The error of a configuration that does not validate: the YANG error
/// app tags of RFC 7950 section 15 pick the tag.
pub fn invalid(e: ModelError) -> RpcError {
    let tag = match e.app_tag.as_deref() {
        Some("instance-required") | Some("missing-choice") => ErrorTag::DataMissing,
        _ if e.message.starts_with("Mandatory node") => ErrorTag::MissingElement,
        _ if e.message.contains("nvalid") && e.app_tag.is_none() => ErrorTag::InvalidValue,
        _ => ErrorTag::OperationFailed,
    };
    let mut out = RpcError::application(tag, e.message.clone());
    out.app_tag = e.app_tag;
    out.path = e.path;
    out
}

impl From<EditError> for RpcError {
    fn from(e: EditError) -> RpcError {
        match e {
            EditError::DataExists(path) => {
                RpcError::application(ErrorTag::DataExists, "the data already exists")
                    .with_path(path)
            }
            EditError::DataMissing(path) => {
                RpcError::application(ErrorTag::DataMissing, "the data does not exist")
                    .with_path(path)
            }
            EditError::NotConfig(path) => RpcError::application(
                ErrorTag::InvalidValue,
                "not configuration (config false); it cannot be edited",
            )
            .with_path(path),
            EditError::UnknownPath(m) => {
                let mut out = RpcError::application(ErrorTag::UnknownElement, m.message);
                out.path = m.path;
                out
            }
            EditError::BadValue(m) => {
                let mut out = RpcError::application(ErrorTag::InvalidValue, m.message);
                out.app_tag = m.app_tag;
                out.path = m.path;
                out
            }
            EditError::MalformedPath(m) => {
                RpcError::application(ErrorTag::OperationFailed, m.to_string())
            }
        }
    }
}

impl From<ocbgp_models::nacm::Denied> for RpcError {
    /// RFC 8341: `access-denied`, of the protocol for an operation and of
    /// the application, with the node's path, for data.
    fn from(d: ocbgp_models::nacm::Denied) -> RpcError {
        match d.op {
            ocbgp_models::nacm::Op::Exec => {
                RpcError::protocol(ErrorTag::AccessDenied, d.to_string())
            }
            _ => RpcError::application(ErrorTag::AccessDenied, d.to_string())
                .with_path(d.path.clone()),
        }
    }
}

impl From<CommitError> for RpcError {
    fn from(e: CommitError) -> RpcError {
        match e {
            CommitError::Edit(e) => e.into(),
            CommitError::Invalid(m) => invalid(m),
            CommitError::Refused(r) => RpcError::application(
                ErrorTag::OperationFailed,
                format!("the change was refused: {r}"),
            ),
            CommitError::Locked(LockError::Held { target, holder }) => RpcError::protocol(
                ErrorTag::InUse,
                format!(
                    "the {} datastore is locked by session {}",
                    target_name(target),
                    holder.0
                ),
            )
            .with_info(ErrorInfo::SessionId(holder.0)),
            CommitError::Locked(l) => l.into(),
            CommitError::UnknownCommit(id) => RpcError::application(
                ErrorTag::InvalidValue,
                format!("no commit {id} in the kept history"),
            ),
            CommitError::NoPendingConfirm => {
                RpcError::protocol(ErrorTag::OperationFailed, "no confirmed commit is pending")
            }
            CommitError::Persist(m) => RpcError::application(
                ErrorTag::OperationFailed,
                format!("the configuration could not be saved: {m}"),
            ),
            // Not NETCONF's: its edits of running go on while one waits.
            e @ CommitError::ConfirmPending(_) => {
                RpcError::application(ErrorTag::OperationFailed, e.to_string())
            }
            CommitError::Denied(d) => d.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_paths_get_prefixes() {
        let (xpath, decls) = xpath_of(
            "/openconfig-network-instance:network-instances/network-instance[name='DEFAULT']/config/router-id",
        );
        let m = schema::module("openconfig-network-instance").unwrap();
        let p = m.prefix.unwrap();
        assert_eq!(
            xpath,
            format!("/{p}:network-instances/{p}:network-instance[{p}:name='DEFAULT']/{p}:config/{p}:router-id")
        );
        assert_eq!(decls, vec![(p, m.namespace.unwrap())]);
        assert_eq!(xpath_of("not a path").0, "not a path");
    }

    #[test]
    fn writes_rpc_error() {
        let mut out = String::new();
        RpcError::from(LockError::Held {
            target: Target::Running,
            holder: ocbgp_models::datastore::SessionId(4),
        })
        .write(&mut out);
        assert!(out.contains("<error-tag>lock-denied</error-tag>"), "{out}");
        assert!(out.contains("<session-id>4</session-id>"), "{out}");
        assert!(out.contains("<error-type>protocol</error-type>"), "{out}");
    }
}
