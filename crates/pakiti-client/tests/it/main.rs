//! Integration tests of the agent.

mod collect;
mod config;
mod e2e;
mod facts;
mod output;
mod send;
mod smime;
mod support;
mod tls;
