"""Request stage: find the bearer token in the Authorization header.

Every way a client or a proxy mangles the header gets its own reason. Nothing
here echoes credentials: details name the shape of the problem, never the
token (nor, for another scheme such as Basic, its credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..outcome import Failure
from ..reasons import Reason
from ..tokens.structure import too_large

_AUTHORIZATION = b"authorization"
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# Registered and common schemes, safe to name back; anything else may be a credential.
_KNOWN_SCHEMES = frozenset(
    {"basic", "digest", "negotiate", "ntlm", "token", "jwt", "dpop", "hoba", "mutual",
     "oauth", "apikey", "api-key", "key", "aws4-hmac-sha256", "scram-sha-256", "vapid",
     "privatetoken", "concealed", "gnap", "sharedaccesssignature"}
)  # fmt: skip
_WHITESPACE = (" ", "\t", "\r", "\n", "\v", "\f")
# Slack for the scheme and separators when the raw header is judged by length.
_HEADER_SLACK = 1024


def _looks_like_jwt(value: str) -> bool:
    return value.startswith("eyJ") or value.count(".") in (2, 4)


def authorization(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes | None, int]:
    """The one scan of the ASGI ``headers``: the (last) Authorization value and how many
    Authorization headers there are."""
    raw: bytes | None = None
    count = 0
    for name, value in headers:
        if name == _AUTHORIZATION or (len(name) == 13 and name.lower() == _AUTHORIZATION):
            count += 1
            raw = value
    return raw, count


def judge(raw: bytes | None, count: int, max_token_bytes: int) -> str | Failure:
    """The request stage for what :func:`authorization` found: the token or why not."""
    if raw is None:
        return Failure(Reason.missing_token, "The request has no Authorization header.")
    if count > 1:
        return Failure(
            Reason.multiple_authorization_headers,
            f"The request carries {count} Authorization headers.",
        )
    return parse_authorization(raw.decode("latin-1"), max_token_bytes)


def extract_bearer(headers: Iterable[tuple[bytes, bytes]], max_token_bytes: int) -> str | Failure:
    """Return the raw token from ASGI ``headers`` or the request-stage Failure."""
    return judge(*authorization(headers), max_token_bytes)


def parse_authorization(
    header: str, max_token_bytes: int, *, scheme: str = "Bearer", what: str = "Authorization header"
) -> str | Failure:
    """Diagnose one Authorization header value (or another header that carries a token
    after ``scheme``, named ``what``); return the token or a Failure."""
    if len(header) > max_token_bytes + _HEADER_SLACK:
        return too_large(len(header), max_token_bytes, what)
    value = header.strip(" \t")
    if not value:
        return Failure(Reason.invalid_scheme, f"The {what} is empty.")
    expected = scheme.lower()
    lowered = value[: len(expected) + 8].lower()
    if lowered.startswith((f"{expected}%20", f"{expected}%09", f"{expected}+")):
        return Failure(
            Reason.url_encoded_token,
            f"The whole header is percent-encoded: the space after '{scheme}' arrived as '%20'.",
        )
    given, _sep, rest = _split_scheme(value)
    if given.lower() != expected:
        return _other_scheme(given, value, scheme, what)
    token = rest.strip(" \t")
    if not token:
        return Failure(Reason.empty_token, f"The header is '{scheme}' with no token after it.")
    head = token[: len(expected) + 1].lower()
    if head == expected or (
        head.startswith(expected)
        and head[len(expected) : len(expected) + 1] in (" ", "\t", "%", ":")
    ):
        return Failure(
            Reason.double_bearer, f"The header repeats the scheme: '{scheme} {scheme} ...'."
        )
    return check_token(token, max_token_bytes)


def check_token(token: str, max_token_bytes: int) -> str | Failure:
    """The request-stage checks of a token taken from anywhere: quotes, size, whitespace,
    percent-encoding. Returns the token or the Failure."""
    if token[0] in "\"'" or token[-1] in "\"'":
        return Failure(Reason.quoted_token, "The token is wrapped in quotes.")
    if len(token) > max_token_bytes:
        return too_large(len(token), max_token_bytes)
    for ch in _WHITESPACE:
        if ch in token:
            return Failure(
                Reason.whitespace_in_token,
                f"The token contains {_describe_whitespace(token)} inside it.",
            )
    if "%" in token and _PERCENT.search(token):
        return Failure(
            Reason.url_encoded_token,
            "The token contains percent-encoded characters (e.g. %2E for '.', %3D for '=').",
        )
    return token


def _split_scheme(value: str) -> tuple[str, str, str]:
    for i, ch in enumerate(value):
        if ch in " \t":
            return value[:i], ch, value[i + 1 :]
    return value, "", ""


def _other_scheme(
    given: str, value: str, scheme: str = "Bearer", what: str = "Authorization header"
) -> Failure:
    if given.startswith(('"', "'")) and _looks_like_jwt(given.strip("\"'")):
        return Failure(
            Reason.invalid_scheme,
            f"The header holds a quoted token without the '{scheme}' scheme.",
            hint=f"Send '{what.removesuffix(' header')}: {scheme} <token>' without quotes.",
        )
    if _looks_like_jwt(given):
        return Failure(
            Reason.invalid_scheme,
            f"The header holds a token without the '{scheme} ' scheme in front of it.",
            hint=f"Prefix the token with '{scheme} ': "
            f"'{what.removesuffix(' header')}: {scheme} <token>'.",
        )
    if given.lower() in _KNOWN_SCHEMES:
        return Failure(Reason.invalid_scheme, f"The {what}'s scheme is '{given}', not {scheme}.")
    if given == value:
        # One word and no scheme: probably a bare credential. Never echo it.
        return Failure(
            Reason.invalid_scheme,
            f"The {what} holds a single value with no scheme.",
            hint=f"Send '{what.removesuffix(' header')}: {scheme} <token>'.",
        )
    return Failure(
        Reason.invalid_scheme,
        f"The {what} uses a scheme other than {scheme} (not shown).",
    )


def _describe_whitespace(token: str) -> str:
    kinds = []
    if "\n" in token or "\r" in token:
        kinds.append("a line break")
    if "\t" in token:
        kinds.append("a tab")
    if " " in token:
        kinds.append("a space")
    if "\v" in token or "\f" in token:
        kinds.append("a form feed or vertical tab")
    return " and ".join(kinds)
