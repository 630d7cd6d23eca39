//! `modelgate attest`: sign an in-toto statement about files.

use std::io::Write as _;

use anyhow::Context as _;
use modelgate_attest::limits::read_capped;
use modelgate_attest::{
    AttestLimits, Bundle, KeySigner, PrivateKey, Signer as _, attest_files, write_atomic,
};

use crate::Outcome;
use crate::cli::AttestArgs;

pub(crate) fn run(args: &AttestArgs) -> anyhow::Result<Outcome> {
    let key = PrivateKey::from_pem_file(&args.key)?;
    let signer = KeySigner::new(key);
    let limits = AttestLimits::default();
    let bytes = read_capped(&args.predicate, limits.max_json_bytes)
        .with_context(|| format!("{}: cannot read the predicate", args.predicate.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: the predicate is not valid JSON",
            args.predicate.display()
        )
    })?;
    if !predicate.is_object() {
        anyhow::bail!(
            "{}: the predicate must be a JSON object (in-toto predicates are objects)",
            args.predicate.display()
        );
    }
    let (statement, envelope) =
        attest_files(&args.subjects, &args.predicate_type, predicate, &signer)?;
    let text = if args.bundle {
        Bundle::new(envelope, &signer.verification_material()).to_json()
    } else {
        envelope.to_json()
    };
    write_atomic(&args.output, text.as_bytes())?;
    let mut out = std::io::stdout().lock();
    for s in &statement.subject {
        writeln!(
            out,
            "subject {}  sha256:{}",
            s.name.as_deref().unwrap_or_default(),
            s.digest.get("sha256").map_or("", String::as_str)
        )?;
    }
    writeln!(
        out,
        "signed {} statement with {} key {}; {} written to {}",
        statement.predicate_type,
        signer.key_type(),
        signer.public_key().hint(),
        if args.bundle {
            "Sigstore bundle"
        } else {
            "DSSE envelope"
        },
        args.output.display()
    )?;
    Ok(Outcome::Pass)
}
