"""The window against a page of another origin, in a real headless Chromium on a real pipeline.

The attacker's page is served from another port of the same host: the same
*site*, so the SameSite=Strict cookie goes along with its requests. It must
not be able to acknowledge an alarm (a form that submits itself, a fetch), to
open the live channel with the operator's cookie, or to frame the window; and
the window itself must run under its Content-Security-Policy without a
violation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from satupintu.broker import free_port
from tests.dashboards.conftest import Stack, wait_js
from tests.dashboards.test_window import critical_alarm, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _an_alarm(stack: Stack) -> None:
    seed(stack)
    critical_alarm(stack)


@pytest.fixture(scope="module")
def evil(stack: Stack) -> Iterator[Callable[[str], str]]:
    """A server on another port; `evil(html)` serves `html` and returns its URL."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(html: str) -> str:
        path = f"/p{len(pages)}.html"
        pages[path] = html.encode()
        return f"http://127.0.0.1:{port}{path}"

    yield serve
    server.shutdown()
    server.server_close()
    thread.join(5)


def _operator(browser: Callable[..., WebDriver], stack: Stack) -> WebDriver:
    d = browser()
    d.get(f"{stack.base}/?token={stack.tokens['operator']}")
    wait_js(d, "return document.querySelector('.alarm-row, [id^=alarm-]')", what="the signed-in window")
    return d


def _state(stack: Stack, alarm_id: int) -> str:
    return stack.api(f"/api/v1/alarms/{alarm_id}")["state"]


def test_a_page_of_another_origin_cannot_acknowledge_with_the_operators_cookie(
    stack: Stack, browser: Callable[..., WebDriver], evil: Callable[[str], str]
) -> None:
    alarm = critical_alarm(stack)
    ack = f"{stack.base}/api/v1/alarms/{alarm['id']}/ack"
    d = _operator(browser, stack)
    # A form that submits itself: the browser follows it to our answer.
    d.get(
        evil(f'<form id="f" method="post" action="{ack}"></form><script>document.getElementById("f").submit()</script>')
    )
    wait_js(d, "return document.body && document.body.innerText.indexOf('csrf') >= 0", what="the refusal (403)")
    # A script's fetch with the cookie: refused as well.
    d.get(
        evil(f"""<script>fetch("{ack}", {{method: "POST", credentials: "include", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: '{{"comment": "pwned"}}'}})
        .then(function () {{ document.title = "sent"; }}, function () {{ document.title = "sent"; }});</script>""")
    )
    wait_js(d, "return document.title === 'sent'", what="the fetch to finish")
    assert _state(stack, alarm["id"]) == "active"
    # The same request from the window's own page goes through: the cookie alone was never the problem.
    d.get(stack.base + "/regent")
    status = d.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        f"fetch('{ack}', {{method: 'POST', credentials: 'same-origin', headers: {{'Content-Type': 'application/json'}},"
        " body: '{}'}).then(function (r) { done(r.status); }, function () { done(0); });"
    )
    assert status == 200 and _state(stack, alarm["id"]) == "acknowledged"


def test_the_live_channel_refuses_the_cookie_from_another_origin(
    stack: Stack, browser: Callable[..., WebDriver], evil: Callable[[str], str]
) -> None:
    ws = stack.base.replace("http://", "ws://") + "/api/v1/live/ws"
    probe = f"""<script>var s = new WebSocket("{ws}"); window.got = null;
        s.onmessage = function (e) {{ window.got = "message " + e.data.slice(0, 40); }};
        s.onclose = function (e) {{ window.got = window.got || ("closed " + e.code); }};</script>"""
    d = _operator(browser, stack)
    d.get(evil(probe))
    assert wait_js(d, "return window.got", what="the socket's answer") == "closed 4403"
    d.get(stack.base + "/regent")
    d.execute_script(probe.removeprefix("<script>").removesuffix("</script>"))
    assert str(wait_js(d, "return window.got", what="the socket's answer")).startswith("message ")


def test_the_window_runs_under_its_policy_and_cannot_be_framed(
    stack: Stack, browser: Callable[..., WebDriver], evil: Callable[[str], str]
) -> None:
    d = _operator(browser, stack)
    wait_js(d, "return document.querySelector('.js-plotly-plot .main-svg')", what="a drawn chart")
    violations = [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
    assert violations == []
    d.get(evil(f'<iframe id="w" src="{stack.base}/" width="800" height="600"></iframe>'))
    wait_js(d, "return document.getElementById('w')", what="the frame")
    refused = lambda: [e["message"] for e in d.get_log("browser") if "frame-ancestors" in e["message"]]  # noqa: E731
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 20, poll_frequency=0.3).until(lambda _d: refused())


@pytest.mark.parametrize(
    ("path", "drawn"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "[role=navigation], .api-content h1")]
)
def test_the_api_reference_renders_from_local_files_under_the_policy(
    stack: Stack, browser: Callable[..., WebDriver], path: str, drawn: str
) -> None:
    d = browser()
    d.get(stack.base + path)
    title = wait_js(d, f"var e = document.querySelector('{drawn}'); return e && e.textContent", what=f"{path} drawn")
    assert "SatuPintu" in str(title) or path == "/redoc"
    entries = d.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    violations = [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
    # Everything it loaded came from the web process; the one thing from elsewhere, ReDoc's credit logo (which
    # hides itself when it cannot load), the policy refused: no request left for another host.
    assert entries and all(u.startswith(stack.base) or any(u in v for v in violations) for u in entries), entries
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in v for v in violations), violations
