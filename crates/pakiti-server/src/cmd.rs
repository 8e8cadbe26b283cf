//! Subcommands of `pakiti`, each a plain function of its arguments and streams.

pub mod bench;
pub mod vercmp;
