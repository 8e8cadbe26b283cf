//! OS strings as agents send them → OS streams.
//!
//! Pakiti clients send free text: `/etc/redhat-release` content ("CentOS Linux release 7.9.2009
//! (Core)"), os-release `NAME VERSION_ID` ("Debian GNU/Linux 12", "Rocky Linux 9.3"), or
//! `lsb_release` output. [`detect`] recognises every distribution pakiti has data for; sites add
//! their own rules on top in the server configuration. A string that matches nothing gives
//! `None`, and the host is shown as "not covered", never as clean.

use crate::stream::{Distro, OsStream, debian_codename, ubuntu_version};

/// Recognises the distribution and release in an OS string.
#[must_use]
pub fn detect(os: &str) -> Option<OsStream> {
    let lower = os.to_ascii_lowercase();
    let s = lower.as_str();
    // Order matters: "Red Hat Enterprise Linux" must not be taken by a rebuild that quotes it,
    // and openSUSE before SUSE.
    let distro = if s.contains("centos") {
        Distro::Centos
    } else if s.contains("almalinux") || s.contains("alma linux") {
        Distro::Alma
    } else if s.contains("rocky") {
        Distro::Rocky
    } else if s.contains("oracle") || s.starts_with("ol ") {
        Distro::Oracle
    } else if s.contains("red hat")
        || s.contains("redhat")
        || s.contains("rhel")
        || s.contains("scientific linux")
    {
        Distro::Rhel
    } else if s.contains("fedora") {
        Distro::Fedora
    } else if s.contains("amazon linux") || s.starts_with("amzn") {
        Distro::Amazon
    } else if s.contains("opensuse") {
        Distro::Opensuse
    } else if s.contains("suse") || s.contains("sles") {
        Distro::Sles
    } else if s.contains("ubuntu") {
        Distro::Ubuntu
    } else if s.contains("debian") || s.contains("devuan") {
        Distro::Debian
    } else if s.contains("alpine") {
        Distro::Alpine
    } else {
        return None;
    };
    let release = match distro {
        Distro::Debian => {
            let n = first_number(s, 1);
            n.and_then(|n| debian_codename(&n).map(str::to_owned))
                .or_else(|| {
                    crate::stream::DEBIAN_RELEASES
                        .iter()
                        .find(|(_, c)| s.contains(c))
                        .map(|(_, c)| (*c).to_owned())
                })?
        }
        Distro::Ubuntu => {
            let n = first_number(s, 2);
            n.and_then(|n| ubuntu_version(&n).map(str::to_owned))
                .or_else(|| {
                    crate::stream::UBUNTU_RELEASES
                        .iter()
                        .find(|(_, c)| s.contains(c))
                        .map(|(n, _)| (*n).to_owned())
                })
                .or_else(|| first_number(s, 2))?
        }
        Distro::Alpine | Distro::Opensuse => {
            if distro == Distro::Opensuse && s.contains("tumbleweed") {
                "tumbleweed".to_owned()
            } else {
                first_number(s, 2)?
            }
        }
        Distro::Sles => {
            let major = first_number(s, 1)?;
            let sp = s
                .split_once(" sp")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .or_else(|| {
                    first_number(s, 2).and_then(|v| v.split_once('.').map(|(_, m)| m.to_owned()))
                });
            match sp {
                Some(sp) => format!("{major}.{sp}"),
                None => major,
            }
        }
        Distro::Amazon => {
            let n = first_number(s, 1)?;
            // Amazon Linux 2023.3.20240312 is stream 2023; "2" is Amazon Linux 2; 2017.09/2018.03 are AL1.
            if n.starts_with("201") {
                "1".to_owned()
            } else {
                n
            }
        }
        _ => first_number(s, 1)?,
    };
    Some(OsStream::new(distro, &release))
}

/// The first run of digits (with up to `parts` dot-separated components) in `s`.
fn first_number(s: &str, parts: usize) -> Option<String> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let rest = &s[start..];
    let mut out = String::new();
    for (i, comp) in rest.split('.').enumerate() {
        let digits: String = comp.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || i >= parts {
            break;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(&digits);
        if digits.len() != comp.len() {
            break;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(os: &str, want: Option<&str>) {
        assert_eq!(detect(os).map(|s| s.to_string()).as_deref(), want, "{os}");
    }

    #[test]
    fn real_os_strings() {
        check("CentOS Linux release 7.9.2009 (Core)", Some("centos:7"));
        check("CentOS Stream release 9", Some("centos:9"));
        check(
            "Red Hat Enterprise Linux Server release 7.3 (Maipo)",
            Some("rhel:7"),
        );
        check(
            "Red Hat Enterprise Linux release 8.0 (Ootpa)",
            Some("rhel:8"),
        );
        check("Scientific Linux SL release 5.5 (Boron)", Some("rhel:5"));
        check("Rocky Linux 9.3", Some("rocky:9"));
        check("Rocky Linux release 8.4 (Green Obsidian)", Some("rocky:8"));
        check("AlmaLinux 8.9", Some("alma:8"));
        check("Oracle Linux Server 8.10", Some("oracle:8"));
        check("Fedora release 38 (Thirty Eight)", Some("fedora:38"));
        check("Amazon Linux 2", Some("amazon:2"));
        check("Amazon Linux 2023.3.20240312", Some("amazon:2023"));
        check("Amazon Linux AMI release 2018.03", Some("amazon:1"));
        check("openSUSE Leap 15.3", Some("opensuse:15.3"));
        check("openSUSE Tumbleweed", Some("opensuse:tumbleweed"));
        check("SUSE Linux Enterprise Server 15 SP3", Some("sles:15.3"));
        check("SUSE Linux Enterprise Server 12.5", Some("sles:12.5"));
        check("Debian GNU/Linux 12", Some("debian:bookworm"));
        check("Debian GNU/Linux 12 (bookworm)", Some("debian:bookworm"));
        check("Debian 9.0", Some("debian:stretch"));
        check("Debian GNU/Linux trixie/sid", Some("debian:trixie"));
        check("Ubuntu 22.04", Some("ubuntu:22.04"));
        check("Ubuntu 22.04.3 LTS", Some("ubuntu:22.04"));
        check("Ubuntu jammy", Some("ubuntu:22.04"));
        check("Alpine Linux v3.19", Some("alpine:3.19"));
        check("Alpine Linux 3.19.0", Some("alpine:3.19"));
        check("FreeBSD 13.2-RELEASE", None);
        check("", None);
    }
}
