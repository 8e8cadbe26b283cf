//! The route table, in one place.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::handlers::{api, feed};
use crate::state::AppState;
use crate::web;

/// Builds the application: a plain function of its state, so tests call it without a socket.
pub fn router(state: AppState) -> Router {
    // Compressed bodies may be decompressed up to the same limit inside the handler.
    let limit = state.settings.max_report_bytes;
    Router::new()
        .route("/feed/", post(feed::post))
        .route("/feed", post(feed::post))
        .route("/pakiti/feed/", post(feed::post))
        .route("/pakiti/feed", post(feed::post))
        .route("/api/v1/hosts", get(api::list_hosts))
        .route("/api/v1/hosts/{hostname}", get(api::get_host))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(web::hosts))
        .route("/hosts", get(web::hosts))
        .route("/hosts/{hostname}", get(web::host))
        .route("/static/pakiti.css", get(web::stylesheet))
        .layer(DefaultBodyLimit::max(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the application on an already-bound listener until `shutdown` completes.
///
/// # Errors
/// The listener fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
