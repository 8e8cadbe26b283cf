//! The pakiti agent: collects a host's packages and reports them.
