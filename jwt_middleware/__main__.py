"""``python -m jwt_middleware``: the jwt-middleware command line."""

from .cli import main

raise SystemExit(main())
