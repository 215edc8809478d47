"""The pytest plugin of jwt_middleware, registered through the package's ``pytest11``
entry point: installing the package makes the ``jwt_issuer`` fixture available.

Only this module imports pytest; :mod:`jwt_middleware.testing` does not.
"""

from __future__ import annotations

import pytest

from . import TestIssuer


@pytest.fixture
def jwt_issuer() -> TestIssuer:
    """A fresh :class:`~jwt_middleware.testing.TestIssuer` (RS256, issuer
    ``https://issuer.test``, audience ``test-api``): its own keys, for this test only."""
    return TestIssuer()
