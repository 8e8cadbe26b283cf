//! The pakiti agent: collects a host's packages and reports them to one or several servers.
//!
//! [`collect`] reads the machine, [`config`] resolves the layered configuration (Pakiti 2 and
//! 3 files, our TOML, the command line), [`report`] renders the chosen protocol, [`smime`]
//! encrypts protocol-5 reports, [`send`] talks HTTP(S), and [`run`] ties a run together and
//! decides the exit code.

pub mod collect;
pub mod config;
pub mod hostid;
pub mod report;
pub mod run;
pub mod send;
pub mod smime;
