//! Paths to the shared real data and a reader that decompresses by content.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

/// A path under `shared/data/`.
pub(crate) fn data(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/"
    ))
    .join(rel)
}

/// Opens a data file, decompressing it whatever its compression.
pub(crate) fn open(rel: &str) -> Box<dyn BufRead + Send> {
    let path = data(rel);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pakiti_feeds::decompress::reader(BufReader::new(file)).unwrap()
}

/// Every file under a data directory, sorted, as paths relative to `shared/data/`.
pub(crate) fn files_under(rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![data(rel)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let full = path.to_string_lossy().into_owned();
                let base = data("").to_string_lossy().into_owned();
                out.push(full[base.len()..].to_owned());
            }
        }
    }
    out.sort();
    out
}
