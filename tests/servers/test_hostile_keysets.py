"""Key sets fetched from the network are untrusted input (docs/key-sources.md).

A real JWKS server on 127.0.0.1 (tests/jwks_server.py) publishes what an
attacker, or a broken identity provider, might: an HMAC (oct) key, private key
members, 10,000 keys, RSA keys too large or with huge exponents, hostile kids;
it drips its body one byte at a time or redirects to another origin. Requests
go through the middleware (in process, and once through a real uvicorn
process); metric series are counted in a prometheus-client registry.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.apps import build_app, remote_settings
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, b64url, public_pem
from helpers.logs import JsonLog, hmac_fingerprint, make_app, oct_thumbprint
from helpers.procs import (
    APPS_DIR,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.tokens import claims, sign
from joserfc import jwk
from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from structlog.testing import capture_logs

from jwt_middleware import ConfigurationError, JWTAuthMiddleware, Settings, Verifier
from jwt_middleware.keys import MAX_JWKS_KEYS, load_jwks, secret_fingerprint
from jwt_middleware.keys.remote import RemoteKeySource, redirect_refusal
from jwt_middleware.sources import load_static_keys

#: The secret an identity provider wrongly publishes as an oct key (32 bytes: PyJWT signs).
PUBLISHED_SECRET = b"published-0123456789abcdefghijkl"


def oct_entry(secret: bytes, kid: str) -> dict[str, Any]:
    return {"kty": "oct", "kid": kid, "k": b64url(secret), "alg": "HS256", "use": "sig"}


def rsa_entry(n: int, e: int, kid: str) -> dict[str, Any]:
    """An RSA public JWK from raw numbers (the modulus need not be a real product of primes:
    the verifier only checks signatures with it)."""

    def b64int(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "kid": kid, "n": b64int(n), "e": b64int(e), "use": "sig"}


def odd_modulus(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def forged_admin(secret: bytes = PUBLISHED_SECRET, kid: str | None = "hs-admin") -> str:
    headers = {"kid": kid} if kid is not None else None
    return sign(claims(scope="admin", sub="attacker"), secret, "HS256", headers=headers)


async def get(app: Any, token: str | None, path: str = "/me") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path, headers=headers)


def app_with(verifier: Verifier, registry: CollectorRegistry) -> JWTAuthMiddleware:
    """A small app behind the middleware, with a verifier and a registry of its own."""

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    return JWTAuthMiddleware(
        Starlette(routes=[Route("/me", me), Route("/admin", me)]),
        verifier=verifier,
        path_scopes={"/admin": ["admin"]},
        registry=registry,
    )


def key_info_series(registry: CollectorRegistry) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in registry.collect()
        if family.name == "jwt_key_info"
        for sample in family.samples
    ]


# --- HMAC (oct) keys in a published key set ------------------------------------------------


async def test_forged_hs256_admin_token_signed_with_a_published_oct_key_is_refused(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1"), oct_entry(PUBLISHED_SECRET, "hs-admin")]
    log = JsonLog()
    registry = CollectorRegistry()
    app = make_app(remote_settings(server, algorithms=("RS256", "HS256")), log, registry=registry)
    try:
        await app.startup()
        # The forged token: HS256, signed with the published secret, asking for admin.
        r = await get(app, forged_admin(), "/admin")
        assert r.status_code == 401, r.text
        body = r.json()
        assert body["reason"] == "algorithm_confusion"
        assert "hs-admin" in body["hint"]
        assert "published in a key set anyone can read" in body["hint"]
        assert "never used" in body["hint"]
        assert 'error_description="algorithm_confusion"' in r.headers["www-authenticate"]
        # Without a kid it is still refused (the default hint: nothing to say about a kid).
        r = await get(app, forged_admin(kid=None), "/admin")
        assert r.json()["reason"] == "algorithm_confusion"
        assert "published" not in r.json()["hint"]
        # A token that names the published kid with another algorithm: unknown_kid, same story.
        r = await get(app, sign(claims(), keys.rsa, headers={"kid": "hs-admin"}))
        assert r.status_code == 401
        assert r.json()["reason"] == "unknown_kid"
        assert "published in a key set anyone can read" in r.json()["hint"]
        # The real key still works.
        assert (await get(app, sign(claims(), keys.rsa, headers={"kid": "k1"}))).status_code == 200
    finally:
        await app.shutdown()
    # One warning per fetch (the unknown kid above caused a second fetch).
    events = log.events("jwt_auth.jwks_key_skipped")
    assert len(events) == 2
    for skipped in events:
        assert skipped["level"] == "warning"
        assert skipped["kid"] == "hs-admin"
        assert skipped["code"] == "published_secret"
    assert b64url(PUBLISHED_SECRET) not in log.text
    assert {s["kid"] for s in key_info_series(registry)} == {"k1"}


async def test_a_key_set_of_only_oct_keys_is_no_key_set(server: JWKSServer) -> None:
    """Every entry published as oct: the fetch yields no usable key, so the forged token
    meets 503 (no keys), never 200."""
    server.state.keys = [oct_entry(PUBLISHED_SECRET, "hs-admin")]
    h = build_app(remote_settings(server, algorithms=("HS256",)))
    try:
        r = await get(h.app, forged_admin(), "/admin")
        assert r.status_code == 503
        assert r.json()["reason"] == "key_source_unavailable"
        assert h.calls == []
    finally:
        await h.app.shutdown()


async def test_the_same_oct_key_from_a_local_jwks_file_is_used(tmp_path: Path) -> None:
    """The rule is about where the key comes from: a local file is not published."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [oct_entry(PUBLISHED_SECRET, "hs-admin")]}))
    settings = Settings(jwks_file=str(path), algorithms="HS256", issuer=ISSUER, audience=AUDIENCE)
    h = build_app(settings)
    r = await get(h.app, forged_admin(), "/admin")
    assert r.status_code == 200, r.text
    assert h.calls == ["/admin"]


async def test_published_oct_keys_cost_no_fingerprint_derivation(
    keys: Keys, server: JWKSServer
) -> None:
    """A published oct key is refused before it is imported: 100 of them cost no scrypt
    (100 derivations would take several seconds)."""
    server.state.keys = [
        oct_entry(secrets.token_bytes(32), f"oct-{i}") for i in range(MAX_JWKS_KEYS - 1)
    ] + [public_jwk(keys.rsa, "k1")]
    source = RemoteKeySource(jwks_url=server.jwks_url)
    try:
        started = time.monotonic()
        assert await source.refresh()
        elapsed = time.monotonic() - started
        assert source.keyset is not None and source.keyset.kids == ["k1"]
        assert len(source.keyset.refused) == MAX_JWKS_KEYS - 1
        assert elapsed < 2.5, elapsed
    finally:
        await source.aclose()


# --- private key members ------------------------------------------------------------------


async def test_published_private_key_members_make_the_entry_unusable(
    keys: Keys, server: JWKSServer
) -> None:
    leaky = dict(jwk.RSAKey.import_key(keys.rsa2).as_dict(private=True))
    leaky.update(kid="leaky", use="sig")
    assert "d" in leaky
    server.state.keys = [public_jwk(keys.rsa, "k1"), leaky]
    log = JsonLog()
    app = make_app(remote_settings(server), log, registry=CollectorRegistry())
    try:
        await app.startup()
        # Anyone who read the key set could have signed this.
        r = await get(app, sign(claims(scope="admin"), keys.rsa2, headers={"kid": "leaky"}))
        assert r.status_code == 401
        assert r.json()["reason"] == "unknown_kid"
        assert "private key members" in r.json()["hint"]
    finally:
        await app.shutdown()
    events = log.events("jwt_auth.jwks_key_skipped")
    assert len(events) == 2  # one per fetch: at startup, and for the unknown kid
    assert {(e["kid"], e["code"]) for e in events} == {("leaky", "private_key_published")}
    assert "d, p, q, dp, dq, qi" in events[0]["why"]
    for member in ("d", "p", "q", "dp", "dq", "qi"):
        assert leaky[member] not in log.text


def test_private_members_in_a_local_jwks_file_are_dropped_with_a_warning(
    keys: Keys, tmp_path: Path
) -> None:
    leaky = dict(jwk.RSAKey.import_key(keys.rsa).as_dict(private=True))
    leaky.update(kid="leaky")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [leaky]}))
    loaded = load_static_keys(Settings(jwks_file=str(path), audience=AUDIENCE))
    assert loaded.keyset.kids == ["leaky"]
    (warning,) = [w for w in loaded.warnings if "leaky" in w]
    assert "private key members (d, p, q, dp, dq, qi) were dropped" in warning
    assert leaky["d"] not in warning


# --- bounds ------------------------------------------------------------------------------


async def test_ten_thousand_keys_load_one_hundred_and_bounded_metric_series(
    keys: Keys, server: JWKSServer
) -> None:
    entry = public_jwk(keys.rsa, "x")
    document = {"keys": [{**entry, "kid": f"k{i:05d}"} for i in range(10_000)]}
    server.state.raw_body = json.dumps(document).encode()
    assert len(server.state.raw_body) > 1024 * 1024  # the size cap is not what stops it here
    source = RemoteKeySource(jwks_url=server.jwks_url, max_bytes=16 * 1024 * 1024)
    registry = CollectorRegistry()
    app = app_with(Verifier(remote_settings(server), source=source), registry)
    try:
        with capture_logs() as logs:
            await app.startup()
        assert source.keyset is not None
        assert len(source.keyset) == MAX_JWKS_KEYS
        assert source.keyset.kids[0] == "k00000" and source.keyset.kids[-1] == "k00099"
        series = key_info_series(registry)
        assert len(series) == MAX_JWKS_KEYS
        assert registry.get_sample_value("jwt_jwks_keys", {"source": server.jwks_url}) == 100
        skipped = [e for e in logs if e["event"] == "jwt_auth.jwks_key_skipped"]
        assert len(skipped) == 1  # one warning for the 9,900, not 9,900 warnings
        assert skipped[0]["code"] == "too_many_keys"
        assert "9900 entries after the first 100" in skipped[0]["why"]
        # A key beyond the limit is unknown.
        r = await get(app, sign(claims(), keys.rsa, headers={"kid": "k05000"}))
        assert r.json()["reason"] == "unknown_kid"
        r = await get(app, sign(claims(), keys.rsa, headers={"kid": "k00042"}))
        assert r.status_code == 200
    finally:
        await app.shutdown()


async def test_rsa_keys_outside_the_bounds_are_skipped_and_never_labelled(
    keys: Keys, server: JWKSServer
) -> None:
    n2048 = odd_modulus(2048)
    server.state.keys = [
        public_jwk(keys.rsa, "good"),
        rsa_entry(odd_modulus(16384), 65537, "rsa-16384"),
        rsa_entry(odd_modulus(8192), 65537, "rsa-8192"),
        rsa_entry(n2048, (1 << 1500) + 1, "huge-e"),
        rsa_entry(n2048, 2**32 + 1, "e-2^32+1"),
        rsa_entry(n2048, 65536, "even-e"),
        rsa_entry(n2048, 1, "e-1"),
        rsa_entry(n2048, 3, "e-3"),
        rsa_entry(n2048, 2**32 - 1, "e-2^32-1"),
    ]
    registry = CollectorRegistry()
    source = RemoteKeySource(jwks_url=server.jwks_url)
    app = app_with(Verifier(remote_settings(server), source=source), registry)
    try:
        with capture_logs() as logs:
            await app.startup()
        accepted = {"good", "rsa-8192", "e-3", "e-2^32-1"}
        assert source.keyset is not None and set(source.keyset.kids) == accepted
        skipped = {e["kid"]: e for e in logs if e["event"] == "jwt_auth.jwks_key_skipped"}
        assert set(skipped) == {"rsa-16384", "huge-e", "e-2^32+1", "even-e", "e-1"}
        assert {e["code"] for e in skipped.values()} == {"rsa_bounds"}
        assert "16384 bits; at most 8192" in skipped["rsa-16384"]["why"]
        assert "exponent of 1501 bits" in skipped["huge-e"]["why"]
        assert {s["kid"] for s in key_info_series(registry)} == accepted
        r = await get(app, sign(claims(), keys.rsa, headers={"kid": "rsa-16384"}))
        assert r.json()["reason"] == "unknown_kid"
        assert "at most 8192" in r.json()["hint"]
    finally:
        await app.shutdown()


def test_pem_keys_meet_the_same_rsa_bounds(keys: Keys) -> None:
    def pem(n: int, e: int) -> str:
        public = rsa.RSAPublicNumbers(e, n).public_key()
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    with pytest.raises(ConfigurationError, match="16384 bits; at most 8192"):
        load_static_keys(Settings(public_keys=(pem(odd_modulus(16384), 65537),)))
    with pytest.raises(ConfigurationError, match="exponent"):
        load_static_keys(Settings(public_keys=(pem(odd_modulus(2048), (1 << 1500) + 1),)))
    assert len(load_static_keys(Settings(public_keys=(public_pem(keys.rsa),))).keyset) == 1


async def test_hostile_kids_are_skipped_and_never_reach_labels_or_logs(
    keys: Keys, server: JWKSServer
) -> None:
    long_kid = "L" * 5000
    odd_kids = [long_kid, "line\nbreak", "with space", "ключ", "", 42]
    server.state.keys = [public_jwk(keys.rsa, "good")] + [
        {**public_jwk(keys.rsa2, "x"), "kid": kid} for kid in odd_kids
    ]
    registry = CollectorRegistry()
    log = JsonLog()
    app = make_app(remote_settings(server), log, registry=registry)
    try:
        await app.startup()
        r = await get(app, sign(claims(), keys.rsa, headers={"kid": "good"}))
        assert r.status_code == 200
    finally:
        await app.shutdown()
    events = log.events("jwt_auth.jwks_key_skipped")
    assert len(events) == len(odd_kids)
    assert all(e["kid"] is None and e["code"] == "bad_kid" for e in events)
    assert long_kid[:200] not in log.text
    assert "line\\nbreak" not in log.text and "ключ" not in log.text
    assert {s["kid"] for s in key_info_series(registry)} == {"good"}


def test_kid_rules_at_their_limits() -> None:
    n = odd_modulus(2048)
    document = {
        "keys": [
            rsa_entry(n, 65537, "k" * 128),
            rsa_entry(n, 65537, "k" * 129),
            rsa_entry(n, 65537, "!~+/=_-.:"),
        ]
    }
    loaded = load_jwks(document, source="t", published=True)
    assert sorted(k.kid or "" for k in loaded.keys) == sorted(["k" * 128, "!~+/=_-.:"])
    assert [s.code for s in loaded.skipped] == ["bad_kid"]


# --- the total deadline --------------------------------------------------------------------


async def test_a_dripping_source_is_cut_at_the_fetch_deadline_and_rotation_still_works(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    # Per-read timeout 1 s, a byte every 0.25 s: only the total deadline (1.5 s) ends it.
    source = RemoteKeySource(
        jwks_url=server.jwks_url, connect_timeout=0.5, read_timeout=1.0, cooldown=0.0
    )
    assert source.fetch_deadline == 1.5
    verifier = Verifier(remote_settings(server, key_wait_timeout=5.0), source=source)
    h = build_app(None, verifier=verifier)
    new_token = sign(claims(), keys.rsa2, headers={"kid": "k2"})
    try:
        old_token = sign(claims(), keys.rsa, headers={"kid": "k1"})
        assert (await get(h.app, old_token)).status_code == 200
        # The issuer rotates, but the key set now arrives one byte at a time (~900 bytes).
        server.state.keys = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        server.state.drip_interval = 0.25
        started = time.monotonic()
        r = await get(h.app, new_token)
        elapsed = time.monotonic() - started
        assert r.json()["reason"] == "unknown_kid"
        assert elapsed < 4.0, elapsed  # the deadline, not the 5 s key wait
        assert source.last_cause == "timeout"
        assert "1.5 s deadline" in (source.last_error or "")
        # Nothing is left in flight: once the source behaves, the next request gets the key.
        server.state.drip_interval = None
        r = await get(h.app, new_token)
        assert r.status_code == 200, r.text
    finally:
        await h.app.shutdown()


async def test_the_deadline_bounds_each_refresh_of_a_source_that_keeps_dripping(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.drip_interval = 0.1
    source = RemoteKeySource(jwks_url=server.jwks_url, fetch_deadline=0.5, read_timeout=2.0)
    try:
        for _ in range(3):
            started = time.monotonic()
            assert await source.refresh() is False
            assert time.monotonic() - started < 2.0
            assert source.last_cause == "timeout"
        assert source.keyset is None
    finally:
        await source.aclose()


# --- redirects -----------------------------------------------------------------------------


async def test_a_redirect_to_another_origin_is_not_followed(keys: Keys, server: JWKSServer) -> None:
    with JWKSServer() as other:  # another port on 127.0.0.1: another origin
        other.state.keys = [public_jwk(keys.rsa, "k1")]
        server.state.redirect_to = other.jwks_url
        source = RemoteKeySource(jwks_url=server.jwks_url)
        try:
            assert await source.refresh() is False
            assert source.last_cause == "insecure_redirect"
            assert "another origin" in (source.last_error or "")
            assert other.jwks_fetches() == 0  # not even asked
        finally:
            await source.aclose()


async def test_a_redirect_within_the_origin_is_followed(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.redirect_to = "/moved/jwks.json"
    source = RemoteKeySource(jwks_url=server.jwks_url)
    try:
        assert await source.refresh() is True
        assert source.keyset is not None and source.keyset.kids == ["k1"]
        assert server.state.count("/moved/jwks.json") == 1
    finally:
        await source.aclose()


@pytest.mark.parametrize(
    ("current", "target", "refused"),
    [
        ("https://idp.example/jwks", "https://idp.example/keys", None),
        ("https://idp.example/jwks", "https://idp.example:443/keys", None),
        ("https://IDP.example/jwks", "https://idp.example/keys", None),
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b", None),
        ("https://idp.example/jwks", "http://idp.example/jwks", "from https"),
        ("https://idp.example/jwks", "http://idp.example:443/jwks", "from https"),
        ("https://idp.example/jwks", "https://evil.example/jwks", "another origin"),
        ("https://idp.example/jwks", "https://idp.example:8443/jwks", "another origin"),
        ("https://idp.example/jwks", "https://sub.idp.example/jwks", "another origin"),
        ("http://127.0.0.1:8080/a", "https://127.0.0.1:8080/a", "another origin"),
        ("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/a", "another origin"),
        ("https://idp.example/jwks", "file:///etc/passwd", "from https"),
        ("https://idp.example/jwks", "https://idp.example:99999/x", "cannot be parsed"),
    ],
)
def test_redirect_policy(current: str, target: str, refused: str | None) -> None:
    why = redirect_refusal(current, target)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why


# --- HMAC fingerprints ----------------------------------------------------------------------


async def test_hmac_fingerprint_is_derived_not_a_plain_hash_wherever_it_is_shown() -> None:
    settings = Settings(
        secret=HS_SECRET,
        algorithms="HS256",
        issuer=ISSUER,
        audience=AUDIENCE,
        diagnostics="verbose",
    )
    log = JsonLog()
    registry = CollectorRegistry()
    app = make_app(settings, log, registry=registry)
    derived, plain = hmac_fingerprint(HS_SECRET), oct_thumbprint(HS_SECRET)
    assert derived != plain
    r = await get(app, sign(claims(), "another-secret-0123456789-abcdefghijklmnop", "HS256"))
    assert r.json()["reason"] == "signature_invalid"
    metrics = generate_latest(registry).decode()
    for shown in (r.text, metrics, log.text):
        assert derived in shown
        assert plain not in shown
    # The same secret shows the same fingerprint however it is configured.
    entry = {"kty": "oct", "k": base64.urlsafe_b64encode(HS_SECRET.encode()).decode().rstrip("=")}
    (from_jwk,) = load_jwks({"keys": [entry]}, source="file").keys
    assert from_jwk.fingerprint == derived == secret_fingerprint(HS_SECRET.encode())


# --- through a real uvicorn process ------------------------------------------------------


@pytest.fixture
def uvicorn_with_published_oct(
    keys: Keys, server: JWKSServer, tmp_path: Path
) -> Iterator[ServerProcess]:
    server.state.keys = [public_jwk(keys.rsa, "k1"), oct_entry(PUBLISHED_SECRET, "hs-admin")]
    env = child_env(
        JWT_JWKS_URL=server.jwks_url,
        JWT_ALGORITHMS="RS256,HS256",
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
    )
    port = free_port()
    with ServerProcess.start(
        uvicorn_argv("uvicorn_app:app", APPS_DIR, port),
        port=port,
        env=env,
        cwd=REPO_DIR,
        log_path=tmp_path / "uvicorn.log",
        name="uvicorn",
    ) as srv:
        srv.wait_healthy("/healthz", 15.0, probe_timeout=0.5)
        yield srv


def test_forged_admin_token_gets_401_from_a_real_server(
    keys: Keys, uvicorn_with_published_oct: ServerProcess
) -> None:
    srv = uvicorn_with_published_oct
    with srv.client(timeout=5.0) as client:
        forged = forged_admin()
        r = client.get("/admin", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, r.text
        assert r.json()["reason"] == "algorithm_confusion"
        assert "published in a key set anyone can read" in r.json()["hint"]
        admin = sign(claims(scope="admin"), keys.rsa, headers={"kid": "k1"})
        r = client.get("/admin", headers={"Authorization": f"Bearer {admin}"})
        assert r.status_code == 200, r.text
    # The process said so in its log (the library's default structlog output).
    deadline = time.monotonic() + 5
    while "jwks_key_skipped" not in srv.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    output = srv.output()
    assert "jwt_auth.jwks_key_skipped" in output and "hs-admin" in output
    assert b64url(PUBLISHED_SECRET) not in output
