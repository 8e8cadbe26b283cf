//! The error type of every parser in this crate.

/// Why a report, a reply or a query could not be parsed.
///
/// Messages are lowercase and name the field or the line at fault, e.g.
/// `pkgs line 3: expected four quoted tokens, found 3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A package line of a protocol-4 `pkgs` field (or of a `stdout`-format report) is malformed.
    #[error("pkgs line {line}: {reason}")]
    PkgsLine {
        /// 1-based line number inside the package list.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of a protocol-5 body (or of a `stdout`-format header) is malformed.
    #[error("report line {line}: {reason}")]
    ReportLine {
        /// 1-based line number inside the body.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The reporting host name is missing or empty.
    #[error("empty host: the report does not name the reporting host")]
    EmptyHost,
    /// A header field or query parameter has a value we cannot accept.
    #[error("field {field}: {reason}")]
    Field {
        /// The field or parameter name as sent.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `version`/`protocol` value names a protocol this crate does not speak.
    #[error("unsupported protocol version {0:?}")]
    UnsupportedProtocol(String),
    /// A JSON report carries a `report_version` this build does not understand.
    #[error(
        "unsupported report_version {found}: this build understands report_version {supported}"
    )]
    UnsupportedReportVersion {
        /// The version the sender used.
        found: u64,
        /// The version this build speaks ([`crate::json::REPORT_VERSION`]).
        supported: u32,
    },
    /// The JSON document is not a valid report or reply.
    #[error("invalid json: {0}")]
    Json(String),
    /// The report has no package that could be read (an empty list, or only unreadable lines).
    #[error("no readable package: {0}")]
    NoReadablePackage(String),
    /// The body is not valid UTF-8.
    #[error("report line {line}: not valid utf-8")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
    },
}

impl WireError {
    pub(crate) fn pkgs(line: usize, reason: impl Into<String>) -> Self {
        WireError::PkgsLine {
            line,
            reason: reason.into(),
        }
    }

    pub(crate) fn report_line(line: usize, reason: impl Into<String>) -> Self {
        WireError::ReportLine {
            line,
            reason: reason.into(),
        }
    }

    pub(crate) fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        WireError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
