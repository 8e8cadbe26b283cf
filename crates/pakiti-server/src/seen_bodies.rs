//! The remembered report bodies across a restart (issue 17).
//!
//! A server recognises the exact bytes of a host's last stored report and records the nightly
//! unchanged report without parsing it ([`pakiti_engine::SeenBody`]); that memory is what
//! makes an unchanged report cheap. Without this file a restart emptied it, and every host's
//! next unchanged report cost a parse and a host lookup — two to three times the warm cost.
//! `pakiti serve` writes the memory to `<data_dir>/seen-bodies.json` when it stops cleanly and
//! reads it back when it starts.
//!
//! It is a cache, never the truth: an entry only lets the replay *ask* the store to record an
//! unchanged report, and the store records it only if the host's last saved report still has
//! that hash (`Store::touch_unchanged_reports`); otherwise the report takes the full path. So
//! a file from before a crash, another server or another configuration costs nothing but
//! misses. A file that cannot be read is logged and ignored; it is removed once read, so a
//! crash after the start never brings an old one back.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pakiti_engine::{Engine, SeenBody};
use pakiti_store::HostIdentity;
use serde::{Deserialize, Serialize};

/// The file's format version.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    bodies: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The raw-body key, hex.
    digest: String,
    identity_hostname: String,
    client_id: Option<String>,
    host: i64,
    hash: String,
    hostname: String,
    site: Option<String>,
    tag: Option<String>,
}

/// Where the snapshot lives.
#[must_use]
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("seen-bodies.json")
}

/// Writes the engine's remembered bodies to `path` (atomically: a temporary file renamed);
/// returns how many.
///
/// # Errors
/// The file cannot be written.
pub fn save(engine: &Engine, path: &Path) -> Result<usize> {
    let bodies: Vec<Entry> = engine
        .seen_bodies()
        .into_iter()
        .map(|(d, s)| Entry {
            digest: hex::encode(d),
            identity_hostname: s.identity.hostname,
            client_id: s.identity.client_id,
            host: s.host,
            hash: s.hash,
            hostname: s.hostname,
            site: s.site,
            tag: s.tag,
        })
        .collect();
    let n = bodies.len();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec(&File {
        version: VERSION,
        bodies,
    })?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(n)
}

/// Reads `path` into the engine's memory and removes it; returns how many bodies were read
/// (0 when there is no file).
///
/// # Errors
/// The file exists but cannot be read or parsed (it is removed all the same).
pub fn load(engine: &Engine, path: &Path) -> Result<usize> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let _ = std::fs::remove_file(path);
    let file: File =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    if file.version != VERSION {
        anyhow::bail!(
            "{}: version {}, this server reads {VERSION}",
            path.display(),
            file.version
        );
    }
    let mut n = 0;
    for e in file.bodies {
        let Some(digest) = hex::decode(&e.digest)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
        else {
            continue;
        };
        engine.remember_body(
            digest,
            SeenBody {
                identity: HostIdentity {
                    hostname: e.identity_hostname,
                    client_id: e.client_id,
                },
                host: e.host,
                hash: e.hash,
                hostname: e.hostname,
                site: e.site,
                tag: e.tag,
            },
        );
        n += 1;
    }
    Ok(n)
}
