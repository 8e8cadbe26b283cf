//! dpkg version comparison (placeholder until the comparator lands).
use std::cmp::Ordering;

/// Compares two Debian version strings.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    a.cmp(b)
}

/// Validates an Debian version.
///
/// # Errors
/// The reason the version is invalid.
pub fn validate(_v: &str) -> Result<(), String> {
    Ok(())
}
