//! Every type the JSON API answers or reads, in one place: the pages render the same values,
//! the CSV exports are their [`CsvRow`](crate::export::CsvRow) forms, and `docs/openapi.json`
//! is generated from their `ToSchema` derives (see [`crate::router::openapi`]).
//!
//! Field names are the API's contract: renaming one is a breaking change.

mod admin;
mod audit;
mod cves;
mod fleet;
mod history;
mod hosts;
mod housekeeping;
mod limits;
mod notify;
mod ops;
mod pages;

pub use admin::*;
pub use audit::*;
pub use cves::*;
pub use fleet::*;
pub use history::*;
pub use hosts::*;
pub use housekeeping::*;
pub use limits::*;
pub use notify::*;
pub use ops::*;
pub use pages::*;

use time::format_description::well_known::Rfc3339;

/// RFC 3339 text of `t`.
#[must_use]
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// What every administrator-only API route may answer besides its own responses, listed once
/// for the OpenAPI document (`responses(..., AdminRefusals)` in a route's `#[utoipa::path]`).
#[derive(utoipa::IntoResponses)]
pub enum AdminRefusals {
    /// Not authenticated
    #[response(status = 401)]
    Unauthenticated,
    /// Not allowed (not an administrator, or a missing or stale CSRF token)
    #[response(status = 403)]
    Forbidden,
}
