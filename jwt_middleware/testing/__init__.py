"""Test helpers for applications that use jwt_middleware (CONTRACT section 11).

FOR TESTS ONLY: a :class:`TestIssuer` keeps its private keys in memory and signs
whatever it is asked to. Importing this module needs no network and no pytest.

    TestIssuer          an issuer with its own keys: .token(), .jwks(), .settings(),
                        .scenario(reason), .rotate(), .retire(), .serve(), DPoP
    assert_rejected     a response is the contract's refusal for one reason
    scenarios           the reasons .scenario() covers, for an algorithm
    NOT_FROM_A_TOKEN    the other reasons, and why no token alone causes them
    SigningKey          a private key with its kid (TestIssuer.from_keys)
    DPoPKey             a DPoP client's key pair

The pytest plugin (``jwt_middleware.testing.plugin``, registered through the
package's ``pytest11`` entry point) adds the ``jwt_issuer`` fixture: a fresh
``TestIssuer()``. See docs/testing.md.
"""

from __future__ import annotations

from .assertions import assert_rejected
from .issuer import ACCESS_TOKEN_TYPE, DEFAULT_AUDIENCE, DEFAULT_ISSUER, TestIssuer
from .keys import SigningKey
from .proofs import DPoPKey
from .scenarios import NOT_FROM_A_TOKEN, scenarios, second_algorithm

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "DEFAULT_AUDIENCE",
    "DEFAULT_ISSUER",
    "NOT_FROM_A_TOKEN",
    "DPoPKey",
    "SigningKey",
    "TestIssuer",
    "assert_rejected",
    "scenarios",
    "second_algorithm",
]
