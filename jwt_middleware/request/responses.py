"""Turn a Failure into the contract's HTTP response (CONTRACT section 2).

400/401/403 carry an RFC 6750 ``WWW-Authenticate: Bearer`` challenge; the
body is RFC 9457 ``application/problem+json``. With a resource configured
(``JWT_RESOURCE``), every challenge also carries ``resource_metadata="<url>"``
(RFC 9728 section 5.1): the middleware formats that parameter once, at
startup (:func:`resource_metadata_param`), and passes it to :func:`render`.
The diagnostics level decides how much the body says; no level ever contains
the token, a signature, a secret or key material (failures never hold them in the first place).

DPoP (RFC 9449 section 7.1, CONTRACT section 7): with DPoP accepted the
middleware passes a :class:`DPoPChallenge`. A DPoP failure, or any failure of a
request made with the DPoP scheme, is challenged with
``DPoP realm=..., error=..., error_description=..., algs="..."``, followed by a
plain ``Bearer realm=...`` challenge when Bearer is accepted too (two
``WWW-Authenticate`` headers, RFC 9110 section 11.6.1). Other failures keep the
Bearer challenge alone (only the DPoP one with ``JWT_DPOP=required``). A
dpop_nonce_required response carries the fresh nonce in ``DPoP-Nonce``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from ..dpop.challenge import DPoPChallenge
from ..outcome import Failure
from ..reasons import REASONS, Stage
from ..settings import DiagnosticsLevel
from ..values.settingnames import BY_ENVIRONMENT, SettingNames

PROBLEM_TYPE_BASE: Final = "urn:jwt-middleware:reason:"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"


def problem_type(reason: str) -> str:
    """The RFC 9457 ``type`` URI naming a reason."""
    return PROBLEM_TYPE_BASE + reason


def resource_metadata_param(url: str | None) -> str | None:
    """The challenge parameter naming the metadata URL (RFC 9728 section 5.1), or None."""
    return None if url is None else f'resource_metadata="{url}"'


def dpop_challenge(failure: Failure | None, realm: str, algs: str, extra: str | None = None) -> str:
    """The RFC 9449 section 7.1 ``DPoP`` challenge; with ``failure``, its error."""
    parts = [f'DPoP realm="{realm}"']
    if failure is not None:
        info = failure.info
        if info.error is not None:
            parts.append(f'error="{info.error}"')
            parts.append(f'error_description="{failure.reason.value}"')
        if failure.required_scopes:
            parts.append(f'scope="{" ".join(failure.required_scopes)}"')
    parts.append(f'algs="{algs}"')
    if extra is not None:
        parts.append(extra)
    return ", ".join(parts)


def challenges(
    failure: Failure, realm: str, extra: str | None, dpop: DPoPChallenge | None
) -> list[str]:
    """Every ``WWW-Authenticate`` value for ``failure`` (none for a 503)."""
    if dpop is None:
        value = challenge(failure, realm, extra)
        return [] if value is None else [value]
    if failure.info.status == 503:
        return []
    if dpop.dpop_request or failure.info.stage is Stage.dpop or not dpop.bearer:
        values = [dpop_challenge(failure, realm, dpop.algs, extra)]
        if dpop.bearer:
            values.append(f'Bearer realm="{realm}"' + (f", {extra}" if extra else ""))
        return values
    value = challenge(failure, realm, extra)
    return [] if value is None else [value]


def challenge(failure: Failure, realm: str, extra: str | None = None) -> str | None:
    """The ``WWW-Authenticate`` value, or None (the 503 carries no challenge).

    ``extra``: a preformatted parameter appended last (:func:`resource_metadata_param`)."""
    info = failure.info
    if info.status == 503:
        return None
    parts = [f'Bearer realm="{realm}"']
    if info.error is not None:
        parts.append(f'error="{info.error}"')
        parts.append(f'error_description="{failure.reason.value}"')
    if failure.required_scopes:
        parts.append(f'scope="{" ".join(failure.required_scopes)}"')
    if extra is not None:
        parts.append(extra)
    return ", ".join(parts)


def problem_body(
    failure: Failure, level: DiagnosticsLevel, names: SettingNames = BY_ENVIRONMENT
) -> dict[str, Any]:
    """The problem+json document for ``failure`` at diagnostics ``level``; the settings
    its hint names are written as ``names`` says (as the reader gave them:
    :mod:`jwt_middleware.values.settingnames`), by default as environment variables."""
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
    body["hint"] = failure.hint_for(names, verbose=level == "verbose")
    body["problems"] = [{"reason": p.reason.value, "detail": p.detail} for p in failure.problems]
    if failure.required_scopes:
        body["required_scopes"] = list(failure.required_scopes)
    if level == "verbose" and failure.expected:
        body["expected"] = failure.expected
    return body


def render(
    failure: Failure,
    level: DiagnosticsLevel,
    realm: str,
    challenge_extra: str | None = None,
    dpop: DPoPChallenge | None = None,
    names: SettingNames = BY_ENVIRONMENT,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, raw ASGI headers and body bytes for ``failure``; ``challenge_extra`` is
    appended to the challenge (the ``resource_metadata`` parameter); ``dpop`` adds the
    DPoP challenge and ``DPoP-Nonce`` (see the module's docstring); ``names`` as for
    :func:`problem_body`."""
    body = json.dumps(problem_body(failure, level, names), separators=(",", ":")).encode("utf-8")
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    for value in challenges(failure, realm, challenge_extra, dpop):
        headers.append((b"www-authenticate", value.encode("latin-1", "replace")))
    if dpop is not None and dpop.nonce is not None:
        headers.append((b"dpop-nonce", dpop.nonce.encode("ascii")))
    if failure.info.status == 503:
        headers.append((b"retry-after", str(failure.retry_after or 30).encode()))
    return failure.info.status, headers, body
