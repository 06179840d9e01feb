//! The RPC server's connections: jsonrpsee's per-connection service behind the node's own
//! accept loop, so that each connection is bounded and can be closed on its own.
//!
//! - A connection with no call in flight, no live subscription and no call for
//!   `[rpc] idle_timeout_ms` is closed; a WebSocket client that stops answering pings is
//!   closed too. Idle clients cannot hold the [`CONNECTIONS_MAX`] slots.
//! - A connection holds at most [`SUBSCRIPTIONS_PER_CONNECTION_MAX`] subscriptions and at
//!   most [`MESSAGE_BUFFER`] messages waiting to be written; a subscriber whose messages
//!   do not fit (it does not read) has its subscription closed instead of buffered.
//! - A call with more positional parameters than its method takes is refused (-32602).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{serve_with_graceful_shutdown, stop_channel, Methods, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObject, Request};
use jsonrpsee::MethodResponse;

use crate::metrics::{HttpRoutesLayer, Metrics};

/// Most simultaneous RPC connections.
pub const CONNECTIONS_MAX: u32 = 256;
/// Most subscriptions one connection holds.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: u32 = 16;
/// Most messages (answers and notifications) waiting to be written on one connection.
pub const MESSAGE_BUFFER: u32 = 64;
/// How often a WebSocket client is pinged; one that answers no ping for
/// [`PING_FAILURES_MAX`] intervals is closed.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// See [`PING_INTERVAL`].
pub const PING_FAILURES_MAX: usize = 2;
/// How often connections are checked for idling.
pub const IDLE_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Store reads the RPC runs at once (off the async runtime); a batch of calls waits its
/// turn instead of taking every blocking thread.
pub const STORE_READS_MAX: usize = 16;
/// Sockets accepted at once, whatever they send: the connection limit counts requests
/// and WebSockets, and this bounds the sockets (and file descriptors) behind them; one
/// beyond is closed at once.
pub const SOCKETS_MAX: usize = CONNECTIONS_MAX as usize + 64;
/// How long the accept loop waits after a failed accept (out of descriptors).
pub const ACCEPT_RETRY: Duration = Duration::from_millis(10);
const _: () = assert!(SUBSCRIPTIONS_PER_CONNECTION_MAX as usize <= MESSAGE_BUFFER as usize);

/// What each connection is doing, by connection id.
#[derive(Default)]
pub struct Activity {
    connections: Mutex<HashMap<u32, Use>>,
}

struct Use {
    last: Instant,
    calls: usize,
    subscriptions: usize,
}

impl Activity {
    fn with<R>(&self, id: u32, f: impl FnOnce(&mut Use) -> R) -> Option<R> {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.get_mut(&id).map(f)
    }

    fn open(&self, id: u32) {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.insert(id, Use { last: Instant::now(), calls: 0, subscriptions: 0 });
    }

    fn close(&self, id: u32) {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn call_started(&self, id: u32) {
        self.with(id, |u| {
            u.calls += 1;
            u.last = Instant::now();
        });
    }

    fn call_ended(&self, id: u32) {
        self.with(id, |u| {
            u.calls = u.calls.saturating_sub(1);
            u.last = Instant::now();
        });
    }

    /// Counts a live subscription of connection `id` until the guard drops.
    pub fn subscribed(self: &Arc<Self>, id: u32) -> SubscriptionGuard {
        self.with(id, |u| u.subscriptions += 1);
        SubscriptionGuard { activity: self.clone(), id }
    }

    /// How long connection `id` has been idle (nothing in flight, no subscription).
    fn idle_for(&self, id: u32) -> Duration {
        self.with(id, |u| if u.calls == 0 && u.subscriptions == 0 { u.last.elapsed() } else { Duration::ZERO })
            .unwrap_or(Duration::ZERO)
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// A live subscription, counted while it lives.
pub struct SubscriptionGuard {
    activity: Arc<Activity>,
    id: u32,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.activity.with(self.id, |u| {
            u.subscriptions = u.subscriptions.saturating_sub(1);
            u.last = Instant::now();
        });
    }
}

/// The per-connection RPC middleware: refuses calls with more positional parameters than
/// their method takes, tracks calls for the idle check, and counts them by method and
/// outcome in the metrics.
#[derive(Clone)]
pub struct ClientGuard<S> {
    inner: S,
    activity: Arc<Activity>,
    metrics: Arc<Metrics>,
    id: u32,
}

/// Checks that `module` serves exactly the methods `chancery_rpc::openrpc::METHODS`
/// describes (which `rpc.discover` answers and the parameter check uses): a method
/// added to the API without its description, or described but not served, stops the
/// node at start with both lists, so every test that starts a node catches it.
pub fn check_described<T>(module: &jsonrpsee::RpcModule<T>) -> Result<(), String> {
    let served: std::collections::BTreeSet<&str> = module.method_names().collect();
    let described: std::collections::BTreeSet<&str> = chancery_rpc::openrpc::method_names().collect();
    if served == described {
        return Ok(());
    }
    let undescribed: Vec<_> = served.difference(&described).collect();
    let unserved: Vec<_> = described.difference(&served).collect();
    Err(format!(
        "served but not described in openrpc::METHODS: {undescribed:?}; described but not served: {unserved:?}"
    ))
}

/// Why a call's parameters are refused, if they are: more positional parameters than the
/// method takes.
fn extra_params(method: &str, params: Option<&serde_json::value::RawValue>) -> Option<String> {
    let max = chancery_rpc::openrpc::params_max(method)?;
    let text = params?.get();
    if !text.trim_start().starts_with('[') {
        return None;
    }
    let given = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text).map(|p| p.len()).ok()?;
    (given > max).then(|| format!("{method} takes at most {max} parameters, {given} given"))
}

fn invalid_params(message: String) -> ErrorObject<'static> {
    ErrorObject::owned(jsonrpsee::types::error::INVALID_PARAMS_CODE, message, None::<()>)
}

impl<S> RpcServiceT for ClientGuard<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type BatchResponse = MethodResponse;
    type NotificationResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        let (inner, activity, metrics, id) = (self.inner.clone(), self.activity.clone(), self.metrics.clone(), self.id);
        async move {
            if let Some(why) = extra_params(request.method_name(), request.params.as_deref()) {
                return MethodResponse::error(request.id().into_owned(), invalid_params(why));
            }
            let method = request.method_name().to_string();
            activity.call_started(id);
            let response = inner.call(request).await;
            activity.call_ended(id);
            metrics.count(&method, if response.is_error() { "error" } else { "ok" });
            response
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let refused = match &*entry {
                Ok(BatchEntry::Call(request)) => extra_params(request.method_name(), request.params.as_deref())
                    .map(|why| (request.id().into_owned(), why)),
                _ => None,
            };
            if let Some((call_id, why)) = refused {
                *entry = Err(BatchEntryErr::new(call_id, invalid_params(why)));
            }
        }
        let names: Vec<String> =
            batch.iter().filter_map(|e| e.as_ref().ok()).map(|e| e.method_name().to_string()).collect();
        let (inner, activity, metrics, id) = (self.inner.clone(), self.activity.clone(), self.metrics.clone(), self.id);
        async move {
            activity.call_started(id);
            let response = inner.batch(batch).await;
            activity.call_ended(id);
            for name in &names {
                metrics.count(name, "batched");
            }
            response
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// The server's settings besides the jsonrpsee configuration.
pub struct Limits {
    /// Close connections idle this long.
    pub idle_timeout: Duration,
}

/// The jsonrpsee configuration with the node's connection bounds.
pub fn server_config(request_bytes_max: u32, response_bytes_max: u32, batch_len_max: u32) -> ServerConfig {
    ServerConfig::builder()
        .max_request_body_size(request_bytes_max)
        .max_response_body_size(response_bytes_max)
        .max_connections(CONNECTIONS_MAX)
        .max_subscriptions_per_connection(SUBSCRIPTIONS_PER_CONNECTION_MAX)
        .set_message_buffer_capacity(MESSAGE_BUFFER)
        .enable_ws_ping(
            jsonrpsee::server::PingConfig::new()
                .ping_interval(PING_INTERVAL)
                .inactive_limit(PING_INTERVAL)
                .max_failures(PING_FAILURES_MAX),
        )
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(batch_len_max))
        .build()
}

/// Binds `listen` and serves `methods` until the returned handle is stopped; its
/// `stopped()` resolves once every connection has ended.
pub async fn serve(
    listen: &str,
    config: ServerConfig,
    routes: HttpRoutesLayer,
    metrics: Arc<Metrics>,
    activity: Arc<Activity>,
    methods: Methods,
    limits: Limits,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, handle) = stop_channel();
    let builder = Server::builder()
        .set_config(config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(routes))
        .to_service_builder();
    let sockets = Arc::new(tokio::sync::Semaphore::new(SOCKETS_MAX));
    tokio::spawn(async move {
        let mut id: u32 = 0;
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = stop.clone().shutdown() => break,
            };
            let socket = match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of descriptors, an aborted handshake: keep serving.
                    tracing::debug!(error = %e, "accepting an RPC connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let Ok(permit) = sockets.clone().try_acquire_owned() else {
                tracing::debug!("too many RPC sockets open: one closed at once");
                drop(socket);
                continue;
            };
            id = id.wrapping_add(1);
            activity.open(id);
            let (conn_stop, conn_handle) = stop_channel();
            let (guard_activity, guard_metrics) = (activity.clone(), metrics.clone());
            let middleware = RpcServiceBuilder::new().layer_fn(move |inner| ClientGuard {
                inner,
                activity: guard_activity.clone(),
                metrics: guard_metrics.clone(),
                id,
            });
            let service = builder
                .clone()
                .set_rpc_middleware(middleware)
                .connection_id(id)
                .build(methods.clone(), conn_stop.clone());
            let (activity, metrics, server_stop, idle) =
                (activity.clone(), metrics.clone(), stop.clone(), limits.idle_timeout);
            tokio::spawn(async move {
                let _permit = permit;
                let waiter = conn_handle.clone();
                let work = async move {
                    let _ = serve_with_graceful_shutdown(socket, service, conn_stop.shutdown()).await;
                    // An upgraded WebSocket lives on in its own task until it ends.
                    waiter.stopped().await;
                };
                tokio::pin!(work);
                tokio::select! {
                    () = &mut work => {}
                    () = close_when(&activity, &metrics, id, idle, server_stop.clone()) => {
                        let _ = conn_handle.stop();
                        work.await;
                    }
                }
                activity.close(id);
                // Held until the connection has ended: the server counts as stopped only
                // then.
                drop(server_stop);
            });
        }
    });
    Ok((addr, handle))
}

/// Resolves when connection `id` must close: the server stops, or it idled too long.
async fn close_when(
    activity: &Activity,
    metrics: &Metrics,
    id: u32,
    idle: Duration,
    server_stop: jsonrpsee::server::StopHandle,
) {
    let stopped = server_stop.shutdown();
    tokio::pin!(stopped);
    let mut tick = tokio::time::interval(IDLE_CHECK_INTERVAL.min(idle));
    loop {
        tokio::select! {
            () = &mut stopped => return,
            _ = tick.tick() => {
                if activity.idle_for(id) >= idle {
                    metrics.rpc_idle_closed.inc();
                    tracing::debug!(connection = id, "closing an idle RPC connection");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::from_string(text.to_string()).expect("json")
    }

    fn module_serving(names: &[&'static str]) -> jsonrpsee::RpcModule<()> {
        let mut module = jsonrpsee::RpcModule::new(());
        for name in names {
            module.register_method(name, |_, _, _| "ok").expect("a new name");
        }
        module
    }

    #[test]
    fn a_method_served_or_described_alone_is_named() {
        let described: Vec<&'static str> = chancery_rpc::openrpc::method_names().collect();
        assert_eq!(check_described(&module_serving(&described)), Ok(()));
        let mut extra = described.clone();
        extra.push("evidence_secret");
        let why = check_described(&module_serving(&extra)).expect_err("an undescribed method");
        assert!(why.contains("evidence_secret"), "{why}");
        let why = check_described(&module_serving(&described[1..])).expect_err("a described method not served");
        assert!(why.contains(described[0]), "{why}");
    }

    #[test]
    fn extra_positional_parameters_are_named() {
        assert_eq!(extra_params("chain_header", Some(&raw("[1]"))), None);
        assert_eq!(
            extra_params("chain_header", Some(&raw(r#"[1, "x", 3]"#))),
            Some("chain_header takes at most 1 parameters, 3 given".into())
        );
        assert_eq!(extra_params("chain_info", Some(&raw("[]"))), None);
        assert!(extra_params("chain_info", Some(&raw("[null]"))).is_some());
        assert_eq!(extra_params("evidence_byDigest", Some(&raw(r#"["sha256:00", null]"#))), None);
        // Named parameters and unknown methods are left to the method's own parsing.
        assert_eq!(extra_params("chain_header", Some(&raw(r#"{"height": 1}"#))), None);
        assert_eq!(extra_params("no_such_method", Some(&raw("[1, 2, 3]"))), None);
        assert_eq!(extra_params("chain_header", None), None);
    }

    #[test]
    fn a_connection_is_idle_only_without_calls_or_subscriptions() {
        let activity = Arc::new(Activity::default());
        activity.open(1);
        activity.call_started(1);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(activity.idle_for(1), Duration::ZERO, "a call in flight");
        activity.call_ended(1);
        let guard = activity.subscribed(1);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(activity.idle_for(1), Duration::ZERO, "a live subscription");
        drop(guard);
        std::thread::sleep(Duration::from_millis(20));
        assert!(activity.idle_for(1) >= Duration::from_millis(20));
        activity.close(1);
        assert_eq!(activity.connections(), 0);
    }
}
