//! The route table, in one place.
//!
//! The `/api/v1` routes are registered through [`api_router`] (an `utoipa-axum`
//! `OpenApiRouter`): a handler is routed there together with its `#[utoipa::path]`, so the
//! OpenAPI document ([`openapi`], kept as `docs/openapi.json` and checked by a test) lists
//! exactly the API the server answers. Pages, `/feed/` and the rest are plain axum routes.

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::handlers::{
    audit, changes, cves, exceptions, feeds, home, host, hosts, housekeeping, identity_conflicts,
    limits, notifications, ops, packages, refused, report, report_diff, repositories, retire,
    session, sets, stats, tags, users,
};
use crate::state::AppState;
use crate::web;

/// The document's frame; the paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pakiti API",
        version = "1",
        description = "The JSON API of the pakiti server (`/api/v1`). Every request is made as a \
            viewer (see `[auth]`): lists and single-host reads show only the hosts the viewer may \
            see; changes need an administrator, and calls authenticated by the session cookie send \
            the `X-CSRF-Token` header. Lists also answer `?format=csv` and `?format=json` with \
            every row."
    ),
    tags(
        (name = "hosts", description = "Hosts, their findings, updates and reports"),
        (name = "cves", description = "CVEs present in the fleet"),
        (name = "tags", description = "CVE tags"),
        (name = "exceptions", description = "Exceptions: a CVE that does not apply to a package version"),
        (name = "sets", description = "Hosts by group, domain and OS"),
        (name = "feeds", description = "Vulnerability feeds"),
        (name = "repositories", description = "Package repositories"),
        (name = "stats", description = "Exposure over time"),
        (name = "packages", description = "One package across the fleet"),
        (name = "reports", description = "Refused reports and identity conflicts"),
        (name = "users", description = "Users, grants and API tokens (administrators)"),
        (name = "notifications", description = "Notification rules and their outbox (administrators)"),
        (name = "ops", description = "Monitoring: the state `pakiti check` judges"),
        (name = "audit", description = "The audit log of administrative changes (administrators)"),
    )
)]
struct ApiDoc;

/// Every `/api/v1` route with its OpenAPI operation.
#[must_use]
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(hosts::api_list))
        .routes(routes!(host::api_get, retire::api_delete))
        .routes(routes!(home::api_get))
        .routes(routes!(cves::api_list))
        .routes(routes!(cves::api_get))
        .routes(routes!(tags::api_list, tags::api_create))
        .routes(routes!(tags::api_get, tags::api_patch, tags::api_delete))
        .routes(routes!(exceptions::api_list, exceptions::api_create))
        .routes(routes!(exceptions::api_delete))
        .routes(routes!(sets::api_groups))
        .routes(routes!(sets::api_domains))
        .routes(routes!(sets::api_oses))
        .routes(routes!(feeds::api_list))
        .routes(routes!(stats::api_list))
        .routes(routes!(changes::api_list))
        .routes(routes!(report_diff::api_get))
        .routes(routes!(packages::api_get))
        .routes(routes!(repositories::api_list))
        .routes(routes!(refused::api_list))
        .routes(routes!(identity_conflicts::api_list))
        .routes(routes!(users::api_list, users::api_create))
        .routes(routes!(users::api_get, users::api_patch, users::api_delete))
        .routes(routes!(users::api_add_grant))
        .routes(routes!(users::api_remove_grant))
        .routes(routes!(users::api_tokens, users::api_create_token))
        .routes(routes!(users::api_revoke_token))
        .routes(routes!(
            notifications::api_list_rules,
            notifications::api_create_rule
        ))
        .routes(routes!(
            notifications::api_get_rule,
            notifications::api_delete_rule
        ))
        .routes(routes!(notifications::api_test_rule))
        .routes(routes!(notifications::api_outbox))
        .routes(routes!(ops::api_check))
        .routes(routes!(limits::api_list))
        .routes(routes!(housekeeping::api_list))
        .routes(routes!(audit::api_list))
}

/// The OpenAPI document of the `/api/v1` routes, as `docs/openapi.json` keeps it.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// Every `/api/v1` route as (method, path), from the router itself.
#[must_use]
pub fn api_routes() -> Vec<(String, String)> {
    let doc = openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

/// Builds the application: a plain function of its state, so tests call it without a socket.
pub fn router(state: AppState) -> Router {
    // Compressed bodies may be decompressed up to the same limit inside the handler.
    let limit = state.settings.max_report_bytes;
    let body_timeout = state.settings.limits.body_read_timeout();
    let (api, _) = api_router().split_for_parts();
    Router::new()
        .merge(api)
        .route("/feed/", post(report::post))
        .route("/feed", post(report::post))
        .route("/pakiti/feed/", post(report::post))
        .route("/pakiti/feed", post(report::post))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(home::page))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/hosts", get(hosts::list_page))
        .route("/hosts/{hostname}", get(host::page))
        .route("/hosts/{hostname}/retire", post(retire::retire_form))
        .route("/cves", get(cves::list_page))
        .route("/cves/{cve}", get(cves::page))
        .route("/tags", get(tags::list_page).post(tags::create_form))
        .route("/tags/toggle", post(tags::toggle_form))
        .route("/tags/delete", post(tags::delete_form))
        .route("/tags/{tag}", get(tags::page))
        .route(
            "/exceptions",
            get(exceptions::list_page).post(exceptions::create_form),
        )
        .route("/exceptions/delete", post(exceptions::delete_form))
        .route("/groups", get(sets::groups_page))
        .route("/domains", get(sets::domains_page))
        .route("/oses", get(sets::oses_page))
        .route("/feeds", get(feeds::list_page))
        .route("/stats", get(stats::page))
        .route("/changes", get(changes::page))
        .route("/hosts/{hostname}/diff", get(report_diff::page))
        .route("/repositories", get(repositories::list_page))
        .route("/reports/refused", get(refused::page))
        .route("/identity-conflicts", get(identity_conflicts::page))
        .route(
            "/identity-conflicts/{id}/accept",
            post(identity_conflicts::accept),
        )
        .route(
            "/identity-conflicts/{id}/reject",
            post(identity_conflicts::reject),
        )
        .route("/packages/{name}", get(packages::page))
        .route("/limits", get(limits::page))
        .route("/static/pakiti.css", get(web::stylesheet))
        // ---- authentication, users and ACL ----
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", get(session::logout_form).post(session::logout))
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
            "/notifications",
            get(notifications::page).post(notifications::create_form),
        )
        .route("/notifications/{id}/test", post(notifications::test_form))
        .route(
            "/notifications/{id}/delete",
            post(notifications::delete_form),
        )
        .route("/audit", get(audit::page))
        // Every state-changing request is recorded in the audit log (after routing, so the
        // route is known).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::token_rate_limit,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(crate::error::html_errors))
        .layer(axum::middleware::map_response(web::security_headers))
        // Slow bodies: `/feed/` reads its own within the same bound (`limits::read_body`).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        // One span per request (request id, method, path) on every line it logs, and one
        // line when it is answered.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::audit::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        // A sane client-sent `X-Request-Id` is kept, else one is made; the reply carries it.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::from_fn(
            crate::audit::drop_insane_request_id,
        ))
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
