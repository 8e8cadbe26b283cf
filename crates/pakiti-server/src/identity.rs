//! Host identity binding (issue 16 D17). Hosts are known by name (as in Pakiti 2/3), so anyone
//! who can reach `/feed/` could overwrite a host's inventory. A host is bound to the first
//! identity that reported it: a client-certificate DN (`dn:…`, TLS or a believed DN header),
//! else our agent's client id (`client-id:…`), else, when `[identity] network` is on, the
//! sender's network (`network:…`, /24 and /64 by default). A report for a known host under
//! another identity is an identity conflict; `[identity] policy` says what happens:
//! `off` (nothing), `warn` (stored as usual, the conflict recorded) or `hold` (not applied, kept
//! apart until an admin accepts — applies it and re-binds the host — or rejects it).
//! A host first seen before this feature has no bound identity and is bound by its next report.
//! A report with no identity at all (old client, `network` off) is not checked. Bounded: one
//! held report per host (the newest; older ones are `superseded`), and the newest
//! `refused_reports_kept` conflicts.
//!
//! Binding is apart from the host key: hosts are keyed by the agent's client id, else the
//! hostname, never the reporter's address (Pakiti issue #158); the network is only ever an
//! identity.

use std::net::IpAddr;

use pakiti_api::report::{Mode, Report};
use pakiti_store::NewIdentityConflict;

use crate::error::AppError;
use crate::state::AppState;
use pakiti_engine::ingest::{self, Origin};

pub use crate::settings::{IdentityPolicy as Policy, IdentitySettings};

/// The network of `ip` with `v4`/`v6` prefix lengths, as `address/prefix`.
#[must_use]
pub fn network_of(ip: IpAddr, v4: u8, v6: u8) -> String {
    match ip {
        IpAddr::V4(a) => {
            let p = v4.min(32);
            let mask = if p == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(p))
            };
            format!("{}/{p}", std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let p = v6.min(128);
            let mask = if p == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(p))
            };
            format!("{}/{p}", std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// The identity a report arrives under, if it has one. A report a trusted proxy relays is
/// known only by its client id (the proxy's certificate and address are not the host's).
#[must_use]
pub fn seen_identity(s: &IdentitySettings, report: &Report, origin: &Origin) -> Option<String> {
    let client_id = report
        .host_id
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| format!("client-id:{c}"));
    if report.proxy {
        return client_id;
    }
    if let Some(dn) = origin.client_dn.as_ref().filter(|d| !d.is_empty()) {
        return Some(format!("dn:{dn}"));
    }
    client_id.or_else(|| {
        s.network.then(|| {
            origin
                .peer
                .map(|ip| format!("network:{}", network_of(ip, s.ipv4_prefix, s.ipv6_prefix)))
        })?
    })
}

/// The result of checking a report's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it (nothing to do afterwards).
    Pass,
    /// Apply it; the host is new: bind it to this identity once saved ([`bind_new`]).
    NewHost(String),
    /// Held for an admin (policy `hold`): do not apply.
    Held,
}

/// Checks `report` against the identity its host is bound to; records a conflict (warn,
/// hold) and binds a host not bound yet.
///
/// # Errors
/// A store failure.
pub async fn check(
    state: &AppState,
    report: &Report,
    origin: &Origin,
) -> Result<Verdict, AppError> {
    let s = &state.settings.identity;
    if s.policy == Policy::Off || report.mode == Mode::ReportOnly {
        return Ok(Verdict::Pass);
    }
    let Some(seen) = seen_identity(s, report, origin) else {
        return Ok(Verdict::Pass);
    };
    let identity = ingest::identity_of(report);
    let host = match state.engine.last_hash(&identity) {
        Some((h, _, _)) => Some(h),
        None => state.store.host_state(&identity).await?.map(|h| h.id),
    };
    let Some(host) = host else {
        return Ok(Verdict::NewHost(seen));
    };
    let Some(expected) = state.store.host_bound_identity(host).await? else {
        state.store.bind_host_identity(host, &seen, true).await?;
        return Ok(Verdict::Pass);
    };
    if expected == seen {
        return Ok(Verdict::Pass);
    }
    let held = s.policy == Policy::Hold;
    tracing::warn!(
        host = ?report.hostname,
        expected = ?expected,
        seen = ?seen,
        peer = ?origin.peer,
        held,
        "identity conflict"
    );
    state
        .store
        .record_identity_conflict(
            &NewIdentityConflict {
                received_at: origin.received_at,
                hostname: report.hostname.clone(),
                host_id: Some(host),
                expected,
                seen,
                peer: origin.peer.map(|p| p.to_string()),
                status: if held { "held" } else { "stored" }.to_owned(),
                report: held.then(|| pakiti_api::json::render(report)),
            },
            i64::from(state.settings.refused_reports_kept.max(1)),
        )
        .await?;
    Ok(if held { Verdict::Held } else { Verdict::Pass })
}

/// Binds the host a report just created to the identity it came with (first identity wins).
///
/// # Errors
/// A store failure.
pub async fn bind_new(state: &AppState, report: &Report, seen: &str) -> Result<(), AppError> {
    if let Some(h) = state.store.host_state(&ingest::identity_of(report)).await? {
        state.store.bind_host_identity(h.id, seen, true).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(
            network_of("192.0.2.77".parse().unwrap(), 24, 64),
            "192.0.2.0/24"
        );
        assert_eq!(
            network_of("2001:db8:1:2:3::9".parse().unwrap(), 24, 64),
            "2001:db8:1:2::/64"
        );
    }
}
