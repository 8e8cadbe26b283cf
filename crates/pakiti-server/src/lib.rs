//! The pakiti server and the subcommands of the `pakiti` command.

pub mod cmd;
pub mod sample;
pub mod smime;
