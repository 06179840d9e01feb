//! Prometheus metrics (`GET /metrics`) and the plain-HTTP routes `/health` and
//! `/metrics`, served on the RPC port beside JSON-RPC.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of an RPC call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Method name (`unknown` for methods that do not exist).
    pub method: String,
    /// `ok`, `error` or `batched` (a call inside a batch request).
    pub outcome: String,
}

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    /// Committed blocks.
    pub blocks: Gauge,
    /// Committed txs since start.
    pub txs_committed: Counter,
    /// Pending txs.
    pub mempool_txs: Gauge,
    /// Pending bytes.
    pub mempool_bytes: Gauge,
    /// Seconds from a block's proposal to its commit in the store.
    pub commit_latency: Histogram,
    /// RPC calls by method and outcome.
    pub rpc_calls: Family<CallLabels, Counter>,
    /// Bytes of proposal messages sent, summed over peers.
    pub proposal_bytes_sent: Counter,
    /// Txs of compact proposals found in this node's mempool.
    pub proposal_txs_local: Counter,
    /// Txs of compact proposals fetched from the proposer.
    pub proposal_txs_fetched: Counter,
    /// Peers' requests dropped for exceeding their rate.
    pub peer_requests_limited: Counter,
    /// RPC connections closed for idling.
    pub rpc_idle_closed: Counter,
    /// Subscriptions closed because their subscriber did not read.
    pub rpc_subscriptions_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `chancery_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chancery");
        let blocks = Gauge::default();
        registry.register("blocks", "Committed blocks (the next height)", blocks.clone());
        let txs_committed = Counter::default();
        registry.register("txs_committed", "Txs committed since the node started", txs_committed.clone());
        let mempool_txs = Gauge::default();
        registry.register("mempool_txs", "Txs waiting in the mempool", mempool_txs.clone());
        let mempool_bytes = Gauge::default();
        registry.register("mempool_bytes", "Bytes of txs waiting in the mempool", mempool_bytes.clone());
        let commit_latency = Histogram::new(exponential_buckets(0.002, 2.0, 14));
        registry.register(
            "commit_latency_seconds",
            "Seconds from building a block to committing it in the store",
            commit_latency.clone(),
        );
        let rpc_calls = Family::<CallLabels, Counter>::default();
        registry.register("rpc_calls", "JSON-RPC calls by method and outcome", rpc_calls.clone());
        let proposal_bytes_sent = Counter::default();
        registry.register(
            "p2p_proposal_bytes_sent",
            "Bytes of proposal messages sent, summed over peers",
            proposal_bytes_sent.clone(),
        );
        let proposal_txs_local = Counter::default();
        registry.register(
            "p2p_proposal_txs_local",
            "Txs of received compact proposals found in the mempool",
            proposal_txs_local.clone(),
        );
        let proposal_txs_fetched = Counter::default();
        registry.register(
            "p2p_proposal_txs_fetched",
            "Txs of received compact proposals fetched from the proposer",
            proposal_txs_fetched.clone(),
        );
        let peer_requests_limited = Counter::default();
        registry.register(
            "p2p_requests_limited",
            "Peers' requests dropped for exceeding their rate",
            peer_requests_limited.clone(),
        );
        let rpc_idle_closed = Counter::default();
        registry.register(
            "rpc_idle_closed",
            "RPC WebSocket connections closed after idling or not answering pings",
            rpc_idle_closed.clone(),
        );
        let rpc_subscriptions_dropped = Counter::default();
        registry.register(
            "rpc_subscriptions_dropped",
            "Subscriptions closed because their subscriber did not read its notifications",
            rpc_subscriptions_dropped.clone(),
        );
        Metrics {
            registry,
            rpc_subscriptions_dropped,
            peer_requests_limited,
            rpc_idle_closed,
            blocks,
            txs_committed,
            mempool_txs,
            mempool_bytes,
            commit_latency,
            rpc_calls,
            proposal_bytes_sent,
            proposal_txs_local,
            proposal_txs_fetched,
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts one call of `method` (any name: unknown ones count as `unknown`) with its
    /// outcome (`ok`, `error`, or `batched` for a call inside a batch).
    pub fn count(&self, method: &str, outcome: &str) {
        let method = method_label(method);
        self.rpc_calls.get_or_create(&CallLabels { method: method.to_string(), outcome: outcome.to_string() }).inc();
    }
}

/// A method's metrics label: its name if the API has it (`chancery_rpc::openrpc::METHODS`),
/// else `unknown`, so a caller cannot grow the label set.
fn method_label(name: &str) -> &'static str {
    chancery_rpc::openrpc::find(name).map(|m| m.name).unwrap_or("unknown")
}

/// What `/health` answers: status code and body.
pub type HealthProbe = Arc<dyn Fn() -> (u16, String) + Send + Sync>;

/// Serves `GET /health`, `GET /metrics` and `GET /verify` (the verification page);
/// everything else goes to JSON-RPC.
#[derive(Clone)]
pub struct HttpRoutesLayer {
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Health.
    pub health: HealthProbe,
    /// The verification page as this node serves it (naming its genesis).
    pub verify_page: Arc<String>,
}

impl<S> tower::Layer<S> for HttpRoutesLayer {
    type Service = HttpRoutes<S>;
    fn layer(&self, inner: S) -> HttpRoutes<S> {
        HttpRoutes { inner, layer: self.clone() }
    }
}

/// The service of [`HttpRoutesLayer`].
#[derive(Clone)]
pub struct HttpRoutes<S> {
    inner: S,
    layer: HttpRoutesLayer,
}

fn plain(status: u16, content_type: &'static str, body: String) -> HttpResponse {
    HttpResponse::builder()
        .status(status)
        .header("content-type", content_type)
        .body(HttpBody::from(body))
        .unwrap_or_else(|_| HttpResponse::new(HttpBody::from("internal error")))
}

impl<S, B> tower::Service<HttpRequest<B>> for HttpRoutes<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if request.method().as_str() == "GET" {
            match request.uri().path() {
                "/health" => {
                    let (status, body) = (self.layer.health)();
                    let response = plain(status, "application/json", body);
                    return Box::pin(async move { Ok(response) });
                }
                "/verify" => {
                    let response = HttpResponse::builder()
                        .status(200)
                        .header("content-type", "text/html; charset=utf-8")
                        .header("content-security-policy", chancery_court::page::CONTENT_SECURITY_POLICY)
                        .header("x-content-type-options", "nosniff")
                        .header("referrer-policy", "no-referrer")
                        .body(HttpBody::from(self.layer.verify_page.as_str().to_string()))
                        .unwrap_or_else(|_| HttpResponse::new(HttpBody::from("internal error")));
                    return Box::pin(async move { Ok(response) });
                }
                "/metrics" => {
                    let response = plain(
                        200,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        self.layer.metrics.encode(),
                    );
                    return Box::pin(async move { Ok(response) });
                }
                _ => {}
            }
        }
        Box::pin(self.inner.call(request))
    }
}
