//! rpm-md `modules.yaml`: which rpm NEVRAs belong to which module stream, and the default
//! streams. Only `modulemd` (v2) and `modulemd-defaults` documents are read; translations
//! and obsoletes are skipped.

use saphyr::{LoadableYamlNode, Scalar, Yaml};

use crate::{FeedError, Parsed, Problem};

/// A `modulemd` document: one build of a module stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleStream {
    /// `name` (`nodejs`).
    pub name: String,
    /// `stream` (`12`).
    pub stream: String,
    /// `version` (a build number).
    pub version: String,
    /// `context`.
    pub context: String,
    /// `arch`.
    pub arch: String,
    /// `artifacts.rpms`: NEVRAs (`nodejs-1:12.22.9-1.module_f35+13622+4a3e9b3b.x86_64`).
    pub artifacts: Vec<String>,
}

impl ModuleStream {
    /// `name:stream`, the form hosts report enabled streams in.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}", self.name, self.stream)
    }
}

/// A `modulemd-defaults` document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleDefaults {
    /// `module`.
    pub module: String,
    /// The default `stream`, when one is set.
    pub stream: Option<String>,
}

/// The module documents of a `modules.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Modules {
    /// Module stream builds, in document order.
    pub streams: Vec<ModuleStream>,
    /// Default streams.
    pub defaults: Vec<ModuleDefaults>,
}

/// A scalar as text. Integers are written back in decimal; a float (an unquoted stream such
/// as `2.6`) loses trailing zeros, so it is reported.
fn text(node: Option<&Yaml<'_>>) -> Result<Option<String>, String> {
    match node {
        None => Ok(None),
        Some(Yaml::Value(Scalar::String(s))) => Ok(Some(s.to_string())),
        Some(Yaml::Value(Scalar::Integer(i))) => Ok(Some(i.to_string())),
        Some(Yaml::Value(Scalar::FloatingPoint(f))) => {
            Err(format!("unquoted number {f} where a string is expected"))
        }
        Some(Yaml::Value(Scalar::Null)) => Ok(None),
        Some(other) => Err(format!("unexpected value {other:?}")),
    }
}

fn get<'a, 'y>(node: &'a Yaml<'y>, path: &[&str]) -> Option<&'a Yaml<'y>> {
    path.iter().try_fold(node, |n, k| n.as_mapping_get(k))
}

/// Parses `modules.yaml` (already decompressed, UTF-8).
///
/// A `modulemd` document without name or stream is a problem and is skipped.
///
/// # Errors
/// The YAML is malformed, or it holds documents but none is a module document.
pub fn parse_modules(data: &[u8]) -> Result<Parsed<Modules>, FeedError> {
    let text_in = String::from_utf8_lossy(data);
    let docs = Yaml::load_from_str(&text_in).map_err(|e| FeedError::Format {
        expected: "rpm-md modules.yaml",
        reason: format!("malformed yaml: {e}"),
    })?;
    let mut out = Modules::default();
    let mut problems = Vec::new();
    let mut other = 0usize;
    for doc in &docs {
        let kind = get(doc, &["document"]).and_then(Yaml::as_str);
        match kind {
            Some("modulemd") => {
                let field = |k: &str| text(get(doc, &["data", k]));
                let fields = (|| {
                    Ok::<_, String>((
                        field("name")?,
                        field("stream")?,
                        field("version")?,
                        field("context")?,
                        field("arch")?,
                    ))
                })();
                let (name, stream, version, context, arch) = match fields {
                    Ok(f) => f,
                    Err(e) => {
                        problems.push(Problem::new(None::<String>, format!("modulemd: {e}")));
                        continue;
                    }
                };
                let (Some(name), Some(stream)) = (name, stream) else {
                    problems.push(Problem::new(
                        None::<String>,
                        "modulemd document without name or stream, skipped",
                    ));
                    continue;
                };
                let artifacts = get(doc, &["data", "artifacts", "rpms"])
                    .and_then(Yaml::as_vec)
                    .map(|v| {
                        v.iter()
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                out.streams.push(ModuleStream {
                    name,
                    stream,
                    version: version.unwrap_or_default(),
                    context: context.unwrap_or_default(),
                    arch: arch.unwrap_or_default(),
                    artifacts,
                });
            }
            Some("modulemd-defaults") => {
                let module = text(get(doc, &["data", "module"]));
                let stream = text(get(doc, &["data", "stream"]));
                match (module, stream) {
                    (Ok(Some(module)), Ok(stream)) => {
                        out.defaults.push(ModuleDefaults { module, stream });
                    }
                    (m, s) => problems.push(Problem::new(
                        None::<String>,
                        format!("modulemd-defaults without a usable module/stream: {m:?} {s:?}"),
                    )),
                }
            }
            _ => other += 1,
        }
    }
    if other > 0 && out.streams.is_empty() && out.defaults.is_empty() {
        return Err(FeedError::Format {
            expected: "rpm-md modules.yaml",
            reason: format!("{other} documents, none of them modulemd"),
        });
    }
    Ok(Parsed {
        records: vec![out],
        problems,
    })
}

/// Splits an artifact NEVRA (`name-[epoch:]version-release.arch`) into (name, evr, arch);
/// the evr leaves out a zero epoch, as hosts report it.
#[must_use]
pub fn split_nevra(nevra: &str) -> Option<(&str, String, &str)> {
    let (rest, arch) = nevra.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, ev) = rest.rsplit_once('-')?;
    let (epoch, version) = ev.split_once(':').unwrap_or(("0", ev));
    Some((name, super::rpmmd::evr(epoch, version, release), arch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nevra() {
        assert_eq!(
            split_nevra("nodejs-1:12.22.9-1.module_f35+13622+4a3e9b3b.x86_64"),
            Some((
                "nodejs",
                "1:12.22.9-1.module_f35+13622+4a3e9b3b".into(),
                "x86_64"
            ))
        );
        assert_eq!(
            split_nevra("libecap-devel-0:1.0.1-2.module+el8.4.0+404+316a0dc5.x86_64"),
            Some((
                "libecap-devel",
                "1.0.1-2.module+el8.4.0+404+316a0dc5".into(),
                "x86_64"
            ))
        );
        let p = parse_modules(
            b"---\ndocument: modulemd\nversion: 2\ndata:\n  name: ruby\n  stream: 2.6\n...\n",
        )
        .unwrap();
        assert_eq!(p.problems.len(), 1);
        assert!(parse_modules(b"---\nfoo: 1\n").is_err());
    }
}
