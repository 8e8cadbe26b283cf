//! `?format=csv` and `?format=json` on every list: everything matching (in the viewer's
//! scope), not one page.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The `format` query parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FormatQuery {
    /// Export format.
    pub format: Option<Format>,
}

/// Rows that export as CSV: a header and one record per row.
pub trait CsvRow {
    /// Column names.
    const HEADER: &'static [&'static str];
    /// The row's fields, in [`Self::HEADER`] order.
    fn fields(&self) -> Vec<String>;
}

/// A CSV download named `name.csv`.
///
/// # Errors
/// Writing the CSV fails (it cannot, into memory, but the type says so).
pub fn csv<T: CsvRow>(name: &str, rows: &[T]) -> Result<Response, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(T::HEADER)
        .map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        w.write_record(r.fields())
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
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

/// A JSON array download.
#[must_use]
pub fn json<T: Serialize>(rows: &[T]) -> Response {
    axum::Json(rows).into_response()
}

/// The export in `format` (`None` for [`Format::Html`]: the caller renders its own answer).
///
/// # Errors
/// See [`csv`].
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
