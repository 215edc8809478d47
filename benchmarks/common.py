"""What the benchmarks share: keys, a typical access token, machine facts, formatting.

Keys are generated fresh for each run (nothing secret is kept on disk beyond
the run's temporary directory). The token is a typical ~800-byte access token
(RS256): iss, aud, sub, exp, iat, nbf, jti, scope and a few custom claims, the
same claims for every algorithm.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
ISSUER = "https://login.example.com/realms/acme"
AUDIENCE = "orders-api"
ALGS = ("RS256", "PS256", "ES256", "EdDSA", "HS256")
HS_SECRET = b"bench-hmac-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # 54 bytes


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: The subject of the benchmark's tokens, which the apps answer with (request.user.identity).
SUBJECT = "f3b2c1d0-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
#: What a benchmark app answers for an accepted request: the identity, or ``ok`` where the
#: app has no user (bare) or does not read it (FastAPI).
ANSWERS = (b"ok", SUBJECT.encode())


def typical_claims(now: int | None = None, *, sub: str | None = None, ttl: int = 3600) -> dict:
    """An access token's claims as identity providers issue them (~330 bytes of JSON)."""
    now = int(time.time()) if now is None else now
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub or SUBJECT,
        "exp": now + ttl,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "scope": "openid profile email orders:read orders:write",
        "preferred_username": "alice",
        "tenant": "acme-eu-1",
    }


def public_pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class AlgKeys:
    """For one algorithm: several signing keys (the first signs), their kids, public forms."""

    alg: str
    private: list[Any]
    kids: list[str]
    public: list[Any] = field(default_factory=list)  # cryptography public keys (or secret)
    jwks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def signing(self) -> Any:
        return self.private[0]


def make_keys(alg: str, count: int = 4) -> AlgKeys:
    """``count`` keys for ``alg`` (a key set as during a rotation: several keys, kids)."""
    private: list[Any] = []
    for i in range(count):
        if alg in ("RS256", "PS256"):
            private.append(rsa.generate_private_key(65537, 2048))
        elif alg == "ES256":
            private.append(ec.generate_private_key(ec.SECP256R1()))
        elif alg == "EdDSA":
            private.append(ed25519.Ed25519PrivateKey.generate())
        elif alg == "HS256":
            private.append(HS_SECRET if i == 0 else HS_SECRET + bytes([i]) * 8)
        else:
            raise ValueError(alg)
    kids = [f"{alg.lower()}-key-{i}" for i in range(count)]
    keys = AlgKeys(alg, private, kids)
    for key, kid in zip(private, kids, strict=True):
        if alg == "HS256":
            keys.public.append(key)
            keys.jwks.append({"kty": "oct", "kid": kid, "alg": alg, "k": b64url(key)})
            continue
        pub = key.public_key()
        keys.public.append(pub)
        jwk = json.loads(pyjwt.algorithms.get_default_algorithms()[alg].to_jwk(pub))
        jwk.update(kid=kid, alg=alg, use="sig")
        keys.jwks.append(jwk)
    return keys


def sign(claims: dict[str, Any], keys: AlgKeys, index: int = 0) -> str:
    """A token signed by PyJWT (another library than the one measured) with key ``index``."""
    return pyjwt.encode(
        claims, keys.private[index], algorithm=keys.alg, headers={"kid": keys.kids[index]}
    )


def bad_signature(token: str) -> str:
    """The same token with its signature changed (a byte flipped, still canonical)."""
    head, payload, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x5A
    return f"{head}.{payload}.{b64url(bytes(raw))}"


# --- statistics and formatting -------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def iqr_pct(values: list[float]) -> float:
    """Inter-quartile range as a percentage of the median (the round-to-round noise)."""
    if len(values) < 4:
        return float("nan")
    q = statistics.quantiles(values, n=4)
    m = statistics.median(values)
    return 100.0 * (q[2] - q[0]) / m if m else float("nan")


def table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table (also readable as plain text)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def fmt(cells: list[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(str(c).ljust(widths[i]) if align[i] == "l" else str(c).rjust(widths[i]))
        return "| " + " | ".join(out) + " |"

    dashes = [
        "-" * (w + 1) + ":" if a == "r" else ":" + "-" * (w + 1)
        for w, a in zip(widths, align, strict=True)
    ]
    sep = "|" + "|".join(dashes) + "|"
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in rows)])


# --- machine facts -----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def wrk_version(wrk: str = "wrk") -> str:
    try:
        out = subprocess.run(  # noqa: S603 - our own wrk path
            [wrk, "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "not found"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" [")[0] if first else "unknown"


def machine_facts() -> dict[str, str]:
    packages = (
        "asgi-jwt-bearer",
        "cryptography",
        "joserfc",
        "PyJWT",
        "starlette",
        "fastapi",
        "uvicorn",
        "uvloop",
        "httptools",
        "prometheus-client",
        "structlog",
        "pyinstrument",
    )
    import ssl

    return {
        "nproc": str(os.cpu_count()),
        "CPU": _cpu_model(),
        "kernel": platform.release(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OpenSSL (cryptography)": _openssl(),
        "OpenSSL (ssl module)": ssl.OPENSSL_VERSION,
        "load average at start": loadavg(),
        **{name: _version(name) for name in packages},
        "wrk": wrk_version(),
    }


def _openssl() -> str:
    try:
        from cryptography.hazmat.backends.openssl import backend

        return str(backend.openssl_version_text())
    except Exception:  # pragma: no cover - informative only
        return "unknown"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)
