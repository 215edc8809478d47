"""Claims and tokens: signed by PyJWT (another library, not ours), or assembled raw."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt as pyjwt

from helpers.keys import AUDIENCE, ISSUER, b64url


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ISSUER/AUDIENCE, expiring in 10 minutes; None removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "read write",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], key: Any, alg: str = "RS256", headers: dict[str, Any] | None = None
) -> str:
    """A token signed by PyJWT (another library, not ours)."""
    return pyjwt.encode(payload, key, algorithm=alg, headers=headers)


def raw_token(header: Any, payload: Any, signature: bytes = b"sig") -> str:
    """Assemble a token from arbitrary JSON-able parts (for structure tests)."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64url(h)}.{b64url(p)}.{b64url(signature)}"


#: The order of P-256, P-384 and P-521's base point, by signature length (RFC 7518 3.4).
_EC_ORDERS = {
    64: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    96: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    132: int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC"
        "0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


def malleate(token: str) -> str:
    """Another valid ES256/384/512 signature of the same header and payload: ``(r, s)``
    made ``(r, n - s)``. ECDSA accepts both, so a copy with other bytes and the same
    claims verifies: why nothing may be keyed on a token's bytes."""
    head, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    n = _EC_ORDERS[len(raw)]
    half = len(raw) // 2
    s = int.from_bytes(raw[half:], "big")
    twin = raw[:half] + (n - s).to_bytes(half, "big")
    assert twin != raw
    return f"{head}.{payload}.{b64url(twin)}"
