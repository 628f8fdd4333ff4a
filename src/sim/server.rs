//! The accept loop: one hyper HTTP/1 connection task per TCP connection.
//!
//! axum's own `serve` cannot close a connection from inside a request, which the
//! connection-drop faults need; so each connection gets a [`ConnDrop`] token in its request
//! extensions, and the task drops the connection (closing the socket, no response) when it
//! is cancelled. Shutdown stops accepting, asks open connections to finish their current
//! request, and waits for them a few seconds at most.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::faults::{ConnDrop, MAX_BODY, record_and_fault};
use super::problem::{fill_instance, method_not_allowed, not_found};
use super::{Shared, control, routes};

/// How long shutdown waits for open connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole HTTP surface: API routes, control plane, fallbacks and middleware.
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    routes::router(shared.clone())
        .merge(control::router(shared.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(shared, record_and_fault))
        .layer(from_fn(fill_instance))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Accepts connections until `shutdown` is cancelled.
pub(crate) async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, app.clone(), shutdown.clone()));
                }
                Err(error) => {
                    // Usually out of file descriptors; pausing keeps the loop from spinning.
                    tracing::warn!(%error, "simulator could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("simulator shut down with connections still open");
    }
    tracing::info!("Devin API simulator stopped");
}

async fn connection(stream: TcpStream, app: Router, shutdown: CancellationToken) {
    let drop_signal = CancellationToken::new();
    let token = drop_signal.clone();
    let service = tower::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(ConnDrop(token.clone()));
        app.clone().oneshot(request)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "simulator connection ended with an error");
            }
        }
        // Dropping the connection future closes the socket without writing a response.
        _ = drop_signal.cancelled() => {}
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = drop_signal.cancelled() => {}
            }
        }
    }
}
