//! Debian data: the security tracker JSON, the DSA/DLA lists and the archive's `Packages` and
//! `Sources` indexes (for binary → source name maps and, later, newest available versions).
//!
//! Debian publishes vulnerability data per *source* package, while hosts report *binary*
//! packages; every affected entry produced here is [`PackageKind::Source`] and the matcher
//! relates binaries to sources through the agent's `source` field or the map from
//! [`index::source_map`].
//!
//! [`PackageKind::Source`]: pakiti_core::advisory::PackageKind::Source

pub mod index;
pub mod list;
pub mod tracker;

use pakiti_core::advisory::Severity;

/// Maps a Debian urgency (`unimportant`, `low`, `medium`, `high`, `not yet assigned`,
/// `end-of-life`, optionally with the tracker's `**` suffix) onto [`Severity`].
///
/// The `**` suffix marks an urgency that was not set by the security team but copied from
/// NVD; it is still the best rating available, so it is used as it stands. `None` means the
/// word is not one the tracker documents.
pub(crate) fn urgency_severity(urgency: &str) -> Option<Severity> {
    let word = urgency.trim().trim_end_matches('*').trim();
    Some(match word {
        "unimportant" | "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "" | "not yet assigned" | "end-of-life" => Severity::Unknown,
        _ => return None,
    })
}

/// The tracker page of an issue or advisory.
pub(crate) fn tracker_url(id: &str) -> String {
    format!("https://security-tracker.debian.org/tracker/{id}")
}
