"""Security Event Tokens pushed to a fleet (RFC 8935, CONTRACT section 9), through real uvicorn.

Two instances of tests/apps/uvicorn_app.py share a real redis-server on 127.0.0.1 as
the revocation list and serve the receiver at JWT_SSF_PATH. The transmitter's keys
(an EC and an RSA key of the tests' own) are served by a real JWKS server on
127.0.0.1 (tests/helpers/jwks_server.py).

- Each honoured event type, in the shapes of RFC 8417, RISC, CAEP and Keycloak's
  SSF transmitter (tests/helpers/sets.py), pushed to instance A, answers 202 and
  refuses on A and on B the tokens it names, cached ones included; pushed again to
  B it is a duplicate, 202.
- Bad events get RFC 8935's JSON error (400) from either instance, and revoke
  nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers import sets
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER, Keys, public_pem
from helpers.procs import APPS_DIR, REPO_DIR, ServerProcess, child_env, free_port, uvicorn_argv
from helpers.redis_server import RedisServer
from helpers.tokens import claims, sign

pytest.importorskip("redis", reason="the dpop-redis extra (redis-py) is not installed")

STARTUP_TIMEOUT = 20.0
MEDIA = {"content-type": "application/secevent+jwt"}


class Transmitter:
    """The transmitter's two signing keys, and the JWKS server publishing them."""

    def __init__(self, server: JWKSServer) -> None:
        self.server = server
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa = rsa.generate_private_key(65537, 2048)
        server.state.keys = [
            public_jwk(self.ec, "transmitter-es", "ES256"),
            public_jwk(self.rsa, "transmitter-rs", "RS256"),
        ]

    def sign(self, claims: dict[str, Any], *, keycloak: bool = False, **options: Any) -> str:
        if keycloak:  # Keycloak signs with the realm's RS256 key
            return sets.sign_set(claims, self.rsa, "RS256", kid="transmitter-rs", **options)
        return sets.sign_set(claims, self.ec, "ES256", kid="transmitter-es", **options)


@pytest.fixture(scope="module")
def fleet(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Transmitter, ServerProcess, ServerProcess]]:
    tmp: Path = tmp_path_factory.mktemp("revocation-events")
    pem = tmp / "public.pem"
    pem.write_text(public_pem(keys.rsa))
    with ExitStack() as stack:
        jwks = stack.enter_context(JWKSServer())
        transmitter = Transmitter(jwks)
        redis_server = stack.enter_context(RedisServer.start(tmp))
        variables = child_env(
            JWT_PUBLIC_KEY_FILE=str(pem),
            JWT_ISSUER=ISSUER,
            JWT_AUDIENCE=AUDIENCE,
            JWT_REVOCATION_REDIS_URL=redis_server.url,
            JWT_SSF_PATH=sets.SSF_PATH,
            JWT_SSF_ISSUER=sets.TRANSMITTER,
            JWT_SSF_AUDIENCE=sets.RECEIVER_AUDIENCE,
            JWT_SSF_JWKS_URL=jwks.jwks_url,
        )
        instances = []
        for index in range(2):
            port = free_port()
            instances.append(
                stack.enter_context(
                    ServerProcess.start(
                        uvicorn_argv("uvicorn_app:app", APPS_DIR, port),
                        port=port,
                        env=variables,
                        cwd=REPO_DIR,
                        log_path=tmp / f"instance-{index}.log",
                        name=f"instance-{'AB'[index]}",
                    )
                )
            )
        for instance in instances:
            instance.wait_healthy("/healthz", STARTUP_TIMEOUT, probe_timeout=0.5)
        yield transmitter, instances[0], instances[1]


def get_me(server: ServerProcess, token: str) -> httpx.Response:
    with server.client(timeout=5.0) as c:
        return c.get("/me", headers={"Authorization": f"Bearer {token}"})


def push(
    server: ServerProcess, body: str | bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    with server.client(timeout=10.0) as c:
        return c.post(sets.SSF_PATH, content=body, headers=headers or MEDIA)


#: shape -> (the SET's claims for a sub and a sid, signed as Keycloak does, session only)
SHAPES: dict[str, tuple[Any, bool, bool]] = {
    "RFC 8417 RISC account-disabled": (lambda u, s: sets.rfc8417_risc(u), False, False),
    "RISC account-purged": (
        lambda u, s: sets.risc_legacy(sets.ACCOUNT_PURGED, u),
        False,
        False,
    ),
    "RISC sessions-revoked (SSF)": (
        lambda u, s: sets.risc_ssf(sets.SESSIONS_REVOKED, u),
        False,
        False,
    ),
    "CAEP session-revoked": (lambda u, s: sets.caep_session_complex(u, s), False, True),
    "CAEP credential-change": (lambda u, s: sets.caep_credential_change(u), False, False),
    "Keycloak logout": (lambda u, s: sets.keycloak_logout(u, s), True, True),
    "Keycloak logout of all sessions": (lambda u, s: sets.keycloak_logout_all(u), True, False),
    "Keycloak credential change": (lambda u, s: sets.keycloak_credential_change(u), True, False),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_event_pushed_to_one_instance_revokes_on_both(
    fleet: tuple[Transmitter, ServerProcess, ServerProcess], keys: Keys, shape: str
) -> None:
    transmitter, a, b = fleet
    make, keycloak, session_only = SHAPES[shape]
    stamp = f"{time.monotonic_ns()}"
    sub, sid = f"user-{stamp}", f"sid-{stamp}"
    now = int(time.time())
    token = sign(claims(sub=sub, sid=sid, iat=now - 5), keys.rsa)
    other_session = sign(claims(sub=sub, sid=sid + "-other", iat=now - 5), keys.rsa)
    for instance in (a, b):
        for _ in range(2):  # verified, then cached
            assert get_me(instance, token).status_code == 200
    event = transmitter.sign(make(sub, sid), keycloak=keycloak)
    pushed = push(a, event)
    assert pushed.status_code == 202, pushed.text
    assert pushed.content == b""
    for instance in (a, b):
        refused = get_me(instance, token)
        assert refused.status_code == 401, refused.text
        assert refused.json()["reason"] == "token_revoked"
        kind = "session" if session_only else "subject"
        assert f"The token's {kind} was revoked at" in refused.json()["detail"]
        assert get_me(instance, other_session).status_code == (200 if session_only else 401)
    again = push(b, event)  # the transmitter retries on the other instance
    assert again.status_code == 202, again.text
    fresh = sign(claims(sub=sub, sid=sid, iat=int(time.time()) + 1), keys.rsa)
    assert get_me(b, fresh).status_code == 200  # a sign-in after the event


BAD: dict[str, tuple[Any, dict[str, str] | None, int, str | None]] = {
    "another issuer": (
        lambda t: t.sign(sets.rfc8417_risc("u", iss="https://evil.example/")),
        None,
        400,
        "invalid_issuer",
    ),
    "another audience": (
        lambda t: t.sign(sets.rfc8417_risc("u", aud="https://other.example/ssf")),
        None,
        400,
        "invalid_audience",
    ),
    "a key the transmitter does not publish": (
        lambda t: sets.sign_set(
            sets.rfc8417_risc("u"), ec.generate_private_key(ec.SECP256R1()), kid="stolen"
        ),
        None,
        400,
        "invalid_key",
    ),
    "HS256 with a guessed secret": (
        lambda t: sets.sign_set(sets.rfc8417_risc("u"), HS_SECRET, "HS256"),
        None,
        400,
        "invalid_key",
    ),
    "an access token's typ": (
        lambda t: t.sign(sets.rfc8417_risc("u"), typ="at+jwt"),
        None,
        400,
        "invalid_request",
    ),
    "two events": (
        lambda t: t.sign(
            sets.envelope({sets.ACCOUNT_DISABLED: {}, sets.SESSIONS_REVOKED: {}}, sub="u")
        ),
        None,
        400,
        "invalid_request",
    ),
    "a subject of another issuer": (
        lambda t: t.sign(
            sets.envelope({sets.ACCOUNT_DISABLED: {}}, sub_id=sets.iss_sub("u", "https://x/"))
        ),
        None,
        400,
        "access_denied",
    ),
    "the wrong media type": (
        lambda t: t.sign(sets.rfc8417_risc("u")),
        {"content-type": "application/jwt"},
        400,
        "invalid_request",
    ),
    "not a token": (lambda t: "hello", None, 400, "invalid_request"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_event_gets_rfc8935s_error_from_either_instance(
    fleet: tuple[Transmitter, ServerProcess, ServerProcess], keys: Keys, case: str
) -> None:
    transmitter, a, b = fleet
    make, headers, status, err = BAD[case]
    body = make(transmitter)
    for instance in (a, b):
        response = push(instance, body, headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        answer = response.json()
        assert set(answer) == {"err", "description"} and answer["err"] == err, answer
    token = sign(claims(sub="u", iat=int(time.time()) - 5), keys.rsa)
    assert get_me(a, token).status_code == 200  # nothing was revoked


def test_only_post_is_answered(fleet: tuple[Transmitter, ServerProcess, ServerProcess]) -> None:
    _, a, _ = fleet
    with a.client(timeout=5.0) as c:
        got = c.get(sets.SSF_PATH)
    assert got.status_code == 405 and got.headers["allow"] == "POST"
