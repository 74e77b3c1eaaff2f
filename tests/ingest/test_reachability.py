"""The consumer's connection: an unreachable broker is said at once with host:port and why, then every interval."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest

from ingest.reachability import Unreachable
from satupintu.broker import free_port
from tests.conftest import spawn_satupintu, wait_for_log


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ingest.reachability"]


def test_unreachable_is_said_at_the_first_failure_then_once_a_minute_and_when_reached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ingest.reachability")
    clock = Clock()
    u = Unreachable("broker.example:1883", 60.0, clock)
    for at in (0, 1, 15, 59.9):  # paho retries every 1..15 s: one line for all of them
        clock.now = 1000 + at
        u.failed("ConnectionRefusedError: [Errno 111] Connection refused")
    assert said(caplog) == [
        "cannot reach the broker at broker.example:1883: ConnectionRefusedError: [Errno 111] Connection refused; retrying"
    ]
    clock.now = 1060.5
    u.failed("TimeoutError: timed out")
    clock.now = 1075
    u.failed("TimeoutError: timed out")
    assert said(caplog)[1:] == [
        "still cannot reach the broker at broker.example:1883 after 60 s (5 attempts): TimeoutError: timed out; retrying"
    ]
    u.reached()
    clock.now = 1080
    u.failed("ConnectionRefusedError: [Errno 111] Connection refused")  # a new outage is said at once
    assert said(caplog)[2:] == [
        "reached the broker at broker.example:1883 after 75 s (6 failed attempts)",
        "cannot reach the broker at broker.example:1883: ConnectionRefusedError: [Errno 111] Connection refused; retrying",
    ]


@pytest.mark.slow
def test_satupintu_ingest_says_which_broker_it_cannot_reach_and_why(tmp_path: Path) -> None:
    closed = free_port()
    log = tmp_path / "ingest.log"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        mqtt_url=f"mqtt://127.0.0.1:{closed}",
        mqtt_unreachable_log_s="0.01",
        ingest_writer="inline",
    )
    try:
        wait_for_log(ing, log, f"cannot reach the broker at 127.0.0.1:{closed}", timeout=60)
        wait_for_log(ing, log, "still cannot reach the broker", timeout=30)  # paho retries at least every second
        text = " ".join(log.read_text().split())
        assert "ConnectionRefusedError" in text and "Connection refused" in text
        ing.send_signal(signal.SIGTERM)
        assert ing.wait(30) == 0, log.read_text()
    finally:
        if ing.poll() is None:
            ing.kill()
            ing.wait(10)
