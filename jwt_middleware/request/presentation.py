"""Request stage, presentation: where the credential came from, and how.

One :class:`Presentation` per middleware, built once from the settings for the
configured token locations (:mod:`jwt_middleware.request.locations`), the WebSocket
subprotocol (:mod:`jwt_middleware.request.websocket`) and the DPoP scheme
(:mod:`jwt_middleware.dpop.proof`). :meth:`Presentation.present` gives the token, a
:class:`Presented` (its scheme, its location, the verified DPoP proof if any),
and the request-stage :class:`~jwt_middleware.outcome.Failure` if there is one:
a mangled header, two tokens, a cookie on a cross-site request, a missing or
invalid proof.

:meth:`Presentation.plain_bearer` is the cached path's first step (make bench,
in-process cached request): the token of the one plain ``Authorization: Bearer``
header of an HTTP request, before the request-stage checks. Only a token that
passed those checks before can be in the verified-token cache, so a cache hit may
skip them; a miss goes through :meth:`present`.

On an optional path (``optional_paths``), a request that carries no token in any
configured place, and no DPoP proof, is :data:`ANONYMOUS`: the middleware lets it
through unauthenticated. That is the only outcome an optional path changes; a
token there, a mangled header or a proof is judged as anywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Final, NamedTuple

from starlette.types import Scope

from ..dpop.proof import Nonces, Proof, ProofPolicy, count_proofs, verify_proof
from ..outcome import Failure
from ..reasons import Reason
from ..settings import Settings
from ..values.uri import request_target
from . import websocket
from .extract import authorization, judge, parse_authorization
from .locations import NO_TOKEN, TokenLocations


class Presented(NamedTuple):
    """How a token came: its scheme, where from, and the DPoP proof that came with it."""

    #: ``"bearer"`` or ``"dpop"``.
    scheme: str
    #: ``"header"``, ``"cookie"``, ``"query"`` or ``"subprotocol"``.
    location: str
    #: The verified proof of a DPoP request (its key's thumbprint and ``jti``), else None.
    proof: Proof | None = None


#: The one shape of a plain bearer token in the Authorization header (shared, never built
#: per request).
AUTHORIZATION_BEARER: Final = Presented("bearer", "header")
_FROM: Final = {kind: Presented("bearer", kind) for kind in ("header", "cookie", "query")}
_SUBPROTOCOL: Final = Presented("bearer", "subprotocol")
#: A request that used the DPoP scheme, refused before its proof verified.
DPOP_ATTEMPT: Final = Presented("dpop", "header")


class Anonymous(Enum):
    """The outcome of a request without a token on an optional path."""

    ANONYMOUS = "anonymous"


#: No token on an optional path: the application gets the request, unauthenticated.
ANONYMOUS: Final = Anonymous.ANONYMOUS


def is_dpop(raw: bytes) -> bool:
    """Whether an Authorization value uses the DPoP scheme."""
    return raw[:4].lower() == b"dpop" and raw[4:5] in (b" ", b"\t")


class ProofCheck:
    """The DPoP proof of a request (RFC 9449 section 4.3), checked before the token:
    the proof policy and the server nonces, from the settings."""

    __slots__ = ("max_bytes", "nonces", "policy")

    def __init__(self, policy: ProofPolicy, nonces: Nonces | None, max_bytes: int) -> None:
        self.policy = policy
        self.nonces = nonces
        self.max_bytes = max_bytes

    def present(self, scope: Scope, raw: bytes) -> tuple[str, Presented, Failure | None]:
        """``Authorization: DPoP <token>``: the token's request-stage checks, exactly one
        ``DPoP`` header, then the proof against this request's method and URI."""
        token = parse_authorization(raw.decode("latin-1"), self.max_bytes, scheme="DPoP")
        if isinstance(token, Failure):
            return "", DPOP_ATTEMPT, token
        proof, proofs = count_proofs(scope["headers"])
        if proof is None or proofs != 1:
            return (
                token,
                DPOP_ATTEMPT,
                Failure(
                    Reason.dpop_proof_missing,
                    "The request uses the DPoP scheme but has no DPoP header."
                    if proofs == 0
                    else f"The request uses the DPoP scheme and carries {proofs} DPoP headers; "
                    "exactly one is required.",
                ),
            )
        target = request_target(scope)
        if isinstance(target, str):
            return (
                token,
                DPOP_ATTEMPT,
                Failure(
                    Reason.dpop_proof_invalid,
                    f"This server cannot tell the URL the request was made at: {target}, so no "
                    "proof's htu can match it.",
                    hint="Send the request with a Host header naming the server (a host name or "
                    "address and an optional port) and a path without '.' or '..' segments.",
                ),
            )
        checked = verify_proof(
            proof.strip(" \t"),
            method=str(scope.get("method", "GET")),
            target=target,
            access_token=token,
            now=time.time(),
            policy=self.policy,
            nonces=self.nonces,
        )
        if isinstance(checked, Failure):
            return token, DPOP_ATTEMPT, checked
        return token, Presented("dpop", "header", checked), None


class Presentation:
    """Finds the credential of a request (see the module docstring)."""

    __slots__ = ("_dpop", "_locations", "_max_bytes", "_optional", "_plain", "_subprotocol")

    def __init__(
        self,
        settings: Settings,
        proofs: ProofCheck | None,
        optional: Callable[[str], bool] | None = None,
    ) -> None:
        self._locations = TokenLocations(
            settings.locations, settings.max_token_bytes, settings.origins
        )
        self._max_bytes = settings.max_token_bytes
        self._subprotocol = settings.websocket_subprotocol
        self._dpop = proofs
        #: Only ``Authorization: Bearer`` is configured: the cached path applies.
        self._plain = self._locations.default
        #: Whether a path is optional (None: no optional paths, nothing to ask).
        self._optional = optional

    def plain_bearer(self, scope: Scope) -> str | None:
        """The token of an HTTP request's single ``Authorization: Bearer <token>`` header,
        unchecked (see the module docstring); None when anything else applies."""
        if not self._plain or scope["type"] != "http":
            return None
        # extract.authorization's scan, written out: one call less on every request
        # (make bench, in-process cached request).
        raw: bytes | None = None
        count = 0
        for name, value in scope["headers"]:
            if name == b"authorization" or (len(name) == 13 and name.lower() == b"authorization"):
                count += 1
                raw = value
        if count == 1 and raw is not None and raw[:7] == b"Bearer ":
            return raw[7:].decode("latin-1")
        return None

    def present(
        self, scope: Scope, path: str = ""
    ) -> tuple[str, Presented, Failure | Anonymous | None]:
        """The token (``""`` if none was found), how it came (or was tried: the scheme
        decides the challenge of a refusal), and the request-stage Failure, or
        :data:`ANONYMOUS` (no token on the optional ``path``), or None."""
        locations = self._locations
        found: str | tuple[str, str] | Failure
        optional = self._optional is not None and self._optional(path)
        if self._plain or self._dpop is not None:
            raw, count = authorization(scope["headers"])
            if self._dpop is not None and count == 1 and raw and is_dpop(raw):
                return self._dpop.present(scope, raw)
        if not self._plain:
            found = locations.extract(scope, explain=not optional)
        elif raw is None:
            found = NO_TOKEN if optional else locations.missing(scope)
        else:
            found = judge(raw, count, self._max_bytes)
        if scope["type"] == "websocket" and self._subprotocol is not None:
            offered = websocket.subprotocol_token(scope, self._subprotocol, self._max_bytes)
            if offered is not None:
                header = found if isinstance(found, (str, Failure)) else found[0]
                combined = websocket.combine(header, offered)
                if isinstance(combined, Failure):
                    return "", AUTHORIZATION_BEARER, combined
                if isinstance(header, Failure):  # missing: the subprotocol carried it
                    return combined, _SUBPROTOCOL, None
        if isinstance(found, Failure):
            if found is NO_TOKEN:  # an optional path: anonymous, unless a proof came
                return "", AUTHORIZATION_BEARER, self._without_token(scope)
            return "", AUTHORIZATION_BEARER, found
        if isinstance(found, str):
            return found, AUTHORIZATION_BEARER, None
        return found[0], _FROM[found[1]], None

    def _without_token(self, scope: Scope) -> Failure | Anonymous:
        """No token on an optional path: anonymous, unless the request carries a DPoP
        proof (a client that meant to authenticate: missing_token, with its hint)."""
        if self._dpop is not None and count_proofs(scope["headers"])[1]:
            return self._locations.missing(scope)
        return ANONYMOUS
