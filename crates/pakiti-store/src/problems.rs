//! The unreadable lines of a stored report and their codec (`reports.problems`,
//! `hosts.report_problems`): a value of the model, in a leaf module so that the model and the
//! statements can both use it.

use crate::error::StoreError;

/// One unreadable line of a stored report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReportProblem {
    /// 1-based line (or entry) number.
    pub line: i64,
    /// Why it could not be read.
    pub reason: String,
    /// The start of the line as received.
    pub excerpt: String,
}

/// The unreadable lines of a report: how many, and the first few in detail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReportProblems {
    /// How many lines could not be read.
    pub count: i64,
    /// The first of them.
    pub lines: Vec<ReportProblem>,
}

impl ReportProblems {
    /// Whether every line was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The stored text of `lines`: one `line<TAB>reason<TAB>excerpt` per line, with tabs and
    /// line breaks inside the values replaced by spaces; `None` when there are none.
    #[must_use]
    pub fn encode_lines(&self) -> Option<String> {
        if self.lines.is_empty() {
            return None;
        }
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        Some(
            self.lines
                .iter()
                .map(|p| format!("{}\t{}\t{}", p.line, clean(&p.reason), clean(&p.excerpt)))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// Reads what [`ReportProblems::encode_lines`] wrote.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a line that is not `number<TAB>reason<TAB>excerpt`.
    pub fn decode(count: i64, text: Option<&str>) -> Result<ReportProblems, StoreError> {
        let mut lines = Vec::new();
        for l in text.unwrap_or("").split('\n').filter(|l| !l.is_empty()) {
            let mut parts = l.splitn(3, '\t');
            let (Some(n), Some(reason), Some(excerpt)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(StoreError::corrupt("report problems", l.to_owned()));
            };
            let line = n
                .parse()
                .map_err(|_| StoreError::corrupt("report problems", l.to_owned()))?;
            lines.push(ReportProblem {
                line,
                reason: reason.to_owned(),
                excerpt: excerpt.to_owned(),
            });
        }
        Ok(ReportProblems { count, lines })
    }
}
