"""The single window's browser-test fixtures: a real pipeline (Mosquitto, ingestor, web) and headless Chromium.

One pipeline per module (starting three processes per test would dominate
the run); each test opens its own browser, so cookies and language never
leak between tests. Chromium and chromedriver come from Debian
(scripts/test.sh installs them); without them the tests fail, saying so.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from app.auth.tokens import create_token
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from satupintu.broker import free_port, start_broker
from tests.conftest import spawn_satupintu, spawn_web, wait_for_log
from tests.mqtt_helpers import Publisher

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@dataclass
class Stack:
    """A running pipeline and what a test needs to drive it."""

    base: str
    tokens: dict[str, str]
    names: dict[str, str]
    pub: Publisher
    db_url: str
    started: float
    procs: list[subprocess.Popen] = field(default_factory=list)

    def publish(self, topic: str, body: object, retain: bool = False) -> None:
        self.pub.publish(topic, orjson.dumps(body) if not isinstance(body, str) else body, retain=retain)

    def api(self, path: str, role: str = "viewer", **params: object) -> dict:
        r = httpx.get(
            self.base + path, params=params, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=10
        )
        r.raise_for_status()
        return r.json()


def start_stack(tmp: Path, **settings: str) -> Stack:
    """Mosquitto, an ingestor and a web process on a fresh SQLite database; the caller stops it."""
    db_url = f"sqlite:///{tmp / 'satupintu.db'}"
    eng = make_engine(db_url)
    upgrade(eng)
    names = {"viewer": "Layar dinding", "operator": "Operator Sari"}
    with eng.begin() as conn:
        tokens = {role: create_token(conn=conn, name=name, role=role) for role, name in names.items()}
    eng.dispose()
    mport = free_port()
    broker = start_broker(port=mport, data_dir=tmp / "mosquitto")
    env = {"database_url": db_url, "mqtt_url": f"mqtt://127.0.0.1:{mport}", **settings}
    ing = spawn_satupintu(["ingest"], tmp / "ingest.log", **env)
    stack = Stack("", tokens, names, None, db_url, time.time(), [ing, broker])  # type: ignore[arg-type]
    try:
        web, stack.base = spawn_web(tmp / "web.log", ok=(200, 503), timeout=60, **env)
        stack.procs.insert(0, web)
        wait_for_log(ing, tmp / "ingest.log", "subscribed", timeout=60)
        stack.pub = Publisher(mport, client_id=f"t-ui-{uuid.uuid4().hex[:8]}")
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: Stack) -> None:
    if stack.pub is not None:
        stack.pub.close()
    for p in stack.procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in stack.procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("window"))
    yield s
    stop_stack(s)


def new_driver(width: int = 1920, height: int = 1080) -> WebDriver:
    """Headless Chromium at a wall's size; fails (not skips) when Chromium is missing."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            "chromium and chromedriver are required (scripts/test.sh installs them: apt-get install chromium "
            "chromium-driver)",
            pytrace=False,
        )
    opts = webdriver.ChromeOptions()
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
        "--enable-precise-memory-info",
        "--lang=id-ID",
    ):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def exact_viewport(driver: WebDriver, width: int = 1920, height: int = 1080) -> None:
    """Make the page's viewport exactly `width` x `height` (--window-size counts the window, not the page: 1080 -> 937)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


@pytest.fixture
def browser() -> Iterator[Callable[..., WebDriver]]:
    """A factory of headless browsers, all quit at the end of the test (chromedriver with them)."""
    made: list[WebDriver] = []

    def make(**kw: int) -> WebDriver:
        d = new_driver(**kw)
        made.append(d)
        return d

    yield make
    for d in made:
        with contextlib.suppress(Exception):  # a crashed browser is already gone
            d.quit()


def wait_js(driver: WebDriver, script: str, timeout: float = 30, what: str = "") -> object:
    """Poll a JS expression (`return ...`) until it is truthy; its value."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(script))
    except Exception as exc:
        logs = "\n".join(str(e.get("message"))[:300] for e in driver.get_log("browser")[-10:])
        raise AssertionError(f"timed out waiting for {what or script}\nbrowser log:\n{logs}") from exc
