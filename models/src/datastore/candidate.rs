//! The candidate datastore (RFC 6241 8.3). While running has not changed
//! under it, the candidate is kept as the edits made to it, checked by
//! applying them to running in place and putting running back: an
//! edit-config costs what the edit costs, and committing replays the
//! edits as one scoped transaction, as a gNMI Set would. Edits that need
//! the whole tree (a replace of everything), or a change to running while
//! the candidate holds edits, turn it into a whole copy as before.

use yang2::data::DataTree;

use crate::config::Config;
use crate::edit::{self, Edit, EditError};

/// What the candidate holds beyond running.
pub(super) enum Candidate {
    /// Running (as it is now) with these edits.
    Edits(Vec<Edit>),
    /// A whole configuration tree.
    Tree(DataTree<'static>),
}

impl Candidate {
    /// The candidate as a tree of its own.
    pub(super) fn to_tree(&self, running: &Config) -> Result<DataTree<'static>, EditError> {
        match self {
            Candidate::Edits(edits) => applied(running, edits),
            Candidate::Tree(tree) => Ok(tree.duplicate().expect("duplicate candidate")),
        }
    }
}

/// A copy of running with `edits` applied.
pub(super) fn applied(running: &Config, edits: &[Edit]) -> Result<DataTree<'static>, EditError> {
    let mut tree = running.to_tree();
    for e in edits {
        edit::apply(&mut tree, e)?;
    }
    Ok(tree)
}
