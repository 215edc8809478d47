"""What a token is and why it was refused, as ``decode`` and ``diagnose`` print
them: its type and provider (:func:`identify`), and a rejection with the
middleware's own detail and hint at the verbose level (:func:`print_failure`).
"""

from __future__ import annotations

import json
from typing import Any

from ..outcome import Failure
from ..reasons import REASONS
from ..request.responses import problem_body
from ..tokens import idp
from ..tokens.tokentype import describe
from ..values.settingnames import BY_ENVIRONMENT, SettingNames
from .common import EXIT_REJECTED, Style, json_out


def identify(
    header: dict[str, Any], claims: dict[str, Any], configured: str | None = None
) -> dict[str, Any]:
    """What a token is (its type), its provider (``configured``, else recognised from
    its own ``iss``) and the provider's quirks the token shows."""
    provider = configured or idp.recognise_str(claims.get("iss"))
    if provider is None and header.get("alg") == "dir":
        provider = idp.recognise_str(header.get("iss"))
    return {
        "token_type": describe(header, claims),
        "provider": idp.describe_provider(provider),
        "provider_notes": idp.token_notes(header, claims),
    }


def print_identity(
    identity: dict[str, Any], style: Style, *, indent: str = "", width: int = 10
) -> None:
    """The token's type, provider and the provider's quirks it shows: lines of their own
    for ``decode``, rows (``indent``, labels ``width`` wide) under ``diagnose``'s verdict."""
    print(f"{indent}{style.bold('type'.ljust(width - 1))} {identity['token_type']}")
    if identity["provider"]:
        print(f"{indent}{style.bold('provider'.ljust(width - 1))} {identity['provider']}")
    for note in identity["provider_notes"]:
        print(f"{indent}  - {note}")


def print_failure(
    failure: Failure,
    as_json: bool,
    style: Style,
    identity: dict[str, Any] | None = None,
    names: SettingNames = BY_ENVIRONMENT,
) -> int:
    """A rejection as the middleware's verbose problem body (one JSON object with
    ``--json``), the settings its hint names written as ``names`` says (the flags of
    ``diagnose``); the exit code, 1."""
    body = problem_body(failure, "verbose", names)
    info = REASONS[failure.reason]
    if as_json:
        json_out({"valid": False, **body, **(identity or {})})
        return EXIT_REJECTED
    error = f", {info.error}" if info.error else ""
    print(f"{style.bad('REJECTED')}  {style.bold(failure.reason.value)} ({info.status}{error})")
    print(f"  {info.title}")
    print(f"  {style.bold('detail')}  {body['detail']}")
    print(f"  {style.bold('hint')}    {body['hint']}")
    if len(failure.problems) > 1:
        print(f"  {style.bold('problems')}")
        for problem in failure.problems:
            print(f"    - {problem.reason.value}: {problem.detail}")
    expected = body.get("expected")
    if expected:
        print(f"  {style.bold('expected')}")
        for name, value in expected.items():
            print(f"    {name}: {json.dumps(value, default=str)}")
    if identity is not None:
        print_identity(identity, style, indent="  ")
    return EXIT_REJECTED
