"""A token per reason: what :meth:`TestIssuer.scenario` makes, and what no token can.

Each builder takes a :class:`Minting` (the issuer's keys, what its settings allow,
the claims to break) and returns the text a client would send as its token, in
``Authorization: Bearer <token>``, that :meth:`TestIssuer.settings` rejects with
exactly that reason. :data:`NOT_FROM_A_TOKEN` says, for every other reason, why no
token alone causes it and how a test reaches it instead.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jwe
from joserfc.jwk import ECKey

from ..reasons import Reason
from ..values.algorithms import HMAC_ALGS, RSA_ALGS
from .keys import SigningKey, b64url, compact_json, encode

R = Reason

#: The reasons no token alone causes against :meth:`TestIssuer.settings`: why, and how
#: a test reaches each one instead.
NOT_FROM_A_TOKEN: Final[Mapping[Reason, str]] = {
    R.missing_token: "it is the absence of a token: send no Authorization header",
    R.invalid_scheme: "it is the header's scheme, not the token: send 'Basic ...' or the "
    "token without 'Bearer'",
    R.multiple_authorization_headers: "it is the request's headers: send two Authorization headers",
    R.multiple_tokens: "it needs two token locations configured (token_locations) and two "
    "different tokens in them",
    R.cross_site_request: "it needs a cookie token location and a cross-site unsafe request",
    R.key_source_unavailable: "it is the key source's state: configure a key set URL nothing "
    "answers (settings(jwks_url=...) after .serve() has ended)",
    R.retired_key: "it needs a key-set history, which static settings do not have: a verifier "
    "that fetched the key set before .retire() and again after (docs/testing.md, key "
    "rotation), then a token signed with the retired key",
    R.insufficient_scope: "it needs a route that requires a scope the token lacks",
    R.claim_not_allowed: "it needs a route with a claim rule (path_claims, require_claims) "
    "the token's claim does not pass",
    R.dpop_proof_missing: "it is the DPoP header: send 'Authorization: DPoP <token>' without "
    "a DPoP proof",
    R.dpop_proof_invalid: "it is the proof: a proof for another URL or method (dpop_proof)",
    R.dpop_proof_replayed: "it is the proof: send the same proof twice",
    R.dpop_nonce_required: "it needs settings with dpop_nonce=True and a proof without the "
    "server's nonce",
    R.dpop_binding_mismatch: "it is the proof: a proof signed by another key than the one "
    "the token is bound to",
    R.token_inactive: "it is the authorization server's answer: an opaque token its "
    "introspection endpoint calls inactive (settings with introspection_url)",
    R.introspection_unavailable: "it is the introspection endpoint's state: an "
    "introspection_url nothing answers, or one that answers 5xx",
    R.introspection_client_rejected: "it is the middleware's client credentials: an "
    "introspection endpoint that refuses them (401)",
    R.introspection_invalid_response: "it is the introspection endpoint's answer: one that "
    "is not a JSON object with a boolean 'active'",
    # revocation (CONTRACT section 9)
    R.token_revoked: "it is the revocation list's state: settings(revocation_redis_url=...) "
    "and the token's jti, sid or sub revoked (RevocationList.revoke_token, revoke_session, "
    "revoke_subject, or jwt-middleware revoke) before it is sent",
    R.revocation_unavailable: "it is the revocation list's state: "
    "settings(revocation_redis_url=...) naming a Redis that does not answer, with "
    "revocation_fail='closed' (the default)",
}
#: Not from a token of an issuer of this kind (asymmetric, or HMAC).
_NOT_FOR_ASYMMETRIC: Final = {
    R.secret_encoding_mismatch: "an issuer with asymmetric keys has no HMAC secret to "
    "encode differently: use an HS* TestIssuer",
}
_NOT_FOR_HMAC: Final = {
    R.algorithm_confusion: "an HMAC issuer's verifier holds secrets, so an HS* token is no "
    "confusion: use an issuer with asymmetric keys",
}
_MINUTES_10: Final = 600
#: A second algorithm a TestIssuer's key set holds two keys for (cheap keys), so that its
#: settings can tell missing_kid, kid_mismatch and algorithm_key_mismatch.
_SECOND: Final = {"ES256": "EdDSA", "HS256": "HS512", "HS384": "HS256", "HS512": "HS256"}
#: Algorithms tried, in order, for a token whose algorithm the settings do not allow.
_OTHERS: Final = ("ES384", "ES512", "EdDSA", "ES256", "HS384", "HS512", "HS256")


def second_algorithm(algorithm: str) -> str:
    """The algorithm of the two extra keys a TestIssuer of ``algorithm`` publishes."""
    return _SECOND.get(algorithm, "ES256")


@dataclass
class Minting:
    """What a scenario is made from: the issuer's keys and settings, and the claims."""

    issuer: str
    audience: str
    current: SigningKey
    published: tuple[SigningKey, ...]  # the key set the settings trust
    algorithms: tuple[str, ...]  # the algorithms the settings allow
    typ: str  # the header typ the settings require
    max_token_bytes: int
    claims: dict[str, Any]
    now: int = field(default_factory=lambda: int(time.time()))

    def header(self, key: SigningKey, alg: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"alg": alg or key.algorithm, "typ": self.typ, "kid": key.kid, **extra}

    def good(self, **changes: Any) -> str:
        """A token the settings accept, with ``changes`` to its claims (None removes one)."""
        claims = {**self.claims, **changes}
        body = {k: v for k, v in claims.items() if v is not None}
        return encode(self.header(self.current), body, self.current)

    @property
    def symmetric(self) -> bool:
        return any(k.symmetric for k in self.published)

    def pair(self) -> tuple[str, SigningKey, SigningKey] | None:
        """An allowed algorithm that two published keys are declared for."""
        for alg in self.algorithms:
            keys = [k for k in self.published if k.algorithm == alg]
            if len(keys) >= 2:
                return alg, keys[0], keys[1]
        return None

    def mismatch(self) -> tuple[str, SigningKey, SigningKey] | None:
        """An allowed algorithm, a published key it does not fit, and a key that signs it."""
        for named in self.published:
            for alg in self.algorithms:
                if alg == named.algorithm or (alg in HMAC_ALGS and not self.symmetric):
                    continue
                signer = next((k for k in self.published if k.algorithm == alg), None)
                if signer is not None:
                    return alg, named, signer
        return None

    def not_allowed(self) -> str | None:
        for alg in _OTHERS:
            if alg not in self.algorithms and (alg not in HMAC_ALGS or self.symmetric):
                return alg
        return None


Builder = Callable[[Minting], str]


def _too_large(m: Minting) -> str:
    base = len(m.good(pad=""))
    return m.good(pad="x" * ((m.max_token_bytes - base) * 3 // 4 + 200))


def _whitespace(m: Minting) -> str:
    token = m.good()
    middle = token.index(".") + 8
    return token[:middle] + " " + token[middle:]


def _encrypted(m: Minting) -> str:
    """A real JWE: the claims encrypted to a key of the API (ECDH-ES, A256GCM)."""
    body = compact_json({k: v for k, v in m.claims.items() if v is not None})
    header = {"alg": "ECDH-ES", "enc": "A256GCM", "typ": m.typ}
    return jwe.encrypt_compact(header, body, ECKey.generate_key("P-256"))


def _standard_base64(m: Minting) -> str:
    """The payload in standard base64 with its padding, as a non-JWT encoder writes it."""
    body = compact_json({k: v for k, v in m.claims.items() if v is not None})
    while len(body) % 3 == 0:
        body += b" "
    head = b64url(compact_json(m.header(m.current)))
    signing_input = f"{head}.{base64.b64encode(body).decode('ascii')}"
    return f"{signing_input}.{b64url(m.current.sign(signing_input.encode('ascii')))}"


def _duplicate_claim(m: Minting) -> str:
    """A member named twice (readers disagree on which one counts), signed."""
    claims = _body(m)
    name = next(iter(claims), "sub")
    body = compact_json({**claims, name: "first"})
    duplicated = body[:-1] + b"," + compact_json({name: "second"})[1:]
    return encode(m.header(m.current), duplicated, m.current)


def _crit(m: Minting) -> str:
    extension = "urn:example:must-understand"
    header = m.header(m.current) | {"crit": [extension], extension: True}
    return encode(header, _body(m), m.current)


def _not_allowed(m: Minting) -> str:
    alg = m.not_allowed()
    assert alg is not None
    key = SigningKey.generate(alg)
    return encode(m.header(key), _body(m), key)


def _key_mismatch(m: Minting) -> str:
    found = m.mismatch()
    assert found is not None
    alg, named, signer = found
    return encode(m.header(named, alg), _body(m), signer)


def _confusion(m: Minting) -> str:
    """HS256 with the public key's PEM as the HMAC secret: the classic forgery."""
    forged = SigningKey(m.current.public_pem(), "HS256", kid=m.current.kid)
    return encode(m.header(m.current, "HS256"), _body(m), forged)


def _id_token(m: Minting) -> str:
    """An OpenID Connect ID token (typ JWT, nonce, auth_time) sent as an access token."""
    claims = _body(m) | {"nonce": b64url(secrets.token_bytes(12)), "auth_time": m.now}
    return encode({**m.header(m.current), "typ": "JWT"}, claims, m.current)


def _missing_kid(m: Minting) -> str:
    found = m.pair()
    assert found is not None
    alg, first, _second = found
    return encode({"alg": alg, "typ": m.typ}, _body(m), first)


def _unknown_kid(m: Minting) -> str:
    header = m.header(m.current) | {"kid": f"unknown-{secrets.token_hex(6)}"}
    return encode(header, _body(m), m.current)


def _tampered(m: Minting) -> str:
    """A signed token whose payload was changed afterwards (another subject)."""
    head, _payload, signature = m.good().split(".")
    altered = compact_json(_body(m) | {"sub": "someone-else"})
    return f"{head}.{b64url(altered)}.{signature}"


def _kid_mismatch(m: Minting) -> str:
    found = m.pair()
    assert found is not None
    alg, named, signer = found
    return encode(m.header(named, alg), _body(m), signer)


def _secret_encoding(m: Minting) -> str:
    """Signed with the secret base64-encoded: the issuer stores it encoded, the API raw."""
    secret = m.current.private
    assert isinstance(secret, bytes)
    encoded = SigningKey(base64.b64encode(secret), m.current.algorithm, kid=m.current.kid)
    return encode(m.header(m.current), _body(m), encoded)


def _expired(m: Minting) -> str:
    issued = m.now - 25 * 60
    return m.good(
        exp=m.now - _MINUTES_10,
        iat=issued if "iat" in m.claims else None,
        nbf=issued if "nbf" in m.claims else None,
    )


def _issued_in_future(m: Minting) -> str:
    return m.good(iat=m.now + _MINUTES_10, exp=m.now + 3 * _MINUTES_10)


def _other_issuer(m: Minting) -> str:
    """The issuer with its trailing slash toggled: the commonest near miss."""
    iss = m.issuer[:-1] if m.issuer.endswith("/") else m.issuer + "/"
    return m.good(iss=iss)


def _other_audience(m: Minting) -> str:
    return m.good(aud="another-api" if m.audience != "another-api" else "other-api")


def _bound(m: Minting) -> str:
    """Bound to a key (cnf.jkt) and sent with the Bearer scheme, without a proof."""
    key = SigningKey.generate("ES256")
    return m.good(cnf={"jkt": key.thumbprint})


def _body(m: Minting) -> dict[str, Any]:
    return {k: v for k, v in m.claims.items() if v is not None}


BUILDERS: Final[dict[Reason, Builder]] = {
    # request stage: what clients do to a token's text
    R.empty_token: lambda m: "",
    R.double_bearer: lambda m: "Bearer " + m.good(),
    R.url_encoded_token: lambda m: m.good().replace(".", "%2E"),
    R.quoted_token: lambda m: f'"{m.good()}"',
    R.whitespace_in_token: _whitespace,
    R.token_too_large: _too_large,
    # structure
    R.malformed_token: lambda m: m.good().rsplit(".", 1)[0],
    R.encrypted_token: _encrypted,
    R.invalid_base64: _standard_base64,
    R.invalid_json: _duplicate_claim,
    # header and algorithm
    R.unsigned_token: lambda m: encode({"alg": "none", "typ": m.typ}, _body(m), None),
    R.invalid_header: _crit,
    R.algorithm_not_allowed: _not_allowed,
    R.algorithm_key_mismatch: _key_mismatch,
    R.algorithm_confusion: _confusion,
    R.wrong_token_type: _id_token,
    # key
    R.missing_kid: _missing_kid,
    R.unknown_kid: _unknown_kid,
    # signature
    R.signature_invalid: _tampered,
    R.kid_mismatch: _kid_mismatch,
    R.secret_encoding_mismatch: _secret_encoding,
    # claims
    R.token_expired: _expired,
    R.token_not_yet_valid: lambda m: m.good(nbf=m.now + _MINUTES_10),
    R.token_issued_in_future: _issued_in_future,
    R.issuer_mismatch: _other_issuer,
    R.audience_mismatch: _other_audience,
    R.missing_claim: lambda m: m.good(exp=None),
    R.invalid_claim: lambda m: m.good(exp=str(m.now + _MINUTES_10)),
    # DPoP
    R.dpop_bound_token_as_bearer: _bound,
}


def why_not(reason: Reason, m: Minting) -> str | None:
    """Why no token of this issuer gives ``reason`` against its settings, or None."""
    if reason in NOT_FROM_A_TOKEN:
        return NOT_FROM_A_TOKEN[reason]
    if reason is R.secret_encoding_mismatch and not m.current.symmetric:
        return _NOT_FOR_ASYMMETRIC[reason]
    if reason is R.algorithm_confusion and (m.current.symmetric or m.symmetric):
        return _NOT_FOR_HMAC[reason]
    if reason in (R.missing_kid, R.kid_mismatch) and m.pair() is None:
        return "it needs two keys of one allowed algorithm in the key set; this one has none"
    if reason is R.algorithm_key_mismatch and m.mismatch() is None:
        return "it needs two allowed algorithms and a key for each in the key set"
    if reason is R.algorithm_not_allowed and m.not_allowed() is None:
        return "the settings allow every algorithm a token could use against these keys"
    return None


def scenarios(algorithm: str = "RS256") -> tuple[Reason, ...]:
    """The reasons :meth:`TestIssuer.scenario` makes a token for, for an issuer of
    ``algorithm`` (all but secret_encoding_mismatch for asymmetric keys, all but
    algorithm_confusion for HMAC), in the contract's order. No key is made."""
    if algorithm in HMAC_ALGS:
        left_out: Mapping[Reason, str] = _NOT_FOR_HMAC
    elif algorithm in RSA_ALGS or algorithm in ("ES256", "ES384", "ES512", "EdDSA"):
        left_out = _NOT_FOR_ASYMMETRIC
    else:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    return tuple(r for r in Reason if r in BUILDERS and r not in left_out)


assert set(BUILDERS) | set(NOT_FROM_A_TOKEN) == set(Reason), "every reason is made or explained"
