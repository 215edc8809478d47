"""Shared test helpers, imported explicitly (``from helpers.keys import ISSUER``).

- :mod:`helpers.keys`: the issuer and audience, key material, PEM and base64url.
- :mod:`helpers.tokens`: claims and tokens (signed by PyJWT, or assembled raw).
- :mod:`helpers.apps`: an app behind the middleware (``build_app``), raw ASGI calls.
- :mod:`helpers.dpop`: DPoP proofs signed locally, thumbprints computed independently.
- :mod:`helpers.signers`, :mod:`helpers.strategies`, :mod:`helpers.keysets`: signing
  arbitrary inputs, the Hypothesis strategies and small key sets of the stage tests.
- :mod:`helpers.jwks_server`: a real JWKS / discovery server on 127.0.0.1.
- :mod:`helpers.redis_server`, :mod:`helpers.browser`: a real redis-server and a
  headless Chromium, for the server tests.
- :mod:`helpers.procs`: server processes (uvicorn, the example app) on 127.0.0.1.
- :mod:`helpers.cases`: the table of rejection cases, one per contract reason.
- :mod:`helpers.logs`: a real JSON logger and independently computed fingerprints.
- :mod:`helpers.prometheus`: promtool and the alert rules' expressions.

Fixtures live in ``tests/conftest.py``; nothing here is a fixture.
"""
