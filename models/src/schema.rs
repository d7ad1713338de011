//! The schema: embedded modules and the process-wide libyang context.

use std::collections::HashMap;
use std::sync::OnceLock;

use yang2::context::{Context, ContextFlags, EmbeddedModuleKey, EmbeddedModules};

use crate::ModelError;

/// One embedded YANG module or submodule, with the header facts management
/// clients ask about (gNMI Capabilities, NETCONF get-schema and yang-library).
#[derive(Debug)]
pub struct YangModule {
    /// Module or submodule name.
    pub name: &'static str,
    /// For a submodule, the module it belongs to.
    pub belongs_to: Option<&'static str>,
    /// XML namespace (modules only).
    pub namespace: Option<&'static str>,
    /// The module's own prefix (modules only).
    pub prefix: Option<&'static str>,
    /// Latest revision date.
    pub revision: Option<&'static str>,
    /// OpenConfig semantic version, for OpenConfig-compatible modules.
    pub openconfig_version: Option<&'static str>,
    /// The organization statement.
    pub organization: Option<&'static str>,
    /// Whether this is a deviation module (it holds `deviation`
    /// statements, such as `ocbgp-deviations`: the nodes ocbgpd does not
    /// implement).
    pub deviations: bool,
    /// The module's YANG text.
    pub text: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/modules.rs"));

impl YangModule {
    /// Whether this is a submodule.
    pub fn is_submodule(&self) -> bool {
        self.belongs_to.is_some()
    }

    /// The version to report to clients: the OpenConfig version where there
    /// is one, else the revision date.
    pub fn version(&self) -> &'static str {
        self.openconfig_version.or(self.revision).unwrap_or("")
    }
}

/// Top-level modules, in embedding order.
pub fn modules() -> impl Iterator<Item = &'static YangModule> {
    MODULES.iter().filter(|m| !m.is_submodule())
}

/// Looks up an embedded module or submodule by name.
pub fn module(name: &str) -> Option<&'static YangModule> {
    MODULES.iter().find(|m| m.name == name)
}

fn embedded() -> &'static EmbeddedModules {
    static EMBEDDED: OnceLock<EmbeddedModules> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        let mut map = HashMap::new();
        for m in MODULES {
            // Register each text with and without its revision, so imports
            // with or without revision-date both resolve.
            let keys = match m.belongs_to {
                None => [
                    EmbeddedModuleKey::new(m.name, None, None, None),
                    EmbeddedModuleKey::new(m.name, m.revision, None, None),
                ],
                Some(parent) => [
                    EmbeddedModuleKey::new(parent, None, Some(m.name), None),
                    EmbeddedModuleKey::new(parent, None, Some(m.name), m.revision),
                ],
            };
            for key in keys {
                map.insert(key, m.text);
            }
        }
        map
    })
}

/// Builds a fresh context with every embedded module loaded and implemented.
///
/// Most callers want the shared [`context`]; this exists for tools and tests
/// that need a context of their own.
pub fn new_context() -> Result<Context, ModelError> {
    load(true)
}

/// A fresh context without the deviation modules: the whole schema as
/// written, with the nodes ocbgpd does not implement still in it (the
/// support check compares the two; generated code is built from this one).
pub fn new_context_without_deviations() -> Result<Context, ModelError> {
    load(false)
}

fn load(deviations: bool) -> Result<Context, ModelError> {
    let mut ctx = Context::new(
        ContextFlags::ALL_IMPLEMENTED
            | ContextFlags::DISABLE_SEARCHDIRS
            | ContextFlags::NO_YANGLIBRARY,
    )?;
    ctx.set_embedded_modules(embedded());
    for m in modules().filter(|m| deviations || !m.deviations) {
        ctx.load_module(m.name, None, &[]).map_err(|e| {
            let e = ModelError::from(e);
            ModelError::general(format!("YANG module {} does not load: {}", m.name, e))
        })?;
    }
    Ok(ctx)
}

/// The process-wide schema context: built on first use, kept for the life of
/// the process, so data trees can be `DataTree<'static>`.
///
/// Panics only if the embedded modules do not load, which the test suite
/// rules out for every build.
pub fn context() -> &'static Context {
    static CONTEXT: OnceLock<Context> = OnceLock::new();
    CONTEXT.get_or_init(|| match new_context() {
        Ok(ctx) => ctx,
        Err(e) => panic!("embedded YANG schema is broken: {e}"),
    })
}

/// The embedded module defining identity `name` (given without prefix), for
/// writing an identity that a stream carries bare (list keys) with its
/// module. A name defined by several modules gives the first in load order.
pub fn identity_module(name: &str) -> Option<&'static YangModule> {
    static BY_NAME: OnceLock<HashMap<String, &'static YangModule>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| {
        let mut map = HashMap::new();
        for module in context().modules(false) {
            let Some(ours) = MODULES.iter().find(|m| m.name == module.name()) else {
                continue;
            };
            let raw = module.as_raw();
            // SAFETY: as in `deviated_by`: a module of the process-wide
            // context; `identities` is a libyang sized array of compiled
            // identities (count just before the first element, null when
            // empty), each with a NUL-terminated name.
            unsafe {
                let array = (*raw).identities;
                if array.is_null() {
                    continue;
                }
                let count = *(array as *const u64).sub(1);
                for i in 0..count as usize {
                    let ident = array.add(i);
                    let n = std::ffi::CStr::from_ptr((*ident).name).to_string_lossy();
                    map.entry(n.into_owned()).or_insert(ours);
                }
            }
        }
        map
    });
    map.get(name).copied()
}

/// The deviation modules that deviate module `name` in the shared
/// [`context`] (RFC 8525's `deviation` list of a module), in load order.
pub fn deviated_by(name: &str) -> Vec<&'static str> {
    let ctx = context();
    let Some(module) = ctx.get_module_implemented(name) else {
        return Vec::new();
    };
    let raw = module.as_raw();
    let mut out = Vec::new();
    // SAFETY: `raw` points to a module of the process-wide context, which
    // lives (unchanged) for the rest of the process. `deviated_by` is a
    // libyang sized array: its count (LY_ARRAY_COUNT_TYPE, u64) sits just
    // before the first element; a null pointer is an empty array.
    unsafe {
        let array = (*raw).deviated_by;
        if array.is_null() {
            return out;
        }
        let count = *(array as *const u64).sub(1);
        for i in 0..count as usize {
            let dev = *array.add(i);
            let dev_name = std::ffi::CStr::from_ptr((*dev).name).to_string_lossy();
            if let Some(m) = MODULES.iter().find(|m| m.name == dev_name) {
                out.push(m.name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_resolve_to_their_module() {
        assert_eq!(
            identity_module("IPV4_UNICAST").map(|m| m.name),
            Some("openconfig-bgp-types")
        );
        assert_eq!(
            identity_module("BGP").map(|m| m.name),
            Some("openconfig-policy-types")
        );
        assert!(identity_module("NO_SUCH_IDENTITY").is_none());
    }
}
