//! Integration tests of the pakiti server crate and the `pakiti` binary.

mod accounts;
mod authz;
mod bench_ingest;
mod browser;
mod cli;
mod crash;
mod deploy;
mod feed_names;
mod hostile;
mod identity;
mod invariant;
mod issue_12;
mod kernels;
mod ops;
mod peers;
mod pki;
mod reading;
mod repos;
mod server;
mod smime;
mod support;
mod tls;
mod vercmp;
mod web;
