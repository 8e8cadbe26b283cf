//! The pakiti server's settings: one typed [`Settings`](settings::Settings) loaded in layers
//! (defaults, the TOML file, `PAKITI_*` variables) by [`Settings::load`](settings::Settings::load),
//! with the commented example [`EXAMPLE`](settings::EXAMPLE) that `pakiti default-config` prints.
//!
//! A crate of its own, apart from the server that uses it (`pakiti_server::settings`,
//! `pakiti_server::limits::Limits` and `pakiti_server::net::Cidr` re-export it), so that the
//! fuzz targets (`fuzz/`) and anything else can read a configuration without building the
//! server. It holds only what the file says; what the server does with it (enforcing the
//! limits, serving TLS, matching proxies) stays in the server.

pub mod limits;
pub mod net;
pub mod settings;
