//! Property tests: every kind of tampering with a signed model or attestation makes verification
//! fail, with the rule that names what happened; hostile signature and key bytes never panic.

// Set-up helpers outside #[test] fns: a failed set-up should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use modelgate_attest::{
    AttestError, AttestLimits, Failure, HashOptions, KeySigner, KeyType, ModelReport, Policy,
    PrivateKey, PublicKey, Rule, SignedDocument, VerifyModelOptions, attest_files, sign_model,
    verify_attestation, verify_model,
};
use proptest::prelude::*;
use serde_json::Value;

/// A small model: (relative path, contents). Paths are distinct; some files are empty.
fn model_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop::sample::select(vec!["a", "b", "a-b", "w.bin", "sub/c", "sub/d/e", "x.json"]);
    let content = prop_oneof![
        1 => Just(Vec::new()),
        4 => prop::collection::vec(any::<u8>(), 1..300),
    ];
    prop::collection::btree_map(name, content, 1..6).prop_map(|m: BTreeMap<&str, Vec<u8>>| {
        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    })
}

struct Signed {
    _dir: tempfile::TempDir,
    model: PathBuf,
    sig: PathBuf,
    key: PublicKey,
    files: Vec<(String, Vec<u8>)>,
}

fn write_model(root: &Path, files: &[(String, Vec<u8>)]) {
    // "a" as a file and "a/…" as a directory cannot both exist; the strategy's names avoid that.
    for (name, bytes) in files {
        let p = root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
}

fn sign(files: Vec<(String, Vec<u8>)>, shard_size: Option<u64>, key_type: KeyType) -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    fs::create_dir(&model).unwrap();
    write_model(&model, &files);
    let sig = dir.path().join("model.sig");
    let signer = KeySigner::new(PrivateKey::generate(key_type));
    let options = HashOptions {
        shard_size,
        ..HashOptions::default()
    };
    sign_model(&model, &sig, &signer, &options).unwrap();
    Signed {
        _dir: dir,
        model,
        sig,
        key: signer.public_key().clone(),
        files,
    }
}

fn verify(s: &Signed) -> Result<ModelReport, AttestError> {
    verify_model(
        &s.model,
        &s.sig,
        &s.key,
        &Policy::default(),
        &VerifyModelOptions::default(),
    )
}

fn rules(r: &ModelReport) -> Vec<Rule> {
    r.failures.iter().map(Failure::rule).collect()
}

/// Rewrites the bundle's JSON with `edit` (without re-signing).
fn edit_bundle(sig: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&fs::read(sig).unwrap()).unwrap();
    edit(&mut v);
    fs::write(sig, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// Rewrites the signed statement inside the bundle (without re-signing).
fn edit_statement(sig: &Path, edit: impl FnOnce(&mut Value)) {
    let b64 = base64::engine::general_purpose::STANDARD;
    edit_bundle(sig, |v| {
        let payload = b64
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let mut st: Value = serde_json::from_slice(&payload).unwrap();
        edit(&mut st);
        v["dsseEnvelope"]["payload"] = Value::String(b64.encode(serde_json::to_vec(&st).unwrap()));
    });
}

fn key_type() -> impl Strategy<Value = KeyType> {
    prop::sample::select(vec![
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Ed25519,
    ])
}

fn shard() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), Just(Some(7)), Just(Some(64))]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn untouched_model_verifies(files in model_strategy(), shard in shard(), kt in key_type()) {
        let s = sign(files, shard, kt);
        let r = verify(&s).unwrap();
        // Under sharding, empty files are unrepresentable and reported as unsigned.
        let empty = s.files.iter().filter(|(_, b)| b.is_empty()).count();
        if shard.is_some() {
            prop_assert_eq!(r.failures.len(), empty);
            prop_assert!(r.failures.iter().all(|f| f.rule() == Rule::UnsignedFiles));
        } else {
            prop_assert!(r.verified(), "{:?}", r.failures);
        }
    }

    #[test]
    fn flipping_any_byte_of_any_file_is_a_changed_file(
        files in model_strategy(), shard in shard(), pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let s = sign(files, shard, KeyType::EcdsaP256);
        let nonempty: Vec<_> = s.files.iter().filter(|(_, b)| !b.is_empty()).collect();
        prop_assume!(!nonempty.is_empty());
        let (name, bytes) = nonempty[pick.index(nonempty.len())];
        let mut bytes = bytes.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        fs::write(s.model.join(name), &bytes).unwrap();
        let r = verify(&s).unwrap();
        let changed: Vec<_> = r.failures.iter().filter_map(|f| match f {
            Failure::Changed(c) => Some(c.path.clone()),
            _ => None,
        }).collect();
        prop_assert_eq!(changed, vec![name.clone()]);
    }

    #[test]
    fn truncating_or_extending_a_file_is_a_changed_file(
        files in model_strategy(), shard in shard(), pick in any::<prop::sample::Index>(),
        grow in any::<bool>(),
    ) {
        let s = sign(files, shard, KeyType::EcdsaP256);
        let nonempty: Vec<_> = s.files.iter().filter(|(_, b)| !b.is_empty()).collect();
        prop_assume!(!nonempty.is_empty());
        let (name, bytes) = nonempty[pick.index(nonempty.len())];
        let mut bytes = bytes.clone();
        if grow { bytes.push(0) } else { bytes.pop(); }
        fs::write(s.model.join(name), &bytes).unwrap();
        let r = verify(&s).unwrap();
        let named = r.failures.iter().any(|f| f.path() == Some(name.as_str()));
        prop_assert!(named && !r.verified(), "{:?}", r.failures);
    }

    #[test]
    fn removing_a_file_is_missing(files in model_strategy(), pick in any::<prop::sample::Index>()) {
        let s = sign(files, None, KeyType::EcdsaP256);
        let (name, _) = &s.files[pick.index(s.files.len())];
        fs::remove_file(s.model.join(name)).unwrap();
        let r = verify(&s).unwrap();
        prop_assert_eq!(rules(&r), vec![Rule::MissingFile]);
        prop_assert_eq!(r.failures[0].path(), Some(name.as_str()));
    }

    #[test]
    fn renaming_a_file_is_missing_plus_unsigned(
        files in model_strategy(), pick in any::<prop::sample::Index>(),
    ) {
        let s = sign(files, None, KeyType::Ed25519);
        let (name, _) = &s.files[pick.index(s.files.len())];
        fs::rename(s.model.join(name), s.model.join("renamed")).unwrap();
        let r = verify(&s).unwrap();
        prop_assert_eq!(rules(&r), vec![Rule::MissingFile, Rule::UnsignedFiles]);
        prop_assert_eq!(r.failures[1].path(), Some("renamed"));
    }

    #[test]
    fn adding_a_file_even_empty_is_unsigned_unless_allowed(
        files in model_strategy(), content in prop::collection::vec(any::<u8>(), 0..50),
    ) {
        let s = sign(files, None, KeyType::EcdsaP384);
        fs::write(s.model.join("added"), &content).unwrap();
        let r = verify(&s).unwrap();
        prop_assert_eq!(rules(&r), vec![Rule::UnsignedFiles]);
        let policy = Policy { allow_unsigned_files: true, ..Policy::default() };
        let r = verify_model(&s.model, &s.sig, &s.key, &policy, &VerifyModelOptions::default()).unwrap();
        prop_assert!(r.verified());
        prop_assert_eq!(r.allowed_unsigned.len(), 1);
    }

    #[test]
    fn editing_the_manifest_or_statement_breaks_the_signature(
        files in model_strategy(), which in 0usize..5, at in any::<prop::sample::Index>(),
    ) {
        let s = sign(files, None, KeyType::EcdsaP256);
        edit_statement(&s.sig, |st| match which {
            0 => {
                let rs = st["predicate"]["resources"].as_array_mut().unwrap();
                let i = at.index(rs.len());
                rs[i]["digest"] = Value::String("00".repeat(32));
            }
            1 => {
                let rs = st["predicate"]["resources"].as_array_mut().unwrap();
                let i = at.index(rs.len());
                rs.remove(i);
            }
            2 => st["subject"][0]["name"] = Value::String("other".into()),
            3 => st["predicate"]["serialization"]["ignore_paths"] = serde_json::json!(["a", "sub"]),
            _ => st["predicateType"] = Value::String("https://model_signing/signature/v9".into()),
        });
        let r = verify(&s).unwrap();
        prop_assert_eq!(rules(&r), vec![Rule::Signature]);
    }

    #[test]
    fn editing_the_envelope_or_signature_fails(files in model_strategy(), which in 0usize..4, at in any::<prop::sample::Index>()) {
        let s = sign(files, None, KeyType::EcdsaP256);
        let b64 = base64::engine::general_purpose::STANDARD;
        edit_bundle(&s.sig, |v| match which {
            0 => v["dsseEnvelope"]["payloadType"] = Value::String("application/json".into()),
            1 => {
                let mut sig = b64.decode(v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap()).unwrap();
                let i = at.index(sig.len());
                sig[i] ^= 0x01;
                v["dsseEnvelope"]["signatures"][0]["sig"] = Value::String(b64.encode(sig));
            }
            2 => v["dsseEnvelope"]["signatures"][0]["sig"] = Value::String(String::new()),
            _ => v["verificationMaterial"]["publicKey"]["hint"] = Value::String("ab".repeat(32)),
        });
        let r = verify(&s).unwrap();
        let expected = if which == 3 { Rule::KeyHint } else { Rule::Signature };
        prop_assert_eq!(rules(&r), vec![expected]);
    }

    #[test]
    fn any_byte_flip_of_the_signature_file_never_verifies(
        files in model_strategy(), at in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let s = sign(files, None, KeyType::EcdsaP256);
        let mut bytes = fs::read(&s.sig).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        fs::write(&s.sig, &bytes).unwrap();
        // Either the file no longer parses (an input error naming it), or it parses and fails.
        match verify(&s) {
            Ok(r) => prop_assert!(!r.verified()),
            Err(e) => prop_assert!(e.to_string().contains("model.sig"), "{e}"),
        }
    }

    #[test]
    fn another_key_fails_on_hint_and_signature(files in model_strategy(), kt in key_type()) {
        let mut s = sign(files, None, KeyType::EcdsaP256);
        s.key = PrivateKey::generate(kt).public_key();
        let r = verify(&s).unwrap();
        prop_assert_eq!(rules(&r), vec![Rule::KeyHint, Rule::Signature]);
    }

    #[test]
    fn attestation_subjects_must_match(
        content in prop::collection::vec(any::<u8>(), 0..200), at in any::<prop::sample::Index>(),
        bundle in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let subject = dir.path().join("eval.json");
        fs::write(&subject, &content).unwrap();
        let signer = KeySigner::new(PrivateKey::generate(KeyType::Ed25519));
        let (_, env) = attest_files(std::slice::from_ref(&subject), "https://example/p", serde_json::json!({}), &signer).unwrap();
        let out = dir.path().join("env.json");
        let text = if bundle {
            modelgate_attest::Bundle::new(env, &modelgate_attest::Signer::verification_material(&signer)).to_json()
        } else {
            env.to_json()
        };
        fs::write(&out, text).unwrap();
        let limits = AttestLimits::default();
        let check = || verify_attestation(&out, std::slice::from_ref(&subject), signer.public_key(), &Policy::default(), &limits).unwrap();
        prop_assert!(check().verified());
        let mut changed = content.clone();
        if changed.is_empty() { changed.push(1) } else { let i = at.index(changed.len()); changed[i] ^= 0x80; }
        fs::write(&subject, &changed).unwrap();
        let r = check();
        prop_assert_eq!(r.failures.iter().map(Failure::rule).collect::<Vec<_>>(), vec![Rule::SubjectDigest]);
    }

    #[test]
    fn hostile_documents_and_keys_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = SignedDocument::from_json(&bytes);
        let _ = PublicKey::from_pem(&bytes);
        let _ = PrivateKey::from_pem(&bytes);
        let _ = Policy::from_json(&bytes);
        let _ = modelgate_attest::Statement::from_json(&bytes);
    }

    #[test]
    fn json_shaped_garbage_never_panics(
        media in prop::sample::select(vec!["application/vnd.dev.sigstore.bundle.v0.3+json", "x"]),
        payload in "[A-Za-z0-9+/=_-]{0,40}", sig in "[A-Za-z0-9+/=]{0,40}",
        hint in "[0-9a-f]{0,70}",
    ) {
        let doc = serde_json::json!({
            "mediaType": media,
            "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
            "dsseEnvelope": {"payload": payload, "payloadType": "application/vnd.in-toto+json",
                             "signatures": [{"sig": sig, "keyid": ""}]},
        });
        let _ = SignedDocument::from_json(&serde_json::to_vec(&doc).unwrap());
    }
}

#[test]
fn policy_refusals_name_their_rule() {
    let s = sign(
        vec![("w.bin".into(), b"weights".to_vec())],
        None,
        KeyType::EcdsaP256,
    );
    let policy = Policy {
        allowed_keys: vec!["00".repeat(32)],
        ..Policy::default()
    };
    let r = verify_model(
        &s.model,
        &s.sig,
        &s.key,
        &policy,
        &VerifyModelOptions::default(),
    )
    .unwrap();
    assert_eq!(rules(&r), [Rule::AllowedKeys]);
    assert!(r.failures[0].to_string().contains(&s.key.hint()));

    let policy = Policy {
        min_hash_algorithm: modelgate_attest::HashAlgorithm::Sha512,
        ..Policy::default()
    };
    let r = verify_model(
        &s.model,
        &s.sig,
        &s.key,
        &policy,
        &VerifyModelOptions::default(),
    )
    .unwrap();
    assert_eq!(rules(&r), [Rule::MinHashAlgorithm]);

    let policy = Policy {
        required_predicate_types: vec!["https://slsa.dev/provenance/v1".into()],
        ..Policy::default()
    };
    let r = verify_model(
        &s.model,
        &s.sig,
        &s.key,
        &policy,
        &VerifyModelOptions::default(),
    )
    .unwrap();
    assert_eq!(rules(&r), [Rule::PredicateType]);
    assert!(Rule::PredicateType.is_policy() && !Rule::Signature.is_policy());
}

#[test]
fn inconsistent_root_digest_signed_by_the_key_is_a_failure() {
    // A signer that signs a statement whose subject digest does not match its resources.
    let s = sign(
        vec![("w.bin".into(), b"weights".to_vec())],
        None,
        KeyType::EcdsaP256,
    );
    let signer = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
    let b64 = base64::engine::general_purpose::STANDARD;
    let v: Value = serde_json::from_slice(&fs::read(&s.sig).unwrap()).unwrap();
    let payload = b64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let mut st: Value = serde_json::from_slice(&payload).unwrap();
    st["subject"][0]["digest"]["sha256"] = Value::String("11".repeat(32));
    let env = modelgate_attest::Envelope::sign(
        modelgate_attest::IN_TOTO_PAYLOAD_TYPE,
        serde_json::to_vec(&st).unwrap(),
        &signer,
    )
    .unwrap();
    let bundle = modelgate_attest::Bundle::new(
        env,
        &modelgate_attest::Signer::verification_material(&signer),
    );
    fs::write(&s.sig, bundle.to_json()).unwrap();
    let r = verify_model(
        &s.model,
        &s.sig,
        signer.public_key(),
        &Policy::default(),
        &VerifyModelOptions::default(),
    )
    .unwrap();
    assert_eq!(rules(&r), [Rule::RootDigest]);
}

#[test]
fn symlink_in_a_model_signed_without_links_is_a_failure() {
    let s = sign(
        vec![("w.bin".into(), b"weights".to_vec())],
        None,
        KeyType::EcdsaP256,
    );
    std::os::unix::fs::symlink("w.bin", s.model.join("link")).unwrap();
    let r = verify(&s).unwrap();
    assert_eq!(rules(&r), [Rule::Symlink]);
    assert_eq!(r.failures[0].path(), Some("link"));
}

#[test]
fn signature_inside_the_model_is_ignored_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    fs::create_dir(&model).unwrap();
    fs::write(model.join("w"), "x").unwrap();
    let sig = model.join("model.sig");
    let signer = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
    let signed = sign_model(&model, &sig, &signer, &HashOptions::default()).unwrap();
    assert_eq!(signed.manifest.resources().len(), 1);
    assert!(
        signed
            .manifest
            .serialization
            .ignore_paths
            .contains(&"model.sig".to_owned())
    );
    // Re-signing over an existing signature gives the same manifest.
    let again = sign_model(&model, &sig, &signer, &HashOptions::default()).unwrap();
    assert_eq!(again.manifest, signed.manifest);
    let r = verify_model(
        &model,
        &sig,
        signer.public_key(),
        &Policy::default(),
        &VerifyModelOptions::default(),
    )
    .unwrap();
    assert!(r.verified(), "{:?}", r.failures);
}
