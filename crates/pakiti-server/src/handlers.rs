//! HTTP handlers: the agent endpoint and the JSON API.

pub mod api;
pub mod feed;
pub mod packages;
pub mod refused;
pub mod users;
pub mod views;
