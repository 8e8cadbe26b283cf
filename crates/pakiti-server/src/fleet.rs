//! Compatibility surface: the fleet index lives in the engine ([`pakiti_engine::fleet`]);
//! these wrappers keep the `crate::fleet::current(state)` call shapes of the handlers.

use std::sync::Arc;

pub use pakiti_engine::fleet::*;

use crate::state::AppState;

/// [`Engine::fleet`](pakiti_engine::Engine::fleet): the index, stale-while-revalidate.
///
/// # Errors
/// The first build fails.
pub async fn current(state: &AppState) -> anyhow::Result<Arc<Fleet>> {
    state.engine.fleet().await
}

/// [`Engine::fleet_up_to_date`](pakiti_engine::Engine::fleet_up_to_date).
///
/// # Errors
/// The store fails.
pub async fn up_to_date(state: &AppState) -> anyhow::Result<Arc<Fleet>> {
    state.engine.fleet_up_to_date().await
}

/// [`Engine::refresh_fleet_now`](pakiti_engine::Engine::refresh_fleet_now).
///
/// # Errors
/// The store fails.
pub async fn refresh_now(state: &AppState) -> anyhow::Result<Arc<Fleet>> {
    state.engine.refresh_fleet_now().await
}
