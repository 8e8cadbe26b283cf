//! `pakiti repo add|list|remove|sync|import`: package repositories as managed sources.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use pakiti_core::stream::OsStream;
use pakiti_store::{NewRepository, Repository, SyncStatus};

use crate::cmd::feed::Bar;
use crate::jobs::repos::{self, KINDS, RepoOutcome};
use crate::state::AppState;

/// Finds a repository by name.
///
/// # Errors
/// The store fails or there is no such repository.
pub async fn find(state: &AppState, name: &str) -> Result<Repository> {
    find_opt(state, name)
        .await?
        .with_context(|| format!("no repository named {name:?} (see `pakiti repo list`)"))
}

async fn find_opt(state: &AppState, name: &str) -> Result<Option<Repository>> {
    Ok(state
        .store
        .list_repositories()
        .await?
        .into_iter()
        .find(|r| r.name == name))
}

/// Checks and canonicalises a new repository (stream key, kind, an apt `Packages` list file
/// needs an arch).
///
/// # Errors
/// Unknown kind or stream, an apt `Packages` list without arch.
pub fn validate(mut new: NewRepository) -> Result<NewRepository> {
    if !KINDS.contains(&new.kind.as_str()) {
        bail!(
            "unknown repository kind {:?} (one of: {})",
            new.kind,
            KINDS.join(", ")
        );
    }
    new.stream = new.stream.parse::<OsStream>()?.to_string();
    // Without an arch, an apt repository is its suite's `Sources` index only (source names
    // for source-package advisories, no updates); a `Packages` list file always has one.
    if new.kind == "apt" && new.arch.is_none() && new.url.contains("_binary-") {
        bail!("an apt Packages list needs --arch (amd64, arm64, …)");
    }
    Ok(new)
}

/// `pakiti repo add`.
///
/// # Errors
/// Invalid kind or stream, duplicate name, store failure.
pub async fn add(state: &AppState, new: NewRepository, out: &mut impl Write) -> Result<()> {
    let (name, url) = (new.name.clone(), crate::audit::redact_url(&new.url));
    let r: Result<()> = async {
        let new = validate(new)?;
        let r = state
            .store
            .create_repository(&new)
            .await
            .context("creating the repository")?;
        writeln!(
            out,
            "added repository {} ({}, {}, {}{})",
            r.name,
            r.kind,
            r.stream,
            r.arch.as_deref().unwrap_or("all arches"),
            match r.security {
                Some(true) => ", security",
                Some(false) => ", ordinary",
                None => "",
            }
        )?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "repo add", &name, &url, r).await
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `pakiti repo list`.
///
/// # Errors
/// Store failure.
pub async fn list(state: &AppState, json: bool, out: &mut impl Write) -> Result<()> {
    let repos = state.store.list_repositories().await?;
    if json {
        let items: Vec<String> = repos
            .iter()
            .map(|r| {
                let last = r.last_sync.as_ref();
                format!(
                    "{{\"name\":{},\"kind\":{},\"url\":{},\"stream\":{},\"arch\":{},\"security\":{},\"enabled\":{},\"interval_secs\":{},\"package_count\":{},\"security_count\":{},\"last_status\":{},\"last_error\":{}}}",
                    json_str(&r.name),
                    json_str(&r.kind),
                    json_str(&r.url),
                    json_str(&r.stream),
                    r.arch.as_deref().map_or_else(|| "null".into(), json_str),
                    r.is_security(),
                    r.enabled,
                    r.interval_secs,
                    r.package_count,
                    r.security_count,
                    last.map_or_else(|| "null".into(), |s| json_str(s.status.as_str())),
                    last.and_then(|s| s.error.as_deref())
                        .map_or_else(|| "null".into(), json_str),
                )
            })
            .collect();
        writeln!(out, "[{}]", items.join(","))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28} {:<6} {:<18} {:<7} {:<4} {:>8} {:>8} {:<10} last error",
        "NAME", "KIND", "STREAM", "ARCH", "SEC", "PACKAGES", "SECURITY", "STATUS"
    )?;
    for r in repos {
        let last = r.last_sync.as_ref();
        writeln!(
            out,
            "{:<28} {:<6} {:<18} {:<7} {:<4} {:>8} {:>8} {:<10} {}",
            r.name,
            r.kind,
            r.stream,
            r.arch.as_deref().unwrap_or("*"),
            if r.is_security() { "yes" } else { "no" },
            r.package_count,
            r.security_count,
            if r.enabled {
                last.map_or("never", |s| s.status.as_str())
            } else {
                "disabled"
            },
            last.and_then(|s| s.error.as_deref()).unwrap_or("")
        )?;
    }
    Ok(())
}

/// `pakiti repo remove`.
///
/// # Errors
/// No such repository, store failure.
pub async fn remove(state: &AppState, name: &str, out: &mut impl Write) -> Result<()> {
    let r: Result<()> = async {
        let r = find(state, name).await?;
        state.store.delete_repository(r.id).await?;
        state.engine.reload_repositories().await?;
        let hosts = state.engine.refresh_stream(&r.stream).await?;
        writeln!(
            out,
            "removed repository {} ({hosts} hosts refreshed)",
            r.name
        )?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "repo remove", name, "", r).await
}

fn print_outcome(name: &str, o: &RepoOutcome, out: &mut impl Write) -> Result<()> {
    match o.status {
        SyncStatus::Ok => {
            writeln!(
                out,
                "{name}: ok, {} packages ({} security), {} source names, {} hosts refreshed, {:.1}s",
                o.packages,
                o.security,
                o.source_pairs,
                o.hosts,
                o.took.as_secs_f64()
            )?;
            for n in &o.notes {
                writeln!(out, "{name}: note: {n}")?;
            }
        }
        SyncStatus::Unchanged => writeln!(out, "{name}: unchanged")?,
        SyncStatus::Failed => writeln!(
            out,
            "{name}: FAILED: {}",
            o.error.as_deref().unwrap_or("unknown error")
        )?,
    }
    Ok(())
}

/// `pakiti repo sync`: the named repositories, or every enabled one. Returns false when any
/// failed.
///
/// # Errors
/// No such repository, store failure.
pub async fn sync(
    state: &AppState,
    names: &[String],
    force: bool,
    out: &mut impl Write,
) -> Result<bool> {
    let repos = if names.is_empty() {
        state
            .store
            .list_repositories()
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            v.push(find(state, n).await?);
        }
        v
    };
    let mut ok = true;
    for r in &repos {
        let bar = Bar::new(&r.name);
        let o = repos::sync(state, r, force, &bar).await?;
        bar.finish();
        ok &= o.status != SyncStatus::Failed;
        print_outcome(&r.name, &o, out)?;
    }
    Ok(ok)
}

/// What `repo import` learns from a path: kind, and the arch an apt list file names.
#[must_use]
pub fn detect(path: &Path) -> (Option<&'static str>, Option<String>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.is_dir() {
        if path.join("repodata/repomd.xml").is_file() {
            return (Some("rpmmd"), None);
        }
        if path.join("APKINDEX.tar.gz").is_file() {
            return (Some("apk"), None);
        }
        return (None, None);
    }
    if name.starts_with("APKINDEX") {
        return (Some("apk"), None);
    }
    if let Some((_, rest)) = name.split_once("_binary-")
        && let Some((arch, file)) = rest.split_once('_')
        && file.starts_with("Packages")
    {
        return (Some("apt"), Some(arch.to_owned()));
    }
    if repos::is_sources_file(&name) {
        return (Some("apt"), None);
    }
    (None, None)
}

/// Arguments of `pakiti repo import`.
#[derive(Clone, Debug)]
pub struct ImportArgs {
    /// The path: an apt list `Packages` file, an apt `Sources` file, an rpm-md directory, an
    /// APKINDEX.
    pub path: std::path::PathBuf,
    /// The repository's name (default: the file name).
    pub name: Option<String>,
    /// The kind (default: from the path).
    pub kind: Option<String>,
    /// The stream, required when creating.
    pub stream: Option<String>,
    /// The arch (default: from an apt list's name).
    pub arch: Option<String>,
    /// Security override.
    pub security: Option<bool>,
    /// Import even if unchanged.
    pub force: bool,
}

/// `pakiti repo import`: creates the repository for a local path when needed, then imports.
///
/// # Errors
/// Missing stream or kind, store failure.
pub async fn import(state: &AppState, args: ImportArgs, out: &mut impl Write) -> Result<bool> {
    let path = std::path::absolute(&args.path)
        .with_context(|| format!("resolving {}", args.path.display()))?;
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let name = args.name.clone().unwrap_or_else(|| {
        let n = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // apt lists: drop the `_Packages[.xz]` tail; keep `_source` of a `Sources` list so
        // that it and the same suite's Packages list are two repositories.
        n.rsplit_once("_Packages")
            .or_else(|| n.rsplit_once("_Sources"))
            .map_or(n.clone(), |(h, _)| h.to_owned())
    });
    let repo = match find_opt(state, &name).await? {
        Some(r) => r,
        None => {
            let (kind, arch) = detect(&path);
            let kind = args
                .kind
                .clone()
                .or(kind.map(str::to_owned))
                .with_context(|| {
                    format!(
                        "cannot tell the repository kind of {}; give --kind",
                        path.display()
                    )
                })?;
            let stream = args
                .stream
                .clone()
                .context("give --stream (debian:bookworm, rocky:9, …) for a new repository")?;
            let new = validate(NewRepository {
                name: name.clone(),
                kind,
                url: path.to_string_lossy().into_owned(),
                stream,
                arch: args.arch.clone().or(arch),
                security: args.security,
                priority: None,
                enabled: true,
                interval_secs: 86_400,
            })?;
            state.store.create_repository(&new).await?
        }
    };
    let bar = Bar::new(&repo.name);
    let o = repos::sync(state, &repo, args.force, &bar).await?;
    bar.finish();
    print_outcome(&repo.name, &o, out)?;
    Ok(o.status != SyncStatus::Failed)
}
