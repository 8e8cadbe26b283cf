//! Compatibility surface: update detection lives in the engine
//! ([`pakiti_engine::updates`]); these wrappers keep the call shapes that take the state.

pub use pakiti_engine::updates::*;

use crate::state::AppState;

/// [`Engine::refresh_stream`](pakiti_engine::Engine::refresh_stream).
///
/// # Errors
/// The store fails.
pub async fn refresh_stream(state: &AppState, stream: &str) -> anyhow::Result<usize> {
    state.engine.refresh_stream(stream).await
}

/// [`Engine::reevaluate_binaries`](pakiti_engine::Engine::reevaluate_binaries).
///
/// # Errors
/// The store fails.
pub async fn reevaluate_binaries(
    state: &AppState,
    stream: &str,
    names: Vec<String>,
) -> anyhow::Result<usize> {
    state.engine.reevaluate_binaries(stream, names).await
}
