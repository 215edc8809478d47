"""The reason taxonomy: every way a request can be rejected, in one place.

Each :class:`Reason` is a stable code (the contract's names, kept exactly);
:data:`REASONS` maps it to its HTTP status, RFC 6750 ``error`` code, a human
title and the default hint an operator reads. Every other module, the docs
table and the tests take these facts from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Reason(StrEnum):
    """A stable rejection code. The string value is what clients and dashboards see."""

    # request stage
    missing_token = "missing_token"
    invalid_scheme = "invalid_scheme"
    empty_token = "empty_token"
    double_bearer = "double_bearer"
    url_encoded_token = "url_encoded_token"
    quoted_token = "quoted_token"
    whitespace_in_token = "whitespace_in_token"
    multiple_authorization_headers = "multiple_authorization_headers"
    token_too_large = "token_too_large"
    multiple_tokens = "multiple_tokens"
    cross_site_request = "cross_site_request"
    # structure stage
    malformed_token = "malformed_token"
    encrypted_token = "encrypted_token"
    invalid_base64 = "invalid_base64"
    invalid_json = "invalid_json"
    # header / algorithm stage
    unsigned_token = "unsigned_token"
    invalid_header = "invalid_header"
    algorithm_not_allowed = "algorithm_not_allowed"
    algorithm_key_mismatch = "algorithm_key_mismatch"
    algorithm_confusion = "algorithm_confusion"
    wrong_token_type = "wrong_token_type"
    # key stage
    missing_kid = "missing_kid"
    unknown_kid = "unknown_kid"
    key_source_unavailable = "key_source_unavailable"
    # signature stage
    signature_invalid = "signature_invalid"
    kid_mismatch = "kid_mismatch"
    retired_key = "retired_key"
    secret_encoding_mismatch = "secret_encoding_mismatch"
    # claims stage
    token_expired = "token_expired"
    token_not_yet_valid = "token_not_yet_valid"
    token_issued_in_future = "token_issued_in_future"
    issuer_mismatch = "issuer_mismatch"
    audience_mismatch = "audience_mismatch"
    missing_claim = "missing_claim"
    invalid_claim = "invalid_claim"
    # scope stage
    insufficient_scope = "insufficient_scope"
    # DPoP (RFC 9449, CONTRACT section 7)
    dpop_proof_missing = "dpop_proof_missing"
    dpop_proof_invalid = "dpop_proof_invalid"
    dpop_proof_replayed = "dpop_proof_replayed"
    dpop_nonce_required = "dpop_nonce_required"
    dpop_binding_mismatch = "dpop_binding_mismatch"
    dpop_bound_token_as_bearer = "dpop_bound_token_as_bearer"
    # introspection (RFC 7662, CONTRACT section 8)
    token_inactive = "token_inactive"
    introspection_unavailable = "introspection_unavailable"
    introspection_client_rejected = "introspection_client_rejected"
    introspection_invalid_response = "introspection_invalid_response"
    # authorization beyond scopes (CONTRACT section 12)
    claim_not_allowed = "claim_not_allowed"
    # revocation (CONTRACT section 9)
    token_revoked = "token_revoked"
    revocation_unavailable = "revocation_unavailable"


class Stage(StrEnum):
    """The pipeline stage a reason belongs to, in the order they run."""

    request = "request"
    structure = "structure"
    header = "header"
    key = "key"
    signature = "signature"
    claims = "claims"
    scope = "scope"
    #: The DPoP proof and the token's binding to its key (RFC 9449).
    dpop = "dpop"
    #: The authorization server's introspection endpoint (RFC 7662).
    introspection = "introspection"
    #: Whether a verified token is still live: the revocation list (CONTRACT section 9).
    status = "status"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """Static facts about one reason."""

    reason: Reason
    stage: Stage
    status: int
    error: str | None  # RFC 6750 error code, None where the contract gives none
    title: str
    hint: str  # default operator hint; a failure may carry a sharper one


_INVALID_REQUEST: Final = "invalid_request"
_INVALID_TOKEN: Final = "invalid_token"
_INVALID_DPOP_PROOF: Final = "invalid_dpop_proof"


def _r(
    reason: Reason, stage: Stage, status: int, error: str | None, title: str, hint: str
) -> tuple[Reason, ReasonInfo]:
    return reason, ReasonInfo(reason, stage, status, error, title, hint)


R = Reason
S = Stage

REASONS: Final[dict[Reason, ReasonInfo]] = dict(
    [
        _r(
            R.missing_token,
            S.request,
            401,
            None,
            "No bearer token",
            "Send the access token in an 'Authorization: Bearer <token>' header.",
        ),
        _r(
            R.invalid_scheme,
            S.request,
            401,
            None,
            "Not a Bearer authorization",
            "The Authorization header uses another scheme. Send 'Authorization: Bearer <token>'; "
            "if a proxy or gateway rewrites the header, check its configuration.",
        ),
        _r(
            R.empty_token,
            S.request,
            400,
            _INVALID_REQUEST,
            "Empty bearer token",
            "The header says 'Bearer' but carries no token: the client's token variable is "
            "probably empty or unset.",
        ),
        _r(
            R.double_bearer,
            S.request,
            400,
            _INVALID_REQUEST,
            "Bearer prefix sent twice",
            "The header reads 'Bearer Bearer <token>': the client (or a proxy) adds the prefix to "
            "a value that already has it. Strip one of them.",
        ),
        _r(
            R.url_encoded_token,
            S.request,
            400,
            _INVALID_REQUEST,
            "Percent-encoded token",
            "The token or header is percent-encoded (%20, %2E, %3D...). Headers are not URLs: "
            "send the token exactly as the issuer returned it; check proxies that URL-encode "
            "header values.",
        ),
        _r(
            R.quoted_token,
            S.request,
            400,
            _INVALID_REQUEST,
            "Quoted token",
            "The token is wrapped in quotes, usually a JSON string pasted with its quotes or a "
            "shell quoting mistake. Remove the quotes.",
        ),
        _r(
            R.whitespace_in_token,
            S.request,
            400,
            _INVALID_REQUEST,
            "Whitespace inside the token",
            "The token contains spaces, tabs or line breaks, typically from copying it out of a "
            "wrapped terminal or a YAML block scalar. Send it on one line with nothing inside.",
        ),
        _r(
            R.multiple_authorization_headers,
            S.request,
            400,
            _INVALID_REQUEST,
            "Several Authorization headers",
            "The request carries more than one Authorization header; often a proxy adds its own "
            "next to the client's. Send exactly one.",
        ),
        _r(
            R.token_too_large,
            S.request,
            400,
            _INVALID_REQUEST,
            "Token too large",
            "The token is longer than the configured limit. Large tokens usually embed too many "
            "groups or roles; trim the claims at the issuer or raise max_token_bytes.",
        ),
        _r(
            R.multiple_tokens,
            S.request,
            400,
            _INVALID_REQUEST,
            "Two different tokens",
            "The request carries two different tokens in two places the server accepts tokens "
            "from (the Authorization header and the WebSocket subprotocol, say). Send one token, "
            "in one place.",
        ),
        _r(
            R.cross_site_request,
            S.request,
            403,
            None,
            "Cookie token on a cross-site request",
            "A browser sends cookies with requests that other sites make, so a token taken "
            "from a cookie does not authenticate an unsafe method or a WebSocket handshake "
            "from another origin (CSRF). Make the request from the API's own origin, or list "
            "your front end's origin in $trusted_origins; behind a TLS-terminating proxy, "
            "let the server see the original scheme and Host (uvicorn --proxy-headers).",
        ),
        _r(
            R.malformed_token,
            S.structure,
            401,
            _INVALID_TOKEN,
            "Not a JWT",
            "A JWT has three base64url segments separated by dots. This value is something else: "
            "an opaque access token, an ID of a session, or a truncated copy.",
        ),
        _r(
            R.encrypted_token,
            S.structure,
            401,
            _INVALID_TOKEN,
            "Encrypted token (JWE)",
            "The token has five segments: it is an encrypted JWE, not a signed JWS. Ask the "
            "issuer for a signed access token (disable token encryption for this audience).",
        ),
        _r(
            R.invalid_base64,
            S.structure,
            401,
            _INVALID_TOKEN,
            "Segment is not base64url",
            "Each segment must be unpadded base64url (A-Z a-z 0-9 - _). A token built with "
            "standard base64 (+ / =) was produced or altered by a non-JWT encoder.",
        ),
        _r(
            R.invalid_json,
            S.structure,
            401,
            _INVALID_TOKEN,
            "Header or payload is not a JSON object",
            "The decoded header and payload must be JSON objects without duplicate names, "
            "NaN/Infinity or deep nesting.",
        ),
        _r(
            R.unsigned_token,
            S.header,
            401,
            _INVALID_TOKEN,
            "Unsigned token",
            "The token has alg 'none' or no signature. Unsigned tokens are never accepted; the "
            "issuer must sign them.",
        ),
        _r(
            R.invalid_header,
            S.header,
            401,
            _INVALID_TOKEN,
            "Invalid JOSE header",
            "The header must carry a string 'alg', a non-empty string 'kid' if any, and no 'crit' "
            "extensions this verifier does not understand.",
        ),
        _r(
            R.wrong_token_type,
            S.header,
            401,
            _INVALID_TOKEN,
            "Not an access token",
            "The header 'typ' is not an accepted access-token type (RFC 9068: 'at+jwt'). An "
            "OpenID Connect ID token, a refresh token or a logout token is not an access token: "
            "ask the authorization server for an access token for this API.",
        ),
        _r(
            R.algorithm_not_allowed,
            S.header,
            401,
            _INVALID_TOKEN,
            "Algorithm not allowed",
            "The token's alg is not in the allow-list. Either the issuer signs with another "
            "algorithm than agreed, or $algorithms should include it.",
        ),
        _r(
            R.algorithm_key_mismatch,
            S.header,
            401,
            _INVALID_TOKEN,
            "Algorithm does not fit the key",
            "The token's alg cannot be used with the selected key (e.g. an RS256 token and an EC "
            "key, or a key whose own 'alg' differs). Check which key the issuer signs with.",
        ),
        _r(
            R.algorithm_confusion,
            S.header,
            401,
            _INVALID_TOKEN,
            "HMAC token against a public key",
            "An HS* token was checked against an asymmetric key: the public key would be used as "
            "an HMAC secret, the classic key-confusion attack. If the issuer really uses HMAC, "
            "configure the shared secret ($secret); otherwise the token is forged.",
        ),
        _r(
            R.missing_kid,
            S.key,
            401,
            _INVALID_TOKEN,
            "No kid and several candidate keys",
            "The token has no 'kid' header and more than one configured key fits its alg. Have "
            "the issuer set 'kid', or configure a single key for that algorithm.",
        ),
        _r(
            R.unknown_kid,
            S.key,
            401,
            _INVALID_TOKEN,
            "Unknown key id",
            "No key in the current key set has this kid. After a key rotation the issuer may "
            "sign with a key this verifier has not loaded yet: compare the issuer's JWKS with "
            "the kids this service holds (jwt-middleware fingerprint).",
        ),
        _r(
            R.key_source_unavailable,
            S.key,
            503,
            None,
            "Keys unavailable",
            "The key source cannot be fetched and no usable cached keys exist. Check that the "
            "JWKS or discovery URL is reachable from this service.",
        ),
        _r(
            R.signature_invalid,
            S.signature,
            401,
            _INVALID_TOKEN,
            "Signature does not verify",
            "The signature does not verify with the selected key. The token was signed by "
            "another key (another environment or issuer), altered, or forged.",
        ),
        _r(
            R.kid_mismatch,
            S.signature,
            401,
            _INVALID_TOKEN,
            "Signed by another key than its kid names",
            "The signature verifies with another current key than the one its kid names: the "
            "issuer labels keys inconsistently (kid reused across a rotation).",
        ),
        _r(
            R.retired_key,
            S.signature,
            401,
            _INVALID_TOKEN,
            "Signed by a retired key",
            "The token was signed by a key that an earlier key set held and the current one "
            "dropped: the issuer still signs with a rotated-out key, or the token predates the "
            "rotation. Get a new token; if many clients see this, check the issuer.",
        ),
        _r(
            R.secret_encoding_mismatch,
            S.signature,
            401,
            _INVALID_TOKEN,
            "Secret encoded differently on each side",
            "The HMAC signature verifies with a variant of the configured secret (base64-decoded "
            "or -encoded, or with whitespace/newline differences). Store the secret the same way "
            "on the issuer and here.",
        ),
        _r(
            R.token_expired,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Token expired",
            "The token's exp is in the past. Get a new token (refresh it).",
        ),
        _r(
            R.token_not_yet_valid,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Token not yet valid",
            "The token's nbf is in the future. Usually the issuer's clock is ahead of this "
            "server's: check NTP on both, or raise $leeway.",
        ),
        _r(
            R.token_issued_in_future,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Token issued in the future",
            "The token's iat is in the future: the issuer's clock is ahead of this server's. "
            "Check NTP on both, or raise $leeway.",
        ),
        _r(
            R.issuer_mismatch,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Issuer does not match",
            "The token's iss differs from the expected issuer. Compare them character by "
            "character: trailing slash, http vs https, letter case, another environment.",
        ),
        _r(
            R.audience_mismatch,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Audience does not match",
            "None of the token's aud values is an expected audience. Request the token for "
            "this API's audience, or add it to $audience.",
        ),
        _r(
            R.missing_claim,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Required claim missing",
            "A claim this service requires is absent. Configure the issuer to include it, or "
            "change $required_claims.",
        ),
        _r(
            R.invalid_claim,
            S.claims,
            401,
            _INVALID_TOKEN,
            "Claim has the wrong type",
            "A registered claim has the wrong type (exp/nbf/iat must be numbers of seconds, iss "
            "and sub strings, aud a string or an array of strings).",
        ),
        _r(
            R.insufficient_scope,
            S.scope,
            403,
            "insufficient_scope",
            "Insufficient scope",
            "The token is valid but lacks a scope this route requires. Request a token with the "
            "scope listed in the challenge.",
        ),
        _r(
            R.dpop_proof_missing,
            S.dpop,
            401,
            _INVALID_DPOP_PROOF,
            "DPoP proof missing",
            "The DPoP scheme needs exactly one 'DPoP' header holding a proof made for this "
            "request; check that no proxy drops or duplicates it.",
        ),
        _r(
            R.dpop_proof_invalid,
            S.dpop,
            401,
            _INVALID_DPOP_PROOF,
            "DPoP proof invalid",
            "The DPoP proof failed the check the detail names (typ, alg, jwk, signature, htm, "
            "htu, iat, jti or ath). An htu mismatch behind a proxy: see docs/dpop.md.",
        ),
        _r(
            R.dpop_proof_replayed,
            S.dpop,
            401,
            _INVALID_DPOP_PROOF,
            "DPoP proof replayed",
            "This proof's jti was already used: make a fresh proof (new jti) for every request.",
        ),
        _r(
            R.dpop_nonce_required,
            S.dpop,
            401,
            "use_dpop_nonce",
            "DPoP nonce required",
            "Retry with a new proof carrying the nonce from this response's DPoP-Nonce header.",
        ),
        _r(
            R.dpop_binding_mismatch,
            S.dpop,
            401,
            _INVALID_TOKEN,
            "Token not bound to the proof's key",
            "The access token's cnf.jkt is not the thumbprint of the key that signed the proof: "
            "sign proofs with the key the token was issued for, or request a DPoP-bound token.",
        ),
        _r(
            R.dpop_bound_token_as_bearer,
            S.dpop,
            401,
            _INVALID_TOKEN,
            "DPoP-bound token sent as Bearer",
            "This token is bound to a key (cnf.jkt): send it as 'Authorization: DPoP <token>' "
            "with a 'DPoP' proof header, not with the Bearer scheme.",
        ),
        _r(
            R.token_inactive,
            S.introspection,
            401,
            _INVALID_TOKEN,
            "Token not active",
            "The authorization server's introspection endpoint says this token is not active: "
            "it expired, was revoked, or was never issued by that server (a token of another "
            "environment). Get a new token.",
        ),
        _r(
            R.introspection_unavailable,
            S.introspection,
            503,
            None,
            "Introspection unavailable",
            "The token could not be checked: the introspection endpoint could not be reached, "
            "timed out or answered with a server error. Retry later; operators: check that "
            "$introspection_url is reachable from this service (jwt-middleware doctor).",
        ),
        _r(
            R.introspection_client_rejected,
            S.introspection,
            503,
            None,
            "Introspection credentials refused",
            "The introspection endpoint refused this server's own client credentials: a "
            "configuration fault of this service, not the caller's. Check "
            "$introspection_client_id, the client secret (or key) and $introspection_auth "
            "against the client registered at the authorization server (jwt-middleware doctor).",
        ),
        _r(
            R.introspection_invalid_response,
            S.introspection,
            503,
            None,
            "Introspection answer unusable",
            "The introspection endpoint's answer was not a JSON object with a boolean 'active' "
            "(or a signed answer that did not verify): usually $introspection_url names "
            "another page (a login page, a redirect, the token endpoint). Configure the "
            "endpoint the authorization server's metadata names (introspection_endpoint).",
        ),
        # authorization beyond scopes (CONTRACT section 12)
        _r(
            R.claim_not_allowed,
            S.scope,
            403,
            None,
            "Claim value not accepted",
            "The token is valid, but a claim this route requires is missing or holds a value "
            "the route does not accept (a tenant, a client, ...). Request the token where "
            "the route expects it (the detail names the claim), or accept the value in the "
            "route's claim rule.",
        ),
        _r(
            R.token_revoked,
            S.status,
            401,
            _INVALID_TOKEN,
            "Token revoked",
            "The token, its session or its subject was revoked (a logout, a password change, "
            "a disabled account, an administrator) at or after the token was issued. Sign in "
            "again for a new token.",
        ),
        _r(
            R.revocation_unavailable,
            S.status,
            503,
            None,
            "Revocation list unavailable",
            "The revocation list could not be checked in time (its Redis is unreachable or "
            "slow) and JWT_REVOCATION_FAIL=closed refuses what it cannot check. Retry after "
            "the Retry-After delay; operators: jwt_revocation_store_errors_total and "
            "docs/revocation.md.",
        ),
    ]
)

#: Primary-reason order inside the claims stage (CONTRACT section 1).
CLAIM_ORDER: Final[tuple[Reason, ...]] = (
    R.invalid_claim,
    R.missing_claim,
    R.issuer_mismatch,
    R.audience_mismatch,
    R.token_expired,
    R.token_not_yet_valid,
    R.token_issued_in_future,
)

assert set(REASONS) == set(Reason), "every Reason needs its ReasonInfo"
