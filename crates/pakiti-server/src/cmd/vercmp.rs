//! `pakiti vercmp SCHEME [A B]`: compares versions with the exact rpm, dpkg or apk ordering.
//!
//! With two versions it prints `-1`, `0` or `1`. Without them it reads `A<TAB>B` lines from the
//! input and prints one result per line; this stream mode reuses its buffers and allocates
//! nothing per line, so it can check millions of pairs against another implementation.
//!
//! An invalid version is never guessed at: the command names it (and the line) on the error
//! stream and exits with status 2.

use pakiti_core::version::Scheme;
use std::cmp::Ordering;
use std::io::{BufRead, BufWriter, Write};

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status when reading input or writing output failed.
pub const EXIT_IO: u8 = 1;
/// Exit status for an invalid version or a malformed input line.
pub const EXIT_INVALID: u8 = 2;

/// Runs the command: compares `pair` if given, otherwise every `A<TAB>B` line of `input`.
///
/// Results go to `out`, one per line; errors go to `err`. Returns the process exit status:
/// [`EXIT_OK`], [`EXIT_IO`] or [`EXIT_INVALID`] (stream mode stops at the first bad line, after
/// printing the results of the lines before it).
pub fn run(
    scheme: Scheme,
    pair: Option<(&str, &str)>,
    input: impl BufRead,
    out: impl Write,
    mut err: impl Write,
) -> u8 {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let status = match pair {
        Some((a, b)) => match compare_checked(scheme, a, b) {
            Ok(ord) => write_result(&mut out, ord).map_or(EXIT_IO, |()| EXIT_OK),
            Err(message) => {
                // Nothing useful can be done if the error stream itself fails.
                let _ = writeln!(err, "pakiti vercmp: {message}");
                EXIT_INVALID
            }
        },
        None => stream(scheme, input, &mut out, &mut err),
    };
    match out.flush() {
        Ok(()) => status,
        Err(e) => {
            let _ = writeln!(err, "pakiti vercmp: cannot write output: {e}");
            EXIT_IO
        }
    }
}

/// Validates both versions, then compares them.
fn compare_checked(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, String> {
    scheme.validate(a).map_err(|e| e.to_string())?;
    scheme.validate(b).map_err(|e| e.to_string())?;
    Ok(scheme.compare(a, b))
}

fn write_result(out: &mut impl Write, ord: Ordering) -> std::io::Result<()> {
    out.write_all(match ord {
        Ordering::Less => b"-1\n",
        Ordering::Equal => b"0\n",
        Ordering::Greater => b"1\n",
    })
}

/// Stream mode: one `A<TAB>B` pair per line, `\n` or `\r\n` terminated.
fn stream(
    scheme: Scheme,
    mut input: impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
) -> u8 {
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => return EXIT_OK,
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(
                    err,
                    "pakiti vercmp: cannot read input after line {line_no}: {e}"
                );
                return EXIT_IO;
            }
        }
        line_no += 1;
        let mut line = buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        let result = std::str::from_utf8(line)
            .map_err(|_| "not valid UTF-8".to_owned())
            .and_then(|line| match line.split_once('\t') {
                Some((a, b)) if !b.contains('\t') => compare_checked(scheme, a, b),
                _ => Err(format!(
                    "expected two versions separated by one TAB, got {line:?}"
                )),
            });
        match result {
            Ok(ord) => {
                if let Err(e) = write_result(out, ord) {
                    let _ = writeln!(err, "pakiti vercmp: cannot write output: {e}");
                    return EXIT_IO;
                }
            }
            Err(message) => {
                let _ = writeln!(err, "pakiti vercmp: line {line_no}: {message}");
                return EXIT_INVALID;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(scheme: Scheme, pair: Option<(&str, &str)>, input: &str) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run(scheme, pair, input.as_bytes(), &mut out, &mut err);
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn pair_mode() {
        assert_eq!(
            run_str(Scheme::Rpm, Some(("1.0~rc1", "1.0")), ""),
            (0, "-1\n".into(), String::new())
        );
        assert_eq!(
            run_str(Scheme::Deb, Some(("1:1.0", "2.0")), ""),
            (0, "1\n".into(), String::new())
        );
        assert_eq!(
            run_str(Scheme::Apk, Some(("1.0-r0", "1.0-r0")), ""),
            (0, "0\n".into(), String::new())
        );
    }

    #[test]
    fn stream_mode_with_crlf_and_error_line() {
        let (status, out, err) = run_str(Scheme::Deb, None, "1.0\t1.1\r\n2.0\t1.0\nabc\n1\t1\n");
        assert_eq!(status, EXIT_INVALID);
        assert_eq!(out, "-1\n1\n");
        assert_eq!(
            err,
            "pakiti vercmp: line 3: expected two versions separated by one TAB, got \"abc\"\n"
        );
    }

    #[test]
    fn invalid_version_is_named() {
        let (status, out, err) = run_str(Scheme::Apk, Some(("1.0", "1.0bc")), "");
        assert_eq!((status, out.as_str()), (EXIT_INVALID, ""));
        assert!(
            err.starts_with("pakiti vercmp: invalid apk version \"1.0bc\": "),
            "{err}"
        );
    }
}
