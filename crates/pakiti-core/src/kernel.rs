//! Running kernel versus installed kernels: "reboot needed".
//!
//! Several kernels are installed at once and every one of them is matched (an old kernel can
//! still be booted). A host needs a reboot when the newest installed kernel is not the one
//! running: until then, CVEs fixed only in the newer kernel still apply to what runs.

use crate::package::InstalledPackage;
use crate::version::Scheme;

/// Whether `name` is a kernel image package (not headers, tools or firmware).
#[must_use]
pub fn is_kernel_package(name: &str) -> bool {
    matches!(
        name,
        "kernel"
            | "kernel-core"
            | "kernel-default"
            | "kernel-smp"
            | "kernel-PAE"
            | "kernel-xen"
            | "kernel-uek"
            | "kernel-rt"
            | "kernel-64k"
            | "kernel-default-base"
            | "kernel-preempt"
            | "kernel-azure"
            | "linux-lts"
            | "linux-virt"
    ) || (name.starts_with("linux-image-") && name[12..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Whether the newest installed kernel differs from the running one (`uname -r`).
///
/// rpm kernels are recognised by `version-release` being a prefix of `uname -r`
/// (`4.18.0-513.el8.x86_64`); Debian's by the package name `linux-image-<uname -r>`; apk's
/// `linux-lts` by `version` (`6.6.31-r0` runs as `6.6.31-0-lts`). Returns `false` when no kernel
/// package is installed (containers) or the running kernel is unknown.
#[must_use]
pub fn reboot_needed(scheme: Scheme, running: &str, packages: &[InstalledPackage]) -> bool {
    let running = running.trim();
    if running.is_empty() || running == "unknown" {
        return false;
    }
    let kernels: Vec<&InstalledPackage> = packages
        .iter()
        .filter(|p| is_kernel_package(&p.name))
        .collect();
    let Some(newest) = kernels
        .iter()
        .copied()
        .max_by(|a, b| scheme.compare(&a.version, &b.version))
    else {
        return false;
    };
    match scheme {
        Scheme::Rpm => {
            let vr = newest
                .version
                .split_once(':')
                .map_or(newest.version.as_str(), |(_, vr)| vr);
            !running.starts_with(vr)
        }
        Scheme::Deb => {
            // linux-image-6.1.0-29-amd64 runs as 6.1.0-29-amd64; the version field orders them.
            let newest_debs: Vec<&&InstalledPackage> = kernels
                .iter()
                .filter(|p| scheme.compare(&p.version, &newest.version).is_eq())
                .collect();
            !newest_debs
                .iter()
                .any(|p| p.name.strip_prefix("linux-image-") == Some(running))
        }
        Scheme::Apk => {
            let upstream = newest.version.split("-r").next().unwrap_or(&newest.version);
            !running.starts_with(upstream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, v: &str) -> InstalledPackage {
        InstalledPackage::new(name, v, "x86_64")
    }

    #[test]
    fn rpm_kernels() {
        let pkgs = [
            p("kernel", "0:4.18.0-500.el8"),
            p("kernel", "0:4.18.0-513.el8"),
            p("bash", "0:4.4-1.el8"),
        ];
        assert!(!reboot_needed(Scheme::Rpm, "4.18.0-513.el8.x86_64", &pkgs));
        assert!(reboot_needed(Scheme::Rpm, "4.18.0-500.el8.x86_64", &pkgs));
        assert!(!reboot_needed(Scheme::Rpm, "", &pkgs));
        assert!(!reboot_needed(
            Scheme::Rpm,
            "4.18.0-500.el8.x86_64",
            &pkgs[2..]
        ));
    }

    #[test]
    fn debian_kernels() {
        let pkgs = [
            p("linux-image-6.1.0-28-amd64", "6.1.119-1"),
            p("linux-image-6.1.0-29-amd64", "6.1.123-1"),
            p("linux-image-amd64", "6.1.123-1"),
        ];
        assert!(!reboot_needed(Scheme::Deb, "6.1.0-29-amd64", &pkgs));
        assert!(reboot_needed(Scheme::Deb, "6.1.0-28-amd64", &pkgs));
        assert!(!is_kernel_package("linux-image-amd64"));
        assert!(!is_kernel_package("kernel-headers"));
    }
}
