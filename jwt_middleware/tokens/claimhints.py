"""The claims stage's hints: what a refused claim most likely means (the failure path only).

:meth:`~jwt_middleware.tokens.claims.ClaimsPolicy.failure` picks one of these for the
primary problem: an issuer that nearly equals an expected one, an audience
that nearly names this resource URI (RFC 8707), an expiry within clock-skew
range, or what the issuer's measured clock offset (:mod:`jwt_middleware.keys.clock`)
says about a failed time claim. None runs for an accepted token.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from ..keys.clock import ClockSample, describe
from ..outcome import Problem
from ..reasons import Reason
from ..values.resourceid import resource_key, resource_parts
from ..values.text import clip, duration

#: An expiry this recent is most likely clock skew between issuer and server.
_CLOCK_SKEW_WINDOW: Final = 300
_ENV_WORDS: Final = frozenset(
    {"dev", "develop", "development", "test", "testing", "qa", "stage", "staging", "preprod",
     "uat", "sandbox", "prod", "production", "live", "demo", "local"}
)  # fmt: skip


def issuer_near_miss(actual: str, expected: str) -> str | None:
    """Say how ``actual`` nearly equals ``expected``, or None if it does not."""
    if actual.rstrip("/") == expected.rstrip("/"):
        return "differs only by a trailing slash"
    if actual.lower() == expected.lower():
        return "differs only in letter case"
    try:
        a, e = urlsplit(actual), urlsplit(expected)
    except ValueError:  # not a URL at all (unbalanced brackets, odd characters)
        return None
    if {a.scheme, e.scheme} == {"http", "https"} and (a.netloc, a.path.rstrip("/")) == (
        e.netloc,
        e.path.rstrip("/"),
    ):
        return f"uses {a.scheme}:// where {e.scheme}:// is expected"
    if a.netloc and e.netloc and a.netloc != e.netloc and a.path.rstrip("/") == e.path.rstrip("/"):
        a_labels = a.netloc.lower().replace("-", ".").split(".")
        e_labels = e.netloc.lower().replace("-", ".").split(".")
        if (set(a_labels) ^ set(e_labels)) & _ENV_WORDS:
            return "comes from another environment (the host names differ by an environment name)"
        if len(a_labels) == len(e_labels) and a_labels[1:] == e_labels[1:]:
            return "comes from another host of the same domain (another environment or region?)"
    return None


def resource_near_miss(actual: str, expected: str) -> str | None:
    """The hint when a token's aud ``actual`` nearly names the resource URI ``expected``
    (RFC 8707): the same origin (after normalising), another path. None otherwise."""
    a, e = resource_parts(actual), resource_parts(expected)
    if a is None or e is None or a[0] != e[0]:
        return None
    a_path, e_path = a[1] or "/", e[1] or "/"  # an empty path is "/" (resource_key)
    shown, wanted = clip(actual, 80), clip(expected, 80)
    fix = f"request the token with resource={wanted} (RFC 8707)"
    if a_path == "/" and e_path != "/":
        return (
            f"The token was requested for {shown} but this resource is {wanted}, a path "
            f"below that origin: {fix}."
        )
    if a_path.rstrip("/") == e_path.rstrip("/") and a_path != e_path:
        return (
            f"The token's audience {shown} differs from this resource {wanted} only by a "
            "trailing slash. Resource URIs are compared exactly, beyond the letter case of "
            f"the scheme and host and a default port: {fix}, or add that spelling to "
            "$audience if it names this resource too."
        )
    if a_path != e_path:
        return (
            f"The token was requested for {shown}, another path on this resource's "
            f"origin; this resource is {wanted}: {fix}."
        )
    if a[2] != e[2]:
        return (
            f"The token was requested for {shown}, which differs from this resource "
            f"{wanted} in its query: {fix}."
        )
    return None


def issuer_hint(issuers: frozenset[str], primary: Problem) -> str | None:
    """The hint of an issuer_mismatch: how the token's issuer nearly equals an expected one."""
    actual = primary.value if isinstance(primary.value, str) else ""
    for expected in sorted(issuers):
        near = issuer_near_miss(actual, expected)
        if near and len(issuers) > 1:
            near = f"{near} (compared with one of the {len(issuers)} expected issuers)"
        if near:
            return (
                f"The token's issuer {near}. Issuers are compared exactly: make $issuer "
                "match the issuer's 'iss' (see its discovery document) character for "
                "character."
            )
    return None


def audience_hint(
    audiences: frozenset[str], resources: frozenset[str], primary: Problem
) -> str | None:
    """The near miss of a token's aud and an expected resource URI, if one is."""
    if not resources or not isinstance(primary.value, tuple):
        return None
    for expected in sorted(a for a in audiences if resource_key(a) is not None):
        for actual in primary.value[:20]:
            near = resource_near_miss(actual, expected)
            if near:
                return near
    return None


def time_hint(leeway: float, primary: Problem) -> str | None:
    """The hint of a failed time claim when no clock offset was measured."""
    if primary.reason is Reason.token_expired:
        # Expired within a few minutes: most likely clock skew.
        seconds = primary.value
        if isinstance(seconds, float | int) and seconds <= _CLOCK_SKEW_WINDOW:
            return (
                f"The token expired only {duration(seconds)} ago, beyond the "
                f"{leeway:g} s leeway. If clients see this on fresh tokens, the "
                "issuer's and this server's clocks differ: check NTP, or raise $leeway."
            )
    return None


def clock_hint(leeway: float, primary: Problem, clock: ClockSample) -> str | None:
    """The hint of a failed time claim, given the issuer's measured clock offset.

    ``apparent`` is how far the claim is off by this server's clock (seconds past
    exp, or before nbf or iat); the offset accounts for ``shift`` of it (an offset
    < 0, this server ahead, makes tokens look expired; > 0 makes them look not yet
    valid); ``residual`` is how far it is off by the issuer's clock, within ±
    the error bound. The offset explains the refusal when it is real (beyond its
    error, in that direction) and the token might pass by the issuer's clock
    (``residual`` - error within the leeway). Otherwise it is the token's problem:
    the clocks agree, or the claim fails by the issuer's clock too.
    """
    apparent = primary.value
    if not isinstance(apparent, int | float):
        return None
    reason = primary.reason
    shift = -clock.offset if reason is Reason.token_expired else clock.offset
    residual = apparent - shift
    measured = describe(clock)
    if residual - clock.error <= leeway and shift > clock.error:
        return (
            f"{measured[0].upper()}{measured[1:]}: by the issuer's clock the token "
            f"{_by_issuer_clock(reason, residual, leeway)}. Fix time sync (NTP) on this "
            "host, or on the issuer if its clock is the wrong one; raising $leeway "
            "only hides the offset."
        )
    if not clock.significant:  # the clocks agree: the claim is what it looks like
        seen = f"{_off_by(reason, apparent)}, beyond the {leeway:g} s leeway"
    else:  # then residual - error > leeway: it fails by the issuer's clock too
        seen = (
            f"{_off_by(reason, residual)} even by the issuer's clock, more than the "
            "clock offset explains"
        )
    return (
        f"The token {seen} ({measured}): the token's problem, not this server's "
        f"clock. {_TOKEN_PROBLEM[reason]}"
    )


_TOKEN_PROBLEM: Final = {
    Reason.token_expired: "The client must get a new token (refresh it before it expires).",
    Reason.token_not_yet_valid: (
        "The issuer dated its nbf ahead, or the client uses a token meant for later."
    ),
    Reason.token_issued_in_future: (
        "The token was minted with a time ahead of the issuer's key server: check the "
        "clock of the issuer's signing service."
    ),
}


def _off_by(reason: Reason, seconds: float) -> str:
    """How far a time claim is off: ``seconds`` past exp, or before nbf or iat."""
    if reason is Reason.token_expired:
        return f"expired {duration(seconds)} ago"
    if reason is Reason.token_not_yet_valid:
        return f"becomes valid only in {duration(seconds)}"
    return f"was issued {duration(seconds)} in the future"


def _by_issuer_clock(reason: Reason, residual: float, leeway: float) -> str:
    """What the token is by the issuer's clock, when the offset explains its refusal."""
    within = (
        f"within the {leeway:g} s leeway"
        if residual <= leeway
        else f"at the edge of the {leeway:g} s leeway"
    )
    if reason is Reason.token_expired:
        if residual <= 0:
            return f"is still valid for {duration(-residual)}"
        return f"expired only {duration(residual)} ago, {within}"
    if reason is Reason.token_not_yet_valid:
        if residual <= 0:
            return f"is already valid (since {duration(-residual)})"
        return f"becomes valid in only {duration(residual)}, {within}"
    if residual <= 0:
        return f"was issued {duration(-residual)} ago"
    return f"was issued only {duration(residual)} in the future, {within}"
