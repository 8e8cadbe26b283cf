//! What `GET /api/v1/limits` answers: every limit the server enforces.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One enforced limit: its setting, the value in force, the default and what it bounds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiLimit {
    /// The setting's key in the configuration file (`limits.max_packages`; the environment
    /// variable is `PAKITI_` + the key in capitals with `__` for the dot).
    pub setting: String,
    /// The value in force.
    pub value: String,
    /// The built-in default.
    pub default: String,
    /// Unit of `value`.
    pub unit: String,
    /// What it bounds and what a client gets beyond it.
    pub meaning: String,
}
