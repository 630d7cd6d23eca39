//! in-toto Statement v1: subjects (artifacts named by digest), a predicate type and a predicate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FormatError;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A subject: an artifact named by its digests (`{"sha256": "…"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Informative name (a file name, a model name); matching is by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm name → lowercase hex digest.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1. Unknown fields are ignored when parsing, as the spec asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claim itself (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

impl Statement {
    /// A v1 statement.
    pub fn new(subject: Vec<Subject>, predicate_type: &str, predicate: serde_json::Value) -> Self {
        Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: predicate_type.to_owned(),
            predicate: Some(predicate),
        }
    }

    /// Compact JSON: the DSSE payload.
    pub fn to_json(&self) -> Vec<u8> {
        // A tree of strings, maps and JSON values always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks a statement: `_type` must be v1, there must be at least one subject,
    /// and the predicate, when present, must be an object.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FormatError> {
        let st: Statement =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Statement(e.to_string()))?;
        if st.statement_type != STATEMENT_TYPE {
            return Err(FormatError::Statement(format!(
                "`_type` is `{}`, expected `{STATEMENT_TYPE}`",
                st.statement_type
            )));
        }
        if st.subject.is_empty() {
            return Err(FormatError::Statement("it has no subject".into()));
        }
        if st.predicate.as_ref().is_some_and(|p| !p.is_object()) {
            return Err(FormatError::Statement(
                "the predicate is not a JSON object".into(),
            ));
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let mut digest = BTreeMap::new();
        digest.insert("sha256".to_owned(), "00".repeat(32));
        let st = Statement::new(
            vec![Subject {
                name: Some("x".into()),
                digest,
            }],
            "https://example/p",
            serde_json::json!({"k": 1}),
        );
        assert_eq!(Statement::from_json(&st.to_json()).unwrap(), st);
        let v0 = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{}}],"predicateType":"p"}"#;
        assert!(Statement::from_json(v0).is_err());
        let none =
            br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}"#;
        assert!(Statement::from_json(none).is_err());
        let scalar = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":"p","predicate":3}"#;
        assert!(Statement::from_json(scalar).is_err());
        let extra = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{},"uri":"u"}],"predicateType":"p","future":1}"#;
        assert!(Statement::from_json(extra).is_ok());
    }
}
