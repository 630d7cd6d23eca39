//! `modelgate hash`: the manifest of a file or directory.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use modelgate_attest::{
    DEFAULT_SHARD_SIZE, HashAlgorithm, HashOptions, Manifest, Method, Serialization,
    algorithm::to_hex, hash_model, path_inside,
};
use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::{HashArgs, ManifestAlgorithm, ManifestArgs, ResultFormat};

/// Turns the shared manifest flags into library options. Ignore paths are taken relative to the
/// current directory, as `model_signing` takes them, and must lie inside the model.
pub(crate) fn hash_options(args: &ManifestArgs, model: &Path) -> anyhow::Result<HashOptions> {
    let algorithm = match args.algorithm {
        ManifestAlgorithm::Sha256 => HashAlgorithm::Sha256,
        ManifestAlgorithm::Blake2b => HashAlgorithm::Blake2b,
        ManifestAlgorithm::Blake3 => HashAlgorithm::Blake3,
    };
    let shard_size = match (args.shard_size, args.sharded) {
        (Some(n), _) => Some(n),
        (None, true) => Some(DEFAULT_SHARD_SIZE),
        (None, false) => None,
    };
    if shard_size.is_some() && algorithm == HashAlgorithm::Blake3 {
        anyhow::bail!(
            "--sharded and --shard-size cannot be combined with --algorithm blake3: BLAKE3 is \
             already parallel within a file, and model signing defines no sharded BLAKE3"
        );
    }
    Ok(HashOptions {
        algorithm,
        shard_size,
        allow_symlinks: args.allow_symlinks,
        ignore_paths: ignore_paths(&args.ignore_paths, model)?,
        ignore_git_paths: !args.no_ignore_git_paths,
        threads: args.threads.map(usize::from),
        ..HashOptions::default()
    })
}

/// Resolves `--ignore-paths` values against the model directory.
pub(crate) fn ignore_paths(
    paths: &[std::path::PathBuf],
    model: &Path,
) -> anyhow::Result<Vec<String>> {
    paths
        .iter()
        .map(|p| {
            path_inside(model, p).with_context(|| {
                format!(
                    "--ignore-paths {}: not inside the model directory {} (paths are relative to \
                     the current directory)",
                    p.display(),
                    model.display()
                )
            })
        })
        .collect()
}

/// The `serialization` object as model signing writes it.
pub(crate) fn serialization_json(s: &Serialization) -> Value {
    let mut v = json!({
        "method": match s.method { Method::Files => "files", Method::Shards { .. } => "shards" },
        "hash_type": s.hash.as_str(),
        "allow_symlinks": s.allow_symlinks,
        "ignore_paths": s.ignore_paths,
    });
    if let Method::Shards { shard_size } = s.method {
        v["shard_size"] = json!(shard_size);
    }
    v
}

/// One line describing a serialization, for human output.
pub(crate) fn serialization_summary(s: &Serialization) -> String {
    match s.method {
        Method::Files => format!("{} per file", s.hash),
        Method::Shards { shard_size } => format!("{} per {shard_size}-byte shard", s.hash),
    }
}

fn manifest_json(m: &Manifest) -> Value {
    let algorithm = m.serialization.resource_algorithm();
    json!({
        "model_name": m.model_name,
        "root_digest": { "sha256": to_hex(&m.root_digest()) },
        "serialization": serialization_json(&m.serialization),
        "resources": m.resources().iter().map(|r| json!({
            "name": r.key.to_string(),
            "algorithm": algorithm,
            "digest": to_hex(&r.digest),
        })).collect::<Vec<_>>(),
        "unlisted_empty_files": m.unlisted_empty_files.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

pub(crate) fn run(args: &HashArgs) -> anyhow::Result<Outcome> {
    let options = hash_options(&args.manifest, &args.path)?;
    let manifest = hash_model(&args.path, &options)?;
    let text = match args.format {
        ResultFormat::Json => serde_json::to_string_pretty(&manifest_json(&manifest))? + "\n",
        ResultFormat::Human => {
            let mut out = String::new();
            for r in manifest.resources() {
                let _ = writeln!(out, "{}  {}", to_hex(&r.digest), r.key);
            }
            for p in &manifest.unlisted_empty_files {
                let _ = writeln!(out, "# {p}: empty, so it has no shard and is not listed");
            }
            let _ = writeln!(
                out,
                "# root sha256:{}  model {:?}, {} files, {}",
                to_hex(&manifest.root_digest()),
                manifest.model_name,
                manifest.file_count(),
                serialization_summary(&manifest.serialization)
            );
            out
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(Outcome::Pass)
}
