"""A user's test suite written only from docs/testing.md passes, with sockets blocked.

The page's Python blocks are the files of a small project (each starts with a comment
naming its file). They are written, exactly as shown, into an empty directory with a
``conftest.py`` that refuses every connection except to 127.0.0.1 (and a test file
proving that it does), and pytest runs on them in a new process: the ``jwt_issuer``
fixture comes from the installed package's ``pytest11`` entry point, nothing else.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from jwt_middleware.testing import NOT_FROM_A_TOKEN, scenarios

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "testing.md"
_FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_FILE = re.compile(r"# ([a-z_]+\.py)\n")

#: Refuses connections to anything but the loopback address, and name lookups of
#: anything but it: what "sockets blocked except to 127.0.0.1" means here.
SOCKET_GUARD = """
import socket

import pytest

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_connect, _connect_ex, _getaddrinfo = (
    socket.socket.connect,
    socket.socket.connect_ex,
    socket.getaddrinfo,
)


class NetworkBlocked(OSError):
    pass


def _allowed(address):
    return not isinstance(address, tuple) or address[0] in LOOPBACK


def guarded_connect(self, address):
    if not _allowed(address):
        raise NetworkBlocked(f"network access refused in this test suite: {address!r}")
    return _connect(self, address)


def guarded_connect_ex(self, address):
    if not _allowed(address):
        raise NetworkBlocked(f"network access refused in this test suite: {address!r}")
    return _connect_ex(self, address)


def guarded_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in LOOPBACK:
        raise NetworkBlocked(f"name lookup refused in this test suite: {name!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = guarded_connect
socket.socket.connect_ex = guarded_connect_ex
socket.getaddrinfo = guarded_getaddrinfo
"""

GUARD_TEST = """
import socket

import httpx
import pytest


@pytest.mark.parametrize("address", [("192.0.2.1", 443), ("8.8.8.8", 53), ("10.0.0.1", 80)])
def test_the_network_is_blocked(address):
    with socket.socket() as sock, pytest.raises(OSError, match="refused in this test suite"):
        sock.connect(address)


def test_name_lookups_are_blocked():
    with pytest.raises(httpx.ConnectError, match="refused in this test suite"):
        httpx.get("https://example.com/")
"""


def project_files() -> dict[str, str]:
    """The page's Python blocks by file name, in order."""
    files: dict[str, str] = {}
    for block in _FENCE.findall(PAGE.read_text(encoding="utf-8")):
        named = _FILE.match(block)
        assert named, f"docs/testing.md: a Python block without its file name: {block[:60]!r}"
        assert named.group(1) not in files, f"docs/testing.md: {named.group(1)} shown twice"
        files[named.group(1)] = block
    return files


def test_the_page_is_a_project_of_an_app_and_its_tests() -> None:
    files = project_files()
    assert set(files) == {
        "app.py",
        "test_tokens.py",
        "test_rotation.py",
        "test_dpop.py",
        "test_httpx.py",
    }
    for name, code in files.items():
        assert "import jwt_middleware.testing.plugin" not in code, name
        assert "pytest_plugins" not in code and "def jwt_issuer" not in code, name


def test_a_suite_written_only_from_the_page_passes_with_sockets_blocked(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name, code in project_files().items():
        (project / name).write_text(code, encoding="utf-8")
    (project / "conftest.py").write_text(SOCKET_GUARD, encoding="utf-8")
    (project / "test_zz_network_guard.py").write_text(GUARD_TEST, encoding="utf-8")
    (project / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings =\n    error::pytest.PytestCollectionWarning\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON", "JWT_"))}
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, output
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314 - our own report
    assert suite is not None, output
    counts = {
        name: int(suite.get(name, "0")) for name in ("tests", "failures", "errors", "skipped")
    }
    expected = len(scenarios()) + 5 + 4  # the scenarios, the page's other tests, the guard's
    assert counts == {"tests": expected, "failures": 0, "errors": 0, "skipped": 0}, output
    ran = {case.get("name", "").split("[")[0] for case in suite.iter("testcase")}
    assert {
        "test_a_valid_token_passes",
        "test_each_bad_token_is_refused_saying_why",
        "test_a_missing_scope_and_a_missing_token",
        "test_a_key_rotation",
        "test_a_dpop_request",
        "test_with_httpx",
        "test_the_network_is_blocked",
        "test_name_lookups_are_blocked",
    } == ran


def test_the_page_names_every_scenario_and_explains_every_other_reason() -> None:
    text = PAGE.read_text(encoding="utf-8")
    listed, explained = text.split("The scenarios, in the contract's order", 1)[1].split(
        "No token alone causes the other reasons", 1
    )
    made = set(scenarios("RS256")) | set(scenarios("HS256"))
    assert {r.value for r in made} == set(re.findall(r"`([a-z0-9_]+)`", listed)) - {"exp"}
    rows = [line for line in explained.splitlines() if line.startswith("| `")]
    in_rows = {name for row in rows for name in re.findall(r"`([a-z0-9_]+)`", row.split("|")[1])}
    assert in_rows == {r.value for r in NOT_FROM_A_TOKEN}
