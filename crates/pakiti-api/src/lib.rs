//! Wire types shared by the agent and the server.
#![warn(missing_docs)]
