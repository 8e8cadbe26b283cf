//! Integration tests of the pakiti server crate and the `pakiti` binary.

mod accounts;
mod authz;
mod bench_ingest;
mod browser;
mod cli;
mod hostile;
mod repos;
mod server;
mod smime;
mod support;
mod vercmp;
mod web;
