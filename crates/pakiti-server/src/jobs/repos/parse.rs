//! Parsing a repository's fetched files into entries (CPU work, run off the async threads):
//! apt indexes checked against their Release file, rpm-md primary/updateinfo/modules, APKINDEX.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use pakiti_feeds::debian::index::SourcePackage;
use pakiti_feeds::{decompress, repo};
use pakiti_store::{RepoContent, RepoEntry};
use rustc_hash::{FxHashMap, FxHashSet};

use super::locate::AptPaths;
use crate::jobs::fetch::checksum;

/// An apt index's text, checked against the Release file: the compressed file against its
/// own entry when listed (`base.xz`, `.gz`, … by magic bytes), else the decompressed text
/// against `base` (a list recompressed after download, as apt keeps them). Without a Release
/// (`release` `None`), only decompressed.
fn apt_index_text(
    release: Option<&repo::apt::Release>,
    base: &str,
    data: &[u8],
    what: &str,
) -> Result<Vec<u8>> {
    let lz4;
    let data = if data.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        lz4 = apt_helper_cat(data)?;
        &lz4
    } else {
        data
    };
    let ext = match decompress::sniff(data) {
        decompress::Compression::None => None,
        decompress::Compression::Xz => Some("xz"),
        decompress::Compression::Gzip => Some("gz"),
        decompress::Compression::Bzip2 => Some("bz2"),
        decompress::Compression::Zstd => Some("zst"),
    };
    let plain = match ext {
        None => data.to_vec(),
        Some(_) => decompress::to_vec(data).with_context(|| format!("decompressing {what}"))?,
    };
    if let Some(release) = release {
        let compressed = ext.map(|e| release.verify(&format!("{base}.{e}"), data));
        match compressed {
            Some(Ok(())) => {}
            // Listed compressed, it does not match, and the Release lists no uncompressed
            // entry to try: say what did not match.
            Some(Err(e)) if release.checksum(base).is_none() => {
                return Err(anyhow!(e).context("checking against the Release file"));
            }
            _ => release
                .verify(base, &plain)
                .with_context(|| format!("checking {base} against the Release file"))?,
        }
    }
    Ok(plain)
}

/// Parses fetched files into entries (CPU work, run off the async threads), with notes for
/// the operator.
pub(super) fn parse(
    kind: &str,
    entry: &[u8],
    files: &FxHashMap<&'static str, Vec<u8>>,
    apt: &AptPaths,
) -> Result<(RepoContent, Vec<String>)> {
    match kind {
        "apt" => {
            let release = if apt.has_release {
                Some(repo::apt::parse_release(entry).context("Release")?)
            } else {
                None
            };
            let mut entries: Vec<RepoEntry> = Vec::new();
            if let Some(path) = &apt.packages {
                let text = apt_index_text(release.as_ref(), path, &files["packages"], "Packages")?;
                let parsed =
                    pakiti_feeds::debian::index::parse_packages(&text[..]).context("Packages")?;
                entries.extend(parsed.records.into_iter().map(|p| RepoEntry {
                    source: (p.source != p.package).then_some(p.source),
                    name: p.package,
                    version: p.version,
                    arch: p.architecture,
                    security: false,
                    installable: true,
                    module: None,
                    advisory: None,
                    severity: None,
                }));
            }
            let mut notes = apt.notes.clone();
            if let Some(path) = &apt.sources {
                let data = if apt.has_release {
                    &files["sources"]
                } else {
                    entry
                };
                let text = apt_index_text(release.as_ref(), path, data, "Sources")?;
                let parsed =
                    pakiti_feeds::debian::index::parse_sources(&text[..]).context("Sources")?;
                if !parsed.problems.is_empty() {
                    notes.push(format!(
                        "{path}: {} malformed stanzas skipped",
                        parsed.problems.len()
                    ));
                }
                entries.extend(source_pairs(&entries, &parsed.records));
            }
            let meta_security = release
                .as_ref()
                .is_some_and(repo::apt::Release::is_security);
            Ok((
                RepoContent {
                    meta_security,
                    meta_priority: release.map(|r| i64::from(r.apt_priority())),
                    entries,
                },
                notes,
            ))
        }
        "rpmmd" => {
            let text = |role: &str| -> Result<Option<Vec<u8>>> {
                files
                    .get(role)
                    .map(|b| decompress::to_vec(b).with_context(|| format!("decompressing {role}")))
                    .transpose()
            };
            let primary = repo::rpmmd::parse_primary(&text("primary")?.unwrap_or_default()[..])
                .context("primary.xml")?;
            let updates = match text("updateinfo")? {
                Some(t) => {
                    repo::rpmmd::parse_updateinfo(&t[..])
                        .context("updateinfo.xml")?
                        .records
                }
                None => Vec::new(),
            };
            let modules = match text("modules")? {
                Some(t) => {
                    let mut all = repo::modulemd::Modules::default();
                    for m in repo::modulemd::parse_modules(&t)
                        .context("modules.yaml")?
                        .records
                    {
                        all.streams.extend(m.streams);
                        all.defaults.extend(m.defaults);
                    }
                    Some(all)
                }
                None => None,
            };
            Ok((
                RepoContent {
                    meta_security: false,
                    meta_priority: None,
                    entries: rpm_entries(&primary.records, &updates, modules.as_ref()),
                },
                Vec::new(),
            ))
        }
        "apk" => {
            let parsed = repo::apk::parse_apkindex_tar(entry).context("APKINDEX")?;
            let content = RepoContent {
                meta_security: false,
                meta_priority: None,
                entries: parsed
                    .records
                    .into_iter()
                    .map(|p| RepoEntry {
                        source: p.origin.filter(|o| *o != p.name),
                        name: p.name,
                        version: p.version,
                        arch: p.arch,
                        security: false,
                        installable: true,
                        module: None,
                        advisory: None,
                        severity: None,
                    })
                    .collect(),
            };
            Ok((content, Vec::new()))
        }
        other => bail!("unknown repository kind {other:?}"),
    }
}

/// The binary → source name pairs of a `Sources` index (each source's `Binary` list) that
/// the `Packages` entries do not already give: a binary the arch's `Packages` index lists
/// keeps the source it names there. One pair per binary (the first source naming it).
fn source_pairs(packages: &[RepoEntry], sources: &[SourcePackage]) -> Vec<RepoEntry> {
    let mut seen: FxHashSet<&str> = packages.iter().map(|e| e.name.as_str()).collect();
    let mut out = Vec::new();
    for s in sources {
        for b in &s.binaries {
            if *b != s.package && seen.insert(b.as_str()) {
                out.push(RepoEntry::source_pair(b, &s.package, &s.version));
            }
        }
    }
    out
}

/// Decompresses an lz4 apt list (apt's own format in `/var/lib/apt/lists/`) with apt's
/// `apt-helper cat-file`, which exists wherever apt wrote such a file.
fn apt_helper_cat(data: &[u8]) -> Result<Vec<u8>> {
    const HELPER: &str = "/usr/lib/apt/apt-helper";
    if !Path::new(HELPER).exists() {
        bail!("the Packages index is lz4-compressed and {HELPER} is not available to read it");
    }
    let tmp = std::env::temp_dir().join(format!(
        "pakiti-apt-{}-{}.lz4",
        std::process::id(),
        checksum(data)
    ));
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    let out = std::process::Command::new(HELPER)
        .arg("cat-file")
        .arg(&tmp)
        .output();
    let _ = std::fs::remove_file(&tmp);
    let out = out.with_context(|| format!("running {HELPER}"))?;
    if !out.status.success() {
        bail!(
            "{HELPER} cat-file failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// rpm-md entries, as [`pakiti_feeds::repo::add_rpm_repo`] indexes them: packages (no source
/// rpms) with their module stream and the advisory that lists them (any type), then the
/// packages of security advisories as markers with their advisory.
fn rpm_entries(
    packages: &[repo::rpmmd::RpmPackage],
    updates: &[repo::rpmmd::UpdateInfo],
    modules: Option<&repo::modulemd::Modules>,
) -> Vec<RepoEntry> {
    let mut module_of: FxHashMap<(&str, String, &str), String> = FxHashMap::default();
    for m in modules.map(|m| m.streams.as_slice()).unwrap_or_default() {
        for a in &m.artifacts {
            if let Some((name, evr, arch)) = repo::modulemd::split_nevra(a) {
                module_of.insert((name, evr, arch), m.key());
            }
        }
    }
    let advisory_of = repo::advisories_by_nevra(updates);
    // The blob is tab-separated: a vendor's stray whitespace must not fail the sync.
    let clean = |s: &str| -> Option<String> {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        (!s.is_empty()).then_some(s)
    };
    let advisory =
        |u: &repo::rpmmd::UpdateInfo| (clean(&u.id), u.severity.as_deref().and_then(clean));
    let mut out = Vec::with_capacity(packages.len());
    for p in packages.iter().filter(|p| p.arch != "src") {
        let evr = p.evr();
        let key = (p.name.as_str(), evr, p.arch.as_str());
        let module = module_of.get(&key).cloned();
        let (advisory, severity) = advisory_of.get(&key).map_or((None, None), |u| advisory(u));
        let source = p
            .sourcerpm
            .as_deref()
            .and_then(|s| repo::modulemd::split_nevra(s.trim_end_matches(".rpm")))
            .map(|(n, _, _)| n.to_owned())
            .filter(|n| *n != p.name);
        out.push(RepoEntry {
            name: p.name.clone(),
            version: key.1,
            arch: p.arch.clone(),
            source,
            security: false,
            installable: true,
            module,
            advisory,
            severity,
        });
    }
    for u in updates
        .iter()
        .filter(|u| u.kind == repo::rpmmd::UpdateKind::Security)
    {
        let (id, severity) = advisory(u);
        for p in u.packages.iter().filter(|p| p.arch != "src") {
            let evr = p.evr();
            let module = p.module.clone().or_else(|| {
                module_of
                    .get(&(p.name.as_str(), evr.clone(), p.arch.as_str()))
                    .cloned()
            });
            out.push(RepoEntry {
                name: p.name.clone(),
                version: evr,
                arch: p.arch.clone(),
                source: None,
                security: true,
                installable: false,
                module,
                advisory: id.clone(),
                severity: severity.clone(),
            });
        }
    }
    out
}
