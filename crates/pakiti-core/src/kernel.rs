//! Running kernel versus installed kernels: "reboot needed".
//!
//! Several kernels are installed at once. Vendor kernel advisories (Red Hat's OVAL checks
//! `uname -r`; Ubuntu's follow the running kernel's flavour) are about the kernel that runs,
//! so the packages of an installed kernel older than the running one are not findings: they are
//! "old kernels installed" ([`old_kernels`]). A newer installed kernel that does not run yet is
//! still matched, and the host needs a reboot ([`reboot_needed`]): until then, CVEs fixed only
//! in the newer kernel still apply to what runs. When the running kernel is unknown, or no
//! installed kernel package is the running one, every kernel package is matched, as before.

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

/// Kernel image names whose companion packages (`-core`, `-modules`, `-devel` ...) are
/// installed once per kernel version (rpm's "installonly" packages).
const RPM_FLAVOURS: [&str; 22] = [
    "kernel",
    "kernel-core",
    "kernel-debug",
    "kernel-rt",
    "kernel-rt-debug",
    "kernel-uek",
    "kernel-uek-debug",
    "kernel-PAE",
    "kernel-PAEdebug",
    "kernel-xen",
    "kernel-smp",
    "kernel-64k",
    "kernel-64k-debug",
    "kernel-default",
    "kernel-preempt",
    "kernel-azure",
    "kernel-kvmsmall",
    "kernel-zfcpdump",
    "kernel-lpae",
    "kernel-16k",
    "kernel-16k-debug",
    "kernel-vanilla",
];

/// Companion suffixes of an rpm kernel flavour that are installed once per kernel version.
const RPM_COMPANIONS: [&str; 10] = [
    "",
    "-core",
    "-base",
    "-modules",
    "-modules-core",
    "-modules-extra",
    "-modules-internal",
    "-modules-partner",
    "-devel",
    "-extra",
];

/// Whether an rpm package is installed once per kernel version (`kernel`, `kernel-core`,
/// `kernel-modules-extra`, `kernel-devel`, `kernel-rt-modules` ...). `kernel-headers`,
/// `kernel-tools`, `kernel-firmware` and `perf` are upgraded in place and are not.
fn is_rpm_kernel_family(name: &str) -> bool {
    RPM_COMPANIONS.iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|base| RPM_FLAVOURS.contains(&base))
    })
}

/// The kernel release a Debian/Ubuntu per-ABI kernel package belongs to:
/// `linux-image-5.4.0-139-generic` → `5.4.0-139-generic`, `linux-headers-5.4.0-139` →
/// `5.4.0-139`. `None` for meta packages (`linux-image-generic`) and everything else.
fn deb_kernel_release(name: &str) -> Option<&str> {
    const PREFIXES: [&str; 9] = [
        "linux-image-unsigned-",
        "linux-image-uc-",
        "linux-image-",
        "linux-modules-extra-",
        "linux-modules-",
        "linux-headers-",
        "linux-objects-nvidia-",
        "linux-signatures-nvidia-",
        "linux-buildinfo-",
    ];
    PREFIXES.iter().find_map(|p| {
        name.strip_prefix(p)
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()) && rest.contains('-'))
    })
}

/// Whether `release` (a package's kernel release, possibly without the flavour, such as
/// `5.4.0-139` of `linux-headers-5.4.0-139`) is the running kernel's.
fn is_running_release(release: &str, running: &str) -> bool {
    running == release
        || running
            .strip_prefix(release)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// Which packages belong to an installed kernel that is not running and not newer than the
/// running one ("old kernel installed"): `out[i]` answers `packages[i]`.
///
/// rpm: the installonly kernel packages (`kernel`, `kernel-core`, `kernel-modules*`,
/// `kernel-devel`, the same for `-rt`, `-debug`, `-uek` ... flavours) whose `version-release`
/// is older than the running kernel's. Debian/Ubuntu: the per-ABI packages
/// (`linux-image-<release>`, `linux-modules[-extra]-<release>`, `linux-headers-<release>`)
/// of a release other than the running one, with a version not newer than the running image's
/// (so another flavour of the running version is old too; meta packages such as
/// `linux-image-generic` never are). apk installs one kernel per flavour: nothing is old.
///
/// Nothing is old when the running kernel is unknown or when no installed kernel image is the
/// running one (a custom kernel, a removed package): missing information never hides a finding.
#[must_use]
pub fn old_kernels(scheme: Scheme, running: &str, packages: &[InstalledPackage]) -> Vec<bool> {
    let mut out = vec![false; packages.len()];
    let running = running.trim();
    if running.is_empty() || running == "unknown" {
        return out;
    }
    match scheme {
        Scheme::Rpm => {
            let vr = |p: &InstalledPackage| -> String {
                p.version
                    .split_once(':')
                    .map_or(p.version.as_str(), |(_, vr)| vr)
                    .to_owned()
            };
            // The running kernel's version: an installed image whose version-release starts
            // `uname -r` (`3.10.0-1160.el7.x86_64`), followed by the arch or a flavour.
            let Some(current) = packages
                .iter()
                .filter(|p| is_kernel_package(&p.name) && is_rpm_kernel_family(&p.name))
                .filter(|p| {
                    let v = vr(p);
                    running
                        .strip_prefix(v.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '+', '-']))
                })
                .map(|p| p.version.as_str())
                .max_by(|a, b| scheme.compare(a, b))
            else {
                return out;
            };
            for (slot, p) in out.iter_mut().zip(packages) {
                *slot =
                    is_rpm_kernel_family(&p.name) && scheme.compare(&p.version, current).is_lt();
            }
        }
        Scheme::Deb => {
            let Some(current) = packages
                .iter()
                .filter(|p| {
                    p.name.strip_prefix("linux-image-") == Some(running)
                        || p.name.strip_prefix("linux-image-unsigned-") == Some(running)
                })
                .map(|p| p.version.as_str())
                .max_by(|a, b| scheme.compare(a, b))
            else {
                return out;
            };
            for (slot, p) in out.iter_mut().zip(packages) {
                *slot = deb_kernel_release(&p.name).is_some_and(|release| {
                    !is_running_release(release, running)
                        && !scheme.compare(&p.version, current).is_gt()
                });
            }
        }
        Scheme::Apk => {}
    }
    out
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

    #[test]
    fn rpm_old_kernels_are_those_older_than_the_running_one() {
        let pkgs = [
            p("kernel", "3.10.0-514.el7"),
            p("kernel-devel", "3.10.0-514.el7"),
            p("kernel", "3.10.0-1160.31.1.el7"),
            p("kernel-devel", "3.10.0-1160.31.1.el7"),
            p("kernel-headers", "3.10.0-514.el7"),
            p("kernel-tools", "3.10.0-514.el7"),
            p("bash", "4.2.46-34.el7"),
        ];
        let old = old_kernels(Scheme::Rpm, "3.10.0-1160.31.1.el7.x86_64", &pkgs);
        assert_eq!(old, [true, true, false, false, false, false, false]);
        // A newer kernel installed but not running yet is matched (and the host needs a reboot).
        let old = old_kernels(Scheme::Rpm, "3.10.0-514.el7.x86_64", &pkgs);
        assert_eq!(old, [false; 7]);
        assert!(reboot_needed(Scheme::Rpm, "3.10.0-514.el7.x86_64", &pkgs));
        // Unknown running kernel, or one no installed package is: today's behaviour.
        assert_eq!(old_kernels(Scheme::Rpm, "", &pkgs), [false; 7]);
        assert_eq!(old_kernels(Scheme::Rpm, "unknown", &pkgs), [false; 7]);
        assert_eq!(
            old_kernels(Scheme::Rpm, "5.14.0-1.custom.x86_64", &pkgs),
            [false; 7]
        );
        // `3.10.0-11` is not the running `3.10.0-1160...`: the prefix must end at a separator.
        let tricky = [p("kernel", "3.10.0-11.el7"), p("kernel", "3.10.0-1160.el7")];
        assert_eq!(
            old_kernels(Scheme::Rpm, "3.10.0-11.el7.x86_64", &tricky),
            [false, false]
        );
    }

    #[test]
    fn rpm_kernel_family() {
        for n in [
            "kernel",
            "kernel-core",
            "kernel-modules",
            "kernel-modules-extra",
            "kernel-devel",
            "kernel-rt-core",
            "kernel-debug-devel",
            "kernel-uek",
            "kernel-default-base",
        ] {
            assert!(is_rpm_kernel_family(n), "{n}");
        }
        for n in [
            "kernel-headers",
            "kernel-tools",
            "kernel-tools-libs",
            "kernel-firmware",
            "kernel-abi-whitelists",
            "perf",
        ] {
            assert!(!is_rpm_kernel_family(n), "{n}");
        }
    }

    #[test]
    fn deb_old_kernels_follow_the_running_release_and_flavour() {
        let pkgs = [
            p("linux-image-5.4.0-42-generic", "5.4.0-42.46"),
            p("linux-modules-5.4.0-42-generic", "5.4.0-42.46"),
            p("linux-headers-5.4.0-42", "5.4.0-42.46"),
            p("linux-image-5.4.0-139-generic", "5.4.0-139.156"),
            p("linux-headers-5.4.0-139", "5.4.0-139.156"),
            p("linux-image-5.4.0-139-lowlatency", "5.4.0-139.156"),
            p("linux-image-generic", "5.4.0.139.137"),
            p("linux-image-5.4.0-150-generic", "5.4.0-150.167"),
        ];
        let old = old_kernels(Scheme::Deb, "5.4.0-139-generic", &pkgs);
        assert_eq!(old, [true, true, true, false, false, true, false, false]);
        assert_eq!(old_kernels(Scheme::Deb, "", &pkgs), [false; 8]);
        assert_eq!(old_kernels(Scheme::Deb, "6.1.0-1-amd64", &pkgs), [false; 8]);
    }
}
