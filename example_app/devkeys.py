"""The development issuer's private keys, shared by every worker of one server.

With one process the keys are made in memory at startup. With several
workers (``uvicorn example_app.app:app --workers N``, ``python -m
example_app --workers N``) each worker is its own process, so keys made in
memory would differ between them and a token minted by one worker would be
``signature_invalid`` on the others. Instead every worker calls
:func:`load_or_create` on one key file:

- ``DEV_ISSUER_KEY_FILE`` when set (``python -m example_app --workers N``
  sets it to a fresh private directory of its own and removes it at exit);
- otherwise, in a worker started by a ``multiprocessing`` supervisor (what
  uvicorn's ``--workers`` and ``--reload`` use), a file named after the
  supervisor's PID in a private directory under the temporary directory;
- otherwise (one process) no file: keys in memory, as before.

The first process writes the keys to a temporary file (mode 0600, from
``mkstemp``) and publishes it with ``os.link``, which fails if the name
exists: exactly one process creates the file, and no process can ever read it
half-written, because the name only appears once the content is complete.
The losers of the race read the winner's file. Directories are created 0700
and refused if another user owns them or others can read them.

The private keys never leave this file and the process memory: the issuer
publishes only the public JWKS.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

KEY_FILE_VARIABLE = "DEV_ISSUER_KEY_FILE"
FORMAT = "example_app-dev-issuer-keys/1"
_SUPERVISOR_PREFIX = "supervisor-"


class KeyFileError(RuntimeError):
    """The key file or its directory is unsafe or unreadable."""


@dataclass(frozen=True)
class DevKeys:
    """The issuer's current RSA and EC keys and the RSA key it "retired"."""

    rsa: RSAPrivateKey
    ec: EllipticCurvePrivateKey
    retired_rsa: RSAPrivateKey

    @classmethod
    def generate(cls) -> DevKeys:
        return cls(
            rsa=generate_private_key(65537, 2048),
            ec=ec.generate_private_key(ec.SECP256R1()),
            retired_rsa=generate_private_key(65537, 2048),
        )

    def to_json(self) -> bytes:
        def pem(key: RSAPrivateKey | EllipticCurvePrivateKey) -> str:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")

        doc = {
            "format": FORMAT,
            "rsa": pem(self.rsa),
            "ec": pem(self.ec),
            "retired_rsa": pem(self.retired_rsa),
        }
        return json.dumps(doc, indent=1).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes) -> DevKeys:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")

        def load(name: str) -> object:
            value = doc.get(name)
            if not isinstance(value, str):
                raise ValueError(f"{name}: missing")
            return serialization.load_pem_private_key(value.encode("ascii"), password=None)

        current, ec_key, retired = load("rsa"), load("ec"), load("retired_rsa")
        if not isinstance(current, RSAPrivateKey) or not isinstance(retired, RSAPrivateKey):
            raise ValueError("rsa, retired_rsa: not RSA private keys")
        if not isinstance(ec_key, EllipticCurvePrivateKey):
            raise ValueError("ec: not an EC private key")
        return cls(rsa=current, ec=ec_key, retired_rsa=retired)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only this user can use: created 0700, else checked."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=False)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise KeyFileError(f"{path} is not a directory")
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise KeyFileError(
            f"{path} must be a directory owned by this user with mode 0700 "
            f"(found uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o})"
        )
    return path


def shared_dir() -> Path:
    """The private directory for supervisor-keyed key files, under the temporary directory."""
    return private_dir(Path(tempfile.gettempdir()) / f"example_app-dev-issuer-{os.geteuid()}")


def key_file_for(env: Mapping[str, str]) -> Path | None:
    """Where this process's workers share their keys (see the module docstring), or None."""
    explicit = env.get(KEY_FILE_VARIABLE, "").strip()
    if explicit:
        return Path(explicit)
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return None
    directory = shared_dir()
    _prune(directory)
    return directory / f"{_SUPERVISOR_PREFIX}{parent.pid}.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune(directory: Path) -> None:
    """Remove the key files of supervisors that are gone."""
    for path in directory.glob(f"{_SUPERVISOR_PREFIX}*.json"):
        pid = path.stem.removeprefix(_SUPERVISOR_PREFIX)
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _read(path: Path) -> DevKeys:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{path} is not a regular file")
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise KeyFileError(
                f"{path} holds private keys: it must be owned by this user with mode 0600 "
                f"(found uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o})"
            )
        data = f.read()
    try:
        return DevKeys.from_json(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a development issuer key file ({exc})") from exc


def load_or_create(path: Path) -> tuple[DevKeys, bool]:
    """The keys in ``path``, creating the file if absent; True if this call created it.

    Safe when several processes call it at once: one creates, all get its keys.
    """
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    directory = private_dir(path.parent) if not path.parent.exists() else path.parent
    keys = DevKeys.generate()
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".keys-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(keys.to_json())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)  # atomic; fails if another process published first
        except FileExistsError:
            return _read(path), False
    finally:
        os.unlink(temporary)
    return keys, True
