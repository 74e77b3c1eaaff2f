"""Webhook delivery against a receiver on 127.0.0.1 that fails, then recovers; dead letters when it never does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from sqlalchemy import Engine, text

from app.alarms.store import Lifecycle
from app.alarms.webhooks import dispatch_due
from app.profile import load_profile
from app.seed import sync_profile
from app.settings import Settings
from app.storage.engine import writing
from app.storage.migrate import upgrade

PROFILE = load_profile("morotai")


class Receiver:
    """An HTTP receiver answering each POST with the next planned status (then 200s)."""

    def __init__(self, plan: list[int]) -> None:
        self.plan, self.got, self.paths = list(plan), [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((self.headers["X-SatuPintu-Delivery"], orjson.loads(body)))
                outer.paths.append(self.path)
                self.send_response(outer.plan.pop(0) if outer.plan else 200)
                self.end_headers()

            def log_message(self, *_a) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alarms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500, 503])
    yield r
    r.close()


def raise_one(engine: Engine, hooks: dict[str, str]) -> int:
    upgrade(engine)
    with writing(engine) as conn:
        sync_profile(conn=conn, profile=PROFILE)
        ch = Lifecycle(PROFILE, hooks).raise_(
            conn,
            city="morotai",
            rule_id="threshold.water_level_cm",
            kind="threshold",
            subject="awlr-sungai-pilowo",
            severity="critical",
            value=260.0,
            now_ms=int(time.time() * 1000),
            source_id="awlr-sungai-pilowo",
            metric="water_level_cm",
            detail={
                "metric": "water_level_cm",
                "op": "above",
                "value": 260,
                "level": 250,
                "unit": "cm",
                "source_name": "AWLR Sungai Pilowo",
            },
        )
    return ch.alarm_id


def settings(db_url: str, **kw) -> Settings:
    return Settings(database_url=db_url, alarm_webhook_retry_initial_s=0.05, alarm_webhook_retry_max_s=0.1, **kw)


def test_a_receiver_that_fails_twice_then_recovers_gets_the_alarm_once_acknowledged(
    engine: Engine, db_url: str, receiver: Receiver
) -> None:
    s = settings(db_url, alarm_webhooks={"critical": receiver.url})
    alarm_id = raise_one(engine, s.alarm_webhooks)
    outcomes = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        d = dispatch_due(engine, s)
        outcomes.append((d.delivered, d.retrying, d.dead))
        if d.delivered:
            break
        time.sleep(0.05)
    assert (0, 1, 0) in outcomes and outcomes[-1] == (1, 0, 0)
    assert len(receiver.got) == 3  # 500, 503, 200: the same delivery each time
    assert len({d for d, _ in receiver.got}) == 1
    body = receiver.got[-1][1]
    assert (body["id"], body["severity"], body["action"]) == (alarm_id, "critical", "raised")
    with engine.connect() as c:
        assert c.execute(text("SELECT status, attempts FROM webhook_deliveries")).all() == [("delivered", 3)]
    assert dispatch_due(engine, s).delivered == 0  # nothing left to send


def test_a_receiver_that_stays_down_leaves_a_dead_letter(engine: Engine, db_url: str) -> None:
    down = Receiver([500] * 10)
    try:
        s = settings(db_url, alarm_webhooks={"critical": down.url}, alarm_webhook_max_attempts=3)
        raise_one(engine, s.alarm_webhooks)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not dispatch_due(engine, s).dead:
            time.sleep(0.05)
    finally:
        down.close()
    with engine.connect() as c:
        assert c.execute(text("SELECT status, attempts, last_error FROM webhook_deliveries")).all() == [
            ("dead", 3, "HTTP 500")
        ]


def test_a_refused_connection_is_retried_too(engine: Engine, db_url: str) -> None:
    s = settings(db_url, alarm_webhooks={"critical": "http://127.0.0.1:9/nothing-listens"})
    raise_one(engine, s.alarm_webhooks)
    d = dispatch_due(engine, s)
    assert (d.delivered, d.retrying) == (0, 1)
    with engine.connect() as c:
        (err,) = c.execute(text("SELECT last_error FROM webhook_deliveries")).one()
    assert "ConnectError" in err


def test_two_dispatchers_at_once_send_each_delivery_once(engine: Engine, db_url: str, receiver: Receiver) -> None:
    receiver.plan.clear()
    s = settings(db_url, alarm_webhooks={"critical": receiver.url})
    raise_one(engine, s.alarm_webhooks)
    threads = [threading.Thread(target=dispatch_due, args=(engine, s)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.got) == 1
