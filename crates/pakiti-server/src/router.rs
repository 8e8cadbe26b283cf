//! The route table, in one place.

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::handlers::{api, feed, packages, refused, users, views};
use crate::state::AppState;
use crate::web;

/// Every `/api/v1` route as (method, path), as documented in `docs/openapi.json`; a test
/// checks the two against each other and against what the server answers.
pub const API_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/hosts"),
    ("get", "/api/v1/hosts/{hostname}"),
    ("get", "/api/v1/cves"),
    ("get", "/api/v1/cves/{cve}"),
    ("get", "/api/v1/tags"),
    ("post", "/api/v1/tags"),
    ("get", "/api/v1/tags/{tag}"),
    ("patch", "/api/v1/tags/{tag}"),
    ("delete", "/api/v1/tags/{tag}"),
    ("get", "/api/v1/exceptions"),
    ("post", "/api/v1/exceptions"),
    ("delete", "/api/v1/exceptions/{id}"),
    ("get", "/api/v1/groups"),
    ("get", "/api/v1/domains"),
    ("get", "/api/v1/oses"),
    ("get", "/api/v1/feeds"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/packages/{name}"),
    ("get", "/api/v1/repositories"),
    ("get", "/api/v1/reports/refused"),
    ("get", "/api/v1/identity-conflicts"),
];

/// Builds the application: a plain function of its state, so tests call it without a socket.
pub fn router(state: AppState) -> Router {
    // Compressed bodies may be decompressed up to the same limit inside the handler.
    let limit = state.settings.max_report_bytes;
    let body_timeout = state.settings.limits.body_read_timeout();
    Router::new()
        .route("/feed/", post(feed::post))
        .route("/feed", post(feed::post))
        .route("/pakiti/feed/", post(feed::post))
        .route("/pakiti/feed", post(feed::post))
        .route("/api/v1/hosts", get(api::list_hosts))
        .route("/api/v1/hosts/{hostname}", get(api::get_host))
        .route("/api/v1/cves", get(views::cves))
        .route("/api/v1/cves/{cve}", get(views::cve))
        .route("/api/v1/tags", get(views::tags).post(views::create_tag))
        .route(
            "/api/v1/tags/{tag}",
            get(views::tag)
                .patch(views::patch_tag)
                .delete(views::delete_tag),
        )
        .route(
            "/api/v1/exceptions",
            get(views::exceptions).post(views::create_exception),
        )
        .route("/api/v1/exceptions/{id}", delete(views::delete_exception))
        .route("/api/v1/groups", get(views::groups))
        .route("/api/v1/domains", get(views::domains))
        .route("/api/v1/oses", get(views::oses))
        .route("/api/v1/feeds", get(views::feeds))
        .route("/api/v1/stats", get(views::stats))
        .route("/api/v1/packages/{name}", get(packages::get_package))
        .route("/api/v1/repositories", get(views::repositories))
        .route("/api/v1/reports/refused", get(refused::api_list))
        .route("/api/v1/identity-conflicts", get(crate::identity::api_list))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(web::hosts))
        .route("/hosts", get(web::hosts))
        .route("/hosts/{hostname}", get(web::host))
        .route("/cves", get(web::cves))
        .route("/cves/{cve}", get(web::cve))
        .route("/tags", get(web::tags).post(web::create_tag))
        .route("/tags/toggle", post(web::toggle_tag))
        .route("/tags/delete", post(web::delete_tag))
        .route("/tags/{tag}", get(web::tag))
        .route(
            "/exceptions",
            get(web::exceptions).post(web::create_exception),
        )
        .route("/exceptions/delete", post(web::delete_exception))
        .route("/groups", get(web::groups))
        .route("/domains", get(web::domains))
        .route("/oses", get(web::oses))
        .route("/feeds", get(web::feeds))
        .route("/stats", get(web::stats))
        .route("/repositories", get(web::repositories))
        .route("/reports/refused", get(refused::page))
        .route("/identity-conflicts", get(crate::identity::page))
        .route(
            "/identity-conflicts/{id}/accept",
            post(crate::identity::accept),
        )
        .route(
            "/identity-conflicts/{id}/reject",
            post(crate::identity::reject),
        )
        .route("/packages/{name}", get(web::package))
        .route("/static/pakiti.css", get(web::stylesheet))
        // ---- authentication, users and ACL ----
        .route("/login", get(users::login_form).post(users::login))
        .route("/logout", get(users::logout_form).post(users::logout))
        .route(
            "/users",
            get(users::users_page).post(users::create_user_form),
        )
        .route("/users/{name}", get(users::user_detail))
        .route("/users/{name}/password", post(users::set_password_form))
        .route("/users/{name}/admin", post(users::set_admin_form))
        .route("/users/{name}/grants", post(users::add_grant_form))
        .route(
            "/users/{name}/grants/remove",
            post(users::remove_grant_form),
        )
        .route("/users/{name}/tokens", post(users::create_token_form))
        .route(
            "/users/{name}/tokens/{id}/revoke",
            post(users::revoke_token_form),
        )
        .route("/users/{name}/delete", post(users::delete_user_form))
        .route(
            "/api/v1/users",
            get(users::api_list).post(users::api_create),
        )
        .route(
            "/api/v1/users/{name}",
            get(users::api_get)
                .patch(users::api_patch)
                .delete(users::api_delete),
        )
        .route("/api/v1/users/{name}/grants", post(users::api_add_grant))
        .route(
            "/api/v1/users/{name}/grants/{kind}/{value}",
            delete(users::api_remove_grant),
        )
        .route(
            "/api/v1/users/{name}/tokens",
            get(users::api_tokens).post(users::api_create_token),
        )
        .route(
            "/api/v1/users/{name}/tokens/{id}",
            delete(users::api_revoke_token),
        )
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(web::security_headers))
        // Slow bodies: `/feed/` reads its own within the same bound (`limits::read_body`).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
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
    let limits = state.settings.limits.clone();
    crate::listen::serve(listener, router(state), limits, shutdown).await
}
