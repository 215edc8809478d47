"""Example FastAPI app behind jwt_middleware, with an embedded development issuer."""

from .app import create_app

__all__ = ["create_app"]
