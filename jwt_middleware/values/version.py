"""This package's version (the distribution's, asgi-jwt-bearer, when installed)."""

from __future__ import annotations

from typing import Final

VERSION: Final = "0.1.0"
