"""Turn a Failure into the contract's HTTP response (CONTRACT section 2).

400/401/403 carry an RFC 6750 ``WWW-Authenticate: Bearer`` challenge; the
body is RFC 9457 ``application/problem+json``. The diagnostics level decides
how much the body says; no level ever contains the token, a signature, a
secret or key material (failures never hold them in the first place).
"""

from __future__ import annotations

import json
from typing import Any, Final

from .outcome import Failure
from .reasons import REASONS
from .settings import DiagnosticsLevel

PROBLEM_TYPE_BASE: Final = "urn:jwt-middleware:reason:"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"


def problem_type(reason: str) -> str:
    """The RFC 9457 ``type`` URI naming a reason."""
    return PROBLEM_TYPE_BASE + reason


def challenge(failure: Failure, realm: str) -> str | None:
    """The ``WWW-Authenticate`` value, or None (the 503 carries no challenge)."""
    info = failure.info
    if info.status == 503:
        return None
    parts = [f'Bearer realm="{realm}"']
    if info.error is not None:
        parts.append(f'error="{info.error}"')
        parts.append(f'error_description="{failure.reason.value}"')
    if failure.required_scopes:
        parts.append(f'scope="{" ".join(failure.required_scopes)}"')
    return ", ".join(parts)


def problem_body(failure: Failure, level: DiagnosticsLevel) -> dict[str, Any]:
    """The problem+json document for ``failure`` at diagnostics ``level``."""
    info = REASONS[failure.reason]
    body: dict[str, Any] = {
        "type": problem_type(failure.reason.value),
        "title": info.title,
        "status": info.status,
        "reason": failure.reason.value,
    }
    if level == "minimal":
        return body
    body["detail"] = failure.detail
    hint = failure.effective_hint
    if level == "verbose" and failure.verbose_hint:
        hint = f"{hint} {failure.verbose_hint}"
    body["hint"] = hint
    body["problems"] = [{"reason": p.reason.value, "detail": p.detail} for p in failure.problems]
    if failure.required_scopes:
        body["required_scopes"] = list(failure.required_scopes)
    if level == "verbose" and failure.expected:
        body["expected"] = failure.expected
    return body


def render(
    failure: Failure, level: DiagnosticsLevel, realm: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, raw ASGI headers and body bytes for ``failure``."""
    body = json.dumps(problem_body(failure, level), separators=(",", ":")).encode("utf-8")
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    value = challenge(failure, realm)
    if value is not None:
        headers.append((b"www-authenticate", value.encode("latin-1", "replace")))
    if failure.info.status == 503:
        headers.append((b"retry-after", str(failure.retry_after or 30).encode()))
    return failure.info.status, headers, body
