//! What a model directory says about itself: `config.json` (architecture) and the YAML front
//! matter of `README.md` (the Hugging Face model card: license, language, tags, task). Both are
//! the model author's claims, copied into the BOM as descriptions, never as evidence.
//!
//! Every read is capped; a file that is too big or malformed is an error naming it, a field of an
//! unexpected shape is left out (a model card is free-form beyond the few fields read here).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{SbomError, SbomInputError, SbomLimits};
use crate::limits::read_capped;

/// The model-card facts found in a model directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardFacts {
    /// `config.json` `model_type` (e.g. `llama`).
    pub architecture_family: Option<String>,
    /// `config.json` `architectures`, joined with `, ` (e.g. `LlamaForCausalLM`).
    pub model_architecture: Option<String>,
    /// README `pipeline_tag` (e.g. `text-generation`).
    pub task: Option<String>,
    /// README `license` (one or more).
    pub licenses: Vec<String>,
    /// README `language`.
    pub languages: Vec<String>,
    /// README `tags`.
    pub tags: Vec<String>,
    /// README `datasets`: what the author says the model was trained on (a claim).
    pub training_datasets: Vec<String>,
    /// README `base_model`.
    pub base_models: Vec<String>,
    /// README `library_name`.
    pub library_name: Option<String>,
}

/// The fields of `config.json` read; everything else is skipped without being stored.
#[derive(Debug, Deserialize)]
struct Config {
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    model_type: Option<String>,
}

impl CardFacts {
    /// Reads `config.json` and `README.md` from the directory `model` when they exist as regular
    /// files (a symbolic link is never followed: it could point outside the model). A model that
    /// is a single file has neither.
    pub fn read(model: &Path, limits: &SbomLimits) -> Result<CardFacts, SbomError> {
        CardFacts::read_if(model, limits, |_| true)
    }

    /// As [`CardFacts::read`], but only the files for which `listed(name)` holds — the builder
    /// passes "is in the manifest", so an ignored README does not describe the model.
    pub(crate) fn read_if(
        model: &Path,
        limits: &SbomLimits,
        listed: impl Fn(&str) -> bool,
    ) -> Result<CardFacts, SbomError> {
        let mut facts = CardFacts::default();
        let regular = |name: &str| {
            listed(name)
                && std::fs::symlink_metadata(model.join(name))
                    .is_ok_and(|m| m.file_type().is_file())
        };
        if !model.is_dir() {
            return Ok(facts);
        }
        if regular("config.json") {
            facts.read_config(&model.join("config.json"), limits)?;
        }
        if regular("README.md") {
            facts.read_readme(&model.join("README.md"), limits)?;
        }
        Ok(facts)
    }

    fn read_config(&mut self, path: &Path, limits: &SbomLimits) -> Result<(), SbomError> {
        let input = |kind| SbomError::input(path, kind);
        let bytes = read_capped(path, limits.max_config_bytes)
            .map_err(|e| input(SbomInputError::Read(e)))?;
        let config: Config =
            serde_json::from_slice(&bytes).map_err(|e| input(SbomInputError::Json(e)))?;
        let architectures = config.architectures.unwrap_or_default();
        let architectures = bounded(architectures, "architectures", limits)
            .map_err(|r| input(SbomInputError::Invalid(r)))?;
        self.model_architecture = (!architectures.is_empty()).then(|| architectures.join(", "));
        self.architecture_family = bounded(
            config.model_type.into_iter().collect(),
            "model_type",
            limits,
        )
        .map_err(|r| input(SbomInputError::Invalid(r)))?
        .pop();
        Ok(())
    }

    fn read_readme(&mut self, path: &Path, limits: &SbomLimits) -> Result<(), SbomError> {
        let input = |kind| SbomError::input(path, kind);
        let bytes = read_capped(path, limits.max_readme_bytes)
            .map_err(|e| input(SbomInputError::Read(e)))?;
        // A README that is not UTF-8 has no front matter we could read; it is still hashed.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Ok(());
        };
        let Some(yaml) = front_matter(text) else {
            return Ok(());
        };
        if yaml.len() > limits.max_front_matter_bytes {
            return Err(input(SbomInputError::Invalid(format!(
                "the YAML front matter is larger than {} bytes",
                limits.max_front_matter_bytes
            ))));
        }
        let value = parse_yaml(yaml, limits).map_err(|e| input(SbomInputError::Yaml(e)))?;
        let Value::Object(map) = value else {
            return Ok(());
        };
        let strings = |key: &str| -> Result<Vec<String>, SbomError> {
            let found = match map.get(key) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(items)) => {
                    if items.len() > limits.max_list_items {
                        return Err(input(SbomInputError::Invalid(format!(
                            "front matter `{key}` has more than {} entries",
                            limits.max_list_items
                        ))));
                    }
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                }
                _ => Vec::new(),
            };
            bounded(found, key, limits).map_err(|r| input(SbomInputError::Invalid(r)))
        };
        self.task = strings("pipeline_tag")?.pop();
        self.licenses = strings("license")?;
        self.languages = strings("language")?;
        self.tags = strings("tags")?;
        self.training_datasets = strings("datasets")?;
        self.base_models = strings("base_model")?;
        self.library_name = strings("library_name")?.pop();
        Ok(())
    }
}

/// Drops empty strings and refuses over-long ones or too many.
fn bounded(values: Vec<String>, key: &str, limits: &SbomLimits) -> Result<Vec<String>, String> {
    if values.len() > limits.max_list_items {
        return Err(format!(
            "`{key}` has more than {} entries",
            limits.max_list_items
        ));
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if v.len() > limits.max_string_bytes || v.chars().any(char::is_control) {
            return Err(format!(
                "`{key}` has a value longer than {} bytes or with control characters",
                limits.max_string_bytes
            ));
        }
        out.push(v.to_owned());
    }
    Ok(out)
}

/// The YAML between a first line `---` and the next line `---` or `...`, or `None` when the
/// text does not start with front matter.
pub(crate) fn front_matter(text: &str) -> Option<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let start = first.len();
    let mut at = start;
    for line in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return text.get(start..at);
        }
        at += line.len();
    }
    None
}

/// Parses front matter into a JSON value under a small budget (nodes, depth, aliases), so an
/// alias bomb or deep nesting is an error rather than a long parse.
fn parse_yaml(yaml: &str, limits: &SbomLimits) -> Result<Value, String> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = limits.max_yaml_nodes.saturating_mul(2);
    budget.max_nodes = limits.max_yaml_nodes;
    budget.max_depth = 32;
    budget.max_aliases = 64;
    budget.max_anchors = 64;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = limits.max_front_matter_bytes;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // The error's first line has the position and the reason; the rest quotes the input.
    serde_saphyr::from_str_with_options(yaml, options).map_err(|e| {
        let text = e.to_string();
        text.lines().next().unwrap_or_default().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn front_matter_is_found_only_at_the_top() {
        assert_eq!(front_matter("---\na: 1\n---\n# T\n"), Some("a: 1\n"));
        assert_eq!(
            front_matter("\u{feff}---\r\na: 1\r\n...\r\n"),
            Some("a: 1\r\n")
        );
        assert_eq!(front_matter("# Title\n---\na: 1\n---\n"), None);
        assert_eq!(front_matter("---\na: 1\n"), None);
        assert_eq!(front_matter("---\n---\n"), Some(""));
    }

    #[test]
    fn reads_config_and_readme() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("config.json"),
            r#"{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":8}"#,
        )
        .unwrap();
        fs::write(
            dir.path().join("README.md"),
            "---\nlicense: apache-2.0\nlanguage:\n- en\n- fr\ntags: [chat, 12]\n\
             pipeline_tag: text-generation\ndatasets: [wiki]\nmodel-index: [{name: x}]\n---\n# Card\n",
        )
        .unwrap();
        let facts = CardFacts::read(dir.path(), &SbomLimits::default()).unwrap();
        assert_eq!(facts.architecture_family.as_deref(), Some("llama"));
        assert_eq!(
            facts.model_architecture.as_deref(),
            Some("LlamaForCausalLM")
        );
        assert_eq!(facts.task.as_deref(), Some("text-generation"));
        assert_eq!(facts.licenses, ["apache-2.0"]);
        assert_eq!(facts.languages, ["en", "fr"]);
        assert_eq!(facts.tags, ["chat"]);
        assert_eq!(facts.training_datasets, ["wiki"]);
    }

    #[test]
    fn bad_and_oversized_input_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let err = CardFacts::read(dir.path(), &SbomLimits::default()).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");

        fs::write(dir.path().join("config.json"), r#"{"architectures":"x"}"#).unwrap();
        assert!(CardFacts::read(dir.path(), &SbomLimits::default()).is_err());

        fs::write(dir.path().join("config.json"), "{}").unwrap();
        let limits = SbomLimits {
            max_readme_bytes: 10,
            ..SbomLimits::default()
        };
        fs::write(
            dir.path().join("README.md"),
            "---\na: 1\n---\nlong enough text",
        )
        .unwrap();
        let err = CardFacts::read(dir.path(), &limits).unwrap_err();
        assert!(err.to_string().contains("README.md"), "{err}");

        // An alias bomb (46,080 nodes once expanded) breaches the node budget.
        let bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n---\n";
        fs::write(dir.path().join("README.md"), bomb).unwrap();
        let err = CardFacts::read(dir.path(), &SbomLimits::default()).unwrap_err();
        assert!(err.to_string().contains("budget breached"), "{err}");

        fs::write(
            dir.path().join("README.md"),
            "---\nlicense: [unclosed\n---\n",
        )
        .unwrap();
        let err = CardFacts::read(dir.path(), &SbomLimits::default()).unwrap_err();
        assert!(err.to_string().contains("README.md"), "{err}");
    }

    #[test]
    fn links_and_unlisted_files_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.json");
        fs::write(&outside, r#"{"model_type":"from-outside"}"#).unwrap();
        let model = dir.path().join("m");
        fs::create_dir(&model).unwrap();
        std::os::unix::fs::symlink(&outside, model.join("config.json")).unwrap();
        let facts = CardFacts::read(&model, &SbomLimits::default()).unwrap();
        assert_eq!(facts.architecture_family, None);
        fs::remove_file(model.join("config.json")).unwrap();
        fs::copy(&outside, model.join("config.json")).unwrap();
        let facts = CardFacts::read_if(&model, &SbomLimits::default(), |n| n != "config.json");
        assert_eq!(facts.unwrap().architecture_family, None);
    }

    #[test]
    fn readme_without_front_matter_or_not_utf8_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("README.md"), "# Just a title\n").unwrap();
        assert_eq!(
            CardFacts::read(dir.path(), &SbomLimits::default()).unwrap(),
            CardFacts::default()
        );
        fs::write(dir.path().join("README.md"), b"---\n\xff\n---\n").unwrap();
        assert!(CardFacts::read(dir.path(), &SbomLimits::default()).is_ok());
    }
}
