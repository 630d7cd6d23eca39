//! `modelgate ledger verify|export|checkpoint`, and opening a store for ledger appends.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use modelgate_attest::{KeySigner, PrivateKey, PublicKey};
use modelgate_store::{Ledger, LedgerVerification, SqliteStore};
use serde_json::json;

use crate::Outcome;
use crate::cli::{LedgerCommand, LedgerExportArgs, LedgerVerifyArgs, LedgerWriteArgs, ViewFormat};

/// Opens (creating) the store for commands that append to the ledger, with the checkpoint
/// signer from `--ledger-key` / `MODELGATE_LEDGER_KEY` when given.
pub(crate) fn open_for_append(args: &LedgerWriteArgs) -> anyhow::Result<SqliteStore> {
    let mut store = SqliteStore::open_dir(&args.store)?;
    if let Some(path) = &args.ledger_key {
        let key = PrivateKey::from_pem_file(path)
            .with_context(|| format!("--ledger-key {}", path.display()))?;
        store.set_ledger_signer(Arc::new(KeySigner::new(key)), args.checkpoint_every);
    }
    Ok(store)
}

/// Opens an existing store read-only; a missing store is an error naming the directory.
pub(crate) fn open_existing(dir: &Path) -> anyhow::Result<SqliteStore> {
    let db = dir.join(SqliteStore::FILE_NAME);
    if !db.exists() {
        anyhow::bail!(
            "{}: no modelgate store here (pass --store DIR or set MODELGATE_STORE)",
            dir.display()
        );
    }
    Ok(SqliteStore::open_read_only(&db)?)
}

pub(crate) fn run(cmd: &LedgerCommand) -> anyhow::Result<Outcome> {
    match cmd {
        LedgerCommand::Verify(args) => verify(args),
        LedgerCommand::Export(args) => export(args),
        LedgerCommand::Checkpoint(args) => checkpoint(args),
    }
}

/// What the checkpoints vouch for, in words.
fn checkpoint_note(v: &LedgerVerification, keyed: bool) -> String {
    match (v.checkpoints, keyed) {
        (0, _) => "no checkpoints: the ledger was written without a ledger key \
                   (--ledger-key / MODELGATE_LEDGER_KEY), so only the hash chain protects it"
            .to_owned(),
        (n, false) => format!(
            "{n} checkpoint(s) present; signatures not checked (pass --key PUB to check them)"
        ),
        (n, true) => {
            let through = v.signed_through.map_or(0, |s| s + 1);
            format!(
                "{n} checkpoint(s), every signature verified: the first {through} entries are \
                 vouched for by the key, the {} after them by the hash chain only",
                v.entries.saturating_sub(through)
            )
        }
    }
}

fn verify(args: &LedgerVerifyArgs) -> anyhow::Result<Outcome> {
    let key = args
        .key
        .as_ref()
        .map(|p| PublicKey::from_pem_file(p).with_context(|| format!("--key {}", p.display())))
        .transpose()?;
    let store = open_existing(&args.store)?;
    let v = store.verify(key.as_ref())?;
    let head = store.head()?;
    // With a key, a ledger with nothing signed by it is not vouched for at all.
    let unsigned = key.is_some() && v.intact() && v.checkpoints_verified == 0 && v.entries > 0;
    let ok = v.intact() && !unsigned;
    let note = checkpoint_note(&v, key.is_some());
    let text = match args.format {
        ViewFormat::Json => {
            let j = json!({
                "intact": ok,
                "entries": v.entries,
                "head": head.hash,
                "checkpoints": v.checkpoints,
                "checkpoints_verified": v.checkpoints_verified,
                "signed_through": v.signed_through,
                "key_checked": key.is_some(),
                "first_break": v.first_break.as_ref().map(|b| json!({
                    "seq": b.seq,
                    "reason": b.to_string(),
                })),
                "note": note,
            });
            serde_json::to_string_pretty(&j)? + "\n"
        }
        ViewFormat::Human => match &v.first_break {
            Some(b) => format!(
                "ledger BROKEN: {b}\n{} entries before it verified\n",
                v.entries
            ),
            None if unsigned => format!(
                "ledger NOT VOUCHED FOR: {} entries chain correctly, but no checkpoint is \
                 signed by the given key\n",
                v.entries
            ),
            None => format!(
                "ledger intact: {} entries, head {}\n{note}\n",
                v.entries, head.hash
            ),
        },
    };
    crate::render::emit(&text, None)?;
    Ok(if ok { Outcome::Pass } else { Outcome::Fail })
}

fn export(args: &LedgerExportArgs) -> anyhow::Result<Outcome> {
    let store = open_existing(&args.store)?;
    if let Some(path) = &args.output {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        store
            .export_jsonl(&mut out)
            .with_context(|| format!("exporting to {}", path.display()))?;
    } else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        store.export_jsonl(&mut out)?;
    }
    Ok(Outcome::Pass)
}

fn checkpoint(args: &LedgerWriteArgs) -> anyhow::Result<Outcome> {
    if args.ledger_key.is_none() {
        anyhow::bail!(
            "a checkpoint needs a signing key: pass --ledger-key PRIV or set MODELGATE_LEDGER_KEY"
        );
    }
    let mut store = open_for_append(args)?;
    let mut out = std::io::stdout().lock();
    match store.checkpoint()? {
        Some(e) => writeln!(
            out,
            "checkpoint written as entry {}, signing entry {} (head {})",
            e.seq,
            e.seq.saturating_sub(1),
            e.prev
        )?,
        None => writeln!(
            out,
            "nothing to sign: the ledger is empty or already ends in a checkpoint"
        )?,
    }
    Ok(Outcome::Pass)
}
