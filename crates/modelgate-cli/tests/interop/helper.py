"""Drives the reference Python implementations for modelgate's interop tests.

Run with the interpreter of .venv-interop (scripts/interop-env.sh). Each sub-command does one
thing with model_signing, securesystemslib or sigstore-python and exits non-zero on failure, so
the Rust test can assert on the exit status and output.
"""

import base64
import hashlib
import json
import pathlib
import sys

from cryptography.hazmat.primitives import serialization


def load_private(path):
    return serialization.load_pem_private_key(pathlib.Path(path).read_bytes(), None)


def load_public(path):
    return serialization.load_pem_public_key(pathlib.Path(path).read_bytes())


def hint(public_key):
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def statement_bytes(predicate_type, subjects):
    subject = [
        {"name": s, "digest": {"sha256": hashlib.sha256(pathlib.Path(s).read_bytes()).hexdigest()}}
        for s in subjects
    ]
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subject,
            "predicateType": predicate_type,
            "predicate": {"made_by": "interop-helper"},
        }
    ).encode()


def hashing_config(shard_size, algorithm, ignore):
    from model_signing import hashing

    config = hashing.Config().set_ignored_paths(paths=ignore)
    if shard_size:
        config.use_shard_serialization(hashing_algorithm=algorithm, shard_size=int(shard_size))
    else:
        config.use_file_serialization(hashing_algorithm=algorithm)
    return config


def ms_sign(model, sig, key, shard_size, algorithm):
    """model_signing API signing (the CLI cannot shard or pick an algorithm)."""
    from model_signing import signing

    config = hashing_config(shard_size, algorithm, [sig])
    signing.Config().use_elliptic_key_signer(private_key=key).set_hashing_config(config).sign(
        model, sig
    )


def ms_verify(model, sig, pub, shard_size, algorithm):
    """model_signing API verification with an explicit hashing configuration."""
    from model_signing import verifying

    config = hashing_config(shard_size, algorithm, [sig])
    verifying.Config().use_elliptic_key_verifier(public_key=pub).set_hashing_config(
        config
    ).verify(model, sig)


def sslib_sign(key, out, predicate_type, *subjects):
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey

    private = load_private(key)
    public = SSlibKey.from_crypto(private.public_key(), keyid=hint(private.public_key()))
    env = Envelope(statement_bytes(predicate_type, subjects), "application/vnd.in-toto+json", {})
    env.sign(CryptoSigner(private, public))
    pathlib.Path(out).write_text(json.dumps(env.to_dict()))


def sslib_verify(pub, envelope):
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey

    data = json.loads(pathlib.Path(envelope).read_text())
    if "dsseEnvelope" in data:
        data = data["dsseEnvelope"]
    public = load_public(pub)
    # securesystemslib matches signatures to keys by keyid; modelgate writes the key hint.
    key = SSlibKey.from_crypto(public, keyid=hint(public))
    accepted = Envelope.from_dict(data).verify([key], 1)
    assert key.keyid in accepted, accepted


def sigstore_sign(key, out, predicate_type, *subjects):
    from sigstore import dsse

    envelope = dsse._sign(load_private(key), dsse.Statement(statement_bytes(predicate_type, subjects)))
    pathlib.Path(out).write_text(envelope.to_json())


def sigstore_verify(pub, envelope):
    from sigstore import dsse

    data = json.loads(pathlib.Path(envelope).read_text())
    if "dsseEnvelope" in data:
        data = data["dsseEnvelope"]
    payload = dsse._verify(load_public(pub), dsse.Envelope._from_json(json.dumps(data)))
    json.loads(payload)


def bundle_payload(sig):
    """Prints the decoded statement of a bundle (for assertions on its shape)."""
    data = json.loads(pathlib.Path(sig).read_text())
    print(base64.b64decode(data["dsseEnvelope"]["payload"]).decode())


COMMANDS = {
    "ms-sign": ms_sign,
    "ms-verify": ms_verify,
    "sslib-sign": sslib_sign,
    "sslib-verify": sslib_verify,
    "sigstore-sign": sigstore_sign,
    "sigstore-verify": sigstore_verify,
    "bundle-payload": bundle_payload,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
