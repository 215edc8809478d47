"""The token stages: a compact JWS verified on one path (docs/architecture.md).

``structure`` -> ``header`` (and ``tokentype``) -> ``selection`` -> the key's
primitive (``signature`` explains a failure) -> ``claims`` (``claimhints`` for the
hints), composed by ``verifier.Verifier`` with its ``cache``; ``issuers`` routes a
token to one verifier per issuer; ``idp`` and ``idprules`` hold the identity
providers' rules; ``scopes`` is the one scope decision.
"""
