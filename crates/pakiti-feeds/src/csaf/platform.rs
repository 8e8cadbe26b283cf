//! Platform products (CPE) → OS streams, and which platforms are deliberately left out.
//!
//! Kept (the streams a host reports):
//! - Red Hat `cpe:/o:redhat:enterprise_linux:N[::variant]` and
//!   `cpe:/a:redhat:enterprise_linux:N::appstream|crb|sap|...` → `rhel:N`.
//! - SUSE `sles`, `sled`, `sles_sap`, `sles-ltss`/`suse_sles_ltss`, `sle-module-*`, and the
//!   extensions installed on SLES (`sle-ha`, `sle-we`, `sle-sdk`, `sle-hpc`, `sle_hpc*`) →
//!   `sles:V` or `sles:V.SP`; `opensuse:leap:15.5` → `opensuse:15.5`; `opensuse:tumbleweed`.
//!
//! Skipped (counted, not reported as problems):
//! - RHEL EUS / AUS / TUS / E4S / ELS (`rhel_eus:8.6`, ...): separate minor-release streams whose
//!   fixes have lower versions than the main stream's. Folding them into `rhel:N` is harmless
//!   for the matcher (any entry that says "affected" wins), but it would show a wrong "fixed in"
//!   version and, in an advisory that only ships the EUS build, a "fixed" answer for main-stream
//!   hosts that the main stream never got. A host on EUS is matched against the main stream,
//!   which errs towards "vulnerable".
//! - Layered products (OpenShift, Satellite, JBoss, Quarkus, Software Collections ...): not an OS
//!   stream.
//! - SUSE Micro / MicroOS / CaaSP / Storage / Manager / OpenStack / Teradata / Leap Micro: no
//!   stream in the model yet.

use pakiti_core::stream::{Distro, OsStream};

/// What a platform CPE means for pakiti.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Platform {
    /// A stream we match hosts against.
    Stream(OsStream),
    /// A product outside the model (layered product, EUS stream, ...).
    Skipped,
}

/// Maps a CPE 2.2 URI (`cpe:/o:redhat:enterprise_linux:8::baseos`) to a platform; `None` when
/// it is not a CPE 2.2 URI at all (CPE 2.3 strings name upstream components, not platforms).
pub(crate) fn from_cpe(cpe: &str) -> Option<Platform> {
    let rest = cpe.strip_prefix("cpe:/")?;
    let parts: Vec<&str> = rest.split(':').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    let (vendor, product, version, update) = (part(1), part(2), part(3), part(4));
    let extra = parts
        .get(5..)
        .is_some_and(|x| x.iter().any(|p| !p.is_empty()));
    let platform = match vendor {
        "redhat" => redhat(product, version),
        "suse" if !extra => suse(product, version, update),
        "opensuse" if !extra => opensuse(product, version),
        _ => Platform::Skipped,
    };
    Some(platform)
}

fn redhat(product: &str, version: &str) -> Platform {
    if product != "enterprise_linux" {
        return Platform::Skipped;
    }
    let major = version.split('.').next().unwrap_or_default();
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        return Platform::Skipped;
    }
    Platform::Stream(OsStream::new(Distro::Rhel, major))
}

fn suse(product: &str, version: &str, update: &str) -> Platform {
    let sles_family = matches!(
        product,
        "sles"
            | "sled"
            | "sles_sap"
            | "sles-ltss"
            | "suse_sles_ltss"
            | "sles-espos"
            | "sle-ha"
            | "sle-we"
            | "sle-sdk"
            | "sle-hpc"
            | "sle_hpc"
            | "sle_hpc-ltss"
            | "sle_hpc-espos"
    ) || product.starts_with("sle-module-");
    if !sles_family || version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Platform::Skipped;
    }
    let release = match update.strip_prefix("sp") {
        Some(sp) if !sp.is_empty() && sp.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{version}.{sp}")
        }
        Some(_) => return Platform::Skipped,
        None if update.is_empty() => version.to_owned(),
        None => return Platform::Skipped,
    };
    Platform::Stream(OsStream::new(Distro::Sles, &release))
}

fn opensuse(product: &str, version: &str) -> Platform {
    match product {
        "leap" if !version.is_empty() => Platform::Stream(OsStream::new(Distro::Opensuse, version)),
        "tumbleweed" => Platform::Stream(OsStream::new(Distro::Opensuse, "tumbleweed")),
        _ => Platform::Skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(cpe: &str, expected: Option<&str>) {
        let got = match from_cpe(cpe) {
            Some(Platform::Stream(s)) => Some(s.to_string()),
            Some(Platform::Skipped) => None,
            None => panic!("{cpe} is not a cpe"),
        };
        assert_eq!(got.as_deref(), expected, "{cpe}");
    }

    #[test]
    fn red_hat() {
        check("cpe:/o:redhat:enterprise_linux:8", Some("rhel:8"));
        check(
            "cpe:/a:redhat:enterprise_linux:8::appstream",
            Some("rhel:8"),
        );
        check("cpe:/o:redhat:enterprise_linux:9::baseos", Some("rhel:9"));
        check("cpe:/o:redhat:enterprise_linux:7::server", Some("rhel:7"));
        check("cpe:/a:redhat:rhel_eus:8.6::appstream", None);
        check("cpe:/o:redhat:rhel_aus:7.6::server", None);
        check("cpe:/o:redhat:rhel_e4s:7.6::server", None);
        check("cpe:/a:redhat:rhel_tus:8.4::appstream", None);
        check("cpe:/a:redhat:openshift:4.16::el9", None);
        check("cpe:/a:redhat:satellite:6.13::el8", None);
        check("cpe:/a:redhat:rhel_satellite_client:6::el8", None);
        check("cpe:/a:redhat:quarkus:2.13::el8", None);
    }

    #[test]
    fn suse_family() {
        check("cpe:/o:suse:sles:15:sp5", Some("sles:15.5"));
        check("cpe:/o:suse:sles:12", Some("sles:12"));
        check("cpe:/o:suse:sled:12:sp1", Some("sles:12.1"));
        check(
            "cpe:/o:suse:sle-module-basesystem:15:sp4",
            Some("sles:15.4"),
        );
        check("cpe:/o:suse:suse_sles_ltss:11:sp4", Some("sles:11.4"));
        check("cpe:/o:suse:sles:11:sp1:teradata", None);
        check("cpe:/o:suse:sle-micro:5.5", None);
        check("cpe:/o:suse:caasp:4.0", None);
        check("cpe:/o:opensuse:leap:15.5", Some("opensuse:15.5"));
        check("cpe:/o:opensuse:tumbleweed", Some("opensuse:tumbleweed"));
        assert_eq!(from_cpe("cpe:2.3:a:samba:samba:*:*:*:*:*:*:*:*"), None);
    }
}
