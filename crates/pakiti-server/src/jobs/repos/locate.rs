//! Where a repository's files are and fetching them: the entry file (Release, repomd.xml,
//! APKINDEX) conditionally, then the indexes it lists, checked against its checksums.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use pakiti_feeds::repo;
use pakiti_store::{Repository, SyncRecord, SyncStatus};
use rustc_hash::FxHashMap;

use super::is_sources_file;
use crate::jobs::fetch::Progress;
use crate::jobs::fetch::{Fetcher, Got, checksum, is_url};

/// What fetching produced before parsing.
pub(super) enum Fetched {
    NotModified(Got),
    Files {
        /// The entry file, with its validators.
        entry: Got,
        /// Other files, by role.
        files: FxHashMap<&'static str, Vec<u8>>,
        /// Where the apt indexes sit in the Release file's list (apt only).
        apt: AptPaths,
    },
}

/// The apt indexes fetched, as the Release file names them, and what fetching noted.
#[derive(Clone, Debug, Default)]
pub(super) struct AptPaths {
    /// `main/binary-amd64/Packages` when a `Packages` index was fetched (role `packages`).
    pub(super) packages: Option<String>,
    /// `main/source/Sources` when a `Sources` index was fetched (role `sources`, or the entry
    /// file itself when there is no Release).
    pub(super) sources: Option<String>,
    /// False for a local `Sources` file with no Release file next to it: the entry file is
    /// the `Sources` file, and nothing can be checksum-verified.
    pub(super) has_release: bool,
    /// What the operator should know about a sync that worked (no `Sources` index, …).
    pub(super) notes: Vec<String>,
}

/// Suffixes an index may carry, in the order they are tried.
const INDEX_SUFFIXES: [&str; 4] = [".xz", ".gz", "", ".bz2"];

/// Whether a `Release` file lists `base` (`main/source/Sources`) in any compression.
fn release_lists(release: &repo::apt::Release, base: &str) -> bool {
    release.sha256.iter().any(|f| {
        f.path
            .strip_prefix(base)
            .is_some_and(|rest| matches!(rest, "" | ".xz" | ".gz" | ".bz2" | ".zst" | ".lz4"))
    })
}

fn join(base: &str, rel: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), rel)
}

fn parent(loc: &str) -> String {
    let t = loc.trim_end_matches('/');
    t.rsplit_once('/').map_or(".", |(p, _)| p).to_owned()
}

fn last_segment(loc: &str) -> &str {
    let t = loc.trim_end_matches('/');
    t.rsplit_once('/').map_or(t, |(_, s)| s)
}

pub(super) async fn fetch(
    f: &Fetcher,
    repo: &Repository,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let cond = repo
        .last_sync
        .as_ref()
        .filter(|s| s.status != SyncStatus::Failed && repo.package_count > 0);
    progress.stage("downloading", None);
    let mut files = FxHashMap::default();
    match repo.kind.as_str() {
        "apt" => fetch_apt(f, repo, cond, progress).await,
        "rpmmd" => {
            let base = repo.url.trim_end_matches('/').to_owned();
            let entry = f
                .get(&join(&base, "repodata/repomd.xml"), cond, progress)
                .await?
                .ok_or_else(|| anyhow!("no repodata/repomd.xml under {base}"))?;
            let Some(repomd) = entry.body.as_deref() else {
                return Ok(Fetched::NotModified(entry));
            };
            let (parsed, _) = repo::rpmmd::parse_repomd_full(repomd).context("repomd.xml")?;
            let md = repo::rpmmd::Repomd {
                revision: None,
                data: parsed.records,
            };
            for (role, required) in [("primary", true), ("updateinfo", false), ("modules", false)] {
                let Some(d) = md.get(role) else {
                    if required {
                        bail!("repomd.xml lists no {role}");
                    }
                    continue;
                };
                let loc = join(&base, &d.location);
                let body = f.need(&loc, progress).await?;
                if let Some((algo, sum)) = &d.checksum
                    && algo == "sha256"
                    && checksum(&body) != *sum
                {
                    bail!("{loc}: sha256 differs from repomd.xml");
                }
                files.insert(role, body);
            }
            Ok(Fetched::Files {
                entry,
                files,
                apt: AptPaths::default(),
            })
        }
        "apk" => {
            let loc = if repo.url.ends_with(".tar.gz") {
                repo.url.clone()
            } else {
                join(&repo.url, "APKINDEX.tar.gz")
            };
            let entry = f
                .get(&loc, cond, progress)
                .await?
                .ok_or_else(|| anyhow!("{loc} not found"))?;
            if entry.body.is_none() {
                return Ok(Fetched::NotModified(entry));
            }
            Ok(Fetched::Files {
                entry,
                files,
                apt: AptPaths::default(),
            })
        }
        other => bail!("unknown repository kind {other:?} (expected apt, rpmmd or apk)"),
    }
}

/// The first of `locs` that exists.
async fn first_of(
    f: &Fetcher,
    locs: &[String],
    cond: Option<&SyncRecord>,
    progress: &dyn Progress,
) -> Result<Option<Got>> {
    for loc in locs {
        if let Some(g) = f.get(loc, cond, progress).await? {
            return Ok(Some(g));
        }
    }
    Ok(None)
}

/// Fetches an apt repository: the Release file, then `Packages` (when the repository has an
/// arch) and `Sources` (when the Release lists one for the component).
///
/// A `Sources` index the Release lists but that is not there (mirrors without sources, apt
/// lists without deb-src lines) is a note when there is a `Packages` index, an error when
/// there is not; one that is there but does not match the Release or does not parse fails
/// the sync.
async fn fetch_apt(
    f: &Fetcher,
    repo: &Repository,
    cond: Option<&SyncRecord>,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let arch = repo.arch.as_deref();
    let mut files = FxHashMap::default();
    let mut apt = AptPaths {
        has_release: true,
        ..AptPaths::default()
    };
    let local_file = !is_url(&repo.url) && Path::new(&repo.url).is_file();
    let file_name = last_segment(&repo.url).to_owned();
    if local_file && is_sources_file(&file_name) {
        // A local `Sources` file: `<prefix>_<component>_source_Sources[.ext]` as apt names its
        // lists (its Release sibling is checked when present), or any file called `…Sources…`.
        let apt_list = repo
            .url
            .rsplit_once("_source_Sources")
            .and_then(|(head, _)| head.rsplit_once('_'));
        let release = match &apt_list {
            Some((prefix, _)) => {
                first_of(
                    f,
                    &[format!("{prefix}_InRelease"), format!("{prefix}_Release")],
                    cond,
                    progress,
                )
                .await?
            }
            None => None,
        };
        let component = apt_list.map_or("main", |(_, c)| c);
        apt.sources = Some(format!("{component}/source/Sources"));
        let Some(entry) = release else {
            // No Release to check it against: the file itself is the entry file.
            let entry = f
                .get(&repo.url, cond, progress)
                .await?
                .ok_or_else(|| anyhow!("{} not found", repo.url))?;
            apt.has_release = false;
            apt.notes.push(format!(
                "{file_name}: no Release file next to it, so it is not checksum-verified"
            ));
            return Ok(Fetched::Files { entry, files, apt });
        };
        if entry.body.is_none() {
            return Ok(Fetched::NotModified(entry));
        }
        files.insert("sources", f.need(&repo.url, progress).await?);
        return Ok(Fetched::Files { entry, files, apt });
    }
    let (release_locs, package_locs, source_locs, component) = if local_file {
        // apt lists naming: <prefix>_<component>_binary-<arch>_Packages[.ext]
        let (head, rest) = repo.url.rsplit_once("_binary-").ok_or_else(|| {
            anyhow!(
                "{} is not named like an apt list (…_main_binary-amd64_Packages or …_main_source_Sources)",
                repo.url
            )
        })?;
        let (prefix, component) = head
            .rsplit_once('_')
            .ok_or_else(|| anyhow!("no component in {}", repo.url))?;
        if arch.is_none() {
            // The file names its arch; an operator who created the repository by hand may
            // not have.
            let named = rest.split('_').next().unwrap_or_default();
            bail!("an apt Packages list needs --arch ({named})");
        }
        (
            vec![format!("{prefix}_InRelease"), format!("{prefix}_Release")],
            vec![repo.url.clone()],
            ["", ".lz4", ".xz", ".gz"]
                .iter()
                .map(|ext| format!("{head}_source_Sources{ext}"))
                .collect::<Vec<_>>(),
            component.to_owned(),
        )
    } else {
        let suite = parent(&repo.url);
        let component = last_segment(&repo.url).to_owned();
        let packages = match arch {
            Some(arch) => {
                let dir = join(&repo.url, &format!("binary-{arch}"));
                ["Packages.xz", "Packages.gz", "Packages"]
                    .iter()
                    .map(|n| join(&dir, n))
                    .collect()
            }
            None => Vec::new(),
        };
        let dir = join(&repo.url, "source");
        (
            vec![join(&suite, "InRelease"), join(&suite, "Release")],
            packages,
            INDEX_SUFFIXES
                .iter()
                .map(|ext| join(&dir, &format!("Sources{ext}")))
                .collect(),
            component,
        )
    };
    let entry = first_of(f, &release_locs, cond, progress)
        .await?
        .ok_or_else(|| anyhow!("no InRelease or Release at {release_locs:?}"))?;
    let Some(body) = entry.body.as_deref() else {
        return Ok(Fetched::NotModified(entry));
    };
    let release = repo::apt::parse_release(body).context("Release")?;
    if let Some(arch) = arch {
        for loc in &package_locs {
            if let Some(Got { body: Some(b), .. }) = f.get(loc, None, progress).await? {
                files.insert("packages", b);
                break;
            }
        }
        if !files.contains_key("packages") {
            bail!("no Packages index at {package_locs:?}");
        }
        apt.packages = Some(format!("{component}/binary-{arch}/Packages"));
    }
    let sources_path = format!("{component}/source/Sources");
    if release_lists(&release, &sources_path) {
        match first_of(f, &source_locs, None, progress).await? {
            Some(Got { body: Some(b), .. }) => {
                files.insert("sources", b);
                apt.sources = Some(sources_path.clone());
            }
            // Not there: apt fetches `Sources` lists only for deb-src lines, and many
            // mirrors carry no sources. The arch's Packages index still names the source of
            // every binary it has; without Packages there is nothing to import (below).
            _ if local_file => apt.notes.push(format!(
                "no local copy of {sources_path} (apt fetches it only for deb-src lines): \
                 source names come from Packages only"
            )),
            _ => apt.notes.push(format!(
                "the Release file lists {sources_path} but it is not at {source_locs:?}: \
                 source names come from Packages only"
            )),
        }
    } else {
        apt.notes.push(format!(
            "the Release file lists no {sources_path}: source names come from Packages only"
        ));
    }
    if apt.packages.is_none() && apt.sources.is_none() {
        bail!(
            "nothing to import: no --arch for Packages, and no {sources_path} (the Release file does not list it or it is not there)"
        );
    }
    Ok(Fetched::Files { entry, files, apt })
}
