"""panva's oidc-provider (npm) as the real authorization server of the introspection tests.

``AuthorizationServer.start(tmp_path)`` runs ``node tests/oidc_provider/server.mjs``
on a free port of 127.0.0.1 (tests/helpers/procs.py starts and stops it by PID) and
waits for its discovery document. It issues opaque access tokens by the client
credentials grant (client ``app``; ``resource`` urn:orders-api or urn:other-api
gives the audience orders-api or other-api; urn:jwt-api a JWT access token for
orders-api; a DPoP proof binds the token), answers
RFC 7662 introspection for one resource server client per authentication method
(``rs-basic``, ``rs-post``, ``rs-jwt``, ``rs-signed`` for RFC 9701 signed answers)
and revokes tokens (RFC 7009). Its signing key and rs-jwt's key are made here, so
the tests hold the private key of rs-jwt and the public key of the server.

The npm package is installed by scripts/ensure_oidc_provider.sh (``make test`` runs
it); without it the tests fail saying so.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from helpers.keys import private_pem
from helpers.procs import HOST, TESTS_DIR, ServerProcess, child_env, free_port

SERVER_DIR = TESTS_DIR / "oidc_provider"
#: The resource servers' client secret: VSCHARs that RFC 6749 2.3.1 form-encodes, so a
#: client that skips the encoding is refused.
RS_SECRET = "s3cr:t+%&= /-0123456789~"
APP_ID, APP_SECRET = "app", "app-secret-0123456789"
ORDERS, OTHER, JWT_API = "urn:orders-api", "urn:other-api", "urn:jwt-api"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node (Node.js 20) is not on PATH; the introspection tests need it")
    return found


def ensure_installed() -> None:
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "oidc-provider is not installed: run scripts/ensure_oidc_provider.sh (make test does)"
        )


@dataclass
class AuthorizationServer:
    process: ServerProcess
    rs_key: rsa.RSAPrivateKey
    rs_key_file: Path

    @classmethod
    def start(cls, tmp: Path, *, token_ttl: int = 600) -> AuthorizationServer:
        ensure_installed()
        signing = RSAKey.generate_key(2048, {"kid": "op-1", "alg": "RS256", "use": "sig"})
        rs_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rs_jose = RSAKey.import_key(rs_key.public_key())
        rs_public = dict(rs_jose.as_dict(private=False))
        # kid: the RFC 7638 thumbprint, which the middleware's assertions name by default
        rs_public.update(kid=rs_jose.thumbprint(), alg="RS256", use="sig")
        key_file = tmp / "rs-jwt.pem"
        key_file.write_text(private_pem(rs_key))
        port = free_port()
        env = child_env(
            OP_PORT=str(port),
            OP_SIGNING_JWK=json.dumps(signing.as_dict(private=True)),
            OP_RS_JWK=json.dumps(rs_public),
            OP_SECRET=RS_SECRET,
            OP_TOKEN_TTL=str(token_ttl),
            NODE_ENV="production",
        )
        process = ServerProcess.start(
            [node(), "server.mjs"],
            port=port,
            env=env,
            cwd=SERVER_DIR,
            log_path=tmp / f"oidc-provider-{port}.log",
            name="oidc-provider",
        )
        try:
            process.wait_healthy("/.well-known/openid-configuration", timeout=30)
        except Exception:
            process.stop()
            raise
        return cls(process, rs_key, key_file)

    @property
    def issuer(self) -> str:
        return f"http://{HOST}:{self.process.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    def token(self, resource: str = ORDERS, scope: str = "read admin", **headers: str) -> str:
        """A fresh access token for ``app`` by the client credentials grant: opaque, or a
        JWT (RFC 9068) for the resource ``JWT_API``."""
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            auth=(APP_ID, APP_SECRET),
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        token: str = body["access_token"]
        assert (token.count(".") == 2) == (resource == JWT_API), token[:20]
        return token

    def revoke(self, token: str) -> None:
        response = httpx.post(
            f"{self.issuer}/token/revocation",
            data={"token": token},
            auth=(APP_ID, APP_SECRET),
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def env(self, client: str = "rs-basic", **extra: str) -> dict[str, str]:
        """JWT_* variables for a middleware that introspects at this server as ``client``."""
        values = {
            "JWT_JWKS_URL": self.jwks_url,
            "JWT_ISSUER": self.issuer,
            "JWT_AUDIENCE": "orders-api",
            "JWT_INTROSPECTION_URL": self.introspection_url,
            "JWT_INTROSPECTION_CLIENT_ID": client,
        }
        if client == "rs-jwt":
            values["JWT_INTROSPECTION_AUTH"] = "private_key_jwt"
            values["JWT_INTROSPECTION_KEY_FILE"] = str(self.rs_key_file)
        else:
            values["JWT_INTROSPECTION_CLIENT_SECRET"] = RS_SECRET
            if client == "rs-post":
                values["JWT_INTROSPECTION_AUTH"] = "client_secret_post"
        values.update(extra)
        return values

    def stop(self) -> None:
        self.process.stop()
