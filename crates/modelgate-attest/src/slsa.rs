//! SLSA Provenance v1 predicates (`https://slsa.dev/provenance/v1`), for statements that say how
//! an artifact (an evaluation log, a scan report) was produced. The eval runner fills these in
//! and signs them with [`crate::attest_files`] or [`crate::Envelope::sign`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Predicate type of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// An in-toto resource descriptor (a dependency, a byproduct).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Algorithm → hex digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Extra information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Value>,
}

/// SLSA Provenance v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What was run, with which inputs.
    pub build_definition: BuildDefinition,
    /// Who ran it, when.
    pub run_details: RunDetails,
}

/// The inputs of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// URI of the kind of run (for the eval runner: its spec schema).
    pub build_type: String,
    /// Parameters under the caller's control.
    pub external_parameters: serde_json::Value,
    /// Parameters set by the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<serde_json::Value>,
    /// Artifacts the run consumed (model, dataset, spec), by digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// The circumstances of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The platform that ran it.
    pub builder: Builder,
    /// Timing and identity of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RunMetadata>,
    /// Other outputs worth recording (logs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// The platform identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// URI identifying the builder.
    pub id: String,
    /// Component versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// Run identity and times (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunMetadata {
    /// Unique id of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

impl Provenance {
    /// The predicate as JSON, ready for [`crate::Statement::new`].
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_spec_field_names() {
        let p = Provenance {
            build_definition: BuildDefinition {
                build_type: "https://modelgate.invalid/eval/v1".into(),
                external_parameters: serde_json::json!({"spec": "evals/safety.yaml"}),
                internal_parameters: None,
                resolved_dependencies: vec![ResourceDescriptor {
                    name: Some("model".into()),
                    digest: BTreeMap::from([("sha256".into(), "ab".repeat(32))]),
                    ..ResourceDescriptor::default()
                }],
            },
            run_details: RunDetails {
                builder: Builder {
                    id: "https://modelgate.invalid/runner".into(),
                    version: BTreeMap::new(),
                },
                metadata: Some(RunMetadata {
                    invocation_id: Some("run-1".into()),
                    ..RunMetadata::default()
                }),
                byproducts: vec![],
            },
        };
        let v = p.to_value();
        assert_eq!(
            v["buildDefinition"]["buildType"],
            "https://modelgate.invalid/eval/v1"
        );
        assert_eq!(
            v["buildDefinition"]["resolvedDependencies"][0]["name"],
            "model"
        );
        assert_eq!(v["runDetails"]["metadata"]["invocationId"], "run-1");
        assert!(v["runDetails"].get("byproducts").is_none());
        let back: Provenance = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }
}
