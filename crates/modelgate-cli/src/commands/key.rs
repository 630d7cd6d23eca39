//! `modelgate key generate`.

use std::io::Write as _;

use modelgate_attest::{KeyType, PrivateKey, write_key_pair};

use crate::Outcome;
use crate::cli::{KeyCommand, KeyTypeArg};

pub(crate) fn run(cmd: &KeyCommand) -> anyhow::Result<Outcome> {
    let KeyCommand::Generate(args) = cmd;
    let key_type = match args.key_type {
        KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
        KeyTypeArg::EcdsaP384 => KeyType::EcdsaP384,
        KeyTypeArg::Ed25519 => KeyType::Ed25519,
    };
    let key = PrivateKey::generate(key_type);
    let paths = write_key_pair(&args.out, &key)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} (private, PKCS#8, mode 0600: keep it secret)",
        paths.private.display()
    )?;
    writeln!(
        out,
        "wrote {} (public, SPKI: give this to verifiers)",
        paths.public.display()
    )?;
    writeln!(out, "key {key_type}, hint {}", key.public_key().hint())?;
    Ok(Outcome::Pass)
}
