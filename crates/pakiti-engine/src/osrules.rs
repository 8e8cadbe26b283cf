//! OS strings → OS streams: the site's rules from the settings, then the built-in detection
//! (`pakiti_core::osname`). A string no rule recognises maps to no stream, and its hosts are
//! "not covered".

use anyhow::{Context, Result};
use pakiti_core::osname;
use pakiti_core::stream::OsStream;
use regex::{Regex, RegexBuilder};

/// A site's OS-name rule (`os_rules` in the settings), defined with the settings.
pub use pakiti_config::settings::OsRule;

/// Compiled OS rules.
#[derive(Clone, Debug, Default)]
pub struct OsRules {
    rules: Vec<(Regex, String)>,
}

impl OsRules {
    /// Compiles the site's rules, checking each stream template.
    ///
    /// # Errors
    /// A pattern that is not a regular expression, or a stream that is not `distro:release`.
    pub fn new(rules: &[OsRule]) -> Result<Self> {
        let mut out = Vec::new();
        for r in rules {
            let re = RegexBuilder::new(&r.pattern)
                .case_insensitive(true)
                .build()
                .with_context(|| format!("os_rules: invalid pattern {:?}", r.pattern))?;
            if r.stream != "none" {
                // Check the template with a placeholder for each group.
                let probe = r.stream.replace('$', "");
                probe
                    .replace(|c: char| c.is_ascii_digit(), "1")
                    .parse::<OsStream>()
                    .with_context(|| format!("os_rules: invalid stream {:?}", r.stream))?;
            }
            out.push((re, r.stream.clone()));
        }
        Ok(OsRules { rules: out })
    }

    /// The stream of an OS string: the first matching site rule, else the built-in detection.
    #[must_use]
    pub fn stream(&self, os: &str) -> Option<OsStream> {
        for (re, template) in &self.rules {
            if let Some(caps) = re.captures(os) {
                if template == "none" {
                    return None;
                }
                let mut expanded = String::new();
                caps.expand(template, &mut expanded);
                return expanded.parse().ok();
            }
        }
        osname::detect(os)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: &str, s: &str) -> OsRule {
        OsRule {
            pattern: p.into(),
            stream: s.into(),
        }
    }

    #[test]
    fn site_rules_first_then_built_in() {
        let r = OsRules::new(&[
            rule(r"^Scientific Linux .*release (\d+)", "rocky:$1"),
            rule("^Gentoo", "none"),
            rule(r"^MyCorp Linux (\d+)", "debian:$1"),
        ])
        .unwrap();
        assert_eq!(
            r.stream("Scientific Linux SL release 7.9 (Nitrogen)")
                .unwrap()
                .to_string(),
            "rocky:7"
        );
        assert_eq!(
            r.stream("MyCorp Linux 12").unwrap().to_string(),
            "debian:bookworm"
        );
        assert_eq!(r.stream("Gentoo Base System release 2.14"), None);
        assert_eq!(r.stream("Rocky Linux 9.3").unwrap().to_string(), "rocky:9");
        assert_eq!(r.stream("Plan 9"), None);
    }

    #[test]
    fn bad_rules_are_errors() {
        assert!(OsRules::new(&[rule("(", "rhel:8")]).is_err());
        assert!(OsRules::new(&[rule("x", "nonsense")]).is_err());
    }
}
