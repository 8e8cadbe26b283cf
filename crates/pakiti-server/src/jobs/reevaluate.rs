//! Compatibility surface: re-evaluation is the engine's ([`pakiti_engine::reevaluate`]); the
//! server only schedules it ([`crate::jobs::tick`]). These wrappers keep the call shapes that
//! take the state.

pub use pakiti_engine::reevaluate::Reevaluation;

use crate::state::AppState;

/// [`Engine::recover`](pakiti_engine::Engine::recover).
///
/// # Errors
/// The store fails.
pub async fn recover(state: &AppState) -> anyhow::Result<usize> {
    state.engine.recover().await
}

/// [`Engine::finish_pending`](pakiti_engine::Engine::finish_pending).
///
/// # Errors
/// The store fails.
pub async fn finish_pending(state: &AppState) -> anyhow::Result<usize> {
    state.engine.finish_pending().await
}

/// [`Engine::reevaluate`](pakiti_engine::Engine::reevaluate).
///
/// # Errors
/// The store fails.
pub async fn run_once(state: &AppState) -> anyhow::Result<Reevaluation> {
    state.engine.reevaluate().await
}

/// [`Engine::refresh_counts`](pakiti_engine::Engine::refresh_counts).
///
/// # Errors
/// The store fails.
pub async fn refresh_counts(state: &AppState, hosts: Option<&[i64]>) -> anyhow::Result<usize> {
    state.engine.refresh_counts(hosts).await
}

/// [`Engine::refresh_host_counts`](pakiti_engine::Engine::refresh_host_counts).
///
/// # Errors
/// The store fails.
pub async fn refresh_host(state: &AppState, host: i64) -> anyhow::Result<()> {
    state.engine.refresh_host_counts(host).await
}

/// [`Engine::refresh_all_counts`](pakiti_engine::Engine::refresh_all_counts).
///
/// # Errors
/// The store fails.
pub async fn refresh_all_counts(state: &AppState) -> anyhow::Result<usize> {
    state.engine.refresh_all_counts().await
}
