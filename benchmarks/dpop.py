"""DPoP proof micro benchmark: µs per ``verify_proof``, against the raw signature check.

A DPoP request costs, on top of its access token, one proof: parsing it and one
signature check with the key in its header (RFC 9449 section 4.3). Each call
here verifies a proof it has not verified before (a pool of ES256 proofs from one
client key, each with its own ``jti``: benchmarks/proofs.py), as a client makes a
new proof for every request:

- raw: ``cryptography``'s ES256 check of one proof's signature, key and DER
  signature prepared (the limit);
- ref: the standard library's parse alone (split, base64url, json.loads);
- ``verify_proof``, a new proof from a known key (the client's key already seen:
  its import is memoised by header, as for any client's second request);
- ``verify_proof``, the first proof of a key (that memo emptied before each call:
  the JWK imported and its thumbprint computed);
- ``verify_proof`` then the per-process replay store's check of its ``jti``
  (``MemoryReplayStore``, a new store for each batch): the proof's whole cost in
  the middleware but for the token's ``cnf.jkt`` comparison;
- a rejected proof: one byte of the signature flipped.

``now`` is passed to ``verify_proof`` (it is pure), so the pool's ``iat`` stays
within the window however long the run takes. Method as benchmarks/micro.py:
variants round-robin, batches of about ``--batch-ms``, gc off while timing; the
median µs, the median over rounds of the ratio to the raw check of the same
round, and the IQRs.

    python -m benchmarks.dpop [--rounds 60] [--batch-ms 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jwt_middleware import Settings
from jwt_middleware.dpop import proof as dpop
from jwt_middleware.dpop.replay import MemoryReplayStore
from jwt_middleware.values.uri import Target, parse_url

from .common import bad_signature, loadavg, log, table
from .micro import HEADERS, Variant, _b64d, _loop, _parse_only, calibrate, run_rounds, summarize
from .proofs import ProofMaker

URL = "https://api.example.com/orders"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"  # noqa: S105 - for ath: any token will do
POOL = 400  # distinct proofs: the most calls in one batch


def build_variants() -> tuple[list[Variant], dict[str, Any]]:
    maker = ProofMaker.generate()
    proofs = maker.pool(POOL, "GET", URL, TOKEN)
    proof, bad = proofs[0], bad_signature(proofs[0])
    now = time.time() + 1
    settings = Settings(secret="x" * 32, algorithms=("HS256",))  # the defaults for DPoP
    policy = dpop.ProofPolicy.from_settings(settings)
    window = settings.dpop_iat_window + settings.leeway

    head, payload, sig64 = proof.split(".")
    msg = f"{head}.{payload}".encode("ascii")
    sig = _b64d(sig64)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    public = maker.private.public_key()
    ecdsa = ec.ECDSA(hashes.SHA256())

    def raw(a: bytes) -> None:
        public.verify(a, msg, ecdsa)

    target = parse_url(URL)
    assert isinstance(target, Target), target

    def check(p: str) -> Any:
        return dpop.verify_proof(
            p, method="GET", target=target, access_token=TOKEN, now=now, policy=policy
        )

    keys = dpop._KEYS  # the per-header key memo

    def fresh(n: int) -> None:
        for p in proofs[:n]:
            check(p)

    def new_key(n: int) -> None:
        clear = keys.clear
        for p in proofs[:n]:
            clear()
            check(p)

    state: dict[str, MemoryReplayStore] = {"store": MemoryReplayStore()}

    def new_store() -> None:
        state["store"] = MemoryReplayStore()

    def with_store(n: int) -> None:
        first_use = state["store"].check
        for p in proofs[:n]:
            result = check(p)
            first_use(f"{result.jkt}:{result.jti}", window, result.jkt)  # as the middleware does

    # Correctness first: every variant must do what its label says.
    raw(der)
    _parse_only(proof)
    out = check(proof)
    assert isinstance(out, dpop.Proof) and out.jkt == maker.jkt, out
    keys.clear()
    assert isinstance(check(proofs[1]), dpop.Proof)
    rejected = check(bad)
    assert not isinstance(rejected, dpop.Proof), rejected
    assert rejected.reason.value == "dpop_proof_invalid" and "signature" in rejected.detail
    probe = MemoryReplayStore()
    assert probe.check(out.jti, window) is True and probe.check(out.jti, window) is False
    assert len({p.split(".")[1] for p in proofs}) == POOL, "a proof twice in the pool"

    alg = "ES256"
    variants = [
        Variant(
            alg, "raw", "raw cryptography ES256 check of the proof (the limit)", _loop(raw, der)
        ),
        Variant(
            alg, "parse", "ref: stdlib parse only (split, b64, json)", _loop(_parse_only, proof)
        ),
        Variant(alg, "fresh", "verify_proof, a new proof from a known key", fresh),
        Variant(alg, "new_key", "verify_proof, the first proof of a key (JWK import)", new_key),
        Variant(
            alg,
            "store",
            "verify_proof + the per-process replay store's jti check",
            with_store,
            before=new_store,
        ),
        Variant(alg, "reject", "verify_proof, bad signature", _loop(check, bad)),
    ]
    info = {"proof_bytes": len(proof), "pool": POOL, "iat_window": settings.dpop_iat_window}
    return variants, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_MICRO_ROUNDS", 60)))
    parser.add_argument("--batch-ms", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    log("dpop: preparing ES256 proofs")
    variants, info = build_variants()
    for v in variants:
        calibrate(v, args.batch_ms, POOL if v.key in ("fresh", "new_key", "store") else 1_000_000)
    log(f"dpop: {len(variants)} variants x {args.rounds} rounds (load {loadavg()})")
    run_rounds(variants, args.rounds)
    raw = next(v for v in variants if v.key == "raw")
    for v in variants:
        v.ratios = [s / r for s, r in zip(v.samples, raw.samples, strict=True)]

    summary, rows = summarize(variants)
    alg_data: dict[str, Any] = {"proof_bytes": info["proof_bytes"], "variants": summary}
    text = f"**ES256 proof** ({info['proof_bytes']} bytes)\n\n" + table(HEADERS, rows)
    description = (
        f"One client key (P-256), a pool of {info['pool']} ES256 proofs of it (`GET`, an "
        "`htu`, `iat`, a `jti` each, `ath`), each call verifying a proof it has not verified "
        f"before; all variants interleaved round-robin, {args.rounds} rounds, batches of about "
        f"{args.batch_ms:g} ms, gc disabled while timing; median µs per call, median over "
        "rounds of the ratio to the raw check timed in the same round, and the IQRs. "
        "'a known key': the client's key already seen (its import is memoised by header); "
        "'the first proof of a key': that memo emptied before each call; the replay store "
        "row adds the default per-process store's check of the jti (a new store each batch). "
        "Rejected: one byte of the signature flipped. See benchmarks/dpop.py."
    )
    print(text)
    data: dict[str, Any] = {
        "rounds": args.rounds,
        "batch_ms": args.batch_ms,
        "seconds": round(time.monotonic() - started, 1),
        "load_after": loadavg(),
        "algs": {"ES256": alg_data},
        "description": description,
        "markdown": text,
    }
    log(f"dpop: done in {data['seconds']} s")
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
