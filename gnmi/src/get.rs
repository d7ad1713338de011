//! Get: a snapshot of the data under one or more paths.
//!
//! One notification per requested path, with one update per selected node:
//! the node's gNMI path and the JSON of its subtree (JSON and JSON_IETF), or
//! one update per leaf (PROTO). CONFIG reads running; STATE and OPERATIONAL
//! (the same for ocbgp) read the state nodes with the list keys that address
//! them; ALL reads both. A path the schema lacks is `NotFound` (from the
//! path conversion), a malformed one `InvalidArgument`, a valid path with no
//! data `NotFound`.
//!
//! Streamed state (the RIB, see `streamed.rs`) is read without a libyang
//! tree: one update per entry (route), in notifications of at most
//! [`GET_MAX_UPDATES`] updates whose prefix is the entries' table; the
//! entries of consecutive paths into the same table share notifications
//! (a Get of two thousand attribute sets by index answers in two), and
//! the paths are read together (the sets are looked up in one go).

use std::collections::HashSet;

use ocbgp_models::datastore::Datastore;
use ocbgp_models::nacm::Access;
use tonic::Status;

use crate::data::{now_ns, select, Part, Query, Snapshots};
use crate::encode::{subtree_json, Leaves, Namer, ValueEncoding};
use crate::proto::gnmi::get_request::DataType;
use crate::proto::gnmi::{GetRequest, GetResponse, Notification, Path, Update};
use crate::streamed::Grouper;

/// Most updates in one notification of a streamed (RIB) read.
const GET_MAX_UPDATES: usize = 1000;

/// The part of the tree a Get's data type asks for.
fn part_of(data_type: i32) -> Result<Part, Status> {
    match DataType::try_from(data_type) {
        Ok(DataType::All) => Ok(Part::All),
        Ok(DataType::Config) => Ok(Part::Config),
        Ok(DataType::State | DataType::Operational) => Ok(Part::State),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown Get data type {data_type}"
        ))),
    }
}

/// The prefix a response carries: only the request prefix's target, which
/// the specification says must be echoed (paths in updates are absolute).
pub(crate) fn response_prefix(prefix: Option<&Path>) -> Option<Path> {
    prefix.filter(|p| !p.target.is_empty()).map(|p| Path {
        target: p.target.clone(),
        ..Default::default()
    })
}

/// Answers a Get (blocking: run it in `spawn_blocking`).
pub(crate) fn get(
    store: &Datastore,
    request: &GetRequest,
    access: &Access,
) -> Result<GetResponse, Status> {
    let encoding = ValueEncoding::from_request(request.encoding)?;
    let part = part_of(request.r#type)?;
    let prefix = request.prefix.as_ref();
    let root = [Path::default()];
    let paths: &[Path] = if request.path.is_empty() {
        &root
    } else {
        &request.path
    };
    // Every path is checked before anything is read.
    let queries = paths
        .iter()
        .map(|p| Query::new(prefix, p))
        .collect::<Result<Vec<_>, _>>()?;

    let mut snapshots = Snapshots::new(access);
    let mut namer = Namer::default();
    let mut notification = Vec::with_capacity(queries.len());
    let mut streams = match part {
        Part::Config => Vec::new(),
        _ => crate::streamed::open_all(store, &queries, access),
    }
    .into_iter();
    // Streamed entries of consecutive queries share notifications (one per
    // table, up to the limit): a read of thousands of sets by index gets a
    // few notifications, not one per set.
    let mut group = Grouper::new(prefix, GET_MAX_UPDATES);
    let mut emit = |n: Notification| {
        notification.push(n);
        true
    };
    for query in &queries {
        if part != Part::Config {
            if let Some(stream) = streams.next().flatten() {
                let before = group.count;
                crate::streamed::add_notifications(
                    stream,
                    query,
                    encoding,
                    &mut group,
                    |_| true,
                    &mut emit,
                );
                if group.count == before {
                    return Err(Status::not_found(format!("no data at {}", query.text())));
                }
                continue;
            }
        }
        group.finish(&mut emit);
        let timestamp = now_ns();
        let snapshot = snapshots.get(store, query, part)?;
        let selected = select(snapshot.tree(), query, part)?;
        let update = match encoding {
            ValueEncoding::Proto => {
                let mut leaves = Leaves::new();
                for s in &selected {
                    s.leaves(&mut namer, &mut leaves);
                }
                leaves
                    .into_values()
                    .map(|leaf| Update {
                        val: Some(leaf.value(encoding)),
                        path: Some(leaf.path),
                        ..Default::default()
                    })
                    .collect::<Vec<_>>()
            }
            _ => {
                let mut seen = HashSet::new();
                let mut updates = Vec::with_capacity(selected.len());
                for s in &selected {
                    let path = Path {
                        elem: namer.elems(&s.node),
                        ..Default::default()
                    };
                    // A leaf-list's entries are selected one by one but
                    // reported once, with all values.
                    if !seen.insert(crate::path::to_text(&path)) {
                        continue;
                    }
                    let json = subtree_json(&s.content()).map_err(Status::internal)?;
                    updates.push(Update {
                        path: Some(path),
                        val: Some(encoding.json_value(json)),
                        ..Default::default()
                    });
                }
                updates
            }
        };
        if update.is_empty() {
            return Err(Status::not_found(format!("no data at {}", query.text())));
        }
        emit(Notification {
            timestamp,
            prefix: response_prefix(prefix),
            update,
            ..Default::default()
        });
    }
    group.finish(&mut emit);
    Ok(GetResponse {
        notification,
        ..Default::default()
    })
}
