"""Claims and tokens: signed by PyJWT (another library, not ours), or assembled raw."""

from __future__ import annotations

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
