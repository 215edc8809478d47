"""The endpoint's answer: read as attacker input, then judged like a token's claims.

:func:`read_answer` turns a 2xx :class:`~jwt_middleware.introspection.endpoint.Reply`
into the answer object, or an :class:`EndpointError`:

- a JSON object (RFC 7662 section 2.2), read by the strict JSON reader
  (``values/strictjson.py``: duplicate names, ``NaN``, nesting beyond 16 refused;
  numbers too large for a float kept for the claims stage to refuse);
- a signed answer (RFC 9701, ``application/token-introspection+jwt``), verified
  against the authorization server's keys (the configured key source) like any
  JWS: the header stage's checks and the allow-list, the key by ``kid``, the
  signature; then ``typ`` ``token-introspection+jwt``, ``iss`` the expected
  issuer (when one is configured), ``aud`` this server's client id, and its
  ``token_introspection`` member the answer. Asked for with
  ``introspection_signed_response``, a plain JSON answer is then refused;
- either way ``active`` must be a boolean, or the answer is unusable.

:class:`Judge` decides an answer: ``active`` false is ``token_inactive``; an
answer that marks a refresh token is ``wrong_token_type``; ``iss``, ``aud``,
``exp``, ``nbf`` (and ``sub``, ``jti``) go through a
:class:`~jwt_middleware.tokens.claims.ClaimsPolicy` with the verifier's expected
issuers, audiences, required claims (less ``iat``: RFC 7662 makes it optional)
and leeway, so each problem has the reason and hint a JWT's would; ``scope`` must
be a string. What passes is a :class:`~jwt_middleware.outcome.VerifiedToken`
whose claims are the answer, its scopes the answer's ``scope``, its ``jkt`` the
answer's ``cnf.jkt`` (the binding stage reads it as it reads a JWT's), its
``alg`` :data:`INTROSPECTED` and its ``key_fingerprint`` the endpoint's
fingerprint (what vouched for the token, in logs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final

from ..keys.keyset import KeySet
from ..outcome import Failure, Problem, VerifiedToken
from ..reasons import Reason
from ..tokens import header as header_stage
from ..tokens import selection
from ..tokens.claims import ClaimsPolicy
from ..tokens.scopes import scopes_of
from ..tokens.structure import parse_compact
from ..tokens.tokentype import normalise
from ..values.strictjson import loads_claims
from ..values.text import clip, json_type
from .endpoint import JWT_ANSWER_TYPE, EndpointError, Reply

#: The ``alg`` of a token vouched for by the introspection endpoint (no JOSE header).
INTROSPECTED: Final = "introspection"
_INVALID: Final = Reason.introspection_invalid_response
#: Markers of a refresh token in an answer: Hydra's ``token_use``, Keycloak's ``typ``.
_REFRESH_MARKS: Final = (
    ("token_use", frozenset({"refresh_token", "refresh"})),
    ("typ", frozenset({"refresh", "offline"})),
    ("token_type", frozenset({"refresh_token"})),
)


def endpoint_fingerprint(url: str) -> str:
    """A short fingerprint of the endpoint's URL: the ``key_fingerprint`` of the tokens
    it vouched for, so logs tell endpoints apart without naming them."""
    return "introspection:" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _invalid(cause: str, detail: str) -> EndpointError:
    return EndpointError(_INVALID, cause, detail)


def _signed_answer(
    body: bytes, keys: KeySet, algorithms: frozenset[str], issuers: frozenset[str], client_id: str
) -> dict[str, Any]:
    """The ``token_introspection`` object of an RFC 9701 answer, verified."""
    try:
        text = body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _invalid("invalid_signature", "The signed answer is not ASCII.") from None
    parsed = parse_compact(text)
    if isinstance(parsed, Failure):
        raise _invalid("invalid_signature", f"The signed answer is not a JWS: {parsed.detail}")
    header = parsed.header
    failure = header_stage.check(header, parsed.signature, keys, algorithms)
    if failure is None:
        key = selection.select(header["alg"], header.get("kid"), keys)
        if isinstance(key, Failure):
            failure = key
        elif not key.verifiers[header["alg"]](parsed.signing_input, parsed.signature):
            failure = Failure(Reason.signature_invalid, "The signature does not verify.")
    if failure is not None:
        raise _invalid(
            "invalid_signature",
            f"The signed answer does not verify with the authorization server's keys "
            f"({failure.reason.value}: {failure.detail})",
        )
    typ = header.get("typ")
    if type(typ) is not str or normalise(typ) != "token-introspection+jwt":
        raise _invalid(
            "invalid_signature",
            f"The signed answer's typ is {clip(typ, 40)!r}, not 'token-introspection+jwt' "
            "(RFC 9701): another kind of JWT signed by the same keys.",
        )
    claims = parsed.claims
    iss, aud = claims.get("iss"), claims.get("aud")
    if issuers and iss not in issuers:
        raise _invalid(
            "invalid_signature", f"The signed answer's iss is {clip(iss, 80)!r}, not the issuer."
        )
    auds = aud if type(aud) is list else [aud]
    if client_id not in auds:
        raise _invalid(
            "invalid_signature",
            f"The signed answer's aud is {clip(aud, 80)!r}, not this server's client id.",
        )
    answer = claims.get("token_introspection")
    if type(answer) is not dict:
        raise _invalid(
            "invalid_answer",
            f"The signed answer's token_introspection is a {json_type(answer)}, not an object.",
        )
    return answer


def read_answer(
    reply: Reply,
    *,
    keys: Callable[[], KeySet],
    algorithms: frozenset[str],
    issuers: frozenset[str],
    client_id: str,
    signed: bool = False,
) -> dict[str, Any]:
    """The answer object of a 2xx reply (see the module docstring), or EndpointError."""
    if reply.media_type == JWT_ANSWER_TYPE:
        answer = _signed_answer(reply.body, keys(), algorithms, issuers, client_id)
    elif signed:
        raise _invalid(
            "invalid_signature",
            f"A signed answer ({JWT_ANSWER_TYPE}) was asked for; the endpoint sent "
            f"{clip(reply.media_type or 'no Content-Type', 60)}.",
        )
    else:
        try:
            answer = loads_claims(reply.body)
        except ValueError as exc:
            raise EndpointError(
                _INVALID,
                "not_json",
                f"The introspection endpoint's answer is not a JSON object: {exc}.",
                hint="A configuration fault of this service: $introspection_url answers with "
                "something other than RFC 7662 JSON (an HTML login or error page, a proxy's "
                "page). Set it to the authorization server's introspection_endpoint.",
            ) from None
    active = answer.get("active")
    if type(active) is not bool:
        shown = "no 'active' member" if "active" not in answer else f"a {json_type(active)}"
        raise _invalid(
            "invalid_answer",
            f"The introspection endpoint's answer has {shown} where RFC 7662 requires the "
            "boolean 'active'.",
        )
    return answer


def _binding(cnf: Any) -> str | None:
    """``cnf.jkt`` (RFC 9449), as the verifier reads a JWT's: None unbound, "" when
    present but not a string (bound to no key)."""
    if type(cnf) is not dict or "jkt" not in cnf:
        return None
    jkt = cnf["jkt"]
    return jkt if type(jkt) is str else ""


def _refresh_mark(answer: dict[str, Any]) -> str | None:
    for name, values in _REFRESH_MARKS:
        value = answer.get(name)
        if type(value) is str and value.lower() in values:
            return f"'{name}' is '{clip(value, 20)}'"
    return None


class Judge:
    """Decides answers with the claims rules of a verifier (see the module docstring).

    ``policy`` gives the verifier's claims policy now (a discovered issuer changes
    it); the introspection policy is derived from it once per policy.
    """

    __slots__ = ("_base", "_policy", "fingerprint", "get_policy", "required")

    def __init__(
        self, get_policy: Callable[[], ClaimsPolicy], required: tuple[str, ...], endpoint: str
    ) -> None:
        self.get_policy = get_policy
        #: The required claims of an answer: the configured ones without ``iat``.
        self.required = tuple(name for name in required if name != "iat")
        self.fingerprint = endpoint_fingerprint(endpoint)
        self._base: ClaimsPolicy | None = None
        self._policy: ClaimsPolicy | None = None

    def policy(self) -> ClaimsPolicy:
        """The claims policy of answers: the verifier's, ``iat`` not required."""
        base = self.get_policy()
        if base is not self._base or self._policy is None:
            self._policy = ClaimsPolicy(
                issuers=base.issuers,
                audiences=base.audiences,
                required=self.required,
                leeway=base.leeway,
                require_audience=base.require_audience,
            )
            self._base = base
        return self._policy

    def judge(self, answer: dict[str, Any], now: float) -> VerifiedToken | Failure:
        if answer.get("active") is not True:
            return Failure(
                Reason.token_inactive,
                "The introspection endpoint answered 'active': false.",
                key_fingerprint=self.fingerprint,
                alg=INTROSPECTED,
            )
        refresh = _refresh_mark(answer)
        if refresh is not None:
            return Failure(
                Reason.wrong_token_type,
                f"The introspection answer marks a refresh token ({refresh}), not an access token.",
                hint="Send the access token of the token response, not its refresh token.",
                alg=INTROSPECTED,
                key_fingerprint=self.fingerprint,
            ).with_claims(answer)
        policy = self.policy()
        problems = policy.problems(answer, now)
        scope = answer.get("scope")
        if scope is not None and type(scope) is not str:
            problems = [
                *(problems or ()),
                Problem(
                    Reason.invalid_claim,
                    f"'scope' is a {json_type(scope)}, not a space-separated string (RFC 7662).",
                ),
            ]
        if problems:
            failure = policy.failure(problems, INTROSPECTED, None, None)
            return failure._replace(key_fingerprint=self.fingerprint).with_claims(answer)
        exp = answer.get("exp")
        return VerifiedToken(
            answer,
            {},
            INTROSPECTED,
            None,
            self.fingerprint,
            scopes_of(answer),
            float(exp) if exp is not None else None,
            _binding(answer["cnf"]) if "cnf" in answer else None,
        )
