"""Micro benchmark: µs per verification, this package against the limit and its peers.

For RS256, PS256, ES256, EdDSA and HS256 with a typical ~800-byte access
token, each variant verifies the same token (the same signing input) as:

- raw: the ``cryptography`` primitive alone, key and signature prepared (the
  limit; for ES256 the signature is already DER, for HS256 it is
  ``cryptography``'s HMAC, with the standard library's one-shot ``hmac.digest``
  shown as a reference row);
- references: the standard library's parse alone (split, base64url, json.loads
  of header and payload) and a minimal hand-written verifier (parse, kid
  lookup, primitive, exp/nbf/iss/aud), no diagnostics;
- this package (``Verifier.verify``, key set of 4 keys with kids, iss and aud
  configured): a token not seen before with the cache off (the honest "fresh"
  number), a token not seen before with the cache on (miss + insert: each call
  a distinct token, the cache emptied between batches), a repeated token (cache
  hit), and a rejected token (a byte of the signature flipped, kid of key 0),
  twice: with the global diagnostic budget spent (``diagnostic_verifications_
  per_second=0``: what each rejection costs once a flood has used the default
  200/s up: one primitive check plus the failure's diagnostics) and with the
  budget never running out (each rejection also tries up to
  ``diagnostic_keys_per_request`` other keys of its algorithm, the default,
  with 4 keys in the set: the most one rejected token can cost);
- PyJWT ``jwt.decode`` with iss/aud and a ``PyJWK`` made once, and the usual
  kid lookup pattern (``get_unverified_header`` + dict + decode);
- joserfc ``jwt.decode`` (key imported once) + ``JWTClaimsRegistry.validate``.

Method: every variant of every algorithm is timed in one round-robin (the
order rotated each round), many rounds; each timing is a batch of calls sized
to about ``--batch-ms`` milliseconds, timed with ``time.perf_counter_ns`` with
the garbage collector disabled. Reported: the median µs per call over the
rounds and its round-to-round spread (IQR as % of the median), and the median
over rounds of the ratio to the raw check timed in the same round, with its
spread. This machine's speed drifts by tens of percent over minutes (a shared
host): the paired ratios are the stable numbers, absolute µs less so.

    python -m benchmarks.micro [--rounds 60] [--batch-ms 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import gc
import hmac
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, Final

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwk as joserfc_jwk
from joserfc import jwt as joserfc_jwt
from joserfc.jwt import JWTClaimsRegistry

from jwt_middleware import Failure, Settings, VerifiedToken, Verifier, load_static_keys

from .common import (
    ALGS,
    AUDIENCE,
    ISSUER,
    AlgKeys,
    bad_signature,
    iqr_pct,
    loadavg,
    log,
    make_keys,
    median,
    sign,
    table,
    typical_claims,
)

LEEWAY = 30
#: Extra keys a rejected token may be checked against (the setting's default).
EXTRA_KEYS = min(3, Settings.__dataclass_fields__["diagnostic_keys_per_request"].default)


@dataclass
class Variant:
    alg: str
    key: str
    label: str
    batch: Callable[[int], None]  # runs n calls
    before: Callable[[], None] | None = None  # outside the timing, before each batch
    n: int = 1
    samples: list[float] = field(default_factory=list)  # µs per call, per round
    ratios: list[float] = field(default_factory=list)  # to raw, per round


def _loop(fn: Callable[[Any], Any], arg: Any) -> Callable[[int], None]:
    def batch(n: int) -> None:
        for _ in repeat(None, n):
            fn(arg)

    return batch


def _b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _raw_check(keys: AlgKeys, token: str) -> tuple[Callable[[Any], Any], Any]:
    """The prepared primitive for ``keys.signing`` and its prepared argument."""
    head, payload, sig64 = token.split(".")
    msg = f"{head}.{payload}".encode("ascii")
    sig = _b64d(sig64)
    alg = keys.alg
    pub = keys.public[0]
    sha = hashes.SHA256()
    if alg == "RS256":
        pad = padding.PKCS1v15()
        return (lambda a: pub.verify(a, msg, pad, sha)), sig
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(sha), salt_length=32)
        return (lambda a: pub.verify(a, msg, pss, sha)), sig
    if alg == "ES256":
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        ecdsa = ec.ECDSA(sha)
        return (lambda a: pub.verify(a, msg, ecdsa)), der
    if alg == "EdDSA":
        return (lambda a: pub.verify(a, msg)), sig
    if alg == "HS256":
        secret = keys.public[0]

        def hs(a: bytes) -> None:
            h = crypto_hmac.HMAC(secret, sha)
            h.update(msg)
            h.verify(a)

        return hs, sig
    raise ValueError(alg)


def _minimal_verifier(keys: AlgKeys) -> Callable[[str], dict[str, Any]]:
    """The smallest complete verifier: parse, kid lookup, primitive, exp/nbf/iss/aud."""
    alg = keys.alg
    sha = hashes.SHA256()
    pad = padding.PKCS1v15()
    pss = padding.PSS(mgf=padding.MGF1(sha), salt_length=32)
    ecdsa = ec.ECDSA(sha)
    by_kid = dict(zip(keys.kids, keys.public, strict=True))
    loads = json.loads

    def check(key: Any, msg: bytes, sig: bytes) -> None:
        if alg == "RS256":
            key.verify(sig, msg, pad, sha)
        elif alg == "PS256":
            key.verify(sig, msg, pss, sha)
        elif alg == "ES256":
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            key.verify(encode_dss_signature(r, s), msg, ecdsa)
        elif alg == "EdDSA":
            key.verify(sig, msg)
        elif not hmac.compare_digest(hmac.digest(key, msg, "sha256"), sig):
            raise ValueError("bad signature")

    def verify(token: str) -> dict[str, Any]:
        h, p, s = token.split(".")
        header = loads(_b64d(h))
        claims = loads(_b64d(p))
        if header.get("alg") != alg:
            raise ValueError("alg")
        check(by_kid[header["kid"]], f"{h}.{p}".encode("ascii"), _b64d(s))
        now = time.time()
        if not now < claims["exp"] + LEEWAY or claims.get("nbf", 0) - LEEWAY > now:
            raise ValueError("time")
        if claims.get("iss") != ISSUER:
            raise ValueError("iss")
        aud = claims.get("aud")
        if aud != AUDIENCE and not (isinstance(aud, list) and AUDIENCE in aud):
            raise ValueError("aud")
        return claims

    return verify


def _parse_only(token: str) -> Any:
    h, p, s = token.split(".")
    return json.loads(_b64d(h)), json.loads(_b64d(p)), _b64d(s)


def build_variants(alg: str, workdir: Path, distinct: int) -> tuple[list[Variant], dict[str, Any]]:
    keys = make_keys(alg, 4)
    token = sign(typical_claims(), keys)
    bad = bad_signature(token)
    fresh_tokens = [sign(typical_claims(sub=f"user-{i:06d}"), keys) for i in range(distinct)]
    jwks_path = workdir / f"jwks-{alg}.json"
    jwks_path.write_text(json.dumps({"keys": keys.jwks}))

    def verifier(**extra: Any) -> Verifier:
        settings = Settings(
            jwks_file=str(jwks_path),
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=(alg,),
            leeway=LEEWAY,
            **extra,
        )
        return Verifier(settings, load_static_keys(settings).keyset)

    v_nocache = verifier(token_cache_entries=0)
    v_cache = verifier()
    v_miss = verifier()
    v_reject = verifier(diagnostic_verifications_per_second=0)
    v_reject_all = verifier(diagnostic_verifications_per_second=1e12)
    assert v_nocache.cache is None and v_cache.cache is not None and v_miss.cache is not None

    raw_fn, raw_arg = _raw_check(keys, token)
    minimal = _minimal_verifier(keys)

    pyjwks = {
        kid: pyjwt.PyJWK(j, algorithm=alg) for kid, j in zip(keys.kids, keys.jwks, strict=True)
    }
    pyjwk0 = pyjwks[keys.kids[0]]

    def pyjwt_decode(t: str) -> Any:
        return pyjwt.decode(t, pyjwk0, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    def pyjwt_kid(t: str) -> Any:
        kid = pyjwt.get_unverified_header(t)["kid"]
        return pyjwt.decode(t, pyjwks[kid], algorithms=[alg], audience=AUDIENCE, issuer=ISSUER)

    jose_key = joserfc_jwk.import_key(keys.jwks[0])
    registry = JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
    )

    def joserfc_decode(t: str) -> Any:
        decoded = joserfc_jwt.decode(t, jose_key, algorithms=[alg])
        registry.validate(decoded.claims)
        return decoded.claims

    # Correctness first: every variant must do what its label says.
    raw_fn(raw_arg)
    _parse_only(token)
    assert minimal(token)["sub"]
    for v in (v_nocache, v_cache, v_miss):
        assert isinstance(v.verify(token), VerifiedToken), v.verify(token)
    assert isinstance(v_miss.verify(fresh_tokens[0]), VerifiedToken)
    for v in (v_reject, v_reject_all):
        out = v.verify(bad)
        assert isinstance(out, Failure) and out.reason.value == "signature_invalid", out
    assert pyjwt_decode(token)["sub"] and pyjwt_kid(token)["sub"] and joserfc_decode(token)["sub"]
    try:
        pyjwt_decode(bad)
        raise AssertionError("PyJWT accepted a bad signature")
    except pyjwt.InvalidSignatureError:
        pass

    assert v_miss.cache is not None
    miss_cache = v_miss.cache

    def fresh_batch(n: int) -> None:
        verify = v_miss.verify
        for t in fresh_tokens[:n]:
            verify(t)

    def cold_verify(t: str) -> Any:
        v_nocache._memo.clear()  # the header and key stages' memo: as for a new header
        return v_nocache.verify(t)

    rows: list[tuple[str, str, Callable[[int], None]]] = [
        ("raw", "raw cryptography check (the limit)", _loop(raw_fn, raw_arg)),
        ("parse", "ref: stdlib parse only (split, b64, json)", _loop(_parse_only, token)),
        ("minimal", "ref: minimal hand-written verifier", _loop(minimal, token)),
        ("fresh", "jwt_middleware, fresh token (cache off)", _loop(v_nocache.verify, token)),
        ("miss", "jwt_middleware, fresh token (cache on: miss+insert)", fresh_batch),
        (
            "full",
            "jwt_middleware, a header not seen before (memo cold: strict parse, header, key)",
            _loop(cold_verify, token),
        ),
        ("hit", "jwt_middleware, repeated token (cache hit)", _loop(v_cache.verify, token)),
        ("reject", "jwt_middleware, bad signature (budget spent)", _loop(v_reject.verify, bad)),
        (
            "reject_all",
            f"jwt_middleware, bad signature (+{EXTRA_KEYS} keys tried)",
            _loop(v_reject_all.verify, bad),
        ),
        ("pyjwt", "PyJWT decode (PyJWK made once, iss/aud)", _loop(pyjwt_decode, token)),
        ("pyjwt_kid", "PyJWT + kid lookup (usual pattern)", _loop(pyjwt_kid, token)),
        ("joserfc", "joserfc decode + JWTClaimsRegistry", _loop(joserfc_decode, token)),
    ]
    variants = [
        Variant(alg, key, label, batch, before=miss_cache.clear if key == "miss" else None)
        for key, label, batch in rows
    ]
    if alg == "HS256":
        secret = keys.public[0]
        msg, sig = token.rsplit(".", 1)[0].encode(), _b64d(token.rsplit(".", 1)[1])

        def stdlib_hs(a: bytes) -> bool:
            return hmac.compare_digest(hmac.digest(secret, msg, "sha256"), a)

        assert stdlib_hs(sig)
        label = "ref: stdlib hmac.digest + compare_digest"
        variants.insert(1, Variant(alg, "raw_stdlib", label, _loop(stdlib_hs, sig)))
    info = {"token_bytes": len(token), "distinct_tokens": distinct, "extra_keys": EXTRA_KEYS}
    return variants, info


def calibrate(v: Variant, batch_ms: float, cap: int) -> None:
    if v.before:
        v.before()
    v.batch(min(cap, 5))
    n = min(cap, 20)
    if v.before:
        v.before()
    t0 = time.perf_counter_ns()
    v.batch(n)
    per_call = (time.perf_counter_ns() - t0) / n
    v.n = max(3, min(cap, int(batch_ms * 1e6 / max(per_call, 1.0))))


def run_rounds(variants: list[Variant], rounds: int) -> None:
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            k = r % len(variants)
            order = variants[k:] + variants[:k]
            for v in order:
                if v.before:
                    v.before()
                t0 = time.perf_counter_ns()
                v.batch(v.n)
                v.samples.append((time.perf_counter_ns() - t0) / v.n / 1000.0)
            if r % 10 == 9:
                gc.collect()
    finally:
        gc.enable()


HEADERS: Final = ["variant", "µs/verify", "µs IQR", "x raw", "x raw IQR"]


def summarize(variants: list[Variant]) -> tuple[dict[str, Any], list[list[str]]]:
    """Each variant's figures for results.json, and its table row (``HEADERS``): median
    µs and ratio to the raw check of its rounds, with their IQRs."""
    summary: dict[str, Any] = {}
    rows: list[list[str]] = []
    for v in variants:
        us, ratio, spread = median(v.samples), median(v.ratios), iqr_pct(v.samples)
        summary[v.key] = {
            "label": v.label,
            "us": us,
            "ratio": ratio,
            "iqr_pct": spread,
            "ratio_iqr_pct": iqr_pct(v.ratios),
            "calls_per_batch": v.n,
            "samples_us": [round(s, 3) for s in v.samples],
        }
        rows.append(
            [
                v.label,
                f"{us:.2f}",
                f"{spread:.0f}%",
                f"{ratio:.2f}x",
                "-" if v.key == "raw" else f"{iqr_pct(v.ratios):.0f}%",
            ]
        )
    return summary, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_MICRO_ROUNDS", 60)))
    parser.add_argument("--batch-ms", type=float, default=4.0)
    parser.add_argument("--algs", default=",".join(ALGS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    algs = [a.strip() for a in args.algs.split(",") if a.strip()]

    started = time.monotonic()
    distinct = 400  # distinct fresh tokens per algorithm (the miss+insert variant's batch cap)
    all_variants: list[Variant] = []
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jwt-bench-") as tmp:
        for alg in algs:
            log(f"micro: preparing {alg}")
            variants, info[alg] = build_variants(alg, Path(tmp), distinct)
            all_variants.extend(variants)
        for v in all_variants:
            calibrate(v, args.batch_ms, distinct if v.key == "miss" else 1_000_000)
        log(f"micro: {len(all_variants)} variants x {args.rounds} rounds (load {loadavg()})")
        run_rounds(all_variants, args.rounds)

    raw_by_alg = {v.alg: v for v in all_variants if v.key == "raw"}
    for v in all_variants:
        raw = raw_by_alg[v.alg]
        v.ratios = [s / r for s, r in zip(v.samples, raw.samples, strict=True)]

    data: dict[str, Any] = {
        "extra_keys": EXTRA_KEYS,
        "rounds": args.rounds,
        "batch_ms": args.batch_ms,
        "seconds": round(time.monotonic() - started, 1),
        "load_after": loadavg(),
        "algs": {},
    }
    md: list[str] = []
    for alg in algs:
        summary, rows = summarize([v for v in all_variants if v.alg == alg])
        data["algs"][alg] = {"token_bytes": info[alg]["token_bytes"], "variants": summary}
        md.append(f"**{alg}** (token {info[alg]['token_bytes']} bytes)\n\n" + table(HEADERS, rows))
    text = "\n\n".join(md)
    print(text)
    log(f"micro: done in {data['seconds']} s")
    if args.json:
        data["markdown"] = text
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
