"""Remote key source against a real JWKS server on 127.0.0.1: rotation, cooldown,
single-flight, stale-if-error, timeouts, garbage, discovery."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from helpers.apps import Harness, build_app
from helpers.apps import remote_settings as jwks_settings
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, ISSUER, Keys
from helpers.tokens import claims, sign

from jwt_middleware import ConfigurationError, Settings, Verifier
from jwt_middleware.keys.remote import KeyHistory, RemoteKeySource, ttl_from_headers


def remote_settings(server: JWKSServer, **overrides: Any) -> Settings:
    """helpers.apps.remote_settings, with a 30 s refresh cooldown unless ``overrides``
    say otherwise."""
    return jwks_settings(server, **{"jwks_refresh_cooldown": 30.0, **overrides})


async def get(h: Harness, token: str | None, path: str = "/me") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with h.client() as client:
        return await client.get(path, headers=headers)


async def test_rotation_new_kid_then_retired_key(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "old")]
    h = build_app(remote_settings(server, jwks_refresh_cooldown=0.0))
    old_token = sign(claims(), keys.rsa, headers={"kid": "old"})
    try:
        assert (await get(h, old_token)).status_code == 200
        assert server.jwks_fetches() == 1

        # The issuer publishes a new key and starts signing with it.
        server.state.keys = [public_jwk(keys.rsa, "old"), public_jwk(keys.rsa2, "new")]
        new_token = sign(claims(), keys.rsa2, headers={"kid": "new"})
        assert (await get(h, new_token)).status_code == 200
        assert server.jwks_fetches() == 2

        # The old key leaves the set; a refresh (here: another unknown kid) notices.
        server.state.keys = [public_jwk(keys.rsa2, "new")]
        r = await get(h, sign(claims(), keys.rsa2, headers={"kid": "other"}))
        assert r.json()["reason"] == "unknown_kid"
        r = await get(h, old_token)
        assert r.status_code == 401
        body = r.json()
        assert body["reason"] == "retired_key"
        assert "left the key set" in body["detail"]
        assert 'error_description="retired_key"' in r.headers["www-authenticate"]
        # A token naming the retired kid but signed by another key is no retired_key.
        forged = sign(claims(), keys.rsa2, headers={"kid": "old"})
        assert (await get(h, forged)).json()["reason"] == "signature_invalid"
        assert h.calls == ["/me", "/me"]
    finally:
        await h.app.shutdown()


async def test_random_kid_flood_causes_at_most_one_fetch_per_cooldown(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    h = build_app(remote_settings(server, jwks_refresh_cooldown=60.0))
    try:
        assert (await get(h, sign(claims(), keys.rsa, headers={"kid": "k1"}))).status_code == 200
        before = server.jwks_fetches()
        async with h.client() as client:
            for _ in range(300):
                token = sign(claims(), keys.rsa, headers={"kid": secrets.token_hex(8)})
                r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
                assert r.json()["reason"] == "unknown_kid"
        # The first fetch was within the cooldown: the flood caused no fetch at all.
        assert server.jwks_fetches() - before == 0
    finally:
        await h.app.shutdown()


async def test_flood_after_cooldown_fetches_once(keys: Keys, server: JWKSServer) -> None:
    cooldown = 0.3
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    h = build_app(remote_settings(server, jwks_refresh_cooldown=cooldown))
    # Signed beforehand: signing 200 tokens can itself outlast the cooldown on a busy machine.
    tokens = [sign(claims(), keys.rsa, headers={"kid": secrets.token_hex(8)}) for _ in range(200)]
    try:
        await h.app.startup()
        assert server.jwks_fetches() == 1
        await asyncio.sleep(cooldown + 0.05)
        async with h.client() as client:
            started = time.monotonic()
            for token in tokens:
                await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            flood = time.monotonic() - started
        # One refresh for the flood, and at most one more per cooldown the flood itself
        # lasted (none on a quiet machine, where it takes a fraction of the cooldown).
        assert 2 <= server.jwks_fetches() <= 2 + int(flood / cooldown)
    finally:
        await h.app.shutdown()


async def test_cold_start_1000_concurrent_requests_share_one_fetch(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.delay = 0.3  # keep the fetch in flight while requests pile up
    # A generous wait: this is about one shared fetch, and 1000 requests on a busy
    # machine can take longer than the default 5 s to reach the fetch's end.
    h = build_app(remote_settings(server, key_wait_timeout=60.0))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        async with h.client() as client:
            responses = await asyncio.gather(
                *(
                    client.get("/me", headers={"Authorization": f"Bearer {token}"})
                    for _ in range(1000)
                )
            )
        assert {r.status_code for r in responses} == {200}
        assert server.jwks_fetches() == 1
    finally:
        await h.app.shutdown()


async def test_source_down_at_start_then_recovers_without_restart(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.status = 500
    h = build_app(remote_settings(server, jwks_refresh_cooldown=0.2))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        r = await get(h, token)
        assert r.status_code == 503
        assert r.json()["reason"] == "key_source_unavailable"
        assert int(r.headers["retry-after"]) >= 1
        assert "www-authenticate" not in r.headers
        assert "http_status" in r.json()["detail"]
        assert h.calls == []

        server.state.status = 200
        await asyncio.sleep(0.25)
        r = await get(h, token)
        assert r.status_code == 200, r.text
    finally:
        await h.app.shutdown()


async def test_source_failing_after_good_fetch_serves_cached_keys_within_staleness(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    now = [time.time()]
    source = RemoteKeySource(
        jwks_url=server.jwks_url, min_ttl=60, default_ttl=60, max_stale=600, clock=lambda: now[0]
    )
    settings = remote_settings(server)
    h = build_app(None, verifier=Verifier(settings, source=source))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        assert (await get(h, token)).status_code == 200
        server.state.status = 503
        now[0] += 120  # cache expired; refresh fails
        assert await source.refresh() is False
        assert source.last_cause == "http_status"
        assert (await get(h, token)).status_code == 200  # stale-if-error
        now[0] += 900  # beyond expiry (max-age=300) + max_stale (600)
        r = await get(h, token)
        assert r.status_code == 503
        assert r.json()["reason"] == "key_source_unavailable"
    finally:
        await h.app.shutdown()


async def test_slow_source_times_out_within_the_wait_budget(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.delay = 3.0
    h = build_app(remote_settings(server, jwks_read_timeout=0.3, key_wait_timeout=1.0))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        started = time.monotonic()
        r = await get(h, token)
        elapsed = time.monotonic() - started
        assert r.status_code == 503
        assert elapsed < 2.5, elapsed
    finally:
        await h.app.shutdown()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"<html>not json</html>", "not_json"),
        (b'{"keys": "nope"}', "not_jwks"),
        (b'{"keys": [{"kty": "RSA", "kid": "x"}]}', "no_usable_keys"),
        (b'{"keys": []}' + b" " * 5000, "too_large"),
        (b"[1, 2, 3]", "not_json"),
    ],
)
async def test_garbage_and_oversized_bodies(
    keys: Keys, server: JWKSServer, body: bytes, cause: str
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    now = [time.time()]
    source = RemoteKeySource(jwks_url=server.jwks_url, max_bytes=4096, clock=lambda: now[0])
    h = build_app(None, verifier=Verifier(remote_settings(server), source=source))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        assert (await get(h, token)).status_code == 200
        server.state.raw_body = body
        now[0] += 3600
        assert await source.refresh() is False
        assert source.last_cause == cause
        assert (await get(h, token)).status_code == 200  # the good set is kept
    finally:
        await h.app.shutdown()


async def test_unusable_jwks_entries_are_skipped_not_fatal(keys: Keys, server: JWKSServer) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point of the test
    server.state.keys = [
        {"kty": "XYZ", "kid": "strange"},
        {"kty": "RSA", "kid": "no-e", "n": "AQAB"},
        {**public_jwk(keys.rsa2, "enc"), "use": "enc"},
        public_jwk(weak, "weak"),
        public_jwk(keys.rsa, "good"),
    ]
    source = RemoteKeySource(jwks_url=server.jwks_url)
    try:
        assert await source.refresh()
        assert source.keyset is not None
        assert source.keyset.kids == ["good"]
    finally:
        await source.aclose()


async def test_discovery_document_is_followed(keys: Keys, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.issuer = ISSUER
    h = build_app(remote_settings(server, jwks_url=None, discovery_url=server.discovery_url))
    try:
        r = await get(h, sign(claims(), keys.rsa, headers={"kid": "k1"}))
        assert r.status_code == 200
        assert server.state.count("/.well-known/openid-configuration") == 1
    finally:
        await h.app.shutdown()


async def test_discovery_with_another_issuer_is_a_startup_error(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.issuer = ISSUER.rstrip("/")  # the classic trailing-slash difference
    h = build_app(remote_settings(server, jwks_url=None, discovery_url=server.discovery_url))
    try:
        with pytest.raises(ConfigurationError, match="issuer"):
            await h.app.startup()
    finally:
        await h.app.shutdown()


def test_plain_http_is_refused_except_on_loopback() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        RemoteKeySource(jwks_url="http://issuer.example.com/jwks.json")
    RemoteKeySource(jwks_url="http://127.0.0.1:9/jwks.json")
    RemoteKeySource(jwks_url="http://issuer.example.com/jwks.json", allow_http=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600),
        ("public, max-age=5", 60),  # clamped to min
        ("max-age=999999999", 86400),  # clamped to max
        ("no-store", 60),
        (None, 300),
    ],
)
def test_ttl_from_cache_control(header: str | None, expected: float) -> None:
    headers = httpx.Headers({"cache-control": header} if header else {})
    assert ttl_from_headers(headers, 300, 60, 86400) == expected


def test_key_history_is_bounded_in_count_and_age(keys: Keys) -> None:
    from jwt_middleware.keys import import_jwk

    history = KeyHistory(max_keys=2, max_age=100)
    made = [import_jwk(public_jwk(keys.rsa, f"k{i}"), source="t") for i in range(3)]
    history.record(made, now=1000)
    assert len(history) == 2
    assert history.get("k0", 1000) is None
    assert history.get("k2", 1050) is not None
    assert history.get("k2", 1101) is None


async def test_background_refresh_picks_up_new_keys_before_expiry(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.cache_control = "max-age=1"
    source = RemoteKeySource(jwks_url=server.jwks_url, min_ttl=1, default_ttl=1, cooldown=60)
    try:
        await source.start()
        server.state.keys = [public_jwk(keys.rsa, "k1"), public_jwk(keys.rsa2, "k2")]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if source.keyset is not None and "k2" in source.keyset.by_kid:
                break
            await asyncio.sleep(0.05)
        assert source.keyset is not None and "k2" in source.keyset.by_kid
    finally:
        await source.aclose()


def test_jwks_document_is_json_for_the_server(server: JWKSServer, keys: Keys) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    document = json.loads(httpx.get(server.jwks_url).content)
    assert document["keys"][0]["kid"] == "k1"


async def test_two_issuers_side_by_side_each_with_its_own_keys(keys: Keys) -> None:
    from jwt_middleware.keys.remote import RemoteKeySource as Source
    from jwt_middleware.tokens.issuers import MultiIssuerVerifier

    with JWKSServer() as corp, JWKSServer() as partner:
        corp.state.keys = [public_jwk(keys.rsa, "corp-1")]
        partner.state.keys = [public_jwk(keys.ec256, "partner-1")]
        corp_iss, partner_iss = "https://login.corp.example/", "https://id.partner.example"
        verifiers = [
            Verifier(
                Settings(jwks_url=corp.jwks_url, issuer=corp_iss, audience="orders-api"),
                source=Source(jwks_url=corp.jwks_url),
            ),
            Verifier(
                Settings(
                    jwks_url=partner.jwks_url,
                    issuer=partner_iss,
                    audience="partner-orders",
                    algorithms="ES256",
                ),
                source=Source(jwks_url=partner.jwks_url),
            ),
        ]
        h = build_app(None, verifier=MultiIssuerVerifier(verifiers))
        try:
            corp_token = sign(
                claims(iss=corp_iss, aud="orders-api"), keys.rsa, headers={"kid": "corp-1"}
            )
            partner_token = sign(
                claims(iss=partner_iss, aud="partner-orders"),
                keys.ec256,
                "ES256",
                headers={"kid": "partner-1"},
            )
            assert (await get(h, corp_token)).status_code == 200
            assert (await get(h, partner_token)).status_code == 200
            assert corp.jwks_fetches() == 1 and partner.jwks_fetches() == 1

            # A corp-signed token claiming the partner issuer is checked with the partner's
            # keys only: the partner set has no such kid.
            crossed = sign(
                claims(iss=partner_iss, aud="partner-orders"),
                keys.rsa,
                "RS256",
                headers={"kid": "corp-1"},
            )
            assert (await get(h, crossed)).json()["reason"] == "algorithm_not_allowed"
            crossed_es = sign(
                claims(iss=partner_iss, aud="partner-orders"),
                keys.ec256,
                "ES256",
                headers={"kid": "corp-1"},
            )
            assert (await get(h, crossed_es)).json()["reason"] == "unknown_kid"
            # Each issuer keeps its own audience.
            wrong_aud = sign(
                claims(iss=partner_iss, aud="orders-api"),
                keys.ec256,
                "ES256",
                headers={"kid": "partner-1"},
            )
            assert (await get(h, wrong_aud)).json()["reason"] == "audience_mismatch"
            # An unconfigured issuer: issuer_mismatch naming the near miss (verbose hint).
            slash = sign(claims(iss=corp_iss.rstrip("/")), keys.rsa, headers={"kid": "corp-1"})
            r = await get(h, slash)
            assert r.status_code == 401
            assert r.json()["reason"] == "issuer_mismatch"
            assert "nearly matches" in r.json()["hint"]
            # Structure and header problems come before routing.
            none = sign(claims(iss=corp_iss), None, "none")
            assert (await get(h, none)).json()["reason"] == "unsigned_token"
            assert h.calls == ["/me", "/me"]
        finally:
            await h.app.shutdown()


async def test_discovery_issuer_is_expected_when_none_is_configured(
    keys: Keys, server: JWKSServer
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.issuer = ISSUER
    settings = remote_settings(server, jwks_url=None, discovery_url=server.discovery_url)
    settings = Settings(
        discovery_url=settings.discovery_url, audience=AUDIENCE, key_wait_timeout=2.0
    )
    h = build_app(settings)
    try:
        assert (await get(h, sign(claims(), keys.rsa, headers={"kid": "k1"}))).status_code == 200
        other = sign(claims(iss="https://evil.example/"), keys.rsa, headers={"kid": "k1"})
        assert (await get(h, other)).json()["reason"] == "issuer_mismatch"
        missing = sign(claims(iss=None), keys.rsa, headers={"kid": "k1"})
        assert (await get(h, missing)).json()["reason"] == "missing_claim"
    finally:
        await h.app.shutdown()


@pytest.mark.parametrize(
    ("location", "cause"),
    [
        ("http://jwks.invalid/jwks.json", "insecure_redirect"),  # refused before connecting
        ("/jwks.json", "redirects"),  # a loop: stopped by the redirect limit
    ],
)
async def test_redirects_are_checked_and_limited(
    keys: Keys, server: JWKSServer, location: str, cause: str
) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.redirect_to = location
    source = RemoteKeySource(jwks_url=server.jwks_url)
    try:
        assert await source.refresh() is False
        assert source.last_cause == cause
        assert source.keyset is None
    finally:
        await source.aclose()


async def test_unexpected_errors_are_failed_fetches_not_failed_requests(
    keys: Keys, server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jwt_middleware.keys.remote as remote_module

    server.state.keys = [public_jwk(keys.rsa, "k1")]
    h = build_app(remote_settings(server))
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(remote_module, "load_jwks", broken)
    try:
        r = await get(h, token)
        assert r.status_code == 503
        assert r.json()["reason"] == "key_source_unavailable"
    finally:
        await h.app.shutdown()


async def test_key_changes_are_logged_with_kids_and_fingerprints(
    keys: Keys, server: JWKSServer
) -> None:
    from structlog.testing import capture_logs

    server.state.keys = [public_jwk(keys.rsa, "old")]
    source = RemoteKeySource(jwks_url=server.jwks_url)
    try:
        with capture_logs() as logs:
            assert await source.refresh()
            server.state.keys = [public_jwk(keys.rsa2, "new"), {"kty": "XYZ", "kid": "odd"}]
            assert await source.refresh()
        changes = [e for e in logs if e["event"] == "jwt_auth.keys_changed"]
        assert [[k["kid"] for k in e["added"]] for e in changes] == [["old"], ["new"]]
        assert [[k["kid"] for k in e["removed"]] for e in changes] == [[], ["old"]]
        assert all(len(k["fingerprint"]) == 43 for e in changes for k in e["added"])
        skipped = [e for e in logs if e["event"] == "jwt_auth.jwks_key_skipped"]
        assert skipped and skipped[0]["kid"] == "odd" and "kty" in skipped[0]["why"]
    finally:
        await source.aclose()


async def test_clock_offset_from_discovery_and_jwks(keys: Keys, server: JWKSServer) -> None:
    """Both documents' Date headers feed one estimate; a stepped clock restarts it."""
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.date_skew = 300.0
    source = RemoteKeySource(discovery_url=server.discovery_url)
    try:
        assert source.clock_offset is None
        assert await source.refresh()
        assert len(source.issuer_clock) == 2  # the discovery document and the JWKS
        measured = source.clock_offset
        assert measured is not None and abs(measured.offset - 300.0) <= measured.error
        # The issuer's clock is fixed: the next samples contradict the old ones.
        server.state.date_skew = 0.0
        assert await source.refresh()
        measured = source.clock_offset
        assert measured is not None and abs(measured.offset) <= measured.error
        assert len(source.issuer_clock) == 2
        # A failed fetch adds nothing and keeps the estimate.
        server.state.status = 500
        assert not await source.refresh()
        assert source.clock_offset == measured
    finally:
        await source.aclose()


def test_a_fetch_span_shows_the_url_without_its_credentials() -> None:
    from helpers.otel import Telemetry
    from opentelemetry.trace import StatusCode

    from jwt_middleware.keys.fetch import FetchError
    from jwt_middleware.keys.remote import fetch_span
    from jwt_middleware.observe.otel import OTelSpans

    telemetry = Telemetry()
    spans = OTelSpans(telemetry.tracer_provider.get_tracer("test"))
    url = "https://reader:s3cret-pass@keys.example.com/jwks.json"
    with fetch_span(spans, "jwks", url):
        pass
    with pytest.raises(FetchError), fetch_span(spans, "discovery", url):
        raise FetchError("timeout", "no answer within 5 s")
    ok, failed = telemetry.spans("jwt_middleware.fetch_keys")
    for span in (ok, failed):
        attributes = dict(span.attributes or {})
        assert attributes["url.full"] == "https://keys.example.com/jwks.json"
        assert "s3cret" not in str(attributes)
    assert failed.status.status_code == StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "timeout"
