//! Subcommands of `pakiti`, each a plain function of its arguments and streams.

pub mod bench;
pub mod bench_ingest;
pub mod bench_load;
pub mod bench_repos;
pub mod bench_web;
pub mod check;
pub mod feed;
pub mod host;
pub mod maintenance;
pub mod repo;
pub mod scan;
pub mod serve;
pub mod user;
pub mod vercmp;
