//! The stable client-generated host id: created on the first run, then read back on every run,
//! so the server keeps a host's identity when its name or address changes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The default place of the host id file.
pub const DEFAULT_PATH: &str = "/var/lib/pakiti-client/host-id";

/// The host id file could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum HostIdError {
    /// Reading, creating or writing the file failed.
    #[error("host id file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds something that is not a host id.
    #[error(
        "host id file {path} does not hold a host id (expected 8 to 64 characters [0-9a-zA-Z-])"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
    },
    /// The operating system gave no random bytes.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
}

/// Reads the host id from `path`, creating the file (and its directory) with a new random id
/// when it does not exist.
///
/// # Errors
/// The file cannot be read or created, or holds something that is not an id.
pub fn load_or_create(path: &Path) -> Result<String, HostIdError> {
    let io = |source| HostIdError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let id = text.trim();
            if valid(id) {
                Ok(id.to_owned())
            } else {
                Err(HostIdError::Invalid {
                    path: path.to_owned(),
                })
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let id = new_id()?;
            // Write a temporary file and rename it, so that two agents starting at once never
            // leave a half-written id behind; the first rename wins for both.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(format!("{id}\n").as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            drop(f);
            std::fs::rename(&tmp, path).map_err(io)?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

fn valid(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A random UUID (version 4), lower-case hex.
///
/// # Errors
/// The operating system gives no random bytes.
pub fn new_id() -> Result<String, HostIdError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| HostIdError::Random(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}
