//! The pakiti agent: collects a host's packages and reports them to one or several servers.
//!
//! [`collect`] reads the machine, [`config`] resolves the layered configuration (Pakiti 2 and
//! 3 files, our TOML, the command line), [`report`] renders the chosen protocol, [`smime`]
//! encrypts protocol-5 reports, [`send`] talks HTTP(S), and [`run`] ties a run together and
//! decides the exit code.
//!
//! The cargo feature `send` (on by default) builds the sending half (`report`, `send`,
//! `smime`, `run`, and the `pakiti-client` binary) with its HTTP and TLS stack (ureq,
//! rustls). Without it, only collecting and configuration remain: what the server's demo
//! uses to read the machine it runs on, without linking the agent's HTTP client.

pub mod collect;
pub mod config;
pub mod hostid;
#[cfg(feature = "send")]
pub mod report;
#[cfg(feature = "send")]
pub mod run;
#[cfg(feature = "send")]
pub mod send;
#[cfg(feature = "send")]
pub mod smime;
