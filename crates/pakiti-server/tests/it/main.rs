//! Integration tests of the pakiti server crate and the `pakiti` binary.

mod bench_ingest;
mod cli;
mod server;
mod smime;
mod support;
mod vercmp;
