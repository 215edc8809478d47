# The jwt_middleware example app (FastAPI + uvicorn) with its development issuer.
#
#   docker build -t jwt-example . && docker run -p 8000:8000 jwt-example
#
# Configuration only through the environment (CONTRACT section 3): set a key
# variable (JWT_JWKS_URL, JWT_DISCOVERY_URL, JWT_JWKS_FILE, JWT_PUBLIC_KEY_FILE
# or JWT_SECRET) and the development issuer is off; HOST, PORT and LOG_LEVEL
# choose where uvicorn listens and how much it logs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Dependencies in a layer of their own: it is rebuilt only when pyproject.toml
# (or LICENSE) changes. An empty stub package (and an empty README.md, the long
# description) lets the build backend resolve '.[example]' without the source.
# DL3013 (pin versions in pip) is ignored here because what is installed is
# this project itself (the asgi-jwt-bearer distribution) with its 'example'
# extra: the versions are the ranges in pyproject.toml, and the project has no
# lock file to pin them to.
COPY pyproject.toml LICENSE ./
# hadolint ignore=DL3013
RUN mkdir jwt_middleware \
    && touch README.md jwt_middleware/__init__.py \
    && pip install --no-cache-dir '.[example]' \
    && rm -rf README.md jwt_middleware

# The package itself (asgi-jwt-bearer: jwt_middleware and the jwt-middleware
# command), without touching the dependencies installed above. example_app is
# not part of the distribution: it runs from /app, the working directory, which
# 'python -m' puts on sys.path.
COPY README.md ./
COPY jwt_middleware ./jwt_middleware
COPY example_app ./example_app
RUN pip install --no-cache-dir --no-deps . \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-log-init --no-create-home app

USER 10001:10001

ENV HOST=0.0.0.0 PORT=8000
EXPOSE 8000

# No curl in the slim image: python's urllib exits 1 on no answer or a non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]

CMD ["python", "-m", "example_app"]
