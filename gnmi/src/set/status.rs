//! The results of a Set: per-operation results, and the status of a
//! failed one with those results in its details.

use prost::Message as _;
use tonic::{Code, Status};

use super::{Failure, Step};
use crate::data::now_ns;
use crate::path;
use crate::proto::gnmi::update_result::Operation as Op;
use crate::proto::gnmi::{Error as GnmiError, Path, SetRequest, SetResponse, UpdateResult};

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Delete => "delete",
        Op::Replace => "replace",
        Op::Update => "update",
        Op::UnionReplace => "union_replace",
        Op::Invalid => "operation",
    }
}

/// Longest status message of a failed Set, in bytes. gRPC carries the
/// message (percent-encoded) and the details (base64) in HTTP/2 trailers,
/// and C-core clients (Python grpcio, pygnmi) refuse trailers over 8 KiB
/// (`grpc.max_metadata_size`), reporting `RESOURCE_EXHAUSTED` instead of
/// the real status: message and details together stay well below that.
pub const MAX_STATUS_MESSAGE: usize = 1024;

/// Largest encoded details (`google.rpc.Status` with the per-operation
/// results) of a failed Set, in bytes (see [`MAX_STATUS_MESSAGE`]).
pub const MAX_STATUS_DETAILS: usize = 2 * 1024;

/// Longest name or key value of a path quoted in an error, in bytes.
const MAX_QUOTED: usize = 64;

/// `text` cut to at most `max` bytes (at a character boundary), saying how
/// much was left out.
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

/// A path with every element name and key cut to [`MAX_QUOTED`] bytes.
fn clipped_path(path: &Path) -> Path {
    let mut p = path.clone();
    for e in &mut p.elem {
        if e.name.len() > MAX_QUOTED {
            e.name = clip(&e.name, MAX_QUOTED);
        }
        if e.key
            .iter()
            .any(|(k, v)| k.len() > MAX_QUOTED || v.len() > MAX_QUOTED)
        {
            e.key = e
                .key
                .iter()
                .map(|(k, v)| (clip(k, MAX_QUOTED), clip(v, MAX_QUOTED)))
                .collect();
        }
    }
    p
}

/// The UpdateResult of a step; with an error when the transaction failed.
pub(super) fn result_of(step: &Step<'_>, error: Option<(Code, String)>) -> UpdateResult {
    #[allow(deprecated)]
    UpdateResult {
        path: Some(step.path.clone()),
        op: step.op as i32,
        message: error.map(|(code, message)| GnmiError {
            code: code as u32,
            message,
            data: None,
        }),
        ..Default::default()
    }
}

/// `google.rpc.Status`, the standard gRPC error details message.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The RPC status of a failed Set, with the per-operation results in its
/// details (see the module documentation), both bounded
/// ([`MAX_STATUS_MESSAGE`], [`MAX_STATUS_DETAILS`]): long names, keys and
/// reasons are cut; when the results of many operations do not fit, the
/// aborted ones lose their paths and messages (their order still maps them
/// to the request), and when even that does not fit they are left out.
pub(super) fn failure_status(request: &SetRequest, steps: &[Step<'_>], f: Failure) -> Status {
    let joined = |p: &Path| {
        path::join(request.prefix.as_ref(), p)
            .map(|j| path::to_text(&clipped_path(&j)))
            .unwrap_or_default()
    };
    let reason = clip(&f.message, MAX_STATUS_MESSAGE / 2);
    let mut message = match f.step.and_then(|i| steps.get(i)) {
        Some(step) => format!(
            "{} {}: {reason}",
            op_name(step.op),
            clip(&joined(step.path), MAX_STATUS_MESSAGE / 4),
        ),
        None => reason.clone(),
    };
    let results = |full: bool| -> Vec<UpdateResult> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let failed = Some(i) == f.step;
                let error = if failed {
                    (f.code, reason.clone())
                } else if full {
                    (
                        Code::Aborted,
                        "not applied: the transaction was aborted".to_string(),
                    )
                } else {
                    (Code::Aborted, String::new())
                };
                let mut r = result_of(s, Some(error));
                r.path = (full || failed).then(|| clipped_path(s.path));
                r
            })
            .collect()
    };
    let details = |response: Vec<UpdateResult>| {
        let response = SetResponse {
            prefix: request.prefix.as_ref().map(clipped_path),
            response,
            timestamp: now_ns(),
            ..Default::default()
        };
        vec![prost_types::Any {
            type_url: "type.googleapis.com/gnmi.SetResponse".to_string(),
            value: response.encode_to_vec(),
        }]
    };
    let mut any = details(results(true));
    if any[0].value.len() > MAX_STATUS_DETAILS {
        any = details(results(false));
    }
    if any[0].value.len() > MAX_STATUS_DETAILS {
        any.clear();
        message.push_str(&format!(
            " (per-operation results of the {} operations left out: too large)",
            steps.len()
        ));
    }
    message.push_str(" (transaction aborted, nothing applied)");
    let details = RpcStatus {
        code: f.code as i32,
        message: message.clone(),
        details: any,
    };
    Status::with_details(f.code, message, details.encode_to_vec().into())
}

/// The per-operation results a failed Set's status carries, for clients
/// (and tests) that want them.
pub fn failure_details(status: &Status) -> Option<SetResponse> {
    let details = RpcStatus::decode(status.details()).ok()?;
    details
        .details
        .iter()
        .find(|a| a.type_url.ends_with("/gnmi.SetResponse"))
        .and_then(|a| SetResponse::decode(a.value.as_slice()).ok())
}
