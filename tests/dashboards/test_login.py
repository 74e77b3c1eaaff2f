"""Signing in to the window with a username and password, in a real headless Chromium on a real pipeline.

A viewer user watches and cannot acknowledge; an operator user acknowledges,
and the alarm says who; a wrong password says so without saying which part;
signing out ends the session for the API too.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.auth.passwords import Cost, hash_password
from app.auth.users import create_user
from app.storage.engine import make_engine
from tests.dashboards.conftest import Stack, wait_js
from tests.dashboards.test_window import acknowledge, critical_alarm, seed

pytestmark = pytest.mark.slow
PASSWORD = "kata-sandi-rahasia"
CHEAP = Cost(n=2**4, r=8, p=1)  # the cost is recorded in the hash: the web process checks it as it was made


@pytest.fixture(scope="module", autouse=True)
def _users_and_an_alarm(stack: Stack) -> None:
    engine = make_engine(stack.db_url)
    with engine.begin() as conn:
        for name, role in (("dewi", "viewer"), ("sari", "operator")):
            create_user(conn=conn, username=name, role=role, password_hash=hash_password(PASSWORD, CHEAP))
    engine.dispose()
    seed(stack)
    critical_alarm(stack)


def sign_in(d: WebDriver, stack: Stack, username: str, password: str = PASSWORD) -> None:
    d.get(stack.base + "/")
    d.find_element(By.ID, "login-username").send_keys(username)
    d.find_element(By.ID, "login-password").send_keys(password)
    d.find_element(By.ID, "login-submit").click()


def test_a_wrong_password_is_refused_without_saying_which_part(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    sign_in(d, stack, "dewi", "bukan-sandinya")
    wait_js(d, "return document.getElementById('login-error')", what="the refusal")
    assert d.find_element(By.ID, "login-error").text == "Nama pengguna atau kata sandi salah."
    assert d.find_element(By.ID, "login-username").get_attribute("value") == "dewi"  # kept; the password is not
    assert d.get_cookie("satupintu_token") is None


def test_a_viewer_user_watches_and_only_an_operator_user_acknowledges(
    stack: Stack, browser: Callable[..., WebDriver]
) -> None:
    alarm = critical_alarm(stack)
    row = f"#alarm-{alarm['id']}"
    v = browser()
    sign_in(v, stack, "dewi")
    wait_js(v, f"var b = document.querySelector('{row} button.ack'); return b && b.disabled", what="a disabled button")
    session = v.get_cookie("satupintu_token")["value"]
    assert session not in stack.tokens.values() and v.get_cookie("satupintu_token")["httpOnly"]
    # Past the disabled button, straight to the API with the viewer's session: refused.
    r = httpx.post(
        f"{stack.base}/api/v1/alarms/{alarm['id']}/ack",
        json={"comment": "x"},
        headers={"Authorization": f"Bearer {session}"},
        timeout=10,
    )
    assert r.status_code == 403

    o = browser()
    sign_in(o, stack, "sari")
    wait_js(o, f"var b = document.querySelector('{row} button.ack'); return b && !b.disabled", what="an enabled button")
    acknowledge(o, row, "Dicek di lokasi", by="sari")
    assert stack.api(f"/api/v1/alarms/{alarm['id']}")["acknowledged_by"] == "sari"

    # Signing out ends the viewer's session for the API as well, not just in this browser. It is a POST: the
    # address alone only asks.
    v.get(stack.base + "/logout")
    assert (
        httpx.get(
            f"{stack.base}/api/v1/overview", headers={"Authorization": f"Bearer {session}"}, timeout=10
        ).status_code
        == 200
    )
    v.find_element(By.ID, "logout-confirm").click()
    wait_js(v, "return document.getElementById('login-username')", what="the sign-in form")
    r = httpx.get(f"{stack.base}/api/v1/overview", headers={"Authorization": f"Bearer {session}"}, timeout=10)
    assert r.status_code == 401
