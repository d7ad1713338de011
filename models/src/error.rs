//! Errors from the models layer, phrased for the person who wrote the input.

use std::fmt;

/// A schema or data problem, with the data path it concerns when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ModelError {
    /// The data path of the offending node, when libyang knows it.
    pub path: Option<String>,
    /// What is wrong, in words.
    pub message: String,
    /// The YANG error-app-tag, such as `instance-required` or `must-violation`.
    pub app_tag: Option<String>,
}

impl ModelError {
    /// An error about the given path.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError {
            path: Some(path.into()),
            message: message.into(),
            app_tag: None,
        }
    }

    /// An error that concerns no particular path.
    pub fn general(message: impl Into<String>) -> Self {
        ModelError {
            path: None,
            message: message.into(),
            app_tag: None,
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<yang2::Error> for ModelError {
    fn from(e: yang2::Error) -> Self {
        ModelError {
            path: e.path.filter(|p| !p.is_empty()),
            message: e
                .msg
                .unwrap_or_else(|| format!("libyang error {}", e.errcode)),
            app_tag: e.apptag,
        }
    }
}
