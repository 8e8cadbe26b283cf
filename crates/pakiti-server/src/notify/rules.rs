//! What each rule sees now, what it has not told yet, and the daily digests.
//!
//! A subject names one occurrence of a condition: `exposure:<host>:<cve>` (the host has the
//! CVE), `silent:<host>:<last report time>` (one silence: a host that reports and falls silent
//! again is a new subject), `feed:<id>` / `repo:<id>` (failing; forgotten when a sync
//! succeeds, so the next failure is told again), `refused:<id>` (one refused report).

use std::collections::{BTreeMap, HashSet};

use pakiti_core::advisory::Severity;
use pakiti_store::{HostFilter, HostScope, HostSort, NotifyRule, Page, SyncStatus};
use time::OffsetDateTime;

use super::{Event, message, outbox_rows};
use crate::api_types::rfc3339;
use crate::state::AppState;

/// The hosts a rule covers: its groups and domains, or every host when it names none.
#[must_use]
pub fn scope(rule: &NotifyRule) -> HostScope {
    if rule.scope_groups.is_empty() && rule.scope_domains.is_empty() {
        HostScope::All
    } else {
        HostScope::Restricted {
            groups: rule.scope_groups.clone(),
            domains: rule.scope_domains.clone(),
            hosts: Vec::new(),
        }
    }
}

fn has(rule: &NotifyRule, trigger: &str) -> bool {
    rule.triggers.iter().any(|t| t == trigger)
}

/// Everything `rule` would tell about at `now`, by subject.
///
/// # Errors
/// The store or the fleet index fails.
pub async fn current(
    state: &AppState,
    rule: &NotifyRule,
    now: OffsetDateTime,
) -> anyhow::Result<BTreeMap<String, Event>> {
    let scope = scope(rule);
    let at = rfc3339(now);
    let mut out = BTreeMap::new();
    let (tagged, kev, critical) = (has(rule, "tagged"), has(rule, "kev"), has(rule, "critical"));
    if tagged || kev || critical {
        let fleet = state.engine.fleet_up_to_date().await?;
        let facts = state.engine.cve_facts();
        for c in fleet.cves(&scope) {
            let mut reasons = Vec::new();
            if tagged {
                reasons.extend(c.tags.iter().map(|t| format!("tagged:{t}")));
            }
            if kev && facts.get(&c.cve).is_some_and(|f| f.kev.is_some()) {
                reasons.push("kev".to_owned());
            }
            if critical && c.severity == Severity::Critical {
                reasons.push("critical".to_owned());
            }
            if reasons.is_empty() {
                continue;
            }
            let Some(detail) = fleet.cve(&c.cve, &scope) else {
                continue;
            };
            for h in detail.hosts {
                let fix = h
                    .packages
                    .iter()
                    .find_map(|p| {
                        p.fixed_version
                            .as_ref()
                            .map(|f| format!("{} {} → {f}", p.package, p.version))
                    })
                    .or_else(|| {
                        h.packages
                            .first()
                            .map(|p| format!("{} {}, no fix yet", p.package, p.version))
                    })
                    .unwrap_or_default();
                out.insert(
                    format!("exposure:{}:{}", h.hostname, c.cve),
                    Event {
                        kind: "exposure".into(),
                        text: format!(
                            "{} is exposed to {} ({}; {}){}",
                            h.hostname,
                            c.cve,
                            reasons.join(", "),
                            c.severity.as_str(),
                            if fix.is_empty() {
                                String::new()
                            } else {
                                format!(": {fix}")
                            }
                        ),
                        host: Some(h.hostname),
                        cve: Some(c.cve.clone()),
                        reasons: reasons.clone(),
                        detected_at: at.clone(),
                    },
                );
            }
        }
    }
    if has(rule, "not-reporting") {
        let days = rule.silent_days.max(1);
        let filter = HostFilter {
            last_report_before: Some(now - time::Duration::days(days)),
            scope: scope.clone(),
            ..HostFilter::default()
        };
        let page = state
            .store
            .list_hosts(
                &filter,
                HostSort::default(),
                Page {
                    offset: 0,
                    limit: 100_000,
                },
            )
            .await?;
        for h in page.hosts {
            out.insert(
                format!(
                    "silent:{}:{}",
                    h.hostname,
                    h.last_report_at.unix_timestamp()
                ),
                Event {
                    kind: "not-reporting".into(),
                    text: format!(
                        "{} has not reported for {days} day(s) (last report {})",
                        h.hostname,
                        rfc3339(h.last_report_at)
                    ),
                    host: Some(h.hostname),
                    cve: None,
                    reasons: Vec::new(),
                    detected_at: at.clone(),
                },
            );
        }
    }
    if has(rule, "sync-failing") {
        for f in state.store.list_feeds().await? {
            if let Some(s) = f
                .last_sync
                .as_ref()
                .filter(|s| s.status == SyncStatus::Failed)
            {
                out.insert(
                    format!("feed:{}", f.id),
                    sync_event("feed", &f.name, s.error.as_deref(), s.at, &at),
                );
            }
        }
        for r in state.store.list_repositories().await? {
            if let Some(s) = r
                .last_sync
                .as_ref()
                .filter(|s| s.status == SyncStatus::Failed)
            {
                out.insert(
                    format!("repo:{}", r.id),
                    sync_event("repository", &r.name, s.error.as_deref(), s.at, &at),
                );
            }
        }
    }
    if has(rule, "refused") {
        let (refused, _) = state.store.refused_reports(0, 1000).await?;
        for r in refused {
            if !scope.is_all() {
                let host = match r.hostname.as_deref() {
                    Some(h) => state.store.get_host_by_name(h).await?,
                    None => None,
                };
                if !host.is_some_and(|h| scope.allows(&h)) {
                    continue;
                }
            }
            out.insert(
                format!("refused:{}", r.id),
                Event {
                    kind: "refused".into(),
                    text: format!(
                        "report from {} refused ({} {}): {}",
                        r.hostname.as_deref().unwrap_or("an unnamed host"),
                        r.protocol,
                        r.status,
                        r.reason
                    ),
                    host: r.hostname.clone(),
                    cve: None,
                    reasons: Vec::new(),
                    detected_at: at.clone(),
                },
            );
        }
    }
    Ok(out)
}

fn sync_event(
    what: &str,
    name: &str,
    error: Option<&str>,
    when: OffsetDateTime,
    at: &str,
) -> Event {
    Event {
        kind: "sync-failing".into(),
        host: None,
        cve: None,
        reasons: Vec::new(),
        text: format!(
            "{what} {name} failed to sync at {}: {}",
            rfc3339(when),
            error.unwrap_or("no error recorded")
        ),
        detected_at: at.to_owned(),
    }
}

/// Evaluates every enabled rule at `now`: records and queues (or adds to the digest
/// backlog) what is new since the rule last looked.
///
/// # Errors
/// The store fails.
pub async fn evaluate(state: &AppState, now: OffsetDateTime) -> anyhow::Result<()> {
    for rule in state.store.list_notify_rules().await? {
        if !rule.enabled {
            continue;
        }
        evaluate_rule(state, &rule, now).await?;
    }
    Ok(())
}

/// [`evaluate`] for one rule.
///
/// # Errors
/// The store fails.
pub async fn evaluate_rule(
    state: &AppState,
    rule: &NotifyRule,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let current = current(state, rule, now).await?;
    let seen = state.store.notify_seen(rule.id).await?;
    // Failing feeds and repositories that recovered: their next failure is news again.
    let ended: Vec<String> = seen
        .iter()
        .filter(|s| (s.starts_with("feed:") || s.starts_with("repo:")) && !current.contains_key(*s))
        .cloned()
        .collect();
    state.store.notify_forget(rule.id, &ended).await?;
    let fresh: Vec<(&String, &Event)> =
        current.iter().filter(|(s, _)| !seen.contains(*s)).collect();
    let first = rule.baselined_at.is_none();
    if first && state.settings.notify.baseline {
        let subjects: Vec<String> = current.keys().cloned().collect();
        state
            .store
            .notify_commit(rule.id, &subjects, &[], &[], true, now)
            .await?;
        return Ok(());
    }
    if fresh.is_empty() {
        if first {
            state
                .store
                .notify_commit(rule.id, &[], &[], &[], true, now)
                .await?;
        }
        return Ok(());
    }
    let subjects: Vec<String> = fresh.iter().map(|(s, _)| (*s).clone()).collect();
    let events: Vec<Event> = fresh.into_iter().map(|(_, e)| e.clone()).collect();
    if rule.mode == "digest" {
        let backlog = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        state
            .store
            .notify_commit(rule.id, &subjects, &[], &backlog, first, now)
            .await?;
    } else {
        let rows = outbox_rows(rule, &message(rule, "immediate", events, now))?;
        state
            .store
            .notify_commit(rule.id, &subjects, &rows, &[], first, now)
            .await?;
    }
    Ok(())
}

/// The latest digest time at or before `now`: today's `hour`:00 UTC, or yesterday's.
#[must_use]
pub fn digest_due(now: OffsetDateTime, hour: u8) -> OffsetDateTime {
    let now = now.to_offset(time::UtcOffset::UTC);
    let today =
        now.replace_time(time::Time::from_hms(hour.min(23), 0, 0).unwrap_or(time::Time::MIDNIGHT));
    if today <= now {
        today
    } else {
        today - time::Duration::days(1)
    }
}

/// Makes the digests due at `now`: for each digest rule whose last digest is older than the
/// latest digest time, one message per destination with its backlog (none when empty).
///
/// # Errors
/// The store fails.
pub async fn digests(state: &AppState, now: OffsetDateTime) -> anyhow::Result<()> {
    let due = digest_due(now, state.settings.notify.digest_hour);
    for rule in state.store.list_notify_rules().await? {
        if rule.mode != "digest" || rule.last_digest_at.is_some_and(|t| t >= due) {
            continue;
        }
        let backlog = state.store.notify_digest_backlog(rule.id).await?;
        let upto = backlog.last().map_or(0, |(id, _)| *id);
        let mut events: Vec<Event> = Vec::with_capacity(backlog.len());
        let mut dedup = HashSet::new();
        for (_, e) in backlog {
            let e: Event = serde_json::from_str(&e)?;
            if dedup.insert((e.kind.clone(), e.text.clone())) {
                events.push(e);
            }
        }
        let rows = if events.is_empty() {
            Vec::new()
        } else {
            outbox_rows(&rule, &message(&rule, "digest", events, now))?
        };
        state
            .store
            .notify_digest_done(rule.id, upto, &rows, now)
            .await?;
    }
    Ok(())
}
