//! Rebuilds of RHEL (CentOS, Rocky, AlmaLinux) matched against Red Hat's data: their release
//! tags undone so that `rpm`'s order holds between a rebuild's build and Red Hat's.
//!
//! A rebuild with data of its own is matched against it as any stream; with none (or partial
//! data), `AdvisoryIndex::targets` adds RHEL's data in
//! rebuild mode, where every comparison goes through [`rebuild_compare`].

use std::borrow::Cow;

/// Compares a rebuild's installed version with RHEL's version of the same package, as
/// `rpm` would if the rebuild had kept Red Hat's release tag.
///
/// Rebuilds differ from RHEL's release tags in two ways only, and only those are undone:
/// a debranding tag after the dist tag (`.el8_4.rocky`, `.el8.alma`), and CentOS's dist tag
/// `.el7.centos`, which replaces RHEL's `.el7_9` (CentOS's `67.el7.centos.6` is RHEL's
/// `67.el7_9.6`; Pakiti issues #138 and #153, where CentOS hosts were always shown
/// vulnerable). So the tags are dropped from both sides, and the minor release (`_9`) of
/// RHEL's version is dropped only when the installed version has a tag in its place. Two
/// versions without such tags compare exactly as rpm compares them: normalising never
/// changes the order rpm gives two versions of one stream (issue 12 item 5: Rocky's
/// `1.33.0-3.el8_1.2` stays older than RHEL's fix `1.33.0-3.el8_2.1`).
#[must_use]
pub fn rebuild_compare(installed: &str, vendor: &str) -> std::cmp::Ordering {
    // Borrowed all the way for versions without tags: this runs per comparison.
    let (i, minorless) = strip_rebuild_tags(installed);
    let (v, _) = strip_rebuild_tags(vendor);
    let without_minor;
    let v: &str = if minorless {
        without_minor = strip_minor(&v);
        &without_minor
    } else {
        &v
    };
    crate::advisory::compare_installed(crate::version::Scheme::Rpm, &i, v)
}

/// The rebuild debranding tags that follow a Red Hat dist tag.
const REBUILD_TAGS: [&str; 3] = [".centos", ".rocky", ".alma"];

/// Drops `.centos`/`.rocky`/`.alma` after `.elN` or `.elN_M`; the flag says whether one
/// directly followed `.elN` (CentOS's dist tag `.el7.centos`, which has no minor release).
fn strip_rebuild_tags(version: &str) -> (Cow<'_, str>, bool) {
    let mut minorless = false;
    let out = rewrite_dist_tags(version, |rest, minor| {
        for tag in REBUILD_TAGS {
            if rest.starts_with(tag) {
                if !minor {
                    minorless = true;
                }
                return (tag.len(), false);
            }
        }
        (0, false)
    });
    (out, minorless)
}

/// `.elN_M` → `.elN`.
fn strip_minor(version: &str) -> Cow<'_, str> {
    rewrite_dist_tags(version, |_, minor| (0, minor))
}

/// Rewrites every `.elN[_M]` dist tag of `version`: `f(rest, has_minor)` is given what
/// follows the tag and says how many bytes of it to drop and whether to drop the `_M`.
fn rewrite_dist_tags(
    version: &str,
    mut f: impl FnMut(&str, bool) -> (usize, bool),
) -> Cow<'_, str> {
    let b = version.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 3 < b.len() {
        if b[i] == b'.' && b[i + 1] == b'e' && b[i + 2] == b'l' && b[i + 3].is_ascii_digit() {
            let mut j = i + 3;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let major_end = j;
            let has_minor = j + 1 < b.len() && b[j] == b'_' && b[j + 1].is_ascii_digit();
            if has_minor {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let (drop_after, drop_minor) = f(&version[j..], has_minor);
            let drop_minor = drop_minor && has_minor;
            if drop_after > 0 || drop_minor {
                let o = out.get_or_insert_with(|| String::with_capacity(version.len()));
                o.push_str(&version[copied..if drop_minor { major_end } else { j }]);
                copied = j + drop_after;
            }
            i = j + drop_after;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(version),
        Some(mut o) => {
            o.push_str(&version[copied..]);
            Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rebuild_compare;

    #[test]
    fn rebuild_release_tags() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        // CentOS's `.el7.centos` stands for RHEL's `.el7_9`: the same build compares equal.
        assert_eq!(
            rebuild_compare("1:1.0.2k-67.el7.centos.6", "1:1.0.2k-67.el7_4.6"),
            Equal
        );
        assert_eq!(
            rebuild_compare("1:1.0.2k-67.el7.centos.6", "1:1.0.2k-67.el7_4.7"),
            Less
        );
        // Debranding tags after the minor release are dropped, the minor release is kept.
        assert_eq!(rebuild_compare("1.2-3.el8_4.rocky", "1.2-3.el8_4"), Equal);
        assert_eq!(rebuild_compare("1.2-3.el8_4.alma", "1.2-3.el8_5"), Less);
        assert_eq!(rebuild_compare("1.2-3.el8", "1.2-3.el8"), Equal);
        assert_eq!(
            rebuild_compare("2.0-1.module+el8.4.0+1", "2.0-1.module+el8.4.0+1"),
            Equal
        );
        // Issue 12 item 5: without rebuild tags the order is rpm's (normalising `_M` away
        // made Rocky's `el8_1.2` newer than RHEL's fix `el8_2.1`).
        assert_eq!(
            rebuild_compare("0:1.33.0-3.el8_1.2", "0:1.33.0-3.el8_2.1"),
            Less
        );
        assert_eq!(
            rebuild_compare("0:7.4p1-16.el7_4.1", "0:7.4p1-16.el7_5"),
            Less
        );
        assert_eq!(
            rebuild_compare("0:7.4p1-16.el7_9.1", "0:7.4p1-16.el7_5"),
            Greater
        );
    }
}
