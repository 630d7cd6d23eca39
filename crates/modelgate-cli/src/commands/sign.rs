//! `modelgate sign model`.

use std::io::Write as _;

use modelgate_attest::{KeySigner, PrivateKey, algorithm::to_hex, sign_model};

use crate::Outcome;
use crate::cli::SignCommand;
use crate::commands::hash::{hash_options, serialization_summary};

pub(crate) fn run(cmd: &SignCommand) -> anyhow::Result<Outcome> {
    let SignCommand::Model(args) = cmd;
    let key = PrivateKey::from_pem_file(&args.key)?;
    let signer = KeySigner::new(key);
    let options = hash_options(&args.manifest, &args.model)?;
    let signed = sign_model(&args.model, &args.signature, &signer, &options)?;
    let m = &signed.manifest;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "signed {} ({} files, {}, root sha256:{})",
        args.model.display(),
        m.file_count(),
        serialization_summary(&m.serialization),
        to_hex(&m.root_digest())
    )?;
    writeln!(
        out,
        "key {} {}; signature written to {}",
        signer.key_type(),
        signer.public_key().hint(),
        args.signature.display()
    )?;
    Ok(Outcome::Pass)
}
