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
/// details (see the module documentation).
pub(super) fn failure_status(request: &SetRequest, steps: &[Step<'_>], f: Failure) -> Status {
    let joined = |p: &Path| {
        path::join(request.prefix.as_ref(), p)
            .map(|j| path::to_text(&j))
            .unwrap_or_default()
    };
    let message = match f.step.and_then(|i| steps.get(i)) {
        Some(step) => format!(
            "{} {}: {} (transaction aborted, nothing applied)",
            op_name(step.op),
            joined(step.path),
            f.message
        ),
        None => format!("{} (transaction aborted, nothing applied)", f.message),
    };
    let response = SetResponse {
        prefix: request.prefix.clone(),
        response: steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let error = if Some(i) == f.step {
                    (f.code, f.message.clone())
                } else {
                    (
                        Code::Aborted,
                        "not applied: the transaction was aborted".to_string(),
                    )
                };
                result_of(s, Some(error))
            })
            .collect(),
        timestamp: now_ns(),
        ..Default::default()
    };
    let details = RpcStatus {
        code: f.code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/gnmi.SetResponse".to_string(),
            value: response.encode_to_vec(),
        }],
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
