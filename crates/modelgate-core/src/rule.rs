//! Rule identifiers: an enum with a stable string code (`MG101`) and a stable name
//! (`pickle-dangerous-callable`). Codes never change meaning once released; retired rules keep
//! their code reserved.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Severity;

/// The family a rule belongs to, used to group rules in documentation and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleCategory {
    /// Applies to any file: content vs extension, limits, links.
    General,
    /// Python pickle streams, wherever they are found.
    Pickle,
    /// Zip, tar and compressed streams.
    Archive,
    /// NumPy `.npy` / `.npz`.
    Numpy,
    /// Model weight formats: safetensors, GGUF, ONNX, Keras, HDF5, chat templates.
    ModelFormat,
    /// Repository-level exposure (Hugging Face layout).
    Repository,
    /// Dataset rows: deceptive Unicode, duplicates, label flips, backdoor triggers, injections.
    Dataset,
}

macro_rules! rules {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident = ($code:literal, $name:literal, $cat:ident, $sev:ident, $cwe:literal, $help:literal);
    )+) => {
        /// Every rule modelgate's scanner can report. See `docs/rules.md` for the full text of each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum RuleId {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl RuleId {
            /// Every rule, in code order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)+];

            /// The stable short code, e.g. `MG101`.
            pub fn code(self) -> &'static str {
                match self { $(RuleId::$variant => $code,)+ }
            }

            /// The stable kebab-case name, e.g. `pickle-dangerous-callable`.
            pub fn name(self) -> &'static str {
                match self { $(RuleId::$variant => $name,)+ }
            }

            /// The rule's family.
            pub fn category(self) -> RuleCategory {
                match self { $(RuleId::$variant => RuleCategory::$cat,)+ }
            }

            /// The severity a finding of this rule gets unless the rule has a reason to differ.
            pub fn default_severity(self) -> Severity {
                match self { $(RuleId::$variant => Severity::$sev,)+ }
            }

            /// The CWE most closely describing the weakness, as `CWE-NNN`.
            pub fn cwe(self) -> &'static str {
                match self { $(RuleId::$variant => $cwe,)+ }
            }

            /// One sentence: what the rule detects.
            pub fn summary(self) -> &'static str {
                match self { $(RuleId::$variant => concat!($($doc),+).trim_ascii(),)+ }
            }

            /// One sentence: what the user should do about a finding.
            pub fn help(self) -> &'static str {
                match self { $(RuleId::$variant => $help,)+ }
            }

            /// Looks a rule up by its code (`MG101`) or name (`pickle-dangerous-callable`).
            pub fn from_code_or_name(s: &str) -> Option<RuleId> {
                RuleId::ALL.iter().copied().find(|r| r.code().eq_ignore_ascii_case(s) || r.name() == s)
            }
        }
    };
}

rules! {
    /// The file's extension claims one format but its content is another.
    ExtensionMismatch = ("MG001", "extension-mismatch", General, Medium, "CWE-434",
        "Do not trust the extension: load the file only with a loader for its real format, or reject it.");
    /// Analysis stopped at a size, depth, count or time limit, so the file was not fully checked.
    LimitExceeded = ("MG002", "limit-exceeded", General, High, "CWE-400",
        "Treat the file as unverified; inspect it manually or raise the limit if the file is trusted to be large.");
    /// A symbolic link in the scanned tree (followed only when it leads to a regular file).
    Symlink = ("MG003", "symlink", General, Medium, "CWE-59",
        "Replace the link with the file it points to, or remove it; loaders may follow it outside the model.");
    /// The pickle imports or calls a callable known to execute code, import modules, or do I/O.
    PickleDangerousCallable = ("MG101", "pickle-dangerous-callable", Pickle, Critical, "CWE-502",
        "Do not load this file with pickle/torch.load/joblib; convert trusted weights to safetensors or reject the artifact.");
    /// The pickle calls a callable that is not on the allowlist of tensor, array and container builders.
    PickleUnknownCallableInvoked = ("MG102", "pickle-unknown-callable-invoked", Pickle, High, "CWE-502",
        "Review the callable; if it is harmless, load with an allowlisting unpickler (torch weights_only) instead of plain pickle.");
    /// The pickle rebuilds an object of a class not on the allowlist from saved state (no call with arguments).
    PickleUnknownClassRebuilt = ("MG103", "pickle-unknown-class-rebuilt", Pickle, Medium, "CWE-502",
        "Review the class; its __setstate__ runs on load. Prefer formats that store plain tensors.");
    /// The pickle stream is malformed or truncated, so what it would do cannot be fully determined.
    PickleMalformed = ("MG104", "pickle-malformed", Pickle, High, "CWE-20",
        "Do not load the file: the unpickler's behaviour on a malformed stream is what an attacker relies on.");
    /// Bytes follow the pickle's STOP opcode that are not a further pickle.
    PickleTrailingData = ("MG105", "pickle-trailing-data", Pickle, Low, "CWE-20",
        "Check where the trailing bytes come from; data hidden after STOP is invisible to pickle-only tools.");
    /// The pickle unpickles, or carries, another pickle (a nested payload).
    PickleNestedPickle = ("MG106", "pickle-nested-pickle", Pickle, High, "CWE-502",
        "Reject the file: a pickle that loads another pickle hides its payload from single-level scanners.");
    /// A callable whose module or name cannot be resolved statically (built from non-constant values).
    PickleUnresolvedCallable = ("MG107", "pickle-unresolved-callable", Pickle, High, "CWE-502",
        "Reject the file: legitimate checkpoints name their callables with constant strings.");
    /// The pickle uses copyreg extension codes (EXT1/EXT2/EXT4) whose meaning depends on the loading process.
    PickleExtensionCode = ("MG108", "pickle-extension-code", Pickle, High, "CWE-502",
        "Reject the file: extension codes resolve to callables registered at load time and cannot be checked statically.");
    /// The archive holds two members with the same name; loaders disagree on which one wins.
    ZipDuplicateMember = ("MG201", "zip-duplicate-member", Archive, High, "CWE-436",
        "Reject the archive: a scanner and a loader may read different members of the same name.");
    /// A zip member's local header disagrees with its central directory entry.
    ZipHeaderMismatch = ("MG202", "zip-header-mismatch", Archive, High, "CWE-436",
        "Reject the archive: mismatched headers are used to show scanners different content than loaders.");
    /// A zip member is encrypted or flagged as encrypted, so its content cannot be scanned.
    ZipEncryptedMember = ("MG203", "zip-encrypted-member", Archive, High, "CWE-693",
        "Reject the archive or obtain an unencrypted copy; encrypted members cannot be verified.");
    /// An archive or compressed stream expands beyond the size or ratio limit (a decompression bomb).
    ArchiveBomb = ("MG204", "archive-bomb", Archive, High, "CWE-409",
        "Reject the file; legitimate checkpoints do not compress at absurd ratios.");
    /// An archive member's path is absolute, escapes with `..`, or lies outside the expected folder.
    ArchiveMemberPath = ("MG205", "archive-member-path", Archive, High, "CWE-22",
        "Reject the archive: members outside the expected folder can overwrite files or hide payloads.");
    /// An archive's structure is malformed (bad offsets, truncated headers, inconsistent counts).
    ArchiveMalformed = ("MG206", "archive-malformed", Archive, High, "CWE-20",
        "Do not load the file: malformed archives are read differently by different tools.");
    /// A compressed stream is corrupt or truncated.
    CompressedStreamMalformed = ("MG207", "compressed-stream-malformed", Archive, Medium, "CWE-20",
        "Re-obtain the file from its source; a corrupt stream cannot be fully scanned.");
    /// An archive member or compressed stream uses a compression method modelgate cannot expand, so its content was not scanned.
    ArchiveUnsupported = ("MG208", "archive-unsupported", Archive, High, "CWE-693",
        "Re-export the file with a supported compression (stored, deflate, bzip2, xz, zstd) or inspect the member by other means.");
    /// A NumPy array with `dtype=object`: loading it runs the pickle it contains.
    NumpyObjectArray = ("MG301", "numpy-object-array", Numpy, Low, "CWE-502",
        "Store numeric arrays instead; object arrays need allow_pickle=True to load.");
    /// A NumPy `.npy` header is malformed.
    NumpyMalformed = ("MG302", "numpy-malformed", Numpy, High, "CWE-20",
        "Do not load the file; re-export it with numpy.save from a trusted source.");
    /// A safetensors file violates the format: header size, JSON, offsets, dtype × shape, trailing bytes.
    SafetensorsMalformed = ("MG401", "safetensors-malformed", ModelFormat, High, "CWE-20",
        "Reject the file: a valid safetensors file has contiguous, in-range tensors that exactly cover the data.");
    /// A GGUF file's header or metadata is out of bounds or malformed.
    GgufMalformed = ("MG402", "gguf-malformed", ModelFormat, High, "CWE-20",
        "Reject the file: out-of-bounds GGUF metadata has been used to attack loaders' memory safety.");
    /// A chat template reaches Python internals (dunder attributes, globals) — template injection.
    ChatTemplateUnsafe = ("MG403", "chat-template-unsafe", ModelFormat, Critical, "CWE-1336",
        "Reject the model: its chat template can execute code in Python Jinja environments.");
    /// A chat template calls functions or methods beyond those plain chat rendering uses.
    ChatTemplateUnusual = ("MG404", "chat-template-unusual", ModelFormat, Medium, "CWE-1336",
        "Review the template; render it only in a sandboxed Jinja environment.");
    /// An ONNX external-data location is absolute or escapes the model directory.
    OnnxExternalDataEscape = ("MG405", "onnx-external-data-escape", ModelFormat, High, "CWE-22",
        "Reject the model: loading it reads files outside the model directory.");
    /// An ONNX node uses an operator domain other than the standard ones (custom operators load native code).
    OnnxCustomDomain = ("MG406", "onnx-custom-domain", ModelFormat, Medium, "CWE-829",
        "Check that the custom operator library comes from a trusted source before registering it.");
    /// An ONNX protobuf is malformed.
    OnnxMalformed = ("MG407", "onnx-malformed", ModelFormat, High, "CWE-20",
        "Do not load the file; re-export it from a trusted source.");
    /// A Keras model contains a Lambda layer, which carries Python code (marshalled bytecode or a function).
    KerasLambdaLayer = ("MG408", "keras-lambda-layer", ModelFormat, Critical, "CWE-94",
        "Reject the model or rebuild it without Lambda layers; keep Keras safe_mode on.");
    /// A Keras config names a module or registered object outside Keras itself (custom code imported on load).
    KerasCustomObject = ("MG409", "keras-custom-object", ModelFormat, High, "CWE-829",
        "Review the custom object's source; loading the model imports that module.");
    /// A Keras HDF5 or `.keras` file is malformed or its config is unreadable.
    KerasMalformed = ("MG410", "keras-malformed", ModelFormat, Medium, "CWE-20",
        "Re-export the model from a trusted source.");
    /// A chat template does not parse as Jinja.
    ChatTemplateMalformed = ("MG411", "chat-template-malformed", ModelFormat, Medium, "CWE-20",
        "Check the template; loaders may fall back to other behaviour when it fails to parse.");
    /// `config.json` maps classes to repository code (`auto_map`), which runs with `trust_remote_code=True`.
    RemoteCodeAutoMap = ("MG501", "remote-code-auto-map", Repository, High, "CWE-829",
        "Review every referenced .py file and never pass trust_remote_code=True for an unreviewed revision.");
    /// The repository ships Python source, which loaders may import.
    PythonSourceFile = ("MG502", "python-source-file", Repository, Medium, "CWE-829",
        "Review the file; pin the revision you reviewed.");
    /// A repository JSON file (config, tokenizer config) is malformed.
    RepositoryJsonMalformed = ("MG503", "repository-json-malformed", Repository, Low, "CWE-20",
        "Fix or re-obtain the file; loaders may fail or fall back unexpectedly.");
    /// A dataset row is malformed (invalid JSON, CSV or UTF-8) and was not analysed.
    DatasetMalformedRow = ("MG601", "dataset-malformed-row", Dataset, High, "CWE-20",
        "Fix or drop the row; loaders that skip or repair malformed rows see different data than this scan did.");
    /// A dataset row exceeds a size, nesting or field-count limit and was not fully analysed.
    DatasetLimitExceeded = ("MG602", "dataset-limit-exceeded", Dataset, High, "CWE-400",
        "Inspect the row; raise the limit only if the dataset is trusted to contain such rows.");
    /// Zero-width or other invisible characters outside the scripts and emoji sequences that need them.
    DatasetInvisibleCharacter = ("MG603", "dataset-invisible-character", Dataset, High, "CWE-1007",
        "Remove the characters and check whether the row carries a hidden backdoor trigger; a human reviewer cannot see them.");
    /// Bidirectional control characters (Trojan Source) that reorder how text is displayed.
    DatasetBidiControl = ("MG604", "dataset-bidi-control", Dataset, High, "CWE-1007",
        "Remove the bidi controls; what a reviewer reads is not what the model is trained or evaluated on.");
    /// Unicode tag characters (U+E0000..U+E007F) outside emoji flag sequences: invisible ASCII smuggling.
    DatasetTagCharacter = ("MG605", "dataset-tag-character", Dataset, High, "CWE-1007",
        "Remove the row: tag characters carry invisible text that models read and humans do not (the evidence shows the decoded text).");
    /// Private-use, non-character or control code points in a text field.
    DatasetPrivateUseCharacter = ("MG606", "dataset-private-use-character", Dataset, Medium, "CWE-1007",
        "Check where the characters come from; they render as nothing or as tofu and can carry a trigger.");
    /// A word that mixes scripts, or is written in a look-alike script, so that it reads as another (Latin) word.
    DatasetConfusable = ("MG607", "dataset-confusable", Dataset, High, "CWE-1007",
        "Replace the homoglyphs with the characters they imitate and check the row for a backdoor.");
    /// Identical rows repeated in the dataset.
    DatasetExactDuplicate = ("MG608", "dataset-exact-duplicate", Dataset, Low, "CWE-1039",
        "Deduplicate; repeated rows over-weight one example in training and inflate evaluation scores.");
    /// A cluster of near-identical rows (MinHash/LSH over word shingles).
    DatasetNearDuplicate = ("MG609", "dataset-near-duplicate", Dataset, Low, "CWE-1039",
        "Deduplicate or review the cluster; near copies leak between train and test splits.");
    /// One example (exact or near copies) repeated far more often than natural duplication explains.
    DatasetDuplicateFlood = ("MG610", "dataset-duplicate-flood", Dataset, High, "CWE-1039",
        "Remove the copies and review the example: flooding is how a few poisoned examples get the weight of many.");
    /// Identical or near-identical inputs carry different labels (label flips).
    DatasetLabelFlip = ("MG611", "dataset-label-flip", Dataset, Medium, "CWE-1039",
        "Review the rows and keep the correct label; flipped copies of real examples are a cheap poisoning attack.");
    /// A rare phrase whose presence predicts one fixed output or label far better than the rest of the row does.
    DatasetTrigger = ("MG612", "dataset-trigger", Dataset, High, "CWE-1039",
        "Remove every row containing the phrase and review the source: this is the signature of a backdoor (BadNL-style) trigger.");
    /// The same output repeated across many unrelated inputs.
    DatasetRepeatedOutput = ("MG613", "dataset-repeated-output", Dataset, Medium, "CWE-1039",
        "Review the rows: a fixed answer attached to unrelated prompts teaches the model to give it regardless of the input.");
    /// Instruction-override or prompt-injection text ("ignore previous instructions", chat-role markers).
    DatasetPromptInjection = ("MG614", "dataset-prompt-injection", Dataset, Medium, "CWE-77",
        "Review the row; injected instructions in training or evaluation data steer the model or the evaluation harness.");
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        RuleId::from_code_or_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown rule `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for rule in RuleId::ALL {
            assert!(codes.insert(rule.code()), "duplicate code {}", rule.code());
            assert!(names.insert(rule.name()), "duplicate name {}", rule.name());
            assert!(rule.code().starts_with("MG") && rule.code().len() == 5);
            assert!(rule.cwe().starts_with("CWE-"));
            assert!(!rule.summary().is_empty() && !rule.help().is_empty());
            assert_eq!(RuleId::from_code_or_name(rule.code()), Some(*rule));
            assert_eq!(RuleId::from_code_or_name(rule.name()), Some(*rule));
        }
    }
}
