//! Chancery's JSON-RPC: the API (one trait, methods named `evidence_*`, `chain_*`,
//! `node_*`), the request and answer types, the stable error codes, and the typed
//! WebSocket client the CLI uses. The node implements the server side.

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod errors;
pub mod openrpc;
pub mod txs;
pub mod types;

pub use api::{ChanceryApiClient, ChanceryApiServer};
pub use client::{connect, Client, ClientError};
pub use errors::{ErrorCode, RpcError};
