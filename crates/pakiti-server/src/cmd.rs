//! Subcommands of `pakiti`, each a plain function of its arguments and streams.

pub mod bench;
pub mod bench_ingest;
pub mod feed;
pub mod scan;
pub mod serve;
pub mod vercmp;
