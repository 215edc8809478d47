"""The request stages: what JWTAuthMiddleware runs for each request (docs/architecture.md).

``presentation`` (with ``extract``, ``locations``, ``websocket`` and ``paths``) ->
``verification`` -> ``binding`` -> ``status`` -> ``authorization`` -> ``admission``
(and ``responses`` for a refusal); ``stages`` says what a stage is. ``metadata``
serves the RFC 9728 document beside them.
"""
