//! rpm version comparison (placeholder until the comparator lands).
use std::cmp::Ordering;

/// Compares two rpm EVR strings.
#[must_use]
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    a.cmp(b)
}

/// Validates an rpm EVR.
///
/// # Errors
/// The reason the version is invalid.
pub fn validate(_v: &str) -> Result<(), String> {
    Ok(())
}
