"""jwt_middleware.dpop.proof: every check of a DPoP proof, tampering, the URI normalisation,
server nonces. Proofs are signed locally (tests/helpers/dpop.py)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.dpop import ath, proof, public_jwk, thumbprint
from helpers.keys import Keys

from jwt_middleware.dpop.proof import (
    Nonces,
    Proof,
    ProofPolicy,
    ath_of,
    htu_hint,
    verify_proof,
)
from jwt_middleware.outcome import Failure
from jwt_middleware.reasons import Reason
from jwt_middleware.settings import DPOP_ALGORITHMS
from jwt_middleware.values.uri import Target, parse_url


def url(text: str) -> Target:
    target = parse_url(text)
    assert isinstance(target, Target), target
    return target


URL = "https://api.example.com/v1/orders"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
POLICY = ProofPolicy(frozenset(DPOP_ALGORITHMS), 60.0, 30.0)


def check(p: str, **kw: Any) -> Proof | Failure:
    args: dict[str, Any] = {
        "method": "GET",
        "target": url(URL),
        "access_token": TOKEN,
        "now": time.time(),
        "policy": POLICY,
    }
    args.update(kw)
    return verify_proof(p, **args)


def refused(result: Proof | Failure, reason: Reason = Reason.dpop_proof_invalid) -> str:
    assert isinstance(result, Failure), result
    assert result.reason is reason, result
    return result.detail


@pytest.mark.parametrize("alg", DPOP_ALGORITHMS)
def test_valid_proof_of_every_algorithm(keys: Keys, alg: str) -> None:
    private = keys.by_alg[alg]
    result = check(proof(private, alg=alg, url=URL, token=TOKEN, jti="j-1"))
    assert isinstance(result, Proof), result
    assert result.jkt == thumbprint(public_jwk(private))
    assert (result.jti, result.alg) == ("j-1", alg)


def test_ath_is_base64url_sha256() -> None:
    assert ath_of(TOKEN) == ath(TOKEN)


def test_structure_typ_alg(keys: Keys) -> None:
    assert "not a compact JWS" in refused(check("not-a-jws"))
    assert "typ is 'JWT'" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, header={"typ": "JWT"}))
    )
    good = proof(keys.ec256, url=URL, token=TOKEN)
    h64, p64, s64 = good.split(".")
    header = json.loads(base64.urlsafe_b64decode(h64 + "=="))
    for alg in ("none", "HS256", "NONE"):
        forged = {**header, "alg": alg}
        h = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        assert f"alg is '{alg}'" in refused(check(f"{h}.{p64}.{s64}"))
    narrow = ProofPolicy(frozenset({"PS256"}), 60.0, 30.0)
    assert "one of PS256" in refused(check(good, policy=narrow))


def test_jwk_must_be_public(keys: Keys) -> None:
    jwk = public_jwk(keys.ec256)
    with_d = {**jwk, "d": "AAAA"}
    detail = refused(check(proof(keys.ec256, url=URL, token=TOKEN, header={"jwk": with_d})))
    assert "private key members (d)" in detail
    assert "no 'jwk'" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, header={"jwk": None}))
    )
    oct_key = {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}
    assert "symmetric" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, header={"jwk": oct_key}))
    )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_small_rsa_key_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    detail = refused(check(proof(small, alg="RS256", url=URL, token=TOKEN)))
    assert "1024 bits" in detail


def test_signature_by_another_key_than_the_jwk(keys: Keys) -> None:
    other = public_jwk(keys.ec256)
    forged = proof(keys.ec384, alg="ES384", url=URL, token=TOKEN)
    assert "does not fit its jwk" in refused(
        check(proof(keys.ec384, alg="ES384", url=URL, token=TOKEN, header={"jwk": other}))
    )
    # Tampered payload: the signature no longer verifies.
    h64, p64, s64 = forged.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p64 + "=="))
    claims["htm"] = "POST"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "signature does not verify" in refused(check(f"{h64}.{p2}.{s64}", method="POST"))


def test_htm_htu(keys: Keys) -> None:
    p = proof(keys.ec256, method="POST", url=URL, token=TOKEN)
    assert "htm is 'POST' but the request method is 'GET'" in refused(check(p))
    other = proof(keys.ec256, url="https://api.example.com/v2/orders", token=TOKEN)
    detail = refused(check(other))
    assert "'https://api.example.com/v2/orders'" in detail and URL in detail
    assert "htu" in refused(check(proof(keys.ec256, token=TOKEN, drop=("htu",))))


@pytest.mark.parametrize(
    "signed",
    [
        "HTTPS://API.Example.COM/v1/orders",
        "https://api.example.com:443/v1/orders",
        "https://api.example.com/v1/orders?page=2#top",
        "https://api.example.com/v1/%6Frders",
        "https://api.example.com/v1/x/../orders",
    ],
)
def test_htu_normalisation_accepts(keys: Keys, signed: str) -> None:
    assert isinstance(check(proof(keys.ec256, url=signed, token=TOKEN)), Proof)


def test_htu_parsed_by_parts() -> None:
    assert str(url("http://h")) == "http://h/"
    assert str(url("http://H:80/a")) == "http://h/a"
    assert str(url("http://h:8080/a")) == "http://h:8080/a"
    for bad in ("ftp://h/a", "/relative", "http://user@h/a", "http://h:/a", "http://h:99999/"):
        assert isinstance(parse_url(bad), str), bad


@pytest.mark.parametrize(
    "signed",
    [
        "https://api.example.com/v1/orders%3F",  # an encoded '?' is part of the path
        "https://api.example.com/v1/orders%23",
        "https://api.example.com/v1%2Forders",  # an encoded '/' is not a separator
        "https://api.example.com/v1/orders/",
    ],
)
def test_htu_encoded_delimiters_name_other_resources(keys: Keys, signed: str) -> None:
    assert "htu" in refused(check(proof(keys.ec256, url=signed, token=TOKEN)))


def test_iat_window(keys: Keys) -> None:
    now = time.time()
    assert isinstance(check(proof(keys.ec256, url=URL, token=TOKEN, iat=now - 80), now=now), Proof)
    assert "s old" in refused(check(proof(keys.ec256, url=URL, token=TOKEN, iat=now - 95), now=now))
    assert "in the future" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, iat=now + 45), now=now)
    )
    assert "iat is not a Unix time" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, iat="1"))
    )
    assert "iat is absent" in refused(check(proof(keys.ec256, url=URL, token=TOKEN, drop=("iat",))))


@pytest.mark.parametrize("iat", [10**400, -(10**400), 10**20, -1, True, 1.5e308])
def test_iat_out_of_range_is_refused_not_raised(keys: Keys, iat: Any) -> None:
    assert "iat is not a Unix time" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, iat=iat))
    )


@pytest.mark.parametrize("crit", [["exp"], [], "b64", [1], ["htu"]])
def test_any_crit_header_parameter_is_refused(keys: Keys, crit: Any) -> None:
    detail = refused(check(proof(keys.ec256, url=URL, token=TOKEN, header={"crit": crit})))
    assert "critical parameters" in detail


def test_jti(keys: Keys) -> None:
    assert "jti" in refused(check(proof(keys.ec256, url=URL, token=TOKEN, drop=("jti",))))
    assert "jti is 300 characters" in refused(
        check(proof(keys.ec256, url=URL, token=TOKEN, jti="x" * 300))
    )


def test_ath(keys: Keys) -> None:
    assert "no ath" in refused(check(proof(keys.ec256, url=URL)))
    detail = refused(check(proof(keys.ec256, url=URL, token=TOKEN + "x")))
    assert "not the SHA-256 of this access token" in detail
    assert TOKEN not in detail


def test_nonce(keys: Keys) -> None:
    nonces = Nonces("a shared nonce secret", 300.0)
    now = time.time()
    fresh = nonces.issue(now)
    good = proof(keys.ec256, url=URL, token=TOKEN, nonce=fresh)
    assert isinstance(check(good, nonces=nonces, now=now), Proof)
    missing = check(proof(keys.ec256, url=URL, token=TOKEN), nonces=nonces)
    assert "no nonce" in refused(missing, Reason.dpop_nonce_required)
    old = nonces.issue(now - 400)
    stale = check(proof(keys.ec256, url=URL, token=TOKEN, nonce=old), nonces=nonces, now=now)
    assert "not one this server issued" in refused(stale, Reason.dpop_nonce_required)
    other = Nonces("another nonce secret!!", 300.0)
    assert not other.check(fresh, now)
    assert Nonces("a shared nonce secret", 300.0).check(fresh, now + 100)


def test_details_never_hold_the_proof_or_its_signature(keys: Keys) -> None:
    p = proof(keys.ec256, method="PUT", url=URL, token=TOKEN)
    failure = check(p)
    assert isinstance(failure, Failure)
    text = json.dumps([failure.detail, failure.hint])
    assert p not in text and p.split(".")[2] not in text and TOKEN not in text


def test_htu_hint() -> None:
    hint = htu_hint(url("https://api.example.com/v1/orders"), url("http://api.example.com/orders"))
    assert "--proxy-headers" in hint and "--root-path /v1" in hint
    hint = htu_hint(url("https://api.example.com/orders"), url("https://10.0.0.5:8000/orders"))
    assert "Host" in hint


def _resigned(private: Any, good: str, payload: bytes) -> str:
    """``good``'s header segment over another payload, signed with ES256 (raw r||s)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    h64 = good.split(".")[0]
    p64 = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    der = private.sign(f"{h64}.{p64}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    sig = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return f"{h64}.{p64}.{sig.rstrip(b'=').decode()}"


def test_a_known_header_skips_nothing_the_strict_decoder_checks(keys: Keys) -> None:
    """After a client's first proof its header is known and only the payload and signature
    are decoded: a payload the strict reader refuses is still refused, a proof with
    the known header and an empty or changed signature still fails."""
    first = proof(keys.ec256, url=URL, token=TOKEN)
    assert isinstance(check(first), Proof)
    claims = f'"htm":"GET","htu":"{URL}","iat":{int(time.time())},"ath":"{ath(TOKEN)}"'
    duplicate = _resigned(keys.ec256, first, ('{"jti":"a","jti":"b",' + claims + "}").encode())
    assert "not a compact JWS (invalid_json)" in refused(check(duplicate))
    assert "empty signature" in refused(check(first.rsplit(".", 1)[0] + "."))
    h64, p64, _s64 = proof(keys.ec256, url=URL, token=TOKEN).split(".")
    other = proof(keys.ec256, url=URL, token=TOKEN).split(".")[2]
    assert "signature does not verify" in refused(check(f"{h64}.{p64}.{other}"))
    fine = _resigned(keys.ec256, first, ('{"jti":"c",' + claims + "}").encode())
    assert isinstance(check(fine), Proof)


def test_a_known_header_is_judged_by_each_policy(keys: Keys) -> None:
    """A header learned under one policy (ES256 allowed) is refused under another."""
    assert isinstance(check(proof(keys.ec256, url=URL, token=TOKEN)), Proof)
    strict = ProofPolicy(frozenset({"EdDSA"}), 60.0, 30.0)
    detail = refused(check(proof(keys.ec256, url=URL, token=TOKEN), policy=strict))
    assert "alg is 'ES256'" in detail


def test_a_remembered_htu_is_compared_as_before(keys: Keys) -> None:
    """htu values are remembered parsed: the same text twice gives the same answer, a
    wrong one is refused each time, a long one is parsed and not kept."""
    from jwt_middleware.dpop import proof as module

    for _ in range(2):
        assert isinstance(check(proof(keys.ec256, url=URL, token=TOKEN)), Proof)
        assert "htu is 'https://api.example.com/v1/other'" in refused(
            check(proof(keys.ec256, url="https://api.example.com/v1/other", token=TOKEN))
        )
        assert "not a URL this server compares" in refused(
            check(proof(keys.ec256, url="ftp://api.example.com/v1/orders", token=TOKEN))
        )
    long = "https://api.example.com/" + "a" * 2000
    assert "htu is" in refused(check(proof(keys.ec256, url=long, token=TOKEN)))
    assert long not in module._HTUS
    assert len(module._HTUS) <= module._HTU_CACHE_MAX
