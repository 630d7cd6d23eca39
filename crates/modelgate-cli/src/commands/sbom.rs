//! `modelgate sbom`: a CycloneDX 1.6 ML-BOM of a model directory.

use std::io::Write as _;
use std::path::Path;

use modelgate_attest::cyclonedx::{Evaluation, SbomLimits, SbomOptions, build_model_bom};
use modelgate_attest::{path_inside, write_atomic};
use modelgate_dataset::registry::now_rfc3339;

use crate::Outcome;
use crate::cli::SbomArgs;
use crate::commands::hash::ignore_paths;

pub(crate) fn run(args: &SbomArgs) -> anyhow::Result<Outcome> {
    let limits = SbomLimits::default();
    if args.evaluations.len() > limits.max_evaluations {
        anyhow::bail!(
            "--evaluation given {} times; at most {} evaluations go into one BOM",
            args.evaluations.len(),
            limits.max_evaluations
        );
    }
    // Evaluation files are trusted input (see docs/sbom.md): they are only checked for form.
    let evaluations = args
        .evaluations
        .iter()
        .map(|p| Evaluation::from_file(p, &limits))
        .collect::<Result<Vec<_>, _>>()?;
    let to_stdout = args.output == Path::new("-");
    let mut options = SbomOptions::new(now_rfc3339());
    options.name.clone_from(&args.name);
    options.version.clone_from(&args.version);
    options.evaluations = evaluations;
    options.limits = limits;
    options.hash.ignore_paths = ignore_paths(&args.ignore_paths, &args.path)?;
    // A BOM written into the model must not describe itself (its next run would see it).
    if !to_stdout && let Some(rel) = path_inside(&args.path, &args.output) {
        options.hash.ignore_paths.push(rel);
    }
    let built = build_model_bom(&args.path, &options)?;
    let text = serde_json::to_string_pretty(&built.bom)? + "\n";
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        write_atomic(&args.output, text.as_bytes())?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "wrote {}: CycloneDX {} ML-BOM of {:?}, root sha256:{}, {} files, {} evaluations",
            args.output.display(),
            modelgate_attest::cyclonedx::SPEC_VERSION,
            built
                .bom
                .metadata
                .component
                .as_ref()
                .map_or("", |c| c.name.as_str()),
            modelgate_attest::algorithm::to_hex(&built.manifest.root_digest()),
            built.manifest.file_count(),
            options.evaluations.len()
        )?;
    }
    Ok(Outcome::Pass)
}
