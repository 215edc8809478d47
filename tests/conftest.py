"""Fixtures only; the helpers they use live in tests/helpers/ (imported explicitly)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.apps import Harness, build_app
from helpers.cases import Ctx, jwk_of
from helpers.jwks_server import JWKSServer
from helpers.keys import AUDIENCE, ISSUER, Keys, public_pem

from jwt_middleware import Settings


@pytest.fixture(scope="session")
def keys() -> Keys:
    """One private key of each type, generated once per test session."""
    return Keys.generate()


@pytest.fixture
def rsa_settings(keys: Keys) -> Settings:
    return Settings(public_keys=(public_pem(keys.rsa),), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def harness_factory() -> Callable[..., Harness]:
    return build_app


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    """A real JWKS / discovery server on 127.0.0.1 (tests/helpers/jwks_server.py), for one test."""
    with JWKSServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def ctx(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Ctx:
    """What the rejection cases of helpers.cases are built from: the keys and two JWKS files."""
    base: Path = tmp_path_factory.mktemp("jwks")
    ab = base / "ab.json"
    ab.write_text(json.dumps({"keys": [jwk_of(keys.rsa, "a"), jwk_of(keys.rsa2, "b")]}))
    rs384 = base / "rs384.json"
    rs384.write_text(json.dumps({"keys": [jwk_of(keys.rsa, "k384", alg="RS384")]}))
    return Ctx(keys, str(ab), str(rs384))
