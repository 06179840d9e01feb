//! The typed client: a WebSocket connection to a node; the [`ChanceryApiClient`] methods
//! work on it.
//!
//! [`ChanceryApiClient`]: crate::ChanceryApiClient

use std::time::Duration;

use jsonrpsee::client_transport::ws::{Url, WsTransportClientBuilder};

pub use jsonrpsee::async_client::Client;
pub use jsonrpsee::core::client::Error as ClientError;

/// Largest message the client sends or accepts.
pub const CLIENT_MESSAGE_BYTES_MAX: u32 = 64 * 1024 * 1024;

/// Connects to a node at `url` (`ws://host:port`; `http://` is taken to mean the same
/// port's WebSocket).
pub async fn connect(url: &str, request_timeout: Duration) -> Result<Client, ConnectError> {
    let ws = if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if url.starts_with("ws://") {
        url.to_string()
    } else {
        return Err(ConnectError::Scheme { url: url.to_string() });
    };
    let parsed = Url::parse(&ws).map_err(|e| ConnectError::Url { url: url.to_string(), reason: e.to_string() })?;
    let (tx, rx) = WsTransportClientBuilder::default()
        .max_request_size(CLIENT_MESSAGE_BYTES_MAX)
        .max_response_size(CLIENT_MESSAGE_BYTES_MAX)
        .connection_timeout(Duration::from_secs(10))
        .build(parsed)
        .await
        .map_err(|e| ConnectError::Unreachable { url: url.to_string(), reason: e.to_string() })?;
    Ok(jsonrpsee::async_client::ClientBuilder::default()
        .request_timeout(request_timeout)
        .max_concurrent_requests(1024)
        .max_buffer_capacity_per_subscription(4096)
        .build_with_tokio(tx, rx))
}

/// A node that cannot be connected to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Not a WebSocket or HTTP URL.
    #[error("RPC URL {url:?} must start with ws:// or http://")]
    Scheme {
        /// The URL given.
        url: String,
    },
    /// Not a URL.
    #[error("RPC URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// No node answered.
    #[error("cannot connect to the node at {url}: {reason}; is it running?")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The code and message of a call error, when the node answered with one.
pub fn call_error(error: &ClientError) -> Option<(i32, String)> {
    match error {
        ClientError::Call(e) => Some((e.code(), e.message().to_string())),
        _ => None,
    }
}
