//! Package repositories (for update detection): model values, their rows and the compact
//! encoding of a repository's package entries, and the statements.

use crate::db::on;
use crate::error::StoreError;
use crate::feeds::record_sync_in;
use crate::model::{SyncRecord, SyncStatus};
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

/// A repository's database id.
pub type RepositoryId = i64;

/// A repository to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRepository {
    /// A unique name chosen by the operator.
    pub name: String,
    /// `apt`, `rpmmd` or `apk`.
    pub kind: String,
    /// Where to fetch it: a URL or a local path (what `kind` expects there).
    pub url: String,
    /// The OS stream whose hosts use it (`debian:12`).
    pub stream: String,
    /// The arch it serves; `None` serves every host of the stream.
    pub arch: Option<String>,
    /// Operator override of the security flag; `None` takes it from the metadata.
    pub security: Option<bool>,
    /// Operator override of the priority (higher wins); `None` takes it from the metadata.
    pub priority: Option<i64>,
    /// Whether it is synced and used.
    pub enabled: bool,
    /// Seconds between syncs.
    pub interval_secs: i64,
}

/// A repository as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// Database id.
    pub id: RepositoryId,
    /// Unique name.
    pub name: String,
    /// `apt`, `rpmmd` or `apk`.
    pub kind: String,
    /// URL or local path.
    pub url: String,
    /// The OS stream it serves.
    pub stream: String,
    /// The arch it serves (`None`: all).
    pub arch: Option<String>,
    /// Operator security override.
    pub security: Option<bool>,
    /// Operator priority override.
    pub priority: Option<i64>,
    /// Whether it is synced and used.
    pub enabled: bool,
    /// Seconds between syncs.
    pub interval_secs: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// The last sync, if any.
    pub last_sync: Option<SyncRecord>,
    /// Package entries currently stored.
    pub package_count: i64,
    /// Entries flagged security (security repository or advisory).
    pub security_count: i64,
    /// What the metadata said about security (suite name/label).
    pub meta_security: bool,
    /// The priority the metadata implies (apt `NotAutomatic`), if any.
    pub meta_priority: Option<i64>,
}

impl Repository {
    /// The security flag in force: the operator's, else the metadata's.
    #[must_use]
    pub fn is_security(&self) -> bool {
        self.security.unwrap_or(self.meta_security)
    }
}

/// One row of a repository's sync history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRun {
    /// The sync.
    pub record: SyncRecord,
    /// Entries imported (0 for failures and unchanged syncs).
    pub package_count: i64,
}

/// One package a repository offers (or, with `installable` false, a version an rpm-md
/// security advisory names: an upgrade past it is a security upgrade; or, with `installable`
/// and `security` both false, a binary → source name pair from an apt `Sources` index, see
/// [`RepoEntry::source_pair`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoEntry {
    /// Binary package name.
    pub name: String,
    /// Full version in the stream's scheme (`1:2.3-4`).
    pub version: String,
    /// Package arch (`amd64`, `all`, `x86_64`, `noarch`).
    pub arch: String,
    /// Source package name, when the index says and it differs from `name`.
    pub source: Option<String>,
    /// Security update (from updateinfo) on top of the repository's own flag.
    pub security: bool,
    /// False for advisory-only markers.
    pub installable: bool,
    /// `module:stream` for rpm modular packages.
    pub module: Option<String>,
    /// The rpm-md `updateinfo` advisory that lists exactly this version (`RLSA-2021:1979`).
    pub advisory: Option<String>,
    /// That advisory's severity as the vendor writes it (`Important`, `None`).
    pub severity: Option<String>,
}

impl RepoEntry {
    /// A binary → source name pair from an apt `Sources` index (its `Binary` field): not a
    /// package anyone can install, only the name map that lets source-package advisories match
    /// binaries reported without a source name. `version` is the source version.
    #[must_use]
    pub fn source_pair(binary: &str, source: &str, version: &str) -> RepoEntry {
        RepoEntry {
            name: binary.to_owned(),
            version: version.to_owned(),
            arch: "source".to_owned(),
            source: Some(source.to_owned()),
            security: false,
            installable: false,
            module: None,
            advisory: None,
            severity: None,
        }
    }

    /// Whether this is a name pair from a `Sources` index ([`RepoEntry::source_pair`]).
    #[must_use]
    pub fn is_source_pair(&self) -> bool {
        !self.installable && !self.security
    }
}

/// What a sync imported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoContent {
    /// Security flag from the metadata.
    pub meta_security: bool,
    /// Priority from the metadata.
    pub meta_priority: Option<i64>,
    /// The entries.
    pub entries: Vec<RepoEntry>,
}

pub(crate) const REPO_COLUMNS: &str = "id, name, kind, url, stream, arch, security, priority, \
    enabled, interval_secs, created_at, last_sync_at, last_status, last_error, last_duration_ms, \
    package_count, security_count, meta_security, meta_priority, etag, last_modified, checksum";

#[derive(sqlx::FromRow)]
pub(crate) struct RepoRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    stream: String,
    arch: Option<String>,
    security: Option<bool>,
    priority: Option<i64>,
    enabled: bool,
    interval_secs: i64,
    created_at: i64,
    last_sync_at: Option<i64>,
    last_status: Option<String>,
    last_error: Option<String>,
    last_duration_ms: Option<i64>,
    package_count: i64,
    security_count: i64,
    meta_security: bool,
    meta_priority: Option<i64>,
    etag: Option<String>,
    last_modified: Option<String>,
    checksum: Option<String>,
}

impl RepoRow {
    pub(crate) fn into_repo(self) -> Result<Repository, StoreError> {
        let last_sync = match (self.last_sync_at, self.last_status) {
            (Some(at), Some(status)) => Some(SyncRecord {
                at: from_ts(at)?,
                status: SyncStatus::from_word(&status)
                    .ok_or_else(|| StoreError::corrupt("sync status", status))?,
                error: self.last_error,
                duration_ms: self.last_duration_ms.unwrap_or(0),
                etag: self.etag,
                last_modified: self.last_modified,
                checksum: self.checksum,
            }),
            _ => None,
        };
        Ok(Repository {
            id: self.id,
            name: self.name,
            kind: self.kind,
            url: self.url,
            stream: self.stream,
            arch: self.arch,
            security: self.security,
            priority: self.priority,
            enabled: self.enabled,
            interval_secs: self.interval_secs,
            created_at: from_ts(self.created_at)?,
            last_sync,
            package_count: self.package_count,
            security_count: self.security_count,
            meta_security: self.meta_security,
            meta_priority: self.meta_priority,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RepoRunRow {
    started_at: i64,
    status: String,
    error: Option<String>,
    duration_ms: i64,
    package_count: i64,
    etag: Option<String>,
    last_modified: Option<String>,
    checksum: Option<String>,
}

impl RepoRunRow {
    pub(crate) fn into_run(self) -> Result<RepoRun, StoreError> {
        Ok(RepoRun {
            record: SyncRecord {
                at: from_ts(self.started_at)?,
                status: SyncStatus::from_word(&self.status)
                    .ok_or_else(|| StoreError::corrupt("sync status", self.status.clone()))?,
                error: self.error,
                duration_ms: self.duration_ms,
                etag: self.etag,
                last_modified: self.last_modified,
                checksum: self.checksum,
            },
            package_count: self.package_count,
        })
    }
}

pub(crate) const RUN_SELECT: &str = "SELECT started_at, status, error, duration_ms, \
    package_count, etag, last_modified, checksum FROM repo_runs WHERE repo_id = $1 \
    ORDER BY id DESC LIMIT $2";

pub(crate) const RUN_INSERT: &str = "INSERT INTO repo_runs (repo_id, started_at, status, error, \
    duration_ms, package_count, etag, last_modified, checksum) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Entries are stored as one blob per repository: a `pkr2\n` header, then one line per entry,
/// `name TAB version TAB arch TAB source TAB flags TAB module TAB advisory TAB severity`, with
/// `flags` `""` (ordinary), `s` (security), `m` (advisory-only security marker) or `n` (a
/// binary → source name pair from a `Sources` index). About 40 bytes an entry, loaded whole; a
/// row per entry would cost several times that in indexes and insert time.
///
/// `pkr1` blobs (written before advisories were kept) have the first six fields and are still
/// read, without advisories; the next sync that imports the repository rewrites them.
const MAGIC: &[u8] = b"pkr2\n";
const MAGIC_V1: &[u8] = b"pkr1\n";

pub(crate) fn encode_entries(entries: &[RepoEntry]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(MAGIC.len() + entries.len() * 48);
    out.extend_from_slice(MAGIC);
    for e in entries {
        if e.name.is_empty() || e.version.is_empty() {
            return Err(StoreError::Invalid(
                "repository entry without name or version".into(),
            ));
        }
        let flags = match (e.installable, e.security) {
            (false, false) => "n",
            (false, true) => "m",
            (true, true) => "s",
            (true, false) => "",
        };
        let fields = [
            e.name.as_str(),
            &e.version,
            &e.arch,
            e.source.as_deref().unwrap_or(""),
            flags,
            e.module.as_deref().unwrap_or(""),
            e.advisory.as_deref().unwrap_or(""),
            e.severity.as_deref().unwrap_or(""),
        ];
        for f in fields {
            if f.contains(['\t', '\n']) {
                return Err(StoreError::Invalid(format!(
                    "repository entry field contains a tab or newline: {f:?}"
                )));
            }
        }
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            out.extend_from_slice(f.as_bytes());
        }
        out.push(b'\n');
    }
    Ok(out)
}

pub(crate) fn decode_entries(blob: &[u8]) -> Result<Vec<RepoEntry>, StoreError> {
    let bad = |d: String| StoreError::corrupt("repository entries", d);
    let (body, v1) = match (blob.strip_prefix(MAGIC), blob.strip_prefix(MAGIC_V1)) {
        (Some(b), _) => (b, false),
        (None, Some(b)) => (b, true),
        (None, None) => return Err(bad("missing header".into())),
    };
    let text = std::str::from_utf8(body).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity(text.len() / 40);
    for line in text.split_terminator('\n') {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, version, arch, source, flags, module, advisory, severity) = match (v1, &f[..]) {
            (true, &[name, version, arch, source, flags, module]) => {
                (name, version, arch, source, flags, module, "", "")
            }
            (
                false,
                &[
                    name,
                    version,
                    arch,
                    source,
                    flags,
                    module,
                    advisory,
                    severity,
                ],
            ) => (
                name, version, arch, source, flags, module, advisory, severity,
            ),
            _ => return Err(bad(format!("{} fields in {line:?}", f.len()))),
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        if !matches!(flags, "" | "s" | "m" | "n") {
            return Err(bad(format!("unknown flags {flags:?} in {line:?}")));
        }
        out.push(RepoEntry {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: arch.to_owned(),
            source: opt(source),
            security: flags == "s" || flags == "m",
            installable: flags != "m" && flags != "n",
            module: opt(module),
            advisory: opt(advisory),
            severity: opt(severity),
        });
    }
    Ok(out)
}

impl Store {
    /// Creates a repository; [`StoreError::Duplicate`] when the name is taken.
    pub async fn create_repository(&self, repo: &NewRepository) -> Result<Repository, StoreError> {
        let res = on!(&self.write, p => sqlx::query_as::<_, RepoRow>(&format!(
            "INSERT INTO repositories (name, kind, url, stream, arch, security, priority, \
             enabled, interval_secs, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {}",
            REPO_COLUMNS
        ))
        .bind(&repo.name)
        .bind(&repo.kind)
        .bind(&repo.url)
        .bind(&repo.stream)
        .bind(&repo.arch)
        .bind(repo.security)
        .bind(repo.priority)
        .bind(repo.enabled)
        .bind(repo.interval_secs)
        .bind(ts(OffsetDateTime::now_utc()))
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_repo(),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Err(StoreError::Duplicate(format!("repository {:?}", repo.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One repository.
    pub async fn get_repository(&self, id: RepositoryId) -> Result<Option<Repository>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, RepoRow>(&format!(
            "SELECT {} FROM repositories WHERE id = $1",
            REPO_COLUMNS
        ))
        .bind(id)
        .fetch_optional(p).await)?
        .map(RepoRow::into_repo)
        .transpose()
    }

    /// All repositories, by name.
    pub async fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, RepoRow>(&format!(
            "SELECT {} FROM repositories ORDER BY name",
            REPO_COLUMNS
        ))
        .fetch_all(p).await)?
        .into_iter()
        .map(RepoRow::into_repo)
        .collect()
    }

    /// Deletes a repository with its packages and history; `false` if it did not exist.
    pub async fn delete_repository(&self, id: RepositoryId) -> Result<bool, StoreError> {
        Ok(
            on!(&self.write, p => sqlx::query("DELETE FROM repositories WHERE id = $1")
            .bind(id)
            .execute(p).await.map(|r| r.rows_affected()))?
                > 0,
        )
    }

    /// The repository's sync history, newest first.
    pub async fn repository_runs(
        &self,
        id: RepositoryId,
        limit: i64,
    ) -> Result<Vec<RepoRun>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, RepoRunRow>(RUN_SELECT)
            .bind(id)
            .bind(limit)
            .fetch_all(p).await)?
        .into_iter()
        .map(RepoRunRow::into_run)
        .collect()
    }

    /// Replaces the repository's packages with `content` in one transaction and records the
    /// (successful) sync on it and in its history.
    pub async fn replace_repository_packages(
        &self,
        id: RepositoryId,
        content: &RepoContent,
        sync: &SyncRecord,
    ) -> Result<(), StoreError> {
        if sync.status != SyncStatus::Ok {
            return Err(StoreError::Invalid(
                "only a successful sync replaces a repository's packages".into(),
            ));
        }
        let blob = encode_entries(&content.entries)?;
        let count = i64::try_from(content.entries.len())
            .map_err(|_| StoreError::Invalid("too many entries".into()))?;
        let security = i64::try_from(content.entries.iter().filter(|e| e.security).count())
            .map_err(|_| StoreError::Invalid("too many entries".into()))?;
        let mut tx = self.begin().await?;
        let n = on!(&mut tx, t => sqlx::query(
            "UPDATE repositories SET last_sync_at = $2, last_status = $3, last_error = $4, \
             last_duration_ms = $5, etag = $6, last_modified = $7, checksum = $8, \
             package_count = $9, security_count = $10, meta_security = $11, \
             meta_priority = $12 WHERE id = $1",
        )
        .bind(id)
        .bind(ts(sync.at))
        .bind(sync.status.as_str())
        .bind(&sync.error)
        .bind(sync.duration_ms)
        .bind(&sync.etag)
        .bind(&sync.last_modified)
        .bind(&sync.checksum)
        .bind(count)
        .bind(security)
        .bind(content.meta_security)
        .bind(content.meta_priority)
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::not_found("repository", id));
        }
        on!(&mut tx, t => sqlx::query("DELETE FROM repo_packages WHERE repo_id = $1")
            .bind(id)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        on!(&mut tx, t => sqlx::query("INSERT INTO repo_packages (repo_id, entries) VALUES ($1, $2)")
            .bind(id)
            .bind(&blob)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        on!(&mut tx, t => sqlx::query(RUN_INSERT)
            .bind(id)
            .bind(ts(sync.at))
            .bind(sync.status.as_str())
            .bind(&sync.error)
            .bind(sync.duration_ms)
            .bind(count)
            .bind(&sync.etag)
            .bind(&sync.last_modified)
            .bind(&sync.checksum)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a sync that imported nothing (`Failed` or `Unchanged`); a `None`
    /// etag/last-modified/checksum keeps the stored one.
    pub async fn record_repository_sync(
        &self,
        id: RepositoryId,
        sync: &SyncRecord,
    ) -> Result<(), StoreError> {
        if sync.status == SyncStatus::Ok {
            return Err(StoreError::Invalid(
                "a successful sync is recorded by replace_repository_packages".into(),
            ));
        }
        let mut tx = self.begin().await?;
        if !record_sync_in(&mut tx, "repositories", id, sync).await? {
            return Err(StoreError::not_found("repository", id));
        }
        on!(&mut tx, t => sqlx::query(RUN_INSERT)
            .bind(id)
            .bind(ts(sync.at))
            .bind(sync.status.as_str())
            .bind(&sync.error)
            .bind(sync.duration_ms)
            .bind(0_i64)
            .bind(&sync.etag)
            .bind(&sync.last_modified)
            .bind(&sync.checksum)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Every enabled repository with its entries, by id.
    pub async fn load_repository_packages(
        &self,
    ) -> Result<Vec<(Repository, Vec<RepoEntry>)>, StoreError> {
        let repos: Vec<Repository> = on!(&self.read, p => sqlx::query_as::<_, RepoRow>(&format!(
                "SELECT {} FROM repositories WHERE enabled ORDER BY id",
                REPO_COLUMNS
            ))
            .fetch_all(p).await)?
        .into_iter()
        .map(RepoRow::into_repo)
        .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(repos.len());
        for repo in repos {
            let blob: Option<(Vec<u8>,)> = on!(&self.read, p => sqlx::query_as("SELECT entries FROM repo_packages WHERE repo_id = $1")
                    .bind(repo.id)
                    .fetch_optional(p).await)?;
            let entries = match blob {
                Some((b,)) => decode_entries(&b)?,
                None => Vec::new(),
            };
            out.push((repo, entries));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let entries = vec![
            RepoEntry {
                name: "libssl3".into(),
                version: "3.0.15-1~deb12u1".into(),
                arch: "amd64".into(),
                source: Some("openssl".into()),
                security: false,
                installable: true,
                module: None,
                advisory: None,
                severity: None,
            },
            RepoEntry {
                name: "nodejs".into(),
                version: "1:18.19.0-1.module+el8".into(),
                arch: "x86_64".into(),
                source: None,
                security: true,
                installable: false,
                module: Some("nodejs:18".into()),
                advisory: Some("RLSA-2024:0001".into()),
                severity: Some("Important".into()),
            },
        ];
        let mut entries = entries;
        entries.push(RepoEntry::source_pair(
            "libssl1.1",
            "openssl",
            "1.1.1w-0+deb11u1",
        ));
        let blob = encode_entries(&entries).unwrap();
        assert!(blob.starts_with(b"pkr2\n"));
        assert_eq!(decode_entries(&blob).unwrap(), entries);
        assert!(entries[2].is_source_pair());
        assert!(!entries[1].is_source_pair());
        // A blob written before advisories were kept still reads, without them.
        let v1 = b"pkr1\nlibssl3\t3.0.15-1~deb12u1\tamd64\topenssl\t\t\n\
            nodejs\t1:18.19.0-1.module+el8\tx86_64\t\tm\tnodejs:18\n\
            libssl1.1\t1.1.1w-0+deb11u1\tsource\topenssl\tn\t\n";
        let mut old = entries.clone();
        old[1].advisory = None;
        old[1].severity = None;
        assert_eq!(decode_entries(v1).unwrap(), old);
        assert!(decode_entries(b"pkr1\na\t1\tx\t\t\t\t\t\n").is_err());
        let mut bad = entries[1].clone();
        bad.severity = Some("Imp\tortant".into());
        assert!(encode_entries(&[bad]).is_err());
        let mut bad = entries[0].clone();
        bad.name = "a\tb".into();
        assert!(encode_entries(&[bad]).is_err());
    }
}
