"""``jwt-middleware diagnose --dpop PROOF --method M --url U`` in a subprocess: the proof
and the token's binding judged as the middleware judges them (same reasons, same
details), the bound token and the proof accepted, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.apps import build_app
from helpers.dpop import proof, public_jwk, thumbprint
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem
from helpers.procs import child_env
from helpers.tokens import claims, sign

from jwt_middleware import Settings

REPO_DIR = Path(__file__).resolve().parents[2]
URL = "http://testserver/me"


def diagnose(pem: Path, token: str, *extra: str) -> tuple[int, Any, str]:
    args = ["diagnose", "--key-file", str(pem), "--issuer", ISSUER, "--audience", AUDIENCE]
    proc = subprocess.run(
        [sys.executable, "-m", "jwt_middleware", *args, *extra, "--json", "-"],
        input=token,
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=REPO_DIR,
        timeout=60,
    )
    body = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, body, proc.stderr


@pytest.fixture(scope="module")
def pem(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-dpop") / "public.pem"
    path.write_text(public_pem(keys.rsa))
    return path


async def middleware_body(keys: Keys, token: str, p: str) -> dict[str, Any]:
    settings = Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)
    harness = build_app(settings, public_paths=())
    async with harness.client() as client:
        response = await client.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": p})
    result: dict[str, Any] = response.json()
    return result


def test_bound_token_and_proof_are_valid(pem: Path, keys: Keys) -> None:
    token = sign(claims(cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    p = proof(keys.ec256, url=URL, token=token)
    code, body, err = diagnose(pem, token, "--dpop", p, "--method", "get", "--url", URL)
    assert code == 0, err
    assert body["valid"] is True and body["reason"] is None


async def test_same_reasons_and_details_as_the_middleware(pem: Path, keys: Keys) -> None:
    bound = sign(claims(cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    other = sign(claims(cnf={"jkt": thumbprint(public_jwk(keys.ec384))}), keys.rsa)
    cases = [
        (bound, proof(keys.ec256, url=URL, token=bound, method="POST"), "dpop_proof_invalid"),
        (bound, proof(keys.ec256, url="https://x.example/me", token=bound), "dpop_proof_invalid"),
        (bound, proof(keys.ec256, url=URL, token=bound + "x"), "dpop_proof_invalid"),
        (other, proof(keys.ec256, url=URL, token=other), "dpop_binding_mismatch"),
    ]
    for token, p, reason in cases:
        code, body, err = diagnose(pem, token, "--dpop", p, "--method", "GET", "--url", URL)
        assert code == 1, err
        assert body["reason"] == reason, body
        served = await middleware_body(keys, token, p)
        assert served["reason"] == reason
        assert served["detail"] == body["detail"]
        assert p not in json.dumps(body) and token not in json.dumps(body)


def test_dpop_scheme_prefix_and_usage_errors(pem: Path, keys: Keys) -> None:
    token = sign(claims(cnf={"jkt": thumbprint(public_jwk(keys.ec256))}), keys.rsa)
    p = proof(keys.ec256, url=URL, token=token)
    code, _body, err = diagnose(pem, f"DPoP {token}", "--dpop", p, "--url", URL)
    assert code == 0, err
    code, _body, err = diagnose(pem, token, "--dpop", p)
    assert code == 2 and "--url" in err
    code, _body, err = diagnose(pem, token, "--url", URL)
    assert code == 2 and "--dpop" in err
