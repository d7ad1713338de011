//! Configuration trees: parsing and validating config-only data against the
//! schema.

use yang2::data::{
    Data, DataFormat, DataParserFlags, DataPrinterFlags, DataTree, DataValidationFlags,
};

use crate::{schema, ModelError};

/// Encoding of configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON as RFC 7951 defines it for YANG data.
    Json,
    /// XML as NETCONF carries it.
    Xml,
}

impl Encoding {
    /// Picks the encoding from the first non-blank character of `text`.
    pub fn sniff(text: &str) -> Encoding {
        match text.trim_start().as_bytes().first() {
            Some(b'<') => Encoding::Xml,
            _ => Encoding::Json,
        }
    }

    fn format(self) -> DataFormat {
        match self {
            Encoding::Json => DataFormat::JSON,
            Encoding::Xml => DataFormat::XML,
        }
    }
}

/// Parses data text into a tree of the process-wide context.
///
/// libyang reads its input up to a NUL byte and yang2 passes the bytes as
/// they are, so the text is copied with a terminating NUL; a NUL inside the
/// text is refused rather than silently cutting it short.
pub fn parse_tree(
    text: &str,
    encoding: Encoding,
    parser: DataParserFlags,
    validation: DataValidationFlags,
) -> Result<DataTree<'static>, ModelError> {
    if text.contains('\0') {
        return Err(ModelError::general("input contains a NUL character"));
    }
    let mut input = Vec::with_capacity(text.len() + 1);
    input.extend_from_slice(text.as_bytes());
    input.push(0);
    Ok(DataTree::parse_string(
        schema::context(),
        input,
        encoding.format(),
        parser,
        validation,
    )?)
}

/// A validated configuration tree (no state nodes).
#[derive(Debug)]
pub struct Config {
    tree: DataTree<'static>,
}

impl Config {
    /// Parses and fully validates configuration text: types, ranges,
    /// patterns, keys, leafrefs, `must`/`when` and mandatory nodes. State
    /// nodes in the input are an error.
    pub fn parse(text: &str, encoding: Encoding) -> Result<Config, ModelError> {
        let tree = parse_tree(
            text,
            encoding,
            DataParserFlags::STRICT | DataParserFlags::NO_STATE,
            DataValidationFlags::NO_STATE,
        )?;
        Ok(Config { tree })
    }

    /// Validates a tree built by edits, making it a configuration.
    pub fn from_tree(mut tree: DataTree<'static>) -> Result<Config, ModelError> {
        tree.validate(DataValidationFlags::NO_STATE)?;
        Ok(Config { tree })
    }

    /// A tree known valid (derived from valid trees by libyang's own diff).
    pub(crate) fn trusted(tree: DataTree<'static>) -> Config {
        Config { tree }
    }

    /// The tree, for a transaction editing running in place (it validates
    /// or reverts before anyone else sees it).
    pub(crate) fn tree_mut(&mut self) -> &mut DataTree<'static> {
        &mut self.tree
    }

    /// Gives up the validated tree, for editing a copy.
    pub fn into_tree(self) -> DataTree<'static> {
        self.tree
    }

    /// A copy of the tree, to edit.
    pub fn to_tree(&self) -> DataTree<'static> {
        // Duplicating a tree only fails on allocation failure.
        self.tree.duplicate().expect("duplicate configuration tree")
    }

    /// An empty configuration.
    pub fn empty() -> Config {
        Config {
            tree: DataTree::new(schema::context()),
        }
    }

    /// The underlying libyang tree.
    pub fn tree(&self) -> &DataTree<'static> {
        &self.tree
    }

    /// Value of the leaf at `path`, in canonical form, if present.
    pub fn value(&self, path: &str) -> Option<String> {
        self.tree.find_path(path).ok()?.value_canonical()
    }

    /// Prints the configuration (explicitly set nodes only).
    pub fn print(&self, encoding: Encoding) -> Result<String, ModelError> {
        crate::ly::print_tree(
            &self.tree,
            encoding.format(),
            DataPrinterFlags::WITH_SIBLINGS,
        )
        .map_err(ModelError::general)
    }
}
