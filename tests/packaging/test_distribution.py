"""The distribution (issue 12, part 5): ``asgi-jwt-bearer``, built and inspected.

The wheel is built from this checkout with ``pip wheel --no-deps`` and the
project's own backend (hatchling, from the dev extra; no build isolation, so
nothing is downloaded). It must hold the library only (``jwt_middleware``, no
``example_app``), the MIT LICENSE, project URLs and the ``jwt-middleware``
command; installed on its own (away from the checkout) it must import, report
its version and leave ``example_app`` out. The Dockerfile's dependency layer
(pyproject.toml and LICENSE with stub sources) must build too. No install line
may name ``jwt-middleware`` as the distribution: that index name is another
project's.
"""

from __future__ import annotations

import email.parser
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from email.message import Message
from importlib import metadata
from pathlib import Path

import pytest

import jwt_middleware

REPO_DIR = Path(__file__).resolve().parents[2]
DIST = "asgi-jwt-bearer"
WHEEL_DIST = DIST.replace("-", "_")
SCRIPT = Path(sys.executable).parent / "jwt-middleware"


def build_wheel(source: Path, out: Path) -> Path:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(REPO_DIR, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def read(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(name).decode("utf-8")


def dist_info() -> str:
    return f"{WHEEL_DIST}-{jwt_middleware.__version__}.dist-info"


@pytest.fixture(scope="module")
def meta(wheel: Path) -> Message:
    return email.parser.Parser().parsestr(read(wheel, f"{dist_info()}/METADATA"))


def test_the_version_is_one_number_everywhere(wheel: Path) -> None:
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    assert project["name"] == DIST
    assert jwt_middleware.__version__ == project["version"] == metadata.version(DIST)
    assert wheel.name == f"{WHEEL_DIST}-{project['version']}-py3-none-any.whl"


def test_the_wheel_holds_the_library_only(names: list[str]) -> None:
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"jwt_middleware", dist_info()}, sorted(top)
    assert not any(name.startswith("example_app") for name in names)
    shipped = {name for name in names if name.startswith("jwt_middleware/")}
    source = {
        f"jwt_middleware/{path.name}"
        for path in (REPO_DIR / "jwt_middleware").iterdir()
        if path.suffix == ".py" or path.name == "py.typed"
    }
    assert "jwt_middleware/py.typed" in source
    assert source <= shipped, sorted(source - shipped)
    assert all(name.endswith((".py", "py.typed")) for name in shipped), sorted(shipped)


def test_the_wheel_carries_the_mit_license(names: list[str], wheel: Path) -> None:
    license_name = f"{dist_info()}/licenses/LICENSE"
    assert license_name in names
    text = read(wheel, license_name)
    assert text == (REPO_DIR / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the jwt_middleware authors" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_metadata_names_license_urls_and_extras(meta: Message) -> None:
    assert meta["Name"] == DIST
    assert meta["Version"] == jwt_middleware.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.11"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values()), urls
    assert {"fastapi", "example", "dev"} <= set(meta.get_all("Provides-Extra") or [])
    requires = meta.get_all("Requires-Dist") or []
    for package in ("starlette", "joserfc", "cryptography", "httpx", "structlog"):
        assert any(r.startswith(package) for r in requires), (package, requires)
    assert any(r.startswith("fastapi") and "extra == 'fastapi'" in r for r in requires)
    # The README serves its FastAPI example with uvicorn: the fastapi extra brings it.
    assert any(r.startswith("uvicorn") and "extra == 'fastapi'" in r for r in requires)


def test_the_command_is_declared(wheel: Path) -> None:
    entry_points = read(wheel, f"{dist_info()}/entry_points.txt")
    assert "[console_scripts]" in entry_points
    assert "jwt-middleware = jwt_middleware.cli:main" in entry_points


def test_the_pytest_plugin_is_declared_and_shipped(wheel: Path, names: list[str]) -> None:
    """Installing the package gives pytest the jwt_issuer fixture (docs/testing.md)."""
    entry_points = read(wheel, f"{dist_info()}/entry_points.txt")
    assert "[pytest11]\njwt_middleware = jwt_middleware.testing.plugin" in entry_points
    shipped = {name for name in names if name.startswith("jwt_middleware/testing/")}
    source = {
        f"jwt_middleware/testing/{path.name}"
        for path in (REPO_DIR / "jwt_middleware" / "testing").glob("*.py")
    }
    assert "jwt_middleware/testing/plugin.py" in source
    assert source == shipped, sorted(source ^ shipped)
    installed = [
        e for e in metadata.entry_points(group="pytest11") if e.dist and e.dist.name == DIST
    ]
    assert [(e.name, e.value) for e in installed] == [
        ("jwt_middleware", "jwt_middleware.testing.plugin")
    ]


def test_version_option_of_the_installed_command() -> None:
    expected = f"jwt-middleware {metadata.version(DIST)} ({DIST})\n"
    for argv in ([str(SCRIPT), "--version"], [sys.executable, "-m", "jwt_middleware", "--version"]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO_DIR)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == expected, proc.stdout


# Runs with -S (no site-packages .pth files, so not the editable install's path to the
# checkout) and the cwd elsewhere: only the unpacked wheel and the venv's libraries.
INSTALLED = """
import importlib.util, json, sys
from importlib import metadata
sys.path[:0] = [sys.argv[1]]
sys.path.append(sys.argv[2])
import jwt_middleware, jwt_middleware.fastapi
from jwt_middleware.cli import version_text
print(json.dumps({
    "file": jwt_middleware.__file__,
    "version": metadata.version("asgi-jwt-bearer"),
    "dunder": jwt_middleware.__version__,
    "text": version_text(),
    "example_app": importlib.util.find_spec("example_app") is not None,
}))
"""


def test_the_installed_wheel_works_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", INSTALLED, str(target), site],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["file"]).is_relative_to(target), found
    assert found["version"] == found["dunder"] == jwt_middleware.__version__
    assert found["text"] == f"jwt-middleware {jwt_middleware.__version__} ({DIST})"
    assert found["example_app"] is False, "example_app must not be installed"


def test_the_dockerfile_dependency_layer_builds(tmp_path: Path) -> None:
    """The Dockerfile installs '.[example]' from its first COPY's files and stub sources."""
    dockerfile = (REPO_DIR / "Dockerfile").read_text()
    first_copy = re.search(r"^COPY (.+) \./$", dockerfile, re.MULTILINE)
    assert first_copy, "the Dockerfile has no 'COPY ... ./'"
    stage = tmp_path / "stage"
    stage.mkdir()
    for name in first_copy.group(1).split():
        shutil.copy(REPO_DIR / name, stage / name)
    assert "touch README.md jwt_middleware/__init__.py" in dockerfile
    (stage / "jwt_middleware").mkdir()
    (stage / "jwt_middleware" / "__init__.py").touch()
    (stage / "README.md").touch()
    built = build_wheel(stage, tmp_path / "out")
    assert built.name.startswith(f"{WHEEL_DIST}-")


def test_fastapi_module_without_fastapi_names_this_distribution() -> None:
    code = "import sys; sys.modules['fastapi'] = None; import jwt_middleware.fastapi"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO_DIR
    )
    assert proc.returncode == 1
    assert "ImportError: jwt_middleware.fastapi needs FastAPI" in proc.stderr
    assert "pip install 'asgi-jwt-bearer[fastapi]'" in proc.stderr


INSTALL_OF_OTHER = re.compile(r"pip install[^\n`]*?(?<![\w.-])jwt-middleware(?![\w-])")
VERSION_OF_OTHER = re.compile(r"""(?:version|distribution|metadata)\(\s*["']jwt-middleware["']""")


SKIPPED_DIRS = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", "__pycache__"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".sh", ".yml", ".yaml"}


def test_no_install_line_names_the_other_project() -> None:
    checked = 0
    for path in sorted(REPO_DIR.rglob("*")):
        parts = set(path.relative_to(REPO_DIR).parts)
        if parts & SKIPPED_DIRS or not path.is_file():
            continue
        if path.suffix not in TEXT_SUFFIXES and path.name not in {"Dockerfile", "Makefile"}:
            continue
        text = path.read_text(errors="replace")
        checked += 1
        for pattern in (INSTALL_OF_OTHER, VERSION_OF_OTHER):
            match = pattern.search(text)
            assert match is None, f"{path.relative_to(REPO_DIR)}: {match.group(0) if match else ''}"
    assert checked > 20
