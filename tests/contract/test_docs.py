"""Checks that keep the documentation true (README.md and docs/*.md).

- docs/reasons.md's reasons table agrees with jwt_middleware.reasons.REASONS
  and is exactly what scripts/gen_reasons_table.py prints;
- the reason codes and environment variables of the outside contract
  (../shared/CONTRACT.md) match the package, and docs/configuration.md's
  tables match the settings;
- every Python example in README.md and docs/*.md runs: the named ones
  (``# docs-test: NAME``) by a test of their own that also checks what they
  do, every other one by executing it; the example rejections are what the
  code answers;
- every relative link and ``#anchor`` between these pages resolves, and the
  README stays a front page (under 300 lines).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import jwt as pyjwt
import pytest
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, ISSUER, Keys, private_pem, public_pem
from helpers.procs import child_env
from helpers.tokens import sign
from prometheus_client import REGISTRY

from jwt_middleware import JWTAuthMiddleware, Reason, Settings
from jwt_middleware.cli import build_parser
from jwt_middleware.reasons import REASONS
from jwt_middleware.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REASONS_PAGE = DOCS / "reasons.md"
CONFIGURATION_PAGE = DOCS / "configuration.md"
GENERATOR = ROOT / "scripts" / "gen_reasons_table.py"
CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "CONTRACT.md"

START, END = "<!-- reasons:start -->", "<!-- reasons:end -->"
NONE = "(none)"
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```$", re.DOTALL | re.MULTILINE)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_MARKER = re.compile(r"^# docs-test: ([\w-]+)$", re.MULTILINE)

#: The named examples, each run by a test below that also checks what it does.
NAMED_EXAMPLES = {
    "fastapi-example",
    "starlette-example",
    "multi-issuer-example",
    "json-logging",
    "fastapi-helpers",
    "metrics-endpoint",
    "authorization-example",
    # docs/providers.md's quick starts: run by tests/contract/test_provider_quickstarts.py
    *(
        f"provider-{name}"
        for name in ("auth0", "entra", "entra-multi", "okta", "keycloak", "cognito", "google")
    ),
    "revocation-admin",  # tests/contract/test_revocation_docs.py
    "otel-setup",
}
EXAMPLE_KID = "2024-rsa"


# --- helpers -----------------------------------------------------------------


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def cells(row: str) -> list[str]:
    """The cells of one markdown table row, unescaped and without backticks."""
    parts = _CELL_SPLIT.split(row.strip())[1:-1]
    return [p.strip().replace("\\|", "|").strip("`") for p in parts]


def reasons_block() -> str:
    text = REASONS_PAGE.read_text(encoding="utf-8")
    assert START in text and END in text, f"docs/reasons.md lacks the markers {START} / {END}"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def doc_reason_rows() -> dict[str, tuple[int, str | None]]:
    rows: dict[str, tuple[int, str | None]] = {}
    for line in reasons_block().splitlines()[2:]:  # skip header and separator
        reason, status, error, *_ = cells(line)
        assert reason not in rows, f"{reason} appears twice in the reasons table"
        rows[reason] = (int(status), None if error == NONE else error)
    return rows


def contract_text() -> str:
    if not CONTRACT.is_file():
        pytest.skip(f"the outside contract is not here ({CONTRACT}); nothing to compare with")
    return CONTRACT.read_text(encoding="utf-8")


def contract_section(number: int) -> str:
    match = re.search(rf"^## {number}\..*?(?=^## |\Z)", contract_text(), re.DOTALL | re.MULTILINE)
    assert match, f"CONTRACT.md has no section {number}"
    return match.group(0)


def contract_reason_rows() -> dict[str, tuple[int, str | None]]:
    rows: dict[str, tuple[int, str | None]] = {}
    row = re.compile(r"^\| ([a-z0-9_]+) \| (\d{3}) \|.*$", re.MULTILINE)
    for section in (1, 6, 7, 8, 9, 12):  # 7: DPoP, 8: introspection, 9: revocation, 12: claims
        found = 0
        for match in row.finditer(contract_section(section)):
            reason, status, error, _meaning = cells(match.group(0))
            rows[reason] = (int(status), None if error == NONE else error)
            found += 1
        assert found, f"no reason table found in CONTRACT.md section {section}"
    return rows


def contract_env_vars() -> list[str]:
    found = [
        var
        for section in (3, 6, 7, 8, 9)  # 6: deployments, 7: DPoP, 8: introspection, 9: revocation
        for var in re.findall(r"^\| (JWT_[A-Z_]+) \|", contract_section(section), re.MULTILINE)
    ]
    # 12: authorization beyond scopes names its variable in a list item, not a table
    found += re.findall(r"^- `(JWT_[A-Z_]+)`", contract_section(12), re.MULTILINE)
    assert found, "no variable table found in CONTRACT.md sections 3 and 7"
    # 10: OpenTelemetry names its one variable in prose
    prose = re.findall(r"`(JWT_[A-Z_]+)`", contract_section(10))
    assert prose == ["JWT_METRICS"], prose
    return found + prose


def configuration_rows(first_cell: str) -> dict[str, list[str]]:
    """Rows of docs/configuration.md's tables whose first cell matches ``first_cell``."""
    rows: dict[str, list[str]] = {}
    for line in CONFIGURATION_PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            row = cells(line)
            if row and re.fullmatch(first_cell, row[0]):
                rows[row[0]] = row[1:]
    return rows


class Block(NamedTuple):
    path: Path
    line: int
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def name(self) -> str | None:
        match = _MARKER.search(self.code)
        return match.group(1) if match else None


def code_blocks(path: Path) -> Iterator[Block]:
    """The fenced code blocks of one page (indented ones in list items too), dedented."""
    text = path.read_text(encoding="utf-8")
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield Block(path, line, match.group(2), textwrap.dedent(match.group(3)))


def python_examples() -> list[Block]:
    return [b for path in doc_files() for b in code_blocks(path) if b.language == "python"]


def fenced_block(marker: str) -> str:
    """The one code block, on any page, that contains ``marker`` or comes right after it."""
    found: list[str] = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for block in code_blocks(path):
            if marker in block.code:
                found.append(block.code)
        position = text.find(marker)
        if position >= 0 and not any(marker in b.code for b in code_blocks(path)):
            match = _FENCE.search(text, position)
            assert match, f"no code block after {marker!r} in {path.name}"
            found.append(match.group(3))
    assert len(found) == 1, f"{marker!r} is in {len(found)} code blocks of the docs"
    return found[0]


def run_doc_code(marker: str) -> dict[str, Any]:
    code = fenced_block(f"# docs-test: {marker}")
    namespace: dict[str, Any] = {"__name__": f"docs_{marker.replace('-', '_')}"}
    exec(compile(code, f"docs ({marker})", "exec"), namespace)  # noqa: S102
    return namespace


def client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **kwargs), base_url="http://testserver"
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def normalized(body: Any) -> Any:
    """A problem body with its timestamps blanked (the docs' were taken at another time)."""
    return json.loads(_TIMESTAMP.sub("<time>", json.dumps(body)))


def the_middleware(app: Any) -> Any:
    (middleware,) = [m for m in app.user_middleware if m.cls is JWTAuthMiddleware]
    return middleware


def use_keys_of(app: Any, server: JWKSServer, **changes: Any) -> Settings:
    """Point the FastAPI example's JWKS URL at ``server`` (a real JWKS server on 127.0.0.1)."""
    middleware = the_middleware(app)
    settings = middleware.kwargs["settings"]
    assert settings.jwks_url, "the example is meant to take its keys from a JWKS URL"
    middleware.kwargs["settings"] = dataclasses.replace(
        settings, jwks_url=server.jwks_url, **changes
    )
    return middleware.kwargs["settings"]


@pytest.fixture
def key_files(keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """public.pem / private.pem in a temporary working directory, as in the docs."""
    (tmp_path / "public.pem").write_text(public_pem(keys.rsa))
    (tmp_path / "private.pem").write_text(private_pem(keys.rsa))
    monkeypatch.chdir(tmp_path)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def jwks(keys: Keys) -> Iterator[JWKSServer]:
    """The issuer of the docs' examples: its JWKS holds keys.rsa under kid 2024-rsa."""
    with JWKSServer() as server:
        server.state.keys = [public_jwk(keys.rsa, EXAMPLE_KID)]
        yield server


# --- the reasons table ---------------------------------------------------------


def test_every_reason_is_in_the_reasons_table_with_its_status_and_error() -> None:
    rows = doc_reason_rows()
    for reason, info in REASONS.items():
        assert reason.value in rows, f"{reason.value} is missing from docs/reasons.md's table"
        assert rows[reason.value] == (info.status, info.error), reason.value
    extra = set(rows) - {r.value for r in Reason}
    assert not extra, f"docs/reasons.md's table names codes the package lacks: {sorted(extra)}"


def test_reasons_table_is_the_generator_output() -> None:
    printed = subprocess.run(
        [sys.executable, str(GENERATOR)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert reasons_block() == printed.strip(), (
        "docs/reasons.md's reasons table is stale: "
        "run .venv/bin/python scripts/gen_reasons_table.py --write"
    )


# --- the outside contract ------------------------------------------------------


def test_contract_reasons_are_the_package_reasons() -> None:
    contract = contract_reason_rows()
    package = {r.value: (info.status, info.error) for r, info in REASONS.items()}
    assert sorted(set(contract) - set(package)) == [], "in CONTRACT.md but not a Reason"
    assert sorted(set(package) - set(contract)) == [], "a Reason that CONTRACT.md lacks"
    for reason, (status, error) in contract.items():
        assert package[reason] == (status, error), f"{reason}: package differs from CONTRACT.md"


def test_contract_env_vars_are_read_and_documented() -> None:
    documented = configuration_rows(r"JWT_[A-Z_]+")
    for var in contract_env_vars():
        assert var in ENV_VARS, f"{var} (CONTRACT section 3) is not in settings.ENV_VARS"
        assert var in documented, f"{var} is missing from docs/configuration.md's environment table"


def test_env_table_matches_settings() -> None:
    documented = configuration_rows(r"JWT_[A-Z_]+")
    assert set(documented) == set(ENV_VARS)
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for var, name in ENV_VARS.items():
        field, default_cell = documented[var][0], documented[var][1]
        assert field == name, f"{var}: docs name field {field!r}, settings has {name!r}"
        default = defaults[name]
        if default is None or default == ():
            assert default_cell.startswith("unset"), f"{var}: default {default_cell!r}"
        else:
            if isinstance(default, bool):
                shown = str(default).lower()
            elif isinstance(default, tuple):
                shown = ",".join(default)
            elif isinstance(default, str):
                shown = default
            else:
                shown = f"{default:g}"
            assert default_cell == shown, f"{var}: docs default {default_cell!r}, code {shown!r}"


def test_keyword_table_matches_settings() -> None:
    """Every Settings field without an environment variable is documented with its default."""
    documented = configuration_rows(r"[a-z_]+")
    from_env = set(ENV_VARS.values())
    for field in dataclasses.fields(Settings):
        if field.name in from_env:
            continue
        assert field.name in documented, f"{field.name} is missing from the keyword table"
        default = field.default
        assert documented[field.name][0] == repr(default), f"{field.name}: default {default!r}"


# --- the examples -------------------------------------------------------------------


def claims(**extra: Any) -> dict[str, Any]:
    return {
        "iss": "https://issuer.example.com/",
        "aud": "orders-api",
        "sub": "alice",
        "exp": int(time.time()) + 600,
        **extra,
    }


def test_every_named_example_has_its_test() -> None:
    names = [b.name for b in python_examples() if b.name]
    assert sorted(names) == sorted(set(names)), "an example name is used twice"
    assert set(names) == NAMED_EXAMPLES, "a named example without its test, or a test without it"


#: Pages whose Python blocks are the files of a user's project, run together as that
#: project's test suite by tests/servers/test_user_suite.py, not one by one here.
PROJECT_PAGES = {DOCS / "testing.md"}
UNNAMED = [b for b in python_examples() if b.name is None and b.path not in PROJECT_PAGES]


@pytest.mark.parametrize("block", UNNAMED, ids=[b.where for b in UNNAMED])
def test_every_other_python_example_runs(
    block: Block, key_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs as written, in a directory holding public.pem and private.pem, with the
    environment of the docs' examples (a PEM key, an issuer, an audience)."""
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", "public.pem")
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example.com/")
    monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102


async def test_fastapi_example_runs(keys: Keys, key_files: Path, jwks: JWKSServer) -> None:
    """The README's example, its JWKS URL pointed at a real JWKS server on 127.0.0.1."""
    app = run_doc_code("fastapi-example")["app"]
    settings = use_keys_of(app, jwks)
    token = pyjwt.encode(
        claims(iss=settings.issuers[0], aud=settings.audiences[0]),
        keys.rsa,
        algorithm="RS256",
        headers={"kid": EXAMPLE_KID},
    )
    async with client(app) as c:
        ok = await c.get("/me", headers=bearer(token))
        anonymous = await c.get("/me")
        health = await c.get("/healthz")
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"] == "alice"
    assert ok.json()["claims"]["sub"] == "alice"
    assert anonymous.status_code == 401
    assert anonymous.json()["reason"] == "missing_token"
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    assert health.status_code == 200
    assert jwks.jwks_fetches() == 1


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("jwt_auth_failures_total", {"reason": reason}) or 0.0


async def test_fastapi_helpers_example_runs(keys: Keys, key_files: Path, jwks: JWKSServer) -> None:
    """docs/integration.md: what verified_claims, verified_token, require_scopes,
    install_problem_handler and bearer_scheme give a route, as the page says."""
    from fastapi import Depends

    from jwt_middleware.fastapi import verified_claims

    app = run_doc_code("fastapi-helpers")["app"]
    use_keys_of(app, jwks)
    middleware = the_middleware(app)
    middleware.kwargs["public_paths"] = [*middleware.kwargs["public_paths"], "/open"]

    @app.get("/open")
    async def open_route(claims: dict[str, Any] = Depends(verified_claims)) -> dict[str, Any]:  # noqa: B008
        return claims

    reader = sign(claims(scope="orders:read"), keys.rsa, headers={"kid": EXAMPLE_KID})
    writer = sign(claims(scope="orders:write"), keys.rsa, headers={"kid": EXAMPLE_KID})
    before = failures("insufficient_scope")
    async with client(app) as c:
        me = await c.get("/me", headers=bearer(reader))
        info = await c.get("/token", headers=bearer(reader))
        denied = await c.delete("/orders/7", headers=bearer(reader))
        allowed = await c.delete("/orders/7", headers=bearer(writer))
        public = await c.get("/open")
        openapi = (await c.get("/openapi.json")).json()
    assert me.status_code == 200, me.text
    assert me.json() == {"sub": "alice"}
    assert info.json() == {"alg": "RS256", "kid": EXAMPLE_KID, "scopes": ["orders:read"]}
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    challenge = denied.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="orders:write"' in challenge
    assert denied.json()["reason"] == "insufficient_scope"
    assert denied.json()["required_scopes"] == ["orders:write"]
    assert failures("insufficient_scope") == before + 1
    assert allowed.status_code == 200
    assert allowed.json() == {"deleted": 7, "by": "alice"}
    assert public.status_code == 401
    assert public.json()["reason"] == "missing_token"
    assert public.json()["detail"] == "This route needs a verified bearer token."
    assert public.headers["www-authenticate"] == 'Bearer realm="api"'
    scheme = openapi["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for path, method in (("/me", "get"), ("/token", "get"), ("/orders/{order_id}", "delete")):
        assert openapi["paths"][path][method]["security"] == [{"bearerAuth": []}], path


ENTRA_HOME, ENTRA_CUSTOMER = (
    "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "9188040d-6c67-4c5b-b112-36a304b66dad",
)


def entra_token(keys: Keys, tenant: str, **extra: Any) -> str:
    """A v2.0 access token of tenant ``tenant`` for the authorization example's API, as
    Entra ID's access token claims reference shows one (``extra`` adds scp or roles)."""
    now = int(time.time())
    payload = {
        "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "azp": "0e0b7a3d-9b8f-4c9a-9c55-6b5f0f3c4d21",
        "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": tenant,
        "ver": "2.0",
        **extra,
    }
    return sign(payload, keys.rsa, headers={"kid": EXAMPLE_KID, "typ": "JWT"})


async def test_authorization_example_runs(keys: Keys, key_files: Path, jwks: JWKSServer) -> None:
    """docs/authorization.md: delegated scopes (scp) and app roles (roles) both pass
    require_scopes; the tenant rule of /reports refuses the other tenant with the body
    the page shows; require_claims on azp; /catalog serves anonymous and signed-in
    callers, and still refuses a bad token."""
    app = run_doc_code("authorization-example")["app"]
    use_keys_of(app, jwks)
    user = entra_token(keys, ENTRA_HOME, scp="Orders.Read")
    daemon = entra_token(keys, ENTRA_CUSTOMER, roles=["Orders.Read"], idtyp="app")
    neither = entra_token(keys, ENTRA_HOME, scp="User.Read")
    partner = entra_token(keys, ENTRA_CUSTOMER, azp="partner-portal")
    async with client(app) as c:
        by_user = await c.get("/orders", headers=bearer(user))
        by_daemon = await c.get("/orders", headers=bearer(daemon))
        by_neither = await c.get("/orders", headers=bearer(neither))
        home_reports = await c.get("/reports", headers=bearer(user))
        customer_reports = await c.get("/reports", headers=bearer(daemon))
        partners = await c.get("/partners", headers=bearer(partner))
        not_a_partner = await c.get("/partners", headers=bearer(user))
        anonymous = await c.get("/catalog")
        signed_in = await c.get("/catalog", headers=bearer(daemon))
        bad = await c.get("/catalog", headers=bearer(user[:-4] + "AAAA"))
    assert by_user.status_code == 200 and by_daemon.status_code == 200, by_daemon.text
    assert by_neither.status_code == 403 and by_neither.json()["reason"] == "insufficient_scope"
    assert home_reports.json() == {"tenant": ENTRA_HOME}
    assert customer_reports.status_code == 403
    assert customer_reports.headers["www-authenticate"] == 'Bearer realm="api"'
    shown = json.loads(fenced_block("<!-- docs-test: claim-not-allowed -->"))
    assert customer_reports.json() == shown
    assert partners.json() == {"client": "partner-portal"}
    assert not_a_partner.status_code == 403
    refused = not_a_partner.json()
    assert refused["reason"] == "claim_not_allowed" and "'azp'" in refused["detail"]
    assert "(require_claims)" in refused["hint"]
    assert anonymous.json() == {"signed_in": False, "prices": "public"}
    assert signed_in.json() == {"signed_in": True, "prices": "member"}
    assert bad.status_code == 401 and bad.json()["reason"] == "signature_invalid"


async def test_authorization_hint_example_is_real(
    keys: Keys, key_files: Path, jwks: JWKSServer
) -> None:
    """docs/authorization.md's insufficient_scope hint: a daemon's token holding the role
    while only scp is read (JWT_SCOPE_CLAIMS left at its default, from the environment)."""
    app = run_doc_code("authorization-example")["app"]
    settings = use_keys_of(app, jwks)
    env = {
        "JWT_JWKS_URL": settings.jwks_url or "",
        "JWT_ISSUER": "https://login.microsoftonline.com/{tenantid}/v2.0",
        "JWT_IDP_TENANTS": ENTRA_HOME,
        "JWT_AUDIENCE": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    }
    the_middleware(app).kwargs["settings"] = Settings.from_env(env)
    daemon = entra_token(keys, ENTRA_HOME, roles=["Orders.Read"])
    async with client(app) as c:
        refused = await c.get("/orders", headers=bearer(daemon))
    assert refused.json()["reason"] == "insufficient_scope"
    page = (DOCS / "authorization.md").read_text(encoding="utf-8")
    shown = page.split("is not read (`roles`, say), the `insufficient_scope` hint says so:", 1)[1]
    shown = " ".join(shown.split("```text", 1)[1].split("```", 1)[0].split())
    assert refused.json()["hint"] == shown


async def test_fastapi_helpers_follow_the_middleware_level(
    keys: Keys, key_files: Path, jwks: JWKSServer
) -> None:
    """The handler renders at the middleware's diagnostics level and realm."""
    app = run_doc_code("fastapi-helpers")["app"]
    use_keys_of(app, jwks, diagnostics="minimal", realm="orders")
    reader = sign(claims(scope="orders:read"), keys.rsa, headers={"kid": EXAMPLE_KID})
    async with client(app) as c:
        denied = await c.delete("/orders/7", headers=bearer(reader))
    assert denied.status_code == 403
    assert set(denied.json()) == {"type", "title", "status", "reason"}
    assert denied.headers["www-authenticate"].startswith('Bearer realm="orders"')


async def test_fastapi_helpers_without_the_problem_handler_answer_500(
    keys: Keys, key_files: Path, jwks: JWKSServer
) -> None:
    from jwt_middleware.fastapi import ProblemError

    app = run_doc_code("fastapi-helpers")["app"]
    use_keys_of(app, jwks)
    del app.exception_handlers[ProblemError]
    reader = sign(claims(scope="orders:read"), keys.rsa, headers={"kid": EXAMPLE_KID})
    async with client(app, raise_app_exceptions=False) as c:
        denied = await c.delete("/orders/7", headers=bearer(reader))
    assert denied.status_code == 500


async def test_otel_setup_example_runs(
    keys: Keys, key_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/opentelemetry.md: the SDK with OTLP/HTTP exporters, sent to a receiver on
    127.0.0.1; what arrives is the contract's histogram and server spans."""
    from helpers.otlp_collector import OTLPCollector

    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", "public.pem")
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example.com/")
    monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
    with OTLPCollector() as collector:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        namespace = run_doc_code("otel-setup")
        app, meters, tracers = (namespace[k] for k in ("app", "meter_provider", "tracer_provider"))
        token = sign(claims(), keys.rsa)
        expired = sign(claims(exp=int(time.time()) - 3600), keys.rsa)
        try:
            async with client(app) as c:
                assert (await c.get("/orders", headers=bearer(token))).status_code == 200
                assert (await c.get("/orders")).status_code == 401
                assert (await c.get("/orders", headers=bearer(expired))).status_code == 401
            assert meters.force_flush(10_000) and tracers.force_flush(10_000)
        finally:
            meters.shutdown()
            tracers.shutdown()
        received = collector.received
    counts = {
        (p["attributes"]["jwt_middleware.result"], p["attributes"].get("error.type")): p["count"]
        for p in received.points
        if p["name"] == "jwt_middleware.authenticate.duration"
    }
    assert counts == {
        ("success", None): 1,
        ("failure", "missing_token"): 1,
        ("failure", "token_expired"): 1,
    }
    assert {p["unit"] for p in received.points if p["scope"] == "jwt_middleware"} == {"s"}
    assert {p["service"] for p in received.points} == {"orders-api"}
    judged = [s for s in received.spans if "jwt_middleware.result" in s["attributes"]]
    reasons = sorted(str(s["attributes"].get("error.type")) for s in judged)
    assert reasons == ["None", "missing_token", "token_expired"]
    assert all(s["status"] != 2 for s in judged)  # STATUS_CODE_ERROR: never for a 401


OTEL_PAGE = DOCS / "opentelemetry.md"


def test_otel_queries_parse_and_use_what_the_exporter_exposes(
    otel_exposition: str, tmp_path: Path
) -> None:
    """docs/opentelemetry.md's PromQL: parsed by promtool, and every metric, label and
    reason it names is in what OpenTelemetry's Prometheus exporter shows of the histogram."""
    from helpers.prometheus import promtool

    queries = [b.code.strip() for b in code_blocks(OTEL_PAGE) if b.language == "promql"]
    assert len(queries) >= 5
    lines = ["groups:", "  - name: otel", "    rules:"]
    for index, query in enumerate(queries):
        lines += [f"      - record: otel:query_{index}", f"        expr: {json.dumps(query)}"]
    rules = tmp_path / "otel_rules.yml"
    rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
    checked = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exposition = otel_exposition
    reasons = {r.value for r in Reason}
    for query in queries:
        names = re.findall(r"\b(jwt_middleware_\w+)\s*[{\[]", query)
        assert names, query
        for name in names:
            assert f"\n{name}{{" in exposition, (name, query)
        labels = re.findall(r"([a-z_]+)\s*=~?\s*\"", query)
        for grouping in re.findall(r"by \(([^)]*)\)", query):
            labels += [g.strip() for g in grouping.split(",") if g.strip() != "le"]
        for label in labels:
            assert f'{label}="' in exposition, (label, query)
        for value in re.findall(r'error_type=~?"([^"]+)"', query):
            assert set(value.split("|")) <= reasons, query


@pytest.fixture
def otel_exposition(keys: Keys, key_files: Path) -> Iterator[str]:
    """What OpenTelemetry's Prometheus exporter shows of the histogram, after a bearer
    acceptance, a DPoP refusal and a missing token (its own CollectorRegistry)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    meters = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])

    async def ok(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    settings = Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)
    app = JWTAuthMiddleware(
        ok, dataclasses.replace(settings, metrics="otel"), registry=None, meter_provider=meters
    )
    import asyncio

    async def traffic() -> None:
        async with client(app) as c:
            await c.get("/", headers=bearer(sign(claims(iss=ISSUER, aud=AUDIENCE), keys.rsa)))
            await c.get("/")
            await c.get("/", headers={"Authorization": "DPoP x.y.z"})

    asyncio.run(traffic())
    try:
        yield generate_latest(registry).decode()
    finally:
        meters.shutdown()


async def test_metrics_endpoint_example_runs(key_files: Path) -> None:
    """docs/metrics.md: GET /metrics answers 200 itself, text or OpenMetrics, name[] filters."""
    app = run_doc_code("metrics-endpoint")["app"]
    async with client(app) as c:
        await c.get("/orders")  # a 401, counted
        text = await c.get("/metrics")
        only = await c.get("/metrics", params={"name[]": "jwt_auth_requests_total"})
        openmetrics = await c.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert 'jwt_auth_requests_total{outcome="rejected"}' in text.text
    assert "jwt_auth_failures_total" in text.text
    assert "jwt_auth_requests_total" in only.text
    assert "jwt_auth_failures_total" not in only.text
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")


async def test_starlette_example_runs(
    keys: Keys, key_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", str(key_files / "public.pem"))
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example.com/")
    monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
    app = run_doc_code("starlette-example")["app"]
    reader = pyjwt.encode(claims(scope="orders:read"), keys.rsa, algorithm="RS256")
    admin = pyjwt.encode(claims(scope="admin"), keys.rsa, algorithm="RS256")
    async with client(app) as c:
        me = await c.get("/me", headers=bearer(reader))
        denied = await c.get("/admin/stats", headers=bearer(reader))
        allowed = await c.get("/admin/stats", headers=bearer(admin))
        anonymous = await c.get("/me")
        health = await c.get("/healthz")
    assert me.status_code == 200, me.text
    assert me.json()["user"] == "alice"
    assert "orders:read" in me.json()["scopes"]
    assert denied.status_code == 403
    assert denied.json()["reason"] == "insufficient_scope"
    assert 'scope="admin"' in denied.headers["www-authenticate"]
    assert allowed.status_code == 200
    assert anonymous.status_code == 401
    assert health.status_code == 200


async def test_multi_issuer_example_runs(
    keys: Keys, key_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_secret = "partner-secret-0123456789-abcdefghijklmnop"
    monkeypatch.setenv("PARTNER_JWT_SECRET", partner_secret)
    namespace = run_doc_code("multi-issuer-example")
    app = namespace["app"]

    async def me(request: Any) -> Any:
        from starlette.responses import JSONResponse

        return JSONResponse({"user": request.user.identity})

    app.add_route("/me", me)
    ours = pyjwt.encode(claims(), keys.rsa, algorithm="RS256")
    partner = pyjwt.encode(
        claims(iss="https://partner.example.net"), partner_secret, algorithm="HS256"
    )
    forged = pyjwt.encode(claims(), partner_secret, algorithm="HS256")  # our iss, partner's key
    async with client(app) as c:
        results = [await c.get("/me", headers=bearer(token)) for token in (ours, partner, forged)]
    assert [r.status_code for r in results] == [200, 200, 401], [r.text for r in results]
    assert results[2].json()["reason"] == "algorithm_confusion"


def parse_http_block(block: str) -> tuple[int, dict[str, str], Any]:
    head, _, body = block.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("level", ["minimal", "standard", "verbose"])
async def test_rejection_examples_are_real(
    keys: Keys, key_files: Path, jwks: JWKSServer, level: str
) -> None:
    """The README's rejection (standard) and docs/reasons.md's (minimal, verbose)
    are what the README's FastAPI example answers."""
    app = run_doc_code("fastapi-example")["app"]
    use_keys_of(app, jwks, diagnostics=level)
    now = int(time.time())
    token = pyjwt.encode(  # the docs' example token
        {
            "iss": "https://issuer.example.com",
            "aud": "orders-api",
            "sub": "alice",
            "iat": now - 7800,
            "exp": now - 7200,
        },
        keys.rsa,
        algorithm="RS256",
        headers={"kid": EXAMPLE_KID},
    )
    async with client(app) as c:
        response = await c.get("/me", headers=bearer(token))
    block = fenced_block(f"<!-- docs-test: rejection-{level} -->")
    if level == "standard":
        assert block in README.read_text(encoding="utf-8"), "the README shows this one"
        status, headers, body = parse_http_block(block)
        assert response.status_code == status
        for name, value in headers.items():
            assert response.headers[name] == value, name
    else:
        body = json.loads(block)
        assert response.status_code == 401
    assert normalized(response.json()) == normalized(body)


async def test_json_logging_config_prints_the_documented_denied_line(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/logs.md's structlog JSON config renders jwt_auth.denied with the documented keys."""
    import structlog

    documented = json.loads(fenced_block('"event": "jwt_auth.denied"'))
    try:
        run_doc_code("json-logging")
        settings = Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)

        async def ok(scope: Any, receive: Any, send: Any) -> None:
            raise AssertionError("the handler must not run")

        app = JWTAuthMiddleware(ok, settings, registry=None)
        capsys.readouterr()
        token = sign(claims(exp=1_700_000_000), keys.rsa, headers={"kid": "k"})
        async with client(app) as c:
            r = await c.get("/orders", headers={**bearer(token), "X-Request-ID": "req-7f3a"})
        assert r.status_code == 401
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    finally:
        structlog.reset_defaults()
    denied = [line for line in lines if line["event"] == "jwt_auth.denied"]
    assert len(denied) == 1
    assert set(denied[0]) == set(documented)
    assert denied[0]["reason"] == "token_expired"
    assert denied[0]["request_id"] == "req-7f3a"
    assert token.split(".")[2] not in json.dumps(lines)


# --- links and the front page ----------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_INLINE_CODE = re.compile(r"(`+).*?\1", re.DOTALL)
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code spans blanked."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    for match in _HEADING.finditer(text):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_slug_is_githubs() -> None:
    assert slug("HMAC secret rings and `secret_encoding_mismatch`") == (
        "hmac-secret-rings-and-secret_encoding_mismatch"
    )
    assert slug("In your app: request.user, request.auth, request.state") == (
        "in-your-app-requestuser-requestauth-requeststate"
    )
    assert slug("Why joserfc and not authlib.jose") == "why-joserfc-and-not-authlibjose"


@pytest.mark.parametrize("page", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken: list[str] = []
    for target in _LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor:
            if linked.suffix != ".md":
                broken.append(f"{target}: an anchor into a file that is not markdown")
            elif anchor not in anchors(linked):
                broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme_and_the_index() -> None:
    for index in (README, DOCS / "README.md"):
        linked = {
            (index.parent / t.partition("#")[0]).resolve()
            for t in _LINK.findall(prose(index.read_text(encoding="utf-8")))
        }
        pages = {p.resolve() for p in DOCS.glob("*.md")} - {(DOCS / "README.md").resolve()}
        missing = sorted(p.name for p in pages - linked)
        assert not missing, f"{index.relative_to(ROOT)} does not link {missing}"


def test_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines; the reference belongs in docs/"


# --- docs/cli.md against the command ----------------------------------------------------

CLI_PAGE = DOCS / "cli.md"
USAGE_RUN = '$ jwt-middleware diagnose --jwks-file jwks-a.json --leeway soon "$TOKEN"\n'


def diagnose_options() -> set[str]:
    """Every option string of ``diagnose`` but ``-h``/``--help``, from its parser."""
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    diagnose = subparsers.choices["diagnose"]
    return {
        option
        for action in diagnose._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


def test_docs_cli_options_table_lists_every_diagnose_option() -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    table = page.split("Options of `diagnose`", 1)[1].split("\n\n", 2)[1]
    documented = {
        flag
        for row in table.splitlines()[2:]
        for flag in re.findall(r"`(--[a-z-]+)", row.split(" | ", 1)[0])
    }
    assert documented == diagnose_options()


def test_docs_cli_usage_error_is_the_commands_own(tmp_path: Path) -> None:
    """The usage error docs/cli.md shows is what the command prints (at 80 columns),
    with exit 2."""
    page = CLI_PAGE.read_text(encoding="utf-8")
    shown, code = page.split(USAGE_RUN, 1)[1].split("$ echo $?\n", 1)
    argv = ["diagnose", "--jwks-file", "jwks-a.json", "--leeway", "soon", "a.b.c"]
    proc = subprocess.run(
        [sys.executable, "-m", "jwt_middleware", *argv],
        capture_output=True,
        text=True,
        env={**child_env(), "COLUMNS": "80"},
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == int(code.split("\n", 1)[0]) == 2
    assert proc.stderr == shown
