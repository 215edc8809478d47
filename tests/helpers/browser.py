"""A real headless Chromium for the browser tests, and the local TLS it trusts.

``LocalTLS.create(directory)`` makes a certificate authority and, signed by it, a
server certificate for ``localhost`` and ``127.0.0.1`` (files for uvicorn's
``--ssl-certfile``/``--ssl-keyfile``, the CA for an HTTP client's ``verify``).

``chromium()`` starts Debian's ``chromium`` through Debian's ``chromedriver`` with
Selenium, both named by path: Selenium Manager, which would download a driver or a
browser, is never consulted (it is made to fail if it were). When either binary is
missing, scripts/ensure_chromium.sh installs the Debian packages (``make test`` runs
it first); the tests skip only when that cannot be done. See :data:`FLAGS` for how
the browser is kept off the network.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from helpers.procs import HOST, LOG_TAIL, REPO_DIR, ServerFailed, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ENSURE_SCRIPT = REPO_DIR / "scripts" / "ensure_chromium.sh"
#: How long a page load, a script or an expected state may take.
WAIT = 10.0

#: The browser's switches. No sandbox (tests run as root in a container), no GPU, no
#: /dev/shm, no QUIC; background fetches off (component updates, sync, network time,
#: autofill, translation, hints, preconnecting to the search engine). Debian's build
#: still tries a few Google and search hosts at start (sign-in's account list, an
#: extension update check, the search engine's start page): ``--host-resolver-rules``
#: makes every host name but ``localhost`` fail inside the browser, before any DNS
#: query or connection, so nothing leaves the machine; and ``localhost`` is 127.0.0.1,
#: where the servers listen (not ::1). IP literals (``127.0.0.1``) are not rewritten.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication,"
    "OptimizationHints,MediaRouter,Translate,PreconnectToSearch",
    "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)

T = TypeVar("T")


@dataclass(frozen=True)
class LocalTLS:
    """A local CA and a server certificate it signed, for localhost and 127.0.0.1."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    #: base64 of the SHA-256 of the server key's SubjectPublicKeyInfo (Chromium's
    #: ``--ignore-certificate-errors-spki-list`` form).
    spki_sha256: str

    @classmethod
    def create(cls, directory: Path) -> LocalTLS:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwt_middleware test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        ca_file, cert_file, key_file = (
            directory / "ca.pem",
            directory / "server.pem",
            directory / "server.key",
        )
        ca_file.write_bytes(ca.public_bytes(pem))
        cert_file.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
        key_file.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
        return cls(ca_file, cert_file, key_file, digest)

    def uvicorn_args(self) -> tuple[str, ...]:
        return ("--ssl-certfile", str(self.cert_file), "--ssl-keyfile", str(self.key_file))

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def wait_https(server: ServerProcess, tls: LocalTLS, path: str = "/healthz") -> None:
    """Poll ``https://127.0.0.1:port{path}`` (verified against the local CA) until 200."""
    deadline = time.monotonic() + 20.0
    last: object = None
    context = tls.client_context()
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"{server.name} exited:\n{server.output(LOG_TAIL)}")
        try:
            r = httpx.get(f"https://{HOST}:{server.port}{path}", verify=context, timeout=1.0)
            if r.status_code == 200:
                return
            last = r.status_code
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    raise ServerFailed(f"{server.name}: no 200 from {path} (last: {last!r}):\n{server.output()}")


def ensure_binaries() -> None:
    """Install Debian's chromium and chromium-driver when missing (as ``make test``
    does); skip the test when that cannot be done."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    shell = shutil.which("sh") or "/bin/sh"
    done = subprocess.run(
        [shell, str(ENSURE_SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode == 0 and Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    why = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
    pytest.skip(
        f"chromium/chromedriver not installed and could not be installed ({why}): "
        "sh scripts/ensure_chromium.sh (or apt-get install chromium chromium-driver); "
        "make test installs them"
    )


@contextmanager
def chromium(
    profile: Path,
    *extra_flags: str,
    prefs: dict[str, Any] | None = None,
    log_file: Path | None = None,
) -> Iterator[Any]:
    """A headless Chromium under Selenium, its profile in ``profile`` (fresh), with these
    profile preferences (``prefs``); quit on exit."""
    ensure_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", *extra_flags):
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(log_file) if log_file else None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
        driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT)
        yield driver
    finally:
        driver.quit()


def _no_selenium_manager(*args: object, **kwargs: object) -> dict[str, str]:
    raise AssertionError("Selenium Manager was consulted: it may download a driver or browser")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something other than None or False."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got is not None and got is not False:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
