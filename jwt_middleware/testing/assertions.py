"""``assert_rejected``: a response is the contract's refusal for one reason.

It checks what CONTRACT sections 2 and 7 give a client for that reason: the status,
the ``WWW-Authenticate`` challenge (``Bearer``, or ``DPoP`` first for a DPoP
refusal, with the RFC 6750 ``error`` and ``error_description`` the reason has, and
a ``scope`` for insufficient_scope; none for the 503 of key_source_unavailable,
which has ``Retry-After`` instead) and the ``application/problem+json`` body's
``reason``, ``status`` and ``type``. It takes any response with ``status_code``,
``headers`` and ``json()``: Starlette's and FastAPI's test clients and httpx.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from ..reasons import REASONS, Reason

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:jwt-middleware:reason:"
_ITEM = re.compile(
    r"""\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?"""
)


def challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """The challenges of ``WWW-Authenticate`` values: (scheme, parameters) in order;
    several in one value (comma-joined) are told apart by their scheme names."""
    found: list[tuple[str, dict[str, str]]] = []
    for value in values:
        for match in _ITEM.finditer(value):
            name, raw = match.group(1), match.group(2)
            if raw is None:
                found.append((name, {}))
            elif found:
                text = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
                found[-1][1][name.lower()] = re.sub(r"\\(.)", r"\1", text)
    return found


def _header_values(headers: Any, name: str) -> list[str]:
    for getter in ("get_list", "getlist", "getall"):
        method = getattr(headers, getter, None)
        if callable(method):
            return [str(v) for v in method(name)]
    value = headers.get(name)
    return [] if value is None else [str(value)]


def _body(response: Any) -> tuple[Any, str]:
    try:
        return response.json(), ""
    except (ValueError, json.JSONDecodeError) as exc:
        text = getattr(response, "text", "")
        return None, f"the body is not JSON ({exc}): {str(text)[:200]!r}"


def assert_rejected(response: Any, reason: str | Reason) -> dict[str, Any]:
    """Assert that ``response`` refuses the request with ``reason``, as the contract
    says; returns the problem+json body for further checks. Raises AssertionError
    naming every difference (and ValueError for a reason that does not exist)."""
    try:
        code = Reason(reason)
    except ValueError:
        raise ValueError(f"{reason!r} is not a reason code (see jwt_middleware.Reason)") from None
    info = REASONS[code]
    wrong: list[str] = []
    status = response.status_code
    if status != info.status:
        wrong.append(f"status {status}, expected {info.status}")
    content_type = response.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != PROBLEM_JSON:
        wrong.append(f"content-type {content_type!r}, expected {PROBLEM_JSON}")
    body, problem = _body(response)
    if problem:
        wrong.append(problem)
    elif not isinstance(body, dict):
        wrong.append(f"the body is not a JSON object: {body!r:.200}")
    else:
        if body.get("reason") != code.value:
            wrong.append(f"reason {body.get('reason')!r}, expected {code.value!r}")
        if body.get("status") != info.status:
            wrong.append(f"body status {body.get('status')!r}, expected {info.status}")
        if body.get("type") != TYPE_PREFIX + code.value:
            wrong.append(f"type {body.get('type')!r}, expected {TYPE_PREFIX + code.value!r}")
    wrong.extend(_challenge_problems(response.headers, code))
    if wrong:
        shown = json.dumps(body)[:600] if body is not None else ""
        raise AssertionError(
            f"not a {code.value} refusal: "
            + "; ".join(wrong)
            + (f"\nbody: {shown}" if shown else "")
        )
    assert isinstance(body, dict)
    return body


def _challenge_problems(headers: Any, code: Reason) -> list[str]:
    info = REASONS[code]
    found = challenges(_header_values(headers, "www-authenticate"))
    if info.status == 503:
        late = [f"a 503 carries no challenge, got {found}"] if found else []
        if not _header_values(headers, "retry-after"):
            late.append("no Retry-After header")
        return late
    if not found:
        return ["no WWW-Authenticate challenge"]
    scheme, params = found[0]
    problems: list[str] = []
    if scheme.lower() not in ("bearer", "dpop"):
        problems.append(f"challenge scheme {scheme!r}, expected Bearer or DPoP")
    if "realm" not in params:
        problems.append("the challenge has no realm")
    if info.error is None:
        if "error" in params:
            problems.append(f"error={params['error']!r}, expected no error parameter")
    else:
        if params.get("error") != info.error:
            problems.append(f"error={params.get('error')!r}, expected {info.error!r}")
        if params.get("error_description") != code.value:
            problems.append(
                f"error_description={params.get('error_description')!r}, expected {code.value!r}"
            )
    if code is Reason.insufficient_scope and not params.get("scope"):
        problems.append("insufficient_scope without scope= in the challenge")
    return problems
