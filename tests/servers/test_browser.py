"""What only a browser does, in a real headless Chromium: cookies sent by other sites'
pages, and the token in a WebSocket subprotocol.

Three uvicorn processes serve tests/apps/browser_app.py over HTTPS on 127.0.0.1 (a
local CA's certificate for ``localhost`` and ``127.0.0.1``): the app, which takes
the token from the cookie ``__Host-token`` only, reached as ``https://localhost:<p>``;
another site at ``https://127.0.0.1:<q>`` (``localhost`` and ``127.0.0.1`` are
different sites) whose pages POST a form to the app and open its WebSocket; and the
app configured with ``websocket_subprotocol="bearer"``. Chromium logs in on the app
(the cookie is set ``Secure; HttpOnly; SameSite=None``, so SameSite does not hold it
back, and the profile allows third-party cookies, so cookie blocking does not
either), then visits the pages. The tests never write a header: what the servers
recorded (``Origin``, ``Sec-Fetch-Site``, ``Sec-WebSocket-Protocol``, the cookie's
name) is what the browser sent, and the refusals are the middleware's own
(``cross_site_request`` in the problem+json body and in its ``jwt_auth.denied`` log
line, which also shows the cookie arrived: without it the reason would be
``missing_token``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from helpers.browser import LocalTLS, chromium, wait_for, wait_https
from helpers.keys import AUDIENCE, HS_SECRET, ISSUER
from helpers.procs import (
    APPS_DIR,
    HOST,
    REPO_DIR,
    ServerProcess,
    child_env,
    free_port,
    uvicorn_argv,
)
from helpers.tokens import claims, sign

COOKIE = "__Host-token"
#: The subprotocol test's token expires this many seconds after the current whole
#: second (valid 3 to 4 s; leeway 0).
SHORT_LIFE = 4
#: The "Allow third-party cookies" setting (chrome://settings/cookies; 0 is
#: CookieControlsMode::kOff). A fresh headless profile blocks third-party cookies, so
#: the other site's WebSocket would reach the app without the cookie (missing_token:
#: seen with Chromium 156), which proves nothing about the middleware. Browsers that
#: allow them (a user's choice, other browsers' or embedded views' defaults) attach
#: the cookie, and then only the server's check stands between another site's page
#: and the account. The top-level form POST carries the SameSite=None cookie either way.
ALLOW_THIRD_PARTY_COOKIES = {"profile.cookie_controls_mode": 0}


@dataclass
class Site:
    """One server and the origin the browser reaches it at."""

    server: ServerProcess
    origin: str
    tls: LocalTLS

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def record(self) -> dict[str, Any]:
        """What the server recorded: its requests (headers, answers) and handler runs."""
        url = f"https://{HOST}:{self.server.port}/_record"
        got: dict[str, Any] = httpx.get(url, verify=self.tls.client_context(), timeout=5).json()
        return got

    def request(self, path: str, case: str) -> dict[str, Any]:
        """The one request to ``path`` of this case, as recorded."""
        requests: list[dict[str, Any]] = self.record()["requests"]
        found = [r for r in requests if (r["path"], r["case"]) == (path, case)]
        assert len(found) == 1, found
        return found[0]

    def handled(self, case: str) -> bool:
        return any(h["case"] == case for h in self.record()["handled"])

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The middleware's JSON log lines with this event."""
        found = []
        for line in self.server.output().splitlines():
            if line.startswith("{"):
                parsed = json.loads(line)
                if parsed.get("event") == event:
                    found.append(parsed)
        return found


@dataclass
class Sites:
    app: Site
    other: Site
    bearer: Site


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTLS:
    return LocalTLS.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def sites(tls: LocalTLS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    """The app, the other site and the subprotocol app, started together."""
    logs = tmp_path_factory.mktemp("browser-servers")
    ports = {name: free_port() for name in ("app", "other", "bearer")}
    app_origin = f"https://localhost:{ports['app']}"
    env = child_env(
        JWT_SECRET=HS_SECRET,
        JWT_ALGORITHMS="HS256",
        JWT_ISSUER=ISSUER,
        JWT_AUDIENCE=AUDIENCE,
        JWT_LEEWAY="0",
        BROWSER_TARGET=app_origin,
    )
    targets = {"app": "cookie_app", "other": "other_site", "bearer": "bearer_app"}
    started: dict[str, ServerProcess] = {}
    try:
        for name, factory in targets.items():
            argv = uvicorn_argv(
                f"browser_app:{factory}", APPS_DIR, ports[name], "--factory", *tls.uvicorn_args()
            )
            started[name] = ServerProcess.start(
                argv,
                port=ports[name],
                env=env,
                cwd=REPO_DIR,
                log_path=logs / f"{name}.log",
                name=f"uvicorn {factory}",
            )
        for server in started.values():
            wait_https(server, tls)
        yield Sites(
            app=Site(started["app"], app_origin, tls),
            other=Site(started["other"], f"https://{HOST}:{ports['other']}", tls),
            bearer=Site(started["bearer"], f"https://localhost:{ports['bearer']}", tls),
        )
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def browser(tls: LocalTLS, sites: Sites, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium trusting the test servers' key, third-party cookies allowed.
    (Quit before the servers stop: they would wait for its open connections.)

    Trust: Chromium on Linux takes a local CA from the user's NSS database (certutil,
    another package) or from a machine-wide policy under /etc, neither a test's to
    change; ``--ignore-certificate-errors-spki-list`` accepts the chains holding
    exactly this server key, and nothing else that is invalid (unlike
    ``--ignore-certificate-errors``). The connection is then a valid HTTPS one:
    ``Secure`` and ``__Host-`` cookies, ``wss://``, secure-context pages."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(
        profile,
        f"--ignore-certificate-errors-spki-list={tls.spki_sha256}",
        prefs=ALLOW_THIRD_PARTY_COOKIES,
        log_file=profile.parent / "chromedriver.log",
    ) as driver:
        yield driver


@pytest.fixture(scope="module")
def logged_in(browser: Any, sites: Sites) -> Any:
    """The browser holds the app's cookie, as set by its /login page."""
    browser.get(sites.app.url("/login"))
    assert browser.find_element("id", "done").text == "logged in"
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None, browser.get_cookies()
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "None"
    return browser


def navigation_status(driver: Any) -> int:
    """The HTTP status of the page the browser is showing, as the browser saw it."""
    return int(
        driver.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")
    )


def page_json(driver: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(driver.find_element("tag name", "body").text)
    return body


def socket_events(driver: Any, until: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The page's WebSocket events, once one of type ``until`` has happened."""

    def probe() -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = driver.execute_script("return window.events || []")
        return events if any(e["type"] == until for e in events) else None

    return wait_for(f"a WebSocket '{until}' event", probe, timeout)


# --- forms ---------------------------------------------------------------------------


def test_same_origin_form_post_succeeds(logged_in: Any, sites: Sites) -> None:
    driver = logged_in
    driver.get(sites.app.url("/form?case=same-form"))
    driver.find_element("id", "go").click()
    wait_for("the POST's answer", lambda: "/transfer" in driver.current_url or None)
    assert navigation_status(driver) == 200
    assert page_json(driver) == {"ok": True, "sub": "browser-user", "amount": "10"}
    seen = sites.app.request("/transfer", "same-form")
    assert seen["method"] == "POST" and seen["status"] == 200
    assert seen["headers"]["origin"] == sites.app.origin
    assert seen["headers"]["sec-fetch-site"] == "same-origin"
    assert seen["headers"]["sec-fetch-mode"] == "navigate"
    assert COOKIE in seen["cookies"]
    assert sites.app.handled("same-form")


def test_cross_site_form_post_is_refused_by_the_middleware(logged_in: Any, sites: Sites) -> None:
    driver = logged_in
    # The other site's page submits its form to the app as soon as it loads.
    driver.get(sites.other.url("/form?case=cross-form"))
    wait_for(
        "the navigation to the app",
        lambda: driver.current_url.startswith(sites.app.url("/transfer")) or None,
    )
    assert navigation_status(driver) == 403
    shown = page_json(driver)
    assert shown["reason"] == "cross_site_request"
    assert shown["status"] == 403
    seen = sites.app.request("/transfer", "cross-form")
    assert seen["method"] == "POST"
    assert seen["status"] == 403 and seen["reason"] == "cross_site_request"
    # The browser's own headers: the other site's origin, marked cross-site; and the cookie
    # was sent (SameSite=None), so the middleware's check is what stopped the request.
    assert seen["headers"]["origin"] == sites.other.origin
    assert seen["headers"]["sec-fetch-site"] == "cross-site"
    assert seen["headers"]["sec-fetch-mode"] == "navigate"
    assert COOKIE in seen["cookies"]
    assert not sites.app.handled("cross-form")
    denied = [e for e in sites.app.log_events("jwt_auth.denied") if e.get("path") == "/transfer"]
    assert [e["reason"] for e in denied] == ["cross_site_request"]


# --- WebSockets with the cookie ------------------------------------------------------


def test_same_origin_websocket_opens_and_echoes(logged_in: Any, sites: Sites) -> None:
    driver = logged_in
    driver.get(sites.app.url("/socket?case=same-ws"))
    events = socket_events(driver, "message")
    assert events[0] == {"type": "open", "protocol": ""}
    assert events[1] == {"type": "message", "data": "ping"}
    seen = sites.app.request("/ws", "same-ws")
    assert seen["type"] == "websocket" and seen["accepted"] is True
    assert seen["headers"]["origin"] == sites.app.origin
    assert seen["headers"].get("sec-fetch-site") in (None, "same-origin")
    assert COOKIE in seen["cookies"]
    assert sites.app.handled("same-ws")


def test_cross_site_websocket_is_refused_by_the_middleware(logged_in: Any, sites: Sites) -> None:
    driver = logged_in
    driver.get(sites.other.url("/socket?case=cross-ws"))
    events = socket_events(driver, "close")
    assert "open" not in [e["type"] for e in events]
    assert events[-1]["code"] == 1006  # the handshake failed: no WebSocket close frame
    seen = sites.app.request("/ws", "cross-ws")
    assert seen["type"] == "websocket" and "accepted" not in seen, seen
    assert seen["status"] == 403 and seen["reason"] == "cross_site_request", repr(seen)
    # The cookie arrived (else missing_token): the Origin is what gave the page away.
    # Chromium sends no Sec-Fetch-* headers with a WebSocket handshake (156 does not).
    assert COOKIE in seen["cookies"]
    assert seen["headers"]["origin"] == sites.other.origin
    assert seen["headers"].get("sec-fetch-site") in (None, "cross-site")
    assert not sites.app.handled("cross-ws")
    denied = [e for e in sites.app.log_events("jwt_auth.denied") if e.get("path") == "/ws"]
    assert [e["reason"] for e in denied] == ["cross_site_request"]


# --- the token in the WebSocket subprotocol ------------------------------------------


def test_bearer_subprotocol_socket_is_accepted_and_closed_at_expiry(
    browser: Any, sites: Sites
) -> None:
    driver = browser
    driver.get(sites.bearer.url("/socket"))
    exp = int(time.time()) + SHORT_LIFE
    token = sign(claims(sub="socket-user", exp=exp), HS_SECRET, alg="HS256")
    driver.execute_script("openBearer(arguments[0], 'bearer-ws')", token)
    events = socket_events(driver, "message")
    assert events[0] == {"type": "open", "protocol": "bearer"}
    assert events[1] == {"type": "message", "data": "ping"}
    events = socket_events(driver, "close", timeout=SHORT_LIFE + 5)
    close = events[-1]
    assert (close["code"], close["reason"], close["wasClean"]) == (1008, "token_expired", True)
    # Closed at the token's exp (leeway 0), not before and not long after.
    assert exp * 1000 - 50 <= close["at"] <= exp * 1000 + 2000, (exp, close["at"])
    seen = sites.bearer.request("/ws", "bearer-ws")
    assert seen["headers"]["sec-websocket-protocol"] == f"bearer, {token}"
    assert seen["headers"]["origin"] == sites.bearer.origin
    assert "authorization" not in seen["headers"]
    assert seen["accepted"] is True and seen["subprotocol"] == "bearer"
    assert seen["close"] == {"code": 1008, "reason": "token_expired"}
    assert sites.bearer.handled("bearer-ws")
    closed = sites.bearer.log_events("websocket_closed")
    assert [e["reason"] for e in closed] == ["token_expired"]
