//! Repository sync and import: fetch a repository's metadata (HTTP(S) with a conditional GET on
//! its entry file, or local files), check the index checksums the entry file lists, parse, and
//! replace the repository's packages in one transaction; then rebuild the in-memory index and
//! recompute the update counts of the hosts of its stream.
//!
//! Where a repository lives (`url`):
//! - `apt`: the component directory of a suite (`http://deb.debian.org/debian/dists/bookworm/main`,
//!   or the same layout on disk): `../InRelease` (or `../Release`), then
//!   `binary-<arch>/Packages.xz` (`.gz`, plain). Or one `Packages` file named as in
//!   `/var/lib/apt/lists/` (`…_dists_bookworm_main_binary-amd64_Packages[.xz]`), whose
//!   `…_InRelease`/`…_Release` sibling is read and checked. The component's `Sources` index
//!   (`source/Sources.xz`, or the `…_main_source_Sources` list) is read too when the Release
//!   lists it: its `Binary` fields give binary → source names for source-package advisories
//!   (stored as name pairs, [`RepoEntry::source_pair`]). An apt repository without an arch
//!   is `Sources` only. A local `Sources` file can be a repository on its own; with no
//!   Release next to it, it is imported unverified, and the sync says so.
//! - `rpmmd`: the directory holding `repodata/repomd.xml`; `primary` is required,
//!   `updateinfo` and `modules` are used when listed.
//! - `apk`: an `APKINDEX.tar.gz` file or URL, or the directory holding it.
//!
//! The entry file (Release, repomd.xml, APKINDEX) is fetched conditionally and checksummed: a
//! 304 or the same checksum as the last successful sync is "unchanged". A sync that yields no
//! packages is not applied (recorded as failed; the previous packages stay).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use pakiti_feeds::debian::index::SourcePackage;
use pakiti_feeds::{decompress, repo};
use pakiti_store::{RepoContent, RepoEntry, Repository, SyncRecord, SyncStatus};
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::feeds::{NoProgress, Progress};
use crate::state::AppState;

/// Repository kinds.
pub const KINDS: &[&str] = &["apt", "rpmmd", "apk"];

/// What a sync or import did.
#[derive(Clone, Debug)]
pub struct RepoOutcome {
    /// How it ended.
    pub status: SyncStatus,
    /// Entries stored.
    pub packages: usize,
    /// Entries flagged security (advisories or a security repository).
    pub security: usize,
    /// Bytes fetched.
    pub bytes: usize,
    /// Wall time.
    pub took: Duration,
    /// Why it failed.
    pub error: Option<String>,
    /// Hosts whose update counts were recomputed.
    pub hosts: usize,
    /// Of the entries, binary → source name pairs from a `Sources` index (not packages).
    pub source_pairs: usize,
    /// What the operator should know about a sync that worked (no `Sources` index listed,
    /// an index that could not be checksum-verified, …).
    pub notes: Vec<String>,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn checksum(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One fetched file.
struct Got {
    body: Option<Vec<u8>>,
    etag: Option<String>,
    last_modified: Option<String>,
}

struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    fn new(proxy: Option<&str>) -> Result<Self> {
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("pakiti/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(15 * 60));
        if let Some(p) = proxy.filter(|p| !p.is_empty()) {
            client =
                client.proxy(reqwest::Proxy::all(p).with_context(|| format!("invalid proxy {p}"))?);
        }
        Ok(Fetcher {
            client: client.build().context("building the HTTP client")?,
        })
    }

    /// Fetches `loc`; `Ok(None)` when it does not exist (404, no such file). With `cond`, a
    /// conditional GET whose 304 gives `body: None`.
    async fn get(&self, loc: &str, cond: Option<&SyncRecord>) -> Result<Option<Got>> {
        if !is_url(loc) {
            let path = loc.strip_prefix("file://").unwrap_or(loc);
            return match tokio::fs::read(path).await {
                Ok(b) => Ok(Some(Got {
                    body: Some(b),
                    etag: None,
                    last_modified: None,
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(anyhow!(e).context(format!("reading {path}"))),
            };
        }
        let mut req = self.client.get(loc);
        if let Some(last) = cond {
            if let Some(etag) = &last.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &last.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("fetching {loc}"))?;
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        match resp.status() {
            reqwest::StatusCode::NOT_MODIFIED => Ok(Some(Got {
                body: None,
                etag,
                last_modified,
            })),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let body = resp
                    .bytes()
                    .await
                    .with_context(|| format!("downloading {loc}"))?;
                Ok(Some(Got {
                    body: Some(body.to_vec()),
                    etag,
                    last_modified,
                }))
            }
            s => bail!("{loc} answered {s}"),
        }
    }

    async fn need(&self, loc: &str) -> Result<Vec<u8>> {
        self.get(loc, None)
            .await?
            .and_then(|g| g.body)
            .ok_or_else(|| anyhow!("{loc} not found"))
    }
}

/// What fetching produced before parsing.
enum Fetched {
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
struct AptPaths {
    /// `main/binary-amd64/Packages` when a `Packages` index was fetched (role `packages`).
    packages: Option<String>,
    /// `main/source/Sources` when a `Sources` index was fetched (role `sources`, or the entry
    /// file itself when there is no Release).
    sources: Option<String>,
    /// False for a local `Sources` file with no Release file next to it: the entry file is
    /// the `Sources` file, and nothing can be checksum-verified.
    has_release: bool,
    /// What the operator should know about a sync that worked (no `Sources` index, …).
    notes: Vec<String>,
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

/// Whether a local file name is a `Sources` index (`Sources`, `Sources.xz`,
/// `…_main_source_Sources.gz`, `Bullseye-Sources.gz`) rather than a `Packages` one.
pub fn is_sources_file(name: &str) -> bool {
    !name.contains("_binary-")
        && name
            .rsplit(['/', '_', '-'])
            .next()
            .is_some_and(|last| last == "Sources" || last.starts_with("Sources."))
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

async fn fetch(f: &Fetcher, repo: &Repository, progress: &dyn Progress) -> Result<Fetched> {
    let cond = repo
        .last_sync
        .as_ref()
        .filter(|s| s.status != SyncStatus::Failed && repo.package_count > 0);
    progress.stage("downloading", None);
    let mut files = FxHashMap::default();
    match repo.kind.as_str() {
        "apt" => fetch_apt(f, repo, cond).await,
        "rpmmd" => {
            let base = repo.url.trim_end_matches('/').to_owned();
            let entry = f
                .get(&join(&base, "repodata/repomd.xml"), cond)
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
                let body = f.need(&loc).await?;
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
                .get(&loc, cond)
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
async fn first_of(f: &Fetcher, locs: &[String], cond: Option<&SyncRecord>) -> Result<Option<Got>> {
    for loc in locs {
        if let Some(g) = f.get(loc, cond).await? {
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
async fn fetch_apt(f: &Fetcher, repo: &Repository, cond: Option<&SyncRecord>) -> Result<Fetched> {
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
                .get(&repo.url, cond)
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
        files.insert("sources", f.need(&repo.url).await?);
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
    let entry = first_of(f, &release_locs, cond)
        .await?
        .ok_or_else(|| anyhow!("no InRelease or Release at {release_locs:?}"))?;
    let Some(body) = entry.body.as_deref() else {
        return Ok(Fetched::NotModified(entry));
    };
    let release = repo::apt::parse_release(body).context("Release")?;
    if let Some(arch) = arch {
        for loc in &package_locs {
            if let Some(Got { body: Some(b), .. }) = f.get(loc, None).await? {
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
        match first_of(f, &source_locs, None).await? {
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
fn parse(
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

/// Fetches and imports one repository, then refreshes the in-memory index and the update
/// counts of its stream's hosts when something was imported.
///
/// # Errors
/// The store fails. Fetch and parse failures are recorded on the repository and returned as a
/// failed outcome.
pub async fn sync(
    state: &AppState,
    repo: &Repository,
    force: bool,
    progress: &dyn Progress,
) -> Result<RepoOutcome> {
    let start = Instant::now();
    let at = OffsetDateTime::now_utc();
    let mut outcome = RepoOutcome {
        status: SyncStatus::Unchanged,
        packages: 0,
        security: 0,
        bytes: 0,
        took: Duration::ZERO,
        error: None,
        hosts: 0,
        source_pairs: 0,
        notes: Vec::new(),
    };
    let record = |status, error: Option<String>, sum: Option<String>, g: Option<&Got>| SyncRecord {
        at,
        status,
        error,
        duration_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
        etag: g.and_then(|g| g.etag.clone()),
        last_modified: g.and_then(|g| g.last_modified.clone()),
        checksum: sum,
    };
    let fetched = match Fetcher::new(state.settings.outgoing_proxy.as_deref()) {
        Ok(f) => fetch(&f, repo, progress).await,
        Err(e) => Err(e),
    };
    let failed = |msg: String, g: Option<&Got>| {
        (msg.clone(), record(SyncStatus::Failed, Some(msg), None, g))
    };
    let result: Result<(RepoContent, String, Got), (String, SyncRecord)> = match fetched {
        Err(e) => Err(failed(format!("{e:#}"), None)),
        Ok(Fetched::NotModified(g)) => {
            state
                .store
                .record_repository_sync(
                    repo.id,
                    &record(SyncStatus::Unchanged, None, None, Some(&g)),
                )
                .await?;
            outcome.took = start.elapsed();
            return Ok(outcome);
        }
        Ok(Fetched::Files { entry, files, apt }) => {
            let body = entry.body.clone().unwrap_or_default();
            outcome.bytes = body.len() + files.values().map(Vec::len).sum::<usize>();
            let mut h = Sha256::new();
            h.update(&body);
            let mut roles: Vec<_> = files.iter().collect();
            roles.sort_by_key(|(k, _)| **k);
            for (_, b) in roles {
                h.update(b);
            }
            let sum: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            let unchanged = repo.last_sync.as_ref().is_some_and(|s| {
                s.status != SyncStatus::Failed && s.checksum.as_deref() == Some(sum.as_str())
            }) && repo.package_count > 0;
            if unchanged && !force {
                state
                    .store
                    .record_repository_sync(
                        repo.id,
                        &record(SyncStatus::Unchanged, None, Some(sum), Some(&entry)),
                    )
                    .await?;
                outcome.took = start.elapsed();
                return Ok(outcome);
            }
            progress.stage("parsing", None);
            let kind = repo.kind.clone();
            let parsed =
                tokio::task::spawn_blocking(move || parse(&kind, &body, &files, &apt)).await?;
            match parsed {
                Ok((c, _)) if c.entries.is_empty() => Err(failed(
                    "the repository yielded no packages and no source names".into(),
                    Some(&entry),
                )),
                Ok((c, notes)) => {
                    outcome.notes = notes;
                    Ok((c, sum, entry))
                }
                Err(e) => Err(failed(format!("{e:#}"), Some(&entry))),
            }
        }
    };
    match result {
        Err((msg, rec)) => {
            state.store.record_repository_sync(repo.id, &rec).await?;
            outcome.status = SyncStatus::Failed;
            outcome.error = Some(msg);
        }
        Ok((content, sum, entry)) => {
            progress.stage("storing", None);
            outcome.source_pairs = content
                .entries
                .iter()
                .filter(|e| e.is_source_pair())
                .count();
            outcome.packages = content.entries.len() - outcome.source_pairs;
            outcome.security = if repo.security.unwrap_or(content.meta_security) {
                outcome.packages
            } else {
                content.entries.iter().filter(|e| e.security).count()
            };
            state
                .store
                .replace_repository_packages(
                    repo.id,
                    &content,
                    &record(SyncStatus::Ok, None, Some(sum), Some(&entry)),
                )
                .await?;
            outcome.status = SyncStatus::Ok;
            state.reload_repositories().await?;
            // Binaries whose source the index names may now match source advisories.
            let mapped: Vec<String> = content
                .entries
                .iter()
                .filter(|e| e.source.is_some())
                .map(|e| e.name.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if repo.kind == "apt" {
                crate::updates::reevaluate_binaries(state, &repo.stream, mapped).await?;
            }
            outcome.hosts = crate::updates::refresh_stream(state, &repo.stream).await?;
        }
    }
    outcome.took = start.elapsed();
    Ok(outcome)
}

/// Syncs every enabled repository whose interval has passed; the server's scheduler calls this.
///
/// # Errors
/// The store fails.
pub async fn sync_due(state: &AppState) -> Result<usize> {
    let now = OffsetDateTime::now_utc();
    let mut n = 0;
    for repo in state.store.list_repositories().await? {
        let due = repo.enabled
            && repo
                .last_sync
                .as_ref()
                .is_none_or(|s| (now - s.at).whole_seconds() >= repo.interval_secs);
        if due {
            let out = sync(state, &repo, false, &NoProgress).await?;
            tracing::info!(repo = %repo.name, status = out.status.as_str(), packages = out.packages, source_names = out.source_pairs, notes = out.notes.join("; "), error = out.error.as_deref().unwrap_or(""), "repository sync");
            n += 1;
        }
    }
    Ok(n)
}
