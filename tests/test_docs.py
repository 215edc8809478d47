"""Checks that keep the documentation true.

- README's reasons table agrees with jwt_middleware.reasons.REASONS and is
  exactly what scripts/gen_reasons_table.py prints;
- the reason codes and environment variables of the outside contract
  (../shared/CONTRACT.md) match the package;
- README's code examples run, and its example rejections are what the code
  answers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from conftest import AUDIENCE, ISSUER, Keys, private_pem, public_pem, sign

from jwt_middleware import JWTAuthMiddleware, Reason, Settings
from jwt_middleware.reasons import REASONS
from jwt_middleware.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GENERATOR = ROOT / "scripts" / "gen_reasons_table.py"
CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "CONTRACT.md"

START, END = "<!-- reasons:start -->", "<!-- reasons:end -->"
NONE = "(none)"
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# --- helpers -----------------------------------------------------------------


def readme() -> str:
    return README.read_text(encoding="utf-8")


def cells(row: str) -> list[str]:
    """The cells of one markdown table row, unescaped and without backticks."""
    parts = _CELL_SPLIT.split(row.strip())[1:-1]
    return [p.strip().replace("\\|", "|").strip("`") for p in parts]


def readme_reasons_block() -> str:
    text = readme()
    assert START in text and END in text, f"README.md lacks the markers {START} / {END}"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def readme_reason_rows() -> dict[str, tuple[int, str | None]]:
    rows: dict[str, tuple[int, str | None]] = {}
    for line in readme_reasons_block().splitlines()[2:]:  # skip header and separator
        reason, status, error, *_ = cells(line)
        assert reason not in rows, f"{reason} appears twice in README's reasons table"
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
    for match in row.finditer(contract_section(1)):
        reason, status, error, _meaning = cells(match.group(0))
        rows[reason] = (int(status), None if error == NONE else error)
    assert rows, "no reason table found in CONTRACT.md section 1"
    return rows


def contract_env_vars() -> list[str]:
    found = re.findall(r"^\| (JWT_[A-Z_]+) \|", contract_section(3), re.MULTILINE)
    assert found, "no variable table found in CONTRACT.md section 3"
    return found


def readme_table_rows(first_cell: str) -> dict[str, list[str]]:
    """Rows of the README tables whose first cell matches ``first_cell`` (a regex)."""
    rows: dict[str, list[str]] = {}
    for line in readme().splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            row = cells(line)
            if row and re.fullmatch(first_cell, row[0]):
                rows[row[0]] = row[1:]
    return rows


def fenced_block(marker: str) -> str:
    """A README code block: the one containing ``marker``, or the first after it."""
    text = readme()
    for match in _FENCE.finditer(text):
        if marker in match.group(2):
            return match.group(2)
    position = text.find(marker)
    assert position >= 0, f"README.md has no {marker!r}"
    match = _FENCE.search(text, position)
    assert match, f"no code block after {marker!r} in README.md"
    return match.group(2)


def run_readme_code(marker: str) -> dict[str, Any]:
    code = fenced_block(f"# docs-test: {marker}")
    namespace: dict[str, Any] = {"__name__": f"readme_{marker.replace('-', '_')}"}
    exec(compile(code, f"README.md ({marker})", "exec"), namespace)  # noqa: S102
    return namespace


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def normalized(body: Any) -> Any:
    """A problem body with its timestamps blanked (the README's were taken at another time)."""
    return json.loads(_TIMESTAMP.sub("<time>", json.dumps(body)))


@pytest.fixture
def key_files(keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """public.pem / private.pem in a temporary working directory, as in the README."""
    (tmp_path / "public.pem").write_text(public_pem(keys.rsa))
    (tmp_path / "private.pem").write_text(private_pem(keys.rsa))
    monkeypatch.chdir(tmp_path)
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return tmp_path


# --- the reasons table ---------------------------------------------------------


def test_every_reason_is_in_the_readme_table_with_its_status_and_error() -> None:
    rows = readme_reason_rows()
    for reason, info in REASONS.items():
        assert reason.value in rows, f"{reason.value} is missing from README's reasons table"
        assert rows[reason.value] == (info.status, info.error), reason.value
    extra = set(rows) - {r.value for r in Reason}
    assert not extra, f"README's reasons table names codes the package lacks: {sorted(extra)}"


def test_readme_table_is_the_generator_output() -> None:
    printed = subprocess.run(
        [sys.executable, str(GENERATOR)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert readme_reasons_block() == printed.strip(), (
        "README's reasons table is stale: run .venv/bin/python scripts/gen_reasons_table.py --write"
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
    documented = readme_table_rows(r"JWT_[A-Z_]+")
    for var in contract_env_vars():
        assert var in ENV_VARS, f"{var} (CONTRACT section 3) is not in settings.ENV_VARS"
        assert var in documented, f"{var} is missing from README's environment table"


def test_readme_env_table_matches_settings() -> None:
    documented = readme_table_rows(r"JWT_[A-Z_]+")
    assert set(documented) == set(ENV_VARS)
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for var, name in ENV_VARS.items():
        field, default_cell = documented[var][0], documented[var][1]
        assert field == name, f"{var}: README names field {field!r}, settings has {name!r}"
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
            assert default_cell == shown, f"{var}: README default {default_cell!r}, code {shown!r}"


def test_readme_keyword_table_matches_settings() -> None:
    """Every Settings field without an environment variable is documented with its default."""
    documented = readme_table_rows(r"[a-z_]+")
    from_env = set(ENV_VARS.values())
    for field in dataclasses.fields(Settings):
        if field.name in from_env:
            continue
        assert field.name in documented, f"{field.name} is missing from README's keyword table"
        default = field.default
        assert documented[field.name][0] == repr(default), f"{field.name}: default {default!r}"


# --- the README's code -----------------------------------------------------------


def claims(**extra: Any) -> dict[str, Any]:
    return {
        "iss": "https://issuer.example.com/",
        "aud": "orders-api",
        "sub": "alice",
        "exp": int(time.time()) + 600,
        **extra,
    }


async def test_fastapi_example_runs(keys: Keys, key_files: Path) -> None:
    app = run_readme_code("fastapi-example")["app"]
    (settings,) = [m.kwargs["settings"] for m in app.user_middleware if m.cls is JWTAuthMiddleware]
    token = pyjwt.encode(
        claims(iss=settings.issuers[0], aud=settings.audiences[0]), keys.rsa, algorithm="RS256"
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


async def test_starlette_example_runs(
    keys: Keys, key_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_PUBLIC_KEY_FILE", str(key_files / "public.pem"))
    monkeypatch.setenv("JWT_ISSUER", "https://issuer.example.com/")
    monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
    app = run_readme_code("starlette-example")["app"]
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
    namespace = run_readme_code("multi-issuer-example")
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
async def test_readme_rejection_examples_are_real(keys: Keys, key_files: Path, level: str) -> None:
    namespace = run_readme_code("fastapi-example")
    app = namespace["app"]
    (middleware,) = [m for m in app.user_middleware if m.cls is JWTAuthMiddleware]
    middleware.kwargs["settings"] = dataclasses.replace(
        middleware.kwargs["settings"], diagnostics=level
    )
    now = int(time.time())
    token = pyjwt.encode(  # the README's example token
        {
            "iss": "https://issuer.example.com",
            "aud": "orders-api",
            "sub": "alice",
            "iat": now - 7800,
            "exp": now - 7200,
        },
        keys.rsa,
        algorithm="RS256",
        headers={"kid": "2024-rsa"},
    )
    async with client(app) as c:
        response = await c.get("/me", headers=bearer(token))
    block = fenced_block(f"<!-- docs-test: rejection-{level} -->")
    if level == "standard":
        status, headers, body = parse_http_block(block)
        assert response.status_code == status
        for name, value in headers.items():
            assert response.headers[name] == value, name
    else:
        body = json.loads(block)
        assert response.status_code == 401
    assert normalized(response.json()) == normalized(body)


async def test_readme_json_logging_config_prints_the_documented_denied_line(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's structlog JSON config renders jwt_auth.denied with the documented keys."""
    import structlog

    documented = json.loads(fenced_block('"event": "jwt_auth.denied"'))
    try:
        run_readme_code("json-logging")
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
