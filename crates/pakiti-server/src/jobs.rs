//! Background work: feed syncs and re-evaluation. Each job is one deterministic step (called
//! directly by tests and the CLI) plus a thin loop in the server.

pub mod feeds;
pub mod reevaluate;
pub mod repos;
