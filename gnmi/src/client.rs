//! A gNMI client for ocbgp's CLI.

use tonic::transport::{Channel, Endpoint};

use crate::proto::gnmi::gnmi_client::GnmiClient;
use crate::MAX_MESSAGE_SIZE;

/// Why connecting to a gNMI target failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The target is not `host:port` or an `http://` URI.
    #[error("invalid gNMI target {target:?}: {source}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// Why it does not parse.
        source: tonic::transport::Error,
    },
    /// The connection could not be established.
    #[error("cannot connect to gNMI target {target}: {source}")]
    Connect {
        /// The target as given.
        target: String,
        /// The transport's reason.
        source: tonic::transport::Error,
    },
}

/// Connects to a gNMI target given as `host:port` (plain text) or a full
/// `http://host:port` URI, with ocbgp's message size limits.
pub async fn connect(target: &str) -> Result<GnmiClient<Channel>, ConnectError> {
    let uri = if target.contains("://") {
        target.to_string()
    } else {
        format!("http://{target}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|source| ConnectError::InvalidTarget {
        target: target.to_string(),
        source,
    })?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|source| ConnectError::Connect {
            target: target.to_string(),
            source,
        })?;
    Ok(GnmiClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE))
}
