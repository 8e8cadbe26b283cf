//! `?format=csv` and `?format=json` on every list: everything matching (in the viewer's
//! scope), not one page.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The `format` query parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The page (or the API's own JSON).
    #[default]
    Html,
    /// A JSON array of every matching row.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Query carrying only `format`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` or `json`: every row as a download instead of the default answer.
    pub format: Option<Format>,
}

/// Rows that export as CSV: a header and one record per row.
pub trait CsvRow {
    /// Column names.
    const HEADER: &'static [&'static str];
    /// The row's fields, in [`Self::HEADER`] order.
    fn fields(&self) -> Vec<String>;
}

/// The CSV text of `rows`: a header row, then one record per row, every cell through
/// [`neutral`]; quoting is the `csv` crate's.
///
/// # Errors
/// Writing the CSV fails (it cannot, into memory, but the type says so).
pub fn csv_body<T: CsvRow>(rows: &[T]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(T::HEADER)
        .map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        w.write_record(r.fields().iter().map(|f| neutral(f).into_owned()))
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
}

/// A CSV download named `name.csv`.
///
/// # Errors
/// See [`csv_body`].
pub fn csv<T: CsvRow>(name: &str, rows: &[T]) -> Result<Response, AppError> {
    let body = csv_body(rows)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// A CSV cell that a spreadsheet program shows as text, never runs as a formula: cells that
/// start with `=`, `+`, `-`, `@`, a tab or a carriage return get a leading `'` (the OWASP
/// rule for CSV injection). Host names, package names, tags and OS strings come from agents
/// and users, so every exported cell goes through here.
#[must_use]
pub fn neutral(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A JSON array download.
#[must_use]
pub fn json<T: Serialize>(rows: &[T]) -> Response {
    axum::Json(rows).into_response()
}

/// The export in `format` (`None` for [`Format::Html`]: the caller renders its own answer).
///
/// # Errors
/// See [`csv()`].
pub fn export<T: CsvRow + Serialize>(
    format: Format,
    name: &str,
    rows: &[T],
) -> Result<Option<Response>, AppError> {
    match format {
        Format::Html => Ok(None),
        Format::Json => Ok(Some(json(rows))),
        Format::Csv => csv(name, rows).map(Some),
    }
}

/// An API list: `rows` as JSON, or as the export `q` asks for (`?format=csv` or `json`).
///
/// # Errors
/// See [`csv()`].
pub fn list<T: CsvRow + Serialize>(
    q: &FormatQuery,
    name: &str,
    rows: &[T],
) -> Result<Response, AppError> {
    Ok(export(q.format.unwrap_or_default(), name, rows)?.unwrap_or_else(|| json(rows)))
}

/// Joins list fields for a CSV cell.
#[must_use]
pub fn join(items: &[String]) -> String {
    items.join(" ")
}

/// An optional field as a CSV cell.
#[must_use]
pub fn opt(s: Option<&String>) -> String {
    s.cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (cell, out) in [
            (
                "=HYPERLINK(\"http://evil\")",
                "'=HYPERLINK(\"http://evil\")",
            ),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("wn042.example.org", "wn042.example.org"),
            ("1:2.0-3", "1:2.0-3"),
            ("", ""),
        ] {
            assert_eq!(neutral(cell), out, "{cell:?}");
        }
    }
}
