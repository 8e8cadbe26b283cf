//! The pakiti server and the subcommands of the `pakiti` command.
//!
//! `router(state)` builds the application and `serve(listener, state, shutdown)` runs it on an
//! already-bound listener, so tests bind port 0 and talk to a real server on 127.0.0.1.

pub mod api_types;
pub mod audit;
pub mod auth;
pub mod cmd;
pub mod conn;
pub mod demo;
pub mod error;
pub mod export;
pub mod handlers;
pub mod identity;
pub mod jobs;
pub mod limits;
pub mod listen;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod ratelimit;
pub mod router;
pub mod sample;
pub mod seen_bodies;
pub mod state;
pub mod tls;
pub mod web;
pub mod worker;

pub use router::{router, serve};

/// The settings (`pakiti.toml`, `PAKITI_*`), defined in `pakiti-config`.
pub use pakiti_config::settings;
/// S/MIME report decryption, defined in `pakiti-smime`.
pub use pakiti_smime as smime;
