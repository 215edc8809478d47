"""An identity provider's rules as a policy of their own, beside the claims policy.

The verifier holds a :class:`ProviderPolicy` next to its
:class:`~jwt_middleware.tokens.claims.ClaimsPolicy` and asks it three things:

- **the claims policy**, built with the provider's acceptance rules
  (:func:`jwt_middleware.tokens.idp.rules_for`): the issuers it accepts (Google's two
  spellings, an Entra ID ``{tenantid}`` template expanded per allowed tenant),
  and a claim required to hold one of some values as an extra rule
  (Cognito's ``token_use``, with ``JWT_IDP=cognito`` set explicitly);
- **the claims check**: the policy's own :meth:`~ClaimsPolicy.problems`, or,
  when another claim stands for a missing ``aud`` (Cognito's ``client_id``),
  that check around it. A provider without such a rule adds nothing to the
  success path: the check is the policy's bound method itself;
- **advice**, on the failure path only: the provider's quirk behind a refusal
  (:func:`jwt_middleware.tokens.idp.quirk`), or the marks of an OpenID Connect ID token
  sent as an access token. Advice never changes a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from ..outcome import Failure, Problem
from ..reasons import Reason
from ..settings import Settings
from ..values.text import clip, json_type
from .claims import ClaimsPolicy, Rule
from .idp import (
    KEYCLOAK_LIGHTWEIGHT,
    ProviderRules,
    expand_issuers,
    jwe_header,
    keycloak_lightweight,
    quirk,
    rules_for,
    token_provider,
)
from .tokentype import ID_TOKEN_HELP, id_token_marks

#: The claims stage's check: every problem with the claims at a time, or None.
ClaimsCheck = Callable[[dict[str, Any], float], "list[Problem] | None"]
_ABSENT: Final = object()


def one_of(name: str, allowed: tuple[str, ...]) -> Rule:
    """A claim that must hold one of ``allowed`` (Cognito's ``token_use``: ``access``)."""
    accepted = frozenset(allowed)
    wanted = " or ".join(repr(a) for a in allowed)

    def rule(value: Any, now: float) -> Problem | None:
        if type(value) is str and value in accepted:
            return None
        shown = f"'{clip(value, 30)}'" if type(value) is str else f"a {json_type(value)}"
        return Problem(Reason.invalid_claim, f"'{name}' is {shown}, not {wanted}.", value)

    return rule


def with_audience_alternates(policy: ClaimsPolicy, alternates: tuple[str, ...]) -> ClaimsCheck:
    """``policy``'s check where other claims stand for ``aud`` when the token has none.

    Amazon Cognito's access tokens carry the app client id in ``client_id`` and
    no ``aud`` (its ID tokens carry ``aud``): with an expected audience, a token
    passes when its ``aud`` holds one, or when it has no ``aud`` and its
    ``client_id`` holds one. Neither present is ``missing_claim``. ``policy`` is
    built with ``require_audience=False``.
    """
    problems = policy.problems
    audience_problem = policy.audience_problem

    def check(claims: dict[str, Any], now: float) -> list[Problem] | None:
        found = problems(claims, now)
        if not policy.audiences or "aud" in claims:
            return found
        for name in alternates:
            value = claims.get(name, _ABSENT)
            if value is not _ABSENT:
                problem = audience_problem(value, now, name)
                break
        else:
            names = " nor ".join(f"'{n}'" for n in ("aud", *alternates))
            problem = Problem(Reason.missing_claim, f"Neither {names} is present.")
        if problem is None:
            return found
        return [*(found or ()), problem]

    return check


class ProviderPolicy:
    """The identity provider's rules under some settings (see the module docstring).

    ``rules`` is the data (:class:`~jwt_middleware.tokens.idp.ProviderRules`); ``auto``
    says whether the provider was left to be recognised (``JWT_IDP=auto``), in
    which case a token's own ``iss`` may name one for a hint.
    """

    __slots__ = ("auto", "rules")

    def __init__(self, rules: ProviderRules, *, auto: bool = False) -> None:
        self.rules = rules
        self.auto = auto

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderPolicy:
        """The provider's rules ``settings`` call for, built once with the verifier."""
        return cls(rules_for(settings), auto=settings.idp == "auto")

    @property
    def provider(self) -> str | None:
        """The provider whose rules apply, or None."""
        return self.rules.provider

    def claims_policy(
        self, *, audiences: Iterable[str], required: Iterable[str], leeway: float
    ) -> ClaimsPolicy:
        """The claims policy with this provider's acceptance rules."""
        rules = self.rules
        return ClaimsPolicy(
            issuers=rules.issuers,
            audiences=audiences,
            required=required,
            leeway=leeway,
            extra_rules=[
                (name, one_of(name, allowed)) for name, allowed in rules.claim_values.items()
            ],
            require_audience=not rules.audience_alternates,
        )

    def claims_check(self, policy: ClaimsPolicy) -> ClaimsCheck:
        """The claims stage's check for ``policy``: its own, unless a claim stands for
        a missing ``aud`` under this provider."""
        alternates = self.rules.audience_alternates
        if not alternates:
            return policy.problems
        return with_audience_alternates(policy, alternates)

    def discovered_issuers(self, issuer: str) -> tuple[str, ...]:
        """The issuers to expect for one named by a discovery document: it, and the
        provider's other spellings of it."""
        return expand_issuers((issuer,), self.rules.provider, self.rules.tenants)

    # -- advice: the failure path only ---------------------------------------------------

    def unparsed_header(self, failure: Failure, token: str) -> dict[str, Any] | None:
        """A header the provider writes where the token does not parse as a JWS, for
        the hint: the protected header of an encrypted token (Auth0 names itself there)."""
        return jwe_header(token) if failure.reason is Reason.encrypted_token else None

    def scope_advice(self, failure: Failure, claims: dict[str, Any]) -> Failure:
        """An insufficient_scope refusal with the provider's reason for it, if any: a
        Keycloak lightweight access token carries no roles or scope at all."""
        provider = self.rules.provider
        if (provider is None and not self.auto) or not keycloak_lightweight(provider, claims):
            return failure
        return failure._replace(hint=f"{KEYCLOAK_LIGHTWEIGHT} {failure.effective_hint}")

    def advise(
        self,
        failure: Failure,
        header: dict[str, Any] | None,
        claims: dict[str, Any] | None,
        audiences: Iterable[str],
    ) -> Failure:
        """``failure`` with a hint naming what it most likely is: the identity
        provider's quirk behind it (:func:`jwt_middleware.tokens.idp.quirk`), an OpenID
        Connect ID token sent as an access token. Never changes the reason: the
        marks of an ID token explain a refusal, they never cause one."""
        rules = self.rules
        provider = rules.provider
        if provider is None and self.auto:
            provider = token_provider(header, claims)  # the token's own iss: a hint only
        parts: list[str] = []
        said = quirk(provider, failure, header, claims, rules, audiences)
        if said:
            parts.append(said)
        if claims is not None and provider != "google":  # Google: APIs verify ID tokens
            marks = id_token_marks(claims)
            if marks and not (said and "ID token" in said):
                parts.append(
                    f"The token looks like an OpenID Connect ID token ({', '.join(marks)}). "
                    + ID_TOKEN_HELP
                )
        if not parts:
            return failure
        if failure.hint:
            parts.append(failure.hint)
        return failure._replace(hint=" ".join(parts))
