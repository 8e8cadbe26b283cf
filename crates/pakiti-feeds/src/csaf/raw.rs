//! Serde shapes of CSAF 2.0 documents, as lenient as the data needs: every field optional.
//!
//! Categories stay strings so an unknown one is reported by the converter rather than failing
//! the whole document; `product_status` is a map so that unknown (or misspelt) status keys
//! are seen instead of silently dropped.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One JSON document: CSAF (`document` + `product_tree` + `vulnerabilities`), a deletion
/// marker (`document.tracking.status == "deleted"` without `csaf_version`), or OpenVEX.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDoc {
    pub(crate) document: Option<RawDocument>,
    pub(crate) product_tree: Option<RawProductTree>,
    pub(crate) vulnerabilities: Vec<RawVulnerability>,
    /// OpenVEX `@context` (`https://openvex.dev/ns/v0.2.0`).
    #[serde(rename = "@context")]
    pub(crate) context: Option<serde_json::Value>,
    /// OpenVEX statements.
    pub(crate) statements: Option<Vec<RawStatement>>,
    /// OpenVEX document id.
    #[serde(rename = "@id")]
    pub(crate) id: Option<String>,
    /// OpenVEX timestamps.
    pub(crate) timestamp: Option<String>,
    pub(crate) last_updated: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDocument {
    pub(crate) csaf_version: Option<String>,
    pub(crate) category: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) aggregate_severity: Option<RawText>,
    pub(crate) tracking: Option<RawTracking>,
    pub(crate) references: Vec<RawReference>,
    pub(crate) publisher: Option<RawPublisher>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawText {
    pub(crate) text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawPublisher {
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawTracking {
    pub(crate) id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) initial_release_date: Option<String>,
    pub(crate) current_release_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawReference {
    pub(crate) category: Option<String>,
    pub(crate) url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawProductTree {
    pub(crate) branches: Vec<RawBranch>,
    pub(crate) full_product_names: Vec<RawProduct>,
    pub(crate) relationships: Vec<RawRelationship>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawBranch {
    pub(crate) category: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) product: Option<RawProduct>,
    pub(crate) branches: Vec<RawBranch>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawProduct {
    pub(crate) name: Option<String>,
    pub(crate) product_id: String,
    pub(crate) product_identification_helper: Option<RawHelper>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawHelper {
    pub(crate) cpe: Option<String>,
    pub(crate) purl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawRelationship {
    pub(crate) category: String,
    pub(crate) full_product_name: RawProduct,
    pub(crate) product_reference: String,
    pub(crate) relates_to_product_reference: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawVulnerability {
    pub(crate) cve: Option<String>,
    pub(crate) product_status: BTreeMap<String, Vec<String>>,
    pub(crate) remediations: Vec<RawRemediation>,
    pub(crate) threats: Vec<RawThreat>,
    pub(crate) references: Vec<RawReference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawRemediation {
    pub(crate) category: String,
    pub(crate) details: Option<String>,
    pub(crate) product_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawThreat {
    pub(crate) category: String,
    pub(crate) details: Option<String>,
}

/// One OpenVEX statement.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawStatement {
    pub(crate) vulnerability: RawVexVulnerability,
    pub(crate) products: Vec<RawVexProduct>,
    pub(crate) status: String,
    pub(crate) timestamp: Option<String>,
    pub(crate) action_statement: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawVexVulnerability {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) aliases: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawVexProduct {
    #[serde(rename = "@id")]
    pub(crate) id: String,
}
