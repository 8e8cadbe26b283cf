//! Integration tests of the pakiti server crate and the `pakiti` binary.

mod server;
mod smime;
mod support;
mod vercmp;
