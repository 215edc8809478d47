"""``jwt-middleware fingerprint``: the fingerprint of every key of a source.

The RFC 7638 thumbprint of a public key (scrypt-derived for an HMAC secret), the
value the middleware logs and exports, so that a log line or a metric names a
key one can find (docs/keys.md, "Key fingerprints"; docs/cli.md). Keys come from
``--jwks-url``, ``--jwks-file``, ``--key-file`` (repeatable; a private key's
public half) and ``--secret`` (else ``JWT_SECRET``). ``--json`` prints a list.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..keys import VerificationKey, import_jwks, load_pem_public_key, secret_ring
from .common import EXIT_OK, Subparsers, UsageError, json_out
from .keyoptions import fetched_keys, key_options


def add_parser(subparsers: Subparsers) -> None:
    fingerprint = subparsers.add_parser(
        "fingerprint", help="fingerprints of keys (RFC 7638; scrypt-derived for HMAC secrets)"
    )
    key_options(fingerprint, many_pem=True)
    fingerprint.add_argument("--json", action="store_true")
    fingerprint.set_defaults(func=run, usage_of=fingerprint)


def _keys(args: argparse.Namespace) -> list[VerificationKey]:
    keys: list[VerificationKey] = []
    if args.jwks_url:
        keys.extend(fetched_keys(args.jwks_url).keys)
    if args.jwks_file:
        try:
            document = json.loads(Path(args.jwks_file).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--jwks-file {args.jwks_file}: {exc}") from None
        loaded, skipped = import_jwks(document, source=f"jwks-file:{args.jwks_file}")
        keys.extend(loaded)
        for s in skipped:
            print(f"skipped {s.kid or '(no kid)'}: {s.why}", file=sys.stderr)
    for path in args.key_file or ():
        keys.append(_pem_key(path))
    if args.secret is not None:
        keys.append(secret_ring([args.secret], source="secret"))
    if not keys and not (args.jwks_url or args.jwks_file or args.key_file or args.secret):
        raise UsageError("give --jwks-url, --jwks-file, --key-file or --secret")
    return keys


def _pem_key(path: str) -> VerificationKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"--key-file {path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        try:
            private: Any = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--key-file {path}: cannot read the private key ({exc})") from None
        data = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    key, _repaired = load_pem_public_key(data, source=f"pem:{path}")
    return key


def run(args: argparse.Namespace) -> int:
    keys = _keys(args)
    rows = [
        {
            "kid": k.kid,
            "kty": k.kty,
            "alg": k.declared_alg,
            "fingerprint": k.fingerprint,
            "source": k.source,
            "description": k.description,
        }
        for k in keys
    ]
    if args.json:
        json_out(rows)
        return EXIT_OK
    table = [(k.kid or "-", k.description, k.fingerprint) for k in keys]
    kid_w = max([3, *(len(kid) for kid, _, _ in table)])
    key_w = max([3, *(len(desc) for _, desc, _ in table)])
    print(f"{'kid'.ljust(kid_w)}  {'key'.ljust(key_w)}  fingerprint")
    for kid, desc, fp in table:
        print(f"{kid.ljust(kid_w)}  {desc.ljust(key_w)}  {fp}")
    return EXIT_OK
