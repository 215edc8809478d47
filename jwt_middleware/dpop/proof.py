"""DPoP proofs (RFC 9449): verification without I/O, server nonces, the request URI.

:func:`verify_proof` runs the checks of RFC 9449 section 4.3 on one ``DPoP``
header value and returns a :class:`Proof` (the key's RFC 7638 thumbprint,
``jti``, ``iat``) or a :class:`~jwt_middleware.outcome.Failure` whose detail
names the check that failed and the values compared. No detail ever holds
the proof, its signature or the access token. The ``jti`` replay check
(a store, I/O) and the binding of the access token (``cnf.jkt``) are the
middleware's: they need the store and the verified token.

:class:`Nonces` issues and checks stateless server nonces (RFC 9449 section
8): an HMAC of a time slot, so instances sharing the key accept each other's.
The request's URI is :func:`jwt_middleware.values.uri.request_target`, built from
validated parts; ``htu`` is parsed with the same rules and compared part by part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from ..errors import ConfigurationError
from ..keys import PRIVATE_MEMBERS, VerificationKey, import_jwk
from ..outcome import Failure, VerifiedToken
from ..reasons import Reason
from ..settings import DPOP_ALGORITHMS, Settings
from ..tokens.claims import is_time
from ..tokens.structure import decode_body, parse_compact
from ..values.text import clip
from ..values.uri import Origin, Target, parse_url

PROOF_TYP: Final = "dpop+jwt"
#: Longest proof accepted (a proof with an RSA 8192 key and signature is about 3 KiB).
MAX_PROOF_BYTES: Final = 8192
#: Longest ``jti`` accepted (RFC 9449 asks for at least 96 bits of randomness).
MAX_JTI_LENGTH: Final = 256
_KEY_CACHE_MAX: Final = 256


class Proof(NamedTuple):
    """A DPoP proof that passed every check of :func:`verify_proof`."""

    jkt: str  #: RFC 7638 thumbprint (SHA-256, base64url) of the proof's ``jwk``
    jti: str
    iat: float
    alg: str
    nonce: str | None


@dataclass(frozen=True, slots=True)
class ProofPolicy:
    """What :func:`verify_proof` accepts, from the settings."""

    algorithms: frozenset[str]
    iat_window: float
    leeway: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ProofPolicy:
        return cls(
            frozenset(settings.dpop_allowed_algorithms),
            settings.dpop_iat_window,
            settings.leeway,
        )

    @property
    def algs(self) -> str:
        """The ``algs`` challenge parameter's value (RFC 9449 section 7.1)."""
        return " ".join(a for a in DPOP_ALGORITHMS if a in self.algorithms)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ath_of(access_token: str) -> str:
    """The ``ath`` a proof for ``access_token`` carries: base64url(SHA-256(token))."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


# --- the request URI -----------------------------------------------------------------


def htu_hint(proof: Target, server: Target) -> str:
    """What reconciles the URL in the proof with the one this server received."""
    a, b = proof.origin, server.origin
    advice: list[str] = []
    if a.scheme == "https" and b.scheme == "http":
        advice.append(
            "the proof says https: but this server sees http: (TLS ends at a proxy): run "
            "uvicorn with --proxy-headers and --forwarded-allow-ips=<the proxy's address> and "
            "have the proxy send X-Forwarded-Proto"
        )
    elif a.scheme != b.scheme:
        advice.append(f"the proof says {a.scheme}: but the request came over {b.scheme}:")
    if (a.host, a.port) != (b.host, b.port):
        advice.append(
            f"the proof names host {clip(_netloc(a), 80)!r} but the request's Host header is "
            f"{clip(_netloc(b), 80)!r}: have the proxy pass the client's Host header on "
            "(nginx: proxy_set_header Host $host; X-Forwarded-Host is not read by uvicorn)"
        )
    pa, pb = proof.path, server.path
    if pa != pb:
        if pa.endswith(pb) and pb != "/":
            prefix = pa[: len(pa) - len(pb)]
            advice.append(
                f"the proxy strips the prefix {clip(prefix, 80)!r}: run uvicorn with "
                f"--root-path {clip(prefix, 80)} (or set root_path in the ASGI scope)"
            )
        elif pb == "/" and pa.rstrip("/"):
            advice.append(
                f"the proxy may strip the prefix {clip(pa.rstrip('/'), 80)!r}: run uvicorn with "
                "--root-path set to it"
            )
        else:
            advice.append(
                "the paths differ: the client must sign the URL it requests, without query "
                "or fragment, with its path percent-encoded as it sends it"
            )
    if not advice:
        advice.append("the client must sign the URL it requests, without query or fragment")
    return "; ".join(advice) + "."


def _netloc(origin: Origin) -> str:
    return str(origin).split("://", 1)[1]


# --- server nonces -------------------------------------------------------------------


class Nonces:
    """Stateless DPoP nonces: base64url(slot || HMAC-SHA256(key, slot)[:16]).

    A slot is ``lifetime / 2`` seconds; a nonce of the current or the previous slot is
    accepted, so a nonce lives between ``lifetime / 2`` and ``lifetime`` seconds. With
    no ``secret`` the key is random per process: give every instance of a fleet the
    same ``JWT_DPOP_NONCE_SECRET`` so that a nonce one issued is accepted by all.
    """

    __slots__ = ("_key", "_slot")

    def __init__(self, secret: str | bytes | None, lifetime: float) -> None:
        if secret is None:
            key = os.urandom(32)
        else:
            raw = secret.encode() if isinstance(secret, str) else secret
            key = hashlib.sha256(b"jwt_middleware DPoP nonce v1" + raw).digest()
        if lifetime <= 0:
            raise ConfigurationError("dpop_nonce_lifetime must be positive")
        self._key = key
        self._slot = lifetime / 2

    def _mac(self, slot: int) -> bytes:
        return hmac.digest(self._key, slot.to_bytes(8, "big"), "sha256")[:16]

    def issue(self, now: float) -> str:
        slot = int(now // self._slot)
        return b64url(slot.to_bytes(8, "big") + self._mac(slot))

    def check(self, nonce: str, now: float) -> bool:
        if not isinstance(nonce, str) or len(nonce) != 32:
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "==")
        except ValueError:
            return False
        if len(raw) != 24:
            return False
        slot = int.from_bytes(raw[:8], "big")
        current = int(now // self._slot)
        return slot in (current, current - 1) and hmac.compare_digest(raw[8:], self._mac(slot))


# --- the proof -----------------------------------------------------------------------

# Proof headers that passed the header checks (typ, no crit, alg a string), with the key
# imported from their jwk, by header segment: a client signs every proof with the same
# header (typ, alg, jwk), so after its first proof only the payload and signature are
# decoded (make bench, DPoP step: 'a new proof from a known key'). Bounded; cleared when full.
_KEYS: dict[str, tuple[dict[str, Any], VerificationKey]] = {}
# Parsed htu values by their text: a client signs the same few URLs again and again
# (make bench, DPoP step). Bounded in entries and in length; cleared when full.
_HTUS: dict[str, Target | str] = {}
_HTU_CACHE_MAX: Final = 256
_HTU_CACHE_LENGTH: Final = 1024


def _invalid(detail: str, hint: str | None = None, **fields: Any) -> Failure:
    return Failure(Reason.dpop_proof_invalid, detail, hint=hint, **fields)


def _proof_key(h64: str, header: dict[str, Any]) -> VerificationKey | Failure:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        return _invalid("The proof's header has no 'jwk' object: a proof carries its public key.")
    private = [m for m in PRIVATE_MEMBERS if m in jwk]
    if private:
        return _invalid(
            f"The proof's jwk carries private key members ({', '.join(private)}): only the "
            "public key belongs in a proof.",
            hint="The client leaks its private key: it must put the public JWK in the proof "
            "header, and replace this key.",
        )
    if jwk.get("kty") == "oct":
        return _invalid("The proof's jwk is a symmetric (oct) key; a proof needs a public key.")
    try:
        key = import_jwk(jwk, source="the DPoP proof's jwk", published=True)
    except ConfigurationError as exc:
        return _invalid(f"The proof's jwk is not a usable public key: {clip(str(exc), 160)}.")
    if len(_KEYS) >= _KEY_CACHE_MAX:
        _KEYS.clear()
    _KEYS[h64] = (header, key)
    return key


def _parse_htu(htu: str) -> Target | str:
    """:func:`~jwt_middleware.values.uri.parse_url` of an ``htu``, remembered (see _HTUS)."""
    got = _HTUS.get(htu)
    if got is None:
        got = parse_url(htu)
        if len(htu) <= _HTU_CACHE_LENGTH:
            if len(_HTUS) >= _HTU_CACHE_MAX:
                _HTUS.clear()
            _HTUS[htu] = got
    return got


_Decoded = tuple[dict[str, Any], VerificationKey, tuple[bytes, dict[str, Any], bytes]]


def _decode(proof: str, dot: int, policy: ProofPolicy) -> _Decoded | Failure:
    """The strict decoder and the header checks, in order, for a header not seen before
    (or a proof the cheap decoder does not take): the header, its key, the body."""
    parsed = parse_compact(proof)
    if isinstance(parsed, Failure):
        detail = parsed.detail.replace("The token", "The proof").replace("token", "proof")
        return _invalid(f"The proof is not a compact JWS ({parsed.reason.value}): {detail}")
    header = parsed.header
    typ = header.get("typ")
    if typ != PROOF_TYP:
        shown = f"{clip(typ, 40)!r}" if isinstance(typ, str) else "absent"
        return _invalid(f"The proof's typ is {shown}; a DPoP proof has typ '{PROOF_TYP}'.")
    if "crit" in header:
        names = header["crit"]
        shown = (
            ", ".join(clip(n, 30) for n in names[:5] if isinstance(n, str))
            if isinstance(names, list)
            else "not a list"
        )
        return _invalid(
            f"The proof's header lists critical parameters ({shown or 'none'}) this server "
            "does not understand; RFC 7515 section 4.1.11 says to refuse it.",
            hint="A DPoP proof needs no 'crit' header parameter: leave it out.",
        )
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        return _alg_refused(alg, policy)
    if not parsed.signature:
        return _invalid("The proof has an empty signature segment.", alg=alg)
    key = _proof_key(proof[:dot], header)
    if isinstance(key, Failure):
        return key._replace(alg=alg)
    return header, key, (parsed.signing_input, parsed.claims, parsed.signature)


def _alg_refused(alg: Any, policy: ProofPolicy) -> Failure:
    shown = f"{clip(alg, 20)!r}" if isinstance(alg, str) else "absent or not a string"
    return _invalid(
        f"The proof's alg is {shown}; a proof is signed with one of "
        f"{', '.join(sorted(policy.algorithms))} (asymmetric only).",
        alg=alg if isinstance(alg, str) else None,
    )


def verify_proof(
    proof: str,
    *,
    method: str,
    target: Target,
    access_token: str | None,
    now: float,
    policy: ProofPolicy,
    nonces: Nonces | None = None,
) -> Proof | Failure:
    """Check one DPoP proof (RFC 9449 section 4.3) for a request of ``method`` to
    ``target`` (the URI this server received it at,
    :func:`~jwt_middleware.values.uri.request_target`, or
    :func:`~jwt_middleware.values.uri.parse_url` of a URL) carrying
    ``access_token`` (``ath``; None: a proof without an access token, ``ath`` not
    checked). ``nonces``: require a nonce this server issued (dpop_nonce_required).

    Returns the :class:`Proof` or a Failure: dpop_proof_invalid (the detail names the
    check and the values), dpop_nonce_required."""
    if len(proof) > MAX_PROOF_BYTES:
        return _invalid(f"The proof is {len(proof)} bytes long; at most {MAX_PROOF_BYTES}.")
    dot = proof.find(".")
    known = _KEYS.get(proof[:dot]) if dot > 0 else None
    # A header that passed the header checks before: the cheap decoder (payload and
    # signature; tokens/structure.py), which takes nothing the strict one refuses.
    body = decode_body(proof, dot) if known is not None else None
    if known is None or body is None:
        decoded = _decode(proof, dot, policy)
        if isinstance(decoded, Failure):
            return decoded
        header, key, body = decoded
    else:
        header, key = known
    signing_input, claims, signature = body
    alg: str = header["alg"]
    if alg not in policy.algorithms:  # a header seen by a middleware with other algorithms
        return _alg_refused(alg, policy)
    verify = key.verifiers.get(alg)
    if verify is None:
        return _invalid(
            f"The proof's alg {alg} does not fit its jwk ({key.description}; it verifies "
            f"{', '.join(sorted(key.algorithms))}).",
            alg=alg,
            key_fingerprint=key.fingerprint,
        )
    if not verify(signing_input, signature):
        return _invalid(
            "The proof's signature does not verify with the jwk in its header.",
            alg=alg,
            key_fingerprint=key.fingerprint,
        )
    fields: dict[str, Any] = {"alg": alg, "key_fingerprint": key.fingerprint}
    htm = claims.get("htm")
    if htm != method:
        shown = f"{clip(htm, 20)!r}" if isinstance(htm, str) else "absent"
        return _invalid(
            f"The proof's htm is {shown} but the request method is {method!r}.",
            hint="Sign each request's own method (htm) in its proof: a proof is made per request.",
            **fields,
        )
    htu = claims.get("htu")
    if not isinstance(htu, str):
        return _invalid("The proof has no htu (a string): the URL of the request.", **fields)
    got = _parse_htu(htu)
    if isinstance(got, str):
        return _invalid(
            f"The proof's htu is not a URL this server compares: {got}.",
            hint="htu must be the absolute http(s) URL of the request, without user "
            "information, its host a name or address.",
            **fields,
        )
    if got != target:
        return _invalid(
            f"The proof's htu is {clip(str(got), 200)!r} but this server received the "
            f"request at {clip(str(target), 200)!r} (compared without query and fragment, "
            "after RFC 3986 normalisation).",
            hint="The client signed another URL than this server sees: " + htu_hint(got, target),
            **fields,
        )
    raw_iat = claims.get("iat")
    if not is_time(raw_iat):
        shown = "absent" if raw_iat is None else "not a Unix time (a number in range)"
        return _invalid(f"The proof's iat is {shown}.", **fields)
    iat = float(raw_iat)  # type: ignore[arg-type]  # is_time: an int or float in range
    age = now - iat
    if age > policy.iat_window + policy.leeway:
        return _invalid(
            f"The proof's iat is {age:.0f} s old; at most {policy.iat_window:g} s "
            f"(+ {policy.leeway:g} s leeway) is accepted.",
            hint="Make a fresh proof for every request; if it is fresh, the client's clock is "
            "behind this server's.",
            **fields,
        )
    if -age > policy.leeway:
        return _invalid(
            f"The proof's iat is {-age:.0f} s in the future; at most {policy.leeway:g} s "
            "(leeway) is accepted.",
            hint="The client's clock is ahead of this server's.",
            **fields,
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        shown = f"{len(jti)} characters" if isinstance(jti, str) else "absent or not a string"
        return _invalid(
            f"The proof's jti is {shown}; a non-empty string of at most {MAX_JTI_LENGTH} "
            "characters is required.",
            **fields,
        )
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str):
            return _invalid(
                "The proof has no ath: a proof sent with an access token carries "
                "base64url(SHA-256(access token)).",
                **fields,
            )
        expected = ath_of(access_token)
        if not hmac.compare_digest(ath.encode("ascii", "replace"), expected.encode("ascii")):
            return _invalid(
                f"The proof's ath ({clip(ath, 60)!r}) is not the SHA-256 of this access token "
                f"({expected!r}).",
                hint="The proof was made for another access token, or its hash was not the "
                "unpadded base64url of SHA-256 over the token's ASCII bytes.",
                **fields,
            )
    nonce = claims.get("nonce")
    if nonces is not None:
        if not isinstance(nonce, str):
            return Failure(
                Reason.dpop_nonce_required,
                "The proof has no nonce; this server requires one.",
                **fields,
            )
        if not nonces.check(nonce, now):
            return Failure(
                Reason.dpop_nonce_required,
                "The proof's nonce is not one this server issued recently (stale or foreign).",
                **fields,
            )
    return Proof(key.fingerprint, jti, iat, alg, nonce if isinstance(nonce, str) else None)


def binding_failure(verified: VerifiedToken, proof: Proof) -> Failure | None:
    """dpop_binding_mismatch when the token's ``cnf.jkt`` is not the proof key's
    thumbprint (or the token is not bound at all), else None."""
    if verified.jkt == proof.jkt:
        return None
    if verified.jkt is None:
        detail = (
            "The access token has no cnf.jkt: it is not bound to a DPoP key, so it cannot "
            "be sent with the DPoP scheme."
        )
    else:
        detail = (
            f"The token's cnf.jkt is {clip(verified.jkt, 60)!r} but the proof's key has the "
            f"RFC 7638 thumbprint {proof.jkt!r}."
        )
    failure = Failure(
        Reason.dpop_binding_mismatch,
        detail,
        alg=verified.alg,
        kid=verified.kid,
        key_fingerprint=verified.key_fingerprint,
    )
    return failure.with_claims(verified.claims)


_REQUIRED_DETAIL: Final = "This API requires DPoP: the Bearer scheme is refused."
_REQUIRED_HINT: Final = (
    "Send 'Authorization: DPoP <token>' with a 'DPoP' header holding a proof made for this "
    "request (RFC 9449), and a token bound to the proof's key (DPoP is required by $dpop)."
)


def bearer_refusal(verified: VerifiedToken, *, bearer_ok: bool) -> Failure | None:
    """Why a verified token that came without a proof (the Bearer scheme, another
    location, an adapter that only sees Bearer tokens) is refused, or None: every
    bearer token when DPoP is required (``bearer_ok`` False, invalid_scheme), a
    DPoP-bound one always (dpop_bound_token_as_bearer: a downgrade). With DPoP
    ``off`` nobody asks: ``cnf.jkt`` is not honoured then."""
    if not bearer_ok:
        return Failure(Reason.invalid_scheme, _REQUIRED_DETAIL, hint=_REQUIRED_HINT)
    if verified.jkt is None:
        return None
    return Failure(
        Reason.dpop_bound_token_as_bearer,
        f"The token is bound to a DPoP key (cnf.jkt {clip(verified.jkt, 60)!r}) but came "
        "with the Bearer scheme.",
        alg=verified.alg,
        kid=verified.kid,
        key_fingerprint=verified.key_fingerprint,
    ).with_claims(verified.claims)


def count_proofs(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, int]:
    """The (last) ``DPoP`` header value of ASGI ``headers`` and how many there are."""
    value: bytes | None = None
    count = 0
    for name, raw in headers:
        if len(name) == 4 and name.lower() == b"dpop":
            count += 1
            value = raw
    return (value.decode("latin-1") if value is not None else None), count
