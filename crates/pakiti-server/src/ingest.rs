//! Compatibility surface and HTTP mapping of report ingest: the step itself is the engine's
//! ([`pakiti_engine::ingest::process`]); [`process`] here takes the state and maps
//! [`IngestError`] to the HTTP edge's statuses.

pub use pakiti_engine::ingest::*;

use pakiti_api::report::Report;

use crate::error::AppError;
use crate::state::AppState;

/// [`pakiti_engine::ingest::process`] with the state, answering [`AppError`].
///
/// # Errors
/// A malformed report (4xx) or a store failure (5xx, 503 when worth retrying).
pub async fn process(
    state: &AppState,
    report: &Report,
    origin: &Origin,
) -> Result<Outcome, AppError> {
    Ok(pakiti_engine::ingest::process(&state.engine, report, origin).await?)
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(m) => AppError::BadRequest(m),
            IngestError::NotTrustedProxy(m) => AppError::Forbidden(m),
            e @ IngestError::FeedsKeptChanging => AppError::Unavailable(e.to_string()),
            // The store's error stays in the chain: a transient one is answered 503.
            e @ (IngestError::Store { .. } | IngestError::CatchUp(_)) => {
                AppError::Internal(anyhow::Error::new(e))
            }
        }
    }
}
