//! HTTP handlers, one module per resource. Each holds its query function (what the page and
//! the JSON API both show), its `/api/v1` handlers (annotated with `#[utoipa::path]`: the
//! OpenAPI document is generated from them, see [`crate::router::openapi`]) and its pages.
//! The types the API answers are in [`crate::api_types`]; what every page shares in
//! [`crate::web`]. Handler modules do not import each other, except `tags::after_change`.

pub mod audit;
pub mod changes;
pub mod cves;
pub mod exceptions;
pub mod feeds;
pub mod home;
pub mod hosts;
pub mod identity_conflicts;
pub mod notifications;
pub mod ops;
pub mod packages;
pub mod refused;
pub mod report;
pub mod report_diff;
pub mod repositories;
pub mod session;
pub mod sets;
pub mod stats;
pub mod tags;
pub mod users;
