//! Host identity binding (issue 16 D17). Hosts are known by name (as in Pakiti 2/3), so anyone
//! who can reach `/feed/` could overwrite a host's inventory. A host is bound to the first
//! identity that reported it: a client-certificate DN (`dn:…`, TLS or a believed DN header),
//! else our agent's client id (`client-id:…`), else, when `[identity] network` is on, the
//! sender's network (`network:…`, /24 and /64 by default). A report for a known host under
//! another identity is an identity conflict; `[identity] policy` says what happens:
//! `off` (nothing), `warn` (stored as usual, the conflict recorded) or `hold` (not applied, kept
//! apart until an admin accepts — applies it and re-binds the host — or rejects it).
//! A host first seen before this feature has no bound identity and is bound by its next report.
//! A report with no identity at all (old client, `network` off) is not checked. Bounded: one
//! held report per host (the newest; older ones are `superseded`), and the newest
//! `refused_reports_kept` conflicts.

use std::net::IpAddr;

use askama::Template;
use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_api::report::{Mode, Report};
use pakiti_store::{IdentityConflict, NewIdentityConflict};
use serde::{Deserialize, Serialize};

use crate::auth::{Viewer, check_csrf};
use crate::error::AppError;
use crate::ingest::{self, Origin};
use crate::state::AppState;

pub use crate::settings::{IdentityPolicy as Policy, IdentitySettings};

/// The network of `ip` with `v4`/`v6` prefix lengths, as `address/prefix`.
#[must_use]
pub fn network_of(ip: IpAddr, v4: u8, v6: u8) -> String {
    match ip {
        IpAddr::V4(a) => {
            let p = v4.min(32);
            let mask = if p == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(p))
            };
            format!("{}/{p}", std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let p = v6.min(128);
            let mask = if p == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(p))
            };
            format!("{}/{p}", std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// The identity a report arrives under, if it has one. A report a trusted proxy relays is
/// known only by its client id (the proxy's certificate and address are not the host's).
#[must_use]
pub fn seen_identity(s: &IdentitySettings, report: &Report, origin: &Origin) -> Option<String> {
    let client_id = report
        .host_id
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| format!("client-id:{c}"));
    if report.proxy {
        return client_id;
    }
    if let Some(dn) = origin.client_dn.as_ref().filter(|d| !d.is_empty()) {
        return Some(format!("dn:{dn}"));
    }
    client_id.or_else(|| {
        s.network.then(|| {
            origin
                .peer
                .map(|ip| format!("network:{}", network_of(ip, s.ipv4_prefix, s.ipv6_prefix)))
        })?
    })
}

/// The result of checking a report's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it (nothing to do afterwards).
    Pass,
    /// Apply it; the host is new: bind it to this identity once saved ([`bind_new`]).
    NewHost(String),
    /// Held for an admin (policy `hold`): do not apply.
    Held,
}

/// Checks `report` against the identity its host is bound to; records a conflict (warn,
/// hold) and binds a host not bound yet.
///
/// # Errors
/// A store failure.
pub async fn check(
    state: &AppState,
    report: &Report,
    origin: &Origin,
) -> Result<Verdict, AppError> {
    let s = &state.settings.identity;
    if s.policy == Policy::Off || report.mode == Mode::ReportOnly {
        return Ok(Verdict::Pass);
    }
    let Some(seen) = seen_identity(s, report, origin) else {
        return Ok(Verdict::Pass);
    };
    let identity = ingest::identity_of(report);
    let host = match state.last_hash(&identity) {
        Some((h, _, _)) => Some(h),
        None => state.store.host_state(&identity).await?.map(|h| h.id),
    };
    let Some(host) = host else {
        return Ok(Verdict::NewHost(seen));
    };
    let Some(expected) = state.store.host_bound_identity(host).await? else {
        state.store.bind_host_identity(host, &seen, true).await?;
        return Ok(Verdict::Pass);
    };
    if expected == seen {
        return Ok(Verdict::Pass);
    }
    let held = s.policy == Policy::Hold;
    tracing::warn!(
        host = ?report.hostname,
        expected = ?expected,
        seen = ?seen,
        peer = ?origin.peer,
        held,
        "identity conflict"
    );
    state
        .store
        .record_identity_conflict(
            &NewIdentityConflict {
                received_at: origin.received_at,
                hostname: report.hostname.clone(),
                host_id: Some(host),
                expected,
                seen,
                peer: origin.peer.map(|p| p.to_string()),
                status: if held { "held" } else { "stored" }.to_owned(),
                report: held.then(|| pakiti_api::json::render(report)),
            },
            i64::from(state.settings.refused_reports_kept.max(1)),
        )
        .await?;
    Ok(if held { Verdict::Held } else { Verdict::Pass })
}

/// Binds the host a report just created to the identity it came with (first identity wins).
///
/// # Errors
/// A store failure.
pub async fn bind_new(state: &AppState, report: &Report, seen: &str) -> Result<(), AppError> {
    if let Some(h) = state.store.host_state(&ingest::identity_of(report)).await? {
        state.store.bind_host_identity(h.id, seen, true).await?;
    }
    Ok(())
}

// ---- admin pages and API ----

/// An identity conflict as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ApiConflict {
    /// Id (for accept / reject).
    pub id: i64,
    /// When the report arrived (RFC 3339).
    pub received_at: String,
    /// The host name the report gave.
    pub hostname: String,
    /// The identity the host is bound to.
    pub expected: String,
    /// The identity the report came with.
    pub seen: String,
    /// The sender's address.
    pub peer: Option<String>,
    /// `stored` (warn), `held`, `accepted`, `rejected` or `superseded`.
    pub status: String,
    /// Packages in the held report (while held).
    pub packages: Option<usize>,
}

fn api_conflict(c: IdentityConflict) -> ApiConflict {
    let packages = c
        .report
        .as_deref()
        .and_then(|r| pakiti_api::json::parse(r.as_bytes()).ok())
        .map(|r| r.packages.len());
    ApiConflict {
        id: c.id,
        received_at: c
            .received_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        hostname: c.hostname,
        expected: c.expected,
        seen: c.seen,
        peer: c.peer,
        status: c.status,
        packages,
    }
}

/// A page of identity conflicts, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct ApiConflictPage {
    /// The conflicts.
    pub conflicts: Vec<ApiConflict>,
    /// How many are recorded.
    pub total: i64,
    /// Offset of the first.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

/// Query parameters of the list.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConflictQuery {
    /// First row.
    pub offset: Option<i64>,
    /// Rows (1–1000, default 100).
    pub limit: Option<i64>,
}

async fn query(state: &AppState, q: &ConflictQuery) -> Result<ApiConflictPage, AppError> {
    let offset = q.offset.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (rows, total) = state.store.identity_conflicts(offset, limit).await?;
    Ok(ApiConflictPage {
        conflicts: rows.into_iter().map(api_conflict).collect(),
        total,
        offset,
        limit,
    })
}

/// `GET /api/v1/identity-conflicts` (admins).
///
/// # Errors
/// Not an admin (403) or a store failure.
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ConflictQuery>,
) -> Result<Json<ApiConflictPage>, AppError> {
    viewer.require_admin()?;
    Ok(Json(query(&state, &q).await?))
}

#[derive(Template)]
#[template(path = "identity.html")]
struct ConflictsPage {
    version: &'static str,
    page: ApiConflictPage,
    policy: String,
    csrf: String,
}

/// `/identity-conflicts` (admins).
///
/// # Errors
/// Not an admin (403) or a store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ConflictQuery>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    let page = query(&state, &q).await?;
    crate::web::render(&ConflictsPage {
        version: crate::web::VERSION,
        page,
        policy: format!("{:?}", state.settings.identity.policy).to_lowercase(),
        csrf: viewer.csrf.clone(),
    })
}

/// The form of accept / reject.
#[derive(Clone, Debug, Deserialize)]
pub struct ResolveForm {
    /// The viewer's CSRF token.
    pub csrf: String,
}

async fn held(state: &AppState, id: i64) -> Result<IdentityConflict, AppError> {
    state
        .store
        .identity_conflict(id)
        .await?
        .filter(|c| c.status == "held" && c.report.is_some())
        .ok_or_else(|| AppError::NotFound(format!("no held report {id}")))
}

/// `POST /identity-conflicts/{id}/accept` (admins): applies the held report and binds its
/// host to the identity it came with.
///
/// # Errors
/// Not an admin or a wrong CSRF token (403), not held (404), or the report fails as a report.
pub async fn accept(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<ResolveForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let c = held(&state, id).await?;
    let report = pakiti_api::json::parse(c.report.as_deref().unwrap_or("").as_bytes())
        .map_err(|e| AppError::BadRequest(format!("held report {id}: {e}")))?;
    if !state
        .store
        .resolve_identity_conflict(id, "accepted")
        .await?
    {
        return Err(AppError::NotFound(format!("no held report {id}")));
    }
    let origin = Origin {
        received_at: c.received_at,
        peer: c.peer.as_deref().and_then(|p| p.parse().ok()),
        client_dn: None,
        // It passed the proxy check when it arrived.
        trusted_proxy: true,
    };
    ingest::process(&state, &report, &origin).await?;
    state.fleet_changed();
    if let Some(h) = state
        .store
        .host_state(&ingest::identity_of(&report))
        .await?
    {
        state.store.bind_host_identity(h.id, &c.seen, false).await?;
    }
    tracing::info!(host = ?report.hostname, by = ?viewer.author(), identity = ?c.seen, "held report accepted");
    Ok(Redirect::to("/identity-conflicts").into_response())
}

/// `POST /identity-conflicts/{id}/reject` (admins): drops the held report.
///
/// # Errors
/// Not an admin or a wrong CSRF token (403), not held (404).
pub async fn reject(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(f): Form<ResolveForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    held(&state, id).await?;
    if !state
        .store
        .resolve_identity_conflict(id, "rejected")
        .await?
    {
        return Err(AppError::NotFound(format!("no held report {id}")));
    }
    Ok(Redirect::to("/identity-conflicts").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(
            network_of("192.0.2.77".parse().unwrap(), 24, 64),
            "192.0.2.0/24"
        );
        assert_eq!(
            network_of("2001:db8:1:2:3::9".parse().unwrap(), 24, 64),
            "2001:db8:1:2::/64"
        );
    }
}
