//! OpenConfig BGP inheritance: a neighbor's effective configuration is its
//! own leaves over its peer group's over the model's defaults. The engine
//! resolves neighbors from it and the operational datastore mirrors it
//! into the neighbors' `state` containers, so both see the same values.

use yang2::data::{Data, DataTree};
use yang2::schema::SchemaNodeKind;

use crate::{ly, ModelError};

/// The peer group `group` of the BGP instance that holds `neighbor` (a
/// neighbor's data path).
fn peer_group_path(neighbor: &str, group: &str) -> Option<String> {
    let (bgp, _) = neighbor.rsplit_once("/neighbors/neighbor[")?;
    Some(format!(
        "{bgp}/peer-groups/peer-group[peer-group-name={}]",
        crate::path::quote(group)
    ))
}

/// A copy of the neighbor at data path `neighbor` (with its parents) that
/// holds every leaf its peer group sets and it does not, then every
/// graceful restart leaf the instance sets (`global/graceful-restart`) and
/// neither does. A leaf-list is inherited whole, and only if the neighbor
/// has none of its own.
pub fn effective_neighbor(
    tree: &DataTree<'static>,
    neighbor: &str,
) -> Result<DataTree<'static>, ModelError> {
    let node = tree.find_path(neighbor)?;
    let mut eff = node.duplicate(true)?;
    let group = tree
        .find_path(&format!("{neighbor}/config/peer-group"))
        .ok()
        .and_then(|n| n.value_canonical());
    if let Some(pg) = group
        .and_then(|g| peer_group_path(neighbor, &g))
        .and_then(|p| tree.find_path(&p).ok())
    {
        inherit(tree, &mut eff, &pg, neighbor, &[])?;
    }
    let global_gr = neighbor
        .rsplit_once("/neighbors/neighbor[")
        .map(|(bgp, _)| format!("{bgp}/global/graceful-restart"))
        .and_then(|p| tree.find_path(&p).ok());
    if let Some(gr) = global_gr {
        // The instance-wide leaves that have no place on a neighbor stay.
        let target = format!("{neighbor}/graceful-restart");
        inherit(tree, &mut eff, &gr, &target, &["selection-deferral-time"])?;
    }
    Ok(eff)
}

/// Adds to `eff` (a neighbor's copy) every leaf set under `from` that the
/// copy lacks, at the same place below `target`; leaves named in `skip`
/// (and the peer group's name) are not inherited.
fn inherit(
    tree: &DataTree<'static>,
    eff: &mut DataTree<'static>,
    from: &yang2::data::DataNodeRef<'_, 'static>,
    target_base: &str,
    skip: &[&str],
) -> Result<(), ModelError> {
    let neighbor = target_base;
    let pg = from;
    // ly::node_path: DataNodeRef::path panics on paths over 4 KiB.
    let prefix = ly::node_path(pg);
    for leaf in pg.traverse() {
        let kind = leaf.schema().kind();
        if !matches!(kind, SchemaNodeKind::Leaf | SchemaNodeKind::LeafList) || leaf.is_default() {
            continue;
        }
        let full = ly::node_path(&leaf);
        let rel = &full[prefix.len()..];
        if rel == "/peer-group-name" || rel.starts_with("/config/peer-group-name") {
            continue;
        }
        let name = leaf.schema().name().to_string();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let target = format!("{neighbor}{rel}");
        if kind == SchemaNodeKind::LeafList {
            // Looked up in the original, not in `eff` where earlier
            // entries of this list were just added.
            let base = target.rsplit_once('[').map_or(target.as_str(), |(b, _)| b);
            if ly::find(tree, base)
                .map(|s| s.iter().any(|n| !n.is_default()))
                .unwrap_or(false)
            {
                continue;
            }
            eff.new_path(&target, None, false)?;
        } else {
            if eff.find_path(&target).is_ok_and(|n| !n.is_default()) {
                continue;
            }
            eff.new_path(&target, leaf.value_canonical().as_deref(), false)?;
        }
    }
    Ok(())
}
