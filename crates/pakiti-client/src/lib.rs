//! The pakiti agent: collects a host's packages and reports them to one or several servers.

pub mod collect;
