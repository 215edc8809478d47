"""Claim rules: one decision, used by the middleware's ``path_claims``, the FastAPI
dependency ``require_claims`` and the CLI (``diagnose --require-claim``).

A rule names a claim (a nested one written with dots, as in
:mod:`jwt_middleware.values.claimpaths`) and the values it accepts. A token
passes when the claim holds an accepted value: a string, number or boolean
equal to one, or an array with an element equal to one. Values are compared
exactly, type included (``"1"`` is not ``1``, ``true`` is not ``1``, letter
case counts). A claim that is missing, or holds none of the accepted values
(or a JSON object), is ``claim_not_allowed`` (403); the detail names the claim.
Claim rules are judged after scopes: a token lacking both is
``insufficient_scope``.

The common rules, one line each (CONTRACT section 12, docs/providers.md):
Entra ID multi-tenant APIs accept their tenants (``tid``), Keycloak APIs the
clients a token may be issued to (``azp``), Cognito APIs their app clients
(``client_id``).

A rule is checked when it is configured, never at the first request: a rule
without values, a value that is not a string, an integer or a boolean, or a
claim name that is not one is a ConfigurationError naming the setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

from ..errors import ConfigurationError
from ..outcome import Failure, Problem, VerifiedToken
from ..reasons import Reason
from ..values.claimpaths import MISSING, ClaimPath, claim_path, lookup
from ..values.text import clip

#: A value a rule may accept: what a JSON claim can be compared with exactly.
Value = str | int | bool
#: The most values one rule may list (an allow-list of tenants or clients, not a database).
MAX_VALUES: Final = 10_000
#: What a claim usually means, for the hint of a refusal.
_CLIENT: Final = ("the client the token was issued to", "request it with an accepted client")
_MEANING: Final = {
    "tid": ("the Entra ID tenant the token was issued in", "request it in an accepted tenant"),
    "azp": _CLIENT,
    "client_id": _CLIENT,
    "appid": _CLIENT,
    "cid": _CLIENT,
    "org_id": ("the organization the token was issued for", "sign in to an accepted one"),
}


class ClaimRule(NamedTuple):
    """One claim and the values it accepts (see the module docstring)."""

    path: ClaimPath
    #: The accepted strings ...
    strings: frozenset[str]
    #: ... and the accepted integers and booleans, each with its type (exact comparison).
    others: frozenset[tuple[type, int]]
    #: The accepted values as configured, for the verbose level.
    shown: tuple[Value, ...]

    @property
    def name(self) -> str:
        return self.path.name

    def accepts(self, value: Any) -> bool:
        """Whether a claim ``value`` (or, for an array, one of its elements) is accepted."""
        if isinstance(value, list):
            return any(self._one(item) for item in value)
        return self._one(value)

    def _one(self, value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in self.strings
        return (kind is int or kind is bool) and (kind, value) in self.others


def _values(values: object, *, what: str) -> tuple[Value, ...]:
    if isinstance(values, (str, int)):  # one value (a string is not a list of characters)
        values = (values,)
    if isinstance(values, (bytes, Mapping)) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"{what}: {clip(values, 40)} is not a claim value or a list of claim values"
        )
    items = tuple(values)
    if not items:
        raise ConfigurationError(f"{what}: accepts no value, so no token could pass; list some")
    if len(items) > MAX_VALUES:
        raise ConfigurationError(f"{what}: at most {MAX_VALUES} values")
    for item in items:
        if not isinstance(item, (str, int)) or (isinstance(item, str) and len(item) > 1024):
            raise ConfigurationError(
                f"{what}: {clip(item, 40)} is not a claim value (a string of at most 1024 "
                "characters, an integer or a boolean; compared exactly)"
            )
    return items


def claim_rule(name: object, values: object, *, what: str) -> ClaimRule:
    """One rule: ``name`` (a claim, nested with dots) accepts ``values`` (one value or
    a list); ConfigurationError naming ``what`` when either is malformed."""
    path = claim_path(name, what=what)
    items = _values(values, what=f"{what}[{path.name!r}]")
    return ClaimRule(
        path,
        frozenset(v for v in items if isinstance(v, str)),
        frozenset((type(v), int(v)) for v in items if not isinstance(v, str)),
        items,
    )


def claim_rules(rules: object, *, what: str) -> tuple[ClaimRule, ...]:
    """``{claim: values}`` as rules, or ConfigurationError naming ``what``."""
    if not isinstance(rules, Mapping):
        raise ConfigurationError(f"{what}: expected a mapping of claim names to accepted values")
    if not rules:
        raise ConfigurationError(f"{what}: names no claim")
    return tuple(claim_rule(name, values, what=what) for name, values in rules.items())


def _shown(value: Any, limit: int = 80) -> str:
    """A claim value of the token, for the detail (the caller's own token: clipped,
    a string quoted, anything else as JSON would write it)."""
    if isinstance(value, str):
        return f"'{clip(value, limit)}'"
    if isinstance(value, list):
        items = ", ".join(_shown(v, 40) for v in value[:5])
        more = f" and {len(value) - 5} more" if len(value) > 5 else ""
        return f"[{items}{more}]"
    if isinstance(value, dict):
        return "a JSON object"
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return clip(value, limit)


def _problem(rule: ClaimRule, value: Any) -> Problem:
    name = clip(rule.name, 80)
    if value is MISSING:
        detail = f"The token has no '{name}' claim, which this route requires."
    else:
        detail = f"The token's '{name}' claim is {_shown(value)}, which this route does not accept."
    return Problem(Reason.claim_not_allowed, detail, rule.name)


def _hint(rule: ClaimRule, where: str) -> str:
    meaning, remedy = _MEANING.get(rule.path.parts[-1], ("", "request a token that carries it"))
    what = f"'{clip(rule.name, 80)}'" + (f" ({meaning})" if meaning else "")
    return (
        f"This route accepts only some values of {what}: {remedy}; or, if this token should be "
        f"accepted, add its value to the route's rule ({where})."
    )


def decide(
    token: VerifiedToken, rules: Sequence[ClaimRule], *, where: str = "path_claims"
) -> VerifiedToken | Failure:
    """``token`` if every rule accepts its claim, else claim_not_allowed naming the first
    claim that fails (every failing claim among the problems). ``where`` names the
    setting the rules came from, for the hint."""
    claims = token.claims
    problems: list[Problem] = []
    first: ClaimRule | None = None
    for rule in rules:
        value = lookup(claims, rule.path)
        if value is MISSING or not rule.accepts(value):
            problems.append(_problem(rule, value))
            first = first or rule
    if first is None:
        return token
    return Failure(
        Reason.claim_not_allowed,
        problems[0].detail,
        tuple(problems),
        hint=_hint(first, where),
        expected={"claim": first.name, "accepted": list(first.shown)},
        alg=token.alg,
        kid=token.kid,
        key_fingerprint=token.key_fingerprint,
    ).with_claims(claims)
