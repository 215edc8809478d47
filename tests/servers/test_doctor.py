"""``jwt-middleware doctor`` (issue 14, part 3), run as real processes.

The command runs as ``python -m jwt_middleware doctor`` in subprocesses, against
key sources on 127.0.0.1: the JWKS / discovery server of ``helpers.jwks_server``,
a small server of this file whose ``Date`` header runs ahead or behind (or is
missing), and closed ports. It reads the JWT_* environment as the middleware
does (flags winning).

"A venv that holds a second JWT library": the dev venv holds PyJWT, which must
be reported with its installed version. Other libraries are not installed (no
test reaches the network): a ``*.dist-info`` directory with a METADATA file is
written to a temporary directory put on the child's PYTHONPATH, which
importlib.metadata lists like any installed distribution. python-jose 3.3.0 so
installed is a problem (two advisories: exit 1); python-jose 3.5.0 only a
warning (its long unmaintained period: exit 0); the unrelated ``jwt-middleware``
distribution, which installs a ``jwt_middleware`` package of its own, a problem.

A secret, given in the environment or as a flag, is never printed (stdout and
stderr are searched for it); its fingerprint, computed here independently, is.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from helpers.introspection_server import FaultEndpoint
from helpers.jwks_server import JWKSServer, public_jwk
from helpers.keys import AUDIENCE, HS_SECRET, Keys, public_pem
from helpers.logs import hmac_fingerprint
from helpers.oidc_provider import RS_SECRET, AuthorizationServer
from helpers.procs import REPO_DIR, child_env, free_port
from joserfc.jwk import RSAKey

from jwt_middleware.cli.doctor_pitfalls import PITFALLS, Pitfall, version_key

SECTIONS = ("versions", "libraries", "configuration", "reachability", "clock", "keys", "checks")
WORKERS = 2


@dataclass
class Run:
    args: list[str]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def checks(self, section: str) -> list[dict[str, str]]:
        return [c for c in self.json()["checks"] if c["section"] == section]

    def __str__(self) -> str:
        return f"{self.args}: exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def doctor(*args: str, pythonpath: Path | None = None, **env: str) -> Run:
    extra = dict(env)
    if pythonpath is not None:
        extra["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.run(
        [sys.executable, "-m", "jwt_middleware", "doctor", *args],
        input="",
        capture_output=True,
        text=True,
        env=child_env(drop=("NO_COLOR", "PYTHONPATH"), **extra),
        cwd=REPO_DIR,
        timeout=60,
    )
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr)


def run_all(jobs: list[tuple[tuple[str, ...], dict[str, Any]]]) -> list[Run]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda job: doctor(*job[0], **job[1]), jobs))


def fake_distribution(root: Path, name: str, version: str) -> Path:
    """A distribution importlib.metadata finds on ``root`` (put on PYTHONPATH): a
    dist-info directory holding only METADATA, as an installer leaves it."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def thumbprint(private: Any) -> str:
    return RSAKey.import_key(private.public_key()).thumbprint()


@pytest.fixture(scope="module")
def rsa_keys() -> Keys:
    return Keys.generate()


@pytest.fixture
def issuer(rsa_keys: Keys) -> Iterator[JWKSServer]:
    with JWKSServer() as srv:
        srv.state.keys = [public_jwk(rsa_keys.rsa, "k1", "RS256"), public_jwk(rsa_keys.ec256, "e1")]
        yield srv


def issuer_env(srv: JWKSServer) -> dict[str, str]:
    return {
        "JWT_DISCOVERY_URL": srv.discovery_url,
        "JWT_ISSUER": srv.url,
        "JWT_AUDIENCE": AUDIENCE,
        "JWT_ALGORITHMS": "RS256,ES256",
    }


# --- a clean configuration ----------------------------------------------------------------


def test_clean_configuration_exits_0_with_every_section(issuer: JWKSServer, rsa_keys: Keys) -> None:
    as_json, as_text = run_all([(("--json",), issuer_env(issuer)), ((), issuer_env(issuer))])
    assert as_json.code == 0, as_json
    report = as_json.json()
    for section in SECTIONS:
        assert section in report, section
    assert report["ok"] is True and report["problems"] == 0
    assert {c["section"] for c in report["checks"]} >= {
        "versions",
        "configuration",
        "reachability",
        "clock",
        "keys",
    }
    assert all(c["status"] != "problem" for c in report["checks"])

    versions = report["versions"]
    assert versions["python"].endswith(".".join(map(str, sys.version_info[:3])))
    assert versions["asgi-jwt-bearer"] == metadata.version("asgi-jwt-bearer")
    assert versions["joserfc"] == metadata.version("joserfc")
    assert versions["cryptography"] == metadata.version("cryptography")
    assert versions["openssl"].startswith(("OpenSSL", "LibreSSL", "BoringSSL"))

    # The configuration the middleware would build, with where each value came from.
    config = {row["setting"]: row for row in report["configuration"]}
    assert config["discovery_url"]["origin"] == "environment (JWT_DISCOVERY_URL)"
    assert config["audience"]["value"] == [AUDIENCE]
    assert config["algorithms"]["value"] == ["RS256", "ES256"]
    assert config["leeway"] == {"setting": "leeway", "env": "JWT_LEEWAY", "value": 30.0,
                                "origin": "default"}  # fmt: skip

    # Discovery, then the key set: both fetched once, each with its time.
    reach = report["reachability"]
    assert [(r["what"], r["ok"], r["http_status"]) for r in reach] == [
        ("discovery", True, 200),
        ("jwks", True, 200),
    ]
    assert all(0 <= r["seconds"] < 10 for r in reach)
    assert issuer.state.count("/jwks.json") == 2  # one per process
    assert issuer.state.count("/.well-known/openid-configuration") == 2

    clock = report["clock"]
    assert abs(clock["offset_seconds"]) <= clock["error_seconds"] + 0.5
    assert clock["leeway_seconds"] == 30.0

    keys = {k["kid"]: k for k in report["keys"]}
    assert keys["k1"]["kty"] == "RSA" and keys["k1"]["size"] == 2048
    assert keys["k1"]["algorithms"] == ["RS256"]
    assert keys["k1"]["fingerprint"] == thumbprint(rsa_keys.rsa)
    assert keys["e1"]["size"] == "P-256" and keys["e1"]["algorithms"] == ["ES256"]
    assert keys["k1"]["source"] == issuer.jwks_url

    assert as_text.code == 0, as_text
    assert as_text.out.startswith("jwt-middleware doctor: no problem found")
    for heading in ("versions", "JWT/JOSE libraries", "configuration", "reachability",
                    "clock", "keys"):  # fmt: skip
        assert f"\n{heading}\n" in as_text.out, heading
    assert thumbprint(rsa_keys.rsa) in as_text.out
    assert issuer.jwks_url in as_text.out


def test_pyjwt_of_the_dev_venv_is_reported_with_its_version(issuer: JWKSServer) -> None:
    """The dev venv holds a second JWT library, PyJWT; no known pitfall of its version."""
    run = doctor("--json", **issuer_env(issuer))
    libraries = {lib["name"]: lib for lib in run.json()["libraries"]}
    pyjwt = libraries["pyjwt"]
    assert pyjwt["version"] == metadata.version("PyJWT")
    assert pyjwt["imports"] == ["jwt"]
    assert pyjwt["pitfalls"] == [
        {"severity": p.severity, "text": p.text, "source": p.source}
        for p in PITFALLS
        if p.distribution == "pyjwt" and p.applies(pyjwt["version"])
    ]
    assert "asgi-jwt-bearer" in libraries and "joserfc" in libraries
    assert run.code == 0, run


# --- other JWT libraries, installed as dist-info directories ---------------------------


def test_python_jose_with_advisories_is_a_problem(issuer: JWKSServer, tmp_path: Path) -> None:
    old = fake_distribution(tmp_path / "old", "python-jose", "3.3.0")
    new = fake_distribution(tmp_path / "new", "python-jose", "3.5.0")
    env = issuer_env(issuer)
    vulnerable, maintained, text = run_all(
        [
            (("--json",), {"pythonpath": old, **env}),
            (("--json",), {"pythonpath": new, **env}),
            ((), {"pythonpath": old, **env}),
        ]
    )
    assert vulnerable.code == 1, vulnerable
    jose = next(lib for lib in vulnerable.json()["libraries"] if lib["name"] == "python-jose")
    assert jose["version"] == "3.3.0" and jose["location"] == str(old)
    severities = {p["text"].split(":")[0]: p["severity"] for p in jose["pitfalls"]}
    assert severities["CVE-2024-33663"] == "problem"
    assert severities["CVE-2024-33664"] == "problem"
    assert severities["long unmaintained"] == "warning"
    assert all(p["source"].startswith("https://") for p in jose["pitfalls"])
    problem = [c for c in vulnerable.checks("libraries") if c["name"] == "python-jose"]
    assert [c["status"] for c in problem] == ["problem"]

    # 3.5.0 has the fixes: its unmaintained years remain a warning, exit 0.
    assert maintained.code == 0, maintained
    jose = next(lib for lib in maintained.json()["libraries"] if lib["name"] == "python-jose")
    assert [p["severity"] for p in jose["pitfalls"]] == ["warning"]
    assert [c["status"] for c in maintained.checks("libraries") if c["name"] == "python-jose"] == [
        "warning"
    ]

    assert text.code == 1, text
    assert "PROBLEM  python-jose 3.3.0 (import jose)" in text.out
    assert "CVE-2024-33663" in text.out and "GHSA-6c5p-j8vq-pqhj" in text.out
    assert "1 problem(s)" in text.out.splitlines()[0]


def test_the_unrelated_jwt_middleware_distribution_is_a_problem(
    issuer: JWKSServer, tmp_path: Path
) -> None:
    """The index name jwt-middleware is another project's; it installs a
    jwt_middleware package of its own, which overwrites this one."""
    root = fake_distribution(tmp_path, "jwt-middleware", "2.0.0")
    run = doctor("--json", pythonpath=root, **issuer_env(issuer))
    assert run.code == 1, run
    checks = {c["name"]: c for c in run.checks("libraries")}
    assert checks["jwt-middleware"]["status"] == "problem"
    assert "overwrite each other" in checks["jwt-middleware"]["message"]
    conflict = checks["import:jwt_middleware"]
    assert conflict["status"] == "problem"
    assert "asgi-jwt-bearer and jwt-middleware" in conflict["message"]
    assert run.json()["problems"] == 2


# --- reachability -----------------------------------------------------------------------


def test_an_unreachable_source_exits_1_naming_it(issuer: JWKSServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    issuer.state.raw_body = b"<html>maintenance</html>"  # the key set only; discovery answers
    jwks_down, discovery_down, not_json = run_all(
        [
            (("--json", "--jwks-url", f"{closed}/jwks.json"), {}),
            (("--discovery-url", f"{closed}/.well-known/openid-configuration"), {}),
            (("--json",), issuer_env(issuer)),
        ]
    )
    assert jwks_down.code == 1, jwks_down
    (row,) = jwks_down.json()["reachability"]
    assert row["url"] == f"{closed}/jwks.json" and row["ok"] is False
    assert row["cause"] == "unreachable" and "http_status" not in row
    statuses = {c["section"]: c["status"] for c in jwks_down.json()["checks"]}
    assert statuses["reachability"] == "problem" and statuses["keys"] == "problem"
    assert statuses["clock"] == "warning"

    assert discovery_down.code == 1, discovery_down
    assert f"PROBLEM  {closed}/.well-known/openid-configuration could not be fetched" in (
        discovery_down.out
    )
    assert "(unreachable: ConnectError" in discovery_down.out

    assert not_json.code == 1, not_json
    discovery, jwks = not_json.json()["reachability"]
    assert discovery["ok"] is True
    assert (jwks["ok"], jwks["cause"], jwks["url"]) == (False, "not_json", issuer.jwks_url)
    assert "is not a JSON object" in jwks["error"]


def test_a_discovery_document_for_another_issuer_is_said_so(issuer: JWKSServer) -> None:
    """The discovery document was fetched and refused for its issuer: the key set is
    not tried, and the report says why (not "discovery gave no jwks_uri")."""
    issuer.state.issuer = "https://elsewhere.example.com"
    run = doctor("--json", **issuer_env(issuer))
    assert run.code == 1, run
    (discovery,) = run.json()["reachability"]
    assert discovery["cause"] == "issuer_mismatch"
    (jwks,) = [c for c in run.json()["checks"] if c["name"] == "jwks"]
    assert jwks["status"] == "problem"
    assert "refused for its issuer" in jwks["message"] and "no jwks_uri" not in jwks["message"]


def test_a_key_no_allowed_algorithm_can_use_is_a_warning(issuer: JWKSServer) -> None:
    """The key set holds an EC key while only RS256 is allowed: tokens it signs are
    refused, so the report warns, naming the setting by the flag it came from."""
    env = {**issuer_env(issuer), "JWT_ALGORITHMS": "RS256"}
    from_env, from_flag = run_all([(("--json",), env), (("--json", "--algorithms", "RS256"), env)])
    assert from_env.code == 0, from_env  # a warning, not a problem
    (warning,) = [c for c in from_env.json()["checks"] if c["name"] == "unusable:e1"]
    assert warning["status"] == "warning"
    assert "key e1 (EC P-256) verifies ES256, none of the allowed algorithms" in warning["message"]
    assert "add its algorithm to JWT_ALGORITHMS" in warning["message"]
    (flagged,) = [c for c in from_flag.json()["checks"] if c["name"] == "unusable:e1"]
    assert "add its algorithm to --algorithms" in flagged["message"]
    assert not [c for c in from_env.json()["checks"] if c["name"] == "unusable:k1"]


def test_credentials_in_a_source_url_are_not_printed() -> None:
    url = f"http://svc-user:pw-0f3c9a1e@127.0.0.1:{free_port()}/jwks.json?key=q-7d41b8e2"
    run = doctor("--jwks-url", url)
    assert run.code == 1, run
    for secret in ("svc-user", "pw-0f3c9a1e", "q-7d41b8e2"):
        assert secret not in run.out + run.err
    assert "[credentials removed]@127.0.0.1" in run.out


# --- secrets ----------------------------------------------------------------------------


def test_a_secret_is_never_printed_its_fingerprint_is() -> None:
    other = "flag-secret-7c1e0a9b44d2-0123456789abcdef"
    env_text, env_json, flag_json, invalid = run_all(
        [
            ((), {"JWT_SECRET": HS_SECRET, "JWT_ALGORITHMS": "HS256", "JWT_AUDIENCE": AUDIENCE}),
            (("--json",), {"JWT_SECRET": HS_SECRET, "JWT_ALGORITHMS": "HS256"}),
            (("--json", "--secret", other, "--algorithms", "HS256"), {"JWT_SECRET": HS_SECRET}),
            # Both a remote source and a secret: the middleware would not start.
            (("--json",), {"JWT_SECRET": HS_SECRET, "JWT_JWKS_URL": "https://idp.example/jwks"}),
        ]
    )
    for run in (env_text, env_json, flag_json, invalid):
        assert HS_SECRET not in run.out + run.err, run
        assert other not in run.out + run.err, run

    assert env_text.code == 0, env_text
    assert hmac_fingerprint(HS_SECRET) in env_text.out
    assert "environment (JWT_SECRET)" in env_text.out

    config = {row["setting"]: row for row in env_json.json()["configuration"]}
    assert config["secret"]["value"] == [f"(set; fingerprint {hmac_fingerprint(HS_SECRET)})"]
    (key,) = env_json.json()["keys"]
    assert (key["kty"], key["size"], key["fingerprint"]) == (
        "oct",
        None,
        hmac_fingerprint(HS_SECRET),
    )
    # No audience: a warning, not a problem.
    assert env_json.code == 0
    assert [c["status"] for c in env_json.checks("configuration")] == ["ok", "warning"]

    # The flag wins over the environment.
    config = {row["setting"]: row for row in flag_json.json()["configuration"]}
    assert config["secret"]["origin"] == "flag"
    assert config["secret"]["value"] == [f"(set; fingerprint {hmac_fingerprint(other)})"]

    assert invalid.code == 1, invalid
    (check,) = invalid.checks("configuration")
    assert check["status"] == "problem" and "would not start" in check["message"]


def test_a_key_source_flag_replaces_the_environments(issuer: JWKSServer, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": issuer.state.keys}))
    closed = f"http://127.0.0.1:{free_port()}/jwks.json"
    run = doctor("--json", "--jwks-file", str(jwks), "--algorithms", "RS256",
                 JWT_JWKS_URL=closed, JWT_AUDIENCE=AUDIENCE)  # fmt: skip
    assert run.code == 0, run
    config = {row["setting"]: row for row in run.json()["configuration"]}
    assert config["jwks_file"]["origin"] == "flag"
    assert config["jwks_url"]["value"] is None
    assert config["audience"]["origin"] == "environment (JWT_AUDIENCE)"
    overridden = [c for c in run.checks("configuration") if c["name"] == "overridden"]
    assert "JWT_JWKS_URL" in overridden[0]["message"]
    assert run.json()["reachability"] == []
    assert [k["source"] for k in run.json()["keys"]] == [f"jwks-file:{jwks}"] * 2


# --- the issuer's clock, from one fetch ---------------------------------------------------


class SkewedServer:
    """Serves one JWKS document whose Date header is ``skew`` seconds off (None: no Date)."""

    def __init__(self, document: dict[str, Any], skew: float | None) -> None:
        body = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send_header(self, keyword: str, value: str) -> None:
                if keyword.lower() == "date":
                    if skew is None:
                        return
                    value = formatdate(time.time() + skew, usegmt=True)
                super().send_header(keyword, value)

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SkewedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def test_the_clock_offset_against_the_leeway(rsa_keys: Keys) -> None:
    document = {"keys": [public_jwk(rsa_keys.rsa, "k1", "RS256")]}
    with (
        SkewedServer(document, 120) as ahead,
        SkewedServer(document, -20) as behind,
        SkewedServer(document, None) as dateless,
    ):
        common = ("--json", "--audience", AUDIENCE, "--leeway", "30")
        far, near, unknown = run_all(
            [
                ((*common, "--jwks-url", ahead.url), {}),
                ((*common, "--jwks-url", behind.url), {}),
                ((*common, "--jwks-url", dateless.url), {}),
            ]
        )
    assert far.code == 1, far
    clock = far.json()["clock"]
    assert 118 <= clock["offset_seconds"] <= 122 and clock["source"] == ahead.url
    (check,) = far.checks("clock")
    assert check["status"] == "problem"
    assert "ahead of this machine's" in check["message"] and "not yet valid" in check["message"]

    assert near.code == 0, near  # beyond half the leeway: a warning
    assert -22 <= near.json()["clock"]["offset_seconds"] <= -18
    (check,) = near.checks("clock")
    assert check["status"] == "warning" and "behind this machine's" in check["message"]

    assert unknown.code == 0, unknown
    assert unknown.json()["clock"] is None
    (check,) = unknown.checks("clock")
    assert check["status"] == "warning" and "no usable Date header" in check["message"]


# --- usage, and the pitfall table itself -----------------------------------------------------


def test_usage_errors_exit_2() -> None:
    run = doctor("--leeway", "soon")
    assert run.code == 2, run
    assert "usage: jwt-middleware doctor" in run.err
    assert doctor("--frobnicate").code == 2
    # A bad value in the environment is a finding about the configuration, not a usage error.
    bad_env = doctor(JWT_LEEWAY="soon", JWT_SECRET=HS_SECRET)
    assert bad_env.code == 1, bad_env
    assert "PROBLEM  the middleware would not start with this configuration: JWT_LEEWAY" in (
        bad_env.out
    )
    assert bad_env.out.count("(not examined: the configuration is not valid)") == 3
    assert HS_SECRET not in bad_env.out + bad_env.err


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("2.3.9", "2.4.0"),
        ("2.4.0rc1", "2.4.0"),
        ("2.4.0.dev3", "2.4"),
        ("2.4", "2.4.0.post1"),
        ("1.5.5", "1.5.6"),
        ("3.3.0", "3.4.0"),
        ("not-a-version", "0.1"),
    ],
)
def test_version_key_orders_versions(lower: str, higher: str) -> None:
    assert version_key(lower) < version_key(higher)
    assert version_key("2.4") == version_key("2.4.0") == version_key("v2.4.0")


def test_every_pitfall_has_a_source_and_its_bounds_apply() -> None:
    for pitfall in PITFALLS:
        assert pitfall.source.startswith("https://"), pitfall
        assert pitfall.severity in ("problem", "warning", "note")
        if pitfall.fixed is not None:
            assert pitfall.fixed in pitfall.text, pitfall  # the sentence names the fix
            assert not pitfall.applies(pitfall.fixed)
        if pitfall.introduced is not None:
            assert pitfall.applies(pitfall.introduced)
    pyjwt = Pitfall("pyjwt", "problem", "x", "https://x", introduced="1.5.0", fixed="2.4.0")
    assert [pyjwt.applies(v) for v in ("1.4.2", "1.5.0", "2.3.0", "2.4.0rc1", "2.4.0")] == [
        False,
        True,
        True,
        True,
        False,
    ]


# --- introspection (CONTRACT section 8) ------------------------------------------------


def test_doctor_checks_the_introspection_endpoint_and_credentials(tmp_path: Path) -> None:
    """Against oidc-provider: a dummy token answered ``active: false`` proves the endpoint
    is there and accepts the credentials; a wrong secret is refused, and never shown."""
    op = AuthorizationServer.start(tmp_path)
    try:
        good = doctor("--json", **op.env("rs-basic"))
        assert good.code == 0, good
        endpoint, credentials = good.checks("introspection")
        assert endpoint["status"] == "ok" and "answered" in endpoint["message"]
        assert credentials["status"] == "ok" and "'active': false" in credentials["message"]
        assert RS_SECRET not in good.out
        for client in ("rs-post", "rs-jwt"):
            run = doctor("--json", **op.env(client))
            assert [c["status"] for c in run.checks("introspection")] == ["ok", "ok"], run
        wrong = doctor(**op.env("rs-basic", JWT_INTROSPECTION_CLIENT_SECRET="wrong-secret-42"))
        assert wrong.code == 1, wrong
        assert "introspection" in wrong.out and "refused" in wrong.out
        assert "client secret" in wrong.out and "wrong-secret-42" not in wrong.out
    finally:
        op.stop()


def test_doctor_reports_an_introspection_endpoint_that_fails(tmp_path: Path) -> None:
    key = tmp_path / "pub.pem"
    key.write_text(public_pem(rsa.generate_private_key(65537, 2048)))
    with FaultEndpoint() as endpoint:
        env = {
            "JWT_PUBLIC_KEY_FILE": str(key),
            "JWT_INTROSPECTION_URL": endpoint.url,
            "JWT_INTROSPECTION_CLIENT_ID": "rs",
            "JWT_INTROSPECTION_CLIENT_SECRET": "secret",
        }
        endpoint.state.status, endpoint.state.raw_body = 502, b"down"
        down = doctor("--json", **env)
        assert down.code == 1, down
        statuses = {c["name"]: c for c in down.checks("introspection")}
        assert statuses["endpoint"]["status"] == "problem"
        assert "introspection_unavailable" in statuses["endpoint"]["message"]
        assert statuses["credentials"]["status"] == "warning"
        endpoint.state.status, endpoint.state.raw_body = 200, None
        endpoint.state.redirect_to = "https://elsewhere.example/introspect"
        moved = doctor("--json", **env)
        message = {c["name"]: c for c in moved.checks("introspection")}["endpoint"]["message"]
        assert "redirect" in message and moved.code == 1
        endpoint.state.redirect_to = None
        endpoint.state.raw_body = b'{"active": true}'
        fooled = doctor("--json", **env)
        assert {c["name"]: c for c in fooled.checks("introspection")}["credentials"][
            "status"
        ] == "problem"
        assert endpoint.calls() == 3
        assert all(call.form["token"].startswith("jwt-middleware-doctor-") for call in
                   endpoint.state.calls)  # fmt: skip
