//! `pakiti feed add|list|remove|sync|import`: feeds as managed sources.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use pakiti_feeds::FeedKind;
use pakiti_store::{Feed, NewFeed, SyncStatus};

use crate::jobs::feeds::{self, AUTO_KIND, ImportOutcome, Progress};
use crate::state::AppState;

/// A progress bar on a terminal, nothing otherwise.
pub struct Bar {
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    /// A bar for `feed`, drawn on stderr when it is a terminal.
    #[must_use]
    pub fn new(feed: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_prefix(feed.to_owned());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Bar { bar }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn stage(&self, name: &str, total: Option<u64>) {
        if let Some(b) = &self.bar {
            match total {
                Some(t) => {
                    b.set_length(t);
                    b.set_position(0);
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{prefix:.bold} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                }
                None => b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{prefix:.bold} {spinner} {msg} {bytes}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            }
            b.set_message(name.to_owned());
        }
    }

    fn advance(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.set_position(done);
        }
    }
}

/// Parses a duration like `6h`, `1d`, `30m`, `3600` (seconds).
///
/// # Errors
/// Not a number with an optional s/m/h/d/w unit.
pub fn parse_interval(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid interval {s:?}: use e.g. 6h, 1d, 3600"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "invalid interval unit in {s:?}: use s, m, h, d or w"
            ));
        }
    };
    Ok(n * mult)
}

/// Finds a feed by name.
///
/// # Errors
/// The store fails or there is no such feed.
pub async fn find(state: &AppState, name: &str) -> Result<Feed> {
    state
        .store
        .list_feeds()
        .await?
        .into_iter()
        .find(|f| f.name == name)
        .with_context(|| format!("no feed named {name:?} (see `pakiti feed list`)"))
}

/// `pakiti feed add`.
///
/// # Errors
/// Invalid kind or stream, duplicate name, store failure.
pub async fn add(state: &AppState, new: NewFeed, out: &mut impl Write) -> Result<()> {
    let (name, url) = (new.name.clone(), crate::audit::redact_url(&new.url));
    let r: Result<()> = async {
        if new.kind != AUTO_KIND && FeedKind::from_name(&new.kind).is_none() {
            bail!("unknown feed kind {:?}", new.kind);
        }
        if let Some(s) = &new.stream {
            s.parse::<pakiti_core::stream::OsStream>()?;
        }
        let feed = state
            .store
            .create_feed(&new)
            .await
            .context("creating the feed")?;
        writeln!(
            out,
            "added feed {} ({}, {})",
            feed.name, feed.kind, feed.url
        )?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "feed add", &name, &url, r).await
}

/// `pakiti feed list`.
///
/// # Errors
/// Store failure.
pub async fn list(state: &AppState, json: bool, out: &mut impl Write) -> Result<()> {
    let feeds = state.store.list_feeds().await?;
    if json {
        let rows: Vec<serde_json::Value> = feeds
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name, "kind": f.kind, "url": f.url, "stream": f.stream,
                    "recognised_kind": f.content.as_ref().map(|c| &c.kind),
                    "content": f.content.as_ref().map(|c| &c.key),
                    "last_source": f.content.as_ref().map(|c| &c.source),
                    "enabled": f.enabled, "interval_secs": f.interval_secs,
                    "advisories": f.advisory_count, "affected": f.affected_count,
                    "last_sync": f.last_sync.as_ref().map(|s| serde_json::json!({
                        "at": s.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        "status": s.status.as_str(), "error": s.error, "duration_ms": s.duration_ms,
                    })),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:<15} {:<15} {:>9} {:>9} {:<9} {:<20} LAST SOURCE",
        "NAME", "KIND", "RECOGNISED", "ADVISORIES", "ENTRIES", "STATUS", "LAST SYNC"
    )?;
    for f in feeds {
        let (status, at) = f
            .last_sync
            .as_ref()
            .map_or(("never".to_owned(), String::new()), |s| {
                (
                    s.status.as_str().to_owned(),
                    s.at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                )
            });
        let status = if f.enabled {
            status
        } else {
            format!("{status}(off)")
        };
        let (recognised, source) = f.content.as_ref().map_or(("-", f.url.as_str()), |c| {
            (c.kind.as_str(), c.source.as_str())
        });
        writeln!(
            out,
            "{:<24} {:<15} {:<15} {:>9} {:>9} {:<9} {:<20} {}",
            f.name, f.kind, recognised, f.advisory_count, f.affected_count, status, at, source
        )?;
        if let Some(c) = &f.content {
            writeln!(out, "    content: {}", c.key)?;
        }
        if let Some(e) = f.last_sync.as_ref().and_then(|s| s.error.as_ref()) {
            writeln!(out, "    last error: {e}")?;
        }
    }
    Ok(())
}

/// `pakiti feed remove`.
///
/// # Errors
/// No such feed or store failure.
pub async fn remove(state: &AppState, name: &str, out: &mut impl Write) -> Result<()> {
    let r: Result<()> = async {
        let feed = find(state, name).await?;
        state.store.delete_feed(feed.id).await?;
        // Its CVE facts (a prioritisation feed's, a vulnerability feed's CVSS) went with it.
        state.engine.reload_cve_facts().await?;
        if feed.is_prioritisation() {
            writeln!(out, "removed feed {name}")?;
            return Ok(());
        }
        let r = state.engine.reevaluate().await?;
        writeln!(
            out,
            "removed feed {name}; re-evaluated {} package versions on {} hosts",
            r.package_versions, r.hosts
        )?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "feed remove", name, "", r).await
}

fn report(name: &str, o: &ImportOutcome, out: &mut impl Write) -> Result<()> {
    match o.status {
        SyncStatus::Ok if o.facts > 0 => writeln!(
            out,
            "{name}: imported facts on {} CVEs ({} problems) in {:.2} s",
            o.facts,
            o.problems.len(),
            o.took.as_secs_f64()
        )?,
        SyncStatus::Ok => writeln!(
            out,
            "{name}: imported {} advisories, {} affected entries ({} problems, {} changed keys) in {:.2} s",
            o.advisories,
            o.affected,
            o.problems.len(),
            o.changed_keys,
            o.took.as_secs_f64()
        )?,
        SyncStatus::Unchanged => writeln!(out, "{name}: unchanged")?,
        SyncStatus::Failed => writeln!(
            out,
            "{name}: FAILED: {}",
            o.error.as_deref().unwrap_or("unknown error")
        )?,
    }
    for p in o.problems.iter().take(5) {
        writeln!(
            out,
            "    problem: {}{}",
            p.record
                .as_deref()
                .map(|r| format!("{r}: "))
                .unwrap_or_default(),
            p.message
        )?;
    }
    if o.problems.len() > 5 {
        writeln!(out, "    … and {} more problems", o.problems.len() - 5)?;
    }
    Ok(())
}

/// `pakiti feed sync`: the named feeds, or all enabled ones. Returns whether all succeeded.
///
/// # Errors
/// Unknown feed or store failure.
pub async fn sync(
    state: &AppState,
    names: &[String],
    force: bool,
    out: &mut impl Write,
) -> Result<bool> {
    let feeds: Vec<Feed> = if names.is_empty() {
        state
            .store
            .list_feeds()
            .await?
            .into_iter()
            .filter(|f| f.enabled)
            .collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            v.push(find(state, n).await?);
        }
        v
    };
    let mut ok = true;
    let mut vulnerability_feeds = 0;
    for feed in &feeds {
        let bar = Bar::new(&feed.name);
        let o = feeds::sync(state, feed, force, &bar).await?;
        bar.finish();
        ok &= o.status != SyncStatus::Failed;
        report(&feed.name, &o, out)?;
        // Re-read: an `auto` feed's content says what it is after its first import.
        let now = state.store.get_feed(feed.id).await?;
        if !now.as_ref().is_some_and(Feed::is_prioritisation) {
            vulnerability_feeds += 1;
        }
    }
    if vulnerability_feeds == 0 {
        // Prioritisation data orders findings; it changes none.
        return Ok(ok);
    }
    let r = state.engine.reevaluate().await?;
    writeln!(
        out,
        "re-evaluated {} package versions on {} hosts in {:.2} s",
        r.package_versions,
        r.hosts,
        r.took.as_secs_f64()
    )?;
    Ok(ok)
}

/// What `pakiti feed import` was asked.
#[derive(Debug, Default)]
pub struct ImportArgs {
    /// The feed's name; default: made from the content ([`pakiti_feeds::FeedIdentity`]).
    pub name: Option<String>,
    /// The kind, when creating the feed.
    pub kind: Option<String>,
    /// The stream override, when creating the feed.
    pub stream: Option<String>,
    /// Apply despite a count drop.
    pub force: bool,
    /// Apply a document of another release or kind than the feed's last import.
    pub replace: bool,
}

/// `pakiti feed import FILE`: imports a local file into the named feed, creating the feed
/// (with the file as its source) when it does not exist. Without `--name` the feed is named
/// after the content (`ubuntu-20.04-oval`, `debian-dsa`), so that files of different releases
/// or kinds land in different feeds. Returns whether it succeeded.
///
/// # Errors
/// Unreadable file, unknown kind, unrecognised content without `--name`, store failure.
pub async fn import(
    state: &AppState,
    file: &Path,
    args: ImportArgs,
    out: &mut impl Write,
) -> Result<bool> {
    let ImportArgs {
        name,
        kind,
        stream,
        force,
        replace,
    } = args;
    let path =
        std::fs::canonicalize(file).with_context(|| format!("reading {}", file.display()))?;
    let bar = Bar::new(name.as_deref().unwrap_or("feed"));
    bar.stage("reading", None);
    let body = tokio::fs::read(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?;
    let mut identified = None;
    let name = match name {
        Some(n) => n,
        None => {
            bar.stage("recognising", None);
            let (k, s, b) = (
                kind.clone().unwrap_or_else(|| AUTO_KIND.to_owned()),
                stream.clone(),
                body.clone(),
            );
            let id = tokio::task::spawn_blocking(move || feeds::identify(&k, s.as_deref(), &b))
                .await?
                .with_context(|| {
                    format!(
                        "recognising {} (pass --name to choose the feed)",
                        file.display()
                    )
                })?;
            let n = id.identity.default_name();
            identified = Some(id);
            n
        }
    };
    let existing = state
        .store
        .list_feeds()
        .await?
        .into_iter()
        .find(|f| f.name == name);
    // The document was parsed with the kind and stream given here; an existing feed parses
    // it with its own.
    if let Some(f) = &existing
        && (f.kind != kind.as_deref().unwrap_or(AUTO_KIND) || f.stream != stream)
    {
        identified = None;
    }
    let feed = match existing {
        Some(f) => f,
        None => {
            let new = NewFeed {
                name: name.clone(),
                kind: kind.unwrap_or_else(|| AUTO_KIND.to_owned()),
                url: path.display().to_string(),
                stream,
                enabled: true,
                interval_secs: 86_400,
            };
            add(state, new, out).await?;
            find(state, &name).await?
        }
    };
    let fetched = feeds::Fetched {
        body: Some(body),
        ..feeds::Fetched::default()
    };
    let opts = feeds::ImportOptions {
        force,
        replace,
        source: Some(path.display().to_string()),
        parsed: identified,
    };
    let o = feeds::import_with(state, &feed, fetched, opts, &bar).await?;
    bar.finish();
    report(&feed.name, &o, out)?;
    // The import is committed with its stale keys; a crash here leaves the re-evaluation to
    // the next server start (`Engine::recover`, run by `jobs::tick`).
    pakiti_engine::crashpoint::reached("after-import").await;
    if o.facts > 0
        || state
            .store
            .get_feed(feed.id)
            .await?
            .as_ref()
            .is_some_and(Feed::is_prioritisation)
    {
        // Prioritisation data orders findings; it changes none.
        return Ok(o.status != SyncStatus::Failed);
    }
    let r = state.engine.reevaluate().await?;
    writeln!(
        out,
        "re-evaluated {} package versions on {} hosts in {:.2} s",
        r.package_versions,
        r.hosts,
        r.took.as_secs_f64()
    )?;
    Ok(o.status != SyncStatus::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("3600"), Ok(3600));
        assert_eq!(parse_interval("6h"), Ok(21_600));
        assert_eq!(parse_interval("1d"), Ok(86_400));
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("5y").is_err());
    }
}
