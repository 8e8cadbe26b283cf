//! APT repository metadata: `Release`/`InRelease` (suite flags, checksum list) and index
//! verification. `Packages` and `Sources` are read by [`crate::debian::index`].
//!
//! The PGP signature of `InRelease` is stripped, not verified: verification needs the
//! archive keyrings and an OpenPGP implementation, which the fetch job owns.

use sha2::{Digest, Sha256};

use crate::debian::index::stanzas;
use crate::{FeedError, Problem};
use pakiti_core::updates::{
    APT_PRIORITY_DEFAULT, APT_PRIORITY_INSTALLED, APT_PRIORITY_NOT_AUTOMATIC,
};

/// One entry of a `Release` file's `SHA256` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChecksum {
    /// Path relative to the suite directory (`main/binary-amd64/Packages.xz`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// A parsed `Release` or `InRelease` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Release {
    /// `Origin` (`Debian`, `Ubuntu`).
    pub origin: Option<String>,
    /// `Label` (`Debian-Security`).
    pub label: Option<String>,
    /// `Suite` (`oldstable-security`, `focal-security`).
    pub suite: Option<String>,
    /// `Codename` (`bookworm-security`, `focal`).
    pub codename: Option<String>,
    /// `Version` (`12.12`).
    pub version: Option<String>,
    /// `Date`, as written (RFC 2822).
    pub date: Option<String>,
    /// `Valid-Until`, as written.
    pub valid_until: Option<String>,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Components`.
    pub components: Vec<String>,
    /// `NotAutomatic: yes` (experimental, backports).
    pub not_automatic: bool,
    /// `ButAutomaticUpgrades: yes` (backports).
    pub but_automatic_upgrades: bool,
    /// `Acquire-By-Hash: yes`.
    pub acquire_by_hash: bool,
    /// Whether the file carried a PGP clearsign armour (`InRelease`).
    pub signed: bool,
    /// The `SHA256` file list, in file order.
    pub sha256: Vec<FileChecksum>,
    /// Malformed checksum lines, skipped.
    pub problems: Vec<Problem>,
}

/// Why a downloaded index does not match its `Release` entry.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// The path is not in the `SHA256` list.
    #[error("{path} is not listed in the release file")]
    NotListed {
        /// The path asked for.
        path: String,
    },
    /// The size differs.
    #[error("{path}: size {actual}, release says {expected}")]
    Size {
        /// The path.
        path: String,
        /// Size in the release file.
        expected: u64,
        /// Size of the data.
        actual: u64,
    },
    /// The data does not decompress.
    #[error("{path}: cannot decompress: {message}")]
    Corrupt {
        /// The path.
        path: String,
        /// The decompressor's message.
        message: String,
    },
    /// The SHA-256 differs.
    #[error("{path}: sha256 {actual}, release says {expected}")]
    Sha256 {
        /// The path.
        path: String,
        /// Hash in the release file.
        expected: String,
        /// Hash of the data.
        actual: String,
    },
}

impl Release {
    /// apt's default pin priority for this suite: 1 for `NotAutomatic` alone, 100 with
    /// `ButAutomaticUpgrades` as well, 500 otherwise.
    #[must_use]
    pub fn apt_priority(&self) -> i32 {
        match (self.not_automatic, self.but_automatic_upgrades) {
            (true, true) => APT_PRIORITY_INSTALLED,
            (true, false) => APT_PRIORITY_NOT_AUTOMATIC,
            (false, _) => APT_PRIORITY_DEFAULT,
        }
    }

    /// Whether this is a security suite (`*-security` suite or codename, or a `Label`
    /// containing `Security`), whose packages are all security updates.
    #[must_use]
    pub fn is_security(&self) -> bool {
        let ends = |v: &Option<String>| v.as_deref().is_some_and(|s| s.ends_with("-security"));
        ends(&self.suite)
            || ends(&self.codename)
            || self
                .label
                .as_deref()
                .is_some_and(|l| l.to_ascii_lowercase().contains("security"))
    }

    /// The `SHA256` entry for `path`.
    #[must_use]
    pub fn checksum(&self, path: &str) -> Option<&FileChecksum> {
        self.sha256.iter().find(|f| f.path == path)
    }

    /// Checks downloaded `data` against the `SHA256` entry for `path` (size, then hash).
    ///
    /// # Errors
    /// The path is not listed, or the size or hash differs.
    pub fn verify(&self, path: &str, data: &[u8]) -> Result<(), ChecksumError> {
        let entry = self
            .checksum(path)
            .ok_or_else(|| ChecksumError::NotListed {
                path: path.to_owned(),
            })?;
        let actual = data.len() as u64;
        if actual != entry.size {
            return Err(ChecksumError::Size {
                path: path.to_owned(),
                expected: entry.size,
                actual,
            });
        }
        let actual = hex::encode(Sha256::digest(data));
        if actual != entry.sha256 {
            return Err(ChecksumError::Sha256 {
                path: path.to_owned(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}

impl Release {
    /// Checks a downloaded index whose uncompressed path is `base`
    /// (`main/binary-amd64/Packages`): the compressed entry (`base.xz`, `.gz`, `.bz2`,
    /// `.zst`, by the data's magic bytes) when it is listed and matches, otherwise the
    /// decompressed data against `base`. The second path accepts a file that was
    /// recompressed after download (apt keeps its lists in lz4; copies are often re-packed).
    ///
    /// # Errors
    /// The decompressed data does not match `base` (or `base` is not listed), or the data is
    /// corrupt for its compression.
    pub fn verify_index(&self, base: &str, data: &[u8]) -> Result<(), ChecksumError> {
        use crate::decompress::{Compression, sniff};
        let ext = match sniff(data) {
            Compression::None => return self.verify(base, data),
            Compression::Xz => "xz",
            Compression::Gzip => "gz",
            Compression::Bzip2 => "bz2",
            Compression::Zstd => "zst",
        };
        if self.verify(&format!("{base}.{ext}"), data).is_ok() {
            return Ok(());
        }
        let plain = crate::decompress::to_vec(data).map_err(|e| ChecksumError::Corrupt {
            path: format!("{base}.{ext}"),
            message: e.to_string(),
        })?;
        self.verify(base, &plain)
    }
}

/// The signed text of a PGP clearsigned message (dash-escaping undone), or `None` when
/// `text` is not clearsigned.
#[must_use]
pub fn strip_clearsign(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN PGP SIGNED MESSAGE-----")?;
    let rest = &text[start..];
    // Armour headers (`Hash: SHA512`) end at the first empty line.
    let body_start = rest.find("\n\n").or_else(|| rest.find("\r\n\r\n"))?;
    let body = rest[body_start..].trim_start_matches(['\r', '\n']);
    let end = body
        .find("\n-----BEGIN PGP SIGNATURE-----")
        .unwrap_or(body.len());
    let mut out = String::with_capacity(end);
    for line in body[..end].split_inclusive('\n') {
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
    }
    Some(out)
}

fn yes(v: Option<&str>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("yes"))
}

fn words(v: Option<&str>) -> Vec<String> {
    v.map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Parses a `Release` or `InRelease` file.
///
/// # Errors
/// The text has no `Suite` and no `Codename` (not a release file), or an `InRelease` armour
/// is broken.
pub fn parse_release(data: &[u8]) -> Result<Release, FeedError> {
    let text = String::from_utf8_lossy(data);
    let (text, signed) = if text.trim_start().starts_with("-----BEGIN PGP") {
        let body = strip_clearsign(&text).ok_or_else(|| FeedError::Format {
            expected: "apt release file",
            reason: "broken pgp clearsign armour".into(),
        })?;
        (body, true)
    } else {
        (text.into_owned(), false)
    };
    let st = stanzas(&text).next().ok_or_else(|| FeedError::Format {
        expected: "apt release file",
        reason: "empty document".into(),
    })?;
    let own = |name: &str| st.field(name).map(str::to_owned);
    let mut rel = Release {
        origin: own("Origin"),
        label: own("Label"),
        suite: own("Suite"),
        codename: own("Codename"),
        version: own("Version"),
        date: own("Date"),
        valid_until: own("Valid-Until"),
        architectures: words(st.field("Architectures")),
        components: words(st.field("Components")),
        not_automatic: yes(st.field("NotAutomatic")),
        but_automatic_upgrades: yes(st.field("ButAutomaticUpgrades")),
        acquire_by_hash: yes(st.field("Acquire-By-Hash")),
        signed,
        ..Release::default()
    };
    if rel.suite.is_none() && rel.codename.is_none() {
        return Err(FeedError::Format {
            expected: "apt release file",
            reason: "no Suite and no Codename field".into(),
        });
    }
    if let Some(list) = st.field("SHA256") {
        for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut it = line.split_whitespace();
            match (
                it.next(),
                it.next().map(str::parse::<u64>),
                it.next(),
                it.next(),
            ) {
                (Some(hash), Some(Ok(size)), Some(path), None)
                    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    rel.sha256.push(FileChecksum {
                        path: path.to_owned(),
                        size,
                        sha256: hash.to_ascii_lowercase(),
                    });
                }
                _ => rel.problems.push(Problem::new(
                    Some("SHA256"),
                    format!("malformed checksum line, skipped: {line:?}"),
                )),
            }
        }
    } else {
        rel.problems.push(Problem::new(
            None::<String>,
            "no SHA256 file list: indexes cannot be verified",
        ));
    }
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearsigned_release_with_flags() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\n\
                    Label: Debian Backports\nSuite: bookworm-backports\nNotAutomatic: yes\n\
                    ButAutomaticUpgrades: yes\nArchitectures: all amd64\nSHA256:\n \
                    0000000000000000000000000000000000000000000000000000000000000000 0 main/x\n \
                    bad line\n- -dash\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
        let r = parse_release(text.as_bytes()).unwrap();
        assert!(r.signed);
        assert_eq!(r.suite.as_deref(), Some("bookworm-backports"));
        assert_eq!(r.apt_priority(), 100);
        assert!(!r.is_security());
        assert_eq!(r.architectures, ["all", "amd64"]);
        assert_eq!(r.sha256.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert_eq!(
            r.verify("main/x", b""),
            Err(ChecksumError::Sha256 {
                path: "main/x".into(),
                expected: "0".repeat(64),
                actual: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            })
        );
        assert!(matches!(
            r.verify("main/y", b""),
            Err(ChecksumError::NotListed { .. })
        ));
        assert!(parse_release(b"Foo: bar\n").is_err());
        assert_eq!(strip_clearsign("x").as_deref(), None);
    }
}
