"""Apps for tests/servers/test_browser.py, served over HTTPS by a real uvicorn to a real
headless Chromium.

``app`` (reached as ``https://localhost:<port>``): the middleware taking the token from
the cookie ``__Host-token`` only. Public pages: ``/login`` sets the cookie (``Secure;
HttpOnly; SameSite=None; Path=/``, a token this app signs), ``/form`` holds a form
POSTing to ``/transfer``, ``/socket`` runs JS opening ``/ws``. Protected:
``POST /transfer`` (200 JSON) and the WebSocket ``/ws`` (accepts, echoes).

``bearer_app``: the middleware as configured by default (the Authorization header,
which a browser cannot set on a WebSocket) with ``websocket_subprotocol="bearer"``:
the public page ``/socket`` defines ``openBearer(token, case)``, which opens
``new WebSocket(url, ["bearer", token])`` to the protected echo ``/ws``.

``other_site`` (reached as ``https://127.0.0.1:<other port>``, another site): no
middleware, pages aimed at the app at ``BROWSER_TARGET`` (its origin): ``/form``, a
form that submits itself to the app's ``/transfer``, and ``/socket``, JS opening the
app's ``/ws``.

Every app is wrapped in :class:`Recorder`, outside the middleware: for each request it
keeps the headers as the browser sent them (``Origin``, ``Sec-Fetch-*``,
``Sec-WebSocket-Protocol``, the names of the cookies) and what went back (the status,
the problem+json ``reason``, a WebSocket's accept and close); the handlers note that
they ran. ``GET /_record`` returns both as JSON. Requests carry ``?case=<name>`` so a
test finds its own. The pages record their WebSocket's events in ``window.events``.

Settings come from the environment (``JWT_SECRET``, ``JWT_ISSUER``, ``JWT_AUDIENCE``,
``JWT_LEEWAY``, ``JWT_ALGORITHMS``); the middleware logs JSON lines to stdout.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import jwt as pyjwt
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from jwt_middleware import JWTAuthMiddleware, Settings

#: The cookie the token travels in. ``__Host-``: the browser keeps it only when it was
#: set ``Secure`` from an https page, with ``Path=/`` and no ``Domain``.
COOKIE = "__Host-token"
#: The request headers the record keeps (lower case), as the browser sent them.
RECORDED_HEADERS = (
    "origin",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-websocket-protocol",
    "host",
    "authorization",
)
PUBLIC = ("/healthz", "/login", "/form", "/socket")

# Every request and every handler run, in this process, in order.
REQUESTS: list[dict[str, Any]] = []
HANDLED: list[dict[str, Any]] = []

# Opens a WebSocket and records what happens to it in window.events.
WATCH_JS = """
window.events = [];
window.watch = function (url, protocols) {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  ws.onopen = () => { events.push({type: "open", protocol: ws.protocol}); ws.send("ping"); };
  ws.onmessage = (e) => events.push({type: "message", data: e.data});
  ws.onerror = () => events.push({type: "error"});
  ws.onclose = (e) => events.push(
    {type: "close", code: e.code, reason: e.reason, wasClean: e.wasClean, at: Date.now()});
  return ws;
};
"""


def _case(request: Request) -> str:
    """The request's ``case`` (letters, digits and dashes; anything else is dropped)."""
    case = request.query_params.get("case", "")
    return case if re.fullmatch(r"[A-Za-z0-9-]{1,40}", case) else ""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body>{body}</body></html>"
    )


def _script(code: str) -> str:
    return f"<script>{code}</script>"


def _form(action: str, *, submit: bool) -> str:
    form = (
        f'<form id="f" method="post" action="{html.escape(action)}">'
        '<input name="amount" value="10"><button id="go" type="submit">Send</button></form>'
    )
    return form + (_script("document.getElementById('f').submit();") if submit else "")


def _open(url: str) -> str:
    return _script(WATCH_JS + f"watch({json.dumps(url)});")


class Recorder:
    """Keeps each request's browser headers and the answer; serves ``GET /_record``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"] == "/_record":
            await JSONResponse({"requests": REQUESTS, "handled": HANDLED})(scope, receive, send)
            return
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for key, value in scope["headers"]:
            name = key.decode("latin-1").lower()
            if name in RECORDED_HEADERS:
                headers[name] = value.decode("latin-1")
            elif name == "cookie":
                cookies += [
                    part.partition("=")[0].strip() for part in value.decode("latin-1").split(";")
                ]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        entry: dict[str, Any] = {
            "type": scope["type"],
            "method": scope.get("method", "GET"),
            "path": scope["path"],
            "case": query.get("case", [""])[0],
            "headers": headers,
            "cookies": cookies,
        }
        REQUESTS.append(entry)
        body = bytearray()

        async def recording_send(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                entry["status"] = message["status"]
            elif kind in ("http.response.body", "websocket.http.response.body"):
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    _note_reason(entry, bytes(body))
            elif kind == "websocket.accept":
                entry["accepted"] = True
                entry["subprotocol"] = message.get("subprotocol")
            elif kind == "websocket.close":
                entry["close"] = {"code": message.get("code"), "reason": message.get("reason")}
                entry["closed_at"] = time.time()
            await send(message)

        await self.app(scope, receive, recording_send)


def _note_reason(entry: dict[str, Any], body: bytes) -> None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if isinstance(parsed, dict) and "reason" in parsed:
        entry["reason"] = parsed["reason"]


def _json_logger() -> Any:
    """The middleware's events as JSON lines on stdout (the server's log file)."""
    return structlog.wrap_logger(
        structlog.PrintLogger(file=sys.stdout),
        processors=[structlog.processors.add_log_level, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        context_class=dict,
        cache_logger_on_first_use=False,
    )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


# --- the app, the token in a cookie ---------------------------------------------------


async def login(request: Request) -> Response:
    """Sets the cookie with a token signed here (the key the middleware checks with)."""
    now = int(time.time())
    claims = {
        "iss": os.environ["JWT_ISSUER"],
        "aud": os.environ["JWT_AUDIENCE"],
        "sub": "browser-user",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    token = pyjwt.encode(claims, os.environ["JWT_SECRET"], algorithm="HS256")
    response = _page("logged in", "<p id='done'>logged in</p>")
    response.set_cookie(
        COOKIE, token, path="/", secure=True, httponly=True, samesite="none", max_age=600
    )
    return response


async def form(request: Request) -> HTMLResponse:
    return _page("transfer", _form(f"/transfer?case={_case(request)}", submit=False))


async def socket_page(request: Request) -> HTMLResponse:
    host = request.headers["host"]
    return _page("socket", _open(f"wss://{host}/ws?case={_case(request)}"))


async def transfer(request: Request) -> JSONResponse:
    HANDLED.append({"path": "/transfer", "case": _case(request)})
    form_data = await request.form()
    return JSONResponse(
        {"ok": True, "sub": request.user.identity, "amount": form_data.get("amount")}
    )


async def echo(websocket: WebSocket) -> None:
    HANDLED.append({"path": "/ws", "case": websocket.query_params.get("case", "")})
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return


def _protected(routes: list[Any], **overrides: Any) -> ASGIApp:
    middleware = JWTAuthMiddleware(
        Starlette(routes=routes),
        Settings.from_env(**overrides),
        public_paths=PUBLIC,
        logger=_json_logger(),
        registry=None,
    )
    return Recorder(middleware)


def cookie_app() -> ASGIApp:
    """The token from the cookie only (``uvicorn --factory browser_app:cookie_app``)."""
    return _protected(
        [
            Route("/healthz", healthz),
            Route("/login", login),
            Route("/form", form),
            Route("/socket", socket_page),
            Route("/transfer", transfer, methods=["POST"]),
            WebSocketRoute("/ws", echo),
        ],
        token_locations=(f"cookie:{COOKIE}",),
    )


# --- the app, the token in the WebSocket subprotocol ----------------------------------


async def bearer_page(request: Request) -> HTMLResponse:
    url = json.dumps(f"wss://{request.headers['host']}/ws")
    code = (
        WATCH_JS
        + "window.openBearer = (token, c) => "
        + f"watch({url} + '?case=' + encodeURIComponent(c), ['bearer', token]);"
    )
    return _page("bearer", _script(code))


def bearer_app() -> ASGIApp:
    """The token from the ``bearer`` subprotocol (``--factory browser_app:bearer_app``)."""
    return _protected(
        [Route("/healthz", healthz), Route("/socket", bearer_page), WebSocketRoute("/ws", echo)],
        websocket_subprotocol="bearer",
    )


# --- another site ---------------------------------------------------------------------


def _target() -> str:
    return os.environ["BROWSER_TARGET"].rstrip("/")


async def other_form(request: Request) -> HTMLResponse:
    action = f"{_target()}/transfer?case={_case(request)}"
    return _page("another site", _form(action, submit=True))


async def other_socket(request: Request) -> HTMLResponse:
    ws_origin = "wss://" + _target().partition("://")[2]
    return _page("another site", _open(f"{ws_origin}/ws?case={_case(request)}"))


def other_site() -> ASGIApp:
    """Another site's pages (``--factory browser_app:other_site``), no middleware."""
    routes = [
        Route("/healthz", healthz),
        Route("/form", other_form),
        Route("/socket", other_socket),
    ]
    return Recorder(Starlette(routes=routes))
