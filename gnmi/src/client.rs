//! A gNMI client for ocbgp's CLI (and tests).

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

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

/// Opens a gRPC channel to `target` (`host:port` or a full URI), over TLS
/// when `tls` is given: the transport the gNMI and gNOI clients share.
pub async fn channel(target: &str, tls: Option<ClientTlsConfig>) -> Result<Channel, ConnectError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let uri = if target.contains("://") {
        target.to_string()
    } else {
        format!("{scheme}://{target}")
    };
    let invalid = |source| ConnectError::InvalidTarget {
        target: target.to_string(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(uri).map_err(invalid)?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(invalid)?;
    }
    endpoint
        .connect()
        .await
        .map_err(|source| ConnectError::Connect {
            target: target.to_string(),
            source,
        })
}

/// A gNMI client on `channel` with ocbgp's message size limits.
pub fn gnmi_client(channel: Channel) -> GnmiClient<Channel> {
    GnmiClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// TLS settings trusting the PEM certificate `ca` and expecting the
/// server's certificate to name `domain`.
pub fn tls_config(ca: &[u8], domain: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name(domain)
}

/// Connects to a gNMI target given as `host:port` (plain text) or a full
/// `http://host:port` URI, with ocbgp's message size limits.
pub async fn connect(target: &str) -> Result<GnmiClient<Channel>, ConnectError> {
    Ok(gnmi_client(channel(target, None).await?))
}

/// Connects over TLS, trusting the PEM certificate `ca` and expecting the
/// server's certificate to name `domain`.
pub async fn connect_tls(
    target: &str,
    ca: &[u8],
    domain: &str,
) -> Result<GnmiClient<Channel>, ConnectError> {
    Ok(gnmi_client(
        channel(target, Some(tls_config(ca, domain))).await?,
    ))
}
