//! Integration tests of the agent.

mod collect;
