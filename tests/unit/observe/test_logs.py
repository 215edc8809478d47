"""Log events as an application sees them: real JSON lines from a real structlog logger.

Each app gets its own logger, built explicitly with ``structlog.wrap_logger``
around a ``PrintLogger`` writing into a buffer (add_log_level, an ISO
TimeStamper and the JSONRenderer), passed as ``logger=``; no global structlog
configuration is touched. Every failure case of the rejection table (helpers/cases.py),
and the remote-source cases (unknown kid after a refresh, retired_key,
key_source_unavailable), is checked against the README's log reference:
exactly one ``jwt_auth.denied`` line per rejected request with the contract
reason and status, a stable 16-hex-digit token fingerprint, the request id,
and never the token, its signature, an HMAC secret or private key text.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import time
from typing import Any

import pytest
from helpers.apps import remote_settings
from helpers.cases import (
    CASE_IDS,
    CASES,
    CONTRACT,
    Case,
    Ctx,
    Req,
    bearer,
    fake,
    hs_token,
    never_echoed,
)
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, b64url, private_pem, public_pem
from helpers.logs import JsonLog, client, hmac_fingerprint, make_app, oct_thumbprint, rfc7638
from helpers.tokens import claims, sign

from jwt_middleware import Settings

#: Fields the README documents for jwt_auth.denied (``sub`` only with log_subject=True).
DENIED_FIELDS = {
    "reason",
    "status",
    "alg",
    "kid",
    "key_fingerprint",
    "token_fingerprint",
    "iss",
    "aud",
    "path",
    "method",
    "request_id",
    "duration_ms",
    "event",
    "level",
    "timestamp",
}
ACCEPTED_FIELDS = {
    "alg",
    "kid",
    "key_fingerprint",
    "iss",
    "path",
    "method",
    "request_id",
    "duration_ms",
    "event",
    "level",
    "timestamp",
}
#: Reasons decided before a token is extracted: there is no token to fingerprint.
REQUEST_STAGE = {
    "missing_token",
    "invalid_scheme",
    "empty_token",
    "double_bearer",
    "url_encoded_token",
    "quoted_token",
    "whitespace_in_token",
    "multiple_authorization_headers",
    "token_too_large",
    "multiple_tokens",
}
HEX16 = re.compile(r"[0-9a-f]{16}")


# --- a real JSON logger ----------------------------------------------------------


# --- what a log may never hold ----------------------------------------------------


def secret_forms(secret: str | bytes) -> list[str]:
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = [
        raw.decode("utf-8", "replace"),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        b64url(raw),
    ]
    return [f for f in forms if len(f.strip()) >= 6]


def private_key_text(keys: Keys) -> list[str]:
    """Each base64 line of every private key's PEM, and the PEM armour."""
    chunks = ["PRIVATE KEY"]
    for private in (keys.rsa, keys.rsa2, keys.ec256, keys.ec384, keys.ec521, keys.ed):
        chunks.extend(line for line in private_pem(private).splitlines()[1:-1] if len(line) >= 16)
    return chunks


def forbidden(ctx: Ctx, req: Req) -> list[str]:
    found = list(never_echoed(ctx, req))
    found += private_key_text(ctx.keys)
    found += secret_forms(HS_SECRET)
    for secret in req.settings.all_secrets:
        found += secret_forms(secret)
    for token in req.tokens:
        found.append(token)
        signature = token.split(".")[2] if token.count(".") >= 2 else ""
        if len(signature) >= 8:
            found.append(signature)
    return found


def assert_nothing_secret(text: str, needles: list[str]) -> None:
    for needle in needles:
        assert needle not in text, f"a log line holds {needle[:24]!r}..."


def assert_denied(
    line: dict[str, Any],
    reason: str,
    *,
    path: str = "/me",
    request_id: str | None = None,
    with_sub: bool = False,
) -> None:
    status, _error = CONTRACT[reason]
    fields = DENIED_FIELDS | ({"sub"} if with_sub else set())
    assert line["event"] == "jwt_auth.denied"
    assert line["level"] == "warning"
    assert line["reason"] == reason
    assert line["status"] == status
    assert set(line) == fields, set(line) ^ fields
    assert line["path"] == path
    assert line["method"] == "GET"
    assert line["request_id"] == request_id
    assert isinstance(line["duration_ms"], (int, float)) and 0 <= line["duration_ms"] < 5000
    assert isinstance(line["timestamp"], str) and line["timestamp"][:2] == "20"
    fp = line["token_fingerprint"]
    assert fp is None or HEX16.fullmatch(fp), fp
    for name in ("alg", "kid", "iss", "key_fingerprint"):
        assert line[name] is None or isinstance(line[name], str), (name, line[name])


def fingerprint_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


# --- every case of the table --------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_rejection_logs_one_denied_line(case: Case, ctx: Ctx) -> None:
    req = case.make(ctx)
    log = JsonLog()
    app = make_app(req.settings, log)
    log.mark()
    ids = [f"req-{case.id}-1", f"req-{case.id}-2"]
    async with client(app) as c:
        for request_id in ids:
            response = await c.get(req.path, headers=[*req.headers, ("X-Request-ID", request_id)])
            assert response.status_code == CONTRACT[case.reason][0], response.text
    lines = log.new()
    # One line per rejected request, and nothing else on the request path.
    assert [line["event"] for line in lines] == ["jwt_auth.denied"] * 2, lines
    for line, request_id in zip(lines, ids, strict=True):
        assert_denied(line, case.reason, path=req.path, request_id=request_id)
        assert "sub" not in line
    first, second = (line["token_fingerprint"] for line in lines)
    assert first == second, "the same token must have the same fingerprint"
    if case.reason not in REQUEST_STAGE:
        assert first == fingerprint_of(req.tokens[0])
    assert_nothing_secret(log.text, forbidden(ctx, req))


def test_distinct_tokens_get_distinct_fingerprints(ctx: Ctx) -> None:
    tokens = [c.make(ctx).tokens[0] for c in CASES if c.reason not in REQUEST_STAGE]
    fingerprints = {fingerprint_of(t) for t in set(tokens)}
    assert len(fingerprints) == len(set(tokens))


async def test_token_fields_come_from_the_token(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(ctx.ab, log)
    cases = [
        (sign(claims(), ctx.keys.rsa, headers={"kid": "zzz"}), "unknown_kid", "zzz", ISSUER),
        (
            sign(
                claims(iss="https://evil.example.org/", aud=["x", "y"]),
                ctx.keys.rsa2,
                headers={"kid": "b"},
            ),
            "issuer_mismatch",
            "b",
            "https://evil.example.org/",
        ),
    ]
    async with client(app) as c:
        for token, reason, kid, iss in cases:
            log.mark()
            await c.get("/me", headers={"Authorization": f"Bearer {token}"})
            (line,) = log.new()
            assert_denied(line, reason)
            assert (line["alg"], line["kid"], line["iss"]) == ("RS256", kid, iss)
    assert line["aud"] == ["x", "y"]
    assert line["key_fingerprint"] == rfc7638(ctx.keys.rsa2)


async def test_token_supplied_values_are_clipped_in_the_log(ctx: Ctx) -> None:
    """A forged token's kid, alg, iss and aud are bounded and printable in the log line."""
    log = JsonLog()
    app = make_app(ctx.ab, log)
    huge = "K" * 5000
    tokens = [
        fake({"alg": "RS256", "kid": huge + "\x00\x1b[31m"}, claims()),
        fake({"alg": "X" * 3000}, claims()),
        sign(claims(iss="I" * 5000, aud=["A" * 5000] * 50), ctx.keys.rsa, headers={"kid": "a"}),
    ]
    async with client(app) as c:
        for token in tokens:
            await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    for line in log.events("jwt_auth.denied"):
        for name in ("alg", "kid", "iss"):
            value = line[name]
            assert value is None or (len(value) <= 131 and value.isprintable()), (name, value)
        aud = line["aud"]
        if isinstance(aud, list):
            assert len(aud) <= 5 and all(len(a) <= 67 for a in aud)
        assert len(json.dumps(line)) < 2000
    assert "\x1b" not in log.text and "\\u001b" not in log.text


# --- remote key sources ----------------------------------------------------------


def public_material(keys: Keys) -> list[str]:
    """The public numbers of the served keys: key material no event should carry either."""
    found = []
    for private in (keys.rsa, keys.rsa2):
        found.append(public_jwk(private, "x")["n"][:40])
        found.extend(line for line in public_pem(private).splitlines()[1:-1] if len(line) >= 16)
    return found


async def test_remote_unknown_kid_after_refresh(keys: Keys, ctx: Ctx, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    log = JsonLog()
    app = make_app(remote_settings(server), log)
    good = sign(claims(), keys.rsa, headers={"kid": "k1"})
    unknown = sign(claims(), keys.rsa, headers={"kid": "zzz"})
    try:
        async with client(app) as c:
            assert (
                await c.get("/me", headers={"Authorization": f"Bearer {good}"})
            ).status_code == 200
            (changed,) = log.new()
            assert changed["event"] == "jwt_auth.keys_changed"
            assert changed["level"] == "info"
            assert [k["kid"] for k in changed["added"]] == ["k1"]
            assert changed["added"][0]["fingerprint"] == rfc7638(keys.rsa)
            fetches = server.jwks_fetches()
            for request_id in ("r-1", "r-2"):
                r = await c.get(
                    "/me",
                    headers={"Authorization": f"Bearer {unknown}", "X-Request-ID": request_id},
                )
                assert r.status_code == 401 and r.json()["reason"] == "unknown_kid"
        assert server.jwks_fetches() == fetches + 2  # each unknown kid refreshed (cooldown 0)
        lines = log.new()
        assert [line["event"] for line in lines] == ["jwt_auth.denied"] * 2, lines
        for line, request_id in zip(lines, ("r-1", "r-2"), strict=True):
            assert_denied(line, "unknown_kid", request_id=request_id)
            assert line["kid"] == "zzz"
            assert line["token_fingerprint"] == fingerprint_of(unknown)
        needles = [*forbidden(ctx, bearer(ctx.rsa, unknown)), good, *public_material(keys)]
        assert_nothing_secret(log.text, needles)
    finally:
        await app.shutdown()


async def test_remote_retired_key(keys: Keys, ctx: Ctx, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "old")]
    log = JsonLog()
    app = make_app(remote_settings(server), log)
    old = sign(claims(), keys.rsa, headers={"kid": "old"})
    other = sign(claims(), keys.rsa2, headers={"kid": "other"})
    try:
        async with client(app) as c:
            assert (
                await c.get("/me", headers={"Authorization": f"Bearer {old}"})
            ).status_code == 200
            log.mark()
            server.state.keys = [public_jwk(keys.rsa2, "new")]
            r = await c.get("/me", headers={"Authorization": f"Bearer {other}"})
            assert r.json()["reason"] == "unknown_kid"
            lines = log.new()
            assert [line["event"] for line in lines] == ["jwt_auth.keys_changed", "jwt_auth.denied"]
            changed, denied = lines
            assert [k["kid"] for k in changed["added"]] == ["new"]
            assert [k["kid"] for k in changed["removed"]] == ["old"]
            assert changed["removed"][0]["fingerprint"] == rfc7638(keys.rsa)
            assert changed["keys"] == 1
            assert_denied(denied, "unknown_kid")
            r = await c.get("/me", headers={"Authorization": f"Bearer {old}", "X-Request-ID": "rt"})
            assert r.status_code == 401 and r.json()["reason"] == "retired_key"
        (line,) = log.new()
        assert_denied(line, "retired_key", request_id="rt")
        assert line["kid"] == "old"
        assert line["key_fingerprint"] == rfc7638(keys.rsa)
        assert line["token_fingerprint"] == fingerprint_of(old)
        needles = [*forbidden(ctx, bearer(ctx.rsa, old)), other, *public_material(keys)]
        assert_nothing_secret(log.text, needles)
    finally:
        await app.shutdown()


async def test_remote_key_source_unavailable(keys: Keys, ctx: Ctx, server: JWKSServer) -> None:
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.status = 500
    log = JsonLog()
    app = make_app(remote_settings(server, jwks_refresh_cooldown=30.0), log)
    token = sign(claims(), keys.rsa, headers={"kid": "k1"})
    try:
        async with client(app) as c:
            for request_id in ("u-1", "u-2"):
                r = await c.get(
                    "/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
                )
                assert r.status_code == 503 and r.json()["reason"] == "key_source_unavailable"
        lines = log.lines()
        failed = [line for line in lines if line["event"] == "jwt_auth.jwks_refresh_failed"]
        denied = [line for line in lines if line["event"] == "jwt_auth.denied"]
        assert len(lines) == len(failed) + len(denied), lines
        assert len(failed) == server.jwks_fetches() >= 1  # one line per failed fetch
        for line in failed:
            assert line["level"] == "warning"
            assert line["source"] == server.jwks_url
            assert line["cause"] == "http_status"
            assert line["serving_cached"] is False
            assert "500" in line["error"]
        assert len(denied) == 2
        for line, request_id in zip(denied, ("u-1", "u-2"), strict=True):
            assert_denied(line, "key_source_unavailable", request_id=request_id)
            assert line["token_fingerprint"] == fingerprint_of(token)
        assert_nothing_secret(log.text, forbidden(ctx, bearer(ctx.rsa, token)))
    finally:
        await app.shutdown()


async def test_key_source_unavailable_line_carries_the_tokens_iss_and_aud(
    keys: Keys, server: JWKSServer
) -> None:
    """The token was parsed (its kid is logged), so its unverified iss and aud belong in the
    line as for every other post-parse rejection (README: alg, kid, iss, aud come from the
    token)."""
    server.state.keys = [public_jwk(keys.rsa, "k1")]
    server.state.status = 500
    log = JsonLog()
    app = make_app(remote_settings(server, jwks_refresh_cooldown=30.0), log)
    token = sign(claims(aud=["orders-api", "other"]), keys.rsa, headers={"kid": "k1"})
    try:
        async with client(app) as c:
            r = await c.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 503
    finally:
        await app.shutdown()
    (line,) = log.events("jwt_auth.denied")
    assert (line["alg"], line["kid"]) == ("RS256", "k1")
    assert (line["iss"], line["aud"]) == (ISSUER, ["orders-api", "other"]), line


# --- request id ---------------------------------------------------------------------


async def test_request_id_is_logged_and_clipped(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(ctx.rsa, log)
    huge = "r" * 20000
    async with client(app) as c:
        await c.get("/me", headers={"X-Request-ID": "abc-123"})
        await c.get("/me", headers={"X-Request-ID": huge})
        await c.get("/me", headers={"X-Request-ID": "tab\there\x7fdel"})
        await c.get("/me")
    small, big, odd, none = log.events("jwt_auth.denied")
    assert small["request_id"] == "abc-123"
    assert big["request_id"].startswith("rrrr")
    assert len(big["request_id"]) <= 131, len(big["request_id"])
    assert huge not in log.text
    assert odd["request_id"].isprintable() and odd["request_id"].startswith("tab")
    assert none["request_id"] is None


async def test_path_is_logged_clipped_and_printable(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(ctx.rsa, log)
    huge = "/me/" + "p" * 60_000  # httpx refuses URLs over 64 KiB
    async with client(app) as c:
        await c.get("/me/plain")
        await c.get(huge)
        await c.get("/me/line%0Abreak%0D%1B[31m")  # decoded by the server: a newline, ESC
    plain, big, odd = log.events("jwt_auth.denied")
    assert plain["path"] == "/me/plain"
    assert big["path"].startswith("/me/ppp") and len(big["path"]) <= 259
    assert "p" * 1000 not in log.text
    assert odd["path"].isprintable() and odd["path"].startswith("/me/line")


async def test_request_id_header_is_configurable(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(dataclasses.replace(ctx.rsa, request_id_header="X-Correlation-ID"), log)
    async with client(app) as c:
        await c.get("/me", headers={"X-Correlation-ID": "corr-1", "X-Request-ID": "ignored"})
    (line,) = log.events("jwt_auth.denied")
    assert line["request_id"] == "corr-1"


# --- sub ------------------------------------------------------------------------------


SUBJECT_CASES = ["token_expired", "audience_mismatch_string", "signature_invalid_other_key"]


@pytest.mark.parametrize("case_id", SUBJECT_CASES)
async def test_sub_only_with_log_subject(case_id: str, ctx: Ctx) -> None:
    (case,) = [c for c in CASES if c.id == case_id]
    req = case.make(ctx)
    for log_subject in (False, True):
        log = JsonLog()
        app = make_app(dataclasses.replace(req.settings, log_subject=log_subject), log)
        async with client(app) as c:
            await c.get(req.path, headers=req.headers)
        (line,) = log.events("jwt_auth.denied")
        assert_denied(line, case.reason, path=req.path, with_sub=log_subject)
        if log_subject:
            assert line["sub"] == "user-1"
        else:
            assert "sub" not in line
            assert "user-1" not in log.text


async def test_long_subject_is_clipped(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(dataclasses.replace(ctx.rsa, log_subject=True), log)
    token = sign(claims(sub="s" * 4000, aud="other"), ctx.keys.rsa)
    async with client(app) as c:
        await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    (line,) = log.events("jwt_auth.denied")
    assert line["sub"].startswith("sss") and len(line["sub"]) <= 131


async def test_insufficient_scope_line_names_the_verified_token(ctx: Ctx) -> None:
    """insufficient_scope is the one rejection of a *verified* token: its line should carry
    the token's iss and aud like every other post-parse rejection, and ``sub`` with
    log_subject=True (who was refused is the point of logging it)."""
    log = JsonLog()
    app = make_app(dataclasses.replace(ctx.rsa, log_subject=True), log)
    async with client(app) as c:
        r = await c.get("/admin", headers={"Authorization": f"Bearer {ctx.good()}"})
        assert r.status_code == 403
    (line,) = log.events("jwt_auth.denied")
    assert_denied(line, "insufficient_scope", path="/admin", with_sub=True)
    assert line.get("sub") == "user-1", line
    assert (line["iss"], line["aud"]) == (ISSUER, AUDIENCE), line


# --- accepted requests -----------------------------------------------------------------


async def test_accepted_requests_log_nothing_by_default(ctx: Ctx) -> None:
    log = JsonLog()
    app = make_app(ctx.rsa, log)
    log.mark()
    async with client(app) as c:
        for _ in range(3):
            r = await c.get("/me", headers={"Authorization": f"Bearer {ctx.good()}"})
            assert r.status_code == 200
        assert (await c.get("/public")).status_code == 200
    assert log.new() == []


@pytest.mark.parametrize("log_subject", [False, True])
async def test_log_accepted_emits_one_debug_line(ctx: Ctx, log_subject: bool) -> None:
    log = JsonLog()
    settings = dataclasses.replace(ctx.ab, log_accepted=True, log_subject=log_subject)
    app = make_app(settings, log)
    log.mark()
    token = sign(claims(), ctx.keys.rsa, headers={"kid": "a"})
    async with client(app) as c:
        r = await c.get("/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "ok-1"})
        assert r.status_code == 200
        assert (
            await c.get("/public", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
    (line,) = log.new()
    assert line["event"] == "jwt_auth.accepted"
    assert line["level"] == "debug"
    expected_fields = ACCEPTED_FIELDS | ({"sub"} if log_subject else set())
    assert set(line) == expected_fields, set(line) ^ expected_fields
    assert (line["alg"], line["kid"], line["iss"]) == ("RS256", "a", ISSUER)
    assert line["key_fingerprint"] == rfc7638(ctx.keys.rsa)
    assert (line["path"], line["method"], line["request_id"]) == ("/me", "GET", "ok-1")
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    if log_subject:
        assert line["sub"] == "user-1"
    assert_nothing_secret(log.text, forbidden(ctx, bearer(ctx.ab, token)))


async def test_accepted_line_absent_claims_are_null_not_the_string_none(ctx: Ctx) -> None:
    """A token without iss (no issuer configured) or sub logs null, not the text "None"."""
    log = JsonLog()
    settings = Settings(
        public_keys=(public_pem(ctx.keys.rsa),),
        audience=AUDIENCE,
        log_accepted=True,
        log_subject=True,
    )
    app = make_app(settings, log)
    token = sign(claims(iss=None, sub=None), ctx.keys.rsa)
    async with client(app) as c:
        assert (await c.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    (line,) = log.events("jwt_auth.accepted")
    assert line["iss"] is None, line
    assert line["sub"] is None, line


# --- startup events -------------------------------------------------------------------


def test_keys_loaded_lists_kids_and_fingerprints_never_key_material(ctx: Ctx) -> None:
    log = JsonLog()
    make_app(ctx.ab, log)
    (line,) = log.events("jwt_auth.keys_loaded")
    assert line["level"] == "info"
    assert line["source"] == "static"
    assert line["skipped"] == []
    by_kid = {k["kid"]: k for k in line["keys"]}
    assert set(by_kid) == {"a", "b"}
    assert by_kid["a"]["fingerprint"] == rfc7638(ctx.keys.rsa)
    assert by_kid["b"]["fingerprint"] == rfc7638(ctx.keys.rsa2)
    for key in line["keys"]:
        assert set(key) == {"kid", "kty", "algorithms", "fingerprint", "source"}
        assert key["kty"] == "RSA"
    assert_nothing_secret(log.text, private_key_text(ctx.keys) + public_material(ctx.keys))


def test_keys_loaded_for_pem_and_secret(ctx: Ctx) -> None:
    log = JsonLog()
    settings = Settings(
        public_keys=(public_pem(ctx.keys.rsa), public_pem(ctx.keys.ec256)),
        secret=HS_SECRET,
        algorithms=("RS256", "ES256", "HS256"),
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    make_app(settings, log)
    (line,) = log.events("jwt_auth.keys_loaded")
    fingerprints = {k["kty"]: k["fingerprint"] for k in line["keys"]}
    assert fingerprints == {
        "RSA": rfc7638(ctx.keys.rsa),
        "EC": rfc7638(ctx.keys.ec256),
        "oct": hmac_fingerprint(HS_SECRET),
    }
    # The plain SHA-256 thumbprint of the secret would let a reader test guesses offline.
    assert oct_thumbprint(HS_SECRET) not in log.text
    assert_nothing_secret(
        log.text, secret_forms(HS_SECRET) + private_key_text(ctx.keys) + public_material(ctx.keys)
    )


WEAK_SECRETS = [
    ("your-256-bit-secret", ("well-known", "shorter")),
    ("ChangeMe", ("well-known",)),
    ("q7Zr#k2-short", ("13 bytes", "shorter")),
    ("Zx9" + "p" * 40 + "Q", ("shorter than the 48 bytes HS384",)),
]


@pytest.mark.parametrize(("secret", "says"), WEAK_SECRETS, ids=[s for s, _ in WEAK_SECRETS])
def test_weak_secret_warning_never_holds_the_secret(secret: str, says: tuple[str, ...]) -> None:
    log = JsonLog()
    settings = Settings(
        secret=secret, algorithms=("HS256", "HS384"), issuer=ISSUER, audience=AUDIENCE
    )
    make_app(settings, log)
    warnings = log.events("jwt_auth.config_warning")
    assert warnings, log.text
    messages = " ".join(w["message"] for w in warnings)
    for part in says:
        assert part in messages, messages
    for line in warnings:
        assert line["level"] == "warning"
        assert set(line) == {"message", "event", "level", "timestamp"}
    assert_nothing_secret(log.text, secret_forms(secret) + secret_forms(secret.lower()))


def test_other_config_warnings(ctx: Ctx) -> None:
    log = JsonLog()
    settings = Settings(
        public_keys=(public_pem(ctx.keys.rsa),), algorithms=("RS256", "HS256"), issuer=ISSUER
    )
    make_app(settings, log)
    messages = [w["message"] for w in log.events("jwt_auth.config_warning")]
    assert any("algorithm_confusion" in m for m in messages), messages
    assert any("no audience" in m for m in messages), messages
    assert_nothing_secret(log.text, private_key_text(ctx.keys))


async def test_hmac_rejections_never_log_the_secret(ctx: Ctx) -> None:
    """Every HMAC failure path (variants probed, wrong secret, claims) keeps the secret out."""
    log = JsonLog()
    app = make_app(ctx.hs(HS_SECRET), log)
    now = int(time.time())
    tokens = [
        hs_token(claims(), b"wrong-secret-0123456789-0123456789"),
        hs_token(claims(), HS_SECRET.encode() + b"\n"),
        hs_token(claims(exp=now - 3600, iat=None, nbf=None), HS_SECRET.encode()),
        hs_token(claims(), HS_SECRET.encode(), alg="HS512"),
    ]
    async with client(app) as c:
        for token in tokens:
            await c.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert len(log.events("jwt_auth.denied")) == len(tokens)
    needles = secret_forms(HS_SECRET) + [t.split(".")[2] for t in tokens] + tokens
    assert_nothing_secret(log.text, needles)
