//! HTTP handlers, one module per resource. Each holds its query function (what the page and
//! the JSON API both show), its `/api/v1` handlers (annotated with `#[utoipa::path]`: the
//! OpenAPI document is generated from them, see [`crate::router::openapi`]) and its pages.
//! The types the API answers are in [`crate::api_types`]; what every page shares in
//! [`crate::web`]. Handler modules do not import each other, except `tags::after_change`,
//! `home` (counts with `hosts::query_hosts`) and `host` (reuses `hosts::api_host`).

pub mod audit;
pub mod changes;
pub mod cves;
pub mod exceptions;
pub mod feeds;
pub mod home;
pub mod host;
pub mod hosts;
pub mod housekeeping;
pub mod identity_conflicts;
pub mod limits;
pub mod notifications;
pub mod ops;
pub mod packages;
pub mod refused;
pub mod report;
pub mod report_diff;
pub mod repositories;
pub mod retire;
pub mod session;
pub mod sets;
pub mod stats;
pub mod tags;
pub mod users;
